// tests/unit/test_crbm.cpp: the conditional RBM: each step's distribution sums to 1 over every
// frame, its log-probabilities equal brute-force sums over frames AND hidden states (across
// state blocks and vector-width padding), its exact gradient matches finite differences, the
// exact sampler follows the model's distribution, threads do not change a number, training
// beats the independent-frames model on data with temporal structure, early stopping keeps the
// best epoch, model files round-trip, and bad input is refused in one line.
#include <cmath>
#include <cstdint>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/energy/crbm_model.hpp"
#include "seqlab/models/model_registry.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::energy;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

// The state with index s as a 0/1 vector of n units (unit j = bit j).
arma::vec bits(std::uint64_t s, arma::uword n) {
  arma::vec x(n);
  for (arma::uword j = 0; j < n; ++j) x(j) = static_cast<double>((s >> j) & 1u);
  return x;
}

Crbm random_crbm(arma::uword v, arma::uword h, arma::uword k, double scale, std::uint64_t seed) {
  Crbm crbm(v, h, k);
  Rng rng = make_rng(seed);
  for (double& p : crbm.parameters()) p = scale * standard_normal(rng);
  return crbm;
}

arma::mat random_frames(arma::uword v, arma::uword n, double p, Rng& rng) {
  arma::mat x(v, n);
  for (double& e : x) e = uniform01(rng) < p ? 1.0 : 0.0;
  return x;
}

// -E_t(v, h) = b_t.v + c_t.h + h^T W v written out from the definition, term by term.
double neg_energy(const Crbm& m, const arma::vec& u, const arma::vec& v, const arma::vec& h) {
  const arma::vec bt = m.b() + m.A() * u;
  const arma::vec ct = m.c() + m.B() * u;
  return arma::dot(bt, v) + arma::dot(ct, h) + arma::as_scalar(h.t() * m.W() * v);
}

// log p(v | u) by summing exp(-E) over every h (numerator) and every (v', h) pair (Z).
double brute_log_prob(const Crbm& m, const arma::vec& u, const arma::vec& v) {
  const arma::uword V = m.num_visible(), H = m.num_hidden();
  std::vector<double> numerator, all;
  for (std::uint64_t sh = 0; sh < (std::uint64_t{1} << H); ++sh) {
    const arma::vec h = bits(sh, H);
    numerator.push_back(neg_energy(m, u, v, h));
    for (std::uint64_t sv = 0; sv < (std::uint64_t{1} << V); ++sv)
      all.push_back(neg_energy(m, u, bits(sv, V), h));
  }
  return log_sum_exp(numerator.begin(), numerator.end()) - log_sum_exp(all.begin(), all.end());
}

// Sequences of binary frames with temporal structure: a hidden phase walks round `prototypes`
// (to the next one with probability `advance`, else stays), each frame is its phase's prototype
// with every bit flipped with probability `flip`.
SequenceSet phase_sequences(const arma::mat& prototypes, arma::uword sequences, arma::uword length,
                            double advance, double flip, Rng& rng) {
  SequenceSet set;
  set.kind = SequenceKind::binary_frames;
  for (arma::uword s = 0; s < sequences; ++s) {
    arma::mat x(prototypes.n_rows, length);
    arma::uword phase = static_cast<arma::uword>(uniform_index(rng, prototypes.n_cols));
    for (arma::uword t = 0; t < length; ++t) {
      if (t > 0 && uniform01(rng) < advance) phase = (phase + 1) % prototypes.n_cols;
      for (arma::uword i = 0; i < x.n_rows; ++i) {
        const bool flipped = uniform01(rng) < flip;
        x(i, t) = (prototypes(i, phase) > 0.5) != flipped ? 1.0 : 0.0;
      }
    }
    set.frames.push_back(x);
  }
  return set;
}

double nll_per_frame(const SequenceModel& model, const SequenceSet& set) {
  const Evaluation e = evaluate(model, set);
  return -e.log_likelihood / static_cast<double>(e.symbols);
}

