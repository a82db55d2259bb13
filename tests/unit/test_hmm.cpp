// tests/unit/test_hmm.cpp: the HMM engine with categorical emissions, checked against brute-force
// enumeration of every state path, hand-computed textbook values, the log-space recursions, and
// the properties Baum-Welch must have (monotone, recovers a known model, keeps zeros and frozen
// parameters).
#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <numeric>

#include "seqlab/core/error.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using seqlab::test::IsNear;

namespace {

using CatHmm = Hmm<CategoricalEmission>;

CatHmm from_params(const CategoricalHmmParams& p) {
  return CatHmm(p.initial, p.transition, CategoricalEmission(p.emission));
}

CatHmm random_hmm(arma::uword states, arma::uword symbols, std::uint64_t seed) {
  Rng rng = make_rng(seed);
  return from_params(random_categorical_hmm(states, symbols, 1.0, rng));
}

// Every quantity of forward-backward and Viterbi by summing/maximising over all N^T paths.
struct BruteForce {
  double likelihood = 0.0;
  arma::mat gamma;
  arma::mat xi;
  arma::uvec best_path;
  double best_log = -std::numeric_limits<double>::infinity();
};

BruteForce enumerate_paths(const CatHmm& hmm, const arma::uvec& x) {
  const arma::uword n = hmm.num_states();
  const arma::uword steps = x.n_elem;
  const arma::mat& b = hmm.emission().probabilities();
  BruteForce r;
  r.gamma.zeros(n, steps);
  r.xi.zeros(n, n);
  arma::uvec path(steps, arma::fill::zeros);
  for (;;) {
    double p = hmm.initial()(path(0)) * b(path(0), x(0));
    for (arma::uword t = 1; t < steps; ++t)
      p *= hmm.transition()(path(t - 1), path(t)) * b(path(t), x(t));
    r.likelihood += p;
    for (arma::uword t = 0; t < steps; ++t) r.gamma(path(t), t) += p;
    for (arma::uword t = 1; t < steps; ++t) r.xi(path(t - 1), path(t)) += p;
    if (std::log(p) > r.best_log) {
      r.best_log = std::log(p);
      r.best_path = path;
    }
    // Next path in lexicographic order.
    arma::uword t = steps;
    while (t > 0 && path(t - 1) == n - 1) path(--t) = 0;
    if (t == 0) break;
    ++path(t - 1);
  }
  r.gamma /= r.likelihood;
  r.xi /= r.likelihood;
  return r;
}

arma::uvec random_symbols(arma::uword length, arma::uword symbols, Rng& rng) {
  arma::uvec x(length);
  for (arma::uword t = 0; t < length; ++t) x(t) = uniform_index(rng, symbols);
  return x;
}

}  // namespace

TEST_CASE("forward-backward and Viterbi agree with enumeration of every path", "[hmm]") {
  const arma::uword n = GENERATE(2, 3, 4);
  const arma::uword steps = GENERATE(1, 2, 5, 7);
  const std::uint64_t seed = GENERATE(11, 12, 13);
  CAPTURE(n, steps, seed);
  const CatHmm hmm = random_hmm(n, 3, seed);
  Rng rng = make_rng(seed + 100);
  const arma::uvec x = random_symbols(steps, 3, rng);
  const BruteForce truth = enumerate_paths(hmm, x);

  CHECK_THAT(hmm.log_likelihood(x), WithinRel(std::log(truth.likelihood), 1e-12));
  CHECK_THAT(hmm.log_likelihood_log_space(x), WithinRel(std::log(truth.likelihood), 1e-12));
  const Posteriors p = hmm.posteriors(x);
  CHECK_THAT(p.log_likelihood, WithinRel(std::log(truth.likelihood), 1e-12));
  CHECK_THAT(p.gamma, IsNear(truth.gamma, 1e-12, 1e-15));
  CHECK_THAT(p.transition_counts, IsNear(truth.xi, 1e-12, 1e-15));
  const ViterbiPath v = hmm.viterbi(x);
  CHECK(arma::all(v.states == truth.best_path));
  CHECK_THAT(v.log_probability, WithinRel(truth.best_log, 1e-12));
  // Per-step conditionals sum to the whole.
  CHECK_THAT(arma::accu(hmm.step_log_probs(x)), WithinRel(std::log(truth.likelihood), 1e-12));
}

