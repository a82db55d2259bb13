// seqlab/core/rng.hpp: the one random-number generator type, passed explicitly everywhere.
//
// Same seed, same build => same numbers. No function in seqlab draws randomness from a hidden
// global; every random choice takes an `Rng&`. The draws below are written out (not the
// implementation-defined std:: distributions) so streams are stable across standard libraries.
#pragma once

#include <armadillo>
#include <cstdint>
#include <random>

namespace seqlab {

using Rng = std::mt19937_64;

// Ensures: a generator whose stream is a pure function of `seed`.
Rng make_rng(std::uint64_t seed);

// Derives an independent child seed for stream `index` of `seed` (splitmix64 mixing), so that
// e.g. restart r or thread t gets its own reproducible stream.
std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index);

// Uniform double in [0, 1) with 53 random bits.
double uniform01(Rng& rng);

// Uniform integer in [0, n). Requires n > 0. Unbiased (rejection sampling).
std::uint64_t uniform_index(Rng& rng, std::uint64_t n);

// Standard normal draw (Marsaglia polar method).
double standard_normal(Rng& rng);

// Requires: p non-negative with positive finite sum (need not be normalised).
// Ensures: index i drawn with probability p(i) / sum(p). Cost O(size).
arma::uword sample_categorical(const arma::vec& p, Rng& rng);

// Fisher-Yates permutation of 0..n-1.
arma::uvec random_permutation(arma::uword n, Rng& rng);

// Requires: shape > 0 and finite (else std::invalid_argument).
// Ensures: a Gamma(shape, scale 1) draw (mean = variance = shape), by Marsaglia & Tsang's
// squeeze-and-reject method; for shape < 1 a Gamma(shape + 1) draw is scaled by U^(1/shape).
// The result may underflow to 0 for very small shapes (use sample_dirichlet, which does not).
// Cost: O(1) expected (about 1.03 normal draws per accepted value when shape >= 1).
double sample_gamma(double shape, Rng& rng);

// Requires: every concentration > 0 and finite, at least one element (else std::invalid_argument).
// Ensures: a draw from Dirichlet(concentration): non-negative, sums to 1 within a few ulps,
// mean concentration / sum(concentration). Computed from log-Gamma draws so that tiny
// concentrations (e.g. 0.01) still give a normalised vector. Cost O(size).
arma::vec sample_dirichlet(const arma::vec& concentration, Rng& rng);

}  // namespace seqlab
