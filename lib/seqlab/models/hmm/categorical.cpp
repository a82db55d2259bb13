// seqlab/models/hmm/categorical.cpp: the categorical emission (see categorical.hpp).
#include "seqlab/models/hmm/categorical.hpp"

#include <cmath>
#include <sstream>

#include "seqlab/core/communicator.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"

namespace seqlab {

namespace {
std::string short_number(double v) {
  std::ostringstream s;
  s.precision(12);
  s << v;
  return s.str();
}
}  // namespace

void check_distribution(const arma::rowvec& p, const std::string& what) {
  for (arma::uword j = 0; j < p.n_elem; ++j)
    if (!std::isfinite(p(j)) || p(j) < 0.0)
      user_error(what + ": entry " + std::to_string(j) + " is " + short_number(p(j)) +
                 ", expected a finite probability >= 0");
  const double total = arma::accu(p);
  if (std::abs(total - 1.0) > 1e-9)
    user_error(what + " sums to " + short_number(total) + ", expected 1 (within 1e-9)");
}

CategoricalEmission::Stats& CategoricalEmission::Stats::operator+=(const Stats& other) {
  counts += other.counts;
  return *this;
}

CategoricalEmission::CategoricalEmission(arma::mat probabilities) { set(std::move(probabilities)); }

void CategoricalEmission::set(arma::mat probabilities) {
  if (probabilities.n_rows == 0) user_error("categorical emission: zero states, expected N >= 1");
  if (probabilities.n_cols == 0)
    user_error("categorical emission: zero symbols, expected an alphabet of M >= 1 symbols");
  for (arma::uword i = 0; i < probabilities.n_rows; ++i)
    check_distribution(probabilities.row(i), "categorical emission row " + std::to_string(i));
  probabilities_ = std::move(probabilities);
  log_probabilities_ = arma::log(probabilities_);
}

CategoricalEmission CategoricalEmission::random(arma::uword states, arma::uword symbols,
                                                double concentration, Rng& rng) {
  if (states == 0) user_error("categorical emission: zero states, expected N >= 1");
  if (symbols == 0) user_error("categorical emission: zero symbols, expected M >= 1");
  if (!(concentration > 0.0) || !std::isfinite(concentration))
    user_error("categorical emission: concentration must be a positive number");
  arma::mat p(states, symbols);
  const arma::vec alpha(symbols, arma::fill::value(concentration));
  for (arma::uword i = 0; i < states; ++i) p.row(i) = sample_dirichlet(alpha, rng).t();
  return CategoricalEmission(std::move(p));
}

void CategoricalEmission::log_probs(const Sequence& x, arma::uword begin, arma::uword end,
                                    arma::mat& out) const {
  const arma::uword n = num_states();
  out.set_size(n, end - begin);
  for (arma::uword t = begin; t < end; ++t) {
    const double* src = log_probabilities_.colptr(x(t));
    double* dst = out.colptr(t - begin);
    for (arma::uword i = 0; i < n; ++i) dst[i] = src[i];
  }
}

void CategoricalEmission::validate(const Sequence& x, const std::string& where) const {
  const arma::uword m = dimension();
  for (arma::uword t = 0; t < x.n_elem; ++t)
    if (x(t) >= m)
      user_error(where + ": step " + std::to_string(t) + ": symbol index " + std::to_string(x(t)) +
                 " is outside the alphabet of " + std::to_string(m) + " symbols");
}

CategoricalEmission::Stats CategoricalEmission::make_stats() const {
  Stats s;
  s.counts.zeros(num_states(), dimension());
  return s;
}

void CategoricalEmission::accumulate(const Sequence& x, const arma::mat& gamma, Stats& s) const {
  // Column-wise scatter-add: one contiguous N-vector per step.
  const arma::uword n = num_states();
  for (arma::uword t = 0; t < x.n_elem; ++t) {
    const double* g = gamma.colptr(t);
    double* c = s.counts.colptr(x(t));
    for (arma::uword i = 0; i < n; ++i) c[i] += g[i];
  }
}

void CategoricalEmission::maximize(const Stats& s, const EmissionPrior& prior) {
  arma::mat p = probabilities_;
  for (arma::uword i = 0; i < p.n_rows; ++i) {
    arma::rowvec row = s.counts.row(i) + prior.pseudo_count;
    const double total = arma::accu(row);
    if (total > 0.0) p.row(i) = row / total;
  }
  set(std::move(p));
}

arma::uword CategoricalEmission::sample(arma::uword state, Rng& rng) const {
  return sample_categorical(probabilities_.row(state).t(), rng);
}

void CategoricalEmission::initialize(const std::vector<Sequence>& data, Rng& rng,
                                     const DataShard* shard) {
  arma::vec frequency(dimension(), arma::fill::zeros);
  for (const auto& x : data)
    for (arma::uword t = 0; t < x.n_elem; ++t) frequency(x(t)) += 1.0;
  // Counts are whole numbers far below 2^53: the sum over ranks is exact.
  if (shard != nullptr) shard->communicator->sum_in_rank_order(frequency.memptr(), frequency.n_elem);
  const double total = arma::accu(frequency);
  if (total > 0.0) frequency /= total;
  const arma::vec alpha = 1.0 + 10.0 * frequency;
  arma::mat p(num_states(), dimension());
  for (arma::uword i = 0; i < p.n_rows; ++i) p.row(i) = sample_dirichlet(alpha, rng).t();
  set(std::move(p));
}

void CategoricalEmission::split_state(arma::uword from, arma::uword to, Rng& rng) {
  arma::mat p = probabilities_;
  arma::rowvec row = p.row(from);
  for (arma::uword m = 0; m < row.n_elem; ++m) row(m) *= 0.5 + uniform01(rng);
  p.row(to) = row / arma::accu(row);
  set(std::move(p));
}

void CategoricalEmission::save(H5::Group& g) const {
  H5::Group e = h5::create_group(g, "emission");
  h5::write_string_attribute(e, "type", name());
  h5::write_mat(e, "probabilities", probabilities_);
}

void CategoricalEmission::load(const H5::Group& g) {
  H5::Group e = h5::open_group(g, "emission");
  arma::mat p = h5::read_mat(e, "probabilities");
  try {
    set(std::move(p));
  } catch (const UserError& err) {
    h5::format_error(e, "probabilities", err.what());
  }
}

}  // namespace seqlab
