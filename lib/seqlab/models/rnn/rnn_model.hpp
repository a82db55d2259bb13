// seqlab/models/rnn/rnn_model.hpp: recurrent networks (Elman "rnn", leaky-integrator "leaky",
// Jordan "jordan", "lstm", "gru"; rnn and leaky optionally with a time-delay connection) as
// SequenceModels: options, truncated-BPTT training, exact scoring, sampling and model files
// that map one to one onto PyTorch parameters where PyTorch has the cell.
//
// WHAT IS SCORED. p(x_1..x_T) = prod_t p(x_t | x_<t) with the FIRST step predicted too: the
// network input at step t is x_{t-1}, and at t = 0 a start input (symbols: a learned extra
// embedding row, index V; frames: a zero frame) with zero recurrent state (network.hpp). So an
// RNN and an HMM are scored on exactly the same T steps. Heads: softmax over the alphabet for
// symbols, independent Bernoulli units for binary frames, a diagonal Gaussian (a density) for
// real vectors.
//
// TWO PRECISIONS. Training runs in float32. Scoring (log_likelihood, step_log_probs, sampling)
// runs in float64 on a double copy of the parameters, refreshed after fit(); the model file
// stores float64, so a loaded model (e.g. one built from PyTorch float64 weights) scores with
// the file's values exactly. Scoring runs the sequence with one stream in windows of
// scoring_window() steps carrying the state, which changes nothing but rounding.
//
// TRAINING (fit). The training split is cut into `batch` parallel streams and windows of
// `window` steps (WindowStream, data/batching.hpp); a stream whose window starts a new sequence
// is reset to the initial state. Per window (rnn::WindowTrainer, streams split over
// FitOptions::threads threads): zero gradients, forward, mean NLL per real step (nats),
// backward, clip, one optimizer step (an update skipped when the norm is not finite). After
// every epoch (or every valid_every-th and the last) the valid split (when given) is scored in
// float32, the training precision (seqlab eval and log_likelihood() use float64); with patience
// P >= 1 training stops after P checks without improvement and the best checked epoch's
// parameters are restored. With average_decay > 0 "the parameters" of an epoch, checked, kept
// and fitted, are the moving average of the parameters over all updates so far. For a seed and
// a thread count the result is deterministic.
// observer->on_epoch receives one record per epoch, with the numbers of its progress line:
// epoch (1-based), updates so far, seconds since training began, train_nll = the epoch's mean NLL
// per real step in training mode (NaN when no step was predicted), valid_nll = the float32 check
// (NaN for an epoch that was not checked), learning_rate = the rate of the last update so far
// (after schedule, warm-up and plateau cuts; NaN before the first), gradient_norm = the mean
// global norm over the epoch's applied updates, after element clipping and before the norm
// clipping (NaN when none was applied).
//
// WHAT fit() REPORTS. One EpochRecord per epoch through FitObserver::on_epoch: epoch, updates so
// far, seconds of training so far, train_nll (the epoch's mean NLL per step in training mode),
// valid_nll (float32, NaN at an epoch not checked), learning_rate (of the epoch's last update)
// and gradient_norm (mean over the epoch's updates, before clipping). on_update after every
// update.
//
// CHECKPOINTS (FitOptions::checkpoint, checkpoint_seconds and stop; rnn/checkpoint.hpp). At the
// start of a window (an update boundary), once checkpoint_seconds have passed since the last
// checkpoint (or since fit() began), and when FitOptions::stop has become true, fit() saves its
// whole training state; on a stop it then throws Interrupted. A fit() whose checkpoint file
// exists continues from it: the result (parameters, last_fit(), the epoch records but their
// seconds) is bitwise the one of a fit() never stopped with the same settings, data, seed and
// threads, wherever the checkpoint was taken (mid-epoch too), with dropout, early stopping,
// plateau cuts, averaging and several threads. A max_seconds budget counts the training seconds
// of earlier sessions. A periodic checkpoint that cannot be written costs a warning
// (on_message), not the run; one at a stop is an error. The file is removed when fit() ends.
//
// MODEL FILE (docs/formats.md, "Recurrent networks"): root attributes kind, input_size,
// embedding, hidden, layers, residual, dropout, plus activation (rnn, leaky, jordan), delay
// (rnn, leaky), train_tau (leaky), gru_variant (gru); datasets named and shaped like PyTorch's
// state_dict: embedding/weight (V+1 x E), rnn/weight_ih_l<k>, rnn/weight_hh_l<k>,
// rnn/bias_ih_l<k>, rnn/bias_hh_l<k>, rnn/tau_l<k> (leaky), rnn/weight_hd_l<k> (delay),
// rnn/weight_hy_l<k> and rnn/bias_hy_l<k> (jordan), head/weight, head/bias, and alphabet
// (symbols).
#pragma once

