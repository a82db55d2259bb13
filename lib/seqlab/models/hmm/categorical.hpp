// seqlab/models/hmm/categorical.hpp: the categorical (discrete) emission of an HMM over symbols.
//
// N states, M symbols. probabilities() is N x M: row i is the distribution of the symbol emitted
// in state i, P(x_t = m | state_t = i) = probabilities()(i, m). It implements the Emission concept
// (emission.hpp) and its optional training hooks (initialize, split_state).
#pragma once

#include <armadillo>
#include <cstdint>
#include <string>
#include <vector>

#include "seqlab/core/rng.hpp"
#include "seqlab/models/hmm/emission.hpp"

namespace seqlab {

struct DataShard;  // core/communicator.hpp

class CategoricalEmission {
 public:
  using Sequence = arma::uvec;

  // Expected symbol counts: counts(i, m) = sum over steps with x_t = m of P(state_t = i | x).
  struct Stats {
    arma::mat counts;  // N x M
    Stats& operator+=(const Stats& other);
    void clear() { counts.zeros(); }
    // Calls f(array) for every summed array (what ranks add up; see emission.hpp).
    template <class F>
    void for_each_sum(F&& f) { f(counts); }
  };

  CategoricalEmission() = default;
  // Requires: N >= 1, M >= 1, entries finite and >= 0, every row summing to 1 within 1e-9
  //   (else UserError naming the row, e.g. "categorical emission row 2 sums to 0.9, expected 1
  //   (within 1e-9)").
  explicit CategoricalEmission(arma::mat probabilities);

  // Requires states, symbols >= 1 and concentration > 0. Ensures: every row drawn from a
  // symmetric Dirichlet(concentration), rows 0..N-1 in order.
  static CategoricalEmission random(arma::uword states, arma::uword symbols, double concentration,
                                    Rng& rng);

  std::string name() const { return "categorical"; }
  arma::uword num_states() const { return probabilities_.n_rows; }
  arma::uword dimension() const { return probabilities_.n_cols; }
  const arma::mat& probabilities() const { return probabilities_; }

  // Requires begin <= end <= x.n_elem and symbols < dimension() (validate() first).
  // Ensures: out is N x (end-begin), out(i, t-begin) = log probabilities()(i, x(t)); reuses out's
  // memory when it has that shape. Cost O(N (end-begin)) copies (log-probabilities are kept).
  void log_probs(const Sequence& x, arma::uword begin, arma::uword end, arma::mat& out) const;

  // Ensures: returns when every symbol of x is < dimension(); else UserError
  //   "<where>: step <t>: symbol index <s> is outside the alphabet of <M> symbols".
  void validate(const Sequence& x, const std::string& where) const;

  Stats make_stats() const;
  // Requires gamma N x x.n_elem. Ensures: counts.col(x_t) += gamma.col(t) for every t.
  void accumulate(const Sequence& x, const arma::mat& gamma, Stats& s) const;
  // Requires sums N x M, column v = the sum of gamma_t over the steps emitting symbol v.
  // Ensures: counts += sums. Cost O(N M).
  void accumulate_symbol_sums(const arma::mat& sums, Stats& s) const { s.counts += sums; }
  // Ensures: row i = (counts.row(i) + pseudo_count) normalised, for every row whose total
  //   (counts + pseudo-counts) is positive; rows with no mass keep their values.
  void maximize(const Stats& s, const EmissionPrior& prior);

  // Requires state < N. Ensures: a symbol drawn from row `state`.
  arma::uword sample(arma::uword state, Rng& rng) const;

  // N (M - 1): each row is a distribution.
  std::uint64_t num_parameters() const {
    return static_cast<std::uint64_t>(num_states()) * (dimension() - 1);
  }

  // Optional training hooks used by Hmm's trainer.
  // Restart initialisation: rows drawn from Dirichlet(1 + 10 f) where f is the symbol frequency
  // in `data` (normalised), so each state starts near, but not at, the data's histogram.
  void initialize(const std::vector<Sequence>& data, Rng& rng, const DataShard* shard = nullptr);
  // Re-seeding a state that lost all mass: row `to` = row `from` with every entry multiplied by
  // an independent factor uniform in [0.5, 1.5), renormalised (so the two states can separate).
  void split_state(arma::uword from, arma::uword to, Rng& rng);

  // Datasets `emission/probabilities` (N x M) in `g` (the model's root group); load() validates
  // them as the constructor does (UserError naming the dataset).
  void save(H5::Group& g) const;
  void load(const H5::Group& g);

 private:
  void set(arma::mat probabilities);
  arma::mat probabilities_;
  // log of probabilities_ (N x M, column-major: the N log-probabilities of one symbol are one
  // contiguous column); derived in set() only, never written elsewhere.
  arma::mat log_probabilities_;
};

static_assert(Emission<CategoricalEmission>);

// Shared by the HMM engine and the emissions: UserError unless `p` (a row or the initial
// distribution) is finite, non-negative and sums to 1 within 1e-9. `what` names it, e.g.
// "HMM transition row 3".
void check_distribution(const arma::rowvec& p, const std::string& what);

}  // namespace seqlab
