// tests/unit/test_boltzmann.cpp: the general Boltzmann machine checked against naive brute-force
// sums written here (energies, log Z, marginals, statistics), central finite differences of the
// exact log-likelihood, long Gibbs chains against exact distributions, learning curves bounded by
// the empirical entropy, and max-cut against exhaustive enumeration and planted optima.
#include <H5Cpp.h>

#include <cmath>
#include <cstring>
#include <limits>
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/models/energy/boltzmann.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::energy;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

// A symmetric weight matrix (zero diagonal) and biases with N(0, scale^2) entries.
struct RawMachine {
  arma::mat w;
  arma::vec a;
};

RawMachine random_raw(arma::uword n, double scale, std::uint64_t seed) {
  Rng rng = make_rng(seed);
  RawMachine r;
  r.w.zeros(n, n);
  r.a.zeros(n);
  for (arma::uword j = 0; j < n; ++j)
    for (arma::uword i = 0; i < j; ++i) r.w(i, j) = r.w(j, i) = scale * standard_normal(rng);
  for (arma::uword i = 0; i < n; ++i) r.a(i) = 0.5 * scale * standard_normal(rng);
  return r;
}

// E(s) by the definition, summed pair by pair.
double naive_energy(const RawMachine& m, const arma::vec& s) {
  double e = 0.0;
  for (arma::uword i = 0; i < s.n_elem; ++i) {
    e -= m.a(i) * s(i);
    for (arma::uword j = 0; j < i; ++j) e -= m.w(i, j) * s(i) * s(j);
  }
  return e;
}

arma::vec bits(arma::uword n, std::uint64_t code) {
  arma::vec s(n);
  for (arma::uword k = 0; k < n; ++k) s(k) = double((code >> k) & 1u);
  return s;
}

double total_variation(const arma::vec& p, const arma::vec& q) {
  return 0.5 * arma::accu(arma::abs(p - q));
}

arma::mat random_binary(arma::uword rows, arma::uword cols, Rng& rng) {
  arma::mat x(rows, cols);
  for (double& v : x) v = uniform01(rng) < 0.5 ? 1.0 : 0.0;
  return x;
}

// Noisy copies of three 6-unit prototypes (each bit flipped with probability 0.05).
arma::mat structured_patterns(arma::uword count, std::uint64_t seed) {
  const arma::mat proto = {{1, 0, 1}, {1, 0, 0}, {1, 0, 1}, {0, 1, 0}, {0, 1, 1}, {0, 1, 0}};
  Rng rng = make_rng(seed);
  arma::mat x(6, count);
  for (arma::uword c = 0; c < count; ++c) {
    x.col(c) = proto.col(c % 3);
    for (arma::uword r = 0; r < 6; ++r)
      if (uniform01(rng) < 0.05) x(r, c) = 1.0 - x(r, c);
  }
  return x;
}

// Average log-likelihood of the empirical distribution itself (minus its entropy): no model of
// the data can exceed it (Gibbs' inequality).
double empirical_log_likelihood(const arma::mat& data) {
  arma::vec counts(std::size_t(1) << data.n_rows, arma::fill::zeros);
  for (arma::uword c = 0; c < data.n_cols; ++c) counts(code_of(data.col(c))) += 1.0;
  double ll = 0.0;
  for (const double k : counts)
    if (k > 0) ll += k * std::log(k / double(data.n_cols));
  return ll / double(data.n_cols);
}

arma::mat random_graph(arma::uword n, double edge_probability, double lo, double hi,
                       std::uint64_t seed) {
  Rng rng = make_rng(seed);
  arma::mat g(n, n, arma::fill::zeros);
  for (arma::uword j = 0; j < n; ++j)
    for (arma::uword i = 0; i < j; ++i)
      if (uniform01(rng) < edge_probability) g(i, j) = g(j, i) = lo + (hi - lo) * uniform01(rng);
  return g;
}

}  // namespace

