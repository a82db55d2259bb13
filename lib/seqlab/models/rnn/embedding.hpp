// seqlab/models/rnn/embedding.hpp: the input layer of a recurrent network over symbols: a learned
// embedding table whose column v is the input vector fed to the first cell for symbol v.
//
// Only symbols need an input layer. Real vectors and binary frames go into the first cell as they
// are: a window of frames is already the d x (S*B) time-major matrix the cell's input projection
// multiplies (one GEMM for the whole window), so a layer here would only copy it.
//
// Shape letters: V = alphabet size, d = embedding size, S = steps in a window, B = parallel
// streams, N = S * B. Windows are TIME-MAJOR: step t of stream b is column (or element) t*B + b,
// which is the memory order of a B x S symbol / mask matrix of batching.hpp, so such a matrix can
// be passed as it is.
//
// Element type T = float (training) or double (gradient checks), compiled for both.
#pragma once

#include <armadillo>
#include <type_traits>

namespace seqlab::rnn {

// Forward: gathers one column of the table per step.
// Requires: table d x V; symbols with N elements read in memory order (a B x S umat or an
//   N-vector); mask null ("every step real") or N elements, 0 = padding (a T matrix; the mask
//   parameter does not take part in deducing T, so a plain nullptr works); every unmasked
//   symbol < V (else std::invalid_argument naming the step and symbol: the data layer validates
//   user input, so a bad index here is a programming error).
// Ensures: out is d x N with out.col(i) = table.col(symbols(i)) for real steps and zeros for
//   padding (whose symbol is not looked at). out is resized only if its shape differs, so a reused
//   output does not allocate. Cost O(d * N).
template <class T>
void embedding_forward(const arma::Mat<T>& table, const arma::umat& symbols,
                       const std::type_identity_t<arma::Mat<T>>* mask, arma::Mat<T>& out);

// Backward: scatter-adds the output gradient into the table's gradient.
// Requires: the same symbols and mask as the forward call; d_out d x N; d_table d x V (may be a
//   view into a flat gradient buffer).
// Ensures: d_table.col(symbols(i)) += d_out.col(i) for every real step i; padding steps add
//   nothing. There is no input gradient (symbols are discrete). Cost O(d * N).
template <class T>
void embedding_backward(const arma::umat& symbols, const std::type_identity_t<arma::Mat<T>>* mask,
                        const arma::Mat<T>& d_out, arma::Mat<T>& d_table);

}  // namespace seqlab::rnn
