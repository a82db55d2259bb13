// seqlab/models/energy/rbm.cpp: restricted Boltzmann machines (see the header for the model,
// the parameter layout and the contracts).
#include "seqlab/models/energy/rbm.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <limits>
#include <sstream>

#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"
#include "seqlab/core/vector_math.hpp"
#include "seqlab/io/hdf5.hpp"

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEQLAB_RBM_AVX 1
#include <immintrin.h>
#endif

// The parameter update and the register clean-up below need AVX; the sampling sigmoid is
// core/vector_math's.
#ifdef SEQLAB_RBM_AVX
#pragma GCC push_options
#pragma GCC target("avx512f,avx2,fma")
namespace seqlab::energy {
namespace {
// The momentum step of train_rbm, 8 parameters at a time (same operations, same order, same
// rounding as momentum_step_scalar: no contraction into FMA).
__attribute__((target("avx512f"))) void momentum_step_avx512(double* params, double* velocity,
                                                             const double* grad, std::size_t n,
                                                             std::size_t n_decayed,
                                                             double momentum, double rate,
                                                             double decay) {
  const __m512d m = _mm512_set1_pd(momentum), r = _mm512_set1_pd(rate),
                d = _mm512_set1_pd(decay);
  std::size_t i = 0;
  for (; i + 8 <= n_decayed; i += 8) {
    const __m512d p = _mm512_loadu_pd(params + i);
    const __m512d g = _mm512_sub_pd(_mm512_loadu_pd(grad + i), _mm512_mul_pd(d, p));
    const __m512d v =
        _mm512_add_pd(_mm512_mul_pd(m, _mm512_loadu_pd(velocity + i)), _mm512_mul_pd(r, g));
    _mm512_storeu_pd(velocity + i, v);
    _mm512_storeu_pd(params + i, _mm512_add_pd(p, v));
  }
  for (; i < n_decayed; ++i) {
    velocity[i] = momentum * velocity[i] + rate * (grad[i] - decay * params[i]);
    params[i] += velocity[i];
  }
  for (; i + 8 <= n; i += 8) {
    const __m512d v = _mm512_add_pd(_mm512_mul_pd(m, _mm512_loadu_pd(velocity + i)),
                                    _mm512_mul_pd(r, _mm512_loadu_pd(grad + i)));
    _mm512_storeu_pd(velocity + i, v);
    _mm512_storeu_pd(params + i, _mm512_add_pd(_mm512_loadu_pd(params + i), v));
  }
  for (; i < n; ++i) {
    velocity[i] = momentum * velocity[i] + rate * grad[i];
    params[i] += velocity[i];
  }
}

// The comparison half of sample_bernoulli_raw for 8 samples at a time: raw holds m / 2 64-bit
// draws (m even); sample i takes the high 32 bits of draw i / 2 when i is even, the low ones
// when odd: on a little-endian machine that is 32-bit word i ^ 1, hence the pair swap. The
// uniform k 2^-32 is exact in double, so every output equals bernoulli_compare_scalar's. p and
// out may be the same array (each block is loaded before it is stored).
__attribute__((target("avx512f,avx2"))) void bernoulli_compare_avx512(const std::uint64_t* raw,
                                                                       const double* p,
                                                                       double* out,
                                                                       std::size_t m) {
  const __m512d scale = _mm512_set1_pd(0x1.0p-32), one = _mm512_set1_pd(1.0);
  std::size_t i = 0;
  for (; i + 8 <= m; i += 8) {
    __m256i words = _mm256_loadu_si256(reinterpret_cast<const __m256i*>(raw + i / 2));
    words = _mm256_shuffle_epi32(words, 0xB1);  // swap the two words of each draw
    // The zero-masked form: the plain one trips a false "uninitialized" warning in GCC 12.
    const __m512d u = _mm512_mul_pd(_mm512_maskz_cvtepu32_pd(0xFF, words), scale);
    const __mmask8 below = _mm512_cmp_pd_mask(u, _mm512_loadu_pd(p + i), _CMP_LT_OQ);
    _mm512_storeu_pd(out + i, _mm512_maskz_mov_pd(below, one));
  }
  for (; i < m; i += 2) {
    const std::uint64_t r = raw[i / 2];
    out[i] = static_cast<double>(r >> 32) * 0x1.0p-32 < p[i] ? 1.0 : 0.0;
    out[i + 1] = static_cast<double>(r & 0xffffffffu) * 0x1.0p-32 < p[i + 1] ? 1.0 : 0.0;
  }
}

// LIBXSMM's kernels (StepGemm) return with the upper halves of the vector registers dirty;
// the SSE-encoded scalar code that follows (this file is built for the baseline x86-64) then
// pays a transition penalty on every instruction: measured, the parameter update after the
// products ran 5 times slower. vzeroupper clears that state.
__attribute__((target("avx"))) void zero_upper_avx() { _mm256_zeroupper(); }
}  // namespace
}  // namespace seqlab::energy
#pragma GCC pop_options
#endif

