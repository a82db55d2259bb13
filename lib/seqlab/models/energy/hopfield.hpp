// seqlab/models/energy/hopfield.hpp: Hopfield networks as associative memories: the classical
// binary network (Hebbian, Storkey and pseudo-inverse learning; asynchronous and synchronous
// dynamics; energy; recall and overlap scores; model files), a capacity experiment, an asymmetric
// sequence memory, and the retrieval update of modern (continuous) Hopfield networks.
//
// What it is not: a probability model. A Hopfield network scores recall (overlap with a stored
// pattern, score_recall; replay, score_replay), not a likelihood. hopfield_memory.hpp wraps it
// for the command line and model files; the experiment runner refuses it.
//
// DATA. Units take the values -1 and +1 ("spins"). A set of patterns (or a sequence of frames) is
// an arma::mat of N x P, ONE PATTERN PER COLUMN (seqlab's convention: observations are columns).
// seqlab's dataset layer gives binary frames as 0/1; binary_to_spins() maps them to -1/+1.
// Every entry point checks its input before any long work and throws seqlab::UserError (one line
// saying what was expected and what was found) for the wrong shape, a value other than -1/+1, NaN.
//
// PARAMETERS. A network's weights W (N x N) and thresholds' negatives, the bias b (N), live in ONE
// flat vector [vec(W); b] (column-major W first), so saving and any walk over parameters see one
// array; weights() and bias() are views built on demand, never stored.
//
// ENERGY AND DYNAMICS. E(x) = -1/2 x^T W x - b^T x; the local field of unit i is h_i = (W x)_i +
// b_i, INCLUDING the self-coupling W_ii x_i. A unit is set to sign(h_i); a field of exactly 0 keeps
// the unit's current value (ties never flip). When W is symmetric with a non-negative diagonal,
// flipping unit i changes the energy by 2 x_i (h_i - W_ii x_i) (x before the flip), which is
// < -2 W_ii <= 0 whenever the flip rule fires: asynchronous dynamics never raise the energy and
// end at a fixed point. Every rule below gives such a W.
//
// LEARNING RULES (all replace the weights; the bias is set to zero).
//   hebbian         W = (1/N) Xi Xi^T with the diagonal set to 0. Capacity about 0.138 N.
//   storkey         Storkey (1997), one pattern at a time, diagonal kept at 0:
//                     W_ij += (1/N) (xi_i xi_j - xi_i h_ji - h_ij xi_j),  i != j,
//                     h_ij = sum_{k != i, j} W_ik xi_k.
//                   With W symmetric, zero-diagonal and xi_k^2 = 1, h_ij = h_i - W_ij xi_j
//                   (h = W xi), so the update is the symmetric rank-2 step
//                     W <- (1 + 2/N) W + (1/N) (u xi^T + xi u^T),  u = xi/2 - h,
//                   O(N^2) per pattern (one GEMV and one pass over W), not O(N^3).
//   pseudo_inverse  The projection onto the span of the patterns, W = Xi (Xi^T Xi)^+ Xi^T.
//                   (Xi^T Xi)^+ is the Moore-Penrose pseudo-inverse (SVD, arma::pinv with its
//                   default tolerance), so linearly dependent or repeated patterns give the
//                   projection onto their span instead of blowing up. Its diagonal is KEPT, not
//                   zeroed: W xi = xi exactly for every stored xi only for the full projection,
//                   and its diagonal W_ii = |W e_i|^2 lies in [0, 1], which keeps the energy
//                   argument above valid. (Zeroing it would cost exactness and buy nothing.)
//   custom          Weights given directly (set_parameters); symmetric, non-negative diagonal.
//
// FILE LAYOUT (save/load, under the group given):
//   attribute `rule`  string: "hebbian", "storkey", "pseudo_inverse" or "custom"
//   attribute `units` int64: N
//   dataset `weights` float64 N x N (W; seqlab's MATRIX LAYOUT, h5py reads a (N, N) array)
//   dataset `bias`    float64 N (b)
// load() checks shapes, finiteness, symmetry (|W_ij - W_ji| <= 1e-12 max(1, max|W|)), a zero
// diagonal for hebbian/storkey and a non-negative one for the others.
#pragma once

