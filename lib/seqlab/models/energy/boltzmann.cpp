// seqlab/models/energy/boltzmann.cpp: the general Boltzmann machine (see the header).
#include "seqlab/models/energy/boltzmann.hpp"

#include <H5Cpp.h>

#include <algorithm>
#include <bit>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"
#include "seqlab/io/hdf5.hpp"

namespace seqlab::energy {

namespace {

std::string num(double v) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.17g", v);
  return buf;
}

std::string idx(arma::uword v) { return std::to_string(v); }

// Column c = the bits of state code begin + c (row k = bit k). Requires bits <= 63.
arma::mat binary_states(arma::uword bits, std::uint64_t begin, std::uint64_t end) {
  arma::mat s(bits, end - begin);
  for (std::uint64_t c = begin; c < end; ++c)
    for (arma::uword k = 0; k < bits; ++k) s(k, c - begin) = double((c >> k) & 1u);
  return s;
}

// 1/2 s^T W s for every column of s (W symmetric, zero diagonal). Cost one GEMM.
arma::rowvec half_quadratic(const arma::mat& w, const arma::mat& s) {
  if (s.n_rows == 0) return arma::rowvec(s.n_cols, arma::fill::zeros);
  return 0.5 * arma::sum(s % (w * s), 0);
}

// -E(s) of all 2^n states as a 2^L x 2^(n-L) matrix: units 0..L-1 are the bits of the row
// index, units L..n-1 those of the column index, so the column-major linear index is the code.
struct Enumeration {
  arma::uword low = 0;
  arma::mat lo_states;  // L x 2^L
  arma::mat hi_states;  // (n-L) x 2^(n-L)
  arma::mat neg_energy;
};

Enumeration enumerate(const BoltzmannMachine& bm) {
  const arma::uword n = bm.num_units();
  const arma::mat w = bm.weight_matrix();
  const arma::vec a = bm.biases();
  Enumeration e;
  e.low = n / 2;
  const arma::uword lo = e.low, hi = n - e.low;
  e.lo_states = binary_states(lo, 0, std::uint64_t(1) << lo);
  e.hi_states = binary_states(hi, 0, std::uint64_t(1) << hi);
  const arma::mat w_ll = w.submat(0, 0, arma::size(lo, lo));
  const arma::mat w_hh = w.submat(lo, lo, arma::size(hi, hi));
  const arma::mat w_lh = w.submat(0, lo, arma::size(lo, hi));
  arma::vec lo_term(e.lo_states.n_cols, arma::fill::zeros);
  if (lo > 0)
    lo_term = e.lo_states.t() * a.head(lo) + half_quadratic(w_ll, e.lo_states).t();
  const arma::rowvec hi_term = a.tail(hi).t() * e.hi_states + half_quadratic(w_hh, e.hi_states);
  if (lo > 0)
    e.neg_energy = e.lo_states.t() * (w_lh * e.hi_states);
  else
    e.neg_energy.zeros(1, e.hi_states.n_cols);
  e.neg_energy.each_col() += lo_term;
  e.neg_energy.each_row() += hi_term;
  return e;
}

double log_sum_all(const arma::mat& x) {
  const double m = x.max();
  if (!std::isfinite(m)) return m;
  return m + std::log(arma::accu(arma::exp(x - m)));
}

// Per data column: log sum_h exp(-E(v, h)) (the unnormalised log marginal), and optionally the
// exact clamped-phase sums over the columns: sum_v E[h | v] v^T-style blocks.
struct HiddenPass {
  arma::rowvec log_unnormalised;  // N
  arma::mat expected_hidden;      // H x N: E[h | v_n]
  arma::mat hidden_second;        // H x H: sum_n E[h h^T | v_n]
};

HiddenPass hidden_pass(const BoltzmannMachine& bm, const arma::mat& data, bool want_stats) {
  const arma::uword v = bm.num_visible(), h = bm.num_hidden(), n_data = data.n_cols;
  const arma::mat w = bm.weight_matrix();
  const arma::vec a = bm.biases();
  const arma::mat w_vv = w.submat(0, 0, arma::size(v, v));
  HiddenPass r;
  // Terms of the visible part alone.
  const arma::rowvec visible_term = a.head(v).t() * data + half_quadratic(w_vv, data);
  r.log_unnormalised = visible_term;
  if (want_stats) {
    r.expected_hidden.zeros(h, n_data);
    r.hidden_second.zeros(h, h);
  }
  if (h == 0) return r;
  const arma::mat w_hh = w.submat(v, v, arma::size(h, h));
  // Effective hidden biases per column: a_h + W_hv v.
  arma::mat eff = w.submat(v, 0, arma::size(h, v)) * data;
  eff.each_col() += a.tail(h);

  const std::uint64_t n_states = std::uint64_t(1) << h;
  const std::uint64_t chunk = std::min<std::uint64_t>(n_states, 4096);
  const arma::uword col_block = std::max<arma::uword>(1, (arma::uword(1) << 20) / chunk);
  arma::rowvec lse(n_data);
  lse.fill(kNegInf);
  // Pass 1: log-sum-exp over hidden states, chunk by chunk.
  for (std::uint64_t b = 0; b < n_states; b += chunk) {
    const arma::mat s = binary_states(h, b, b + chunk);
    const arma::vec q = half_quadratic(w_hh, s).t();
    for (arma::uword c0 = 0; c0 < n_data; c0 += col_block) {
      const arma::uword c1 = std::min(n_data, c0 + col_block);
      arma::mat f = s.t() * eff.cols(c0, c1 - 1);
      f.each_col() += q;
      for (arma::uword c = c0; c < c1; ++c) {
        const double* p = f.colptr(c - c0);
        lse(c) = log_add_exp(lse(c), log_sum_exp(p, p + f.n_rows));
      }
    }
  }
  r.log_unnormalised += lse;
  if (!want_stats) return r;
  // Pass 2: posterior weights p(h | v) = exp(f - lse), accumulated into the statistics.
  for (std::uint64_t b = 0; b < n_states; b += chunk) {
    const arma::mat s = binary_states(h, b, b + chunk);
    const arma::vec q = half_quadratic(w_hh, s).t();
    for (arma::uword c0 = 0; c0 < n_data; c0 += col_block) {
      const arma::uword c1 = std::min(n_data, c0 + col_block);
      arma::mat f = s.t() * eff.cols(c0, c1 - 1);
      f.each_col() += q;
      f.each_row() -= arma::rowvec(lse.cols(c0, c1 - 1));
      f = arma::exp(f);
      r.expected_hidden.cols(c0, c1 - 1) += s * f;
      const arma::vec mass = arma::sum(f, 1);
      arma::mat weighted = s;
      weighted.each_row() %= mass.t();
      r.hidden_second += weighted * s.t();
    }
  }
  return r;
}

void require_positive_finite(double value, const std::string& what) {
  if (!(value > 0.0 && std::isfinite(value)))
    user_error(what + " must be positive and finite, got " + num(value));
}

void check_binary_states(const arma::mat& states, arma::uword n, const std::string& where) {
  if (states.n_rows != n || states.n_cols == 0)
    user_error(where + ": states are " + idx(states.n_rows) + " x " + idx(states.n_cols) +
               ", expected " + idx(n) + " x C with C >= 1 (one chain per column)");
  for (arma::uword i = 0; i < states.n_elem; ++i)
    if (states[i] != 0.0 && states[i] != 1.0)
      user_error(where + ": state column " + idx(i / n) + ", row " + idx(i % n) + " holds " +
                 num(states[i]) + ", expected 0 or 1");
}

void require_machine(const BoltzmannMachine& bm, const std::string& what) {
  if (bm.num_units() == 0) user_error(what + ": the Boltzmann machine is empty (0 units)");
}


// One heat-bath update of unit i of chain (s, f). Returns the change of s_i (-1, 0, +1).
inline double update_unit(const arma::mat& w, double* s, double* f, arma::uword i, arma::uword n,
                          double inv_t, Rng& rng) {
  const double on = uniform01(rng) < sigmoid(f[i] * inv_t) ? 1.0 : 0.0;
  const double d = on - s[i];
  if (d != 0.0) {
    s[i] = on;
    const double* wi = w.colptr(i);
    for (arma::uword j = 0; j < n; ++j) f[j] += d * wi[j];
  }
  return d;
}

}  // namespace

