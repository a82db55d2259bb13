// seqlab/models/rnn/heads.cpp: softmax, Bernoulli and diagonal Gaussian output heads.
#include "seqlab/models/rnn/heads.hpp"

#include <algorithm>
#include <cmath>
#include <stdexcept>
#include <string>

namespace seqlab::rnn {

namespace {

std::string shape(arma::uword rows, arma::uword cols) {
  return std::to_string(rows) + " x " + std::to_string(cols);
}

template <class T>
bool is_real(const arma::Mat<T>* mask, arma::uword i) {
  return mask == nullptr || (*mask)(i) != T(0);
}

template <class T>
void check_affine(const char* who, const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                  const arma::Mat<T>& hidden) {
  if (weight.n_cols != hidden.n_rows || bias.n_elem != weight.n_rows) {
    throw std::invalid_argument(std::string(who) + ": weight " +
                                shape(weight.n_rows, weight.n_cols) + ", bias of " +
                                std::to_string(bias.n_elem) + ", hidden " +
                                shape(hidden.n_rows, hidden.n_cols) + " do not fit");
  }
}

template <class T>
void check_mask(const char* who, const arma::Mat<T>* mask, arma::uword steps) {
  if (mask != nullptr && mask->n_elem != steps) {
    throw std::invalid_argument(std::string(who) + ": mask has " + std::to_string(mask->n_elem) +
                                " elements, expected " + std::to_string(steps));
  }
}

template <class T>
void check_frames(const char* who, const arma::Mat<T>& targets, arma::uword dim,
                  arma::uword steps) {
  if (targets.n_rows != dim || targets.n_cols != steps) {
    throw std::invalid_argument(std::string(who) + ": targets are " +
                                shape(targets.n_rows, targets.n_cols) + ", expected " +
                                shape(dim, steps));
  }
}

template <class T>
void resize_if_needed(arma::Mat<T>& m, arma::uword rows, arma::uword cols) {
  if (m.n_rows != rows || m.n_cols != cols) m.set_size(rows, cols);
}

// out = weight * hidden + bias (bias added to every column): one GEMM for the whole window.
template <class T>
void affine(const arma::Mat<T>& weight, const arma::Mat<T>& bias, const arma::Mat<T>& hidden,
            arma::Mat<T>& out) {
  resize_if_needed(out, weight.n_rows, hidden.n_cols);
  out = weight * hidden;
  const T* b = bias.memptr();
  for (arma::uword i = 0; i < out.n_cols; ++i) {
    T* column = out.colptr(i);
    for (arma::uword r = 0; r < out.n_rows; ++r) column[r] += b[r];
  }
}

// The shared tail of every backward: dH = W^T dOut (written), dW += dOut H^T, db += rows of dOut.
template <class T>
void finish_backward(const char* who, const arma::Mat<T>& weight, const arma::Mat<T>& hidden,
                     const arma::Mat<T>& d_out, arma::Mat<T>& d_hidden, arma::Mat<T>& d_weight,
                     arma::Mat<T>& d_bias) {
  if (d_weight.n_rows != weight.n_rows || d_weight.n_cols != weight.n_cols ||
      d_bias.n_elem != weight.n_rows) {
    throw std::invalid_argument(std::string(who) + ": d_weight must be " +
                                shape(weight.n_rows, weight.n_cols) + " and d_bias of " +
                                std::to_string(weight.n_rows));
  }
  resize_if_needed(d_hidden, hidden.n_rows, hidden.n_cols);
  d_hidden = weight.t() * d_out;
  d_weight += d_out * hidden.t();
  T* db = d_bias.memptr();
  for (arma::uword i = 0; i < d_out.n_cols; ++i) {
    const T* column = d_out.colptr(i);
    for (arma::uword r = 0; r < d_out.n_rows; ++r) db[r] += column[r];
  }
}

template <class T>
void check_workspace(const char* who, const HeadWorkspace<T>& ws, arma::uword outputs,
                     arma::uword steps) {
  if (ws.out.n_rows != outputs || ws.out.n_cols != steps) {
    throw std::invalid_argument(std::string(who) +
                                ": workspace does not hold a forward pass of this window");
  }
}

// log(1 + exp(l)) without overflow for large l or loss of precision for very negative l.
template <class T>
T softplus(T l) {
  return std::max(l, T(0)) + std::log1p(std::exp(-std::abs(l)));
}

template <class T>
T sigmoid(T l) {
  if (l >= T(0)) return T(1) / (T(1) + std::exp(-l));
  const T e = std::exp(l);
  return e / (T(1) + e);
}

constexpr double kLog2Pi = 1.8378770664093454835606594728112;  // log(2 pi)

}  // namespace

template <class T>
void HeadWorkspace<T>::prepare(arma::uword outputs, arma::uword steps) {
  resize_if_needed(out, outputs, steps);
  resize_if_needed(step_log_prob, 1, steps);
  resize_if_needed(d_out, outputs, steps);
}

// ---- predictions -----------------------------------------------------------------------------

template <class T>
void softmax_head_predict(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                          const arma::Mat<T>& hidden, arma::Mat<T>& out) {
  check_affine("softmax head", weight, bias, hidden);
  affine(weight, bias, hidden, out);
  // Shift by the column maximum so exp never overflows and the largest term is exactly 1.
  for (arma::uword i = 0; i < out.n_cols; ++i) {
    T* z = out.colptr(i);
    const T top = *std::max_element(z, z + out.n_rows);
    T total = 0;
    for (arma::uword v = 0; v < out.n_rows; ++v) total += std::exp(z[v] - top);
    const T log_norm = top + std::log(total);
    for (arma::uword v = 0; v < out.n_rows; ++v) z[v] -= log_norm;
  }
}

template <class T>
void bernoulli_head_predict(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                            const arma::Mat<T>& hidden, arma::Mat<T>& out) {
  check_affine("bernoulli head", weight, bias, hidden);
  affine(weight, bias, hidden, out);
}

template <class T>
void gaussian_head_predict(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                           const arma::Mat<T>& hidden, arma::Mat<T>& out) {
  check_affine("gaussian head", weight, bias, hidden);
  if (weight.n_rows % 2 != 0) {
    throw std::invalid_argument("gaussian head: weight needs 2d rows (means, log-variances), has " +
                                std::to_string(weight.n_rows));
  }
  affine(weight, bias, hidden, out);
}

// ---- softmax ---------------------------------------------------------------------------------

template <class T>
HeadLoss softmax_head_forward(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                              const arma::Mat<T>& hidden, const arma::umat& targets,
                              const std::type_identity_t<arma::Mat<T>>* mask,
                              HeadWorkspace<T>& ws) {
  const arma::uword steps = hidden.n_cols;
  const arma::uword classes = weight.n_rows;
  if (targets.n_elem != steps) {
    throw std::invalid_argument("softmax head: " + std::to_string(targets.n_elem) +
                                " targets for " + std::to_string(steps) + " hidden columns");
  }
  check_mask("softmax head", mask, steps);
  ws.prepare(classes, steps);
  softmax_head_predict(weight, bias, hidden, ws.out);
  HeadLoss loss;
  for (arma::uword i = 0; i < steps; ++i) {
    if (!is_real(mask, i)) {
      ws.step_log_prob(i) = T(0);
      continue;
    }
    const arma::uword target = targets(i);
    if (target >= classes) {
      throw std::invalid_argument("softmax head: step " + std::to_string(i) + " has target " +
                                  std::to_string(target) + ", alphabet has " +
                                  std::to_string(classes));
    }
    const T log_prob = ws.out(target, i);
    ws.step_log_prob(i) = log_prob;
    loss.nll_sum -= static_cast<double>(log_prob);
    ++loss.count;
  }
  return loss;
}

template <class T>
void softmax_head_backward(const arma::Mat<T>& weight, const arma::Mat<T>& hidden,
                           const arma::umat& targets,
                           const std::type_identity_t<arma::Mat<T>>* mask, double scale,
                           HeadWorkspace<T>& ws, arma::Mat<T>& d_hidden, arma::Mat<T>& d_weight,
                           arma::Mat<T>& d_bias) {
  const arma::uword steps = hidden.n_cols;
  const arma::uword classes = weight.n_rows;
  check_workspace("softmax head backward", ws, classes, steps);
  check_mask("softmax head backward", mask, steps);
  resize_if_needed(ws.d_out, classes, steps);
  const T s = static_cast<T>(scale);
  // d(-log softmax_y)/dz = softmax - onehot(y).
  for (arma::uword i = 0; i < steps; ++i) {
    T* d = ws.d_out.colptr(i);
    if (!is_real(mask, i)) {
      std::fill(d, d + classes, T(0));
      continue;
    }
    const T* log_prob = ws.out.colptr(i);
    for (arma::uword v = 0; v < classes; ++v) d[v] = s * std::exp(log_prob[v]);
    d[targets(i)] -= s;
  }
  finish_backward("softmax head backward", weight, hidden, ws.d_out, d_hidden, d_weight, d_bias);
}

// ---- Bernoulli -------------------------------------------------------------------------------

template <class T>
HeadLoss bernoulli_head_forward(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                                const arma::Mat<T>& hidden, const arma::Mat<T>& targets,
                                const std::type_identity_t<arma::Mat<T>>* mask,
                                HeadWorkspace<T>& ws) {
  const arma::uword steps = hidden.n_cols;
  const arma::uword units = weight.n_rows;
  check_frames("bernoulli head", targets, units, steps);
  check_mask("bernoulli head", mask, steps);
  ws.prepare(units, steps);
  bernoulli_head_predict(weight, bias, hidden, ws.out);
  HeadLoss loss;
  for (arma::uword i = 0; i < steps; ++i) {
    if (!is_real(mask, i)) {
      ws.step_log_prob(i) = T(0);
      continue;
    }
    const T* logit = ws.out.colptr(i);
    const T* x = targets.colptr(i);
    T log_prob = 0;
    for (arma::uword j = 0; j < units; ++j) log_prob += x[j] * logit[j] - softplus(logit[j]);
    ws.step_log_prob(i) = log_prob;
    loss.nll_sum -= static_cast<double>(log_prob);
    ++loss.count;
  }
  return loss;
}

template <class T>
void bernoulli_head_backward(const arma::Mat<T>& weight, const arma::Mat<T>& hidden,
                             const arma::Mat<T>& targets,
                             const std::type_identity_t<arma::Mat<T>>* mask, double scale,
                             HeadWorkspace<T>& ws, arma::Mat<T>& d_hidden, arma::Mat<T>& d_weight,
                             arma::Mat<T>& d_bias) {
  const arma::uword steps = hidden.n_cols;
  const arma::uword units = weight.n_rows;
  check_workspace("bernoulli head backward", ws, units, steps);
  check_frames("bernoulli head backward", targets, units, steps);
  check_mask("bernoulli head backward", mask, steps);
  resize_if_needed(ws.d_out, units, steps);
  const T s = static_cast<T>(scale);
  // d(softplus(l) - x l)/dl = sigmoid(l) - x.
  for (arma::uword i = 0; i < steps; ++i) {
    T* d = ws.d_out.colptr(i);
    if (!is_real(mask, i)) {
      std::fill(d, d + units, T(0));
      continue;
    }
    const T* logit = ws.out.colptr(i);
    const T* x = targets.colptr(i);
    for (arma::uword j = 0; j < units; ++j) d[j] = s * (sigmoid(logit[j]) - x[j]);
  }
  finish_backward("bernoulli head backward", weight, hidden, ws.d_out, d_hidden, d_weight, d_bias);
}

// ---- diagonal Gaussian -----------------------------------------------------------------------

template <class T>
HeadLoss gaussian_head_forward(const arma::Mat<T>& weight, const arma::Mat<T>& bias,
                               const arma::Mat<T>& hidden, const arma::Mat<T>& targets,
                               const std::type_identity_t<arma::Mat<T>>* mask,
                               HeadWorkspace<T>& ws) {
  const arma::uword steps = hidden.n_cols;
  const arma::uword dim = weight.n_rows / 2;
  check_mask("gaussian head", mask, steps);
  ws.prepare(weight.n_rows, steps);
  gaussian_head_predict(weight, bias, hidden, ws.out);
  check_frames("gaussian head", targets, dim, steps);
  const T log_2pi = static_cast<T>(kLog2Pi);
  HeadLoss loss;
  for (arma::uword i = 0; i < steps; ++i) {
    if (!is_real(mask, i)) {
      ws.step_log_prob(i) = T(0);
      continue;
    }
    const T* mean = ws.out.colptr(i);
    const T* log_var = mean + dim;
    const T* x = targets.colptr(i);
    T sum = 0;
    for (arma::uword j = 0; j < dim; ++j) {
      const T r = x[j] - mean[j];
      sum += log_2pi + log_var[j] + r * r * std::exp(-log_var[j]);
    }
    const T log_prob = T(-0.5) * sum;
    ws.step_log_prob(i) = log_prob;
    loss.nll_sum -= static_cast<double>(log_prob);
    ++loss.count;
  }
  return loss;
}

template <class T>
void gaussian_head_backward(const arma::Mat<T>& weight, const arma::Mat<T>& hidden,
                            const arma::Mat<T>& targets,
                            const std::type_identity_t<arma::Mat<T>>* mask, double scale,
                            HeadWorkspace<T>& ws, arma::Mat<T>& d_hidden, arma::Mat<T>& d_weight,
                            arma::Mat<T>& d_bias) {
  const arma::uword steps = hidden.n_cols;
  const arma::uword dim = weight.n_rows / 2;
  check_workspace("gaussian head backward", ws, weight.n_rows, steps);
  check_frames("gaussian head backward", targets, dim, steps);
  check_mask("gaussian head backward", mask, steps);
  resize_if_needed(ws.d_out, weight.n_rows, steps);
  const T s = static_cast<T>(scale);
  // NLL_j = 0.5 [log 2pi + s_j + r_j^2 e^{-s_j}], r = x - mu:
  //   dNLL/dmu_j = -r_j e^{-s_j},  dNLL/ds_j = 0.5 (1 - r_j^2 e^{-s_j}).
  for (arma::uword i = 0; i < steps; ++i) {
    T* d_mean = ws.d_out.colptr(i);
    T* d_log_var = d_mean + dim;
    if (!is_real(mask, i)) {
      std::fill(d_mean, d_mean + 2 * dim, T(0));
      continue;
    }
    const T* mean = ws.out.colptr(i);
    const T* log_var = mean + dim;
    const T* x = targets.colptr(i);
    for (arma::uword j = 0; j < dim; ++j) {
      const T r = x[j] - mean[j];
      const T precision = std::exp(-log_var[j]);
      d_mean[j] = -s * r * precision;
      d_log_var[j] = s * T(0.5) * (T(1) - r * r * precision);
    }
  }
  finish_backward("gaussian head backward", weight, hidden, ws.d_out, d_hidden, d_weight, d_bias);
}

// ---- explicit instantiations -----------------------------------------------------------------

#define SEQLAB_RNN_HEADS_INSTANTIATE(T)                                                    \
  template struct HeadWorkspace<T>;                                                        \
  template void softmax_head_predict<T>(const arma::Mat<T>&, const arma::Mat<T>&,          \
                                        const arma::Mat<T>&, arma::Mat<T>&);               \
  template void bernoulli_head_predict<T>(const arma::Mat<T>&, const arma::Mat<T>&,        \
                                          const arma::Mat<T>&, arma::Mat<T>&);             \
  template void gaussian_head_predict<T>(const arma::Mat<T>&, const arma::Mat<T>&,         \
                                         const arma::Mat<T>&, arma::Mat<T>&);              \
  template HeadLoss softmax_head_forward<T>(                                               \
      const arma::Mat<T>&, const arma::Mat<T>&, const arma::Mat<T>&, const arma::umat&,    \
      const std::type_identity_t<arma::Mat<T>>*, HeadWorkspace<T>&);                       \
  template void softmax_head_backward<T>(                                                  \
      const arma::Mat<T>&, const arma::Mat<T>&, const arma::umat&,                         \
      const std::type_identity_t<arma::Mat<T>>*, double, HeadWorkspace<T>&, arma::Mat<T>&, \
      arma::Mat<T>&, arma::Mat<T>&);                                                       \
  template HeadLoss bernoulli_head_forward<T>(                                             \
      const arma::Mat<T>&, const arma::Mat<T>&, const arma::Mat<T>&, const arma::Mat<T>&,  \
      const std::type_identity_t<arma::Mat<T>>*, HeadWorkspace<T>&);                       \
  template void bernoulli_head_backward<T>(                                                \
      const arma::Mat<T>&, const arma::Mat<T>&, const arma::Mat<T>&,                       \
      const std::type_identity_t<arma::Mat<T>>*, double, HeadWorkspace<T>&, arma::Mat<T>&, \
      arma::Mat<T>&, arma::Mat<T>&);                                                       \
  template HeadLoss gaussian_head_forward<T>(                                              \
      const arma::Mat<T>&, const arma::Mat<T>&, const arma::Mat<T>&, const arma::Mat<T>&,  \
      const std::type_identity_t<arma::Mat<T>>*, HeadWorkspace<T>&);                       \
  template void gaussian_head_backward<T>(                                                 \
      const arma::Mat<T>&, const arma::Mat<T>&, const arma::Mat<T>&,                       \
      const std::type_identity_t<arma::Mat<T>>*, double, HeadWorkspace<T>&, arma::Mat<T>&, \
      arma::Mat<T>&, arma::Mat<T>&);

SEQLAB_RNN_HEADS_INSTANTIATE(float)
SEQLAB_RNN_HEADS_INSTANTIATE(double)
#undef SEQLAB_RNN_HEADS_INSTANTIATE

}  // namespace seqlab::rnn
