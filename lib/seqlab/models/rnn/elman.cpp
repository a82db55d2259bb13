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
ElmanCell<T>::ElmanCell(arma::uword input_size, arma::uword hidden_size, Activation activation)
    : input_size_(input_size),
      hidden_size_(hidden_size),
      activation_(activation),
      weight_ih_(cell_detail::kUnregistered),
      weight_hh_(cell_detail::kUnregistered),
      bias_(cell_detail::kUnregistered) {
  if (input_size == 0 || hidden_size == 0)
    user_error("elman cell: input and hidden sizes must be >= 1 (got " +
               std::to_string(input_size) + " and " + std::to_string(hidden_size) + ")");
}

template <class T>
void ElmanCell<T>::register_parameters(ParameterSet<T>& params, const std::string& prefix) {
  weight_ih_ = params.add(prefix + "weight_ih", hidden_size_, input_size_);
  weight_hh_ = params.add(prefix + "weight_hh", hidden_size_, hidden_size_);
  bias_ = params.add(prefix + "bias", hidden_size_, 1);
}

template <class T>
void ElmanCell<T>::init(ParameterSet<T>& params, Rng& rng) const {
  cell_detail::require_registered(name(), bias_);
  cell_detail::fill_glorot_blocks(params.value(weight_ih_), 1, rng);
  cell_detail::fill_orthogonal_blocks(params.value(weight_hh_), 1, rng);
  params.value(bias_).zeros();
}

template <class T>
void ElmanCell<T>::prepare(arma::uword streams, arma::uword steps) {
  if (streams == streams_ && steps == steps_) return;
  const arma::uword n = streams * steps;
  states_.set_size(hidden_size_, n + streams);
  pre_.set_size(hidden_size_, n);
  carry_.set_size(hidden_size_, streams);
  next_.set_size(hidden_size_, streams);
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
  const arma::uword H = hidden_size_, D = input_size_, B = streams_, S = steps_, N = B * S;
  const T* w_ih = params.value_ptr(weight_ih_);
  const T* w_hh = params.value_ptr(weight_hh_);
  const T* bias = params.value_ptr(bias_);
  const T* m = mask == nullptr ? nullptr : mask->memptr();
  T* pre = pre_.memptr();
  T* states = states_.memptr();  // column c = h_{t-1} of window column c; column c + B = h_t

  std::copy(initial.h.begin(), initial.h.end(), states);
  gemm<T>(false, false, H, N, D, T(1), w_ih, H, x.memptr(), D, T(0), pre, H);
  for (arma::uword t = 0; t < S; ++t) {
    gemm<T>(false, false, H, B, H, T(1), w_hh, H, states + t * B * H, H, T(1), pre + t * B * H, H);
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      const T* h_prev = states + col * H;
      T* h = states + (col + B) * H;
      if (cell_detail::is_real_step(m, col)) {
        const T* z = pre + col * H;
        for (arma::uword j = 0; j < H; ++j)
          h[j] = cell_detail::activate(activation_, z[j] + bias[j]);
      } else {
        std::copy(h_prev, h_prev + H, h);
      }
    }
  }
  out.set_size(H, N);
  std::copy(states + B * H, states + (N + B) * H, out.memptr());
}

template <class T>
void ElmanCell<T>::backward(ParameterSet<T>& params, const arma::Mat<T>& x,
                            const arma::Mat<T>* mask, const arma::Mat<T>& d_out,
                            arma::Mat<T>* d_x, RecurrentState<T>* d_initial) {
  const T* m = cell_detail::check_backward_shapes(name(), input_size_, hidden_size_,
                                                  {streams_, steps_}, x, mask, d_out);
  const arma::uword H = hidden_size_, D = input_size_, B = streams_, S = steps_, N = B * S;
  const T* w_ih = params.value_ptr(weight_ih_);
  const T* w_hh = params.value_ptr(weight_hh_);
  const T* states = states_.memptr();
  const T* dy = d_out.memptr();
  T* d_pre = pre_.memptr();
  T* carry = carry_.memptr();  // dLoss/dh_t arriving from step t+1
  T* next = next_.memptr();    // dLoss/dh_{t-1} being assembled
  std::fill(carry, carry + H * B, T(0));

  for (arma::uword t = S; t-- > 0;) {
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      T* dz = d_pre + col * H;
      if (cell_detail::is_real_step(m, col)) {
        const T* h = states + (col + B) * H;
        const T* g_out = dy + col * H;
        const T* g_carry = carry + b * H;
        for (arma::uword j = 0; j < H; ++j)
          dz[j] = (g_out[j] + g_carry[j]) * cell_detail::activation_slope(activation_, h[j]);
      } else {
        std::fill(dz, dz + H, T(0));
      }
    }
    gemm<T>(true, false, H, B, H, T(1), w_hh, H, d_pre + t * B * H, H, T(0), next, H);
    for (arma::uword b = 0; b < B; ++b)
      if (!cell_detail::is_real_step(m, t * B + b))
        std::copy(carry + b * H, carry + (b + 1) * H, next + b * H);
    std::swap(carry, next);
  }

  gemm<T>(false, true, H, D, N, T(1), d_pre, H, x.memptr(), D, T(1),
          params.gradient_ptr(weight_ih_), H);
  gemm<T>(false, true, H, H, N, T(1), d_pre, H, states, H, T(1), params.gradient_ptr(weight_hh_),
          H);
  cell_detail::add_row_sums(d_pre, H, N, H, params.gradient_ptr(bias_));
  if (d_x != nullptr) {
    d_x->set_size(D, N);
    gemm<T>(true, false, D, N, H, T(1), w_ih, H, d_pre, H, T(0), d_x->memptr(), D);
  }
  if (d_initial != nullptr) {
    d_initial->h.set_size(H, B);
    std::copy(carry, carry + H * B, d_initial->h.memptr());
    d_initial->c.reset();
  }
}

template <class T>
void ElmanCell<T>::final_state(RecurrentState<T>& state) const {
  if (streams_ == 0) throw std::logic_error("elman final_state: no forward pass yet");
  state.h = states_.cols(states_.n_cols - streams_, states_.n_cols - 1);
  state.c.reset();
}

template class ElmanCell<float>;
template class ElmanCell<double>;
static_assert(RecurrentCell<ElmanCell<float>>);
static_assert(RecurrentCell<ElmanCell<double>>);

}  // namespace seqlab::rnn
