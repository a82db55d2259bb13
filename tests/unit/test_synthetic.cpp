// tests/unit/test_synthetic.cpp: the Gamma/Dirichlet draws, the synthetic samplers and the
// dataset builder. Statistical checks compare an empirical frequency with its expectation within
// 5 standard errors (stated per test); seeds are fixed, so each check is deterministic, and a
// 5-SE band is wide enough that a correct sampler passes for any seed with probability ~1 - 6e-7.
#include <cmath>

#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/data/synthetic.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

// |observed - expected| <= 5 standard errors.
void check_within_5se(double observed, double expected, double standard_error) {
  CAPTURE(observed, expected, standard_error);
  CHECK(std::abs(observed - expected) <= 5.0 * standard_error);
}

bool same_symbols(const SequenceSet& a, const SequenceSet& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (a.symbols[i].n_elem != b.symbols[i].n_elem || arma::any(a.symbols[i] != b.symbols[i]))
      return false;
  return true;
}

bool same_frames(const SequenceSet& a, const SequenceSet& b) {
  if (a.size() != b.size()) return false;
  for (std::size_t i = 0; i < a.size(); ++i)
    if (!arma::approx_equal(a.frames[i], b.frames[i], "absdiff", 0.0)) return false;
  return true;
}

bool same_set(const SequenceSet& a, const SequenceSet& b) {
  return a.kind == SequenceKind::symbols ? same_symbols(a, b) : same_frames(a, b);
}

// Depth walk of a bracket sequence: returns false when it goes negative.
struct BracketCheck {
  bool never_negative = true;
  arma::uword max_depth = 0;
  arma::sword final_depth = 0;
};
BracketCheck walk_brackets(const arma::uvec& s) {
  BracketCheck c;
  arma::sword depth = 0;
  for (arma::uword t = 0; t + 1 < s.n_elem; ++t) {
    depth += s(t) == 0 ? 1 : -1;
    if (depth < 0) c.never_negative = false;
    c.max_depth = std::max(c.max_depth, static_cast<arma::uword>(std::max<arma::sword>(depth, 0)));
  }
  c.final_depth = depth;
  return c;
}

}  // namespace

// ---- Gamma and Dirichlet --------------------------------------------------------------------

TEST_CASE("sample_gamma has mean and variance equal to its shape", "[synthetic]") {
  const double shape = GENERATE(0.3, 1.0, 2.5, 40.0);
  CAPTURE(shape);
  Rng rng = make_rng(11);
  const int n = 100000;
  arma::vec x(n);
  for (int i = 0; i < n; ++i) x(i) = sample_gamma(shape, rng);
  CHECK(x.min() >= 0.0);
  // SE of the mean = sqrt(shape / n).
  check_within_5se(arma::mean(x), shape, std::sqrt(shape / n));
  // Sample variance: SE = sqrt((m4 - sigma^4) / n), with m4 = 3k(k+2) (k = shape) for Gamma(k,1).
  const double m4 = 3.0 * shape * (shape + 2.0);
  check_within_5se(arma::var(x), shape, std::sqrt((m4 - shape * shape) / n));
  CHECK_THROWS_AS(sample_gamma(0.0, rng), std::invalid_argument);
  CHECK_THROWS_AS(sample_gamma(-1.0, rng), std::invalid_argument);
}

TEST_CASE("sample_dirichlet draws normalised vectors with mean alpha / sum(alpha)", "[synthetic]") {
  const arma::vec alpha = {0.5, 1.0, 3.5, 0.05};
  const double a0 = arma::accu(alpha);
  Rng rng = make_rng(12);
  const int n = 40000;
  arma::vec sum(alpha.n_elem, arma::fill::zeros);
  for (int i = 0; i < n; ++i) {
    const arma::vec p = sample_dirichlet(alpha, rng);
    REQUIRE(p.n_elem == alpha.n_elem);
    REQUIRE(p.min() >= 0.0);
    REQUIRE_THAT(arma::accu(p), WithinAbs(1.0, 1e-12));
    sum += p;
  }
  for (arma::uword k = 0; k < alpha.n_elem; ++k) {
    CAPTURE(k);
    const double mean = alpha(k) / a0;
    // Var(p_k) = a_k (a0 - a_k) / (a0^2 (a0 + 1)); SE of the mean = sqrt(Var / n).
    const double var = alpha(k) * (a0 - alpha(k)) / (a0 * a0 * (a0 + 1.0));
    check_within_5se(sum(k) / n, mean, std::sqrt(var / n));
  }

  SECTION("tiny concentrations still give a normalised vector") {
    const arma::vec tiny(20, arma::fill::value(0.001));
    for (int i = 0; i < 100; ++i) {
      const arma::vec p = sample_dirichlet(tiny, rng);
      REQUIRE(p.is_finite());
      REQUIRE_THAT(arma::accu(p), WithinAbs(1.0, 1e-12));
    }
  }
  SECTION("bad concentration") {
    CHECK_THROWS_AS(sample_dirichlet(arma::vec{1.0, 0.0}, rng), std::invalid_argument);
    CHECK_THROWS_AS(sample_dirichlet(arma::vec(), rng), std::invalid_argument);
  }
}

