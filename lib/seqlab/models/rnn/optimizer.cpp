// seqlab/models/rnn/optimizer.cpp: optimizers, clipping, schedules, plateau, early stopping and
// parameter averaging.
#include "seqlab/models/rnn/optimizer.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>
#include <stdexcept>

#include "seqlab/core/error.hpp"

namespace seqlab::rnn {

namespace {

std::string number(double x) {
  std::ostringstream out;
  out << x;
  return out.str();
}

void require_in(bool ok, const std::string& field, const std::string& range, double got) {
  if (!ok) user_error(field + " must be " + range + ", got " + number(got));
}

bool in_unit_interval(double x) { return x >= 0.0 && x < 1.0; }

template <class T>
void require_length(const arma::Col<T>& v, arma::uword expected, const std::string& what) {
  if (v.n_elem != expected) {
    user_error("optimizer state: " + what + " has " + std::to_string(v.n_elem) +
               " elements, expected " + std::to_string(expected));
  }
}

}  // namespace

// ---- names -----------------------------------------------------------------------------------

std::string optimizer_name(OptimizerKind kind) {
  switch (kind) {
    case OptimizerKind::sgd:
      return "sgd";
    case OptimizerKind::adam:
      return "adam";
    case OptimizerKind::rmsprop:
      return "rmsprop";
  }
  return "?";
}

OptimizerKind optimizer_kind_from_name(const std::string& name) {
  for (OptimizerKind kind : {OptimizerKind::sgd, OptimizerKind::adam, OptimizerKind::rmsprop}) {
    if (name == optimizer_name(kind)) return kind;
  }
  user_error("optimizer '" + name + "' is not one of sgd, adam, rmsprop");
}

std::string schedule_name(ScheduleKind kind) {
  switch (kind) {
    case ScheduleKind::constant:
      return "constant";
    case ScheduleKind::step:
      return "step";
    case ScheduleKind::cosine:
      return "cosine";
  }
  return "?";
}

ScheduleKind schedule_kind_from_name(const std::string& name) {
  for (ScheduleKind kind : {ScheduleKind::constant, ScheduleKind::step, ScheduleKind::cosine}) {
    if (name == schedule_name(kind)) return kind;
  }
  user_error("learning-rate schedule '" + name + "' is not one of constant, step, cosine");
}

// ---- optimizers ------------------------------------------------------------------------------

void validate(const OptimizerOptions& o) {
  switch (o.kind) {
    case OptimizerKind::sgd:
      require_in(in_unit_interval(o.momentum), "optimizer momentum", "in [0, 1)", o.momentum);
      if (o.nesterov && o.momentum == 0.0) {
        user_error("optimizer nesterov needs momentum > 0, got momentum 0");
      }
      break;
    case OptimizerKind::adam:
      require_in(in_unit_interval(o.beta1), "optimizer beta1", "in [0, 1)", o.beta1);
      require_in(in_unit_interval(o.beta2), "optimizer beta2", "in [0, 1)", o.beta2);
      require_in(o.epsilon > 0.0 && std::isfinite(o.epsilon), "optimizer epsilon", "> 0",
                 o.epsilon);
      break;
    case OptimizerKind::rmsprop:
      require_in(in_unit_interval(o.decay), "optimizer decay", "in [0, 1)", o.decay);
      require_in(o.epsilon > 0.0 && std::isfinite(o.epsilon), "optimizer epsilon", "> 0",
                 o.epsilon);
      break;
  }
}

template <class T>
Optimizer<T>::Optimizer(const OptimizerOptions& options, arma::uword size)
    : options_(options), size_(size) {
  validate(options_);
  reset();
}

template <class T>
void Optimizer<T>::reset() {
  state_.steps = 0;
  const bool uses_first = options_.kind == OptimizerKind::adam ||
                          (options_.kind == OptimizerKind::sgd && options_.momentum > 0.0);
  const bool uses_second = options_.kind != OptimizerKind::sgd;
  state_.first.zeros(uses_first ? size_ : 0);
  state_.second.zeros(uses_second ? size_ : 0);
}

template <class T>
void Optimizer<T>::import_state(const OptimizerState<T>& state) {
  require_length(state.first, state_.first.n_elem, "first-moment vector");
  require_length(state.second, state_.second.n_elem, "second-moment vector");
  state_ = state;
}

template <class T>
void Optimizer<T>::step(arma::Col<T>& params, const arma::Col<T>& grads, double learning_rate) {
  if (params.n_elem != size_ || grads.n_elem != size_) {
    throw std::invalid_argument("Optimizer::step: params has " + std::to_string(params.n_elem) +
                                " and grads " + std::to_string(grads.n_elem) +
                                " elements, expected " + std::to_string(size_));
  }
  ++state_.steps;
  T* p = params.memptr();
  const T* g = grads.memptr();
  const T lr = static_cast<T>(learning_rate);
  switch (options_.kind) {
    case OptimizerKind::sgd: {
      if (options_.momentum == 0.0) {
        for (arma::uword i = 0; i < size_; ++i) p[i] -= lr * g[i];
        break;
      }
      const T mu = static_cast<T>(options_.momentum);
      T* v = state_.first.memptr();
      if (options_.nesterov) {
        for (arma::uword i = 0; i < size_; ++i) {
          v[i] = mu * v[i] + g[i];
          p[i] -= lr * (g[i] + mu * v[i]);
        }
      } else {
        for (arma::uword i = 0; i < size_; ++i) {
          v[i] = mu * v[i] + g[i];
          p[i] -= lr * v[i];
        }
      }
      break;
    }
    case OptimizerKind::adam: {
      const double t = static_cast<double>(state_.steps);
      // 1 - beta is formed in double: in float, 1 - 0.999f is off by 1e-5 relative, which would
      // not match the bias correction below.
      const T b1 = static_cast<T>(options_.beta1);
      const T b2 = static_cast<T>(options_.beta2);
      const T one_minus_b1 = static_cast<T>(1.0 - options_.beta1);
      const T one_minus_b2 = static_cast<T>(1.0 - options_.beta2);
      // Bias corrections in double: 1 - beta^t loses all digits in float for beta2 near 1.
      const T inv_correction1 = static_cast<T>(1.0 / (1.0 - std::pow(options_.beta1, t)));
      const T inv_correction2 = static_cast<T>(1.0 / (1.0 - std::pow(options_.beta2, t)));
      const T eps = static_cast<T>(options_.epsilon);
      T* m = state_.first.memptr();
      T* v = state_.second.memptr();
      for (arma::uword i = 0; i < size_; ++i) {
        m[i] = b1 * m[i] + one_minus_b1 * g[i];
        v[i] = b2 * v[i] + one_minus_b2 * g[i] * g[i];
        p[i] -= lr * (m[i] * inv_correction1) / (std::sqrt(v[i] * inv_correction2) + eps);
      }
      break;
    }
    case OptimizerKind::rmsprop: {
      const T rho = static_cast<T>(options_.decay);
      const T one_minus_rho = static_cast<T>(1.0 - options_.decay);
      const T eps = static_cast<T>(options_.epsilon);
      T* s = state_.second.memptr();
      for (arma::uword i = 0; i < size_; ++i) {
        s[i] = rho * s[i] + one_minus_rho * g[i] * g[i];
        p[i] -= lr * g[i] / (std::sqrt(s[i]) + eps);
      }
      break;
    }
  }
}

// ---- clipping --------------------------------------------------------------------------------

template <class T>
double global_norm(const arma::Col<T>& v) {
  // Two passes (max, then scaled squares) so squares of large elements cannot overflow.
  double largest = 0.0;
  for (arma::uword i = 0; i < v.n_elem; ++i) {
    const double a = std::abs(static_cast<double>(v[i]));
    if (!(a <= largest)) largest = a;  // also lets NaN through
  }
  if (largest == 0.0 || !std::isfinite(largest)) return largest;
  double sum = 0.0;
  for (arma::uword i = 0; i < v.n_elem; ++i) {
    const double scaled = static_cast<double>(v[i]) / largest;
    sum += scaled * scaled;
  }
  return largest * std::sqrt(sum);
}

template <class T>
double clip_by_global_norm(arma::Col<T>& grads, double max_norm) {
  if (!(max_norm > 0.0)) throw std::invalid_argument("clip_by_global_norm: max_norm must be > 0");
  const double norm = global_norm(grads);
  if (std::isfinite(norm) && norm > max_norm) {
    const T factor = static_cast<T>(max_norm / norm);
    for (arma::uword i = 0; i < grads.n_elem; ++i) grads[i] *= factor;
  }
  return norm;
}

template <class T>
double clip_by_value(arma::Col<T>& grads, double limit) {
  if (!(limit > 0.0)) throw std::invalid_argument("clip_by_value: limit must be > 0");
  const double norm = global_norm(grads);
  const T hi = static_cast<T>(limit);
  for (arma::uword i = 0; i < grads.n_elem; ++i) {
    if (grads[i] > hi)
      grads[i] = hi;
    else if (grads[i] < -hi)
      grads[i] = -hi;
  }
  return norm;
}

// ---- schedules -------------------------------------------------------------------------------

void validate(const ScheduleOptions& o) {
  require_in(o.base_rate > 0.0 && std::isfinite(o.base_rate), "learning rate", "> 0", o.base_rate);
  switch (o.kind) {
    case ScheduleKind::constant:
      break;
    case ScheduleKind::step:
      require_in(o.step_size >= 1, "schedule step_size", ">= 1", static_cast<double>(o.step_size));
      require_in(o.gamma > 0.0 && o.gamma <= 1.0, "schedule gamma", "in (0, 1]", o.gamma);
      break;
    case ScheduleKind::cosine:
      if (o.total <= o.warmup) {
        user_error("schedule total must be greater than warmup (" + std::to_string(o.warmup) +
                   "), got " + std::to_string(o.total));
      }
      require_in(o.min_rate >= 0.0 && o.min_rate <= o.base_rate, "schedule min_rate",
                 "in [0, learning rate]", o.min_rate);
      break;
  }
}

double scheduled_rate(const ScheduleOptions& o, std::uint64_t step) {
  if (step < o.warmup) {
    return o.base_rate * static_cast<double>(step + 1) / static_cast<double>(o.warmup);
  }
  const std::uint64_t u = step - o.warmup;
  switch (o.kind) {
    case ScheduleKind::constant:
      return o.base_rate;
    case ScheduleKind::step:
      return o.base_rate * std::pow(o.gamma, static_cast<double>(u / o.step_size));
    case ScheduleKind::cosine: {
      if (step >= o.total) return o.min_rate;
      const double progress = static_cast<double>(u) / static_cast<double>(o.total - o.warmup);
      return o.min_rate +
             (o.base_rate - o.min_rate) * 0.5 * (1.0 + std::cos(std::numbers::pi * progress));
    }
  }
  return o.base_rate;
}

// ---- reduce on plateau -----------------------------------------------------------------------

ReduceOnPlateau::ReduceOnPlateau(double initial_rate, const PlateauOptions& options)
    : options_(options), rate_(initial_rate) {
  require_in(initial_rate > 0.0 && std::isfinite(initial_rate), "learning rate", "> 0",
             initial_rate);
  require_in(options.factor > 0.0 && options.factor < 1.0, "plateau factor", "in (0, 1)",
             options.factor);
  require_in(options.min_delta >= 0.0, "plateau min_delta", ">= 0", options.min_delta);
  require_in(options.min_rate >= 0.0, "plateau min_rate", ">= 0", options.min_rate);
}

bool ReduceOnPlateau::observe(double value) {
  if (value < best_ - options_.min_delta) {
    best_ = value;
    bad_epochs_ = 0;
    return false;
  }
  ++bad_epochs_;
  if (bad_epochs_ <= options_.patience) return false;
  bad_epochs_ = 0;
  const double reduced = std::max(rate_ * options_.factor, options_.min_rate);
  if (reduced >= rate_) return false;  // already at the floor
  rate_ = reduced;
  ++reductions_;
  return true;
}

void ReduceOnPlateau::set_state(const State& state) {
  require_in(state.rate > 0.0 && std::isfinite(state.rate), "plateau rate", "> 0", state.rate);
  rate_ = state.rate;
  best_ = state.best;
  bad_epochs_ = state.bad_epochs;
  reductions_ = state.reductions;
}

// ---- early stopping --------------------------------------------------------------------------

template <class T>
EarlyStopping<T>::EarlyStopping(std::uint64_t patience, double min_delta)
    : patience_(patience), min_delta_(min_delta) {
  require_in(patience >= 1, "early stopping patience", ">= 1", static_cast<double>(patience));
  require_in(min_delta >= 0.0, "early stopping min_delta", ">= 0", min_delta);
}

template <class T>
bool EarlyStopping<T>::observe(double value, const arma::Col<T>& params) {
  const std::uint64_t epoch = epochs_seen_++;
  if (value < best_ - min_delta_) {
    best_ = value;
    best_epoch_ = epoch;
    has_best_ = true;
    bad_epochs_ = 0;
    best_parameters_ = params;
    return true;
  }
  ++bad_epochs_;
  return false;
}

template <class T>
void EarlyStopping<T>::restore(arma::Col<T>& params) const {
  if (!has_best_) throw std::logic_error("EarlyStopping::restore: no epoch improved yet");
  if (params.n_elem != best_parameters_.n_elem) {
    throw std::logic_error("EarlyStopping::restore: parameter vector has " +
                           std::to_string(params.n_elem) + " elements, the best one " +
                           std::to_string(best_parameters_.n_elem));
  }
  std::copy(best_parameters_.begin(), best_parameters_.end(), params.begin());
}

template <class T>
typename EarlyStopping<T>::State EarlyStopping<T>::state() const {
  return {has_best_, best_, best_epoch_, epochs_seen_, bad_epochs_, best_parameters_};
}

template <class T>
void EarlyStopping<T>::set_state(const State& state) {
  if (state.has_best == state.best_parameters.empty())
    user_error(std::string("early stopping state: ") +
               (state.has_best ? "a best epoch without its parameters"
                               : "best parameters without a best epoch"));
  has_best_ = state.has_best;
  best_ = state.best;
  best_epoch_ = state.best_epoch;
  epochs_seen_ = state.epochs_seen;
  bad_epochs_ = state.bad_epochs;
  best_parameters_ = state.best_parameters;
}

// ---- parameter averaging ---------------------------------------------------------------------

template <class T>
ParameterAverage<T>::ParameterAverage(double decay, arma::uword size)
    : decay_(decay), sum_(size, arma::fill::zeros) {
  require_in(decay > 0.0 && decay < 1.0, "parameter average decay", "in (0, 1)", decay);
  require_in(size >= 1, "parameter average size", ">= 1", static_cast<double>(size));
}

template <class T>
void ParameterAverage<T>::add(const arma::Col<T>& params) {
  if (params.n_elem != sum_.n_elem)
    throw std::logic_error("ParameterAverage::add: " + std::to_string(params.n_elem) +
                           " parameters, the average holds " + std::to_string(sum_.n_elem));
  const double keep = decay_, take = 1.0 - decay_;
  double* s = sum_.memptr();
  const T* p = params.memptr();
  for (arma::uword i = 0; i < sum_.n_elem; ++i)
    s[i] = keep * s[i] + take * static_cast<double>(p[i]);
  weight_ = keep * weight_ + take;
  ++count_;
}

template <class T>
arma::Col<T> ParameterAverage<T>::mean() const {
  if (count_ == 0) throw std::logic_error("ParameterAverage::mean: nothing added yet");
  return arma::conv_to<arma::Col<T>>::from(sum_ / weight_);
}

template <class T>
void ParameterAverage<T>::set_state(const State& state) {
  if (state.sum.n_elem != sum_.n_elem)
    user_error("parameter average state: " + std::to_string(state.sum.n_elem) +
               " sums, expected " + std::to_string(sum_.n_elem));
  weight_ = state.weight;
  count_ = state.count;
  sum_ = state.sum;
}

// ---- explicit instantiations -----------------------------------------------------------------

template struct OptimizerState<float>;
template struct OptimizerState<double>;
template class Optimizer<float>;
template class Optimizer<double>;
template class EarlyStopping<float>;
template class EarlyStopping<double>;
template class ParameterAverage<float>;
template class ParameterAverage<double>;
template double global_norm<float>(const arma::Col<float>&);
template double global_norm<double>(const arma::Col<double>&);
template double clip_by_global_norm<float>(arma::Col<float>&, double);
template double clip_by_global_norm<double>(arma::Col<double>&, double);
template double clip_by_value<float>(arma::Col<float>&, double);
template double clip_by_value<double>(arma::Col<double>&, double);

}  // namespace seqlab::rnn
