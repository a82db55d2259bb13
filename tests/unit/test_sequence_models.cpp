// tests/unit/test_sequence_models.cpp: every model family through the SequenceModel interface
// alone: edge cases that each implementation must handle alike (empty samples), decoding through
// the interface, per-sequence scores, and the one place of seed and threads.
#include <cmath>
#include <filesystem>
#include <memory>
#include <vector>

#include "seqlab/io/model_file.hpp"

#include "seqlab/core/rng.hpp"
#include "seqlab/models/hmm/frame_hmm.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinRel;

namespace {

RnnOptions tiny_rnn() {
  RnnOptions o;
  o.hidden = 3;
  o.epochs = 1;
  return o;
}

}  // namespace

TEST_CASE("sampling zero steps gives an empty sample from every model, primed or not",
          "[models]") {
  const Alphabet letters({"a", "b", "c"});
  std::vector<std::unique_ptr<SequenceModel>> symbol_models;
  auto markov = std::make_unique<MarkovChain>(letters, MarkovOptions{2, MarkovOptions::Smoothing::kneser_ney, 1.0});
  markov->fit(test::symbol_set({arma::uvec{0, 1, 2, 0, 1, 2, 2}}), nullptr, FitOptions{}, nullptr);
  symbol_models.push_back(std::move(markov));
  CategoricalHmmOptions ho;
  ho.states = 2;
  symbol_models.push_back(std::make_unique<CategoricalHmm>(letters, ho));
  symbol_models.push_back(std::make_unique<RnnModel>(letters, tiny_rnn()));
  for (const auto& model : symbol_models) {
    CAPTURE(model->type());
    Rng rng = make_rng(3);
    CHECK(model->sample_symbols(0, rng, arma::uvec()).is_empty());
    CHECK(model->sample_symbols(0, rng, arma::uvec{0, 1}).is_empty());
    CHECK(model->sample_symbols(4, rng, arma::uvec()).n_elem == 4);
  }
  std::vector<std::unique_ptr<SequenceModel>> frame_models;
  FrameHmmOptions fo;
  fo.states = 2;
  fo.emission = FrameEmission::bernoulli;
  frame_models.push_back(std::make_unique<FrameHmm>(3, fo));
  frame_models.push_back(std::make_unique<RnnModel>(SequenceKind::binary_frames, 3, tiny_rnn()));
  for (const auto& model : frame_models) {
    CAPTURE(model->type());
    Rng rng = make_rng(3);
    CHECK(model->sample_frames(0, rng, arma::mat()).n_cols == 0);
    CHECK(model->sample_frames(0, rng, arma::mat(3, 2, arma::fill::ones)).n_cols == 0);
    CHECK(model->sample_frames(4, rng, arma::mat()).n_cols == 4);
  }
}

