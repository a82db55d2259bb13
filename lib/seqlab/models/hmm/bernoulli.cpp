// seqlab/models/hmm/bernoulli.cpp: product-of-Bernoullis emission (see the header).
#include "seqlab/models/hmm/bernoulli.hpp"

#include <cmath>
#include <stdexcept>

#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/models/hmm/gaussian.hpp"

namespace seqlab {

BernoulliEmission::BernoulliEmission(arma::mat probabilities)
    : probabilities_(std::move(probabilities)) {
  if (probabilities_.n_elem == 0)
    throw std::invalid_argument("BernoulliEmission: probabilities must be d x N with d, N >= 1");
  for (const double p : probabilities_)
    if (!(p >= 0.0 && p <= 1.0))
      throw std::invalid_argument("BernoulliEmission: probability outside [0, 1]");
  refresh();
}

void BernoulliEmission::refresh() {
  log_on_ = arma::log(probabilities_);
  log_off_ = probabilities_;
  log_off_.transform([](double p) { return std::log1p(-p); });
  has_impossible_ = !log_on_.is_finite() || !log_off_.is_finite();
  if (has_impossible_) {
    on_impossible_ = arma::conv_to<arma::mat>::from(probabilities_ == 0.0);
    off_impossible_ = arma::conv_to<arma::mat>::from(probabilities_ == 1.0);
    log_on_.replace(kNegInf, 0.0);
    log_off_.replace(kNegInf, 0.0);
  } else {
    on_impossible_.reset();
    off_impossible_.reset();
  }
}

void BernoulliEmission::log_probs(const Sequence& x, arma::uword begin, arma::uword end,
                                  arma::mat& out) const {
  detail::check_window(x, begin, end, dimension(), "BernoulliEmission::log_probs");
  const arma::uword width = end - begin;
  out.set_size(num_states(), width);
  if (width == 0) return;
  const arma::mat window = detail::frame_window(x, begin, end);
  // 1 - x for the window; per thread, reallocated only when the window grows.
  thread_local arma::mat off;
  off.set_size(window.n_rows, width);
  for (arma::uword i = 0; i < window.n_elem; ++i) off[i] = 1.0 - window[i];
  out = log_on_.t() * window;
  out += log_off_.t() * off;
  if (has_impossible_) {
    // Counts of impossible units per (state, step); exact small integers in double.
    thread_local arma::mat impossible;
    impossible = on_impossible_.t() * window;
    impossible += off_impossible_.t() * off;
    for (arma::uword i = 0; i < out.n_elem; ++i)
      if (impossible[i] > 0.0) out[i] = kNegInf;
  }
}

void BernoulliEmission::validate(const Sequence& x, const std::string& where) const {
  detail::require_rows(x, dimension(), where);
  for (arma::uword t = 0; t < x.n_cols; ++t)
    for (arma::uword k = 0; k < x.n_rows; ++k)
      if (x(k, t) != 0.0 && x(k, t) != 1.0)
        user_error(where + ": step " + std::to_string(t) + ": row " + std::to_string(k) +
                   " holds " + detail::format_number(x(k, t)) +
                   ", expected 0 or 1 (binary frames)");
}

BernoulliEmission::Stats BernoulliEmission::make_stats() const {
  Stats s;
  s.mass.zeros(num_states());
  s.sum_x.zeros(dimension(), num_states());
  return s;
}

BernoulliEmission::Stats& BernoulliEmission::Stats::operator+=(const Stats& other) {
  mass += other.mass;
  sum_x += other.sum_x;
  return *this;
}

void BernoulliEmission::Stats::clear() {
  mass.zeros();
  sum_x.zeros();
}

void BernoulliEmission::accumulate(const Sequence& x, const arma::mat& gamma, Stats& s) const {
  if (gamma.n_rows != num_states() || gamma.n_cols != x.n_cols || x.n_rows != dimension())
    throw std::invalid_argument("BernoulliEmission::accumulate: gamma must be N x T, x d x T");
  if (x.n_cols == 0) return;
  s.mass += arma::sum(gamma, 1);
  s.sum_x += x * gamma.t();
}

void BernoulliEmission::maximize(const Stats& s, const EmissionPrior& prior) {
  const double a = prior.pseudo_count;
  for (arma::uword i = 0; i < num_states(); ++i) {
    if (!(s.mass(i) > kNoMass)) continue;
    probabilities_.col(i) = (s.sum_x.col(i) + a) / (s.mass(i) + 2.0 * a);
    // Rounding may put sum_x a hair above the mass: keep p a probability.
    probabilities_.col(i).transform([](double p) { return p > 1.0 ? 1.0 : (p < 0.0 ? 0.0 : p); });
  }
  refresh();
}

arma::vec BernoulliEmission::sample(arma::uword state, Rng& rng) const {
  arma::vec frame(dimension());
  for (arma::uword k = 0; k < dimension(); ++k)
    frame(k) = uniform01(rng) < probabilities_(k, state) ? 1.0 : 0.0;
  return frame;
}

void BernoulliEmission::save(H5::Group& root) const {
  H5::Group g = h5::create_group(root, "emission");
  h5::write_mat(g, "probabilities", probabilities_);
}

void BernoulliEmission::load(const H5::Group& root) {
  const H5::Group g = h5::open_group(root, "emission");
  arma::mat probabilities = h5::read_mat(g, "probabilities");
  if (probabilities.n_elem == 0)
    h5::format_error(g, "probabilities", "is empty, expected d x N with d, N >= 1");
  for (arma::uword i = 0; i < probabilities.n_cols; ++i)
    for (arma::uword k = 0; k < probabilities.n_rows; ++k)
      if (!(probabilities(k, i) >= 0.0 && probabilities(k, i) <= 1.0))
        h5::format_error(g, "probabilities",
                         "element (" + std::to_string(k) + ", " + std::to_string(i) + ") is " +
                             detail::format_number(probabilities(k, i)) +
                             ", expected a probability in [0, 1]");
  probabilities_ = std::move(probabilities);
  refresh();
}

}  // namespace seqlab
