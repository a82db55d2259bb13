// seqlab/models/rnn/init.hpp: random initialisation of weight matrices for recurrent networks:
// orthogonal (for recurrent weights, so that early on the recurrence neither explodes nor
// vanishes) and Xavier/Glorot uniform (for input and output projections).
//
// Every function draws from an explicit seqlab::Rng, in column-major element order, so the same
// seed gives the same weights in float and in double (up to rounding). Element type T = float or
// double, compiled for both in init.cpp.
#pragma once

#include <armadillo>

#include "seqlab/core/rng.hpp"

namespace seqlab::rnn {

// Requires: rows >= 1, cols >= 1 (else std::invalid_argument).
// Ensures: a rows x cols matrix with orthonormal columns when rows >= cols (Q^T Q = I) or
// orthonormal rows when rows < cols (Q Q^T = I), distributed uniformly (Haar) over such
// matrices: the Q of a QR decomposition of a Gaussian matrix whose columns are multiplied by
// sign(R(j, j)), without which Q would be biased. Draws rows * cols standard normals.
// Cost O(rows * cols * min(rows, cols)).
arma::mat random_orthogonal(arma::uword rows, arma::uword cols, Rng& rng);

// Requires: w non-empty (else std::invalid_argument). w may be a non-owning view into a
// parameter buffer; its shape is kept.
// Ensures: w = gain * random_orthogonal(w.n_rows, w.n_cols, rng), converted to T.
// For stacked gate matrices (e.g. 4H x H) call random_orthogonal per gate block instead.
template <class T>
void init_orthogonal(arma::Mat<T>& w, Rng& rng, double gain = 1.0);

// Requires: w non-empty (else std::invalid_argument).
// Ensures: every element drawn independently from U(-a, a) with
// a = gain * sqrt(6 / (fan_in + fan_out)), fan_in = w.n_cols, fan_out = w.n_rows (w maps a
// column vector of size n_cols to one of size n_rows), so that Var(w) = 2 / (fan_in + fan_out).
template <class T>
void init_xavier_uniform(arma::Mat<T>& w, Rng& rng, double gain = 1.0);

// Ensures: every element of w drawn independently from U(-bound, bound) (bound >= 0). With
// bound = 1 / sqrt(hidden) this is PyTorch's default for nn.RNN / nn.LSTM / nn.GRU.
template <class T>
void init_uniform(arma::Mat<T>& w, double bound, Rng& rng);

}  // namespace seqlab::rnn