// ---- Categorical HMM ------------------------------------------------------------------------

TEST_CASE("a deterministic HMM produces exactly the predicted path and symbols", "[synthetic]") {
  // 3 states cycling 0 -> 1 -> 2 -> 0; state i always emits symbol (i + 1) mod 4.
  CategoricalHmmParams p;
  p.transition = {{0, 1, 0}, {0, 0, 1}, {1, 0, 0}};
  p.emission = {{0, 1, 0, 0}, {0, 0, 1, 0}, {0, 0, 0, 1}};
  const arma::uword start = GENERATE(0u, 1u, 2u);
  p.initial.zeros(3);
  p.initial(start) = 1.0;
  Rng rng = make_rng(5);
  const HmmSample s = sample_categorical_hmm(p, 50, rng);
  REQUIRE(s.states.n_elem == 50);
  REQUIRE(s.symbols.n_elem == 50);
  for (arma::uword t = 0; t < 50; ++t) {
    CAPTURE(start, t);
    CHECK(s.states(t) == (start + t) % 3);
    CHECK(s.symbols(t) == (start + t) % 3 + 1);
  }
  CHECK(sample_categorical_hmm(p, 0, rng).symbols.n_elem == 0);
}

TEST_CASE("HMM sampler matches its transition and emission probabilities", "[synthetic]") {
  CategoricalHmmParams p;
  p.initial = {0.2, 0.3, 0.5};
  p.transition = {{0.8, 0.15, 0.05}, {0.1, 0.6, 0.3}, {0.0, 0.25, 0.75}};
  p.emission = {{0.5, 0.5, 0.0, 0.0}, {0.1, 0.2, 0.3, 0.4}, {0.7, 0.0, 0.0, 0.3}};
  Rng rng = make_rng(2024);
  const arma::uword T = 200000;
  const HmmSample s = sample_categorical_hmm(p, T, rng);
  arma::mat transitions(3, 3, arma::fill::zeros), emissions(3, 4, arma::fill::zeros);
  for (arma::uword t = 0; t < T; ++t) {
    emissions(s.states(t), s.symbols(t)) += 1;
    if (t + 1 < T) transitions(s.states(t), s.states(t + 1)) += 1;
  }
  // Given n_i visits of state i, the next states (and the symbols) are n_i independent
  // categorical draws, so the empirical frequency has SE sqrt(p (1 - p) / n_i). Zero
  // probabilities must never occur.
  for (arma::uword i = 0; i < 3; ++i) {
    const double from_i = arma::accu(transitions.row(i));
    const double in_i = arma::accu(emissions.row(i));
    REQUIRE(from_i > 1000);
    for (arma::uword j = 0; j < 3; ++j) {
      CAPTURE(i, j);
      const double q = p.transition(i, j);
      if (q == 0.0)
        CHECK(transitions(i, j) == 0.0);
      else
        check_within_5se(transitions(i, j) / from_i, q, std::sqrt(q * (1 - q) / from_i));
    }
    for (arma::uword m = 0; m < 4; ++m) {
      CAPTURE(i, m);
      const double q = p.emission(i, m);
      if (q == 0.0)
        CHECK(emissions(i, m) == 0.0);
      else
        check_within_5se(emissions(i, m) / in_i, q, std::sqrt(q * (1 - q) / in_i));
    }
  }

  SECTION("the first state follows initial") {
    // 20000 sequences of length 1: SE of each frequency sqrt(p (1 - p) / 20000).
    arma::vec counts(3, arma::fill::zeros);
    const int n = 20000;
    for (int i = 0; i < n; ++i) counts(sample_categorical_hmm(p, 1, rng).states(0)) += 1;
    for (arma::uword i = 0; i < 3; ++i)
      check_within_5se(counts(i) / n, p.initial(i),
                       std::sqrt(p.initial(i) * (1 - p.initial(i)) / n));
  }
}