TEST_CASE("flat parameter layout and the derived weight matrix", "[boltzmann]") {
  const RawMachine raw = random_raw(7, 1.0, 3);
  BoltzmannMachine bm(4, raw.w, raw.a);
  CHECK(bm.num_visible() == 4);
  CHECK(bm.num_hidden() == 3);
  CHECK(bm.num_parameters() == 21 + 7);
  CHECK(arma::approx_equal(bm.weight_matrix(), raw.w, "absdiff", 0.0));
  CHECK(arma::approx_equal(bm.biases(), raw.a, "absdiff", 0.0));
  for (arma::uword j = 0; j < 7; ++j)
    for (arma::uword i = 0; i < j; ++i) {
      CHECK(bm.parameters()(BoltzmannMachine::pair_index(i, j)) == raw.w(i, j));
      CHECK(bm.weight(j, i) == raw.w(i, j));
    }
  // Views write through to the flat vector and to the derived matrix.
  bm.pair_weights()(BoltzmannMachine::pair_index(1, 5)) = 2.5;
  bm.biases()(6) = -1.25;
  CHECK(bm.weight_matrix()(5, 1) == 2.5);
  CHECK(bm.parameters()(21 + 6) == -1.25);
  // Energies: both evaluators against the definition.
  RawMachine changed{bm.weight_matrix(), bm.biases()};
  for (std::uint64_t code = 0; code < 128; code += 5) {
    const arma::vec s = bits(7, code);
    CHECK_THAT(bm.energy(s), WithinAbs(naive_energy(changed, s), 1e-12));
    CHECK_THAT(bm.energies(s)(0), WithinAbs(naive_energy(changed, s), 1e-12));
  }
}

TEST_CASE("log Z, state probabilities and marginals equal naive enumeration", "[boltzmann]") {
  const arma::uword n = GENERATE(8, 9, 10, 11, 12);
  const std::uint64_t seed = GENERATE(1, 2);
  const arma::uword visible = n / 2 + 1;
  CAPTURE(n, seed, visible);
  const RawMachine raw = random_raw(n, 1.0, 100 * n + seed);
  const BoltzmannMachine bm(visible, raw.w, raw.a);

  const std::uint64_t states = std::uint64_t(1) << n;
  arma::vec naive_weight(states);
  double z = 0.0;
  double min_energy = std::numeric_limits<double>::infinity();
  for (std::uint64_t c = 0; c < states; ++c) {
    const double e = naive_energy(raw, bits(n, c));
    naive_weight(c) = std::exp(-e);
    z += naive_weight(c);
    min_energy = std::min(min_energy, e);
  }
  CHECK_THAT(log_partition(bm), WithinRel(std::log(z), 1e-12));
  const arma::vec lp = state_log_probabilities(bm);
  REQUIRE(lp.n_elem == states);
  CHECK_THAT(arma::mat(arma::exp(lp)), seqlab::test::IsNear(naive_weight / z, 1e-11, 1e-15));

  // log p(v) against the naive hidden sums; the marginals sum to one.
  const arma::uword hidden = n - visible;
  const std::uint64_t n_v = std::uint64_t(1) << visible;
  arma::mat all_v(visible, n_v);
  for (std::uint64_t c = 0; c < n_v; ++c) all_v.col(c) = bits(visible, c);
  const arma::vec lm = log_marginal(bm, all_v);
  for (std::uint64_t c = 0; c < n_v; ++c) {
    double pv = 0.0;
    for (std::uint64_t h = 0; h < (std::uint64_t(1) << hidden); ++h)
      pv += naive_weight(c | (h << visible));
    CHECK_THAT(lm(c), WithinRel(std::log(pv / z), 1e-11));
  }
  CHECK_THAT(log_sum_exp(lm.begin(), lm.end()), WithinAbs(0.0, 1e-12));
  CHECK_THAT(average_log_likelihood(bm, all_v), WithinRel(arma::mean(lm), 1e-14));

  const GroundState g = exact_ground_state(bm);
  CHECK_THAT(g.energy, WithinRel(min_energy, 1e-12));
}

