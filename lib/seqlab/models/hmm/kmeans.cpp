// seqlab/models/hmm/kmeans.cpp: k-means++ seeding and Lloyd iterations (see kmeans.hpp).
#include "seqlab/models/hmm/kmeans.hpp"

#include <limits>
#include <stdexcept>

namespace seqlab {

namespace {

double squared_distance(const arma::mat& a, arma::uword i, const arma::mat& b, arma::uword j) {
  double s = 0.0;
  for (arma::uword r = 0; r < a.n_rows; ++r) {
    const double diff = a(r, i) - b(r, j);
    s += diff * diff;
  }
  return s;
}

// Nearest centre of every point; returns whether any assignment changed.
bool assign(const arma::mat& points, const arma::mat& centres, arma::uvec& assignment) {
  bool changed = false;
  for (arma::uword p = 0; p < points.n_cols; ++p) {
    arma::uword best = 0;
    double best_distance = std::numeric_limits<double>::infinity();
    for (arma::uword c = 0; c < centres.n_cols; ++c) {
      const double dist = squared_distance(points, p, centres, c);
      if (dist < best_distance) best_distance = dist, best = c;
    }
    if (assignment(p) != best) changed = true;
    assignment(p) = best;
  }
  return changed;
}

}  // namespace

KMeansResult kmeans(const arma::mat& points, arma::uword k, arma::uword iterations, Rng& rng) {
  if (k == 0 || k > points.n_cols || !points.is_finite())
    throw std::invalid_argument("kmeans: needs 1 <= k <= number of points, finite points");
  KMeansResult result;
  result.centres.set_size(points.n_rows, k);
  result.centres.col(0) = points.col(uniform_index(rng, points.n_cols));
  arma::vec nearest(points.n_cols);
  for (arma::uword p = 0; p < points.n_cols; ++p)
    nearest(p) = squared_distance(points, p, result.centres, 0);
  for (arma::uword c = 1; c < k; ++c) {
    const arma::uword pick = arma::accu(nearest) > 0.0 ? sample_categorical(nearest, rng)
                                                       : uniform_index(rng, points.n_cols);
    result.centres.col(c) = points.col(pick);
    for (arma::uword p = 0; p < points.n_cols; ++p)
      nearest(p) = std::min(nearest(p), squared_distance(points, p, result.centres, c));
  }
  result.assignment.set_size(points.n_cols);
  result.assignment.fill(k);  // no cluster yet: the first assign() counts as a change
  for (arma::uword it = 0; it < iterations; ++it) {
    if (!assign(points, result.centres, result.assignment)) break;
    arma::mat sums(points.n_rows, k, arma::fill::zeros);
    arma::vec counts(k, arma::fill::zeros);
    for (arma::uword p = 0; p < points.n_cols; ++p) {
      sums.col(result.assignment(p)) += points.col(p);
      counts(result.assignment(p)) += 1.0;
    }
    for (arma::uword c = 0; c < k; ++c)
      if (counts(c) > 0) result.centres.col(c) = sums.col(c) / counts(c);
  }
  assign(points, result.centres, result.assignment);
  return result;
}

}  // namespace seqlab
