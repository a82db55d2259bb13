// tests/unit/test_bm_model.cpp: the general Boltzmann machine as a SequenceModel: its frame
// probabilities sum to 1 over every visible vector and equal brute-force sums of exp(-E), AIS
// over all units is unbiased for Z and agrees with the exact log Z, training beats the
// independent-units model on held-out frames (exact and sampled training), model files
// round-trip and damaged ones are refused, and the registry builds and refuses bm options.
#include <H5Cpp.h>

#include <cmath>
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/energy/bm_model.hpp"
#include "seqlab/models/model_registry.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::energy;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

BmModelOptions small_options(arma::uword hidden, arma::uword epochs) {
  BmModelOptions o;
  o.hidden = hidden;
  o.train.epochs = epochs;
  o.train.batch_size = 50;
  o.train.learning_rate = 0.1;
  o.train.weight_decay = 1e-4;
  return o;
}

double test_nll(const SequenceModel& model, const SequenceSet& test) {
  const Evaluation e = evaluate(model, test);
  return -e.log_likelihood / static_cast<double>(e.symbols);
}

arma::vec bits(arma::uword n, std::uint64_t code) {
  arma::vec s(n);
  for (arma::uword k = 0; k < n; ++k) s(k) = double((code >> k) & 1u);
  return s;
}

// log sum over all 2^n states of exp(-E(s)), state by state through BoltzmannMachine::energy.
double naive_log_z(const BoltzmannMachine& bm) {
  const arma::uword n = bm.num_units();
  arma::vec terms(std::uint64_t(1) << n);
  for (std::uint64_t c = 0; c < terms.n_elem; ++c) terms(c) = -bm.energy(bits(n, c));
  const double m = terms.max();
  return m + std::log(arma::accu(arma::exp(terms - m)));
}

// A machine with every weight and bias N(0, scale^2).
BoltzmannMachine random_machine(arma::uword visible, arma::uword hidden, double scale,
                                std::uint64_t seed) {
  BoltzmannMachine bm(visible, hidden);
  Rng rng = make_rng(seed);
  bm.randomize(scale, rng);
  for (double& a : bm.biases()) a = scale * standard_normal(rng);
  return bm;
}

}  // namespace

TEST_CASE("BmModel's frame probabilities are exact: they sum to 1 and equal brute force",
          "[bm_model]") {
  Rng data_rng = make_rng(5);
  const arma::mat prototypes = random_binary_prototypes(6, 2, data_rng);
  const SequenceSet train = sample_noisy_patterns(prototypes, 100, 0.1, data_rng);
  BmModel model(SequenceKind::binary_frames, 6, small_options(3, 20));
  TrainingHistory history;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  FitOptions fit;
  fit.seed = 2;
  model.fit(train, &train, fit, &observer);
  REQUIRE(model.log_partition_method() == "exact");
  CHECK(model.log_likelihood_stderr_per_step() == 0.0);
  REQUIRE(history.size() == 20);
  CHECK(history.back().updates == 20u * 2u);  // 100 frames in batches of 50
  // Both phases exact: the train NLL falls (gradient ascent at a small rate), and the valid
  // split (the same frames here) scores the same.
  CHECK(history.back().train_nll < history.front().train_nll);
  CHECK_THAT(history.back().valid_nll, WithinRel(history.back().train_nll, 1e-12));

  arma::mat all(6, 64);
  for (std::uint64_t c = 0; c < 64; ++c) all.col(c) = bits(6, c);
  const arma::vec logp = model.step_log_probs(all);
  CHECK_THAT(arma::accu(arma::exp(logp)), WithinAbs(1.0, 1e-12));

  // Against sums of exp(-E) over the joint states, written out here.
  const BoltzmannMachine& bm = model.machine();
  const double log_z = naive_log_z(bm);
  CHECK_THAT(model.log_partition(), WithinAbs(log_z, 1e-11));
  for (std::uint64_t c = 0; c < 64; c += 7) {
    double sum = 0.0;
    for (std::uint64_t h = 0; h < 8; ++h)
      sum += std::exp(-bm.energy(arma::join_cols(all.col(c), bits(3, h))));
    CAPTURE(c);
    CHECK_THAT(logp(c), WithinAbs(std::log(sum) - log_z, 1e-11));
  }
  // A sequence of several frames scores the sum of its frames.
  const arma::mat three = all.cols(arma::uvec{3, 40, 63});
  CHECK_THAT(model.log_likelihood(three), WithinAbs(logp(3) + logp(40) + logp(63), 1e-12));
}

