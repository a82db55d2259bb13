// seqlab/core/logmath.hpp: natural-log helpers. All likelihoods inside seqlab are natural logs
// (nats); conversion to bits happens only when reporting.
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>

namespace seqlab {

inline constexpr double kLn2 = 0.69314718055994530941723212145818;
inline constexpr double kNegInf = -std::numeric_limits<double>::infinity();

inline double nats_to_bits(double nats) { return nats / kLn2; }

// log(exp(a) + exp(b)) without overflow; exact when either side is -inf.
inline double log_add_exp(double a, double b) {
  if (a == kNegInf) return b;
  if (b == kNegInf) return a;
  const double m = std::max(a, b);
  return m + std::log1p(std::exp(-std::abs(a - b)));
}

// log(1 + e^x) without overflow or loss for large |x|.
inline double softplus(double x) {
  return x > 0.0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
}

// 1 / (1 + e^-x): e^-x overflows to +inf for x < -709 and the quotient is then exactly 0.
// (Arrays: core/vector_math.hpp.)
inline double sigmoid(double x) { return 1.0 / (1.0 + std::exp(-x)); }

// log(sum_i exp(x_i)) over any range with begin/end of doubles. -inf for an empty range.
template <class It>
double log_sum_exp(It first, It last) {
  if (first == last) return kNegInf;
  const double m = *std::max_element(first, last);
  if (m == kNegInf) return kNegInf;
  if (!std::isfinite(m)) return m;
  double s = 0.0;
  for (It it = first; it != last; ++it) s += std::exp(*it - m);
  return m + std::log(s);
}

}  // namespace seqlab