TEST_CASE("HMMs decode through the SequenceModel interface; other models say they cannot",
          "[models]") {
  const Alphabet letters({"a", "b", "c"});
  const std::vector<arma::uvec> train{arma::uvec{0, 1, 2, 0, 1, 2, 2, 1, 0},
                                      arma::uvec{2, 2, 1, 0, 0, 1}};
  CategoricalHmmOptions ho;
  ho.states = 3;
  CategoricalHmm hmm(letters, ho);
  hmm.fit(test::symbol_set(train), nullptr, FitOptions{}, nullptr);
  // A model loaded from a file is a SequenceModel pointer: no cast is needed to decode it.
  const test::ScratchDir scratch;
  const std::filesystem::path file = scratch / "decode_hmm.h5";
  save_model(file, hmm);
  const std::unique_ptr<SequenceModel> loaded = load_model(file);
  REQUIRE(loaded->has_hidden_states());
  for (const arma::uvec& x : train) {
    const ViterbiPath direct = hmm.hmm().viterbi(x);
    const ViterbiPath through = loaded->viterbi(x);
    CHECK(arma::all(through.states == direct.states));
    CHECK(through.log_probability == direct.log_probability);
    CHECK(arma::all(loaded->posterior_decode(x) == hmm.hmm().posterior_decode(x)));
  }

  FrameHmmOptions fo;
  fo.states = 2;
  fo.emission = FrameEmission::bernoulli;
  FrameHmm frames(3, fo);
  const arma::mat roll = {{1, 0, 1, 1}, {0, 1, 0, 0}, {1, 1, 0, 1}};
  const SequenceModel& as_model = frames;
  CHECK(as_model.has_hidden_states());
  CHECK(as_model.viterbi(roll).states.n_elem == 4);
  CHECK(arma::all(as_model.posterior_decode(roll) == frames.posterior_decode(roll)));

  MarkovChain markov(letters, MarkovOptions{1, MarkovOptions::Smoothing::add_alpha, 1.0});
  markov.fit(test::symbol_set(train), nullptr, FitOptions{}, nullptr);
  const SequenceModel& plain = markov;
  CHECK_FALSE(plain.has_hidden_states());
  CHECK_THROWS_WITH(plain.viterbi(train[0]), Contains("'markov' has no hidden states"));
  CHECK_THROWS_WITH(plain.posterior_decode(train[0]), Contains("'markov' has no hidden states"));
}

TEST_CASE("evaluate keeps each sequence's log-likelihood, summing to the total", "[models]") {
  const Alphabet letters({"a", "b"});
  MarkovChain markov(letters, MarkovOptions{0, MarkovOptions::Smoothing::add_alpha, 1.0});
  markov.fit(test::symbol_set({arma::uvec{0, 0, 1}}), nullptr, FitOptions{}, nullptr);
  // Order 0, add-one on "aab": P(a) = 3/5, P(b) = 2/5.
  const Evaluation e = evaluate(markov, test::symbol_set({arma::uvec{0, 1}, arma::uvec{1}}));
  REQUIRE(e.per_sequence.n_elem == 2);
  CHECK_THAT(e.per_sequence(0), WithinRel(std::log(0.6) + std::log(0.4), 1e-14));
  CHECK_THAT(e.per_sequence(1), WithinRel(std::log(0.4), 1e-14));
  CHECK(e.log_likelihood == e.per_sequence(0) + e.per_sequence(1));
}

// The seed and the thread count have one place, FitOptions: the engine's Baum-Welch options
// cannot hold a second copy that would silently lose to it.
template <class T>
concept HoldsSeedOrThreads = requires(T t) { t.seed; } || requires(T t) { t.threads; };
static_assert(!HoldsSeedOrThreads<TrainOptions>);
static_assert(HoldsSeedOrThreads<FitOptions>);

TEST_CASE("the HMM engine takes its restarts' seed from FitOptions", "[models]") {
  CategoricalHmmOptions ho;
  ho.states = 2;
  CategoricalHmm start(Alphabet({"a", "b", "c"}), ho);
  start.fit(test::symbol_set({arma::uvec{0, 1, 2, 2, 1, 0, 0, 1}}), nullptr, FitOptions{}, nullptr);
  Hmm<CategoricalEmission> a = start.hmm(), b = start.hmm(), c = start.hmm();
  const std::vector<arma::uvec> data{arma::uvec{0, 1, 2, 2, 1, 0, 0, 1, 2, 0}};
  TrainOptions options;
  options.restarts = 2;
  options.max_iterations = 3;
  FitOptions run;
  run.seed = 7;
  const FitResult ra = a.fit(data, options, run);
  const FitResult rb = b.fit(data, options, run);
  run.seed = 8;
  const FitResult rc = c.fit(data, options, run);
  // Restart 1 starts from parameters drawn from the seed: equal for 7 and 7, not for 7 and 8.
  CHECK(ra.restarts[1].log_likelihood == rb.restarts[1].log_likelihood);
  CHECK(ra.restarts[1].log_likelihood.front() != rc.restarts[1].log_likelihood.front());
}
