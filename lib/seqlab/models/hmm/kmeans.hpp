// seqlab/models/hmm/kmeans.hpp: k-means with k-means++ seeding, used to start Gaussian emissions
// near the data (Baum-Welch only finds a local optimum, so where it starts matters).
#pragma once

#include <armadillo>

#include "seqlab/core/rng.hpp"

namespace seqlab {

struct KMeansResult {
  arma::mat centres;       // d x k
  arma::uvec assignment;   // P: index of the nearest centre of each point
};

// Requires points d x P, 1 <= k <= P, all finite (else std::invalid_argument).
// Ensures: k centres seeded by k-means++ (first uniform, then each point drawn with probability
// proportional to its squared distance to the nearest chosen centre; uniform if all are 0),
// refined by at most `iterations` Lloyd steps (stops early when no assignment changes); a
// cluster that empties keeps its centre. Deterministic given rng.
// Cost: O(iterations P k d).
KMeansResult kmeans(const arma::mat& points, arma::uword k, arma::uword iterations, Rng& rng);

}  // namespace seqlab