#include <armadillo>
#include <cstdint>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "seqlab/core/rng.hpp"

namespace H5 {
class Group;
}

namespace seqlab::energy {

// ---- patterns ----------------------------------------------------------------------------------

// Requires: nothing. Ensures: returns normally when every entry of x is exactly -1 or +1, else
// throws UserError "<what>: element (row, col) is <v>, expected -1 or +1". Cost O(size).
void require_spins(const arma::mat& x, const std::string& what);

// Requires: frames of exact 0/1 values (any shape; seqlab's binary frames, one per column).
// Ensures: 2 x - 1 (0 -> -1, 1 -> +1); anything else (0.5, NaN) is a UserError naming the element.
arma::mat binary_to_spins(const arma::mat& frames);

// Requires: x and pattern of equal length N >= 1 (else UserError). Ensures: m = x . pattern / N, in
// [-1, 1] for spin vectors: 1 = recalled exactly, -1 = the mirror image. Cost O(N).
double overlap(const arma::vec& x, const arma::vec& pattern);

struct BestOverlap {
  arma::uword index = 0;  // the column of `patterns` with the largest overlap (first on ties)
  double overlap = 0.0;
};
// Requires: patterns N x P with P >= 1, x of length N (else UserError). Ensures: the stored pattern
// x is closest to, by overlap (signed: a mirror image is not a recall). Cost: one GEMV N x P.
BestOverlap best_overlap(const arma::vec& x, const arma::mat& patterns);

// ---- learning rules (free functions; the network's store() calls them) ------------------------

enum class HopfieldRule { hebbian, storkey, pseudo_inverse, custom };

// "hebbian", "storkey", "pseudo_inverse", "custom".
std::string rule_name(HopfieldRule rule);
// Inverse of rule_name; UserError listing the valid names otherwise.
HopfieldRule parse_rule(const std::string& name);

// Each requires patterns N x P of spins with N >= 1, P >= 1 (UserError otherwise) and returns the
// N x N symmetric weights described in the file comment.
// Cost: hebbian one SYRK-like GEMM N x P x N; storkey P x (GEMV + one pass over W), O(P N^2);
// pseudo_inverse GEMMs P x N x P and N x P x N plus an SVD of P x P (O(P^3)).
arma::mat hebbian_weights(const arma::mat& patterns);
arma::mat storkey_weights(const arma::mat& patterns);
arma::mat pseudo_inverse_weights(const arma::mat& patterns);

// ---- the classical network ---------------------------------------------------------------------

struct AsyncOptions {
  arma::uword max_sweeps = 100;  // a sweep visits every unit once, in a fresh random order
  // Called after every single flip with the flipped unit and the state after it (for tests and
  // animations). Empty: no calls. The state must not be modified through the reference.
  std::function<void(arma::uword unit, const arma::vec& state)> on_flip;
};

// The result of asynchronous settling (and of recall).
struct AsyncResult {
  arma::vec state;         // the final state, spins
  arma::uword sweeps = 0;  // sweeps done, including the last one that changed nothing
  arma::uword flips = 0;   // unit flips in all
  bool converged = false;  // a whole sweep changed nothing (a fixed point), within max_sweeps
  arma::vec energy_trace;  // E after each sweep (length `sweeps`); empty when max_sweeps = 0
};

enum class SyncStatus { fixed_point, two_cycle, max_steps };
std::string sync_status_name(SyncStatus status);  // "fixed_point", "two_cycle", "max_steps"

struct SyncResult {
  arma::vec state;        // the last state
  arma::uword steps = 0;  // synchronous updates done
  SyncStatus status = SyncStatus::max_steps;
};

class HopfieldNetwork {
 public:
  // An empty network (0 units) for load().
  HopfieldNetwork() = default;
  // Requires units >= 1. Ensures: W = 0, b = 0, rule "custom" (every state a fixed point).
  explicit HopfieldNetwork(arma::uword units);