TEST_CASE("bad HMM parameters are rejected with the offending part named", "[synthetic]") {
  CategoricalHmmParams good;
  good.initial = {0.5, 0.5};
  good.transition = {{0.9, 0.1}, {0.2, 0.8}};
  good.emission = {{0.25, 0.75, 0.0}, {1.0, 0.0, 0.0}};
  Rng rng = make_rng(1);
  CHECK_NOTHROW(validate_categorical_hmm(good));

  SECTION("transition row not summing to 1") {
    auto p = good;
    p.transition(1, 1) = 0.7;
    CHECK_THROWS_AS(sample_categorical_hmm(p, 5, rng), UserError);
    CHECK_THROWS_WITH(sample_categorical_hmm(p, 5, rng),
                      Contains("transition row 1 sums to 0.9") && Contains("expected 1"));
  }
  SECTION("a row off by more than 1e-9 fails, within 1e-9 passes") {
    auto p = good;
    p.emission(0, 0) += 1e-8;
    CHECK_THROWS_WITH(validate_categorical_hmm(p), Contains("emission row 0 sums to"));
    p.emission(0, 0) = 0.25 + 1e-10;
    CHECK_NOTHROW(validate_categorical_hmm(p));
  }
  SECTION("negative entry") {
    auto p = good;
    p.emission(1, 0) = 1.1;
    p.emission(1, 2) = -0.1;
    CHECK_THROWS_WITH(validate_categorical_hmm(p), Contains("emission row 1 entry 2 is -0.1"));
  }
  SECTION("initial not summing to 1") {
    auto p = good;
    p.initial(0) = 0.4;
    CHECK_THROWS_WITH(validate_categorical_hmm(p), Contains("HMM initial sums to 0.9"));
  }
  SECTION("wrong shapes") {
    auto p = good;
    p.transition = arma::mat(2, 3, arma::fill::value(1.0 / 3.0));
    CHECK_THROWS_WITH(validate_categorical_hmm(p),
                      Contains("transition is 2 x 3") && Contains("expected 2 x 2"));
    p = good;
    p.emission = arma::mat(3, 2, arma::fill::value(0.5));
    CHECK_THROWS_WITH(validate_categorical_hmm(p), Contains("emission is 3 x 2"));
    p = good;
    p.initial.reset();
    CHECK_THROWS_AS(validate_categorical_hmm(p), UserError);
  }
  SECTION("NaN entry") {
    auto p = good;
    p.transition(0, 0) = arma::datum::nan;
    CHECK_THROWS_WITH(validate_categorical_hmm(p), Contains("transition row 0 entry 0"));
  }
}

TEST_CASE("random_categorical_hmm draws valid Dirichlet rows", "[synthetic]") {
  Rng rng = make_rng(3);
  const double concentration = GENERATE(0.05, 1.0, 20.0);
  const CategoricalHmmParams p = random_categorical_hmm(5, 7, concentration, rng);
  REQUIRE(p.initial.n_elem == 5);
  REQUIRE(p.transition.n_rows == 5);
  REQUIRE(p.transition.n_cols == 5);
  REQUIRE(p.emission.n_rows == 5);
  REQUIRE(p.emission.n_cols == 7);
  CHECK_NOTHROW(validate_categorical_hmm(p));
  for (arma::uword i = 0; i < 5; ++i) {
    CHECK_THAT(arma::accu(p.transition.row(i)), WithinAbs(1.0, 1e-12));
    CHECK_THAT(arma::accu(p.emission.row(i)), WithinAbs(1.0, 1e-12));
  }
  CHECK_THROWS_WITH(random_categorical_hmm(0, 3, 1.0, rng), Contains("'states'"));
  CHECK_THROWS_WITH(random_categorical_hmm(2, 0, 1.0, rng), Contains("'symbols'"));
  CHECK_THROWS_WITH(random_categorical_hmm(2, 3, 0.0, rng), Contains("'concentration'"));
}