CrbmModelOptions small_options(arma::uword hidden, arma::uword order, arma::uword epochs) {
  CrbmModelOptions o;
  o.hidden = hidden;
  o.order = order;
  o.epochs = epochs;
  o.batch = 20;
  o.learning_rate = 0.02;
  o.patience = 0;
  return o;
}

}  // namespace

TEST_CASE("a CRBM step's distribution sums to 1 over every frame", "[crbm]") {
  // V = 4 frames (16 of them), H = 3, K = 2: for several contexts the exact probabilities of all
  // frames add up to 1.
  const Crbm m = random_crbm(4, 3, 2, 0.9, 11);
  Rng rng = make_rng(12);
  const arma::mat history = random_frames(4, 2, 0.5, rng);
  arma::mat all(4, 16);
  for (std::uint64_t s = 0; s < 16; ++s) all.col(s) = bits(s, 4);
  for (int c = 0; c < 3; ++c) {
    CAPTURE(c);
    const arma::mat context_frames = random_frames(4, 2, 0.5, rng);
    arma::mat u = m.contexts(arma::mat(4, 1, arma::fill::zeros), context_frames);
    u = arma::repmat(u, 1, 16);
    const arma::vec lp = m.step_log_probs(all, u);
    CHECK_THAT(arma::accu(arma::exp(lp)), WithinRel(1.0, 1e-12));
    CHECK(lp.max() < 0.0);
  }
}

TEST_CASE("CRBM log-probabilities equal sums over every frame and hidden state", "[crbm]") {
  struct Case {
    arma::uword v, h, k;
  };
  // Padding of the visible units to the vector width (V = 5, 9), one block and several blocks of
  // hidden states (H = 9: 512 states in two blocks), and no context at all (K = 0).
  const Case c = GENERATE(Case{5, 3, 2}, Case{9, 2, 1}, Case{3, 9, 2}, Case{4, 4, 0});
  CAPTURE(c.v, c.h, c.k);
  const Crbm m = random_crbm(c.v, c.h, c.k, 0.7, 21 + c.h);
  CrbmModel model(c.v, small_options(c.h, c.k, 1));
  model.crbm().parameters() = m.parameters();
  Rng rng = make_rng(22);
  const arma::mat x = random_frames(c.v, 5, 0.4, rng);
  const arma::mat u = m.contexts(x);
  const arma::vec lp = m.step_log_probs(x, u);
  REQUIRE(lp.n_elem == 5);
  double total = 0.0;
  for (arma::uword t = 0; t < 5; ++t) {
    CAPTURE(t);
    // (Armadillo's col() of a matrix without rows binds a null reference: K = 0 gets a vec.)
    const arma::vec ut = c.k > 0 ? arma::vec(u.col(t)) : arma::vec();
    const double expected = brute_log_prob(m, ut, x.col(t));
    CHECK_THAT(lp(t), WithinAbs(expected, 1e-11));
    total += expected;
  }
  // The context of step t is the frames before it in the sequence, zeros before the start.
  CHECK_THAT(model.log_likelihood(x), WithinAbs(total, 1e-10));
  CHECK(arma::approx_equal(model.step_log_probs(x), lp, "absdiff", 0.0));
  SequenceSet set;
  set.kind = SequenceKind::binary_frames;
  set.frames = {x.cols(0, 1), x};
  const arma::vec per_sequence = model.log_likelihoods(set);
  CHECK_THAT(per_sequence(0), WithinAbs(model.log_likelihood(x.cols(0, 1)), 1e-12));
  CHECK_THAT(per_sequence(1), WithinAbs(total, 1e-10));
}

