// seqlab/models/energy/crbm.cpp: the conditional RBM with exact per-step likelihoods (see the
// header for the model, the parameter layout and the contracts).
#include "seqlab/models/energy/crbm.hpp"

#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"
#include "seqlab/core/parallel.hpp"
#include "seqlab/io/hdf5.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEQLAB_CRBM_AVX512 1
#include <immintrin.h>
#endif

// THE ENUMERATION. Everything costs 2^H V terms per step: for step t (visible biases b_t) and
// hidden state h (W^T h), score(t, h) = c_t.h + sum_i softplus(b_ti + (W^T h)_i). Two kernels:
//
// * The fast kernel (AVX-512) uses exp(b_ti + (W^T h)_i) = p_ti q_hi with p_t = exp(b_t) per step
//   and q_h = exp(W^T h) per state, both computed once per call, so a term costs a fused
//   multiply-add and a multiply into a running product of (1 + p q) (no exp, no log), whose binary
//   exponent is moved into a separate sum every 4 factors (getexp / getmant, exact); one vector
//   log per 8 states ends the sum. The model's expectations (sigmoid = p q / (1 + p q)) use a
//   refined reciprocal. Lanes run over 8 hidden states, 4 octets at a time so the products'
//   dependency chains overlap. It needs |b_ti| <= kProductBound and |(W^T h)_i| <= kProductBound
//   (then 4 factors stay below e^640 and p q above e^-160); a step or a block of states beyond
//   that, or a CPU without AVX-512, takes the scalar kernel.
// * The scalar kernel writes softplus(x) = max(x, 0) + log(1 + exp(-|x|)), one std::exp per term
//   and one log per state (the product of the factors, each in [1, 2], is folded into the log
//   every 512 terms). Always valid, about 20 times slower.
//
// Measured on one core of an AVX-512 Xeon, H = 12, V = 88: see crbm_model.hpp.
namespace seqlab::energy {
namespace {

constexpr double kProductBound = 80.0;
constexpr std::size_t kFoldTerms = 512;
// Hidden states per kernel call on the fast path (4 octets of lanes).
constexpr arma::uword kStateChunk = 32;

// sum_i softplus(x_i + m_i) over n terms; sig (when given) receives sigmoid(x_i + m_i).
double softplus_sum_scalar(const double* x, const double* m, std::size_t n, double* sig) {
  double pos = 0.0, prod = 1.0, logs = 0.0;
  for (std::size_t i = 0; i < n; ++i) {
    const double a = x[i] + m[i];
    const double e = std::exp(-std::abs(a));
    const double one_e = 1.0 + e;
    pos += a > 0.0 ? a : 0.0;
    prod *= one_e;
    if (sig != nullptr) sig[i] = (a >= 0.0 ? 1.0 : e) / one_e;
    if ((i + 1) % kFoldTerms == 0) {
      logs += std::log(prod);
      prod = 1.0;
    }
  }
  return pos + logs + std::log(prod);
}

}  // namespace
}  // namespace seqlab::energy

