// seqlab/models/sequence_model.hpp: the SequenceModel concept every model implements, and
// evaluate(), the one scoring rule every comparison table uses.
//
// THE SEQUENCEMODEL INTERFACE (what a model must supply)
//   type()            short model name stored in model files ("markov", "hmm", "lstm", ...).
//   kind()            the SequenceKind it models; it scores and samples only that kind.
//   fit(train, valid, options, observer)
//                     estimates parameters from `train`; may use `valid` for early stopping or
//                     smoothing choices, never `test`. Deterministic given options.seed.
//   log_likelihood(seq)
//                     log p(x_1..x_T) in NATS for the whole sequence: the first step is predicted
//                     too (from the model's initial state / empty context). Requires a sequence of
//                     kind(); symbol indices < the model's alphabet size (else UserError).
//   step_log_probs(seq)
//                     the conditional log p(x_t | x_<t) for every t (sums to log_likelihood)
//                     where the model defines it.
//   sample(length, rng, prime)
//                     draws `length` further steps, optionally continuing from `prime`.
//   num_parameters()  free parameters (for AIC/BIC and reports).
//   has_hidden_states(), viterbi(seq), posterior_decode(seq)
//                     models with hidden states (HMMs) decode a sequence into states; the
//                     defaults say the model has none (a UserError naming its type).
//   save(group)/load(group)
//                     parameters into/out of an HDF5 group (format: docs/formats.md).
// Bidirectional networks do not define a left-to-right likelihood and do not implement this.
#pragma once

#include <armadillo>
#include <atomic>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <limits>
#include <memory>
#include <string>
#include <vector>

#include "seqlab/core/rng.hpp"
#include "seqlab/data/dataset.hpp"

namespace H5 {
class Group;
}

