// seqlab/models/rnn/task_network.cpp: the sequence-to-one network of task_network.hpp (input
// layer, whole-sequence layers, classification and regression heads).
#include "seqlab/models/rnn/task_network.hpp"

#include <stdexcept>
#include <utility>

#include "seqlab/core/error.hpp"
#include "seqlab/models/rnn/embedding.hpp"
#include "seqlab/models/rnn/init.hpp"

namespace seqlab::rnn {
namespace {

template <class T>
void ensure_shape(arma::Mat<T>& m, arma::uword rows, arma::uword cols) {
  if (m.n_rows != rows || m.n_cols != cols) m.set_size(rows, cols);
}

std::string shape(arma::uword rows, arma::uword cols) {
  return std::to_string(rows) + " x " + std::to_string(cols);
}

// A layer of one cell type, one or two directions, both cells built from the same arguments.
template <class T, template <class> class Cell, class... Args>
typename TaskNetwork<T>::Layer make_layer(bool bidirectional, const Args&... args) {
  if (bidirectional)
    return Bidirectional<Cell<T>>(Cell<T>(args...), Cell<T>(args...));
  return Unidirectional<Cell<T>>(Cell<T>(args...));
}

}  // namespace

std::string to_string(Task task) { return task == Task::classify ? "classify" : "regress"; }

Task parse_task(const std::string& text, const std::string& key) {
  if (text == "classify") return Task::classify;
  if (text == "regress") return Task::regress;
  user_error(key + ": unknown task '" + printable(text) + "' (expected classify or regress)");
}

void validate(const TaskNetworkConfig& c) {
  if (c.input_size == 0)
    user_error(std::string(c.kind == SequenceKind::symbols ? "the alphabet is empty"
                                                           : "frames have 0 rows") +
               ", expected at least one symbol / row");
  if (c.kind == SequenceKind::symbols && c.embedding == 0)
    user_error("embedding size must be >= 1, got 0");
  if (c.hidden == 0) user_error("hidden size must be >= 1, got 0");
  if (c.layers == 0) user_error("layers must be >= 1, got 0");
  const arma::uword cells = c.layers * (c.bidirectional ? 2 : 1);
  if (!c.cell_tau.empty() && c.cell_tau.size() != cells)
    user_error("leaky tau given for " + std::to_string(c.cell_tau.size()) + " cells, expected " +
               std::to_string(cells));
  if (c.task == Task::classify && c.outputs < 2)
    user_error("classification needs at least 2 classes, got " + std::to_string(c.outputs));
  if (c.task == Task::regress && c.outputs < 1)
    user_error("regression needs at least 1 target component, got 0");
}

// ---- regression head -------------------------------------------------------------------------

template <class T>
TaskLoss squared_error_head_forward(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                                    const arma::Mat<T>& features, const arma::Mat<T>& targets,
                                    arma::Mat<T>& out) {
  if (weight.n_cols != features.n_rows || bias.n_elem != weight.n_rows ||
      targets.n_rows != weight.n_rows || targets.n_cols != features.n_cols)
    throw std::invalid_argument("squared-error head: weight " +
                                shape(weight.n_rows, weight.n_cols) + ", bias of " +
                                std::to_string(bias.n_elem) + ", features " +
                                shape(features.n_rows, features.n_cols) + ", targets " +
                                shape(targets.n_rows, targets.n_cols) + " do not fit");
  ensure_shape(out, weight.n_rows, features.n_cols);
  out = weight * features;
  out.each_col() += arma::vectorise(bias);
  TaskLoss loss;
  for (arma::uword i = 0; i < out.n_elem; ++i) {
    const double r = static_cast<double>(out(i)) - static_cast<double>(targets(i));
    loss.sum += r * r;
  }
  loss.count = out.n_elem;
  return loss;
}

template <class T>
void squared_error_head_backward(const arma::Mat<T>& weight, const arma::Mat<T>& features,
                                 const arma::Mat<T>& targets, const arma::Mat<T>& out,
                                 double scale, arma::Mat<T>& d_features, arma::Mat<T>& d_weight,
                                 arma::Mat<T>& d_bias) {
  if (out.n_rows != weight.n_rows || out.n_cols != features.n_cols ||
      targets.n_rows != out.n_rows || targets.n_cols != out.n_cols ||
      d_weight.n_rows != weight.n_rows || d_weight.n_cols != weight.n_cols ||
      d_bias.n_elem != weight.n_rows)
    throw std::invalid_argument("squared-error head backward: shapes do not fit the forward");
  // d(r^2)/dy = 2 r.
  const arma::Mat<T> d_out = static_cast<T>(2.0 * scale) * (out - targets);
  ensure_shape(d_features, features.n_rows, features.n_cols);
  d_features = weight.t() * d_out;
  d_weight += d_out * features.t();
  d_bias += arma::sum(d_out, 1);
}

// ---- network ---------------------------------------------------------------------------------

template <class T>
std::string TaskNetwork<T>::layer_prefix(arma::uword layer) {
  return "l" + std::to_string(layer) + ".";
}

template <class T>
TaskNetwork<T>::TaskNetwork(const TaskNetworkConfig& config) : config_(config) {
  validate(config_);
  const arma::uword h = config_.hidden;
  const bool bi = config_.bidirectional;
  if (config_.kind == SequenceKind::symbols)
    embedding_ = params_.add("embedding", config_.embedding, config_.input_size);
  for (arma::uword l = 0; l < config_.layers; ++l) {
    const arma::uword d = l > 0 ? feature_size()
                          : config_.kind == SequenceKind::symbols ? config_.embedding
                                                                  : config_.input_size;
    switch (config_.cell) {
      case CellType::elman:
        layers_.push_back(make_layer<T, ElmanCell>(bi, d, h, config_.activation));
        break;
      case CellType::leaky: {
        // Directions may differ in a fixed tau only when a file says so.
        const arma::uword first = bi ? 2 * l : l;
        LeakyOptions forward = config_.leaky, reverse = config_.leaky;
        forward.activation = reverse.activation = config_.activation;
        if (!config_.cell_tau.empty()) {
          forward.tau = config_.cell_tau.at(first);
          if (bi) reverse.tau = config_.cell_tau.at(first + 1);
        }
        if (bi)
          layers_.emplace_back(Bidirectional<LeakyCell<T>>(LeakyCell<T>(d, h, forward),
                                                           LeakyCell<T>(d, h, reverse)));
        else
          layers_.emplace_back(Unidirectional<LeakyCell<T>>(LeakyCell<T>(d, h, forward)));
        break;
      }
      case CellType::jordan:
        throw std::invalid_argument("TaskNetwork: Jordan cells are not supported for tasks");
      case CellType::lstm: layers_.push_back(make_layer<T, LstmCell>(bi, d, h)); break;
      case CellType::gru:
        layers_.push_back(make_layer<T, GruCell>(bi, d, h, config_.gru_variant));
        break;
    }
    std::visit([&](auto& layer) { layer.register_parameters(params_, layer_prefix(l)); },
               layers_.back());
  }
  head_weight_ = params_.add("head.weight", config_.outputs, feature_size());
  head_bias_ = params_.add("head.bias", config_.outputs, 1);
  params_.allocate();
  out_.resize(config_.layers);
}

template <class T>
arma::uword TaskNetwork<T>::feature_size() const {
  return config_.bidirectional ? 2 * config_.hidden : config_.hidden;
}

template <class T>
void TaskNetwork<T>::init(Rng& rng) {
  if (config_.kind == SequenceKind::symbols) {
    arma::Mat<T> table = params_.value(embedding_);
    for (arma::uword i = 0; i < table.n_elem; ++i) table(i) = static_cast<T>(standard_normal(rng));
  }
  for (const Layer& layer : layers_)
    std::visit([&](const auto& l) { l.init(params_, rng); }, layer);
  arma::Mat<T> weight = params_.value(head_weight_);
  init_xavier_uniform(weight, rng);
  params_.value(head_bias_).zeros();
}

template <class T>
void TaskNetwork<T>::encode(const arma::umat& symbols, const arma::Mat<T>* mask) {
  if (config_.kind != SequenceKind::symbols)
    throw std::invalid_argument("TaskNetwork::encode: symbols for a frame network");
  if (symbols.n_rows == 0 || symbols.n_cols == 0)
    throw std::invalid_argument("TaskNetwork::encode: no sequences or no steps");
  streams_ = symbols.n_rows;
  symbols_ = &symbols;
  frames_ = nullptr;
  mask_ = mask;
  const ParameterSet<T>& p = params_;
  embedding_forward(p.value(embedding_), symbols, mask, input_);
  for (arma::uword l = 0; l < config_.layers; ++l) {
    const arma::Mat<T>& u = l == 0 ? input_ : out_[l - 1];
    std::visit([&](auto& layer) { layer.forward(p, u, streams_, mask, out_[l]); }, layers_[l]);
  }
  std::visit([&](const auto& layer) { layer.final_output(features_); }, layers_.back());
  labels_ = nullptr;
  targets_ = nullptr;
}

template <class T>
void TaskNetwork<T>::encode(const arma::Mat<T>& frames, arma::uword streams,
                            const arma::Mat<T>* mask) {
  if (config_.kind == SequenceKind::symbols)
    throw std::invalid_argument("TaskNetwork::encode: frames for a symbol network");
  if (frames.n_rows != config_.input_size || streams == 0 || frames.n_cols == 0 ||
      frames.n_cols % streams != 0)
    throw std::invalid_argument("TaskNetwork::encode: frames are " +
                                shape(frames.n_rows, frames.n_cols) + ", expected " +
                                std::to_string(config_.input_size) + " x (S * " +
                                std::to_string(streams) + ")");
  streams_ = streams;
  symbols_ = nullptr;
  frames_ = &frames;
  mask_ = mask;
  const ParameterSet<T>& p = params_;
  for (arma::uword l = 0; l < config_.layers; ++l) {
    const arma::Mat<T>& u = l == 0 ? frames : out_[l - 1];
    std::visit([&](auto& layer) { layer.forward(p, u, streams_, mask, out_[l]); }, layers_[l]);
  }
  std::visit([&](const auto& layer) { layer.final_output(features_); }, layers_.back());
  labels_ = nullptr;
  targets_ = nullptr;
}

template <class T>
const arma::Mat<T>& TaskNetwork<T>::predict() {
  if (streams_ == 0) throw std::logic_error("TaskNetwork::predict without encode");
  const ParameterSet<T>& p = params_;
  if (config_.task == Task::classify) {
    softmax_head_predict(p.value(head_weight_), p.value(head_bias_), features_, head_ws_.out);
  } else {
    ensure_shape(head_ws_.out, config_.outputs, streams_);
    head_ws_.out = p.value(head_weight_) * features_;
    head_ws_.out.each_col() += arma::vectorise(p.value(head_bias_));
  }
  return head_ws_.out;
}

template <class T>
TaskLoss TaskNetwork<T>::loss(const arma::umat& labels) {
  if (config_.task != Task::classify)
    throw std::invalid_argument("TaskNetwork::loss: labels for a regression network");
  if (streams_ == 0) throw std::logic_error("TaskNetwork::loss without encode");
  if (labels.n_elem != streams_)
    throw std::invalid_argument("TaskNetwork::loss: " + std::to_string(labels.n_elem) +
                                " labels for " + std::to_string(streams_) + " sequences");
  const ParameterSet<T>& p = params_;
  const HeadLoss h = softmax_head_forward(p.value(head_weight_), p.value(head_bias_), features_,
                                          labels, nullptr, head_ws_);
  labels_ = &labels;
  targets_ = nullptr;
  return TaskLoss{h.nll_sum, h.count};
}

template <class T>
TaskLoss TaskNetwork<T>::loss(const arma::Mat<T>& targets) {
  if (config_.task != Task::regress)
    throw std::invalid_argument("TaskNetwork::loss: targets for a classification network");
  if (streams_ == 0) throw std::logic_error("TaskNetwork::loss without encode");
  const ParameterSet<T>& p = params_;
  const TaskLoss l = squared_error_head_forward(p.value(head_weight_), p.value(head_bias_),
                                                features_, targets, head_ws_.out);
  labels_ = nullptr;
  targets_ = &targets;
  return l;
}

template <class T>
void TaskNetwork<T>::backward(double scale) {
  if (labels_ == nullptr && targets_ == nullptr)
    throw std::logic_error("TaskNetwork::backward without a loss");
  const arma::Mat<T> weight = static_cast<const ParameterSet<T>&>(params_).value(head_weight_);
  arma::Mat<T> d_weight = params_.gradient(head_weight_);
  arma::Mat<T> d_bias = params_.gradient(head_bias_);
  if (labels_ != nullptr)
    softmax_head_backward(weight, features_, *labels_, nullptr, scale, head_ws_, d_features_,
                          d_weight, d_bias);
  else
    squared_error_head_backward(weight, features_, *targets_, head_ws_.out, scale, d_features_,
                                d_weight, d_bias);
  const bool symbols = config_.kind == SequenceKind::symbols;
  for (arma::uword l = config_.layers; l-- > 0;) {
    const arma::Mat<T>& u = l == 0 ? (symbols ? input_ : *frames_) : out_[l - 1];
    arma::Mat<T>* d_u = l > 0 || symbols ? &d_in_ : nullptr;
    const bool top = l + 1 == config_.layers;
    std::visit(
        [&](auto& layer) {
          if (top)
            layer.backward_final(params_, u, mask_, d_features_, d_u);
          else
            layer.backward(params_, u, mask_, d_act_, d_u);
        },
        layers_[l]);
    if (l > 0) {
      d_act_.swap(d_in_);
    } else if (symbols) {
      arma::Mat<T> d_table = params_.gradient(embedding_);
      embedding_backward(*symbols_, mask_, d_in_, d_table);
    }
  }
}

#define SEQLAB_TASK_NETWORK(T)                                                                \
  template TaskLoss squared_error_head_forward<T>(const arma::Mat<T>&, const arma::Mat<T>&,  \
                                                  const arma::Mat<T>&, const arma::Mat<T>&,  \
                                                  arma::Mat<T>&);                            \
  template void squared_error_head_backward<T>(const arma::Mat<T>&, const arma::Mat<T>&,     \
                                               const arma::Mat<T>&, const arma::Mat<T>&,     \
                                               double, arma::Mat<T>&, arma::Mat<T>&,         \
                                               arma::Mat<T>&);                               \
  template class TaskNetwork<T>;
SEQLAB_TASK_NETWORK(float)
SEQLAB_TASK_NETWORK(double)
#undef SEQLAB_TASK_NETWORK

}  // namespace seqlab::rnn