#ifdef SEQLAB_CRBM_AVX512
#pragma GCC push_options
#pragma GCC target("avx512f")
extern "C" {
__m512d _ZGVeN8v_exp(__m512d);
__m512d _ZGVeN8v_log(__m512d);
}
namespace seqlab::energy {
namespace {

// GCC 12's unmasked getexp / getmant / rcp14 / max / reduce intrinsics draw spurious
// "uninitialized" warnings from its own header: the masked forms with an explicit source are
// used instead.
constexpr __mmask8 kAll = 0xFF;

// The running products of the 4 octets: multiplied by (1 + p_i q_i) and renormalised to [1, 2)
// every 4 factors, the exponents summed apart.
struct ProductLanes {
  __m512d prod[4], expo[4];
};

__attribute__((target("avx512f"))) inline void normalise(ProductLanes& l) {
  const __m512d zero = _mm512_setzero_pd();
  for (int o = 0; o < 4; ++o) {
    l.expo[o] = _mm512_add_pd(l.expo[o], _mm512_mask_getexp_pd(zero, kAll, l.prod[o]));
    l.prod[o] = _mm512_mask_getmant_pd(zero, kAll, l.prod[o], _MM_MANT_NORM_1_2, _MM_MANT_SIGN_src);
  }
}

// lanes.prod * 2^lanes.expo = prod_i (1 + p_i q[i ldq + l]) for the 32 states l at q; then
// out[l] = ch[l] + log of it.
__attribute__((target("avx512f"))) void scores_32(const double* p, const double* q, std::size_t ldq,
                                                  std::size_t n, const double* ch, double* out) {
  const __m512d one = _mm512_set1_pd(1.0);
  const __m512d ln2 = _mm512_set1_pd(0.69314718055994530942);
  ProductLanes l;
  for (int o = 0; o < 4; ++o) {
    l.prod[o] = one;
    l.expo[o] = _mm512_setzero_pd();
  }
  for (std::size_t i = 0; i < n; ++i) {
    const __m512d pi = _mm512_set1_pd(p[i]);
    const double* qi = q + i * ldq;
    for (int o = 0; o < 4; ++o)
      l.prod[o] = _mm512_mul_pd(l.prod[o], _mm512_fmadd_pd(pi, _mm512_loadu_pd(qi + 8 * o), one));
    if ((i & 3u) == 3u) normalise(l);
  }
  normalise(l);
  for (int o = 0; o < 4; ++o) {
    const __m512d log_sum = _mm512_add_pd(_ZGVeN8v_log(l.prod[o]), _mm512_mul_pd(l.expo[o], ln2));
    _mm512_storeu_pd(out + 8 * o, _mm512_add_pd(_mm512_loadu_pd(ch + 8 * o), log_sum));
  }
}

// The second pass for 32 states: w[l] = exp(score_l - lse) (scores recomputed as scores_32
// does), then for every unit i: ev8[8 i .. 8 i + 8) += sum over the octets of w sigmoid and
// g[i ldq + l] += w_l sigmoid_il, sigmoid = p q / (1 + p q).
__attribute__((target("avx512f"))) void expectations_32(const double* p, const double* q,
                                                        std::size_t ldq, std::size_t n,
                                                        const double* ch, double lse, double* w,
                                                        double* ev8, double* g) {
  scores_32(p, q, ldq, n, ch, w);
  const __m512d minus_lse = _mm512_set1_pd(-lse);
  __m512d wv[4];
  for (int o = 0; o < 4; ++o) {
    wv[o] = _ZGVeN8v_exp(_mm512_add_pd(_mm512_loadu_pd(w + 8 * o), minus_lse));
    _mm512_storeu_pd(w + 8 * o, wv[o]);
  }
  const __m512d one = _mm512_set1_pd(1.0);
  const __m512d two = _mm512_set1_pd(2.0);
  const __m512d zero = _mm512_setzero_pd();
  for (std::size_t i = 0; i < n; ++i) {
    const __m512d pi = _mm512_set1_pd(p[i]);
    const double* qi = q + i * ldq;
    double* gi = g + i * ldq;
    __m512d acc = _mm512_loadu_pd(ev8 + 8 * i);
    for (int o = 0; o < 4; ++o) {
      const __m512d qo = _mm512_loadu_pd(qi + 8 * o);
      const __m512d pq = _mm512_mul_pd(pi, qo);
      const __m512d f = _mm512_fmadd_pd(pi, qo, one);  // as in scores_32
      // 1 / f: 14 bits, then two Newton steps r (2 - f r): about full double precision.
      __m512d r = _mm512_mask_rcp14_pd(zero, kAll, f);
      r = _mm512_mul_pd(r, _mm512_fnmadd_pd(f, r, two));
      r = _mm512_mul_pd(r, _mm512_fnmadd_pd(f, r, two));
      const __m512d weighted = _mm512_mul_pd(wv[o], _mm512_mul_pd(pq, r));
      acc = _mm512_add_pd(acc, weighted);
      _mm512_storeu_pd(gi + 8 * o, _mm512_add_pd(_mm512_loadu_pd(gi + 8 * o), weighted));
    }
    _mm512_storeu_pd(ev8 + 8 * i, acc);
  }
}

// log sum_k exp(x[k]) over n >= 1 values (-inf allowed; not all -inf, nor +inf, NaN).
__attribute__((target("avx512f"))) double log_sum_exp_avx512(const double* x, std::size_t n) {
  double top = x[0];
  for (std::size_t k = 1; k < n; ++k) top = std::max(top, x[k]);
  const __m512d minus_top = _mm512_set1_pd(-top);
  __m512d sum = _mm512_setzero_pd();
  std::size_t k = 0;
  for (; k + 8 <= n; k += 8)
    sum = _mm512_add_pd(sum, _ZGVeN8v_exp(_mm512_add_pd(_mm512_loadu_pd(x + k), minus_top)));
  alignas(64) double lanes[8];
  _mm512_store_pd(lanes, sum);
  double total = ((lanes[0] + lanes[1]) + (lanes[2] + lanes[3])) +
                 ((lanes[4] + lanes[5]) + (lanes[6] + lanes[7]));
  for (; k < n; ++k) total += std::exp(x[k] - top);
  return top + std::log(total);
}

// x[k] = exp(x[k]) for k < n (the q tables).
__attribute__((target("avx512f"))) void exp_inplace(double* x, std::size_t n) {
  std::size_t k = 0;
  for (; k + 8 <= n; k += 8) _mm512_storeu_pd(x + k, _ZGVeN8v_exp(_mm512_loadu_pd(x + k)));
  for (; k < n; ++k) x[k] = std::exp(x[k]);
}

}  // namespace
}  // namespace seqlab::energy
#pragma GCC pop_options
#endif

