// seqlab/models/rnn/rnn_model.cpp: RnnModel (rnn_model.hpp): options, the truncated-BPTT
// training loop, double-precision scoring and sampling, and the PyTorch-shaped model file.
#include "seqlab/models/rnn/rnn_model.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>
#include <utility>
#include <vector>

#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/blas.hpp"
#include "seqlab/core/communicator.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/memory.hpp"
#include "seqlab/data/batching.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/models/rnn/checkpoint.hpp"
#include "seqlab/models/rnn/trainer.hpp"
#include "seqlab/models/rnn/weight_file.hpp"

namespace seqlab {
namespace {

using rnn::CellType;

std::string fmt(const char* format, double value) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, value);
  return buffer;
}

rnn::NetworkConfig config_from(const RnnOptions& o, SequenceKind kind, arma::uword input_size) {
  rnn::NetworkConfig c;
  c.kind = kind;
  c.input_size = input_size;
  c.embedding = kind == SequenceKind::symbols
                    ? (o.embedding != 0 ? o.embedding : std::min<arma::uword>(o.hidden, 64))
                    : 0;
  c.cell = o.cell;
  c.hidden = o.hidden;
  c.layers = o.layers;
  c.activation = o.activation.value_or(rnn::Activation::tanh);
  c.delay = o.delay.value_or(0);
  c.leaky.tau = arma::vec{o.tau.value_or(2.0)};
  c.leaky.train_tau = o.train_tau;
  c.gru_variant = o.gru_variant.value_or(rnn::GruVariant::cho);
  c.residual = o.residual;
  c.dropout = o.dropout;
  return c;
}

template <class T>
void copy_into(arma::Mat<T> view, const arma::mat& source) {
  view = arma::conv_to<arma::Mat<T>>::from(source);
}

// One-line errors for a sequence the network cannot score; `of_sequence` (" of sequence 3" or
// empty) says which one of a set.
void check_symbols(const std::string& model, arma::uword alphabet, const arma::uvec& x,
                   const std::string& of_sequence) {
  for (arma::uword t = 0; t < x.n_elem; ++t)
    if (x(t) >= alphabet)
      user_error(model + ": symbol index " + std::to_string(x(t)) + " at step " +
                 std::to_string(t) + of_sequence + " is outside the model's alphabet (" +
                 std::to_string(alphabet) + " symbols)");
}
void check_frames(const std::string& model, arma::uword rows, const arma::mat& f,
                  const std::string& of_sequence) {
  if (f.n_cols > 0 && f.n_rows != rows)
    user_error(model + ": frames" + of_sequence + " have " + std::to_string(f.n_rows) +
               " rows, the model expects " + std::to_string(rows));
  if (!f.is_finite()) user_error(model + ": frames" + of_sequence + " hold a non-finite value");
}

// The log-likelihood of every sequence of `set` on `net` (element type T), exactly as one
// sequence at a time would give it: sequences sorted by length run as the parallel streams of
// padded batches (up to kScoringStreams, masked past each one's end), in windows of `window`
// steps with the state carried, so nothing is cut. Sorting keeps the padding small.
constexpr std::size_t kScoringStreams = 64;

template <class T>
arma::vec score_set(rnn::Network<T>& net, const SequenceSet& set, arma::uword window,
                    const Communicator* communicator = nullptr) {
  const std::size_t n = set.size();
  arma::vec out(n, arma::fill::zeros);
  std::vector<std::size_t> order(n);
  for (std::size_t i = 0; i < n; ++i) order[i] = i;
  std::stable_sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    return set.length(a) > set.length(b);
  });
  const bool symbols = set.kind == SequenceKind::symbols;
  arma::umat window_symbols;
  arma::Mat<T> window_frames, mask;
  // Under MPI each rank scores a contiguous run of the groups of streams (balanced by steps)
  // and the ranks' vectors are added: every sequence's score comes from one rank (x + 0 = x),
  // so the result is bitwise the one-process one.
  const std::size_t groups = (n + kScoringStreams - 1) / kScoringStreams;
  UnitRange mine{0, groups};
  const bool shared = communicator != nullptr && communicator->size() > 1;
  if (shared) {
    std::vector<double> steps(groups, 0.0);
    for (std::size_t k = 0; k < n; ++k)
      steps[k / kScoringStreams] += static_cast<double>(set.length(order[k]));
    mine = contiguous_share(steps, communicator->rank(), communicator->size());
  }
  for (std::size_t first = mine.begin * kScoringStreams;
       first < std::min(n, mine.end * kScoringStreams); first += kScoringStreams) {
    const std::size_t streams = std::min(kScoringStreams, n - first);
    const arma::uword longest = set.length(order[first]);
    if (longest == 0) continue;
    rnn::NetworkState<T> state = net.initial_state(streams);
    for (arma::uword begin = 0; begin < longest; begin += window) {
      const arma::uword steps = std::min(window, longest - begin);
      mask.zeros(streams, steps);
      if (symbols) window_symbols.zeros(streams, steps);
      else window_frames.zeros(net.config().input_size, steps * streams);
      for (std::size_t b = 0; b < streams; ++b) {
        const std::size_t i = order[first + b];
        const arma::uword length = set.length(i);
        for (arma::uword t = begin; t < std::min(length, begin + steps); ++t) {
          mask(b, t - begin) = T(1);
          if (symbols) {
            window_symbols(b, t - begin) = set.symbols[i](t);
          } else {
            const double* from = set.frames[i].colptr(t);
            T* to = window_frames.colptr((t - begin) * streams + b);
            for (arma::uword r = 0; r < window_frames.n_rows; ++r) to[r] = static_cast<T>(from[r]);
          }
        }
      }
      const bool masked = arma::any(arma::vectorise(mask) == T(0));
      if (symbols)
        net.forward(window_symbols, masked ? &mask : nullptr, nullptr, state, nullptr);
      else
        net.forward(window_frames, masked ? &mask : nullptr, nullptr, state, nullptr);
      const arma::Mat<T>& logp = net.step_log_probs();  // 1 x (steps * streams), 0 on padding
      for (arma::uword c = 0; c < logp.n_elem; ++c)
        out(order[first + c % streams]) += static_cast<double>(logp(c));
    }
  }
  if (shared) communicator->sum_in_rank_order(out.memptr(), out.n_elem);
  return out;
}

}  // namespace