TEST_CASE("a textbook 2-state Viterbi path computed by hand", "[hmm]") {
  // States 0 = Healthy, 1 = Fever; symbols 0 = normal, 1 = cold, 2 = dizzy.
  // initial (.6, .4); transition H->H .7, H->F .3, F->H .4, F->F .6;
  // emission H (.5, .4, .1), F (.1, .3, .6). Observations: normal, cold, dizzy.
  // Viterbi deltas:
  //   t0: H .6*.5 = .3                     F .4*.1 = .04
  //   t1: H max(.3*.7, .04*.4)*.4 = .084    F max(.3*.3, .04*.6)*.3 = .027   (both from H)
  //   t2: H max(.084*.7, .027*.4)*.1 = .00588   F max(.084*.3, .027*.6)*.6 = .01512 (from H)
  // best = F with .01512; back: H at t1 (from H at t0): path H H F.
  // Forward: t0 (.3, .04); t1 H (.21+.016)*.4 = .0904, F (.09+.024)*.3 = .0342;
  //   t2 H (.06328+.01368)*.1 = .007696, F (.02712+.02052)*.6 = .028584; total .03628.
  const CatHmm hmm(arma::vec{0.6, 0.4}, arma::mat{{0.7, 0.3}, {0.4, 0.6}},
                   CategoricalEmission(arma::mat{{0.5, 0.4, 0.1}, {0.1, 0.3, 0.6}}));
  const arma::uvec x{0, 1, 2};
  const ViterbiPath v = hmm.viterbi(x);
  CHECK(arma::all(v.states == arma::uvec{0, 0, 1}));
  CHECK_THAT(v.log_probability, WithinRel(std::log(0.01512), 1e-12));
  CHECK_THAT(hmm.log_likelihood(x), WithinRel(std::log(0.03628), 1e-12));
  // Posterior decoding: gamma_2 = (.007696, .028584) / .03628 -> Fever at t2.
  CHECK(hmm.posterior_decode(x)(2) == 1);
}

TEST_CASE("a sequence of probability 0 has no Viterbi path and no posteriors", "[hmm]") {
  // Symbol 2 is never emitted: any sequence holding it is impossible.
  const CatHmm hmm(arma::vec{0.5, 0.5}, arma::mat{{0.9, 0.1}, {0.2, 0.8}},
                   CategoricalEmission(arma::mat{{0.7, 0.3, 0.0}, {0.4, 0.6, 0.0}}));
  const arma::uvec x{0, 1, 2, 0};
  CHECK(hmm.log_likelihood(x) == -std::numeric_limits<double>::infinity());
  const ViterbiPath v = hmm.viterbi(x);
  CHECK(v.states.is_empty());
  CHECK(v.log_probability == -std::numeric_limits<double>::infinity());
  CHECK_THROWS_WITH(hmm.posterior_decode(x), Catch::Contains("probability 0"));
  // A possible sequence still gets its full path.
  CHECK(hmm.viterbi(arma::uvec{0, 1, 1, 0}).states.n_elem == 4);
}

TEST_CASE("Baum-Welch's memory estimate counts parameters, batch statistics and buffers", "[hmm]") {
  // N = 10, 3 numbers per state, two sequences of 100 steps: two batches of one sequence each.
  // Model and copies 4 N^2 + 2 N K = 460; per batch N^2 + N K = 130 (x 2); one worker's forward
  // and emission buffers 2 N C = 2000 (two workers: 4000). Bytes = 8 x the sum.
  CHECK(baum_welch_bytes(10, 3, {100, 100}, 1) == 8.0L * (460 + 260 + 2000));
  CHECK(baum_welch_bytes(10, 3, {100, 100}, 2) == 8.0L * (460 + 260 + 4000));
  // 100000 states: far beyond any machine, computed without overflow.
  CHECK(baum_welch_bytes(100000, 6, {50}, 1) > 8.0L * 4e10L);
}

TEST_CASE("Viterbi breaks ties toward the lower state index", "[hmm]") {
  // Two identical states: every path has the same probability.
  const CatHmm hmm(arma::vec{0.5, 0.5}, arma::mat{{0.5, 0.5}, {0.5, 0.5}},
                   CategoricalEmission(arma::mat{{0.5, 0.5}, {0.5, 0.5}}));
  const ViterbiPath v = hmm.viterbi(arma::uvec{0, 1, 1, 0});
  CHECK(arma::all(v.states == arma::uvec{0, 0, 0, 0}));
  CHECK_THAT(v.log_probability, WithinRel(8 * std::log(0.5), 1e-14));
}

