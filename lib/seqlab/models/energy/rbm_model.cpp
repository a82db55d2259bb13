// seqlab/models/energy/rbm_model.cpp: the RBM as a SequenceModel over independent frames.
#include "seqlab/models/energy/rbm_model.hpp"

#include <H5Cpp.h>

#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "seqlab/core/error.hpp"
#include "seqlab/data/batching.hpp"
#include "seqlab/io/hdf5.hpp"

namespace seqlab::energy {
namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
// Per-epoch exact NLLs only while an enumeration stays cheap (2^m V H multiply-adds, m the
// enumerated layer): about a tenth of a second.
constexpr double kCheapEnumeration = 2e8;

// The layer log Z sums over, and whether that is possible at all (rbm.hpp, ENUMERATION LIMIT).
arma::uword enumerated_units(const Rbm& rbm) {
  return rbm.visible_type() == VisibleType::gaussian
             ? rbm.num_hidden()
             : std::min(rbm.num_visible(), rbm.num_hidden());
}
bool enumerable(const Rbm& rbm) { return enumerated_units(rbm) <= kMaxEnumeratedUnits; }
bool cheaply_enumerable(const Rbm& rbm) {
  return enumerable(rbm) && std::ldexp(1.0, static_cast<int>(enumerated_units(rbm))) *
                                    static_cast<double>(rbm.num_visible() * rbm.num_hidden()) <=
                                kCheapEnumeration;
}

}  // namespace

RbmModel::RbmModel(SequenceKind kind, arma::uword dimension, RbmModelOptions options)
    : kind_(kind), options_(std::move(options)) {
  if (kind != SequenceKind::binary_frames && kind != SequenceKind::vectors)
    user_error("rbm: models binary frames or vectors, not " + to_string(kind));
  if (dimension < 1) user_error("rbm: frames need at least one row");
  if (options_.hidden < 1) user_error("rbm: needs at least one hidden unit");
  options_.train.validate();
  options_.ais.validate();
  if (options_.log_z == LogZMethod::exact && std::min(dimension, options_.hidden) > kMaxEnumeratedUnits)
    user_error("rbm: an exact log Z enumerates the smaller layer, and both have more than " +
               std::to_string(kMaxEnumeratedUnits) + " units (" + std::to_string(dimension) +
               " visible, " + std::to_string(options_.hidden) +
               " hidden); estimate it by AIS instead, or use at most " +
               std::to_string(kMaxEnumeratedUnits) + " hidden units");
  rbm_ = Rbm(dimension, options_.hidden,
             kind == SequenceKind::vectors ? VisibleType::gaussian : VisibleType::bernoulli);
}

void RbmModel::set_feature_names(std::vector<std::string> names) {
  if (!names.empty() && names.size() != dimension())
    user_error("rbm: " + std::to_string(names.size()) + " feature names for frames of " +
               std::to_string(dimension()) + " rows, expected one per row (or none)");
  feature_names_ = std::move(names);
}

void RbmModel::require_fitted() const {
  if (log_z_method_.empty()) user_error("rbm: the model has not been trained (no log Z yet)");
}

arma::mat RbmModel::visible_values(const arma::mat& frames, const std::string& what) const {
  if (frames.n_rows != dimension())
    user_error("rbm: " + what + " has frames of " + std::to_string(frames.n_rows) +
               " rows, the model " + std::to_string(dimension()));
  if (kind_ == SequenceKind::binary_frames) {
    rbm_.check_data(frames, what);
    return frames;
  }
  if (!frames.is_finite()) user_error("rbm: " + what + " holds a NaN or an infinity");
  arma::mat z = frames;
  z.each_col() -= mean_;
  z.each_col() /= sd_;
  return z;
}

arma::vec RbmModel::column_log_probs(const arma::mat& v) const {
  arma::vec out = -rbm_.free_energy(v) - log_z_;
  if (kind_ == SequenceKind::vectors) out -= arma::accu(arma::log(sd_));
  return out;
}

