// seqlab/models/rnn/heads.hpp: output heads of a recurrent network: they turn a window of hidden
// states into log p(x_t | x_<t) for every step, the summed negative log-likelihood and its
// gradient. One head per kind of data:
//
//   softmax    symbols in an alphabet of V       W: V x h,  b: V
//   bernoulli  binary frames of d units          W: d x h,  b: d
//   gaussian   real vectors of d components      W: 2d x h, b: 2d (means, then log-variances)
//
// Exact log-densities (natural logs), written out so that they compare term by term with the
// HMM emissions (models/hmm/categorical, bernoulli, gaussian), which score the same x_t:
//   softmax:   z = W h + b;  log p(x = v) = z_v - log sum_u exp(z_u)
//   bernoulli: l = W h + b (logits, p_j = sigmoid(l_j));
//              log p(x) = sum_j [x_j l_j - softplus(l_j)] = sum_j [x_j log p_j + (1-x_j)
//              log(1-p_j)] with softplus(l) = log(1 + exp(l)) computed as max(l, 0) +
//              log1p(exp(-|l|)).
//   gaussian:  (mu; s) = W h + b, s = log-variance;
//              log p(x) = -0.5 sum_j [log(2 pi) + s_j + (x_j - mu_j)^2 exp(-s_j)]
//              (a density, so it is comparable only with other densities over the same data).
//
// Alignment is the caller's: hidden column i scores target column i. To predict x_t from x_<t the
// caller passes the state that has seen x_0..x_{t-1} (the initial state for t = 0) in column i.
//
// Shape letters: h = hidden size, V = alphabet size, d = frame dimension, S = steps, B = streams,
// N = S * B columns in TIME-MAJOR order (step t of stream b is column t*B + b; a B x S matrix of
// batching.hpp has exactly this memory order). A mask has N elements (any shape, read in memory
// order), 0 = padding; a null mask means every step is real. Padding steps score 0, add nothing to
// the loss and get zero gradient, and their target is never read. (Mask parameters are spelled
// std::type_identity_t<arma::Mat<T>>* so they take no part in deducing T: nullptr works.)
//
// Typical use for one window: loss = forward(...); backward(..., 1.0 / total_count, ...) where
// total_count sums loss.count over everything the mean is taken over (one window or a minibatch).
//
// Costs: the logits of a whole window are ONE GEMM (out x h x N); backward is two GEMMs (dH and
// dW) plus O(out * N) element-wise work. Element type T = float (training) or double (gradient
// checks), compiled for both in heads.cpp; sums of log-probabilities are accumulated in double.
#pragma once

#include <armadillo>
#include <type_traits>

namespace seqlab::rnn {

// The loss of one window: NLL summed over real steps and how many real steps there were, so that
// mean losses over several windows combine exactly (sum the sums, sum the counts).
struct HeadLoss {
  double nll_sum = 0.0;   // -sum over real steps of log p(target_i | hidden_i), nats
  arma::uword count = 0;  // number of real (unmasked) steps
  double mean() const { return count == 0 ? 0.0 : nll_sum / static_cast<double>(count); }
};

// What forward keeps for backward, plus the per-step scores. Sized by the first call (or by
// prepare); later calls with the same shape do not allocate.
template <class T>
struct HeadWorkspace {
  // softmax: V x N log-probabilities; bernoulli: d x N logits; gaussian: 2d x N (means in rows
  // 0..d-1, log-variances in rows d..2d-1).
  arma::Mat<T> out;
  arma::Mat<T> step_log_prob;  // 1 x N: log p(target_i | hidden_i), 0 on padding
  arma::Mat<T> d_out;          // backward scratch, same shape as out

