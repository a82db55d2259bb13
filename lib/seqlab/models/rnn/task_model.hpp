// seqlab/models/rnn/task_model.hpp: RnnTaskModel, a recurrent network (rnn, leaky, lstm, gru;
// unidirectional or bidirectional) trained to map a whole sequence to one output: a class label
// (the set's `labels`) or a real target vector (the set's `targets`). Options, training on padded
// minibatches of whole sequences, task metrics, and model files.
//
// What it is not: a SequenceModel. It scores a TASK METRIC, NOT A SEQUENCE LIKELIHOOD: label NLL
// and accuracy, or mean squared error. Those numbers are not comparable with the NLL per symbol
// of evaluate() (sequence_model.hpp), and a bidirectional network, which sees the future, defines
// no left-to-right likelihood at all (DESIGN section 4). The architecture is task_network.hpp.
//
// TRAINING (fit). Every epoch the training sequences are shuffled (seeded) and cut into padded
// minibatches of `batch` whole sequences with masks (batching.hpp); per minibatch: zero
// gradients, forward over every step (full BPTT), the mean loss per sequence (classify: label
// NLL in nats) or per target component (regress: squared error, so the MSE), backward, clip the
// global gradient norm, one optimizer step (skipped when the norm is not finite). After every
// epoch the valid split (when given) is scored in double; with patience P >= 1 training stops
// after P epochs without a lower valid objective (label NLL per sequence, or MSE) and the best
// epoch's parameters are restored. A regression head's bias starts at the training targets' mean.
// Float32 training, float64 scoring, BLAS on FitOptions::threads threads; deterministic for a
// seed and a thread count. observer->on_epoch receives one record per epoch with the numbers of
// its progress line: epoch (1-based), updates so far, seconds since training began, train_nll =
// the epoch's mean training loss (classify: label NLL in nats per sequence; regress: squared
// error per target component, i.e. the MSE; not a sequence likelihood), valid_nll = the same
// objective on the valid split in float64 (NaN without one), learning_rate = the rate of the last
// update so far, gradient_norm = the mean global norm before clipping over the epoch's applied
// updates (NaN when none was applied).
//
// METRICS (evaluate). classify: accuracy (the most probable class, ties to the lowest index) and
// the label NLL per sequence in nats and bits. regress: the MSE over sequences and components,
// and the baseline MSE of the best constant prediction for the scored set (its targets' mean):
// the targets' variance; a model that learned nothing scores about that. For the adding problem
// (a sum of two U(0, 1)) it is about 1/6.
//
// MODEL FILE (docs/formats.md, "Sequence-level task networks"): the envelope of every model file
// (seqlab_format, model = rnn | leaky | lstm | gru, created_by) plus the root attribute `task`,
// which marks a task model; datasets named like a bidirectional PyTorch module's state_dict
// (rnn/weight_ih_l<k>, ..., rnn/weight_ih_l<k>_reverse, ...).
#pragma once

#include <armadillo>
#include <cstdint>
#include <filesystem>
#include <memory>
#include <optional>
#include <string>

#include "seqlab/data/alphabet.hpp"
#include "seqlab/data/dataset.hpp"
#include "seqlab/models/model_registry.hpp"
#include "seqlab/models/rnn/optimizer.hpp"
#include "seqlab/models/rnn/task_network.hpp"
#include "seqlab/models/sequence_model.hpp"

namespace H5 {
class Group;
}

namespace seqlab {

struct RnnTaskOptions {
  // Architecture (as RnnOptions; no residual connections or dropout).
  rnn::CellType cell = rnn::CellType::lstm;
  arma::uword hidden = 128;   // H >= 1 per direction
  arma::uword layers = 1;     // L >= 1
  arma::uword embedding = 0;  // E for symbol data; 0 = min(H, 64)
  bool bidirectional = false;
  std::optional<rnn::Activation> activation;   // rnn, leaky [tanh]
  std::optional<double> tau;                   // leaky [2]
  bool train_tau = false;                      // leaky
  std::optional<rnn::GruVariant> gru_variant;  // gru [cho]