TEST_CASE("Gaussian HMM emits around the state's mean with its variance", "[synthetic]") {
  GaussianHmmParams p;
  p.initial = {1.0, 0.0};
  p.transition = {{0.0, 1.0}, {1.0, 0.0}};  // alternates 0, 1, 0, 1, ...
  p.means = {{-2.0, 3.0}, {0.5, 0.0}};      // d = 2
  p.variances = {{1.0, 0.25}, {4.0, 0.01}};
  Rng rng = make_rng(8);
  const arma::uword T = 100000;
  const GaussianHmmSample s = sample_gaussian_hmm(p, T, rng);
  REQUIRE(s.observations.n_rows == 2);
  REQUIRE(s.observations.n_cols == T);
  for (arma::uword t = 0; t < 10; ++t) CHECK(s.states(t) == t % 2);
  for (arma::uword state = 0; state < 2; ++state) {
    const arma::uvec at = arma::find(s.states == state);
    const double n = static_cast<double>(at.n_elem);
    for (arma::uword k = 0; k < 2; ++k) {
      CAPTURE(state, k);
      const arma::rowvec x = s.observations.row(k).eval().cols(at);
      const double var = p.variances(k, state);
      // SE of a normal mean sqrt(var / n); of a normal sample variance var * sqrt(2 / n).
      check_within_5se(arma::mean(x), p.means(k, state), std::sqrt(var / n));
      check_within_5se(arma::var(x), var, var * std::sqrt(2.0 / n));
    }
  }
  SECTION("bad variances and shapes") {
    auto q = p;
    q.variances(1, 0) = 0.0;
    CHECK_THROWS_WITH(sample_gaussian_hmm(q, 3, rng), Contains("variances(1, 0) is 0"));
    q = p;
    q.means = arma::mat(2, 3, arma::fill::zeros);
    CHECK_THROWS_WITH(sample_gaussian_hmm(q, 3, rng), Contains("means is 2 x 3"));
  }
}

// ---- Casino ---------------------------------------------------------------------------------

TEST_CASE("the dishonest casino matches its textbook stationary behaviour", "[synthetic]") {
  const CategoricalHmmParams p = casino_params();
  REQUIRE_NOTHROW(validate_categorical_hmm(p));
  CHECK(casino_alphabet().symbols() == std::vector<std::string>{"1", "2", "3", "4", "5", "6"});
  CHECK(p.transition(0, 1) == 0.05);
  CHECK(p.transition(1, 0) == 0.10);
  CHECK_THAT(p.emission(1, 5), WithinAbs(0.5, 0.0));
  CHECK_THAT(p.emission(1, 0), WithinAbs(0.1, 0.0));
  CHECK_THAT(p.emission(0, 3), WithinAbs(1.0 / 6.0, 1e-15));

  Rng rng = make_rng(1998);
  const double n = 200000;
  const HmmSample s = sample_categorical_hmm(p, static_cast<arma::uword>(n), rng);
  // The chain is autocorrelated: with a = 0.05, b = 0.10, lambda = 1 - a - b = 0.85 and
  // pi = a / (a + b) = 1/3, the mean of the Loaded indicator has asymptotic variance
  // pi (1 - pi) (1 + lambda) / (1 - lambda) / n.
  const double pi_loaded = 0.05 / (0.05 + 0.10);
  const double lambda = 0.85;
  const double loaded = arma::accu(s.states == 1) / n;
  check_within_5se(loaded, pi_loaded,
                   std::sqrt(pi_loaded * (1 - pi_loaded) * (1 + lambda) / (1 - lambda) / n));

  // Face 6 (index 5): P = 2/3 * 1/6 + 1/3 * 1/2 = 5/18. Its indicator Y_t has
  // Cov(Y_t, Y_{t+k}) = (1/2 - 1/6)^2 pi (1 - pi) lambda^k, so the asymptotic variance of the
  // mean is [P (1 - P) + 2 (1/3)^2 pi (1 - pi) lambda / (1 - lambda)] / n.
  const double p6 = 2.0 / 3.0 * 1.0 / 6.0 + 1.0 / 3.0 * 1.0 / 2.0;
  CHECK_THAT(p6, WithinRel(5.0 / 18.0, 1e-15));
  const double six = arma::accu(s.symbols == 5) / n;
  const double var6 = p6 * (1 - p6) +
                      2.0 / 9.0 * pi_loaded * (1 - pi_loaded) * lambda / (1 - lambda);
  check_within_5se(six, p6, std::sqrt(var6 / n));
}

// ---- Copy, adding, brackets, patterns -------------------------------------------------------

