// seqlab/models/rnn/delay_line.hpp: the bookkeeping of a time-delay connection over one window
// (cell.hpp, DELAY LINES): which state column holds h_{t-D} for each real step, the delayed
// states gathered per step for one GEMM, the gradient scattered back to those columns, and the
// carried history in and out.
//
// It owns no parameters and does no arithmetic on them: the cell multiplies by its W_hd. Used by
// the Elman and leaky cells; any cell that keeps its states in the layout below can use it.
//
// THE STATE LAYOUT it indexes: a cell keeps the states of a window as H x (lag+S+1)B columns,
// lag = D - 1: column blocks 0..lag-1 = the carried history (oldest first), block lag = h0,
// block lag+t+1 = h_t (stream b in column b of each block). Each real step's delayed state is
// read from the column where that state was COMPUTED (or carried in), never from the copies
// masked steps make, so the gradient reaches the state's one true column.
#pragma once

#include <armadillo>
#include <string>
#include <vector>

#include "seqlab/models/rnn/cell.hpp"

namespace seqlab::rnn {

template <class T>
class DelayLine {
public:
  // Requires delay 0 (no delay line: lag() = 0 and the cell skips every other member) or >= 2
  // (else UserError naming the delay).
  explicit DelayLine(arma::uword delay = 0);

  arma::uword delay() const { return delay_; }
  // The history blocks carried between windows: D - 1, or 0 without a delay line.
  arma::uword lag() const { return delay_ == 0 ? 0 : delay_ - 1; }

  // Sizes the workspaces for H units, B streams, S steps. Cost O(H S B) memory; no-op when the
  // shapes repeat.
  void prepare(arma::uword hidden, arma::uword streams, arma::uword steps);

  // Requires: prepare() for these shapes; initial.history H x (lag B) (empty when lag() = 0),
  // else std::invalid_argument naming `cell`. Ensures: the first lag B columns of `states`
  // (H rows) hold the history, and every stream's clock starts at the window start.
  void begin(const std::string& cell, const RecurrentState<T>& initial, T* states);

  // Step t of the window (steps in order, after begin()). Ensures: delayed(t) holds, for every
  // real column tB + b, the state D real steps before step t of stream b, and zeros on masked
  // columns; the clock of every real stream advanced by one. Cost O(H B).
  void gather(const T* states, arma::uword t, const T* mask);
  // H x B, the delayed states of step t (valid after gather(t)).
  const T* delayed(arma::uword t) const { return delayed_.memptr() + t * streams_ * hidden_; }
  // H x N, the delayed states of the whole window, for the weight-gradient GEMM.
  const T* delayed() const { return delayed_.memptr(); }

  // Backward at step t: d_step (H x B) = dLoss/d delayed(t). Ensures: each real column's
  // gradient is ADDED to the state column it was read from, in d_states (H x (lag+S+1)B).
  void scatter(const T* d_step, arma::uword t, const T* mask, T* d_states) const;
  // H x B scratch for the cell's d_step GEMM.
  T* step_scratch() { return step_scratch_.memptr(); }

  // Ensures: history = the last lag states of every stream after the last gather (H x lag B,
  // oldest first; empty when lag() = 0), read from `states` of the last forward.
  void final_history(const arma::Mat<T>& states, arma::Mat<T>& history) const;

private:
  arma::uword delay_;
  arma::uword hidden_ = 0, streams_ = 0, steps_ = 0;
  arma::Mat<T> delayed_;               // H x N
  arma::Mat<T> step_scratch_;          // H x B
  std::vector<arma::uword> source_;    // N: state column read by each real column
  std::vector<arma::uword> ring_;      // D B: per stream, the state columns of its last D
                                       // states, a circular buffer
  std::vector<arma::uword> oldest_;    // B: per stream, where in its ring the oldest sits
};

}  // namespace seqlab::rnn
