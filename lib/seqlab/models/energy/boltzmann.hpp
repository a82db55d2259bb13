// seqlab/models/energy/boltzmann.hpp: the general (fully connected) Boltzmann machine over binary
// units: exact inference by enumeration for small machines, Gibbs sampling, the learning rule of
// Ackley, Hinton & Sejnowski (1985), simulated annealing, and weighted max-cut as its showcase.
//
// What it is not: a restricted Boltzmann machine (rbm.hpp: bipartite, block Gibbs as GEMMs) nor
// a sequence model; the CLI and the model registry wrap it elsewhere.
//
// MODEL. n = V + H binary units s in {0, 1}^n; units 0 .. V-1 are visible, V .. n-1 hidden.
// Weights W are symmetric with a zero diagonal, biases a:
//     E(s) = -1/2 s^T W s - a^T s = -sum_{i<j} w_ij s_i s_j - sum_i a_i s_i,
//     p(s) = exp(-E(s)) / Z,   Z = sum over all 2^n states.
// At temperature T a unit given all others is on with probability sigmoid(field_i / T), where
// field_i = a_i + sum_j w_ij s_j (the energy drop of turning unit i on).
//
// PARAMETERS. One flat arma::vec of n(n-1)/2 + n values:
//     [0, n(n-1)/2)          pair weights: w_ij for i < j at index pair_index(i, j) =
//                            j(j-1)/2 + i, i.e. the strict upper triangle read column by column;
//     [n(n-1)/2, +n)         biases a_0 .. a_{n-1}.
// These are the free parameters: the full n x n matrix is DERIVED, rebuilt by weight_matrix()
// on each call (O(n^2); never cached, so the flat vector is the one source of truth). Algorithms
// that need it (Gibbs, annealing, enumeration) rebuild it once at their start. Gradients and
// statistics use the same flat layout (BmStatistics::flat()).
//
// DATA. A data matrix is V x n_samples: one sample per COLUMN, every entry exactly 0.0 or 1.0.
//
// EXACT METHODS enumerate all 2^n states and are refused (UserError) for n > 20 = kMaxExactUnits.
// The enumeration splits the units into a low half L = floor(n/2) and a high half n - L and forms
// every state's -E(s) as one 2^L x 2^(n-L) matrix: per-half terms plus the cross term by one GEMM
// (cost ~ 2^n * L multiply-adds, memory 2^n doubles: 8 MiB at n = 20). Log-sum-exp over it gives
// log Z; free statistics are three more GEMMs over the probability matrix. Marginals over the
// hidden units enumerate 2^H hidden states in chunks (cost ~ N 2^H H for N data vectors): they
// need only H <= 20, whatever V is (log_unnormalised_marginal, exact_clamped_statistics).
//
// LARGER MACHINES. log Z by annealed importance sampling over all n units (ais_log_partition);
// the clamped phase of learning stays exact while H <= 20, the free phase uses persistent chains.
//
// FILE LAYOUT (save/load, under the given group):
//     attributes  visible (int64, V >= 1), hidden (int64, H >= 0)
//     weights     float64 n x n, the full symmetric matrix with a zero diagonal
//     biases      float64 n
// load() checks shapes, finiteness, exact symmetry and the zero diagonal.
#pragma once

#include <armadillo>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "seqlab/core/rng.hpp"
#include "seqlab/models/energy/rbm.hpp"  // AisOptions, AisResult

namespace H5 {
class Group;
}

namespace seqlab::energy {

class BoltzmannMachine {
public:
  static constexpr arma::uword kMaxExactUnits = 20;
  // Keeps n(n-1)/2 pair weights addressable and the dense n x n matrix buildable.
  static constexpr arma::uword kMaxUnits = 1u << 15;

  // An empty placeholder (0 units) for load().
  BoltzmannMachine() = default;
  // Requires visible >= 1, visible + hidden <= kMaxUnits (else UserError).
  // Ensures: every parameter zero (the uniform distribution). Cost O(n^2).
  BoltzmannMachine(arma::uword visible, arma::uword hidden);
  // Requires weights n x n with n = visible + hidden, symmetric exactly, zero diagonal, finite;
  //   biases of length n, finite (else UserError saying which). Cost O(n^2).
  BoltzmannMachine(arma::uword visible, const arma::mat& weights, const arma::vec& biases);

  arma::uword num_visible() const { return visible_; }
  arma::uword num_hidden() const { return hidden_; }
  arma::uword num_units() const { return visible_ + hidden_; }
  arma::uword num_pairs() const { return num_units() * (num_units() - (num_units() > 0)) / 2; }
  arma::uword num_parameters() const { return params_.n_elem; }

