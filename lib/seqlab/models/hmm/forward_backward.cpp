// seqlab/models/hmm/forward_backward.cpp: the batched scaled recursions and the log-space
// reference (see forward_backward.hpp for shapes, layout and the scaling equations).
#include "seqlab/models/hmm/forward_backward.hpp"

#include <algorithm>
#include <cmath>
#include <numeric>
#include <stdexcept>

#include "seqlab/core/logmath.hpp"

namespace seqlab {

namespace {
// A non-owning N x cols view of columns [first, first + cols) of `m` (no allocation, no copy).
// Callers declare the view const when they only read through it.
arma::mat columns_view(const arma::mat& m, arma::uword first, arma::uword cols) {
  return arma::mat(const_cast<double*>(m.colptr(first)), m.n_rows, cols, false, true);
}

// Neumaier's compensated summation: sum + carry tracks the exact running total far better than
// plain addition (10^7 terms of similar size would otherwise lose about 1e-11 relative).
void add_compensated(double& sum, double& carry, double term) {
  const double next = sum + term;
  if (std::abs(sum) >= std::abs(term))
    carry += (sum - next) + term;
  else
    carry += (term - next) + sum;
  sum = next;
}
}  // namespace

BatchLayout make_batch_layout(const std::vector<arma::uword>& lengths) {
  BatchLayout l;
  l.order.resize(lengths.size());
  std::iota(l.order.begin(), l.order.end(), arma::uword{0});
  std::stable_sort(l.order.begin(), l.order.end(),
                   [&](arma::uword a, arma::uword b) { return lengths[a] > lengths[b]; });
  l.lengths.resize(lengths.size());
  for (std::size_t k = 0; k < lengths.size(); ++k) l.lengths[k] = lengths[l.order[k]];
  const arma::uword longest = l.lengths.empty() ? 0 : l.lengths.front();
  l.active.assign(longest, 0);
  for (arma::uword len : l.lengths)
    for (arma::uword t = 0; t < len; ++t) ++l.active[t];
  l.offset.assign(longest + 1, 0);
  for (arma::uword t = 0; t < longest; ++t) l.offset[t + 1] = l.offset[t] + l.active[t];
  return l;
}

void BatchPass::prepare(const std::vector<arma::uword>& lengths, arma::uword states) {
  layout = make_batch_layout(lengths);
  const arma::uword c = layout.columns();
  const arma::uword b = lengths.size();
  emission.set_size(states, c);
  alpha.set_size(states, c);
  scale.set_size(c);
  offset.set_size(c);
  beta_now.set_size(states, b);
  beta_next.set_size(states, b);
  log_likelihood.set_size(b);
  compensation.set_size(b);
  impossible.assign(b, 0);
}

void forward_batch(const arma::vec& initial, const arma::mat& transition, BatchPass& pass) {
  const BatchLayout& l = pass.layout;
  const arma::uword n = transition.n_rows;
  const arma::uword steps = l.active.size();
  pass.log_likelihood.zeros();
  pass.compensation.zeros();
  std::fill(pass.impossible.begin(), pass.impossible.end(), 0);
  for (arma::uword t = 0; t < steps; ++t) {
    const arma::uword b = l.active[t];
    const arma::uword first = l.offset[t];
    arma::mat now = columns_view(pass.alpha, first, b);
    if (t == 0) {
      for (arma::uword k = 0; k < b; ++k) now.col(k) = initial;
    } else {
      // The active sequences of step t are the first b columns of step t-1.
      const arma::mat previous = columns_view(pass.alpha, l.offset[t - 1], b);
      now = transition.t() * previous;
    }
    for (arma::uword k = 0; k < b; ++k) {
      double* a = now.colptr(k);
      const double* e = pass.emission.colptr(first + k);
      double c = 0.0;
      for (arma::uword i = 0; i < n; ++i) {
        a[i] *= e[i];
        c += a[i];
      }
      if (c > 0.0) {
        const double inv = 1.0 / c;
        for (arma::uword i = 0; i < n; ++i) a[i] *= inv;
        pass.scale(first + k) = c;
        add_compensated(pass.log_likelihood(k), pass.compensation(k), std::log(c));
        add_compensated(pass.log_likelihood(k), pass.compensation(k), pass.offset(first + k));
      } else {
        // Probability 0: keep exact zeros (no NaN downstream), flag the sequence.
        pass.scale(first + k) = 1.0;
        pass.impossible[k] = 1;
      }
    }
  }
  for (std::size_t k = 0; k < pass.impossible.size(); ++k)
    pass.log_likelihood(k) = pass.impossible[k] ? kNegInf
                                                : pass.log_likelihood(k) + pass.compensation(k);
}

void backward_batch(const arma::mat& transition, BatchPass& pass, arma::mat* xi_counts) {
  const BatchLayout& l = pass.layout;
  for (char bad : pass.impossible)
    if (bad) throw std::logic_error("backward_batch: a sequence has probability 0");
  const arma::uword n = transition.n_rows;
  const arma::uword steps = l.active.size();
  if (steps == 0) return;
  // beta_next holds beta^ of step t for the active sequences (column k = sequence k).
  pass.beta_next.ones();
  for (arma::uword t = steps; t-- > 0;) {
    const arma::uword b = l.active[t];
    const arma::uword first = l.offset[t];
    // gamma_t = alpha^_t o beta^_t, written over alpha^_t once w_t and the counts used it.
    // w_t = b_t o beta^_t / c_t over the emission columns (b_t is not needed afterwards).
    for (arma::uword k = 0; k < b; ++k) {
      double* e = pass.emission.colptr(first + k);
      const double* beta = pass.beta_next.colptr(k);
      const double inv = 1.0 / pass.scale(first + k);
      for (arma::uword i = 0; i < n; ++i) e[i] *= beta[i] * inv;
    }
    if (t > 0) {
      const arma::mat w = columns_view(pass.emission, first, b);
      const arma::mat previous = columns_view(pass.alpha, l.offset[t - 1], b);
      if (xi_counts != nullptr) *xi_counts += previous * w.t();
      arma::mat beta_prev = columns_view(pass.beta_now, 0, b);
      beta_prev = transition * w;
      // Sequences ending at step t-1 (k >= b) start their backward pass with beta^ = 1.
      const arma::uword b_prev = l.active[t - 1];
      for (arma::uword k = b; k < b_prev; ++k) pass.beta_now.col(k).ones();
    }
    for (arma::uword k = 0; k < b; ++k) {
      double* a = pass.alpha.colptr(first + k);
      const double* beta = pass.beta_next.colptr(k);
      for (arma::uword i = 0; i < n; ++i) a[i] *= beta[i];
    }
    pass.beta_now.swap(pass.beta_next);
  }
  if (xi_counts != nullptr) {
    // The GEMMs summed alpha^_{t-1}(i) w_t(j); xi also carries A(i, j).
    *xi_counts %= transition;
  }
}

double log_space_forward(const arma::vec& log_initial, const arma::mat& log_transition,
                         const arma::mat& log_emission, arma::mat& log_alpha) {
  const arma::uword n = log_transition.n_rows;
  const arma::uword steps = log_emission.n_cols;
  log_alpha.set_size(n, steps);
  if (steps == 0) return 0.0;
  log_alpha.col(0) = log_initial + log_emission.col(0);
  std::vector<double> terms(n);
  for (arma::uword t = 1; t < steps; ++t)
    for (arma::uword j = 0; j < n; ++j) {
      for (arma::uword i = 0; i < n; ++i) terms[i] = log_alpha(i, t - 1) + log_transition(i, j);
      log_alpha(j, t) = log_sum_exp(terms.begin(), terms.end()) + log_emission(j, t);
    }
  const arma::vec last = log_alpha.col(steps - 1);
  return log_sum_exp(last.begin(), last.end());
}

void log_space_backward(const arma::mat& log_transition, const arma::mat& log_emission,
                        arma::mat& log_beta) {
  const arma::uword n = log_transition.n_rows;
  const arma::uword steps = log_emission.n_cols;
  log_beta.set_size(n, steps);
  if (steps == 0) return;
  log_beta.col(steps - 1).zeros();
  std::vector<double> terms(n);
  for (arma::uword t = steps - 1; t-- > 0;)
    for (arma::uword i = 0; i < n; ++i) {
      for (arma::uword j = 0; j < n; ++j)
        terms[j] = log_transition(i, j) + log_emission(j, t + 1) + log_beta(j, t + 1);
      log_beta(i, t) = log_sum_exp(terms.begin(), terms.end());
    }
}

}  // namespace seqlab
