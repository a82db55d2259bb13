// seqlab/models/rnn/optimizer.hpp: what turns gradients into parameter updates during training:
// first-order optimizers (SGD with momentum / Nesterov, Adam, RMSProp), gradient clipping,
// learning-rate schedules, reduce-on-plateau, early stopping and parameter averaging.
//
// Everything walks ONE flat arma::Col<T> of parameters and one of gradients (same layout), so it
// knows nothing of layers or parameter names; optimizer state is flat vectors too, so a
// checkpoint stores it as it stores the parameters. Element type T = float (training) or double
// (tests), compiled for both in optimizer.cpp.
//
// Conventions fixed here (they change the numbers, so they are part of the contract):
//   * SGD momentum uses the "velocity accumulates gradients" form v <- mu v + g, p <- p - lr v
//     (Nesterov: p <- p - lr (g + mu v) with the new v). The velocity does not contain the rate,
//     so changing the rate mid-run (schedules) takes effect at once.
//   * Adam and RMSProp add epsilon OUTSIDE the square root, as in the Adam paper and PyTorch:
//     p <- p - lr m_hat / (sqrt(v_hat) + eps). Adam's moments are bias-corrected:
//     m_hat = m / (1 - b1^t), v_hat = v / (1 - b2^t), t = 1 on the first step.
//   * RMSProp: s <- rho s + (1 - rho) g^2, p <- p - lr g / (sqrt(s) + eps); no bias correction.
#pragma once

#include <armadillo>
#include <cstdint>
#include <limits>
#include <string>

namespace seqlab::rnn {

// ---- optimizers ------------------------------------------------------------------------------

enum class OptimizerKind { sgd, adam, rmsprop };

// "sgd", "adam", "rmsprop".
std::string optimizer_name(OptimizerKind kind);
// Requires: one of the names above (else UserError listing them).
OptimizerKind optimizer_kind_from_name(const std::string& name);

struct OptimizerOptions {
  OptimizerKind kind = OptimizerKind::adam;
  double momentum = 0.0;  // sgd: mu in [0, 1); 0 = plain SGD
  bool nesterov = false;  // sgd: Nesterov's look-ahead form; needs momentum > 0
  double beta1 = 0.9;     // adam: first-moment decay in [0, 1)
  double beta2 = 0.999;   // adam: second-moment decay in [0, 1)
  double decay = 0.9;     // rmsprop: rho, decay of the mean square in [0, 1)
  double epsilon = 1e-8;  // adam, rmsprop: > 0, added outside the square root
};

// Requires nothing. Ensures: returns if every field is in its range, else throws a UserError
// naming the field ("optimizer momentum must be in [0, 1), got 1.5").
void validate(const OptimizerOptions& options);

// The optimizer's memory, as flat vectors of the parameter length (or empty when unused).
template <class T>
struct OptimizerState {
  std::uint64_t steps = 0;  // updates done so far (Adam's t)
  arma::Col<T> first;       // sgd: velocity (empty without momentum); adam: m; rmsprop: empty
  arma::Col<T> second;      // adam: v; rmsprop: mean square s; sgd: empty
};

template <class T>
class Optimizer {
 public:
  // Requires: valid options (validate() is called: UserError otherwise).
  // Ensures: an optimizer for parameter vectors of `size` elements with zero moments, 0 steps.
  Optimizer(const OptimizerOptions& options, arma::uword size);

  // Requires: params and grads of size() elements (else std::invalid_argument); learning_rate >= 0.
  // Ensures: one update of params in place as documented at the top of this file; steps() + 1.
  //   grads are not modified. Cost O(size()), no allocation.
  void step(arma::Col<T>& params, const arma::Col<T>& grads, double learning_rate);

  // Ensures: moments zero and steps 0, as after construction.
  void reset();

  const OptimizerOptions& options() const { return options_; }
  arma::uword size() const { return size_; }
  std::uint64_t steps() const { return state_.steps; }

  // Ensures: a copy of the state; import of it into an optimizer with the same options and size
  //   continues bit-for-bit as this one would.
  OptimizerState<T> export_state() const { return state_; }
  // Requires: vectors of the lengths this kind uses (size() or empty as documented on
  //   OptimizerState), else UserError saying which vector has which length and what was expected
  //   (a checkpoint of another model or optimizer).
  void import_state(const OptimizerState<T>& state);