namespace seqlab::energy {
namespace {

constexpr arma::uword kBlockColumns = 4096;
constexpr double kLog2Pi = 1.8378770664093454835606594728112;
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

std::string number(double x) {
  std::ostringstream s;
  s.precision(6);
  s << x;
  return s.str();
}


// Ensures the vector registers' upper halves are clean (see zero_upper_avx); a no-op without AVX.
inline void clear_upper_state() {
#ifdef SEQLAB_RBM_AVX
  static const bool has_avx = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx") != 0;
  }();
  if (has_avx) zero_upper_avx();
#endif
}

// velocity = momentum velocity + rate (grad - decay params) for i < n_decayed (the weights),
// without the decay term for the biases; then params += velocity. Cost O(n), memory-bound.
void momentum_step_scalar(double* params, double* velocity, const double* grad, std::size_t n,
                          std::size_t n_decayed, double momentum, double rate, double decay) {
  std::size_t i = 0;
  for (; i < n_decayed; ++i) {
    velocity[i] = momentum * velocity[i] + rate * (grad[i] - decay * params[i]);
    params[i] += velocity[i];
  }
  for (; i < n; ++i) {
    velocity[i] = momentum * velocity[i] + rate * grad[i];
    params[i] += velocity[i];
  }
}

using MomentumFn = void (*)(double*, double*, const double*, std::size_t, std::size_t, double,
                            double, double);
inline void momentum_step(double* params, double* velocity, const double* grad, std::size_t n,
                          std::size_t n_decayed, double momentum, double rate, double decay) {
  static const MomentumFn fn = [] {
#ifdef SEQLAB_RBM_AVX
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f")) return static_cast<MomentumFn>(momentum_step_avx512);
#endif
    return static_cast<MomentumFn>(momentum_step_scalar);
  }();
  fn(params, velocity, grad, n, n_decayed, momentum, rate, decay);
}

// See bernoulli_compare_avx512: out[i] for i < m (m even) from m / 2 raw draws.
void bernoulli_compare_scalar(const std::uint64_t* raw, const double* p, double* out,
                              std::size_t m) {
  constexpr double kScale = 0x1.0p-32;
  for (std::size_t i = 0; i < m; i += 2) {
    const std::uint64_t r = raw[i / 2];
    out[i] = static_cast<double>(r >> 32) * kScale < p[i] ? 1.0 : 0.0;
    out[i + 1] = static_cast<double>(r & 0xffffffffu) * kScale < p[i + 1] ? 1.0 : 0.0;
  }
}

// out[i] = 1 with probability p[i]. Each 64-bit draw gives two 32-bit uniforms u = k / 2^32, so
// P(out = 1) = ceil(p 2^32) / 2^32, within 2.4e-10 of p: far below any Monte Carlo noise, and
// half the generator calls (the generator was a fifth of a PCD-1 update). The draws are taken
// in blocks and compared in a separate pass (8 at a time with AVX-512): the same draws in the
// same order, so the same samples, in about a third of the time the interleaved loop took.
inline void sample_bernoulli_raw(const double* p, double* out, std::size_t n, Rng& rng) {
  using CompareFn = void (*)(const std::uint64_t*, const double*, double*, std::size_t);
  static const CompareFn compare = [] {
#ifdef SEQLAB_RBM_AVX
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx2"))
      return static_cast<CompareFn>(bernoulli_compare_avx512);
#endif
    return static_cast<CompareFn>(bernoulli_compare_scalar);
  }();
  constexpr std::size_t kBlock = 512;  // samples per block of draws
  std::uint64_t raw[kBlock / 2];
  std::size_t i = 0;
  while (n - i >= 2) {
    const std::size_t m = std::min(kBlock, (n - i) & ~std::size_t{1});
    for (std::size_t k = 0; k < m / 2; ++k) raw[k] = rng();
    compare(raw, p + i, out + i, m);
    i += m;
  }
  if (i < n) out[i] = static_cast<double>(rng() >> 32) * 0x1.0p-32 < p[i] ? 1.0 : 0.0;
}

// out[i] = mean of row i of the rows x cols column-major array m. Requires cols >= 1.
inline void row_means(const double* m, arma::uword rows, arma::uword cols, double* out) {
  std::fill(out, out + rows, 0.0);
  for (arma::uword s = 0; s < cols; ++s) {
    const double* col = m + s * rows;
    for (arma::uword i = 0; i < rows; ++i) out[i] += col[i];
  }
  const double scale = 1.0 / static_cast<double>(cols);
  for (arma::uword i = 0; i < rows; ++i) out[i] *= scale;
}

// out = W x + bias (each column), x of `n` columns at ptr.
void affine(const arma::mat& w, bool transpose, const arma::vec& bias, const arma::mat& x,
            arma::mat& out) {
  if (transpose)
    out = w.t() * x;
  else
    out = w * x;
  out.each_col() += bias;
}

// Which layer an exact computation enumerates; the other is summed (or integrated) analytically.
bool enumerate_hidden(const Rbm& rbm) {
  return rbm.visible_type() == VisibleType::gaussian || rbm.num_hidden() <= rbm.num_visible();
}

void require_enumerable(const Rbm& rbm, const std::string& what) {
  if (rbm.num_visible() == 0) user_error("rbm: " + what + " of an empty model");
  const bool hidden = enumerate_hidden(rbm);
  const arma::uword m = hidden ? rbm.num_hidden() : rbm.num_visible();
  if (m > kMaxEnumeratedUnits) {
    if (rbm.visible_type() == VisibleType::gaussian)
      user_error("rbm: " + what + " enumerates the hidden layer of a Gaussian RBM and needs H <= " +
                 std::to_string(kMaxEnumeratedUnits) + ", got H = " +
                 std::to_string(rbm.num_hidden()) + "; use AIS (ais_log_partition) instead");
    user_error("rbm: " + what + " enumerates the smaller layer and needs it to have <= " +
               std::to_string(kMaxEnumeratedUnits) + " units, got V = " +
               std::to_string(rbm.num_visible()) + ", H = " + std::to_string(rbm.num_hidden()) +
               "; use AIS (ais_log_partition) instead");
  }
}

// Calls f(states, logw, means) for every block of states of the enumerated layer (m units):
// states m x cols (0/1), logw (cols) the log of the unnormalised marginal weight of each state
// (the other layer summed out), means the conditional means of the other layer given each state.
template <class F>
void for_each_enumerated_block(const Rbm& rbm, F&& f) {
  const bool hidden = enumerate_hidden(rbm);
  const arma::uword m = hidden ? rbm.num_hidden() : rbm.num_visible();
  const std::uint64_t total = std::uint64_t{1} << m;
  const arma::mat w = rbm.W();
  const arma::vec b = rbm.b();
  const arma::vec c = rbm.c();
  const bool gaussian = rbm.visible_type() == VisibleType::gaussian;
  const double b_sq = arma::dot(b, b);
  const double v_half_log2pi = 0.5 * static_cast<double>(rbm.num_visible()) * kLog2Pi;
  arma::mat states, means;
  arma::vec logw;
  for (std::uint64_t first = 0; first < total; first += kBlockColumns) {
    const arma::uword cols = static_cast<arma::uword>(std::min<std::uint64_t>(kBlockColumns,
                                                                               total - first));
    states.set_size(m, cols);
    for (arma::uword j = 0; j < cols; ++j) {
      const std::uint64_t s = first + j;
      double* col = states.colptr(j);
      for (arma::uword i = 0; i < m; ++i) col[i] = static_cast<double>((s >> i) & 1u);
    }
    logw.set_size(cols);
    if (hidden) {
      affine(w, true, b, states, means);  // V x cols: b + W^T h
      const arma::rowvec ch = c.t() * states;
      for (arma::uword j = 0; j < cols; ++j) {
        const double* a = means.colptr(j);
        double s = ch(j);
        if (gaussian) {
          double sq = 0.0;
          for (arma::uword i = 0; i < means.n_rows; ++i) sq += a[i] * a[i];
          s += 0.5 * (sq - b_sq) + v_half_log2pi;
        } else {
          for (arma::uword i = 0; i < means.n_rows; ++i) s += softplus(a[i]);
        }
        logw(j) = s;
      }
      if (!gaussian) sigmoid_inplace(means.memptr(), means.n_elem);
    } else {
      affine(w, false, c, states, means);  // H x cols: c + W v
      const arma::rowvec bv = b.t() * states;
      for (arma::uword j = 0; j < cols; ++j) {
        const double* a = means.colptr(j);
        double s = bv(j);
        for (arma::uword i = 0; i < means.n_rows; ++i) s += softplus(a[i]);
        logw(j) = s;
      }
      sigmoid_inplace(means.memptr(), means.n_elem);
    }
    f(static_cast<const arma::mat&>(states), static_cast<const arma::vec&>(logw),
      static_cast<const arma::mat&>(means));
  }
}

double log_partition_unchecked(const Rbm& rbm) {
  double log_z = kNegInf;
  for_each_enumerated_block(rbm, [&](const arma::mat&, const arma::vec& logw, const arma::mat&) {
    log_z = log_add_exp(log_z, log_sum_exp(logw.begin(), logw.end()));
  });
  return log_z;
}

void require_in(bool ok, const std::string& field, const std::string& range, double value) {
  if (!ok)
    user_error("rbm training option " + field + " must be " + range + ", got " + number(value));
}

}  // namespace