TEST_CASE("chunked hidden enumeration (H = 14, 300 columns) equals naive sums", "[boltzmann]") {
  // 2^14 hidden states are summed in chunks of 4,096 and the data in column blocks of 256.
  const arma::uword visible = 2, hidden = 14, n = visible + hidden;
  const RawMachine raw = random_raw(n, 0.3, 5);
  const BoltzmannMachine bm(visible, raw.w, raw.a);
  Rng rng = make_rng(6);
  const arma::mat data = random_binary(visible, 300, rng);
  // Naive: per visible code, sum over hidden codes of exp(-E) and of exp(-E) s s^T.
  double z = 0.0;
  arma::vec zv(4, arma::fill::zeros);
  std::vector<arma::mat> sec(4, arma::mat(n, n, arma::fill::zeros));
  std::vector<arma::vec> mu(4, arma::vec(n, arma::fill::zeros));
  for (std::uint64_t c = 0; c < (std::uint64_t(1) << n); ++c) {
    const arma::vec s = bits(n, c);
    const double p = std::exp(-naive_energy(raw, s));
    z += p;
    zv(c & 3) += p;
    sec[c & 3] += p * s * s.t();
    mu[c & 3] += p * s;
  }
  const arma::vec lm = log_marginal(bm, data);
  arma::mat clamped_second(n, n, arma::fill::zeros);
  arma::vec clamped_mean(n, arma::fill::zeros);
  for (arma::uword d = 0; d < data.n_cols; ++d) {
    const std::uint64_t v = code_of(data.col(d));
    CHECK_THAT(lm(d), WithinRel(std::log(zv(v) / z), 1e-12));
    clamped_second += sec[v] / zv(v) / double(data.n_cols);
    clamped_mean += mu[v] / zv(v) / double(data.n_cols);
  }
  const BmStatistics st = exact_clamped_statistics(bm, data);
  CHECK_THAT(st.second, seqlab::test::IsNear(clamped_second, 1e-11, 1e-15));
  CHECK_THAT(arma::mat(st.mean), seqlab::test::IsNear(clamped_mean, 1e-11, 1e-15));
}

TEST_CASE("exact free and clamped statistics equal naive weighted sums", "[boltzmann]") {
  const arma::uword n = GENERATE(5, 9);
  const arma::uword visible = 3;
  CAPTURE(n);
  const RawMachine raw = random_raw(n, 0.8, 40 + n);
  const BoltzmannMachine bm(visible, raw.w, raw.a);
  Rng rng = make_rng(7);
  const arma::mat data = random_binary(visible, 6, rng);

  arma::mat second(n, n, arma::fill::zeros);
  arma::vec mean(n, arma::fill::zeros);
  double z = 0.0;
  arma::mat clamped_second(n, n, arma::fill::zeros);
  arma::vec clamped_mean(n, arma::fill::zeros);
  for (std::uint64_t c = 0; c < (std::uint64_t(1) << n); ++c) {
    const arma::vec s = bits(n, c);
    const double p = std::exp(-naive_energy(raw, s));
    z += p;
    second += p * s * s.t();
    mean += p * s;
  }
  second /= z;
  mean /= z;
  for (arma::uword d = 0; d < data.n_cols; ++d) {
    arma::mat sec(n, n, arma::fill::zeros);
    arma::vec mu(n, arma::fill::zeros);
    double zv = 0.0;
    for (std::uint64_t h = 0; h < (std::uint64_t(1) << (n - visible)); ++h) {
      arma::vec s(n);
      s.head(visible) = data.col(d);
      s.tail(n - visible) = bits(n - visible, h);
      const double p = std::exp(-naive_energy(raw, s));
      zv += p;
      sec += p * s * s.t();
      mu += p * s;
    }
    clamped_second += sec / zv / double(data.n_cols);
    clamped_mean += mu / zv / double(data.n_cols);
  }
  const BmStatistics free_st = exact_free_statistics(bm);
  const BmStatistics clamped_st = exact_clamped_statistics(bm, data);
  CHECK_THAT(free_st.second, seqlab::test::IsNear(second, 1e-12, 1e-15));
  CHECK_THAT(arma::mat(free_st.mean), seqlab::test::IsNear(mean, 1e-12, 1e-15));
  CHECK_THAT(clamped_st.second, seqlab::test::IsNear(clamped_second, 1e-12, 1e-15));
  CHECK_THAT(arma::mat(clamped_st.mean), seqlab::test::IsNear(clamped_mean, 1e-12, 1e-15));
  // flat(): pairs then means, the layout of the parameters.
  const arma::vec flat = free_st.flat();
  REQUIRE(flat.n_elem == bm.num_parameters());
  CHECK(flat(BoltzmannMachine::pair_index(1, 4)) == free_st.second(1, 4));
  CHECK(flat(bm.num_pairs() + 2) == free_st.mean(2));
}