TEST_CASE("AIS over all units: unbiased for Z, and close to the exact log Z", "[bm_model]") {
  SECTION("the mean importance weight is unbiased for Z / Z_0 even with 3 temperatures") {
    // AIS with any schedule has E[w] = Z / Z_0; its log is biased, its mean is not. A strongly
    // coupled machine and a crude schedule make the weights spread widely.
    const BoltzmannMachine bm = random_machine(3, 2, 1.5, 11);
    AisOptions o;
    o.runs = 20000;
    o.knots = {0.0, 1.0};
    o.steps = {0.5};
    const arma::vec base = {0.3, -0.2, 0.1, 0.0, 0.0};
    Rng rng = make_rng(4);
    const AisResult r = ais_log_partition(bm, base, o, rng);
    const arma::vec w = arma::exp(r.log_weights);
    const double ratio = std::exp(log_partition(bm) - r.log_z_base);
    const double se = arma::stddev(w) / std::sqrt(double(o.runs));
    CAPTURE(arma::mean(w), ratio, se, r.effective_sample_size);
    CHECK(r.effective_sample_size < 0.95 * double(o.runs));  // the weights do spread
    CHECK(std::abs(arma::mean(w) - ratio) < 4.0 * se);
    // log Z_0 of independent units: sum of softplus(base).
    double log_z0 = 0.0;
    for (const double b : base) log_z0 += std::log1p(std::exp(b));
    CHECK_THAT(r.log_z_base, WithinAbs(log_z0, 1e-14));
  }

  SECTION("a trained machine of 16 units: within 3 reported standard errors of exact") {
    Rng data_rng = make_rng(8);
    const arma::mat prototypes = random_binary_prototypes(12, 3, data_rng);
    const SequenceSet train = sample_noisy_patterns(prototypes, 200, 0.05, data_rng);
    BmModel model(SequenceKind::binary_frames, 12, small_options(4, 20));
    FitOptions fit;
    fit.seed = 3;
    model.fit(train, nullptr, fit, nullptr);
    REQUIRE(model.log_partition_method() == "exact");
    arma::mat frames(12, train.size());
    for (std::size_t i = 0; i < train.size(); ++i) frames.col(i) = train.frames[i].col(0);
    AisOptions o;
    o.runs = 100;
    o.steps = {1e-2, 1e-3, 1e-4};  // 5,400 temperatures
    Rng rng = make_rng(9);
    const AisResult r = ais_log_partition(model.machine(), frames, o, rng);
    const double exact = model.log_partition();
    CAPTURE(r.log_z, exact, r.standard_error, r.effective_sample_size);
    CHECK(std::isfinite(r.standard_error));
    CHECK(r.standard_error > 0.0);
    CHECK(r.standard_error < 0.05);
    CHECK(std::abs(r.log_z - exact) < 3.0 * r.standard_error);
  }

  SECTION("random couplings with more hidden than visible units (8 + 12)") {
    const BoltzmannMachine bm = random_machine(8, 12, 0.3, 21);
    AisOptions o;
    o.runs = 100;
    o.steps = {1e-2, 1e-3, 1e-4};
    arma::vec base(20, arma::fill::zeros);
    Rng rng = make_rng(10);
    const AisResult r = ais_log_partition(bm, base, o, rng);
    const double exact = log_partition(bm);
    CAPTURE(r.log_z, exact, r.standard_error, r.effective_sample_size);
    CHECK(r.standard_error < 0.05);
    CHECK(std::abs(r.log_z - exact) < 3.0 * r.standard_error);
  }

  SECTION("bad input") {
    const BoltzmannMachine bm = random_machine(3, 2, 1.0, 1);
    Rng rng = make_rng(1);
    CHECK_THROWS_WITH(ais_log_partition(bm, arma::vec(4, arma::fill::zeros), AisOptions{}, rng),
                      Contains("base biases must be 5 finite values, got 4"));
    CHECK_THROWS_WITH(
        ais_log_partition(bm, arma::mat(3, 2, arma::fill::value(0.5)), AisOptions{}, rng),
        Contains("expected 0 or 1"));
  }
}

