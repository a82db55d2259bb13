// tests/unit/test_vector_math.cpp: the array nonlinearities of the RNN cells (vector_math.hpp)
// against double-precision references: exp within 2 ulp, tanh within 1 ulp, sigmoid within 3 ulp
// for |x| < 80 (and an absolute 1e-38 beyond, where it underflows), on every length from 0 to 40
// (so every tail of the 16- and 8-wide paths), with NaN passed through and the limits exact.
#include <cmath>
#include <cstdint>
#include <cstring>
#include <limits>
#include <vector>

#include "seqlab/core/vector_math.hpp"
#include "test_support.hpp"

using namespace seqlab;

namespace {

// Distance in units in the last place between a float and the float nearest to a reference.
std::int64_t ulps(float value, double reference) {
  const float nearest = static_cast<float>(reference);
  std::int32_t a = 0, b = 0;
  std::memcpy(&a, &value, sizeof a);
  std::memcpy(&b, &nearest, sizeof b);
  return std::abs(static_cast<std::int64_t>(a) - static_cast<std::int64_t>(b));
}

std::vector<float> sweep() {
  std::vector<float> x;
  for (float v = -95.0f; v < 95.0f; v += 0.00731f) x.push_back(v);
  return x;
}

}  // namespace

TEST_CASE("array exp, tanh and sigmoid stay within a few ulp of double references",
          "[rnn][vector-math]") {
  INFO("float path: " << vector_math_path());
  const std::vector<float> x = sweep();
  std::vector<float> e = x, t = x, s = x;
  for (float& v : e) v = std::min(v, 88.0f);  // exp(88) is the last finite float power here
  exp_inplace(e.data(), e.size());
  tanh_inplace(t.data(), t.size());
  sigmoid_inplace(s.data(), s.size());
  std::int64_t worst_exp = 0, worst_tanh = 0, worst_sigmoid = 0;
  double worst_tail = 0.0;
  for (std::size_t i = 0; i < x.size(); ++i) {
    const double xd = x[i];
    worst_exp = std::max(worst_exp, ulps(e[i], std::exp(std::min(xd, 88.0))));
    worst_tanh = std::max(worst_tanh, ulps(t[i], std::tanh(xd)));
    const double sigmoid = 1.0 / (1.0 + std::exp(-xd));
    if (std::abs(xd) < 80.0)
      worst_sigmoid = std::max(worst_sigmoid, ulps(s[i], sigmoid));
    else
      worst_tail = std::max(worst_tail, std::abs(s[i] - sigmoid));
  }
  CAPTURE(worst_exp, worst_tanh, worst_sigmoid, worst_tail);
  CHECK(worst_exp <= 2);
  CHECK(worst_tanh <= 1);
  CHECK(worst_sigmoid <= 3);
  CHECK(worst_tail < 1e-38);
}

TEST_CASE("array nonlinearities touch exactly n elements, pass NaN on and keep the limits",
          "[rnn][vector-math]") {
  const float nan = std::numeric_limits<float>::quiet_NaN();
  const float inf = std::numeric_limits<float>::infinity();
  for (std::size_t n = 0; n <= 40; ++n) {
    CAPTURE(n);
    std::vector<float> buffer(n + 2, 7.0f);  // guards on both sides
    for (std::size_t i = 1; i <= n; ++i) buffer[i] = 0.25f * static_cast<float>(i) - 3.0f;
    tanh_inplace(buffer.data() + 1, n);
    CHECK(buffer.front() == 7.0f);
    CHECK(buffer.back() == 7.0f);
    for (std::size_t i = 1; i <= n; ++i) CHECK(ulps(buffer[i], std::tanh(0.25 * i - 3.0)) <= 1);
    std::vector<float> from(n + 2, 7.0f), into(n + 2, -1.0f);
    for (std::size_t i = 1; i <= n; ++i) from[i] = 3.0f - 0.125f * static_cast<float>(i);
    tanh_into(from.data() + 1, into.data() + 1, n);
    CHECK(into.front() == -1.0f);
    CHECK(into.back() == -1.0f);
    for (std::size_t i = 1; i <= n; ++i) {
      CHECK(from[i] == 3.0f - 0.125f * static_cast<float>(i));  // the source is left alone
      CHECK(ulps(into[i], std::tanh(3.0 - 0.125 * i)) <= 1);
    }
  }
  std::vector<float> special{nan, inf, -inf, 0.0f, 100.0f, -100.0f};
  std::vector<float> s = special, t = special;
  sigmoid_inplace(s.data(), s.size());
  tanh_inplace(t.data(), t.size());
  CHECK(std::isnan(s[0]));
  CHECK(std::isnan(t[0]));
  CHECK(s[1] == 1.0f);
  CHECK(s[2] == 0.0f);
  CHECK(s[3] == 0.5f);
  CHECK(s[4] == 1.0f);
  CHECK(s[5] == 0.0f);
  CHECK(t[1] == 1.0f);
  CHECK(t[2] == -1.0f);
  CHECK(t[3] == 0.0f);
}

TEST_CASE("the double array functions are the scalar ones exactly", "[rnn][vector-math]") {
  std::vector<double> x;
  for (double v = -30.0; v < 30.0; v += 0.37) x.push_back(v);
  std::vector<double> s = x, t = x, e = x;
  sigmoid_inplace(s.data(), s.size());
  tanh_inplace(t.data(), t.size());
  exp_inplace(e.data(), e.size());
  for (std::size_t i = 0; i < x.size(); ++i) {
    CHECK(t[i] == std::tanh(x[i]));
    CHECK(e[i] == std::exp(x[i]));
    const double sigmoid = x[i] >= 0 ? 1.0 / (1.0 + std::exp(-x[i])) : std::exp(x[i]) / (1.0 + std::exp(x[i]));
    CHECK(s[i] == sigmoid);
  }
}

TEST_CASE("the sampling sigmoid is within 4 ulp of the scalar one, limits and NaN included",
          "[vector-math][rbm]") {
  std::vector<double> x = {-800.0, -745.0, -40.0, 0.0, 40.0, 800.0,
                           std::numeric_limits<double>::quiet_NaN()};
  for (double v = -36.0; v < 36.0; v += 0.173) x.push_back(v);
  // Lengths that exercise every tail of the 8- and 4-wide paths.
  for (std::size_t n : {std::size_t{1}, std::size_t{3}, std::size_t{7}, std::size_t{9}, x.size()}) {
    CAPTURE(n);
    std::vector<double> fast(x.begin(), x.begin() + static_cast<std::ptrdiff_t>(n));
    std::vector<double> exact = fast;
    sampling_sigmoid_inplace(fast.data(), n);
    sigmoid_inplace(exact.data(), n);
    for (std::size_t i = 0; i < n; ++i) {
      CAPTURE(x[i]);
      if (std::isnan(exact[i])) {
        CHECK(std::isnan(fast[i]));
        continue;
      }
      CHECK(fast[i] >= 0.0);
      CHECK(fast[i] <= 1.0);
      CHECK(std::abs(fast[i] - exact[i]) <= 4 * std::numeric_limits<double>::epsilon() * exact[i] + 1e-300);
    }
  }
}