TEST_CASE("Viterbi finds the loaded die of the dishonest casino", "[hmm]") {
  const CatHmm casino = from_params(casino_params());
  Rng rng = make_rng(2024);
  const auto sample = casino.sample(5000, rng);
  const ViterbiPath v = casino.viterbi(sample.observations);
  const double accuracy =
      static_cast<double>(arma::accu(v.states == sample.states)) / sample.states.n_elem;
  CAPTURE(accuracy);
  // Most steps (and most loaded stretches) are recovered: with this seed we measured 0.824;
  // the stated threshold leaves room for a different but equally valid sample stream.
  CHECK(accuracy > 0.75);
  // Posterior decoding maximises the expected number of correct steps.
  const arma::uvec map = casino.posterior_decode(sample.observations);
  const double map_accuracy =
      static_cast<double>(arma::accu(map == sample.states)) / sample.states.n_elem;
  CAPTURE(map_accuracy);
  CHECK(map_accuracy > 0.75);
  // Sampled states: the chain's stationary distribution has P(Loaded) = 0.05 / 0.15 = 1/3.
  const double loaded = static_cast<double>(arma::accu(sample.states)) / sample.states.n_elem;
  CHECK_THAT(loaded, WithinAbs(1.0 / 3.0, 0.06));
}

TEST_CASE("scaled forward agrees with log-space forward over 10^6 steps", "[hmm]") {
  // State 2 emits both symbols with tiny probabilities (1e-200 scale), state 0/1 normal ones, so
  // the scaled pass must carry the emission offsets exactly.
  const CatHmm hmm(arma::vec{0.2, 0.3, 0.5},
                   arma::mat{{0.8, 0.1, 0.1}, {0.2, 0.7, 0.1}, {0.3, 0.3, 0.4}},
                   CategoricalEmission(arma::mat{{0.6, 0.4, 0.0}, {0.1, 0.9, 0.0},
                                                 {1e-200, 1e-250, 1.0 - 1e-200 - 1e-250}}));
  Rng rng = make_rng(5);
  arma::uvec x = random_symbols(1000000, 2, rng);
  const double scaled = hmm.log_likelihood(x);
  const double log_space = hmm.log_likelihood_log_space(x);
  CHECK(std::isfinite(scaled));
  CHECK_THAT(scaled, WithinRel(log_space, 1e-9));
  // A sequence only state 2 can emit: log L is about 10^6 * log(1e-200), far below underflow.
  arma::uvec only_tiny(1000000, arma::fill::zeros);
  const CatHmm tiny(arma::vec{1.0}, arma::mat(1, 1, arma::fill::ones), CategoricalEmission(arma::mat{{1e-200, 1.0 - 1e-200}}));
  CHECK_THAT(tiny.log_likelihood(only_tiny), WithinRel(1e6 * std::log(1e-200), 1e-12));
}

TEST_CASE("a batch of ragged sequences scores like one at a time, for any thread count", "[hmm]") {
  const CatHmm hmm = random_hmm(4, 5, 77);
  Rng rng = make_rng(78);
  std::vector<arma::uvec> data;
  for (arma::uword len : {30u, 1u, 0u, 200u, 30u, 7u, 199u, 64u})
    data.push_back(random_symbols(len, 5, rng));
  const arma::vec batch = hmm.log_likelihoods(data, 1);
  for (std::size_t s = 0; s < data.size(); ++s) {
    CAPTURE(s);
    CHECK_THAT(batch(s), WithinRel(hmm.log_likelihood(data[s]), 1e-12));
    CHECK_THAT(batch(s), WithinRel(hmm.log_likelihood_log_space(data[s]), 1e-12));
  }
  CHECK(batch(2) == 0.0);  // the empty sequence has probability 1
  const arma::vec threaded = hmm.log_likelihoods(data, 2);
  CHECK(arma::all(threaded == batch));
}