TEST_CASE("the exact gradient matches central differences of the exact log-likelihood",
          "[boltzmann]") {
  const arma::uword hidden = GENERATE(0, 2);
  CAPTURE(hidden);
  const RawMachine raw = random_raw(4 + hidden, 0.7, 11 + hidden);
  BoltzmannMachine bm(4, raw.w, raw.a);
  Rng rng = make_rng(5);
  const arma::mat data = random_binary(4, 12, rng);
  const arma::vec grad = exact_gradient(bm, data);
  REQUIRE(grad.n_elem == bm.num_parameters());
  // Central differences, step 1e-5: truncation ~ h^2 |f'''| ~ 1e-10, rounding ~ 1e-16 / h.
  const double h = 1e-5;
  double worst = 0.0;
  for (arma::uword k = 0; k < bm.num_parameters(); ++k) {
    const double saved = bm.parameters()(k);
    bm.parameters()(k) = saved + h;
    const double up = average_log_likelihood(bm, data);
    bm.parameters()(k) = saved - h;
    const double down = average_log_likelihood(bm, data);
    bm.parameters()(k) = saved;
    const double fd = (up - down) / (2 * h);
    CAPTURE(k, grad(k), fd);
    CHECK_THAT(grad(k), WithinAbs(fd, 1e-7));
    worst = std::max(worst, std::abs(grad(k) - fd));
  }
  INFO("worst |analytic - central difference| = " << worst);
  CHECK(worst < 1e-7);
  CHECK(arma::norm(grad) > 1e-2);  // a non-trivial gradient was compared
}

TEST_CASE("Gibbs chains converge to the exact distribution", "[boltzmann]") {
  // One chain of M = 200,000 sweeps after 1,000 burn-in, on n = 5 units (K = 32 states). With
  // independent draws E[TV] <= 1/2 sum_k sqrt(p_k / M) <= 1/2 sqrt(K / M) = 0.0063; the sweeps
  // are correlated (integrated autocorrelation a few sweeps for these weights), so the bound is
  // 0.02, about 1/2 sqrt(K / (M / 10)). A wrong conditional (e.g. sigmoid(-f), a missed field
  // update, a wrong temperature) gives TV > 0.1 here.
  const RawMachine raw = random_raw(5, 1.0, 77);
  const BoltzmannMachine bm(3, raw.w, raw.a);
  const SweepOrder order = GENERATE(SweepOrder::fixed, SweepOrder::random);
  CAPTURE(order == SweepOrder::random);
  const arma::uword sweeps = 200000;

  SECTION("free, at T = 1 and T = 2.5") {
    const double t = GENERATE(1.0, 2.5);
    CAPTURE(t);
    // p_T(s) is p(s) of the machine with every parameter divided by T.
    BoltzmannMachine scaled = bm;
    scaled.parameters() /= t;
    const arma::vec exact = arma::exp(state_log_probabilities(scaled));
    GibbsOptions opt;
    opt.temperature = t;
    opt.order = order;
    GibbsSampler sampler(bm, opt);
    sampler.set_states(arma::mat(5, 1, arma::fill::zeros));
    Rng rng = make_rng(2024);
    sampler.sweeps(1000, rng);
    arma::vec freq(32, arma::fill::zeros);
    for (arma::uword k = 0; k < sweeps; ++k) {
      sampler.sweep(rng);
      freq(code_of(sampler.states().col(0))) += 1.0;
    }
    freq /= double(sweeps);
    const double tv = total_variation(freq, exact);
    INFO("total variation = " << tv);
    CHECK(tv < 0.02);
    // The incrementally kept fields equal a fresh computation.
    const arma::vec fresh = bm.weight_matrix() * sampler.states().col(0) + bm.biases();
    CHECK_THAT(arma::mat(sampler.fields()), seqlab::test::IsNear(fresh, 0.0, 1e-12));
  }

  SECTION("clamped: hidden units follow p(h | v)") {
    const arma::vec v = {1, 0, 1};
    const arma::vec lp = state_log_probabilities(bm);
    arma::vec exact(4);
    for (std::uint64_t hcode = 0; hcode < 4; ++hcode) exact(hcode) = std::exp(lp(5 | (hcode << 3)));
    exact /= arma::accu(exact);
    GibbsOptions opt;
    opt.order = order;
    opt.clamp_visible = true;
    GibbsSampler sampler(bm, opt);
    arma::mat start(5, 1, arma::fill::zeros);
    start.col(0).head(3) = v;
    sampler.set_states(start);
    Rng rng = make_rng(99);
    arma::vec freq(4, arma::fill::zeros);
    bool visible_kept = true;
    for (arma::uword k = 0; k < sweeps; ++k) {
      sampler.sweep(rng);
      visible_kept = visible_kept && arma::all(sampler.states().col(0).head(3) == v);
      freq(code_of(sampler.states().col(0)) >> 3) += 1.0;
    }
    CHECK(visible_kept);
    freq /= double(sweeps);
    const double tv = total_variation(freq, exact);
    INFO("total variation = " << tv);
    CHECK(tv < 0.01);  // K = 4: 1/2 sqrt(4 / (M / 10)) = 0.0071
  }
}