// ---- the machine -------------------------------------------------------------------------------

BoltzmannMachine::BoltzmannMachine(arma::uword visible, arma::uword hidden) {
  if (visible == 0) user_error("boltzmann: needs at least one visible unit, got 0");
  if (visible > kMaxUnits || hidden > kMaxUnits - visible)
    user_error("boltzmann: at most " + idx(kMaxUnits) + " units, got " + idx(visible) +
               " visible + " + idx(hidden) + " hidden");
  visible_ = visible;
  hidden_ = hidden;
  params_.zeros(num_pairs() + num_units());
}

BoltzmannMachine::BoltzmannMachine(arma::uword visible, const arma::mat& weights,
                                   const arma::vec& biases)
    : BoltzmannMachine(visible, weights.n_rows >= visible ? weights.n_rows - visible : 0) {
  const arma::uword n = num_units();
  if (weights.n_rows != n || weights.n_cols != n)
    user_error("boltzmann: weights are " + idx(weights.n_rows) + " x " + idx(weights.n_cols) +
               ", expected a square matrix with at least " + idx(visible) + " rows");
  if (biases.n_elem != n)
    user_error("boltzmann: biases have " + idx(biases.n_elem) + " elements, expected " + idx(n));
  if (!weights.is_finite()) user_error("boltzmann: weights hold a NaN or an infinity");
  if (!biases.is_finite()) user_error("boltzmann: biases hold a NaN or an infinity");
  for (arma::uword j = 0; j < n; ++j) {
    if (weights(j, j) != 0.0)
      user_error("boltzmann: weights(" + idx(j) + ", " + idx(j) + ") is " + num(weights(j, j)) +
                 ", expected a zero diagonal");
    for (arma::uword i = 0; i < j; ++i) {
      if (weights(i, j) != weights(j, i))
        user_error("boltzmann: weights are not symmetric: (" + idx(i) + ", " + idx(j) + ") is " +
                   num(weights(i, j)) + " but (" + idx(j) + ", " + idx(i) + ") is " +
                   num(weights(j, i)));
      params_(pair_index(i, j)) = weights(i, j);
    }
  }
  params_.tail(n) = biases;
}

arma::vec BoltzmannMachine::pair_weights() {
  return arma::vec(params_.memptr(), num_pairs(), false, true);
}
const arma::vec BoltzmannMachine::pair_weights() const {
  return arma::vec(const_cast<double*>(params_.memptr()), num_pairs(), false, true);
}
arma::vec BoltzmannMachine::biases() {
  return arma::vec(params_.memptr() + num_pairs(), num_units(), false, true);
}
const arma::vec BoltzmannMachine::biases() const {
  return arma::vec(const_cast<double*>(params_.memptr()) + num_pairs(), num_units(), false, true);
}