TEST_CASE("one Baum-Welch step on ragged batches equals the M-step of per-sequence posteriors",
          "[hmm]") {
  // 70 sequences make two batches; lengths up to 400 make runs of steps longer than the
  // transition-count GEMM takes at once, and ragged ends break runs at every length change.
  const arma::uword n = 5, m = 6;
  const CatHmm start = random_hmm(n, m, 91);
  Rng rng = make_rng(92);
  std::vector<arma::uvec> data;
  for (int s = 0; s < 70; ++s) {
    const arma::uword length = s % 9 == 0 ? 400 - s : 1 + uniform_index(rng, 260);
    data.push_back(random_symbols(length, m, rng));
  }
  arma::vec initial_counts(n, arma::fill::zeros);
  arma::mat transition_counts(n, n, arma::fill::zeros), symbol_counts(n, m, arma::fill::zeros);
  for (const arma::uvec& x : data) {
    const Posteriors p = start.posteriors(x);
    initial_counts += p.gamma.col(0);
    transition_counts += p.transition_counts;
    for (arma::uword t = 0; t < x.n_elem; ++t) symbol_counts.col(x(t)) += p.gamma.col(t);
  }
  const arma::vec expected_initial = initial_counts / arma::accu(initial_counts);
  const arma::mat expected_transition =
      transition_counts.each_col() / arma::sum(transition_counts, 1);
  const arma::mat expected_emission = symbol_counts.each_col() / arma::sum(symbol_counts, 1);

  const unsigned threads = GENERATE(1u, 2u);
  CAPTURE(threads);
  CatHmm trained = start;
  TrainOptions options;
  options.max_iterations = 1;
  options.tolerance = 0.0;
  FitOptions run;
  run.threads = threads;
  trained.fit(data, options, run);
  CHECK_THAT(trained.initial(), IsNear(expected_initial, 1e-12));
  CHECK_THAT(trained.transition(), IsNear(expected_transition, 1e-12));
  CHECK_THAT(trained.emission().probabilities(), IsNear(expected_emission, 1e-12));
}

TEST_CASE("expected transition counts match a plain dense reference at small and large N",
          "[hmm]") {
  // N = 40 adds each step's product into the count matrix; N = 300 gathers steps into products
  // of up to 2048 columns: 2,500 steps make two of them. The reference is written out here with
  // dense Armadillo operations: rescaled alpha and beta, then sum_t alpha_t (b_{t+1} beta_{t+1}
  // / c_{t+1})^T o A. Tolerance 1e-10 relative (sums of 2,500 terms in another order).
  const arma::uword n = GENERATE(40u, 300u);
  CAPTURE(n);
  const arma::uword m = 7, length = 2500;
  const CatHmm hmm = random_hmm(n, m, 300 + n);
  Rng rng = make_rng(17);
  const arma::uvec x = random_symbols(length, m, rng);
  const arma::mat& a = hmm.transition();
  const arma::mat& e = hmm.emission().probabilities();  // N x M
  arma::mat alpha(n, length), beta(n, length);
  arma::vec c(length);
  alpha.col(0) = hmm.initial() % e.col(x(0));
  c(0) = arma::accu(alpha.col(0));
  alpha.col(0) /= c(0);
  for (arma::uword t = 1; t < length; ++t) {
    alpha.col(t) = (a.t() * alpha.col(t - 1)) % e.col(x(t));
    c(t) = arma::accu(alpha.col(t));
    alpha.col(t) /= c(t);
  }
  beta.col(length - 1).ones();
  for (arma::uword t = length - 1; t-- > 0;)
    beta.col(t) = a * (e.col(x(t + 1)) % beta.col(t + 1)) / c(t + 1);
  arma::mat expected(n, n, arma::fill::zeros);
  for (arma::uword t = 0; t + 1 < length; ++t)
    expected += alpha.col(t) * ((e.col(x(t + 1)) % beta.col(t + 1)) / c(t + 1)).t();
  expected %= a;
  const Posteriors p = hmm.posteriors(x);
  CHECK_THAT(p.transition_counts, IsNear(expected, 1e-10, 1e-14));
  CHECK_THAT(p.gamma, IsNear(alpha % beta, 1e-10, 1e-14));
  CHECK_THAT(p.log_likelihood, WithinRel(arma::accu(arma::log(c)), 1e-12));
}

