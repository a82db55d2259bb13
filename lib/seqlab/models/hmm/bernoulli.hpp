// seqlab/models/hmm/bernoulli.hpp: the HMM emission for binary frames (piano rolls, binary
// patterns): in state i the d units are independent Bernoullis, unit k on with probability p_ki.
// Satisfies the Emission concept (emission.hpp).
//
// DATA. Sequence = arma::mat, d x T of exact 0.0 / 1.0 values, one frame per column.
//
// NUMERICS. log p(x | i) = sum_k [x_k log p_ki + (1 - x_k) log(1 - p_ki)], scored for a whole
// window as two GEMMs, x^T log p + (1 - x)^T log(1 - p); log(1 - p) is computed by log1p(-p).
// Both terms are sums of non-positive numbers, so nothing cancels. log p and log1p(-p) are cached
// at construction / maximize().
// A probability of exactly 0 or 1 is allowed: the impossible value then scores -inf (exactly),
// the possible one log 1 = 0. Only the prior keeps p away from 0 and 1: with pseudo-count a > 0
// the M-step gives p = (sum gamma x + a) / (sum gamma + 2a), strictly inside (0, 1); with a = 0 a
// unit that never (or always) fired in a state gets p = 0 (or 1).
//
// M-STEP. A state whose total weight is <= kNoMass keeps its probabilities.
//
// File layout: dataset `emission/probabilities` (d x N), docs/formats.md, section "Bernoulli emission".
#pragma once

#include <armadillo>
#include <cstdint>
#include <string>

#include "seqlab/core/rng.hpp"
#include "seqlab/models/hmm/emission.hpp"

namespace H5 {
class Group;
}

namespace seqlab {

class BernoulliEmission {
public:
  using Sequence = arma::mat;

  struct Stats {
    arma::vec mass;   // N: sum_t gamma(i, t)
    arma::mat sum_x;  // d x N: sum_t gamma(i, t) x_t (expected "on" counts)
    Stats& operator+=(const Stats& other);  // requires equal shapes
    void clear();                           // zeroes; keeps shapes
    template <class F>
    void for_each_sum(F&& f) {  // every summed array (emission.hpp)
      f(mass);
      f(sum_x);
    }
  };

  // An empty placeholder (0 states) for load().
  BernoulliEmission() = default;
  // Requires probabilities d x N (d, N >= 1), every entry in [0, 1] (else std::invalid_argument).
  explicit BernoulliEmission(arma::mat probabilities);

  std::string name() const { return "bernoulli"; }
  arma::uword num_states() const { return probabilities_.n_cols; }
  arma::uword dimension() const { return probabilities_.n_rows; }
  const arma::mat& probabilities() const { return probabilities_; }

  // Requires begin <= end <= x.n_cols, x.n_rows == d, x binary (validate()). Ensures out is
  // N x (end-begin) with out(i, t-begin) = log p(x_t | i), -inf where a unit's p is 0 or 1 and
  // the frame holds the impossible value. Cost: 2 GEMMs N x d x (end-begin) (4 when some p is
  // exactly 0 or 1).
  void log_probs(const Sequence& x, arma::uword begin, arma::uword end, arma::mat& out) const;
  // UserError naming `where` unless x has d rows; naming the step and row for a value not 0/1.
  void validate(const Sequence& x, const std::string& where) const;
  Stats make_stats() const;
  // Requires gamma N x x.n_cols. Cost: one GEMM d x T x N.
  void accumulate(const Sequence& x, const arma::mat& gamma, Stats& s) const;
  // p = (sum gamma x + a) / (sum gamma + 2 a), a = prior.pseudo_count; massless states unchanged.
  void maximize(const Stats& s, const EmissionPrior& prior);
  // A frame of d independent draws (1.0 with probability p_k, else 0.0). Requires state < N.
  arma::vec sample(arma::uword state, Rng& rng) const;
  // d per state.
  std::uint64_t num_parameters() const { return probabilities_.n_elem; }
  // Dataset `emission/probabilities` (d x N) under `root`. load rejects values outside [0, 1]
  // naming the dataset and the element.
  void save(H5::Group& root) const;
  void load(const H5::Group& root);

private:
  void refresh();
  arma::mat probabilities_;
  arma::mat log_on_;   // d x N: log p, with -inf replaced by 0 (the mask below restores it)
  arma::mat log_off_;  // d x N: log1p(-p), likewise
  // Only when some p is exactly 0 or 1: 1.0 where "on" (resp. "off") is impossible.
  bool has_impossible_ = false;
  arma::mat on_impossible_, off_impossible_;
};

static_assert(Emission<BernoulliEmission>);

}  // namespace seqlab
