// tests/unit/test_hmm_float.cpp: the float32 Baum-Welch E-step (forward_backward_float.hpp)
// against the float64 one on the same data and parameters: log-likelihoods and re-estimated
// parameters, on the per-batch path (N <= kFloatWideStates) and on the wide path (row ranges on
// threads, depth chunks, tails of both), and the float step product against a double product.
#include <algorithm>
#include <cmath>

#include "seqlab/core/error.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/models/hmm/frame_hmm.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinRel;

namespace {

using CatHmm = Hmm<CategoricalEmission>;

CatHmm random_hmm(arma::uword states, arma::uword symbols, double concentration,
                  std::uint64_t seed) {
  Rng rng = make_rng(seed);
  const CategoricalHmmParams p = random_categorical_hmm(states, symbols, concentration, rng);
  return CatHmm(p.initial, p.transition, CategoricalEmission(p.emission));
}

// Largest |a - b| / |b| over the entries of b at least `floor` (smaller entries: |a - b| / floor).
double max_relative(const arma::mat& a, const arma::mat& b, double floor) {
  double worst = 0.0;
  for (arma::uword k = 0; k < b.n_elem; ++k)
    worst = std::max(worst, std::abs(a(k) - b(k)) / std::max(std::abs(b(k)), floor));
  return worst;
}

struct StepResult {
  double log_likelihood = 0.0;
  CatHmm model;
};

StepResult em_step(const CatHmm& start, const std::vector<arma::uvec>& data, Precision precision,
                   unsigned threads) {
  StepResult r{0.0, start};
  TrainOptions options;
  options.precision = precision;
  FitOptions run;
  run.threads = threads;
  r.log_likelihood = r.model.em_step(data, options, run);
  return r;
}

// Data sampled from a peaked HMM (concentration 0.1), scored and re-estimated under another one,
// so the posteriors are far from uniform and the counts spread over orders of magnitude.
void check_agreement(arma::uword states, arma::uword symbols, arma::uword sequences,
                     arma::uword length, unsigned threads, double tolerance) {
  const CatHmm truth = random_hmm(states, symbols, 0.1, 101 + states);
  const CatHmm start = random_hmm(states, symbols, 1.0, 202 + states);
  Rng rng = make_rng(303);
  std::vector<arma::uvec> data;
  for (arma::uword s = 0; s < sequences; ++s)
    data.push_back(truth.sample(length - 17 * s, rng).observations);  // ragged batches
  const StepResult exact = em_step(start, data, Precision::float64, threads);
  const StepResult single = em_step(start, data, Precision::float32, threads);
  CAPTURE(states, threads, exact.log_likelihood, single.log_likelihood);
  CHECK_THAT(single.log_likelihood, WithinRel(exact.log_likelihood, tolerance));
  // Entries below 1e-4 are compared on the absolute scale 1e-4 (their relative error grows as
  // they shrink: they are sums of few, small posterior terms).
  const double initial = max_relative(single.model.initial(), exact.model.initial(), 1e-4);
  const double transition =
      max_relative(single.model.transition(), exact.model.transition(), 1e-4);
  const double emission = max_relative(single.model.emission().probabilities(),
                                       exact.model.emission().probabilities(), 1e-4);
  CAPTURE(initial, transition, emission);
  CHECK(initial < tolerance);
  CHECK(transition < tolerance);
  CHECK(emission < tolerance);
  // The parameters did move: the comparison is not of two copies of the start.
  CHECK(max_relative(exact.model.transition(), start.transition(), 1e-4) > 1e-2);
}

}  // namespace

TEST_CASE("float32 Baum-Welch step agrees with float64 (batches side by side)",
          "[hmm][float32]") {
  // N = 64 on 4 ragged sequences (about 3000 symbols), one and two threads.
  check_agreement(64, 20, 4, 800, 1, 5e-6);
  check_agreement(64, 20, 4, 800, 2, 5e-6);
}

TEST_CASE("float32 Baum-Welch step agrees with float64 (wide batches, threads in products)",
          "[hmm][float32]") {
  // N = 300 > kFloatWideStates: 4 full row tiles and one of 44 rows, 4 full depth chunks and
  // one of 44, shared by 1 or 2 threads.
  STATIC_REQUIRE(300 > kFloatWideStates);
  check_agreement(300, 12, 3, 200, 1, 5e-6);
  check_agreement(300, 12, 3, 200, 2, 5e-6);
}

