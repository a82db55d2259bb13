// seqlab/models/rnn/lstm.cpp: forward/backward of the LSTM cell over one window.
#include "seqlab/models/rnn/lstm.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "seqlab/core/error.hpp"
#include "seqlab/models/rnn/cell_kernels.hpp"
#include "seqlab/core/vector_math.hpp"

namespace seqlab::rnn {

using cell_detail::gemm;

namespace {

// One column of the backward step: from dLoss/dh_t (the output gradient plus the carried gh)
// and the carried dLoss/dc_t (gc) to the four gate pre-activation gradients; gc becomes
// dLoss/dc_{t-1}. A function of its own so that the compiler sees the arrays do not alias and
// vectorises the loop (it did not when the loop sat inside backward()).
template <class T>
inline void gate_gradients(arma::uword H, const T* __restrict gi, const T* __restrict gf,
                           const T* __restrict gg, const T* __restrict go,
                           const T* __restrict c_prev, const T* __restrict tc,
                           const T* __restrict g_out, const T* __restrict gh, T* __restrict gc,
                           T* __restrict dzi, T* __restrict dzf, T* __restrict dzg,
                           T* __restrict dzo) {
  for (arma::uword j = 0; j < H; ++j) {
    const T dh = g_out[j] + gh[j];
    const T dc = gc[j] + dh * go[j] * (T(1) - tc[j] * tc[j]);
    dzi[j] = dc * gg[j] * gi[j] * (T(1) - gi[j]);
    dzf[j] = dc * c_prev[j] * gf[j] * (T(1) - gf[j]);
    dzg[j] = dc * gi[j] * (T(1) - gg[j] * gg[j]);
    dzo[j] = dh * tc[j] * go[j] * (T(1) - go[j]);
    gc[j] = dc * gf[j];
  }
}

}  // namespace

template <class T>
LstmCell<T>::LstmCell(arma::uword input_size, arma::uword hidden_size)
    : input_size_(input_size),
      hidden_size_(hidden_size),
      weight_ih_(cell_detail::kUnregistered),
      weight_hh_(cell_detail::kUnregistered),
      bias_ih_(cell_detail::kUnregistered),
      bias_hh_(cell_detail::kUnregistered) {
  if (input_size == 0 || hidden_size == 0)
    user_error("lstm cell: input and hidden sizes must be >= 1 (got " +
               std::to_string(input_size) + " and " + std::to_string(hidden_size) + ")");
}

template <class T>
void LstmCell<T>::register_parameters(ParameterSet<T>& params, const std::string& prefix) {
  weight_ih_ = params.add(prefix + "weight_ih", 4 * hidden_size_, input_size_);
  weight_hh_ = params.add(prefix + "weight_hh", 4 * hidden_size_, hidden_size_);
  bias_ih_ = params.add(prefix + "bias_ih", 4 * hidden_size_, 1);
  bias_hh_ = params.add(prefix + "bias_hh", 4 * hidden_size_, 1);
}

template <class T>
void LstmCell<T>::init(ParameterSet<T>& params, Rng& rng) const {
  cell_detail::require_registered(name(), bias_hh_);
  const arma::uword H = hidden_size_;
  cell_detail::fill_glorot_blocks(params.value(weight_ih_), 4, rng);
  cell_detail::fill_orthogonal_blocks(params.value(weight_hh_), 4, rng);
  arma::Mat<T> b_ih = params.value(bias_ih_);
  b_ih.zeros();
  b_ih.rows(H, 2 * H - 1).fill(T(1));
  params.value(bias_hh_).zeros();
}

template <class T>
void LstmCell<T>::prepare(arma::uword streams, arma::uword steps) {
  if (streams == streams_ && steps == steps_) return;
  const arma::uword H = hidden_size_, n = streams * steps;
  bias_.set_size(4 * H);
  gates_.set_size(4 * H, n);
  d_gates_.set_size(4 * H, n);
  states_.set_size(H, n + streams);
  cells_.set_size(H, n + streams);
  tanh_cells_.set_size(H, n);
  carry_h_.set_size(H, streams);
  next_h_.set_size(H, streams);
  carry_c_.set_size(H, streams);
  recurrent_ = StepGemm<T>(4 * H, streams, H, 4 * H, H, 4 * H, true);
  recurrent_transposed_ = StepGemm<T>(H, streams, 4 * H, H, 4 * H, H, false);
  streams_ = streams;
  steps_ = steps;
}

template <class T>
void LstmCell<T>::forward(const ParameterSet<T>& params, const arma::Mat<T>& x,
                          const RecurrentState<T>& initial, const arma::Mat<T>* mask,
                          arma::Mat<T>& out) {
  cell_detail::require_registered(name(), bias_hh_);
  const auto shape = cell_detail::check_forward_shapes(name(), input_size_, hidden_size_, true,
                                                       x, initial, mask);
  prepare(shape.streams, shape.steps);
  const arma::uword G = 4 * hidden_size_;
  gemm<T>(false, false, G, streams_ * steps_, input_size_, T(1), params.value_ptr(weight_ih_), G,
          x.memptr(), input_size_, T(0), gates_.memptr(), G);
  forward_steps(params, initial, mask, out);
}

template <class T>
void LstmCell<T>::forward_projected(const ParameterSet<T>& params, const arma::Mat<T>& projected,
                                    const RecurrentState<T>& initial, const arma::Mat<T>* mask,
                                    arma::Mat<T>& out) {
  cell_detail::require_registered(name(), bias_hh_);
  const auto shape = cell_detail::check_forward_shapes(name(), 4 * hidden_size_, hidden_size_,
                                                       true, projected, initial, mask);
  prepare(shape.streams, shape.steps);
  std::copy(projected.begin(), projected.end(), gates_.begin());
  forward_steps(params, initial, mask, out);
}

template <class T>
void LstmCell<T>::forward_steps(const ParameterSet<T>& params, const RecurrentState<T>& initial,
                                const arma::Mat<T>* mask, arma::Mat<T>& out) {
  const arma::uword H = hidden_size_, G = 4 * H, B = streams_, S = steps_;
  const arma::uword N = B * S;
  const T* w_hh = params.value_ptr(weight_hh_);
  const T* b_ih = params.value_ptr(bias_ih_);
  const T* b_hh = params.value_ptr(bias_hh_);
  T* bias = bias_.memptr();
  for (arma::uword r = 0; r < G; ++r) bias[r] = b_ih[r] + b_hh[r];
  const T* m = mask == nullptr ? nullptr : mask->memptr();
  T* gates = gates_.memptr();
  T* states = states_.memptr();  // column c = h_{t-1} of window column c; column c + B = h_t
  T* cells = cells_.memptr();    // the same for c
  T* tanh_cells = tanh_cells_.memptr();

  std::copy(initial.h.begin(), initial.h.end(), states);
  std::copy(initial.c.begin(), initial.c.end(), cells);
  for (arma::uword col = 0; col < N; ++col) {
    T* z = gates + col * G;
    for (arma::uword r = 0; r < G; ++r) z[r] += bias[r];
  }
  for (arma::uword t = 0; t < S; ++t) {
    T* z_t = gates + t * B * G;                    // 4H x B pre-activations of step t
    const T* h_prev_t = states + t * B * H;        // H x B
    const T* c_prev_t = cells + t * B * H;
    T* h_t = states + (t + 1) * B * H;
    T* c_t = cells + (t + 1) * B * H;
    T* tc_t = tanh_cells + t * B * H;
    recurrent_(w_hh, h_prev_t, z_t);               // z_t += W_hh h_{t-1}
    for (arma::uword b = 0; b < B; ++b) {
      T* zi = z_t + b * G;
      sigmoid_inplace(zi, 2 * H);                  // i, f
      tanh_inplace(zi + 2 * H, H);                 // g
      sigmoid_inplace(zi + 3 * H, H);              // o
      const T* i = zi;
      const T* f = zi + H;
      const T* g = zi + 2 * H;
      const T* c_prev = c_prev_t + b * H;
      T* c = c_t + b * H;
      for (arma::uword j = 0; j < H; ++j) c[j] = f[j] * c_prev[j] + i[j] * g[j];
    }
    tanh_into(c_t, tc_t, H * B);
    for (arma::uword b = 0; b < B; ++b) {
      const T* o = z_t + b * G + 3 * H;
      const T* tc = tc_t + b * H;
      T* h = h_t + b * H;
      for (arma::uword j = 0; j < H; ++j) h[j] = o[j] * tc[j];
    }
    if (m == nullptr) continue;
    // Padding steps carry the state; their gate columns are never read by backward.
    for (arma::uword b = 0; b < B; ++b) {
      if (cell_detail::is_real_step(m, t * B + b)) continue;
      std::copy(h_prev_t + b * H, h_prev_t + (b + 1) * H, h_t + b * H);
      std::copy(c_prev_t + b * H, c_prev_t + (b + 1) * H, c_t + b * H);
      std::fill(tc_t + b * H, tc_t + (b + 1) * H, T(0));
    }
  }
  out.set_size(H, N);
  std::copy(states + B * H, states + (N + B) * H, out.memptr());
}

template <class T>
void LstmCell<T>::backward(ParameterSet<T>& params, const arma::Mat<T>& x,
                           const arma::Mat<T>* mask, const arma::Mat<T>& d_out,
                           arma::Mat<T>* d_x, RecurrentState<T>* d_initial) {
  cell_detail::check_backward_shapes(name(), input_size_, hidden_size_, {streams_, steps_}, x,
                                     mask, d_out);
  backward_steps(params, mask, d_out, d_initial);
  const arma::uword G = 4 * hidden_size_, D = input_size_, N = streams_ * steps_;
  const T* d_gates = d_gates_.memptr();
  gemm<T>(false, true, G, D, N, T(1), d_gates, G, x.memptr(), D, T(1),
          params.gradient_ptr(weight_ih_), G);
  if (d_x != nullptr) {
    d_x->set_size(D, N);
    gemm<T>(true, false, D, N, G, T(1), params.value_ptr(weight_ih_), G, d_gates, G, T(0),
            d_x->memptr(), D);
  }
}

template <class T>
void LstmCell<T>::backward_projected(ParameterSet<T>& params, const arma::Mat<T>* mask,
                                     const arma::Mat<T>& d_out, RecurrentState<T>* d_initial) {
  cell_detail::check_backward_shapes(name(), 4 * hidden_size_, hidden_size_,
                                     {streams_, steps_}, gates_, mask, d_out);
  backward_steps(params, mask, d_out, d_initial);
}

template <class T>
void LstmCell<T>::backward_steps(ParameterSet<T>& params, const arma::Mat<T>* mask,
                                 const arma::Mat<T>& d_out, RecurrentState<T>* d_initial) {
  const T* m = mask == nullptr ? nullptr : mask->memptr();
  const arma::uword H = hidden_size_, G = 4 * H, B = streams_, S = steps_;
  const arma::uword N = B * S;
  const T* gates = gates_.memptr();
  const T* states = states_.memptr();
  const T* cells = cells_.memptr();
  const T* tanh_cells = tanh_cells_.memptr();
  const T* dy = d_out.memptr();
  T* d_gates = d_gates_.memptr();
  T* carry_h = carry_h_.memptr();  // dLoss/dh_t arriving from step t+1
  T* next_h = next_h_.memptr();    // dLoss/dh_{t-1} being assembled
  T* carry_c = carry_c_.memptr();  // dLoss/dc_t from step t+1, updated in place to dLoss/dc_{t-1}
  std::fill(carry_h, carry_h + H * B, T(0));
  std::fill(carry_c, carry_c + H * B, T(0));
  // W_hh^T once per window, so each step's product reads its operand in place (step_gemm.hpp).
  w_hh_t_ = params.value(weight_hh_).t();
  const T* w_hh_t = w_hh_t_.memptr();

  for (arma::uword t = S; t-- > 0;) {
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      T* dz = d_gates + col * G;
      if (!cell_detail::is_real_step(m, col)) {
        std::fill(dz, dz + G, T(0));
        continue;
      }
      const T* gi = gates + col * G;
      const T* gf = gi + H;
      const T* gg = gi + 2 * H;
      const T* go = gi + 3 * H;
      const T* c_prev = cells + col * H;
      const T* tc = tanh_cells + col * H;
      const T* g_out = dy + col * H;
      gate_gradients(H, gi, gf, gg, go, c_prev, tc, g_out, carry_h + b * H, carry_c + b * H, dz,
                     dz + H, dz + 2 * H, dz + 3 * H);
    }
    recurrent_transposed_(w_hh_t, d_gates + t * B * G, next_h);  // W_hh^T dz_t
    for (arma::uword b = 0; b < B; ++b)
      if (!cell_detail::is_real_step(m, t * B + b))
        std::copy(carry_h + b * H, carry_h + (b + 1) * H, next_h + b * H);
    std::swap(carry_h, next_h);
  }

