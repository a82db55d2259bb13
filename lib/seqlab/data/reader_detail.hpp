// seqlab/data/reader_detail.hpp: PRIVATE helpers shared by the readers (not installed).
//
// The split handling lives in readers.cpp: a reader gets its file lists as "parts" (one part for
// `all`, or three for train/valid/test), returns one SequenceSet per part plus the dataset
// metadata, and never thinks about splits. Symbol readers intern raw symbols in a SymbolTable
// while reading and decide the alphabet (built, or fixed by a model) only at the end, when every
// count is known; the table remembers where each symbol first occurred so that a symbol outside
// a fixed alphabet is reported at the first place it appears in the stream.
#pragma once

#include <armadillo>
#include <array>
#include <cstdint>
#include <filesystem>
#include <set>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "seqlab/data/dataset.hpp"
#include "seqlab/data/options.hpp"
#include "seqlab/data/readers.hpp"

namespace seqlab::detail {

// The bytes of one data file. Requires nothing. Ensures: the file exists, is a regular file and
// holds at least one non-whitespace byte; otherwise UserError naming it. Cost: one read.
struct SourceFile {
  std::filesystem::path path;
  std::string bytes;
};
SourceFile load_source(const std::filesystem::path& file);

// For the readers whose bytes become symbols (text, fasta). Requires nothing. Ensures: `src`
// holds no NUL byte; otherwise UserError "FILE:LINE:COL: NUL byte (0x00) is not allowed in text"
// at the first one. A symbol holding NUL could be trained on but not stored: a model file keeps
// its alphabet as HDF5 strings, which end at the first NUL. Cost: one scan.
void require_no_nul(const SourceFile& src);

// ' ', '\t', '\n', '\r', '\v', '\f' (ASCII whitespace; other code points are content).
inline bool is_space(char c) {
  return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\v' || c == '\f';
}
// `s` without leading and trailing ASCII whitespace.
std::string_view trim(std::string_view s);
// Splits on `delimiter`; every field is kept (empty fields too). Cost: O(size).
void split_fields(std::string_view line, char delimiter, std::vector<std::string_view>& fields);
// Calls fn(line, offset_of_line_start, line_number) for every line of `bytes`; a trailing '\r'
// is removed from the line (CRLF files), the final line needs no '\n'.
template <class Fn>
void for_each_line(std::string_view bytes, Fn&& fn) {
  std::size_t start = 0, line = 1;
  while (start < bytes.size()) {
    std::size_t end = bytes.find('\n', start);
    if (end == std::string_view::npos) end = bytes.size();
    std::string_view text = bytes.substr(start, end - start);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    fn(text, start, line);
    start = end + 1;
    ++line;
  }
}

struct ReadRequest {
  const Options& options;
  std::vector<std::vector<std::filesystem::path>> parts;
  const Alphabet* fixed_alphabet = nullptr;
  UnknownPolicy unknown = UnknownPolicy::error;
};

// `meta` carries kind, alphabet or dimension, and feature_names; `parts` one set per part.
struct ReadResult {
  SequenceDataset meta;
  std::vector<SequenceSet> parts;
};

ReadResult read_text(const ReadRequest& request);
ReadResult read_fasta(const ReadRequest& request);
ReadResult read_csv(const ReadRequest& request);
ReadResult read_pianoroll(const ReadRequest& request);
ReadResult read_patterns(const ReadRequest& request);

extern const std::set<std::string> kTextKeys, kFastaKeys, kCsvKeys, kPianorollKeys, kPatternKeys;

// Raw symbols in order of first occurrence, with counts and first-occurrence places.
class SymbolTable {
public:
  using Id = std::uint32_t;

  // Registers a file the following symbols come from; returns its handle for intern_*.
  std::uint32_t add_file(const std::filesystem::path& file);

  // Ensure: the id of the symbol (new ids are consecutive from 0), its count incremented.
  // `offset` is the byte offset in file `file` of this occurrence (kept for the first one).
  // Cost: O(1) expected; no allocation for code points below 128 once seen.
  Id intern_code_point(char32_t cp, std::uint32_t file, std::size_t offset);
  Id intern_token(const std::string& token, std::uint32_t file, std::size_t offset);

  std::size_t size() const { return text_.size(); }
  const std::string& text(Id id) const { return text_[id]; }
  std::uint64_t count(Id id) const { return count_[id]; }
  // Only for ids made by intern_code_point.
  char32_t code_point(Id id) const { return code_point_[id]; }

  // Throws UserError "FILE:LINE:COL: <what>" at the first occurrence of `id` (re-reads the file
  // to find line and column; error path only).
  [[noreturn]] void error_at_first(Id id, const std::string& what) const;

private:
  static constexpr Id kNone = 0xFFFFFFFFu;
  std::vector<std::filesystem::path> files_;
  std::vector<std::string> text_;
  std::vector<std::uint64_t> count_;
  std::vector<char32_t> code_point_;
  std::vector<std::uint32_t> first_file_;
  std::vector<std::size_t> first_offset_;
  std::array<Id, 128> ascii_ = make_ascii_table();
  std::unordered_map<char32_t, Id> wide_;
  std::unordered_map<std::string, Id> tokens_;

  static std::array<Id, 128> make_ascii_table() {
    std::array<Id, 128> t;
    t.fill(kNone);
    return t;
  }
  Id add(std::string text, char32_t cp, std::uint32_t file, std::size_t offset);
};

// A symbol for a message: valid UTF-8 kept as is (so 'é' reads as é), control bytes escaped.
std::string quote_symbol(const std::string& symbol);

// Requires nothing. Ensures: for every raw id of `table`, its index in `fixed`; a symbol outside it follows `policy` (UserError at its
//   first occurrence, "symbol 'X' is not in the model's alphabet (N symbols)"; or the index of
//   fixed.unknown_index(), an error when the alphabet has none).
std::vector<arma::uword> map_to_fixed_alphabet(const SymbolTable& table, const Alphabet& fixed,
                                               UnknownPolicy policy);

// Sequences of raw ids -> a symbols SequenceSet through `index_of` (raw id -> alphabet index).
SequenceSet to_symbol_set(const std::vector<std::vector<SymbolTable::Id>>& sequences,
                          const std::vector<arma::uword>& index_of);

// The column-major d x T matrix whose columns are consecutive d-value rows of `row_major`.
// Requires: row_major.size() == d * T.
arma::mat columns_from_rows(const std::vector<double>& row_major, arma::uword d, arma::uword T);

// Parses the whole of `s` as a decimal integer (optional leading '-'); false otherwise.
bool parse_int(std::string_view s, long long& value);
// Parses the whole of `s` as a double (optional leading '+'); false otherwise. Accepts "nan" and
// "inf"; callers reject non-finite values with their own message.
bool parse_double(std::string_view s, double& value);

}  // namespace seqlab::detail