TEST_CASE("copy task: K symbols, D blanks, go-marker, the same K symbols", "[synthetic]") {
  CopyTaskOptions o;
  o.symbols = GENERATE(1u, 3u, 26u);
  o.length = GENERATE(1u, 7u);
  o.delay = GENERATE(0u, 5u);
  CAPTURE(o.symbols, o.length, o.delay);
  const Alphabet a = copy_task_alphabet(o.symbols);
  REQUIRE(a.size() == o.symbols + 2);
  CHECK(a.symbol(0) == "a");
  CHECK(a.symbol(o.symbols - 1) == std::string(1, static_cast<char>('a' + o.symbols - 1)));
  CHECK(a.symbol(o.symbols) == "_");
  CHECK(a.symbol(o.symbols + 1) == ":");
  Rng rng = make_rng(7);
  arma::uvec seen(o.symbols, arma::fill::zeros);
  for (int rep = 0; rep < 50; ++rep) {
    const arma::uvec s = sample_copy_sequence(o, rng);
    REQUIRE(s.n_elem == 2 * o.length + o.delay + 1);
    for (arma::uword i = 0; i < o.length; ++i) {
      REQUIRE(s(i) < o.symbols);
      seen(s(i)) = 1;
      CHECK(s(o.length + o.delay + 1 + i) == s(i));
    }
    for (arma::uword i = 0; i < o.delay; ++i) CHECK(s(o.length + i) == o.symbols);
    CHECK(s(o.length + o.delay) == o.symbols + 1);
  }
  if (o.length == 7) CHECK(arma::all(seen == 1));  // 350 draws reach every symbol (n <= 26)
  CHECK_THROWS_WITH(copy_task_alphabet(27), Contains("'symbols'"));
  o.length = 0;
  CHECK_THROWS_WITH(sample_copy_sequence(o, rng), Contains("'length'"));
}

TEST_CASE("adding problem: two markers, one per half, target is their sum", "[synthetic]") {
  const arma::uword T = GENERATE(2u, 3u, 10u, 51u);
  CAPTURE(T);
  Rng rng = make_rng(97);
  const arma::uword half = T / 2;
  arma::vec first_counts(half, arma::fill::zeros);
  const int n = 5000;
  for (int rep = 0; rep < n; ++rep) {
    const AddingSample a = sample_adding_sequence(T, rng);
    REQUIRE(a.inputs.n_rows == 2);
    REQUIRE(a.inputs.n_cols == T);
    const arma::uvec marks = arma::find(a.inputs.row(1) == 1.0);
    REQUIRE(marks.n_elem == 2);
    REQUIRE(arma::accu(a.inputs.row(1)) == 2.0);  // the rest are exact zeros
    CHECK(marks(0) < half);
    CHECK(marks(1) >= half);
    CHECK(a.inputs.row(0).min() >= 0.0);
    CHECK(a.inputs.row(0).max() < 1.0);
    CHECK(a.target == a.inputs(0, marks(0)) + a.inputs(0, marks(1)));
    first_counts(marks(0)) += 1;
  }
  // The first marker is uniform on the first half: frequency 1/half, SE sqrt(q (1 - q) / n).
  const double q = 1.0 / static_cast<double>(half);
  for (arma::uword i = 0; i < half; ++i) {
    CAPTURE(i);
    if (half == 1)
      CHECK(first_counts(i) == n);
    else
      check_within_5se(first_counts(i) / n, q, std::sqrt(q * (1 - q) / n));
  }
  CHECK_THROWS_WITH(sample_adding_sequence(1, rng), Contains("'length'"));
}

TEST_CASE("brackets: balanced Dyck words of exact length within max_depth", "[synthetic]") {
  CHECK(bracket_alphabet().symbols() == std::vector<std::string>{"(", ")", "$"});
  Rng rng = make_rng(42);

  SECTION("random walks respect every constraint") {
    BracketOptions o;
    o.length = GENERATE(2u, 4u, 18u, 64u);
    o.max_depth = GENERATE(1u, 3u, 100u);
    o.open_probability = GENERATE(0.2, 0.5, 0.9);
    CAPTURE(o.length, o.max_depth, o.open_probability);
    arma::uword deepest = 0;
    for (int rep = 0; rep < 200; ++rep) {
      const arma::uvec s = sample_bracket_sequence(o, rng);
      REQUIRE(s.n_elem == o.length + 1);
      CHECK(s(o.length) == 2);
      CHECK(arma::all(s.head(o.length) <= 1));
      const BracketCheck c = walk_brackets(s);
      CHECK(c.never_negative);
      CHECK(c.final_depth == 0);
      CHECK(c.max_depth <= o.max_depth);
      deepest = std::max(deepest, c.max_depth);
    }
    // With 200 draws a depth-limited walk reaches depth 2 when allowed (probability of never
    // doing so is far below 1e-9 for these settings).
    if (o.max_depth >= 2 && o.length >= 4) CHECK(deepest >= 2);
  }
  SECTION("extreme probabilities give the two extreme words") {
    BracketOptions o;
    o.length = 8;
    o.max_depth = 100;
    o.open_probability = 1.0;
    const arma::uvec nested = sample_bracket_sequence(o, rng);
    CHECK(arma::all(nested == arma::uvec{0, 0, 0, 0, 1, 1, 1, 1, 2}));
    o.open_probability = 0.0;
    CHECK(arma::all(sample_bracket_sequence(o, rng) == arma::uvec{0, 1, 0, 1, 0, 1, 0, 1, 2}));
    o.open_probability = 1.0;
    o.max_depth = 2;
    CHECK(arma::all(sample_bracket_sequence(o, rng) == arma::uvec{0, 0, 1, 0, 1, 0, 1, 1, 2}));
  }
  SECTION("bad options") {
    BracketOptions o;
    o.length = 7;
    CHECK_THROWS_WITH(sample_bracket_sequence(o, rng), Contains("'length'"));
    o.length = 8;
    o.max_depth = 0;
    CHECK_THROWS_WITH(sample_bracket_sequence(o, rng), Contains("'max_depth'"));
    o.max_depth = 2;
    o.open_probability = 1.5;
    CHECK_THROWS_WITH(sample_bracket_sequence(o, rng), Contains("'open_probability'"));
  }
}

