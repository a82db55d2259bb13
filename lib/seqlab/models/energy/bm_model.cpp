// seqlab/models/energy/bm_model.cpp: the general Boltzmann machine as a SequenceModel over
// independent binary frames.
#include "seqlab/models/energy/bm_model.hpp"

#include <H5Cpp.h>

#include <chrono>
#include <cmath>
#include <cstdio>

#include "seqlab/core/error.hpp"
#include "seqlab/data/batching.hpp"
#include "seqlab/io/hdf5.hpp"

namespace seqlab::energy {
namespace {

// Per-epoch exact NLLs only while they stay cheap next to an epoch: about a tenth of a second of
// enumeration (log Z plus every scored frame's hidden states).
constexpr double kCheapEnumeration = 2e8;

std::string count(arma::uword v) { return std::to_string(v); }

// Multiply-adds of exact log p(v) for `frames` frames: log Z (2^n n / 2) and the hidden sums.
double enumeration_cost(const BoltzmannMachine& bm, double frames) {
  const double n = double(bm.num_units()), h = double(bm.num_hidden());
  return std::ldexp(0.5 * n, int(bm.num_units())) + frames * std::ldexp(h + 1.0, int(h));
}

}  // namespace

BmModel::BmModel(SequenceKind kind, arma::uword dimension, BmModelOptions options)
    : options_(std::move(options)) {
  if (kind != SequenceKind::binary_frames)
    user_error("bm: a Boltzmann machine models binary frames, not " + to_string(kind));
  if (dimension < 1) user_error("bm: frames need at least one row");
  if (options_.hidden > kMaxHidden)
    user_error("bm: at most " + count(kMaxHidden) +
               " hidden units (each frame's 2^H hidden "
               "states are summed exactly), got " +
               count(options_.hidden));
  options_.train.validate();
  options_.ais.validate();
  if (options_.log_z == LogZMethod::exact &&
      dimension + options_.hidden > BoltzmannMachine::kMaxExactUnits)
    user_error("bm: an exact log Z enumerates all 2^(V + H) states, and V + H = " +
               count(dimension + options_.hidden) + " > " +
               count(BoltzmannMachine::kMaxExactUnits) + "; estimate it by AIS instead");
  bm_ = BoltzmannMachine(dimension, options_.hidden);
}

void BmModel::set_feature_names(std::vector<std::string> names) {
  if (!names.empty() && names.size() != dimension())
    user_error("bm: " + std::to_string(names.size()) + " feature names for frames of " +
               count(dimension()) + " rows, expected one per row (or none)");
  feature_names_ = std::move(names);
}

void BmModel::require_fitted() const {
  if (log_z_method_.empty()) user_error("bm: the model has not been trained (no log Z yet)");
}

void BmModel::check_frames(const arma::mat& frames, const std::string& what) const {
  if (frames.n_rows != dimension())
    user_error("bm: " + what + " has frames of " + count(frames.n_rows) + " rows, the model " +
               count(dimension()));
  bm_.validate_data(frames, "bm: " + what);
}

double BmModel::exact_log_partition() const {
  require_fitted();
  if (!exact_partition())
    user_error("bm: an exact log Z enumerates all 2^(V + H) states, and V + H = " +
               count(bm_.num_units()) + " > " + count(BoltzmannMachine::kMaxExactUnits) +
               "; estimate it by AIS instead");
  return energy::log_partition(bm_);
}

AisResult BmModel::estimate_log_partition(const SequenceSet& train, const AisOptions& options,
                                          Rng& rng) const {
  require_fitted();
  options.validate();
  if (train.kind != SequenceKind::binary_frames)
    user_error("bm: the training data holds " + to_string(train.kind) +
               ", the model binary_frames");
  const arma::mat data = all_frames(train, dimension(), "bm: the training split");
  if (data.n_cols == 0) user_error("bm: the training split has no frames");
  check_frames(data, "the training split");
  return ais_log_partition(bm_, data, options, rng);
}

void BmModel::fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
                  const FitObserver* observer) {
  if (train.kind != SequenceKind::binary_frames)
    user_error("bm: training data holds " + to_string(train.kind) + ", the model binary_frames");
  const arma::mat data = all_frames(train, dimension(), "bm: the training split");
  if (data.n_cols == 0) user_error("bm: the training split has no frames");
  check_frames(data, "the training split");
  arma::mat valid_data;
  if (valid != nullptr && valid->size() > 0) {
    valid_data = all_frames(*valid, dimension(), "bm: the valid split");
    if (valid_data.n_cols > 0) check_frames(valid_data, "the valid split");
  }

  const auto message = [&](const std::string& text) {
    if (observer && observer->on_message && !options.quiet) observer->on_message(text);
  };
  Rng rng = make_rng(options.seed);
  bm_ = BoltzmannMachine(dimension(), options_.hidden);
  bm_.randomize(0.1, rng);
  bm_.biases().head(dimension()) = base_rate_visible_bias(data, VisibleType::bernoulli);

  BmTrainOptions train_options = options_.train;
  train_options.exact_statistics = exact_partition();
  train_options.exact_clamped = true;
  train_options.track_log_likelihood = false;
  const arma::uword batch =
      train_options.batch_size == 0 ? data.n_cols : std::min(train_options.batch_size, data.n_cols);
  const std::uint64_t batches_per_epoch = (data.n_cols + batch - 1) / batch;
  const bool per_epoch_nll =
      exact_partition() &&
      enumeration_cost(bm_, double(data.n_cols + valid_data.n_cols)) <= kCheapEnumeration;
  log_z_method_.clear();
  const auto on_epoch = [&](const BmEpochRecord& r) {
    EpochRecord record;
    record.epoch = r.epoch;
    record.updates = r.epoch * batches_per_epoch;
    record.seconds = r.seconds;
    record.learning_rate = train_options.learning_rate;
    if (per_epoch_nll) {
      const double log_z = energy::log_partition(bm_);
      record.train_nll = log_z - arma::mean(log_unnormalised_marginal(bm_, data));
      if (valid_data.n_cols > 0)
        record.valid_nll = log_z - arma::mean(log_unnormalised_marginal(bm_, valid_data));
    }
    char line[256];
    if (per_epoch_nll)
      std::snprintf(line, sizeof line, "\rbm: epoch %llu/%llu, train NLL %.4f nats/frame, %.1fs\n",
                    static_cast<unsigned long long>(r.epoch),
                    static_cast<unsigned long long>(train_options.epochs), record.train_nll,
                    r.seconds);
    else
      std::snprintf(line, sizeof line,
                    "\rbm: epoch %llu/%llu, %.1fs (log Z, hence the NLL, after training)\n",
                    static_cast<unsigned long long>(r.epoch),
                    static_cast<unsigned long long>(train_options.epochs), r.seconds);
    message(line);
    if (observer && observer->on_epoch) observer->on_epoch(record);
  };
  (void)energy::train(bm_, data, train_options, rng, on_epoch);
  if (!bm_.parameters().is_finite())
    user_error("bm: training diverged (a parameter is not finite); lower --lr");

  if (exact_log_z()) {
    log_z_ = energy::log_partition(bm_);
    log_z_stderr_ = 0.0;
    log_z_method_ = "exact";
    message("bm: log Z = " + std::to_string(log_z_) + " (exact, enumerating " +
            std::to_string(1ULL << bm_.num_units()) + " states)");
  } else {
    Rng ais_rng = make_rng(derive_seed(options.seed, 1));
    const auto start = std::chrono::steady_clock::now();
    const AisResult ais = ais_log_partition(bm_, data, options_.ais, ais_rng);
    if (!std::isfinite(ais.log_z) || !std::isfinite(ais.standard_error))
      user_error("bm: the AIS estimate of log Z is not finite (log Z " + std::to_string(ais.log_z) +
                 ", standard error " + std::to_string(ais.standard_error) +
                 "); lower --lr or raise --ais-runs");
    log_z_ = ais.log_z;
    log_z_stderr_ = ais.standard_error;
    log_z_method_ = "ais";
    char line[256];
    std::snprintf(line, sizeof line,
                  "bm: log Z = %.6f +- %.6f (AIS over %llu units, %llu runs, effective sample "
                  "size %.1f, %.1fs)",
                  ais.log_z, ais.standard_error, static_cast<unsigned long long>(bm_.num_units()),
                  static_cast<unsigned long long>(options_.ais.runs), ais.effective_sample_size,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    message(line);
  }
}

double BmModel::log_likelihood(const arma::mat& frames) const {
  return arma::accu(step_log_probs(frames));
}

arma::vec BmModel::step_log_probs(const arma::mat& frames) const {
  require_fitted();
  if (frames.n_cols == 0) return arma::vec();
  check_frames(frames, "the frames");
  return log_unnormalised_marginal(bm_, frames) - log_z_;
}

arma::vec BmModel::log_likelihoods(const SequenceSet& set) const {
  require_fitted();
  if (set.kind != SequenceKind::binary_frames)
    user_error("bm: data holds " + to_string(set.kind) + ", the model binary_frames");
  const arma::mat pooled = all_frames(set, dimension(), "bm: the data");
  if (pooled.n_cols == 0) return arma::vec(set.size(), arma::fill::zeros);
  return sums_by_sequence(step_log_probs(pooled), set);
}

arma::mat BmModel::sample_frames(arma::uword length, Rng& rng, const arma::mat& prime) const {
  require_fitted();
  if (prime.n_cols > 0) check_frames(prime, "the prime");
  if (length == 0) return arma::mat(dimension(), 0);
  SampleOptions so;
  so.chains = length;
  so.burn_in = 999;
  so.thin = 1;  // one more sweep, then every chain gives its frame
  return sample_visible(bm_, length, so, rng);
}

void BmModel::save(H5::Group& group) const {
  require_fitted();
  if (!bm_.parameters().is_finite() || !std::isfinite(log_z_))
    user_error("bm: refusing to save a model with non-finite parameters or log Z");
  h5::write_string_attribute(group, "kind", to_string(SequenceKind::binary_frames));
  h5::write_double_attribute(group, "log_z", log_z_);
  h5::write_double_attribute(group, "log_z_stderr", log_z_stderr_);
  h5::write_string_attribute(group, "log_z_method", log_z_method_);
  bm_.save(group);
  if (!feature_names_.empty()) h5::write_strings(group, "feature_names", feature_names_);
}

void BmModel::load(const H5::Group& group) {
  h5::quiet_errors();
  const std::string kind_name = h5::read_string_attribute(group, "kind");
  if (kind_name != "binary_frames")
    h5::format_error(group, "kind", "is '" + kind_name + "', expected binary_frames");
  const double log_z = h5::read_double_attribute(group, "log_z");
  const double log_z_stderr = h5::read_double_attribute(group, "log_z_stderr");
  const std::string method = h5::read_string_attribute(group, "log_z_method");
  if (!std::isfinite(log_z)) h5::format_error(group, "log_z", "is not finite");
  if (!(log_z_stderr >= 0.0) || !std::isfinite(log_z_stderr))
    h5::format_error(group, "log_z_stderr", "must be finite and >= 0");
  if (method != "exact" && method != "ais")
    h5::format_error(group, "log_z_method", "is '" + method + "', expected exact or ais");
  BoltzmannMachine bm;
  bm.load(group);
  if (bm.num_hidden() > kMaxHidden)
    h5::format_error(group, "hidden",
                     "is " + count(bm.num_hidden()) + ", expected at most " + count(kMaxHidden) +
                         " (hidden states are enumerated)");
  if (method == "exact" && bm.num_units() > BoltzmannMachine::kMaxExactUnits)
    h5::format_error(group, "log_z_method",
                     "is 'exact' for " + count(bm.num_units()) +
                         " units, but log Z is only "
                         "enumerated up to " +
                         count(BoltzmannMachine::kMaxExactUnits));
  if (method == "exact" && log_z_stderr != 0.0)
    h5::format_error(group, "log_z_stderr", "must be 0 for an exact log Z");
  std::vector<std::string> names;
  if (h5::has_child(group, "feature_names")) {
    names = h5::read_strings(group, "feature_names");
    if (names.size() != bm.num_visible())
      h5::format_error(group, "feature_names",
                       "has " + std::to_string(names.size()) + " names, expected one per row (" +
                           count(bm.num_visible()) + ")");
  }
  bm_ = std::move(bm);
  options_.hidden = bm_.num_hidden();
  feature_names_ = std::move(names);
  log_z_ = log_z;
  log_z_stderr_ = log_z_stderr;
  log_z_method_ = method;
}

}  // namespace seqlab::energy