void validate(const RnnOptions& o) {
  const std::string model = rnn::model_type_name(o.cell);
  const bool elman_like = o.cell == CellType::elman || o.cell == CellType::leaky;
  if (o.activation && !elman_like && o.cell != CellType::jordan)
    user_error("rnn options: activation applies to rnn, leaky and jordan models only, not " +
               model);
  if (o.delay && !elman_like)
    user_error("rnn options: delay applies to rnn and leaky models only, not " + model);
  if (o.delay && (*o.delay < 2 || *o.delay > rnn::kMaxDelay))
    user_error("rnn options: delay must be between 2 and " + std::to_string(rnn::kMaxDelay) +
               " steps, got " + std::to_string(*o.delay));
  if ((o.tau || o.train_tau) && o.cell != CellType::leaky)
    user_error("rnn options: tau applies to leaky models only, not " + model);
  if (o.gru_variant && o.cell != CellType::gru)
    user_error("rnn options: gru_variant applies to gru models only, not " + model);
  if (o.tau) {
    if (!std::isfinite(*o.tau) || *o.tau < 1.0)
      user_error("rnn options: tau must be a finite number >= 1, got " + std::to_string(*o.tau));
    if (o.train_tau && !(*o.tau > 1.0))
      user_error("rnn options: a trained tau must start above 1, got " + std::to_string(*o.tau));
  }
  if (o.hidden < 1) user_error("rnn options: hidden must be >= 1, got 0");
  if (o.layers < 1) user_error("rnn options: layers must be >= 1, got 0");
  if (!(o.dropout >= 0.0 && o.dropout < 1.0))
    user_error("rnn options: dropout must be in [0, 1), got " + std::to_string(o.dropout));
  if (!(o.clip_value >= 0.0) || !std::isfinite(o.clip_value))
    user_error("rnn options: clip_value must be a finite number >= 0 (0 = off)");
  if (!(o.max_seconds >= 0.0) || !std::isfinite(o.max_seconds))
    user_error("rnn options: max_seconds must be a finite number >= 0 (0 = no budget)");
  if (o.batch < 1) user_error("rnn options: batch must be >= 1, got 0");
  if (o.valid_every < 1) user_error("rnn options: valid_every must be >= 1, got 0");
  if (!(o.average_decay >= 0.0 && o.average_decay < 1.0))
    user_error("rnn options: average_decay must be in [0, 1) (0 = off), got " +
               std::to_string(o.average_decay));
  if (!(o.learning_rate > 0.0) || !std::isfinite(o.learning_rate))
    user_error("rnn options: learning rate must be a positive number");
  if (!(o.momentum >= 0.0 && o.momentum < 1.0))
    user_error("rnn options: momentum must be in [0, 1), got " + std::to_string(o.momentum));
  if (o.momentum > 0.0 && o.optimizer != rnn::OptimizerKind::sgd)
    user_error("rnn options: momentum applies to the sgd optimizer only");
  if (!(o.clip >= 0.0) || !std::isfinite(o.clip))
    user_error("rnn options: clip must be a finite number >= 0 (0 = off)");
  if (!(o.lr_gamma > 0.0 && o.lr_gamma <= 1.0))
    user_error("rnn options: lr_gamma must be in (0, 1], got " + std::to_string(o.lr_gamma));
  if (o.reduce_on_plateau && !(o.lr_gamma < 1.0))
    user_error("rnn options: reduce-on-plateau needs lr_gamma below 1 (the factor of each cut)");
  if (!(o.temperature >= 0.0) || !std::isfinite(o.temperature))
    user_error("rnn options: temperature must be a finite number >= 0");
}

RnnModel::RnnModel(Alphabet alphabet, const RnnOptions& options)
    : options_(options), alphabet_(std::move(alphabet)) {
  validate(options_);
  if (alphabet_.empty()) user_error("rnn: the alphabet is empty, expected at least one symbol");
  build(config_from(options_, SequenceKind::symbols, alphabet_.size()));
}

RnnModel::RnnModel(SequenceKind kind, arma::uword dimension, const RnnOptions& options)
    : options_(options) {
  validate(options_);
  if (kind == SequenceKind::symbols)
    user_error("rnn: a symbol model needs an alphabet (use the Alphabet constructor)");
  if (dimension == 0) user_error("rnn: frames of 0 rows, expected a dimension >= 1");
  build(config_from(options_, kind, dimension));
}

void RnnModel::build(const rnn::NetworkConfig& config) {
  config_ = config;
  net_ = std::make_unique<rnn::Network<double>>(config_);
  scoring_window_ = options_.window == 0 ? 100 : options_.window;
}

std::string RnnModel::type() const { return rnn::model_type_name(config_.cell); }

std::uint64_t RnnModel::num_parameters() const { return net_ ? net_->params().size() : 0; }

void RnnModel::set_temperature(double temperature) {
  if (!(temperature >= 0.0) || !std::isfinite(temperature))
    user_error("rnn: temperature must be a finite number >= 0");
  options_.temperature = temperature;
}

void RnnModel::set_scoring_window(arma::uword k) {
  if (k < 1) user_error("rnn: the scoring window must be >= 1 steps, got 0");
  scoring_window_ = k;
}

void RnnModel::set_parameters(const arma::vec& values) {
  if (!net_ || values.n_elem != net_->params().size())
    throw std::invalid_argument("RnnModel::set_parameters: wrong number of values");
  net_->params().values() = values;
}

void RnnModel::initialize(std::uint64_t seed) {
  if (!net_) throw std::logic_error("RnnModel::initialize on an empty model");
  rnn::Network<float> net(config_);
  Rng rng = make_rng(derive_seed(seed, 0));
  net.init(rng);
  net_->params().values() = arma::conv_to<arma::vec>::from(net.params().values());
}

