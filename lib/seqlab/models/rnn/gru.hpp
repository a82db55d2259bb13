// seqlab/models/rnn/gru.hpp: the gated recurrent unit (Cho et al. 2014) in two variants that
// differ only in where the reset gate acts. Gate order (r, z, n) and parameter layout are
// PyTorch's in both, so the blocks of either variant have the same names and shapes:
//   r = sigmoid(W_ir x + b_ir + W_hr h + b_hr)          (reset gate,  rows 0..H-1)
//   z = sigmoid(W_iz x + b_iz + W_hz h + b_hz)          (update gate, rows H..2H-1)
//   CHO (default, the paper's form): reset applied to h BEFORE the recurrent product,
//       n = tanh(W_in x + b_in + W_hn (r o h) + b_hn)
//   PYTORCH (cuDNN and torch.nn.GRU): reset applied to the recurrent product,
//       n = tanh(W_in x + b_in + r o (W_hn h + b_hn))
//   h_t = (1 - z) o n + z o h_{t-1}        (h = h_{t-1} above)
// Only the "pytorch" variant computes what torch.nn.GRU computes: its weights load 1:1 from and
// into a torch model. Weights of the "cho" variant have the same names and shapes but a
// different function; loading torch weights into it gives a different (valid) network.
// The cho variant needs two GEMMs per step (r is needed before the n product); the pytorch
// variant one.
// Shape letters and the interface: cell.hpp.
//
// Parameter blocks (registered as prefix + name; PyTorch name for layer k in brackets):
//   weight_ih  3H x D   [weight_ih_lk]  Glorot-uniform per gate block (fan_in D, fan_out H)
//   weight_hh  3H x H   [weight_hh_lk]  orthogonal per gate block
//   bias_ih    3H x 1   [bias_ih_lk]    0
//   bias_hh    3H x 1   [bias_hh_lk]    0
#pragma once

#include <armadillo>
#include <cstddef>
#include <string>

#include "seqlab/models/rnn/cell.hpp"
#include "seqlab/core/step_gemm.hpp"

namespace seqlab::rnn {

enum class GruVariant { cho, pytorch };

// Requires: "cho" or "pytorch" (else UserError naming `key` and the choices).
GruVariant parse_gru_variant(const std::string& text, const std::string& key);
std::string to_string(GruVariant v);

template <class T>
class GruCell {
public:
  using value_type = T;
  static constexpr bool has_cell_state = false;

  // Requires input_size >= 1 and hidden_size >= 1 (else UserError).
  GruCell(arma::uword input_size, arma::uword hidden_size, GruVariant variant = GruVariant::cho);

  std::string name() const { return "gru"; }
  arma::uword input_size() const { return input_size_; }
  arma::uword hidden_size() const { return hidden_size_; }
  GruVariant variant() const { return variant_; }

  // See the RecurrentCell interface in cell.hpp for the contracts of these six.
  void register_parameters(ParameterSet<T>& params, const std::string& prefix);
  void init(ParameterSet<T>& params, Rng& rng) const;
  void prepare(arma::uword streams, arma::uword steps);
  void forward(const ParameterSet<T>& params, const arma::Mat<T>& x,
               const RecurrentState<T>& initial, const arma::Mat<T>* mask, arma::Mat<T>& out);
  void backward(ParameterSet<T>& params, const arma::Mat<T>& x, const arma::Mat<T>* mask,
                const arma::Mat<T>& d_out, arma::Mat<T>* d_x, RecurrentState<T>* d_initial);
  void final_state(RecurrentState<T>& state) const;

  // Projected input (cell.hpp, PROJECTED INPUT): the same window with W_ih x given.
  std::size_t input_weight() const { return weight_ih_; }
  arma::uword projected_rows() const { return 3 * hidden_size_; }
  void forward_projected(const ParameterSet<T>& params, const arma::Mat<T>& projected,
                         const RecurrentState<T>& initial, const arma::Mat<T>* mask,
                         arma::Mat<T>& out);
  void backward_projected(ParameterSet<T>& params, const arma::Mat<T>* mask,
                          const arma::Mat<T>& d_out, RecurrentState<T>* d_initial);
  const arma::Mat<T>& projected_gradient() const { return d_input_; }

private:
  // The backward time loops: fill d_input_ (and d_recurrent_) and return dLoss/dh0 (H x B, in
  // one of the carry buffers).
  // forward/backward once the input projection sits in gates_ / up to the W_ih terms.
  void forward_steps(const ParameterSet<T>& params, const RecurrentState<T>& initial,
                     const arma::Mat<T>* mask, arma::Mat<T>& out);
  void backward_steps(ParameterSet<T>& params, const arma::Mat<T>* mask,
                      const arma::Mat<T>& d_out, RecurrentState<T>* d_initial);
  // w_hh_t: weight_hh transposed (H x 3H).
  const T* backward_steps_cho(const T* w_hh_t, const T* mask, const T* d_out);
  const T* backward_steps_pytorch(const T* w_hh_t, const T* mask, const T* d_out);

  arma::uword input_size_, hidden_size_;
  GruVariant variant_;
  std::size_t weight_ih_, weight_hh_, bias_ih_, bias_hh_;
  arma::uword streams_ = 0, steps_ = 0;
  arma::Mat<T> gates_;      // 3H x N: input projection W_ih x, then the gate values r, z, n
  arma::Mat<T> recurrent_;  // 3H x B: the recurrent product of the current step
  arma::Mat<T> reset_in_;   // H x N: cho: r o h_{t-1}; pytorch: W_hn h_{t-1} + b_hn
  arma::Mat<T> d_input_;    // 3H x N: dLoss/d(input-side pre-activation), also cho's recurrent one
  arma::Mat<T> d_recurrent_;  // 3H x N (pytorch only): dLoss/d(W_hh h_{t-1})
  arma::Mat<T> states_;     // H x (S+1)B: column block 0 = h0, block t+1 = h_t
  arma::Mat<T> carry_, next_, total_, d_reset_in_;  // H x B workspaces of the backward step
  arma::Mat<T> w_hh_t_;      // H x 3H: weight_hh transposed, for backward's per-step products
  // Per-step products: forward [r; z] rows (all 3H rows for pytorch) and cho's n rows;
  // backward through the [r; z] (pytorch: all) columns of W_hh^T and cho's n columns.
  StepGemm<T> recurrent_rz_, recurrent_n_, back_rz_, back_n_;
};

}  // namespace seqlab::rnn
