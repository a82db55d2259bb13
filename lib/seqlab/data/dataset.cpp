// seqlab/data/dataset.cpp: splits, validation of the data convention, re-encoding with another
// alphabet.
#include "seqlab/data/dataset.hpp"

#include "seqlab/core/communicator.hpp"

#include <cmath>
#include <cstdio>
#include <limits>
#include <sstream>
#include <stdexcept>

#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/data/reader_detail.hpp"

namespace seqlab {

std::string to_string(SequenceKind kind) {
  switch (kind) {
    case SequenceKind::symbols: return "symbols";
    case SequenceKind::vectors: return "vectors";
    case SequenceKind::binary_frames: return "binary_frames";
  }
  return "?";
}

SequenceKind parse_sequence_kind(const std::string& name) {
  if (name == "symbols") return SequenceKind::symbols;
  if (name == "vectors") return SequenceKind::vectors;
  if (name == "binary_frames") return SequenceKind::binary_frames;
  user_error("unknown sequence kind '" + name + "' (expected symbols, vectors or binary_frames)");
}

std::string to_string(Split split) {
  switch (split) {
    case Split::train: return "train";
    case Split::valid: return "valid";
    case Split::test: return "test";
    case Split::all: return "all";
  }
  return "?";
}

Split parse_split(const std::string& name) {
  if (name == "train") return Split::train;
  if (name == "valid") return Split::valid;
  if (name == "test") return Split::test;
  if (name == "all") return Split::all;
  user_error("--split: unknown split '" + name + "' (expected train, valid, test or all)");
}

arma::uword SequenceSet::length(std::size_t i) const {
  return kind == SequenceKind::symbols ? symbols.at(i).n_elem : frames.at(i).n_cols;
}

arma::uword SequenceSet::total_steps() const {
  arma::uword n = 0;
  for (std::size_t i = 0; i < size(); ++i) n += length(i);
  return n;
}

void SequenceSet::append_from(const SequenceSet& other, std::size_t i) {
  if (other.kind != kind) throw std::logic_error("SequenceSet::append_from: kinds differ");
  if (kind == SequenceKind::symbols)
    symbols.push_back(other.symbols.at(i));
  else
    frames.push_back(other.frames.at(i));
  if (!other.labels.empty()) labels.push_back(other.labels.at(i));
  if (!other.targets.empty()) targets.push_back(other.targets.at(i));
}

std::string SplitRule::describe() const {
  std::ostringstream s;
  switch (method) {
    case Method::given: return "given by the source files";
    case Method::contiguous:
      s << "contiguous " << train * 100 << "/" << valid * 100 << "/"
        << (1.0 - train - valid) * 100 << " by position within each sequence";
      return s.str();
    case Method::shuffle:
      s << "whole sequences shuffled with seed " << seed << ", " << train * 100 << "/"
        << valid * 100 << "/" << (1.0 - train - valid) * 100;
      return s.str();
  }
  return "?";
}

const SequenceSet& SequenceDataset::get(Split split) const {
  switch (split) {
    case Split::train: return train;
    case Split::valid: return valid;
    case Split::test: return test;
    case Split::all: return all;
  }
  return all;
}

namespace {
SequenceSet empty_like(const SequenceSet& s) {
  SequenceSet out;
  out.kind = s.kind;
  return out;
}

// Copies steps [a, b) of sequence i of `src` into `dst` (skipped when empty).
void append_slice(const SequenceSet& src, std::size_t i, arma::uword a, arma::uword b,
                  SequenceSet& dst) {
  if (b <= a) return;
  if (src.kind == SequenceKind::symbols)
    dst.symbols.push_back(src.symbols[i].subvec(a, b - 1));
  else
    dst.frames.push_back(src.frames[i].cols(a, b - 1));
  if (!src.labels.empty()) dst.labels.push_back(src.labels[i]);
  if (!src.targets.empty()) dst.targets.push_back(src.targets[i]);
}
}  // namespace

void SequenceDataset::apply_split(const SplitRule& rule) {
  if (!(rule.train >= 0 && rule.valid >= 0 && rule.train + rule.valid <= 1.0 + 1e-12))
    user_error("split fractions must be in [0,1] with train + valid <= 1 (got train=" +
               std::to_string(rule.train) + ", valid=" + std::to_string(rule.valid) + ")");
  split_rule = rule;
  if (rule.method == SplitRule::Method::given) return;
  train = empty_like(all);
  valid = empty_like(all);
  test = empty_like(all);
  if (rule.method == SplitRule::Method::contiguous) {
    for (std::size_t i = 0; i < all.size(); ++i) {
      const arma::uword T = all.length(i);
      const auto a = static_cast<arma::uword>(std::floor(rule.train * static_cast<double>(T)));
      auto b = static_cast<arma::uword>(std::floor((rule.train + rule.valid) * static_cast<double>(T)));
      b = std::min(b, T);
      append_slice(all, i, 0, a, train);
      append_slice(all, i, a, b, valid);
      append_slice(all, i, b, T, test);
    }
  } else {
    Rng rng = make_rng(rule.seed);
    const arma::uvec perm = random_permutation(all.size(), rng);
    const double n = static_cast<double>(all.size());
    const auto n_train = static_cast<std::size_t>(std::floor(rule.train * n));
    const auto n_valid = static_cast<std::size_t>(std::floor(rule.valid * n));
    for (std::size_t k = 0; k < all.size(); ++k) {
      SequenceSet& dst = k < n_train ? train : (k < n_train + n_valid ? valid : test);
      dst.append_from(all, perm(k));
    }
  }
}

void SequenceDataset::validate() const {
  for (const SequenceSet* s : {&all, &train, &valid, &test}) {
    if (s->kind != kind) throw std::logic_error(name + ": a split's kind differs from the dataset's");
    if (kind == SequenceKind::symbols) {
      for (const auto& seq : s->symbols)
        if (seq.n_elem > 0 && seq.max() >= alphabet.size())
          throw std::logic_error(name + ": symbol index outside the alphabet");
    } else {
      for (const auto& f : s->frames) {
        if (f.n_rows != dimension) throw std::logic_error(name + ": frame dimension mismatch");
        if (!f.is_finite()) throw std::logic_error(name + ": non-finite value in frames");
        if (kind == SequenceKind::binary_frames &&
            arma::any(arma::vectorise((f != 0.0) % (f != 1.0))))
          throw std::logic_error(name + ": binary frame holds a value other than 0/1");
      }
    }
  }
}

}  // namespace seqlab