TEST_CASE("noisy patterns flip each prototype bit with probability flip", "[synthetic]") {
  const double flip = GENERATE(0.0, 0.05, 0.3);
  CAPTURE(flip);
  Rng rng = make_rng(31);
  const arma::uword d = 50, k = 4, n = 2000;
  const NoisyPatternSet set = make_noisy_patterns(d, k, n, flip, rng);
  REQUIRE(set.prototypes.n_rows == d);
  REQUIRE(set.prototypes.n_cols == k);
  CHECK(arma::all(arma::vectorise((set.prototypes == 0.0) + (set.prototypes == 1.0)) == 1));
  REQUIRE(set.samples.kind == SequenceKind::binary_frames);
  REQUIRE(set.samples.size() == n);
  REQUIRE(set.samples.labels.size() == n);
  double flips = 0;
  arma::vec label_counts(k, arma::fill::zeros);
  for (arma::uword i = 0; i < n; ++i) {
    const arma::mat& f = set.samples.frames[i];
    REQUIRE(f.n_rows == d);
    REQUIRE(f.n_cols == 1);
    const auto label = set.samples.labels[i];
    REQUIRE(label >= 0);
    REQUIRE(label < static_cast<arma::sword>(k));
    label_counts(static_cast<arma::uword>(label)) += 1;
    flips += arma::accu(arma::abs(f - set.prototypes.col(static_cast<arma::uword>(label))));
  }
  // n * d independent Bernoulli(flip) bits: SE sqrt(flip (1 - flip) / (n d)).
  const double bits = static_cast<double>(n * d);
  if (flip == 0.0)
    CHECK(flips == 0.0);
  else
    check_within_5se(flips / bits, flip, std::sqrt(flip * (1 - flip) / bits));
  // Prototypes chosen uniformly: SE sqrt(1/k (1 - 1/k) / n).
  for (arma::uword j = 0; j < k; ++j)
    check_within_5se(label_counts(j) / n, 1.0 / k, std::sqrt((1.0 / k) * (1 - 1.0 / k) / n));
  CHECK_THROWS_WITH(sample_noisy_patterns(set.prototypes, 3, 1.5, rng), Contains("'flip'"));
}

// ---- Whole datasets -------------------------------------------------------------------------

TEST_CASE("every synthetic generator builds a valid dataset with given splits", "[synthetic]") {
  const std::string generator = GENERATE(from_range(synthetic_generator_names()));
  CAPTURE(generator);
  Options o("test");
  o.set("sequences", "12");
  if (generator != "patterns") o.set("length", generator == "brackets" ? "30" : "15");
  const SequenceDataset d = make_synthetic_dataset("toy", generator, o, 77);
  CHECK(d.name == "toy");
  CHECK(d.split_rule.method == SplitRule::Method::given);
  REQUIRE(d.train.size() == 12);
  CHECK(d.valid.size() == 1);  // 10 % of 12, rounded down, at least 1
  CHECK(d.test.size() == 1);
  REQUIRE(d.all.size() == 14);
  CHECK_NOTHROW(d.validate());
  // all = train, valid, test in that order.
  SequenceSet joined;
  joined.kind = d.kind;
  for (const SequenceSet* s : {&d.train, &d.valid, &d.test})
    for (std::size_t i = 0; i < s->size(); ++i) joined.append_from(*s, i);
  CHECK(same_set(joined, d.all));

  SECTION("same seed, same data; other seed, other data") {
    const SequenceDataset again = make_synthetic_dataset("toy", generator, o, 77);
    CHECK(same_set(again.all, d.all));
    const SequenceDataset other = make_synthetic_dataset("toy", generator, o, 78);
    CHECK_FALSE(same_set(other.train, d.train));
  }
  SECTION("train, valid and test are different draws") {
    SequenceSet first_train, first_valid;
    first_train.kind = first_valid.kind = d.kind;
    first_train.append_from(d.train, 0);
    first_valid.append_from(d.valid, 0);
    SequenceSet first_test;
    first_test.kind = d.kind;
    first_test.append_from(d.test, 0);
    CHECK_FALSE(same_set(first_train, first_valid));
    CHECK_FALSE(same_set(first_valid, first_test));
  }
  SECTION("more sequences keep the earlier ones") {
    Options more = o;
    more.set("sequences", "30");
    more.set("valid_sequences", "4");
    const SequenceDataset big = make_synthetic_dataset("toy", generator, more, 77);
    CHECK(big.train.size() == 30);
    CHECK(big.valid.size() == 4);
    CHECK(big.test.size() == 3);
    SequenceSet prefix;
    prefix.kind = d.kind;
    for (std::size_t i = 0; i < 12; ++i) prefix.append_from(big.train, i);
    CHECK(same_set(prefix, d.train));
  }
  SECTION("unknown keys are rejected") {
    Options bad = o;
    bad.set("lenght", "3");
    CHECK_THROWS_WITH(make_synthetic_dataset("toy", generator, bad, 1),
                      Contains("unknown key 'lenght'"));
  }
}

