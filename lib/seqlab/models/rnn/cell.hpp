// seqlab/models/rnn/cell.hpp: what a recurrent cell is in seqlab (the RecurrentCell concept), the
// window layout every cell shares, and the pieces common to all cells (activation, state).
//
// The cells themselves: elman.hpp (Elman / vanilla RNN), leaky.hpp (leaky integrator units),
// lstm.hpp (LSTM, PyTorch gate order), gru.hpp (GRU, Cho and PyTorch variants), jordan.hpp
// (Jordan network: the previous OUTPUT is fed back). Elman and leaky cells may also have a
// time-delay connection from the state D steps back (see DELAY LINES below). A cell is a
// single layer run over one window of truncated BPTT; stacking, heads, losses and optimizers live
// elsewhere and see a cell only through the interface below.
//
// SHAPE LETTERS. D input size, H hidden size, B parallel streams (batch), S steps in the window,
// N = S * B columns, G gate blocks (Elman 1, GRU 3, LSTM 4).
//
// TIME-MAJOR WINDOW LAYOUT. Every D x N or H x N window matrix holds step t of stream b in column
// t * B + b, so the B columns of one step are contiguous (the memory of a d x B x S cube or of a
// B x S mask, with no copy). A mask has N elements in the same order (any shape: 1 x N or B x S);
// 0 marks padding. A null mask pointer means every step is real.
//
// MASKED STEPS carry the state unchanged (h_t = h_{t-1}, c_t = c_{t-1}), ignore their input
// column, and receive no gradient from the output: backward treats d_out at a masked column as 0
// and writes a zero input gradient there. Padding may sit anywhere in a row (batching produces
// prefixes, but nothing here relies on it).
//
// DELAY LINES. A cell with a time-delay connection of D >= 2 steps adds W_hd h_{t-D} to its
// pre-activation, where t counts the REAL steps of the stream: a masked step does not advance
// its stream's clock, so the delay line does not move either (h_{t-D} is the state D real steps
// back, and a stream that pauses resumes exactly where it stopped). Within a window the states
// before its first step come from the carried RecurrentState::history; a sequence starts with a
// zero history, as with h. Truncated BPTT cuts the gradient to the history at the window start,
// exactly as it cuts the gradient to h.
//
// A cell object is the layer's configuration, the indices of its parameter blocks and the
// workspace of ONE window (everything backward needs). Threads that run windows in parallel each
// use their own copy of the cell (and their own gradient buffer); the parameter values may be
// shared read-only.
//
// THE RECURRENT CELL INTERFACE (a cell type C must supply; checked by the concept below)
//   using value_type = T;                 float (training) or double (gradient checks).
//   static constexpr bool has_cell_state; true when the state has a memory cell c (LSTM).
//   std::string name() const;             "elman", "leaky", "lstm", "gru", "jordan".
//   arma::uword input_size() const;       D
//   arma::uword hidden_size() const;      H (also the size of the output and of the state)
//   void register_parameters(ParameterSet<T>& p, const std::string& prefix);
//       requires p not yet allocated; adds the cell's blocks named prefix + "<block>" (documented
//       per cell, PyTorch-like names) and remembers their indices. Call once per cell.
//   void init(ParameterSet<T>& p, Rng& rng) const;
//       requires p allocated and registered through this cell; ensures the cell's blocks hold the
//       documented initial values (orthogonal recurrent blocks, Glorot-uniform input blocks).
//   void prepare(arma::uword B, arma::uword S);
//       sizes every workspace for B streams x S steps. forward() calls it itself when the shapes
//       change, so calling it up front only moves the allocation out of the training loop.
//   void forward(const ParameterSet<T>& p, const arma::Mat<T>& x, const RecurrentState<T>& s0,
//                const arma::Mat<T>* mask, arma::Mat<T>& out);
//       x D x N, s0.h H x B (s0.c H x B when has_cell_state), s0.history H x (lag B) for a
//       cell with a delay line (lag = D - 1) and empty otherwise, mask N elements or null.
//       Ensures out is H x N with out(:, tB + b) = the cell's output at step t of stream b (h_t;
//       y_t for the Jordan cell), and the cell keeps what backward needs (x itself is NOT
//       copied: the caller keeps it unchanged until backward).
//       Cost: one GEMM for the input projection of the window, one or two per step for the
//       recurrence (one more with a delay line), O(G H N) element-wise work; no allocation
//       once prepared.
//   void backward(ParameterSet<T>& p, const arma::Mat<T>& x, const arma::Mat<T>* mask,
//                 const arma::Mat<T>& d_out, arma::Mat<T>* d_x, RecurrentState<T>* d_s0);
//       requires the last forward() on this cell ran with the same p values, x and mask.
//       d_out H x N is dLoss/d out (masked columns ignored). Ensures the cell's parameter
//       gradients in p are INCREASED by dLoss/dtheta (the caller zeroes once per minibatch);
//       *d_x (when not null) is SET to dLoss/dx (D x N); *d_s0 (when not null) is SET to
//       dLoss/ds0. The gradient that would reach the window from later windows is cut (taken as
//       0). backward may be called again for the same forward. Cost: about twice forward.
//   void final_state(RecurrentState<T>& s) const;
//       ensures s holds the state after the last step of the last forward (h and c H x B,
//       history H x (lag B) or empty), i.e. the state to carry into the next window.
//
// PROJECTED INPUT (optional; LSTM and GRU supply it). A cell whose window starts with the input
// projection P = W_ih x (R x N, R = gate rows) can be handed P instead of x:
//   std::size_t input_weight() const;     index of W_ih (R x D) in the ParameterSet
//   arma::uword projected_rows() const;   R
//   void forward_projected(const ParameterSet<T>& p, const arma::Mat<T>& P,
//                          const RecurrentState<T>& s0, const arma::Mat<T>* mask,
//                          arma::Mat<T>& out);
//       exactly forward() with W_ih x replaced by P (R x N).
//   void backward_projected(ParameterSet<T>& p, const arma::Mat<T>* mask,
//                           const arma::Mat<T>& d_out, RecurrentState<T>* d_s0);
//       backward() without W_ih's gradient and without d_x; afterwards
//   const arma::Mat<T>& projected_gradient() const;  holds dLoss/dP (R x N).
// Why: the first layer of a symbol network multiplies W_ih by embedding columns. With the table
// W_ih E (R x (V+1)) made once per window, P is a gather, and the three window products with
// W_ih (forward, its gradient, d_x) shrink to products with the V+1 table columns (network.cpp).
#pragma once