  // Requires: patterns N x P of spins (P >= 1), N == units() (UserError otherwise; a network of 0
  // units takes N from the patterns). rule != custom (std::invalid_argument).
  // Ensures: weights from the rule (see the file comment), bias zero, rule() == rule.
  void store(const arma::mat& patterns, HopfieldRule rule);

  // Requires: weights N x N finite and symmetric within 1e-12 max(1, max|W|), a non-negative
  // diagonal, bias of length N finite (UserError otherwise). Ensures: rule "custom", W made exactly
  // symmetric ((W + W^T)/2, a no-op on an already symmetric matrix).
  void set_parameters(const arma::mat& weights, const arma::vec& bias);

  arma::uword units() const { return units_; }
  HopfieldRule rule() const { return rule_; }
  // Read-only views into the flat parameter vector; valid while the network is alive and not
  // assigned to or stored into. Cost O(1).
  const arma::mat weights() const;
  const arma::vec bias() const;
  // The flat parameter vector [vec(W); b], length N^2 + N.
  const arma::vec& parameters() const { return parameters_; }
  // Free parameters: N (N - 1) / 2 couplings plus N biases (the diagonal is fixed by the rule).
  std::uint64_t num_parameters() const { return units_ * (units_ - 1) / 2 + units_; }

  // Requires x of length N (UserError). Ensures: -1/2 x^T W x - b^T x. Cost: one GEMV.
  double energy(const arma::vec& x) const;
  // Requires x of length N, i < N. Ensures: h_i = (W x)_i + b_i. Cost O(N).
  double local_field(const arma::vec& x, arma::uword i) const;
  // Requires: x a spin vector of length N, i < N (UserError). Ensures: x_i = sign(h_i), unchanged
  // when h_i = 0; returns whether it flipped. Cost O(N) (a fresh field, not an incremental one).
  bool update_unit(arma::vec& x, arma::uword i) const;

  // Requires: start a spin vector of length N (UserError). Ensures: asynchronous dynamics: sweeps
  // over the units in an order drawn afresh from `rng` for every sweep, until a sweep flips nothing
  // or max_sweeps sweeps were done. Fields are computed once (GEMV) and then kept up to date by an
  // O(N) update per flip; before declaring a fixed point they are recomputed from scratch and the
  // sweeps go on if rounding had hidden a flip. Same seed => same result.
  // Cost: O(N^2) + O(N) per sweep + O(N) per flip.
  AsyncResult settle(const arma::vec& start, Rng& rng, const AsyncOptions& options = {}) const;

  // Requires: start a spin vector of length N (UserError). Ensures: x <- sign(W x + b) for all
  // units at once (ties keep the unit's value), until x repeats (fixed_point), x equals the state
  // two steps back (two_cycle: the only other attractor of symmetric synchronous dynamics), or
  // max_steps updates. Cost: one GEMV per step.
  SyncResult settle_synchronous(const arma::vec& start, arma::uword max_steps = 100) const;

  // Requires: cue of length N with entries -1, 0 or +1 (UserError). 0 marks an unknown unit (a
  // partial cue): each is set to a random spin drawn from `rng` before settling (so unknown units
  // neither help nor bias the field). Ensures: settle() from there.
  AsyncResult recall(const arma::vec& cue, Rng& rng, const AsyncOptions& options = {}) const;

  // The FILE LAYOUT of the file comment. save requires a network with N >= 1. load replaces this
  // network, after every check passed (UserError naming the file, object and what was expected).
  void save(H5::Group& group) const;
  void load(const H5::Group& group);

 private:
  void allocate(arma::uword units);
  arma::mat weights_view();
  arma::vec bias_view();
  void require_state(const arma::vec& x, const std::string& what) const;

