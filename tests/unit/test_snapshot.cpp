// tests/unit/test_snapshot.cpp: RnnModel::hidden_states (the state the head reads: applied to
// column t it gives the model's own log p(x_{t+1} | x_<=t)) and take_snapshot for each family.
#include <cmath>

#include "seqlab/core/error.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/models/hmm/frame_hmm.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "seqlab/report/snapshot.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;

namespace {

SequenceDataset casino_data() {
  Options options;
  options.set("sequences", "4");
  options.set("length", "60");
  return make_synthetic_dataset("casino", "casino", options, 11);
}

RnnModel small_rnn(const Alphabet& alphabet, rnn::CellType cell, arma::uword layers) {
  RnnOptions options;
  options.cell = cell;
  options.hidden = 5;
  options.layers = layers;
  options.embedding = 3;
  RnnModel model(alphabet, options);
  model.initialize(9);
  return model;
}

}  // namespace

TEST_CASE("hidden_states is the top layer's state that predicts the next step", "[snapshot]") {
  const auto cell = GENERATE(rnn::CellType::elman, rnn::CellType::lstm, rnn::CellType::gru);
  const arma::uword layers = GENERATE(1, 2);
  CAPTURE(rnn::model_type_name(cell), layers);
  const SequenceDataset data = casino_data();
  const RnnModel model = small_rnn(data.alphabet, cell, layers);
  const arma::uvec x = data.test.symbols[0].head(25);
  const arma::mat h = model.hidden_states(x);
  REQUIRE(h.n_rows == 5);
  REQUIRE(h.n_cols == x.n_elem);
  const arma::vec expected = model.step_log_probs(x);
  const arma::mat w = model.network().params().value("head.weight");
  const arma::mat b = model.network().params().value("head.bias");
  for (arma::uword t = 0; t + 1 < x.n_elem; ++t) {
    const arma::vec z = w * h.col(t) + b;
    const double log_norm = z.max() + std::log(arma::accu(arma::exp(z - z.max())));
    CHECK_THAT(z(x(t + 1)) - log_norm, Catch::Matchers::WithinAbs(expected(t + 1), 1e-12));
  }
  // A prefix gives the first columns: the state depends on the past only.
  CHECK_THAT(model.hidden_states(arma::uvec(x.head(7))), test::IsNear(h.head_cols(7), 0.0));
  CHECK(model.hidden_states(arma::uvec()).n_cols == 0);
  CHECK_THROWS_WITH(model.hidden_states(arma::uvec{0, 9}), Contains("9"));
  CHECK_THROWS_AS(model.hidden_states(arma::mat(2, 3, arma::fill::zeros)), UserError);
}

TEST_CASE("take_snapshot fills what each family shows over the first test steps", "[snapshot]") {
  const SequenceDataset data = casino_data();
  RunResult r;
  r.stretch = {"stale"};

  SECTION("an HMM over symbols: transition and posteriors") {
    CategoricalHmmOptions options;
    options.states = 3;
    options.train.max_iterations = 3;
    CategoricalHmm hmm(data.alphabet, options);
    hmm.fit(data.train, nullptr, FitOptions{}, nullptr);
    take_snapshot(hmm, data, r, 40);
    CHECK_THAT(r.transition, test::IsNear(hmm.hmm().transition(), 0.0));
    REQUIRE(r.posterior.n_rows == 3);
    REQUIRE(r.posterior.n_cols == 40);
    CHECK_THAT(arma::mat(arma::sum(r.posterior, 0)),
               test::IsNear(arma::mat(1, 40, arma::fill::ones), 1e-12));
    REQUIRE(r.stretch.size() == 40);
    CHECK(r.stretch[0] == data.alphabet.symbol(data.test.symbols[0](0)));
    CHECK(r.activations.empty());
  }
  SECTION("a recurrent network: activations; a longer stretch than the sequence is cut") {
    const RnnModel model = small_rnn(data.alphabet, rnn::CellType::lstm, 1);
    take_snapshot(model, data, r, 1000);
    const arma::uword n = data.test.length(0);
    CHECK(r.activations.n_rows == 5);
    CHECK(r.activations.n_cols == n);
    CHECK(r.stretch.size() == n);
    CHECK(r.transition.empty());
    CHECK(r.posterior.empty());
  }
  SECTION("a Markov chain: nothing") {
    MarkovChain chain(data.alphabet, MarkovOptions{2, MarkovOptions::Smoothing::kneser_ney, 1.0});
    chain.fit(data.train, nullptr, FitOptions{}, nullptr);
    take_snapshot(chain, data, r);
    CHECK(r.transition.empty());
    CHECK(r.stretch.empty());
  }
  SECTION("an HMM over binary frames: step numbers label the stretch") {
    Options options;
    options.set("sequences", "20");
    options.set("dimension", "6");
    const SequenceDataset frames = make_synthetic_dataset("patterns", "patterns", options, 2);
    FrameHmmOptions fo;
    fo.states = 2;
    fo.emission = FrameEmission::bernoulli;
    fo.train.max_iterations = 2;
    FrameHmm hmm(6, fo);
    hmm.fit(frames.train, nullptr, FitOptions{}, nullptr);
    take_snapshot(hmm, frames, r);
    CHECK(r.transition.n_rows == 2);
    CHECK(r.posterior.n_cols == frames.test.length(0));
    REQUIRE_FALSE(r.stretch.empty());
    CHECK(r.stretch[0] == "0");
  }
  SECTION("data the model cannot read: the model's own error") {
    Options options;
    options.set("sequences", "3");
    const SequenceDataset brackets = make_synthetic_dataset("brackets", "brackets", options, 2);
    const RnnModel model = small_rnn(data.alphabet, rnn::CellType::gru, 1);
    CHECK_THROWS_AS(take_snapshot(model, brackets, r), UserError);
  }
}