namespace seqlab {

// Options shared by every model's fit(); model-specific hyper-parameters live in the model.
//
// CHECKPOINTS AND STOPPING (recurrent networks' fit(); every other model ignores these three
// fields, so a caller that sets `stop` for them must not wait for it to take effect):
//   checkpoint          empty: none. Otherwise the file fit() saves its whole training state to
//                       (docs/formats.md, "Checkpoints"; written atomically), at the first
//                       update boundary after every `checkpoint_seconds` of wall time and when
//                       stopped. If the file EXISTS when fit() starts, fit() continues from it
//                       (after the usual checks of its inputs): it replays the stored epoch
//                       records through FitObserver::on_epoch and goes on so that the result is
//                       BITWISE the one an uninterrupted fit() with the same seed and threads
//                       gives. A checkpoint of other settings, data, seed or threads is refused
//                       (a UserError naming the file and the first field that differs), as is a
//                       damaged file. When fit() completes it removes the file.
//   checkpoint_seconds  >= 0 and finite (else UserError); 0 = at every update boundary.
//   stop                when it becomes true, fit() finishes the update in progress, writes the
//                       checkpoint (when one is set) and throws seqlab::Interrupted. An atomic
//                       flag a signal handler may set.
//   communicator        null: this process does all the work. Otherwise the ranks of an MPI job
//                       (core/communicator.hpp) share it: every rank calls fit() with the same
//                       data and options, each does its share of the passes over the data, and
//                       they combine their statistics in rank order, so every rank ends with the
//                       same model, equal to the single-process one to rounding (bitwise with
//                       one rank). Models that cannot share their work refuse a communicator of
//                       more than one rank (UserError). HMMs (Baum-Welch) share it, and so do
//                       recurrent networks, checkpoints included: every rank gets the same
//                       `checkpoint` and `checkpoint_seconds` and each a `stop` flag (or none);
//                       rank 0 alone writes the file, holding every rank's part, when rank 0's
//                       clock says so; a stop raised on any rank stops all at the same update;
//                       the file continues only under as many ranks as wrote it.
//   shard               null: every rank was given the whole training set. Otherwise (HMMs only,
//                       with a communicator of several ranks, shard->communicator the same) the
//                       `train` given to fit() holds only this rank's share of the training
//                       sequences, sequences [shard->mine.begin, shard->mine.end) of the global
//                       order (core/communicator.hpp DataShard): no rank holds the whole set, and
//                       the result is the same as with the whole set on every rank, to rounding.
//                       `valid` is still the whole valid split on every rank.
class Communicator;
struct DataShard;
struct FitOptions {
  std::uint64_t seed = 1;
  unsigned threads = 1;
  bool quiet = false;
  std::filesystem::path checkpoint;
  double checkpoint_seconds = 300.0;
  const std::atomic<bool>* stop = nullptr;
  const Communicator* communicator = nullptr;
  const DataShard* shard = nullptr;
};

// One point of a learning curve: what fit() knew at the end of an epoch (networks) or of an
// EM iteration (HMMs). NLLs are natural-log, per predicted step (symbol or frame), over the
// whole split; NaN marks a field that this kind of model or this epoch does not have (not
// measured). An infinity is a measurement and is kept as it is, never turned into NaN: a valid
// NLL of +inf says the split holds a sequence of probability 0 under the model (e.g. a symbol
// an HMM never saw in training), a train NLL of +inf a network that diverged. (A network whose
// loss became NaN records NaN: there is nothing else to record.) What each model family fills
// in is documented at its fit().
struct EpochRecord {
  std::uint64_t epoch = 0;       // 1-based epoch (networks) or EM iteration (HMMs) of this run
  std::uint64_t restart = 0;     // 0-based random restart this iteration belongs to (HMMs; else 0)
  std::uint64_t updates = 0;     // optimizer updates (networks) / EM iterations (HMMs) so far,
                                 // over all restarts
  double seconds = 0.0;          // wall-clock seconds since fit() began
  double train_nll = std::numeric_limits<double>::quiet_NaN();  // nats per step on train
  // nats per step on the valid split; NaN where not scored at this epoch
  double valid_nll = std::numeric_limits<double>::quiet_NaN();
  double learning_rate = std::numeric_limits<double>::quiet_NaN();  // rate of the last update
  // mean global gradient norm (before clipping) over the epoch's updates
  double gradient_norm = std::numeric_limits<double>::quiet_NaN();
  // EM: total train log-likelihood (nats) minus the previous iteration's; NaN on the first
  double log_likelihood_change = std::numeric_limits<double>::quiet_NaN();
};

// A run's learning curve in the order fit() reported it.
using TrainingHistory = std::vector<EpochRecord>;

// Receives progress from fit(). All members optional.
//   on_message  human-readable progress lines. A '\r' prefix marks a progress line that the
//               next one overwrites on a terminal; a log may thin such lines out (keep one now
//               and then). A line that starts with '\r' and ENDS with '\n' is overwritten on a
//               terminal too, but a log keeps every one (per-iteration lines of EM, say). Any
//               other message is an ordinary line (no line break inside or at the end).
//   on_epoch    one typed record per epoch / EM iteration, in order, as soon as it is known:
//               the data behind learning curves (never parse on_message for numbers)
//   on_update   networks: after every optimizer update, with the number of updates so far
//               (called often: keep it cheap)
struct FitObserver {
  std::function<void(const std::string& message)> on_message;
  std::function<void(const EpochRecord& record)> on_epoch;
  std::function<void(std::uint64_t updates)> on_update;
};

// The result of scoring a split. Natural logs inside; bits only for reporting.
struct Evaluation {
  double log_likelihood = 0.0;   // total, nats (sum over sequences)
  std::uint64_t symbols = 0;     // predicted steps (symbols or frames), the first included
  std::uint64_t sequences = 0;
  arma::vec per_sequence;        // log p of each sequence (nats), in the set's order
  // Standard error of nats_per_symbol() when the model's normaliser is an estimate (an RBM's
  // log Z by annealed importance sampling: every step shares it, so this is its standard error);
  // 0 when the likelihood is exact.
  double nll_stderr = 0.0;
  double nats_per_symbol() const;
  double bits_per_symbol() const;
  double perplexity() const;      // exp(nats_per_symbol)
};

// The most probable hidden-state path of one sequence (Viterbi).
struct ViterbiPath {
  arma::uvec states;            // T, the most probable state path; EMPTY when x is impossible
  double log_probability = 0.0; // log p(x, path); -inf when x is impossible (p(x) = 0)
};

class SequenceModel {
public:
  virtual ~SequenceModel() = default;

