// seqlab/models/rnn/bidirectional.hpp: recurrent layers that read WHOLE sequences, for the
// sequence-level tasks of task_network.hpp: Unidirectional<C> runs one cell left to right from a
// zero state; Bidirectional<C> also runs a second cell of the same type, with its own parameters,
// right to left, and outputs both.
//
// What they are not: windows of truncated BPTT. No state is carried in or out, the whole padded
// minibatch is one window, and a bidirectional output at step t depends on x_{t+1..T}, so such a
// layer defines no left-to-right likelihood (it never sits under a next-step head).
//
// Shape letters and layout as in cell.hpp: D input rows, H hidden units per direction, R output
// rows (H, or 2H when bidirectional), B streams (sequences of the minibatch), S steps,
// N = S * B columns, step t of stream b in column t * B + b.
//
// MASKS. Null (every step real) or N elements with the real steps of every row forming a PREFIX
// (lengths L_b; what batching.hpp's padded minibatches deliver). The reverse direction reads each
// stream's real prefix backwards, x_{L_b}, ..., x_1, and then its padding: padding is never read
// before a real step, so a stream's result does not depend on how long the batch is.
//
// OUTPUT. out(:, t * B + b) = [h_fwd_t; h_bwd_t] (Bidirectional) or h_fwd_t (Unidirectional),
// where h_fwd_t has read x_1..x_t and h_bwd_t has read x_T..x_t (T = L_b). Padding columns are 0.
//
// FINAL REPRESENTATION (final_output). Unidirectional: the state at the last real step, h_fwd_T.
// Bidirectional: [h_fwd_T; h_bwd_1], each direction's state after reading its whole sequence (the
// backward direction's after reading x_1). This is what torch.nn.RNN/LSTM/GRU return as h_n for a
// packed batch, so converted weights give the same features. A stream with no real step gives 0.
//
// PARAMETERS. register_parameters(p, prefix) registers the forward cell's blocks as
// prefix + "<block>" and the backward cell's as prefix + "reverse.<block>"; model files name
// the latter with PyTorch's suffix ("weight_ih_l0_reverse", task_model.hpp).
//
// Cost: forward and backward are those of the cells (two cells when bidirectional) plus O(R N)
// copies for reversing and concatenating; nothing is allocated once the shapes repeat.
// Compiled for the four cells of seqlab (elman, leaky, lstm, gru) in float and double; any other
// RecurrentCell needs one more explicit instantiation line in bidirectional.cpp.
#pragma once

#include <armadillo>
#include <string>
#include <type_traits>

#include "seqlab/core/rng.hpp"
#include "seqlab/models/rnn/cell.hpp"
#include "seqlab/models/rnn/parameters.hpp"

namespace seqlab::rnn {

// The real prefix of every row of a mask: lengths L_b and, per column, the column that holds the
// same stream's mirrored step (t -> L_b - 1 - t; padding maps to itself).
struct RealPrefix {
  arma::uvec lengths;  // B
  arma::uvec mirror;   // N
};

// Requires: mask null or streams * steps elements whose nonzeros form a prefix of every row
//   (else std::invalid_argument naming the stream: a caller's layout bug, not user input).
// Ensures: `prefix` describes the mask (every length S for a null mask). Reuses its memory.
// Cost O(N).
template <class T>
void real_prefix(const std::type_identity_t<arma::Mat<T>>* mask, arma::uword streams,
                 arma::uword steps, RealPrefix& prefix);

// One cell read left to right over whole sequences from a zero state.
template <RecurrentCell C>
class Unidirectional {
public:
  using value_type = typename C::value_type;
  using T = value_type;
  static constexpr bool bidirectional = false;

  explicit Unidirectional(C cell) : forward_(std::move(cell)) {}

  arma::uword input_size() const { return forward_.input_size(); }
  arma::uword hidden_size() const { return forward_.hidden_size(); }
  arma::uword output_size() const { return forward_.hidden_size(); }  // R = H
  const C& forward_cell() const { return forward_; }

  // Requires p not yet allocated. Ensures: the cell's blocks registered as prefix + "<block>".
  void register_parameters(ParameterSet<T>& p, const std::string& prefix);
  // Ensures: the cell's documented initial values (cell.hpp).
  void init(ParameterSet<T>& p, Rng& rng) const;

