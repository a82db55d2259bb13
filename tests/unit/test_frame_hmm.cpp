// tests/unit/test_frame_hmm.cpp: FrameHmm (HMMs over vectors and binary frames as SequenceModels):
// model files (round trip, dispatch on the `emission` attribute, unknown names), parameter
// recovery from data sampled by a known Gaussian HMM, held-out gain of a Bernoulli HMM over a
// 1-state model, primed sampling, and how non-finite input is reported.
#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <numbers>

#include "seqlab/core/error.hpp"
#include "seqlab/data/readers.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/hmm/frame_hmm.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

std::string message_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no UserError)";
}

// A d x 1 matrix (one column); braces alone would be ambiguous for Armadillo.
arma::mat column(std::initializer_list<double> values) { return arma::mat(arma::vec(values)); }
// The one-state chain: initial (1) and transition (1 x 1).
const arma::vec kOneInitial = {1.0};
const arma::mat kOneTransition(1, 1, arma::fill::ones);

SequenceSet frame_set(SequenceKind kind, std::vector<arma::mat> frames) {
  SequenceSet set;
  set.kind = kind;
  set.frames = std::move(frames);
  return set;
}

// Samples of a 2-state, 2-D Gaussian HMM whose states sit far apart (means (-2, 0) and (3, 1),
// variances 0.5 and 0.8 in both dimensions, stay probabilities 0.9 and 0.8).
GaussianHmmParams two_state_gaussian() {
  GaussianHmmParams p;
  p.initial = {0.6, 0.4};
  p.transition = {{0.9, 0.1}, {0.2, 0.8}};
  p.means = {{-2.0, 3.0}, {0.0, 1.0}};
  p.variances = {{0.5, 0.8}, {0.5, 0.8}};
  return p;
}

std::vector<arma::mat> sample_gaussian(const GaussianHmmParams& p, arma::uword sequences,
                                       arma::uword length, Rng& rng) {
  std::vector<arma::mat> out;
  for (arma::uword s = 0; s < sequences; ++s)
    out.push_back(sample_gaussian_hmm(p, length, rng).observations);
  return out;
}

// A 3-state Bernoulli HMM over 12 units: each state turns on its own block of 4 units.
Hmm<BernoulliEmission> three_state_bernoulli() {
  arma::mat p(12, 3, arma::fill::value(0.1));
  for (arma::uword i = 0; i < 3; ++i) p.submat(4 * i, i, 4 * i + 3, i).fill(0.85);
  const arma::mat transition = {{0.8, 0.1, 0.1}, {0.1, 0.8, 0.1}, {0.1, 0.1, 0.8}};
  return Hmm<BernoulliEmission>(arma::vec{0.5, 0.3, 0.2}, transition, BernoulliEmission(p));
}

std::vector<arma::mat> sample_frames_of(const Hmm<BernoulliEmission>& hmm, arma::uword sequences,
                                        arma::uword length, Rng& rng) {
  std::vector<arma::mat> out;
  for (arma::uword s = 0; s < sequences; ++s) out.push_back(hmm.sample(length, rng).observations);
  return out;
}

// Data of the right kind and dimension for each emission (d = 3), from simple generators.
SequenceSet data_for(FrameEmission emission, Rng& rng) {
  std::vector<arma::mat> frames;
  for (int s = 0; s < 4; ++s) {
    arma::mat x(3, 40);
    for (auto& v : x)
      v = emission == FrameEmission::bernoulli ? (uniform01(rng) < 0.3 ? 1.0 : 0.0)
                                               : standard_normal(rng) + (uniform01(rng) < 0.5 ? 2.0 : -2.0);
    frames.push_back(x);
  }
  return frame_set(data_kind(emission), frames);
}

}  // namespace

