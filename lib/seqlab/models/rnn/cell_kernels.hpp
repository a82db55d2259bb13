// seqlab/models/rnn/cell_kernels.hpp: PRIVATE helpers of the cell implementations (not installed):
// a strided GEMM, the scalar nonlinearities, mask and shape checks, and gate-block initialisers.
// Only the cells' .cpp files include this.
#pragma once

#include <algorithm>
#include <armadillo>
#include <cmath>
#include <cstddef>
#include <string>

#include "seqlab/core/rng.hpp"
#include "seqlab/models/rnn/cell.hpp"
#include "seqlab/models/rnn/delay_line.hpp"
#include "seqlab/models/rnn/parameters.hpp"

namespace seqlab::rnn::cell_detail {

inline constexpr std::size_t kUnregistered = static_cast<std::size_t>(-1);

// C (m x n, leading dimension ldc) = alpha * op(A) * op(B) + beta * C, column-major, op = optional
// transpose; the leading dimensions let a GEMM run on a row block of a gate-stacked matrix (e.g.
// the n rows of a GRU's 3H x H recurrent weights) without copying it. Empty products are handled
// (k = 0 scales C by beta). Never allocates. Defined for float and double.
template <class T>
void gemm(bool transpose_a, bool transpose_b, arma::uword m, arma::uword n, arma::uword k, T alpha,
          const T* a, arma::uword lda, const T* b, arma::uword ldb, T beta, T* c, arma::uword ldc);

// Numerically safe logistic function: never evaluates exp of a large positive number.
template <class T>
inline T sigmoid(T x) {
  if (x >= T(0)) return T(1) / (T(1) + std::exp(-x));
  const T e = std::exp(x);
  return e / (T(1) + e);
}

// log(1 + exp(x)) without overflow.
template <class T>
inline T softplus(T x) {
  return std::max(x, T(0)) + std::log1p(std::exp(-std::abs(x)));
}

template <class T>
inline T activate(Activation f, T x) {
  return f == Activation::tanh ? std::tanh(x) : std::max(x, T(0));
}

// Derivative of the activation written in terms of its OUTPUT y = f(x) (so forward need not
// keep x): tanh' = 1 - y^2, relu' = [y > 0] (0 at the kink).
template <class T>
inline T activation_slope(Activation f, T y) {
  return f == Activation::tanh ? T(1) - y * y : (y > T(0) ? T(1) : T(0));
}

// x[i] = f(x[i]) for i < n: tanh through the array functions of vector_math.hpp.
template <class T>
void activate_array(Activation f, T* x, std::size_t n);

// dz[j] = (g_out[j] + g_later[j]) * f'(h[j]) for j < H, f' from the output h = f(z) (see
// activation_slope). The arrays must not overlap (the loop is vectorised on that promise).
template <class T>
inline void activation_backward(Activation f, arma::uword H, const T* __restrict h,
                                const T* __restrict g_out, const T* __restrict g_later,
                                T* __restrict dz) {
  if (f == Activation::tanh) {
    for (arma::uword j = 0; j < H; ++j) dz[j] = (g_out[j] + g_later[j]) * (T(1) - h[j] * h[j]);
  } else {
    for (arma::uword j = 0; j < H; ++j)
      dz[j] = (g_out[j] + g_later[j]) * (h[j] > T(0) ? T(1) : T(0));
  }
}

template <class T>
inline bool is_real_step(const T* mask, arma::uword column) {
  return mask == nullptr || mask[column] != T(0);
}

// out[i] += sum_j A(i, j) over an m x n block with leading dimension lda.
template <class T>
inline void add_row_sums(const T* a, arma::uword m, arma::uword n, arma::uword lda, T* out) {
  for (arma::uword j = 0; j < n; ++j) {
    const T* column = a + j * lda;
    for (arma::uword i = 0; i < m; ++i) out[i] += column[i];
  }
}

// The end of the backward pass of an Elman-like cell (Elman, leaky), after its time loop:
// dW_hh += dZ H_prev^T, with a delay dW_hd += dZ H_delayed^T, db += the row sums of dZ, and,
// when d_initial is given, the gradient of the initial state (h0 and the delay history) taken
// from d_states (H x (lag + S + 1) B, history columns first). d_pre = dZ (H x N, N = B S),
// states = h_{t-1} for every column (H x N). Cost O(H^2 N).
template <class T>
void finish_elman_like_backward(ParameterSet<T>& params, std::size_t weight_hh,
                                std::size_t weight_hd, std::size_t bias, const T* d_pre,
                                const T* states, arma::uword H, arma::uword B, arma::uword N,
                                const DelayLine<T>& delay_line, const arma::Mat<T>& d_states,
                                RecurrentState<T>* d_initial) {
  const bool delayed = delay_line.delay() > 0;
  gemm<T>(false, true, H, H, N, T(1), d_pre, H, states, H, T(1), params.gradient_ptr(weight_hh),
          H);
  if (delayed)
    gemm<T>(false, true, H, H, N, T(1), d_pre, H, delay_line.delayed(), H, T(1),
            params.gradient_ptr(weight_hd), H);
  add_row_sums(d_pre, H, N, H, params.gradient_ptr(bias));
  if (d_initial == nullptr) return;
  const arma::uword history = delay_line.lag() * B;
  const T* dh0 = d_states.memptr() + history * H;
  d_initial->h.set_size(H, B);
  std::copy(dh0, dh0 + H * B, d_initial->h.memptr());
  d_initial->c.reset();
  if (delayed)
    d_initial->history = d_states.cols(0, history - 1);
  else
    d_initial->history.reset();
}

// Window shape checks shared by forward/backward: std::invalid_argument naming `cell` and the
// offending argument (programming errors: the model layer builds these shapes).
struct WindowShape {
  arma::uword streams = 0;  // B
  arma::uword steps = 0;    // S
};
template <class T>
WindowShape check_forward_shapes(const std::string& cell, arma::uword input_size,
                                 arma::uword hidden_size, bool has_cell_state,
                                 const arma::Mat<T>& x, const RecurrentState<T>& s0,
                                 const arma::Mat<T>* mask);
template <class T>
const T* check_backward_shapes(const std::string& cell, arma::uword input_size,
                               arma::uword hidden_size, WindowShape prepared,
                               const arma::Mat<T>& x, const arma::Mat<T>* mask,
                               const arma::Mat<T>& d_out);
void require_registered(const std::string& cell, std::size_t index);

// Fills a gate-stacked (G H) x cols matrix block by block (init.hpp's draws): gate block g (rows
// gH..gH+H-1) gets an independent Haar-orthogonal H x H matrix (recurrent weights, cols == H) or
// Glorot/Xavier-uniform H x cols with fan_in = cols, fan_out = H (input weights), so every gate
// starts as well-conditioned as a single-gate cell would.
template <class T>
void fill_orthogonal_blocks(arma::Mat<T>&& w, arma::uword gates, Rng& rng);
template <class T>
void fill_glorot_blocks(arma::Mat<T>&& w, arma::uword gates, Rng& rng);

}  // namespace seqlab::rnn::cell_detail