  arma::uword units_ = 0;
  HopfieldRule rule_ = HopfieldRule::custom;
  arma::vec parameters_;  // [vec(W); b]
};

// The energy along one asynchronous recall, for figures and checks of the descent.
struct TracedRecall {
  AsyncResult result;
  arma::vec start;   // the state settling began from (a partial cue's unknown units filled in)
  arma::vec energy;  // E(start), then E after each unit flip: result.flips + 1 entries
};

// Requires: as HopfieldNetwork::recall. Ensures: recall() with the same draws from `rng` (so the
// same result for the same seed), the energy recorded before the first flip and after every flip;
// options.on_flip is still called. With a symmetric W of non-negative diagonal (every network
// here) the energy never increases from one entry to the next (by more than rounding).
// Cost: recall() plus one GEMV (O(N^2)) per flip.
TracedRecall recall_with_energy(const HopfieldNetwork& network, const arma::vec& cue, Rng& rng,
                                const AsyncOptions& options = {});

// ---- recall scores -----------------------------------------------------------------------------

// Requires: fraction in [0, 1] and finite (UserError). Ensures: round(fraction * units), the number
// of units a cue flips (the capacity experiment's rule).
arma::uword flips_for(double fraction, arma::uword units);

// Requires: x a spin vector, flips <= x.n_elem (UserError). Ensures: x with exactly `flips`
// distinct units flipped, the first `flips` of one random permutation drawn from `rng`. Cost O(N).
arma::vec flip_units(const arma::vec& x, arma::uword flips, Rng& rng);

struct RecallOptions {
  double flip_fraction = 0.10;   // a cue is its target with round(f N) distinct units flipped
  double threshold = 0.95;       // recalled when the final overlap with the target is >= this
  arma::uword max_sweeps = 100;  // asynchronous sweeps per cue (AsyncOptions::max_sweeps)
};

// Recall of a set of targets from noisy cues: means over the cues.
struct RecallScores {
  std::uint64_t cues = 0;
  arma::uword flipped_units = 0;   // per cue: round(f N)
  double cue_overlap = 0.0;        // of the noisy cue with its target (1 - 2 flips / N)
  double mean_overlap = 0.0;       // of the final state with its target
  double fraction_recalled = 0.0;  // final overlap >= threshold
  // The stored pattern closest to the final state (best_overlap) is the one closest to the
  // target: the intended memory (the target itself when it is stored; stored patterns are
  // compared by content, so a duplicate counts as the same memory).
  double fraction_nearest = 0.0;
  double mean_flips = 0.0;          // unit flips per cue
  double mean_sweeps = 0.0;         // sweeps per cue, the last (unchanging) one included
  double fraction_converged = 0.0;  // reached a fixed point within max_sweeps
};

// Requires: a network of N >= 1 units; stored N x P spins (P >= 1: the patterns the network
// stores); targets N x C spins (C >= 1); options with flip_fraction in [0, 1], threshold in
// [-1, 1], max_sweeps >= 1 (UserError otherwise, before any recall). Ensures: for each target in
// column order, a cue with flip_units(target, flips_for(f, N)) and recall(cue), all draws from
// `rng` (same seed, same scores); the scores above. Cost: C recalls plus C GEMVs N x P.
RecallScores score_recall(const HopfieldNetwork& network, const arma::mat& stored,
                          const arma::mat& targets, const RecallOptions& options, Rng& rng);

// ---- capacity experiment -----------------------------------------------------------------------

struct CapacityOptions {
  arma::uword units = 500;    // N
  std::vector<double> loads;  // alpha = P / N, each > 0; P = max(1, round(alpha N))
  std::vector<HopfieldRule> rules = {HopfieldRule::hebbian, HopfieldRule::storkey,
                                     HopfieldRule::pseudo_inverse};
  std::vector<std::uint64_t> seeds = {1};  // one trial per (rule, load, seed)
  double flip_fraction = 0.10;             // cue = pattern with round(f N) distinct bits flipped
  double threshold = 0.95;                 // recalled when the final overlap is >= this
  arma::uword max_sweeps = 100;
  // Given: also rows with rule "modern", the retrieval of a modern (continuous) Hopfield network
  // from the same cues: ONE update xi = X softmax(beta X^T cue) (modern_update) over the stored
  // patterns X with this beta (> 0, finite), scored by the overlap of that continuous xi with
  // the cued pattern (no sign taken, no settling). Empty: classical rules only.
  std::optional<double> modern_beta;
};

// One row per (rule, load, seed), in that nesting order (rule outermost; "modern" after the
// classical rules when asked for).
struct CapacityTable {
  std::vector<std::string> rule;
  std::vector<double> alpha;  // the load asked for
  std::vector<std::uint64_t> seed;
  std::vector<arma::uword> patterns;      // P actually stored
  std::vector<double> fraction_recalled;  // fraction of the P cues ending with overlap >= threshold
  std::vector<double> mean_overlap;       // mean final overlap with the cued pattern
  std::size_t size() const { return rule.size(); }
};

// Requires: units >= 1, loads non-empty, each finite and > 0 with round(alpha N) <= 16 N, rules
// without custom and non-empty unless modern_beta is given, seeds non-empty, flip_fraction in [0, 1], threshold in [-1, 1]
// (UserError before any work), modern_beta empty or finite and > 0. Ensures: for each seed and
// load, P random patterns (uniform
// independent spins) drawn from make_rng(derive_seed(seed, load index)) and the same cues (each
// stored pattern with its own random flips) for every rule, so rules are compared on identical
// data; each cue is recalled asynchronously on its own (recall()), from a stream derived from the
// seed, the load and the rule. Cost per trial: the rule's learning cost plus P recalls; the
// modern rows 2 GEMVs N x P per cue (no learning).
CapacityTable run_capacity_experiment(const CapacityOptions& options);

// Requires: a table from run_capacity_experiment with these options. Ensures: `path` written
// atomically (h5::write_file_atomically) with one 1-D dataset per column: `rule` (strings),
// `alpha`, `fraction_recalled`, `mean_overlap` (float64), `seed`, `patterns` (uint64); root
// attributes `units`, `flip_fraction`, `threshold`, `max_sweeps` and, with modern rows,
// `modern_beta`. UserError on I/O failure.
void write_capacity_table(const std::filesystem::path& path, const CapacityTable& table,
                          const CapacityOptions& options);

// ---- sequence memory ---------------------------------------------------------------------------

// An asymmetric network that maps each frame to the next: replaying from the first frame walks
// through the stored sequence. No symmetry, so no energy function; dynamics are synchronous.
enum class SequenceRule { temporal_hebbian, temporal_pseudo_inverse };
std::string sequence_rule_name(SequenceRule rule);  // "temporal_hebbian", "temporal_pseudo_inverse"

class SequenceMemory {
 public:
  SequenceMemory() = default;

