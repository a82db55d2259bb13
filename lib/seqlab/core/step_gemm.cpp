// seqlab/core/step_gemm.cpp: the per-step product of step_gemm.hpp on LIBXSMM row-tile
// kernels, with a BLAS fallback.
#include "seqlab/core/step_gemm.hpp"

#include <libxsmm.h>

#include <limits>
#include <stdexcept>
#include <string>


namespace seqlab {
namespace {

// Rows per tile: four AVX-512 registers of floats (two of doubles per column for T = double,
// still a full cache line per column). Measured on the LSTM shapes: 64-row tiles beat 32 and 128.
constexpr arma::uword kTileRows = 64;

libxsmm_blasint to_blas(arma::uword v) {
  // libxsmm_blasint and arma::blas_int are both the BLAS integer: one check covers both.
  if (v > static_cast<arma::uword>(std::numeric_limits<libxsmm_blasint>::max()) ||
      v > static_cast<arma::uword>(std::numeric_limits<arma::blas_int>::max()))
    throw std::length_error("StepGemm: dimension too large");
  return static_cast<libxsmm_blasint>(v);
}

template <class T>
void* dispatch(arma::uword m, arma::uword n, arma::uword k, arma::uword lda, arma::uword ldb,
               arma::uword ldc, bool accumulate) {
  const libxsmm_blasint bm = to_blas(m), bn = to_blas(n), bk = to_blas(k);
  const libxsmm_blasint blda = to_blas(lda), bldb = to_blas(ldb), bldc = to_blas(ldc);
  const T alpha = T(1), beta = accumulate ? T(1) : T(0);
  const int flags = LIBXSMM_GEMM_FLAG_NONE;
  if constexpr (std::is_same_v<T, float>)
    return reinterpret_cast<void*>(
        libxsmm_smmdispatch(bm, bn, bk, &blda, &bldb, &bldc, &alpha, &beta, &flags, nullptr));
  else
    return reinterpret_cast<void*>(
        libxsmm_dmmdispatch(bm, bn, bk, &blda, &bldb, &bldc, &alpha, &beta, &flags, nullptr));
}

}  // namespace

template <class T>
StepGemm<T>::StepGemm(arma::uword m, arma::uword n, arma::uword k, arma::uword lda,
                      arma::uword ldb, arma::uword ldc, bool accumulate)
    : m_(m), n_(n), k_(k), lda_(lda), ldb_(ldb), ldc_(ldc), accumulate_(accumulate) {
  if (m == 0 || n == 0 || k == 0 || lda < m || ldb < k || ldc < m)
    throw std::invalid_argument("StepGemm: bad shape " + std::to_string(m) + " x " +
                                std::to_string(n) + " x " + std::to_string(k));
  void* full = nullptr;
  void* tail = nullptr;
  const arma::uword full_rows = std::min(m, kTileRows);
  full = dispatch<T>(full_rows, n, k, lda, ldb, ldc, accumulate);
  if (m % kTileRows != 0 && m > kTileRows)
    tail = dispatch<T>(m % kTileRows, n, k, lda, ldb, ldc, accumulate);
  if (full == nullptr || (m % kTileRows != 0 && m > kTileRows && tail == nullptr)) return;
  for (arma::uword row = 0; row < m; row += kTileRows) {
    void* kernel = row + kTileRows <= m || m <= kTileRows ? full : tail;
    tiles_.push_back(Tile{row, reinterpret_cast<Kernel>(kernel)});
  }
}

template <class T>
void StepGemm<T>::operator()(const T* a, const T* b, T* c) const {
  if (m_ == 0) return;
  if (tiles_.empty()) {
    const char no = 'N';
    const arma::blas_int bm = static_cast<arma::blas_int>(m_), bn = static_cast<arma::blas_int>(n_),
                         bk = static_cast<arma::blas_int>(k_);
    const arma::blas_int blda = static_cast<arma::blas_int>(lda_),
                         bldb = static_cast<arma::blas_int>(ldb_),
                         bldc = static_cast<arma::blas_int>(ldc_);
    const T one = T(1), beta = accumulate_ ? T(1) : T(0);
    arma::blas::gemm<T>(&no, &no, &bm, &bn, &bk, &one, a, &blda, b, &bldb, &beta, c, &bldc);
    return;
  }
  for (const Tile& tile : tiles_) tile.kernel(a + tile.row, b, c + tile.row);
}

template class StepGemm<float>;
template class StepGemm<double>;

}  // namespace seqlab
