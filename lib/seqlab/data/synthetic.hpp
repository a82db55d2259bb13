// seqlab/data/synthetic.hpp: seeded generators of synthetic sequence data. Every generator takes
// its Rng explicitly: same seed, same build => same data.
//
// Two levels: low-level samplers (an HMM with given parameters, the dishonest casino, the copy,
// adding and balanced-bracket tasks, noisy binary patterns) that draw one sequence or one set
// from an Rng, and make_synthetic_dataset, which turns a generator name plus options into a whole
// SequenceDataset with train / valid / test. The samplers validate their parameters and throw a
// UserError naming the offending parameter; they never repair bad input.
#pragma once

#include <armadillo>
#include <optional>
#include <cstdint>
#include <string>
#include <vector>

#include "seqlab/core/rng.hpp"
#include "seqlab/data/alphabet.hpp"
#include "seqlab/data/dataset.hpp"
#include "seqlab/data/options.hpp"

namespace seqlab {

// ---- Hidden Markov models -------------------------------------------------------------------

// A discrete-emission HMM with N states and M symbols.
//   initial     N        P(state_0 = i)
//   transition  N x N    ROW-stochastic: transition(i, j) = P(state_{t+1} = j | state_t = i)
//   emission    N x M    row i = distribution of the symbol emitted in state i
struct CategoricalHmmParams {
  arma::vec initial;
  arma::mat transition;
  arma::mat emission;
};

struct HmmSample {
  arma::uvec states;   // T hidden states
  arma::uvec symbols;  // T emitted symbols
};

// Requires nothing. Ensures: returns when `params` is a valid HMM (N >= 1, M >= 1, shapes as
// above, every entry finite and >= 0, `initial` and every row summing to 1 within 1e-9); else
// throws a UserError naming the part, e.g. "HMM transition row 2 sums to 0.9, expected 1 (within
// 1e-9)" or "HMM emission is 3 x 4, expected 2 x M (one row per state)".
void validate_categorical_hmm(const CategoricalHmmParams& params);

// Requires: valid params (checked as above). Ensures: a length-T path and its symbols, drawn
// state_0 ~ initial, state_{t+1} ~ transition.row(state_t), symbol_t ~ emission.row(state_t).
// Cost O(T (N + M)).
HmmSample sample_categorical_hmm(const CategoricalHmmParams& params, arma::uword length, Rng& rng);

// Requires: states >= 1, symbols >= 1, concentration > 0 (else UserError naming it).
// Ensures: initial, every transition row and every emission row drawn independently from a
// symmetric Dirichlet(concentration) (small concentration => peaked rows, 1 => uniform on the
// simplex). Draw order: initial, transition rows 0..N-1, emission rows 0..N-1.
CategoricalHmmParams random_categorical_hmm(arma::uword states, arma::uword symbols,
                                            double concentration, Rng& rng);

// An HMM with diagonal-covariance Gaussian emissions in d dimensions.
//   means, variances: d x N, column i = mean / per-dimension variance (> 0) of state i.
struct GaussianHmmParams {
  arma::vec initial;
  arma::mat transition;  // N x N, row-stochastic as above
  arma::mat means;
  arma::mat variances;
};

struct GaussianHmmSample {
  arma::uvec states;         // T
  arma::mat observations;    // d x T, one observation per column
};

// Requires: initial/transition as for the categorical HMM, means and variances d x N with d >= 1,
// means finite, variances finite and > 0 (else UserError naming the part).
void validate_gaussian_hmm(const GaussianHmmParams& params);

// Ensures: observation t = means.col(s_t) + sqrt(variances.col(s_t)) % z, z standard normal.
// Cost O(T (N + d)).
GaussianHmmSample sample_gaussian_hmm(const GaussianHmmParams& params, arma::uword length,
                                      Rng& rng);

// ---- The occasionally dishonest casino (Durbin, Eddy, Krogh & Mitchison 1998, ch. 3) ------------
// States 0 = Fair, 1 = Loaded. Fair die: each face 1/6. Loaded die: face 6 with probability 1/2,
// each other face 1/10. P(Fair -> Loaded) = 0.05, P(Loaded -> Fair) = 0.10. The book leaves the
// start distribution open; we start 0.5 / 0.5 (not the stationary 2/3 / 1/3), so the first
// steps are slightly richer in Loaded than the long-run fraction.
// Symbol index k is face k + 1 (alphabet "1".."6").
CategoricalHmmParams casino_params();
Alphabet casino_alphabet();

// ---- Long-dependency tasks ------------------------------------------------------------------

// Copy after a delay. Alphabet: `symbols` data symbols "a", "b", ... (indices 0..n-1), then the
// blank "_" (index n) and the go-marker ":" (index n+1). A sequence is `length` (K) data symbols
// drawn uniformly, `delay` (D) blanks, ":", then the same K symbols again: 2K + D + 1 steps.
struct CopyTaskOptions {
  arma::uword symbols = 8;  // 1..26
  arma::uword length = 10;  // K >= 1
  arma::uword delay = 10;   // D >= 0
};
// Requires: 1 <= symbols <= 26 (else UserError naming 'symbols').
Alphabet copy_task_alphabet(arma::uword symbols);
// Requires: options as documented (else UserError naming the option). Cost O(K + D).
arma::uvec sample_copy_sequence(const CopyTaskOptions& options, Rng& rng);

// Adding problem (Hochreiter & Schmidhuber 1997; the form of Le, Jaitly & Hinton 2015).
// inputs is 2 x T: row 0 values uniform on [0, 1), row 1 markers with exactly two 1s, one at a
// uniform position in [0, floor(T/2)) and one at a uniform position in [floor(T/2), T).
// target = sum of the two marked values.
struct AddingSample {
  arma::mat inputs;
  double target = 0.0;
};
// Requires: length >= 2 (else UserError naming 'length'). Cost O(T).
AddingSample sample_adding_sequence(arma::uword length, Rng& rng);

// Balanced brackets. Alphabet "(" (0), ")" (1), "$" (2). A sequence is a Dyck word of exactly
// `length` brackets followed by "$". Distribution: a random walk on the depth h, starting at 0;
// at each step an opening bracket is ALLOWED when h < max_depth and the depth h + 1 can still be
// closed in the remaining steps, a closing one when h > 0. When both are allowed the walk opens
// with probability `open_probability`, otherwise it takes the one allowed move. This is not
// the uniform distribution over Dyck words; it is what makes deep nesting tunable.
struct BracketOptions {
  arma::uword length = 20;        // even, >= 2
  double open_probability = 0.5;  // in [0, 1]
  arma::uword max_depth = 10;     // >= 1
};
Alphabet bracket_alphabet();
// Requires: options as documented (else UserError naming the option). Ensures: depth never
// negative, never above max_depth, zero after the last bracket. Cost O(length).
arma::uvec sample_bracket_sequence(const BracketOptions& options, Rng& rng);

// ---- Noisy binary patterns ----------------------------------------------------------------

// Requires: dimension >= 1, count >= 1. Ensures: dimension x count, each entry 1 with
// probability 1/2 independently (column k = prototype k).
arma::mat random_binary_prototypes(arma::uword dimension, arma::uword count, Rng& rng);

// Requires: prototypes non-empty with 0/1 entries, flip in [0, 1] (else UserError naming it).
// Ensures: a binary_frames set of `samples` sequences of ONE frame (d x 1) each: a prototype
// chosen uniformly, each bit flipped independently with probability `flip`; labels(i) = the
// prototype's column index. Cost O(samples * d).
SequenceSet sample_noisy_patterns(const arma::mat& prototypes, arma::uword samples, double flip,
                                  Rng& rng);

struct NoisyPatternSet {
  arma::mat prototypes;  // d x K
  SequenceSet samples;   // binary_frames, labels = prototype index
};
// Convenience: prototypes from random_binary_prototypes, then sample_noisy_patterns, same rng.
NoisyPatternSet make_noisy_patterns(arma::uword dimension, arma::uword prototypes,
                                    arma::uword samples, double flip, Rng& rng);

// ---- Whole datasets -----------------------------------------------------------------------

// Builds a whole named synthetic dataset (used by registry entries with `generator = ...` and by
// tests/demo). `generator` is one of synthetic_generator_names(); `options` its settings (unknown
// keys are a UserError). Train/valid/test are generated independently from derived seeds of
// `seed`, so they never share a sequence by construction (no draw is reused; in a tiny space,
// e.g. 4-bracket words, two independent draws can of course coincide).
//
// Options (all optional; defaults in brackets):
//   every generator: sequences [100] = number of TRAINING sequences, valid_sequences and
//     test_sequences [10 % of sequences each, at least 1; 0 allowed when given].
//   hmm       states [4], symbols [8], concentration [1.0], length [100]
//   casino    length [300]
//   copy      symbols [8], length (K) [10], delay [10]
//   adding    length (T) [50]
//   brackets  length [20] (even), open_probability [0.5], max_depth [10]
//   patterns  dimension [64], prototypes [5], flip [0.1]   (sequences = samples)
// Seeds: stream 0 of `seed` draws what is shared by all splits (the HMM's parameters, the
// pattern prototypes); streams 1, 2, 3 are train, valid, test; sequence i of a split uses
// derive_seed(split seed, i), so raising `sequences` keeps the earlier sequences unchanged.
// Ensures: split_rule.method == given; `all` = train, then valid, then test; validate() passes.
// Kinds: symbols (hmm, casino, copy, brackets), vectors (adding, targets = 1-element vec with
// the sum), binary_frames (patterns, labels = prototype index).
SequenceDataset make_synthetic_dataset(const std::string& name, const std::string& generator,
                                       const Options& options, std::uint64_t seed);
std::vector<std::string> synthetic_generator_names();

// The TRUE parameters behind make_synthetic_dataset(name, "hmm", options, seed): the same draw,
// so a model's held-out NLL can be compared with the generating model's. Requires options valid
// for "hmm" (same checks, same UserErrors).
CategoricalHmmParams synthetic_hmm_parameters(const Options& options, std::uint64_t seed);
// Same for a named generator: "hmm" as above, "casino" -> casino_params(); any other generator
// has no HMM behind it -> UserError.
CategoricalHmmParams synthetic_hmm_parameters(const std::string& generator, const Options& options,
                                              std::uint64_t seed);

// The exact log-probability (nats) of one symbol sequence under the process of a synthetic
// generator whose process is a closed form here: "copy" (K log(1/symbols) for a well-formed copy
// sequence: only the first K symbols are random) and "brackets" (the random walk's choices:
// log open_probability or log(1 - open_probability) at each step where both moves were
// allowed, 0 where only one was, 0 for the final "$"). A sequence the process cannot produce
// gets -inf. Returns nullopt for the other generators (hmm and casino: score their true HMM,
// synthetic_hmm_parameters; adding and patterns: not symbol sequences).
// Requires the generator's options as for make_synthetic_dataset (same UserErrors).
// With it, the mean NLL of a split is the floor any model of that data can reach. Cost O(T).
std::optional<double> generator_log_probability(const std::string& generator,
                                                const Options& options, const arma::uvec& x);

// The prototypes behind make_synthetic_dataset(name, "patterns", options, seed) (d x K).
arma::mat synthetic_pattern_prototypes(const Options& options, std::uint64_t seed);

}  // namespace seqlab
