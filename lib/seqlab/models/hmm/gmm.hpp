// seqlab/models/hmm/gmm.hpp: the GMM-HMM emission: in state i the observation is drawn from a
// mixture of K diagonal Gaussians, p(x | i) = sum_k w_ki N(x; mu_ik, diag v_ik). Satisfies the
// Emission concept (emission.hpp).
//
// DATA. Sequence = arma::mat, d x T, one observation per column.
// LAYOUT. Component k of state i is column c = i K + k of `means` and `variances` (d x N K);
// `weights` is K x N, column i the mixture weights of state i (non-negative, summing to 1).
//
// NUMERICS. All N K component log densities of a window come from the diagonal Gaussian bank
// (two GEMMs, see gaussian.hpp); each state is then a log-sum-exp over its K rows, shifted by the
// largest term, so nothing underflows however far x is from the components.
//
// M-STEP. Responsibilities r_ikt = gamma_it w_ki N_ik(x_t) / p(x_t | i) weight each component's
// moments. Weights: w_ki = (n_ik + a) / (n_i + K a), a = prior.pseudo_count; a state whose mass n_i
// is <= kNoMass keeps all its parameters; a component whose own mass is <= kNoMass keeps its mean
// and variance (its weight still follows the formula, so with a = 0 it becomes 0 and the component
// is switched off for good: use a > 0 or re-seed it). Variances are floored at
// prior.variance_floor.
//
// File layout: datasets `weights` (K x N), `means`, `variances` (d x N K), docs/formats.md,
// section "Gaussian mixture emission".
#pragma once

#include <armadillo>
#include <cstdint>
#include <string>

#include "seqlab/core/rng.hpp"
#include "seqlab/models/hmm/emission.hpp"
#include "seqlab/models/hmm/gaussian.hpp"

namespace H5 {
class Group;
}

namespace seqlab {

class GmmDiagEmission {
public:
  using Sequence = arma::mat;

  struct Stats {
    arma::vec mass;    // N K: sum_t r_ikt, component c = i K + k
    arma::mat sum_x;   // d x N K: sum_t r_ikt (x_t - shift_c)
    arma::mat sum_xx;  // d x N K: sum_t r_ikt (x_t - shift_c)^2
    arma::mat shift;   // d x N K (DiagGaussianBank::stats_shift)
    Stats& operator+=(const Stats& other);  // requires equal shapes and shift
    void clear();
    template <class F>
    void for_each_sum(F&& f) {  // every summed array, not the shift (emission.hpp)
      f(mass);
      f(sum_x);
      f(sum_xx);
    }
  };

  // An empty placeholder (0 states) for load().
  GmmDiagEmission() = default;
  // Requires weights K x N (K, N >= 1; columns non-negative, summing to 1 within 1e-9), means
  // and variances d x N K, variances > 0, everything finite (else std::invalid_argument).
  GmmDiagEmission(arma::mat weights, arma::mat means, arma::mat variances);

  std::string name() const { return "gmm_diag"; }
  arma::uword num_states() const { return weights_.n_cols; }
  arma::uword num_components() const { return weights_.n_rows; }
  arma::uword dimension() const { return means_.n_rows; }
  const arma::mat& weights() const { return weights_; }
  const arma::mat& means() const { return means_; }
  const arma::mat& variances() const { return variances_; }

  // Requires begin <= end <= x.n_cols, x.n_rows == d. Ensures out(i, t-begin) = log p(x_t | i).
  // Cost: 2 GEMMs (N K) x d x (end-begin) plus N K (end-begin) exponentials.
  void log_probs(const Sequence& x, arma::uword begin, arma::uword end, arma::mat& out) const;
  void validate(const Sequence& x, const std::string& where) const;
  Stats make_stats() const;
  // Requires gamma N x x.n_cols. Adds the responsibility-weighted moments of x.
  void accumulate(const Sequence& x, const arma::mat& gamma, Stats& s) const;
  void maximize(const Stats& s, const EmissionPrior& prior);
  // Picks a component by its weight, then draws from it.
  arma::vec sample(arma::uword state, Rng& rng) const;
  // Per state: K - 1 weights + 2 K d.
  std::uint64_t num_parameters() const;
  // Datasets `emission/weights`, `emission/means`, `emission/variances` under `root`. load checks
  // shapes, weights (non-negative, columns summing to 1 within 1e-9), finite means, positive
  // variances (UserError naming the dataset).
  void save(H5::Group& root) const;
  void load(const H5::Group& root);

private:
  void refresh();
  // Component log densities (N K x width, weights included) for columns [begin, end) and the
  // per-state log-sum-exp over them into out (N x width).
  void score(const arma::mat& x, arma::uword begin, arma::uword end, arma::mat& components,
             arma::mat& out) const;
  arma::mat weights_, means_, variances_;
  detail::DiagGaussianBank bank_;
};

static_assert(Emission<GmmDiagEmission>);

}  // namespace seqlab
