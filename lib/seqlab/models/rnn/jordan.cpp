// seqlab/models/rnn/jordan.cpp: forward/backward of the Jordan cell over one window.
#include "seqlab/models/rnn/jordan.hpp"

#include <algorithm>
#include <stdexcept>
#include <utility>

#include "seqlab/core/error.hpp"
#include "seqlab/models/rnn/cell_kernels.hpp"

namespace seqlab::rnn {

using cell_detail::gemm;

template <class T>
JordanCell<T>::JordanCell(arma::uword input_size, arma::uword hidden_size, Activation activation)
    : input_size_(input_size),
      hidden_size_(hidden_size),
      activation_(activation),
      weight_ih_(cell_detail::kUnregistered),
      weight_hh_(cell_detail::kUnregistered),
      bias_ih_(cell_detail::kUnregistered),
      bias_hh_(cell_detail::kUnregistered),
      weight_hy_(cell_detail::kUnregistered),
      bias_hy_(cell_detail::kUnregistered) {
  if (input_size == 0 || hidden_size == 0)
    user_error("jordan cell: input and hidden sizes must be >= 1 (got " +
               std::to_string(input_size) + " and " + std::to_string(hidden_size) + ")");
}

template <class T>
void JordanCell<T>::register_parameters(ParameterSet<T>& params, const std::string& prefix) {
  weight_ih_ = params.add(prefix + "weight_ih", hidden_size_, input_size_);
  weight_hh_ = params.add(prefix + "weight_hh", hidden_size_, hidden_size_);
  bias_ih_ = params.add(prefix + "bias_ih", hidden_size_, 1);
  bias_hh_ = params.add(prefix + "bias_hh", hidden_size_, 1);
  weight_hy_ = params.add(prefix + "weight_hy", hidden_size_, hidden_size_);
  bias_hy_ = params.add(prefix + "bias_hy", hidden_size_, 1);
}

template <class T>
void JordanCell<T>::init(ParameterSet<T>& params, Rng& rng) const {
  cell_detail::require_registered(name(), bias_hy_);
  cell_detail::fill_glorot_blocks(params.value(weight_ih_), 1, rng);
  cell_detail::fill_orthogonal_blocks(params.value(weight_hh_), 1, rng);
  params.value(bias_ih_).zeros();
  params.value(bias_hh_).zeros();
  cell_detail::fill_glorot_blocks(params.value(weight_hy_), 1, rng);
  params.value(bias_hy_).zeros();
}

template <class T>
void JordanCell<T>::prepare(arma::uword streams, arma::uword steps) {
  if (streams == streams_ && steps == steps_) return;
  const arma::uword n = streams * steps;
  outputs_.set_size(hidden_size_, n + streams);
  hidden_.set_size(hidden_size_, n);
  pre_.set_size(hidden_size_, n);
  d_output_pre_.set_size(hidden_size_, n);
  carry_.set_size(hidden_size_, streams);
  next_.set_size(hidden_size_, streams);
  streams_ = streams;
  steps_ = steps;
}

template <class T>
void JordanCell<T>::forward(const ParameterSet<T>& params, const arma::Mat<T>& x,
                            const RecurrentState<T>& initial, const arma::Mat<T>* mask,
                            arma::Mat<T>& out) {
  cell_detail::require_registered(name(), bias_hy_);
  const auto shape = cell_detail::check_forward_shapes(name(), input_size_, hidden_size_, false,
                                                       x, initial, mask);
  if (!initial.history.is_empty())
    throw std::invalid_argument("jordan forward: the cell has no delay line, but the initial "
                                "state has a history");
  prepare(shape.streams, shape.steps);
  const arma::uword H = hidden_size_, D = input_size_, B = streams_, S = steps_, N = B * S;
  const T* w_ih = params.value_ptr(weight_ih_);
  const T* w_hh = params.value_ptr(weight_hh_);
  const T* w_hy = params.value_ptr(weight_hy_);
  const T* b_ih = params.value_ptr(bias_ih_);
  const T* b_hh = params.value_ptr(bias_hh_);
  const T* b_hy = params.value_ptr(bias_hy_);
  const T* m = mask == nullptr ? nullptr : mask->memptr();
  T* pre = pre_.memptr();
  T* hidden = hidden_.memptr();
  T* outputs = outputs_.memptr();  // column c = y_{t-1} of window column c; column c + B = y_t

  std::copy(initial.h.begin(), initial.h.end(), outputs);
  gemm<T>(false, false, H, N, D, T(1), w_ih, H, x.memptr(), D, T(0), pre, H);
  for (arma::uword t = 0; t < S; ++t) {
    const arma::uword step = t * B * H;  // offset of the step's first column
    gemm<T>(false, false, H, B, H, T(1), w_hh, H, outputs + step, H, T(1), pre + step, H);
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      T* h = hidden + col * H;
      if (cell_detail::is_real_step(m, col)) {
        const T* z = pre + col * H;
        for (arma::uword j = 0; j < H; ++j)
          h[j] = cell_detail::activate(activation_, z[j] + b_ih[j] + b_hh[j]);
      } else {
        // Finite zeros: the step's output GEMM below reads every column.
        std::fill(h, h + H, T(0));
      }
    }
    // y_t's pre-activation lands where y_t goes and is squashed in place.
    gemm<T>(false, false, H, B, H, T(1), w_hy, H, hidden + step, H, T(0), outputs + step + B * H,
            H);
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      const T* y_prev = outputs + col * H;
      T* y = outputs + (col + B) * H;
      if (cell_detail::is_real_step(m, col)) {
        for (arma::uword j = 0; j < H; ++j) y[j] = std::tanh(y[j] + b_hy[j]);
      } else {
        std::copy(y_prev, y_prev + H, y);
      }
    }
  }
  out.set_size(H, N);
  std::copy(outputs + B * H, outputs + (N + B) * H, out.memptr());
}