TEST_CASE("synthetic datasets carry the generator's structure", "[synthetic]") {
  SECTION("hmm exposes the exact parameters it sampled from") {
    Options o;
    o.set("states", "3");
    o.set("symbols", "5");
    o.set("concentration", "0.5");
    o.set("sequences", "4");
    o.set("length", "40");
    const std::uint64_t seed = 123;
    const SequenceDataset d = make_synthetic_dataset("hmm3", "hmm", o, seed);
    const CategoricalHmmParams p = synthetic_hmm_parameters(o, seed);
    REQUIRE(p.emission.n_rows == 3);
    REQUIRE(p.emission.n_cols == 5);
    CHECK(d.alphabet.size() == 5);
    // Documented seeding: sequence i of train uses derive_seed(derive_seed(seed, 1), i).
    for (std::size_t i = 0; i < 4; ++i) {
      Rng rng = make_rng(derive_seed(derive_seed(seed, 1), i));
      CHECK(arma::all(sample_categorical_hmm(p, 40, rng).symbols == d.train.symbols[i]));
    }
    const CategoricalHmmParams same = synthetic_hmm_parameters("hmm", o, seed);
    CHECK(arma::approx_equal(same.emission, p.emission, "absdiff", 0.0));
    CHECK_FALSE(arma::approx_equal(synthetic_hmm_parameters(o, seed + 1).emission, p.emission,
                                   "absdiff", 0.0));
  }
  SECTION("casino uses the textbook parameters and faces 1..6") {
    Options o;
    o.set("sequences", "2");
    o.set("length", "25");
    const SequenceDataset d = make_synthetic_dataset("casino", "casino", o, 9);
    CHECK(d.alphabet == casino_alphabet());
    CHECK(d.train.symbols[0].n_elem == 25);
    const CategoricalHmmParams p = synthetic_hmm_parameters("casino", o, 9);
    CHECK(arma::approx_equal(p.transition, casino_params().transition, "absdiff", 0.0));
    Rng rng = make_rng(derive_seed(derive_seed(9, 1), 1));
    CHECK(arma::all(sample_categorical_hmm(p, 25, rng).symbols == d.train.symbols[1]));
    CHECK_THROWS_WITH(synthetic_hmm_parameters("copy", o, 9), Contains("no HMM"));
  }
  SECTION("copy sequences repeat their first K symbols") {
    Options o;
    o.set("symbols", "4");
    o.set("length", "5");
    o.set("delay", "3");
    o.set("sequences", "10");
    const SequenceDataset d = make_synthetic_dataset("copy", "copy", o, 5);
    CHECK(d.alphabet.size() == 6);
    for (const auto& s : d.all.symbols) {
      REQUIRE(s.n_elem == 14);
      CHECK(arma::all(s.head(5) == s.tail(5)));
      CHECK(s(8) == 5);
    }
  }
  SECTION("adding targets are the marked sums") {
    Options o;
    o.set("length", "20");
    o.set("sequences", "10");
    const SequenceDataset d = make_synthetic_dataset("add", "adding", o, 5);
    CHECK(d.kind == SequenceKind::vectors);
    CHECK(d.dimension == 2);
    REQUIRE(d.all.targets.size() == d.all.size());
    for (std::size_t i = 0; i < d.all.size(); ++i) {
      const arma::mat& x = d.all.frames[i];
      REQUIRE(d.all.targets[i].n_elem == 1);
      CHECK(d.all.targets[i](0) == arma::accu(x.row(0) % x.row(1)));
    }
  }
  SECTION("patterns share prototypes across splits; labels index them") {
    Options o;
    o.set("dimension", "16");
    o.set("prototypes", "3");
    o.set("flip", "0");
    o.set("sequences", "20");
    const SequenceDataset d = make_synthetic_dataset("pat", "patterns", o, 5);
    const arma::mat protos = synthetic_pattern_prototypes(o, 5);
    REQUIRE(protos.n_cols == 3);
    CHECK(d.dimension == 16);
    REQUIRE(d.all.labels.size() == d.all.size());
    for (std::size_t i = 0; i < d.all.size(); ++i)
      CHECK(arma::approx_equal(d.all.frames[i],
                               protos.col(static_cast<arma::uword>(d.all.labels[i])), "absdiff",
                               0.0));
  }
  SECTION("bad options name the key") {
    Options o("registry [x]");
    o.set("length", "7");
    CHECK_THROWS_WITH(make_synthetic_dataset("b", "brackets", o, 1),
                      Contains("registry [x]: key 'length'") && Contains("even"));
    Options z;
    z.set("sequences", "0");
    CHECK_THROWS_WITH(make_synthetic_dataset("c", "casino", z, 1), Contains("key 'sequences'"));
    Options f;
    f.set("flip", "2");
    CHECK_THROWS_WITH(make_synthetic_dataset("p", "patterns", f, 1), Contains("key 'flip'"));
    CHECK_THROWS_WITH(make_synthetic_dataset("x", "nonsense", Options(), 1),
                      Contains("unknown synthetic generator 'nonsense'"));
  }
}