  // Index of w_ij in pair_weights() / the flat vector. Requires i < j.
  static arma::uword pair_index(arma::uword i, arma::uword j) { return j * (j - 1) / 2 + i; }

  // The flat parameter vector (layout in the file comment). Write elements freely; never resize.
  arma::vec& parameters() { return params_; }
  const arma::vec& parameters() const { return params_; }
  // Strict aliases into parameters(): pair weights (num_pairs()) and biases (n). Take by value
  // from the call; invalidated when the machine is destroyed, moved from or assigned to. O(1).
  arma::vec pair_weights();
  const arma::vec pair_weights() const;
  arma::vec biases();
  const arma::vec biases() const;

  // w_ij (0 when i == j). Requires i, j < n.
  double weight(arma::uword i, arma::uword j) const;
  // The full symmetric n x n matrix, zero diagonal, rebuilt from the flat vector on each call.
  // Cost O(n^2).
  arma::mat weight_matrix() const;

  // Requires state of length n (0/1 values; not checked here). Ensures E(state). Cost O(n^2).
  double energy(const arma::vec& state) const;
  // Requires states n x C. Ensures the C energies. Cost one n x n x C GEMM.
  arma::vec energies(const arma::mat& states) const;

  // Ensures: pair weights drawn N(0, scale^2), biases zero. Requires scale >= 0 and finite.
  void randomize(double scale, Rng& rng);

  // UserError naming `where` unless data is V x N (N >= 1) with every entry exactly 0 or 1:
  // "<where>: data has 5 rows, expected 6 (one row per visible unit, one sample per column)".
  // Cost O(V N).
  void validate_data(const arma::mat& data, const std::string& where) const;
  // UserError naming `what` unless n <= kMaxExactUnits.
  void require_enumerable(const std::string& what) const;
  // UserError naming `what` unless H <= kMaxExactUnits (the hidden states of one visible vector
  // can be enumerated).
  void require_enumerable_hidden(const std::string& what) const;

  // Layout in the file comment. save requires a non-empty machine; load replaces *this and
  // throws UserError "<file>: <object>: ..." naming the offending dataset or attribute.
  void save(H5::Group& group) const;
  void load(const H5::Group& group);

private:
  arma::uword visible_ = 0;
  arma::uword hidden_ = 0;
  arma::vec params_;
};

// ---- state codes (for enumeration and tests) ------------------------------------------------
// State code c <-> state s: unit k is bit k of c. Requires n <= 63.
arma::vec state_from_code(arma::uword n, std::uint64_t code);
// Requires entries 0/1, length <= 63.
std::uint64_t code_of(const arma::vec& state);

// ---- statistics ------------------------------------------------------------------------------
// Expectations of a phase: second(i, j) = <s_i s_j> (so the diagonal equals mean), mean = <s_i>.
struct BmStatistics {
  arma::mat second;  // n x n, symmetric
  arma::vec mean;    // n
  // The flat parameter layout: <s_i s_j> for i < j at pair_index(i, j), then <s_i>. O(n^2).
  arma::vec flat() const;
};

// ---- exact computations (n <= 20, else UserError) ----------------------------------------------
// log Z. Cost ~ 2^n * n/2 multiply-adds and 2^n exp, memory 2^n doubles.
double log_partition(const BoltzmannMachine& bm);
// log p(s) of every state, indexed by state code (length 2^n). Same cost as log_partition.
arma::vec state_log_probabilities(const BoltzmannMachine& bm);
// Requires data valid (validate_data). Ensures log p(v) = log sum_h exp(-E(v, h)) - log Z per
// column (length N). Cost: log_partition + ~ N 2^H (H + 1) multiply-adds.
arma::vec log_marginal(const BoltzmannMachine& bm, const arma::mat& data);
// The mean of log_marginal over the columns.
double average_log_likelihood(const BoltzmannMachine& bm, const arma::mat& data);
// Free phase: expectations under p(s). Cost ~ 2^n * n multiply-adds.
BmStatistics exact_free_statistics(const BoltzmannMachine& bm);

// ---- exact over the hidden units only (H <= 20, any V; else UserError) ------------------------
// Requires data valid. Ensures log sum_h exp(-E(v, h)) per column (length N): log p(v) + log Z.
// Cost ~ N 2^H (H + 1) multiply-adds, chunked (memory about 8 MiB whatever N and H).
arma::vec log_unnormalised_marginal(const BoltzmannMachine& bm, const arma::mat& data);
// Clamped phase: visible fixed to each data column, hidden summed exactly under p(h | v), then
// averaged over the columns. Requires data valid. Cost ~ 2 N 2^H (H + 1) + N H^2.
BmStatistics exact_clamped_statistics(const BoltzmannMachine& bm, const arma::mat& data);
// Gradient of average_log_likelihood with respect to parameters(): clamped minus free
// statistics in the flat layout. Cost: both of the above.
arma::vec exact_gradient(const BoltzmannMachine& bm, const arma::mat& data);
// A state of minimum energy (the first by code among ties) and its energy. Cost as log Z.
struct GroundState {
  arma::vec state;
  double energy = 0.0;
};
GroundState exact_ground_state(const BoltzmannMachine& bm);

// ---- Gibbs sampling --------------------------------------------------------------------------
// fixed: units in index order every sweep; random: a fresh uniform permutation per sweep and
// chain. Both leave p(s) at temperature T invariant (random scan is also reversible).
enum class SweepOrder { fixed, random };

struct GibbsOptions {
  double temperature = 1.0;  // > 0, finite
  SweepOrder order = SweepOrder::fixed;
  bool clamp_visible = false;  // sweeps visit hidden units only
  // UserError "gibbs: temperature must be positive and finite, got 0".
  void validate() const;
};

// Sequential-scan Gibbs sampling of C chains (columns of an n x C state matrix). Each chain keeps
// its local fields f = W s + a; a flip of unit i adds +-W.col(i) to them (O(n)), so a sweep costs
// O(m + flips * n) per chain for m visited units, never an O(n^2) recomputation. Rounding in
// these updates performs a random walk (about 1e-12 after 10^6 flips), so every kRefreshSweeps
// sweeps the fields are recomputed from the states (one GEMM, amortised to O(n^2 C / 256)).
class GibbsSampler {
public:
  static constexpr arma::uword kRefreshSweeps = 256;

