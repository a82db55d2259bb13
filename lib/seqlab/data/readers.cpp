// seqlab/data/readers.cpp: the reader entry point (names, option checking, splits) and the
// helpers every reader shares (file loading, interning, located errors).
#include "seqlab/data/readers.hpp"

#include <algorithm>
#include <charconv>
#include <fstream>
#include <sstream>

#include "seqlab/core/error.hpp"
#include "seqlab/data/reader_detail.hpp"
#include "seqlab/data/utf8.hpp"

namespace seqlab {
namespace detail {
namespace fs = std::filesystem;

SourceFile load_source(const fs::path& file) {
  require_readable_file(file, "data file");
  std::ifstream in(file, std::ios::binary);
  SourceFile source{file, {}};
  in.seekg(0, std::ios::end);
  const std::streamoff size = in.tellg();
  in.seekg(0, std::ios::beg);
  if (size > 0) {
    source.bytes.resize(static_cast<std::size_t>(size));
    in.read(source.bytes.data(), size);
    if (!in) input_error(file, "could not read the data file");
  }
  if (source.bytes.empty()) input_error(file, "data file is empty (0 bytes)");
  if (std::all_of(source.bytes.begin(), source.bytes.end(), is_space))
    input_error(file, "data file holds only whitespace");
  return source;
}

void require_no_nul(const SourceFile& src) {
  const std::size_t at = src.bytes.find('\0');
  if (at == std::string::npos) return;
  const TextPosition where = locate_offset(src.bytes, at);
  input_error(src.path, where.line, where.column, "NUL byte (0x00) is not allowed in text");
}

std::string_view trim(std::string_view s) {
  while (!s.empty() && is_space(s.front())) s.remove_prefix(1);
  while (!s.empty() && is_space(s.back())) s.remove_suffix(1);
  return s;
}

void split_fields(std::string_view line, char delimiter, std::vector<std::string_view>& fields) {
  fields.clear();
  std::size_t start = 0;
  while (true) {
    const std::size_t end = line.find(delimiter, start);
    if (end == std::string_view::npos) {
      fields.push_back(line.substr(start));
      return;
    }
    fields.push_back(line.substr(start, end - start));
    start = end + 1;
  }
}

bool parse_int(std::string_view s, long long& value) {
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size();
}

bool parse_double(std::string_view s, double& value) {
  if (!s.empty() && s.front() == '+') s.remove_prefix(1);
  if (s.empty()) return false;
  auto [end, ec] = std::from_chars(s.data(), s.data() + s.size(), value);
  return ec == std::errc() && end == s.data() + s.size();
}

arma::mat columns_from_rows(const std::vector<double>& row_major, arma::uword d, arma::uword T) {
  arma::mat m(d, T);
  std::copy(row_major.begin(), row_major.end(), m.memptr());
  return m;
}

std::uint32_t SymbolTable::add_file(const fs::path& file) {
  files_.push_back(file);
  return static_cast<std::uint32_t>(files_.size() - 1);
}

SymbolTable::Id SymbolTable::add(std::string text, char32_t cp, std::uint32_t file,
                                 std::size_t offset) {
  const auto id = static_cast<Id>(text_.size());
  text_.push_back(std::move(text));
  count_.push_back(0);
  code_point_.push_back(cp);
  first_file_.push_back(file);
  first_offset_.push_back(offset);
  return id;
}

SymbolTable::Id SymbolTable::intern_code_point(char32_t cp, std::uint32_t file,
                                               std::size_t offset) {
  Id id;
  if (cp < 128) {
    id = ascii_[cp];
    if (id == kNone) id = ascii_[cp] = add(std::string(1, static_cast<char>(cp)), cp, file, offset);
  } else {
    auto it = wide_.find(cp);
    if (it == wide_.end()) it = wide_.emplace(cp, add(encode_utf8(cp), cp, file, offset)).first;
    id = it->second;
  }
  ++count_[id];
  return id;
}

SymbolTable::Id SymbolTable::intern_token(const std::string& token, std::uint32_t file,
                                          std::size_t offset) {
  auto it = tokens_.find(token);
  if (it == tokens_.end()) it = tokens_.emplace(token, add(token, 0, file, offset)).first;
  ++count_[it->second];
  return it->second;
}

void SymbolTable::error_at_first(Id id, const std::string& what) const {
  const fs::path& file = files_.at(first_file_.at(id));
  std::ifstream in(file, std::ios::binary);
  std::ostringstream bytes;
  bytes << in.rdbuf();
  const TextPosition at = locate_offset(bytes.str(), first_offset_.at(id));
  input_error(file, at.line, at.column, what);
}

std::string quote_symbol(const std::string& symbol) {
  std::string out;
  for (char c : symbol) {
    if (static_cast<unsigned char>(c) < 0x20 || c == 0x7F)
      out += printable(std::string(1, c));
    else
      out += c;
  }
  return out;
}

std::vector<arma::uword> map_to_fixed_alphabet(const SymbolTable& table, const Alphabet& fixed,
                                               UnknownPolicy policy) {
  std::vector<arma::uword> index_of(table.size(), 0);
  // Ids are in order of first occurrence, so the first missing id is the first offender.
  for (SymbolTable::Id id = 0; id < table.size(); ++id) {
    if (table.count(id) == 0) continue;
    if (auto found = fixed.find(table.text(id))) {
      index_of[id] = *found;
      continue;
    }
    const std::string what = "symbol '" + quote_symbol(table.text(id)) +
                             "' is not in the model's alphabet (" +
                             std::to_string(fixed.size()) + " symbols)";
    if (policy == UnknownPolicy::error) table.error_at_first(id, what);
    if (!fixed.unknown_index())
      table.error_at_first(id, what + " and the alphabet has no unknown symbol to map it to");
    index_of[id] = *fixed.unknown_index();
  }
  return index_of;
}

SequenceSet to_symbol_set(const std::vector<std::vector<SymbolTable::Id>>& sequences,
                          const std::vector<arma::uword>& index_of) {
  SequenceSet set;
  set.kind = SequenceKind::symbols;
  set.symbols.reserve(sequences.size());
  for (const auto& raw : sequences) {
    arma::uvec s(raw.size());
    for (std::size_t t = 0; t < raw.size(); ++t) s(t) = index_of[raw[t]];
    set.symbols.push_back(std::move(s));
  }
  return set;
}

}  // namespace detail

namespace {
namespace fs = std::filesystem;

struct ReaderEntry {
  const char* name;
  const std::set<std::string>* keys;
  detail::ReadResult (*read)(const detail::ReadRequest&);
};

const std::vector<ReaderEntry>& reader_table() {
  static const std::vector<ReaderEntry> table = {
      {"text", &detail::kTextKeys, &detail::read_text},
      {"fasta", &detail::kFastaKeys, &detail::read_fasta},
      {"csv", &detail::kCsvKeys, &detail::read_csv},
      {"pianoroll", &detail::kPianorollKeys, &detail::read_pianoroll},
      {"patterns", &detail::kPatternKeys, &detail::read_patterns},
  };
  return table;
}

const ReaderEntry& find_reader(const std::string& reader) {
  for (const auto& entry : reader_table())
    if (reader == entry.name) return entry;
  std::string list;
  for (const auto& entry : reader_table()) list += (list.empty() ? "" : ", ") + std::string(entry.name);
  user_error("unknown reader '" + reader + "' (expected one of: " + list + ")");
}

std::string describe_files(const std::vector<fs::path>& files) {
  std::string s;
  for (const auto& f : files) s += (s.empty() ? "" : " + ") + f.string();
  return s;
}

}  // namespace

SequenceDataset read_dataset(const std::string& name, const std::string& reader,
                             const Options& options, const DatasetFiles& files,
                             const SplitRule& split, const Alphabet* fixed_alphabet,
                             UnknownPolicy unknown) {
  const ReaderEntry& entry = find_reader(reader);
  options.require_known(*entry.keys);

  const bool given = files.given_splits();
  if (given && !files.all.empty())
    user_error("dataset '" + name +
               "': give either one file list (all) or train/valid/test files, not both");
  if (!given && files.all.empty()) user_error("dataset '" + name + "': no data files given");

  detail::ReadRequest request{options, {}, fixed_alphabet, unknown};
  if (given)
    request.parts = {files.train, files.valid, files.test};
  else
    request.parts = {files.all};
  detail::ReadResult result = entry.read(request);

  SequenceDataset dataset = std::move(result.meta);
  dataset.name = name;
  if (given) {
    dataset.source = "train: " + describe_files(files.train) +
                     "; valid: " + describe_files(files.valid) +
                     "; test: " + describe_files(files.test);
    dataset.train = std::move(result.parts.at(0));
    dataset.valid = std::move(result.parts.at(1));
    dataset.test = std::move(result.parts.at(2));
    dataset.all.kind = dataset.kind;
    for (const SequenceSet* part : {&dataset.train, &dataset.valid, &dataset.test})
      for (std::size_t i = 0; i < part->size(); ++i) dataset.all.append_from(*part, i);
    SplitRule rule = split;
    rule.method = SplitRule::Method::given;
    dataset.split_rule = rule;
  } else {
    dataset.source = describe_files(files.all);
    dataset.all = std::move(result.parts.at(0));
    dataset.apply_split(split);
  }
  dataset.validate();
  return dataset;
}

std::vector<std::string> reader_names() {
  std::vector<std::string> names;
  for (const auto& entry : reader_table()) names.emplace_back(entry.name);
  return names;
}

std::vector<std::string> reader_option_keys(const std::string& reader) {
  const ReaderEntry& entry = find_reader(reader);
  return {entry.keys->begin(), entry.keys->end()};
}

std::string guess_reader(const fs::path& file) {
  std::string ext = file.extension().string();
  for (char& c : ext)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  if (ext == ".fa" || ext == ".fasta" || ext == ".fna") return "fasta";
  if (ext == ".csv" || ext == ".tsv") return "csv";
  return "text";
}

}  // namespace seqlab
