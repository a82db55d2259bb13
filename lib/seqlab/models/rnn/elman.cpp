// seqlab/models/rnn/elman.cpp: forward/backward of the Elman cell over one window.
#include "seqlab/models/rnn/elman.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "seqlab/core/error.hpp"
#include "seqlab/models/rnn/cell_kernels.hpp"

namespace seqlab::rnn {

using cell_detail::gemm;

template <class T>
ElmanCell<T>::ElmanCell(arma::uword input_size, arma::uword hidden_size, Activation activation,
                        arma::uword delay)
    : input_size_(input_size),
      hidden_size_(hidden_size),
      activation_(activation),
      weight_ih_(cell_detail::kUnregistered),
      weight_hh_(cell_detail::kUnregistered),
      bias_(cell_detail::kUnregistered),
      weight_hd_(cell_detail::kUnregistered),
      delay_line_(delay) {
  if (input_size == 0 || hidden_size == 0)
    user_error("elman cell: input and hidden sizes must be >= 1 (got " +
               std::to_string(input_size) + " and " + std::to_string(hidden_size) + ")");
}

template <class T>
void ElmanCell<T>::register_parameters(ParameterSet<T>& params, const std::string& prefix) {
  weight_ih_ = params.add(prefix + "weight_ih", hidden_size_, input_size_);
  weight_hh_ = params.add(prefix + "weight_hh", hidden_size_, hidden_size_);
  bias_ = params.add(prefix + "bias", hidden_size_, 1);
  if (delay() > 0) weight_hd_ = params.add(prefix + "weight_hd", hidden_size_, hidden_size_);
}

template <class T>
void ElmanCell<T>::init(ParameterSet<T>& params, Rng& rng) const {
  cell_detail::require_registered(name(), bias_);
  cell_detail::fill_glorot_blocks(params.value(weight_ih_), 1, rng);
  cell_detail::fill_orthogonal_blocks(params.value(weight_hh_), 1, rng);
  params.value(bias_).zeros();
  // The delay weights start at 0: a second orthogonal block would double the variance of the
  // recurrent input and push the start past the edge of stability that the orthogonal W_hh sits
  // on, while at 0 the gradient dLoss/dW_hd = sum dz h_{t-D}^T is not 0, so the skip path opens
  // as far as training finds it useful. It also draws nothing from rng: with the same seed a
  // delay network starts as exactly the network without one.
  if (delay() > 0) params.value(weight_hd_).zeros();
}

template <class T>
void ElmanCell<T>::prepare(arma::uword streams, arma::uword steps) {
  delay_line_.prepare(hidden_size_, streams, steps);
  if (streams == streams_ && steps == steps_) return;
  const arma::uword H = hidden_size_, n = streams * steps, lag = delay_line_.lag();
  states_.set_size(H, (lag + steps + 1) * streams);
  d_states_.set_size(H, (lag + steps + 1) * streams);
  pre_.set_size(H, n);
  recurrent_ = StepGemm<T>(H, streams, H, H, H, H, true);
  recurrent_transposed_ = StepGemm<T>(H, streams, H, H, H, H, true);
  delayed_transposed_ = StepGemm<T>(H, streams, H, H, H, H, false);
  streams_ = streams;
  steps_ = steps;
}

template <class T>
void ElmanCell<T>::forward(const ParameterSet<T>& params, const arma::Mat<T>& x,
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
void ElmanCell<T>::forward_projected(const ParameterSet<T>& params, const arma::Mat<T>& projected,
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
void ElmanCell<T>::forward_steps(const ParameterSet<T>& params, const RecurrentState<T>& initial,
                                 const arma::Mat<T>* mask, arma::Mat<T>& out) {
  const arma::uword H = hidden_size_, B = streams_, S = steps_, N = B * S;
  const bool delayed = delay() > 0;
  const T* w_hh = params.value_ptr(weight_hh_);
  const T* w_hd = delayed ? params.value_ptr(weight_hd_) : nullptr;
  const T* bias = params.value_ptr(bias_);
  const T* m = mask == nullptr ? nullptr : mask->memptr();
  T* pre = pre_.memptr();
  delay_line_.begin(name(), initial, states_.memptr());
  // Column c = h_{t-1} of window column c; column c + B = h_t.
  T* states = states_.memptr() + delay_line_.lag() * B * H;

  std::copy(initial.h.begin(), initial.h.end(), states);
  for (arma::uword t = 0; t < S; ++t) {
    T* z_t = pre + t * B * H;            // H x B
    const T* h_prev_t = states + t * B * H;
    T* h_t = states + (t + 1) * B * H;
    recurrent_(w_hh, h_prev_t, z_t);     // z_t += W_hh h_{t-1}
    if (delayed) {
      delay_line_.gather(states_.memptr(), t, m);
      recurrent_(w_hd, delay_line_.delayed(t), z_t);
    }
    for (arma::uword b = 0; b < B; ++b)
      for (arma::uword j = 0; j < H; ++j) h_t[b * H + j] = z_t[b * H + j] + bias[j];
    cell_detail::activate_array(activation_, h_t, H * B);
    if (m == nullptr) continue;
    for (arma::uword b = 0; b < B; ++b)
      if (!cell_detail::is_real_step(m, t * B + b))
        std::copy(h_prev_t + b * H, h_prev_t + (b + 1) * H, h_t + b * H);
  }
  out.set_size(H, N);
  std::copy(states + B * H, states + (N + B) * H, out.memptr());
}

template <class T>
void ElmanCell<T>::backward(ParameterSet<T>& params, const arma::Mat<T>& x,
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
void ElmanCell<T>::backward_projected(ParameterSet<T>& params, const arma::Mat<T>* mask,
                                      const arma::Mat<T>& d_out, RecurrentState<T>* d_initial) {
  cell_detail::check_backward_shapes(name(), hidden_size_, hidden_size_, {streams_, steps_}, pre_,
                                     mask, d_out);
  backward_steps(params, mask, d_out, d_initial);
}

template <class T>
void ElmanCell<T>::backward_steps(ParameterSet<T>& params, const arma::Mat<T>* mask,
                                  const arma::Mat<T>& d_out, RecurrentState<T>* d_initial) {
  const T* m = mask == nullptr ? nullptr : mask->memptr();
  const arma::uword H = hidden_size_, B = streams_, S = steps_, N = B * S;
  const arma::uword history = delay_line_.lag() * B;  // columns before h0
  const bool delayed = delay() > 0;
  const T* states = states_.memptr() + history * H;
  const T* dy = d_out.memptr();
  T* d_pre = pre_.memptr();
  // W_hh^T (and W_hd^T) once per window, so each step's product reads its operand in place.
  w_hh_t_ = params.value(weight_hh_).t();
  if (delayed) w_hd_t_ = params.value(weight_hd_).t();
  // dLoss/d every state column, filled in from the later steps that use it: column c + B of
  // `dh` is final when step t (columns c = tB + b) is reached.
  d_states_.zeros();
  T* dh = d_states_.memptr() + history * H;

  for (arma::uword t = S; t-- > 0;) {
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      T* dz = d_pre + col * H;
      if (cell_detail::is_real_step(m, col))
        cell_detail::activation_backward(activation_, H, states + (col + B) * H, dy + col * H,
                                         dh + (col + B) * H, dz);
      else
        std::fill(dz, dz + H, T(0));
    }
    recurrent_transposed_(w_hh_t_.memptr(), d_pre + t * B * H, dh + t * B * H);
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      if (cell_detail::is_real_step(m, col)) continue;
      // A masked step copied h_{t-1} into h_t: its gradient goes back to h_{t-1} whole.
      T* g_prev = dh + col * H;
      const T* g_copy = dh + (col + B) * H;
      for (arma::uword j = 0; j < H; ++j) g_prev[j] += g_copy[j];
    }
    if (delayed) {
      T* d_step = delay_line_.step_scratch();
      delayed_transposed_(w_hd_t_.memptr(), d_pre + t * B * H, d_step);
      delay_line_.scatter(d_step, t, m, d_states_.memptr());
    }
  }

  cell_detail::finish_elman_like_backward(params, weight_hh_, weight_hd_, bias_, d_pre, states, H,
                                          B, N, delay_line_, d_states_, d_initial);
}

template <class T>
void ElmanCell<T>::final_state(RecurrentState<T>& state) const {
  if (streams_ == 0) throw std::logic_error("elman final_state: no forward pass yet");
  state.h = states_.cols(states_.n_cols - streams_, states_.n_cols - 1);
  state.c.reset();
  delay_line_.final_history(states_, state.history);
}

template class ElmanCell<float>;
template class ElmanCell<double>;
static_assert(RecurrentCell<ElmanCell<float>>);
static_assert(RecurrentCell<ElmanCell<double>>);
static_assert(ProjectedInputCell<ElmanCell<float>>);
static_assert(ProjectedInputCell<ElmanCell<double>>);

}  // namespace seqlab::rnn