  // Ensures: every buffer has its final shape for `outputs` rows and `steps` columns.
  void prepare(arma::uword outputs, arma::uword steps);
};

// ---- predictions without targets (evaluation, sampling) ------------------------------------

// Requires: weight V x h, bias V elements, hidden h x N.
// Ensures: out V x N with out(v, i) = log p(v | hidden_i); each column's exp sums to 1.
template <class T>
void softmax_head_predict(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                          const arma::Mat<T>& hidden, arma::Mat<T>& out);

// Requires: weight d x h, bias d elements, hidden h x N. Ensures: out d x N logits.
template <class T>
void bernoulli_head_predict(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                            const arma::Mat<T>& hidden, arma::Mat<T>& out);

// Requires: weight 2d x h, bias 2d elements, hidden h x N.
// Ensures: out 2d x N: means in rows 0..d-1, log-variances in rows d..2d-1.
template <class T>
void gaussian_head_predict(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                           const arma::Mat<T>& hidden, arma::Mat<T>& out);

// ---- softmax over an alphabet ---------------------------------------------------------------

// Requires: as softmax_head_predict; targets N symbols (read in memory order), each < V on real
//   steps (else std::invalid_argument); mask null or N elements. Shape mismatches throw
//   std::invalid_argument.
// Ensures: ws.out = log-probabilities, ws.step_log_prob filled; returns the window's HeadLoss.
template <class T>
HeadLoss softmax_head_forward(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                              const arma::Mat<T>& hidden, const arma::umat& targets,
                              const std::type_identity_t<arma::Mat<T>>* mask, HeadWorkspace<T>& ws);

// Gradient of scale * nll_sum (scale = 1 / count gives the mean loss).
// Requires: the workspace, targets and mask of the matching forward call; d_weight V x h and
//   d_bias V elements (views into a flat gradient buffer are fine).
// Ensures: d_hidden (h x N) is WRITTEN (resized if its shape differs; zero on padding columns);
//   d_weight and d_bias are ACCUMULATED (+=). Cost: two GEMMs of V x h x N.
template <class T>
void softmax_head_backward(const arma::Mat<T>& weight, const arma::Mat<T>& hidden,
                           const arma::umat& targets,
                           const std::type_identity_t<arma::Mat<T>>* mask, double scale,
                           HeadWorkspace<T>& ws, arma::Mat<T>& d_hidden, arma::Mat<T>& d_weight,
                           arma::Mat<T>& d_bias);

// ---- independent Bernoulli units (binary frames) ---------------------------------------------

// Requires: as bernoulli_head_predict; targets d x N with entries 0 or 1 (other values in [0, 1]
//   give the cross-entropy, which is not a log-probability); mask null or N elements.
// Ensures: ws.out = logits, ws.step_log_prob = log p(frame_i) summed over units; the HeadLoss.
template <class T>
HeadLoss bernoulli_head_forward(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                                const arma::Mat<T>& hidden, const arma::Mat<T>& targets,
                                const std::type_identity_t<arma::Mat<T>>* mask,
                                HeadWorkspace<T>& ws);

// As softmax_head_backward, with d_weight d x h and d_bias d elements.
template <class T>
void bernoulli_head_backward(const arma::Mat<T>& weight, const arma::Mat<T>& hidden,
                             const arma::Mat<T>& targets,
                             const std::type_identity_t<arma::Mat<T>>* mask, double scale,
                             HeadWorkspace<T>& ws, arma::Mat<T>& d_hidden, arma::Mat<T>& d_weight,
                             arma::Mat<T>& d_bias);

// ---- diagonal Gaussian (real vectors) --------------------------------------------------------

// Requires: as gaussian_head_predict; targets d x N; mask null or N elements.
// Ensures: ws.out = (means; log-variances), ws.step_log_prob = log-density of each frame; the
//   HeadLoss. The log-variance is not bounded: a model that drives it to -inf on a repeated
//   value has an unbounded likelihood, as any Gaussian does (regularise or floor upstream).
template <class T>
HeadLoss gaussian_head_forward(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                               const arma::Mat<T>& hidden, const arma::Mat<T>& targets,
                               const std::type_identity_t<arma::Mat<T>>* mask,
                               HeadWorkspace<T>& ws);

// As softmax_head_backward, with d_weight 2d x h and d_bias 2d elements.
template <class T>
void gaussian_head_backward(const arma::Mat<T>& weight, const arma::Mat<T>& hidden,
                            const arma::Mat<T>& targets,
                            const std::type_identity_t<arma::Mat<T>>* mask, double scale,
                            HeadWorkspace<T>& ws, arma::Mat<T>& d_hidden, arma::Mat<T>& d_weight,
                            arma::Mat<T>& d_bias);

}  // namespace seqlab::rnn
