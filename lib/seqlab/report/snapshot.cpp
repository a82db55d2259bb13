// seqlab/report/snapshot.cpp: take_snapshot (see snapshot.hpp).
#include "seqlab/report/snapshot.hpp"

#include <cmath>
#include <string>
#include <variant>

#include "seqlab/models/energy/rbm_model.hpp"
#include "seqlab/models/hmm/frame_hmm.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"

namespace seqlab {
namespace {

// The posteriors of `x` under `hmm`, or an empty matrix when p(x) = 0.
template <class Engine, class Sequence>
arma::mat posteriors_or_empty(const Engine& hmm, const Sequence& x) {
  if (!std::isfinite(hmm.log_likelihood(x))) return {};
  return hmm.posteriors(x).gamma;
}

}  // namespace

void take_snapshot(const SequenceModel& model, const SequenceDataset& data, RunResult& into,
                   arma::uword length) {
  into.transition.reset();
  into.filters.reset();
  into.posterior.reset();
  into.activations.reset();
  into.stretch.clear();
  require_model_fits(model, data);
  // An RBM's filters depend on no data: taken before the test stretch is looked at.
  if (const auto* rbm = dynamic_cast<const energy::RbmModel*>(&model)) {
    into.filters = rbm->rbm().W();
    return;
  }
  const SequenceSet& test = data.test;
  if (test.empty() || test.length(0) == 0 || length == 0) return;
  const arma::uword n = std::min(length, test.length(0));
  const bool symbols = test.kind == SequenceKind::symbols;
  const arma::uvec x = symbols ? arma::uvec(test.symbols[0].head(n)) : arma::uvec();
  const arma::mat f = symbols ? arma::mat() : arma::mat(test.frames[0].head_cols(n));

  if (const auto* hmm = dynamic_cast<const CategoricalHmm*>(&model)) {
    into.transition = hmm->hmm().transition();
    into.posterior = posteriors_or_empty(hmm->hmm(), x);
  } else if (const auto* frame_hmm = dynamic_cast<const FrameHmm*>(&model)) {
    std::visit(
        [&](const auto& engine) {
          into.transition = engine.transition();
          into.posterior = posteriors_or_empty(engine, f);
        },
        frame_hmm->engine());
  } else if (const auto* rnn = dynamic_cast<const RnnModel*>(&model)) {
    into.activations = symbols ? rnn->hidden_states(x) : rnn->hidden_states(f);
  } else {
    return;
  }
  for (arma::uword t = 0; t < n; ++t)
    into.stretch.push_back(symbols ? model.alphabet().symbol(x(t)) : std::to_string(t));
  if (into.posterior.empty() && into.activations.empty()) into.stretch.clear();
}

}  // namespace seqlab
