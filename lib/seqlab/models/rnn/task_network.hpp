// seqlab/models/rnn/task_network.hpp: a recurrent network that maps a WHOLE sequence to ONE
// output: an encoder (input layer, L stacked whole-sequence layers, each unidirectional or
// bidirectional) whose final representation feeds a task head: a softmax over K classes, or a
// linear regression onto m real targets.
//
// What it is not: a sequence model. It scores a task (a label or a target given the sequence),
// never p(x); nothing here is comparable with a likelihood. Next-step prediction is network.hpp.
//
// Shape letters: V alphabet size, d frame rows, E embedding size, H hidden units per direction,
// R = H or 2H (bidirectional) encoder width, L layers, B sequences in the minibatch, S steps of the
// longest one, N = S * B (step t of sequence b in column t * B + b, the memory of batching.hpp's
// B x S symbol and mask matrices and of its d x B x S frame cubes), O outputs (K or m).
//
// THE LAYERS. u_0 = embedding(x_t) (symbols; no start input: nothing is predicted from the past)
// or x_t (frames); y_l = layer_l(u_l) (R x N, bidirectional.hpp), u_{l+1} = y_l; so the layers
// above the first take R inputs. The final representation f (R x B) is the top layer's
// final_output(): for a unidirectional encoder the state at the last real step; for a
// bidirectional one [forward state at the last real step; backward state after reading x_1]
// (bidirectional.hpp says why). No residual connections, no dropout.
//
// THE HEADS (z = W f + b, O x B):
//   classify  log p(k | x) = z_k - log sum_j exp(z_j); the loss is the label's NLL in nats,
//             summed over sequences (heads.hpp's softmax head with one column per sequence).
//   regress   prediction y = z; the loss is the squared error sum_j (y_j - t_j)^2 summed over
//             sequences and components, i.e. a Gaussian of fixed unit variance up to a factor
//             1/2 and a constant. Its mean over the B * m components is the MSE.
//
// PARAMETERS (one ParameterSet, in this order):
//   "embedding"              E x V    symbols only; column v = symbol v
//   "l<k>.<block>"           layer k's forward cell (cell headers); inputs E or d for k = 0, R above
//   "l<k>.reverse.<block>"   layer k's backward cell (bidirectional only)
//   "head.weight"            O x R
//   "head.bias"              O x 1
// Element type T = float (training) or double (scoring, gradient checks), compiled for both.
#pragma once

#include <armadillo>
#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "seqlab/core/rng.hpp"
#include "seqlab/data/dataset.hpp"
#include "seqlab/models/rnn/bidirectional.hpp"
#include "seqlab/models/rnn/elman.hpp"
#include "seqlab/models/rnn/gru.hpp"
#include "seqlab/models/rnn/heads.hpp"
#include "seqlab/models/rnn/leaky.hpp"
#include "seqlab/models/rnn/lstm.hpp"
#include "seqlab/models/rnn/network.hpp"
#include "seqlab/models/rnn/parameters.hpp"

namespace seqlab::rnn {

enum class Task { classify, regress };

// "classify" or "regress"; parse_task requires one of them (else UserError naming `key`).
std::string to_string(Task task);
Task parse_task(const std::string& text, const std::string& key);

// The architecture.
struct TaskNetworkConfig {
  Task task = Task::classify;
  SequenceKind kind = SequenceKind::symbols;  // selects the input layer
  arma::uword input_size = 0;                 // V for symbols, d for frames; >= 1
  arma::uword embedding = 0;                  // E, symbols only; >= 1
  CellType cell = CellType::lstm;
  arma::uword hidden = 0;                     // H >= 1 (per direction)
  arma::uword layers = 1;                     // L >= 1
  bool bidirectional = false;
  Activation activation = Activation::tanh;   // elman, leaky
  LeakyOptions leaky;                         // leaky (its activation field is ignored)
  // leaky: tau per cell overriding leaky.tau, in registration order (l0, l0 reverse, l1, ...:
  // L or 2L entries), or empty.
  std::vector<arma::vec> cell_tau;
  GruVariant gru_variant = GruVariant::cho;   // gru
  arma::uword outputs = 0;                    // K >= 2 classes, or m >= 1 target components
};

// Requires nothing. Ensures: returns if every size is in range, else UserError naming the field.
void validate(const TaskNetworkConfig& config);

// A summed loss and how many terms it has, so that minibatches combine exactly.
struct TaskLoss {
  double sum = 0.0;       // classify: label NLL in nats; regress: squared error
  arma::uword count = 0;  // classify: sequences; regress: sequences x components
  double mean() const { return count == 0 ? 0.0 : sum / static_cast<double>(count); }
};

// ---- the regression head -------------------------------------------------------------------

// Requires: weight m x R, bias m elements, features R x B, targets m x B.
// Ensures: out = weight * features + bias (m x B); returns the summed squared error and m * B.
//   Shape mismatches throw std::invalid_argument. Cost: one GEMM m x R x B.
template <class T>
TaskLoss squared_error_head_forward(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                                    const arma::Mat<T>& features, const arma::Mat<T>& targets,
                                    arma::Mat<T>& out);

// Gradient of scale * (summed squared error).
// Requires: the out and targets of the matching forward; d_weight m x R, d_bias m elements.
// Ensures: d_features (R x B) WRITTEN; d_weight and d_bias ACCUMULATED (+=). Cost: two GEMMs.
template <class T>
void squared_error_head_backward(const arma::Mat<T>& weight, const arma::Mat<T>& features,
                                 const arma::Mat<T>& targets, const arma::Mat<T>& out,
                                 double scale, arma::Mat<T>& d_features, arma::Mat<T>& d_weight,
                                 arma::Mat<T>& d_bias);

// ---- the network ---------------------------------------------------------------------------

template <class T>
class TaskNetwork {
public:
  using Layer = std::variant<Unidirectional<ElmanCell<T>>, Unidirectional<LeakyCell<T>>,
                             Unidirectional<LstmCell<T>>, Unidirectional<GruCell<T>>,
                             Bidirectional<ElmanCell<T>>, Bidirectional<LeakyCell<T>>,
                             Bidirectional<LstmCell<T>>, Bidirectional<GruCell<T>>>;