TEST_CASE("CRBM log Z over many visible units equals the term-by-term hidden sum", "[crbm]") {
  // V = 600 crosses the kernel's folds of the running product (every 512 terms); the reference
  // sums log1p terms one by one: log Z_t = log sum_h exp(c_t.h + sum_i softplus(b_ti + W^T h)).
  const Crbm m = random_crbm(600, 3, 1, 0.3, 31);
  Rng rng = make_rng(32);
  const arma::mat x = random_frames(600, 3, 0.3, rng);
  const arma::mat u = m.contexts(x);
  const arma::vec log_z = m.log_partitions(u);
  for (arma::uword t = 0; t < 3; ++t) {
    const arma::vec bt = m.b() + m.A() * u.col(t);
    const arma::vec ct = m.c() + m.B() * u.col(t);
    std::vector<double> terms;
    for (std::uint64_t sh = 0; sh < 8; ++sh) {
      const arma::vec h = bits(sh, 3);
      const arma::vec a = bt + m.W().t() * h;
      double s = arma::dot(ct, h);
      for (const double ai : a)
        s += ai > 0 ? ai + std::log1p(std::exp(-ai)) : std::log1p(std::exp(ai));
      terms.push_back(s);
    }
    CAPTURE(t);
    CHECK_THAT(log_z(t), WithinRel(log_sum_exp(terms.begin(), terms.end()), 1e-13));
  }
}

TEST_CASE("CRBM terms beyond the fast kernel's range are scored exactly too", "[crbm]") {
  // The fast kernel needs |b_t| <= 80 and |W^T h| <= 80; a large context weight pushes some
  // steps' biases past that, a large weight some states', and those take the exp-based kernel.
  Crbm m = random_crbm(5, 3, 1, 0.7, 35);
  m.A()(0, 0) = 200.0;  // b_t0 ~ 200 whenever unit 0 was on in the previous frame
  Rng rng = make_rng(36);
  arma::mat x = random_frames(5, 8, 0.5, rng);
  x(0, 2) = 1.0;
  x(0, 5) = 0.0;
  const bool large_weight = GENERATE(false, true);  // and then a large weight too
  CAPTURE(large_weight);
  if (large_weight) m.W()(1, 2) = -120.0;
  const arma::mat u = m.contexts(x);
  const arma::vec lp = m.step_log_probs(x, u);
  for (arma::uword t = 0; t < x.n_cols; ++t) {
    CAPTURE(t);
    CHECK_THAT(lp(t), WithinAbs(brute_log_prob(m, u.col(t), x.col(t)), 1e-9));
  }
  const arma::vec grad = m.log_likelihood_gradient(x, u);
  const test::GradientCheck r = test::fourth_order_gradient_check(
      m.parameters().memptr(), m.num_parameters(), grad.memptr(),
      [&] { return arma::mean(m.step_log_probs(x, u)); }, 1e-7);
  CAPTURE(r.worst, r.index, r.analytic, r.numeric);
  CHECK(r.worst_beyond_margin < 1e-6);
}

TEST_CASE("the largest CRBM (H = 20) agrees with its sum over frames", "[crbm]") {
  // 2^20 hidden states against V = 2: log Z_t summed the other way round, over the 4 frames:
  // log sum_v exp(b_t.v + sum_j softplus(c_tj + W_j. v)).
  const Crbm m = random_crbm(2, 20, 1, 0.3, 37);
  arma::mat x(2, 2, arma::fill::zeros);
  x(1, 0) = 1.0;
  const arma::mat u = m.contexts(x);
  const arma::vec log_z = m.log_partitions(u, 2);
  for (arma::uword t = 0; t < 2; ++t) {
    const arma::vec bt = m.b() + m.A() * u.col(t);
    const arma::vec ct = m.c() + m.B() * u.col(t);
    std::vector<double> terms;
    for (std::uint64_t sv = 0; sv < 4; ++sv) {
      const arma::vec v = bits(sv, 2);
      const arma::vec a = ct + m.W() * v;
      double s = arma::dot(bt, v);
      for (const double aj : a)
        s += aj > 0 ? aj + std::log1p(std::exp(-aj)) : std::log1p(std::exp(aj));
      terms.push_back(s);
    }
    CAPTURE(t);
    CHECK_THAT(log_z(t), WithinRel(log_sum_exp(terms.begin(), terms.end()), 1e-12));
  }
}