  gemm<T>(false, true, G, H, N, T(1), d_gates, G, states, H, T(1),
          params.gradient_ptr(weight_hh_), G);
  cell_detail::add_row_sums(d_gates, G, N, G, params.gradient_ptr(bias_ih_));
  cell_detail::add_row_sums(d_gates, G, N, G, params.gradient_ptr(bias_hh_));
  if (d_initial != nullptr) {
    d_initial->h.set_size(H, B);
    std::copy(carry_h, carry_h + H * B, d_initial->h.memptr());
    d_initial->c.set_size(H, B);
    std::copy(carry_c, carry_c + H * B, d_initial->c.memptr());
  }
}

template <class T>
void LstmCell<T>::final_state(RecurrentState<T>& state) const {
  if (streams_ == 0) throw std::logic_error("lstm final_state: no forward pass yet");
  state.h = states_.cols(states_.n_cols - streams_, states_.n_cols - 1);
  state.c = cells_.cols(cells_.n_cols - streams_, cells_.n_cols - 1);
}

template class LstmCell<float>;
template class LstmCell<double>;
static_assert(RecurrentCell<LstmCell<float>>);
static_assert(RecurrentCell<LstmCell<double>>);
static_assert(ProjectedInputCell<LstmCell<float>>);
static_assert(ProjectedInputCell<LstmCell<double>>);

}  // namespace seqlab::rnn