TEST_CASE("sampled visible vectors follow the exact marginal p(v)", "[boltzmann]") {
  const RawMachine raw = random_raw(5, 1.0, 31);
  const BoltzmannMachine bm(3, raw.w, raw.a);
  arma::mat all_v(3, 8);
  for (std::uint64_t c = 0; c < 8; ++c) all_v.col(c) = bits(3, c);
  const arma::vec exact = arma::exp(log_marginal(bm, all_v));
  SampleOptions opt;
  opt.chains = 20;
  opt.burn_in = 200;
  opt.thin = 2;
  Rng rng = make_rng(8);
  const arma::uword count = 100000;
  const arma::mat x = sample_visible(bm, count, opt, rng);
  REQUIRE(x.n_rows == 3);
  REQUIRE(x.n_cols == count);
  arma::vec freq(8, arma::fill::zeros);
  for (arma::uword c = 0; c < count; ++c) freq(code_of(x.col(c))) += 1.0;
  freq /= double(count);
  const double tv = total_variation(freq, exact);
  INFO("total variation = " << tv);
  CHECK(tv < 0.01);  // K = 8, M = 1e5 thinned draws: 1/2 sqrt(8 / (M / 10)) = 0.0045
  // Seeded: the same seed gives the same samples.
  Rng again = make_rng(8);
  CHECK(arma::approx_equal(sample_visible(bm, 50, opt, again), x.cols(0, 49), "absdiff", 0.0));
}

TEST_CASE("sampled statistics estimate the exact ones", "[boltzmann]") {
  const RawMachine raw = random_raw(8, 0.6, 12);
  const BoltzmannMachine bm(5, raw.w, raw.a);
  const GibbsOptions opt;
  SECTION("free phase: 100 chains x 1,000 sweeps") {
    // 1e5 correlated draws of 0/1 products: standard error <= 0.5 / sqrt(1e5 / 10) = 0.005.
    Rng rng = make_rng(3);
    arma::mat chains = random_binary(8, 100, rng);
    const BmStatistics est = sampled_statistics(bm, chains, 100, 1000, opt, rng);
    const BmStatistics exact = exact_free_statistics(bm);
    const double worst = arma::abs(est.second - exact.second).max();
    INFO("worst |sampled - exact| = " << worst);
    CHECK(worst < 0.02);
    CHECK(arma::abs(est.mean - exact.mean).max() < 0.02);
  }
  SECTION("clamped phase: 2,000 sweeps per data vector") {
    Rng rng = make_rng(4);
    const arma::mat data = random_binary(5, 20, rng);
    const BmStatistics est = sampled_clamped_statistics(bm, data, 20, 2000, opt, rng);
    const BmStatistics exact = exact_clamped_statistics(bm, data);
    const double worst = arma::abs(est.second - exact.second).max();
    INFO("worst |sampled - exact| = " << worst);
    CHECK(worst < 0.02);
    // The visible block does not depend on sampling at all.
    CHECK(arma::approx_equal(est.second.submat(0, 0, 4, 4), exact.second.submat(0, 0, 4, 4),
                             "absdiff", 1e-14));
  }
}

