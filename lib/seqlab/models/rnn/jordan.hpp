// seqlab/models/rnn/jordan.hpp: the Jordan recurrent cell (Jordan 1986): the previous OUTPUT,
// not the hidden layer, is fed back. Its recurrent state is therefore the output y:
//   h_t = f(W_ih x_t + b_ih + W_hh y_{t-1} + b_hh),   f = tanh or relu,
//   y_t = tanh(W_hy h_t + b_hy),
// with h and y both of size H. y_t is what the cell outputs (to the next layer or the head) and
// what it carries across windows (RecurrentState::h holds y); h_t is internal to a step.
// A masked step carries y unchanged (its h is never formed). Shape letters and the interface:
// cell.hpp.
//
// Parameter blocks (registered as prefix + name, in this order):
//   weight_ih  H x D    W_ih, Glorot-uniform at init
//   weight_hh  H x H    W_yh, the recurrent block (it acts on the carried state y_{t-1}, so it
//                       takes the name every cell gives its recurrent block); orthogonal at init
//   bias_ih    H x 1    b_ih, 0 at init
//   bias_hh    H x 1    b_hh, 0 at init (only b_ih + b_hh matters; both are kept so that the
//                       file layout of the first four blocks is the usual one)
//   weight_hy  H x H    W_hy, the output layer, Glorot-uniform at init
//   bias_hy    H x 1    b_hy, 0 at init
// PyTorch has no Jordan network: the model file uses seqlab's names (rnn/<block>_l<k>) but no
// converter maps it.
#pragma once

#include <armadillo>
#include <cstddef>
#include <string>

#include "seqlab/models/rnn/cell.hpp"

namespace seqlab::rnn {

template <class T>
class JordanCell {
public:
  using value_type = T;
  static constexpr bool has_cell_state = false;

  // Requires input_size >= 1 and hidden_size >= 1 (else UserError). `activation` is f; the
  // output squashing is always tanh (it bounds the fed-back state as an Elman state is bounded).
  JordanCell(arma::uword input_size, arma::uword hidden_size,
             Activation activation = Activation::tanh);

  std::string name() const { return "jordan"; }
  arma::uword input_size() const { return input_size_; }
  arma::uword hidden_size() const { return hidden_size_; }
  Activation activation() const { return activation_; }

  // See the RecurrentCell interface in cell.hpp for the contracts of these six. The state they
  // take and give is y (H x B); history is always empty.
  // Cost of forward: one GEMM for the input projection of the window and two per step (the
  // recurrence and the output layer, which the next step needs); backward about twice that.
  void register_parameters(ParameterSet<T>& params, const std::string& prefix);
  void init(ParameterSet<T>& params, Rng& rng) const;
  void prepare(arma::uword streams, arma::uword steps);
  void forward(const ParameterSet<T>& params, const arma::Mat<T>& x,
               const RecurrentState<T>& initial, const arma::Mat<T>* mask, arma::Mat<T>& out);
  void backward(ParameterSet<T>& params, const arma::Mat<T>& x, const arma::Mat<T>* mask,
                const arma::Mat<T>& d_out, arma::Mat<T>* d_x, RecurrentState<T>* d_initial);
  void final_state(RecurrentState<T>& state) const;

private:
  arma::uword input_size_, hidden_size_;
  Activation activation_;
  std::size_t weight_ih_, weight_hh_, bias_ih_, bias_hh_, weight_hy_, bias_hy_;
  arma::uword streams_ = 0, steps_ = 0;
  arma::Mat<T> outputs_;      // H x (S+1)B: column block 0 = y0, block t+1 = y_t
  arma::Mat<T> hidden_;       // H x N: h_t (0 on masked columns)
  arma::Mat<T> pre_;          // H x N: hidden pre-activations; dLoss/d them in backward
  arma::Mat<T> d_output_pre_; // H x N: dLoss/d (W_hy h_t + b_hy), backward only
  arma::Mat<T> carry_, next_; // H x B: dLoss/dy flowing back across a step
};

}  // namespace seqlab::rnn