// ---- training ---------------------------------------------------------------------------------

void RnnModel::fit(const SequenceSet& train, const SequenceSet* valid, const FitOptions& fit,
                   const FitObserver* observer) {
  if (!net_) throw std::logic_error("RnnModel::fit on an empty model");
  const std::string name = type();
  if (train.kind != kind())
    user_error(name + ": cannot fit on " + to_string(train.kind) + " data, the model was built "
               "for " + to_string(kind()));
  if (train.empty() || train.total_steps() == 0)
    user_error(name + ": no training steps, expected at least one non-empty sequence");
  if (kind() != SequenceKind::symbols)
    for (const arma::mat& f : train.frames)
      if (f.n_rows != config_.input_size)
        user_error(name + ": training frames have " + std::to_string(f.n_rows) +
                   " rows, the model " + std::to_string(config_.input_size));
  if (valid != nullptr && valid->empty()) valid = nullptr;
  if (valid != nullptr && valid->kind != kind())
    user_error(name + ": the validation split holds " + to_string(valid->kind) + ", expected " +
               to_string(kind()));
  // Training and the valid checks run in float32 (largest 3.4e38): a Gaussian head squares the
  // values, so beyond about 1e15 the loss is inf or NaN.
  if (kind() == SequenceKind::vectors) {
    const std::string why = "the network trains in float32, where the squares of such values "
                            "overflow";
    require_frame_magnitude(train, 1e15, name + ": training data", why);
    if (valid != nullptr) require_frame_magnitude(*valid, 1e15, name + ": valid data", why);
  }
  const auto say = [&](const std::string& m) {
    if (observer != nullptr && observer->on_message) observer->on_message(m);
  };
  if (!(fit.checkpoint_seconds >= 0.0) || !std::isfinite(fit.checkpoint_seconds))
    user_error(name + ": the checkpoint interval must be a finite number of seconds >= 0");

  // Under MPI (FitOptions::communicator) the ranks share each window's streams (trainer.hpp).
  const Communicator* communicator =
      fit.communicator != nullptr && fit.communicator->size() > 1 ? fit.communicator : nullptr;
  const unsigned ranks = communicator != nullptr ? communicator->size() : 1;
  const bool leader = communicator == nullptr || communicator->rank() == 0;
  const unsigned threads = std::max(1u, fit.threads);
  const arma::uword streams = std::min<arma::uword>(
      options_.batch, train.size() == 1 ? train.total_steps() : options_.batch);
  if (communicator != nullptr && streams < communicator->size())
    user_error(name + ": " + std::to_string(streams) + " streams (--batch) for " +
               std::to_string(communicator->size()) +
               " MPI ranks: each rank needs at least one stream");
  arma::uword window = options_.window;
  if (window == 0)  // full BPTT: every sequence in one window
    for (std::size_t i = 0; i < train.size(); ++i) window = std::max(window, train.length(i));
  {
    // float32 values, gradients and optimizer moments, one network copy per thread, and every
    // layer's activations over a window (gates plus state and output per unit).
    const long double parameters = rnn::parameter_lower_bound(config_);
    const long double activations = static_cast<long double>(window) *
                                    static_cast<long double>(streams) *
                                    static_cast<long double>(config_.hidden) *
                                    static_cast<long double>(config_.layers) *
                                    static_cast<long double>(rnn::gate_blocks(config_.cell) + 2);
    require_memory(4.0L * (parameters * (4 + 2 * static_cast<long double>(threads)) + activations),
                   name + ": training with hidden = " + std::to_string(config_.hidden) +
                       ", layers = " + std::to_string(config_.layers) + ", window = " +
                       std::to_string(window) + ", batch = " + std::to_string(streams) +
                       " on " + std::to_string(threads) + " thread(s)");
  }
  rnn::OptimizerOptions oo;
  oo.kind = options_.optimizer;
  oo.momentum = options_.momentum;
  rnn::WindowTrainer<float> trainer(config_, streams, threads, oo, options_.clip,
                                    derive_seed(fit.seed, 1), communicator);
  trainer.set_clip_value(options_.clip_value);
  // One BLAS thread under each of the trainer's threads; all of them when it runs one shard.
  ScopedBlasThreads blas_threads(
      static_cast<int>(std::max(1u, threads / trainer.shard_count())));
  rnn::Network<float>& net = trainer.network();
  Rng init_rng = make_rng(derive_seed(fit.seed, 0));
  net.init(init_rng);
  trainer.sync_parameters();

  WindowStream stream(train, streams, window);
  const std::uint64_t per_epoch = stream.window_count();
  std::uint64_t planned = per_epoch * options_.epochs;
  if (options_.max_steps != 0) planned = std::min<std::uint64_t>(planned, options_.max_steps);

  rnn::ScheduleOptions so;
  so.kind = options_.schedule;
  so.base_rate = options_.learning_rate;
  so.step_size = std::max<std::uint64_t>(1, per_epoch);
  so.gamma = options_.lr_gamma;
  so.warmup = options_.warmup;
  so.total = std::max<std::uint64_t>(options_.warmup + 1, planned);
  rnn::validate(so);
  std::optional<rnn::ReduceOnPlateau> plateau;
  if (options_.reduce_on_plateau) {
    if (valid == nullptr)
      user_error(name + ": reduce-on-plateau needs a valid split to watch, and there is none");
    rnn::PlateauOptions po;
    po.factor = options_.lr_gamma;
    po.patience = options_.plateau_patience;
    plateau.emplace(1.0, po);  // a multiplier of the scheduled rate
  }
  std::optional<rnn::EarlyStopping<float>> stopping;
  if (valid != nullptr && options_.patience > 0) stopping.emplace(options_.patience);

  report_ = RnnFitReport{};
  report_.best_valid_nll = std::numeric_limits<double>::quiet_NaN();
  say(name + ": " + with_commas(num_parameters()) + " parameters, " +
      std::to_string(streams) + " streams x " + std::to_string(window) + " steps, " +
      std::to_string(per_epoch) + " updates per epoch" +
      (options_.average_decay > 0.0
           ? ", valid checks and the result use the parameters' moving average (decay " +
                 fmt("%g", options_.average_decay) + ")"
           : std::string()));

  auto start = std::chrono::steady_clock::now();
  const auto seconds_since = [](std::chrono::steady_clock::time_point t) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t).count();
  };
  // The update cap or the wall-clock budget is used up: no further window starts.
  // Under MPI the wall-clock budget is read on rank 0's clock, so every rank stops together.
  const auto budget_spent = [&] {
    if (options_.max_steps != 0 && report_.updates >= options_.max_steps) return true;
    if (!(options_.max_seconds > 0.0)) return false;
    const bool spent = seconds_since(start) >= options_.max_seconds;
    return communicator != nullptr ? communicator->broadcast_flag(spent) : spent;
  };
  auto last_progress = start;
  const bool symbols = kind() == SequenceKind::symbols;
  std::optional<rnn::Network<float>> scorer;
  double scoring_seconds = 0.0;  // spent scoring the valid split (not training)
  SymbolWindow symbol_window;
  FrameWindow frame_window;
  std::uint64_t predicted_total = 0;
  bool out_of_steps = false;
  std::vector<std::uint64_t> checked_epochs;  // the epochs whose valid NLL was scored, in order
  std::optional<rnn::ParameterAverage<float>> average;
  if (options_.average_decay > 0.0)
    average.emplace(options_.average_decay, net.params().values().n_elem);
  // The parameters an epoch ends with, as checked, kept and fitted: the last ones or their average.
  const auto epoch_parameters = [&]() -> arma::fvec {
    return average && average->count() > 0 ? average->mean() : net.params().values();
  };

  // The learning curve: every record goes through emit(), which keeps it (checkpoints save it)
  // and hands it to the observer.
  TrainingHistory history;
  const auto emit = [&](const EpochRecord& record) {
    history.push_back(record);
    if (observer != nullptr && observer->on_epoch) observer->on_epoch(record);
  };
  // The epoch in progress: its windows taken, the NLL and real steps of its updates, their
  // gradient norms, and the rate of the last update.
  std::uint64_t first_epoch = 0, epoch_windows = 0, epoch_count = 0, epoch_norms = 0;
  double epoch_nll = 0.0, epoch_norm_sum = 0.0;
  double last_rate = std::numeric_limits<double>::quiet_NaN();

  // Checkpoints (rnn/checkpoint.hpp): saved at a window boundary, before the budget check.
  rnn::Fingerprint fingerprint;
  if (!fit.checkpoint.empty())
    fingerprint = rnn::fit_fingerprint(name, config_, alphabet_, options_, train, valid, fit.seed,
                                       threads);
  const auto save_checkpoint = [&](std::uint64_t epoch) {
    rnn::FitCheckpoint c;
    c.fingerprint = fingerprint;
    c.model = name;
    c.unit = symbols ? "symbol" : "frame";
    c.epoch = epoch;
    c.epoch_windows = epoch_windows;
    c.epoch_nll = epoch_nll;
    c.epoch_steps = epoch_count;
    c.epoch_norm_sum = epoch_norm_sum;
    c.epoch_norms = epoch_norms;
    c.last_rate = last_rate;
    c.predicted_total = predicted_total;
    c.elapsed_seconds = seconds_since(start);
    c.scoring_seconds = scoring_seconds;
    c.checked_epochs = checked_epochs;
    c.report = report_;
    c.history = history;
    c.parameters = net.params().values();
    c.ranks = ranks;
    c.trainer = trainer.export_state();  // under MPI: every rank's shards, gathered
    if (plateau) c.plateau = plateau->state();
    if (stopping) c.stopping = stopping->state();
    if (average) c.average = average->state();
    if (leader) rnn::write_checkpoint(fit.checkpoint, c);
  };
  bool resuming = false;
  std::error_code exists_error;
  bool found = !fit.checkpoint.empty() && std::filesystem::exists(fit.checkpoint, exists_error);
  // Under MPI rank 0's view decides, as rank 0 writes the file; being a collective, this also
  // keeps rank 0 from replacing the file before every rank has looked.
  if (communicator != nullptr && !fit.checkpoint.empty())
    found = communicator->broadcast_flag(found);
  if (found) {
    rnn::FitCheckpoint c;
    // Every rank reads the file and takes its own part; one rank's failure stops them all.
    std::string failed;
    try {
      c = rnn::read_checkpoint(fit.checkpoint);
      if (c.ranks != ranks) {
        // Each rank's shards hold its streams and dropout generators: another number of
        // ranks would cut the streams and draw the masks otherwise.
        const auto as = [](unsigned r) {
          return r == 1 ? std::string("1 process") : std::to_string(r) + " MPI ranks";
        };
        input_error(fit.checkpoint, "cannot resume: the checkpoint was written by " +
                                        as(c.ranks) + " and this run is " + as(ranks) +
                                        "; continue it " +
                                        (c.ranks == 1 ? std::string("without mpirun")
                                                      : "under mpirun -n " +
                                                            std::to_string(c.ranks)));
      }
      rnn::require_same_fingerprint(fit.checkpoint, c.fingerprint, fingerprint);
      try {
        if (c.parameters.n_elem != net.params().size())
          user_error("holds " + std::to_string(c.parameters.n_elem) +
                     " parameters, the network has " + std::to_string(net.params().size()));
        if (c.epoch >= options_.epochs || c.epoch_windows > per_epoch)
          user_error("its position (epoch " + std::to_string(c.epoch + 1) + ", window " +
                     std::to_string(c.epoch_windows) + ") is past the end of training");
        if (plateau.has_value() != c.plateau.has_value() ||
            stopping.has_value() != c.stopping.has_value() ||
            average.has_value() != c.average.has_value())
          user_error("its plateau, early-stopping or averaging state does not match the options");
        std::copy(c.parameters.begin(), c.parameters.end(), net.params().values().begin());
        trainer.sync_parameters();
        trainer.import_state(c.trainer);
        if (plateau) plateau->set_state(*c.plateau);
        if (stopping) stopping->set_state(*c.stopping);
        if (average) average->set_state(*c.average);
      } catch (const UserError& e) {
        input_error(fit.checkpoint, std::string("cannot resume: ") + e.what());
      }
    } catch (const UserError& e) {
      if (communicator == nullptr) throw;
      failed = e.what();
    }
    if (communicator != nullptr) communicator->agree(failed);
    first_epoch = c.epoch;
    epoch_windows = c.epoch_windows;
    epoch_nll = c.epoch_nll;
    epoch_count = c.epoch_steps;
    epoch_norm_sum = c.epoch_norm_sum;
    epoch_norms = c.epoch_norms;
    last_rate = c.last_rate;
    predicted_total = c.predicted_total;
    scoring_seconds = c.scoring_seconds;
    checked_epochs = c.checked_epochs;
    report_ = c.report;
    start -= std::chrono::duration_cast<std::chrono::steady_clock::duration>(
        std::chrono::duration<double>(c.elapsed_seconds));
    stream.rewind();
    for (std::uint64_t w = 0; w < epoch_windows; ++w)
      (void)(symbols ? stream.next(symbol_window) : stream.next(frame_window));
    for (const EpochRecord& record : c.history) emit(record);
    resuming = true;
    say(name + ": resuming from " + fit.checkpoint.string() + " at epoch " +
        std::to_string(first_epoch + 1) + ", window " + std::to_string(epoch_windows) + "/" +
        std::to_string(per_epoch) + " (" + with_commas(report_.updates) + " updates, " +
        duration_text(c.elapsed_seconds) + " of training done)");
  }
  auto last_checkpoint = std::chrono::steady_clock::now();
  // At a window boundary: the checkpoint when it is due or a stop was asked for, then the stop.
  const auto at_boundary = [&](std::uint64_t epoch) {
    bool halt = fit.stop != nullptr && fit.stop->load();
    bool due = !fit.checkpoint.empty() &&
               seconds_since(last_checkpoint) >= fit.checkpoint_seconds;
    if (communicator != nullptr && (fit.stop != nullptr || !fit.checkpoint.empty())) {
      // Every rank takes the same branch: a checkpoint is due on rank 0's clock, and a stop
      // asked of any rank (signals reach the ranks at different moments) stops them all here.
      double votes[2] = {leader && due ? 1.0 : 0.0, halt ? 1.0 : 0.0};
      communicator->sum_in_rank_order(votes, 2);
      due = votes[0] > 0.0;
      halt = votes[1] > 0.0;
    }
    if (!fit.checkpoint.empty() && (halt || due)) {
      std::string failed;  // rank 0 alone writes, so only it can fail
      try {
        save_checkpoint(epoch);
      } catch (const UserError& e) {
        // On a stop the caller must learn that there is nothing to continue from.
        if (halt && communicator == nullptr) throw;
        failed = e.what();
      }
      if (halt && communicator != nullptr) communicator->agree(failed);
      if (!failed.empty()) say(name + ": warning: no checkpoint this time: " + failed);
      last_checkpoint = std::chrono::steady_clock::now();
    }
    if (!halt) return;
    const std::string where = name + ": training stopped at epoch " + std::to_string(epoch + 1) +
                              ", window " + std::to_string(epoch_windows) + "/" +
                              std::to_string(per_epoch) + " (" + with_commas(report_.updates) +
                              " updates)";
    say(where);
    throw Interrupted(where + (fit.checkpoint.empty()
                                   ? "; no checkpoint was asked for"
                                   : "; checkpoint in " + fit.checkpoint.string()),
                      fit.checkpoint);
  };

  for (std::uint64_t epoch = first_epoch; epoch < options_.epochs && !out_of_steps; ++epoch) {
    if (!resuming) {
      stream.rewind();
      trainer.reset_state();
      epoch_nll = epoch_norm_sum = 0.0;
      epoch_count = epoch_windows = epoch_norms = 0;
    }
    resuming = false;
    for (;;) {
      if (budget_spent()) {
        out_of_steps = true;
        break;
      }
      at_boundary(epoch);
      const bool more = symbols ? stream.next(symbol_window) : stream.next(frame_window);
      if (!more) break;
      ++epoch_windows;
      const double rate =
          rnn::scheduled_rate(so, report_.updates) * (plateau ? plateau->rate() : 1.0);
      const bool drop = config_.dropout > 0.0;
      const auto update = symbols ? trainer.step(symbol_window, rate, drop)
                                  : trainer.step(frame_window, rate, drop);
      if (update.loss.count == 0) continue;
      epoch_nll += update.loss.nll_sum;
      epoch_count += update.loss.count;
      predicted_total += update.loss.count;
      if (!update.applied) {
        ++report_.skipped;
        continue;
      }
      ++report_.updates;
      last_rate = rate;
      epoch_norm_sum += update.gradient_norm;
      ++epoch_norms;
      if (average) average->add(net.params().values());
      if (observer != nullptr && observer->on_update) observer->on_update(report_.updates);
      if (!fit.quiet && seconds_since(last_progress) > 0.5) {
        last_progress = std::chrono::steady_clock::now();
        const double elapsed = seconds_since(start);
        const double done = static_cast<double>(report_.updates) /
                            static_cast<double>(std::max<std::uint64_t>(1, planned));
        say("\r" + name + ": epoch " + std::to_string(epoch + 1) + " window " +
            std::to_string(epoch_windows) + "/" + std::to_string(per_epoch) + ", train NLL " +
            fmt("%.4f", epoch_nll / static_cast<double>(epoch_count)) + ", " +
            fmt("%.0f", static_cast<double>(predicted_total) / elapsed) + " steps/s, ETA " +
            duration_text(done > 0 ? elapsed * (1.0 - done) / done : 0.0) + "   ");
      }
    }
    if (epoch_windows == 0) break;
    ++report_.epochs;
    report_.train_nll = epoch_count ? epoch_nll / static_cast<double>(epoch_count)
                                    : std::numeric_limits<double>::quiet_NaN();
    const arma::fvec ended_with = epoch_parameters();
    net_->params().values() = arma::conv_to<arma::vec>::from(ended_with);
    const bool last_epoch = out_of_steps || epoch + 1 >= options_.epochs || budget_spent();
    const bool check =
        valid != nullptr && ((epoch + 1) % options_.valid_every == 0 || last_epoch);
    double valid_nll = std::numeric_limits<double>::quiet_NaN();
    if (check) {
      checked_epochs.push_back(epoch);
      // In float32, the precision training runs in, on a copy of the parameters (exact
      // sequence-by-sequence scoring, about twice as fast as the float64 of seqlab eval).
      if (!scorer) {
        check_scorable(*valid);
        scorer.emplace(config_);
      }
      const auto scoring_start = std::chrono::steady_clock::now();
      scorer->params().values() = ended_with;
      valid_nll = -arma::accu(score_set(*scorer, *valid, scoring_window_, communicator)) /
                  static_cast<double>(std::max<arma::uword>(1, valid->total_steps()));
      scoring_seconds += seconds_since(scoring_start);
    }
    const double elapsed = seconds_since(start);
    EpochRecord record;
    record.epoch = epoch + 1;
    record.updates = report_.updates;
    record.seconds = elapsed;
    record.train_nll = report_.train_nll;
    record.valid_nll = valid_nll;
    record.learning_rate = last_rate;
    if (epoch_norms > 0) record.gradient_norm = epoch_norm_sum / static_cast<double>(epoch_norms);
    emit(record);
    const double done = options_.max_steps != 0 && planned > 0
                            ? static_cast<double>(report_.updates) / static_cast<double>(planned)
                            : static_cast<double>(epoch + 1) / static_cast<double>(options_.epochs);
    const double eta = done > 0 ? elapsed * (1.0 - done) / done : 0.0;
    say(name + ": epoch " + std::to_string(epoch + 1) + "/" + std::to_string(options_.epochs) +
        ", " + std::to_string(report_.updates) + " updates, train NLL " +
        fmt("%.4f", report_.train_nll) + " nats" +
        (check ? ", valid NLL " + fmt("%.4f", valid_nll) + " nats" : std::string()) +
        ", " + fmt("%.0f", static_cast<double>(predicted_total) / (elapsed - scoring_seconds)) +
        " steps/s in training, " + duration_text(elapsed) + " elapsed (" +
        duration_text(scoring_seconds) + " scoring valid), ETA " + duration_text(eta) +
        (report_.skipped ? ", " + std::to_string(report_.skipped) + " updates skipped" : ""));
    if (!check) continue;
    if (plateau && plateau->observe(valid_nll))
      say(name + ": valid NLL on a plateau, learning rate now " +
          fmt("%.3g", options_.learning_rate * plateau->rate()));
    if (stopping) {
      stopping->observe(valid_nll, ended_with);
      if (stopping->should_stop()) {
        say(name + ": no valid improvement for " + std::to_string(options_.patience) +
            (options_.valid_every == 1 ? " epochs" : " checks") + ", stopping");
        break;
      }
    }
  }
  if (stopping && stopping->has_best()) {
    stopping->restore(net.params().values());
    report_.best_valid_nll = stopping->best();
    report_.best_epoch = checked_epochs.at(stopping->best_epoch());
    if (report_.best_epoch + 1 != report_.epochs)
      say(name + ": restored the parameters of epoch " + std::to_string(report_.best_epoch + 1) +
          " (valid NLL " + fmt("%.4f", report_.best_valid_nll) + " nats)");
    net_->params().values() = arma::conv_to<arma::vec>::from(net.params().values());
  } else {
    report_.best_epoch = report_.epochs ? report_.epochs - 1 : 0;
    net_->params().values() = arma::conv_to<arma::vec>::from(epoch_parameters());
  }
  if (!fit.checkpoint.empty() && leader) {  // finished: nothing left to continue
    std::error_code ignored;
    std::filesystem::remove(fit.checkpoint, ignored);
    remove_stale_temp_files(fit.checkpoint);
  }
}

