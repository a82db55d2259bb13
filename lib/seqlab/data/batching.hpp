// seqlab/data/batching.hpp: ways to walk a SequenceSet for training: padded minibatches of whole
// sequences, fixed-length windows for truncated backpropagation through time that carry state
// across windows, and frames flattened into vectors for Hopfield networks and Boltzmann machines.
//
// Layout (B = sequences in a batch or parallel streams, T = time steps, d = frame dimension):
// time runs along columns (symbols: B x T, column t = time t) or along slices (frames: d x B x T,
// slice t = time t). A mask of the same B x T shape is 1 on real steps and 0 on padding; padding
// values are 0. In every row the real steps form a prefix: mask(b, t) == 1 implies
// mask(b, s) == 1 for all s < t.
//
// Nothing here copies the data more than once, and nothing is random unless an Rng is passed.
#pragma once

#include <armadillo>
#include <cstddef>
#include <functional>
#include <vector>

#include "seqlab/core/rng.hpp"
#include "seqlab/data/dataset.hpp"

namespace seqlab {

// ---- Padded minibatches of whole sequences --------------------------------------------------

struct SymbolBatch {
  arma::umat symbols;              // B x Tmax, column t = time t, padding 0
  arma::umat mask;                 // B x Tmax, 1 where a real step
  std::vector<std::size_t> index;  // row b holds sequence index[b] of the set
};

struct FrameBatch {
  arma::cube frames;               // d x B x Tmax, slice t = time t, padding 0
  arma::umat mask;                 // B x Tmax, 1 where a real step
  std::vector<std::size_t> index;  // row b holds sequence index[b] of the set
};

// Requires: set.kind == symbols (else std::invalid_argument); batch_size >= 1 (else UserError).
// Ensures: the sequences in order 0..n-1, or in the order of random_permutation(n, *shuffle_rng)
// when shuffle_rng is not null, cut into consecutive batches of batch_size (the last one holds
// the remainder, so every sequence appears exactly once). Tmax is the longest sequence of that
// batch. An empty set gives no batches. Cost O(n * Tmax) memory and time.
std::vector<SymbolBatch> make_symbol_batches(const SequenceSet& set, std::size_t batch_size,
                                             Rng* shuffle_rng);

// As make_symbol_batches for kind vectors / binary_frames (else std::invalid_argument). Every
// sequence must have the same number of rows d (else std::invalid_argument).
std::vector<FrameBatch> make_frame_batches(const SequenceSet& set, std::size_t batch_size,
                                           Rng* shuffle_rng);

// ---- Windows for truncated BPTT -------------------------------------------------------------

struct SymbolWindow {
  arma::umat symbols;  // B x k, padding 0
  arma::umat mask;     // B x k
  arma::uvec reset;    // B
};

struct FrameWindow {
  arma::cube frames;   // d x B x k, padding 0
  arma::umat mask;     // B x k
  arma::uvec reset;    // B
};

// Splits a SequenceSet into B parallel streams and yields consecutive windows of k steps.
//
// Streams:
//   * ONE sequence of T steps: cut into B contiguous parts of floor(T / B) steps; part b is
//     stream b. The last T mod B steps are dropped (as char-rnn does); covered_steps() says how
//     many steps remain. Requires T >= B.
//   * SEVERAL sequences: sequence i goes to stream i mod B, and each stream plays its sequences
//     back to back in index order. Streams may be uneven (or empty when n < B).
// Windows: a window never mixes two sequences (or two parts). Row b of a window holds the next
// up-to-k steps of the sequence stream b is in; if that sequence ends inside the window the rest
// of the row is masked, and the NEXT window starts stream b's next sequence at column 0. A
// stream with nothing left has an all-zero mask row (and reset 0) until every stream is done.
//
// How a model uses a window (so that every step is predicted exactly once, none skipped):
//   1. For each row b with reset[b] == 1, set that row's recurrent state to the initial state
//      (e.g. zeros or the learned h0) BEFORE column 0. reset[b] == 1 exactly when column 0 of
//      row b is the first step of a sequence (or of a part): so also at each stream's first
//      window. Rows with reset[b] == 0 continue from the state left by the previous window.
//   2. For t = 0..k-1: where mask(b, t) == 1, score symbol(b, t) from the current state (the
//      first step of a sequence is predicted from the initial state, as DESIGN 4 requires), add
//      it to the loss, then advance the state with symbol(b, t). Where mask(b, t) == 0 nothing
//      is scored; the state may be advanced or not, because such a row is always reset (or
//      finished) in the next window.
//   3. Carry the state to the next window and (for BPTT) cut the gradient there.
// Iteration is deterministic: no randomness, same set => same windows.
//
// The stream keeps a pointer to `set`: the set must outlive it and must not change meanwhile.
class WindowStream {
public:
  // Requires: streams >= 1, window >= 1 (else UserError); a single sequence must have at least
  // `streams` steps (else UserError naming both numbers). Empty sequences of a multi-sequence
  // set are skipped; an empty set yields no windows.
  WindowStream(const SequenceSet& set, arma::uword streams, arma::uword window);
  // The stream points into the set, so a temporary set would dangle.
  WindowStream(SequenceSet&&, arma::uword, arma::uword) = delete;