std::string visible_type_name(VisibleType type) {
  return type == VisibleType::gaussian ? "gaussian" : "bernoulli";
}

VisibleType parse_visible_type(const std::string& name) {
  if (name == "bernoulli") return VisibleType::bernoulli;
  if (name == "gaussian") return VisibleType::gaussian;
  user_error("rbm: visible type '" + printable(name) + "', expected 'bernoulli' or 'gaussian'");
}

// ---- Rbm -------------------------------------------------------------------------------------

Rbm::Rbm(arma::uword visible, arma::uword hidden, VisibleType type)
    : visible_(visible), hidden_(hidden), type_(type) {
  if (visible == 0 || hidden == 0)
    user_error("rbm: needs at least one visible and one hidden unit, got V = " +
               std::to_string(visible) + ", H = " + std::to_string(hidden));
  params_.zeros(hidden * visible + visible + hidden);
}

arma::mat Rbm::W() { return arma::mat(params_.memptr(), hidden_, visible_, false, true); }
arma::vec Rbm::b() {
  return arma::vec(params_.memptr() + hidden_ * visible_, visible_, false, true);
}
arma::vec Rbm::c() {
  return arma::vec(params_.memptr() + hidden_ * visible_ + visible_, hidden_, false, true);
}
const arma::mat Rbm::W() const {
  return arma::mat(const_cast<double*>(params_.memptr()), hidden_, visible_, false, true);
}
const arma::vec Rbm::b() const {
  return arma::vec(const_cast<double*>(params_.memptr()) + hidden_ * visible_, visible_, false,
                   true);
}
const arma::vec Rbm::c() const {
  return arma::vec(const_cast<double*>(params_.memptr()) + hidden_ * visible_ + visible_,
                   hidden_, false, true);
}

void Rbm::check_data(const arma::mat& x, const std::string& where) const {
  if (visible_ == 0) user_error(where + ": the RBM is empty (load or construct it first)");
  if (x.n_rows != visible_)
    user_error(where + ": data has " + std::to_string(x.n_rows) + " rows, expected " +
               std::to_string(visible_) + " (visible units; one sample per column)");
  if (x.n_cols == 0) user_error(where + ": data is empty (0 samples), expected at least one");
  const bool binary = type_ == VisibleType::bernoulli;
  for (arma::uword s = 0; s < x.n_cols; ++s) {
    const double* col = x.colptr(s);
    for (arma::uword i = 0; i < x.n_rows; ++i) {
      const double v = col[i];
      if (!std::isfinite(v))
        user_error(where + ": sample " + std::to_string(s) + ", unit " + std::to_string(i) +
                   " holds " + number(v) + ", expected a finite value");
      if (binary && v != 0.0 && v != 1.0)
        user_error(where + ": sample " + std::to_string(s) + ", unit " + std::to_string(i) +
                   " holds " + number(v) +
                   ", expected 0 or 1 (Bernoulli visible units; use a Gaussian RBM for real data)");
    }
  }
}

arma::vec base_rate_visible_bias(const arma::mat& data, VisibleType type) {
  arma::vec mean = arma::mean(data, 1);
  if (type == VisibleType::gaussian) return mean;
  for (double& p : mean) {
    const double q = std::clamp(p, 1e-3, 1.0 - 1e-3);
    p = std::log(q / (1.0 - q));
  }
  return mean;
}

void Rbm::initialize(const arma::mat& data, Rng& rng, double weight_sd, double sparsity_target) {
  check_data(data, "rbm initialize");
  if (!(weight_sd >= 0.0 && std::isfinite(weight_sd)))
    user_error("rbm initialize: weight sd must be finite and >= 0, got " + number(weight_sd));
  if (!(sparsity_target >= 0.0 && sparsity_target < 1.0))
    user_error("rbm initialize: sparsity target must be in [0, 1), got " +
               number(sparsity_target));
  arma::mat w = W();
  for (double& x : w) x = weight_sd * standard_normal(rng);
  b() = base_rate_visible_bias(data, type_);
  c().fill(sparsity_target > 0.0 ? std::log(sparsity_target / (1.0 - sparsity_target)) : 0.0);
}

