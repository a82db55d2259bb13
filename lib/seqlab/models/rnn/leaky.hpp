// seqlab/models/rnn/leaky.hpp: the leaky-integrator recurrent cell (continuous-time RNN unit
// discretised with step 1): each unit keeps a fraction of its old state,
//   h_t = (1 - a) o h_{t-1} + a o f(W_ih x_t + W_hh h_{t-1} + b),   a = 1 / tau (per unit),
// so tau (>= 1) is the unit's time constant in steps; tau = 1 is exactly the Elman cell (same
// arithmetic, same bits), larger tau gives slower, smoother units. With a time-delay connection
// of D >= 2 steps the pre-activation also receives the state D steps back:
//   h_t = (1 - a) o h_{t-1} + a o f(W_ih x_t + W_hh h_{t-1} + W_hd h_{t-D} + b).
// Shape letters, the interface and the delay line at masked steps and window starts: cell.hpp.
//
// tau is either FIXED (given per unit, not a parameter) or TRAINED through an unconstrained
// parameter rho with tau = 1 + softplus(rho), which keeps tau > 1 whatever the optimizer does.
//
// Parameter blocks (registered as prefix + name, in this order):
//   weight_ih  H x D    Glorot-uniform at init
//   weight_hh  H x H    orthogonal at init
//   bias       H x 1    0 at init
//   tau_rho    H x 1    only when tau is trained; init: rho = log(expm1(tau0 - 1)), i.e. the
//                       given tau0 exactly
//   weight_hd  H x H    only with a delay; 0 at init (as for the Elman cell, elman.cpp)
// PyTorch has no leaky unit; with tau = 1 the first three blocks map as for the Elman cell.
#pragma once

#include <armadillo>
#include <cstddef>
#include <string>

#include "seqlab/core/step_gemm.hpp"
#include "seqlab/models/rnn/cell.hpp"
#include "seqlab/models/rnn/delay_line.hpp"

namespace seqlab::rnn {

struct LeakyOptions {
  Activation activation = Activation::tanh;
  // H values, or one value used for every unit. Fixed: each >= 1. Trained: each > 1 (the
  // starting point; tau = 1 lies at rho = -infinity).
  arma::vec tau = arma::vec{1.0};
  bool train_tau = false;
  arma::uword delay = 0;  // D of the time-delay connection: 0 = none, else >= 2
};

template <class T>
class LeakyCell {
public:
  using value_type = T;
  static constexpr bool has_cell_state = false;

  // Requires: sizes >= 1; options.tau of 1 or H finite values, each >= 1 (> 1 when trained)
  // (else UserError naming "tau", the unit and the value); options.delay 0 or >= 2.
  LeakyCell(arma::uword input_size, arma::uword hidden_size, const LeakyOptions& options = {});

  std::string name() const { return "leaky"; }
  arma::uword input_size() const { return input_size_; }
  arma::uword hidden_size() const { return hidden_size_; }
  Activation activation() const { return activation_; }
  bool trains_tau() const { return train_tau_; }
  // D, or 0 without a delay connection.
  arma::uword delay() const { return delay_line_.delay(); }

  // Ensures: the current time constants (H): the fixed ones, or 1 + softplus(rho) read from
  // params when trained.
  arma::vec tau(const ParameterSet<T>& params) const;

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
  // Fills rate_ (a = 1 / tau) from the fixed tau or from rho.
  void compute_rates(const ParameterSet<T>& params);

  arma::uword input_size_, hidden_size_;
  Activation activation_;
  bool train_tau_;
  arma::vec tau0_;  // H: the fixed tau, or the starting tau when trained
  std::size_t weight_ih_, weight_hh_, bias_, tau_rho_, weight_hd_;
  arma::uword streams_ = 0, steps_ = 0;
  arma::Col<T> rate_;          // H: a = 1 / tau of the last forward
  arma::Col<T> d_rate_;        // H: dLoss/da accumulated over the window (trained tau only)
  // H x (lag+S+1)B, lag = D - 1 (0 without a delay): column blocks 0..lag-1 = the carried
  // history, block lag = h0, block lag+t+1 = h_t.
  arma::Mat<T> states_;
  arma::Mat<T> d_states_;      // the same shape: dLoss/d each state column in backward
  arma::Mat<T> squashed_;      // H x N: f(pre-activation), the new candidate state
  arma::Mat<T> pre_;           // H x N: forward pre-activations, reused for dLoss/d pre
  arma::Mat<T> total_;         // H x B: total dLoss/dh_t of one step
  DelayLine<T> delay_line_;    // h_{t-D} of every real step (empty without a delay)
  arma::Mat<T> w_hh_t_, w_hd_t_;  // H x H: the recurrent blocks transposed, for backward
  // Per-step products: z_t += W h (forward, W_hh and W_hd); dh += W_hh^T dz; W_hd^T dz.
  StepGemm<T> recurrent_, recurrent_transposed_, delayed_transposed_;
};

}  // namespace seqlab::rnn
