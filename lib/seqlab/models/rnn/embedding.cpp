// seqlab/models/rnn/embedding.cpp: gather (forward) and scatter-add (backward) of an embedding.
#include "seqlab/models/rnn/embedding.hpp"

#include <algorithm>
#include <stdexcept>
#include <string>

namespace seqlab::rnn {

namespace {

template <class T>
void check_mask(const arma::Mat<T>* mask, arma::uword steps, const char* who) {
  if (mask != nullptr && mask->n_elem != steps) {
    throw std::invalid_argument(std::string(who) + ": mask has " + std::to_string(mask->n_elem) +
                                " elements, expected " + std::to_string(steps));
  }
}

}  // namespace

template <class T>
void embedding_forward(const arma::Mat<T>& table, const arma::umat& symbols,
                       const std::type_identity_t<arma::Mat<T>>* mask, arma::Mat<T>& out) {
  const arma::uword steps = symbols.n_elem;
  const arma::uword dim = table.n_rows;
  check_mask(mask, steps, "embedding_forward");
  if (out.n_rows != dim || out.n_cols != steps) out.set_size(dim, steps);
  for (arma::uword i = 0; i < steps; ++i) {
    T* column = out.colptr(i);
    if (mask != nullptr && (*mask)(i) == T(0)) {
      std::fill(column, column + dim, T(0));
      continue;
    }
    const arma::uword symbol = symbols(i);
    if (symbol >= table.n_cols) {
      throw std::invalid_argument("embedding_forward: step " + std::to_string(i) + " has symbol " +
                                  std::to_string(symbol) + ", table has " +
                                  std::to_string(table.n_cols) + " columns");
    }
    const T* source = table.colptr(symbol);
    std::copy(source, source + dim, column);
  }
}

template <class T>
void embedding_backward(const arma::umat& symbols, const std::type_identity_t<arma::Mat<T>>* mask,
                        const arma::Mat<T>& d_out, arma::Mat<T>& d_table) {
  const arma::uword steps = symbols.n_elem;
  const arma::uword dim = d_table.n_rows;
  check_mask(mask, steps, "embedding_backward");
  if (d_out.n_rows != dim || d_out.n_cols != steps) {
    throw std::invalid_argument("embedding_backward: d_out must be " + std::to_string(dim) + " x " +
                                std::to_string(steps));
  }
  for (arma::uword i = 0; i < steps; ++i) {
    if (mask != nullptr && (*mask)(i) == T(0)) continue;
    const arma::uword symbol = symbols(i);
    if (symbol >= d_table.n_cols) {
      throw std::invalid_argument("embedding_backward: step " + std::to_string(i) + " has symbol " +
                                  std::to_string(symbol) + " out of range");
    }
    T* target = d_table.colptr(symbol);
    const T* source = d_out.colptr(i);
    for (arma::uword r = 0; r < dim; ++r) target[r] += source[r];
  }
}

template void embedding_forward<float>(const arma::Mat<float>&, const arma::umat&,
                                       const std::type_identity_t<arma::Mat<float>>*,
                                       arma::Mat<float>&);
template void embedding_forward<double>(const arma::Mat<double>&, const arma::umat&,
                                        const std::type_identity_t<arma::Mat<double>>*,
                                        arma::Mat<double>&);
template void embedding_backward<float>(const arma::umat&,
                                        const std::type_identity_t<arma::Mat<float>>*,
                                        const arma::Mat<float>&, arma::Mat<float>&);
template void embedding_backward<double>(const arma::umat&,
                                         const std::type_identity_t<arma::Mat<double>>*,
                                         const arma::Mat<double>&, arma::Mat<double>&);

}  // namespace seqlab::rnn
