// seqlab/models/rnn/checkpoint.hpp: the training state of RnnModel::fit (rnn_model.hpp) at a
// window boundary, in memory and as an HDF5 checkpoint file (docs/formats.md, "Checkpoints"),
// and the fingerprint that ties a checkpoint to the run that wrote it.
//
// THE CONTRACT. A checkpoint holds everything the training loop carries from one window to the
// next: the float32 parameters, the optimizer's moments and step count, every shard's dropout
// generator and its streams' recurrent state, the position in the epoch (windows already taken
// from the WindowStream, which is deterministic, so the position is a count), the epoch's running
// sums, the plateau, early-stopping (with the best parameters) and averaging state, the fit
// report so far, the learning curve so far and the training seconds already spent. fit()
// restores all of it and then runs the same arithmetic in the same order, so the result is
// bitwise the one of a run that was never stopped. That holds only for the same model settings,
// data, seed and threads, which the fingerprint records: a checkpoint is continued only when
// every fingerprint field is equal, and under as many MPI ranks as wrote it (`ranks`).
//
// MPI. Under R ranks every rank takes part in taking a checkpoint (the shards of every rank are
// gathered onto all of them, WindowTrainer::export_state) and rank 0 alone writes the file;
// on resume every rank reads it and takes its own shards back.
//
// Float32 arrays are stored as float32 and float64 ones as float64, uncompressed: nothing is
// rounded on the way. A checkpoint of a 2 x 512 character LSTM (3.3 million parameters; values,
// two Adam moments and the best parameters of early stopping) is 53 MB.
#pragma once

#include <cstdint>
#include <filesystem>
#include <limits>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "seqlab/models/rnn/optimizer.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "seqlab/models/rnn/trainer.hpp"

namespace seqlab::rnn {

// Version of the checkpoint layout (root attribute `seqlab_checkpoint`).
inline constexpr int kCheckpointFormatVersion = 1;

// What a checkpoint must match to be continued: named fields with their values as text, in a
// fixed order (model type, data kind, alphabet or dimension, every option that shapes training,
// seed, threads, and per split the number of sequences, of steps and the SHA-256 of the data).
using Fingerprint = std::vector<std::pair<std::string, std::string>>;

// Requires: the arguments of a fit() that passed its checks (`valid` null when there is none).
// Ensures: the fingerprint of that fit. Cost: one SHA-256 pass over the training and valid data.
Fingerprint fit_fingerprint(const std::string& model_type, const NetworkConfig& config,
                            const Alphabet& alphabet, const RnnOptions& options,
                            const SequenceSet& train, const SequenceSet* valid,
                            std::uint64_t seed, unsigned threads);

// Requires nothing. Ensures: returns when `stored` (read from `file`) equals `current`, else a
//   one-line UserError naming the file and the first field that differs, with both values.
void require_same_fingerprint(const std::filesystem::path& file, const Fingerprint& stored,
                              const Fingerprint& current);

// The training loop's state at the start of a window (before the budget is checked): the next
// window is window `epoch_windows` (0-based) of epoch `epoch` (0-based).
struct FitCheckpoint {
  Fingerprint fingerprint;
  std::string model;                 // model type, e.g. "lstm"
  std::string unit;                  // "symbol" or "frame": what the history's NLLs are per

  std::uint64_t epoch = 0;
  std::uint64_t epoch_windows = 0;   // windows of this epoch already taken from the stream
  double epoch_nll = 0.0;            // summed NLL (nats) of this epoch's real steps so far
  std::uint64_t epoch_steps = 0;     // this epoch's real steps so far
  double epoch_norm_sum = 0.0;       // sum of the gradient norms of this epoch's updates
  std::uint64_t epoch_norms = 0;     // the number of those updates
  double last_rate = std::numeric_limits<double>::quiet_NaN();  // rate of the last update
  std::uint64_t predicted_total = 0; // real steps trained on in all epochs
  double elapsed_seconds = 0.0;      // wall seconds of training so far, over every session
  double scoring_seconds = 0.0;      // the part of them spent scoring the valid split
  std::vector<std::uint64_t> checked_epochs;  // the epochs whose valid NLL was scored
  RnnFitReport report;               // as last_fit() would say now
  TrainingHistory history;           // the epoch records so far

  arma::fvec parameters;             // the master network's (training) parameters
  // The MPI ranks that trained (1: one process) and their shards, rank 0's first: a checkpoint
  // continues only under as many ranks, each taking its own shards back (rank_shards).
  unsigned ranks = 1;
  WindowTrainer<float>::State trainer;
  std::optional<ReduceOnPlateau::State> plateau;
  std::optional<EarlyStopping<float>::State> stopping;
  std::optional<ParameterAverage<float>::State> average;
};

// Requires: `path` passes require_output_path.
// Ensures: `path` holds the checkpoint, written atomically (h5::write_file_atomically: built in
//   memory, written to "<path>.tmp.<pid>", fsync'ed and renamed, so an old file there is
//   replaced only by a complete new one); failures are a one-line UserError naming the path,
//   with the old file untouched. Cost: the file's size in memory twice for a moment, and one
//   write of it (0.6 s for the 53 MB of a 2 x 512 LSTM with Adam and early stopping).
void write_checkpoint(const std::filesystem::path& path, const FitCheckpoint& checkpoint);

// Requires nothing. Ensures: the checkpoint stored at `path`, else a one-line UserError naming
//   it: missing, not an HDF5 file, not a seqlab checkpoint, another format version, damaged or
//   truncated, or a part missing or of the wrong type. Shapes are checked against the network
//   when fit() imports the state.
FitCheckpoint read_checkpoint(const std::filesystem::path& path);

}  // namespace seqlab::rnn