// ---- scoring ----------------------------------------------------------------------------------

template <class Sequence>
arma::vec RnnModel::score(const Sequence& x) const {
  if (!net_) throw std::logic_error("RnnModel: scoring an empty model");
  rnn::Network<double> net = *net_;
  rnn::NetworkState<double> state = net.initial_state(1);
  constexpr bool symbols = std::is_same_v<Sequence, arma::uvec>;
  const arma::uword length = symbols ? x.n_elem : x.n_cols;
  arma::vec out(length);
  arma::umat window_symbols;
  for (arma::uword begin = 0; begin < length; begin += scoring_window_) {
    const arma::uword end = std::min(length, begin + scoring_window_);
    if constexpr (symbols) {
      window_symbols = x.subvec(begin, end - 1).t();
      net.forward(window_symbols, nullptr, nullptr, state, nullptr);
    } else {
      const arma::mat frames = x.cols(begin, end - 1);
      net.forward(frames, nullptr, nullptr, state, nullptr);
    }
    out.subvec(begin, end - 1) = net.step_log_probs().t();
  }
  return out;
}

arma::mat RnnModel::hidden_states(const arma::uvec& symbols) const {
  if (!net_) throw std::logic_error("RnnModel: inspecting an empty model");
  if (kind() != SequenceKind::symbols)
    user_error(type() + ": this model reads " + to_string(kind()) + ", not symbols");
  check_symbols(type(), config_.input_size, symbols, "");
  rnn::Network<double> net = *net_;
  rnn::NetworkState<double> state = net.initial_state(1);
  arma::mat prediction;
  net.predict(state, prediction);  // the start input
  arma::mat out(config_.hidden, symbols.n_elem);
  for (arma::uword t = 0; t < symbols.n_elem; ++t) {
    state.last_symbol(0) = symbols(t);
    net.predict(state, prediction);
    out.col(t) = state.layers.back().h.col(0);
  }
  return out;
}