 private:
  OptimizerOptions options_;
  arma::uword size_;
  OptimizerState<T> state_;
};

// ---- gradient clipping -----------------------------------------------------------------------

// Ensures: the Euclidean norm of v, accumulated in double (scaled, so no overflow for large
// float elements). Cost O(size).
template <class T>
double global_norm(const arma::Col<T>& v);

// Requires: max_norm > 0 (else std::invalid_argument).
// Ensures: returns the norm BEFORE clipping; if it exceeds max_norm, grads are scaled by
//   max_norm / norm so their norm becomes max_norm (direction kept). A non-finite norm leaves
//   grads untouched and is returned as it is: the caller should skip that update.
template <class T>
double clip_by_global_norm(arma::Col<T>& grads, double max_norm);

// Requires: limit > 0 (else std::invalid_argument).
// Ensures: returns the global norm BEFORE clipping; every element is clamped to [-limit, limit]
//   (this changes the direction, unlike clip_by_global_norm). NaN elements stay NaN.
template <class T>
double clip_by_value(arma::Col<T>& grads, double limit);

// ---- learning-rate schedules ----------------------------------------------------------------

enum class ScheduleKind { constant, step, cosine };

// "constant", "step", "cosine"; and back (UserError listing them on an unknown name).
std::string schedule_name(ScheduleKind kind);
ScheduleKind schedule_kind_from_name(const std::string& name);

// A closed-form rate as a function of a step counter s = 0, 1, 2, ... The caller decides what a
// step is (an update or an epoch) and uses the same unit for warmup, step_size and total.
//   warmup (any kind): for s < warmup, rate = base * (s + 1) / warmup, a linear ramp that reaches
//     base at s = warmup - 1; the phase below then starts at u = 0.
//   after warmup, with u = s - warmup:
//   constant: base.
//   step:     base * gamma^floor(u / step_size).
//   cosine:   min_rate + (base - min_rate) * (1 + cos(pi * u / (total - warmup))) / 2 while
//             s < total, then min_rate.
struct ScheduleOptions {
  ScheduleKind kind = ScheduleKind::constant;
  double base_rate = 1e-3;      // > 0
  std::uint64_t warmup = 0;     // linear warmup length (0 = none)
  std::uint64_t step_size = 1;  // step: >= 1
  double gamma = 0.1;           // step: factor in (0, 1]
  std::uint64_t total = 0;      // cosine: total steps INCLUDING warmup, > warmup
  double min_rate = 0.0;        // cosine: final rate in [0, base_rate]
};

// Ensures: returns if every field used by the kind is in range, else UserError naming the field.
void validate(const ScheduleOptions& options);

// Requires: valid options (validate(); not re-checked here, this is called every update).
// Ensures: the rate at step s as documented on ScheduleOptions. Cost O(1).
double scheduled_rate(const ScheduleOptions& options, std::uint64_t step);

// ---- reduce on plateau -----------------------------------------------------------------------

struct PlateauOptions {
  double factor = 0.5;         // multiply the rate by this on a plateau, in (0, 1)
  std::uint64_t patience = 2;  // non-improving epochs tolerated before a cut
  double min_delta = 0.0;      // improvement must beat the best by more than this, >= 0
  double min_rate = 0.0;       // the rate never goes below this, >= 0
};

// Watches one validation NLL per epoch and cuts the learning rate when it stops improving.
// An epoch improves when value < best - min_delta (NaN never improves). After patience + 1
// consecutive non-improving epochs the rate becomes max(rate * factor, min_rate) and the count
// starts again from 0 (so with patience 2 the cuts come at the 3rd, 6th, ... bad epoch).
class ReduceOnPlateau {
 public:
  // Requires: initial_rate > 0 and valid options (else UserError naming the field).
  ReduceOnPlateau(double initial_rate, const PlateauOptions& options);

  // Ensures: records one epoch's value; returns true when the rate was cut by this call.
  bool observe(double value);

  double rate() const { return rate_; }
  double best() const { return best_; }  // +inf before the first finite value
  std::uint64_t bad_epochs() const { return bad_epochs_; }
  std::uint64_t reductions() const { return reductions_; }

  // What observe() remembers (for checkpoints): set_state(state()) on an object of the same
  // options continues exactly as this one would.
  struct State {
    double rate = 1.0;
    double best = std::numeric_limits<double>::infinity();
    std::uint64_t bad_epochs = 0;
    std::uint64_t reductions = 0;
  };
  State state() const { return {rate_, best_, bad_epochs_, reductions_}; }
  // Requires: a rate > 0 (else UserError).
  void set_state(const State& state);