  // Training.
  arma::uword batch = 32;       // sequences per update, >= 1
  arma::uword epochs = 10;
  std::uint64_t max_steps = 0;  // cap on updates in total; 0 = none
  rnn::OptimizerKind optimizer = rnn::OptimizerKind::adam;
  double learning_rate = 2e-3;
  double momentum = 0.0;        // sgd only
  double clip = 5.0;            // global gradient-norm limit; 0 = off
  rnn::ScheduleKind schedule = rnn::ScheduleKind::constant;
  double lr_gamma = 0.5;
  std::uint64_t patience = 3;   // early stopping on the valid objective; 0 = off
};

// Requires nothing. Ensures: returns if every option is in range and cell-specific options match
// the cell, else a UserError naming the option (the wording of validate(RnnOptions)).
void validate(const RnnTaskOptions& options);

// The largest class label a classification set may carry (labels are 0-based class indices; a
// million classes is far past any sequence-classification corpus, and a larger label is a typo
// or a damaged file whose softmax head alone would need gigabytes).
inline constexpr arma::sword kMaxClassLabel = 999999;

// Requires nothing. Ensures: returns when `set` carries what `task` learns from: classify, one
// label in 0..kMaxClassLabel per sequence; regress, one finite target vector per sequence, all of one length.
// Else a one-line UserError starting with `what` (e.g. "train: dataset 'copy'") saying what is
// missing and what was expected.
void require_task_data(const SequenceSet& set, rnn::Task task, const std::string& what);

// Requires: a set that passes require_task_data for classify. Ensures: 1 + the largest label.
arma::uword class_count(const SequenceSet& set);
// Requires: a set that passes require_task_data for regress. Ensures: the target length m.
arma::uword target_size(const SequenceSet& set);

// The task metrics of a scored set. Not a sequence likelihood.
struct TaskMetrics {
  rnn::Task task = rnn::Task::classify;
  std::uint64_t sequences = 0;
  // classify
  std::uint64_t correct = 0;          // sequences whose most probable class is the label
  double label_nll = 0.0;             // -sum of log p(label | x), nats
  // regress
  std::uint64_t components = 0;       // sequences x target components
  double squared_error = 0.0;         // summed over components
  double baseline_squared_error = 0.0;  // of the set's mean target, summed over components

  // Means over what was scored; NaN when nothing was (no sequences / no components).
  double accuracy() const;      // correct / sequences
  double nll_nats() const;      // label_nll / sequences: label NLL per sequence
  double nll_bits() const;      // the same in bits
  double mse() const;           // squared_error / components
  double baseline_mse() const;  // baseline_squared_error / components: the targets' variance
  // What early stopping minimises: nll_nats() (classify) or mse() (regress).
  double objective() const;
};

// What the last fit() did.
struct RnnTaskFitReport {
  std::uint64_t epochs = 0;
  std::uint64_t updates = 0;
  std::uint64_t skipped = 0;         // updates skipped for a non-finite gradient norm
  double train_objective = 0.0;      // last epoch's mean loss in training (NLL or MSE)
  double best_valid_objective = 0.0; // NaN without a valid split
  std::uint64_t best_epoch = 0;      // 0-based epoch whose parameters were kept
};

class RnnTaskModel {
public:
  // An empty model for load().
  RnnTaskModel() = default;
  // Requires: valid options; a non-empty alphabet; outputs = K >= 2 classes (classify) or m >= 1
  // components (regress) (else UserError). Ensures: all parameters 0 until initialize() or fit().
  RnnTaskModel(rnn::Task task, Alphabet alphabet, arma::uword outputs,
               const RnnTaskOptions& options);
  // Requires: kind vectors or binary_frames, dimension >= 1, as above otherwise.
  RnnTaskModel(rnn::Task task, SequenceKind kind, arma::uword dimension, arma::uword outputs,
               const RnnTaskOptions& options);

  // "rnn", "leaky", "lstm" or "gru" (the cell, as in the model file's `model` attribute).
  std::string type() const;
  rnn::Task task() const { return config_.task; }
  SequenceKind kind() const { return config_.kind; }
  bool bidirectional() const { return config_.bidirectional; }
  // K (classify) or m (regress).
  arma::uword outputs() const { return config_.outputs; }
  // d for frame models, 0 for symbol models.
  arma::uword dimension() const {
    return config_.kind == SequenceKind::symbols ? 0 : config_.input_size;
  }
  const Alphabet& alphabet() const { return alphabet_; }
  std::uint64_t num_parameters() const;
  const RnnTaskOptions& options() const { return options_; }
  const RnnTaskFitReport& last_fit() const { return report_; }

  // See TRAINING above. Requires: train (and valid, when not null) of kind(), with what the task
  // needs (require_task_data), labels < K, frames of dimension() rows, target length m
  // (else UserError).
  void fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
           const FitObserver* observer);

