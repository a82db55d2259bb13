// seqlab/models/rnn/leaky.cpp: forward/backward of the leaky-integrator cell over one window.
//
// The arithmetic deliberately follows elman.cpp step for step (same GEMM calls on the same
// buffers, the same order of scalar operations with a = 1 as an exact no-op), which is what makes
// tau = 1 reproduce the Elman cell bit for bit.
#include "seqlab/models/rnn/leaky.hpp"

#include <algorithm>
#include <cmath>
#include <sstream>
#include <stdexcept>
#include <utility>

#include "seqlab/core/error.hpp"
#include "seqlab/models/rnn/cell_kernels.hpp"

namespace seqlab::rnn {

using cell_detail::gemm;

namespace {
std::string format_number(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}
}  // namespace

template <class T>
LeakyCell<T>::LeakyCell(arma::uword input_size, arma::uword hidden_size,
                        const LeakyOptions& options)
    : input_size_(input_size),
      hidden_size_(hidden_size),
      activation_(options.activation),
      train_tau_(options.train_tau),
      weight_ih_(cell_detail::kUnregistered),
      weight_hh_(cell_detail::kUnregistered),
      bias_(cell_detail::kUnregistered),
      tau_rho_(cell_detail::kUnregistered),
      weight_hd_(cell_detail::kUnregistered),
      delay_line_(options.delay) {
  if (input_size == 0 || hidden_size == 0)
    user_error("leaky cell: input and hidden sizes must be >= 1 (got " +
               std::to_string(input_size) + " and " + std::to_string(hidden_size) + ")");
  if (options.tau.n_elem == 1) {
    tau0_.set_size(hidden_size);
    tau0_.fill(options.tau(0));
  } else if (options.tau.n_elem == hidden_size) {
    tau0_ = options.tau;
  } else {
    user_error("leaky cell: tau must have 1 or " + std::to_string(hidden_size) +
               " values (one per unit), got " + std::to_string(options.tau.n_elem));
  }
  for (arma::uword j = 0; j < hidden_size; ++j) {
    const double tau = tau0_(j);
    if (!std::isfinite(tau) || tau < 1.0)
      user_error("leaky cell: tau of unit " + std::to_string(j) + " is " + format_number(tau) +
                 "; expected a finite time constant >= 1");
    if (train_tau_ && tau <= 1.0)
      user_error("leaky cell: trained tau of unit " + std::to_string(j) +
                 " must start above 1 (tau = 1 + softplus(rho) never reaches 1), got " +
                 format_number(tau));
  }
}

template <class T>
void LeakyCell<T>::register_parameters(ParameterSet<T>& params, const std::string& prefix) {
  weight_ih_ = params.add(prefix + "weight_ih", hidden_size_, input_size_);
  weight_hh_ = params.add(prefix + "weight_hh", hidden_size_, hidden_size_);
  bias_ = params.add(prefix + "bias", hidden_size_, 1);
  if (train_tau_) tau_rho_ = params.add(prefix + "tau_rho", hidden_size_, 1);
  if (delay() > 0) weight_hd_ = params.add(prefix + "weight_hd", hidden_size_, hidden_size_);
}

template <class T>
void LeakyCell<T>::init(ParameterSet<T>& params, Rng& rng) const {
  cell_detail::require_registered(name(), bias_);
  cell_detail::fill_glorot_blocks(params.value(weight_ih_), 1, rng);
  cell_detail::fill_orthogonal_blocks(params.value(weight_hh_), 1, rng);
  params.value(bias_).zeros();
  if (train_tau_) {
    T* rho = params.value_ptr(tau_rho_);
    // Inverse of softplus: expm1 keeps precision for tau close to 1.
    for (arma::uword j = 0; j < hidden_size_; ++j)
      rho[j] = static_cast<T>(std::log(std::expm1(tau0_(j) - 1.0)));
  }
  // Zero, and no draws from rng, for the reasons given in ElmanCell::init.
  if (delay() > 0) params.value(weight_hd_).zeros();
}

template <class T>
arma::vec LeakyCell<T>::tau(const ParameterSet<T>& params) const {
  if (!train_tau_) return tau0_;
  cell_detail::require_registered(name(), tau_rho_);
  const T* rho = params.value_ptr(tau_rho_);
  arma::vec tau(hidden_size_);
  for (arma::uword j = 0; j < hidden_size_; ++j)
    tau(j) = 1.0 + cell_detail::softplus(static_cast<double>(rho[j]));
  return tau;
}

template <class T>
void LeakyCell<T>::prepare(arma::uword streams, arma::uword steps) {
  delay_line_.prepare(hidden_size_, streams, steps);
  if (streams == streams_ && steps == steps_) return;
  const arma::uword n = streams * steps, lag = delay_line_.lag();
  rate_.set_size(hidden_size_);
  d_rate_.set_size(hidden_size_);
  states_.set_size(hidden_size_, (lag + steps + 1) * streams);
  d_states_.set_size(hidden_size_, (lag + steps + 1) * streams);
  squashed_.set_size(hidden_size_, n);
  pre_.set_size(hidden_size_, n);
  total_.set_size(hidden_size_, streams);
  const arma::uword H = hidden_size_;
  recurrent_ = StepGemm<T>(H, streams, H, H, H, H, true);
  recurrent_transposed_ = StepGemm<T>(H, streams, H, H, H, H, true);
  delayed_transposed_ = StepGemm<T>(H, streams, H, H, H, H, false);
  streams_ = streams;
  steps_ = steps;
}

template <class T>
void LeakyCell<T>::compute_rates(const ParameterSet<T>& params) {
  if (train_tau_) {
    const T* rho = params.value_ptr(tau_rho_);
    for (arma::uword j = 0; j < hidden_size_; ++j)
      rate_[j] = T(1) / (T(1) + cell_detail::softplus(rho[j]));
  } else {
    for (arma::uword j = 0; j < hidden_size_; ++j) rate_[j] = static_cast<T>(1.0 / tau0_(j));
  }
}

template <class T>
void LeakyCell<T>::forward(const ParameterSet<T>& params, const arma::Mat<T>& x,
                           const RecurrentState<T>& initial, const arma::Mat<T>* mask,
                           arma::Mat<T>& out) {
  cell_detail::require_registered(name(), bias_);
  const auto shape = cell_detail::check_forward_shapes(name(), input_size_, hidden_size_, false,
                                                       x, initial, mask);
  prepare(shape.streams, shape.steps);
  gemm<T>(false, false, hidden_size_, streams_ * steps_, input_size_, T(1),
          params.value_ptr(weight_ih_), hidden_size_, x.memptr(), input_size_, T(0),
          pre_.memptr(), hidden_size_);
  forward_steps(params, initial, mask, out);
}

template <class T>
void LeakyCell<T>::forward_projected(const ParameterSet<T>& params, const arma::Mat<T>& projected,
                                     const RecurrentState<T>& initial, const arma::Mat<T>* mask,
                                     arma::Mat<T>& out) {
  cell_detail::require_registered(name(), bias_);
  const auto shape = cell_detail::check_forward_shapes(name(), hidden_size_, hidden_size_, false,
                                                       projected, initial, mask);
  prepare(shape.streams, shape.steps);
  std::copy(projected.begin(), projected.end(), pre_.begin());
  forward_steps(params, initial, mask, out);
}

template <class T>
void LeakyCell<T>::forward_steps(const ParameterSet<T>& params, const RecurrentState<T>& initial,
                                 const arma::Mat<T>* mask, arma::Mat<T>& out) {
  compute_rates(params);
  const arma::uword H = hidden_size_, B = streams_, S = steps_, N = B * S;
  const bool delayed = delay() > 0;
  const T* w_hh = params.value_ptr(weight_hh_);
  const T* w_hd = delayed ? params.value_ptr(weight_hd_) : nullptr;
  const T* bias = params.value_ptr(bias_);
  const T* rate = rate_.memptr();
  const T* m = mask == nullptr ? nullptr : mask->memptr();
  T* pre = pre_.memptr();
  T* squashed = squashed_.memptr();
  delay_line_.begin(name(), initial, states_.memptr());
  // Column c = h_{t-1} of window column c; column c + B = h_t.
  T* states = states_.memptr() + delay_line_.lag() * B * H;

  std::copy(initial.h.begin(), initial.h.end(), states);
  for (arma::uword t = 0; t < S; ++t) {
    T* z_t = pre + t * B * H;  // H x B
    T* fz_t = squashed + t * B * H;
    recurrent_(w_hh, states + t * B * H, z_t);  // z_t += W_hh h_{t-1}
    if (delayed) {
      delay_line_.gather(states_.memptr(), t, m);
      recurrent_(w_hd, delay_line_.delayed(t), z_t);
    }
    for (arma::uword b = 0; b < B; ++b)
      for (arma::uword j = 0; j < H; ++j) fz_t[b * H + j] = z_t[b * H + j] + bias[j];
    cell_detail::activate_array(activation_, fz_t, H * B);
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      const T* h_prev = states + col * H;
      T* h = states + (col + B) * H;
      T* fz = squashed + col * H;
      if (cell_detail::is_real_step(m, col)) {
        for (arma::uword j = 0; j < H; ++j) h[j] = (T(1) - rate[j]) * h_prev[j] + rate[j] * fz[j];
      } else {
        std::fill(fz, fz + H, T(0));
        std::copy(h_prev, h_prev + H, h);
      }
    }
  }
  out.set_size(H, N);
  std::copy(states + B * H, states + (N + B) * H, out.memptr());
}