 private:
  PlateauOptions options_;
  double rate_;
  double best_ = std::numeric_limits<double>::infinity();
  std::uint64_t bad_epochs_ = 0;
  std::uint64_t reductions_ = 0;
};

// ---- early stopping --------------------------------------------------------------------------

// Remembers the best validation NLL and a copy of the parameters that gave it, says when to stop
// (patience epochs in a row without improvement) and puts the best parameters back.
template <class T>
class EarlyStopping {
 public:
  // Requires: patience >= 1 and min_delta >= 0 (else UserError naming the field).
  explicit EarlyStopping(std::uint64_t patience, double min_delta = 0.0);

  // Ensures: records epoch number epochs_seen() (0-based). If value < best - min_delta (NaN never
  //   is), the best value, its epoch and a copy of params are kept, the bad count returns to 0
  //   and the call returns true; otherwise the bad count grows and it returns false.
  //   Cost O(size) on improvement (one copy), O(1) otherwise.
  bool observe(double value, const arma::Col<T>& params);

  // True once `patience` consecutive epochs did not improve (epochs with a NaN value count as
  // not improving, so a diverged run stops too; has_best() then says whether restore() can work).
  bool should_stop() const { return bad_epochs_ >= patience_; }

  bool has_best() const { return has_best_; }
  double best() const { return best_; }  // +inf before the first improvement
  std::uint64_t best_epoch() const { return best_epoch_; }
  std::uint64_t epochs_seen() const { return epochs_seen_; }
  std::uint64_t bad_epochs() const { return bad_epochs_; }
  const arma::Col<T>& best_parameters() const { return best_parameters_; }

  // What observe() remembers (for checkpoints): set_state(state()) on an object of the same
  // patience and min_delta continues exactly as this one would.
  struct State {
    bool has_best = false;
    double best = std::numeric_limits<double>::infinity();
    std::uint64_t best_epoch = 0;
    std::uint64_t epochs_seen = 0;
    std::uint64_t bad_epochs = 0;
    arma::Col<T> best_parameters;  // empty until has_best
  };
  State state() const;
  // Requires: best_parameters empty exactly when !has_best (else UserError).
  void set_state(const State& state);

  // Requires: has_best() and params of the remembered length (else std::logic_error).
  // Ensures: params holds the best parameters (copied element-wise into its existing memory, so
  //   params may be a parameter buffer that views point into).
  void restore(arma::Col<T>& params) const;

 private:
  std::uint64_t patience_;
  double min_delta_;
  bool has_best_ = false;
  double best_ = std::numeric_limits<double>::infinity();
  std::uint64_t best_epoch_ = 0;
  std::uint64_t epochs_seen_ = 0;
  std::uint64_t bad_epochs_ = 0;
  arma::Col<T> best_parameters_;
};

// ---- parameter averaging ---------------------------------------------------------------------

// An exponential moving average of the parameters over the updates. After updates 1..k left
// the parameters p_1..p_k it holds
//   mean_k = sum_i w_i p_i / sum_i w_i,   w_i = decay^(k - i),
// computed as s_k = decay s_{k-1} + (1 - decay) p_k, mean_k = s_k / (1 - decay^k): the starting
// point p_0 gets no weight, so the first mean is p_1 and no warm-up bias remains. Accumulated in
// double whatever T is. Why: the last iterate of a noisy optimizer wanders around the region it
// has converged to; the average sits nearer its middle and usually scores better on held-out
// data. Training itself goes on from the raw parameters.
template <class T>
class ParameterAverage {
 public:
  // Requires: decay in (0, 1) and size >= 1 (else UserError naming the field).
  ParameterAverage(double decay, arma::uword size);

  // Requires: params of `size` elements (else std::logic_error). Ensures: count() grows by one
  //   and mean() includes params. Cost O(size).
  void add(const arma::Col<T>& params);

  // Requires: count() >= 1 (else std::logic_error). Ensures: mean_k rounded to T. Cost O(size).
  arma::Col<T> mean() const;

  std::uint64_t count() const { return count_; }
  double decay() const { return decay_; }

  // The running sums (for checkpoints): set_state(state()) on an average of the same decay and
  // size continues exactly as this one would.
  struct State {
    double weight = 0.0;     // 1 - decay^k
    std::uint64_t count = 0; // k
    arma::vec sum;           // s_k, `size` elements
  };
  State state() const { return {weight_, count_, sum_}; }
  // Requires: a sum of `size` elements (else UserError).
  void set_state(const State& state);

 private:
  double decay_;
  double weight_ = 0.0;  // 1 - decay^k, the total weight of p_1..p_k
  std::uint64_t count_ = 0;
  arma::vec sum_;        // s_k
};

}  // namespace seqlab::rnn
