// seqlab/models/rnn/trainer.hpp: one optimizer update per window of truncated BPTT, with the
// window's streams split across threads. RnnModel::fit and `seqlab bench rnn` both train
// through this class, so the benchmark times exactly what training does.
//
// DATA PARALLELISM. The B streams of a window are cut into W contiguous shards (W = min(threads,
// B)). Shard w is run by its own copy of the network (own workspaces, recurrent state and
// gradient buffer; shard 0 is the master network itself): forward, then backward. The shard
// gradients are then added in shard order into the master's, so for a seed and a thread count
// the result never depends on timing. The loss is the mean NLL per real step of the whole
// window; its step count is read off the mask before any work starts, so every shard scales
// its gradient by the same 1/count and no shard waits for another's forward pass.
// Then: element-wise clipping (when set), global-norm clipping, one optimizer step on the master
// parameters, copy to the shards.
// The BLAS library is kept at one thread per shard meanwhile (the caller sets it).
//
// Dropout masks come from one Rng per shard, seeded from the dropout seed and the shard index.
//
// MPI. With a communicator of R ranks (FitOptions::communicator), the B streams are first cut
// into R contiguous parts, rank r taking part r (then its threads' shards, as above); every rank
// holds the whole window, runs its part, and the ranks' gradients and losses are summed in rank
// order (in double) before clipping and the optimizer step, which every rank then takes alike: R
// ranks follow one process with all B streams to float32 rounding. Requires B >= R. (RnnModel
// also splits its valid scoring over the ranks, by groups of sequences.) A rank's dropout
// generators are its own shards' (seeded from the dropout seed and the shard's number in the
// job, rank 0's shards first), so a checkpoint gathers every rank's shards (export_state) to
// continue the job exactly.
#pragma once

#include <armadillo>
#include <cstdint>
#include <memory>
#include <vector>

#include "seqlab/core/communicator.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/data/batching.hpp"
#include "seqlab/models/rnn/network.hpp"
#include "seqlab/models/rnn/optimizer.hpp"

namespace seqlab::rnn {

// The streams [first, first + count) of one shard.
struct ShardSpan {
  arma::uword first = 0, count = 0;
};

// Requires: streams >= ranks >= 1, rank < ranks, threads >= 1. Ensures: the shards of rank
//   `rank` as WindowTrainer cuts them: the rank's contiguous part of the streams, then
//   min(threads, part) contiguous shards of it. Cost O(threads).
std::vector<ShardSpan> rank_shards(arma::uword streams, unsigned threads, unsigned rank,
                                   unsigned ranks);

template <class T>
class WindowTrainer {
public:
  // What one update did.
  struct Update {
    HeadLoss loss;               // summed NLL and real steps of the window (nats)
    double gradient_norm = 0.0;  // global norm of the mean-NLL gradient before clipping
    bool applied = false;        // false: no real step, or a non-finite norm (update skipped)
  };

  // Requires: a valid config; streams >= 1; threads >= 1; valid optimizer options; clip >= 0
  //   (0 = no clipping). Ensures: a trainer whose master network has every parameter 0 (call
  //   network().init(rng), then sync_parameters()) and every stream at the initial state.
  // Cost: W copies of the network's parameters and workspaces.
  //   With a communicator of R > 1 ranks (see MPI above), streams >= R (std::invalid_argument)
  //   and every rank must construct its trainer alike and call step() in step.
  WindowTrainer(const NetworkConfig& config, arma::uword streams, unsigned threads,
                const OptimizerOptions& optimizer, double clip, std::uint64_t dropout_seed,
                const Communicator* communicator = nullptr);

  // The master network: its parameters are the trained ones; after step(), its gradients are
  // the window's (clipped) gradient.
  Network<T>& network() { return *shards_.front().net; }
  const Network<T>& network() const { return *shards_.front().net; }
  unsigned shard_count() const { return static_cast<unsigned>(shards_.size()); }
  arma::uword streams() const { return streams_; }