arma::mat RnnModel::hidden_states(const arma::mat& frames) const {
  if (!net_) throw std::logic_error("RnnModel: inspecting an empty model");
  if (kind() == SequenceKind::symbols)
    user_error(type() + ": this model reads symbols, not frames");
  check_frames(type(), config_.input_size, frames, "");
  rnn::Network<double> net = *net_;
  rnn::NetworkState<double> state = net.initial_state(1);
  arma::mat prediction;
  net.predict(state, prediction);  // the start input (a zero frame)
  arma::mat out(config_.hidden, frames.n_cols);
  for (arma::uword t = 0; t < frames.n_cols; ++t) {
    state.last_frame.col(0) = frames.col(t);
    net.predict(state, prediction);
    out.col(t) = state.layers.back().h.col(0);
  }
  return out;
}

arma::vec RnnModel::step_log_probs(const arma::uvec& symbols) const {
  if (kind() != SequenceKind::symbols)
    user_error(type() + ": this model scores " + to_string(kind()) + ", not symbols");
  check_symbols(type(), config_.input_size, symbols, "");
  return score(symbols);
}

arma::vec RnnModel::step_log_probs(const arma::mat& frames) const {
  if (kind() == SequenceKind::symbols)
    user_error(type() + ": this model scores symbols, not frames");
  check_frames(type(), config_.input_size, frames, "");
  return score(frames);
}