void RbmModel::fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& options,
                   const FitObserver* observer) {
  if (train.kind != kind_)
    user_error("rbm: training data holds " + to_string(train.kind) + ", the model " +
               to_string(kind_));
  const arma::mat raw = all_frames(train, dimension(), "rbm: the training split");
  if (raw.n_cols == 0) user_error("rbm: the training split has no frames");
  if (kind_ == SequenceKind::vectors) {
    if (!raw.is_finite()) user_error("rbm: the training frames hold a NaN or an infinity");
    mean_ = arma::mean(raw, 1);
    sd_ = arma::stddev(raw, 1, 1);  // population sd: the standardised data has variance 1
    // A row constant in training: keep its scale (sd 1) rather than divide by zero.
    sd_.transform([](double s) { return s > 1e-12 ? s : 1.0; });
  }
  const arma::mat data = visible_values(raw, "the training split");
  arma::mat valid_data;
  if (valid != nullptr && valid->size() > 0) {
    const arma::mat pooled = all_frames(*valid, dimension(), "rbm: the valid split");
    if (pooled.n_cols > 0) valid_data = visible_values(pooled, "the valid split");
  }

  const auto message = [&](const std::string& text) {
    if (observer && observer->on_message && !options.quiet) observer->on_message(text);
  };
  RbmTrainOptions train_options = options_.train;
  // The monitors (reconstruction error, pseudo-likelihood over the whole training split) cost
  // about as much as an epoch of CD-1 itself; they are for the progress line, so they run only
  // when it is shown. The trained parameters do not depend on it (train_rbm).
  train_options.monitor = observer && observer->on_message && !options.quiet;
  const std::uint64_t batches_per_epoch =
      (data.n_cols + train_options.batch_size - 1) / train_options.batch_size;
  const bool per_epoch_nll = cheaply_enumerable(rbm_);
  log_z_method_.clear();
  Rng rng = make_rng(options.seed);
  const auto on_epoch = [&](const RbmEpochRecord& r) {
    EpochRecord record;
    record.epoch = r.epoch;
    record.updates = r.epoch * batches_per_epoch;
    record.seconds = r.seconds;
    record.learning_rate = train_options.learning_rate;
    char line[256];
    if (per_epoch_nll) {
      const double log_z = rbm_.log_partition();
      record.train_nll = arma::mean(rbm_.free_energy(data)) + log_z;
      if (kind_ == SequenceKind::vectors) record.train_nll += arma::accu(arma::log(sd_));
      if (valid_data.n_cols > 0) {
        record.valid_nll = arma::mean(rbm_.free_energy(valid_data)) + log_z;
        if (kind_ == SequenceKind::vectors) record.valid_nll += arma::accu(arma::log(sd_));
      }
    }
    std::snprintf(line, sizeof line,
                  "\rrbm: epoch %llu/%llu, reconstruction error %.4f, pseudo-likelihood %.4f "
                  "nats, train NLL %.4f nats/frame, %.1fs\n",
                  static_cast<unsigned long long>(r.epoch),
                  static_cast<unsigned long long>(train_options.epochs),
                  r.reconstruction_error, r.pseudo_likelihood, record.train_nll, r.seconds);
    message(line);
    if (observer && observer->on_epoch) observer->on_epoch(record);
  };
  train_rbm(rbm_, data, train_options, rng, on_epoch);
  if (!rbm_.parameters().is_finite())
    user_error("rbm: training diverged (a parameter is not finite); lower --lr");

  const bool exact = options_.log_z == LogZMethod::exact ||
                     (options_.log_z == LogZMethod::automatic && enumerable(rbm_));
  if (exact) {
    log_z_ = rbm_.log_partition();
    log_z_stderr_ = 0.0;
    log_z_method_ = "exact";
    message("rbm: log Z = " + std::to_string(log_z_) + " (exact, enumerating " +
            std::to_string(1ULL << enumerated_units(rbm_)) + " states)");
  } else {
    Rng ais_rng = make_rng(derive_seed(options.seed, 1));
    const auto start = std::chrono::steady_clock::now();
    const AisResult ais = ais_log_partition(rbm_, data, options_.ais, ais_rng);
    log_z_ = ais.log_z;
    log_z_stderr_ = ais.standard_error;
    log_z_method_ = "ais";
    char line[256];
    std::snprintf(line, sizeof line,
                  "rbm: log Z = %.6f +- %.6f (AIS, %llu runs, effective sample size %.1f, %.1fs)",
                  ais.log_z, ais.standard_error,
                  static_cast<unsigned long long>(options_.ais.runs), ais.effective_sample_size,
                  std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count());
    message(line);
  }
}

bool RbmModel::log_partition_enumerable() const { return enumerable(rbm_); }

double RbmModel::exact_log_partition() const {
  require_fitted();
  if (!enumerable(rbm_))
    user_error("rbm: an exact log Z enumerates 2^" + std::to_string(enumerated_units(rbm_)) +
               " states of the " +
               (kind_ == SequenceKind::vectors ? std::string("hidden") : std::string("smaller")) +
               " layer, more than the 2^" + std::to_string(kMaxEnumeratedUnits) +
               " allowed; estimate it by AIS instead");
  return rbm_.log_partition();
}

AisResult RbmModel::estimate_log_partition(const SequenceSet& train, const AisOptions& options,
                                           Rng& rng) const {
  require_fitted();
  options.validate();
  if (train.kind != kind_)
    user_error("rbm: the training data holds " + to_string(train.kind) + ", the model " +
               to_string(kind_));
  const arma::mat raw = all_frames(train, dimension(), "rbm: the training split");
  if (raw.n_cols == 0) user_error("rbm: the training split has no frames");
  return ais_log_partition(rbm_, visible_values(raw, "the training split"), options, rng);
}

