// seqlab/models/rnn/gru.cpp: forward/backward of the GRU cell (cho and pytorch variants) over one
// window.
#include "seqlab/models/rnn/gru.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <utility>

#include "seqlab/core/error.hpp"
#include "seqlab/models/rnn/cell_kernels.hpp"
#include "seqlab/core/vector_math.hpp"

namespace seqlab::rnn {

using cell_detail::gemm;
using cell_detail::sigmoid;

namespace {

// The element-wise pieces of the cho backward step, one stream's column each, in functions of
// their own so that the compiler sees the arrays do not alias and vectorises the loops.
// g = dLoss/dh_t (output plus carried); dz_update, dz_candidate = the z and n pre-activation
// gradients.
template <class T>
inline void update_and_candidate_gradients(arma::uword H, const T* __restrict gz,
                                           const T* __restrict gn, const T* __restrict h_prev,
                                           const T* __restrict g_out, const T* __restrict g_carry,
                                           T* __restrict g, T* __restrict dz_update,
                                           T* __restrict dz_candidate) {
  for (arma::uword j = 0; j < H; ++j) {
    g[j] = g_out[j] + g_carry[j];
    dz_candidate[j] = g[j] * (T(1) - gz[j]) * (T(1) - gn[j] * gn[j]);
    dz_update[j] = g[j] * (h_prev[j] - gn[j]) * gz[j] * (T(1) - gz[j]);
  }
}

// dz_reset from dLoss/d(r o h) (dri).
template <class T>
inline void reset_gradient(arma::uword H, const T* __restrict gr, const T* __restrict h_prev,
                           const T* __restrict dri, T* __restrict dz_reset) {
  for (arma::uword j = 0; j < H; ++j) dz_reset[j] = dri[j] * h_prev[j] * gr[j] * (T(1) - gr[j]);
}

// n (already W_hh^T [dr; dz]) += the direct paths of h_{t-1}: through z and through r o h.
template <class T>
inline void state_gradient(arma::uword H, const T* __restrict gr, const T* __restrict gz,
                           const T* __restrict g, const T* __restrict dri, T* __restrict n) {
  for (arma::uword j = 0; j < H; ++j) n[j] += g[j] * gz[j] + dri[j] * gr[j];
}

}  // namespace

GruVariant parse_gru_variant(const std::string& text, const std::string& key) {
  if (text == "cho") return GruVariant::cho;
  if (text == "pytorch") return GruVariant::pytorch;
  user_error(key + ": unknown GRU variant '" + text + "' (expected cho or pytorch)");
}

std::string to_string(GruVariant v) { return v == GruVariant::cho ? "cho" : "pytorch"; }

template <class T>
GruCell<T>::GruCell(arma::uword input_size, arma::uword hidden_size, GruVariant variant)
    : input_size_(input_size),
      hidden_size_(hidden_size),
      variant_(variant),
      weight_ih_(cell_detail::kUnregistered),
      weight_hh_(cell_detail::kUnregistered),
      bias_ih_(cell_detail::kUnregistered),
      bias_hh_(cell_detail::kUnregistered) {
  if (input_size == 0 || hidden_size == 0)
    user_error("gru cell: input and hidden sizes must be >= 1 (got " +
               std::to_string(input_size) + " and " + std::to_string(hidden_size) + ")");
}

template <class T>
void GruCell<T>::register_parameters(ParameterSet<T>& params, const std::string& prefix) {
  weight_ih_ = params.add(prefix + "weight_ih", 3 * hidden_size_, input_size_);
  weight_hh_ = params.add(prefix + "weight_hh", 3 * hidden_size_, hidden_size_);
  bias_ih_ = params.add(prefix + "bias_ih", 3 * hidden_size_, 1);
  bias_hh_ = params.add(prefix + "bias_hh", 3 * hidden_size_, 1);
}

template <class T>
void GruCell<T>::init(ParameterSet<T>& params, Rng& rng) const {
  cell_detail::require_registered(name(), bias_hh_);
  cell_detail::fill_glorot_blocks(params.value(weight_ih_), 3, rng);
  cell_detail::fill_orthogonal_blocks(params.value(weight_hh_), 3, rng);
  params.value(bias_ih_).zeros();
  params.value(bias_hh_).zeros();
}

template <class T>
void GruCell<T>::prepare(arma::uword streams, arma::uword steps) {
  if (streams == streams_ && steps == steps_) return;
  const arma::uword H = hidden_size_, n = streams * steps;
  gates_.set_size(3 * H, n);
  recurrent_.set_size(3 * H, streams);
  reset_in_.set_size(H, n);
  d_input_.set_size(3 * H, n);
  if (variant_ == GruVariant::pytorch)
    d_recurrent_.set_size(3 * H, n);
  else
    d_recurrent_.reset();
  states_.set_size(H, n + streams);
  carry_.set_size(H, streams);
  next_.set_size(H, streams);
  total_.set_size(H, streams);
  d_reset_in_.set_size(H, streams);
  const bool cho = variant_ == GruVariant::cho;
  const arma::uword G = 3 * H;
  recurrent_rz_ = StepGemm<T>(cho ? 2 * H : G, streams, H, G, H, G, false);
  recurrent_n_ = cho ? StepGemm<T>(H, streams, H, G, H, G, false) : StepGemm<T>();
  back_rz_ = StepGemm<T>(H, streams, cho ? 2 * H : G, H, G, H, false);
  back_n_ = cho ? StepGemm<T>(H, streams, H, H, G, H, false) : StepGemm<T>();
  streams_ = streams;
  steps_ = steps;
}

template <class T>
void GruCell<T>::forward(const ParameterSet<T>& params, const arma::Mat<T>& x,
                         const RecurrentState<T>& initial, const arma::Mat<T>* mask,
                         arma::Mat<T>& out) {
  cell_detail::require_registered(name(), bias_hh_);
  const auto shape = cell_detail::check_forward_shapes(name(), input_size_, hidden_size_, false,
                                                       x, initial, mask);
  prepare(shape.streams, shape.steps);
  const arma::uword G = 3 * hidden_size_;
  gemm<T>(false, false, G, streams_ * steps_, input_size_, T(1), params.value_ptr(weight_ih_), G,
          x.memptr(), input_size_, T(0), gates_.memptr(), G);
  forward_steps(params, initial, mask, out);
}

template <class T>
void GruCell<T>::forward_projected(const ParameterSet<T>& params, const arma::Mat<T>& projected,
                                   const RecurrentState<T>& initial, const arma::Mat<T>* mask,
                                   arma::Mat<T>& out) {
  cell_detail::require_registered(name(), bias_hh_);
  const auto shape = cell_detail::check_forward_shapes(name(), 3 * hidden_size_, hidden_size_,
                                                       false, projected, initial, mask);
  prepare(shape.streams, shape.steps);
  std::copy(projected.begin(), projected.end(), gates_.begin());
  forward_steps(params, initial, mask, out);
}

template <class T>
void GruCell<T>::forward_steps(const ParameterSet<T>& params, const RecurrentState<T>& initial,
                               const arma::Mat<T>* mask, arma::Mat<T>& out) {
  const arma::uword H = hidden_size_, G = 3 * H, B = streams_, S = steps_;
  const arma::uword N = B * S;
  const T* w_hh = params.value_ptr(weight_hh_);
  const T* b_ih = params.value_ptr(bias_ih_);
  const T* b_hh = params.value_ptr(bias_hh_);
  const T* m = mask == nullptr ? nullptr : mask->memptr();
  T* gates = gates_.memptr();
  T* rec = recurrent_.memptr();
  T* reset_in = reset_in_.memptr();
  T* states = states_.memptr();  // column c = h_{t-1} of window column c; column c + B = h_t
  const bool cho = variant_ == GruVariant::cho;

  std::copy(initial.h.begin(), initial.h.end(), states);
  for (arma::uword t = 0; t < S; ++t) {
    const T* h_prev_block = states + t * B * H;
    // cho needs only the r and z rows now; the n rows wait for r o h.
    recurrent_rz_(w_hh, h_prev_block, rec);
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      if (!cell_detail::is_real_step(m, col)) {
        std::fill(reset_in + col * H, reset_in + (col + 1) * H, T(0));
        continue;
      }
      T* gr = gates + col * G;
      T* gz = gr + H;
      const T* rr = rec + b * G;
      const T* rz = rr + H;
      const T* h_prev = states + col * H;
      T* ri = reset_in + col * H;
      for (arma::uword j = 0; j < H; ++j) {
        gr[j] = gr[j] + b_ih[j] + rr[j] + b_hh[j];
        gz[j] = gz[j] + b_ih[H + j] + rz[j] + b_hh[H + j];
      }
      sigmoid_inplace(gr, 2 * H);  // r and z are adjacent rows
      if (cho)
        for (arma::uword j = 0; j < H; ++j) ri[j] = gr[j] * h_prev[j];
      else
        for (arma::uword j = 0; j < H; ++j) ri[j] = rec[b * G + 2 * H + j] + b_hh[2 * H + j];
    }
    if (cho) recurrent_n_(w_hh + 2 * H, reset_in + t * B * H, rec + 2 * H);
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      const T* h_prev = states + col * H;
      T* h = states + (col + B) * H;
      if (!cell_detail::is_real_step(m, col)) {
        std::copy(h_prev, h_prev + H, h);
        continue;
      }
      const T* gr = gates + col * G;
      const T* gz = gr + H;
      T* gn = gates + col * G + 2 * H;
      const T* ri = reset_in + col * H;
      const T* rn = rec + b * G + 2 * H;
      for (arma::uword j = 0; j < H; ++j) {
        const T in = gn[j] + b_ih[2 * H + j];
        gn[j] = cho ? in + rn[j] + b_hh[2 * H + j] : in + gr[j] * ri[j];
      }
      tanh_inplace(gn, H);
      for (arma::uword j = 0; j < H; ++j) h[j] = (T(1) - gz[j]) * gn[j] + gz[j] * h_prev[j];
    }
  }
  out.set_size(H, N);
  std::copy(states + B * H, states + (N + B) * H, out.memptr());
}