arma::vec RnnModel::log_likelihoods(const SequenceSet& set) const {
  if (!net_) throw std::logic_error("RnnModel: scoring an empty model");
  if (set.kind != kind())
    user_error(type() + ": this model scores " + to_string(kind()) + ", not " +
               to_string(set.kind));
  check_scorable(set);
  rnn::Network<double> net = *net_;
  return score_set(net, set, scoring_window_);
}

void RnnModel::check_scorable(const SequenceSet& set) const {
  for (std::size_t i = 0; i < set.size(); ++i) {
    const std::string of_sequence = " of sequence " + std::to_string(i);
    if (set.kind == SequenceKind::symbols)
      check_symbols(type(), config_.input_size, set.symbols[i], of_sequence);
    else
      check_frames(type(), config_.input_size, set.frames[i], of_sequence);
  }
}

double RnnModel::log_likelihood(const arma::uvec& symbols) const {
  return arma::accu(step_log_probs(symbols));
}

double RnnModel::log_likelihood(const arma::mat& frames) const {
  return arma::accu(step_log_probs(frames));
}

// ---- sampling ---------------------------------------------------------------------------------

arma::uvec RnnModel::sample_symbols(arma::uword length, Rng& rng, const arma::uvec& prime) const {
  if (kind() != SequenceKind::symbols)
    user_error(type() + ": this model draws " + to_string(kind()) + ", not symbols");
  if (!prime.empty()) (void)step_log_probs(prime);  // validates the prime's symbols
  rnn::Network<double> net = *net_;
  rnn::NetworkState<double> state = net.initial_state(1);
  arma::umat window_symbols;
  for (arma::uword begin = 0; begin < prime.n_elem; begin += scoring_window_) {
    const arma::uword end = std::min<arma::uword>(prime.n_elem, begin + scoring_window_);
    window_symbols = prime.subvec(begin, end - 1).t();
    net.forward(window_symbols, nullptr, nullptr, state, nullptr);
  }
  arma::uvec out(length);
  arma::mat log_p;
  arma::vec weights;
  const double temperature = options_.temperature;
  for (arma::uword t = 0; t < length; ++t) {
    net.predict(state, log_p);
    arma::uword pick = 0;
    if (temperature == 0.0) {
      pick = log_p.col(0).index_max();
    } else {
      weights = arma::exp((log_p.col(0) - log_p.col(0).max()) / temperature);
      pick = sample_categorical(weights, rng);
    }
    out(t) = pick;
    state.last_symbol(0) = pick;
  }
  return out;
}