TEST_CASE("the exact CRBM gradient matches finite differences", "[crbm]") {
  struct Case {
    arma::uword v, h, k;
  };
  // H = 9 spreads the hidden states over two groups whose expectations are merged.
  const Case c = GENERATE(Case{3, 2, 2}, Case{4, 3, 1}, Case{3, 9, 1}, Case{5, 2, 0});
  CAPTURE(c.v, c.h, c.k);
  Crbm m = random_crbm(c.v, c.h, c.k, 0.6, 41 + c.v);
  Rng rng = make_rng(42);
  const arma::mat x = random_frames(c.v, 6, 0.4, rng);
  const arma::mat u = m.contexts(x);
  arma::vec lp;
  const arma::vec grad = m.log_likelihood_gradient(x, u, 1, &lp);
  REQUIRE(grad.n_elem == m.num_parameters());
  CHECK(arma::approx_equal(lp, m.step_log_probs(x, u), "absdiff", 1e-12));
  const test::GradientCheck r = test::fourth_order_gradient_check(
      m.parameters().memptr(), m.num_parameters(), grad.memptr(),
      [&] { return arma::mean(m.step_log_probs(x, u)); }, 1e-9);
  CAPTURE(r.worst, r.index, r.analytic, r.numeric);
  // Fourth-order differences at h = 1e-4: truncation ~1e-16, rounding ~1e-12 / 1e-4 = 1e-8 abs.
  CHECK(r.worst_beyond_margin < 1e-7);
  // Both phases matter: the data term alone is far from this gradient.
  CHECK(arma::norm(grad) > 1e-2);
}

TEST_CASE("CRBM results do not depend on the number of threads", "[crbm]") {
  const Crbm m = random_crbm(7, 10, 2, 0.5, 51);  // 1024 states: four groups of blocks
  Rng rng = make_rng(52);
  const arma::mat x = random_frames(7, 300, 0.4, rng);  // two chunks of steps
  const arma::mat u = m.contexts(x);
  CHECK(arma::approx_equal(m.step_log_probs(x, u, 1), m.step_log_probs(x, u, 3), "absdiff", 0.0));
  const arma::mat xs = x.cols(0, 19), us = u.cols(0, 19);
  CHECK(arma::approx_equal(m.log_likelihood_gradient(xs, us, 1),
                           m.log_likelihood_gradient(xs, us, 2), "absdiff", 0.0));
}

TEST_CASE("CRBM samples follow the model's exact distribution", "[crbm]") {
  // V = 2, H = 3, K = 2: two frames drawn after a one-frame prime; the 16 outcomes' frequencies
  // over 20000 draws against p(x1, x2 | prime) = exp(log p(x1 | prime) + log p(x2 | x1, prime)).
  const Crbm m = random_crbm(2, 3, 2, 1.2, 61);
  arma::mat prime(2, 1);
  prime(0, 0) = 1.0;
  prime(1, 0) = 0.0;
  Rng rng = make_rng(62);
  const arma::uword n = 20000;
  arma::vec counts(16, arma::fill::zeros);
  for (arma::uword s = 0; s < n; ++s) {
    const arma::mat x = m.sample(2, prime, rng);
    REQUIRE(x.n_rows == 2);
    REQUIRE(x.n_cols == 2);
    counts(static_cast<arma::uword>(x(0, 0) + 2 * x(1, 0) + 4 * x(0, 1) + 8 * x(1, 1))) += 1.0;
  }
  for (std::uint64_t o = 0; o < 16; ++o) {
    arma::mat seq(2, 3);
    seq.col(0) = prime.col(0);
    seq.col(1) = bits(o & 3u, 2);
    seq.col(2) = bits(o >> 2, 2);
    const arma::vec lp = m.step_log_probs(seq, m.contexts(seq));
    const double p = std::exp(lp(1) + lp(2));
    CAPTURE(o, p, counts(o) / n);
    // Binomial sd <= 0.0036 at n = 20000: 0.015 is more than 4 sd.
    CHECK_THAT(counts(o) / n, WithinAbs(p, 0.015));
  }
  Rng a = make_rng(5), b = make_rng(5);
  CHECK(arma::approx_equal(m.sample(30, prime, a), m.sample(30, prime, b), "absdiff", 0.0));
}

