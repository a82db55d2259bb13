// seqlab/models/hmm/gaussian.cpp: diagonal and full-covariance Gaussian emissions (see the header
// for the numerics and the M-step rules).
#include "seqlab/models/hmm/gaussian.hpp"

#include <algorithm>
#include <cmath>
#include <numbers>
#include <sstream>
#include <stdexcept>

#include "seqlab/core/communicator.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/models/hmm/kmeans.hpp"

namespace seqlab {

namespace detail {

void DiagGaussianBank::set(const arma::mat& means, const arma::mat& variances,
                           const arma::vec& log_weights) {
  const double d = static_cast<double>(means.n_rows);
  centre_ = arma::mean(means, 1);
  means_ = means;
  const arma::mat shifted = means.each_col() - centre_;
  const arma::mat precision = 1.0 / variances;
  neg_half_precision_ = -0.5 * precision;
  shifted_mean_precision_ = shifted % precision;
  const arma::mat spread = shifted % shifted_mean_precision_;  // (mu - c)^2 / v
  peak_ = log_weights -
          0.5 * (d * std::log(2.0 * std::numbers::pi) + arma::sum(arma::log(variances), 0).t());
  constant_ = peak_ - 0.5 * arma::sum(spread, 0).t();
  term_by_term_ = !spread.is_empty() && !(spread.max() <= kDirectConditioning);
}

arma::mat DiagGaussianBank::stats_shift() const {
  if (term_by_term_) return means_;
  return arma::repmat(centre_, 1, means_.n_cols);
}

void DiagGaussianBank::score(const arma::mat& x, arma::uword begin, arma::uword end,
                             arma::mat& out) const {
  const arma::uword width = end - begin;
  if (term_by_term_) {
    const arma::uword d = means_.n_rows, count = means_.n_cols;
    out.set_size(count, width);
    for (arma::uword t = 0; t < width; ++t) {
      const double* xt = x.colptr(begin + t);
      for (arma::uword m = 0; m < count; ++m) {
        const double* mu = means_.colptr(m);
        const double* h = neg_half_precision_.colptr(m);
        double sum = 0.0;
        for (arma::uword k = 0; k < d; ++k) {
          const double delta = xt[k] - mu[k];
          sum += h[k] * (delta * delta);
        }
        out(m, t) = peak_(m) + sum;
      }
    }
    return;
  }
  // The shifted window, reused for its square: one scratch buffer per thread, so threads that
  // score concurrently never share it, and it is reallocated only when the window grows.
  thread_local arma::mat scratch;
  subtract_column(frame_window(x, begin, end), centre_, scratch);
  out.set_size(constant_.n_elem, width);
  out = shifted_mean_precision_.t() * scratch;
  scratch %= scratch;
  out += neg_half_precision_.t() * scratch;
  out.each_col() += constant_;
}

void accumulate_diag_moments(const arma::mat& x, const arma::mat& shift, const arma::mat& weights,
                             arma::vec& mass, arma::mat& sum_x, arma::mat& sum_xx) {
  if (weights.n_rows != sum_x.n_cols || weights.n_cols != x.n_cols || x.n_rows != shift.n_rows ||
      shift.n_cols != sum_x.n_cols || shift.n_cols == 0)
    throw std::invalid_argument("accumulate: weights must be M x T, x d x T and shift d x M");
  if (x.n_cols == 0) return;
  bool common_shift = true;
  for (arma::uword m = 1; m < shift.n_cols && common_shift; ++m)
    common_shift = arma::all(shift.col(m) == shift.col(0));
  if (!common_shift) {
    const arma::uword d = x.n_rows;
    mass += arma::sum(weights, 1);
    for (arma::uword t = 0; t < x.n_cols; ++t) {
      const double* xt = x.colptr(t);
      for (arma::uword m = 0; m < shift.n_cols; ++m) {
        const double w = weights(m, t);
        if (w == 0.0) continue;
        const double* c = shift.colptr(m);
        double* sx = sum_x.colptr(m);
        double* sxx = sum_xx.colptr(m);
        for (arma::uword k = 0; k < d; ++k) {
          const double delta = xt[k] - c[k];
          sx[k] += w * delta;
          sxx[k] += w * (delta * delta);
        }
      }
    }
    return;
  }
  thread_local arma::mat scratch;
  subtract_column(x, shift.col(0), scratch);
  mass += arma::sum(weights, 1);
  sum_x += scratch * weights.t();
  scratch %= scratch;
  sum_xx += scratch * weights.t();
}

void maximize_diag(const arma::vec& mass, const arma::mat& sum_x, const arma::mat& sum_xx,
                   const arma::mat& shift, double floor, arma::mat& means, arma::mat& variances) {
  for (arma::uword m = 0; m < mass.n_elem; ++m) {
    if (!(mass(m) > kNoMass)) continue;
    const arma::vec shifted_mean = sum_x.col(m) / mass(m);
    arma::vec variance = sum_xx.col(m) / mass(m) - arma::square(shifted_mean);
    variance.transform([floor](double v) { return v < floor ? floor : v; });
    means.col(m) = shift.col(m) + shifted_mean;
    variances.col(m) = variance;
  }
}

void validate_real_frames(const arma::mat& x, arma::uword d, const std::string& where) {
  require_rows(x, d, where);
  for (arma::uword t = 0; t < x.n_cols; ++t)
    for (arma::uword k = 0; k < d; ++k)
      if (!std::isfinite(x(k, t)))
        user_error(where + ": step " + std::to_string(t) + ": row " + std::to_string(k) +
                   " holds " + format_number(x(k, t)) + ", expected a finite number");
}

namespace {

// pool_observations over a shard: the draws of the single-process pool, over the global lengths.
arma::mat pool_shard_observations(const std::vector<arma::mat>& data, arma::uword d,
                                  arma::uword limit, arma::uword needed, Rng& rng,
                                  const DataShard& shard) {
  // start[s] = the global index of sequence s's first column.
  std::vector<arma::uword> start(shard.count() + 1, 0);
  for (std::size_t s = 0; s < shard.count(); ++s)
    start[s + 1] = start[s] + static_cast<arma::uword>(shard.lengths[s]);
  const arma::uword total = start.back();
  if (total < needed || total == 0)
    user_error("initialisation: " + std::to_string(total) + " observations in the training data, "
               "expected at least " + std::to_string(needed) + " (one per state or component)");
  const auto own_column = [&](std::size_t s, arma::uword c) -> const double* {
    const arma::mat& x = data[s - shard.mine.begin];
    if (x.n_rows != d) throw std::logic_error("pool_observations: frames of another dimension");
    return x.colptr(c);
  };
  arma::mat pool(d, std::min(total, limit), arma::fill::zeros);
  if (total <= limit) {
    for (std::size_t s = shard.mine.begin; s < shard.mine.end; ++s)
      for (arma::uword c = 0; c < shard.lengths[s]; ++c)
        std::copy_n(own_column(s, c), d, pool.colptr(start[s] + c));
  } else {
    for (arma::uword c = 0; c < limit; ++c) {
      const arma::uword index = uniform_index(rng, total);
      // The sequence holding global column `index`: the last with start <= index.
      const std::size_t s = static_cast<std::size_t>(
          std::upper_bound(start.begin(), start.end(), index) - start.begin() - 1);
      if (s >= shard.mine.begin && s < shard.mine.end)
        std::copy_n(own_column(s, index - start[s]), d, pool.colptr(c));
    }
  }
  shard.communicator->sum_in_rank_order(pool.memptr(), pool.n_elem);
  return pool;
}

}  // namespace

arma::mat pool_observations(const std::vector<arma::mat>& data, arma::uword d, arma::uword limit,
                            arma::uword needed, Rng& rng, const DataShard* shard) {
  if (shard != nullptr) return pool_shard_observations(data, d, limit, needed, rng, *shard);
  arma::uword total = 0;
  for (const auto& x : data) total += x.n_cols;
  if (total < needed || total == 0)
    user_error("initialisation: " + std::to_string(total) + " observations in the training data, "
               "expected at least " + std::to_string(needed) + " (one per state or component)");
  if (total <= limit) {
    arma::mat pool(d, total);
    arma::uword at = 0;
    for (const auto& x : data)
      if (x.n_cols > 0) pool.cols(at, at + x.n_cols - 1) = x, at += x.n_cols;
    return pool;
  }
  arma::mat pool(d, limit);
  for (arma::uword c = 0; c < limit; ++c) {
    arma::uword index = uniform_index(rng, total);
    std::size_t s = 0;
    while (index >= data[s].n_cols) index -= data[s].n_cols, ++s;
    pool.col(c) = data[s].col(index);
  }
  return pool;
}

arma::vec pooled_variance(const arma::mat& pool) {
  arma::vec v = pool.n_cols > 1 ? arma::vec(arma::var(pool, 1, 1)) : arma::vec(pool.n_rows);
  v.transform([](double x) { return x > 0.0 ? x : 1.0; });
  return v;
}

void require_rows(const arma::mat& x, arma::uword d, const std::string& where) {
  if (x.n_rows != d)
    user_error(where + ": observations have " + std::to_string(x.n_rows) +
               " rows (one observation per column), expected d = " + std::to_string(d));
}

void check_window(const arma::mat& x, arma::uword begin, arma::uword end, arma::uword d,
                  const char* who) {
  if (begin > end || end > x.n_cols || x.n_rows != d)
    throw std::invalid_argument(std::string(who) + ": window [" + std::to_string(begin) + ", " +
                                std::to_string(end) + ") of a " + shape(x) +
                                " sequence, expected d = " + std::to_string(d) + " rows");
}

arma::mat frame_window(const arma::mat& x, arma::uword begin, arma::uword end) {
  // Armadillo's "advanced constructor": aux memory, no copy, strict (never reallocated).
  return arma::mat(const_cast<double*>(x.colptr(begin)), x.n_rows, end - begin, false, true);
}

void subtract_column(const arma::mat& src, const arma::vec& shift, arma::mat& dst) {
  dst.set_size(src.n_rows, src.n_cols);
  for (arma::uword t = 0; t < src.n_cols; ++t) {
    const double* in = src.colptr(t);
    double* out = dst.colptr(t);
    for (arma::uword k = 0; k < src.n_rows; ++k) out[k] = in[k] - shift[k];
  }
}

std::string shape(const arma::mat& m) {
  return "(" + std::to_string(m.n_rows) + ", " + std::to_string(m.n_cols) + ")";
}

std::string format_number(double v) {
  if (std::isnan(v)) return "nan";
  if (std::isinf(v)) return v > 0 ? "inf" : "-inf";
  std::ostringstream os;
  os.precision(17);
  os << v;
  return os.str();
}

void check_loaded_means(const H5::Group& g, const arma::mat& means) {
  if (means.n_elem == 0)
    h5::format_error(g, "means", "is empty, expected d x N with d, N >= 1");
  if (!means.is_finite()) h5::format_error(g, "means", "holds a non-finite value");
}

void check_positive_variances(const H5::Group& g, const std::string& name, const arma::mat& v) {
  for (arma::uword j = 0; j < v.n_cols; ++j)
    for (arma::uword k = 0; k < v.n_rows; ++k)
      if (!(v(k, j) > 0.0) || !std::isfinite(v(k, j)))
        h5::format_error(g, name, "element (" + std::to_string(k) + ", " + std::to_string(j) +
                                      ") is " + format_number(v(k, j)) +
                                      ", expected a positive finite variance");
}

}  // namespace detail

namespace {

// Empty when `c` is a usable covariance, else why not.
std::string covariance_problem(const arma::mat& c) {
  if (!c.is_finite()) return "holds a non-finite value";
  const double scale = arma::abs(c).max();
  if (arma::abs(c - c.t()).max() > 1e-12 * scale) return "is not symmetric";
  arma::mat factor;
  if (!arma::chol(factor, arma::symmatl(c), "lower")) return "is not positive definite";
  return {};
}

void check_same(const arma::mat& a, const arma::mat& b, const char* what) {
  if (arma::size(a) != arma::size(b) || arma::any(arma::vectorise(a != b)))
    throw std::invalid_argument(std::string(what) +
                                ": statistics about different shifts cannot be merged");
}

}  // namespace

// ---- GaussianDiagEmission ----------------------------------------------------------------------

GaussianDiagEmission::GaussianDiagEmission(arma::mat means, arma::mat variances)
    : means_(std::move(means)), variances_(std::move(variances)) {
  if (means_.n_elem == 0 || means_.n_rows != variances_.n_rows ||
      means_.n_cols != variances_.n_cols)
    throw std::invalid_argument("GaussianDiagEmission: means and variances must both be d x N");
  if (!means_.is_finite() || !variances_.is_finite() || arma::any(arma::vectorise(variances_) <= 0))
    throw std::invalid_argument("GaussianDiagEmission: needs finite means and positive variances");
  refresh();
}

void GaussianDiagEmission::refresh() {
  bank_.set(means_, variances_, arma::zeros<arma::vec>(means_.n_cols));
}

void GaussianDiagEmission::log_probs(const Sequence& x, arma::uword begin, arma::uword end,
                                     arma::mat& out) const {
  detail::check_window(x, begin, end, dimension(), "GaussianDiagEmission::log_probs");
  if (begin == end) {
    out.set_size(num_states(), 0);
    return;
  }
  bank_.score(x, begin, end, out);
}

void GaussianDiagEmission::validate(const Sequence& x, const std::string& where) const {
  detail::validate_real_frames(x, dimension(), where);
}

GaussianDiagEmission::Stats GaussianDiagEmission::make_stats() const {
  Stats s;
  s.mass.zeros(num_states());
  s.sum_x.zeros(dimension(), num_states());
  s.sum_xx.zeros(dimension(), num_states());
  s.shift = bank_.stats_shift();
  return s;
}

GaussianDiagEmission::Stats& GaussianDiagEmission::Stats::operator+=(const Stats& other) {
  check_same(shift, other.shift, "GaussianDiagEmission::Stats");
  mass += other.mass;
  sum_x += other.sum_x;
  sum_xx += other.sum_xx;
  return *this;
}

void GaussianDiagEmission::Stats::clear() {
  mass.zeros();
  sum_x.zeros();
  sum_xx.zeros();
}

void GaussianDiagEmission::accumulate(const Sequence& x, const arma::mat& gamma, Stats& s) const {
  detail::accumulate_diag_moments(x, s.shift, gamma, s.mass, s.sum_x, s.sum_xx);
}

void GaussianDiagEmission::maximize(const Stats& s, const EmissionPrior& prior) {
  detail::maximize_diag(s.mass, s.sum_x, s.sum_xx, s.shift, prior.variance_floor, means_,
                        variances_);
  refresh();
}

arma::vec GaussianDiagEmission::sample(arma::uword state, Rng& rng) const {
  arma::vec z(dimension());
  for (auto& v : z) v = standard_normal(rng);
  return means_.col(state) + arma::sqrt(variances_.col(state)) % z;
}

void GaussianDiagEmission::initialize(const std::vector<Sequence>& data, Rng& rng,
                                      const DataShard* shard) {
  const arma::mat pool =
      detail::pool_observations(data, dimension(), 20000, num_states(), rng, shard);
  const arma::vec global = detail::pooled_variance(pool);
  const KMeansResult clusters = kmeans(pool, num_states(), 20, rng);
  for (arma::uword i = 0; i < num_states(); ++i) {
    const arma::uvec members = arma::find(clusters.assignment == i);
    arma::vec v = global;
    if (members.n_elem >= 2) {
      v = arma::var(pool.cols(members), 1, 1);
      v = arma::max(v, 1e-3 * global);
    }
    means_.col(i) = clusters.centres.col(i);
    variances_.col(i) = v;
  }
  refresh();
}

void GaussianDiagEmission::split_state(arma::uword from, arma::uword to, Rng& rng) {
  for (arma::uword k = 0; k < dimension(); ++k) {
    const double sd = std::sqrt(variances_(k, from));
    means_(k, to) = means_(k, from) + (uniform01(rng) < 0.5 ? -0.5 : 0.5) * sd;
    variances_(k, to) = variances_(k, from);
  }
  refresh();
}

void GaussianDiagEmission::save(H5::Group& root) const {
  H5::Group g = h5::create_group(root, "emission");
  h5::write_mat(g, "means", means_);
  h5::write_mat(g, "variances", variances_);
}

void GaussianDiagEmission::load(const H5::Group& root) {
  const H5::Group g = h5::open_group(root, "emission");
  arma::mat means = h5::read_mat(g, "means");
  arma::mat variances = h5::read_mat(g, "variances");
  detail::check_loaded_means(g, means);
  if (variances.n_rows != means.n_rows || variances.n_cols != means.n_cols)
    h5::format_error(g, "variances", "has shape " + detail::shape(variances) +
                                         ", expected the shape of means " + detail::shape(means));
  detail::check_positive_variances(g, "variances", variances);
  means_ = std::move(means);
  variances_ = std::move(variances);
  refresh();
}

// ---- GaussianFullEmission ----------------------------------------------------------------------

GaussianFullEmission::GaussianFullEmission(arma::mat means, arma::cube covariances)
    : means_(std::move(means)), covariances_(std::move(covariances)) {
  if (means_.n_elem == 0 || covariances_.n_rows != means_.n_rows ||
      covariances_.n_cols != means_.n_rows || covariances_.n_slices != means_.n_cols)
    throw std::invalid_argument("GaussianFullEmission: needs means d x N and covariances d x d x N");
  if (!means_.is_finite()) throw std::invalid_argument("GaussianFullEmission: non-finite mean");
  for (arma::uword i = 0; i < covariances_.n_slices; ++i) {
    const std::string problem = covariance_problem(covariances_.slice(i));
    if (!problem.empty())
      throw std::invalid_argument("GaussianFullEmission: covariance " + std::to_string(i) + " " +
                                  problem);
  }
  refresh();
}

void GaussianFullEmission::refresh() {
  const arma::uword d = dimension(), n = num_states();
  cholesky_.set_size(d, d, n);
  log_norm_.set_size(n);
  for (arma::uword i = 0; i < n; ++i) {
    arma::mat factor;
    if (!arma::chol(factor, arma::symmatl(covariances_.slice(i)), "lower"))
      throw std::logic_error("GaussianFullEmission: covariance lost positive definiteness");
    cholesky_.slice(i) = factor;
    log_norm_(i) = -0.5 * (static_cast<double>(d) * std::log(2.0 * std::numbers::pi) +
                           2.0 * arma::accu(arma::log(factor.diag())));
  }
  centre_ = arma::mean(means_, 1);
}

std::uint64_t GaussianFullEmission::num_parameters() const {
  const std::uint64_t d = dimension();
  return num_states() * (d + d * (d + 1) / 2);
}

void GaussianFullEmission::log_probs(const Sequence& x, arma::uword begin, arma::uword end,
                                     arma::mat& out) const {
  detail::check_window(x, begin, end, dimension(), "GaussianFullEmission::log_probs");
  const arma::uword width = end - begin;
  out.set_size(num_states(), width);
  if (width == 0) return;
  const arma::mat window = detail::frame_window(x, begin, end);
  thread_local arma::mat centred, whitened;
  for (arma::uword i = 0; i < num_states(); ++i) {
    detail::subtract_column(window, means_.col(i), centred);
    // whitened = L^{-1} (x - mu): a triangular solve, so Mahalanobis^2 = |whitened|^2.
    arma::solve(whitened, arma::trimatl(cholesky_.slice(i)), centred, arma::solve_opts::fast);
    for (arma::uword t = 0; t < width; ++t) {
      const double* z = whitened.colptr(t);
      double squared = 0.0;
      for (arma::uword k = 0; k < whitened.n_rows; ++k) squared += z[k] * z[k];
      out(i, t) = log_norm_(i) - 0.5 * squared;
    }
  }
}

void GaussianFullEmission::validate(const Sequence& x, const std::string& where) const {
  detail::validate_real_frames(x, dimension(), where);
}

GaussianFullEmission::Stats GaussianFullEmission::make_stats() const {
  Stats s;
  s.mass.zeros(num_states());
  s.sum_x.zeros(dimension(), num_states());
  s.sum_xx.zeros(dimension(), dimension(), num_states());
  s.shift = centre_;
  return s;
}

GaussianFullEmission::Stats& GaussianFullEmission::Stats::operator+=(const Stats& other) {
  check_same(shift, other.shift, "GaussianFullEmission::Stats");
  mass += other.mass;
  sum_x += other.sum_x;
  sum_xx += other.sum_xx;
  return *this;
}

void GaussianFullEmission::Stats::clear() {
  mass.zeros();
  sum_x.zeros();
  sum_xx.zeros();
}

void GaussianFullEmission::accumulate(const Sequence& x, const arma::mat& gamma, Stats& s) const {
  if (gamma.n_rows != num_states() || gamma.n_cols != x.n_cols || x.n_rows != s.shift.n_elem)
    throw std::invalid_argument("GaussianFullEmission::accumulate: gamma must be N x T");
  if (x.n_cols == 0) return;
  thread_local arma::mat centred, weighted;
  detail::subtract_column(x, s.shift, centred);
  s.mass += arma::sum(gamma, 1);
  s.sum_x += centred * gamma.t();
  for (arma::uword i = 0; i < num_states(); ++i) {
    weighted = centred.each_row() % gamma.row(i);
    s.sum_xx.slice(i) += weighted * centred.t();
  }
}

void GaussianFullEmission::maximize(const Stats& s, const EmissionPrior& prior) {
  for (arma::uword i = 0; i < num_states(); ++i) {
    if (!(s.mass(i) > kNoMass)) continue;
    const arma::vec shifted_mean = s.sum_x.col(i) / s.mass(i);
    arma::mat covariance = s.sum_xx.slice(i) / s.mass(i) - shifted_mean * shifted_mean.t();
    covariance = 0.5 * (covariance + covariance.t());
    arma::vec eigenvalues;
    arma::mat eigenvectors;
    if (!arma::eig_sym(eigenvalues, eigenvectors, covariance))
      throw std::runtime_error("GaussianFullEmission::maximize: eigendecomposition failed");
    if (eigenvalues.min() < prior.variance_floor) {
      eigenvalues.transform(
          [floor = prior.variance_floor](double v) { return v < floor ? floor : v; });
      covariance = eigenvectors * arma::diagmat(eigenvalues) * eigenvectors.t();
      covariance = 0.5 * (covariance + covariance.t());
    }
    // A covariance whose eigenvalues span more than float64 resolves (data on wildly different
    // scales) stays indefinite after flooring: the run has diverged, and refresh() would fail.
    arma::mat factor;
    if (!arma::chol(factor, arma::symmatl(covariance), "lower"))
      user_error("training diverged: the full covariance of state " + std::to_string(i) +
                 " is no longer positive definite in float64 (the data's scales are too far "
                 "apart); standardise the data (zero mean, unit variance) or raise --variance-floor");
    means_.col(i) = s.shift + shifted_mean;
    covariances_.slice(i) = covariance;
  }
  refresh();
}

arma::vec GaussianFullEmission::sample(arma::uword state, Rng& rng) const {
  arma::vec z(dimension());
  for (auto& v : z) v = standard_normal(rng);
  return means_.col(state) + arma::trimatl(cholesky_.slice(state)) * z;
}

void GaussianFullEmission::initialize(const std::vector<Sequence>& data, Rng& rng,
                                      const DataShard* shard) {
  const arma::mat pool =
      detail::pool_observations(data, dimension(), 20000, num_states(), rng, shard);
  const arma::vec global = detail::pooled_variance(pool);
  const KMeansResult clusters = kmeans(pool, num_states(), 20, rng);
  for (arma::uword i = 0; i < num_states(); ++i) {
    const arma::uvec members = arma::find(clusters.assignment == i);
    arma::mat c = arma::diagmat(global);
    if (members.n_elem > dimension()) {
      c = arma::cov(pool.cols(members).t(), 1) + 1e-3 * arma::diagmat(global);
      c = 0.5 * (c + c.t());
      arma::mat factor;
      if (!arma::chol(factor, c, "lower")) c = arma::diagmat(global);
    }
    means_.col(i) = clusters.centres.col(i);
    covariances_.slice(i) = c;
  }
  refresh();
}

void GaussianFullEmission::split_state(arma::uword from, arma::uword to, Rng& rng) {
  covariances_.slice(to) = covariances_.slice(from);
  means_.col(to) = means_.col(from);
  for (arma::uword k = 0; k < dimension(); ++k)
    means_(k, to) += (uniform01(rng) < 0.5 ? -0.5 : 0.5) * std::sqrt(covariances_(k, k, from));
  refresh();
}

void GaussianFullEmission::save(H5::Group& root) const {
  H5::Group g = h5::create_group(root, "emission");
  const arma::uword d = dimension();
  arma::mat side_by_side(d, d * num_states());
  for (arma::uword i = 0; i < num_states(); ++i)
    side_by_side.cols(i * d, i * d + d - 1) = covariances_.slice(i);
  h5::write_mat(g, "means", means_);
  h5::write_mat(g, "covariances", side_by_side);
}

void GaussianFullEmission::load(const H5::Group& root) {
  const H5::Group g = h5::open_group(root, "emission");
  arma::mat means = h5::read_mat(g, "means");
  const arma::mat side_by_side = h5::read_mat(g, "covariances");
  detail::check_loaded_means(g, means);
  const arma::uword d = means.n_rows, n = means.n_cols;
  if (side_by_side.n_rows != d || side_by_side.n_cols != d * n)
    h5::format_error(g, "covariances",
                     "has shape " + detail::shape(side_by_side) + ", expected (" +
                         std::to_string(d) + ", " + std::to_string(d * n) +
                         "): the d x d covariances of the N states side by side");
  arma::cube covariances(d, d, n);
  for (arma::uword i = 0; i < n; ++i) {
    covariances.slice(i) = side_by_side.cols(i * d, i * d + d - 1);
    const std::string problem = covariance_problem(covariances.slice(i));
    if (!problem.empty())
      h5::format_error(g, "covariances",
                       "covariance of state " + std::to_string(i) + " " + problem);
  }
  means_ = std::move(means);
  covariances_ = std::move(covariances);
  refresh();
}

}  // namespace seqlab