template <class T>
const T* GruCell<T>::backward_steps_cho(const T* w_hh_t, const T* m, const T* dy) {
  const arma::uword H = hidden_size_, G = 3 * H, B = streams_, S = steps_;
  const T* gates = gates_.memptr();
  const T* states = states_.memptr();
  T* d_in = d_input_.memptr();
  T* d_ri = d_reset_in_.memptr();
  T* total = total_.memptr();
  T* carry = carry_.memptr();
  T* next = next_.memptr();
  std::fill(carry, carry + H * B, T(0));

  for (arma::uword t = S; t-- > 0;) {
    // z and n first: dLoss/d(r o h) needs the n pre-activation gradient through W_hn.
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      T* g = total + b * H;
      T* dz = d_in + col * G;
      if (!cell_detail::is_real_step(m, col)) {
        std::copy(carry + b * H, carry + (b + 1) * H, g);
        std::fill(dz, dz + G, T(0));
        continue;
      }
      const T* gz = gates + col * G + H;
      update_and_candidate_gradients(H, gz, gz + H, states + col * H, dy + col * H,
                                     carry + b * H, g, dz + H, dz + 2 * H);
    }
    back_n_(w_hh_t + 2 * H * H, d_in + t * B * G + 2 * H, d_ri);  // W_hn^T dn
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      if (!cell_detail::is_real_step(m, col)) continue;
      reset_gradient(H, gates + col * G, states + col * H, d_ri + b * H, d_in + col * G);
    }
    back_rz_(w_hh_t, d_in + t * B * G, next);  // [W_hr; W_hz]^T [dr; dz]
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      T* n = next + b * H;
      const T* g = total + b * H;
      if (!cell_detail::is_real_step(m, col)) {
        std::copy(g, g + H, n);
        continue;
      }
      const T* gr = gates + col * G;
      state_gradient(H, gr, gr + H, g, d_ri + b * H, n);
    }
    std::swap(carry, next);
  }
  return carry;
}

