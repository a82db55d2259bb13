// seqlab/models/rnn/lstm.hpp: the LSTM cell (Hochreiter & Schmidhuber 1997, with the forget gate
// of Gers et al. 2000), in PyTorch's formulation and gate order so weights move 1:1 to and from
// torch.nn.LSTM:
//   [i; f; g; o] = W_ih x_t + b_ih + W_hh h_{t-1} + b_hh      (4H rows, blocks in that order)
//   i, f, o = sigmoid(.),  g = tanh(.)
//   c_t = f o c_{t-1} + i o g,    h_t = o o tanh(c_t)
// No peepholes, no projection. Shape letters and the interface: cell.hpp (has_cell_state: the
// state carries c as well as h).
//
// Parameter blocks (registered as prefix + name; PyTorch name for layer k in brackets):
//   weight_ih  4H x D   [weight_ih_lk]  Glorot-uniform per gate block (fan_in D, fan_out H)
//   weight_hh  4H x H   [weight_hh_lk]  orthogonal per gate block
//   bias_ih    4H x 1   [bias_ih_lk]    0, except the forget block (rows H..2H-1) = 1
//   bias_hh    4H x 1   [bias_hh_lk]    0
// Forget-gate bias at init: the whole +1 sits in bias_ih and bias_hh stays 0, so the effective
// forget bias (their sum, the only thing the cell sees) is exactly 1: the cell starts out
// remembering (f ~ 0.73) rather than halving its memory every step.
#pragma once

#include <armadillo>
#include <cstddef>
#include <string>

#include "seqlab/models/rnn/cell.hpp"
#include "seqlab/core/step_gemm.hpp"

namespace seqlab::rnn {

template <class T>
class LstmCell {
public:
  using value_type = T;
  static constexpr bool has_cell_state = true;

  // Requires input_size >= 1 and hidden_size >= 1 (else UserError).
  LstmCell(arma::uword input_size, arma::uword hidden_size);

  std::string name() const { return "lstm"; }
  arma::uword input_size() const { return input_size_; }
  arma::uword hidden_size() const { return hidden_size_; }

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
  arma::uword projected_rows() const { return 4 * hidden_size_; }
  void forward_projected(const ParameterSet<T>& params, const arma::Mat<T>& projected,
                         const RecurrentState<T>& initial, const arma::Mat<T>* mask,
                         arma::Mat<T>& out);
  void backward_projected(ParameterSet<T>& params, const arma::Mat<T>* mask,
                          const arma::Mat<T>& d_out, RecurrentState<T>* d_initial);
  const arma::Mat<T>& projected_gradient() const { return d_gates_; }

private:
  // forward/backward once the input projection sits in gates_ / up to the W_ih terms.
  void forward_steps(const ParameterSet<T>& params, const RecurrentState<T>& initial,
                     const arma::Mat<T>* mask, arma::Mat<T>& out);
  void backward_steps(ParameterSet<T>& params, const arma::Mat<T>* mask,
                      const arma::Mat<T>& d_out, RecurrentState<T>* d_initial);

  arma::uword input_size_, hidden_size_;
  std::size_t weight_ih_, weight_hh_, bias_ih_, bias_hh_;
  arma::uword streams_ = 0, steps_ = 0;
  arma::Col<T> bias_;          // 4H: bias_ih + bias_hh of the last forward
  arma::Mat<T> gates_;         // 4H x N: pre-activations, then the gate values i, f, g, o
  arma::Mat<T> d_gates_;       // 4H x N: dLoss/d pre-activation
  arma::Mat<T> states_;        // H x (S+1)B: column block 0 = h0, block t+1 = h_t
  arma::Mat<T> cells_;         // H x (S+1)B: column block 0 = c0, block t+1 = c_t
  arma::Mat<T> tanh_cells_;    // H x N: tanh(c_t)
  arma::Mat<T> carry_h_, next_h_, carry_c_;  // H x B: dLoss/dh and dLoss/dc across a step
  arma::Mat<T> w_hh_t_;        // H x 4H: weight_hh transposed, for backward's per-step product
  StepGemm<T> recurrent_;             // 4H x B += (4H x H) (H x B)
  StepGemm<T> recurrent_transposed_;  // H x B = (H x 4H) (4H x B)
};

}  // namespace seqlab::rnn