TEST_CASE("Baum-Welch never decreases the log-likelihood", "[hmm]") {
  const std::uint64_t seed = GENERATE(1, 2, 3, 4);
  CAPTURE(seed);
  const CatHmm truth = random_hmm(3, 4, seed);
  Rng rng = make_rng(seed + 50);
  std::vector<arma::uvec> data;
  for (int s = 0; s < 6; ++s) data.push_back(truth.sample(150 + 10 * s, rng).observations);
  CatHmm model = random_hmm(3, 4, seed + 1000);
  TrainOptions options;
  options.max_iterations = 20;
  options.tolerance = 0.0;  // run all 20 iterations
  const FitResult r = model.fit(data, options);
  const auto& history = r.restarts[0].log_likelihood;
  REQUIRE(history.size() == 21);
  for (std::size_t k = 1; k < history.size(); ++k) {
    CAPTURE(k);
    CHECK(history[k] >= history[k - 1] - 1e-9 * std::abs(history[k - 1]));
  }
  CHECK(r.restarts[0].decreases.empty());
  // The recorded last value is the returned model's log-likelihood.
  CHECK_THAT(arma::accu(model.log_likelihoods(data)), WithinRel(history.back(), 1e-12));
  CHECK_THAT(r.log_likelihood, WithinRel(history.back(), 1e-15));
}

TEST_CASE("Baum-Welch recovers a known model from enough samples", "[hmm]") {
  const CatHmm truth(arma::vec{0.6, 0.4}, arma::mat{{0.9, 0.1}, {0.2, 0.8}},
                     CategoricalEmission(arma::mat{{0.7, 0.2, 0.1}, {0.1, 0.3, 0.6}}));
  Rng rng = make_rng(9);
  std::vector<arma::uvec> data;
  for (int s = 0; s < 40; ++s) data.push_back(truth.sample(500, rng).observations);
  CatHmm model = random_hmm(2, 3, 31);
  TrainOptions options;
  options.restarts = 3;
  options.tolerance = 1e-6;
  options.max_iterations = 500;
  const FitResult r = model.fit(data, options);
  CHECK(r.restarts[r.best_restart].converged);
  // Label switching: match the fitted states to the true ones by emission row distance.
  const arma::mat& e = model.emission().probabilities();
  const bool swapped = arma::accu(arma::abs(e.row(0) - truth.emission().probabilities().row(1))) <
                       arma::accu(arma::abs(e.row(0) - truth.emission().probabilities().row(0)));
  const arma::uvec perm = swapped ? arma::uvec{1, 0} : arma::uvec{0, 1};
  // 20,000 steps: standard errors of these entries are about 0.005-0.01; tolerance 0.04.
  CHECK_THAT(arma::mat(e.rows(perm)), IsNear(truth.emission().probabilities(), 0.0, 0.04));
  CHECK_THAT(arma::mat(model.transition().submat(perm, perm)), IsNear(truth.transition(), 0.0, 0.04));
  // The fitted model explains the data at least as well as the truth (it maximises it).
  CHECK(r.log_likelihood >= arma::accu(truth.log_likelihoods(data)) - 1e-6);
}

TEST_CASE("structural zeros stay zero and frozen groups stay fixed", "[hmm]") {
  const CatHmm left_to_right(arma::vec{1.0, 0.0, 0.0},
                             arma::mat{{0.6, 0.4, 0.0}, {0.0, 0.7, 0.3}, {0.0, 0.0, 1.0}},
                             CategoricalEmission(arma::mat{{0.8, 0.1, 0.1}, {0.1, 0.8, 0.1},
                                                           {0.1, 0.1, 0.8}}));
  Rng rng = make_rng(3);
  std::vector<arma::uvec> data;
  for (int s = 0; s < 10; ++s) data.push_back(left_to_right.sample(40, rng).observations);

  SECTION("zeros survive pseudo-counts and restarts") {
    CatHmm model(arma::vec{1.0, 0.0, 0.0},
                 arma::mat{{0.5, 0.5, 0.0}, {0.0, 0.5, 0.5}, {0.0, 0.0, 1.0}},
                 CategoricalEmission(arma::mat{{0.5, 0.3, 0.2}, {0.2, 0.5, 0.3}, {0.3, 0.2, 0.5}}));
    TrainOptions options;
    options.transition_pseudo_count = 1.0;
    options.initial_pseudo_count = 1.0;
    options.restarts = 3;
    model.fit(data, options);
    CHECK(model.transition()(0, 2) == 0.0);
    CHECK(model.transition()(1, 0) == 0.0);
    CHECK(model.transition()(2, 0) == 0.0);
    CHECK(model.transition()(2, 1) == 0.0);
    CHECK(model.initial()(1) == 0.0);
    CHECK(model.initial()(2) == 0.0);
    CHECK(model.transition()(2, 2) == 1.0);
    CHECK(model.transition()(0, 1) > 0.0);
  }
  SECTION("frozen groups are bit-identical after training") {
    CatHmm model = random_hmm(3, 3, 8);
    const CatHmm before = model;
    TrainOptions options;
    options.train_transition = false;
    options.train_emission = false;
    model.fit(data, options);
    CHECK(arma::all(arma::vectorise(model.transition() == before.transition())));
    CHECK(arma::all(arma::vectorise(model.emission().probabilities() ==
                                    before.emission().probabilities())));
    CHECK_FALSE(arma::all(model.initial() == before.initial()));
  }
}

