// seqlab/models/energy/crbm_model.cpp: the conditional RBM as a SequenceModel over binary frames.
#include "seqlab/models/energy/crbm_model.hpp"

#include <H5Cpp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <optional>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/models/rnn/optimizer.hpp"

namespace seqlab::energy {
namespace {

std::string number(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", x);
  return buffer;
}

// Every step of `set` as (frame, context) columns, sequence after sequence.
struct PooledSteps {
  arma::mat frames;    // V x N
  arma::mat contexts;  // K V x N
};

PooledSteps pool_steps(const Crbm& crbm, const SequenceSet& set) {
  arma::uword total = 0;
  for (const auto& f : set.frames) total += f.n_cols;
  PooledSteps p;
  p.frames.set_size(crbm.num_visible(), total);
  p.contexts.set_size(crbm.context_size(), total);
  arma::uword at = 0;
  for (const auto& f : set.frames) {
    if (f.n_cols == 0) continue;
    p.frames.cols(at, at + f.n_cols - 1) = f;
    // (Column views of a matrix without rows bind null references in Armadillo: K = 0 has none.)
    if (crbm.order() > 0) p.contexts.cols(at, at + f.n_cols - 1) = crbm.contexts(f);
    at += f.n_cols;
  }
  return p;
}

}  // namespace

void CrbmModelOptions::validate() const {
  if (hidden < 1 || hidden > kMaxEnumeratedUnits)
    user_error("crbm: hidden units must be between 1 and " + std::to_string(kMaxEnumeratedUnits) +
               ", got " + std::to_string(hidden) +
               " (the exact likelihood sums over all 2^H hidden states at every step)");
  if (order > 1000) user_error("crbm: order must be at most 1000, got " + std::to_string(order));
  if (epochs < 1) user_error("crbm: epochs must be >= 1, got 0");
  if (batch < 1) user_error("crbm: batch must be >= 1, got 0");
  if (!(learning_rate > 0.0) || !std::isfinite(learning_rate))
    user_error("crbm: the learning rate must be positive and finite, got " + number(learning_rate));
  if (!(max_seconds >= 0.0) || !std::isfinite(max_seconds))
    user_error("crbm: max seconds must be >= 0 and finite, got " + number(max_seconds));
  if (!(init_weight_sd >= 0.0) || !std::isfinite(init_weight_sd))
    user_error("crbm: the initial weight sd must be >= 0 and finite, got " +
               number(init_weight_sd));
}

CrbmModel::CrbmModel(arma::uword dimension, CrbmModelOptions options) : options_(options) {
  options_.validate();
  if (dimension < 1) user_error("crbm: frames need at least one row");
  crbm_ = Crbm(dimension, options_.hidden, options_.order);
}

void CrbmModel::set_feature_names(std::vector<std::string> names) {
  if (!names.empty() && names.size() != dimension())
    user_error("crbm: " + std::to_string(names.size()) + " feature names for frames of " +
               std::to_string(dimension()) + " rows, expected one per row (or none)");
  feature_names_ = std::move(names);
}

void CrbmModel::check_set(const SequenceSet& set, const std::string& what) const {
  if (set.kind != SequenceKind::binary_frames)
    user_error("crbm: " + what + " holds " + to_string(set.kind) + ", the model binary_frames");
  for (std::size_t s = 0; s < set.size(); ++s)
    crbm_.check_frames(set.frames[s], "crbm: " + what + ", sequence " + std::to_string(s));
}

void CrbmModel::fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& fit,
                    const FitObserver* observer) {
  check_set(train, "the training split");
  if (valid != nullptr) check_set(*valid, "the valid split");
  const PooledSteps data = pool_steps(crbm_, train);
  if (data.frames.n_cols == 0) user_error("crbm: the training split has no frames");
  std::optional<PooledSteps> checks;
  if (valid != nullptr && valid->total_steps() > 0) checks = pool_steps(crbm_, *valid);

  const auto message = [&](const std::string& text) {
    if (observer && observer->on_message && !fit.quiet) observer->on_message(text);
  };
  const auto start = std::chrono::steady_clock::now();
  const auto seconds = [&] {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  };
  const unsigned threads = std::max(1u, fit.threads);
  Rng rng = make_rng(fit.seed);
  crbm_.initialize(data.frames, rng, options_.init_weight_sd);

  rnn::OptimizerOptions adam;
  adam.kind = rnn::OptimizerKind::adam;
  rnn::Optimizer<double> optimizer(adam, crbm_.num_parameters());
  std::optional<rnn::EarlyStopping<double>> stopping;
  if (checks && options_.patience > 0) stopping.emplace(options_.patience);

  const arma::uword n = data.frames.n_cols;
  std::uint64_t updates = 0;
  arma::vec log_probs;
  for (arma::uword epoch = 1; epoch <= options_.epochs; ++epoch) {
    const arma::uvec order = random_permutation(n, rng);
    double epoch_log_likelihood = 0.0, norm_sum = 0.0;
    arma::uword batches = 0;
    for (arma::uword first = 0; first < n; first += options_.batch) {
      const arma::uvec picked = order.subvec(first, std::min(n, first + options_.batch) - 1);
      const arma::mat v = data.frames.cols(picked);
      const arma::mat u =
          crbm_.order() > 0 ? arma::mat(data.contexts.cols(picked)) : arma::mat(0, picked.n_elem);
      // The optimizer descends: the negative of the log-likelihood's gradient.
      const arma::vec loss_gradient = -crbm_.log_likelihood_gradient(v, u, threads, &log_probs);
      epoch_log_likelihood += arma::accu(log_probs);
      norm_sum += arma::norm(loss_gradient);
      ++batches;
      optimizer.step(crbm_.parameters(), loss_gradient, options_.learning_rate);
      ++updates;
      if (observer && observer->on_update) observer->on_update(updates);
    }
    if (!crbm_.parameters().is_finite())
      user_error("crbm: training diverged in epoch " + std::to_string(epoch) +
                 " (a parameter is not finite); lower --lr");
    EpochRecord record;
    record.epoch = epoch;
    record.updates = updates;
    record.train_nll = -epoch_log_likelihood / static_cast<double>(n);
    record.learning_rate = options_.learning_rate;
    record.gradient_norm = norm_sum / static_cast<double>(batches);
    if (checks)
      record.valid_nll =
          -arma::accu(crbm_.step_log_probs(checks->frames, checks->contexts, threads)) /
          static_cast<double>(checks->frames.n_cols);
    record.seconds = seconds();
    char valid_text[64] = "";
    if (checks)
      std::snprintf(valid_text, sizeof valid_text, ", valid NLL %.4f nats/frame", record.valid_nll);
    char line[256];
    std::snprintf(
        line, sizeof line,
        "crbm: epoch %llu/%llu, %llu updates, train NLL %.4f nats/frame%s, %.1fs",
        static_cast<unsigned long long>(epoch), static_cast<unsigned long long>(options_.epochs),
        static_cast<unsigned long long>(updates), record.train_nll, valid_text, record.seconds);
    message(line);
    if (observer && observer->on_epoch) observer->on_epoch(record);
    if (stopping) {
      stopping->observe(record.valid_nll, crbm_.parameters());
      if (stopping->should_stop()) {
        message("crbm: no valid improvement for " + std::to_string(options_.patience) +
                " epochs, stopping");
        break;
      }
    }
    if (options_.max_seconds > 0.0 && record.seconds >= options_.max_seconds) {
      if (epoch < options_.epochs)
        message("crbm: --max-time reached after epoch " + std::to_string(epoch));
      break;
    }
  }
  if (stopping && stopping->has_best() && stopping->best_epoch() + 1 != stopping->epochs_seen()) {
    stopping->restore(crbm_.parameters());
    message("crbm: restored the parameters of epoch " + std::to_string(stopping->best_epoch() + 1) +
            " (valid NLL " + number(stopping->best()) + " nats/frame)");
  }
}

