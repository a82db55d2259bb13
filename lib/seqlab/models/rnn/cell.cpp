// seqlab/models/rnn/cell.cpp: what all cells share: activation names, the strided GEMM, window
// shape checks and the per-gate-block use of the initialisers of init.hpp.
#include "seqlab/models/rnn/cell.hpp"

#include <cmath>
#include <limits>
#include <stdexcept>

#include "seqlab/core/error.hpp"
#include "seqlab/models/rnn/cell_kernels.hpp"
#include "seqlab/models/rnn/init.hpp"
#include "seqlab/core/vector_math.hpp"

namespace seqlab::rnn {

Activation parse_activation(const std::string& text, const std::string& key) {
  if (text == "tanh") return Activation::tanh;
  if (text == "relu") return Activation::relu;
  user_error(key + ": unknown activation '" + text + "' (expected tanh or relu)");
}

std::string to_string(Activation f) { return f == Activation::tanh ? "tanh" : "relu"; }

namespace cell_detail {

namespace {
arma::blas_int blas_size(arma::uword n) {
  if (n > static_cast<arma::uword>(std::numeric_limits<arma::blas_int>::max()))
    throw std::length_error("gemm: dimension too large for the BLAS integer type");
  return static_cast<arma::blas_int>(n);
}
}  // namespace

template <class T>
void gemm(bool transpose_a, bool transpose_b, arma::uword m, arma::uword n, arma::uword k, T alpha,
          const T* a, arma::uword lda, const T* b, arma::uword ldb, T beta, T* c, arma::uword ldc) {
  if (m == 0 || n == 0) return;
  if (k == 0) {
    for (arma::uword j = 0; j < n; ++j)
      for (arma::uword i = 0; i < m; ++i)
        c[i + j * ldc] = beta == T(0) ? T(0) : beta * c[i + j * ldc];
    return;
  }
  const char ta = transpose_a ? 'T' : 'N';
  const char tb = transpose_b ? 'T' : 'N';
  const arma::blas_int bm = blas_size(m), bn = blas_size(n), bk = blas_size(k);
  const arma::blas_int blda = blas_size(lda), bldb = blas_size(ldb), bldc = blas_size(ldc);
  arma::blas::gemm<T>(&ta, &tb, &bm, &bn, &bk, &alpha, a, &blda, b, &bldb, &beta, c, &bldc);
}

template <class T>
WindowShape check_forward_shapes(const std::string& cell, arma::uword input_size,
                                 arma::uword hidden_size, bool has_cell_state,
                                 const arma::Mat<T>& x, const RecurrentState<T>& s0,
                                 const arma::Mat<T>* mask) {
  const std::string where = cell + " forward: ";
  if (s0.h.n_rows != hidden_size || s0.h.n_cols == 0)
    throw std::invalid_argument(where + "initial h must be " + std::to_string(hidden_size) +
                                " x B with B >= 1, got " + std::to_string(s0.h.n_rows) + " x " +
                                std::to_string(s0.h.n_cols));
  const arma::uword streams = s0.h.n_cols;
  if (has_cell_state && (s0.c.n_rows != hidden_size || s0.c.n_cols != streams))
    throw std::invalid_argument(where + "initial c must have the shape of initial h");
  if (x.n_rows != input_size || x.n_cols % streams != 0)
    throw std::invalid_argument(where + "input must be " + std::to_string(input_size) +
                                " x (S * " + std::to_string(streams) + "), got " +
                                std::to_string(x.n_rows) + " x " + std::to_string(x.n_cols));
  if (mask != nullptr && mask->n_elem != x.n_cols)
    throw std::invalid_argument(where + "mask must have one element per input column");
  return WindowShape{streams, x.n_cols / streams};
}

template <class T>
const T* check_backward_shapes(const std::string& cell, arma::uword input_size,
                               arma::uword hidden_size, WindowShape prepared,
                               const arma::Mat<T>& x, const arma::Mat<T>* mask,
                               const arma::Mat<T>& d_out) {
  const std::string where = cell + " backward: ";
  const arma::uword columns = prepared.streams * prepared.steps;
  if (prepared.streams == 0) throw std::logic_error(where + "no forward pass to differentiate");
  if (x.n_rows != input_size || x.n_cols != columns)
    throw std::invalid_argument(where + "input differs in shape from the forward pass");
  if (d_out.n_rows != hidden_size || d_out.n_cols != columns)
    throw std::invalid_argument(where + "output gradient must be " + std::to_string(hidden_size) +
                                " x " + std::to_string(columns));
  if (mask != nullptr && mask->n_elem != columns)
    throw std::invalid_argument(where + "mask must have one element per input column");
  return mask == nullptr ? nullptr : mask->memptr();
}

void require_registered(const std::string& cell, std::size_t index) {
  if (index == kUnregistered)
    throw std::logic_error(cell + ": register_parameters() was not called");
}

template <class T>
void fill_orthogonal_blocks(arma::Mat<T>&& w, arma::uword gates, Rng& rng) {
  const arma::uword h = w.n_cols;
  if (w.n_rows != gates * h) throw std::logic_error("fill_orthogonal_blocks: not (G H) x H");
  for (arma::uword g = 0; g < gates; ++g)
    w.rows(g * h, (g + 1) * h - 1) =
        arma::conv_to<arma::Mat<T>>::from(random_orthogonal(h, h, rng));
}

template <class T>
void fill_glorot_blocks(arma::Mat<T>&& w, arma::uword gates, Rng& rng) {
  const arma::uword h = w.n_rows / gates;
  arma::Mat<T> block(h, w.n_cols);
  for (arma::uword g = 0; g < gates; ++g) {
    init_xavier_uniform(block, rng);
    w.rows(g * h, (g + 1) * h - 1) = block;
  }
}

template <class T>
void activate_array(Activation f, T* x, std::size_t n) {
  if (f == Activation::tanh) {
    tanh_inplace(x, n);
  } else {
    for (std::size_t i = 0; i < n; ++i) x[i] = std::max(x[i], T(0));
  }
}

#define SEQLAB_CELL_KERNELS(T)                                                                    \
  template void activate_array<T>(Activation, T*, std::size_t);                                  \
  template void gemm<T>(bool, bool, arma::uword, arma::uword, arma::uword, T, const T*,          \
                        arma::uword, const T*, arma::uword, T, T*, arma::uword);                 \
  template WindowShape check_forward_shapes<T>(const std::string&, arma::uword, arma::uword,     \
                                               bool, const arma::Mat<T>&,                        \
                                               const RecurrentState<T>&, const arma::Mat<T>*);   \
  template const T* check_backward_shapes<T>(const std::string&, arma::uword, arma::uword,       \
                                             WindowShape, const arma::Mat<T>&,                   \
                                             const arma::Mat<T>*, const arma::Mat<T>&);          \
  template void fill_orthogonal_blocks<T>(arma::Mat<T>&&, arma::uword, Rng&);                    \
  template void fill_glorot_blocks<T>(arma::Mat<T>&&, arma::uword, Rng&);
SEQLAB_CELL_KERNELS(float)
SEQLAB_CELL_KERNELS(double)
#undef SEQLAB_CELL_KERNELS

}  // namespace cell_detail
}  // namespace seqlab::rnn