void Rbm::hidden_probs(const arma::mat& v, arma::mat& out) const {
  affine(W(), false, c(), v, out);
  sigmoid_inplace(out.memptr(), out.n_elem);
}

arma::mat Rbm::hidden_probs(const arma::mat& v) const {
  arma::mat out;
  hidden_probs(v, out);
  return out;
}

void Rbm::visible_means(const arma::mat& h, arma::mat& out) const {
  affine(W(), true, b(), h, out);
  if (type_ == VisibleType::bernoulli) sigmoid_inplace(out.memptr(), out.n_elem);
}

arma::mat Rbm::visible_means(const arma::mat& h) const {
  arma::mat out;
  visible_means(h, out);
  return out;
}

void Rbm::sample_bernoulli(const arma::mat& probs, Rng& rng, arma::mat& out) {
  out.set_size(probs.n_rows, probs.n_cols);
  sample_bernoulli_raw(probs.memptr(), out.memptr(), probs.n_elem, rng);
}

void Rbm::sample_visible(const arma::mat& means, Rng& rng, arma::mat& out) const {
  if (type_ == VisibleType::bernoulli) {
    sample_bernoulli(means, rng, out);
    return;
  }
  out.set_size(means.n_rows, means.n_cols);
  for (arma::uword i = 0; i < means.n_elem; ++i) out[i] = means[i] + standard_normal(rng);
}

void Rbm::gibbs(arma::mat& v, arma::uword steps, Rng& rng) const {
  arma::mat hp, hs, vm;
  const arma::mat w = W();
  const arma::vec bias_v = b(), bias_h = c();
  for (arma::uword s = 0; s < steps; ++s) {
    affine(w, false, bias_h, v, hp);
    sampling_sigmoid_inplace(hp.memptr(), hp.n_elem);
    sample_bernoulli(hp, rng, hs);
    affine(w, true, bias_v, hs, vm);
    if (type_ == VisibleType::bernoulli) sampling_sigmoid_inplace(vm.memptr(), vm.n_elem);
    sample_visible(vm, rng, v);
  }
}

arma::mat Rbm::sample(arma::uword n, arma::uword burn_in, Rng& rng) const {
  if (visible_ == 0) user_error("rbm sample: the RBM is empty");
  if (n == 0) user_error("rbm sample: asked for 0 samples, expected at least one");
  arma::mat v(visible_, n);
  if (type_ == VisibleType::bernoulli) {
    for (double& x : v) x = uniform01(rng) < 0.5 ? 1.0 : 0.0;
  } else {
    const arma::vec bias = b();
    for (arma::uword s = 0; s < n; ++s)
      for (arma::uword i = 0; i < visible_; ++i) v(i, s) = bias(i) + standard_normal(rng);
  }
  gibbs(v, burn_in + 1, rng);
  return v;
}

arma::vec Rbm::free_energy(const arma::mat& v) const {
  check_data(v, "rbm free energy");
  arma::mat x;
  affine(W(), false, c(), v, x);
  const arma::vec bias = b();
  arma::vec f(v.n_cols);
  for (arma::uword s = 0; s < v.n_cols; ++s) {
    const double* xs = x.colptr(s);
    double sp = 0.0;
    for (arma::uword j = 0; j < hidden_; ++j) sp += softplus(xs[j]);
    const double* vs = v.colptr(s);
    double lin = 0.0;
    if (type_ == VisibleType::bernoulli) {
      for (arma::uword i = 0; i < visible_; ++i) lin -= bias(i) * vs[i];
    } else {
      for (arma::uword i = 0; i < visible_; ++i) lin += 0.5 * (vs[i] - bias(i)) * (vs[i] - bias(i));
    }
    f(s) = lin - sp;
  }
  return f;
}

double Rbm::reconstruction_error(const arma::mat& v) const {
  check_data(v, "rbm reconstruction error");
  arma::mat hp, vm;
  hidden_probs(v, hp);
  visible_means(hp, vm);
  return arma::accu(arma::square(v - vm)) / static_cast<double>(v.n_cols);
}

double Rbm::pseudo_likelihood(const arma::mat& v, Rng& rng) const {
  if (type_ != VisibleType::bernoulli)
    user_error("rbm pseudo-likelihood: defined here for Bernoulli visible units only");
  check_data(v, "rbm pseudo-likelihood");
  arma::mat flipped = v;
  for (arma::uword s = 0; s < v.n_cols; ++s) {
    const arma::uword i = static_cast<arma::uword>(uniform_index(rng, visible_));
    flipped(i, s) = 1.0 - flipped(i, s);
  }
  const arma::vec f = free_energy(v);
  const arma::vec f_flip = free_energy(flipped);
  double total = 0.0;
  // log sigmoid(x) = -softplus(-x), x = F(v~) - F(v).
  for (arma::uword s = 0; s < v.n_cols; ++s) total -= softplus(f(s) - f_flip(s));
  return static_cast<double>(visible_) * total / static_cast<double>(v.n_cols);
}

double Rbm::log_partition() const {
  require_enumerable(*this, "exact log Z");
  return log_partition_unchecked(*this);
}

double Rbm::log_likelihood(const arma::mat& v) const {
  require_enumerable(*this, "exact log-likelihood");
  const arma::vec f = free_energy(v);
  return -arma::mean(f) - log_partition_unchecked(*this);
}

