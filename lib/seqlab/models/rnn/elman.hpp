// seqlab/models/rnn/elman.hpp: the Elman (vanilla) recurrent cell,
//   h_t = f(W_ih x_t + W_hh h_{t-1} + b),   f = tanh or relu,
// run over one time-major window (shape letters and the interface: cell.hpp).
//
// Parameter blocks (registered as prefix + name):
//   weight_ih  H x D    Glorot-uniform at init
//   weight_hh  H x H    orthogonal at init
//   bias       H x 1    0 at init
// PyTorch's nn.RNN keeps two biases (bias_ih, bias_hh) that only ever appear as their sum: import
// sets bias = bias_ih + bias_hh; export writes bias as bias_ih and zeros as bias_hh.
#pragma once

#include <armadillo>
#include <cstddef>
#include <string>

#include "seqlab/models/rnn/cell.hpp"

namespace seqlab::rnn {

template <class T>
class ElmanCell {
public:
  using value_type = T;
  static constexpr bool has_cell_state = false;

  // Requires input_size >= 1 and hidden_size >= 1 (else UserError).
  ElmanCell(arma::uword input_size, arma::uword hidden_size,
            Activation activation = Activation::tanh);

  std::string name() const { return "elman"; }
  arma::uword input_size() const { return input_size_; }
  arma::uword hidden_size() const { return hidden_size_; }
  Activation activation() const { return activation_; }

  // See the RecurrentCell interface in cell.hpp for the contracts of these six.
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
  std::size_t weight_ih_, weight_hh_, bias_;
  arma::uword streams_ = 0, steps_ = 0;
  arma::Mat<T> states_;       // H x (S+1)B: column block 0 = h0, block t+1 = h_t
  arma::Mat<T> pre_;          // H x N: forward pre-activations, reused for dLoss/d pre in backward
  arma::Mat<T> carry_, next_; // H x B: dLoss/dh flowing back across a step
};

}  // namespace seqlab::rnn