arma::mat RnnModel::sample_frames(arma::uword length, Rng& rng, const arma::mat& prime) const {
  if (kind() == SequenceKind::symbols)
    user_error(type() + ": this model draws symbols, not frames");
  if (!prime.empty()) (void)step_log_probs(prime);
  rnn::Network<double> net = *net_;
  rnn::NetworkState<double> state = net.initial_state(1);
  for (arma::uword begin = 0; begin < prime.n_cols; begin += scoring_window_) {
    const arma::uword end = std::min<arma::uword>(prime.n_cols, begin + scoring_window_);
    const arma::mat frames = prime.cols(begin, end - 1);
    net.forward(frames, nullptr, nullptr, state, nullptr);
  }
  const arma::uword d = config_.input_size;
  const double temperature = options_.temperature;
  arma::mat out(d, length);
  arma::mat prediction;
  for (arma::uword t = 0; t < length; ++t) {
    net.predict(state, prediction);
    for (arma::uword j = 0; j < d; ++j) {
      if (kind() == SequenceKind::binary_frames) {
        const double logit = prediction(j, 0);
        if (temperature == 0.0) {
          out(j, t) = logit > 0.0 ? 1.0 : 0.0;
        } else {
          const double p = 1.0 / (1.0 + std::exp(-logit / temperature));
          out(j, t) = uniform01(rng) < p ? 1.0 : 0.0;
        }
      } else {
        const double sd = std::exp(0.5 * prediction(d + j, 0));
        out(j, t) = prediction(j, 0) + temperature * sd * standard_normal(rng);
      }
    }
    state.last_frame = out.col(t);
  }
  return out;
}

// ---- model files ------------------------------------------------------------------------------

