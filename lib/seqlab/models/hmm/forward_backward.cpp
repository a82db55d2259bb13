// seqlab/models/hmm/forward_backward.cpp: the batched scaled recursions and the log-space
// reference (see forward_backward.hpp for shapes, layout and the scaling equations).
#include "seqlab/models/hmm/forward_backward.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <stdexcept>

#include "seqlab/core/logmath.hpp"

namespace seqlab {

namespace {
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

namespace {
// Columns of the w_t / beta^_t run buffers: large enough that the transition-count GEMM of a run
// has a long inner dimension (it then runs near the machine's GEMM peak), small enough to stay
// in cache-friendly sizes.
constexpr arma::uword kRunColumns = 4096;

// Large N x C buffers are written once per pass and read back in reverse: transparent huge pages
// (where the kernel offers them on request) cut the page faults of a fresh buffer 512-fold and
// the TLB misses of the reverse sweep. Advice only: nothing changes where it is not supported.
void advise_huge_pages(arma::mat& m) {
  constexpr std::uintptr_t huge = std::uintptr_t{1} << 21;
  const std::size_t bytes = m.n_elem * sizeof(double);
  if (bytes < 4 * huge) return;
  const auto begin = reinterpret_cast<std::uintptr_t>(m.memptr());
  const std::uintptr_t first = (begin + huge - 1) & ~(huge - 1);
  const std::uintptr_t last = (begin + bytes) & ~(huge - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}
}  // namespace

void BatchPass::prepare(const std::vector<arma::uword>& lengths, arma::uword states, bool table,
                        bool keep_all_alpha) {
  layout = make_batch_layout(lengths);
  use_table = table;
  keep_alpha = keep_all_alpha;
  const arma::uword c = layout.columns();
  const arma::uword b = lengths.size();
  if (table) {
    emission.reset();
    table_index.set_size(c);
  } else {
    emission.set_size(states, c);
    table_index.reset();
  }
  alpha.set_size(states, keep_alpha ? c : 2 * b);
  advise_huge_pages(alpha);
  if (!table) advise_huge_pages(emission);
  scale.set_size(c);
  offset.set_size(c);
  beta_now.set_size(states, b);
  beta_next.set_size(states, b);
  if (keep_alpha) {
    chunk_w.set_size(states, std::max(kRunColumns, b));
    chunk_beta.set_size(states, std::max(kRunColumns, b));
    xi_raw.set_size(states, states);
  }
  log_likelihood.set_size(b);
  compensation.set_size(b);
  impossible.assign(b, 0);
}

const StepGemm<double>& BatchPass::step_product(arma::uword states, arma::uword b) {
  if (step_states != states) {
    step_products.clear();
    step_states = states;
  }
  if (step_products.size() <= b) step_products.resize(b + 1);
  if (step_products[b].rows() == 0)
    step_products[b] = StepGemm<double>(states, b, states, states, states, states, false);
  return step_products[b];
}

void forward_batch(const arma::vec& initial, const arma::mat& transition, BatchPass& pass) {
  const BatchLayout& l = pass.layout;
  // A^T stored once: the per-step product is then a plain (non-transposed) one, which the
  // step kernels need (and which OpenBLAS, their fallback, also runs faster at small N).
  pass.transition_t = transition.t();
  const arma::uword n = transition.n_rows;
  const arma::uword steps = l.active.size();
  const arma::uword batch = l.lengths.size();
  pass.log_likelihood.zeros();
  pass.compensation.zeros();
  std::fill(pass.impossible.begin(), pass.impossible.end(), 0);
  // Where alpha^ of step t lives: its own columns, or one half of the two-step ring.
  auto alpha_of = [&](arma::uword t) {
    return pass.keep_alpha ? pass.alpha.colptr(l.offset[t]) : pass.alpha.colptr((t % 2) * batch);
  };
  for (arma::uword t = 0; t < steps; ++t) {
    const arma::uword b = l.active[t];
    const arma::uword first = l.offset[t];
    arma::mat now(alpha_of(t), n, b, false, true);
    if (t == 0) {
      for (arma::uword k = 0; k < b; ++k) now.col(k) = initial;
    } else {
      // The active sequences of step t are the first b columns of step t-1.
      pass.step_product(n, b)(pass.transition_t.memptr(), alpha_of(t - 1), now.memptr());
    }
    for (arma::uword k = 0; k < b; ++k) {
      double* a = now.colptr(k);
      const double* e = pass.emission_column(first + k);
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
  if (!pass.keep_alpha) throw std::logic_error("backward_batch: the pass did not keep alpha");
  for (char bad : pass.impossible)
    if (bad) throw std::logic_error("backward_batch: a sequence has probability 0");
  const arma::uword n = transition.n_rows;
  const arma::uword steps = l.active.size();
  if (steps == 0) return;
  if (xi_counts != nullptr) pass.xi_raw.zeros();

  // RUNS. The counts sum_t alpha^_{t-1} w_t^T are taken as one GEMM per run of steps [t0, top]
  // whose alpha^_{t-1} columns (the first b_t of step t-1) and w_t columns are each contiguous:
  // every step of a run has the same b_t = b, and b_{t-1} = b for all but the lowest step.
  // w_t and beta^_t of the run are kept in chunk_w / chunk_beta (step t0 leftmost), and gamma of
  // the run's steps is written over their alpha^ only after the run's GEMM has read them.
  const arma::uword capacity_columns = pass.chunk_w.n_cols;
  arma::uword run_b = 0, run_steps = 0, run_top = 0;
  auto run_block = [&](arma::uword t) {  // first chunk column of step t's block
    const arma::uword capacity = capacity_columns / run_b;
    return (capacity - 1 - (run_top - t)) * run_b;
  };
  auto flush = [&]() {
    if (run_steps == 0) return;
    const arma::uword t0 = run_top + 1 - run_steps;
    const arma::uword cols = run_steps * run_b;
    const arma::uword first_w = run_block(t0);
    if (xi_counts != nullptr) {
      const arma::mat a(pass.alpha.colptr(l.offset[t0 - 1]), n, cols, false, true);
      const arma::mat w(pass.chunk_w.colptr(first_w), n, cols, false, true);
      pass.xi_raw += a * w.t();
    }
    for (arma::uword t = t0; t <= run_top; ++t) {
      double* a = pass.alpha.colptr(l.offset[t]);
      const double* beta = pass.chunk_beta.colptr(run_block(t));
      for (arma::uword i = 0; i < n * run_b; ++i) a[i] *= beta[i];
    }
    run_steps = 0;
  };

  // beta_next holds beta^ of step t for the active sequences (column k = sequence k).
  pass.beta_next.ones();
  for (arma::uword t = steps; t-- > 1;) {
    const arma::uword b = l.active[t];
    const arma::uword first = l.offset[t];
    // Step t pairs with the run's lowest step t+1 when both have b active sequences and
    // alpha^_{t-1}'s first b columns end where alpha^_t begins, i.e. b_{t-1} == b.
    const bool joins = run_steps > 0 && b == run_b && l.active[t - 1] == b &&
                       (run_steps + 1) * run_b <= capacity_columns;
    if (!joins) {
      flush();
      run_b = b;
      run_top = t;
    }
    // w_t = b_t o beta^_t / c_t, and beta^_t kept for gamma.
    const arma::uword block = run_block(t);
    for (arma::uword k = 0; k < b; ++k) {
      const double* e = pass.emission_column(first + k);
      const double* beta = pass.beta_next.colptr(k);
      double* w = pass.chunk_w.colptr(block + k);
      double* kept = pass.chunk_beta.colptr(block + k);
      const double inv = 1.0 / pass.scale(first + k);
      for (arma::uword i = 0; i < n; ++i) {
        w[i] = e[i] * beta[i] * inv;
        kept[i] = beta[i];
      }
    }
    ++run_steps;
    pass.step_product(n, b)(transition.memptr(), pass.chunk_w.colptr(block),
                            pass.beta_now.memptr());
    // Sequences ending at step t-1 (k >= b) start their backward pass with beta^ = 1.
    const arma::uword b_prev = l.active[t - 1];
    for (arma::uword k = b; k < b_prev; ++k) pass.beta_now.col(k).ones();
    pass.beta_now.swap(pass.beta_next);
  }
  flush();
  // Step 0: gamma_0 = alpha^_0 o beta^_0.
  for (arma::uword k = 0; k < l.active[0]; ++k) {
    double* a = pass.alpha.colptr(l.offset[0] + k);
    const double* beta = pass.beta_next.colptr(k);
    for (arma::uword i = 0; i < n; ++i) a[i] *= beta[i];
  }
  if (xi_counts != nullptr) {
    // The GEMMs summed alpha^_{t-1}(i) w_t(j); xi also carries A(i, j).
    *xi_counts += pass.xi_raw % transition;
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
