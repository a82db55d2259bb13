// tests/unit/test_emissions.cpp: HMM emissions over real vectors and binary frames (Gaussian
// diagonal / full, diagonal GMM, Bernoulli) against direct formulas, hand-computed weighted
// estimates, sampling moments and file round trips.
#include <H5Cpp.h>

#include <cmath>
#include <numbers>

#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/models/hmm/bernoulli.hpp"
#include "seqlab/models/hmm/gaussian.hpp"
#include "seqlab/models/hmm/gmm.hpp"
#include "seqlab/models/hmm/kmeans.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

using Long = long double;
const Long kTwoPi = 2.0L * std::numbers::pi_v<long double>;

arma::mat uniform_mat(arma::uword rows, arma::uword cols, Rng& rng, double lo, double hi) {
  arma::mat m(rows, cols);
  for (auto& v : m) v = lo + (hi - lo) * uniform01(rng);
  return m;
}

// log N(x; mu, diag var), one term per dimension, in long double.
Long direct_diag(const arma::vec& x, const arma::vec& mu, const arma::vec& var) {
  Long sum = 0;
  for (arma::uword k = 0; k < x.n_elem; ++k) {
    const Long z = static_cast<Long>(x(k)) - mu(k);
    sum += -0.5L * std::log(kTwoPi * var(k)) - 0.5L * z * z / var(k);
  }
  return sum;
}

// The 2-D Gaussian density written out with standard deviations and correlation.
double direct_2d(double x1, double x2, double m1, double m2, double s1, double s2, double rho) {
  const Long z1 = (static_cast<Long>(x1) - m1) / s1, z2 = (static_cast<Long>(x2) - m2) / s2;
  const Long one_minus = 1.0L - static_cast<Long>(rho) * rho;
  const Long density = std::exp(-(z1 * z1 - 2.0L * rho * z1 * z2 + z2 * z2) / (2.0L * one_minus)) /
                       (kTwoPi * s1 * s2 * std::sqrt(one_minus));
  return static_cast<double>(std::log(density));
}

// Weighted mean and (biased, weights-normalised) variance of the rows of x, two-pass.
void weighted_moments(const arma::mat& x, const arma::rowvec& w, arma::vec& mean, arma::vec& var) {
  const Long total = arma::accu(w);
  mean.set_size(x.n_rows);
  var.set_size(x.n_rows);
  for (arma::uword k = 0; k < x.n_rows; ++k) {
    Long s = 0;
    for (arma::uword t = 0; t < x.n_cols; ++t) s += static_cast<Long>(w(t)) * x(k, t);
    const Long m = s / total;
    Long q = 0;
    for (arma::uword t = 0; t < x.n_cols; ++t) q += w(t) * (x(k, t) - m) * (x(k, t) - m);
    mean(k) = static_cast<double>(m);
    var(k) = static_cast<double>(q / total);
  }
}

template <class E>
arma::mat all_log_probs(const E& e, const arma::mat& x) {
  arma::mat out;
  e.log_probs(x, 0, x.n_cols, out);
  return out;
}

bool bitwise_equal(const arma::mat& a, const arma::mat& b) {
  if (a.n_rows != b.n_rows || a.n_cols != b.n_cols) return false;
  for (arma::uword i = 0; i < a.n_elem; ++i)
    if (!(a[i] == b[i] || (std::isnan(a[i]) && std::isnan(b[i])))) return false;
  return true;
}

// Saves `e` in the root group of a fresh file (as a model file does) and loads it back into a
// default-constructed E.
template <class E>
E round_trip(const E& e, const std::filesystem::path& file) {
  {
    H5::H5File f(file.string(), H5F_ACC_TRUNC);
    H5::Group root = f.openGroup("/");
    e.save(root);
  }
  H5::H5File f(file.string(), H5F_ACC_RDONLY);
  E loaded;
  loaded.load(f.openGroup("/"));
  return loaded;
}

// Writes the given matrices as datasets of group "emission" (for malformed files).
void write_group(const std::filesystem::path& file,
                 const std::vector<std::pair<std::string, arma::mat>>& datasets) {
  H5::H5File f(file.string(), H5F_ACC_TRUNC);
  H5::Group g = f.createGroup("emission");
  for (const auto& [name, m] : datasets) h5::write_mat(g, name, m);
}