double BoltzmannMachine::weight(arma::uword i, arma::uword j) const {
  if (i >= num_units() || j >= num_units())
    throw std::out_of_range("BoltzmannMachine::weight: unit index out of range");
  if (i == j) return 0.0;
  return params_(i < j ? pair_index(i, j) : pair_index(j, i));
}

arma::mat BoltzmannMachine::weight_matrix() const {
  const arma::uword n = num_units();
  arma::mat w(n, n);
  const double* p = params_.memptr();
  for (arma::uword j = 0; j < n; ++j) {
    // Column j above the diagonal is contiguous in the packed layout.
    for (arma::uword i = 0; i < j; ++i) w(i, j) = p[pair_index(0, j) + i];
    w(j, j) = 0.0;
  }
  for (arma::uword j = 0; j < n; ++j)
    for (arma::uword i = j + 1; i < n; ++i) w(i, j) = w(j, i);
  return w;
}

double BoltzmannMachine::energy(const arma::vec& state) const {
  const arma::uword n = num_units();
  if (state.n_elem != n) throw std::invalid_argument("BoltzmannMachine::energy: state length");
  const double* p = params_.memptr();
  double e = 0.0;
  for (arma::uword j = 0; j < n; ++j) {
    if (state(j) == 0.0) continue;
    double pair = 0.0;
    const double* col = p + pair_index(0, j);
    for (arma::uword i = 0; i < j; ++i) pair += col[i] * state(i);
    e -= state(j) * (pair + p[num_pairs() + j]);
  }
  return e;
}

arma::vec BoltzmannMachine::energies(const arma::mat& states) const {
  if (states.n_rows != num_units())
    throw std::invalid_argument("BoltzmannMachine::energies: states must have n rows");
  const arma::mat w = weight_matrix();
  const arma::vec a = biases();
  return -(states.t() * a + half_quadratic(w, states).t());
}

void BoltzmannMachine::randomize(double scale, Rng& rng) {
  if (!(scale >= 0.0 && std::isfinite(scale)))
    user_error("boltzmann: initial weight scale must be non-negative and finite, got " +
               num(scale));
  arma::vec w = pair_weights();
  for (double& x : w) x = scale * standard_normal(rng);
  biases().zeros();
}

void BoltzmannMachine::validate_data(const arma::mat& data, const std::string& where) const {
  if (data.n_rows != num_visible())
    user_error(where + ": data has " + idx(data.n_rows) + " rows, expected " +
               idx(num_visible()) + " (one row per visible unit, one sample per column)");
  if (data.n_cols == 0) user_error(where + ": data has no samples (0 columns)");
  for (arma::uword c = 0; c < data.n_cols; ++c)
    for (arma::uword r = 0; r < data.n_rows; ++r)
      if (data(r, c) != 0.0 && data(r, c) != 1.0)
        user_error(where + ": data column " + idx(c) + ", row " + idx(r) + " holds " +
                   num(data(r, c)) + ", expected 0 or 1 (binary units)");
}

void BoltzmannMachine::require_enumerable(const std::string& what) const {
  require_machine(*this, what);
  if (num_units() > kMaxExactUnits)
    user_error(what + " enumerates all 2^n states and needs n <= " + idx(kMaxExactUnits) +
               " units, got n = " + idx(num_units()) + " (use the sampled methods)");
}

void BoltzmannMachine::require_enumerable_hidden(const std::string& what) const {
  require_machine(*this, what);
  if (num_hidden() > kMaxExactUnits)
    user_error(what + " enumerates the 2^H hidden states of each visible vector and needs H <= " +
               idx(kMaxExactUnits) + " hidden units, got H = " + idx(num_hidden()));
}

void BoltzmannMachine::save(H5::Group& group) const {
  require_machine(*this, "boltzmann save");
  h5::write_int_attribute(group, "visible", std::int64_t(visible_));
  h5::write_int_attribute(group, "hidden", std::int64_t(hidden_));
  h5::write_mat(group, "weights", weight_matrix());
  h5::write_vec(group, "biases", biases());
}

void BoltzmannMachine::load(const H5::Group& group) {
  const std::int64_t v = h5::read_int_attribute(group, "visible");
  const std::int64_t h = h5::read_int_attribute(group, "hidden");
  if (v < 1 || v > std::int64_t(kMaxUnits))
    h5::format_error(group, "visible", "is " + std::to_string(v) + ", expected 1 .. " +
                                           idx(kMaxUnits));
  if (h < 0 || h > std::int64_t(kMaxUnits) - v)
    h5::format_error(group, "hidden", "is " + std::to_string(h) + ", expected 0 .. " +
                                          idx(kMaxUnits - arma::uword(v)));
  const arma::uword n = arma::uword(v + h);
  const arma::mat w = h5::read_mat_checked(group, "weights", n, n, "weights, n x n");
  const arma::vec a = h5::read_vec_checked(group, "biases", n, "biases, n");
  for (arma::uword j = 0; j < n; ++j) {
    if (w(j, j) != 0.0)
      h5::format_error(group, "weights", "diagonal element (" + idx(j) + ", " + idx(j) +
                                             ") is " + num(w(j, j)) + ", expected 0");
    for (arma::uword i = 0; i < j; ++i)
      if (w(i, j) != w(j, i))
        h5::format_error(group, "weights",
                         "is not symmetric: (" + idx(i) + ", " + idx(j) + ") is " +
                             num(w(i, j)) + " but (" + idx(j) + ", " + idx(i) + ") is " +
                             num(w(j, i)));
  }
  *this = BoltzmannMachine(arma::uword(v), w, a);
}