TEST_CASE("BmModel learns structure beyond independent units", "[bm_model]") {
  Rng data_rng = make_rng(7);
  const arma::mat prototypes = random_binary_prototypes(12, 3, data_rng);
  const SequenceSet train = sample_noisy_patterns(prototypes, 300, 0.05, data_rng);
  const SequenceSet test = sample_noisy_patterns(prototypes, 100, 0.05, data_rng);
  const double baseline = test::independent_units_nll(train, test);
  FitOptions fit;
  fit.seed = 3;

  SECTION("fully visible (H = 0) and with 4 hidden units, exact training") {
    // 12 noisy bits from 3 prototypes at 5 % noise carry about 3.5 nats beyond the choice of
    // prototype; independent units pay about 8. Pairwise terms capture most of the gap, hidden
    // units (a mixture-like code) more.
    BmModel visible_only(SequenceKind::binary_frames, 12, small_options(0, 40));
    visible_only.fit(train, nullptr, fit, nullptr);
    BmModel with_hidden(SequenceKind::binary_frames, 12, small_options(4, 40));
    with_hidden.fit(train, nullptr, fit, nullptr);
    const double nll0 = test_nll(visible_only, test), nll4 = test_nll(with_hidden, test);
    CAPTURE(baseline, nll0, nll4);
    CHECK(nll0 < baseline - 2.0);
    CHECK(nll4 < baseline - 2.0);
  }

  SECTION("sampled free phase (V + H = 22 > 20), log Z by AIS with its standard error") {
    const arma::mat wide_prototypes = random_binary_prototypes(20, 3, data_rng);
    const SequenceSet wide_train = sample_noisy_patterns(wide_prototypes, 300, 0.05, data_rng);
    const SequenceSet wide_test = sample_noisy_patterns(wide_prototypes, 100, 0.05, data_rng);
    BmModelOptions o = small_options(2, 30);
    o.train.learning_rate = 0.05;
    o.train.free_chains = 50;
    o.ais.runs = 50;
    o.ais.steps = {1e-2, 1e-3, 1e-4};
    BmModel model(SequenceKind::binary_frames, 20, o);
    TrainingHistory history;
    std::vector<std::string> messages;
    FitObserver observer;
    observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
    observer.on_message = [&](const std::string& m) { messages.push_back(m); };
    model.fit(wide_train, nullptr, fit, &observer);
    REQUIRE(model.log_partition_method() == "ais");
    const double se = model.log_likelihood_stderr_per_step();
    CHECK(se > 0.0);
    CHECK(se < 0.1);
    const Evaluation e = evaluate(model, wide_test);
    CHECK(e.nll_stderr == se);
    // No log Z while training: NaN, not a guess.
    REQUIRE(history.size() == 30);
    CHECK(std::isnan(history.back().train_nll));
    REQUIRE(!messages.empty());
    CHECK_THAT(messages.back(), Contains("(AIS over 22 units, 50 runs"));
    const double wide_baseline = test::independent_units_nll(wide_train, wide_test);
    const double nll = test_nll(model, wide_test);
    CAPTURE(wide_baseline, nll, se);
    CHECK(nll < wide_baseline - 2.5);  // measured gain 2.92 nats (ideal model about 3.6)
  }
}