TEST_CASE("training is identical for any thread count", "[hmm]") {
  const CatHmm truth = random_hmm(3, 4, 21);
  Rng rng = make_rng(22);
  std::vector<arma::uvec> data;
  for (int s = 0; s < 600; ++s) data.push_back(truth.sample(20 + s % 37, rng).observations);
  TrainOptions options;
  options.max_iterations = 5;
  options.restarts = 2;
  CatHmm one = random_hmm(3, 4, 23), two = one;
  FitOptions run;
  run.threads = 1;
  const FitResult r1 = one.fit(data, options, run);
  run.threads = 2;
  const FitResult r2 = two.fit(data, options, run);
  CHECK(r1.restarts[1].log_likelihood == r2.restarts[1].log_likelihood);
  CHECK(arma::all(arma::vectorise(one.transition() == two.transition())));
}

TEST_CASE("a state that lost all mass is re-seeded and the event recorded", "[hmm]") {
  // State 1 can only emit symbol 1, which never occurs: its occupancy is exactly 0.
  CatHmm model(arma::vec{0.5, 0.5}, arma::mat{{0.5, 0.5}, {0.5, 0.5}},
               CategoricalEmission(arma::mat{{0.5, 0.3, 0.2}, {0.0, 1.0, 0.0}}));
  std::vector<arma::uvec> data{arma::uvec{0, 2, 0, 0, 2, 2, 0}};
  TrainOptions options;
  options.max_iterations = 3;
  const FitResult r = model.fit(data, options);
  REQUIRE_FALSE(r.restarts[0].reseeds.empty());
  CHECK(r.restarts[0].reseeds[0] == std::make_pair(arma::uword{1}, arma::uword{1}));
  // After the split, state 1 emits the observed symbols again (it copied state 0, perturbed).
  CHECK(model.emission().probabilities()(1, 1) < 0.5);
  CHECK(std::isfinite(r.log_likelihood));
}

TEST_CASE("supervised training counts transitions and emissions", "[hmm]") {
  CatHmm model = random_hmm(2, 2, 4);
  // Paths: 0 0 1 1 and 1 1 0; symbols 0 0 1 1 and 1 0 0.
  // initial counts (1, 1); transitions 0->0: 1, 0->1: 1, 1->1: 2, 1->0: 1.
  // emissions: state 0 saw symbols 0, 0, 0 -> (1, 0); state 1 saw 1, 1, 1, 0 -> (1/4, 3/4).
  model.fit_supervised({arma::uvec{0, 0, 1, 1}, arma::uvec{1, 0, 0}},
                       {arma::uvec{0, 0, 1, 1}, arma::uvec{1, 1, 0}}, TrainOptions{});
  CHECK_THAT(arma::mat(model.initial()), IsNear(arma::vec{0.5, 0.5}, 1e-15));
  CHECK_THAT(model.transition(), IsNear(arma::mat{{0.5, 0.5}, {1.0 / 3, 2.0 / 3}}, 1e-15));
  CHECK_THAT(model.emission().probabilities(), IsNear(arma::mat{{1.0, 0.0}, {0.25, 0.75}}, 1e-15));
  CHECK_THROWS_WITH(model.fit_supervised({arma::uvec{0, 1}}, {arma::uvec{0, 2}}, TrainOptions{}),
                    Contains("step 1") && Contains("state 2"));
}