namespace seqlab::energy {
namespace {

constexpr double kNegInfinity = -std::numeric_limits<double>::infinity();
// Hidden states per block: the block's tables (q: 256 x V doubles, 180 kB at V = 88) stay in
// the L2 cache while the steps stream past them.
constexpr arma::uword kStateBlock = 256;
// The blocks are dealt to at most this many units (contiguous runs of blocks) for threads; the
// partition depends on H only, so results do not depend on the thread count.
constexpr arma::uword kMaxStateGroups = 16;
// Steps per product of hidden biases c_t.h within a unit.
constexpr arma::uword kStepChunk = 256;

bool fast_kernel_available() {
#ifdef SEQLAB_CRBM_AVX512
  static const bool available = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return available;
#else
  return false;
#endif
}


// The per-step quantities of n steps.
struct StepBiases {
  arma::mat bt;            // V x n: b + A u
  arma::mat pt;            // V x n: exp(bt) (fast kernel only)
  arma::mat ct;            // H x n: c + B u
  std::vector<char> fast;  // per step: |b_ti| <= kProductBound for every i
};

StepBiases step_biases(const Crbm& crbm, const arma::mat& u) {
  StepBiases s;
  s.bt = crbm.A() * u;
  s.bt.each_col() += crbm.b();
  s.ct = crbm.B() * u;
  s.ct.each_col() += crbm.c();
  s.fast.assign(u.n_cols, 0);
  if (fast_kernel_available()) {
    s.pt = arma::exp(s.bt);
    for (arma::uword t = 0; t < u.n_cols; ++t)
      s.fast[t] = arma::abs(s.bt.col(t)).max() <= kProductBound ? 1 : 0;
  }
  return s;
}

// The hidden states [first, first + count) of one block.
struct StateBlock {
  std::uint64_t first = 0;
  arma::uword count = 0;
  arma::uword padded = 0;  // count rounded up to kStateChunk: the rows of q and g
  arma::mat bits;          // H x count: h_j = bit j of the state's index
  arma::mat wth;           // V x count: W^T h
  arma::mat q;             // padded x V: exp(W^T h) transposed, zero rows past count
  bool fast = false;       // the fast kernel applies: |W^T h| <= kProductBound throughout
};

void fill_block(const Crbm& crbm, std::uint64_t first, arma::uword count, StateBlock& block) {
  const arma::uword H = crbm.num_hidden();
  block.first = first;
  block.count = count;
  block.padded = (count + kStateChunk - 1) / kStateChunk * kStateChunk;
  block.bits.set_size(H, count);
  for (arma::uword k = 0; k < count; ++k)
    for (arma::uword j = 0; j < H; ++j)
      block.bits(j, k) = static_cast<double>(((first + k) >> j) & 1u);
  block.wth = crbm.W().t() * block.bits;
  block.fast = fast_kernel_available() && arma::abs(block.wth).max() <= kProductBound;
  if (!block.fast) return;
  block.q.zeros(block.padded, crbm.num_visible());
  block.q.rows(0, count - 1) = block.wth.t();
#ifdef SEQLAB_CRBM_AVX512
  for (arma::uword i = 0; i < block.q.n_cols; ++i) exp_inplace(block.q.colptr(i), count);
#endif
}

// ch = c_t.h of the block's states for steps [t0, t1): padded x (t1 - t0), -inf in the padding
// rows (so padding states get weight 0). Reuses ch's memory when the shape allows.
void hidden_bias_terms(const StateBlock& block, const StepBiases& s, arma::uword t0, arma::uword t1,
                       arma::mat& ch) {
  ch.set_size(block.padded, t1 - t0);
  ch.rows(0, block.count - 1) = block.bits.t() * s.ct.cols(t0, t1 - 1);
  if (block.padded > block.count) ch.rows(block.count, block.padded - 1).fill(kNegInfinity);
}

// log sum_k exp(scores[k]) (finite or -inf values, not all -inf).
double block_log_sum_exp(const arma::vec& scores) {
#ifdef SEQLAB_CRBM_AVX512
  if (fast_kernel_available()) return log_sum_exp_avx512(scores.memptr(), scores.n_elem);
#endif
  return log_sum_exp(scores.begin(), scores.end());
}

// How the 2^H states are cut into blocks and the blocks into groups (units of work).
struct StatePartition {
  std::uint64_t states = 0;
  arma::uword blocks = 0, groups = 0;
  arma::uword first_block(arma::uword group) const { return group * blocks / groups; }
  std::uint64_t first_state(arma::uword block) const { return std::uint64_t{block} * kStateBlock; }
  arma::uword block_size(arma::uword block) const {
    return static_cast<arma::uword>(
        std::min<std::uint64_t>(kStateBlock, states - first_state(block)));
  }
};

StatePartition partition_states(arma::uword hidden) {
  StatePartition p;
  p.states = std::uint64_t{1} << hidden;
  p.blocks = static_cast<arma::uword>((p.states + kStateBlock - 1) / kStateBlock);
  p.groups = std::min(p.blocks, kMaxStateGroups);
  return p;
}

// scores[k] = c_t.h_k + sum_i softplus(b_ti + (W^T h_k)_i) for the block's states (padded
// entries -inf), by the kernel that applies to step t and the block.
void block_scores(const StateBlock& block, const StepBiases& s, arma::uword t, const double* ch,
                  arma::vec& scores) {
  const arma::uword V = s.bt.n_rows;
  scores.set_size(block.padded);
#ifdef SEQLAB_CRBM_AVX512
  if (block.fast && s.fast[t]) {
    for (arma::uword k = 0; k < block.padded; k += kStateChunk)
      scores_32(s.pt.colptr(t), block.q.memptr() + k, block.padded, V, ch + k, scores.memptr() + k);
    return;
  }
#endif
  for (arma::uword k = 0; k < block.padded; ++k)
    scores(k) = k < block.count
                    ? ch[k] + softplus_sum_scalar(s.bt.colptr(t), block.wth.colptr(k), V, nullptr)
                    : kNegInfinity;
}

// log Z_t of every step (pass 1): units are groups of state blocks over all steps; each keeps
// log-sum-exp partials per step, merged in group order.
arma::vec log_partitions_of(const Crbm& crbm, const StepBiases& s, unsigned threads) {
  const arma::uword n = s.bt.n_cols;
  const StatePartition part = partition_states(crbm.num_hidden());
  arma::mat partial(n, part.groups);
  partial.fill(kNegInfinity);
  run_units(part.groups, threads, [&](std::size_t group, unsigned) {
    StateBlock block;
    arma::vec scores;
    arma::mat ch;
    double* lse = partial.colptr(group);
    for (arma::uword bl = part.first_block(group); bl < part.first_block(group + 1); ++bl) {
      fill_block(crbm, part.first_state(bl), part.block_size(bl), block);
      for (arma::uword t0 = 0; t0 < n; t0 += kStepChunk) {
        const arma::uword t1 = std::min(n, t0 + kStepChunk);
        hidden_bias_terms(block, s, t0, t1, ch);
        for (arma::uword t = t0; t < t1; ++t) {
          block_scores(block, s, t, ch.colptr(t - t0), scores);
          lse[t] = log_add_exp(lse[t], block_log_sum_exp(scores));
        }
      }
    }
  });
  arma::vec out(n);
  for (arma::uword t = 0; t < n; ++t) {
    double total = kNegInfinity;
    for (arma::uword g = 0; g < part.groups; ++g) total = log_add_exp(total, partial(t, g));
    out(t) = total;
  }
  return out;
}

// The data term -F_t(v_t) = b_t.v_t + sum_j softplus(c_tj + W_j. v_t) of every column, and
// p(h | v_t, u_t) when wanted.
arma::vec minus_free_energies(const Crbm& crbm, const StepBiases& s, const arma::mat& v,
                              arma::mat* hidden_probs) {
  const arma::uword n = v.n_cols;
  arma::mat pre = crbm.W() * v + s.ct;  // H x n
  arma::vec out(n);
  for (arma::uword t = 0; t < n; ++t) {
    double total = arma::dot(s.bt.col(t), v.col(t));
    for (arma::uword j = 0; j < pre.n_rows; ++j) total += softplus(pre(j, t));
    out(t) = total;
  }
  if (hidden_probs != nullptr) {
    pre.transform([](double x) { return sigmoid(x); });
    *hidden_probs = std::move(pre);
  }
  return out;
}

// The model's expectations given the log Z_t (pass 2): E_t[v] (V x n), E_t[h] (H x n) and
// sum_t E_t[h v^T] (H x V). Units are groups of state blocks over all steps; each accumulates
// over its blocks g_{h,i} = sum_t w_t(h) sigmoid(b_ti + (W^T h)_i), so the H x V term costs one
// product per block instead of one per step. Merged in group order.
struct ModelExpectations {
  arma::mat ev, eh, ehv;
};

ModelExpectations model_expectations(const Crbm& crbm, const StepBiases& s, const arma::vec& lse,
                                     unsigned threads) {
  const arma::uword V = crbm.num_visible(), H = crbm.num_hidden();
  const arma::uword n = s.bt.n_cols;
  const StatePartition part = partition_states(H);
  std::vector<ModelExpectations> partial(part.groups);
  run_units(part.groups, threads, [&](std::size_t group, unsigned) {
    ModelExpectations& out = partial[group];
    out.ev.zeros(V, n);
    out.eh.zeros(H, n);
    out.ehv.zeros(H, V);
    StateBlock block;
    arma::mat g;          // padded x V: sum_t w_t(h) sigmoid_t(h, i)
    arma::vec w;          // padded: the weights of the block's states at one step
    arma::mat ev8(8, V);  // per-lane partial sums of E_t[v] (fast kernel)
    arma::vec sig(V);
    arma::mat ch;
    for (arma::uword bl = part.first_block(group); bl < part.first_block(group + 1); ++bl) {
      fill_block(crbm, part.first_state(bl), part.block_size(bl), block);
      g.zeros(block.padded, V);
      w.set_size(block.padded);
      for (arma::uword t0 = 0; t0 < n; t0 += kStepChunk) {
        const arma::uword t1 = std::min(n, t0 + kStepChunk);
        hidden_bias_terms(block, s, t0, t1, ch);
        for (arma::uword t = t0; t < t1; ++t) {
          double* ev = out.ev.colptr(t);
#ifdef SEQLAB_CRBM_AVX512
          if (block.fast && s.fast[t]) {
            ev8.zeros();
            for (arma::uword k = 0; k < block.padded; k += kStateChunk)
              expectations_32(s.pt.colptr(t), block.q.memptr() + k, block.padded, V,
                              ch.colptr(t - t0) + k, lse(t), w.memptr() + k, ev8.memptr(),
                              g.memptr() + k);
            for (arma::uword i = 0; i < V; ++i) ev[i] += arma::accu(ev8.col(i));
          } else
#endif
          {
            for (arma::uword k = 0; k < block.count; ++k) {
              const double score =
                  ch(k, t - t0) +
                  softplus_sum_scalar(s.bt.colptr(t), block.wth.colptr(k), V, sig.memptr());
              w(k) = std::exp(score - lse(t));
              for (arma::uword i = 0; i < V; ++i) {
                ev[i] += w(k) * sig(i);
                g(k, i) += w(k) * sig(i);
              }
            }
          }
          out.eh.col(t) += block.bits * w.head(block.count);
        }
      }
      out.ehv += block.bits * g.rows(0, block.count - 1);
    }
  });
  ModelExpectations total;
  total.ev.zeros(V, n);
  total.eh.zeros(H, n);
  total.ehv.zeros(H, V);
  for (const auto& p : partial) {
    total.ev += p.ev;
    total.eh += p.eh;
    total.ehv += p.ehv;
  }
  return total;
}

void require_shapes(const Crbm& crbm, const arma::mat& v, const arma::mat& u, const char* what) {
  if (crbm.num_visible() == 0) user_error(std::string("crbm: ") + what + " of an empty model");
  if (v.n_rows != crbm.num_visible() || u.n_rows != crbm.context_size() || v.n_cols != u.n_cols)
    throw std::invalid_argument(std::string("Crbm::") + what + ": frames " +
                                std::to_string(v.n_rows) + " x " + std::to_string(v.n_cols) +
                                " and contexts " + std::to_string(u.n_rows) + " x " +
                                std::to_string(u.n_cols) + " do not fit the model");
}

}  // namespace

// ---- Crbm -------------------------------------------------------------------------------------

Crbm::Crbm(arma::uword visible, arma::uword hidden, arma::uword order)
    : visible_(visible), hidden_(hidden), order_(order) {
  if (visible < 1) user_error("crbm: frames need at least one unit");
  if (hidden < 1) user_error("crbm: needs at least one hidden unit");
  if (hidden > kMaxEnumeratedUnits)
    user_error("crbm: at most " + std::to_string(kMaxEnumeratedUnits) + " hidden units, got " +
               std::to_string(hidden) +
               " (the exact likelihood sums over all 2^H hidden states "
               "at every step)");
  if (order > 1000)
    user_error("crbm: order (frames of context) at most 1000, got " + std::to_string(order));
  params_.zeros(hidden * visible + visible + hidden + (visible + hidden) * order * visible);
}

arma::mat Crbm::W() { return arma::mat(params_.memptr(), hidden_, visible_, false, true); }
arma::vec Crbm::b() {
  return arma::vec(params_.memptr() + hidden_ * visible_, visible_, false, true);
}
arma::vec Crbm::c() {
  return arma::vec(params_.memptr() + hidden_ * visible_ + visible_, hidden_, false, true);
}
arma::mat Crbm::A() {
  return arma::mat(params_.memptr() + hidden_ * visible_ + visible_ + hidden_, visible_,
                   context_size(), false, true);
}
arma::mat Crbm::B() {
  return arma::mat(
      params_.memptr() + hidden_ * visible_ + visible_ + hidden_ + visible_ * context_size(),
      hidden_, context_size(), false, true);
}
const arma::mat Crbm::W() const { return const_cast<Crbm*>(this)->W(); }
const arma::vec Crbm::b() const { return const_cast<Crbm*>(this)->b(); }
const arma::vec Crbm::c() const { return const_cast<Crbm*>(this)->c(); }
const arma::mat Crbm::A() const { return const_cast<Crbm*>(this)->A(); }
const arma::mat Crbm::B() const { return const_cast<Crbm*>(this)->B(); }

void Crbm::check_frames(const arma::mat& x, const std::string& where) const {
  if (x.n_rows != visible_)
    user_error(where + ": frames of " + std::to_string(x.n_rows) + " rows, the model " +
               std::to_string(visible_));
  for (arma::uword t = 0; t < x.n_cols; ++t)
    for (arma::uword i = 0; i < x.n_rows; ++i) {
      const double value = x(i, t);
      if (value != 0.0 && value != 1.0) {
        char shown[32];
        std::snprintf(shown, sizeof shown, "%g", value);
        user_error(where + ": frame " + std::to_string(t) + " row " + std::to_string(i) +
                   " holds " + shown + ", expected 0 or 1");
      }
    }
}

arma::mat Crbm::contexts(const arma::mat& frames, const arma::mat& history) const {
  const arma::uword T = frames.n_cols, P = history.n_cols;
  arma::mat u(context_size(), T, arma::fill::zeros);
  for (arma::uword t = 0; t < T; ++t) {
    for (arma::uword k = 1; k <= order_; ++k) {
      if (P + t < k) break;
      const arma::uword source = P + t - k;  // index into [history, frames]
      const double* from = source < P ? history.colptr(source) : frames.colptr(source - P);
      std::copy(from, from + visible_, u.colptr(t) + (k - 1) * visible_);
    }
  }
  return u;
}

void Crbm::initialize(const arma::mat& data, Rng& rng, double weight_sd) {
  if (data.n_rows != visible_ || data.n_cols == 0)
    user_error("crbm initialize: needs frames of " + std::to_string(visible_) + " rows");
  params_.zeros();
  arma::mat w = W();
  for (double& x : w) x = weight_sd * standard_normal(rng);
  const arma::vec p = arma::clamp(arma::mean(data, 1), 1e-3, 1.0 - 1e-3);
  b() = arma::log(p / (1.0 - p));
}

arma::vec Crbm::log_partitions(const arma::mat& u, unsigned threads) const {
  if (visible_ == 0) user_error("crbm: log partitions of an empty model");
  if (u.n_rows != context_size())
    throw std::invalid_argument("Crbm::log_partitions: contexts of the wrong size");
  if (u.n_cols == 0) return arma::vec();
  return log_partitions_of(*this, step_biases(*this, u), threads);
}

arma::vec Crbm::step_log_probs(const arma::mat& v, const arma::mat& u, unsigned threads) const {
  require_shapes(*this, v, u, "step_log_probs");
  if (v.n_cols == 0) return arma::vec();
  const StepBiases s = step_biases(*this, u);
  return minus_free_energies(*this, s, v, nullptr) - log_partitions_of(*this, s, threads);
}

arma::vec Crbm::log_likelihood_gradient(const arma::mat& v, const arma::mat& u, unsigned threads,
                                        arma::vec* log_probs) const {
  require_shapes(*this, v, u, "log_likelihood_gradient");
  if (v.n_cols == 0) throw std::invalid_argument("Crbm::log_likelihood_gradient: no steps");
  const double n = static_cast<double>(v.n_cols);
  const StepBiases s = step_biases(*this, u);
  arma::mat ph;
  const arma::vec data_terms = minus_free_energies(*this, s, v, &ph);
  const arma::vec lse = log_partitions_of(*this, s, threads);
  if (log_probs != nullptr) *log_probs = data_terms - lse;
  const ModelExpectations model = model_expectations(*this, s, lse, threads);
  const arma::mat db = v - model.ev;   // V x n: d log p / d b_t
  const arma::mat dc = ph - model.eh;  // H x n: d log p / d c_t
  Crbm g(visible_, hidden_, order_);
  g.W() = (ph * v.t() - model.ehv) / n;
  g.b() = arma::sum(db, 1) / n;
  g.c() = arma::sum(dc, 1) / n;
  if (order_ > 0) {
    g.A() = db * u.t() / n;
    g.B() = dc * u.t() / n;
  }
  return std::move(g.params_);
}

arma::mat Crbm::sample(arma::uword length, const arma::mat& prime, Rng& rng) const {
  if (visible_ == 0) user_error("crbm: sampling from an empty model");
  if (prime.n_cols > 0) check_frames(prime, "crbm: the prime");
  const StatePartition part = partition_states(hidden_);
  // The prime, then the frames drawn so far: step t's context is the K columns before P + t.
  const arma::uword P = prime.n_cols;
  arma::mat all(visible_, P + length, arma::fill::zeros);
  if (P > 0) all.cols(0, P - 1) = prime;
  arma::vec weights(part.states), scores;
  arma::mat u(context_size(), 1), ch;
  StateBlock block;
  for (arma::uword t = 0; t < length; ++t) {
    u.zeros();
    for (arma::uword k = 1; k <= order_ && k <= P + t; ++k)
      u.col(0).subvec((k - 1) * visible_, k * visible_ - 1) = all.col(P + t - k);
    const StepBiases s = step_biases(*this, u);
    for (arma::uword bl = 0; bl < part.blocks; ++bl) {
      fill_block(*this, part.first_state(bl), part.block_size(bl), block);
      hidden_bias_terms(block, s, 0, 1, ch);
      block_scores(block, s, 0, ch.memptr(), scores);
      weights.subvec(block.first, block.first + block.count - 1) = scores.head(block.count);
    }
    const arma::uword state = sample_categorical(arma::exp(weights - weights.max()), rng);
    arma::vec h(hidden_);
    for (arma::uword j = 0; j < hidden_; ++j) h(j) = static_cast<double>((state >> j) & 1u);
    const arma::vec pre = s.bt.col(0) + W().t() * h;
    for (arma::uword i = 0; i < visible_; ++i)
      all(i, P + t) = uniform01(rng) < sigmoid(pre(i)) ? 1.0 : 0.0;
  }
  return length == 0 ? arma::mat(visible_, 0) : arma::mat(all.cols(P, P + length - 1));
}

void Crbm::save(H5::Group& group) const {
  if (visible_ == 0) user_error("crbm save: the model is empty");
  h5::write_int_attribute(group, "visible", static_cast<std::int64_t>(visible_));
  h5::write_int_attribute(group, "hidden", static_cast<std::int64_t>(hidden_));
  h5::write_int_attribute(group, "order", static_cast<std::int64_t>(order_));
  h5::write_mat(group, "W", arma::mat(W()));
  h5::write_vec(group, "b", arma::vec(b()));
  h5::write_vec(group, "c", arma::vec(c()));
  h5::write_mat(group, "A", arma::mat(A()));
  h5::write_mat(group, "B", arma::mat(B()));
}

void Crbm::load(const H5::Group& group) {
  const arma::uword visible = h5::read_size_attribute(group, "visible");
  const arma::uword hidden = h5::read_size_attribute(group, "hidden");
  const std::int64_t order = h5::read_int_attribute(group, "order");
  if (hidden > kMaxEnumeratedUnits)
    h5::format_error(group, "hidden",
                     "is " + std::to_string(hidden) + ", at most " +
                         std::to_string(kMaxEnumeratedUnits) +
                         " (the exact likelihood enumerates 2^H states)");
  if (order < 0 || order > 1000)
    h5::format_error(group, "order", "is " + std::to_string(order) + ", expected 0 .. 1000");
  const arma::uword k = static_cast<arma::uword>(order) * visible;
  const arma::mat w = h5::read_mat_checked(group, "W", hidden, visible, "weights, H x V");
  const arma::vec bv = h5::read_vec_checked(group, "b", visible, "visible biases, V");
  const arma::vec cv = h5::read_vec_checked(group, "c", hidden, "hidden biases, H");
  const arma::mat a = h5::read_mat_checked(group, "A", visible, k, "context to visible, V x K V");
  const arma::mat bm = h5::read_mat_checked(group, "B", hidden, k, "context to hidden, H x K V");
  Crbm loaded(visible, hidden, static_cast<arma::uword>(order));
  loaded.W() = w;
  loaded.b() = bv;
  loaded.c() = cv;
  if (k > 0) {
    loaded.A() = a;
    loaded.B() = bm;
  }
  *this = std::move(loaded);
}

}  // namespace seqlab::energy