double CrbmModel::log_likelihood(const arma::mat& frames) const {
  return arma::accu(step_log_probs(frames));
}

arma::vec CrbmModel::step_log_probs(const arma::mat& frames) const {
  crbm_.check_frames(frames, "crbm: the frames");
  if (frames.n_cols == 0) return arma::vec();
  return crbm_.step_log_probs(frames, crbm_.contexts(frames));
}

arma::vec CrbmModel::log_likelihoods(const SequenceSet& set) const {
  check_set(set, "the data");
  const PooledSteps pooled = pool_steps(crbm_, set);
  arma::vec out(set.size(), arma::fill::zeros);
  if (pooled.frames.n_cols == 0) return out;
  const arma::vec steps = crbm_.step_log_probs(pooled.frames, pooled.contexts);
  arma::uword at = 0;
  for (std::size_t i = 0; i < set.size(); ++i) {
    const arma::uword len = set.frames[i].n_cols;
    if (len > 0) out(i) = arma::accu(steps.subvec(at, at + len - 1));
    at += len;
  }
  return out;
}

arma::mat CrbmModel::sample_frames(arma::uword length, Rng& rng, const arma::mat& prime) const {
  return crbm_.sample(length, prime, rng);
}

void CrbmModel::save(H5::Group& group) const {
  crbm_.save(group);
  if (!feature_names_.empty()) h5::write_strings(group, "feature_names", feature_names_);
}

void CrbmModel::load(const H5::Group& group) {
  h5::quiet_errors();
  Crbm crbm;
  crbm.load(group);
  std::vector<std::string> names;
  if (h5::has_child(group, "feature_names")) {
    names = h5::read_strings(group, "feature_names");
    if (names.size() != crbm.num_visible())
      h5::format_error(group, "feature_names",
                       "has " + std::to_string(names.size()) + " names, expected one per row (" +
                           std::to_string(crbm.num_visible()) + ")");
  }
  crbm_ = std::move(crbm);
  options_.hidden = crbm_.num_hidden();
  options_.order = crbm_.order();
  feature_names_ = std::move(names);
}

}  // namespace seqlab::energy
