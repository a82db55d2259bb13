// tests/unit/test_history.cpp: training histories. The `history/` group of a model file (round
// trip bit for bit, NaN and infinities kept, damaged groups refused by name), and the records
// every model family's fit() reports through FitObserver::on_epoch, checked against numbers
// computed independently of the training loop.
#include <H5Cpp.h>

#include <cmath>
#include <limits>

#include "seqlab/core/error.hpp"
#include "seqlab/io/history.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Equal as stored: the same bits for numbers, NaN for NaN.
bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void require_same_records(const TrainingHistory& got, const TrainingHistory& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].epoch == want[i].epoch);
    CHECK(got[i].restart == want[i].restart);
    CHECK(got[i].updates == want[i].updates);
    CHECK(same(got[i].seconds, want[i].seconds));
    CHECK(same(got[i].train_nll, want[i].train_nll));
    CHECK(same(got[i].valid_nll, want[i].valid_nll));
    CHECK(same(got[i].learning_rate, want[i].learning_rate));
    CHECK(same(got[i].gradient_norm, want[i].gradient_norm));
    CHECK(same(got[i].log_likelihood_change, want[i].log_likelihood_change));
  }
}

MarkovChain small_markov() {
  MarkovChain m(Alphabet({"a", "b", "c"}), MarkovOptions{1, MarkovOptions::Smoothing::add_alpha, 1.0});
  m.fit(test::symbol_set({arma::uvec{0, 1, 2, 0, 1, 2, 2, 1}}), nullptr, FitOptions{}, nullptr);
  return m;
}

}  // namespace

TEST_CASE("a training history survives a model file bit for bit, NaN and infinities included",
          "[history]") {
  test::ScratchDir dir;
  TrainingHistory history(3);
  history[0] = {1, 0, 0, 0.25, 1.0986122886681098, kNaN, kNaN, kNaN, kNaN};
  history[1] = {2, 0, 1, 0.5, 1.0 / 3.0, kInf, 2e-3, 0.7, -0.0};
  history[2] = {1, 1, 1, 0.75, 0.1, 0.2, kNaN, kNaN, -kInf};
  const MarkovChain model = small_markov();
  save_model(dir / "m.h5", model, &history);
  require_same_records(load_history(dir / "m.h5"), history);
  // The parameters are untouched by the extra group.
  const auto loaded = load_model(dir / "m.h5");
  const arma::uvec probe = {2, 1, 0};
  CHECK(loaded->log_likelihood(probe) == model.log_likelihood(probe));
  {
    H5::H5File f((dir / "m.h5").string(), H5F_ACC_RDONLY);
    std::string unit;
    (void)read_history(f.openGroup("/"), &unit);
    CHECK(unit == "symbol");
  }

  SECTION("an empty history is an empty group, and no history reads as empty") {
    const TrainingHistory none;
    save_model(dir / "empty.h5", model, &none);
    CHECK(load_history(dir / "empty.h5").empty());
    H5::H5File f((dir / "empty.h5").string(), H5F_ACC_RDONLY);
    CHECK(has_history(f.openGroup("/")));
    save_model(dir / "without.h5", model);
    CHECK(load_history(dir / "without.h5").empty());
  }
  SECTION("columns of different lengths are refused, naming the dataset") {
    {
      H5::H5File f((dir / "m.h5").string(), H5F_ACC_RDWR);
      H5::Group h = f.openGroup("history");
      h.unlink("valid_nll");
      const hsize_t n = 2;
      const double values[2] = {0.0, 1.0};
      h.createDataSet("valid_nll", H5::PredType::IEEE_F64LE, H5::DataSpace(1, &n))
          .write(values, H5::PredType::NATIVE_DOUBLE);
    }
    CHECK_THROWS_WITH(load_history(dir / "m.h5"),
                      Contains("/history/valid_nll") && Contains("has 2 elements, expected 3"));
  }
  SECTION("a missing column is refused, naming it") {
    {
      H5::H5File f((dir / "m.h5").string(), H5F_ACC_RDWR);
      f.openGroup("history").unlink("updates");
    }
    CHECK_THROWS_WITH(load_history(dir / "m.h5"), Contains("updates"));
  }
}

TEST_CASE("a Markov chain reports one record whose NLLs are evaluate()'s", "[history][markov]") {
  Rng rng = make_rng(3);
  const auto random_text = [&](arma::uword n) {
    arma::uvec x(n);
    for (auto& v : x) v = uniform_index(rng, 3);
    return x;
  };
  const SequenceSet train = test::symbol_set({random_text(300), random_text(120)});
  const SequenceSet valid = test::symbol_set({random_text(80)});
  MarkovChain model(Alphabet({"a", "b", "c"}), MarkovOptions{2, MarkovOptions::Smoothing::kneser_ney, 1.0});
  TrainingHistory history;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  model.fit(train, &valid, FitOptions{}, &observer);
  REQUIRE(history.size() == 1);
  const EpochRecord& r = history[0];
  CHECK(r.epoch == 1);
  CHECK(r.restart == 0);
  CHECK(r.updates == 1);
  CHECK(r.seconds >= 0.0);
  CHECK(r.train_nll == evaluate(model, train).nats_per_symbol());
  CHECK(r.valid_nll == evaluate(model, valid).nats_per_symbol());
  // Not a constant: a chain fitted to its training data scores it better than the valid split.
  CHECK(r.train_nll < r.valid_nll);
  CHECK(std::isnan(r.learning_rate));
  CHECK(std::isnan(r.gradient_norm));
  CHECK(std::isnan(r.log_likelihood_change));

  SECTION("without a valid split the valid NLL is not measured") {
    history.clear();
    model.fit(train, nullptr, FitOptions{}, &observer);
    REQUIRE(history.size() == 1);
    CHECK(std::isnan(history[0].valid_nll));
    CHECK(history[0].train_nll == evaluate(model, train).nats_per_symbol());
  }
}
