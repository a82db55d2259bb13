// seqlab/models/rnn/network.hpp: a whole recurrent network for next-step prediction: input layer,
// L stacked recurrent layers of one cell type, optional residual connections and dropout between
// layers, and one output head, run over time-major windows of truncated BPTT with the state
// carried from window to window.
//
// Shape letters: V alphabet size, d frame dimension, E embedding size, H hidden size, L layers,
// B streams, S steps in a window, N = S * B columns (step t of stream b is column t * B + b, the
// memory of a B x S symbol / mask matrix or of a d x B x S frame cube).
//
// THE PREDICTION CONVENTION. The head at step t scores x_t, and the network INPUT at step t is
// x_{t-1}; at the first step of a sequence the input is a "start" input: for symbols the extra
// embedding column V (learned like any other), for frames a zero frame. So the first step is
// predicted too, from the start input and the zero initial state, and a window needs nothing but
// its own targets plus the last target of the previous window (kept in NetworkState).
//
// THE LAYERS (a_l is what layer l hands on; a_{-1} is the input layer's output):
//   u_0 = embedding(x_{t-1}) (symbols) or x_{t-1} (frames);    u_l = a_{l-1} for l >= 1
//   y_l = cell_l(u_l)  (+ u_l when residual and l >= 1: every layer above the first is H wide)
//   a_l = dropout(y_l) (inverted dropout with keep probability 1 - p, only when a dropout Rng is
//         passed to forward(), i.e. during training; evaluation uses a_l = y_l)
//   head(a_{L-1}) scores x_t.
// The recurrent state of layer l is the cell's own state (h, c, the delay history; y for a
// Jordan cell), never the residual sum.
//
// PARAMETERS. One ParameterSet holds every trainable array, registered in this order:
//   "embedding"          E x (V+1)   symbols only; column v = symbol v, column V = start input
//   "l<k>.<block>"       the blocks of layer k's cell (elman.hpp, leaky.hpp, lstm.hpp, gru.hpp,
//                        jordan.hpp)
//   "head.weight"        O x H       O = V (softmax), d (bernoulli) or 2d (gaussian)
//   "head.bias"          O x 1
// Model files map these names to PyTorch's (rnn_model.hpp).
//
// Element type T = float (training) or double (scoring, gradient checks), compiled for both.
#pragma once

#include <armadillo>
#include <cstddef>
#include <string>
#include <variant>
#include <vector>

#include "seqlab/core/rng.hpp"
#include "seqlab/data/dataset.hpp"
#include "seqlab/models/rnn/cell.hpp"
#include "seqlab/models/rnn/elman.hpp"
#include "seqlab/models/rnn/gru.hpp"
#include "seqlab/models/rnn/heads.hpp"
#include "seqlab/models/rnn/jordan.hpp"
#include "seqlab/models/rnn/leaky.hpp"
#include "seqlab/models/rnn/lstm.hpp"
#include "seqlab/models/rnn/parameters.hpp"

namespace seqlab::rnn {

// New types are appended: the numeric values never change.
enum class CellType { elman, leaky, lstm, gru, jordan };

// G, the number of gate blocks of a cell type: its input weights are G H x D (Elman, leaky and
// Jordan 1, GRU 3, LSTM 4).
arma::uword gate_blocks(CellType cell);

// The model-file / CLI name of a cell type: "rnn" (Elman), "leaky", "lstm", "gru", "jordan".
std::string model_type_name(CellType cell);
// Requires: one of the names above (else UserError naming `key` and the choices).
CellType parse_model_type(const std::string& name, const std::string& key);

// The architecture (no training settings).
struct NetworkConfig {
  SequenceKind kind = SequenceKind::symbols;  // selects input layer and head
  arma::uword input_size = 0;  // V for symbols, d for frames; >= 1
  arma::uword embedding = 0;   // E, symbols only; >= 1
  CellType cell = CellType::lstm;
  arma::uword hidden = 0;      // H >= 1
  arma::uword layers = 1;      // L >= 1
  Activation activation = Activation::tanh;  // elman, leaky, jordan
  arma::uword delay = 0;                     // elman, leaky: time-delay connection of D steps,
                                             // 0 = none, else 2..kMaxDelay
  LeakyOptions leaky;                        // leaky (its activation and delay fields are
                                             // ignored)
  std::vector<arma::vec> layer_tau;          // leaky: per-layer tau overriding leaky.tau
                                             // (L entries) or empty
  GruVariant gru_variant = GruVariant::cho;  // gru
  bool residual = false;
  double dropout = 0.0;        // in [0, 1)
};

// The longest time-delay connection: its carried history costs H (D - 1) B values per layer,
// and a delay longer than this is far beyond any window truncated BPTT trains on.
inline constexpr arma::uword kMaxDelay = 100000;

// Requires nothing. Ensures: returns if the sizes are >= 1 where required, dropout in [0, 1)
// and delay 0 or 2..kMaxDelay on an elman or leaky cell, and the parameters (values and
// gradients) fit in the machine's memory, else UserError naming the field or the sizes.
void validate(const NetworkConfig& config);

// A lower bound on the trainable scalars of a network of `config` (embedding, every layer's
// input and recurrent weights, head), in long double so hostile sizes cannot overflow. Cost O(L).
long double parameter_lower_bound(const NetworkConfig& config);

// What a network carries from one window to the next, for B streams.
template <class T>
struct NetworkState {
  std::vector<RecurrentState<T>> layers;  // per layer: h H x B (and c for LSTM, the delay
                                          // history H x (D-1)B for a delay)
  arma::urowvec last_symbol;              // 1 x B: next network input (V = start), symbols
  arma::Mat<T> last_frame;                // d x B: next network input (zeros = start), frames
  arma::uword streams() const { return layers.empty() ? 0 : layers.front().h.n_cols; }
};

template <class T>
class Network {
public:
  using Cell = std::variant<ElmanCell<T>, LeakyCell<T>, LstmCell<T>, GruCell<T>, JordanCell<T>>;