TEST_CASE("the wide float step product equals a double product up to float rounding",
          "[hmm][float32]") {
  const arma::uword n = 300;
  for (const unsigned parts : {1u, 2u, 3u}) {
    for (const arma::uword b : {arma::uword{1}, arma::uword{7}}) {
      arma::arma_rng::set_seed(parts * 10 + b);
      const arma::fmat a(n, n, arma::fill::randu), x(n, b, arma::fill::randu);
      arma::fmat c(n, b, arma::fill::value(-1.0f));
      FloatStepProduct(n, b, parts)(a.memptr(), x.memptr(), c.memptr());
      const arma::mat exact = arma::conv_to<arma::mat>::from(a) * arma::conv_to<arma::mat>::from(x);
      // Sums of 300 positive float products: relative error well below 300 x 2^-24 = 1.8e-5.
      CAPTURE(parts, b);
      CHECK(max_relative(arma::conv_to<arma::mat>::from(c), exact, 1e-30) < 2e-6);
    }
  }
}

TEST_CASE("float32 is refused for emissions other than symbols, and estimated in memory",
          "[hmm][float32]") {
  // The memory estimate of a wide float E-step: one worker whatever the threads; its float
  // alpha (N C / 2 doubles), float A, A^T and the double xi sum (2 N^2). N = 300, M-numbers 3,
  // two sequences of 100 steps (two batches): 4 N^2 + 2 N K + 2 (N^2 + N K) + N 100 / 2 + 2 N^2.
  const long double n = 300;
  const long double expected = 8.0L * (4 * n * n + 2 * n * 3 + 2 * (n * n + n * 3) +
                                       n * 100 / 2 + 2 * n * n);
  CHECK(baum_welch_bytes(300, 3, {100, 100}, 2, Precision::float32) == expected);
  CHECK(baum_welch_bytes(300, 3, {100, 100}, 1, Precision::float32) == expected);

  // A Gaussian HMM: float32 is refused in one line before any E-step.
  Hmm<GaussianDiagEmission> gaussian(arma::vec{0.5, 0.5}, arma::mat{{0.9, 0.1}, {0.2, 0.8}},
                                     GaussianDiagEmission(arma::mat{{0.0, 1.0}},
                                                          arma::mat{{1.0, 1.0}}));
  const std::vector<arma::mat> frames{arma::mat{{0.1, 0.9, 1.2}}};
  TrainOptions options;
  options.precision = Precision::float32;
  CHECK_THROWS_MATCHES(gaussian.fit(frames, options), UserError,
                       Catch::Matchers::Message(
                           "HMM: precision float32 is for symbol (categorical) emissions, not "
                           "gaussian_diag (expected float64)"));
  CHECK_THROWS_AS(gaussian.em_step(frames, options), UserError);
}

TEST_CASE("CategoricalHmm trains with precision float32", "[hmm][float32]") {
  Rng rng = make_rng(9);
  const CatHmm truth = random_hmm(6, 5, 0.3, 10);
  SequenceSet train;
  train.kind = SequenceKind::symbols;
  for (int s = 0; s < 6; ++s) train.symbols.push_back(truth.sample(300, rng).observations);
  CategoricalHmmOptions options;
  options.states = 6;
  options.train.max_iterations = 15;
  options.train.tolerance = 0.0;
  CategoricalHmm exact(Alphabet({"a", "b", "c", "d", "e"}), options);
  options.train.precision = Precision::float32;
  CategoricalHmm single(Alphabet({"a", "b", "c", "d", "e"}), options);
  FitOptions fit;
  fit.seed = 3;
  exact.fit(train, nullptr, fit, nullptr);
  single.fit(train, nullptr, fit, nullptr);
  // 15 iterations compound the per-step differences; the final likelihoods still agree closely.
  CHECK_THAT(single.last_fit().log_likelihood, WithinRel(exact.last_fit().log_likelihood, 1e-5));
  CHECK(max_relative(single.hmm().transition(), exact.hmm().transition(), 1e-3) < 1e-3);
}