TEST_CASE("AIC and BIC follow from the parameter count", "[hmm]") {
  const CatHmm hmm = random_hmm(3, 4, 6);
  // (N-1) + N(N-1) + N(M-1) = 2 + 6 + 9.
  CHECK(hmm.num_parameters() == 17);
  const std::vector<arma::uvec> data{arma::uvec{0, 1, 2, 3}, arma::uvec{3, 3}};
  const double ll = hmm.log_likelihood(data[0]) + hmm.log_likelihood(data[1]);
  CHECK_THAT(hmm.aic(data), WithinRel(2 * 17 - 2 * ll, 1e-13));
  CHECK_THAT(hmm.bic(data), WithinRel(17 * std::log(6.0) - 2 * ll, 1e-13));
}

TEST_CASE("bad input is a UserError naming what is wrong", "[hmm]") {
  const CatHmm hmm = random_hmm(2, 3, 1);
  CHECK_THROWS_AS(hmm.log_likelihood(arma::uvec{0, 1, 3}), UserError);
  CHECK_THROWS_WITH(hmm.log_likelihood(arma::uvec{0, 1, 3}),
                    Contains("step 2") && Contains("outside the alphabet of 3"));
  CatHmm copy = hmm;
  CHECK_THROWS_WITH(copy.fit({}, TrainOptions{}), Contains("no training sequences"));
  CHECK_THROWS_WITH(CatHmm(arma::vec(), arma::mat(), CategoricalEmission()),
                    Contains("zero states"));
  CHECK_THROWS_WITH(CatHmm(arma::vec{0.5, 0.5}, arma::mat{{0.5, 0.5}, {0.3, 0.6}},
                           CategoricalEmission(arma::mat(2, 1, arma::fill::ones))),
                    Contains("transition row 1 sums to 0.9"));
  CHECK_THROWS_WITH(CatHmm(arma::vec{0.5, 0.5}, arma::mat{{1.5, -0.5}, {0.5, 0.5}},
                           CategoricalEmission(arma::mat(2, 1, arma::fill::ones))),
                    Contains("transition row 0: entry 1"));
  CHECK_THROWS_WITH(CategoricalEmission(arma::mat{{0.5, 0.5}, {0.2, 0.2}}),
                    Contains("emission row 1 sums to 0.4"));
  CHECK_THROWS_WITH(CatHmm(arma::vec{1.0}, arma::mat(1, 1, arma::fill::ones),
                           CategoricalEmission(arma::mat(2, 1, arma::fill::ones))),
                    Contains("2 states, expected 1"));
  // A sequence impossible under the model: -inf, and posteriors refuse it.
  const CatHmm certain(arma::vec{1.0}, arma::mat(1, 1, arma::fill::ones), CategoricalEmission(arma::mat{{1.0, 0.0}}));
  CHECK(certain.log_likelihood(arma::uvec{0, 1, 0}) == -std::numeric_limits<double>::infinity());
  CHECK_THROWS_WITH(certain.posteriors(arma::uvec{0, 1}), Contains("probability 0"));
}

TEST_CASE("a categorical HMM survives a save/load round trip", "[hmm]") {
  test::ScratchDir dir;
  const CatHmm inner = random_hmm(3, 4, 42);
  const CategoricalHmm model(Alphabet({"a", "b", "c", "d"}), inner);
  {
    H5::H5File file((dir / "m.h5").string(), H5F_ACC_TRUNC);
    H5::Group root = file.openGroup("/");
    model.save(root);
  }
  CategoricalHmm loaded;
  {
    H5::H5File file((dir / "m.h5").string(), H5F_ACC_RDONLY);
    loaded.load(file.openGroup("/"));
  }
  CHECK(loaded.alphabet() == model.alphabet());
  CHECK(loaded.type() == "hmm");
  const arma::uvec x{0, 3, 2, 2, 1, 0};
  CHECK(loaded.log_likelihood(x) == model.log_likelihood(x));
  CHECK(loaded.num_parameters() == model.num_parameters());

  SECTION("a transition row that does not sum to 1 in the file is rejected") {
    {
      H5::H5File file((dir / "bad.h5").string(), H5F_ACC_TRUNC);
      H5::Group root = file.openGroup("/");
      model.save(root);
      root.unlink("transition");
      arma::mat bad = inner.transition();
      bad(1, 0) += 0.25;
      h5::write_mat(root, "transition", bad);
    }
    H5::H5File file((dir / "bad.h5").string(), H5F_ACC_RDONLY);
    CategoricalHmm target;
    CHECK_THROWS_WITH(target.load(file.openGroup("/")),
                      Contains("/transition") && Contains("row 1 sums to"));
  }
}

