// seqlab/data/dataset.hpp: the one data convention of seqlab, and SequenceDataset.
//
// DATA CONVENTION (written once, tested in tests/unit/test_dataset.cpp):
//   * A dataset holds sequences of exactly one kind:
//       symbols        arma::uvec of indices into the dataset's Alphabet; element t = time t.
//       vectors        arma::mat, d x T: ONE OBSERVATION PER COLUMN, time runs along columns.
//       binary_frames  arma::mat, d x T of exact 0.0/1.0 values, one frame per column
//                      (piano rolls, binary patterns).
//   * Splits train / valid / test never overlap and are deterministic (see SplitRule).
//     `all` is every sequence of the source, whole and in source order.
//   * Transition matrices elsewhere in seqlab are row-stochastic: A(i,j) = P(next=j | now=i).
#pragma once

#include <armadillo>
#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "seqlab/data/alphabet.hpp"

namespace seqlab {

enum class SequenceKind { symbols, vectors, binary_frames };
std::string to_string(SequenceKind kind);
// Requires: "symbols", "vectors" or "binary_frames". Throws UserError otherwise.
SequenceKind parse_sequence_kind(const std::string& name);

enum class Split { train, valid, test, all };
std::string to_string(Split split);
// Requires: "train", "valid", "test" or "all". Throws UserError naming the accepted values.
Split parse_split(const std::string& name);

// An ordered collection of sequences of one kind. Exactly one of `symbols` / `frames` is used:
// `symbols` when kind == symbols, `frames` otherwise.
struct SequenceSet {
  SequenceKind kind = SequenceKind::symbols;
  std::vector<arma::uvec> symbols;  // kind == symbols: one uvec per sequence
  std::vector<arma::mat> frames;    // kind == vectors / binary_frames: d x T per sequence
  // Optional per-sequence annotations (empty when the source has none):
  std::vector<arma::sword> labels;  // class label per sequence (e.g. digit), or -1
  std::vector<arma::vec> targets;   // regression target per sequence (e.g. adding problem)

  std::size_t size() const { return kind == SequenceKind::symbols ? symbols.size() : frames.size(); }
  bool empty() const { return size() == 0; }
  // Number of time steps of sequence i / of all sequences.
  arma::uword length(std::size_t i) const;
  arma::uword total_steps() const;
  // Appends sequence i of `other` (same kind; annotations carried when present in both).
  void append_from(const SequenceSet& other, std::size_t i);
};

// How train/valid/test are formed when the source does not give them.
//   given:      the source has separate train/valid/test parts (files); nothing is derived.
//   contiguous: every sequence is cut by position: the first `train` fraction of its steps,
//               then `valid`, then the rest is test (a single long text -> 90/5/5 by default).
//               Cut points are floor(fraction * T), so the split is exact and reproducible.
//   shuffle:    whole sequences are assigned to splits after a seeded random permutation
//               (Fisher-Yates with Rng(seed)); counts floor(train*n), floor(valid*n), rest.
struct SplitRule {
  enum class Method { given, contiguous, shuffle };
  Method method = Method::contiguous;
  double train = 0.90;
  double valid = 0.05;
  std::uint64_t seed = 0;  // used by shuffle only
  std::string describe() const;
};

class SequenceDataset {
public:
  std::string name;    // registry name, or the file name for a plain path
  std::string source;  // where it came from (paths), for reports
  SequenceKind kind = SequenceKind::symbols;
  Alphabet alphabet;                      // kind == symbols
  arma::uword dimension = 0;              // kind != symbols: rows of every frame
  std::vector<std::string> feature_names; // optional names of the d rows (e.g. MIDI pitches)
  SplitRule split_rule;

  SequenceSet all, train, valid, test;

  // Requires nothing. Ensures: the set for `split`.
  const SequenceSet& get(Split split) const;

  // Derives train/valid/test from `all` by `rule` (replacing any present). Requires the rule's
  // fractions in [0,1] with train + valid <= 1.
  void apply_split(const SplitRule& rule);

  // Checks the data convention: kinds agree, frames have `dimension` rows, symbol indices are
  // < alphabet.size(), binary frames hold only 0/1, vectors hold no NaN/inf. Throws
  // std::logic_error naming the first violation (readers must have rejected bad input earlier).
  void validate() const;
};

}  // namespace seqlab