// ---- state codes -----------------------------------------------------------------------------

arma::vec state_from_code(arma::uword n, std::uint64_t code) {
  if (n > 63) throw std::invalid_argument("state_from_code: n must be <= 63");
  arma::vec s(n);
  for (arma::uword k = 0; k < n; ++k) s(k) = double((code >> k) & 1u);
  return s;
}

std::uint64_t code_of(const arma::vec& state) {
  if (state.n_elem > 63) throw std::invalid_argument("code_of: state longer than 63");
  std::uint64_t c = 0;
  for (arma::uword k = 0; k < state.n_elem; ++k)
    if (state(k) != 0.0) c |= std::uint64_t(1) << k;
  return c;
}

arma::vec BmStatistics::flat() const {
  const arma::uword n = mean.n_elem;
  arma::vec out(n * (n - (n > 0)) / 2 + n);
  for (arma::uword j = 0; j < n; ++j)
    for (arma::uword i = 0; i < j; ++i) out(BoltzmannMachine::pair_index(i, j)) = second(i, j);
  out.tail(n) = mean;
  return out;
}

// ---- exact ---------------------------------------------------------------------------------------

double log_partition(const BoltzmannMachine& bm) {
  bm.require_enumerable("boltzmann: exact log Z");
  return log_sum_all(enumerate(bm).neg_energy);
}

arma::vec state_log_probabilities(const BoltzmannMachine& bm) {
  bm.require_enumerable("boltzmann: exact state probabilities");
  const Enumeration e = enumerate(bm);
  const double log_z = log_sum_all(e.neg_energy);
  return arma::vectorise(e.neg_energy) - log_z;
}

arma::vec log_marginal(const BoltzmannMachine& bm, const arma::mat& data) {
  bm.require_enumerable("boltzmann: exact log p(v)");
  bm.validate_data(data, "boltzmann: exact log p(v)");
  const double log_z = log_partition(bm);
  return hidden_pass(bm, data, false).log_unnormalised.t() - log_z;
}

arma::vec log_unnormalised_marginal(const BoltzmannMachine& bm, const arma::mat& data) {
  bm.require_enumerable_hidden("boltzmann: log sum_h exp(-E(v, h))");
  bm.validate_data(data, "boltzmann: log sum_h exp(-E(v, h))");
  return hidden_pass(bm, data, false).log_unnormalised.t();
}

double average_log_likelihood(const BoltzmannMachine& bm, const arma::mat& data) {
  return arma::mean(log_marginal(bm, data));
}

BmStatistics exact_free_statistics(const BoltzmannMachine& bm) {
  bm.require_enumerable("boltzmann: exact free statistics");
  const Enumeration e = enumerate(bm);
  const arma::mat p = arma::exp(e.neg_energy - log_sum_all(e.neg_energy));
  const arma::uword n = bm.num_units(), lo = e.low, hi = n - lo;
  const arma::vec row_mass = arma::sum(p, 1);
  const arma::rowvec col_mass = arma::sum(p, 0);
  BmStatistics st;
  st.second.zeros(n, n);
  st.mean.zeros(n);
  if (lo > 0) {
    arma::mat weighted = e.lo_states;
    weighted.each_row() %= row_mass.t();
    st.second.submat(0, 0, arma::size(lo, lo)) = weighted * e.lo_states.t();
    st.mean.head(lo) = e.lo_states * row_mass;
    const arma::mat cross = (e.lo_states * p) * e.hi_states.t();
    st.second.submat(0, lo, arma::size(lo, hi)) = cross;
    st.second.submat(lo, 0, arma::size(hi, lo)) = cross.t();
  }
  arma::mat weighted = e.hi_states;
  weighted.each_row() %= col_mass;
  st.second.submat(lo, lo, arma::size(hi, hi)) = weighted * e.hi_states.t();
  st.mean.tail(hi) = e.hi_states * col_mass.t();
  return st;
}

BmStatistics exact_clamped_statistics(const BoltzmannMachine& bm, const arma::mat& data) {
  bm.require_enumerable_hidden("boltzmann: exact clamped statistics");
  bm.validate_data(data, "boltzmann: exact clamped statistics");
  const arma::uword v = bm.num_visible(), h = bm.num_hidden(), n = bm.num_units();
  const double inv_n = 1.0 / double(data.n_cols);
  const HiddenPass pass = hidden_pass(bm, data, true);
  BmStatistics st;
  st.second.zeros(n, n);
  st.mean.zeros(n);
  st.second.submat(0, 0, arma::size(v, v)) = data * data.t() * inv_n;
  st.mean.head(v) = arma::sum(data, 1) * inv_n;
  if (h > 0) {
    const arma::mat cross = data * pass.expected_hidden.t() * inv_n;  // V x H
    st.second.submat(0, v, arma::size(v, h)) = cross;
    st.second.submat(v, 0, arma::size(h, v)) = cross.t();
    st.second.submat(v, v, arma::size(h, h)) = pass.hidden_second * inv_n;
    st.mean.tail(h) = arma::sum(pass.expected_hidden, 1) * inv_n;
  }
  return st;
}