arma::vec Rbm::log_likelihood_gradient(const arma::mat& v) const {
  require_enumerable(*this, "exact log-likelihood gradient");
  check_data(v, "rbm log-likelihood gradient");
  const double log_z = log_partition_unchecked(*this);
  arma::vec grad(params_.n_elem, arma::fill::zeros);
  arma::mat gw(grad.memptr(), hidden_, visible_, false, true);
  arma::vec gb(grad.memptr() + hidden_ * visible_, visible_, false, true);
  arma::vec gc(grad.memptr() + hidden_ * visible_ + visible_, hidden_, false, true);
  // Data term.
  const double inv_n = 1.0 / static_cast<double>(v.n_cols);
  const arma::mat hp = hidden_probs(v);
  gw += (hp * v.t()) * inv_n;
  gb += arma::sum(v, 1) * inv_n;
  gc += arma::sum(hp, 1) * inv_n;
  // Model term: p(state) = exp(logw - log Z) for the enumerated layer; the other layer enters
  // through its conditional mean given the state.
  const bool hidden = enumerate_hidden(*this);
  arma::rowvec p;
  for_each_enumerated_block(*this, [&](const arma::mat& states, const arma::vec& logw,
                                       const arma::mat& means) {
    p = arma::exp(logw.t() - log_z);
    if (hidden) {  // states = h (H x cols), means = E[v | h] (V x cols)
      gw -= (states.each_row() % p) * means.t();
      gb -= means * p.t();
      gc -= states * p.t();
    } else {  // states = v, means = E[h | v]
      gw -= (means.each_row() % p) * states.t();
      gb -= states * p.t();
      gc -= means * p.t();
    }
  });
  return grad;
}

void Rbm::save(H5::Group& group) const {
  if (visible_ == 0) user_error("rbm save: the RBM is empty");
  h5::write_int_attribute(group, "visible", static_cast<std::int64_t>(visible_));
  h5::write_int_attribute(group, "hidden", static_cast<std::int64_t>(hidden_));
  h5::write_string_attribute(group, "visible_type", visible_type_name(type_));
  h5::write_mat(group, "W", arma::mat(W()));
  h5::write_vec(group, "b", arma::vec(b()));
  h5::write_vec(group, "c", arma::vec(c()));
}

void Rbm::load(const H5::Group& group) {
  const arma::uword visible = h5::read_size_attribute(group, "visible");
  const arma::uword hidden = h5::read_size_attribute(group, "hidden");
  const std::string type_name = h5::read_string_attribute(group, "visible_type");
  if (type_name != "bernoulli" && type_name != "gaussian")
    user_error(h5::where(group) + ": attribute 'visible_type' is '" + printable(type_name) +
               "', expected 'bernoulli' or 'gaussian'");
  const arma::mat w = h5::read_mat_checked(group, "W", hidden, visible, "weights, H x V");
  const arma::vec bv = h5::read_vec_checked(group, "b", visible, "visible biases, V");
  const arma::vec cv = h5::read_vec_checked(group, "c", hidden, "hidden biases, H");
  Rbm loaded(visible, hidden, parse_visible_type(type_name));
  loaded.W() = w;
  loaded.b() = bv;
  loaded.c() = cv;
  *this = std::move(loaded);
}

// ---- CD / PCD ----------------------------------------------------------------------------------

CdEstimator::CdEstimator(const Rbm& rbm, arma::uword k, bool persistent, arma::uword max_batch,
                         arma::uword chains)
    : k_(k), max_batch_(max_batch), chains_(persistent ? chains : max_batch),
      persistent_(persistent) {
  if (rbm.num_visible() == 0 || k == 0 || max_batch == 0 || chains_ == 0)
    user_error("rbm CD estimator: needs a non-empty RBM, k >= 1, batch >= 1 and chains >= 1");
  const arma::uword v = rbm.num_visible(), h = rbm.num_hidden();
  const arma::uword width = max_batch_ + chains_;
  const arma::uword rows = std::max(max_batch_, chains_);
  vcat_.zeros(v, width);
  vt_.zeros(width, v);
  hcat_.zeros(h, width);
  hs_.zeros(h, rows);
  hst_.zeros(rows, h);
  vmt_.zeros(rows, v);
  hidden_mean_.zeros(h);
  visible_mean_.zeros(v);
  gemms_.reserve(8);
}

arma::mat CdEstimator::chain_hidden() const {
  return persistent_ && started_ ? chain_h_ : arma::mat();
}

const StepGemm<double>& CdEstimator::gemm(arma::uword m, arma::uword n, arma::uword k,
                                          arma::uword lda, arma::uword ldb, arma::uword ldc) {
  for (const CachedGemm& g : gemms_)
    if (g.m == m && g.n == n && g.k == k && g.lda == lda && g.ldb == ldb && g.ldc == ldc)
      return g.gemm;
  gemms_.push_back(CachedGemm{m, n, k, lda, ldb, ldc, StepGemm<double>(m, n, k, lda, ldb, ldc,
                                                                       false)});
  return gemms_.back().gemm;
}