TEST_CASE("a trained CRBM uses the past: it beats the independent-frames model", "[crbm]") {
  // 4 prototypes of 8 bits visited in a cycle (advancing with probability 0.95), 5 % bit noise.
  // Knowing the previous frame leaves about 0.2 nats of phase uncertainty, not knowing it
  // log 4 = 1.39: order 1 should gain about a nat per frame over order 0 (the same model with no
  // context), which in turn beats independent units.
  Rng data_rng = make_rng(71);
  const arma::mat prototypes = random_binary_prototypes(8, 4, data_rng);
  const SequenceSet train = phase_sequences(prototypes, 60, 20, 0.95, 0.05, data_rng);
  const SequenceSet valid = phase_sequences(prototypes, 20, 20, 0.95, 0.05, data_rng);
  const SequenceSet test = phase_sequences(prototypes, 20, 20, 0.95, 0.05, data_rng);

  FitOptions fit;
  fit.seed = 5;
  CrbmModel independent(8, small_options(4, 0, 40));
  independent.fit(train, &valid, fit, nullptr);
  CrbmModel conditional(8, small_options(4, 1, 40));
  TrainingHistory history;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  conditional.fit(train, &valid, fit, &observer);

  const double nll0 = nll_per_frame(independent, test);
  const double nll1 = nll_per_frame(conditional, test);
  // Independent units with the training frequencies (add-one smoothed).
  arma::vec on(8, arma::fill::ones);
  double frames = 2.0;
  for (const auto& f : train.frames) {
    on += arma::sum(f, 1);
    frames += static_cast<double>(f.n_cols);
  }
  const arma::vec p = on / frames;
  double units_ll = 0.0;
  for (const auto& f : test.frames)
    for (arma::uword t = 0; t < f.n_cols; ++t)
      for (arma::uword i = 0; i < 8; ++i)
        units_ll += f(i, t) > 0.5 ? std::log(p(i)) : std::log1p(-p(i));
  const double units = -units_ll / 400.0;
  CAPTURE(units, nll0, nll1, history.front().train_nll, history.back().train_nll);
  CHECK(nll0 < units - 1.0);
  CHECK(nll1 < nll0 - 0.6);

  REQUIRE(history.size() == 40);
  CHECK(history.back().updates == 40u * 60u);  // 1200 frames in batches of 20
  CHECK(history.back().train_nll < history.front().train_nll - 1.0);
  for (const auto& r : history) {
    CHECK(std::isfinite(r.valid_nll));
    CHECK(r.learning_rate == 0.02);
  }
}

TEST_CASE("CRBM early stopping keeps the epoch with the best valid NLL", "[crbm]") {
  // Few training sequences and a large rate: the valid NLL turns up early, and the model that
  // fit() leaves behind scores the valid split exactly as well as its best epoch did.
  Rng data_rng = make_rng(81);
  const arma::mat prototypes = random_binary_prototypes(10, 3, data_rng);
  const SequenceSet train = phase_sequences(prototypes, 4, 15, 0.9, 0.1, data_rng);
  const SequenceSet valid = phase_sequences(prototypes, 10, 15, 0.9, 0.1, data_rng);
  CrbmModelOptions o = small_options(6, 2, 60);
  o.learning_rate = 0.05;
  o.batch = 10;
  o.patience = 3;
  CrbmModel model(10, o);
  TrainingHistory history;
  std::vector<std::string> messages;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  observer.on_message = [&](const std::string& m) { messages.push_back(m); };
  FitOptions fit;
  fit.seed = 2;
  model.fit(train, &valid, fit, &observer);
  REQUIRE(history.size() >= 4);
  CHECK(history.size() < 60);
  double best = history.front().valid_nll;
  std::uint64_t best_epoch = 1;
  for (const auto& r : history)
    if (r.valid_nll < best) {
      best = r.valid_nll;
      best_epoch = r.epoch;
    }
  CAPTURE(best, best_epoch, history.size());
  CHECK(best_epoch + 3 == history.size());
  CHECK_THAT(nll_per_frame(model, valid), WithinRel(best, 1e-12));
  CHECK_THAT(messages.back(),
             Contains("restored the parameters of epoch " + std::to_string(best_epoch)));
}