  // Requires: frames N x T of spins, T >= 2 (UserError). Ensures:
  //   temporal_hebbian         W = (1/N) sum_{t<T-1} xi^{t+1} xi^{t T}  (Xi_next Xi_cur^T / N)
  //   temporal_pseudo_inverse  W = Xi_next Xi_cur^+ (Moore-Penrose, SVD): maps every frame to
  //                            its successor exactly when the frames are linearly independent,
  //                            whatever their correlations; a least-squares map otherwise.
  // where Xi_cur = frames 0..T-2 and Xi_next = frames 1..T-1. The diagonal is kept (no energy to
  // protect). Cost: one GEMM N x (T-1) x N (+ an SVD of N x (T-1) for the pseudo-inverse).
  void store(const arma::mat& frames, SequenceRule rule);

  // Requires: current and next N x M spins of equal shape, N, M >= 1 (UserError): column j of
  // `next` follows column j of `current` (transitions of several sequences, none across the end
  // of one and the start of the next). Ensures: the weights of store() with Xi_cur = current and
  // Xi_next = next; store(frames) is store_transitions(frames 0..T-2, frames 1..T-1). Cost: as
  // store() with T - 1 = M.
  void store_transitions(const arma::mat& current, const arma::mat& next, SequenceRule rule);

  arma::uword units() const { return weights_.n_rows; }
  SequenceRule rule() const { return rule_; }
  // The flat parameter vector is W itself (N x N, column-major).
  const arma::mat& weights() const { return weights_; }

