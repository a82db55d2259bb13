// seqlab/core/step_gemm.hpp: the matrix product a recurrence does at every time step,
// C = A B (+ C), prepared once for its shapes and then called at every step: the forward and
// backward passes of HMMs (A = the transition matrix) and of recurrent networks (A = a
// recurrent weight block).
//
// Why not plain BLAS: a recurrent step multiplies the same matrix A (e.g. an LSTM's 4H x H
// weights, an HMM's N x N transition matrix) by a thin block B (one column per stream). A BLAS GEMM copies ("packs") all of A into its own
// layout on every call, which for thin B costs as much as the multiplication itself (measured:
// OpenBLAS at 40 GFLOP/s on 2048 x 512 by 512 x 32 in float, the same product in row tiles of
// JIT-compiled LIBXSMM kernels that read A in place at 60-67; in double, 256 x 256 by 256 x 50
// at 37 against 48, the rate of a large DGEMM). So the product is cut into row
// tiles of A and C, each done by one small-matrix kernel that LIBXSMM generates for exactly
// these sizes and strides. Where LIBXSMM cannot supply a kernel (unsupported CPU or sizes), the
// object falls back to one BLAS call with the same result up to rounding.
//
// Column-major throughout, no transposes (store a transposed copy of A when the product needs
// A^T: the backward pass of a recurrence does).
#pragma once

#include <armadillo>
#include <vector>

namespace seqlab {

template <class T>
class StepGemm {
public:
  // An empty product (m = 0): operator() does nothing.
  StepGemm() = default;

  // Requires: m, n, k >= 1; lda >= m, ldb >= k, ldc >= m; accumulate true for C += A B, false
  // for C = A B. Ensures: operator() computes that product for these shapes and strides.
  // Cost: the first call for a shape generates machine code (tens of microseconds, once per
  // process and shape; later objects reuse it); later calls only look it up.
  StepGemm(arma::uword m, arma::uword n, arma::uword k, arma::uword lda, arma::uword ldb,
           arma::uword ldc, bool accumulate);

  // Requires: a points at an m x k block with leading dimension lda, b at k x n (ldb), c at
  // m x n (ldc); c does not overlap a or b. Ensures: C = A B, or C += A B. Never allocates.
  void operator()(const T* a, const T* b, T* c) const;

  arma::uword rows() const { return m_; }
  // True when the small-matrix kernels are used (false: the BLAS fallback).
  bool uses_small_kernels() const { return !tiles_.empty(); }

private:
  using Kernel = void (*)(const T*, const T*, T*, ...);
  struct Tile {
    arma::uword row;  // first row of the tile in A and C
    Kernel kernel;
  };
  arma::uword m_ = 0, n_ = 0, k_ = 0, lda_ = 0, ldb_ = 0, ldc_ = 0;
  bool accumulate_ = false;
  std::vector<Tile> tiles_;
};

}  // namespace seqlab