TEST_CASE("frame HMM emission names and data kinds", "[frame_hmm]") {
  CHECK(frame_emission_names() ==
        std::vector<std::string>{"gaussian_diag", "gaussian_full", "gmm_diag", "bernoulli"});
  for (const auto& name : frame_emission_names()) {
    CAPTURE(name);
    REQUIRE(parse_frame_emission(name));
    CHECK(to_string(*parse_frame_emission(name)) == name);
  }
  CHECK_FALSE(parse_frame_emission("categorical"));
  CHECK(data_kind(FrameEmission::gmm_diag) == SequenceKind::vectors);
  CHECK(data_kind(FrameEmission::bernoulli) == SequenceKind::binary_frames);
}

TEST_CASE("frame HMM model files round trip for every emission", "[frame_hmm]") {
  const FrameEmission emission = GENERATE(FrameEmission::gaussian_diag, FrameEmission::gaussian_full,
                                          FrameEmission::gmm_diag, FrameEmission::bernoulli);
  CAPTURE(to_string(emission));
  Rng rng = make_rng(7);
  const SequenceSet data = data_for(emission, rng);
  FrameHmmOptions options;
  options.states = 2;
  options.emission = emission;
  options.mixtures = 2;
  options.train.max_iterations = 5;
  options.train.emission_prior.pseudo_count = 0.5;
  FrameHmm model(3, options);
  model.set_feature_names({"60", "62", "64"});
  FitOptions fit;
  fit.seed = 3;
  model.fit(data, nullptr, fit, nullptr);
  REQUIRE(model.last_fit().restarts.size() == 1);

  test::ScratchDir dir;
  save_model(dir / "m.h5", model);
  const auto loaded = load_model(dir / "m.h5");
  const auto* back = dynamic_cast<const FrameHmm*>(loaded.get());
  REQUIRE(back != nullptr);
  CHECK(back->type() == "hmm");
  CHECK(back->emission() == emission);
  CHECK(back->kind() == data_kind(emission));
  CHECK(back->dimension() == 3);
  CHECK(back->num_states() == 2);
  CHECK(back->num_parameters() == model.num_parameters());
  CHECK(back->feature_names() == model.feature_names());
  for (const auto& x : data.frames) {
    const double expected = model.log_likelihood(x);
    REQUIRE(std::isfinite(expected));
    // Bit-identical: HDF5 stores the doubles exactly and the caches are rebuilt the same way.
    CHECK(back->log_likelihood(x) == expected);
  }
}

TEST_CASE("load_model dispatches an hmm file on its emission attribute", "[frame_hmm]") {
  test::ScratchDir dir;

  SECTION("categorical -> the symbol HMM") {
    CategoricalHmmOptions o;
    o.states = 2;
    save_model(dir / "c.h5", CategoricalHmm(Alphabet({"a", "b"}), o));
    const auto m = load_model(dir / "c.h5");
    CHECK(dynamic_cast<const CategoricalHmm*>(m.get()) != nullptr);
    CHECK(m->kind() == SequenceKind::symbols);
  }

  SECTION("gaussian_diag -> the frame HMM, scoring the densities written out") {
    // One state: log p(x) is the sum over frames and dimensions of the Gaussian log densities.
    const arma::mat means = column({1.0, 2.0});
    const arma::mat variances = column({0.5, 2.0});
    const FrameHmm model(Hmm<GaussianDiagEmission>(kOneInitial, kOneTransition,
                                                   GaussianDiagEmission(means, variances)));
    save_model(dir / "g.h5", model);
    const auto m = load_model(dir / "g.h5");
    REQUIRE(dynamic_cast<const FrameHmm*>(m.get()) != nullptr);
    const arma::mat x = {{0.0, 1.5}, {2.0, -1.0}};
    double expected = 0.0;
    for (arma::uword t = 0; t < 2; ++t)
      for (arma::uword k = 0; k < 2; ++k) {
        const double z = x(k, t) - means(k, 0);
        expected += -0.5 * std::log(2.0 * std::numbers::pi * variances(k, 0)) -
                    0.5 * z * z / variances(k, 0);
      }
    CHECK_THAT(m->log_likelihood(x), WithinRel(expected, 1e-12));
  }

  SECTION("bernoulli -> the frame HMM over binary frames") {
    const FrameHmm model(Hmm<BernoulliEmission>(kOneInitial, kOneTransition,
                                                BernoulliEmission(column({0.25, 0.5}))));
    save_model(dir / "b.h5", model);
    const auto m = load_model(dir / "b.h5");
    const auto* frames = dynamic_cast<const FrameHmm*>(m.get());
    REQUIRE(frames != nullptr);
    CHECK(frames->emission() == FrameEmission::bernoulli);
    CHECK(m->kind() == SequenceKind::binary_frames);
    // p(on, off) = 0.25 * 0.5 and p(off, on) = 0.75 * 0.5.
    const arma::mat x = {{1.0, 0.0}, {0.0, 1.0}};
    CHECK_THAT(m->log_likelihood(x), WithinRel(std::log(0.25 * 0.5 * 0.75 * 0.5), 1e-12));
  }
}