template <class T>
void JordanCell<T>::backward(ParameterSet<T>& params, const arma::Mat<T>& x,
                             const arma::Mat<T>* mask, const arma::Mat<T>& d_out,
                             arma::Mat<T>* d_x, RecurrentState<T>* d_initial) {
  const T* m = cell_detail::check_backward_shapes(name(), input_size_, hidden_size_,
                                                  {streams_, steps_}, x, mask, d_out);
  const arma::uword H = hidden_size_, D = input_size_, B = streams_, S = steps_, N = B * S;
  const T* w_ih = params.value_ptr(weight_ih_);
  const T* w_hh = params.value_ptr(weight_hh_);
  const T* w_hy = params.value_ptr(weight_hy_);
  const T* outputs = outputs_.memptr();
  const T* hidden = hidden_.memptr();
  const T* dy = d_out.memptr();
  T* d_pre = pre_.memptr();             // dLoss/dh_t, then dLoss/d its pre-activation
  T* d_vpre = d_output_pre_.memptr();   // dLoss/d (W_hy h_t + b_hy)
  T* carry = carry_.memptr();  // dLoss/dy_t arriving from step t+1
  T* next = next_.memptr();    // dLoss/dy_{t-1} being assembled
  std::fill(carry, carry + H * B, T(0));

  for (arma::uword t = S; t-- > 0;) {
    const arma::uword step = t * B * H;
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      T* dv = d_vpre + col * H;
      if (cell_detail::is_real_step(m, col)) {
        const T* y = outputs + (col + B) * H;
        const T* g_out = dy + col * H;
        const T* g_carry = carry + b * H;
        for (arma::uword j = 0; j < H; ++j)
          dv[j] = (g_out[j] + g_carry[j]) * cell_detail::activation_slope(Activation::tanh, y[j]);
      } else {
        std::fill(dv, dv + H, T(0));
      }
    }
    gemm<T>(true, false, H, B, H, T(1), w_hy, H, d_vpre + step, H, T(0), d_pre + step, H);
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      T* dz = d_pre + col * H;
      if (cell_detail::is_real_step(m, col)) {
        const T* h = hidden + col * H;
        for (arma::uword j = 0; j < H; ++j)
          dz[j] *= cell_detail::activation_slope(activation_, h[j]);
      } else {
        std::fill(dz, dz + H, T(0));
      }
    }
    gemm<T>(true, false, H, B, H, T(1), w_hh, H, d_pre + step, H, T(0), next, H);
    for (arma::uword b = 0; b < B; ++b)
      if (!cell_detail::is_real_step(m, t * B + b))
        std::copy(carry + b * H, carry + (b + 1) * H, next + b * H);
    std::swap(carry, next);
  }

  gemm<T>(false, true, H, D, N, T(1), d_pre, H, x.memptr(), D, T(1),
          params.gradient_ptr(weight_ih_), H);
  gemm<T>(false, true, H, H, N, T(1), d_pre, H, outputs, H, T(1),
          params.gradient_ptr(weight_hh_), H);
  cell_detail::add_row_sums(d_pre, H, N, H, params.gradient_ptr(bias_ih_));
  cell_detail::add_row_sums(d_pre, H, N, H, params.gradient_ptr(bias_hh_));
  gemm<T>(false, true, H, H, N, T(1), d_vpre, H, hidden, H, T(1),
          params.gradient_ptr(weight_hy_), H);
  cell_detail::add_row_sums(d_vpre, H, N, H, params.gradient_ptr(bias_hy_));
  if (d_x != nullptr) {
    d_x->set_size(D, N);
    gemm<T>(true, false, D, N, H, T(1), w_ih, H, d_pre, H, T(0), d_x->memptr(), D);
  }
  if (d_initial != nullptr) {
    d_initial->h.set_size(H, B);
    std::copy(carry, carry + H * B, d_initial->h.memptr());
    d_initial->c.reset();
    d_initial->history.reset();
  }
}

template <class T>
void JordanCell<T>::final_state(RecurrentState<T>& state) const {
  if (streams_ == 0) throw std::logic_error("jordan final_state: no forward pass yet");
  state.h = outputs_.cols(outputs_.n_cols - streams_, outputs_.n_cols - 1);
  state.c.reset();
  state.history.reset();
}

template class JordanCell<float>;
template class JordanCell<double>;
static_assert(RecurrentCell<JordanCell<float>>);
static_assert(RecurrentCell<JordanCell<double>>);

}  // namespace seqlab::rnn