TEST_CASE("learning raises the exact log-likelihood", "[boltzmann]") {
  const arma::mat data = structured_patterns(60, 21);
  const double ceiling = empirical_log_likelihood(data);
  const double uniform = -6.0 * std::log(2.0);
  INFO("empirical ceiling " << ceiling << ", uniform model " << uniform);
  BoltzmannMachine bm(6, 3);
  Rng init = make_rng(1);
  bm.randomize(0.1, init);
  const double start = average_log_likelihood(bm, data);

  SECTION("exact statistics: monotone for a small learning rate") {
    BmTrainOptions opt;
    opt.epochs = 300;
    opt.learning_rate = 0.1;
    Rng rng = make_rng(2);
    const std::vector<BmEpochRecord> hist = train(bm, data, opt, rng);
    REQUIRE(hist.size() == 300);
    double previous = start;
    for (const BmEpochRecord& r : hist) {
      CAPTURE(r.epoch, previous, r.log_likelihood);
      REQUIRE(r.log_likelihood >= previous - 1e-12);
      previous = r.log_likelihood;
    }
    const double final_ll = hist.back().log_likelihood;
    INFO("start " << start << ", final " << final_ll);
    CHECK_THAT(final_ll, WithinRel(average_log_likelihood(bm, data), 1e-14));
    CHECK(final_ll <= ceiling + 1e-12);  // Gibbs' inequality
    // Measured -2.4066 (ceiling -2.0691, start -4.1800, uniform -4.1589).
    CHECK(final_ll > -2.45);
    CHECK(hist.back().seconds >= hist.front().seconds);
  }

  SECTION("sampled statistics (PCD) with minibatches and weight decay") {
    BmTrainOptions opt;
    opt.exact_statistics = false;
    opt.epochs = 100;
    opt.learning_rate = 0.05;
    opt.batch_size = 20;
    opt.weight_decay = 1e-4;
    opt.free_chains = 50;
    opt.clamped_sweeps = 3;
    opt.order = SweepOrder::random;
    Rng rng = make_rng(3);
    const std::vector<BmEpochRecord> hist = train(bm, data, opt, rng);
    const double final_ll = hist.back().log_likelihood;
    INFO("start " << start << ", final " << final_ll);
    // Measured gain 1.64 nats (final -2.5403).
    CHECK(final_ll > start + 1.4);
    CHECK(final_ll <= ceiling + 1e-12);
    // Seeded: a second run from the same machine and seed is identical.
    BoltzmannMachine again(6, 3);
    Rng init2 = make_rng(1);
    again.randomize(0.1, init2);
    Rng rng2 = make_rng(3);
    train(again, data, opt, rng2);
    CHECK(arma::approx_equal(again.parameters(), bm.parameters(), "absdiff", 0.0));
  }
}

TEST_CASE("max-cut: the machine's energy is minus the cut", "[boltzmann]") {
  // Mixed-sign weights on a 7-vertex graph: E(x) = -cut(x) for all 128 assignments (constant 0).
  const arma::mat g = random_graph(7, 0.7, -0.5, 1.0, 9);
  const BoltzmannMachine bm = maxcut_machine(g);
  double best = -std::numeric_limits<double>::infinity();
  double total = 0.0;
  for (std::uint64_t c = 0; c < 128; ++c) {
    const arma::vec x = bits(7, c);
    double cut = 0.0;  // by the definition, independent of cut_value
    for (arma::uword i = 0; i < 7; ++i)
      for (arma::uword j = i + 1; j < 7; ++j)
        if (x(i) != x(j)) cut += g(i, j);
    CHECK_THAT(cut_value(g, x), WithinAbs(cut, 1e-12));
    CHECK_THAT(bm.energy(x), WithinAbs(-cut, 1e-12));
    best = std::max(best, cut);
    total += cut;
  }
  const MaxCut exact = max_cut_exact(g);
  CHECK_THAT(exact.value, WithinAbs(best, 1e-12));
  CHECK_THAT(cut_value(g, exact.side), WithinAbs(best, 1e-12));
  CHECK(exact.side(6) == 0.0);
  CHECK_THAT(exact_ground_state(bm).energy, WithinAbs(-best, 1e-12));
  // The references: the mean over all cuts is half the total weight; no cut beats the sum of
  // the positive weights.
  CHECK_THAT(random_cut_expectation(g), WithinAbs(total / 128.0, 1e-12));
  CHECK(maxcut_upper_bound(g) >= best);
}

