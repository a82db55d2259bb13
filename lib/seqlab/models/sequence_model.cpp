// seqlab/models/sequence_model.cpp: default behaviours and evaluate().
#include "seqlab/models/sequence_model.hpp"

#include <cmath>

#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"

namespace seqlab {

double Evaluation::nats_per_symbol() const {
  return symbols == 0 ? 0.0 : -log_likelihood / static_cast<double>(symbols);
}
double Evaluation::bits_per_symbol() const { return nats_to_bits(nats_per_symbol()); }
double Evaluation::perplexity() const { return std::exp(nats_per_symbol()); }

double SequenceModel::log_likelihood(const arma::uvec&) const {
  user_error("model '" + type() + "' does not score symbol sequences (it models " +
             to_string(kind()) + ")");
}
double SequenceModel::log_likelihood(const arma::mat&) const {
  user_error("model '" + type() + "' does not score frame sequences (it models " +
             to_string(kind()) + ")");
}
arma::vec SequenceModel::step_log_probs(const arma::uvec&) const {
  user_error("model '" + type() + "' does not give per-step probabilities of symbols");
}
arma::vec SequenceModel::step_log_probs(const arma::mat&) const {
  user_error("model '" + type() + "' does not give per-step probabilities of frames");
}
arma::uvec SequenceModel::sample_symbols(arma::uword, Rng&, const arma::uvec&) const {
  user_error("model '" + type() + "' does not sample symbol sequences");
}
arma::mat SequenceModel::sample_frames(arma::uword, Rng&, const arma::mat&) const {
  user_error("model '" + type() + "' does not sample frame sequences");
}
const Alphabet& SequenceModel::alphabet() const {
  static const Alphabet none;
  return none;
}

Evaluation evaluate(const SequenceModel& model, const SequenceSet& set) {
  if (set.kind != model.kind())
    user_error("cannot evaluate model '" + model.type() + "' (" + to_string(model.kind()) +
               ") on data of kind " + to_string(set.kind));
  Evaluation e;
  const arma::vec per_sequence = model.log_likelihoods(set);
  for (std::size_t i = 0; i < set.size(); ++i) {
    e.log_likelihood += per_sequence(i);
    e.symbols += set.length(i);
    ++e.sequences;
  }
  return e;
}

arma::vec SequenceModel::log_likelihoods(const SequenceSet& set) const {
  arma::vec out(set.size());
  for (std::size_t i = 0; i < set.size(); ++i)
    out(i) = set.kind == SequenceKind::symbols ? log_likelihood(set.symbols[i])
                                               : log_likelihood(set.frames[i]);
  return out;
}

}  // namespace seqlab