TEST_CASE("generator_log_probability is the generators' exact distribution", "[synthetic]") {
  SECTION("brackets: the probabilities of all bracket strings sum to 1 and samples are possible") {
    const double p_open = GENERATE(0.5, 0.3);
    const int max_depth = GENERATE(1, 2, 3);
    CAPTURE(p_open, max_depth);
    Options o("test");
    o.set("length", "8");
    o.set("open_probability", std::to_string(p_open));
    o.set("max_depth", std::to_string(max_depth));
    double total = 0.0;
    for (arma::uword bits = 0; bits < 256; ++bits) {  // every string of 8 brackets
      arma::uvec x(9);
      for (arma::uword t = 0; t < 8; ++t) x(t) = (bits >> t) & 1u;
      x(8) = 2;
      total += std::exp(generator_log_probability("brackets", o, x).value());
    }
    CHECK_THAT(total, Catch::Matchers::WithinAbs(1.0, 1e-12));
    BracketOptions b;
    b.length = 8;
    b.open_probability = p_open;
    b.max_depth = static_cast<arma::uword>(max_depth);
    Rng rng = make_rng(3);
    for (int i = 0; i < 50; ++i)
      CHECK(std::isfinite(generator_log_probability("brackets", o, sample_bracket_sequence(b, rng))
                              .value()));
    // Wrong length, a missing "$", a closing bracket at depth 0: impossible.
    CHECK(generator_log_probability("brackets", o, arma::uvec{0, 1, 2}).value() == -INFINITY);
    CHECK(generator_log_probability("brackets", o, arma::uvec{0, 1, 0, 1, 0, 1, 0, 1, 1})
              .value() == -INFINITY);
    CHECK(generator_log_probability("brackets", o, arma::uvec{1, 0, 0, 1, 0, 1, 0, 1, 2})
              .value() == -INFINITY);
  }
  SECTION("copy: K log(1/symbols) for a copy sequence, -inf otherwise") {
    Options o("test");
    o.set("symbols", "3");
    o.set("length", "4");
    o.set("delay", "2");
    CopyTaskOptions c;
    c.symbols = 3;
    c.length = 4;
    c.delay = 2;
    Rng rng = make_rng(4);
    arma::uvec x = sample_copy_sequence(c, rng);
    CHECK_THAT(generator_log_probability("copy", o, x).value(),
               Catch::Matchers::WithinRel(-4.0 * std::log(3.0), 1e-15));
    x(x.n_elem - 1) = (x(x.n_elem - 1) + 1) % 3;  // a wrong copy
    CHECK(generator_log_probability("copy", o, x).value() == -INFINITY);
  }
  SECTION("generators without a closed form here give nullopt, unknown ones an error") {
    Options o("test");
    CHECK_FALSE(generator_log_probability("hmm", o, arma::uvec{0, 1}).has_value());
    CHECK_THROWS_AS(generator_log_probability("nope", o, arma::uvec{0}), UserError);
  }
}