TEST_CASE("simulated annealing finds exact maximum cuts", "[boltzmann]") {
  const arma::uword n = GENERATE(12, 16, 20);
  const std::uint64_t seed = GENERATE(1, 2, 3);
  const bool mixed = GENERATE(false, true);
  CAPTURE(n, seed, mixed);
  const arma::mat g = random_graph(n, 0.5, mixed ? -1.0 : 0.1, 1.0, 1000 * n + seed);
  const MaxCut exact = max_cut_exact(g);
  AnnealOptions opt;
  opt.t_start = 3.0;
  opt.t_end = 0.02;
  opt.sweeps = 2000;
  Rng rng = make_rng(seed);
  const AnnealResult r = anneal(maxcut_machine(g), opt, rng);
  INFO("exact " << exact.value << ", annealed " << -r.energy << " at sweep " << r.sweep);
  CHECK_THAT(-r.energy, WithinRel(exact.value, 1e-12));
  CHECK_THAT(cut_value(g, r.state), WithinRel(exact.value, 1e-12));
  // Two independent enumerations (Gray code over cuts, GEMM blocks over energies) agree.
  CHECK_THAT(exact_ground_state(maxcut_machine(g)).energy, WithinRel(-exact.value, 1e-12));
}

TEST_CASE("annealing a planted bipartite max-cut with n = 100", "[boltzmann]") {
  Rng rng = make_rng(17);
  const PlantedMaxCut p = planted_bipartite_maxcut(100, 0.1, 0.5, 1.5, rng);
  CHECK_THAT(cut_value(p.graph, p.side), WithinRel(p.optimum, 1e-12));
  CHECK_THAT(maxcut_upper_bound(p.graph), WithinRel(p.optimum, 1e-12));
  CHECK_THAT(random_cut_expectation(p.graph), WithinRel(p.optimum / 2, 1e-12));
  AnnealOptions opt;
  opt.t_start = 5.0;
  opt.t_end = 0.02;
  opt.sweeps = 2000;
  const AnnealResult r = anneal(maxcut_machine(p.graph), opt, rng);
  const double ratio = cut_value(p.graph, r.state) / p.optimum;
  INFO("annealed cut / planted optimum = " << ratio);
  CHECK(ratio >= 0.97);
  CHECK_THAT(-r.energy, WithinRel(cut_value(p.graph, r.state), 1e-12));
}