  // Requires: first a spin vector of length N (UserError). Ensures: N x (steps + 1) states,
  // column 0 = first, column t+1 = sign(W x_t) with ties keeping the unit's value in x_t.
  // Cost: one GEMV per step.
  arma::mat replay(const arma::vec& first, arma::uword steps) const;

  // Requires: frames N x T of spins, T >= 2 (UserError). Ensures: replay from frames.col(0) for
  // T-1 steps; element t-1 is the overlap of replayed state t with frames.col(t), t = 1..T-1.
  arma::vec replay_accuracy(const arma::mat& frames) const;

  // Group layout: attribute `rule` (string, sequence_rule_name), attribute `units` (int64 N),
  // dataset `weights` (float64 N x N, not symmetric). save requires something stored
  // (std::logic_error otherwise); load checks the rule name, the shape and finiteness (UserError
  // naming the file, object and what was expected) and replaces this memory only when all pass.
  void save(H5::Group& group) const;
  void load(const H5::Group& group);

 private:
  SequenceRule rule_ = SequenceRule::temporal_hebbian;
  arma::mat weights_;
};

// Replay of sequences from noisy first frames: means over the frames after the first.
struct ReplayScores {
  std::uint64_t sequences = 0;       // replayed (sequences of at least 2 frames)
  std::uint64_t skipped = 0;         // sequences of one frame: nothing to replay
  std::uint64_t frames = 0;          // frames after the first, summed over the replayed sequences
  arma::uword flipped_units = 0;     // of the first frame: round(f N)
  double mean_overlap = 0.0;         // of replayed state t with frame t, t >= 1
  double fraction_reproduced = 0.0;  // frames whose overlap is >= threshold
  double fraction_sequences_whole = 0.0;  // replayed sequences with every frame reproduced
};

// Requires: a memory with something stored; every sequence N x T spins with N = units(), T >= 1;
// options as score_recall (max_sweeps unused: replay is synchronous) (UserError). Ensures: for
// each sequence of T >= 2 frames in order, replay(flip_units(frame 0, flips_for(f, N)), T - 1)
// with the flips drawn from `rng`; the scores above (NaN means when no sequence has 2 frames).
// Cost: one GEMV N x N per replayed frame.
ReplayScores score_replay(const SequenceMemory& memory, const std::vector<arma::mat>& sequences,
                          const RecallOptions& options, Rng& rng);

// ---- modern (continuous) Hopfield retrieval -----------------------------------------------------

// Requires: z non-empty, finite or -inf entries with at least one finite (UserError).
// Ensures: exp(z - max z) / sum: no overflow for any z, entries in [0, 1] summing to 1.
arma::vec stable_softmax(const arma::vec& z);

// Ramsauer et al. (2020): xi_new = X softmax(beta X^T xi).
// Requires: patterns X N x P (P >= 1) finite, xi of length N finite, beta > 0 finite (UserError).
// Ensures: one update. Cost: two GEMVs N x P.
arma::vec modern_update(const arma::mat& patterns, const arma::vec& xi, double beta);

struct ModernResult {
  arma::vec state;
  arma::uword iterations = 0;
  bool converged = false;  // max |xi_new - xi| <= tolerance within max_iterations
};
// Requires: as modern_update; tolerance >= 0. Ensures: repeated updates until the largest change
// of an entry is <= tolerance or max_iterations updates. Cost: two GEMVs per iteration.
ModernResult modern_retrieve(const arma::mat& patterns, const arma::vec& xi, double beta,
                             arma::uword max_iterations = 100, double tolerance = 1e-12);

}  // namespace seqlab::energy
