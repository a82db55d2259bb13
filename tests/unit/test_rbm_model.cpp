// tests/unit/test_rbm_model.cpp: the RBM as a SequenceModel: its scores equal the RBM's own
// free energy and log Z frame by frame, it beats the independent-units model on structured
// frames, its vector density integrates to 1 in the data's units, AIS is reported as an
// estimate with a standard error, and model files round-trip through the model registry.
#include <cmath>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/energy/rbm_model.hpp"
#include "seqlab/models/model_registry.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::energy;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

RbmModelOptions small_options(arma::uword hidden, arma::uword epochs) {
  RbmModelOptions o;
  o.hidden = hidden;
  o.train.method = RbmTrainOptions::Method::cd;
  o.train.epochs = epochs;
  o.train.batch_size = 10;
  o.train.learning_rate = 0.05;
  return o;
}


}  // namespace

TEST_CASE("RbmModel scores frames with the RBM's free energy and exact log Z", "[rbm][rbm_model]") {
  Rng data_rng = make_rng(7);
  const arma::mat prototypes = random_binary_prototypes(12, 3, data_rng);
  const SequenceSet train = sample_noisy_patterns(prototypes, 300, 0.05, data_rng);
  const SequenceSet test = sample_noisy_patterns(prototypes, 100, 0.05, data_rng);

  RbmModel model(SequenceKind::binary_frames, 12, small_options(6, 30));
  TrainingHistory history;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  FitOptions fit;
  fit.seed = 3;
  model.fit(train, nullptr, fit, &observer);

  REQUIRE(model.log_partition_method() == "exact");
  REQUIRE(history.size() == 30);
  CHECK(history.back().updates == 30u * 30u);  // 300 frames in batches of 10

  SECTION("every sequence's score is -F(v) - log Z of its frames") {
    const arma::vec scores = model.log_likelihoods(test);
    const double log_z = model.rbm().log_partition();
    CHECK_THAT(model.log_partition(), WithinRel(log_z, 1e-14));
    for (std::size_t i = 0; i < test.size(); ++i) {
      const double expected = arma::accu(-model.rbm().free_energy(test.frames[i]) - log_z);
      CAPTURE(i);
      CHECK_THAT(scores(i), WithinRel(expected, 1e-12));
      CHECK_THAT(model.log_likelihood(test.frames[i]), WithinRel(expected, 1e-12));
    }
    const Evaluation e = evaluate(model, test);
    CHECK(e.nll_stderr == 0.0);
    CHECK(e.symbols == 100u);
  }

  SECTION("training learns the prototypes' structure") {
    // The first epoch's train NLL is near the independent-units model's; the last one is far
    // below it: 12 noisy bits from 3 prototypes at 5 % noise carry about 3.5 nats each, the
    // independent-units model pays about 8.
    const double baseline = test::independent_units_nll(train, test);
    const double nll = -evaluate(model, test).log_likelihood / 100.0;
    CAPTURE(baseline, nll, history.front().train_nll, history.back().train_nll);
    CHECK(history.back().train_nll < history.front().train_nll - 1.0);
    CHECK(nll < baseline - 2.0);
  }

  SECTION("a model file round-trips through the registry's loader") {
    test::ScratchDir dir;
    save_model(dir / "rbm.h5", model);
    const auto loaded = load_model(dir / "rbm.h5");
    REQUIRE(loaded->type() == "rbm");
    const arma::vec a = model.log_likelihoods(test), b = loaded->log_likelihoods(test);
    CHECK(arma::approx_equal(a, b, "absdiff", 0.0));
    CHECK(loaded->num_parameters() == 12u * 6u + 12u + 6u);
  }

  SECTION("as a Normaliser: exact log Z, and fresh AIS estimates that approach it") {
    const Normaliser& n = model;
    REQUIRE(n.log_partition_enumerable());
    CHECK(n.exact_log_partition() == model.rbm().log_partition());
    CHECK(n.log_partition_stderr() == 0.0);
    // A schedule of about 2,000 steps: the count ais_schedule gives, and an estimate within 3
    // standard errors of the exact value; the same seed gives the same estimate.
    const AisOptions o = ais_options_with_steps(2000, 100);
    const arma::uword steps = ais_schedule(o).n_elem - 1;
    CAPTURE(steps);
    CHECK(steps >= 2000);
    CHECK(steps <= 2003);  // each of the 3 segments rounds up by at most one step
    Rng a = make_rng(11), b = make_rng(11);
    const AisResult r = n.estimate_log_partition(train, o, a);
    CAPTURE(r.log_z, r.standard_error, n.exact_log_partition());
    CHECK(r.standard_error > 0.0);
    CHECK(r.standard_error < 0.05);
    CHECK(std::abs(r.log_z - n.exact_log_partition()) <= 3.0 * r.standard_error);
    CHECK(n.estimate_log_partition(train, o, b).log_z == r.log_z);
    CHECK_THROWS_WITH(ais_options_with_steps(2, 100), Contains("expected 3 to 10,000,000 steps, got 2"));
    CHECK_THROWS_WITH(n.estimate_log_partition(test::symbol_set({arma::uvec{0, 1}}), o, a), Contains("holds symbols"));
  }

  SECTION("frames of another size or kind are refused") {
    CHECK_THROWS_WITH(model.log_likelihood(arma::mat(5, 2, arma::fill::zeros)),
                      Contains("frames of 5 rows, the model 12"));
    arma::mat half(12, 1, arma::fill::zeros);
    half(3, 0) = 0.5;
    CHECK_THROWS_AS(model.log_likelihood(half), UserError);
  }
}