arma::vec exact_gradient(const BoltzmannMachine& bm, const arma::mat& data) {
  bm.require_enumerable("boltzmann: exact gradient");
  bm.validate_data(data, "boltzmann: exact gradient");
  arma::vec grad(bm.num_parameters(), arma::fill::zeros);
  grad += exact_clamped_statistics(bm, data).flat();
  grad -= exact_free_statistics(bm).flat();
  return grad;
}

GroundState exact_ground_state(const BoltzmannMachine& bm) {
  bm.require_enumerable("boltzmann: exact ground state");
  const Enumeration e = enumerate(bm);
  // Column-major linear index = state code; index_max takes the first maximum.
  const arma::uword code = arma::vectorise(e.neg_energy).index_max();
  GroundState g;
  g.state = state_from_code(bm.num_units(), code);
  g.energy = bm.energy(g.state);
  return g;
}

// ---- Gibbs ------------------------------------------------------------------------------------------

void GibbsOptions::validate() const { require_positive_finite(temperature, "gibbs: temperature"); }

GibbsSampler::GibbsSampler(const BoltzmannMachine& bm, GibbsOptions options)
    : options_(options) {
  require_machine(bm, "gibbs");
  options_.validate();
  visible_ = bm.num_visible();
  weights_ = bm.weight_matrix();
  biases_ = bm.biases();
}

void GibbsSampler::set_states(arma::mat states) {
  check_binary_states(states, weights_.n_rows, "gibbs");
  states_ = std::move(states);
  refresh_fields();
  sweeps_since_refresh_ = 0;
}

void GibbsSampler::refresh_fields() {
  fields_ = weights_ * states_;
  fields_.each_col() += biases_;
}

void GibbsSampler::set_temperature(double temperature) {
  require_positive_finite(temperature, "gibbs: temperature");
  options_.temperature = temperature;
}

void GibbsSampler::sweep(Rng& rng) {
  if (states_.n_elem == 0) throw std::logic_error("GibbsSampler::sweep: no states set");
  const arma::uword n = weights_.n_rows;
  const arma::uword first = options_.clamp_visible ? visible_ : 0;
  const double inv_t = 1.0 / options_.temperature;
  if (++sweeps_since_refresh_ == kRefreshSweeps) {
    refresh_fields();
    sweeps_since_refresh_ = 0;
  }
  arma::uvec order;
  for (arma::uword c = 0; c < states_.n_cols; ++c) {
    double* s = states_.colptr(c);
    double* f = fields_.colptr(c);
    if (options_.order == SweepOrder::fixed) {
      for (arma::uword i = first; i < n; ++i) update_unit(weights_, s, f, i, n, inv_t, rng);
    } else {
      order = random_permutation(n - first, rng);
      for (const arma::uword k : order) update_unit(weights_, s, f, first + k, n, inv_t, rng);
    }
  }
}

void GibbsSampler::sweeps(arma::uword count, Rng& rng) {
  for (arma::uword k = 0; k < count; ++k) sweep(rng);
}

BmStatistics sampled_statistics(const BoltzmannMachine& bm, arma::mat& states,
                                arma::uword burn_in, arma::uword samples,
                                const GibbsOptions& options, Rng& rng) {
  if (samples == 0) user_error("gibbs: statistics need at least one sample sweep, got 0");
  GibbsSampler sampler(bm, options);
  sampler.set_states(states);
  sampler.sweeps(burn_in, rng);
  const arma::uword n = bm.num_units();
  BmStatistics st;
  st.second.zeros(n, n);
  st.mean.zeros(n);
  for (arma::uword k = 0; k < samples; ++k) {
    sampler.sweep(rng);
    const arma::mat& s = sampler.states();
    st.second += s * s.t();
    st.mean += arma::sum(s, 1);
  }
  const double scale = 1.0 / (double(samples) * double(sampler.states().n_cols));
  st.second *= scale;
  st.mean *= scale;
  states = sampler.states();
  return st;
}

namespace {
arma::mat clamped_start(const BoltzmannMachine& bm, const arma::mat& data, Rng& rng) {
  arma::mat states(bm.num_units(), data.n_cols);
  states.head_rows(bm.num_visible()) = data;
  for (arma::uword c = 0; c < data.n_cols; ++c)
    for (arma::uword i = bm.num_visible(); i < bm.num_units(); ++i)
      states(i, c) = uniform01(rng) < 0.5 ? 1.0 : 0.0;
  return states;
}

arma::mat random_states(arma::uword n, arma::uword count, Rng& rng) {
  arma::mat states(n, count);
  for (double& x : states) x = uniform01(rng) < 0.5 ? 1.0 : 0.0;
  return states;
}
}  // namespace

BmStatistics sampled_clamped_statistics(const BoltzmannMachine& bm, const arma::mat& data,
                                        arma::uword burn_in, arma::uword samples,
                                        const GibbsOptions& options, Rng& rng) {
  require_machine(bm, "gibbs clamped statistics");
  bm.validate_data(data, "gibbs clamped statistics");
  options.validate();
  GibbsOptions clamped = options;
  clamped.clamp_visible = true;
  arma::mat states = clamped_start(bm, data, rng);
  return sampled_statistics(bm, states, burn_in, samples, clamped, rng);
}