  // Ensures: the shards' parameters equal the master's (call after changing the master's values
  // from outside, e.g. init or restoring a checkpoint). Cost O(W * parameters).
  void sync_parameters();
  // Ensures: every stream back to the initial state (zero state, start input).
  void reset_state();

  // One update on a window of B = streams() rows (symbols; frames: a d x B x k cube).
  // Requires: window rows == streams(); symbols < the alphabet size on real steps.
  // Ensures: the streams' states advanced past the window (rows with reset == 1 restarted
  //   first), the master parameters updated by one optimizer step at `learning_rate` unless the
  //   window has no real step or the gradient norm is not finite. dropout = training mode.
  // Cost: the network's forward + backward over the window, split across W threads, plus
  //   O(W * parameters) for the gradient sum and the parameter copies.
  Update step(const SymbolWindow& window, double learning_rate, bool dropout);
  Update step(const FrameWindow& window, double learning_rate, bool dropout);

  const Optimizer<T>& optimizer() const { return optimizer_; }

  // Everything step() carries from one window to the next besides the master parameters: the
  // optimizer's memory, and per shard its dropout generator and its streams' recurrent state
  // (with the next inputs). For checkpoints: import_state(export_state()) on a trainer of the
  // same config, streams and threads, with the same master parameters (then sync_parameters()),
  // continues bit for bit as this one would.
  // With a communicator of R > 1 ranks the state is the job's: the shards of every rank, rank
  // 0's first (rank_shards gives the layout); the optimizer's memory is the same on every rank.
  struct State {
    OptimizerState<T> optimizer;
    std::vector<Rng> dropout;              // one per shard
    std::vector<NetworkState<T>> streams;  // one per shard, shard w holds its `count` streams
  };
  // Ensures: the state above, on every rank. Under R > 1 ranks every rank must call it at the
  //   same update: the ranks' shards are gathered by one sum over the ranks in which each rank
  //   fills its own shards' slice and zeros elsewhere (x + 0 = x: exact), the generators as
  //   their 64-bit words cut into 32-bit halves. Cost: one sum of the job's recurrent state
  //   (B streams x hidden x layers, plus the delay histories) and 2 x 313 values per shard.
  State export_state() const;
  // Requires: a state of a trainer like this one: as many shards (those of every rank under
  //   MPI), and every vector and matrix of this rank's shards of the shape this trainer's has
  //   (else UserError saying which part differs). Ensures: this rank takes its own shards' part.
  void import_state(const State& state);
  // The shards of every rank (one rank: this trainer's), as export_state lists them.
  std::vector<ShardSpan> job_shards() const;

  // Requires limit >= 0 and finite. Ensures: from the next step on, every gradient element is
  // clamped to [-limit, limit] before the global-norm clipping (0 = off, the default).
  void set_clip_value(double limit);

private:
  struct Shard {
    std::unique_ptr<Network<T>> net;
    NetworkState<T> state;
    arma::uword first = 0, count = 0;  // streams [first, first + count)
    arma::umat symbols;                // count x k
    arma::Mat<T> frames;               // d x (k * count)
    arma::Mat<T> mask;                 // count x k
    arma::uvec reset;                  // count
    Rng dropout;
    HeadLoss loss;
  };
  template <class Window>
  Update run(const Window& window, double learning_rate, bool dropout);

  // The position of this rank's first shard among the job's (0 without MPI).
  std::size_t first_job_shard() const;

  arma::uword streams_;
  unsigned threads_;
  const Communicator* communicator_ = nullptr;  // null or one rank: this process does it all
  std::vector<double> exchange_;                 // the message summed over ranks per step
  double clip_;
  double clip_value_ = 0.0;
  std::vector<Shard> shards_;
  Optimizer<T> optimizer_;
};

}  // namespace seqlab::rnn
