// seqlab/models/rnn/elman.hpp: the Elman (vanilla) recurrent cell,
//   h_t = f(W_ih x_t + W_hh h_{t-1} + b),   f = tanh or relu,
// optionally with a time-delay (skip) connection of D >= 2 steps,
//   h_t = f(W_ih x_t + W_hh h_{t-1} + W_hd h_{t-D} + b),
// run over one time-major window (shape letters, the interface and what a delay line does at
// masked steps and window starts: cell.hpp).
//
// Parameter blocks (registered as prefix + name, in this order):
//   weight_ih  H x D    Glorot-uniform at init
//   weight_hh  H x H    orthogonal at init
//   bias       H x 1    0 at init
//   weight_hd  H x H    only with a delay; 0 at init (see init() in elman.cpp for why)
// PyTorch's nn.RNN keeps two biases (bias_ih, bias_hh) that only ever appear as their sum: import
// sets bias = bias_ih + bias_hh; export writes bias as bias_ih and zeros as bias_hh. nn.RNN has
// no delay connection.
#pragma once

#include <armadillo>
#include <cstddef>
#include <string>

#include "seqlab/core/step_gemm.hpp"
#include "seqlab/models/rnn/cell.hpp"
#include "seqlab/models/rnn/delay_line.hpp"

namespace seqlab::rnn {

template <class T>
class ElmanCell {
public:
  using value_type = T;
  static constexpr bool has_cell_state = false;

  // Requires input_size >= 1, hidden_size >= 1, delay 0 (none) or >= 2 (else UserError).
  ElmanCell(arma::uword input_size, arma::uword hidden_size,
            Activation activation = Activation::tanh, arma::uword delay = 0);

  std::string name() const { return "elman"; }
  arma::uword input_size() const { return input_size_; }
  arma::uword hidden_size() const { return hidden_size_; }
  Activation activation() const { return activation_; }
  // D, or 0 without a delay connection.
  arma::uword delay() const { return delay_line_.delay(); }

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
  arma::uword projected_rows() const { return hidden_size_; }
  void forward_projected(const ParameterSet<T>& params, const arma::Mat<T>& projected,
                         const RecurrentState<T>& initial, const arma::Mat<T>* mask,
                         arma::Mat<T>& out);
  void backward_projected(ParameterSet<T>& params, const arma::Mat<T>* mask,
                          const arma::Mat<T>& d_out, RecurrentState<T>* d_initial);
  const arma::Mat<T>& projected_gradient() const { return pre_; }

private:
  // forward/backward once the input projection sits in pre_ / up to the W_ih terms.
  void forward_steps(const ParameterSet<T>& params, const RecurrentState<T>& initial,
                     const arma::Mat<T>* mask, arma::Mat<T>& out);
  void backward_steps(ParameterSet<T>& params, const arma::Mat<T>* mask,
                      const arma::Mat<T>& d_out, RecurrentState<T>* d_initial);

  arma::uword input_size_, hidden_size_;
  Activation activation_;
  std::size_t weight_ih_, weight_hh_, bias_, weight_hd_;
  arma::uword streams_ = 0, steps_ = 0;
  // H x (lag+S+1)B, lag = D - 1 (0 without a delay): column blocks 0..lag-1 = the carried
  // history, block lag = h0, block lag+t+1 = h_t.
  arma::Mat<T> states_;
  arma::Mat<T> d_states_;     // the same shape: dLoss/d each state column in backward
  arma::Mat<T> pre_;          // H x N: forward pre-activations, reused for dLoss/d pre in backward
  DelayLine<T> delay_line_;   // h_{t-D} of every real step (empty without a delay)
  arma::Mat<T> w_hh_t_, w_hd_t_;  // H x H: the recurrent blocks transposed, for backward
  // Per-step products: z_t += W h (forward, W_hh and W_hd); dh += W_hh^T dz; W_hd^T dz.
  StepGemm<T> recurrent_, recurrent_transposed_, delayed_transposed_;
};

}  // namespace seqlab::rnn