#include <armadillo>
#include <concepts>
#include <string>

#include "seqlab/core/rng.hpp"
#include "seqlab/models/rnn/parameters.hpp"

namespace seqlab::rnn {

// What a cell carries from one window to the next, for B streams. All zero at a sequence start.
//   h        H x B: the recurrent state: the hidden state, or for the Jordan cell its output y.
//   c        H x B: the memory cell (LSTM); empty for the other cells.
//   history  H x (lag B): the delay line of a cell with a time-delay connection of D steps,
//            lag = D - 1 (empty without one): column block j (j = 0..lag-1) holds, for each
//            stream, the state lag - j real steps before h, so that the blocks followed by h
//            are the stream's last D states in time order, oldest first. h itself is not
//            repeated here: one copy of each state, nothing to keep in sync.
template <class T>
struct RecurrentState {
  arma::Mat<T> h;
  arma::Mat<T> c;
  arma::Mat<T> history{};  // the default keeps {h, c} initialisers complete
};

// The squashing function of Elman and leaky cells and of the Jordan cell's hidden units.
enum class Activation { tanh, relu };

// Requires: "tanh" or "relu" (else UserError naming `key` and the two choices).
Activation parse_activation(const std::string& text, const std::string& key);
std::string to_string(Activation f);

template <class C>
concept RecurrentCell = requires(C cell, const C& const_cell,
                                 ParameterSet<typename C::value_type>& params,
                                 const ParameterSet<typename C::value_type>& const_params,
                                 const arma::Mat<typename C::value_type>& matrix,
                                 const arma::Mat<typename C::value_type>* mask,
                                 arma::Mat<typename C::value_type>& out,
                                 arma::Mat<typename C::value_type>* d_x,
                                 RecurrentState<typename C::value_type>& state,
                                 const RecurrentState<typename C::value_type>& const_state,
                                 RecurrentState<typename C::value_type>* d_state, Rng& rng,
                                 const std::string& prefix, arma::uword count) {
  { C::has_cell_state } -> std::convertible_to<bool>;
  { const_cell.name() } -> std::convertible_to<std::string>;
  { const_cell.input_size() } -> std::same_as<arma::uword>;
  { const_cell.hidden_size() } -> std::same_as<arma::uword>;
  cell.register_parameters(params, prefix);
  const_cell.init(params, rng);
  cell.prepare(count, count);
  cell.forward(const_params, matrix, const_state, mask, out);
  cell.backward(params, matrix, mask, matrix, d_x, d_state);
  const_cell.final_state(state);
};

template <class C>
concept ProjectedInputCell =
    RecurrentCell<C> && requires(C cell, const C& const_cell,
                                 ParameterSet<typename C::value_type>& params,
                                 const ParameterSet<typename C::value_type>& const_params,
                                 const arma::Mat<typename C::value_type>& matrix,
                                 const arma::Mat<typename C::value_type>* mask,
                                 arma::Mat<typename C::value_type>& out,
                                 const RecurrentState<typename C::value_type>& const_state,
                                 RecurrentState<typename C::value_type>* d_state) {
      { const_cell.input_weight() } -> std::convertible_to<std::size_t>;
      { const_cell.projected_rows() } -> std::same_as<arma::uword>;
      cell.forward_projected(const_params, matrix, const_state, mask, out);
      cell.backward_projected(params, mask, matrix, d_state);
      { const_cell.projected_gradient() } -> std::same_as<const arma::Mat<typename C::value_type>&>;
    };

}  // namespace seqlab::rnn
