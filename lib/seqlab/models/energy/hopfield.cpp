// seqlab/models/energy/hopfield.cpp: Hopfield networks (see the header for the model, the rules
// and the file layout).
#include "seqlab/models/energy/hopfield.hpp"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <stdexcept>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"

namespace seqlab::energy {

namespace {

std::string number(double v) {
  char buffer[40];
  std::snprintf(buffer, sizeof buffer, "%.17g", v);
  return buffer;
}

std::string shape(const arma::mat& m) {
  return std::to_string(m.n_rows) + " x " + std::to_string(m.n_cols);
}

void require_patterns(const arma::mat& patterns, const std::string& what) {
  if (patterns.n_rows == 0 || patterns.n_cols == 0)
    user_error(what + ": expected N x P patterns (one per column) with N, P >= 1, got " +
               shape(patterns));
  require_spins(patterns, what);
}

void require_length(const arma::vec& x, arma::uword n, const std::string& what) {
  if (x.n_elem != n)
    user_error(what + ": expected a vector of " + std::to_string(n) + " units, got " +
               std::to_string(x.n_elem));
}

// sign with ties keeping `current`.
inline double spin_of(double field, double current) {
  return field > 0.0 ? 1.0 : (field < 0.0 ? -1.0 : current);
}

double symmetry_tolerance(const arma::mat& w) {
  return 1e-12 * std::max(1.0, w.n_elem ? arma::abs(w).max() : 0.0);
}

// The first (i, j) with |W_ij - W_ji| above the tolerance, or false.
bool find_asymmetry(const arma::mat& w, arma::uword& row, arma::uword& col) {
  const double tol = symmetry_tolerance(w);
  for (arma::uword j = 0; j < w.n_cols; ++j)
    for (arma::uword i = j + 1; i < w.n_rows; ++i)
      if (!(std::abs(w(i, j) - w(j, i)) <= tol)) {
        row = i;
        col = j;
        return true;
      }
  return false;
}

void symmetrize(arma::mat& w) {
  for (arma::uword j = 0; j < w.n_cols; ++j)
    for (arma::uword i = j + 1; i < w.n_rows; ++i) {
      const double v = 0.5 * (w(i, j) + w(j, i));
      w(i, j) = v;
      w(j, i) = v;
    }
}

}  // namespace

// ---- patterns ----------------------------------------------------------------------------------

void require_spins(const arma::mat& x, const std::string& what) {
  for (arma::uword j = 0; j < x.n_cols; ++j)
    for (arma::uword i = 0; i < x.n_rows; ++i)
      if (x(i, j) != 1.0 && x(i, j) != -1.0)
        user_error(what + ": element (" + std::to_string(i) + ", " + std::to_string(j) + ") is " +
                   number(x(i, j)) + ", expected -1 or +1");
}

arma::mat binary_to_spins(const arma::mat& frames) {
  arma::mat spins(frames.n_rows, frames.n_cols);
  for (arma::uword j = 0; j < frames.n_cols; ++j)
    for (arma::uword i = 0; i < frames.n_rows; ++i) {
      const double v = frames(i, j);
      if (v != 0.0 && v != 1.0)
        user_error("binary frames: element (" + std::to_string(i) + ", " + std::to_string(j) +
                   ") is " + number(v) + ", expected 0 or 1");
      spins(i, j) = 2.0 * v - 1.0;
    }
  return spins;
}

double overlap(const arma::vec& x, const arma::vec& pattern) {
  if (x.n_elem == 0 || x.n_elem != pattern.n_elem)
    user_error("overlap: expected a state and a pattern of equal length >= 1, got " +
               std::to_string(x.n_elem) + " and " + std::to_string(pattern.n_elem));
  return arma::dot(x, pattern) / static_cast<double>(x.n_elem);
}

BestOverlap best_overlap(const arma::vec& x, const arma::mat& patterns) {
  if (patterns.n_cols == 0 || patterns.n_rows == 0)
    user_error("best_overlap: expected N x P patterns with N, P >= 1, got " + shape(patterns));
  require_length(x, patterns.n_rows, "best_overlap: state");
  const arma::vec m = patterns.t() * x / static_cast<double>(patterns.n_rows);
  BestOverlap best;
  best.index = m.index_max();
  best.overlap = m(best.index);
  return best;
}

// ---- learning rules ----------------------------------------------------------------------------

std::string rule_name(HopfieldRule rule) {
  switch (rule) {
    case HopfieldRule::hebbian:
      return "hebbian";
    case HopfieldRule::storkey:
      return "storkey";
    case HopfieldRule::pseudo_inverse:
      return "pseudo_inverse";
    case HopfieldRule::custom:
      return "custom";
  }
  throw std::logic_error("rule_name: unknown rule");
}

HopfieldRule parse_rule(const std::string& name) {
  for (const HopfieldRule r : {HopfieldRule::hebbian, HopfieldRule::storkey,
                               HopfieldRule::pseudo_inverse, HopfieldRule::custom})
    if (rule_name(r) == name) return r;
  user_error("unknown Hopfield rule '" + name +
             "', expected hebbian, storkey, pseudo_inverse or custom");
}

arma::mat hebbian_weights(const arma::mat& patterns) {
  require_patterns(patterns, "hebbian_weights: patterns");
  arma::mat w = patterns * patterns.t();
  w /= static_cast<double>(patterns.n_rows);
  w.diag().zeros();
  symmetrize(w);  // the product need not be bitwise symmetric
  return w;
}

arma::mat storkey_weights(const arma::mat& patterns) {
  require_patterns(patterns, "storkey_weights: patterns");
  const arma::uword n = patterns.n_rows;
  const double inv_n = 1.0 / static_cast<double>(n);
  const double keep = 1.0 + 2.0 * inv_n;
  arma::mat w(n, n, arma::fill::zeros);
  arma::vec h(n), u(n);
  for (arma::uword p = 0; p < patterns.n_cols; ++p) {
    const double* xi = patterns.colptr(p);
    h = w * patterns.col(p);
    for (arma::uword i = 0; i < n; ++i) u[i] = 0.5 * xi[i] - h[i];
    // One contiguous pass over all of W. Elements (i, j) and (j, i) compute the same two
    // products and add them in swapped order, which rounds identically: W stays exactly
    // symmetric without mirroring.
    for (arma::uword j = 0; j < n; ++j) {
      double* wj = w.colptr(j);
      const double xj = xi[j], uj = u[j];
      for (arma::uword i = 0; i < n; ++i) wj[i] = keep * wj[i] + inv_n * (u[i] * xj + xi[i] * uj);
      wj[j] = 0.0;
    }
  }
  return w;
}

arma::mat pseudo_inverse_weights(const arma::mat& patterns) {
  require_patterns(patterns, "pseudo_inverse_weights: patterns");
  const arma::mat gram = patterns.t() * patterns;
  arma::mat gram_pinv;
  if (!arma::pinv(gram_pinv, gram))
    throw std::runtime_error("pseudo_inverse_weights: SVD of the Gram matrix failed");
  arma::mat w = patterns * (gram_pinv * patterns.t());
  symmetrize(w);
  // Rounding can leave a diagonal entry a hair below 0 (W_ii = |W e_i|^2 >= 0 exactly).
  for (arma::uword i = 0; i < w.n_rows; ++i) w(i, i) = std::max(0.0, w(i, i));
  return w;
}

// ---- the classical network ---------------------------------------------------------------------

std::string sync_status_name(SyncStatus status) {
  switch (status) {
    case SyncStatus::fixed_point:
      return "fixed_point";
    case SyncStatus::two_cycle:
      return "two_cycle";
    case SyncStatus::max_steps:
      return "max_steps";
  }
  throw std::logic_error("sync_status_name: unknown status");
}

HopfieldNetwork::HopfieldNetwork(arma::uword units) {
  if (units == 0) user_error("HopfieldNetwork: expected at least 1 unit, got 0");
  allocate(units);
}

void HopfieldNetwork::allocate(arma::uword units) {
  units_ = units;
  parameters_.zeros(units * units + units);
}

const arma::mat HopfieldNetwork::weights() const {
  return arma::mat(const_cast<double*>(parameters_.memptr()), units_, units_, false, true);
}

const arma::vec HopfieldNetwork::bias() const {
  return arma::vec(const_cast<double*>(parameters_.memptr()) + units_ * units_, units_, false,
                   true);
}

arma::mat HopfieldNetwork::weights_view() {
  return arma::mat(parameters_.memptr(), units_, units_, false, true);
}

arma::vec HopfieldNetwork::bias_view() {
  return arma::vec(parameters_.memptr() + units_ * units_, units_, false, true);
}

void HopfieldNetwork::require_state(const arma::vec& x, const std::string& what) const {
  if (units_ == 0) user_error(what + ": the network is empty (0 units)");
  require_length(x, units_, what);
  require_spins(x, what);
}

void HopfieldNetwork::store(const arma::mat& patterns, HopfieldRule rule) {
  if (rule == HopfieldRule::custom)
    throw std::invalid_argument("HopfieldNetwork::store: custom is not a learning rule");
  require_patterns(patterns, "HopfieldNetwork::store: patterns");
  if (units_ != 0 && patterns.n_rows != units_)
    user_error("HopfieldNetwork::store: patterns have " + std::to_string(patterns.n_rows) +
               " rows, expected " + std::to_string(units_) + " (one per unit)");
  arma::mat w = rule == HopfieldRule::hebbian   ? hebbian_weights(patterns)
                : rule == HopfieldRule::storkey ? storkey_weights(patterns)
                                                : pseudo_inverse_weights(patterns);
  allocate(patterns.n_rows);
  weights_view() = w;
  rule_ = rule;
}

void HopfieldNetwork::set_parameters(const arma::mat& weights, const arma::vec& bias) {
  if (weights.n_rows == 0 || weights.n_rows != weights.n_cols)
    user_error("HopfieldNetwork::set_parameters: expected N x N weights with N >= 1, got " +
               shape(weights));
  require_length(bias, weights.n_rows, "HopfieldNetwork::set_parameters: bias");
  if (!weights.is_finite() || !bias.is_finite())
    user_error("HopfieldNetwork::set_parameters: weights and bias must be finite");
  arma::uword r = 0, c = 0;
  if (find_asymmetry(weights, r, c))
    user_error("HopfieldNetwork::set_parameters: weights are not symmetric: W(" +
               std::to_string(r) + ", " + std::to_string(c) + ") = " + number(weights(r, c)) +
               " but W(" + std::to_string(c) + ", " + std::to_string(r) +
               ") = " + number(weights(c, r)));
  for (arma::uword i = 0; i < weights.n_rows; ++i)
    if (weights(i, i) < 0.0)
      user_error("HopfieldNetwork::set_parameters: W(" + std::to_string(i) + ", " +
                 std::to_string(i) + ") = " + number(weights(i, i)) +
                 ", expected a non-negative diagonal");
  arma::mat w = weights;
  symmetrize(w);
  allocate(weights.n_rows);
  weights_view() = w;
  bias_view() = bias;
  rule_ = HopfieldRule::custom;
}

double HopfieldNetwork::energy(const arma::vec& x) const {
  if (units_ == 0) user_error("HopfieldNetwork::energy: the network is empty (0 units)");
  require_length(x, units_, "HopfieldNetwork::energy: state");
  const arma::mat w = weights();
  const arma::vec b = bias();
  const arma::vec wx = w * x;
  return -0.5 * arma::dot(x, wx) - arma::dot(b, x);
}

double HopfieldNetwork::local_field(const arma::vec& x, arma::uword i) const {
  require_length(x, units_, "HopfieldNetwork::local_field: state");
  if (i >= units_)
    user_error("HopfieldNetwork::local_field: unit " + std::to_string(i) + " out of range (" +
               std::to_string(units_) + " units)");
  // W is symmetric: row i is column i, which is contiguous.
  const double* wi = parameters_.memptr() + i * units_;
  double h = 0.0;
  for (arma::uword k = 0; k < units_; ++k) h += wi[k] * x[k];
  return h + parameters_[units_ * units_ + i];
}

bool HopfieldNetwork::update_unit(arma::vec& x, arma::uword i) const {
  require_state(x, "HopfieldNetwork::update_unit: state");
  const double s = spin_of(local_field(x, i), x[i]);
  const bool flipped = s != x[i];
  x[i] = s;
  return flipped;
}

AsyncResult HopfieldNetwork::settle(const arma::vec& start, Rng& rng,
                                    const AsyncOptions& options) const {
  require_state(start, "HopfieldNetwork::settle: start");
  const arma::uword n = units_;
  const arma::mat w = weights();
  const arma::vec b = bias();
  AsyncResult r;
  r.state = start;
  arma::vec& x = r.state;
  arma::vec h = w * x + b;
  std::vector<double> trace;
  trace.reserve(std::min<arma::uword>(options.max_sweeps, 64));
  while (r.sweeps < options.max_sweeps) {
    const arma::uvec order = random_permutation(n, rng);
    arma::uword flips = 0;
    for (arma::uword k = 0; k < n; ++k) {
      const arma::uword i = order[k];
      const double s = spin_of(h[i], x[i]);
      if (s == x[i]) continue;
      // x_i moves by 2 s; every field follows by 2 s W(:, i) (W symmetric).
      const double delta = 2.0 * s;
      x[i] = s;
      const double* wi = w.colptr(i);
      double* hp = h.memptr();
      for (arma::uword j = 0; j < n; ++j) hp[j] += delta * wi[j];
      ++flips;
      if (options.on_flip) options.on_flip(i, x);
    }
    ++r.sweeps;
    r.flips += flips;
    if (flips == 0) {
      // Recompute the fields from scratch: a fixed point must hold for the true fields.
      h = w * x + b;
      bool stable = true;
      for (arma::uword i = 0; i < n && stable; ++i) stable = spin_of(h[i], x[i]) == x[i];
      if (stable) {
        r.converged = true;
        trace.push_back(-0.5 * arma::dot(x, h) - 0.5 * arma::dot(b, x));
        break;
      }
    }
    // x^T W x = x . (h - b), so E = -1/2 x . h - 1/2 b . x.
    trace.push_back(-0.5 * arma::dot(x, h) - 0.5 * arma::dot(b, x));
  }
  r.energy_trace = arma::vec(trace);
  return r;
}

SyncResult HopfieldNetwork::settle_synchronous(const arma::vec& start,
                                               arma::uword max_steps) const {
  require_state(start, "HopfieldNetwork::settle_synchronous: start");
  const arma::mat w = weights();
  const arma::vec b = bias();
  SyncResult r;
  arma::vec previous;  // the state one step back
  arma::vec current = start;
  arma::vec h(units_), next(units_);
  while (r.steps < max_steps) {
    h = w * current + b;
    for (arma::uword i = 0; i < units_; ++i) next[i] = spin_of(h[i], current[i]);
    ++r.steps;
    if (arma::all(next == current)) {
      r.status = SyncStatus::fixed_point;
      break;
    }
    if (previous.n_elem == units_ && arma::all(next == previous)) {
      r.status = SyncStatus::two_cycle;
      previous = std::move(current);
      current = next;
      break;
    }
    previous = std::move(current);
    current = next;
  }
  r.state = std::move(current);
  return r;
}

AsyncResult HopfieldNetwork::recall(const arma::vec& cue, Rng& rng,
                                    const AsyncOptions& options) const {
  if (units_ == 0) user_error("HopfieldNetwork::recall: the network is empty (0 units)");
  require_length(cue, units_, "HopfieldNetwork::recall: cue");
  arma::vec start = cue;
  for (arma::uword i = 0; i < units_; ++i) {
    const double v = cue[i];
    if (v == 0.0)
      start[i] = uniform01(rng) < 0.5 ? -1.0 : 1.0;
    else if (v != 1.0 && v != -1.0)
      user_error("HopfieldNetwork::recall: cue element " + std::to_string(i) + " is " + number(v) +
                 ", expected -1, +1 or 0 (unknown)");
  }
  return settle(start, rng, options);
}

void HopfieldNetwork::save(H5::Group& group) const {
  if (units_ == 0) throw std::logic_error("HopfieldNetwork::save: empty network");
  h5::write_string_attribute(group, "rule", rule_name(rule_));
  h5::write_int_attribute(group, "units", static_cast<std::int64_t>(units_));
  h5::write_mat(group, "weights", weights());
  h5::write_vec(group, "bias", bias());
}

void HopfieldNetwork::load(const H5::Group& group) {
  const std::string name = h5::read_string_attribute(group, "rule");
  HopfieldRule rule = HopfieldRule::custom;
  try {
    rule = parse_rule(name);
  } catch (const UserError&) {
    user_error(h5::where(group) + ": attribute 'rule' is '" + name +
               "', expected hebbian, storkey, pseudo_inverse or custom");
  }
  const arma::uword n = h5::read_size_attribute(group, "units");
  const arma::mat w = h5::read_mat_checked(group, "weights", n, n, "weights, N x N");
  const arma::vec b = h5::read_vec_checked(group, "bias", n, "bias, N");
  arma::uword r = 0, c = 0;
  if (find_asymmetry(w, r, c))
    h5::format_error(group, "weights",
                     "is not symmetric: element (" + std::to_string(r) + ", " + std::to_string(c) +
                         ") is " + number(w(r, c)) + " but (" + std::to_string(c) + ", " +
                         std::to_string(r) + ") is " + number(w(c, r)) + " (rule " + name + ")");
  const bool zero_diagonal = rule == HopfieldRule::hebbian || rule == HopfieldRule::storkey;
  for (arma::uword i = 0; i < n; ++i) {
    if (zero_diagonal && w(i, i) != 0.0)
      h5::format_error(group, "weights",
                       "diagonal element " + std::to_string(i) + " is " + number(w(i, i)) +
                           ", expected 0 (rule " + name + ")");
    if (w(i, i) < 0.0)
      h5::format_error(group, "weights",
                       "diagonal element " + std::to_string(i) + " is " + number(w(i, i)) +
                           ", expected >= 0 (rule " + name + ")");
  }
  arma::mat ws = w;
  symmetrize(ws);
  allocate(n);
  weights_view() = ws;
  bias_view() = b;
  rule_ = rule;
}

TracedRecall recall_with_energy(const HopfieldNetwork& network, const arma::vec& cue, Rng& rng,
                                const AsyncOptions& options) {
  TracedRecall traced;
  std::vector<double> energy;
  AsyncOptions traced_options = options;
  // recall() fills unknown units before settling: the first state settle() reports, or the
  // final state when nothing flips, is reconstructed from the first flip below.
  bool first = true;
  traced_options.on_flip = [&](arma::uword unit, const arma::vec& state) {
    if (first) {
      traced.start = state;
      traced.start[unit] = -traced.start[unit];
      energy.push_back(network.energy(traced.start));
      first = false;
    }
    energy.push_back(network.energy(state));
    if (options.on_flip) options.on_flip(unit, state);
  };
  traced.result = network.recall(cue, rng, traced_options);
  if (first) {  // no flip: the start was the final state
    traced.start = traced.result.state;
    energy.push_back(network.energy(traced.start));
  }
  traced.energy = arma::vec(energy);
  return traced;
}

// ---- recall scores -----------------------------------------------------------------------------

arma::uword flips_for(double fraction, arma::uword units) {
  if (!(fraction >= 0.0 && fraction <= 1.0))
    user_error("flip fraction " + number(fraction) + " is not in [0, 1]");
  return static_cast<arma::uword>(std::llround(fraction * static_cast<double>(units)));
}

arma::vec flip_units(const arma::vec& x, arma::uword flips, Rng& rng) {
  require_spins(x, "flip_units: state");
  if (flips > x.n_elem)
    user_error("flip_units: cannot flip " + std::to_string(flips) + " of " +
               std::to_string(x.n_elem) + " units");
  arma::vec y = x;
  const arma::uvec perm = random_permutation(x.n_elem, rng);
  for (arma::uword k = 0; k < flips; ++k) y[perm[k]] = -y[perm[k]];
  return y;
}

namespace {

void require_recall_options(const RecallOptions& o, const std::string& what) {
  if (!(o.flip_fraction >= 0.0 && o.flip_fraction <= 1.0))
    user_error(what + ": flip fraction " + number(o.flip_fraction) + " is not in [0, 1]");
  if (!(o.threshold >= -1.0 && o.threshold <= 1.0))
    user_error(what + ": threshold " + number(o.threshold) + " is not in [-1, 1]");
  if (o.max_sweeps == 0) user_error(what + ": max_sweeps must be >= 1");
}

}  // namespace

RecallScores score_recall(const HopfieldNetwork& network, const arma::mat& stored,
                          const arma::mat& targets, const RecallOptions& options, Rng& rng) {
  const std::string what = "score_recall";
  require_recall_options(options, what);
  const arma::uword n = network.units();
  if (n == 0) user_error(what + ": the network is empty (0 units)");
  if (stored.n_rows != n || stored.n_cols == 0)
    user_error(what + ": expected " + std::to_string(n) + " x P stored patterns with P >= 1, got " +
               shape(stored));
  if (targets.n_rows != n || targets.n_cols == 0)
    user_error(what + ": expected " + std::to_string(n) + " x C targets with C >= 1, got " +
               shape(targets));
  require_spins(stored, what + ": stored patterns");
  require_spins(targets, what + ": targets");

  RecallScores s;
  s.cues = targets.n_cols;
  s.flipped_units = flips_for(options.flip_fraction, n);
  AsyncOptions async;
  async.max_sweeps = options.max_sweeps;
  const double n_real = static_cast<double>(n);
  double cue_total = 0.0, overlap_total = 0.0, flips = 0.0, sweeps = 0.0;
  std::uint64_t recalled = 0, nearest = 0, converged = 0;
  for (arma::uword j = 0; j < targets.n_cols; ++j) {
    const arma::vec target = targets.col(j);
    const arma::vec cue = flip_units(target, s.flipped_units, rng);
    const AsyncResult r = network.recall(cue, rng, async);
    cue_total += arma::dot(cue, target) / n_real;
    const double m = arma::dot(r.state, target) / n_real;
    overlap_total += m;
    if (m >= options.threshold) ++recalled;
    const arma::uword intended = best_overlap(target, stored).index;
    const arma::uword reached = best_overlap(r.state, stored).index;
    if (reached == intended || arma::all(stored.col(reached) == stored.col(intended))) ++nearest;
    flips += static_cast<double>(r.flips);
    sweeps += static_cast<double>(r.sweeps);
    if (r.converged) ++converged;
  }
  const double c = static_cast<double>(s.cues);
  s.cue_overlap = cue_total / c;
  s.mean_overlap = overlap_total / c;
  s.fraction_recalled = static_cast<double>(recalled) / c;
  s.fraction_nearest = static_cast<double>(nearest) / c;
  s.mean_flips = flips / c;
  s.mean_sweeps = sweeps / c;
  s.fraction_converged = static_cast<double>(converged) / c;
  return s;
}

// ---- capacity experiment -----------------------------------------------------------------------

CapacityTable run_capacity_experiment(const CapacityOptions& o) {
  const std::string what = "capacity experiment: ";
  if (o.units == 0) user_error(what + "units must be >= 1, got 0");
  if (o.loads.empty()) user_error(what + "expected at least one load alpha = P/N");
  const double n_real = static_cast<double>(o.units);
  for (const double a : o.loads)
    if (!(std::isfinite(a) && a > 0.0 && std::round(a * n_real) <= 16.0 * n_real))
      user_error(what + "load " + number(a) + " is not in (0, 16]");
  if (o.rules.empty() && !o.modern_beta) user_error(what + "expected at least one rule");
  for (const HopfieldRule r : o.rules)
    if (r == HopfieldRule::custom)
      user_error(what +
                 "rule custom is not a learning rule, expected hebbian, storkey or "
                 "pseudo_inverse");
  if (o.seeds.empty()) user_error(what + "expected at least one seed");
  if (!(o.flip_fraction >= 0.0 && o.flip_fraction <= 1.0))
    user_error(what + "flip fraction " + number(o.flip_fraction) + " is not in [0, 1]");
  if (!(o.threshold >= -1.0 && o.threshold <= 1.0))
    user_error(what + "threshold " + number(o.threshold) + " is not in [-1, 1]");
  if (o.modern_beta && !(std::isfinite(*o.modern_beta) && *o.modern_beta > 0.0))
    user_error(what + "beta of the modern network " + number(*o.modern_beta) +
               " is not finite and > 0");

  const arma::uword n = o.units;
  const arma::uword flips = static_cast<arma::uword>(std::llround(o.flip_fraction * n_real));
  // The classical rules, then the modern network when asked for (index n_classical).
  const std::size_t n_classical = o.rules.size();
  const std::size_t n_rules = n_classical + (o.modern_beta ? 1 : 0), n_loads = o.loads.size(),
                    n_seeds = o.seeds.size();
  // Results indexed [(rule * loads + load) * seeds + seed], the table's row order.
  std::vector<double> fraction(n_rules * n_loads * n_seeds), mean(fraction.size());
  std::vector<arma::uword> stored(n_loads);
  AsyncOptions async;
  async.max_sweeps = o.max_sweeps;
  arma::mat patterns, cues;
  for (std::size_t s = 0; s < n_seeds; ++s)
    for (std::size_t l = 0; l < n_loads; ++l) {
      // Patterns and cues of this (seed, load), drawn once and shared by all rules.
      const std::uint64_t trial_seed = derive_seed(o.seeds[s], l);
      Rng rng = make_rng(trial_seed);
      const arma::uword p =
          std::max<arma::uword>(1, static_cast<arma::uword>(std::llround(o.loads[l] * n_real)));
      stored[l] = p;
      patterns.set_size(n, p);
      for (double& v : patterns) v = uniform01(rng) < 0.5 ? -1.0 : 1.0;
      cues = patterns;
      for (arma::uword j = 0; j < p; ++j) {
        const arma::uvec perm = random_permutation(n, rng);
        for (arma::uword k = 0; k < flips; ++k) cues(perm[k], j) = -cues(perm[k], j);
      }
      if (o.modern_beta) {
        double total = 0.0;
        arma::uword recalled = 0;
        for (arma::uword j = 0; j < p; ++j) {
          const double m = arma::dot(modern_update(patterns, cues.col(j), *o.modern_beta),
                                     patterns.col(j)) /
                           n_real;
          total += m;
          if (m >= o.threshold) ++recalled;
        }
        const std::size_t row = (n_classical * n_loads + l) * n_seeds + s;
        fraction[row] = static_cast<double>(recalled) / static_cast<double>(p);
        mean[row] = total / static_cast<double>(p);
      }
      for (std::size_t ri = 0; ri < n_classical; ++ri) {
        HopfieldNetwork net;  // store() sizes it: one allocation of the weights per trial
        net.store(patterns, o.rules[ri]);
        Rng recall_rng = make_rng(derive_seed(trial_seed, 1000 + ri));
        arma::uword recalled = 0;
        double total = 0.0;
        for (arma::uword j = 0; j < p; ++j) {
          const AsyncResult res = net.recall(cues.col(j), recall_rng, async);
          const double m = arma::dot(res.state, patterns.col(j)) / n_real;
          total += m;
          if (m >= o.threshold) ++recalled;
        }
        const std::size_t row = (ri * n_loads + l) * n_seeds + s;
        fraction[row] = static_cast<double>(recalled) / static_cast<double>(p);
        mean[row] = total / static_cast<double>(p);
      }
    }
  CapacityTable table;
  for (std::size_t ri = 0; ri < n_rules; ++ri)
    for (std::size_t l = 0; l < n_loads; ++l)
      for (std::size_t s = 0; s < n_seeds; ++s) {
        const std::size_t row = (ri * n_loads + l) * n_seeds + s;
        table.rule.push_back(ri < n_classical ? rule_name(o.rules[ri]) : "modern");
        table.alpha.push_back(o.loads[l]);
        table.seed.push_back(o.seeds[s]);
        table.patterns.push_back(stored[l]);
        table.fraction_recalled.push_back(fraction[row]);
        table.mean_overlap.push_back(mean[row]);
      }
  return table;
}

void write_capacity_table(const std::filesystem::path& path, const CapacityTable& table,
                          const CapacityOptions& options) {
  const std::size_t rows = table.size();
  if (table.alpha.size() != rows || table.seed.size() != rows || table.patterns.size() != rows ||
      table.fraction_recalled.size() != rows || table.mean_overlap.size() != rows)
    throw std::invalid_argument("write_capacity_table: columns of unequal length");
  h5::write_file_atomically(path, [&](H5::Group& root) {
    h5::write_int_attribute(root, "units", static_cast<std::int64_t>(options.units));
    h5::write_double_attribute(root, "flip_fraction", options.flip_fraction);
    h5::write_double_attribute(root, "threshold", options.threshold);
    h5::write_int_attribute(root, "max_sweeps", static_cast<std::int64_t>(options.max_sweeps));
    if (options.modern_beta) h5::write_double_attribute(root, "modern_beta", *options.modern_beta);
    h5::write_strings(root, "rule", table.rule);
    h5::write_reals(root, "alpha", arma::vec(table.alpha));
    arma::uvec seeds(rows);
    for (std::size_t i = 0; i < rows; ++i) seeds[i] = static_cast<arma::uword>(table.seed[i]);
    h5::write_uvec(root, "seed", seeds);
    h5::write_uvec(root, "patterns", arma::uvec(table.patterns));
    h5::write_reals(root, "fraction_recalled", arma::vec(table.fraction_recalled));
    h5::write_reals(root, "mean_overlap", arma::vec(table.mean_overlap));
  });
}

// ---- sequence memory ---------------------------------------------------------------------------

std::string sequence_rule_name(SequenceRule rule) {
  return rule == SequenceRule::temporal_hebbian ? "temporal_hebbian" : "temporal_pseudo_inverse";
}

void SequenceMemory::store(const arma::mat& frames, SequenceRule rule) {
  require_patterns(frames, "SequenceMemory::store: frames");
  if (frames.n_cols < 2)
    user_error("SequenceMemory::store: expected at least 2 frames (columns), got " +
               std::to_string(frames.n_cols));
  const arma::uword t = frames.n_cols;
  store_transitions(frames.cols(0, t - 2), frames.cols(1, t - 1), rule);
}

void SequenceMemory::store_transitions(const arma::mat& cur, const arma::mat& next,
                                       SequenceRule rule) {
  require_patterns(cur, "SequenceMemory::store_transitions: current frames");
  require_patterns(next, "SequenceMemory::store_transitions: next frames");
  if (next.n_rows != cur.n_rows || next.n_cols != cur.n_cols)
    user_error("SequenceMemory::store_transitions: current frames are " + shape(cur) +
               " but next frames are " + shape(next) + ", expected equal shapes");
  arma::mat w;
  if (rule == SequenceRule::temporal_hebbian) {
    w = next * cur.t();
    w /= static_cast<double>(cur.n_rows);
  } else {
    arma::mat cur_pinv;
    if (!arma::pinv(cur_pinv, cur))
      throw std::runtime_error("SequenceMemory::store: SVD of the frames failed");
    w = next * cur_pinv;
  }
  weights_ = std::move(w);
  rule_ = rule;
}

arma::mat SequenceMemory::replay(const arma::vec& first, arma::uword steps) const {
  if (weights_.n_elem == 0) user_error("SequenceMemory::replay: nothing stored");
  require_length(first, units(), "SequenceMemory::replay: first frame");
  require_spins(first, "SequenceMemory::replay: first frame");
  arma::mat states(units(), steps + 1);
  states.col(0) = first;
  arma::vec h(units());
  for (arma::uword s = 0; s < steps; ++s) {
    h = weights_ * states.col(s);
    for (arma::uword i = 0; i < units(); ++i) states(i, s + 1) = spin_of(h[i], states(i, s));
  }
  return states;
}

arma::vec SequenceMemory::replay_accuracy(const arma::mat& frames) const {
  if (weights_.n_elem == 0) user_error("SequenceMemory::replay_accuracy: nothing stored");
  if (frames.n_rows != units() || frames.n_cols < 2)
    user_error("SequenceMemory::replay_accuracy: expected " + std::to_string(units()) +
               " x T frames with T >= 2, got " + shape(frames));
  require_spins(frames, "SequenceMemory::replay_accuracy: frames");
  const arma::mat states = replay(frames.col(0), frames.n_cols - 1);
  arma::vec acc(frames.n_cols - 1);
  for (arma::uword t = 1; t < frames.n_cols; ++t)
    acc[t - 1] = arma::dot(states.col(t), frames.col(t)) / static_cast<double>(units());
  return acc;
}

void SequenceMemory::save(H5::Group& group) const {
  if (weights_.n_elem == 0) throw std::logic_error("SequenceMemory::save: nothing stored");
  h5::write_string_attribute(group, "rule", sequence_rule_name(rule_));
  h5::write_int_attribute(group, "units", static_cast<std::int64_t>(units()));
  h5::write_mat(group, "weights", weights_);
}

void SequenceMemory::load(const H5::Group& group) {
  const std::string name = h5::read_string_attribute(group, "rule");
  SequenceRule rule = SequenceRule::temporal_hebbian;
  if (name == sequence_rule_name(SequenceRule::temporal_pseudo_inverse))
    rule = SequenceRule::temporal_pseudo_inverse;
  else if (name != sequence_rule_name(SequenceRule::temporal_hebbian))
    user_error(h5::where(group) + ": attribute 'rule' is '" + name +
               "', expected temporal_hebbian or temporal_pseudo_inverse");
  const arma::uword n = h5::read_size_attribute(group, "units");
  arma::mat w = h5::read_mat_checked(group, "weights", n, n, "weights, N x N");
  weights_ = std::move(w);
  rule_ = rule;
}

ReplayScores score_replay(const SequenceMemory& memory, const std::vector<arma::mat>& sequences,
                          const RecallOptions& options, Rng& rng) {
  const std::string what = "score_replay";
  RecallOptions o = options;
  o.max_sweeps = std::max<arma::uword>(o.max_sweeps, 1);  // unused by synchronous replay
  require_recall_options(o, what);
  const arma::uword n = memory.units();
  if (n == 0) user_error(what + ": nothing stored");
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    const arma::mat& x = sequences[i];
    if (x.n_rows != n || x.n_cols == 0)
      user_error(what + ": sequence " + std::to_string(i) + " is " + shape(x) + ", expected " +
                 std::to_string(n) + " x T frames with T >= 1");
    require_spins(x, what + ": sequence " + std::to_string(i));
  }
  ReplayScores s;
  s.flipped_units = flips_for(o.flip_fraction, n);
  const double n_real = static_cast<double>(n);
  double overlap_total = 0.0;
  std::uint64_t reproduced = 0, whole = 0;
  for (const arma::mat& x : sequences) {
    if (x.n_cols < 2) {
      ++s.skipped;
      continue;
    }
    ++s.sequences;
    const arma::mat states =
        memory.replay(flip_units(x.col(0), s.flipped_units, rng), x.n_cols - 1);
    bool all = true;
    for (arma::uword t = 1; t < x.n_cols; ++t) {
      const double m = arma::dot(states.col(t), x.col(t)) / n_real;
      overlap_total += m;
      if (m >= o.threshold)
        ++reproduced;
      else
        all = false;
      ++s.frames;
    }
    if (all) ++whole;
  }
  const double nan = std::numeric_limits<double>::quiet_NaN();
  const double frames = static_cast<double>(s.frames);
  s.mean_overlap = s.frames > 0 ? overlap_total / frames : nan;
  s.fraction_reproduced = s.frames > 0 ? static_cast<double>(reproduced) / frames : nan;
  s.fraction_sequences_whole =
      s.sequences > 0 ? static_cast<double>(whole) / static_cast<double>(s.sequences) : nan;
  return s;
}