TEST_CASE("CategoricalHmm fits through the SequenceModel interface", "[hmm]") {
  Rng rng = make_rng(12);
  const CatHmm casino = from_params(casino_params());
  SequenceSet train;
  train.kind = SequenceKind::symbols;
  for (int s = 0; s < 5; ++s) train.symbols.push_back(casino.sample(400, rng).observations);
  CategoricalHmmOptions options;
  options.states = 2;
  options.train.max_iterations = 50;
  CategoricalHmm model(casino_alphabet(), options);
  FitOptions fit_options;
  fit_options.seed = 3;
  std::vector<std::string> messages;
  FitObserver observer;
  observer.on_message = [&](const std::string& m) {
    if (m.empty() || m[0] != '\r') messages.push_back(m);  // not the per-iteration lines
  };
  model.fit(train, &train, fit_options, &observer);
  REQUIRE(messages.size() == 2);
  const Evaluation e = evaluate(model, train);
  // A fitted 2-state model is at least as good as the uniform die on its training data.
  CHECK(e.nats_per_symbol() < std::log(6.0));
  const arma::vec steps = model.step_log_probs(train.symbols[0]);
  CHECK_THAT(arma::accu(steps), WithinRel(model.log_likelihood(train.symbols[0]), 1e-12));
  const arma::uvec more = model.sample_symbols(100, rng, train.symbols[0]);
  CHECK(more.n_elem == 100);
  CHECK(more.max() < 6);
}

TEST_CASE("CategoricalHmm with train_chunk fits the pieces of its sequences", "[hmm]") {
  Rng rng = make_rng(21);
  const CatHmm casino = from_params(casino_params());
  SequenceSet whole, pieces;
  whole.kind = pieces.kind = SequenceKind::symbols;
  whole.symbols = {casino.sample(1000, rng).observations, casino.sample(250, rng).observations};
  // Pieces of 300: 300, 300, 300, 100 of the first sequence; the second (250) stays whole.
  for (const arma::uvec& x : whole.symbols)
    for (arma::uword b = 0; b < x.n_elem; b += 300)
      pieces.symbols.push_back(x.subvec(b, std::min<arma::uword>(x.n_elem, b + 300) - 1));
  REQUIRE(pieces.symbols.size() == 5);
  CategoricalHmmOptions options;
  options.states = 2;
  options.train.max_iterations = 20;
  CategoricalHmm chunked(casino_alphabet(), options), reference(casino_alphabet(), options);
  options.train_chunk = 300;
  chunked = CategoricalHmm(casino_alphabet(), options);
  FitOptions fit_options;
  fit_options.seed = 5;
  chunked.fit(whole, nullptr, fit_options, nullptr);
  reference.fit(pieces, nullptr, fit_options, nullptr);
  CHECK(arma::approx_equal(chunked.hmm().transition(), reference.hmm().transition(), "absdiff", 0.0));
  CHECK(arma::approx_equal(chunked.hmm().emission().probabilities(),
                           reference.hmm().emission().probabilities(), "absdiff", 0.0));
  // Scoring still uses the whole sequences.
  CHECK_THAT(chunked.log_likelihood(whole.symbols[0]),
             WithinRel(chunked.hmm().log_likelihood(whole.symbols[0]), 1e-15));
}

TEST_CASE("10^7 steps do not underflow", "[hmm][slow][.]") {
  const CatHmm hmm = from_params(casino_params());
  Rng rng = make_rng(1);
  const auto sample = hmm.sample(10000000, rng);
  const double ll = hmm.log_likelihood(sample.observations);
  CHECK(std::isfinite(ll));
  // Per-symbol log-likelihood close to the casino's entropy rate scale: between -log 6 and -1.
  CHECK(ll / 1e7 > -std::log(6.0));
  CHECK(ll / 1e7 < -1.0);
}