namespace seqlab {

void reencode_symbols(SequenceDataset& dataset, const Alphabet& target, UnknownPolicy unknown) {
  if (dataset.kind != SequenceKind::symbols)
    throw std::logic_error("reencode_symbols: dataset '" + dataset.name + "' does not hold symbols");
  constexpr arma::uword kUnmapped = std::numeric_limits<arma::uword>::max();
  const Alphabet& source = dataset.alphabet;
  arma::uvec index_of(source.size());
  bool any_unmapped = false;
  for (arma::uword i = 0; i < source.size(); ++i) {
    auto found = target.find(source.symbol(i));
    if (!found && unknown == UnknownPolicy::map_to_unk) found = target.unknown_index();
    index_of(i) = found ? *found : kUnmapped;
    any_unmapped = any_unmapped || !found;
  }
  const std::pair<const char*, SequenceSet*> sets[] = {
      {"all", &dataset.all}, {"train", &dataset.train}, {"valid", &dataset.valid},
      {"test", &dataset.test}};
  // Every index is checked before any set is changed, so a failure leaves the dataset as it was.
  for (const auto& [split, set] : sets)
    for (std::size_t s = 0; s < set->symbols.size(); ++s)
      for (arma::uword t = 0; t < set->symbols[s].n_elem; ++t) {
        const arma::uword symbol = set->symbols[s](t);
        if (symbol >= source.size())
          throw std::logic_error("reencode_symbols: dataset '" + dataset.name +
                                 "' holds an index outside its own alphabet");
        if (!any_unmapped || index_of(symbol) != kUnmapped) continue;
        std::string what = "dataset '" + dataset.name + "', split " + split + ", sequence " +
                           std::to_string(s) + ", step " + std::to_string(t) + ": symbol '" +
                           detail::quote_symbol(source.symbol(symbol)) +
                           "' is not in the model's alphabet (" + std::to_string(target.size()) +
                           " symbols)";
        if (unknown == UnknownPolicy::map_to_unk)
          what += " and the alphabet has no unknown symbol to map it to";
        user_error(what);
      }
  for (const auto& entry : sets)
    for (arma::uvec& sequence : entry.second->symbols)
      for (arma::uword& symbol : sequence) symbol = index_of(symbol);
  dataset.alphabet = target;
}

}  // namespace seqlab