void CdEstimator::estimate(const Rbm& rbm, const double* batch, arma::uword nb, Rng& rng,
                           arma::vec& grad) {
  const arma::uword V = rbm.num_visible(), H = rbm.num_hidden();
  if (nb == 0 || nb > max_batch_ || vcat_.n_rows != V || hcat_.n_rows != H ||
      grad.n_elem != rbm.num_parameters())
    throw std::invalid_argument("CdEstimator::estimate: batch or model shape mismatch");
  const bool gaussian = rbm.visible_type() == VisibleType::gaussian;
  const double* w = rbm.parameters().memptr();
  const double* b = w + H * V;
  const double* c = b + V;
  const arma::uword nneg = persistent_ ? chains_ : nb;
  const arma::uword rows = hst_.n_rows;  // leading dimension of the per-chain (transposed) buffers
  // Columns [0, nb) of vcat_ / hcat_ hold the batch, [nb, nb + nneg) the negative phase: with
  // PCD the negative visible states are known before the positive phase, so one product gives
  // p(h | .) for both.
  std::memcpy(vcat_.memptr(), batch, sizeof(double) * V * nb);
  double* vpos = vcat_.memptr();
  double* vneg = vcat_.colptr(nb);
  double* hpos = hcat_.memptr();
  double* hneg = hcat_.colptr(nb);
  if (persistent_ && !started_) chain_h_.zeros(H, chains_);
  double* hstate = persistent_ ? chain_h_.memptr() : hs_.memptr();  // H x nneg sampled states

  // hout (H x cols) = sigmoid(W vin + c). The products are LIBXSMM kernels (StepGemm) for these
  // exact shapes: for a 10-column batch they are three times faster than BLAS, which packs W on
  // every call.
  auto hidden = [&](const double* vin, arma::uword cols, double* hout) {
    gemm(H, cols, V, H, V, H)(w, vin, hout);
    clear_upper_state();
    for (arma::uword s = 0; s < cols; ++s) {
      double* col = hout + s * H;
      for (arma::uword j = 0; j < H; ++j) col[j] += c[j];
    }
    sampling_sigmoid_inplace(hout, H * cols);
  };
  // vneg = the visible layer given the hidden states in hstate: probabilities (means) or draws.
  // Computed transposed (chains x V = hstate^T W) so that no transposed copy of W is needed.
  auto visible = [&](bool probabilities) {
    for (arma::uword s = 0; s < nneg; ++s)
      for (arma::uword j = 0; j < H; ++j) hst_[s + j * rows] = hstate[j + s * H];
    gemm(nneg, V, H, rows, H, rows)(hst_.memptr(), w, vmt_.memptr());
    clear_upper_state();
    for (arma::uword i = 0; i < V; ++i) {
      double* col = vmt_.colptr(i);
      for (arma::uword s = 0; s < nneg; ++s) col[s] += b[i];
    }
    // Rows past nneg hold finite leftovers (zeros or earlier values): harmless to transform.
    if (!gaussian) sampling_sigmoid_inplace(vmt_.memptr(), vmt_.n_elem);
    for (arma::uword s = 0; s < nneg; ++s)
      for (arma::uword i = 0; i < V; ++i) vneg[i + s * V] = vmt_[s + i * rows];
    if (probabilities) return;
    if (gaussian) {
      for (arma::uword e = 0; e < V * nneg; ++e) vneg[e] += standard_normal(rng);
    } else {
      sample_bernoulli_raw(vneg, vneg, V * nneg, rng);
    }
  };

  if (persistent_) {
    if (!started_) {
      hidden(vpos, nb, hpos);
      for (arma::uword s = 0; s < chains_; ++s)
        sample_bernoulli_raw(hpos + (s % nb) * H, hstate + s * H, H, rng);
      started_ = true;
    }
    for (arma::uword step = 1; step < k_; ++step) {
      visible(false);
      hidden(vneg, nneg, hneg);
      sample_bernoulli_raw(hneg, hstate, H * nneg, rng);
    }
    visible(false);
    hidden(vpos, nb + nneg, hpos);  // positive and negative phase in one product
    sample_bernoulli_raw(hneg, hstate, H * nneg, rng);
  } else {
    hidden(vpos, nb, hpos);
    sample_bernoulli_raw(hpos, hstate, H * nb, rng);
    for (arma::uword step = 1; step < k_; ++step) {
      visible(false);
      hidden(vneg, nneg, hneg);
      sample_bernoulli_raw(hneg, hstate, H * nneg, rng);
    }
    visible(true);
    hidden(vneg, nneg, hneg);
  }

  // Means for the bias gradients and the sparsity penalty.
  const double inv_pos = 1.0 / static_cast<double>(nb);
  const double inv_neg = 1.0 / static_cast<double>(nneg);
  double* gb = grad.memptr() + H * V;
  double* gc = gb + V;
  row_means(hpos, H, nb, hidden_mean_.memptr());
  row_means(vpos, V, nb, visible_mean_.memptr());
  row_means(vneg, V, nneg, gb);
  row_means(hneg, H, nneg, gc);
  for (arma::uword i = 0; i < V; ++i) gb[i] = visible_mean_[i] - gb[i];
  for (arma::uword j = 0; j < H; ++j) gc[j] = hidden_mean_[j] - gc[j];
  // W: one product [hpos / nb, -hneg / nneg] [vpos, vneg]^T.
  const arma::uword n = nb + nneg;
  for (arma::uword e = 0; e < H * nb; ++e) hpos[e] *= inv_pos;
  for (arma::uword e = 0; e < H * nneg; ++e) hneg[e] *= -inv_neg;
  const arma::uword vt_rows = vt_.n_rows;
  for (arma::uword s = 0; s < n; ++s)
    for (arma::uword i = 0; i < V; ++i) vt_[s + i * vt_rows] = vpos[i + s * V];
  gemm(H, V, n, H, vt_rows, H)(hpos, vt_.memptr(), grad.memptr());
  clear_upper_state();
}

// ---- training ----------------------------------------------------------------------------------

void RbmTrainOptions::validate() const {
  require_in(k >= 1 && k <= 1000, "k", "in 1 .. 1000", static_cast<double>(k));
  require_in(epochs >= 1, "epochs", ">= 1", static_cast<double>(epochs));
  require_in(batch_size >= 1, "batch_size", ">= 1", static_cast<double>(batch_size));
  require_in(learning_rate > 0.0 && std::isfinite(learning_rate), "learning_rate",
             "finite and > 0", learning_rate);
  require_in(initial_momentum >= 0.0 && initial_momentum < 1.0, "initial_momentum",
             "in [0, 1)", initial_momentum);
  require_in(final_momentum >= 0.0 && final_momentum < 1.0, "final_momentum", "in [0, 1)",
             final_momentum);
  require_in(weight_decay >= 0.0 && std::isfinite(weight_decay), "weight_decay",
             "finite and >= 0", weight_decay);
  require_in(sparsity_target >= 0.0 && sparsity_target < 1.0, "sparsity_target", "in [0, 1)",
             sparsity_target);
  require_in(sparsity_decay >= 0.0 && sparsity_decay < 1.0, "sparsity_decay", "in [0, 1)",
             sparsity_decay);
  require_in(sparsity_cost >= 0.0 && std::isfinite(sparsity_cost), "sparsity_cost",
             "finite and >= 0", sparsity_cost);
  require_in(sparsity_cost == 0.0 || sparsity_target > 0.0, "sparsity_target",
             "> 0 when sparsity_cost > 0", sparsity_target);
  require_in(init_weight_sd >= 0.0 && std::isfinite(init_weight_sd), "init_weight_sd",
             "finite and >= 0", init_weight_sd);
  require_in(max_seconds >= 0.0 && std::isfinite(max_seconds), "max_seconds", "finite and >= 0",
             max_seconds);
}