TEST_CASE("an hmm file with an unknown emission name is rejected naming it", "[frame_hmm]") {
  test::ScratchDir dir;
  const auto path = dir / "odd.h5";
  const FrameHmm model(Hmm<BernoulliEmission>(kOneInitial, kOneTransition,
                                              BernoulliEmission(column({0.25}))));
  save_model(path, model);
  {
    H5::H5File file(path.string(), H5F_ACC_RDWR);
    H5::Group root = file.openGroup("/");
    h5::write_string_attribute(root, "emission", "poisson");
  }
  const std::string message = message_of([&] { load_model(path); });
  CHECK_THAT(message, Contains(path.string()));
  CHECK_THAT(message, Contains("unknown HMM emission 'poisson'"));
  CHECK_THAT(message, Contains("categorical, gaussian_diag, gaussian_full, gmm_diag, bernoulli"));
  CHECK(message.find('\n') == std::string::npos);
}

TEST_CASE("a Gaussian HMM recovers the parameters of the HMM that generated its data",
          "[frame_hmm]") {
  const GaussianHmmParams truth = two_state_gaussian();
  Rng rng = make_rng(11);
  const SequenceSet train = frame_set(SequenceKind::vectors, sample_gaussian(truth, 20, 100, rng));
  FrameHmmOptions options;
  options.states = 2;
  options.train.restarts = 2;
  options.train.max_iterations = 50;
  FrameHmm model(2, options);
  FitOptions fit;
  fit.seed = 5;
  model.fit(train, nullptr, fit, nullptr);
  REQUIRE(model.last_fit().restarts.size() == 2);
  // The kept restart is the best one, and its recorded likelihood is that of the kept parameters.
  const FitResult& fitted = model.last_fit();
  double best = -arma::datum::inf;
  for (const auto& monitor : fitted.restarts) best = std::max(best, monitor.log_likelihood.back());
  CHECK(fitted.log_likelihood == best);
  CHECK(fitted.restarts[fitted.best_restart].log_likelihood.back() == best);
  CHECK_THAT(evaluate(model, train).log_likelihood, WithinRel(best, 1e-9));

  const auto& hmm = std::get<Hmm<GaussianDiagEmission>>(model.engine());
  // States are found in either order: match them by the first coordinate of the mean.
  const arma::uword low = hmm.emission().means()(0, 0) < hmm.emission().means()(0, 1) ? 0 : 1;
  const arma::uvec order = {low, 1 - low};
  // About 1000 frames per state with sd <= 0.9: the standard error of a mean is about 0.03, so
  // 0.15 is five of them; variances (relative se about 5%) within 20%, transitions within 0.05.
  for (arma::uword i = 0; i < 2; ++i) {
    CAPTURE(i);
    for (arma::uword k = 0; k < 2; ++k) {
      CHECK_THAT(hmm.emission().means()(k, order(i)), WithinAbs(truth.means(k, i), 0.15));
      CHECK_THAT(hmm.emission().variances()(k, order(i)), WithinRel(truth.variances(k, i), 0.2));
    }
    for (arma::uword j = 0; j < 2; ++j)
      CHECK_THAT(hmm.transition()(order(i), order(j)), WithinAbs(truth.transition(i, j), 0.05));
  }
}