TEST_CASE("RbmModel over vectors is a density of the original values", "[rbm][rbm_model]") {
  // One visible unit: integrate p(x) over x on a fine grid; it must integrate to 1 in the data's
  // own units (the standardisation's Jacobian included), whatever the data's scale.
  Rng rng = make_rng(11);
  SequenceSet train;
  train.kind = SequenceKind::vectors;
  for (int i = 0; i < 400; ++i) {
    const double mode = uniform01(rng) < 0.5 ? -30.0 : 50.0;
    train.frames.push_back(arma::mat(1, 1, arma::fill::value(mode + 8.0 * standard_normal(rng))));
  }
  RbmModelOptions o = small_options(3, 20);
  o.train.learning_rate = 0.01;
  RbmModel model(SequenceKind::vectors, 1, o);
  FitOptions fit;
  fit.seed = 5;
  model.fit(train, nullptr, fit, nullptr);
  REQUIRE(model.log_partition_method() == "exact");

  // In the data's units each Gaussian of the RBM has the data's sd (about 40): +-15 sd.
  const double lo = -600.0, hi = 700.0, dx = 0.05;
  arma::mat grid(1, static_cast<arma::uword>((hi - lo) / dx) + 1);
  for (arma::uword j = 0; j < grid.n_cols; ++j) grid(0, j) = lo + dx * static_cast<double>(j);
  const arma::vec logp = model.step_log_probs(grid);
  const arma::vec p = arma::exp(logp);
  const double integral = dx * (arma::accu(p) - 0.5 * (p(0) + p(p.n_elem - 1)));
  CHECK_THAT(integral, WithinAbs(1.0, 1e-6));
  CHECK(model.dimension() == 1u);

  const arma::mat samples = model.sample_frames(2000, rng, arma::mat());
  REQUIRE(samples.n_rows == 1);
  // Samples come back in the data's units: their mean is near the data's (about 10).
  CHECK_THAT(arma::mean(samples.row(0)), WithinAbs(10.0, 8.0));
}