  // Requires: x D x N with N a multiple of `streams` >= 1; mask as documented above. x and mask
  //   stay alive and unchanged until backward.
  // Ensures: out R x N as documented above; final_output() describes this pass.
  void forward(const ParameterSet<T>& p, const arma::Mat<T>& x, arma::uword streams,
               const arma::Mat<T>* mask, arma::Mat<T>& out);
  // Requires: the last forward on this object, same p values, x and mask; d_out R x N
  //   (padding columns ignored).
  // Ensures: parameter gradients in p INCREASED by dLoss/dtheta; *d_x (if not null) SET to
  //   dLoss/dx, D x N, zero on padding. Cost about twice forward.
  void backward(ParameterSet<T>& p, const arma::Mat<T>& x, const arma::Mat<T>* mask,
                const arma::Mat<T>& d_out, arma::Mat<T>* d_x);
  // Ensures: features R x B, the final representation documented above, of the last forward.
  void final_output(arma::Mat<T>& features) const;
  // As backward, for a loss of final_output() alone: d_features R x B.
  void backward_final(ParameterSet<T>& p, const arma::Mat<T>& x, const arma::Mat<T>* mask,
                      const arma::Mat<T>& d_features, arma::Mat<T>* d_x);

private:
  C forward_;
  RealPrefix prefix_;
  RecurrentState<T> zero_;  // H x B zeros (and c)
  arma::Mat<T> d_out_;      // R x N: backward_final's scattered gradient
};

// Two cells of one type: forward_cell left to right, reverse_cell right to left within each
// stream's real prefix; output and final representation concatenated [forward; reverse].
template <RecurrentCell C>
class Bidirectional {
public:
  using value_type = typename C::value_type;
  using T = value_type;
  static constexpr bool bidirectional = true;

  // Requires: the two cells have the same input and hidden sizes (else std::invalid_argument).
  Bidirectional(C forward_cell, C reverse_cell);

  arma::uword input_size() const { return forward_.input_size(); }
  arma::uword hidden_size() const { return forward_.hidden_size(); }
  arma::uword output_size() const { return 2 * forward_.hidden_size(); }  // R = 2H
  const C& forward_cell() const { return forward_; }
  const C& reverse_cell() const { return reverse_; }

  // Requires p not yet allocated. Ensures: forward blocks prefix + "<block>", then reverse
  // blocks prefix + "reverse.<block>".
  void register_parameters(ParameterSet<T>& p, const std::string& prefix);
  // Ensures: each cell initialised by its own init, forward first.
  void init(ParameterSet<T>& p, Rng& rng) const;

  // As Unidirectional::forward, with R = 2H.
  void forward(const ParameterSet<T>& p, const arma::Mat<T>& x, arma::uword streams,
               const arma::Mat<T>* mask, arma::Mat<T>& out);
  // As Unidirectional::backward.
  void backward(ParameterSet<T>& p, const arma::Mat<T>& x, const arma::Mat<T>* mask,
                const arma::Mat<T>& d_out, arma::Mat<T>* d_x);
  // Ensures: features 2H x B = [h_fwd at the last real step; h_bwd after reading x_1].
  void final_output(arma::Mat<T>& features) const;
  // As Unidirectional::backward_final.
  void backward_final(ParameterSet<T>& p, const arma::Mat<T>& x, const arma::Mat<T>* mask,
                      const arma::Mat<T>& d_features, arma::Mat<T>* d_x);

private:
  C forward_, reverse_;
  RealPrefix prefix_;
  arma::uword streams_ = 0;
  RecurrentState<T> zero_;                // H x B zeros (and c)
  arma::Mat<T> x_rev_;                    // D x N: each stream's real prefix reversed
  arma::Mat<T> out_fwd_, out_rev_;        // H x N: the cells' outputs (reverse in its own time)
  arma::Mat<T> d_fwd_, d_rev_, d_x_rev_;  // backward scratch, H x N and D x N
  arma::Mat<T> d_out_;                    // 2H x N: backward_final's scattered gradient
};

}  // namespace seqlab::rnn