  // Requires a non-empty machine, valid options (UserError). Ensures a snapshot of bm's weights
  // and biases: later changes to bm are not seen (build a new sampler). Cost O(n^2).
  GibbsSampler(const BoltzmannMachine& bm, GibbsOptions options);

  // Requires states n x C (C >= 1), entries 0/1 (UserError). Ensures fields recomputed from
  // scratch (one n x n x C GEMM).
  void set_states(arma::mat states);
  // Requires states set. Ensures one sweep over every chain. Cost as in the class comment.
  void sweep(Rng& rng);
  void sweeps(arma::uword count, Rng& rng);
  // Requires temperature > 0 and finite (UserError).
  void set_temperature(double temperature);

  const arma::mat& states() const { return states_; }
  const arma::mat& fields() const { return fields_; }
  const GibbsOptions& options() const { return options_; }

private:
  arma::uword visible_ = 0;
  arma::mat weights_;
  arma::vec biases_;
  GibbsOptions options_;
  arma::mat states_, fields_;
  arma::uword sweeps_since_refresh_ = 0;
  void refresh_fields();
};

// Runs `burn_in` sweeps on `states` (n x C, updated in place: persistent chains), then `samples`
// more, averaging s s^T and s over the samples x C states seen after each of them.
// Requires samples >= 1 and valid states / options. Cost (burn_in + samples) sweeps plus one
// n x n x C GEMM per sample sweep.
BmStatistics sampled_statistics(const BoltzmannMachine& bm, arma::mat& states,
                                arma::uword burn_in, arma::uword samples,
                                const GibbsOptions& options, Rng& rng);
// Clamped phase by sampling: one chain per data column with the visible units fixed to it and
// the hidden units started uniformly at random; then as sampled_statistics (clamp_visible is
// forced on). Requires data valid. With H = 0 the result is exact.
BmStatistics sampled_clamped_statistics(const BoltzmannMachine& bm, const arma::mat& data,
                                        arma::uword burn_in, arma::uword samples,
                                        const GibbsOptions& options, Rng& rng);

// Visible vectors drawn from the model at temperature options.temperature: `chains` chains from
// uniform random states, `burn_in` sweeps, then every `thin` sweeps each chain contributes its
// visible part, until `count` columns are collected (round by round, chain by chain).
struct SampleOptions {
  arma::uword chains = 10;
  arma::uword burn_in = 1000;
  arma::uword thin = 10;
  GibbsOptions gibbs;  // clamp_visible must be false
  void validate() const;  // chains, thin >= 1 (UserError)
};
// Requires a non-empty machine, valid options. Ensures V x count of 0/1. Cost
// (burn_in + thin * ceil(count / chains)) sweeps of `chains` chains.
arma::mat sample_visible(const BoltzmannMachine& bm, arma::uword count,
                         const SampleOptions& options, Rng& rng);

// ---- learning --------------------------------------------------------------------------------
// Ackley-Hinton-Sejnowski rule, per update on a batch:
//     theta += learning_rate * (clamped - free - weight_decay * w)   (decay on pair weights only)
// With exact_statistics both phases are exact (requires n <= 20): this is gradient ascent on the
// batch's average log-likelihood. Otherwise the clamped phase samples the hidden units of each
// batch column (clamped_sweeps sweeps from a uniform random start, the last state counted) or,
// with exact_clamped, sums them exactly (requires H <= 20: the clamped phase is then the exact
// expectation and only the free phase is sampled), and the free phase advances free_chains
// persistent chains by free_sweeps sweeps per update (persistent contrastive divergence), their
// final states counted.
struct BmTrainOptions {
  arma::uword epochs = 100;
  double learning_rate = 0.05;
  double weight_decay = 0.0;
  bool exact_statistics = true;
  bool exact_clamped = false;  // with exact_statistics off; clamped_sweeps then unused
  arma::uword batch_size = 0;  // 0: the whole data set per update; else shuffled each epoch
  arma::uword clamped_sweeps = 5;
  arma::uword free_chains = 100;
  arma::uword free_sweeps = 1;
  SweepOrder order = SweepOrder::fixed;
  bool track_log_likelihood = true;  // exact, only when n <= 20 (else NaN)
  // Stop after the first epoch that ends this many wall-clock seconds after the start (0: none);
  // at least one epoch always runs.
  double max_seconds = 0.0;
  // One-line UserErrors ("boltzmann train: learning_rate must be positive and finite, got -1").
  void validate() const;
};

struct BmEpochRecord {
  arma::uword epoch = 0;  // 1-based
  double log_likelihood = 0.0;  // exact average over the data after the epoch; NaN if n > 20
  double seconds = 0.0;   // wall time since train() started, evaluation included
};

// Requires data valid, options valid, n <= 20 when exact_statistics, H <= 20 when exact_clamped
// (UserErrors, before any work). Ensures bm trained in place; one record per epoch, each also
// passed to on_epoch (when set) as soon as it is known. Cost per update: exact, as
// exact_gradient; sampled, batch * clamped_sweeps (exact_clamped: ~ 2 batch 2^H (H + 1)
// multiply-adds) + free_chains * free_sweeps sweeps.
std::vector<BmEpochRecord> train(BoltzmannMachine& bm, const arma::mat& data,
                                 const BmTrainOptions& options, Rng& rng,
                                 const std::function<void(const BmEpochRecord&)>& on_epoch = {});

// ---- annealed importance sampling of log Z (any n) -------------------------------------------
// Base model: independent units with biases base_biases (length n), E_0(s) = -base_biases.s,
// log Z_0 = sum_i log(1 + exp(base_i)), sampled exactly. Path over ALL n units (visible and
// hidden alike): p*_beta(s) = exp(-(1 - beta) E_0(s) - beta E(s)), i.e. the machine with weights
// beta W and biases (1 - beta) base + beta a. Each of options.runs runs draws s from p_0, then
// for k = 1 .. K adds (beta_k - beta_{k-1}) (E_0(s) - E(s)) to its log weight and, for k < K,
// makes one fixed-order Gibbs sweep that leaves p_{beta_k} invariant. For any schedule,
// E[exp(log w)] = Z / Z_0 exactly (Neal 2001): the mean weight is an unbiased estimate of Z / Z_0;
// its log (log_z) is consistent and, by Jensen, low by about standard_error^2 / 2 on average.
// standard_error is the delta-method sd(w) / (sqrt(M) mean(w)), as for the RBM's AIS.
// Annealing the hidden units too (rather than summing them out per visible state) keeps each
// step O(n) per unit update and needs no limit on H.
// Requires a non-empty machine, base_biases of length n and finite, options valid (UserError).
// Cost: K sweeps of M chains, each ~ n exp plus n multiply-adds per flipped unit.
AisResult ais_log_partition(const BoltzmannMachine& bm, const arma::vec& base_biases,
                            const AisOptions& options, Rng& rng);
// Requires data valid. Ensures the call above with the base biases of the data's visible
// marginals (clamped log-odds, rbm.hpp's base_rate_visible_bias) and 0 for the hidden units.
AisResult ais_log_partition(const BoltzmannMachine& bm, const arma::mat& data,
                            const AisOptions& options, Rng& rng);

// ---- simulated annealing -----------------------------------------------------------------------
// The weights as a fixed cost function E(s). Sweep k (0-based) of S runs at
// T_k = t_start * (t_end / t_start)^(k / (S - 1)) (t_start alone when S = 1), from a uniform
// random state; every single-unit update is a heat-bath (Gibbs) step. The energy is tracked per
// flip and the lowest-energy state seen at any time is kept.
struct AnnealOptions {
  double t_start = 10.0;  // in energy units: about the largest |field| melts the state
  double t_end = 0.01;
  arma::uword sweeps = 1000;
  SweepOrder order = SweepOrder::random;
  // UserError unless 0 < t_end <= t_start (finite) and sweeps >= 1.
  void validate() const;
};
struct AnnealResult {
  arma::vec state;     // n, 0/1: the best state seen
  double energy = 0.0; // its energy, recomputed exactly by BoltzmannMachine::energy
  arma::uword sweep = 0;  // the sweep during which it was first reached
};
// Requires a non-empty machine, valid options. Cost S sweeps of one chain.
AnnealResult anneal(const BoltzmannMachine& bm, const AnnealOptions& options, Rng& rng);

// ---- weighted max-cut ------------------------------------------------------------------------
// A graph is an n x n symmetric weight matrix with zero diagonal (0 = no edge; weights may be
// negative). The cut of a 0/1 assignment x is cut(x) = sum_{i<j} w_ij [x_i != x_j].
//
// Mapping. In the +-1 (Ising) form sigma = 2x - 1, [x_i != x_j] = (1 - sigma_i sigma_j) / 2, so
//     cut = W_total / 2 - sum_{i<j} (w_ij / 2) sigma_i sigma_j,   W_total = sum_{i<j} w_ij:
// maximum cuts are ground states of the antiferromagnet with couplings J_ij = w_ij / 2. In the
// 0/1 form, sigma_i sigma_j = 4 x_i x_j - 2 x_i - 2 x_j + 1 turns this into
//     cut(x) = sum_i d_i x_i - 2 sum_{i<j} w_ij x_i x_j,   d_i = sum_j w_ij,
// i.e. the BM with W = -2 w and a = d has E(x) = -cut(x) exactly: the constant is 0 (the
// W_total / 2 of the Ising form cancels). Every unit is visible (H = 0).

// UserError naming `where` unless graph is n x n (n >= 1), finite, exactly symmetric with a zero
// diagonal.
void validate_graph(const arma::mat& graph, const std::string& where);
// Requires a valid graph. Ensures the machine above. Cost O(n^2).
BoltzmannMachine maxcut_machine(const arma::mat& graph);
// Requires a valid graph, side of length n with 0/1 entries (UserError). Cost O(n^2).
double cut_value(const arma::mat& graph, const arma::vec& side);

struct MaxCut {
  arma::vec side;     // 0/1 per vertex; the last vertex is on side 0
  double value = 0.0;
};
// The exact maximum cut by Gray-code enumeration of the 2^(n-1) assignments with the last vertex
// fixed (cut(x) = cut(1 - x)): each step flips one vertex and updates the cut and the n local
// fields in O(n), so the cost is O(2^(n-1) n). Requires a valid graph with n <= 20 (UserError).
MaxCut max_cut_exact(const arma::mat& graph);

// References for graphs too large to enumerate:
// sum of the positive edge weights: no cut exceeds it (it is reached iff the positive edges form
// a bipartite graph split by the cut and no negative edge is cut).
double maxcut_upper_bound(const arma::mat& graph);
// W_total / 2: the expected cut of a uniformly random assignment (each edge is cut with
// probability 1/2), so some cut reaches at least it and every good heuristic should.
double random_cut_expectation(const arma::mat& graph);

// A planted instance: vertices split uniformly at random into two sides, each cross pair an edge
// with probability edge_probability and weight uniform in [min_weight, max_weight] (> 0), no edge
// inside a side. The planted split cuts every edge, so the optimum equals the total weight
// (= maxcut_upper_bound) and is known for any n.
struct PlantedMaxCut {
  arma::mat graph;
  arma::vec side;        // the planted optimum
  double optimum = 0.0;  // its cut = the total weight
};
// Requires n >= 2, 0 < edge_probability <= 1, 0 < min_weight <= max_weight finite (UserError).
// Cost O(n^2).
PlantedMaxCut planted_bipartite_maxcut(arma::uword n, double edge_probability, double min_weight,
                                       double max_weight, Rng& rng);

}  // namespace seqlab::energy
