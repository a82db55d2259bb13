// seqlab/models/hmm/forward_backward.cpp: the batched scaled recursions and the log-space
// reference (see forward_backward.hpp for shapes, layout and the scaling equations).
#include "seqlab/models/hmm/forward_backward.hpp"
#include "seqlab/models/hmm/forward_backward_float.hpp"

#include <sys/mman.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <numeric>
#include <stdexcept>

#include "seqlab/core/logmath.hpp"
#include "seqlab/core/parallel.hpp"
#include "seqlab/core/vector_clones.hpp"

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
// Large N x C buffers are written once per pass and read back in reverse: transparent huge pages
// (where the kernel offers them on request) cut the page faults of a fresh buffer 512-fold and
// the TLB misses of the reverse sweep. Advice only: nothing changes where it is not supported.
template <class Matrix>
void advise_huge_pages(Matrix& m) {
  constexpr std::uintptr_t huge = std::uintptr_t{1} << 21;
  const std::size_t bytes = m.n_elem * sizeof(typename Matrix::elem_type);
  if (bytes < 4 * huge) return;
  const auto begin = reinterpret_cast<std::uintptr_t>(m.memptr());
  const std::uintptr_t first = (begin + huge - 1) & ~(huge - 1);
  const std::uintptr_t last = (begin + bytes) & ~(huge - 1);
  if (last > first) ::madvise(reinterpret_cast<void*>(first), last - first, MADV_HUGEPAGE);
}

// backward_batch adds each step's expected-transition product straight into the N x N sum up to
// this N (the sum, 512 KiB, stays in the L2 cache); above it, it gathers steps into products of
// up to kGatherColumns columns (measured at N = 1024: 217 s per Baum-Welch iteration per step,
// 149 s gathered; at N = 64 the per-step kernels are the faster).
constexpr arma::uword kStepXiStates = 256;
constexpr arma::uword kGatherColumns = 2048;

// sum[i] += g[i] for i < n (a gamma column into a per-state sum).
[[gnu::always_inline]] inline void add_to(double* __restrict sum, const double* __restrict g,
                                          arma::uword n) {
  for (arma::uword i = 0; i < n; ++i) sum[i] += g[i];
}

// a[i] *= e[i] for i < n; returns the sum of the products. Eight partial sums (added pairwise at
// the end, a fixed order): one running sum is a chain of dependent additions the compiler may
// not reorder, which made this loop a third of the forward pass at N = 64.
[[gnu::always_inline]] inline double multiply_and_sum(double* __restrict a,
                                                     const double* __restrict e, arma::uword n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  arma::uword i = 0;
  for (; i + 8 <= n; i += 8)
    for (arma::uword j = 0; j < 8; ++j) {
      a[i + j] *= e[i + j];
      s[j] += a[i + j];
    }
  for (arma::uword j = 0; i < n; ++i, ++j) {
    a[i] *= e[i];
    s[j] += a[i];
  }
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
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
    w_now.set_size(states, b);
    w_transposed.set_size(b, states);
    xi_raw.set_size(states, states);
    if (states > kStepXiStates) {
      xi_alpha.set_size(states, std::max(kGatherColumns, b));
      xi_w.set_size(std::max(kGatherColumns, b), states);
    }
  }
  log_likelihood.set_size(b);
  compensation.set_size(b);
  impossible.assign(b, 0);
}

void BatchPass::forget_products(arma::uword states) {
  if (step_states == states) return;
  step_products.clear();
  xi_products.clear();
  step_states = states;
}

const StepGemm<double>& BatchPass::step_product(arma::uword states, arma::uword b) {
  forget_products(states);
  if (step_products.size() <= b) step_products.resize(b + 1);
  if (step_products[b].rows() == 0)
    step_products[b] = StepGemm<double>(states, b, states, states, states, states, false);
  return step_products[b];
}

const StepGemm<double>& BatchPass::xi_product(arma::uword states, arma::uword b) {
  forget_products(states);
  if (xi_products.size() <= b) xi_products.resize(b + 1);
  if (xi_products[b].rows() == 0)
    xi_products[b] = StepGemm<double>(states, states, b, states, b, states, true);
  return xi_products[b];
}

