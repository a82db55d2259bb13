// seqlab/data/alphabet.hpp: a finite, ordered set of symbols and the mapping symbol <-> index.
//
// A symbol is a UTF-8 string: one code point for character-level text ("a", "\n", "é"), a word
// for token-level text ("the", "<unk>"), a base for DNA ("A"). Indices are 0..size()-1 in the
// order the symbols were added; that order is stored in every model file so that text maps to
// the same indices at evaluation time as at training time.
#pragma once

#include <armadillo>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

namespace seqlab {

class Alphabet {
public:
  Alphabet() = default;
  // Requires: symbols distinct, non-empty and without NUL bytes (else std::invalid_argument;
  //   readers refuse NUL in their input first, so this is a program error).
  explicit Alphabet(std::vector<std::string> symbols);

  // Appends `symbol` if absent. Ensures: returns its index. Cost: O(1) expected.
  arma::uword add(const std::string& symbol);

  // Index of `symbol`, or nullopt. Cost: O(1) expected.
  std::optional<arma::uword> find(const std::string& symbol) const;
  bool contains(const std::string& symbol) const { return find(symbol).has_value(); }

  // Requires: index < size().
  const std::string& symbol(arma::uword index) const { return symbols_.at(index); }
  const std::vector<std::string>& symbols() const { return symbols_; }
  arma::uword size() const { return symbols_.size(); }
  bool empty() const { return symbols_.empty(); }

  // The unknown-symbol marker ("<unk>" by default) if this alphabet has one.
  std::optional<arma::uword> unknown_index() const { return unknown_; }
  // Requires: `symbol` is in the alphabet. Ensures: unknown_index() returns its index.
  void set_unknown(const std::string& symbol);

  // How symbols are joined when a sequence is printed: "" for characters, " " for tokens.
  const std::string& separator() const { return separator_; }
  void set_separator(std::string s) { separator_ = std::move(s); }

  // Renders a symbol sequence as text with separator(). Requires: every index < size().
  std::string decode(const arma::uvec& indices) const;

  bool operator==(const Alphabet& other) const {
    return symbols_ == other.symbols_ && unknown_ == other.unknown_ &&
           separator_ == other.separator_;
  }

private:
  std::vector<std::string> symbols_;
  std::unordered_map<std::string, arma::uword> index_;
  std::optional<arma::uword> unknown_;
  std::string separator_;
};

}  // namespace seqlab