  // Requires: the set is of kind symbols (else std::invalid_argument).
  // Ensures: true and the next window in `out`, or false when every stream is exhausted.
  bool next(SymbolWindow& out);
  // Requires: the set is of kind vectors / binary_frames (else std::invalid_argument).
  bool next(FrameWindow& out);

  // Starts again from the first window.
  void rewind();

  arma::uword streams() const { return streams_; }
  arma::uword window() const { return window_; }
  // Number of windows in one pass (the longest stream decides). Cost O(1).
  std::size_t window_count() const { return window_count_; }
  // Steps delivered with mask 1 in one pass: total steps minus any dropped remainder.
  arma::uword covered_steps() const { return covered_steps_; }

private:
  // A contiguous run [begin, end) of steps of one sequence, played as one unit.
  struct Segment {
    std::size_t sequence;
    arma::uword begin, end;
  };
  struct Cursor {
    std::size_t segment = 0;  // index into the stream's segment list
    arma::uword position = 0; // next step (absolute, within the sequence)
  };

  // For row b: the segment it plays in the current window and how many steps, or nullptr.
  const Segment* current(arma::uword b) const;
  void advance(arma::uword b, arma::uword steps);
  // The walk both next() overloads share: clears mask and reset (B x k, B), and for every row
  // with a segment left calls copy_row(b, sequence, start, steps) to copy that row's data, then
  // marks the mask, sets reset and advances. Returns whether any row had data.
  bool fill_window(arma::umat& mask, arma::uvec& reset,
                   const std::function<void(arma::uword b, std::size_t sequence,
                                            arma::uword start, arma::uword steps)>& copy_row);

  const SequenceSet* set_;
  arma::uword streams_, window_;
  std::vector<std::vector<Segment>> plan_;  // plan_[b] = segments of stream b in order
  std::vector<Cursor> cursors_;
  std::size_t window_count_ = 0;
  arma::uword covered_steps_ = 0;
};

// ---- Flattening for Hopfield networks and Boltzmann machines --------------------------------

// Requires: set.kind != symbols (else std::invalid_argument), all frames with the same d.
// Ensures: d x (total steps), the frames of sequence 0, then 1, ... in time order. An empty set
// gives a 0 x 0 matrix.
arma::mat all_frames(const SequenceSet& set);

// Requires nothing. Ensures: all_frames(set) as a `rows` x (total steps) matrix (also for an empty
// set), else a one-line UserError "<what>: sequence i has frames of r rows, the model <rows>"
// naming the first sequence of another size (for models over independent frames, checked before
// any copy).
arma::mat all_frames(const SequenceSet& set, arma::uword rows, const std::string& what);

// Requires: steps.n_elem == set.total_steps(), in all_frames' order. Ensures: the sum of each
// sequence's steps (0 for an empty sequence), one element per sequence.
arma::vec sums_by_sequence(const arma::vec& steps, const SequenceSet& set);

// Requires: as all_frames; width >= 1 and stride >= 1 (else UserError naming them).
// Ensures: (d * width) x count; one column per window start s = 0, stride, 2*stride, ... with
// s + width <= T inside each sequence (sequences in order); the column stacks frames s..s+width-1
// with frame s in rows 0..d-1. Windows never cross a sequence boundary; a sequence shorter than
// width contributes nothing.
arma::mat flatten_windows(const SequenceSet& set, arma::uword width, arma::uword stride);

}  // namespace seqlab