#include <armadillo>
#include <cstdint>
#include <limits>
#include <memory>
#include <optional>
#include <string>

#include "seqlab/data/alphabet.hpp"
#include "seqlab/models/rnn/network.hpp"
#include "seqlab/models/rnn/optimizer.hpp"
#include "seqlab/models/sequence_model.hpp"

namespace seqlab {

struct RnnOptions {
  // Architecture.
  rnn::CellType cell = rnn::CellType::lstm;
  arma::uword hidden = 128;  // H >= 1
  arma::uword layers = 1;    // L >= 1
  // E for symbol data; 0 = min(H, 64): wide enough for character and small token alphabets
  // without letting the table dominate the parameter count of large networks.
  arma::uword embedding = 0;
  // Cell-specific options: left unset they take the default in brackets; set for a cell that
  // has no such option they are a UserError (validate()).
  std::optional<rnn::Activation> activation;  // rnn, leaky, jordan [tanh]
  std::optional<arma::uword> delay;           // rnn, leaky: time-delay connection from the
                                              // state D steps back, 2 <= D <= kMaxDelay [none]
  std::optional<double> tau;                  // leaky: time constant in steps, >= 1 [2]
  bool train_tau = false;                     // leaky: learn tau per unit (then tau > 1)
  std::optional<rnn::GruVariant> gru_variant; // gru [cho]
  bool residual = false;  // a_l = cell_l(a_{l-1}) + a_{l-1} for the layers above the first
  double dropout = 0.0;   // in [0, 1): between layers and before the head, training only

  // Training.
  // BPTT length k >= 1 (also the scoring window); 0 = full BPTT: one window holds each whole
  // training sequence (k = the longest), so no gradient is ever cut (scoring then uses 100).
  arma::uword window = 100;
  arma::uword batch = 32;        // parallel streams B >= 1
  arma::uword epochs = 10;       // passes over the training split
  std::uint64_t max_steps = 0;   // cap on optimizer updates in total; 0 = none
  rnn::OptimizerKind optimizer = rnn::OptimizerKind::adam;
  double learning_rate = 2e-3;   // > 0
  double momentum = 0.0;         // sgd only, in [0, 1)
  double clip = 5.0;             // global gradient-norm limit; 0 = no clipping
  double clip_value = 0.0;       // element-wise limit, applied before the norm limit; 0 = off
  // constant, step (rate times lr_gamma after every epoch) or cosine (to 0 over the run).
  rnn::ScheduleKind schedule = rnn::ScheduleKind::constant;
  double lr_gamma = 0.5;         // step schedule / plateau factor in (0, 1]
  std::uint64_t warmup = 0;      // linear warm-up of the rate over this many updates
  // Reduce on plateau: the rate (after the schedule) is multiplied by lr_gamma whenever the valid
  // NLL has not improved for plateau_patience + 1 epochs in a row. Needs a valid split.
  bool reduce_on_plateau = false;
  std::uint64_t plateau_patience = 1;
  // Wall-clock budget of fit() in seconds (0 = none): no window starts once it is used up; the
  // epoch in progress is then scored and the best epoch kept as usual. With a budget the result
  // depends on the machine's speed, not only on the seed.
  double max_seconds = 0.0;
  std::uint64_t patience = 3;    // early stopping on valid NLL; 0 = off
  // The valid split is scored after every valid_every-th epoch (>= 1) and after the last one;
  // early stopping and plateau patience count these checks, not epochs. Scoring a long valid
  // sequence costs one matrix-vector pass per step, so on a time budget fewer checks leave more
  // of it to training.
  std::uint64_t valid_every = 1;
  // Parameter averaging (rnn::ParameterAverage): 0 = off; a decay in (0, 1) makes the valid
  // checks, early stopping and the fitted model use the exponential moving average of the
  // parameters over the updates instead of the last ones (training goes on from the last ones).
  // The average's time constant is 1 / (1 - decay) updates, e.g. 0.999: about 1000.
  double average_decay = 0.0;

  // Sampling: logits divided by the temperature; 0 = greedy (most probable value).
  double temperature = 1.0;
};

// Requires nothing. Ensures: returns if every option is in range and every cell-specific option
// belongs to options.cell, else a UserError naming the option (e.g. "rnn options: tau applies to
// leaky models only, not lstm").
void validate(const RnnOptions& options);

// What the last fit() did.
struct RnnFitReport {
  std::uint64_t epochs = 0;         // epochs run
  std::uint64_t updates = 0;        // optimizer steps taken
  std::uint64_t skipped = 0;        // updates skipped for a non-finite gradient norm
  double train_nll = std::numeric_limits<double>::quiet_NaN();  // mean NLL per step of the
                                    // last epoch (training mode); NaN when no epoch ran
  double best_valid_nll = 0.0;      // nats per step; NaN without a valid split
  std::uint64_t best_epoch = 0;     // 0-based epoch whose parameters were kept
};

class RnnModel final : public SequenceModel {
public:
  // An empty model for load().
  RnnModel() = default;
  // Requires: valid options, a non-empty alphabet (else UserError). Ensures: a symbol model
  // with every parameter 0 (uniform predictions) until initialize() or fit().
  RnnModel(Alphabet alphabet, const RnnOptions& options);
  // Requires: kind vectors or binary_frames, dimension >= 1, valid options (else UserError).
  RnnModel(SequenceKind kind, arma::uword dimension, const RnnOptions& options);

