// seqlab/models/hmm/emission.hpp: the Emission concept: what an HMM needs from its per-state
// observation model. Hmm<E> is a template over E because the variation is real (the observation
// type and the sufficient statistics differ); everything else in the HMM engine is shared.
//
// THE EMISSION INTERFACE (an emission type E must supply)
//   using Sequence = arma::uvec | arma::mat;   the observation sequence type: symbol indices, or
//                                              d x T with one observation per column.
//   struct Stats;                              weighted sufficient statistics; `Stats& operator+=`
//                                              merges two (threads / MPI ranks add theirs in a
//                                              fixed order), `clear()` zeroes them, and
//                                              `for_each_sum(f)` calls f(array) for every array
//                                              that += adds (not for fixed parts such as a
//                                              shift), in a fixed order: how ranks exchange them.
//   std::string name() const;                  "categorical", "gaussian_diag", ... (file format)
//   arma::uword num_states() const;
//   arma::uword dimension() const;             alphabet size M for symbols, d for vectors.
//   void log_probs(const Sequence& x, arma::uword begin, arma::uword end, arma::mat& out) const;
//                                              requires begin <= end <= length(x); ensures out is
//                                              N x (end-begin) with out(i, t-begin) = log p(x_t | i)
//                                              (natural log; -inf allowed for impossible);
//                                              no allocation when `out` already has that shape.
//   void validate(const Sequence& x, const std::string& where) const;
//                                              UserError naming `where` and the step when x does
//                                              not fit (symbol >= M, wrong d, NaN, non-0/1 frame).
//   Stats make_stats() const;                  zeroed statistics of the right shapes.
//   void accumulate(const Sequence& x, const arma::mat& gamma, Stats& s) const;
//                                              gamma is N x T: gamma(i, t) = P(state_t = i | x);
//                                              adds the weighted statistics of x.
//   void maximize(const Stats& s, const EmissionPrior& prior);
//                                              M-step: the MAP parameters given s (with the prior's
//                                              pseudo-counts / variance floor); states with no mass
//                                              keep their parameters (the trainer re-seeds them).
//   <observation> sample(arma::uword state, Rng& rng) const;
//                                              one observation (arma::uword, or arma::vec of d).
//   std::uint64_t num_parameters() const;      free parameters (for AIC/BIC).
//   void save(H5::Group& g) const; void load(const H5::Group& g);
//                                              datasets under `emission/` (docs/formats.md).
//
// OPTIONAL HOOKS (detected with a requires-expression; Hmm<E>::fit uses them when present)
//   void initialize(const std::vector<Sequence>& data, Rng& rng, const DataShard* shard);
//                                              random start of restarts r >= 1 drawn from the data
//                                              (without it, restarts reuse the current emission).
//                                              With a shard (null: `data` is all of it), `data`
//                                              is this rank's share (core/communicator.hpp) and
//                                              every rank must draw the same start, the one the
//                                              whole set would give.
//   void split_state(arma::uword from, arma::uword to, Rng& rng);
//                                              re-seeding: state `to` lost all mass; give it the
//                                              parameters of `from`, perturbed so they separate.
//   void accumulate_symbol_sums(const arma::mat& sums, Stats& s) const;
//                                              symbol emissions: adds sums (N x M, column v = the
//                                              sum of gamma_t over the steps emitting symbol v);
//                                              when present, the trainer takes the statistics from
//                                              the backward sweep instead of gathering N x T per
//                                              sequence.
#pragma once

#include <armadillo>
#include <concepts>
#include <cstdint>
#include <string>

#include "seqlab/core/rng.hpp"

namespace H5 {
class Group;
}

namespace seqlab {

// Settings of the M-step shared by the emission types (each uses what applies to it).
struct EmissionPrior {
  double pseudo_count = 0.0;     // Dirichlet pseudo-count added to every categorical/Bernoulli
                                 // count (0 = maximum likelihood)
  double variance_floor = 1e-6;  // lower bound of every Gaussian variance (absolute)
};

template <class E>
concept Emission = requires(const E& e, E& m, const typename E::Sequence& x,
                            typename E::Stats& s, const arma::mat& gamma, arma::mat& out,
                            const EmissionPrior& prior, Rng& rng, const std::string& where) {
  { e.name() } -> std::convertible_to<std::string>;
  { e.num_states() } -> std::convertible_to<arma::uword>;
  { e.dimension() } -> std::convertible_to<arma::uword>;
  e.log_probs(x, arma::uword{0}, arma::uword{0}, out);
  e.validate(x, where);
  { e.make_stats() } -> std::same_as<typename E::Stats>;
  e.accumulate(x, gamma, s);
  s += s;
  s.clear();
  s.for_each_sum([](auto& array) { (void)array.memptr(); });
  m.maximize(s, prior);
  e.sample(arma::uword{0}, rng);
  { e.num_parameters() } -> std::convertible_to<std::uint64_t>;
};

}  // namespace seqlab