  virtual std::string type() const = 0;
  virtual SequenceKind kind() const = 0;

  virtual void fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
                   const FitObserver* observer) = 0;

  // Symbol models override the uvec overloads, frame models the mat overloads; the defaults
  // throw a UserError saying the model does not score that kind.
  virtual double log_likelihood(const arma::uvec& symbols) const;
  virtual double log_likelihood(const arma::mat& frames) const;
  virtual arma::vec step_log_probs(const arma::uvec& symbols) const;
  virtual arma::vec step_log_probs(const arma::mat& frames) const;

  // The log-likelihood (nats) of every sequence of `set`, in order. Requires set.kind == kind().
  // The default calls log_likelihood() once per sequence; models that score many sequences at
  // once (recurrent networks run them as parallel streams) override it with the same values.
  virtual arma::vec log_likelihoods(const SequenceSet& set) const;

  // Requires kind() == symbols for sample_symbols, otherwise sample_frames.
  virtual arma::uvec sample_symbols(arma::uword length, Rng& rng, const arma::uvec& prime) const;
  virtual arma::mat sample_frames(arma::uword length, Rng& rng, const arma::mat& prime) const;

  virtual std::uint64_t num_parameters() const = 0;

  // Standard error (nats) of every step's log-probability that comes from an ESTIMATED
  // normaliser shared by all steps (an RBM's log Z by annealed importance sampling); 0 (the
  // default) when the model's likelihood is exact.
  virtual double log_likelihood_stderr_per_step() const { return 0.0; }

  // Decoding, for models with hidden states (HMMs over symbols or frames). Requires
  // has_hidden_states() and a sequence the model scores (as log_likelihood). viterbi: the most
  // probable path (empty, log_probability -inf, when p(x) = 0). posterior_decode: the most
  // probable state at each step; UserError when p(x) = 0. The defaults throw a UserError naming
  // the model type. Cost: O(N^2 T) for N states.
  virtual bool has_hidden_states() const { return false; }
  virtual ViterbiPath viterbi(const arma::uvec& symbols) const;
  virtual ViterbiPath viterbi(const arma::mat& frames) const;
  virtual arma::uvec posterior_decode(const arma::uvec& symbols) const;
  virtual arma::uvec posterior_decode(const arma::mat& frames) const;

  // The alphabet of a symbol model (empty for frame models).
  virtual const Alphabet& alphabet() const;
  // Frame models: the rows of every frame (0 for symbol models).
  virtual arma::uword dimension() const { return 0; }
  // Frame models: the names of the rows when the training data named them (the MIDI pitches of a
  // piano roll, a CSV header), else empty.
  virtual const std::vector<std::string>& feature_names() const;

  virtual void save(H5::Group& group) const = 0;
  virtual void load(const H5::Group& group) = 0;
};

// Requires: set.kind == model.kind(), and symbol indices that are the MODEL's (data opened with
//   OpenOptions::fixed_alphabet = &model.alphabet(), or re-encoded by reencode_symbols): a set
//   carries no alphabet, so this overload cannot tell. Prefer the dataset overload below.
// Ensures: the sums over every sequence of `set`, and each sequence's log-likelihood in
//   per_sequence. Cost: one model.log_likelihoods(set).
Evaluation evaluate(const SequenceModel& model, const SequenceSet& set);

// Requires nothing. Ensures: `model` can score `dataset` as it is encoded, else a UserError
//   naming the model type, the dataset and the mismatch: the same kind; symbols: the same
//   alphabet, symbol for symbol (a dataset read with its own alphabet must be re-encoded first;
//   the message says how); frames: the model's number of rows, and the same row names where both
//   have names (a piano roll read with another pitch range has as many rows, shifted).
// Cost: O(alphabet size + dimension).
void require_model_fits(const SequenceModel& model, const SequenceDataset& dataset);

// The scoring rule of every comparison: require_model_fits(model, dataset), then
// evaluate(model, dataset.get(split)).
Evaluation evaluate(const SequenceModel& model, const SequenceDataset& dataset, Split split);

}  // namespace seqlab