TEST_CASE("RbmModel estimates log Z by AIS when no layer can be enumerated", "[rbm][rbm_model]") {
  Rng data_rng = make_rng(21);
  const arma::mat prototypes = random_binary_prototypes(24, 4, data_rng);
  const SequenceSet train = sample_noisy_patterns(prototypes, 200, 0.05, data_rng);
  RbmModelOptions o = small_options(22, 5);
  o.ais.runs = 50;
  o.ais.steps = {1e-2, 1e-3, 1e-4};  // 5,400 temperatures: enough at this size, fast enough
  RbmModel model(SequenceKind::binary_frames, 24, o);
  std::vector<std::string> messages;
  TrainingHistory history;
  FitObserver observer;
  observer.on_message = [&](const std::string& m) { messages.push_back(m); };
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  FitOptions fit;
  fit.seed = 2;
  model.fit(train, nullptr, fit, &observer);
  REQUIRE(model.log_partition_method() == "ais");
  CHECK(model.log_likelihood_stderr_per_step() > 0.0);
  CHECK(model.log_likelihood_stderr_per_step() < 0.2);
  const Evaluation e = evaluate(model, train);
  CHECK(e.nll_stderr == model.log_likelihood_stderr_per_step());
  REQUIRE(!messages.empty());
  CHECK_THAT(messages.back(), Contains("(AIS, 50 runs"));
  // Per-epoch NLLs would need a log Z per epoch, which is not known while training: NaN, not
  // a guess.
  REQUIRE(history.size() == 5);
  CHECK(std::isnan(history.back().train_nll));
}

TEST_CASE("The registry builds RBMs from options and refuses what does not fit",
          "[rbm][rbm_model]") {
  std::string failed_option;
  OptionSpelling spelling;
  spelling.name = [](const std::string& o) { return "--" + o; };
  spelling.fail = [&](const std::string& option, const std::string& message) {
    failed_option = option;
    throw UserError(message);
  };
  const ResolvedOptions o = resolve_options("rbm", {}, spelling);
  CHECK(o.integer("hidden") == 64);   // the RBM's own default, not the networks' 128
  CHECK(o.integer("batch") == 10);
  CHECK(o.integer("epochs") == 100);
  CHECK(o.real("lr") == 0.01);
  CHECK(o.real("momentum") == 0.5);
  CHECK(o.text("cd") == "pcd");
  CHECK_THROWS_WITH(resolve_options("rbm", {{"window", std::int64_t{5}}}, spelling),
                    Contains("--window applies to --model"));
  CHECK_THROWS_WITH(resolve_options("lstm", {{"cd", std::string("cd")}}, spelling),
                    Contains("--cd applies to --model rbm only"));

  SequenceDataset symbols;
  symbols.name = "letters";
  symbols.kind = SequenceKind::symbols;
  CHECK_THROWS_WITH(build_model(o, symbols, spelling), Contains("holds symbols"));
}

TEST_CASE("RbmModel refuses frames of the wrong size in one line, naming the sequence",
          "[rbm][rbm_model]") {
  Rng data_rng = make_rng(3);
  const arma::mat prototypes = random_binary_prototypes(6, 2, data_rng);
  SequenceSet train = sample_noisy_patterns(prototypes, 20, 0.05, data_rng);
  train.frames.at(1) = arma::mat(5, 2, arma::fill::zeros);  // 5 rows where the model has 6
  RbmModel model(SequenceKind::binary_frames, 6, small_options(3, 1));
  FitOptions fit;
  fit.quiet = true;
  CHECK_THROWS_WITH(model.fit(train, nullptr, fit, nullptr),
                    Contains("the training split: sequence 1 has frames of 5 rows, the model 6"));
  train.frames.at(1) = arma::mat(6, 2, arma::fill::zeros);
  model.fit(train, nullptr, fit, nullptr);
  SequenceSet bad = train;
  bad.frames.at(0) = arma::mat(7, 1, arma::fill::ones);
  CHECK_THROWS_WITH(model.log_likelihoods(bad), Contains("sequence 0 has frames of 7 rows"));
}