template <class T>
const T* GruCell<T>::backward_steps_pytorch(const T* w_hh_t, const T* m, const T* dy) {
  const arma::uword H = hidden_size_, G = 3 * H, B = streams_, S = steps_;
  const T* gates = gates_.memptr();
  const T* states = states_.memptr();
  const T* reset_in = reset_in_.memptr();
  T* d_in = d_input_.memptr();
  T* d_rec = d_recurrent_.memptr();
  T* total = total_.memptr();
  T* carry = carry_.memptr();
  T* next = next_.memptr();
  std::fill(carry, carry + H * B, T(0));

  for (arma::uword t = S; t-- > 0;) {
    for (arma::uword b = 0; b < B; ++b) {
      const arma::uword col = t * B + b;
      T* g = total + b * H;
      T* da = d_in + col * G;
      T* dr = d_rec + col * G;
      if (!cell_detail::is_real_step(m, col)) {
        std::copy(carry + b * H, carry + (b + 1) * H, g);
        std::fill(da, da + G, T(0));
        std::fill(dr, dr + G, T(0));
        continue;
      }
      const T* gr = gates + col * G;
      const T* gz = gr + H;
      const T* gn = gr + 2 * H;
      const T* hn = reset_in + col * H;
      const T* h_prev = states + col * H;
      const T* g_out = dy + col * H;
      const T* g_carry = carry + b * H;
      for (arma::uword j = 0; j < H; ++j) {
        g[j] = g_out[j] + g_carry[j];
        const T dn = g[j] * (T(1) - gz[j]) * (T(1) - gn[j] * gn[j]);
        const T d_reset = dn * hn[j] * gr[j] * (T(1) - gr[j]);
        const T d_update = g[j] * (h_prev[j] - gn[j]) * gz[j] * (T(1) - gz[j]);
        da[j] = dr[j] = d_reset;
        da[H + j] = dr[H + j] = d_update;
        da[2 * H + j] = dn;
        dr[2 * H + j] = dn * gr[j];
      }
    }
    back_rz_(w_hh_t, d_rec + t * B * G, next);  // W_hh^T d_rec
    for (arma::uword b = 0; b < B; ++b) {
      T* n = next + b * H;
      const T* g = total + b * H;
      if (!cell_detail::is_real_step(m, t * B + b)) {
        std::copy(g, g + H, n);
        continue;
      }
      const T* gz = gates + (t * B + b) * G + H;
      for (arma::uword j = 0; j < H; ++j) n[j] += g[j] * gz[j];
    }
    std::swap(carry, next);
  }
  return carry;
}

