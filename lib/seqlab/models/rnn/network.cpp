// seqlab/models/rnn/network.cpp: the stacked recurrent network of network.hpp (input layer,
// cells, residual connections, dropout, head) over time-major windows.
#include "seqlab/models/rnn/network.hpp"

#include <cstdio>
#include <stdexcept>
#include <type_traits>
#include <utility>

#include "seqlab/core/error.hpp"
#include "seqlab/core/memory.hpp"
#include "seqlab/models/rnn/embedding.hpp"
#include "seqlab/models/rnn/init.hpp"

namespace seqlab::rnn {
namespace {

template <class T>
void ensure_shape(arma::Mat<T>& m, arma::uword rows, arma::uword cols) {
  if (m.n_rows != rows || m.n_cols != cols) m.set_size(rows, cols);
}

}  // namespace

arma::uword gate_blocks(CellType cell) {
  switch (cell) {
    case CellType::elman:
    case CellType::leaky:
    case CellType::jordan: return 1;
    case CellType::lstm: return 4;
    case CellType::gru: return 3;
  }
  throw std::logic_error("gate_blocks: unknown cell type");
}

std::string model_type_name(CellType cell) {
  switch (cell) {
    case CellType::elman: return "rnn";
    case CellType::leaky: return "leaky";
    case CellType::lstm: return "lstm";
    case CellType::gru: return "gru";
    case CellType::jordan: return "jordan";
  }
  throw std::logic_error("model_type_name: unknown cell type");
}

CellType parse_model_type(const std::string& name, const std::string& key) {
  for (CellType c :
       {CellType::elman, CellType::leaky, CellType::jordan, CellType::lstm, CellType::gru})
    if (name == model_type_name(c)) return c;
  user_error(key + ": unknown recurrent model '" + printable(name) +
             "' (expected rnn, leaky, jordan, lstm or gru)");
}

namespace {
// "1,234,567" below 10^15, else "1.2e+17".
std::string format_parameter_count(long double n) {
  if (n < 1e15L) return with_commas(static_cast<std::uint64_t>(n));
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.1Le", n);
  return buffer;
}
}  // namespace

void validate(const NetworkConfig& c) {
  if (c.input_size == 0)
    user_error(std::string(c.kind == SequenceKind::symbols ? "the alphabet is empty"
                                                           : "frames have 0 rows") +
               ", expected at least one symbol / row");
  if (c.kind == SequenceKind::symbols && c.embedding == 0)
    user_error("embedding size must be >= 1, got 0");
  if (c.hidden == 0) user_error("hidden size must be >= 1, got 0");
  if (c.layers == 0) user_error("layers must be >= 1, got 0");
  if (!c.layer_tau.empty() && c.layer_tau.size() != c.layers)
    user_error("leaky tau given for " + std::to_string(c.layer_tau.size()) + " layers, expected " +
               std::to_string(c.layers));
  if (!(c.dropout >= 0.0 && c.dropout < 1.0))
    user_error("dropout must be in [0, 1), got " + std::to_string(c.dropout));
  if (c.delay != 0 && c.cell != CellType::elman && c.cell != CellType::leaky)
    user_error("delay applies to rnn and leaky cells only, not " + model_type_name(c.cell));
  if (c.delay == 1 || c.delay > kMaxDelay)
    user_error("delay must be 0 (none) or between 2 and " + std::to_string(kMaxDelay) +
               " steps, got " + std::to_string(c.delay));
  // Values and gradients, 4 bytes each at least, before anything is allocated.
  require_memory(8.0L * parameter_lower_bound(c),
                 model_type_name(c.cell) + ": hidden = " + std::to_string(c.hidden) +
                     ", layers = " + std::to_string(c.layers) + " (at least " +
                     format_parameter_count(parameter_lower_bound(c)) + " parameters)");
}

long double parameter_lower_bound(const NetworkConfig& c) {
  const long double h = static_cast<long double>(c.hidden);
  const long double g = static_cast<long double>(gate_blocks(c.cell));
  const long double v = static_cast<long double>(c.input_size);
  const bool symbols = c.kind == SequenceKind::symbols;
  const long double first_input = symbols ? static_cast<long double>(c.embedding) : v;
  long double total = symbols ? first_input * (v + 1) : 0;
  total += g * h * (first_input + h);
  total += static_cast<long double>(c.layers - (c.layers > 0 ? 1 : 0)) * g * h * (h + h);
  total += v * h;  // the head: at least V (or d) outputs
  return total;
}

template <class T>
std::string Network<T>::layer_prefix(arma::uword layer) {
  return "l" + std::to_string(layer) + ".";
}

template <class T>
Network<T>::Network(const NetworkConfig& config) : config_(config) {
  validate(config_);
  const arma::uword h = config_.hidden;
  if (config_.kind == SequenceKind::symbols)
    embedding_ = params_.add("embedding", config_.embedding, config_.input_size + 1);
  for (arma::uword l = 0; l < config_.layers; ++l) {
    const arma::uword d = l > 0 ? h
                          : config_.kind == SequenceKind::symbols ? config_.embedding
                                                                  : config_.input_size;
    switch (config_.cell) {
      case CellType::elman:
        cells_.emplace_back(std::in_place_type<ElmanCell<T>>, d, h, config_.activation,
                            config_.delay);
        break;
      case CellType::leaky: {
        LeakyOptions options = config_.leaky;
        options.activation = config_.activation;
        options.delay = config_.delay;
        if (!config_.layer_tau.empty()) options.tau = config_.layer_tau.at(l);
        cells_.emplace_back(std::in_place_type<LeakyCell<T>>, d, h, options);
        break;
      }
      case CellType::lstm: cells_.emplace_back(std::in_place_type<LstmCell<T>>, d, h); break;
      case CellType::gru:
        cells_.emplace_back(std::in_place_type<GruCell<T>>, d, h, config_.gru_variant);
        break;
      case CellType::jordan:
        cells_.emplace_back(std::in_place_type<JordanCell<T>>, d, h, config_.activation);
        break;
    }
    std::visit([&](auto& cell) { cell.register_parameters(params_, layer_prefix(l)); },
               cells_.back());
  }
  head_weight_ = params_.add("head.weight", head_outputs(), h);
  head_bias_ = params_.add("head.bias", head_outputs(), 1);
  params_.allocate();
  cell_out_.resize(config_.layers);
  act_.resize(config_.layers);
  drop_.resize(config_.layers);
  act_used_.assign(config_.layers, nullptr);
}

template <class T>
arma::uword Network<T>::head_outputs() const {
  switch (config_.kind) {
    case SequenceKind::symbols: return config_.input_size;
    case SequenceKind::binary_frames: return config_.input_size;
    case SequenceKind::vectors: return 2 * config_.input_size;
  }
  throw std::logic_error("Network: unknown sequence kind");
}

template <class T>
void Network<T>::init(Rng& rng) {
  if (config_.kind == SequenceKind::symbols) {
    arma::Mat<T> table = params_.value(embedding_);
    for (arma::uword i = 0; i < table.n_elem; ++i) table(i) = static_cast<T>(standard_normal(rng));
  }
  for (const Cell& cell : cells_) std::visit([&](const auto& c) { c.init(params_, rng); }, cell);
  arma::Mat<T> weight = params_.value(head_weight_);
  init_xavier_uniform(weight, rng);
  params_.value(head_bias_).zeros();
}

template <class T>
NetworkState<T> Network<T>::initial_state(arma::uword streams) const {
  NetworkState<T> s;
  s.layers.resize(config_.layers);
  // Validated: a delay is set only for the cells that have one.
  const arma::uword history_blocks = config_.delay == 0 ? 0 : config_.delay - 1;
  for (auto& layer : s.layers) {
    layer.h.zeros(config_.hidden, streams);
    if (config_.cell == CellType::lstm) layer.c.zeros(config_.hidden, streams);
    if (history_blocks > 0) layer.history.zeros(config_.hidden, history_blocks * streams);
  }
  if (config_.kind == SequenceKind::symbols) {
    s.last_symbol.set_size(streams);
    s.last_symbol.fill(config_.input_size);
  } else {
    s.last_frame.zeros(config_.input_size, streams);
  }
  return s;
}

template <class T>
void Network<T>::reset_streams(NetworkState<T>& state, const arma::uvec& reset) const {
  if (reset.n_elem != state.streams())
    throw std::invalid_argument("Network::reset_streams: " + std::to_string(reset.n_elem) +
                                " flags for " + std::to_string(state.streams()) + " streams");
  for (arma::uword b = 0; b < reset.n_elem; ++b) {
    if (reset(b) == 0) continue;
    for (auto& layer : state.layers) {
      layer.h.col(b).zeros();
      if (!layer.c.empty()) layer.c.col(b).zeros();
      // Column b of every history block: the stream's whole delay line.
      for (arma::uword col = b; col < layer.history.n_cols; col += reset.n_elem)
        layer.history.col(col).zeros();
    }
    if (config_.kind == SequenceKind::symbols)
      state.last_symbol(b) = config_.input_size;
    else
      state.last_frame.col(b).zeros();
  }
}

template <class T>
void Network<T>::run_layers(const arma::Mat<T>* mask, NetworkState<T>& state, Rng* dropout_rng) {
  const bool drop = dropout_rng != nullptr && config_.dropout > 0.0;
  const T keep = static_cast<T>(1.0 - config_.dropout);
  const T kept_value = T(1) / keep;
  for (arma::uword l = 0; l < config_.layers; ++l) {
    const arma::Mat<T>& u = l == 0 ? input_ : *act_used_[l - 1];
    std::visit(
        [&](auto& cell) {
          using C = std::decay_t<decltype(cell)>;
          if constexpr (ProjectedInputCell<C>) {
            if (l == 0 && projected_) {
              cell.forward_projected(params_, u, state.layers[l], mask, cell_out_[l]);
              cell.final_state(state.layers[l]);
              return;
            }
          }
          cell.forward(params_, u, state.layers[l], mask, cell_out_[l]);
          cell.final_state(state.layers[l]);
        },
        cells_[l]);
    const bool residual = config_.residual && l >= 1;
    if (!residual && !drop) {
      act_used_[l] = &cell_out_[l];
      continue;
    }
    act_[l] = cell_out_[l];
    if (residual) act_[l] += u;
    if (drop) {
      ensure_shape(drop_[l], act_[l].n_rows, act_[l].n_cols);
      for (arma::uword i = 0; i < drop_[l].n_elem; ++i)
        drop_[l](i) = uniform01(*dropout_rng) < static_cast<double>(keep) ? kept_value : T(0);
      act_[l] %= drop_[l];
    }
    act_used_[l] = &act_[l];
  }
  dropped_ = drop;
}

template <class T>
HeadLoss Network<T>::forward(const arma::umat& targets, const arma::Mat<T>* mask,
                             const arma::uvec* reset, NetworkState<T>& state, Rng* dropout_rng) {
  if (config_.kind != SequenceKind::symbols)
    throw std::invalid_argument("Network::forward: symbol targets for a frame network");
  const arma::uword streams = state.streams(), steps = targets.n_cols;
  if (targets.n_rows != streams || steps == 0)
    throw std::invalid_argument("Network::forward: targets are " +
                                std::to_string(targets.n_rows) + " x " + std::to_string(steps) +
                                ", expected " + std::to_string(streams) + " x S, S >= 1");
  if (reset != nullptr) reset_streams(state, *reset);
  if (input_symbols_.n_rows != streams || input_symbols_.n_cols != steps)
    input_symbols_.set_size(streams, steps);
  input_symbols_.col(0) = state.last_symbol.t();
  if (steps > 1) input_symbols_.cols(1, steps - 1) = targets.cols(0, steps - 2);
  const ParameterSet<T>& p = params_;
  // The first cell's input projection through the table W_ih E when that is cheaper (more
  // window columns than table columns) and the cell can take it (cell.hpp, PROJECTED INPUT).
  projected_ = false;
  std::visit(
      [&](auto& cell) {
        using C = std::decay_t<decltype(cell)>;
        if constexpr (ProjectedInputCell<C>) {
          if (input_symbols_.n_elem <= config_.input_size + 1) return;
          input_table_ = p.value(cell.input_weight()) * p.value(embedding_);
          embedding_forward(input_table_, input_symbols_, mask, input_);
          projected_ = true;
        }
      },
      cells_.front());
  if (!projected_) embedding_forward(p.value(embedding_), input_symbols_, mask, input_);
  run_layers(mask, state, dropout_rng);
  target_symbols_ = &targets;
  target_frames_ = nullptr;
  mask_ = mask;
  state.last_symbol = targets.col(steps - 1).t();
  return softmax_head_forward(p.value(head_weight_), p.value(head_bias_), *act_used_.back(),
                              targets, mask, head_ws_);
}

template <class T>
HeadLoss Network<T>::forward(const arma::Mat<T>& targets, const arma::Mat<T>* mask,
                             const arma::uvec* reset, NetworkState<T>& state, Rng* dropout_rng) {
  if (config_.kind == SequenceKind::symbols)
    throw std::invalid_argument("Network::forward: frame targets for a symbol network");
  const arma::uword streams = state.streams(), columns = targets.n_cols;
  if (targets.n_rows != config_.input_size || columns == 0 || streams == 0 ||
      columns % streams != 0)
    throw std::invalid_argument("Network::forward: targets are " +
                                std::to_string(targets.n_rows) + " x " + std::to_string(columns) +
                                ", expected " + std::to_string(config_.input_size) +
                                " x (S * " + std::to_string(streams) + ")");
  if (reset != nullptr) reset_streams(state, *reset);
  ensure_shape(input_, config_.input_size, columns);
  input_.cols(0, streams - 1) = state.last_frame;
  if (columns > streams) input_.cols(streams, columns - 1) = targets.cols(0, columns - streams - 1);
  run_layers(mask, state, dropout_rng);
  target_symbols_ = nullptr;
  target_frames_ = &targets;
  mask_ = mask;
  state.last_frame = targets.cols(columns - streams, columns - 1);
  const ParameterSet<T>& p = params_;
  if (config_.kind == SequenceKind::binary_frames)
    return bernoulli_head_forward(p.value(head_weight_), p.value(head_bias_), *act_used_.back(),
                                  targets, mask, head_ws_);
  return gaussian_head_forward(p.value(head_weight_), p.value(head_bias_), *act_used_.back(),
                               targets, mask, head_ws_);
}

template <class T>
void Network<T>::backward(double scale) {
  if (target_symbols_ == nullptr && target_frames_ == nullptr)
    throw std::logic_error("Network::backward without a forward");
  const arma::Mat<T> weight = static_cast<const ParameterSet<T>&>(params_).value(head_weight_);
  arma::Mat<T> d_weight = params_.gradient(head_weight_);
  arma::Mat<T> d_bias = params_.gradient(head_bias_);
  const arma::Mat<T>& top = *act_used_.back();
  if (target_symbols_ != nullptr)
    softmax_head_backward(weight, top, *target_symbols_, mask_, scale, head_ws_, d_act_, d_weight,
                          d_bias);
  else if (config_.kind == SequenceKind::binary_frames)
    bernoulli_head_backward(weight, top, *target_frames_, mask_, scale, head_ws_, d_act_,
                            d_weight, d_bias);
  else
    gaussian_head_backward(weight, top, *target_frames_, mask_, scale, head_ws_, d_act_, d_weight,
                           d_bias);
  const bool symbols = config_.kind == SequenceKind::symbols;
  for (arma::uword l = config_.layers; l-- > 0;) {
    // d_act_ holds dLoss/da_l; through the dropout multipliers it becomes dLoss/dy_l.
    if (dropped_) d_act_ %= drop_[l];
    const arma::Mat<T>& u = l == 0 ? input_ : *act_used_[l - 1];
    const bool need_input_gradient = l > 0 || symbols;
    bool done = false;
    std::visit(
        [&](auto& cell) {
          using C = std::decay_t<decltype(cell)>;
          if constexpr (ProjectedInputCell<C>) {
            if (l == 0 && projected_) {
              // dP scattered into the table's gradient, then the table's product rule:
              // d(W_ih) += d(table) E^T, d(E) += W_ih^T d(table).
              cell.backward_projected(params_, mask_, d_act_, nullptr);
              d_input_table_.zeros(input_table_.n_rows, input_table_.n_cols);
              embedding_backward(input_symbols_, mask_, cell.projected_gradient(),
                                 d_input_table_);
              const ParameterSet<T>& p = params_;
              arma::Mat<T> d_weight = params_.gradient(cell.input_weight());
              d_weight += d_input_table_ * p.value(embedding_).t();
              arma::Mat<T> d_embedding = params_.gradient(embedding_);
              d_embedding += p.value(cell.input_weight()).t() * d_input_table_;
              done = true;
              return;
            }
          }
          cell.backward(params_, u, mask_, d_act_, need_input_gradient ? &d_in_ : nullptr,
                        nullptr);
        },
        cells_[l]);
    if (done) continue;
    if (l > 0) {
      if (config_.residual) d_in_ += d_act_;
      d_act_.swap(d_in_);
    } else if (symbols) {
      arma::Mat<T> d_table = params_.gradient(embedding_);
      embedding_backward(input_symbols_, mask_, d_in_, d_table);
    }
  }
}

template <class T>
void Network<T>::predict(NetworkState<T>& state, arma::Mat<T>& prediction) {
  const arma::uword streams = state.streams();
  const ParameterSet<T>& p = params_;
  if (config_.kind == SequenceKind::symbols) {
    if (input_symbols_.n_rows != streams || input_symbols_.n_cols != 1)
      input_symbols_.set_size(streams, 1);
    input_symbols_.col(0) = state.last_symbol.t();
    embedding_forward(p.value(embedding_), input_symbols_, nullptr, input_);
    projected_ = false;
  } else {
    input_ = state.last_frame;
  }
  run_layers(nullptr, state, nullptr);
  target_symbols_ = nullptr;
  target_frames_ = nullptr;
  const arma::Mat<T>& top = *act_used_.back();
  switch (config_.kind) {
    case SequenceKind::symbols:
      softmax_head_predict(p.value(head_weight_), p.value(head_bias_), top, prediction);
      break;
    case SequenceKind::binary_frames:
      bernoulli_head_predict(p.value(head_weight_), p.value(head_bias_), top, prediction);
      break;
    case SequenceKind::vectors:
      gaussian_head_predict(p.value(head_weight_), p.value(head_bias_), top, prediction);
      break;
  }
}

template class Network<float>;
template class Network<double>;

}  // namespace seqlab::rnn