// ---- modern Hopfield ---------------------------------------------------------------------------

arma::vec stable_softmax(const arma::vec& z) {
  if (z.n_elem == 0) user_error("softmax: expected a non-empty vector");
  double m = -std::numeric_limits<double>::infinity();
  for (const double v : z) {
    if (std::isnan(v) || v == std::numeric_limits<double>::infinity())
      user_error("softmax: expected finite scores (or -inf), got " + number(v));
    m = std::max(m, v);
  }
  if (!std::isfinite(m)) user_error("softmax: every score is -inf");
  arma::vec e = arma::exp(z - m);  // the largest term is exp(0) = 1: the sum is >= 1
  return e / arma::accu(e);
}

namespace {
void require_modern(const arma::mat& patterns, const arma::vec& xi, double beta,
                    const std::string& what) {
  if (patterns.n_rows == 0 || patterns.n_cols == 0)
    user_error(what + ": expected N x P patterns with N, P >= 1, got " + shape(patterns));
  require_length(xi, patterns.n_rows, what + ": state");
  if (!patterns.is_finite() || !xi.is_finite())
    user_error(what + ": patterns and state must be finite");
  if (!(std::isfinite(beta) && beta > 0.0))
    user_error(what + ": beta must be finite and > 0, got " + number(beta));
}
}  // namespace

arma::vec modern_update(const arma::mat& patterns, const arma::vec& xi, double beta) {
  require_modern(patterns, xi, beta, "modern_update");
  return patterns * stable_softmax(beta * (patterns.t() * xi));
}

ModernResult modern_retrieve(const arma::mat& patterns, const arma::vec& xi, double beta,
                             arma::uword max_iterations, double tolerance) {
  require_modern(patterns, xi, beta, "modern_retrieve");
  if (!(tolerance >= 0.0))
    user_error("modern_retrieve: tolerance must be >= 0, got " + number(tolerance));
  ModernResult r;
  r.state = xi;
  while (r.iterations < max_iterations) {
    arma::vec next = patterns * stable_softmax(beta * (patterns.t() * r.state));
    ++r.iterations;
    const double change = arma::abs(next - r.state).max();
    r.state = std::move(next);
    if (change <= tolerance) {
      r.converged = true;
      break;
    }
  }
  return r;
}

}  // namespace seqlab::energy