namespace seqlab {

void require_frame_magnitude(const SequenceSet& set, double limit, const std::string& who,
                             const std::string& why, std::size_t first) {
  for (std::size_t i = 0; i < set.frames.size(); ++i) {
    const arma::mat& f = set.frames[i];
    if (arma::abs(f).max() <= limit) continue;  // NaN would compare false: readers reject it
    for (arma::uword t = 0; t < f.n_cols; ++t)
      for (arma::uword r = 0; r < f.n_rows; ++r) {
        if (std::abs(f(r, t)) <= limit) continue;
        char value[32], bound[32];
        std::snprintf(value, sizeof value, "%g", f(r, t));
        std::snprintf(bound, sizeof bound, "%g", limit);
        user_error(who + ": sequence " + std::to_string(first + i) + ", step " + std::to_string(t) +
                   ", row " + std::to_string(r) + " holds " + value + ", beyond +-" + bound +
                   " (" + why + "); standardise the data (per row: subtract the mean, divide by "
                   "the standard deviation)");
      }
  }
}

SequenceSet take_shard(const SequenceSet& set, arma::uword chunk, const Communicator* communicator,
                       DataShard* shard) {
  if (communicator == nullptr || shard == nullptr)
    throw std::invalid_argument("take_shard: no communicator or shard");
  // The pieces of every sequence: (sequence, first step, length), in order.
  struct Piece {
    std::size_t sequence;
    arma::uword begin, length;
  };
  std::vector<Piece> pieces;
  std::vector<unsigned long long> lengths;
  for (std::size_t s = 0; s < set.size(); ++s) {
    const arma::uword n = set.length(s);
    if (chunk > 0 && n == 0) continue;  // as a model cutting its own pieces: none
    if (chunk == 0 || n <= chunk) {
      pieces.push_back({s, 0, n});
      lengths.push_back(n);
      continue;
    }
    for (arma::uword begin = 0; begin < n; begin += chunk) {
      const arma::uword length = std::min(chunk, n - begin);
      pieces.push_back({s, begin, length});
      lengths.push_back(length);
    }
  }
  *shard = make_data_shard(communicator, std::move(lengths));
  SequenceSet mine;
  mine.kind = set.kind;
  for (std::size_t p = shard->mine.begin; p < shard->mine.end; ++p) {
    const Piece& piece = pieces[p];
    if (chunk == 0) {
      mine.append_from(set, piece.sequence);
    } else if (set.kind == SequenceKind::symbols) {
      const arma::uvec& x = set.symbols[piece.sequence];
      mine.symbols.push_back(piece.length == 0 ? arma::uvec()
                                               : arma::uvec(x.subvec(piece.begin, piece.begin + piece.length - 1)));
    } else {
      const arma::mat& x = set.frames[piece.sequence];
      mine.frames.push_back(piece.length == 0 ? arma::mat(x.n_rows, 0)
                                              : arma::mat(x.cols(piece.begin, piece.begin + piece.length - 1)));
    }
  }
  return mine;
}

}  // namespace seqlab
