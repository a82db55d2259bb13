// seqlab/core/rng.cpp: explicit, portable random draws.
#include "seqlab/core/rng.hpp"

#include <cmath>
#include <stdexcept>

namespace seqlab {

Rng make_rng(std::uint64_t seed) { return Rng(seed); }

std::uint64_t derive_seed(std::uint64_t seed, std::uint64_t index) {
  std::uint64_t z = seed + 0x9E3779B97F4A7C15ULL * (index + 1);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

double uniform01(Rng& rng) { return static_cast<double>(rng() >> 11) * 0x1.0p-53; }

std::uint64_t uniform_index(Rng& rng, std::uint64_t n) {
  if (n == 0) throw std::invalid_argument("uniform_index: n must be positive");
  const std::uint64_t limit = UINT64_MAX - UINT64_MAX % n;
  std::uint64_t x;
  do {
    x = rng();
  } while (x >= limit);
  return x % n;
}

double standard_normal(Rng& rng) {
  double u, v, s;
  do {
    u = 2.0 * uniform01(rng) - 1.0;
    v = 2.0 * uniform01(rng) - 1.0;
    s = u * u + v * v;
  } while (s >= 1.0 || s == 0.0);
  return u * std::sqrt(-2.0 * std::log(s) / s);
}

arma::uword sample_categorical(const arma::vec& p, Rng& rng) {
  const double total = arma::accu(p);
  if (!(total > 0.0) || !std::isfinite(total))
    throw std::invalid_argument("sample_categorical: weights must have a positive finite sum");
  const double u = uniform01(rng) * total;
  double c = 0.0;
  for (arma::uword i = 0; i < p.n_elem; ++i) {
    c += p(i);
    if (u < c) return i;
  }
  // Rounding left u at the very top: return the last index with positive weight.
  for (arma::uword i = p.n_elem; i-- > 0;)
    if (p(i) > 0.0) return i;
  return p.n_elem - 1;
}

arma::uvec random_permutation(arma::uword n, Rng& rng) {
  arma::uvec perm = arma::regspace<arma::uvec>(0, n == 0 ? 0 : n - 1);
  if (n == 0) return arma::uvec();
  for (arma::uword i = n - 1; i > 0; --i) std::swap(perm(i), perm(uniform_index(rng, i + 1)));
  return perm;
}

namespace {
// log of a Gamma(shape) draw for shape >= 1 (Marsaglia & Tsang 2000). Working in logs lets the
// shape < 1 boost below add log(U)/shape without underflowing.
double log_gamma_draw_at_least_one(double shape, Rng& rng) {
  const double d = shape - 1.0 / 3.0;
  const double c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    const double x = standard_normal(rng);
    const double t = 1.0 + c * x;
    if (t <= 0.0) continue;
    const double v = t * t * t;
    const double u = 1.0 - uniform01(rng);  // (0, 1], so log(u) is finite
    const double x2 = x * x;
    if (u < 1.0 - 0.0331 * x2 * x2) return std::log(d * v);
    if (std::log(u) < 0.5 * x2 + d * (1.0 - v + std::log(v))) return std::log(d * v);
  }
}

double log_gamma_draw(double shape, Rng& rng) {
  if (!(shape > 0.0) || !std::isfinite(shape))
    throw std::invalid_argument("sample_gamma: shape must be positive and finite");
  if (shape >= 1.0) return log_gamma_draw_at_least_one(shape, rng);
  // Gamma(a) = Gamma(a + 1) * U^(1/a) for U uniform on (0, 1].
  const double boosted = log_gamma_draw_at_least_one(shape + 1.0, rng);
  const double u = 1.0 - uniform01(rng);
  return boosted + std::log(u) / shape;
}
}  // namespace

double sample_gamma(double shape, Rng& rng) { return std::exp(log_gamma_draw(shape, rng)); }

arma::vec sample_dirichlet(const arma::vec& concentration, Rng& rng) {
  if (concentration.n_elem == 0)
    throw std::invalid_argument("sample_dirichlet: concentration must not be empty");
  arma::vec log_draws(concentration.n_elem);
  for (arma::uword i = 0; i < concentration.n_elem; ++i)
    log_draws(i) = log_gamma_draw(concentration(i), rng);
  arma::vec p = arma::exp(log_draws - log_draws.max());
  p /= arma::accu(p);
  return p;
}

}  // namespace seqlab