double RbmModel::log_likelihood(const arma::mat& frames) const {
  return arma::accu(step_log_probs(frames));
}

arma::vec RbmModel::step_log_probs(const arma::mat& frames) const {
  require_fitted();
  if (frames.n_cols == 0) return arma::vec();
  return column_log_probs(visible_values(frames, "the frames"));
}

arma::vec RbmModel::log_likelihoods(const SequenceSet& set) const {
  require_fitted();
  if (set.kind != kind_)
    user_error("rbm: data holds " + to_string(set.kind) + ", the model " + to_string(kind_));
  const arma::mat pooled = all_frames(set, dimension(), "rbm: the data");
  if (pooled.n_cols == 0) return arma::vec(set.size(), arma::fill::zeros);
  return sums_by_sequence(column_log_probs(visible_values(pooled, "the data")), set);
}

arma::mat RbmModel::sample_frames(arma::uword length, Rng& rng, const arma::mat& prime) const {
  require_fitted();
  if (prime.n_cols > 0) (void)visible_values(prime, "the prime");
  if (length == 0) return arma::mat(dimension(), 0);
  arma::mat v = rbm_.sample(length, 1000, rng);
  if (kind_ == SequenceKind::vectors) {
    v.each_col() %= sd_;
    v.each_col() += mean_;
  }
  return v;
}

std::uint64_t RbmModel::num_parameters() const { return rbm_.num_parameters(); }

void RbmModel::save(H5::Group& group) const {
  require_fitted();
  h5::write_string_attribute(group, "kind", to_string(kind_));
  h5::write_double_attribute(group, "log_z", log_z_);
  h5::write_double_attribute(group, "log_z_stderr", log_z_stderr_);
  h5::write_string_attribute(group, "log_z_method", log_z_method_);
  rbm_.save(group);
  if (kind_ == SequenceKind::vectors) {
    h5::write_vec(group, "mean", mean_);
    h5::write_vec(group, "sd", sd_);
  }
  if (!feature_names_.empty()) h5::write_strings(group, "feature_names", feature_names_);
}

void RbmModel::load(const H5::Group& group) {
  h5::quiet_errors();
  const std::string kind_name = h5::read_string_attribute(group, "kind");
  if (kind_name != "binary_frames" && kind_name != "vectors")
    h5::format_error(group, "kind", "is '" + kind_name + "', expected binary_frames or vectors");
  const SequenceKind kind = parse_sequence_kind(kind_name);
  const double log_z = h5::read_double_attribute(group, "log_z");
  const double log_z_stderr = h5::read_double_attribute(group, "log_z_stderr");
  const std::string method = h5::read_string_attribute(group, "log_z_method");
  if (!std::isfinite(log_z)) h5::format_error(group, "log_z", "is not finite");
  if (!(log_z_stderr >= 0.0) || !std::isfinite(log_z_stderr))
    h5::format_error(group, "log_z_stderr", "must be finite and >= 0");
  if (method != "exact" && method != "ais")
    h5::format_error(group, "log_z_method", "is '" + method + "', expected exact or ais");
  Rbm rbm;
  rbm.load(group);
  const VisibleType expected =
      kind == SequenceKind::vectors ? VisibleType::gaussian : VisibleType::bernoulli;
  if (rbm.visible_type() != expected)
    h5::format_error(group, "visible_type",
                     "is " + visible_type_name(rbm.visible_type()) + " for " + kind_name +
                         " (expected " + visible_type_name(expected) + ")");
  arma::vec mean, sd;
  if (kind == SequenceKind::vectors) {
    mean = h5::read_vec(group, "mean");
    sd = h5::read_vec(group, "sd");
    if (mean.n_elem != rbm.num_visible() || !mean.is_finite())
      h5::format_error(group, "mean", "must hold " + std::to_string(rbm.num_visible()) +
                                          " finite values");
    if (sd.n_elem != rbm.num_visible() || !sd.is_finite() || arma::any(sd <= 0.0))
      h5::format_error(group, "sd", "must hold " + std::to_string(rbm.num_visible()) +
                                        " finite positive values");
  }
  std::vector<std::string> names;
  if (h5::has_child(group, "feature_names")) {
    names = h5::read_strings(group, "feature_names");
    if (names.size() != rbm.num_visible())
      h5::format_error(group, "feature_names", "has " + std::to_string(names.size()) +
                                                   " names, expected one per row (" +
                                                   std::to_string(rbm.num_visible()) + ")");
  }
  kind_ = kind;
  rbm_ = std::move(rbm);
  options_.hidden = rbm_.num_hidden();
  mean_ = std::move(mean);
  sd_ = std::move(sd);
  feature_names_ = std::move(names);
  log_z_ = log_z;
  log_z_stderr_ = log_z_stderr;
  log_z_method_ = method;
}

}  // namespace seqlab::energy