void SampleOptions::validate() const {
  if (chains == 0) user_error("boltzmann sample: chains must be at least 1, got 0");
  if (thin == 0) user_error("boltzmann sample: thin must be at least 1, got 0");
  if (gibbs.clamp_visible)
    user_error("boltzmann sample: clamp_visible must be off when sampling visible vectors");
  gibbs.validate();
}

arma::mat sample_visible(const BoltzmannMachine& bm, arma::uword count,
                         const SampleOptions& options, Rng& rng) {
  require_machine(bm, "boltzmann sample");
  options.validate();
  arma::mat out(bm.num_visible(), count);
  if (count == 0) return out;
  GibbsSampler sampler(bm, options.gibbs);
  sampler.set_states(random_states(bm.num_units(), options.chains, rng));
  sampler.sweeps(options.burn_in, rng);
  arma::uword filled = 0;
  while (filled < count) {
    sampler.sweeps(options.thin, rng);
    for (arma::uword c = 0; c < options.chains && filled < count; ++c, ++filled)
      out.col(filled) = sampler.states().col(c).head(bm.num_visible());
  }
  return out;
}

// ---- learning ---------------------------------------------------------------------------------------

void BmTrainOptions::validate() const {
  const std::string who = "boltzmann train: ";
  if (epochs == 0) user_error(who + "epochs must be at least 1, got 0");
  require_positive_finite(learning_rate, who + "learning_rate");
  if (!(weight_decay >= 0.0 && std::isfinite(weight_decay)))
    user_error(who + "weight_decay must be non-negative and finite, got " + num(weight_decay));
  if (clamped_sweeps == 0) user_error(who + "clamped_sweeps must be at least 1, got 0");
  if (free_chains == 0) user_error(who + "free_chains must be at least 1, got 0");
  if (free_sweeps == 0) user_error(who + "free_sweeps must be at least 1, got 0");
  if (!(max_seconds >= 0.0 && std::isfinite(max_seconds)))
    user_error(who + "max_seconds must be non-negative and finite, got " + num(max_seconds));
}

std::vector<BmEpochRecord> train(BoltzmannMachine& bm, const arma::mat& data,
                                 const BmTrainOptions& options, Rng& rng,
                                 const std::function<void(const BmEpochRecord&)>& on_epoch) {
  require_machine(bm, "boltzmann train");
  options.validate();
  bm.validate_data(data, "boltzmann train");
  if (options.exact_statistics) bm.require_enumerable("boltzmann train: exact statistics");
  else if (options.exact_clamped)
    bm.require_enumerable_hidden("boltzmann train: exact clamped statistics");
  const auto start = std::chrono::steady_clock::now();
  const arma::uword n_data = data.n_cols, n = bm.num_units();
  const arma::uword batch =
      options.batch_size == 0 ? n_data : std::min(options.batch_size, n_data);
  const bool track = options.track_log_likelihood && n <= BoltzmannMachine::kMaxExactUnits;
  GibbsOptions gibbs;
  gibbs.order = options.order;
  arma::mat chains;
  if (!options.exact_statistics) chains = random_states(n, options.free_chains, rng);

  std::vector<BmEpochRecord> history;
  arma::vec step(bm.num_parameters());
  for (arma::uword epoch = 1; epoch <= options.epochs; ++epoch) {
    arma::uvec order;
    if (batch < n_data) order = random_permutation(n_data, rng);
    for (arma::uword b0 = 0; b0 < n_data; b0 += batch) {
      const arma::uword b1 = std::min(n_data, b0 + batch);
      const arma::mat x = batch < n_data ? arma::mat(data.cols(order.subvec(b0, b1 - 1)))
                                         : data;
      step.zeros();
      if (options.exact_statistics) {
        step += exact_clamped_statistics(bm, x).flat();
        step -= exact_free_statistics(bm).flat();
      } else {
        if (options.exact_clamped)
          step += exact_clamped_statistics(bm, x).flat();
        else
          step +=
              sampled_clamped_statistics(bm, x, options.clamped_sweeps - 1, 1, gibbs, rng).flat();
        step -= sampled_statistics(bm, chains, options.free_sweeps - 1, 1, gibbs, rng).flat();
      }
      if (options.weight_decay > 0.0)
        step.head(bm.num_pairs()) -= options.weight_decay * bm.pair_weights();
      bm.parameters() += options.learning_rate * step;
    }
    BmEpochRecord rec;
    rec.epoch = epoch;
    rec.log_likelihood =
        track ? average_log_likelihood(bm, data) : std::numeric_limits<double>::quiet_NaN();
    rec.seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    history.push_back(rec);
    if (on_epoch) on_epoch(rec);
    if (options.max_seconds > 0.0 && rec.seconds >= options.max_seconds) break;
  }
  return history;
}

// ---- annealed importance sampling --------------------------------------------------------------