template <class T>
void LeakyCell<T>::backward(ParameterSet<T>& params, const arma::Mat<T>& x,
                            const arma::Mat<T>* mask, const arma::Mat<T>& d_out,
                            arma::Mat<T>* d_x, RecurrentState<T>* d_initial) {
  cell_detail::check_backward_shapes(name(), input_size_, hidden_size_, {streams_, steps_}, x,
                                     mask, d_out);
  backward_steps(params, mask, d_out, d_initial);
  const arma::uword H = hidden_size_, D = input_size_, N = streams_ * steps_;
  const T* d_pre = pre_.memptr();
  gemm<T>(false, true, H, D, N, T(1), d_pre, H, x.memptr(), D, T(1),
          params.gradient_ptr(weight_ih_), H);
  if (d_x != nullptr) {
    d_x->set_size(D, N);
    gemm<T>(true, false, D, N, H, T(1), params.value_ptr(weight_ih_), H, d_pre, H, T(0),
            d_x->memptr(), D);
  }
}

template <class T>
void LeakyCell<T>::backward_projected(ParameterSet<T>& params, const arma::Mat<T>* mask,
                                      const arma::Mat<T>& d_out, RecurrentState<T>* d_initial) {
  cell_detail::check_backward_shapes(name(), hidden_size_, hidden_size_, {streams_, steps_}, pre_,
                                     mask, d_out);
  backward_steps(params, mask, d_out, d_initial);
}

