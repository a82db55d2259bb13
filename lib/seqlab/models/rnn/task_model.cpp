// seqlab/models/rnn/task_model.cpp: RnnTaskModel (task_model.hpp): options, training on padded
// minibatches of whole sequences, task metrics in float64, and the PyTorch-shaped model file.
#include "seqlab/models/rnn/task_model.hpp"

#include <H5Cpp.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <utility>

#include "seqlab/core/blas.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/data/batching.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/history.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "seqlab/models/rnn/weight_file.hpp"
#include "seqlab_config.hpp"

namespace seqlab {
namespace {

using rnn::CellType;
using rnn::Task;

constexpr double kLn2 = 0.69314718055994530942;
// Sequences per minibatch when scoring: enough for GEMMs of a useful width, few enough that the
// padding of one long sequence costs little.
constexpr std::size_t kScoringBatch = 64;

std::string fmt(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

// The RnnOptions with the same shared fields, so that one validate() words every message.
RnnOptions shared_options(const RnnTaskOptions& o) {
  RnnOptions r;
  r.cell = o.cell;
  r.hidden = o.hidden;
  r.layers = o.layers;
  r.embedding = o.embedding;
  r.activation = o.activation;
  r.tau = o.tau;
  r.train_tau = o.train_tau;
  r.gru_variant = o.gru_variant;
  r.batch = o.batch;
  r.epochs = o.epochs;
  r.max_steps = o.max_steps;
  r.optimizer = o.optimizer;
  r.learning_rate = o.learning_rate;
  r.momentum = o.momentum;
  r.clip = o.clip;
  r.schedule = o.schedule;
  r.lr_gamma = o.lr_gamma;
  r.patience = o.patience;
  return r;
}

rnn::TaskNetworkConfig config_from(const RnnTaskOptions& o, Task task, SequenceKind kind,
                                   arma::uword input_size, arma::uword outputs) {
  rnn::TaskNetworkConfig c;
  c.task = task;
  c.kind = kind;
  c.input_size = input_size;
  c.embedding = kind == SequenceKind::symbols
                    ? (o.embedding != 0 ? o.embedding : std::min<arma::uword>(o.hidden, 64))
                    : 0;
  c.cell = o.cell;
  c.hidden = o.hidden;
  c.layers = o.layers;
  c.bidirectional = o.bidirectional;
  c.activation = o.activation.value_or(rnn::Activation::tanh);
  c.leaky.tau = arma::vec{o.tau.value_or(2.0)};
  c.leaky.train_tau = o.train_tau;
  c.gru_variant = o.gru_variant.value_or(rnn::GruVariant::cho);
  c.outputs = outputs;
  return c;
}

// "lstm classify", "bidirectional gru regress": the name progress messages use.
std::string describe_model(const rnn::TaskNetworkConfig& c) {
  return std::string(c.bidirectional ? "bidirectional " : "") + rnn::model_type_name(c.cell) +
         " " + rnn::to_string(c.task);
}

// The ParameterSet prefix and the file suffix of a layer's cell in direction `reverse`.
std::string cell_prefix(arma::uword layer, bool reverse) {
  return rnn::TaskNetwork<double>::layer_prefix(layer) + (reverse ? "reverse." : "");
}
std::string file_suffix(arma::uword layer, bool reverse) {
  return "_l" + std::to_string(layer) + (reverse ? "_reverse" : "");
}

const rnn::LeakyCell<double>& leaky_cell(const rnn::TaskNetwork<double>::Layer& layer,
                                         bool reverse) {
  if (const auto* one = std::get_if<rnn::Unidirectional<rnn::LeakyCell<double>>>(&layer))
    return one->forward_cell();
  const auto& two = std::get<rnn::Bidirectional<rnn::LeakyCell<double>>>(layer);
  return reverse ? two.reverse_cell() : two.forward_cell();
}

template <class T>
void copy_into(arma::Mat<T> view, const arma::mat& source) {
  view = arma::conv_to<arma::Mat<T>>::from(source);
}

// One padded minibatch in the network's layout, in element type T.
template <class T>
struct Minibatch {
  arma::umat symbols;    // B x S (symbols)
  arma::Mat<T> frames;   // d x (S * B) (frames)
  arma::Mat<T> mask;     // B x S
  arma::umat labels;     // 1 x B (classify)
  arma::Mat<T> targets;  // m x B (regress)
  std::vector<std::size_t> index;
  arma::uword streams() const { return static_cast<arma::uword>(index.size()); }
};

// The minibatches of `set` in order, or shuffled with `rng`. Labels and targets are filled when
// the set has them.
template <class T>
std::vector<Minibatch<T>> minibatches(const SequenceSet& set, std::size_t size, Rng* rng) {
  std::vector<Minibatch<T>> out;
  const auto annotate = [&](Minibatch<T>& m) {
    if (set.labels.size() == set.size()) {
      m.labels.set_size(1, m.index.size());
      for (std::size_t b = 0; b < m.index.size(); ++b)
        m.labels(b) = static_cast<arma::uword>(std::max<arma::sword>(0, set.labels[m.index[b]]));
    }
    if (set.targets.size() == set.size() && !set.targets.empty()) {
      m.targets.set_size(set.targets.front().n_elem, m.index.size());
      for (std::size_t b = 0; b < m.index.size(); ++b)
        m.targets.col(b) = arma::conv_to<arma::Col<T>>::from(set.targets[m.index[b]]);
    }
  };
  if (set.kind == SequenceKind::symbols) {
    for (SymbolBatch& b : make_symbol_batches(set, size, rng)) {
      Minibatch<T> m;
      m.symbols = std::move(b.symbols);
      m.mask = arma::conv_to<arma::Mat<T>>::from(b.mask);
      m.index = std::move(b.index);
      annotate(m);
      out.push_back(std::move(m));
    }
  } else {
    for (FrameBatch& b : make_frame_batches(set, size, rng)) {
      Minibatch<T> m;
      const arma::cube& c = b.frames;
      m.frames = arma::conv_to<arma::Mat<T>>::from(arma::mat(
          const_cast<double*>(c.memptr()), c.n_rows, c.n_cols * c.n_slices, false, true));
      m.mask = arma::conv_to<arma::Mat<T>>::from(b.mask);
      m.index = std::move(b.index);
      annotate(m);
      out.push_back(std::move(m));
    }
  }
  return out;
}

template <class T>
void encode(rnn::TaskNetwork<T>& net, const Minibatch<T>& m) {
  if (net.config().kind == SequenceKind::symbols)
    net.encode(m.symbols, &m.mask);
  else
    net.encode(m.frames, m.streams(), &m.mask);
}

template <class T>
rnn::TaskLoss batch_loss(rnn::TaskNetwork<T>& net, const Minibatch<T>& m) {
  return net.config().task == Task::classify ? net.loss(m.labels) : net.loss(m.targets);
}

}  // namespace

// ---- options and data checks -----------------------------------------------------------------

void validate(const RnnTaskOptions& o) {
  if (o.cell == CellType::jordan)
    user_error("rnn task options: jordan networks are next-step models only (tasks take rnn, "
               "leaky, lstm or gru)");
  validate(shared_options(o));
}

void require_task_data(const SequenceSet& set, Task task, const std::string& what) {
  if (task == Task::classify) {
    if (set.labels.size() != set.size() || set.empty())
      user_error(what + " has no class labels (expected one label per sequence to classify)");
    for (std::size_t i = 0; i < set.labels.size(); ++i) {
      if (set.labels[i] < 0)
        user_error(what + ": sequence " + std::to_string(i) + " has no class label (expected a "
                   "label >= 0 for every sequence to classify)");
      if (set.labels[i] > kMaxClassLabel)
        user_error(what + ": sequence " + std::to_string(i) + " has class label " +
                   std::to_string(set.labels[i]) + ", expected class indices 0 to " +
                   std::to_string(kMaxClassLabel));
    }
    return;
  }
  if (set.targets.size() != set.size() || set.empty())
    user_error(what + " has no regression targets (expected one target vector per sequence to "
               "regress)");
  const arma::uword m = set.targets.front().n_elem;
  for (std::size_t i = 0; i < set.targets.size(); ++i) {
    if (set.targets[i].n_elem != m || m == 0)
      user_error(what + ": sequence " + std::to_string(i) + " has a target of " +
                 std::to_string(set.targets[i].n_elem) + " values, expected " +
                 std::to_string(m) + " (>= 1, the same for every sequence)");
    if (!set.targets[i].is_finite())
      user_error(what + ": the target of sequence " + std::to_string(i) + " is not finite");
  }
}

arma::uword class_count(const SequenceSet& set) {
  arma::sword top = -1;
  for (arma::sword label : set.labels) top = std::max(top, label);
  return static_cast<arma::uword>(top + 1);
}

arma::uword target_size(const SequenceSet& set) {
  return set.targets.empty() ? 0 : set.targets.front().n_elem;
}

// ---- metrics ---------------------------------------------------------------------------------

namespace {
double ratio(double a, std::uint64_t b) {
  return b == 0 ? std::numeric_limits<double>::quiet_NaN() : a / static_cast<double>(b);
}
}  // namespace

double TaskMetrics::accuracy() const { return ratio(static_cast<double>(correct), sequences); }
double TaskMetrics::nll_nats() const { return ratio(label_nll, sequences); }
double TaskMetrics::nll_bits() const { return nll_nats() / kLn2; }
double TaskMetrics::mse() const { return ratio(squared_error, components); }
double TaskMetrics::baseline_mse() const { return ratio(baseline_squared_error, components); }
double TaskMetrics::objective() const { return task == Task::classify ? nll_nats() : mse(); }

// ---- construction ----------------------------------------------------------------------------

RnnTaskModel::RnnTaskModel(Task task, Alphabet alphabet, arma::uword outputs,
                           const RnnTaskOptions& options)
    : options_(options), alphabet_(std::move(alphabet)) {
  validate(options_);
  if (alphabet_.empty()) user_error("rnn task: the alphabet is empty, expected at least one symbol");
  build(config_from(options_, task, SequenceKind::symbols, alphabet_.size(), outputs));
}

RnnTaskModel::RnnTaskModel(Task task, SequenceKind kind, arma::uword dimension,
                           arma::uword outputs, const RnnTaskOptions& options)
    : options_(options) {
  validate(options_);
  if (kind == SequenceKind::symbols)
    user_error("rnn task: a symbol model needs an alphabet (use the Alphabet constructor)");
  if (dimension == 0) user_error("rnn task: frames of 0 rows, expected a dimension >= 1");
  build(config_from(options_, task, kind, dimension, outputs));
}

void RnnTaskModel::build(const rnn::TaskNetworkConfig& config) {
  config_ = config;
  net_ = std::make_unique<rnn::TaskNetwork<double>>(config_);
}

std::string RnnTaskModel::type() const { return rnn::model_type_name(config_.cell); }

std::uint64_t RnnTaskModel::num_parameters() const { return net_ ? net_->params().size() : 0; }

void RnnTaskModel::set_parameters(const arma::vec& values) {
  if (!net_ || values.n_elem != net_->params().size())
    throw std::invalid_argument("RnnTaskModel::set_parameters: wrong number of values");
  net_->params().values() = values;
}

void RnnTaskModel::initialize(std::uint64_t seed) {
  if (!net_) throw std::logic_error("RnnTaskModel::initialize on an empty model");
  rnn::TaskNetwork<float> net(config_);
  Rng rng = make_rng(derive_seed(seed, 0));
  net.init(rng);
  net_->params().values() = arma::conv_to<arma::vec>::from(net.params().values());
}

void RnnTaskModel::require_fits(const SequenceSet& set, const std::string& what) const {
  if (set.kind != config_.kind)
    user_error(what + " holds " + to_string(set.kind) + ", the model was built for " +
               to_string(config_.kind));
  require_task_data(set, config_.task, what);
  for (std::size_t i = 0; i < set.size(); ++i) {
    if (set.length(i) == 0)
      user_error(what + ": sequence " + std::to_string(i) + " is empty (a task model needs at "
                 "least one step per sequence)");
    if (config_.kind == SequenceKind::symbols) {
      const arma::uvec& s = set.symbols[i];
      if (s.max() >= config_.input_size)
        user_error(what + ": sequence " + std::to_string(i) + " has symbol index " +
                   std::to_string(s.max()) + ", outside the model's alphabet (" +
                   std::to_string(config_.input_size) + " symbols)");
    } else if (set.frames[i].n_rows != config_.input_size) {
      user_error(what + ": frames have " + std::to_string(set.frames[i].n_rows) +
                 " rows, the model expects " + std::to_string(config_.input_size));
    }
    if (config_.task == Task::classify &&
        static_cast<arma::uword>(set.labels[i]) >= config_.outputs)
      user_error(what + ": sequence " + std::to_string(i) + " has label " +
                 std::to_string(set.labels[i]) + ", the model has " +
                 std::to_string(config_.outputs) + " classes (0.." +
                 std::to_string(config_.outputs - 1) + ")");
  }
  if (config_.task == Task::regress && target_size(set) != config_.outputs)
    user_error(what + " has targets of " + std::to_string(target_size(set)) +
               " values, the model predicts " + std::to_string(config_.outputs));
}

// ---- training ----------------------------------------------------------------------------------

void RnnTaskModel::fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& fit,
                       const FitObserver* observer) {
  if (!net_) throw std::logic_error("RnnTaskModel::fit on an empty model");
  const std::string name = describe_model(config_);
  require_fits(train, name + ": the training split");
  if (valid != nullptr && valid->empty()) valid = nullptr;
  if (valid != nullptr) require_fits(*valid, name + ": the validation split");
  const auto say = [&](const std::string& m) {
    if (observer != nullptr && observer->on_message) observer->on_message(m);
  };
  const bool classify = config_.task == Task::classify;
  const std::string metric = classify ? "label NLL" : "MSE";
  const std::string unit = classify ? " nats/sequence" : "";

  ScopedBlasThreads blas_threads(static_cast<int>(std::max(1u, fit.threads)));
  rnn::TaskNetwork<float> net(config_);
  Rng init_rng = make_rng(derive_seed(fit.seed, 0));
  Rng shuffle_rng = make_rng(derive_seed(fit.seed, 1));
  net.init(init_rng);
  if (!classify) {
    // Starting from the mean target, the network only has to learn the deviations from it.
    arma::vec mean(config_.outputs, arma::fill::zeros);
    for (const arma::vec& t : train.targets) mean += t;
    mean /= static_cast<double>(train.size());
    copy_into(net.params().value("head.bias"), arma::mat(mean));
  }

  const std::uint64_t per_epoch = (train.size() + options_.batch - 1) / options_.batch;
  std::uint64_t planned = per_epoch * options_.epochs;
  if (options_.max_steps != 0) planned = std::min<std::uint64_t>(planned, options_.max_steps);
  rnn::OptimizerOptions oo;
  oo.kind = options_.optimizer;
  oo.momentum = options_.momentum;
  rnn::Optimizer<float> optimizer(oo, net.params().size());
  rnn::ScheduleOptions so;
  so.kind = options_.schedule;
  so.base_rate = options_.learning_rate;
  so.step_size = std::max<std::uint64_t>(1, per_epoch);
  so.gamma = options_.lr_gamma;
  so.total = std::max<std::uint64_t>(1, planned);
  rnn::validate(so);
  std::optional<rnn::EarlyStopping<float>> stopping;
  if (valid != nullptr && options_.patience > 0) stopping.emplace(options_.patience);

  report_ = RnnTaskFitReport{};
  report_.best_valid_objective = std::numeric_limits<double>::quiet_NaN();
  say(name + ": " + with_commas(num_parameters()) + " parameters, minibatches of " +
      std::to_string(options_.batch) + " whole sequences, " + std::to_string(per_epoch) +
      " updates per epoch; task metric, not a sequence likelihood");
  const auto start = std::chrono::steady_clock::now();
  bool out_of_steps = false;
  double last_rate = std::numeric_limits<double>::quiet_NaN();  // of the last update so far

  for (std::uint64_t epoch = 0; epoch < options_.epochs && !out_of_steps; ++epoch) {
    double epoch_sum = 0.0, epoch_norms = 0.0;
    std::uint64_t epoch_count = 0, epoch_batches = 0, epoch_updates = 0;
    for (const Minibatch<float>& m : minibatches<float>(train, options_.batch, &shuffle_rng)) {
      if (options_.max_steps != 0 && report_.updates >= options_.max_steps) {
        out_of_steps = true;
        break;
      }
      ++epoch_batches;
      net.params().zero_gradients();
      encode(net, m);
      const rnn::TaskLoss loss = batch_loss(net, m);
      epoch_sum += loss.sum;
      epoch_count += loss.count;
      net.backward(1.0 / static_cast<double>(loss.count));
      arma::fvec& grads = net.params().gradients();
      const double norm = options_.clip > 0.0 ? rnn::clip_by_global_norm(grads, options_.clip)
                                              : rnn::global_norm(grads);
      if (!std::isfinite(norm)) {
        ++report_.skipped;
        continue;
      }
      last_rate = rnn::scheduled_rate(so, report_.updates);
      optimizer.step(net.params().values(), grads, last_rate);
      ++report_.updates;
      epoch_norms += norm;
      ++epoch_updates;
    }
    if (epoch_batches == 0) break;
    ++report_.epochs;
    report_.train_objective = epoch_count ? epoch_sum / static_cast<double>(epoch_count) : 0.0;
    net_->params().values() = arma::conv_to<arma::vec>::from(net.params().values());
    double valid_objective = std::numeric_limits<double>::quiet_NaN();
    if (valid != nullptr) valid_objective = evaluate(*valid).objective();
    const double elapsed =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    say(name + ": epoch " + std::to_string(epoch + 1) + "/" + std::to_string(options_.epochs) +
        ", " + std::to_string(report_.updates) + " updates, train " + metric + " " +
        fmt("%.5f", report_.train_objective) + unit +
        (valid != nullptr ? ", valid " + metric + " " + fmt("%.5f", valid_objective) + unit
                          : std::string()) +
        ", " + fmt("%.1f", elapsed) + " s" +
        (report_.skipped ? ", " + std::to_string(report_.skipped) + " updates skipped" : ""));
    if (observer != nullptr && observer->on_epoch) {
      EpochRecord record;
      record.epoch = epoch + 1;
      record.updates = report_.updates;
      record.seconds = elapsed;
      record.train_nll = report_.train_objective;
      record.valid_nll = valid_objective;
      record.learning_rate = last_rate;
      record.gradient_norm = epoch_updates > 0 ? epoch_norms / static_cast<double>(epoch_updates)
                                               : std::numeric_limits<double>::quiet_NaN();
      observer->on_epoch(record);
    }
    if (stopping) {
      stopping->observe(valid_objective, net.params().values());
      if (stopping->should_stop()) {
        say(name + ": no valid improvement for " + std::to_string(options_.patience) +
            " epochs, stopping");
        break;
      }
    }
  }
  if (stopping && stopping->has_best()) {
    stopping->restore(net.params().values());
    report_.best_valid_objective = stopping->best();
    report_.best_epoch = stopping->best_epoch();
    if (report_.best_epoch + 1 != report_.epochs)
      say(name + ": restored the parameters of epoch " + std::to_string(report_.best_epoch + 1) +
          " (valid " + metric + " " + fmt("%.5f", report_.best_valid_objective) + unit + ")");
  } else {
    report_.best_epoch = report_.epochs ? report_.epochs - 1 : 0;
  }
  net_->params().values() = arma::conv_to<arma::vec>::from(net.params().values());
}

// ---- scoring -----------------------------------------------------------------------------------

TaskMetrics RnnTaskModel::evaluate(const SequenceSet& set) const {
  if (!net_) throw std::logic_error("RnnTaskModel: scoring an empty model");
  require_fits(set, describe_model(config_) + ": the scored set");
  rnn::TaskNetwork<double> net = *net_;
  TaskMetrics metrics;
  metrics.task = config_.task;
  for (const Minibatch<double>& m : minibatches<double>(set, kScoringBatch, nullptr)) {
    encode(net, m);
    const rnn::TaskLoss loss = batch_loss(net, m);
    metrics.sequences += m.streams();
    if (config_.task == Task::classify) {
      metrics.label_nll += loss.sum;
      const arma::mat& log_p = net.predict();
      for (arma::uword b = 0; b < m.streams(); ++b)
        if (log_p.col(b).index_max() == m.labels(b)) ++metrics.correct;
    } else {
      metrics.squared_error += loss.sum;
      metrics.components += loss.count;
    }
  }
  if (config_.task == Task::regress) {
    arma::vec mean(config_.outputs, arma::fill::zeros);
    for (const arma::vec& t : set.targets) mean += t;
    mean /= static_cast<double>(set.size());
    for (const arma::vec& t : set.targets) metrics.baseline_squared_error += arma::accu(arma::square(t - mean));
  }
  return metrics;
}

arma::mat RnnTaskModel::predict(const SequenceSet& set) const {
  if (!net_) throw std::logic_error("RnnTaskModel: predicting with an empty model");
  // Labels and targets are not needed here: check the inputs only.
  SequenceSet inputs = set;
  inputs.labels.assign(set.size(), 0);
  inputs.targets.assign(set.size(), arma::vec(config_.outputs, arma::fill::zeros));
  require_fits(inputs, describe_model(config_) + ": the predicted set");
  rnn::TaskNetwork<double> net = *net_;
  arma::mat out(config_.outputs, set.size());
  for (const Minibatch<double>& m : minibatches<double>(inputs, kScoringBatch, nullptr)) {
    encode(net, m);
    const arma::mat& y = net.predict();
    for (arma::uword b = 0; b < m.streams(); ++b) out.col(m.index[b]) = y.col(b);
  }
  return out;
}

// ---- model files -------------------------------------------------------------------------------

void RnnTaskModel::save(H5::Group& group) const {
  if (!net_) throw std::logic_error("RnnTaskModel::save on an empty model");
  h5::quiet_errors();
  const rnn::ParameterSet<double>& p = net_->params();
  const CellType cell = config_.cell;
  h5::write_string_attribute(group, "task", rnn::to_string(config_.task));
  h5::write_string_attribute(group, "kind", to_string(config_.kind));
  h5::write_int_attribute(group, "input_size", static_cast<std::int64_t>(config_.input_size));
  h5::write_int_attribute(group, "hidden", static_cast<std::int64_t>(config_.hidden));
  h5::write_int_attribute(group, "layers", static_cast<std::int64_t>(config_.layers));
  h5::write_int_attribute(group, "bidirectional", config_.bidirectional ? 1 : 0);
  h5::write_int_attribute(group, "outputs", static_cast<std::int64_t>(config_.outputs));
  if (cell == CellType::elman || cell == CellType::leaky)
    h5::write_string_attribute(group, "activation", rnn::to_string(config_.activation));
  if (cell == CellType::leaky)
    h5::write_int_attribute(group, "train_tau", config_.leaky.train_tau ? 1 : 0);
  if (cell == CellType::gru)
    h5::write_string_attribute(group, "gru_variant", rnn::to_string(config_.gru_variant));
  if (config_.kind == SequenceKind::symbols) {
    h5::write_int_attribute(group, "embedding", static_cast<std::int64_t>(config_.embedding));
    h5::write_alphabet(group, alphabet_);
    rnn::weight_file::write_embedding(group, p);
  }
  H5::Group layers = h5::create_group(group, "rnn");
  for (arma::uword k = 0; k < config_.layers; ++k)
    for (bool reverse : {false, true}) {
      if (reverse && !config_.bidirectional) continue;
      arma::vec tau;
      if (cell == CellType::leaky) tau = leaky_cell(net_->layer(k), reverse).tau(p);
      rnn::weight_file::write_cell(layers, p, cell_prefix(k, reverse), file_suffix(k, reverse),
                                   cell, config_.hidden, &tau);
    }
  rnn::weight_file::write_head(group, p);
}

void RnnTaskModel::load(const H5::Group& group) {
  h5::quiet_errors();
  const std::string where = h5::where(group);
  rnn::weight_file::SharedAttributes shared =
      rnn::weight_file::read_shared_attributes(group, where);
  const SequenceKind kind = shared.kind;
  const arma::uword input_size = shared.input_size;
  RnnTaskOptions o;
  shared.copy_to(o);
  const Task task =
      rnn::parse_task(h5::read_string_attribute(group, "task"), where + ": attribute 'task'");
  o.bidirectional = rnn::weight_file::read_flag(group, "bidirectional", where);
  const arma::uword outputs = h5::read_size_attribute(group, "outputs");
  if (task == Task::classify && outputs < 2)
    user_error(where + ": attribute 'outputs' is 1, expected at least 2 classes");
  const H5::Group layers = h5::open_group(group, "rnn");
  std::vector<arma::vec> cell_tau;
  if (o.cell == CellType::leaky) {
    for (arma::uword k = 0; k < o.layers; ++k)
      for (bool reverse : {false, true}) {
        if (reverse && !o.bidirectional) continue;
        cell_tau.push_back(
            rnn::weight_file::read_tau(layers, file_suffix(k, reverse), o.hidden, o.train_tau));
      }
  }
  rnn::TaskNetworkConfig config = config_from(o, task, kind, input_size, outputs);
  config.cell_tau = cell_tau;
  // The sizes come from the file: a refusal (e.g. the memory they would need) names it.
  std::unique_ptr<rnn::TaskNetwork<double>> net;
  try {
    net = std::make_unique<rnn::TaskNetwork<double>>(config);
  } catch (const UserError& e) {
    user_error(where + ": " + e.what());
  }
  rnn::ParameterSet<double>& p = net->params();
  if (kind == SequenceKind::symbols)
    rnn::weight_file::read_embedding(group, p, input_size, config.embedding, "one row per symbol");
  std::size_t tau_index = 0;
  for (arma::uword k = 0; k < o.layers; ++k)
    for (bool reverse : {false, true}) {
      if (reverse && !o.bidirectional) continue;
      const arma::uword d = k > 0 ? net->feature_size()
                            : kind == SequenceKind::symbols ? config.embedding : input_size;
      rnn::weight_file::read_cell(layers, p, cell_prefix(k, reverse), file_suffix(k, reverse),
                                  o.cell, o.hidden, d, o.train_tau,
                                  o.cell == CellType::leaky ? &cell_tau[tau_index] : nullptr);
      ++tau_index;
    }
  rnn::weight_file::read_head(group, p, outputs, net->feature_size(),
                              task == Task::classify ? "one row per class" : "one row per target",
                              "encoder features");

  options_ = o;
  config_ = config;
  alphabet_ = std::move(shared.alphabet);
  net_ = std::move(net);
  report_ = RnnTaskFitReport{};
}

std::string task_history_unit(Task task) {
  return task == Task::classify ? "sequence" : "squared_error";
}

void save_task_model_into(H5::Group& group, const RnnTaskModel& model) {
  h5::write_int_attribute(group, "seqlab_format", kModelFormatVersion);
  h5::write_string_attribute(group, "model", model.type());
  h5::write_string_attribute(group, "created_by", std::string("seqlab ") + SEQLAB_VERSION);
  model.save(group);
}

void save_task_model(const std::filesystem::path& path, const RnnTaskModel& model,
                     const TrainingHistory* history) {
  h5::write_file_atomically(path, [&](H5::Group& root) {
    save_task_model_into(root, model);
    if (history != nullptr) write_history(root, *history, task_history_unit(model.task()));
  });
}

bool task_requested(const ResolvedOptions& options) {
  const auto it = options.values.find("task");
  return it != options.values.end() && option_text(it->second) != "none";
}

RnnTaskOptions rnn_task_options_for(const ResolvedOptions& options,
                                    const OptionSpelling& spelling) {
  for (const char* name : {"window", "residual", "dropout", "delay"})
    if (options.was_given(name))
      spelling.error(name, spelling.name(name) + " applies to next-step models; " +
                               spelling.name("task") + " trains on whole sequences, without "
                               "residual connections, dropout or delays");
  for (const char* name : {"warmup", "clip-value", "max-time", "valid-every", "average"})
    if (options.was_given(name))
      spelling.error(name, spelling.name(name) + " applies to next-step models only, not to " +
                               spelling.name("task"));
  if (options.text("schedule") == "plateau")
    spelling.error("schedule", spelling.name("schedule") +
                                   " plateau applies to next-step models only, not to " +
                                   spelling.name("task"));
  const RnnOptions o = rnn_options_for(options, spelling);
  RnnTaskOptions t;
  t.cell = o.cell;
  t.hidden = o.hidden;
  t.layers = o.layers;
  t.embedding = o.embedding;
  t.bidirectional = options.flag("bidirectional");
  t.activation = o.activation;
  t.tau = o.tau;
  t.train_tau = o.train_tau;
  t.gru_variant = o.gru_variant;
  t.batch = o.batch;
  t.epochs = o.epochs;
  t.max_steps = o.max_steps;
  t.optimizer = o.optimizer;
  t.learning_rate = o.learning_rate;
  t.momentum = o.momentum;
  t.clip = o.clip;
  t.schedule = o.schedule;
  t.lr_gamma = o.lr_gamma;
  t.patience = o.patience;
  return t;
}

std::unique_ptr<RnnTaskModel> build_task_model(const ResolvedOptions& options,
                                               const SequenceDataset& data,
                                               const OptionSpelling& spelling) {
  const RnnTaskOptions o = rnn_task_options_for(options, spelling);
  const Task task = rnn::parse_task(options.text("task"), spelling.name("task"));
  try {
    require_task_data(data.train, task, "dataset '" + data.name + "'");
  } catch (const UserError& e) {
    spelling.error("task", spelling.name("task") + " " + options.text("task") + ": " + e.what());
  }
  if (data.kind != SequenceKind::symbols && options.was_given("embedding"))
    spelling.error("embedding", spelling.name("embedding") + " applies to symbol data; dataset '" +
                                    data.name + "' holds " + to_string(data.kind));
  const arma::uword outputs =
      task == Task::classify ? class_count(data.train) : target_size(data.train);
  if (data.kind == SequenceKind::symbols)
    return std::make_unique<RnnTaskModel>(task, data.alphabet, outputs, o);
  return std::make_unique<RnnTaskModel>(task, data.kind, data.dimension, outputs, o);
}

bool is_task_model_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  h5::quiet_errors();
  try {
    if (!H5::H5File::isHdf5(path.string())) return false;
    H5::H5File file(path.string(), H5F_ACC_RDONLY);
    return h5::has_attribute(file.openGroup("/"), "task");
  } catch (const H5::Exception&) {
    return false;
  }
}

RnnTaskModel load_task_model(const std::filesystem::path& path) {
  H5::H5File file = h5::open_for_reading(path, "model file");
  try {
    const H5::Group root = file.openGroup("/");
    if (!h5::has_attribute(root, "model"))
      input_error(path, "not a seqlab model file (no 'model' attribute)");
    h5::require_format_version(path, root, "seqlab_format", kModelFormatVersion, "model file");
    if (!h5::has_attribute(root, "task"))
      input_error(path, "is a sequence model, not a sequence-level task model (no root "
                        "attribute 'task')");
    RnnTaskModel model;
    model.load(root);
    return model;
  } catch (const H5::Exception& e) {
    input_error(path, "corrupt or truncated HDF5 file (" + h5::describe(e) + ")");
  }
}

}  // namespace seqlab