TEST_CASE("save and load round trip; malformed files are refused", "[boltzmann]") {
  seqlab::test::ScratchDir dir;
  const std::string path = (dir / "bm.h5").string();
  const RawMachine raw = random_raw(6, 1.0, 4);
  const BoltzmannMachine bm(4, raw.w, raw.a);
  {
    H5::H5File file(path, H5F_ACC_TRUNC);
    H5::Group root = file.openGroup("/");
    bm.save(root);
  }
  {
    H5::H5File file(path, H5F_ACC_RDONLY);
    BoltzmannMachine back;
    back.load(file.openGroup("/"));
    CHECK(back.num_visible() == 4);
    CHECK(back.num_hidden() == 2);
    REQUIRE(back.num_parameters() == bm.num_parameters());
    CHECK(std::memcmp(back.parameters().memptr(), bm.parameters().memptr(),
                      sizeof(double) * bm.num_parameters()) == 0);
  }
  const auto write_bad = [&](const arma::mat& w, const arma::vec& a) {
    H5::H5File file(path, H5F_ACC_TRUNC);
    H5::Group root = file.openGroup("/");
    h5::write_int_attribute(root, "visible", 4);
    h5::write_int_attribute(root, "hidden", 2);
    h5::write_mat(root, "weights", w);
    h5::write_vec(root, "biases", a);
  };
  const auto load_error = [&]() -> std::string {
    H5::H5File file(path, H5F_ACC_RDONLY);
    BoltzmannMachine back;
    try {
      back.load(file.openGroup("/"));
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  };
  SECTION("asymmetric") {
    arma::mat w = raw.w;
    w(1, 3) += 0.5;
    write_bad(w, raw.a);
    const std::string msg = load_error();
    CHECK_THAT(msg, Contains("weights") && Contains("not symmetric") && Contains("(1, 3)"));
  }
  SECTION("non-zero diagonal") {
    arma::mat w = raw.w;
    w(2, 2) = 0.25;
    write_bad(w, raw.a);
    CHECK_THAT(load_error(), Contains("weights") && Contains("diagonal"));
  }
  SECTION("non-finite biases") {
    {
      H5::H5File file(path, H5F_ACC_TRUNC);
      H5::Group root = file.openGroup("/");
      h5::write_int_attribute(root, "visible", 4);
      h5::write_int_attribute(root, "hidden", 2);
      h5::write_mat(root, "weights", raw.w);
      arma::vec a = raw.a;
      a(3) = std::numeric_limits<double>::quiet_NaN();
      h5::write_measurements(root, "biases", a);  // the one writer that stores a NaN as it is
    }
    CHECK_THAT(load_error(), Contains("biases"));
  }
  SECTION("wrong shapes") {
    write_bad(raw.w, arma::vec(5, arma::fill::zeros));
    CHECK_THAT(load_error(), Contains("biases"));
    write_bad(raw.w.submat(0, 0, 4, 4), raw.a);
    CHECK_THAT(load_error(), Contains("weights"));
  }
}

TEST_CASE("bad input is a one-line UserError", "[boltzmann]") {
  BoltzmannMachine bm(3, 2);
  SECTION("data") {
    const arma::mat half = {{0, 1}, {0.5, 1}, {1, 0}};
    CHECK_THROWS_WITH(log_marginal(bm, half), Contains("row 1 holds 0.5, expected 0 or 1"));
    const arma::mat wide(4, 2, arma::fill::zeros);
    CHECK_THROWS_WITH(exact_gradient(bm, wide), Contains("data has 4 rows, expected 3"));
    CHECK_THROWS_AS(exact_clamped_statistics(bm, arma::mat(3, 0)), UserError);
    Rng rng = make_rng(1);
    CHECK_THROWS_AS(train(bm, half, BmTrainOptions{}, rng), UserError);
  }
  SECTION("too many units to enumerate") {
    BoltzmannMachine big(15, 6);
    CHECK_THROWS_WITH(log_partition(big), Contains("needs n <= 20 units, got n = 21"));
    CHECK_THROWS_AS(exact_free_statistics(big), UserError);
    CHECK_THROWS_AS(state_log_probabilities(big), UserError);
    BmTrainOptions opt;  // exact_statistics by default
    Rng rng = make_rng(1);
    CHECK_THROWS_WITH(train(big, arma::mat(15, 2, arma::fill::zeros), opt, rng),
                      Contains("n <= 20"));
    CHECK_THROWS_WITH(max_cut_exact(arma::mat(21, 21, arma::fill::zeros)), Contains("n <= 20"));
    // Sampled training works and records NaN log-likelihoods.
    opt.exact_statistics = false;
    opt.epochs = 2;
    const auto hist = train(big, arma::mat(15, 2, arma::fill::zeros), opt, rng);
    CHECK(std::isnan(hist.back().log_likelihood));
  }
  SECTION("options and shapes") {
    BmTrainOptions opt;
    opt.learning_rate = -1.0;
    CHECK_THROWS_WITH(opt.validate(), Contains("learning_rate must be positive"));
    GibbsOptions g;
    g.temperature = 0.0;
    CHECK_THROWS_WITH(GibbsSampler(bm, g), Contains("temperature must be positive"));
    GibbsSampler s(bm, GibbsOptions{});
    CHECK_THROWS_AS(s.set_states(arma::mat(4, 1, arma::fill::zeros)), UserError);
    AnnealOptions a;
    a.t_end = 20.0;
    CHECK_THROWS_AS(a.validate(), UserError);
    arma::mat w = {{0, 1}, {2, 0}};
    CHECK_THROWS_WITH(BoltzmannMachine(1, w, arma::vec(2, arma::fill::zeros)),
                      Contains("not symmetric"));
    CHECK_THROWS_AS(maxcut_machine(w), UserError);
    CHECK_THROWS_AS(BoltzmannMachine(0, 3), UserError);
  }
}