  // "rnn", "leaky", "jordan", "lstm" or "gru".
  std::string type() const override;
  SequenceKind kind() const override { return config_.kind; }

  // See TRAINING above. Requires: train of kind(), with at least one step; frames of
  // dimension() rows; valid (optional) of kind() (else UserError).
  void fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
           const FitObserver* observer) override;

  // Ensures: random initial parameters (as fit() starts from) drawn from `seed`, no training.
  void initialize(std::uint64_t seed);

  // Requires: symbols < alphabet size / frames of dimension() rows (else UserError naming the
  // step). Ensures: log p(x) in nats (0 for an empty sequence); step_log_probs sums to it.
  // Cost: O(T) cell steps at batch 1 in double.
  double log_likelihood(const arma::uvec& symbols) const override;
  double log_likelihood(const arma::mat& frames) const override;
  // The same numbers for every sequence of a set, with up to 64 sequences (sorted by length) run
  // as parallel streams: the way to score a split of many sequences. Cost: O(total steps) cell
  // steps at batch <= 64 in double.
  arma::vec log_likelihoods(const SequenceSet& set) const override;
  arma::vec step_log_probs(const arma::uvec& symbols) const override;
  arma::vec step_log_probs(const arma::mat& frames) const override;

  // Ensures: `length` draws continuing `prime` (which is consumed first, not returned), at the
  // model's temperature (0 = greedy). Symbols from the softmax; binary frames unit by unit from
  // Bernoulli(sigmoid(logit / temperature)); vectors mean + temperature * sd * N(0, 1).
  arma::uvec sample_symbols(arma::uword length, Rng& rng, const arma::uvec& prime) const override;
  arma::mat sample_frames(arma::uword length, Rng& rng, const arma::mat& prime) const override;

  // The last layer's recurrent state over a sequence, for inspection (activation figures).
  // Requires: as log_likelihood (else UserError). Ensures: H x T; column t is the state h of the
  // top layer once x_0..x_t have been read (the state that predicts x_{t+1}; for a Jordan cell
  // its carried output y). Cost: T + 1 cell steps at batch 1 in double.
  arma::mat hidden_states(const arma::uvec& symbols) const;
  arma::mat hidden_states(const arma::mat& frames) const;

  // Trainable scalars (a fixed leaky tau is not one).
  std::uint64_t num_parameters() const override;
  const Alphabet& alphabet() const override { return alphabet_; }
  // d for frame models, 0 for symbol models.
  arma::uword dimension() const override {
    return config_.kind == SequenceKind::symbols ? 0 : config_.input_size;
  }

  void save(H5::Group& group) const override;
  // Requires: a group written by save() or by hand following docs/formats.md.
  // Ensures: the model it describes; every missing attribute or dataset, wrong shape or
  // non-finite value is a one-line UserError naming the file, the object and what was expected.
  void load(const H5::Group& group) override;

  const RnnOptions& options() const { return options_; }
  // Requires temperature >= 0 and finite (else UserError).
  void set_temperature(double temperature);
  // Requires k >= 1 (else UserError). Scoring window only; training keeps options().window.
  void set_scoring_window(arma::uword k);
  arma::uword scoring_window() const { return scoring_window_; }
  const RnnFitReport& last_fit() const { return report_; }

  // The float64 network that scores (parameters exactly those saved). Mainly for tests.
  const rnn::Network<double>& network() const { return *net_; }
  // Replaces the parameter values (same layout as network().params().values()).
  // Requires: values of network().params().size() elements (else std::invalid_argument).
  void set_parameters(const arma::vec& values);

private:
  void build(const rnn::NetworkConfig& config);
  // UserError for a symbol outside the alphabet, frames of the wrong dimension or non-finite.
  void check_scorable(const SequenceSet& set) const;
  template <class Sequence>
  arma::vec score(const Sequence& x) const;

  RnnOptions options_;
  rnn::NetworkConfig config_;
  Alphabet alphabet_;
  std::unique_ptr<rnn::Network<double>> net_;
  arma::uword scoring_window_ = 100;
  RnnFitReport report_;
};

}  // namespace seqlab