template <class T>
void LeakyCell<T>::backward_steps(ParameterSet<T>& params, const arma::Mat<T>* mask,
                                  const arma::Mat<T>& d_out, RecurrentState<T>* d_initial) {
  const T* m = mask == nullptr ? nullptr : mask->memptr();
  const arma::uword H = hidden_size_, B = streams_, S = steps_, N = B * S;
  const arma::uword history = delay_line_.lag() * B;  // columns before h0
  const bool delayed = delay() > 0;
  // W_hh^T (and W_hd^T) once per window, so each step's product reads its operand in place.
  w_hh_t_ = params.value(weight_hh_).t();
  if (delayed) w_hd_t_ = params.value(weight_hd_).t();
  const T* rate = rate_.memptr();
  const T* states = states_.memptr() + history * H;
  const T* squashed = squashed_.memptr();
  const T* dy = d_out.memptr();
  T* d_pre = pre_.memptr();
  T* d_rate = d_rate_.memptr();
  T* total = total_.memptr();  // dLoss/dh_t: output plus later steps
  // dLoss/d every state column, filled in from the later steps that use it: column c + B of
  // `dh` is final when step t (columns c = tB + b) is reached.
  d_states_.zeros();
  T* dh = d_states_.memptr() + history * H;
  std::fill(d_rate, d_rate + H, T(0));

  for (arma::uword t = S; t-- > 0;) {
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      T* dz = d_pre + col * H;
      T* g = total + b * H;
      const T* g_later = dh + (col + B) * H;
      if (cell_detail::is_real_step(m, col)) {
        const T* fz = squashed + col * H;
        const T* h_prev = states + col * H;
        const T* g_out = dy + col * H;
        for (arma::uword j = 0; j < H; ++j) {
          g[j] = g_out[j] + g_later[j];
          dz[j] = (g[j] * rate[j]) * cell_detail::activation_slope(activation_, fz[j]);
        }
        if (train_tau_)
          for (arma::uword j = 0; j < H; ++j) d_rate[j] += g[j] * (fz[j] - h_prev[j]);
      } else {
        std::copy(g_later, g_later + H, g);
        std::fill(dz, dz + H, T(0));
      }
    }
    recurrent_transposed_(w_hh_t_.memptr(), d_pre + t * B * H, dh + t * B * H);
    for (arma::uword b = 0; b < B; ++b) {
      T* g_prev = dh + (t * B + b) * H;
      const T* g = total + b * H;
      if (cell_detail::is_real_step(m, t * B + b)) {
        for (arma::uword j = 0; j < H; ++j) g_prev[j] += (T(1) - rate[j]) * g[j];
      } else {
        // A masked step copied h_{t-1} into h_t: its gradient goes back to h_{t-1} whole.
        for (arma::uword j = 0; j < H; ++j) g_prev[j] += g[j];
      }
    }
    if (delayed) {
      T* d_step = delay_line_.step_scratch();
      delayed_transposed_(w_hd_t_.memptr(), d_pre + t * B * H, d_step);
      delay_line_.scatter(d_step, t, m, d_states_.memptr());
    }
  }

  cell_detail::finish_elman_like_backward(params, weight_hh_, weight_hd_, bias_, d_pre, states, H,
                                          B, N, delay_line_, d_states_, d_initial);
  if (train_tau_) {
    // a = 1 / (1 + softplus(rho)):  da/drho = -a^2 * sigmoid(rho).
    const T* rho = params.value_ptr(tau_rho_);
    T* d_rho = params.gradient_ptr(tau_rho_);
    for (arma::uword j = 0; j < H; ++j)
      d_rho[j] -= d_rate[j] * rate[j] * rate[j] * cell_detail::sigmoid(rho[j]);
  }
}

template <class T>
void LeakyCell<T>::final_state(RecurrentState<T>& state) const {
  if (streams_ == 0) throw std::logic_error("leaky final_state: no forward pass yet");
  state.h = states_.cols(states_.n_cols - streams_, states_.n_cols - 1);
  state.c.reset();
  delay_line_.final_history(states_, state.history);
}

template class LeakyCell<float>;
template class LeakyCell<double>;
static_assert(RecurrentCell<LeakyCell<float>>);
static_assert(RecurrentCell<LeakyCell<double>>);
static_assert(ProjectedInputCell<LeakyCell<float>>);
static_assert(ProjectedInputCell<LeakyCell<double>>);

}  // namespace seqlab::rnn