AisResult ais_log_partition(const BoltzmannMachine& bm, const arma::vec& base_biases,
                            const AisOptions& options, Rng& rng) {
  require_machine(bm, "boltzmann AIS");
  const arma::uword n = bm.num_units();
  if (base_biases.n_elem != n || !base_biases.is_finite())
    user_error("boltzmann AIS: base biases must be " + idx(n) + " finite values, got " +
               idx(base_biases.n_elem) + (base_biases.is_finite() ? "" : " (not all finite)"));
  const arma::vec betas = ais_schedule(options);
  const arma::uword runs = options.runs;
  const arma::mat w = bm.weight_matrix();
  const arma::vec a = bm.biases();
  const arma::vec& b0 = base_biases;

  AisResult result;
  result.log_z_base = 0.0;
  for (const double x : b0)
    result.log_z_base += x > 0.0 ? x + std::log1p(std::exp(-x)) : std::log1p(std::exp(x));
  arma::mat states(n, runs);
  for (arma::uword m = 0; m < runs; ++m)
    for (arma::uword i = 0; i < n; ++i) states(i, m) = uniform01(rng) < sigmoid(b0(i)) ? 1.0 : 0.0;
  // Per run: local fields f = W s + a of the target machine and gap = E(s) - E_0(s), both
  // updated per flip (a flip of unit i by d changes E by -d f_i and E_0 by -d b0_i; f_i does not
  // depend on s_i) and recomputed every kRefreshSweeps sweeps against rounding drift.
  arma::mat fields;
  arma::rowvec gap(runs);
  const auto refresh = [&]() {
    fields = w * states;
    fields.each_col() += a;
    for (arma::uword m = 0; m < runs; ++m) {
      const double* s = states.colptr(m);
      const double* f = fields.colptr(m);
      double e = 0.0;
      for (arma::uword i = 0; i < n; ++i) e += s[i] * (-0.5 * (f[i] + a(i)) + b0(i));
      gap(m) = e;
    }
  };
  refresh();
  arma::vec log_w(runs, arma::fill::zeros);
  arma::uword since_refresh = 0;
  for (arma::uword k = 1; k < betas.n_elem; ++k) {
    // The states were drawn by the transition that leaves p_{k-1} invariant (or exactly from p_0).
    const double step = betas(k) - betas(k - 1);
    for (arma::uword m = 0; m < runs; ++m) log_w(m) -= step * gap(m);
    if (k + 1 == betas.n_elem) break;
    if (++since_refresh == GibbsSampler::kRefreshSweeps) {
      refresh();
      since_refresh = 0;
    }
    const double beta = betas(k);
    for (arma::uword m = 0; m < runs; ++m) {
      double* s = states.colptr(m);
      double* f = fields.colptr(m);
      double g = gap(m);
      for (arma::uword i = 0; i < n; ++i) {
        const double field = (1.0 - beta) * b0(i) + beta * f[i];
        const double on = uniform01(rng) < sigmoid(field) ? 1.0 : 0.0;
        const double d = on - s[i];
        if (d == 0.0) continue;
        s[i] = on;
        g -= d * (f[i] - b0(i));
        const double* wi = w.colptr(i);
        for (arma::uword j = 0; j < n; ++j) f[j] += d * wi[j];
      }
      gap(m) = g;
    }
  }

  const double lse = log_sum_exp(log_w.begin(), log_w.end());
  const double dm = double(runs);
  result.log_z = result.log_z_base + lse - std::log(dm);
  // Delta method on the weights scaled by their maximum (no overflow).
  const arma::vec r = arma::exp(log_w - log_w.max());
  result.standard_error = arma::stddev(r) / (std::sqrt(dm) * arma::mean(r));
  const arma::vec twice = 2.0 * log_w;
  result.effective_sample_size = std::exp(2.0 * lse - log_sum_exp(twice.begin(), twice.end()));
  result.log_weights = log_w;
  return result;
}

AisResult ais_log_partition(const BoltzmannMachine& bm, const arma::mat& data,
                            const AisOptions& options, Rng& rng) {
  require_machine(bm, "boltzmann AIS");
  bm.validate_data(data, "boltzmann AIS base-rate data");
  arma::vec base(bm.num_units(), arma::fill::zeros);
  base.head(bm.num_visible()) = base_rate_visible_bias(data, VisibleType::bernoulli);
  return ais_log_partition(bm, base, options, rng);
}

// ---- annealing ------------------------------------------------------------------------------------------

void AnnealOptions::validate() const {
  require_positive_finite(t_start, "anneal: t_start");
  require_positive_finite(t_end, "anneal: t_end");
  if (t_end > t_start)
    user_error("anneal: t_end must not exceed t_start, got t_start " + num(t_start) +
               " and t_end " + num(t_end));
  if (sweeps == 0) user_error("anneal: sweeps must be at least 1, got 0");
}

AnnealResult anneal(const BoltzmannMachine& bm, const AnnealOptions& options, Rng& rng) {
  require_machine(bm, "anneal");
  options.validate();
  const arma::uword n = bm.num_units();
  const arma::mat w = bm.weight_matrix();
  arma::vec s = random_states(n, 1, rng);
  arma::vec f = w * s + bm.biases();
  double e = bm.energy(s);
  AnnealResult best;
  best.state = s;
  best.energy = e;
  best.sweep = 0;
  const double ratio = options.t_end / options.t_start;
  arma::uvec order = arma::regspace<arma::uvec>(0, n - 1);
  for (arma::uword k = 0; k < options.sweeps; ++k) {
    const double t = options.sweeps == 1
                         ? options.t_start
                         : options.t_start * std::pow(ratio, double(k) / double(options.sweeps - 1));
    const double inv_t = 1.0 / t;
    if (options.order == SweepOrder::random) order = random_permutation(n, rng);
    for (const arma::uword i : order) {
      const double field = f(i);  // unchanged by its own flip (zero diagonal)
      const double d = update_unit(w, s.memptr(), f.memptr(), i, n, inv_t, rng);
      if (d != 0.0) {
        e -= d * field;
        if (e < best.energy) {
          best.energy = e;
          best.state = s;
          best.sweep = k;
        }
      }
    }
  }
  best.energy = bm.energy(best.state);
  return best;
}