TEST_CASE("a CRBM model file round-trips through the registry's loader", "[crbm]") {
  CrbmModel model(6, small_options(3, 2, 1));
  model.crbm().parameters() = random_crbm(6, 3, 2, 0.5, 91).parameters();
  model.set_feature_names({"a", "b", "c", "d", "e", "f"});
  Rng rng = make_rng(92);
  SequenceSet set;
  set.kind = SequenceKind::binary_frames;
  set.frames = {random_frames(6, 7, 0.5, rng), random_frames(6, 3, 0.5, rng)};
  test::ScratchDir dir;
  save_model(dir / "crbm.h5", model);
  const auto loaded = load_model(dir / "crbm.h5");
  REQUIRE(loaded->type() == "crbm");
  CHECK(
      arma::approx_equal(model.log_likelihoods(set), loaded->log_likelihoods(set), "absdiff", 0.0));
  CHECK(loaded->num_parameters() == 3u * 6u + 6u + 3u + (6u + 3u) * 12u);
  CHECK(loaded->feature_names() == model.feature_names());
  Rng a = make_rng(3), b = make_rng(3);
  CHECK(arma::approx_equal(model.sample_frames(5, a, arma::mat()),
                           loaded->sample_frames(5, b, arma::mat()), "absdiff", 0.0));

  SECTION("order 0 stores empty context weights") {
    CrbmModel plain(4, small_options(2, 0, 1));
    plain.crbm().parameters() = random_crbm(4, 2, 0, 0.5, 93).parameters();
    save_model(dir / "plain.h5", plain);
    const auto back = load_model(dir / "plain.h5");
    const arma::mat x = random_frames(4, 5, 0.5, rng);
    CHECK(back->log_likelihood(x) == plain.log_likelihood(x));
  }
  SECTION("a model with a non-finite parameter is not written") {
    model.crbm().parameters()(4) = std::nan("");
    CHECK_THROWS_AS(save_model(dir / "bad.h5", model), UserError);
    CHECK_FALSE(std::filesystem::exists(dir / "bad.h5"));
  }
}

TEST_CASE("a CRBM refuses what it cannot model in one line", "[crbm]") {
  CHECK_THROWS_WITH(Crbm(10, 21, 1), Contains("at most 20 hidden units, got 21 (the exact "
                                              "likelihood sums over all 2^H hidden states"));
  CrbmModelOptions big;
  big.hidden = 24;
  CHECK_THROWS_WITH(CrbmModel(10, big), Contains("between 1 and 20, got 24"));
  CrbmModel model(4, small_options(2, 1, 1));
  CHECK_THROWS_WITH(model.log_likelihood(arma::mat(5, 2, arma::fill::zeros)),
                    Contains("frames of 5 rows, the model 4"));
  arma::mat half(4, 2, arma::fill::zeros);
  half(1, 1) = 0.5;
  CHECK_THROWS_WITH(model.log_likelihood(half), Contains("frame 1 row 1 holds 0.5"));
  SequenceSet symbols = test::symbol_set({arma::uvec{0, 1, 2}});
  CHECK_THROWS_WITH(model.fit(symbols, nullptr, FitOptions{}, nullptr),
                    Contains("the training split holds symbols, the model binary_frames"));
  CHECK_THROWS_WITH(model.sample_frames(2, *std::make_unique<Rng>(make_rng(1)), half),
                    Contains("the prime: frame 1 row 1 holds 0.5"));
}