  // Requires: validate(config) passes (it is called). Ensures: every parameter block registered
  // and allocated (all zeros); call init() for random values.
  explicit Network(const NetworkConfig& config);

  // Ensures: embedding entries N(0, 1) (as nn.Embedding: inputs of unit variance suit the
  // Glorot-scaled input weights); each cell by its own init (orthogonal / Glorot); head weight
  // Glorot-uniform, head bias 0. Draws from rng only, in registration order.
  void init(Rng& rng);

  const NetworkConfig& config() const { return config_; }
  ParameterSet<T>& params() { return params_; }
  const ParameterSet<T>& params() const { return params_; }
  const Cell& cell(arma::uword layer) const { return cells_.at(layer); }
  // The ParameterSet prefix of layer k's cell blocks: "l<k>.".
  static std::string layer_prefix(arma::uword layer);
  // O: V, d or 2d.
  arma::uword head_outputs() const;

  // Ensures: the initial state of `streams` streams (zero states, start inputs).
  NetworkState<T> initial_state(arma::uword streams) const;
  // Requires: reset of state.streams() elements. Ensures: every stream b with reset(b) != 0 is
  // back to the initial state (zero h, c and delay history; the start input).
  void reset_streams(NetworkState<T>& state, const arma::uvec& reset) const;

  // One window over B = state.streams() streams.
  // Requires: targets B x S symbols (each < V on real steps) / d x N frames; mask null or N
  //   elements (0 = padding; real steps form a prefix of each row, as batching.hpp delivers);
  //   reset null or B elements (applied to `state` first). The targets and the mask must stay
  //   alive and unchanged until backward().
  // Ensures: returns the window's summed NLL and real-step count; step_log_probs() holds
  //   log p(x_t | x_<t) per column (0 on padding); `state` advanced past the window (the carried
  //   state and the last target of each row). dropout_rng non-null = training mode (dropout
  //   masks drawn from it); null = evaluation. Cost: the cells' forward costs plus one head GEMM;
  //   no allocation when B and S repeat.
  HeadLoss forward(const arma::umat& targets, const arma::Mat<T>* mask, const arma::uvec* reset,
                   NetworkState<T>& state, Rng* dropout_rng);
  HeadLoss forward(const arma::Mat<T>& targets, const arma::Mat<T>* mask, const arma::uvec* reset,
                   NetworkState<T>& state, Rng* dropout_rng);

  // Requires: a forward() just before on this object (same targets and mask alive).
  // Ensures: params().gradients() INCREASED by scale * d(nll_sum)/d(theta) (truncated at the
  //   window start: the carried state counts as a constant). Cost about twice forward.
  void backward(double scale);

  // 1 x N: log p(target | past) of the last forward, 0 on padding.
  const arma::Mat<T>& step_log_probs() const { return head_ws_.step_log_prob; }

  // One step for every stream of `state`: consumes the pending input (last_symbol / last_frame),
  // advances the recurrent state, and writes the head's prediction for the next step:
  // softmax log-probabilities V x B, bernoulli logits d x B, or gaussian (means; log-variances)
  // 2d x B. The caller then sets last_symbol / last_frame to the value it picks.
  void predict(NetworkState<T>& state, arma::Mat<T>& prediction);

private:
  // Layers 0..L-1 over the current input_ (and input symbols), then the carried state.
  void run_layers(const arma::Mat<T>* mask, NetworkState<T>& state, Rng* dropout_rng);

  NetworkConfig config_;
  ParameterSet<T> params_;
  std::size_t embedding_ = 0, head_weight_ = 0, head_bias_ = 0;
  std::vector<Cell> cells_;

  // Workspace of the last window.
  arma::umat input_symbols_;          // B x S: x_{t-1} (symbols)
  arma::Mat<T> input_;                // E x N or d x N: u_0
  std::vector<arma::Mat<T>> cell_out_;  // per layer: H x N, the cell's output
  std::vector<arma::Mat<T>> act_;       // per layer: a_l H x N (used when residual or dropout)
  std::vector<arma::Mat<T>> drop_;      // per layer: the dropout multipliers (0 or 1 / keep)
  std::vector<const arma::Mat<T>*> act_used_;  // per layer: the a_l of the last forward
  bool dropped_ = false;
  arma::Mat<T> d_act_, d_in_;           // backward scratch
  // Symbols into a ProjectedInputCell: input_ holds the projection P (R x N) gathered from
  // input_table_ = W_ih E (R x (V+1)) instead of the embeddings (cell.hpp, PROJECTED INPUT).
  bool projected_ = false;
  arma::Mat<T> input_table_, d_input_table_;
  HeadWorkspace<T> head_ws_;
  const arma::umat* target_symbols_ = nullptr;
  const arma::Mat<T>* target_frames_ = nullptr;
  const arma::Mat<T>* mask_ = nullptr;
};

}  // namespace seqlab::rnn