void forward_batch(const arma::vec& initial, const arma::mat& transition, BatchPass& pass) {
  // A^T stored once: the per-step product is then a plain (non-transposed) one, which the
  // step kernels need (and which OpenBLAS, their fallback, also runs faster at small N).
  pass.transition_t = transition.t();
  forward_batch_transposed(initial, pass.transition_t, pass);
}

// The recursions' element-wise loops (emission products, rescaling, gamma sums) run between
// small GEMMs and took a third of a pass at N = 64 in baseline SSE2 code, so both recursions are
// compiled per vector width (core/vector_clones.hpp).
SEQLAB_VECTOR_CLONES
void forward_batch_transposed(const arma::vec& initial, const arma::mat& transition_t,
                              BatchPass& pass) {
  const BatchLayout& l = pass.layout;
  const arma::uword n = transition_t.n_rows;
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
      pass.step_product(n, b)(transition_t.memptr(), alpha_of(t - 1), now.memptr());
    }
    for (arma::uword k = 0; k < b; ++k) {
      double* a = now.colptr(k);
      const double* e = pass.emission_column(first + k);
      const double c = multiply_and_sum(a, e, n);
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

SEQLAB_VECTOR_CLONES
void backward_batch(const arma::mat& transition, BatchPass& pass, arma::mat* xi_counts,
                    const GammaSums* sums) {
  const BatchLayout& l = pass.layout;
  if (!pass.keep_alpha) throw std::logic_error("backward_batch: the pass did not keep alpha");
  for (char bad : pass.impossible)
    if (bad) throw std::logic_error("backward_batch: a sequence has probability 0");
  const arma::uword n = transition.n_rows;
  const arma::uword steps = l.active.size();
  if (steps == 0) return;
  if (xi_counts != nullptr) pass.xi_raw.zeros();
  arma::mat* table_sums = sums != nullptr ? sums->table : nullptr;
  if (table_sums != nullptr && (!pass.use_table || table_sums->n_rows != n ||
                                table_sums->n_cols != pass.emission_table.n_cols))
    throw std::logic_error("backward_batch: table sums need a table source and N x M");

  // Going down from the last step: at step t, w_t (N x b) and its transpose, then
  // xi_raw += alpha^_{t-1} w_t^T (N x b by b x N, the first b columns of step t-1), then
  // gamma_t = alpha^_t o beta^_t over alpha^_t (step t+1's product was its last reader), then
  // beta^_{t-1} = A w_t. beta_next holds beta^ of step t (column k = sequence k).
  // Up to N = 256 the N x N sum stays in cache and each step adds its product straight into it
  // (one small kernel, no packing); above, steps are gathered (see below).
  const bool gathered = n > kStepXiStates;
  arma::uword gathered_columns = 0;
  const auto flush_gathered = [&] {
    if (gathered_columns == 0) return;
    pass.xi_raw += pass.xi_alpha.cols(0, gathered_columns - 1) *
                   pass.xi_w.rows(0, gathered_columns - 1);
    gathered_columns = 0;
  };
  pass.beta_next.ones();
  for (arma::uword t = steps; t-- > 1;) {
    const arma::uword b = l.active[t];
    const arma::uword first = l.offset[t];
    double* alpha_t = pass.alpha.colptr(first);
    for (arma::uword k = 0; k < b; ++k) {
      const double* e = pass.emission_column(first + k);
      double* beta = pass.beta_next.colptr(k);
      double* w = pass.w_now.colptr(k);
      double* gamma = alpha_t + k * n;
      const double inv = 1.0 / pass.scale(first + k);
      for (arma::uword i = 0; i < n; ++i) {
        w[i] = e[i] * beta[i] * inv;
        gamma[i] *= beta[i];
      }
      if (table_sums != nullptr) add_to(table_sums->colptr(pass.table_index[first + k]), gamma, n);
    }
    if (xi_counts != nullptr) {
      // w_t^T (b x N, leading dimension b) in place, so neither path makes a temporary.
      arma::mat w_t(pass.w_transposed.memptr(), b, n, false, true);
      w_t = pass.w_now.cols(0, b - 1).t();
      const double* alpha_prev = pass.alpha.colptr(l.offset[t - 1]);  // first b columns of t-1
      if (gathered) {
        // Large N: the N x N sum would be read and written at every step, so steps are gathered
        // (alpha^_{t-1} blocks side by side, w_t^T blocks stacked) and added up in one product.
        if (gathered_columns + b > pass.xi_alpha.n_cols) flush_gathered();
        std::copy(alpha_prev, alpha_prev + n * b, pass.xi_alpha.colptr(gathered_columns));
        pass.xi_w.rows(gathered_columns, gathered_columns + b - 1) = w_t;
        gathered_columns += b;
      } else {
        pass.xi_product(n, b)(alpha_prev, w_t.memptr(), pass.xi_raw.memptr());
      }
    }
    pass.step_product(n, b)(transition.memptr(), pass.w_now.memptr(), pass.beta_now.memptr());
    // Sequences ending at step t-1 (k >= b) start their backward pass with beta^ = 1.
    const arma::uword b_prev = l.active[t - 1];
    for (arma::uword k = b; k < b_prev; ++k) pass.beta_now.col(k).ones();
    pass.beta_now.swap(pass.beta_next);
  }
  // Step 0: gamma_0 = alpha^_0 o beta^_0.
  arma::vec* initial = sums != nullptr ? sums->initial : nullptr;
  for (arma::uword k = 0; k < l.active[0]; ++k) {
    double* a = pass.alpha.colptr(l.offset[0] + k);
    const double* beta = pass.beta_next.colptr(k);
    for (arma::uword i = 0; i < n; ++i) a[i] *= beta[i];
    if (table_sums != nullptr) add_to(table_sums->colptr(pass.table_index[l.offset[0] + k]), a, n);
    if (initial != nullptr) add_to(initial->memptr(), a, n);
  }
  flush_gathered();
  if (xi_counts != nullptr) {
    // The products summed alpha^_{t-1}(i) w_t(j); xi also carries A(i, j).
    *xi_counts += pass.xi_raw % transition;
  }
}

double scale_log_column(double* column, arma::uword n) {
  double top = kNegInf;
  for (arma::uword i = 0; i < n; ++i) top = std::max(top, column[i]);
  if (top == kNegInf) {
    std::fill(column, column + n, 0.0);
    return 0.0;
  }
  for (arma::uword i = 0; i < n; ++i) column[i] = std::exp(column[i] - top);
  return top;
}

// ---- float32 recursions (forward_backward_float.hpp) ----------------------------------------

namespace {
// Depth chunk of the wide products (FloatStepProduct): 64 x b floats of B (12.5 KiB at b = 50)
// stay in the L1 cache across all row tiles (measured at N = 4096, b = 50: chunks of 32 and 64
// at 100 GFLOP/s on one thread, 128 at 90, 256 at 68, full depth at 29).
constexpr arma::uword kFloatDepthChunk = 64;
// The small-matrix kernels' row tile (core/step_gemm.cpp): thread row ranges are whole tiles.
constexpr arma::uword kFloatRowTile = 64;

float flushed_float(double v) {
  const float f = static_cast<float>(v);
  return std::abs(f) < std::numeric_limits<float>::min() ? 0.0f : f;
}

// a[i] *= e[i] for i < n; returns the sum of the products, added in double (eight partial sums,
// added pairwise at the end: a fixed order).
[[gnu::always_inline]] inline double multiply_and_sum_float(float* __restrict a,
                                                           const float* __restrict e,
                                                           arma::uword n) {
  double s[8] = {0, 0, 0, 0, 0, 0, 0, 0};
  arma::uword i = 0;
  for (; i + 8 <= n; i += 8)
    for (arma::uword j = 0; j < 8; ++j) {
      a[i + j] *= e[i + j];
      s[j] += static_cast<double>(a[i + j]);
    }
  for (arma::uword j = 0; i < n; ++i, ++j) {
    a[i] *= e[i];
    s[j] += static_cast<double>(a[i]);
  }
  return ((s[0] + s[4]) + (s[2] + s[6])) + ((s[1] + s[5]) + (s[3] + s[7]));
}

// sum[i] += g[i] for i < n: a float column into a double sum.
[[gnu::always_inline]] inline void add_float_to(double* __restrict sum,
                                                const float* __restrict g, arma::uword n) {
  for (arma::uword i = 0; i < n; ++i) sum[i] += static_cast<double>(g[i]);
}
}  // namespace

void FloatModel::set(const arma::vec& initial_in, const arma::mat& transition_in,
                     arma::mat log_table) {
  const arma::uword n = initial_in.n_elem;
  const arma::uword m = log_table.n_cols;
  initial.set_size(n);
  for (arma::uword i = 0; i < n; ++i) initial(i) = flushed_float(initial_in(i));
  transition.set_size(n, n);
  for (arma::uword k = 0; k < n * n; ++k) transition(k) = flushed_float(transition_in(k));
  transition_t = transition.t();
  table.set_size(n, m);
  table_offset.set_size(m);
  for (arma::uword s = 0; s < m; ++s) {
    table_offset(s) = scale_log_column(log_table.colptr(s), n);
    for (arma::uword i = 0; i < n; ++i) table(i, s) = flushed_float(log_table(i, s));
  }
}

FloatStepProduct::FloatStepProduct(arma::uword states, arma::uword columns, unsigned parts)
    : states_(states), columns_(columns) {
  const bool wide = states > kFloatWideStates;
  depth_chunk_ = wide ? std::min(states, kFloatDepthChunk) : states;
  if (!wide) parts = 1;
  const arma::uword tiles = (states + kFloatRowTile - 1) / kFloatRowTile;
  const arma::uword used = std::clamp<arma::uword>(parts, 1, tiles);
  const arma::uword chunks = (states + depth_chunk_ - 1) / depth_chunk_;
  const arma::uword last_depth = states - (chunks - 1) * depth_chunk_;
  const arma::uword ld = states;
  for (arma::uword p = 0; p < used; ++p) {
    const arma::uword begin = tiles * p / used * kFloatRowTile;
    const arma::uword end = std::min(states, tiles * (p + 1) / used * kFloatRowTile);
    Part part;
    part.row = begin;
    const arma::uword rows = end - begin;
    part.head = StepGemm<float>(rows, columns, chunks == 1 ? states : depth_chunk_, ld, ld, ld,
                                false);
    if (chunks > 2) part.body = StepGemm<float>(rows, columns, depth_chunk_, ld, ld, ld, true);
    if (chunks > 1) part.tail = StepGemm<float>(rows, columns, last_depth, ld, ld, ld, true);
    parts_.push_back(std::move(part));
  }
}

void FloatStepProduct::operator()(const float* a, const float* b, float* c) const {
  const arma::uword n = states_;
  const arma::uword chunks = (n + depth_chunk_ - 1) / depth_chunk_;
  const auto run_part = [&](const Part& part) {
    const float* a_rows = a + part.row;
    float* c_rows = c + part.row;
    part.head(a_rows, b, c_rows);
    for (arma::uword j = 1; j + 1 < chunks; ++j)
      part.body(a_rows + j * depth_chunk_ * n, b + j * depth_chunk_, c_rows);
    if (chunks > 1)
      part.tail(a_rows + (chunks - 1) * depth_chunk_ * n, b + (chunks - 1) * depth_chunk_, c_rows);
  };
  if (parts_.size() == 1) {
    run_part(parts_.front());
    return;
  }
  run_units(parts_.size(), static_cast<unsigned>(parts_.size()),
            [&](std::size_t unit, unsigned) { run_part(parts_[unit]); });
}

const FloatStepProduct& FloatBatchPass::product(arma::uword states, arma::uword b,
                                                unsigned parts) {
  if (product_states != states || product_parts != parts) {
    products.clear();
    product_states = states;
    product_parts = parts;
  }
  if (products.size() <= b) products.resize(b + 1);
  if (products[b].columns() == 0) products[b] = FloatStepProduct(states, b, parts);
  return products[b];
}

void FloatBatchPass::prepare(const std::vector<arma::uword>& lengths, arma::uword states,
                             bool keep_all_alpha) {
  layout = make_batch_layout(lengths);
  keep_alpha = keep_all_alpha;
  const arma::uword c = layout.columns();
  const arma::uword b = lengths.size();
  symbol.set_size(c);
  alpha.set_size(states, keep_alpha ? c : 2 * b);
  advise_huge_pages(alpha);
  scale.set_size(c);
  beta_now.set_size(states, b);
  beta_next.set_size(states, b);
  if (keep_alpha) {
    w_now.set_size(states, b);
    xi_alpha.set_size(states, std::max(kFloatGatherColumns, b));
    xi_w.set_size(states, std::max(kFloatGatherColumns, b));
    xi_block.set_size(states, states);
    xi_raw.set_size(states, states);
  }
  log_likelihood.set_size(b);
  compensation.set_size(b);
  impossible.assign(b, 0);
}

SEQLAB_VECTOR_CLONES
void forward_batch_float(const FloatModel& model, FloatBatchPass& pass, unsigned threads) {
  const BatchLayout& l = pass.layout;
  const arma::uword n = model.initial.n_elem;
  const arma::uword steps = l.active.size();
  const arma::uword batch = l.lengths.size();
  pass.log_likelihood.zeros();
  pass.compensation.zeros();
  std::fill(pass.impossible.begin(), pass.impossible.end(), 0);
  auto alpha_of = [&](arma::uword t) {
    return pass.keep_alpha ? pass.alpha.colptr(l.offset[t]) : pass.alpha.colptr((t % 2) * batch);
  };
  for (arma::uword t = 0; t < steps; ++t) {
    const arma::uword b = l.active[t];
    const arma::uword first = l.offset[t];
    float* now = alpha_of(t);
    if (t == 0) {
      for (arma::uword k = 0; k < b; ++k)
        std::copy(model.initial.begin(), model.initial.end(), now + k * n);
    } else {
      pass.product(n, b, threads)(model.transition_t.memptr(), alpha_of(t - 1), now);
    }
    for (arma::uword k = 0; k < b; ++k) {
      float* a = now + k * n;
      const arma::uword symbol = pass.symbol(first + k);
      const float c = static_cast<float>(multiply_and_sum_float(a, model.table.colptr(symbol), n));
      if (c >= std::numeric_limits<float>::min()) {
        const float inv = 1.0f / c;
        for (arma::uword i = 0; i < n; ++i) a[i] *= inv;
        pass.scale(first + k) = c;
        add_compensated(pass.log_likelihood(k), pass.compensation(k),
                        std::log(static_cast<double>(c)));
        add_compensated(pass.log_likelihood(k), pass.compensation(k), model.table_offset(symbol));
      } else {
        std::fill(a, a + n, 0.0f);
        pass.scale(first + k) = 1.0f;
        pass.impossible[k] = 1;
      }
    }
  }
  for (std::size_t k = 0; k < pass.impossible.size(); ++k)
    pass.log_likelihood(k) = pass.impossible[k] ? kNegInf
                                                : pass.log_likelihood(k) + pass.compensation(k);
}

SEQLAB_VECTOR_CLONES
void backward_batch_float(const FloatModel& model, const arma::mat& transition,
                          FloatBatchPass& pass, arma::mat* xi_counts, const GammaSums& sums,
                          unsigned threads) {
  const BatchLayout& l = pass.layout;
  if (!pass.keep_alpha) throw std::logic_error("backward_batch_float: the pass did not keep alpha");
  for (char bad : pass.impossible)
    if (bad) throw std::logic_error("backward_batch_float: a sequence has probability 0");
  const arma::uword n = model.initial.n_elem;
  const arma::uword steps = l.active.size();
  if (steps == 0) return;
  arma::mat* table_sums = sums.table;
  if (table_sums != nullptr &&
      (table_sums->n_rows != n || table_sums->n_cols != model.table.n_cols))
    throw std::logic_error("backward_batch_float: table sums need N x M");
  if (xi_counts != nullptr) pass.xi_raw.zeros();
  // Steps gathered side by side (alpha^_{t-1} blocks in xi_alpha, w_t blocks in xi_w): one float
  // product of depth up to kFloatGatherColumns, added into the double sum.
  arma::uword gathered = 0;
  // Above kFloatWideStates the threads share the product by column ranges of single-threaded
  // BLAS calls: BLAS threads of its own would spin (sched_yield) between calls, taking the cores
  // from the step products that run in between.
  const arma::uword parts =
      n > kFloatWideStates ? std::clamp<arma::uword>(threads, 1, n) : arma::uword{1};
  const auto flush = [&] {
    if (gathered == 0) return;
    const auto part = [&](std::size_t p, unsigned) {
      const arma::uword begin = n * p / parts, end = n * (p + 1) / parts;
      if (begin == end) return;
      // xi_block(:, begin:end) = alpha_block (N x g) * (w_block(begin:end, :))^T
      const char no = 'N', yes = 'T';
      const arma::blas_int m = static_cast<arma::blas_int>(n);
      const arma::blas_int cols = static_cast<arma::blas_int>(end - begin);
      const arma::blas_int depth = static_cast<arma::blas_int>(gathered);
      const float one = 1.0f, zero = 0.0f;
      arma::blas::gemm<float>(&no, &yes, &m, &cols, &depth, &one, pass.xi_alpha.memptr(), &m,
                              pass.xi_w.memptr() + begin, &m, &zero,
                              pass.xi_block.colptr(begin), &m);
      add_float_to(pass.xi_raw.colptr(begin), pass.xi_block.colptr(begin), n * (end - begin));
    };
    run_units(parts, static_cast<unsigned>(parts), part);
    gathered = 0;
  };
  pass.beta_next.ones();
  for (arma::uword t = steps; t-- > 1;) {
    const arma::uword b = l.active[t];
    const arma::uword first = l.offset[t];
    float* alpha_t = pass.alpha.colptr(first);
    for (arma::uword k = 0; k < b; ++k) {
      const arma::uword symbol = pass.symbol(first + k);
      const float* e = model.table.colptr(symbol);
      const float* beta = pass.beta_next.colptr(k);
      float* w = pass.w_now.colptr(k);
      float* gamma = alpha_t + k * n;
      const float inv = 1.0f / pass.scale(first + k);
      for (arma::uword i = 0; i < n; ++i) {
        w[i] = e[i] * beta[i] * inv;
        gamma[i] *= beta[i];
      }
      if (table_sums != nullptr) add_float_to(table_sums->colptr(symbol), gamma, n);
    }
    if (xi_counts != nullptr) {
      if (gathered + b > pass.xi_alpha.n_cols) flush();
      const float* alpha_prev = pass.alpha.colptr(l.offset[t - 1]);  // first b columns of t-1
      std::copy(alpha_prev, alpha_prev + n * b, pass.xi_alpha.colptr(gathered));
      std::copy(pass.w_now.memptr(), pass.w_now.memptr() + n * b, pass.xi_w.colptr(gathered));
      gathered += b;
    }
    pass.product(n, b, threads)(model.transition.memptr(), pass.w_now.memptr(),
                                pass.beta_now.memptr());
    const arma::uword b_prev = l.active[t - 1];
    for (arma::uword k = b; k < b_prev; ++k) pass.beta_now.col(k).ones();
    pass.beta_now.swap(pass.beta_next);
  }
  for (arma::uword k = 0; k < l.active[0]; ++k) {
    const arma::uword column = l.offset[0] + k;
    float* a = pass.alpha.colptr(column);
    const float* beta = pass.beta_next.colptr(k);
    for (arma::uword i = 0; i < n; ++i) a[i] *= beta[i];
    if (table_sums != nullptr) add_float_to(table_sums->colptr(pass.symbol(column)), a, n);
    if (sums.initial != nullptr) add_float_to(sums.initial->memptr(), a, n);
  }
  flush();
  if (xi_counts != nullptr) *xi_counts += pass.xi_raw % transition;
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