template <class T>
void GruCell<T>::backward(ParameterSet<T>& params, const arma::Mat<T>& x,
                          const arma::Mat<T>* mask, const arma::Mat<T>& d_out,
                          arma::Mat<T>* d_x, RecurrentState<T>* d_initial) {
  cell_detail::check_backward_shapes(name(), input_size_, hidden_size_, {streams_, steps_}, x,
                                     mask, d_out);
  backward_steps(params, mask, d_out, d_initial);
  const arma::uword G = 3 * hidden_size_, D = input_size_, N = streams_ * steps_;
  const T* d_in = d_input_.memptr();
  gemm<T>(false, true, G, D, N, T(1), d_in, G, x.memptr(), D, T(1),
          params.gradient_ptr(weight_ih_), G);
  if (d_x != nullptr) {
    d_x->set_size(D, N);
    gemm<T>(true, false, D, N, G, T(1), params.value_ptr(weight_ih_), G, d_in, G, T(0),
            d_x->memptr(), D);
  }
}

template <class T>
void GruCell<T>::backward_projected(ParameterSet<T>& params, const arma::Mat<T>* mask,
                                    const arma::Mat<T>& d_out, RecurrentState<T>* d_initial) {
  cell_detail::check_backward_shapes(name(), 3 * hidden_size_, hidden_size_, {streams_, steps_},
                                     gates_, mask, d_out);
  backward_steps(params, mask, d_out, d_initial);
}

template <class T>
void GruCell<T>::backward_steps(ParameterSet<T>& params, const arma::Mat<T>* mask,
                                const arma::Mat<T>& d_out, RecurrentState<T>* d_initial) {
  const T* m = mask == nullptr ? nullptr : mask->memptr();
  const arma::uword H = hidden_size_, G = 3 * H, B = streams_, S = steps_;
  const arma::uword N = B * S;
  const T* states = states_.memptr();
  const T* d_in = d_input_.memptr();
  const bool cho = variant_ == GruVariant::cho;
  // W_hh^T once per window, so each step's product reads its operand in place (step_gemm.hpp).
  w_hh_t_ = params.value(weight_hh_).t();
  const T* d_h0 = cho ? backward_steps_cho(w_hh_t_.memptr(), m, d_out.memptr())
                      : backward_steps_pytorch(w_hh_t_.memptr(), m, d_out.memptr());

  T* g_w_hh = params.gradient_ptr(weight_hh_);
  cell_detail::add_row_sums(d_in, G, N, G, params.gradient_ptr(bias_ih_));
  if (cho) {
    // The input and recurrent pre-activations are the same sums, so they share one gradient;
    // the n rows of W_hh multiplied r o h, not h.
    cell_detail::add_row_sums(d_in, G, N, G, params.gradient_ptr(bias_hh_));
    gemm<T>(false, true, 2 * H, H, N, T(1), d_in, G, states, H, T(1), g_w_hh, G);
    gemm<T>(false, true, H, H, N, T(1), d_in + 2 * H, G, reset_in_.memptr(), H, T(1),
            g_w_hh + 2 * H, G);
  } else {
    const T* d_rec = d_recurrent_.memptr();
    cell_detail::add_row_sums(d_rec, G, N, G, params.gradient_ptr(bias_hh_));
    gemm<T>(false, true, G, H, N, T(1), d_rec, G, states, H, T(1), g_w_hh, G);
  }
  if (d_initial != nullptr) {
    d_initial->h.set_size(H, B);
    std::copy(d_h0, d_h0 + H * B, d_initial->h.memptr());
    d_initial->c.reset();
  }
}

template <class T>
void GruCell<T>::final_state(RecurrentState<T>& state) const {
  if (streams_ == 0) throw std::logic_error("gru final_state: no forward pass yet");
  state.h = states_.cols(states_.n_cols - streams_, states_.n_cols - 1);
  state.c.reset();
}

template class GruCell<float>;
template class GruCell<double>;
static_assert(RecurrentCell<GruCell<float>>);
static_assert(RecurrentCell<GruCell<double>>);
static_assert(ProjectedInputCell<GruCell<float>>);
static_assert(ProjectedInputCell<GruCell<double>>);

}  // namespace seqlab::rnn