void RnnModel::save(H5::Group& group) const {
  if (!net_) throw std::logic_error("RnnModel::save on an empty model");
  h5::quiet_errors();
  const rnn::ParameterSet<double>& p = net_->params();
  const CellType cell = config_.cell;
  h5::write_string_attribute(group, "kind", to_string(config_.kind));
  h5::write_int_attribute(group, "input_size", static_cast<std::int64_t>(config_.input_size));
  h5::write_int_attribute(group, "hidden", static_cast<std::int64_t>(config_.hidden));
  h5::write_int_attribute(group, "layers", static_cast<std::int64_t>(config_.layers));
  h5::write_int_attribute(group, "residual", config_.residual ? 1 : 0);
  h5::write_double_attribute(group, "dropout", config_.dropout);
  if (cell == CellType::elman || cell == CellType::leaky || cell == CellType::jordan)
    h5::write_string_attribute(group, "activation", rnn::to_string(config_.activation));
  if (cell == CellType::elman || cell == CellType::leaky)
    h5::write_int_attribute(group, "delay", static_cast<std::int64_t>(config_.delay));
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
  for (arma::uword k = 0; k < config_.layers; ++k) {
    const std::string prefix = rnn::Network<double>::layer_prefix(k);
    const std::string suffix = "_l" + std::to_string(k);
    arma::vec tau;
    if (cell == CellType::leaky) tau = std::get<rnn::LeakyCell<double>>(net_->cell(k)).tau(p);
    rnn::weight_file::write_cell(layers, p, prefix, suffix, cell, config_.hidden, &tau);
    if (config_.delay > 0)
      h5::write_mat(layers, "weight_hd" + suffix, p.value(prefix + "weight_hd"));
    if (cell == CellType::jordan) {
      h5::write_mat(layers, "weight_hy" + suffix, p.value(prefix + "weight_hy"));
      h5::write_vec(layers, "bias_hy" + suffix, arma::vectorise(p.value(prefix + "bias_hy")));
    }
  }
  rnn::weight_file::write_head(group, p);
}

void RnnModel::load(const H5::Group& group) {
  h5::quiet_errors();
  const std::string where = h5::where(group);
  rnn::weight_file::SharedAttributes shared =
      rnn::weight_file::read_shared_attributes(group, where);
  const SequenceKind kind = shared.kind;
  const arma::uword input_size = shared.input_size;
  RnnOptions o;
  shared.copy_to(o);
  o.residual = h5::has_attribute(group, "residual") &&
               rnn::weight_file::read_flag(group, "residual", where);
  o.dropout = h5::has_attribute(group, "dropout") ? h5::read_double_attribute(group, "dropout")
                                                   : 0.0;
  if (!(o.dropout >= 0.0 && o.dropout < 1.0))
    user_error(where + ": attribute 'dropout' must be in [0, 1)");
  const bool elman_like = o.cell == CellType::elman || o.cell == CellType::leaky;
  // Files written before delays existed have no 'delay': they have none.
  if (h5::has_attribute(group, "delay")) {
    const std::int64_t delay = h5::read_int_attribute(group, "delay");
    if (delay != 0 && !elman_like)
      user_error(where + ": attribute 'delay' is " + std::to_string(delay) + ", but only rnn "
                 "and leaky models have a delay connection (expected 0 or no attribute)");
    if (delay != 0 && (delay < 2 || delay > static_cast<std::int64_t>(rnn::kMaxDelay)))
      user_error(where + ": attribute 'delay' is " + std::to_string(delay) +
                 ", expected 0 (none) or 2 to " + std::to_string(rnn::kMaxDelay) + " steps");
    if (delay != 0) o.delay = static_cast<arma::uword>(delay);
  }
  const H5::Group layers = h5::open_group(group, "rnn");
  std::vector<arma::vec> layer_tau;
  if (o.cell == CellType::leaky) {
    for (arma::uword k = 0; k < o.layers; ++k)
      layer_tau.push_back(
          rnn::weight_file::read_tau(layers, "_l" + std::to_string(k), o.hidden, o.train_tau));
  }
  rnn::NetworkConfig config = config_from(o, kind, input_size);
  config.layer_tau = layer_tau;
  // The sizes come from the file: a refusal (e.g. the memory they would need) names it.
  std::unique_ptr<rnn::Network<double>> net;
  try {
    net = std::make_unique<rnn::Network<double>>(config);
  } catch (const UserError& e) {
    user_error(where + ": " + e.what());
  }
  rnn::ParameterSet<double>& p = net->params();
  const arma::uword h = o.hidden;
  if (kind == SequenceKind::symbols)
    rnn::weight_file::read_embedding(group, p, input_size + 1, config.embedding,
                                     "one row per symbol plus the start row");
  for (arma::uword k = 0; k < o.layers; ++k) {
    const std::string prefix = rnn::Network<double>::layer_prefix(k);
    const std::string suffix = "_l" + std::to_string(k);
    const arma::uword d = k > 0 ? h : kind == SequenceKind::symbols ? config.embedding : input_size;
    rnn::weight_file::read_cell(layers, p, prefix, suffix, o.cell, h, d, o.train_tau,
                                o.cell == CellType::leaky ? &layer_tau[k] : nullptr);
    if (config.delay > 0)
      copy_into(p.value(prefix + "weight_hd"),
                h5::read_mat_checked(layers, "weight_hd" + suffix, h, h, "hidden x delayed hidden"));
    if (o.cell == CellType::jordan) {
      copy_into(p.value(prefix + "weight_hy"),
                h5::read_mat_checked(layers, "weight_hy" + suffix, h, h, "output x hidden"));
      copy_into(p.value(prefix + "bias_hy"),
                arma::mat(h5::read_vec_checked(layers, "bias_hy" + suffix, h, "one per output")));
    }
  }
  const std::string head_rows = kind == SequenceKind::symbols ? "one row per symbol"
                                : kind == SequenceKind::vectors ? "means then log-variances"
                                                                : "one row per unit";
  rnn::weight_file::read_head(group, p, net->head_outputs(), h, head_rows, "hidden");

  options_ = o;
  config_ = config;
  alphabet_ = std::move(shared.alphabet);
  net_ = std::move(net);
  scoring_window_ = options_.window == 0 ? 100 : options_.window;
}

}  // namespace seqlab