  // Ensures: random initial parameters (as fit() starts from) drawn from `seed`, no training.
  void initialize(std::uint64_t seed);

  // Requires: as fit() for `set`. Ensures: the metrics documented above. Cost: one encoder pass
  // per sequence in float64, in minibatches.
  TaskMetrics evaluate(const SequenceSet& set) const;
  // Requires: sequences of kind() (symbols < V, frames of d rows; labels/targets not needed).
  // Ensures: O x n: class log-probabilities (classify) or predictions (regress), column i for
  // sequence i.
  arma::mat predict(const SequenceSet& set) const;

  // Ensures: the parameters and architecture in `group` (docs/formats.md); the envelope
  // attributes are save_task_model's.
  void save(H5::Group& group) const;
  // Requires: a group written by save() or following docs/formats.md. Ensures: the model it
  // describes; a missing or malformed attribute or dataset is a one-line UserError naming the
  // file, the object and what was expected.
  void load(const H5::Group& group);

  // The float64 network that scores. Mainly for tests.
  const rnn::TaskNetwork<double>& network() const { return *net_; }
  // Requires: values of network().params().size() elements (else std::invalid_argument).
  void set_parameters(const arma::vec& values);

private:
  void build(const rnn::TaskNetworkConfig& config);
  // Ensures: UserError unless `set` fits this model (kind, rows, labels < K, target length).
  void require_fits(const SequenceSet& set, const std::string& what) const;

  RnnTaskOptions options_;
  rnn::TaskNetworkConfig config_;
  Alphabet alphabet_;
  std::unique_ptr<rnn::TaskNetwork<double>> net_;
  RnnTaskFitReport report_;
};

// ---- from the model registry (the options `seqlab train` and experiments share) -------------

// Ensures: true when the resolved options ask for a sequence-level task (`task` is classify or
// regress) rather than a next-step model.
bool task_requested(const ResolvedOptions& options);

// Requires: options of a recurrent type from resolve_options with task_requested().
// Ensures: the task model's options; an option that only next-step training has (window,
// residual, dropout, delay, warmup, clip-value, max-time, valid-every, average, schedule =
// plateau), when given, is spelling.fail naming it.
RnnTaskOptions rnn_task_options_for(const ResolvedOptions& options,
                                    const OptionSpelling& spelling);

// Requires: as rnn_task_options_for; `data` opened. Ensures: an untrained task model for the
// data (classes = 1 + the largest training label, or the training targets' length), else
// spelling.fail naming `task` when the training split lacks what the task learns from (labels,
// targets), or `embedding` given for frame data. Cost: the model's parameter memory.
std::unique_ptr<RnnTaskModel> build_task_model(const ResolvedOptions& options,
                                               const SequenceDataset& data,
                                               const OptionSpelling& spelling);

// The history unit of a task model's records ("sequence": label NLL per sequence; or
// "squared_error": the *_nll columns hold the MSE), as model and run files store it.
std::string task_history_unit(rnn::Task task);

// Requires: an empty group. Ensures: the model with the envelope every model file has and the
// `task` attribute (what save_task_model writes at a file's root), so a results folder's run
// file can hold a task model in its `model` group.
void save_task_model_into(H5::Group& group, const RnnTaskModel& model);

// Requires: `path` passes require_output_path. Ensures: `path` holds the model (envelope as
// every model file, plus the model's save()), written as save_model writes (built in memory,
// checked atomic write; a non-finite parameter throws h5::NonFiniteValue and writes nothing).
// With `history`, also the root's `history/` group (io/history.hpp) with unit "sequence"
// (classify: label NLL per sequence) or "squared_error" (regress: the columns named *_nll hold
// the MSE); load_history() reads it back.
void save_task_model(const std::filesystem::path& path, const RnnTaskModel& model,
                     const TrainingHistory* history = nullptr);

// Requires nothing. Ensures: true when `path` is a readable seqlab model file whose root carries
// the `task` attribute; false for anything else (load_model's errors then apply). Never throws
// for a bad file.
bool is_task_model_file(const std::filesystem::path& path);

// Requires nothing. Ensures: the task model in `path`; a missing, non-HDF5, corrupt or
// malformed file is a one-line UserError naming the path.
RnnTaskModel load_task_model(const std::filesystem::path& path);

}  // namespace seqlab
