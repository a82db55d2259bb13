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
namespace {
[[noreturn]] void no_hidden_states(const SequenceModel& model) {
  user_error("model '" + model.type() + "' has no hidden states to decode (decoding needs an HMM)");
}
}  // namespace
ViterbiPath SequenceModel::viterbi(const arma::uvec&) const { no_hidden_states(*this); }
ViterbiPath SequenceModel::viterbi(const arma::mat&) const { no_hidden_states(*this); }
arma::uvec SequenceModel::posterior_decode(const arma::uvec&) const { no_hidden_states(*this); }
arma::uvec SequenceModel::posterior_decode(const arma::mat&) const { no_hidden_states(*this); }
const Alphabet& SequenceModel::alphabet() const {
  static const Alphabet none;
  return none;
}
const std::vector<std::string>& SequenceModel::feature_names() const {
  static const std::vector<std::string> none;
  return none;
}

Evaluation evaluate(const SequenceModel& model, const SequenceSet& set) {
  if (set.kind != model.kind())
    user_error("cannot evaluate model '" + model.type() + "' (" + to_string(model.kind()) +
               ") on data of kind " + to_string(set.kind));
  Evaluation e;
  e.per_sequence = model.log_likelihoods(set);
  e.nll_stderr = model.log_likelihood_stderr_per_step();
  for (std::size_t i = 0; i < set.size(); ++i) {
    e.log_likelihood += e.per_sequence(i);
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

namespace seqlab {

namespace {
// "'a', 'b', 'c', ... (N symbols)": enough of an alphabet to see which one it is.
std::string describe_alphabet(const Alphabet& alphabet) {
  constexpr std::size_t kShown = 8;
  std::string out;
  for (std::size_t i = 0; i < alphabet.size() && i < kShown; ++i)
    out += (i ? ", '" : "'") + printable(alphabet.symbol(i), 12) + "'";
  if (alphabet.size() > kShown) out += ", ...";
  return out + " (" + std::to_string(alphabet.size()) + " symbols)";
}
}  // namespace

void require_model_fits(const SequenceModel& model, const SequenceDataset& dataset) {
  const std::string model_is = "model '" + model.type() + "'";
  if (dataset.kind != model.kind())
    user_error(model_is + " models " + to_string(model.kind()) + ", but dataset '" +
               dataset.name + "' holds " + to_string(dataset.kind));
  if (dataset.kind == SequenceKind::symbols) {
    const Alphabet& mine = model.alphabet();
    if (dataset.alphabet.symbols() == mine.symbols()) return;
    user_error("dataset '" + dataset.name + "' is encoded with its own alphabet " +
               describe_alphabet(dataset.alphabet) + ", not the model's " +
               describe_alphabet(mine) +
               ": open it with the model's alphabet (OpenOptions::fixed_alphabet) or re-encode it "
               "(reencode_symbols)");
  }
  if (dataset.dimension != model.dimension())
    user_error(model_is + " models frames of " + std::to_string(model.dimension()) +
               " rows, but dataset '" + dataset.name + "' has " +
               std::to_string(dataset.dimension));
  const auto& mine = model.feature_names();
  const auto& theirs = dataset.feature_names;
  if (mine.empty() || theirs.empty() || mine == theirs) return;
  for (std::size_t r = 0; r < mine.size() && r < theirs.size(); ++r)
    if (mine[r] != theirs[r])
      user_error(model_is + " names row " + std::to_string(r) + " '" + printable(mine[r]) +
                 "', but in dataset '" + dataset.name + "' row " + std::to_string(r) + " is '" +
                 printable(theirs[r]) + "' (the rows mean different things: read the data with "
                 "the same reader options as the training data, e.g. the same piano-roll range)");
}

Evaluation evaluate(const SequenceModel& model, const SequenceDataset& dataset, Split split) {
  require_model_fits(model, dataset);
  return evaluate(model, dataset.get(split));
}

}  // namespace seqlab