std::vector<RbmEpochRecord> train_rbm(Rbm& rbm, const arma::mat& data,
                                      const RbmTrainOptions& options, Rng& rng,
                                      const std::function<void(const RbmEpochRecord&)>& on_epoch) {
  options.validate();
  rbm.check_data(data, "rbm training data");
  const auto start = std::chrono::steady_clock::now();
  const std::uint64_t monitor_seed = rng();
  if (options.initialize)
    rbm.initialize(data, rng, options.init_weight_sd, options.sparsity_target);

  const arma::uword V = rbm.num_visible(), H = rbm.num_hidden(), n = data.n_cols;
  const arma::uword batch = std::min(options.batch_size, n);
  const bool persistent = options.method == RbmTrainOptions::Method::pcd;
  CdEstimator estimator(rbm, options.k, persistent, batch, options.batch_size);
  arma::vec grad(rbm.num_parameters(), arma::fill::zeros);
  arma::vec velocity(rbm.num_parameters(), arma::fill::zeros);
  arma::mat batch_buf(V, batch);
  arma::vec q(H);
  q.fill(options.sparsity_target);
  const bool sparse = options.sparsity_cost > 0.0;
  const arma::uword nw = H * V;
  double* params = rbm.parameters().memptr();
  double* g = grad.memptr();
  double* vel = velocity.memptr();
  const arma::uword np = rbm.num_parameters();
  // Loop-invariant copies of the options the update uses.
  const double rate = options.learning_rate, decay = options.weight_decay;

  std::vector<RbmEpochRecord> records;
  records.reserve(options.epochs);
  for (arma::uword epoch = 1; epoch <= options.epochs; ++epoch) {
    const double momentum =
        epoch <= options.momentum_epochs ? options.initial_momentum : options.final_momentum;
    const arma::uvec order = random_permutation(n, rng);
    for (arma::uword first = 0; first < n; first += batch) {
      const arma::uword nb = std::min(batch, n - first);
      for (arma::uword s = 0; s < nb; ++s)
        std::memcpy(batch_buf.colptr(s), data.colptr(order(first + s)), sizeof(double) * V);
      estimator.estimate(rbm, batch_buf.memptr(), nb, rng, grad);
      if (sparse) {
        q = options.sparsity_decay * q + (1.0 - options.sparsity_decay) *
                                             estimator.batch_hidden_mean();
        const arma::vec& vbar = estimator.batch_visible_mean();
        for (arma::uword j = 0; j < H; ++j) {
          const double d = options.sparsity_cost * (q(j) - options.sparsity_target);
          g[nw + V + j] -= d;
          for (arma::uword i = 0; i < V; ++i) g[j + i * H] -= d * vbar(i);
        }
      }
      momentum_step(params, vel, g, np, nw, momentum, rate, decay);
    }
    RbmEpochRecord record;
    record.epoch = epoch;
    record.reconstruction_error = kNaN;
    record.pseudo_likelihood = kNaN;
    if (options.monitor) {
      if (!rbm.parameters().is_finite())
        user_error("rbm training diverged at epoch " + std::to_string(epoch) +
                   " (a parameter is not finite); lower the learning rate");
      record.reconstruction_error = rbm.reconstruction_error(data);
      if (rbm.visible_type() == VisibleType::bernoulli) {
        Rng monitor_rng = make_rng(derive_seed(monitor_seed, epoch));
        record.pseudo_likelihood = rbm.pseudo_likelihood(data, monitor_rng);
      }
    }
    record.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    records.push_back(record);
    if (on_epoch) on_epoch(record);
    if (options.max_seconds > 0.0 &&
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() >=
            options.max_seconds)
      break;
  }
  return records;
}

// ---- AIS ---------------------------------------------------------------------------------------

void AisOptions::validate() const {
  if (runs < 2) user_error("AIS option runs must be >= 2, got " + std::to_string(runs));
  if (knots.size() < 2 || steps.size() != knots.size() - 1)
    user_error("AIS options: need knots (>= 2) and one step per segment, got " +
               std::to_string(knots.size()) + " knots and " + std::to_string(steps.size()) +
               " steps");
  if (knots.front() != 0.0 || knots.back() != 1.0)
    user_error("AIS option knots must run from 0 to 1, got " + number(knots.front()) + " .. " +
               number(knots.back()));
  for (std::size_t s = 0; s + 1 < knots.size(); ++s)
    if (!(knots[s] < knots[s + 1]))
      user_error("AIS option knots must increase strictly, got " + number(knots[s]) +
                 " then " + number(knots[s + 1]));
  for (const double st : steps)
    if (!(st > 0.0 && st <= 1.0))
      user_error("AIS option steps must be in (0, 1], got " + number(st));
  double count = 0.0;
  for (std::size_t s = 0; s < steps.size(); ++s) count += (knots[s + 1] - knots[s]) / steps[s];
  if (count > 1e8)
    user_error("AIS schedule would have " + number(count) + " temperatures, expected <= 1e8");
}

arma::vec ais_schedule(const AisOptions& options) {
  options.validate();
  std::vector<double> betas{0.0};
  for (std::size_t s = 0; s < options.steps.size(); ++s) {
    const double lo = options.knots[s], hi = options.knots[s + 1], st = options.steps[s];
    // Counting steps from the knot avoids the drift of repeated addition.
    const auto count = static_cast<std::uint64_t>(std::ceil((hi - lo) / st - 1e-9));
    for (std::uint64_t i = 1; i < count; ++i) betas.push_back(lo + static_cast<double>(i) * st);
    betas.push_back(hi);
  }
  return arma::vec(betas);
}

