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

class Communicator;  // core/communicator.hpp
struct DataShard;

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

// What to do with a symbol outside a FIXED alphabet (evaluating data with a trained model).
enum class UnknownPolicy {
  error,        // UserError naming where the symbol first occurs and the symbol
  map_to_unk,   // map to the alphabet's unknown symbol; error when it has none
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

// Requires nothing. Ensures: every value of the frames of `set` (vectors or binary frames) has
//   |x| <= limit, else a UserError naming the first one: "<who>: sequence I, step T, row R holds
//   X, beyond +-LIMIT (<why>); standardise the data (per row: subtract the mean, divide by the
//   standard deviation)". For models whose arithmetic overflows on huge values (squared
//   distances, float32 networks). Cost O(values).
// (`first` is the index the error names for set's sequence 0: a shard's offset in the whole set.)
void require_frame_magnitude(const SequenceSet& set, double limit, const std::string& who,
                             const std::string& why, std::size_t first = 0);

// Training split over MPI ranks (FitOptions::shard): the sequences of `set` cut into pieces of at
// most `chunk` steps (0 = whole sequences), in order, and this rank's contiguous run of them.
// Requires: communicator non-null. Ensures: *shard describes every rank's pieces (make_data_shard);
// returns this rank's pieces only (copies; annotations carried when chunk = 0). Every rank
// computes the same division from the same set. Cost: O(sequences + pieces), plus copying this
// rank's share of the steps.
SequenceSet take_shard(const SequenceSet& set, arma::uword chunk, const Communicator* communicator,
                       DataShard* shard);

// Re-encodes a symbol dataset with another alphabet, matching symbols by their text: what scoring
// data with a trained model needs when the data were not read with the model's alphabet (a
// synthetic set, or a file read with its own).
// Requires: dataset.kind == symbols (else std::logic_error).
// Ensures: every set (all, train, valid, test) holds indices into `target` and dataset.alphabet ==
//   target. A symbol that occurs in the data but not in `target` maps to target's unknown symbol
//   under UnknownPolicy::map_to_unk; otherwise (or when `target` has none) a UserError naming its
//   first occurrence: "dataset 'NAME', split S, sequence I, step T: symbol 'X' is not in the
//   model's alphabet (N symbols)". Symbols of dataset.alphabet that never occur do not matter.
// Cost: O(alphabet sizes + total steps); the sets are rewritten in place.
void reencode_symbols(SequenceDataset& dataset, const Alphabet& target, UnknownPolicy unknown);

}  // namespace seqlab