// ---- max-cut ----------------------------------------------------------------------------------------------

void validate_graph(const arma::mat& graph, const std::string& where) {
  if (graph.n_rows == 0 || graph.n_rows != graph.n_cols)
    user_error(where + ": graph weights are " + idx(graph.n_rows) + " x " + idx(graph.n_cols) +
               ", expected n x n with n >= 1");
  if (!graph.is_finite()) user_error(where + ": graph weights hold a NaN or an infinity");
  const arma::uword n = graph.n_rows;
  for (arma::uword j = 0; j < n; ++j) {
    if (graph(j, j) != 0.0)
      user_error(where + ": graph weight (" + idx(j) + ", " + idx(j) + ") is " +
                 num(graph(j, j)) + ", expected 0 (no self-loops)");
    for (arma::uword i = 0; i < j; ++i)
      if (graph(i, j) != graph(j, i))
        user_error(where + ": graph weights are not symmetric at (" + idx(i) + ", " + idx(j) +
                   ")");
  }
}

BoltzmannMachine maxcut_machine(const arma::mat& graph) {
  validate_graph(graph, "maxcut");
  return BoltzmannMachine(graph.n_rows, -2.0 * graph, arma::vec(arma::sum(graph, 1)));
}

double cut_value(const arma::mat& graph, const arma::vec& side) {
  validate_graph(graph, "maxcut");
  const arma::uword n = graph.n_rows;
  if (side.n_elem != n)
    user_error("maxcut: assignment has " + idx(side.n_elem) + " entries, expected " + idx(n));
  for (arma::uword i = 0; i < n; ++i)
    if (side(i) != 0.0 && side(i) != 1.0)
      user_error("maxcut: assignment entry " + idx(i) + " is " + num(side(i)) +
                 ", expected 0 or 1");
  double cut = 0.0;
  for (arma::uword j = 0; j < n; ++j)
    for (arma::uword i = 0; i < j; ++i)
      if (side(i) != side(j)) cut += graph(i, j);
  return cut;
}

MaxCut max_cut_exact(const arma::mat& graph) {
  validate_graph(graph, "maxcut exact");
  const arma::uword n = graph.n_rows;
  if (n > BoltzmannMachine::kMaxExactUnits)
    user_error("maxcut exact: enumeration needs n <= " + idx(BoltzmannMachine::kMaxExactUnits) +
               " vertices, got " + idx(n) + " (use anneal and the documented bounds)");
  // sigma = +-1 (all -1 = side 0 at the start, cut 0); h_k = sum_j w_kj sigma_j. Flipping k
  // changes the cut by sigma_k h_k and every h_j by -2 w_jk sigma_k(old).
  arma::vec sigma(n);
  sigma.fill(-1.0);
  arma::vec h = graph * sigma;
  double cut = 0.0;
  MaxCut best;
  best.value = 0.0;
  std::uint64_t best_code = 0, code = 0;
  const std::uint64_t steps = std::uint64_t(1) << (n - 1);
  for (std::uint64_t t = 1; t < steps; ++t) {
    const arma::uword k = arma::uword(std::countr_zero(t));
    const double old = sigma(k);
    cut += old * h(k);
    sigma(k) = -old;
    const double* wk = graph.colptr(k);
    for (arma::uword j = 0; j < n; ++j) h(j) -= 2.0 * old * wk[j];
    code ^= std::uint64_t(1) << k;
    if (cut > best.value) {
      best.value = cut;
      best_code = code;
    }
  }
  best.side = state_from_code(n, best_code);
  // The exact cut of the winner, summed directly (the running value carries rounding).
  best.value = cut_value(graph, best.side);
  return best;
}

double maxcut_upper_bound(const arma::mat& graph) {
  validate_graph(graph, "maxcut bound");
  return 0.5 * arma::accu(arma::clamp(graph, 0.0, arma::datum::inf));
}

double random_cut_expectation(const arma::mat& graph) {
  validate_graph(graph, "maxcut bound");
  return 0.25 * arma::accu(graph);  // (sum over ordered pairs / 2) / 2
}

PlantedMaxCut planted_bipartite_maxcut(arma::uword n, double edge_probability, double min_weight,
                                       double max_weight, Rng& rng) {
  if (n < 2) user_error("planted maxcut: needs n >= 2 vertices, got " + idx(n));
  if (!(edge_probability > 0.0 && edge_probability <= 1.0))
    user_error("planted maxcut: edge_probability must be in (0, 1], got " + num(edge_probability));
  if (!(min_weight > 0.0 && std::isfinite(max_weight) && min_weight <= max_weight))
    user_error("planted maxcut: weights need 0 < min_weight <= max_weight (finite), got " +
               num(min_weight) + " and " + num(max_weight));
  PlantedMaxCut p;
  p.side = random_states(n, 1, rng);
  p.graph.zeros(n, n);
  for (arma::uword j = 0; j < n; ++j)
    for (arma::uword i = 0; i < j; ++i) {
      if (p.side(i) == p.side(j)) continue;
      if (uniform01(rng) >= edge_probability) continue;
      const double w = min_weight + (max_weight - min_weight) * uniform01(rng);
      p.graph(i, j) = w;
      p.graph(j, i) = w;
      p.optimum += w;
    }
  return p;
}

}  // namespace seqlab::energy