AisOptions ais_options_with_steps(arma::uword steps, arma::uword runs) {
  if (steps < 3 || steps > 10000000)
    user_error("AIS schedule: expected 3 to 10,000,000 steps, got " + std::to_string(steps));
  AisOptions o;
  double default_steps = 0.0;
  for (std::size_t s = 0; s < o.steps.size(); ++s)
    default_steps += (o.knots[s + 1] - o.knots[s]) / o.steps[s];
  const double scale = default_steps / static_cast<double>(steps);
  for (double& st : o.steps) st = std::min(1.0, st * scale);
  o.runs = runs;
  o.validate();
  return o;
}

AisResult ais_log_partition(const Rbm& rbm, const arma::mat& data, const AisOptions& options,
                            Rng& rng) {
  rbm.check_data(data, "AIS base-rate data");
  return ais_log_partition(rbm, base_rate_visible_bias(data, rbm.visible_type()), options, rng);
}

AisResult ais_log_partition(const Rbm& rbm, const arma::vec& base_visible_bias,
                            const AisOptions& options, Rng& rng) {
  const arma::uword V = rbm.num_visible(), H = rbm.num_hidden();
  if (V == 0) user_error("AIS: the RBM is empty");
  if (base_visible_bias.n_elem != V || !base_visible_bias.is_finite())
    user_error("AIS: base-rate visible biases must be " + std::to_string(V) +
               " finite values, got " + std::to_string(base_visible_bias.n_elem) +
               (base_visible_bias.is_finite() ? "" : " (not all finite)"));
  const arma::vec betas = ais_schedule(options);
  const bool gaussian = rbm.visible_type() == VisibleType::gaussian;
  const arma::uword M = options.runs;
  const arma::mat w = rbm.W();
  const arma::vec b = rbm.b(), c = rbm.c();
  const arma::vec& ba = base_visible_bias;

  AisResult result;
  // Base model: p*_0(v) = exp(-E_base(v)) 2^H (the hidden units are free at beta = 0).
  result.log_z_base = static_cast<double>(H) * kLn2;
  if (gaussian) {
    result.log_z_base += 0.5 * static_cast<double>(V) * kLog2Pi;
  } else {
    for (const double x : ba) result.log_z_base += softplus(x);
  }

  // Exact draws from the base model.
  arma::mat v(V, M);
  for (arma::uword m = 0; m < M; ++m)
    for (arma::uword i = 0; i < V; ++i) {
      if (gaussian)
        v(i, m) = ba(i) + standard_normal(rng);
      else
        v(i, m) = uniform01(rng) < 1.0 / (1.0 + std::exp(-ba(i))) ? 1.0 : 0.0;
    }
  // log p*_beta(v) = -(1 - beta) E_base(v) - beta E_vis(v) + sum_j softplus(beta x_j),
  // x = c + W v, E_vis = -b.v (Bernoulli) or |v - b|^2 / 2 (Gaussian); the same for the base.
  arma::vec log_w(M, arma::fill::zeros);
  arma::mat x(H, M), hs(H, M), vm(V, M), probs(H, M);
  arma::rowvec e_base(M), e_vis(M);
  auto visible_energies = [&]() {
    for (arma::uword m = 0; m < M; ++m) {
      const double* vs = v.colptr(m);
      double ea = 0.0, eb = 0.0;
      for (arma::uword i = 0; i < V; ++i) {
        if (gaussian) {
          ea += 0.5 * (vs[i] - ba(i)) * (vs[i] - ba(i));
          eb += 0.5 * (vs[i] - b(i)) * (vs[i] - b(i));
        } else {
          ea -= ba(i) * vs[i];
          eb -= b(i) * vs[i];
        }
      }
      e_base(m) = ea;
      e_vis(m) = eb;
    }
  };
  auto log_star = [&](double beta, arma::uword m) {
    double s = -(1.0 - beta) * e_base(m) - beta * e_vis(m);
    const double* xs = x.colptr(m);
    for (arma::uword j = 0; j < H; ++j) s += softplus(beta * xs[j]);
    return s;
  };
  for (arma::uword k = 1; k < betas.n_elem; ++k) {
    // v was drawn by the transition that leaves p_{k-1} invariant (or exactly from p_0).
    x = w * v;
    x.each_col() += c;
    visible_energies();
    const double bk = betas(k), bprev = betas(k - 1);
    for (arma::uword m = 0; m < M; ++m) log_w(m) += log_star(bk, m) - log_star(bprev, m);
    if (k + 1 == betas.n_elem) break;
    // One Gibbs transition at beta_k: h ~ sigmoid(beta x), v ~ p_beta(v | h), whose visible
    // field is (1 - beta) E_base + beta (visible energy - h^T W v).
    probs = bk * x;
    sampling_sigmoid_inplace(probs.memptr(), probs.n_elem);
    sample_bernoulli_raw(probs.memptr(), hs.memptr(), hs.n_elem, rng);
    vm = w.t() * hs;
    vm *= bk;
    vm.each_col() += (1.0 - bk) * ba + bk * b;
    if (gaussian) {
      for (arma::uword i = 0; i < vm.n_elem; ++i) v[i] = vm[i] + standard_normal(rng);
    } else {
      sampling_sigmoid_inplace(vm.memptr(), vm.n_elem);
      sample_bernoulli_raw(vm.memptr(), v.memptr(), vm.n_elem, rng);
    }
  }

  const double lse = log_sum_exp(log_w.begin(), log_w.end());
  const double dm = static_cast<double>(M);
  result.log_z = result.log_z_base + lse - std::log(dm);
  // Delta method in log space: r = w / max w, se = sd(r) / (sqrt(M) mean(r)).
  const double top = log_w.max();
  const arma::vec r = arma::exp(log_w - top);
  const double mean_r = arma::mean(r);
  const double sd_r = arma::stddev(r);  // M - 1 denominator
  result.standard_error = sd_r / (std::sqrt(dm) * mean_r);
  const arma::vec twice = 2.0 * log_w;
  result.effective_sample_size = std::exp(2.0 * lse - log_sum_exp(twice.begin(), twice.end()));
  result.log_weights = log_w;
  return result;
}

}  // namespace seqlab::energy