template <class E>
std::string load_error(const std::filesystem::path& file) {
  H5::H5File f(file.string(), H5F_ACC_RDONLY);
  E e;
  try {
    e.load(f.openGroup("/"));
  } catch (const UserError& error) {
    return error.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("diagonal Gaussian log_probs equal the per-element formula", "[emission]") {
  const arma::uword d = GENERATE(1, 3, 7);
  const double offset = GENERATE(0.0, 100.0);
  CAPTURE(d, offset);
  Rng rng = make_rng(11 + d);
  const arma::uword n = 4, t_len = 40;
  const arma::mat means = uniform_mat(d, n, rng, offset - 3, offset + 3);
  const arma::mat variances = uniform_mat(d, n, rng, 0.2, 3.0);
  const arma::mat x = uniform_mat(d, t_len, rng, offset - 5, offset + 5);
  const GaussianDiagEmission e(means, variances);

  arma::mat expected(n, t_len);
  for (arma::uword i = 0; i < n; ++i)
    for (arma::uword t = 0; t < t_len; ++t)
      expected(i, t) = static_cast<double>(direct_diag(x.col(t), means.col(i), variances.col(i)));
  CHECK_THAT(all_log_probs(e, x), test::IsNear(expected, 1e-12, 1e-12));

  SECTION("a window [begin, end) scores exactly those columns, reusing the output") {
    arma::mat out(n, 12);
    const double* before = out.memptr();
    e.log_probs(x, 5, 17, out);
    CHECK(out.memptr() == before);
    CHECK_THAT(out, test::IsNear(expected.cols(5, 16), 1e-12, 1e-12));
    e.log_probs(x, 7, 7, out);
    CHECK(out.n_rows == n);
    CHECK(out.n_cols == 0);
  }
  CHECK(e.name() == "gaussian_diag");
  CHECK(e.num_parameters() == 2 * d * n);
}

TEST_CASE("full-covariance Gaussian log_probs", "[emission]") {
  Rng rng = make_rng(5);
  SECTION("a diagonal covariance gives the diagonal emission's values") {
    const arma::uword d = 4, n = 3;
    const arma::mat means = uniform_mat(d, n, rng, -2, 2);
    const arma::mat variances = uniform_mat(d, n, rng, 0.3, 2.0);
    arma::cube covariances(d, d, n);
    for (arma::uword i = 0; i < n; ++i) covariances.slice(i) = arma::diagmat(variances.col(i));
    const arma::mat x = uniform_mat(d, 30, rng, -4, 4);
    const GaussianFullEmission full(means, covariances);
    const GaussianDiagEmission diag(means, variances);
    CHECK_THAT(all_log_probs(full, x), test::IsNear(all_log_probs(diag, x), 1e-12, 1e-12));
    CHECK(full.num_parameters() == n * (d + d * (d + 1) / 2));
    CHECK(full.name() == "gaussian_full");
  }
  SECTION("a correlated 2-D Gaussian matches the density written out by hand") {
    // State 0: sd (1.5, 0.5), correlation 0.8; state 1: sd (0.7, 2.0), correlation -0.3.
    const double s[2][2] = {{1.5, 0.5}, {0.7, 2.0}}, rho[2] = {0.8, -0.3};
    const arma::mat means = {{1.0, -2.0}, {0.5, 3.0}};
    arma::cube covariances(2, 2, 2);
    for (int i = 0; i < 2; ++i)
      covariances.slice(i) = arma::mat{{s[i][0] * s[i][0], rho[i] * s[i][0] * s[i][1]},
                                       {rho[i] * s[i][0] * s[i][1], s[i][1] * s[i][1]}};
    const GaussianFullEmission e(means, covariances);
    const arma::mat x = uniform_mat(2, 25, rng, -5, 5);
    const arma::mat got = all_log_probs(e, x);
    for (arma::uword i = 0; i < 2; ++i)
      for (arma::uword t = 0; t < x.n_cols; ++t) {
        CAPTURE(i, t);
        CHECK_THAT(got(i, t), WithinRel(direct_2d(x(0, t), x(1, t), means(0, i), means(1, i),
                                                  s[i][0], s[i][1], rho[i]),
                                        1e-12));
      }
  }
}

TEST_CASE("diagonal GMM log_probs are the log of the weighted sum of densities", "[emission]") {
  Rng rng = make_rng(21);
  const arma::uword d = 3, n = 2, k_count = 3;
  arma::mat weights = uniform_mat(k_count, n, rng, 0.1, 1.0);
  weights.each_row() /= arma::sum(weights, 0);
  const arma::mat means = uniform_mat(d, n * k_count, rng, -3, 3);
  const arma::mat variances = uniform_mat(d, n * k_count, rng, 0.3, 2.0);
  const GmmDiagEmission e(weights, means, variances);
  CHECK(e.name() == "gmm_diag");
  CHECK(e.num_parameters() == n * (k_count - 1 + 2 * k_count * d));

  arma::mat x = uniform_mat(d, 20, rng, -4, 4);
  x.col(19).fill(400.0);  // far from every component: densities underflow, their log does not
  const arma::mat got = all_log_probs(e, x);
  for (arma::uword i = 0; i < n; ++i)
    for (arma::uword t = 0; t < x.n_cols; ++t) {
      // log sum_k w_k N_k, by factoring out the largest term (long double).
      std::vector<Long> terms;
      for (arma::uword k = 0; k < k_count; ++k)
        terms.push_back(std::log(static_cast<Long>(weights(k, i))) +
                        direct_diag(x.col(t), means.col(i * k_count + k),
                                    variances.col(i * k_count + k)));
      const Long top = *std::max_element(terms.begin(), terms.end());
      Long sum = 0;
      for (Long v : terms) sum += std::exp(v - top);
      CAPTURE(i, t);
      CHECK_THAT(got(i, t), WithinRel(static_cast<double>(top + std::log(sum)), 1e-12));
    }
}

TEST_CASE("Bernoulli log_probs equal the per-unit formula, -inf only when impossible",
          "[emission]") {
  Rng rng = make_rng(8);
  const arma::uword d = 9, n = 3, t_len = 30;
  arma::mat p = uniform_mat(d, n, rng, 0.05, 0.95);
  p(0, 2) = 0.0;  // state 2: unit 0 never on, unit 1 always on
  p(1, 2) = 1.0;
  const BernoulliEmission e(p);
  CHECK(e.name() == "bernoulli");
  CHECK(e.num_parameters() == d * n);
  arma::mat x = arma::conv_to<arma::mat>::from(uniform_mat(d, t_len, rng, 0, 1) < 0.5);
  x(0, 3) = 0.0, x(1, 3) = 1.0;  // step 3 is possible in state 2
  x(0, 4) = 1.0;                 // step 4 is not

  const arma::mat got = all_log_probs(e, x);
  for (arma::uword i = 0; i < n; ++i)
    for (arma::uword t = 0; t < t_len; ++t) {
      Long sum = 0;
      for (arma::uword k = 0; k < d; ++k)
        sum += x(k, t) == 1.0 ? std::log(static_cast<Long>(p(k, i)))
                              : std::log(1.0L - static_cast<Long>(p(k, i)));
      CAPTURE(i, t);
      if (std::isinf(sum)) {
        CHECK(got(i, t) == -std::numeric_limits<double>::infinity());
      } else {
        CHECK_THAT(got(i, t), WithinRel(static_cast<double>(sum), 1e-12));
      }
    }
  CHECK(std::isfinite(got(2, 3)));
  CHECK(got(2, 4) == -std::numeric_limits<double>::infinity());
}

TEST_CASE("M-step gives the weighted estimates; statistics merge exactly", "[emission]") {
  // Five 2-D observations, two states with hand-chosen posteriors.
  const arma::mat x = {{1.0, 2.0, 4.0, -1.0, 3.5}, {10.0, 12.5, 11.0, 9.0, 10.5}};
  const arma::mat gamma = {{0.9, 0.2, 0.5, 1.0, 0.3}, {0.1, 0.8, 0.5, 0.0, 0.7}};
  const EmissionPrior prior{.pseudo_count = 0.0, .variance_floor = 1e-9};

  SECTION("diagonal Gaussian") {
    GaussianDiagEmission e(arma::mat(2, 2, arma::fill::zeros), arma::mat(2, 2, arma::fill::ones));
    auto whole = e.make_stats();
    e.accumulate(x, gamma, whole);
    auto halves = e.make_stats(), second = e.make_stats();
    e.accumulate(x.cols(0, 2), gamma.cols(0, 2), halves);
    e.accumulate(x.cols(3, 4), gamma.cols(3, 4), second);
    halves += second;
    CHECK_THAT(halves.mass, test::IsNear(whole.mass, 1e-14));
    CHECK_THAT(halves.sum_x, test::IsNear(whole.sum_x, 1e-14));
    CHECK_THAT(halves.sum_xx, test::IsNear(whole.sum_xx, 1e-14));
    e.maximize(halves, prior);
    for (arma::uword i = 0; i < 2; ++i) {
      arma::vec mean, var;
      weighted_moments(x, gamma.row(i), mean, var);
      CHECK_THAT(e.means().col(i), test::IsNear(mean, 1e-13));
      CHECK_THAT(e.variances().col(i), test::IsNear(var, 1e-12));
    }
    SECTION("clear() zeroes the sums") {
      halves.clear();
      CHECK(arma::accu(arma::abs(halves.sum_xx)) == 0.0);
      CHECK(arma::accu(halves.mass) == 0.0);
    }
  }
  SECTION("full Gaussian: weighted mean and covariance") {
    arma::cube identity(2, 2, 2);
    identity.each_slice() = arma::eye(2, 2);
    GaussianFullEmission e(arma::mat(2, 2, arma::fill::zeros), identity);
    auto halves = e.make_stats(), second = e.make_stats(), whole = e.make_stats();
    e.accumulate(x, gamma, whole);
    e.accumulate(x.cols(0, 1), gamma.cols(0, 1), halves);
    e.accumulate(x.cols(2, 4), gamma.cols(2, 4), second);
    halves += second;
    for (arma::uword i = 0; i < 2; ++i)
      CHECK_THAT(arma::mat(halves.sum_xx.slice(i)), test::IsNear(whole.sum_xx.slice(i), 1e-14));
    e.maximize(halves, prior);
    for (arma::uword i = 0; i < 2; ++i) {
      arma::vec mean, var;
      weighted_moments(x, gamma.row(i), mean, var);
      const double total = arma::accu(gamma.row(i));
      double cov = 0;
      for (arma::uword t = 0; t < x.n_cols; ++t)
        cov += gamma(i, t) * (x(0, t) - mean(0)) * (x(1, t) - mean(1));
      cov /= total;
      const arma::mat expected = {{var(0), cov}, {cov, var(1)}};
      CAPTURE(i);
      CHECK_THAT(e.means().col(i), test::IsNear(mean, 1e-13));
      CHECK_THAT(arma::mat(e.covariances().slice(i)), test::IsNear(expected, 1e-12, 1e-13));
    }
  }
  SECTION("Bernoulli with pseudo-counts") {
    const arma::mat frames = {{1, 0, 1, 1, 0}, {0, 0, 0, 0, 0}, {1, 1, 1, 1, 1}};
    BernoulliEmission e(arma::mat(3, 2, arma::fill::value(0.5)));
    auto whole = e.make_stats(), halves = e.make_stats(), second = e.make_stats();
    e.accumulate(frames, gamma, whole);
    e.accumulate(frames.cols(0, 0), gamma.cols(0, 0), halves);
    e.accumulate(frames.cols(1, 4), gamma.cols(1, 4), second);
    halves += second;
    CHECK_THAT(halves.sum_x, test::IsNear(whole.sum_x, 1e-14));
    const double a = 0.5;
    e.maximize(halves, EmissionPrior{.pseudo_count = a});
    // State 0: mass 2.9; on-counts 0.9 + 0.5 + 1.0 = 2.4 (unit 0), 0 (unit 1), 2.9 (unit 2).
    CHECK_THAT(e.probabilities()(0, 0), WithinRel((2.4 + a) / (2.9 + 2 * a), 1e-14));
    CHECK_THAT(e.probabilities()(1, 0), WithinRel(a / (2.9 + 2 * a), 1e-14));
    CHECK_THAT(e.probabilities()(2, 0), WithinRel((2.9 + a) / (2.9 + 2 * a), 1e-14));
    // State 1: mass 2.1; unit 0 on at steps 0 and 2: 0.1 + 0.5.
    CHECK_THAT(e.probabilities()(0, 1), WithinRel((0.6 + a) / (2.1 + 2 * a), 1e-14));
    SECTION("without pseudo-counts p hits 0 and 1 exactly") {
      e.maximize(whole, EmissionPrior{.pseudo_count = 0.0});
      CHECK(e.probabilities()(1, 0) == 0.0);
      CHECK(e.probabilities()(2, 0) == 1.0);
      arma::mat out;
      e.log_probs(frames, 0, 5, out);
      CHECK(out.is_finite());  // the training frames are all possible
    }
  }
}

TEST_CASE("means far apart next to their variances are scored and estimated term by term",
          "[emission]") {
  // States 1e6 apart with variances 1e-6: (mu - centre)^2 / v is 2.5e17, so the expanded
  // (GEMM) form would carry an error of about 50 nats, either sign, and its moments about the
  // common centre would lose the variance entirely (2.5e11 - 2.5e11).
  const arma::mat means = {{0.0, 1e6}, {5.0, -5.0}};
  const arma::mat variances = {{1e-6, 1e-6}, {1.0, 4.0}};
  const arma::mat x = {{1e-3, 1e6 + 1e-3, 1e6 - 2e-3, 1e6, 0.5e6},
                       {5.5, -4.0, -6.0, -5.0, 0.0}};
  arma::mat expected(2, x.n_cols);
  for (arma::uword i = 0; i < 2; ++i)
    for (arma::uword t = 0; t < x.n_cols; ++t)
      expected(i, t) = static_cast<double>(direct_diag(x.col(t), means.col(i), variances.col(i)));

  SECTION("diagonal Gaussian") {
    const GaussianDiagEmission e(means, variances);
    CHECK_THAT(all_log_probs(e, x), test::IsNear(expected, 1e-12, 1e-9));
  }
  SECTION("diagonal mixture: one state of two components") {
    const GmmDiagEmission e(arma::mat(arma::vec{0.25, 0.75}), means, variances);
    const arma::mat got = all_log_probs(e, x);
    for (arma::uword t = 0; t < x.n_cols; ++t) {
      const double a = std::log(0.25) + expected(0, t), b = std::log(0.75) + expected(1, t);
      const double hi = std::max(a, b);
      CAPTURE(t);
      CHECK_THAT(got(0, t), WithinRel(hi + std::log1p(std::exp(std::min(a, b) - hi)), 1e-12));
    }
  }
  SECTION("moments about each state's own mean keep the variance") {
    GaussianDiagEmission e(means, variances);
    auto s = e.make_stats();
    // State 1 gets the three points near 1e6, state 0 the first point and the midpoint.
    const arma::mat gamma = {{1, 0, 0, 0, 1}, {0, 1, 1, 1, 0}};
    e.accumulate(x, gamma, s);
    e.maximize(s, EmissionPrior{.pseudo_count = 0.0, .variance_floor = 1e-12});
    arma::vec mean, var;
    weighted_moments(x, gamma.row(1), mean, var);
    CHECK_THAT(e.means()(0, 1), WithinRel(mean(0), 1e-15));
    CHECK_THAT(e.variances()(0, 1), WithinRel(var(0), 1e-9));  // 1.5556e-6
    CHECK_THAT(e.variances()(1, 1), WithinRel(var(1), 1e-12));
    weighted_moments(x, gamma.row(0), mean, var);
    CHECK_THAT(e.variances()(0, 0), WithinRel(var(0), 1e-9));
  }
}

TEST_CASE("variance floor and states without mass", "[emission]") {
  // Dimension 1 is constant: its MLE variance is 0 and must come out as the floor.
  const arma::mat x = {{1.0, 2.0, 3.0, 4.0}, {5.0, 5.0, 5.0, 5.0}};
  arma::mat gamma(2, 4, arma::fill::zeros);
  gamma.row(0).ones();  // state 1 gets no mass at all
  const EmissionPrior prior{.pseudo_count = 1.0, .variance_floor = 0.01};

  SECTION("diagonal") {
    const arma::mat means0 = {{0.0, 7.0}, {0.0, -7.0}}, vars0 = {{1.0, 2.0}, {1.0, 3.0}};
    GaussianDiagEmission e(means0, vars0);
    auto s = e.make_stats();
    e.accumulate(x, gamma, s);
    e.maximize(s, prior);
    CHECK_THAT(e.variances()(0, 0), WithinRel(1.25, 1e-14));
    CHECK(e.variances()(1, 0) == 0.01);
    CHECK(arma::all(e.means().col(1) == means0.col(1)));
    CHECK(arma::all(e.variances().col(1) == vars0.col(1)));
  }
  SECTION("full: eigenvalues raised to the floor, result positive definite") {
    arma::cube c0(2, 2, 2);
    c0.slice(0) = arma::eye(2, 2);
    c0.slice(1) = arma::mat{{2.0, 0.5}, {0.5, 1.0}};
    GaussianFullEmission e(arma::mat{{0.0, 7.0}, {0.0, -7.0}}, c0);
    auto s = e.make_stats();
    // Points on a line (rank-1 covariance).
    const arma::mat line = {{1.0, 2.0, 3.0, 4.0}, {2.0, 4.0, 6.0, 8.0}};
    e.accumulate(line, gamma, s);
    e.maximize(s, prior);
    const arma::vec eigenvalues = arma::eig_sym(arma::mat(e.covariances().slice(0)));
    CHECK_THAT(eigenvalues(0), WithinRel(0.01, 1e-10));
    CHECK_THAT(eigenvalues(1), WithinRel(1.25 * 5.0, 1e-12));  // 1.25 (1 + 2^2)
    CHECK(arma::all(arma::vectorise(e.covariances().slice(1) == c0.slice(1))));
    arma::mat out;
    e.log_probs(line, 0, 4, out);
    CHECK(out.is_finite());
  }
  SECTION("Bernoulli and GMM keep a massless state") {
    const arma::mat p0 = {{0.3, 0.6}, {0.2, 0.9}};
    BernoulliEmission b(p0);
    auto bs = b.make_stats();
    b.accumulate(arma::mat{{1, 0, 1, 1}, {0, 0, 1, 0}}, gamma, bs);
    b.maximize(bs, prior);
    CHECK(arma::all(b.probabilities().col(1) == p0.col(1)));
    CHECK_THAT(b.probabilities()(0, 0), WithinRel(4.0 / 6.0, 1e-14));

    const arma::mat w0 = {{0.5, 0.25}, {0.5, 0.75}};
    const arma::mat m0 = {{0, 1, 2, 3}, {0, 1, 2, 3}}, v0 = {{1, 2, 3, 4}, {1, 2, 3, 4}};
    GmmDiagEmission g(w0, m0, v0);
    auto gs = g.make_stats();
    g.accumulate(x, gamma, gs);
    g.maximize(gs, prior);
    CHECK(arma::all(g.weights().col(1) == w0.col(1)));
    CHECK(arma::all(arma::vectorise(g.means().cols(2, 3) == m0.cols(2, 3))));
    CHECK(arma::all(arma::vectorise(g.variances().cols(2, 3) == v0.cols(2, 3))));
    CHECK(arma::all(g.variances().row(1).cols(0, 1) >= 0.01));
  }
}

TEST_CASE("GMM EM recovers a known two-component mixture", "[emission]") {
  // Truth: one state, w = (0.3, 0.7), means (-2, 1) and (3, -1), variances (0.5, 1) and (1, 0.25).
  const arma::mat w_true = arma::vec{0.3, 0.7};
  const arma::mat m_true = {{-2.0, 3.0}, {1.0, -1.0}}, v_true = {{0.5, 1.0}, {1.0, 0.25}};
  const GmmDiagEmission truth(w_true, m_true, v_true);
  Rng rng = make_rng(2024);
  const arma::uword t_len = 20000;
  arma::mat x(2, t_len);
  for (arma::uword t = 0; t < t_len; ++t) x.col(t) = truth.sample(0, rng);

  GmmDiagEmission model(arma::mat(arma::vec{0.5, 0.5}), arma::mat{{-1.0, 1.0}, {0.0, 0.0}},
                        arma::mat(2, 2, arma::fill::ones));
  const arma::mat gamma(1, t_len, arma::fill::ones);
  double previous = -std::numeric_limits<double>::infinity();
  for (int iteration = 0; iteration < 60; ++iteration) {
    auto s = model.make_stats();
    model.accumulate(x, gamma, s);
    model.maximize(s, EmissionPrior{});
    const double ll = arma::accu(all_log_probs(model, x));
    CAPTURE(iteration);
    CHECK(ll >= previous - 1e-9 * std::abs(ll));  // EM never decreases the likelihood
    previous = ll;
  }
  // Tolerances: about 5 standard errors with 6,000 / 14,000 points per component
  // (weight: sqrt(0.21 / 20000) = 0.0032; means: sqrt(v / n) <= 0.013; variances v sqrt(2/n)).
  CHECK_THAT(model.weights()(0, 0), WithinAbs(0.3, 0.016));
  CHECK_THAT(model.means(), test::IsNear(m_true, 0.0, 0.065));
  CHECK_THAT(model.variances()(0, 0), WithinAbs(0.5, 0.05));
  CHECK_THAT(model.variances()(1, 0), WithinAbs(1.0, 0.1));
  CHECK_THAT(model.variances()(0, 1), WithinAbs(1.0, 0.06));
  CHECK_THAT(model.variances()(1, 1), WithinAbs(0.25, 0.015));
}

TEST_CASE("sampling: empirical moments within 5 standard errors", "[emission]") {
  const arma::uword draws = 100000;
  Rng rng = make_rng(77);
  const double n = static_cast<double>(draws);
  auto collect = [&](auto&& draw, arma::uword d) {
    arma::mat s(d, draws);
    for (arma::uword t = 0; t < draws; ++t) s.col(t) = draw();
    return s;
  };
  SECTION("diagonal Gaussian") {
    const GaussianDiagEmission e(arma::mat{{0.0, 4.0}, {0.0, -1.0}}, arma::mat{{1, 0.25}, {1, 9}});
    const arma::mat s = collect([&] { return e.sample(1, rng); }, 2);
    const arma::vec mean = arma::mean(s, 1), var = arma::var(s, 1, 1);
    CHECK_THAT(mean(0), WithinAbs(4.0, 5 * std::sqrt(0.25 / n)));
    CHECK_THAT(mean(1), WithinAbs(-1.0, 5 * std::sqrt(9.0 / n)));
    CHECK_THAT(var(0), WithinAbs(0.25, 5 * 0.25 * std::sqrt(2.0 / n)));
    CHECK_THAT(var(1), WithinAbs(9.0, 5 * 9.0 * std::sqrt(2.0 / n)));
  }
  SECTION("full Gaussian: means, variances and covariance") {
    arma::cube c(2, 2, 1);
    c.slice(0) = arma::mat{{2.0, -1.2}, {-1.2, 1.0}};
    const GaussianFullEmission e(arma::mat(arma::vec{1.0, -3.0}), c);
    const arma::mat s = collect([&] { return e.sample(0, rng); }, 2);
    const arma::vec mean = arma::mean(s, 1);
    const arma::mat cov = arma::cov(s.t(), 1);
    CHECK_THAT(mean(0), WithinAbs(1.0, 5 * std::sqrt(2.0 / n)));
    CHECK_THAT(mean(1), WithinAbs(-3.0, 5 * std::sqrt(1.0 / n)));
    CHECK_THAT(cov(0, 0), WithinAbs(2.0, 5 * 2.0 * std::sqrt(2.0 / n)));
    CHECK_THAT(cov(1, 1), WithinAbs(1.0, 5 * 1.0 * std::sqrt(2.0 / n)));
    // Var of the product of centred jointly normal variables: s11 s22 + s12^2.
    CHECK_THAT(cov(0, 1), WithinAbs(-1.2, 5 * std::sqrt((2.0 * 1.0 + 1.44) / n)));
  }
  SECTION("GMM mean and variance") {
    const GmmDiagEmission e(arma::mat(arma::vec{0.25, 0.75}), arma::mat{{-2.0, 2.0}},
                            arma::mat{{1.0, 0.5}});
    const arma::mat s = collect([&] { return e.sample(0, rng); }, 1);
    const double mean = 0.25 * -2.0 + 0.75 * 2.0;
    const double var = 0.25 * (1.0 + 4.0) + 0.75 * (0.5 + 4.0) - mean * mean;
    CHECK_THAT(arma::mean(s.row(0)), WithinAbs(mean, 5 * std::sqrt(var / n)));
    // Fourth central moment of the mixture, from each component's central moments about `mean`.
    double m4 = 0;
    for (auto [w, mu, v] : {std::tuple{0.25, -2.0, 1.0}, std::tuple{0.75, 2.0, 0.5}}) {
      const double dlt = mu - mean;
      m4 += w * (dlt * dlt * dlt * dlt + 6 * dlt * dlt * v + 3 * v * v);
    }
    CHECK_THAT(arma::var(s.row(0), 1), WithinAbs(var, 5 * std::sqrt((m4 - var * var) / n)));
  }
  SECTION("Bernoulli unit frequencies") {
    const BernoulliEmission e(arma::mat(arma::vec{0.1, 0.5, 0.97, 0.0, 1.0}));
    const arma::mat s = collect([&] { return e.sample(0, rng); }, 5);
    const arma::vec freq = arma::mean(s, 1);
    for (arma::uword k = 0; k < 5; ++k) {
      const double p = e.probabilities()(k, 0);
      CAPTURE(k);
      CHECK_THAT(freq(k), WithinAbs(p, 5 * std::sqrt(p * (1 - p) / n)));
    }
    CHECK(arma::all(arma::vectorise(s == 0.0 || s == 1.0)));
  }
}

TEST_CASE("validate names the sequence and the step", "[emission]") {
  const GaussianDiagEmission diag(arma::mat(3, 2, arma::fill::zeros), arma::mat(3, 2, arma::fill::ones));
  arma::cube c(3, 3, 2);
  c.each_slice() = arma::eye(3, 3);
  const GaussianFullEmission full(arma::mat(3, 2, arma::fill::zeros), c);
  const GmmDiagEmission gmm(arma::mat(1, 1, arma::fill::ones), arma::mat(3, 1, arma::fill::zeros),
                            arma::mat(3, 1, arma::fill::ones));
  arma::mat x(3, 10, arma::fill::zeros);
  CHECK_NOTHROW(diag.validate(x, "train sequence 4"));
  CHECK_THROWS_WITH(diag.validate(arma::mat(2, 10), "train sequence 4"),
                    Contains("train sequence 4") && Contains("2 rows") && Contains("d = 3"));
  x(1, 7) = std::numeric_limits<double>::quiet_NaN();
  CHECK_THROWS_AS(diag.validate(x, "s"), UserError);
  for (const auto& message : {std::string("train sequence 4")}) {
    CHECK_THROWS_WITH(diag.validate(x, message), Contains("train sequence 4: step 7: row 1") &&
                                                     Contains("nan"));
    CHECK_THROWS_WITH(full.validate(x, message), Contains("step 7"));
    CHECK_THROWS_WITH(gmm.validate(x, message), Contains("step 7"));
  }
  x(1, 7) = 0.0;
  x(2, 3) = std::numeric_limits<double>::infinity();
  CHECK_THROWS_WITH(full.validate(x, "valid sequence 0"),
                    Contains("valid sequence 0: step 3: row 2 holds inf"));

  const BernoulliEmission bern(arma::mat(4, 2, arma::fill::value(0.5)));
  arma::mat frames(4, 6, arma::fill::ones);
  CHECK_NOTHROW(bern.validate(frames, "roll 1"));
  frames(2, 5) = 0.5;
  CHECK_THROWS_WITH(bern.validate(frames, "roll 1"),
                    Contains("roll 1: step 5: row 2 holds 0.5") && Contains("0 or 1"));
  CHECK_THROWS_WITH(bern.validate(arma::mat(5, 6, arma::fill::zeros), "roll 2"),
                    Contains("roll 2") && Contains("d = 4"));
}

TEST_CASE("save/load round trip gives bitwise identical log_probs; bad files rejected",
          "[emission]") {
  test::ScratchDir dir;
  const auto file = dir / "emission.h5";
  Rng rng = make_rng(99);
  const arma::mat x = uniform_mat(3, 15, rng, -3, 3);

  SECTION("diagonal Gaussian") {
    const GaussianDiagEmission e(uniform_mat(3, 4, rng, -1, 1), uniform_mat(3, 4, rng, 0.5, 2));
    const auto loaded = round_trip(e, file);
    CHECK(bitwise_equal(all_log_probs(loaded, x), all_log_probs(e, x)));
    write_group(file, {{"means", e.means()}, {"variances", -e.variances()}});
    CHECK_THAT(load_error<GaussianDiagEmission>(file),
               Contains("/emission/variances") && Contains("element (0, 0)") &&
                   Contains("positive"));
    write_group(file, {{"means", e.means()}, {"variances", arma::mat(3, 3, arma::fill::ones)}});
    CHECK_THAT(load_error<GaussianDiagEmission>(file),
               Contains("/emission/variances") && Contains("(3, 3)"));
  }
  SECTION("full Gaussian") {
    arma::cube c(3, 3, 2);
    for (arma::uword i = 0; i < 2; ++i) {
      const arma::mat a = uniform_mat(3, 3, rng, -1, 1);
      c.slice(i) = a * a.t() + 0.5 * arma::eye(3, 3);
    }
    const GaussianFullEmission e(uniform_mat(3, 2, rng, -1, 1), c);
    const auto loaded = round_trip(e, file);
    CHECK(bitwise_equal(all_log_probs(loaded, x), all_log_probs(e, x)));
    CHECK(arma::all(arma::vectorise(loaded.covariances() == e.covariances())));
    arma::mat side_by_side = arma::join_rows(c.slice(0), c.slice(1));
    side_by_side(0, 3) = -5.0;  // state 1 no longer positive definite
    write_group(file, {{"means", e.means()}, {"covariances", side_by_side}});
    CHECK_THAT(load_error<GaussianFullEmission>(file),
               Contains("/emission/covariances") && Contains("state 1") &&
                   Contains("positive definite"));
    side_by_side = arma::join_rows(c.slice(0), c.slice(1));
    side_by_side(0, 1) += 0.1;  // state 0 not symmetric
    write_group(file, {{"means", e.means()}, {"covariances", side_by_side}});
    CHECK_THAT(load_error<GaussianFullEmission>(file),
               Contains("/emission/covariances") && Contains("state 0") && Contains("symmetric"));
  }
  SECTION("GMM") {
    arma::mat w = uniform_mat(2, 3, rng, 0.2, 1);
    w.each_row() /= arma::sum(w, 0);
    const GmmDiagEmission e(w, uniform_mat(3, 6, rng, -1, 1), uniform_mat(3, 6, rng, 0.5, 2));
    const auto loaded = round_trip(e, file);
    CHECK(bitwise_equal(all_log_probs(loaded, x), all_log_probs(e, x)));
    write_group(file, {{"weights", w * 1.1}, {"means", e.means()}, {"variances", e.variances()}});
    CHECK_THAT(load_error<GmmDiagEmission>(file),
               Contains("/emission/weights") && Contains("column 0 sums to"));
  }
  SECTION("Bernoulli, including p = 0 and 1") {
    arma::mat p = uniform_mat(3, 2, rng, 0.1, 0.9);
    p(0, 0) = 0.0;
    p(1, 1) = 1.0;
    const BernoulliEmission e(p);
    const arma::mat frames = arma::conv_to<arma::mat>::from(x > 0.0);
    const auto loaded = round_trip(e, file);
    CHECK(bitwise_equal(all_log_probs(loaded, frames), all_log_probs(e, frames)));
    p(2, 1) = 1.5;
    write_group(file, {{"probabilities", p}});
    CHECK_THAT(load_error<BernoulliEmission>(file),
               Contains("/emission/probabilities") && Contains("element (2, 1) is 1.5"));
  }
}

TEST_CASE("k-means++ finds separated clusters; Gaussian initialisation starts at them",
          "[emission]") {
  // Three blobs of 300 points each, sd 0.2, centres far apart (distance >= 5).
  const arma::mat truth = {{0.0, 5.0, 0.0}, {0.0, 0.0, 6.0}};
  Rng rng = make_rng(31);
  std::vector<arma::mat> data(3, arma::mat(2, 300));
  for (arma::uword c = 0; c < 3; ++c)
    for (arma::uword t = 0; t < 300; ++t)
      for (arma::uword k = 0; k < 2; ++k)
        data[c](k, t) = truth(k, c) + 0.2 * standard_normal(rng);
  // Sorted by first then second coordinate, the centres line up with `truth`'s columns 0, 2, 1.
  auto order_like_truth = [](const arma::mat& centres) {
    arma::mat sorted(2, 3);
    std::vector<arma::uword> idx = {0, 1, 2};
    std::sort(idx.begin(), idx.end(), [&](auto a, auto b) {
      return centres(0, a) + centres(1, a) * 0.1 < centres(0, b) + centres(1, b) * 0.1;
    });
    // Smallest first coordinate and second: (0,0); then (0,6); largest x: (5,0).
    sorted.col(0) = centres.col(idx[0]);
    sorted.col(2) = centres.col(idx[1]);
    sorted.col(1) = centres.col(idx[2]);
    return sorted;
  };
  // Standard error of a blob mean: 0.2 / sqrt(300) = 0.012; tolerance 0.06.
  const KMeansResult result = kmeans(arma::join_rows(data[0], data[1], data[2]), 3, 50, rng);
  CHECK_THAT(order_like_truth(result.centres), test::IsNear(truth, 0.0, 0.06));
  CHECK(arma::accu(result.assignment == result.assignment(0)) == 300);

  GaussianDiagEmission diag(arma::mat(2, 3, arma::fill::zeros), arma::mat(2, 3, arma::fill::ones));
  diag.initialize(data, rng);
  CHECK_THAT(order_like_truth(diag.means()), test::IsNear(truth, 0.0, 0.06));
  CHECK_THAT(diag.variances(), test::IsNear(arma::mat(2, 3, arma::fill::value(0.04)), 0.25));

  arma::cube c(2, 2, 3);
  c.each_slice() = arma::eye(2, 2);
  GaussianFullEmission full(arma::mat(2, 3, arma::fill::zeros), c);
  full.initialize(data, rng);
  CHECK_THAT(order_like_truth(full.means()), test::IsNear(truth, 0.0, 0.06));
  for (arma::uword i = 0; i < 3; ++i)
    CHECK_THAT(full.covariances()(0, 0, i), WithinAbs(0.04, 0.01));

  SECTION("split_state copies the donor with its mean moved by half a standard deviation") {
    diag.split_state(0, 2, rng);
    CHECK(arma::all(diag.variances().col(2) == diag.variances().col(0)));
    const arma::vec moved = arma::abs(diag.means().col(2) - diag.means().col(0));
    CHECK_THAT(moved, test::IsNear(0.5 * arma::sqrt(diag.variances().col(0)), 1e-12));
    full.split_state(1, 0, rng);
    CHECK(arma::all(arma::vectorise(full.covariances().slice(0) == full.covariances().slice(1))));
  }
  CHECK_THROWS_AS(diag.initialize({arma::mat(2, 2, arma::fill::zeros)}, rng), UserError);
}
