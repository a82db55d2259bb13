// seqlab/models/rnn/init.cpp: orthogonal, Xavier/Glorot and plain uniform initialisation.
#include "seqlab/models/rnn/init.hpp"

#include <cmath>
#include <stdexcept>

namespace seqlab::rnn {

arma::mat random_orthogonal(arma::uword rows, arma::uword cols, Rng& rng) {
  if (rows == 0 || cols == 0) {
    throw std::invalid_argument("random_orthogonal: needs rows >= 1 and cols >= 1");
  }
  // Factor the tall orientation so Q has orthonormal columns, then transpose back if wide.
  const bool wide = rows < cols;
  const arma::uword tall_rows = wide ? cols : rows;
  const arma::uword tall_cols = wide ? rows : cols;
  arma::mat gaussian(tall_rows, tall_cols);
  for (arma::uword i = 0; i < gaussian.n_elem; ++i) gaussian(i) = standard_normal(rng);

  arma::mat q, r;
  if (!arma::qr_econ(q, r, gaussian)) {
    throw std::runtime_error("random_orthogonal: QR decomposition failed");
  }
  // QR is unique only up to the signs of R's diagonal; LAPACK's choice would skew the
  // distribution of Q away from Haar, so fix the signs to make diag(R) positive.
  for (arma::uword j = 0; j < tall_cols; ++j) {
    if (r(j, j) < 0.0) q.col(j) *= -1.0;
  }
  return wide ? arma::mat(q.t()) : q;
}

template <class T>
void init_orthogonal(arma::Mat<T>& w, Rng& rng, double gain) {
  if (w.is_empty()) throw std::invalid_argument("init_orthogonal: empty matrix");
  const arma::mat q = gain * random_orthogonal(w.n_rows, w.n_cols, rng);
  // Element-wise copy keeps w's memory (it may be a strict view into a parameter buffer).
  for (arma::uword i = 0; i < w.n_elem; ++i) w(i) = static_cast<T>(q(i));
}

template <class T>
void init_uniform(arma::Mat<T>& w, double bound, Rng& rng) {
  if (!(bound >= 0.0)) throw std::invalid_argument("init_uniform: bound must be >= 0");
  for (arma::uword i = 0; i < w.n_elem; ++i) {
    w(i) = static_cast<T>(bound * (2.0 * uniform01(rng) - 1.0));
  }
}

template <class T>
void init_xavier_uniform(arma::Mat<T>& w, Rng& rng, double gain) {
  if (w.is_empty()) throw std::invalid_argument("init_xavier_uniform: empty matrix");
  const double bound = gain * std::sqrt(6.0 / static_cast<double>(w.n_rows + w.n_cols));
  init_uniform(w, bound, rng);
}

template void init_orthogonal<float>(arma::Mat<float>&, Rng&, double);
template void init_orthogonal<double>(arma::Mat<double>&, Rng&, double);
template void init_xavier_uniform<float>(arma::Mat<float>&, Rng&, double);
template void init_xavier_uniform<double>(arma::Mat<double>&, Rng&, double);
template void init_uniform<float>(arma::Mat<float>&, double, Rng&);
template void init_uniform<double>(arma::Mat<double>&, double, Rng&);

}  // namespace seqlab::rnn