TEST_CASE("a Bernoulli HMM beats a 1-state model on held-out frames", "[frame_hmm]") {
  const Hmm<BernoulliEmission> truth = three_state_bernoulli();
  Rng rng = make_rng(21);
  const SequenceSet train =
      frame_set(SequenceKind::binary_frames, sample_frames_of(truth, 30, 50, rng));
  const SequenceSet test =
      frame_set(SequenceKind::binary_frames, sample_frames_of(truth, 10, 50, rng));

  auto held_out_nll = [&](arma::uword states) {
    FrameHmmOptions options;
    options.states = states;
    options.emission = FrameEmission::bernoulli;
    options.train.restarts = 2;
    options.train.emission_prior.pseudo_count = 0.1;
    FrameHmm model(12, options);
    FitOptions fit;
    fit.seed = 9;
    model.fit(train, nullptr, fit, nullptr);
    return evaluate(model, test).nats_per_symbol();
  };
  double true_log_likelihood = 0.0;
  for (const auto& x : test.frames) true_log_likelihood += truth.log_likelihood(x);
  const double true_nll = -true_log_likelihood / static_cast<double>(test.total_steps());
  const double three = held_out_nll(3), one = held_out_nll(1);
  CAPTURE(true_nll, three, one);
  // A 1-state model sees each unit on with probability about 0.35 in every frame and pays for the
  // blocks it cannot predict; the 3-state model must come within 0.05 nats/frame of the truth.
  CHECK(three < one - 0.5);
  CHECK_THAT(three, WithinAbs(true_nll, 0.05));
}

TEST_CASE("frame HMM samples continue the state the prime leaves", "[frame_hmm]") {
  // State 1 fires every unit, state 0 none, and neither ever leaves: a prime of all-on frames
  // leaves the chain in state 1 for good, while an unprimed sample starts either way.
  const FrameHmm model(Hmm<BernoulliEmission>(
      arma::vec{0.5, 0.5}, arma::mat{{1.0, 0.0}, {0.0, 1.0}},
      BernoulliEmission(arma::mat{{0.0, 1.0}, {0.0, 1.0}, {0.0, 1.0}})));
  Rng rng = make_rng(4);
  const arma::mat primed = model.sample_frames(30, rng, arma::mat(3, 2, arma::fill::ones));
  CHECK(primed.n_rows == 3);
  CHECK(primed.n_cols == 30);
  CHECK(arma::all(arma::vectorise(primed) == 1.0));
  arma::uword on = 0;
  for (int draw = 0; draw < 40; ++draw) on += model.sample_frames(1, rng, arma::mat())(0, 0) == 1.0;
  CHECK(on > 5);
  CHECK(on < 35);
}

TEST_CASE("frame HMMs reject data of the wrong kind and non-finite values", "[frame_hmm]") {
  SECTION("a Gaussian HMM does not fit binary frames") {
    FrameHmm model(2, FrameHmmOptions{});
    const SequenceSet binary = frame_set(SequenceKind::binary_frames, {arma::mat(2, 5, arma::fill::ones)});
    CHECK_THAT(message_of([&] { model.fit(binary, nullptr, FitOptions{}, nullptr); }),
               Contains("gaussian_diag models vectors, cannot fit on binary_frames data"));
  }
  SECTION("NaN in a CSV of real vectors is reported by the reader with file and line") {
    const auto file = test::fixture("hmm_frames/nan_vectors.csv");
    const std::string message = message_of([&] {
      read_dataset("nan", "csv", Options(), DatasetFiles{{file}, {}, {}, {}}, SplitRule{});
    });
    CHECK(message == file.string() + ":4: field 2: expected a finite number, got 'NaN'");
  }
  SECTION("NaN handed to the model directly names the sequence step and row") {
    const FrameHmm model(Hmm<GaussianDiagEmission>(
        kOneInitial, kOneTransition,
        GaussianDiagEmission(column({0.0, 0.0}), column({1.0, 1.0}))));
    arma::mat x(2, 4, arma::fill::zeros);
    x(1, 2) = arma::datum::nan;
    CHECK(message_of([&] { model.log_likelihood(x); }) ==
          "sequence: step 2: row 1 holds nan, expected a finite number");
  }
}