  // Requires: validate(config) passes (it is called). Ensures: every block registered and
  // allocated, all zeros (uniform class probabilities, predictions 0) until init().
  explicit TaskNetwork(const TaskNetworkConfig& config);

  // Ensures: embedding N(0, 1); each cell by its own init, forward direction before reverse,
  // layer by layer; head weight Glorot-uniform, head bias 0. Draws from rng only, in that order.
  void init(Rng& rng);

  const TaskNetworkConfig& config() const { return config_; }
  ParameterSet<T>& params() { return params_; }
  const ParameterSet<T>& params() const { return params_; }
  const Layer& layer(arma::uword l) const { return layers_.at(l); }
  // "l<k>." (the reverse cell adds "reverse.").
  static std::string layer_prefix(arma::uword layer);
  // R: H, or 2H when bidirectional.
  arma::uword feature_size() const;

  // Encodes a padded minibatch of B whole sequences.
  // Requires: symbols B x S (each < V on real steps) for a symbol network, or frames d x N plus
  //   streams = B for a frame network (else std::invalid_argument); mask null or N elements whose
  //   real steps form a prefix of each row. symbols / frames and mask stay alive and unchanged
  //   until backward().
  // Ensures: features() holds f, R x B. Cost: the layers' forward passes; no allocation when B
  //   and S repeat.
  void encode(const arma::umat& symbols, const arma::Mat<T>* mask);
  void encode(const arma::Mat<T>& frames, arma::uword streams, const arma::Mat<T>* mask);
  const arma::Mat<T>& features() const { return features_; }

  // Requires: an encode() before. Ensures: returns O x B: class log-probabilities (classify) or
  // predictions (regress) of the encoded sequences.
  const arma::Mat<T>& predict();

  // Requires: an encode() before; classify: labels with B elements, each < K; regress: targets
  //   m x B (else std::invalid_argument). They stay alive until backward().
  // Ensures: predict()'s outputs computed and kept; returns the summed loss (see THE HEADS).
  TaskLoss loss(const arma::umat& labels);
  TaskLoss loss(const arma::Mat<T>& targets);

  // Requires: loss() just before (same inputs alive). Ensures: params().gradients() INCREASED by
  // scale * d(loss.sum)/d(theta). Cost about twice encode.
  void backward(double scale);

private:
  TaskNetworkConfig config_;
  ParameterSet<T> params_;
  std::size_t embedding_ = 0, head_weight_ = 0, head_bias_ = 0;
  std::vector<Layer> layers_;

  // Workspace of the last minibatch.
  const arma::umat* symbols_ = nullptr;
  const arma::Mat<T>* frames_ = nullptr;
  const arma::Mat<T>* mask_ = nullptr;
  const arma::umat* labels_ = nullptr;
  const arma::Mat<T>* targets_ = nullptr;
  arma::uword streams_ = 0;
  arma::Mat<T> input_;                 // E x N embedded symbols
  std::vector<arma::Mat<T>> out_;      // per layer: R x N
  arma::Mat<T> features_;              // R x B
  HeadWorkspace<T> head_ws_;           // out: O x B log-probabilities / predictions
  arma::Mat<T> d_features_, d_act_, d_in_;  // backward scratch
};

}  // namespace seqlab::rnn
