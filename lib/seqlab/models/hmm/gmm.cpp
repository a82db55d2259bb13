// seqlab/models/hmm/gmm.cpp: diagonal Gaussian mixture emission (see the header).
#include "seqlab/models/hmm/gmm.hpp"

#include <cmath>
#include <stdexcept>

#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"
#include "seqlab/io/hdf5.hpp"

namespace seqlab {

namespace {

// Empty when `w` holds valid mixture weights (columns), else why not.
std::string weights_problem(const arma::mat& w) {
  for (arma::uword i = 0; i < w.n_cols; ++i) {
    for (arma::uword k = 0; k < w.n_rows; ++k)
      if (!(w(k, i) >= 0.0) || !std::isfinite(w(k, i)))
        return "element (" + std::to_string(k) + ", " + std::to_string(i) + ") is " +
               detail::format_number(w(k, i)) + ", expected a non-negative weight";
    const double total = arma::accu(w.col(i));
    if (std::abs(total - 1.0) > 1e-9)
      return "column " + std::to_string(i) + " sums to " + detail::format_number(total) +
             ", expected 1 (within 1e-9)";
  }
  return {};
}

}  // namespace

GmmDiagEmission::GmmDiagEmission(arma::mat weights, arma::mat means, arma::mat variances)
    : weights_(std::move(weights)), means_(std::move(means)), variances_(std::move(variances)) {
  if (weights_.n_elem == 0 || means_.n_rows == 0 || means_.n_cols != weights_.n_elem ||
      variances_.n_rows != means_.n_rows || variances_.n_cols != means_.n_cols)
    throw std::invalid_argument("GmmDiagEmission: needs weights K x N, means/variances d x N K");
  const std::string problem = weights_problem(weights_);
  if (!problem.empty()) throw std::invalid_argument("GmmDiagEmission: weights: " + problem);
  if (!means_.is_finite() || !variances_.is_finite() || arma::any(arma::vectorise(variances_) <= 0))
    throw std::invalid_argument("GmmDiagEmission: needs finite means and positive variances");
  refresh();
}

void GmmDiagEmission::refresh() {
  bank_.set(means_, variances_, arma::log(arma::vectorise(weights_)));
}

std::uint64_t GmmDiagEmission::num_parameters() const {
  const std::uint64_t k = num_components(), d = dimension();
  return num_states() * (k - 1 + 2 * k * d);
}

void GmmDiagEmission::score(const arma::mat& x, arma::uword begin, arma::uword end,
                            arma::mat& components, arma::mat& out) const {
  const arma::uword width = end - begin, k_count = num_components();
  out.set_size(num_states(), width);
  if (width == 0) return;
  bank_.score(x, begin, end, components);
  for (arma::uword t = 0; t < width; ++t) {
    const double* column = components.colptr(t);
    for (arma::uword i = 0; i < num_states(); ++i) {
      const double* c = column + i * k_count;
      out(i, t) = log_sum_exp(c, c + k_count);
    }
  }
}

void GmmDiagEmission::log_probs(const Sequence& x, arma::uword begin, arma::uword end,
                                arma::mat& out) const {
  detail::check_window(x, begin, end, dimension(), "GmmDiagEmission::log_probs");
  thread_local arma::mat components;
  score(x, begin, end, components, out);
}

void GmmDiagEmission::validate(const Sequence& x, const std::string& where) const {
  detail::validate_real_frames(x, dimension(), where);
}

GmmDiagEmission::Stats GmmDiagEmission::make_stats() const {
  Stats s;
  s.mass.zeros(means_.n_cols);
  s.sum_x.zeros(dimension(), means_.n_cols);
  s.sum_xx.zeros(dimension(), means_.n_cols);
  s.shift = bank_.stats_shift();
  return s;
}

GmmDiagEmission::Stats& GmmDiagEmission::Stats::operator+=(const Stats& other) {
  if (arma::size(shift) != arma::size(other.shift) || arma::any(arma::vectorise(shift != other.shift)))
    throw std::invalid_argument("GmmDiagEmission::Stats: statistics about different shifts");
  mass += other.mass;
  sum_x += other.sum_x;
  sum_xx += other.sum_xx;
  return *this;
}

void GmmDiagEmission::Stats::clear() {
  mass.zeros();
  sum_x.zeros();
  sum_xx.zeros();
}

void GmmDiagEmission::accumulate(const Sequence& x, const arma::mat& gamma, Stats& s) const {
  if (gamma.n_rows != num_states() || gamma.n_cols != x.n_cols || x.n_rows != dimension())
    throw std::invalid_argument("GmmDiagEmission::accumulate: gamma must be N x T, x d x T");
  if (x.n_cols == 0) return;
  thread_local arma::mat responsibilities, state_log_probs;
  score(x, 0, x.n_cols, responsibilities, state_log_probs);
  const arma::uword k_count = num_components();
  for (arma::uword t = 0; t < x.n_cols; ++t) {
    double* r = responsibilities.colptr(t);
    for (arma::uword i = 0; i < num_states(); ++i) {
      const double g = gamma(i, t), total = state_log_probs(i, t);
      for (arma::uword k = 0; k < k_count; ++k) {
        double& v = r[i * k_count + k];
        v = (g == 0.0 || total == kNegInf) ? 0.0 : g * std::exp(v - total);
      }
    }
  }
  detail::accumulate_diag_moments(x, s.shift, responsibilities, s.mass, s.sum_x, s.sum_xx);
}

void GmmDiagEmission::maximize(const Stats& s, const EmissionPrior& prior) {
  const arma::uword k_count = num_components();
  const double a = prior.pseudo_count;
  for (arma::uword i = 0; i < num_states(); ++i) {
    const arma::uword first = i * k_count, last = first + k_count - 1;
    const double state_mass = arma::accu(s.mass.subvec(first, last));
    if (!(state_mass > kNoMass)) continue;
    weights_.col(i) = (s.mass.subvec(first, last) + a) / (state_mass + a * k_count);
    arma::mat means = means_.cols(first, last), variances = variances_.cols(first, last);
    detail::maximize_diag(s.mass.subvec(first, last), s.sum_x.cols(first, last),
                          s.sum_xx.cols(first, last), s.shift.cols(first, last), prior.variance_floor, means,
                          variances);
    means_.cols(first, last) = means;
    variances_.cols(first, last) = variances;
  }
  refresh();
}

arma::vec GmmDiagEmission::sample(arma::uword state, Rng& rng) const {
  const arma::uword c = state * num_components() + sample_categorical(weights_.col(state), rng);
  arma::vec z(dimension());
  for (auto& v : z) v = standard_normal(rng);
  return means_.col(c) + arma::sqrt(variances_.col(c)) % z;
}

void GmmDiagEmission::save(H5::Group& root) const {
  H5::Group g = h5::create_group(root, "emission");
  h5::write_mat(g, "weights", weights_);
  h5::write_mat(g, "means", means_);
  h5::write_mat(g, "variances", variances_);
}

void GmmDiagEmission::load(const H5::Group& root) {
  const H5::Group g = h5::open_group(root, "emission");
  arma::mat weights = h5::read_mat(g, "weights");
  arma::mat means = h5::read_mat(g, "means");
  arma::mat variances = h5::read_mat(g, "variances");
  if (weights.n_elem == 0) h5::format_error(g, "weights", "is empty, expected K x N, K, N >= 1");
  const std::string problem = weights_problem(weights);
  if (!problem.empty()) h5::format_error(g, "weights", problem);
  detail::check_loaded_means(g, means);
  if (means.n_cols != weights.n_elem)
    h5::format_error(g, "means", "has shape " + detail::shape(means) + ", expected (d, " +
                                     std::to_string(weights.n_elem) + ") = (d, N K)");
  if (variances.n_rows != means.n_rows || variances.n_cols != means.n_cols)
    h5::format_error(g, "variances", "has shape " + detail::shape(variances) +
                                         ", expected the shape of means " + detail::shape(means));
  detail::check_positive_variances(g, "variances", variances);
  weights_ = std::move(weights);
  means_ = std::move(means);
  variances_ = std::move(variances);
  refresh();
}

}  // namespace seqlab
