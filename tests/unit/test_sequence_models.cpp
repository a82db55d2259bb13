// tests/unit/test_sequence_models.cpp: every model family through the SequenceModel interface
// alone: edge cases that each implementation must handle alike (empty samples).
#include <memory>
#include <vector>

#include "seqlab/core/rng.hpp"
#include "seqlab/models/hmm/frame_hmm.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "test_support.hpp"

using namespace seqlab;

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