TEST_CASE("BmModel files round-trip; damaged or mismatched ones are refused", "[bm_model]") {
  Rng data_rng = make_rng(3);
  const arma::mat prototypes = random_binary_prototypes(8, 2, data_rng);
  const SequenceSet train = sample_noisy_patterns(prototypes, 60, 0.1, data_rng);
  BmModel model(SequenceKind::binary_frames, 8, small_options(2, 5));
  FitOptions fit;
  model.fit(train, nullptr, fit, nullptr);
  test::ScratchDir dir;
  const auto path = dir / "bm.h5";
  save_model(path, model);
  const auto error_of = [&]() -> std::string {
    try {
      (void)load_model(path);
    } catch (const UserError& e) {
      return e.what();
    }
    return "";
  };

  SECTION("same scores, same sizes") {
    const auto loaded = load_model(path);
    REQUIRE(loaded->type() == "bm");
    const arma::vec a = model.log_likelihoods(train), b = loaded->log_likelihoods(train);
    CHECK(arma::approx_equal(a, b, "absdiff", 0.0));
    CHECK(loaded->num_parameters() == 10u * 9u / 2u + 10u);
    CHECK(loaded->log_likelihood_stderr_per_step() == 0.0);
    Rng r1 = make_rng(4), r2 = make_rng(4);
    CHECK(arma::approx_equal(model.sample_frames(5, r1, arma::mat()),
                             loaded->sample_frames(5, r2, arma::mat()), "absdiff", 0.0));
  }
  SECTION("a hidden count that does not match the weights") {
    {
      H5::H5File f(path.string(), H5F_ACC_RDWR);
      H5::Group root = f.openGroup("/");
      h5::write_int_attribute(root, "hidden", 3);
    }
    CHECK_THAT(error_of(), Contains("bm.h5") && Contains("weights"));
  }
  SECTION("an 'exact' log Z claimed for a machine too large to enumerate") {
    {
      H5::H5File f(path.string(), H5F_ACC_RDWR);
      H5::Group root = f.openGroup("/");
      root.unlink("weights");
      root.unlink("biases");
      h5::write_int_attribute(root, "hidden", 14);
      h5::write_mat(root, "weights", arma::mat(22, 22, arma::fill::zeros));
      h5::write_vec(root, "biases", arma::vec(22, arma::fill::zeros));
    }
    CHECK_THAT(error_of(), Contains("log_z_method") && Contains("'exact' for 22 units"));
  }
  SECTION("an unknown log Z method") {
    {
      H5::H5File f(path.string(), H5F_ACC_RDWR);
      H5::Group root = f.openGroup("/");
      h5::write_string_attribute(root, "log_z_method", "guess");
    }
    CHECK_THAT(error_of(), Contains("log_z_method") && Contains("expected exact or ais"));
  }
  SECTION("an exact log Z with a standard error") {
    {
      H5::H5File f(path.string(), H5F_ACC_RDWR);
      H5::Group root = f.openGroup("/");
      h5::write_double_attribute(root, "log_z_stderr", 0.5);
    }
    CHECK_THAT(error_of(), Contains("log_z_stderr") && Contains("must be 0 for an exact log Z"));
  }
  SECTION("frames of another size or non-binary frames") {
    const auto loaded = load_model(path);
    CHECK_THROWS_WITH(loaded->log_likelihood(arma::mat(5, 2, arma::fill::zeros)),
                      Contains("frames of 5 rows, the model 8"));
    arma::mat half(8, 1, arma::fill::zeros);
    half(3, 0) = 0.5;
    CHECK_THROWS_WITH(loaded->log_likelihood(half), Contains("row 3 holds 0.5"));
  }
}

TEST_CASE("The registry builds Boltzmann machines and refuses what does not fit", "[bm_model]") {
  OptionSpelling spelling;
  spelling.name = [](const std::string& o) { return "--" + o; };
  spelling.fail = [](const std::string&, const std::string& message) { throw UserError(message); };
  const ResolvedOptions o = resolve_options("bm", {}, spelling);
  CHECK(o.integer("hidden") == 10);
  CHECK(o.integer("ais-runs") == 100);
  CHECK(o.integer("free-chains") == 100);
  CHECK(model_family("bm") == "energy");
  // H = 0 is a Boltzmann machine (fully visible); the networks and the RBM still need 1.
  CHECK(resolve_options("bm", {{"hidden", std::int64_t{0}}}, spelling).integer("hidden") == 0);
  CHECK_THROWS_WITH(resolve_options("bm", {{"hidden", std::int64_t{21}}}, spelling),
                    Contains("--hidden must be between 0 and 20 (a Boltzmann machine sums each "
                             "frame's 2^H hidden states exactly), got 21"));
  CHECK_THROWS_WITH(resolve_options("rbm", {{"hidden", std::int64_t{0}}}, spelling),
                    Contains("--hidden must be between 1 and 100000000, got 0"));
  CHECK_THROWS_WITH(resolve_options("lstm", {{"free-chains", std::int64_t{5}}}, spelling),
                    Contains("--free-chains applies to --model bm only"));
  CHECK_THROWS_WITH(resolve_options("bm", {{"cd", std::string("pcd")}}, spelling),
                    Contains("--cd applies to --model rbm only"));

  SequenceDataset symbols;
  symbols.name = "letters";
  symbols.kind = SequenceKind::symbols;
  CHECK_THROWS_WITH(build_model(o, symbols, spelling),
                    Contains("a Boltzmann machine models binary frames; dataset 'letters' holds "
                             "symbols"));
  SequenceDataset vectors;
  vectors.name = "sines";
  vectors.kind = SequenceKind::vectors;
  vectors.dimension = 3;
  CHECK_THROWS_WITH(build_model(o, vectors, spelling), Contains("holds vectors"));
  CHECK_THROWS_WITH(BmModel(SequenceKind::binary_frames, 4, small_options(21, 1)),
                    Contains("at most 20 hidden units"));
}
