// seqlab/data/text_reader.cpp: the "text" reader: characters (code points) or whitespace tokens.
//
// Three byte layouts feed the same character stream: plain text, the "spaced" layout of
// Mikolov's ptb.char.* files, and "ptb_char", which derives that character stream from a
// word-level PTB file. The stream is interned symbol by symbol (a code point or token becomes a
// small integer id, counted, with its first place remembered) and cut into sequences by file or
// by line; the alphabet is decided at the end, when all counts are known.
#include <algorithm>
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/data/reader_detail.hpp"
#include "seqlab/data/utf8.hpp"

namespace seqlab::detail {

const std::set<std::string> kTextKeys = {"level",     "format", "eos",      "unk",
                                         "max_vocab", "lowercase", "sequences"};

namespace {
namespace fs = std::filesystem;
using Id = SymbolTable::Id;

enum class Format { plain, spaced, ptb_char };

struct TextSettings {
  bool token_level = false;
  Format format = Format::plain;
  bool lowercase = false;
  bool by_line = false;
  std::string eos;           // token level: appended at every line end when non-empty
  std::string unk = "<unk>";  // token level
  std::size_t max_vocab = 0;  // token level: 0 = no cap
};

TextSettings parse_settings(const Options& options) {
  TextSettings s;
  s.token_level = options.get_choice("level", "char", {"char", "token"}) == "token";
  const std::string format = options.get_choice("format", "plain", {"plain", "spaced", "ptb_char"});
  s.format = format == "spaced" ? Format::spaced
             : format == "ptb_char" ? Format::ptb_char
                                    : Format::plain;
  s.lowercase = options.get_bool("lowercase", false);
  s.by_line = options.get_choice("sequences", "file", {"file", "line"}) == "line";
  const std::string prefix = options.context().empty() ? "" : options.context() + ": ";
  if (s.token_level && s.format != Format::plain)
    user_error(prefix + "key 'format': format = " + format + " is a character layout; it needs level = char");
  if (!s.token_level) {
    for (const char* key : {"eos", "unk", "max_vocab"})
      if (options.has(key))
        user_error(prefix + "key '" + key + "' applies to level = token only (level is char)");
  }
  s.eos = options.get_string("eos", "");
  s.unk = options.get_string("unk", "<unk>");
  if (s.unk.empty()) user_error(prefix + "key 'unk': expected a non-empty token");
  const std::int64_t cap = options.get_int("max_vocab", 0);
  if (cap < 0) user_error(prefix + "key 'max_vocab': expected 0 (no cap) or a positive count, got " + std::to_string(cap));
  s.max_vocab = static_cast<std::size_t>(cap);
  return s;
}

// Collects the ids of one part into sequences: the whole part, or one per non-blank line.
class SequenceBuilder {
public:
  explicit SequenceBuilder(bool by_line) : by_line_(by_line) {}
  void push(Id id, bool is_content) {
    current_.push_back(id);
    has_content_ = has_content_ || is_content;
  }
  bool line_has_content() const { return has_content_; }
  void end_line() {
    if (by_line_) flush();
  }
  std::vector<std::vector<Id>> finish() {
    flush();
    return std::move(sequences_);
  }

private:
  void flush() {
    if (has_content_) sequences_.push_back(std::move(current_));
    current_.clear();
    has_content_ = false;
  }
  bool by_line_;
  bool has_content_ = false;
  std::vector<Id> current_;
  std::vector<std::vector<Id>> sequences_;
};

bool is_space_cp(char32_t cp) { return cp < 128 && is_space(static_cast<char>(cp)); }

// Receives the decoded character stream of one file. In line mode a line terminator ("\n" or
// "\r\n") ends a sequence and is not a symbol; in file mode every character is a symbol.
class CharSink {
public:
  CharSink(SymbolTable& table, SequenceBuilder& out, const TextSettings& settings,
           std::uint32_t file)
      : table_(table), out_(out), lowercase_(settings.lowercase), by_line_(settings.by_line),
        file_(file) {}

  void emit(char32_t cp, std::size_t offset) {
    if (by_line_) {
      if (pending_cr_) {
        pending_cr_ = false;
        if (cp == '\n') {
          end_line();
          return;
        }
        push('\r', cr_offset_);
      }
      if (cp == '\r') {
        pending_cr_ = true;
        cr_offset_ = offset;
        return;
      }
      if (cp == '\n') {
        end_line();
        return;
      }
    }
    push(cp, offset);
  }

  // A file's last line ends with the file (a '\r' just before the end is its terminator).
  void end_file() {
    pending_cr_ = false;
    end_line();
  }

private:
  void end_line() {
    leading_space_.clear();
    out_.end_line();
  }

  // In line mode, whitespace that opens a line is held back until the line shows content, so
  // that blank lines leave no trace (no symbol in the alphabet, no first occurrence).
  void push(char32_t cp, std::size_t offset) {
    if (lowercase_ && cp >= 'A' && cp <= 'Z') cp += 'a' - 'A';
    const bool space = is_space_cp(cp);
    if (by_line_ && !out_.line_has_content()) {
      if (space) {
        leading_space_.push_back({cp, offset});
        return;
      }
      for (const auto& [held, at] : leading_space_)
        out_.push(table_.intern_code_point(held, file_, at), false);
      leading_space_.clear();
    }
    out_.push(table_.intern_code_point(cp, file_, offset), !space);
  }
  std::vector<std::pair<char32_t, std::size_t>> leading_space_;
  SymbolTable& table_;
  SequenceBuilder& out_;
  bool lowercase_, by_line_;
  std::uint32_t file_;
  bool pending_cr_ = false;
  std::size_t cr_offset_ = 0;
};

void decode_plain(const SourceFile& src, CharSink& sink) {
  const std::string_view bytes = src.bytes;
  std::size_t pos = 0;
  char32_t cp = 0;
  while (pos < bytes.size()) {
    const auto lead = static_cast<unsigned char>(bytes[pos]);
    if (lead < 0x80) {
      sink.emit(lead, pos);
      ++pos;
      continue;
    }
    const std::size_t n = decode_utf8(bytes, pos, cp);
    if (n == 0) invalid_utf8_error(bytes, pos, src.path);
    sink.emit(cp, pos);
    pos += n;
  }
}

// Every symbol is one code point followed by exactly one space; the space after the last
// symbol of a file may be missing.
void decode_spaced(const SourceFile& src, CharSink& sink) {
  const std::string_view bytes = src.bytes;
  std::size_t pos = 0;
  char32_t cp = 0;
  while (pos < bytes.size()) {
    const std::size_t n = decode_utf8(bytes, pos, cp);
    if (n == 0) invalid_utf8_error(bytes, pos, src.path);
    sink.emit(cp, pos);
    pos += n;
    if (pos == bytes.size()) break;
    if (bytes[pos] != ' ') {
      const TextPosition at = locate_offset(bytes, pos);
      input_error(src.path, at.line, at.column,
                  "expected one space after each symbol (format = spaced), got '" +
                      printable(std::string(1, bytes[pos])) + "'");
    }
    ++pos;
  }
}

// Per line: its whitespace-separated words joined by '_', then the symbol '\n'. A final line
// without '\n' counts when it holds a word.
void decode_ptb_char(const SourceFile& src, CharSink& sink) {
  const std::string_view bytes = src.bytes;
  std::size_t start = 0;
  char32_t cp = 0;
  while (start < bytes.size()) {
    std::size_t end = bytes.find('\n', start);
    const bool terminated = end != std::string_view::npos;
    if (!terminated) end = bytes.size();
    bool first_word = true;
    bool any_word = false;
    std::size_t pos = start;
    while (pos < end) {
      if (is_space(bytes[pos])) {
        ++pos;
        continue;
      }
      if (!first_word) sink.emit('_', pos - 1);  // placed at the space before the word
      first_word = false;
      any_word = true;
      while (pos < end && !is_space(bytes[pos])) {
        const std::size_t n = decode_utf8(bytes, pos, cp);
        if (n == 0) invalid_utf8_error(bytes, pos, src.path);
        sink.emit(cp, pos);
        pos += n;
      }
    }
    if (terminated || any_word) sink.emit('\n', end);
    start = end + 1;
  }
}

// Whitespace tokens; `eos` (when set) closes every line, blank lines included in file mode.
void tokenize(const SourceFile& src, SymbolTable& table, std::uint32_t file,
              SequenceBuilder& out, const TextSettings& settings) {
  const std::string_view bytes = src.bytes;
  require_valid_utf8(bytes, src.path);
  std::string token;
  bool line_has_tokens = false;
  const auto end_of_line = [&](std::size_t offset) {
    if (!settings.eos.empty() && (!settings.by_line || line_has_tokens))
      out.push(table.intern_token(settings.eos, file, offset), true);
    out.end_line();
    line_has_tokens = false;
  };
  std::size_t pos = 0;
  while (pos < bytes.size()) {
    const char c = bytes[pos];
    if (c == '\n') {
      end_of_line(pos);
      ++pos;
      continue;
    }
    if (is_space(c)) {
      ++pos;
      continue;
    }
    const std::size_t start = pos;
    while (pos < bytes.size() && !is_space(bytes[pos])) ++pos;
    token.assign(bytes.data() + start, pos - start);
    if (settings.lowercase)
      for (char& ch : token)
        if (ch >= 'A' && ch <= 'Z') ch = static_cast<char>(ch - 'A' + 'a');
    out.push(table.intern_token(token, file, start), true);
    line_has_tokens = true;
  }
  if (line_has_tokens) end_of_line(bytes.size());
}

// Frequency-ranked vocabulary with the cap and the unknown token (see readers.hpp).
Alphabet build_token_alphabet(const SymbolTable& table, const TextSettings& settings,
                              std::vector<arma::uword>& index_of) {
  struct Entry {
    std::string text;
    std::uint64_t count;
  };
  std::vector<Id> ranked;
  std::optional<Id> unk_id;
  for (Id id = 0; id < table.size(); ++id) {
    if (table.text(id) == settings.unk)
      unk_id = id;
    else
      ranked.push_back(id);
  }
  const auto by_rank = [&](Id a, Id b) {
    if (table.count(a) != table.count(b)) return table.count(a) > table.count(b);
    return table.text(a) < table.text(b);
  };
  std::sort(ranked.begin(), ranked.end(), by_rank);

  const std::size_t distinct = ranked.size() + (unk_id ? 1 : 0);
  std::size_t kept = ranked.size();
  bool need_unk = unk_id.has_value();
  std::uint64_t unk_count = unk_id ? table.count(*unk_id) : 0;
  if (settings.max_vocab > 0 && distinct > settings.max_vocab) {
    kept = settings.max_vocab - 1;  // one place is the unknown token's
    need_unk = true;
    for (std::size_t k = kept; k < ranked.size(); ++k) unk_count += table.count(ranked[k]);
  }

  std::vector<Entry> entries;
  for (std::size_t k = 0; k < kept; ++k) entries.push_back({table.text(ranked[k]), table.count(ranked[k])});
  if (need_unk) entries.push_back({settings.unk, unk_count});
  std::sort(entries.begin(), entries.end(), [](const Entry& a, const Entry& b) {
    if (a.count != b.count) return a.count > b.count;
    return a.text < b.text;
  });
  std::vector<std::string> symbols;
  symbols.reserve(entries.size());
  for (auto& e : entries) symbols.push_back(std::move(e.text));
  Alphabet alphabet(std::move(symbols));
  alphabet.set_separator(" ");
  if (need_unk) alphabet.set_unknown(settings.unk);

  index_of.assign(table.size(), 0);
  for (Id id = 0; id < table.size(); ++id) {
    const auto found = alphabet.find(table.text(id));
    index_of[id] = found ? *found : *alphabet.unknown_index();
  }
  return alphabet;
}

// Every code point seen, sorted by code point.
Alphabet build_char_alphabet(const SymbolTable& table, std::vector<arma::uword>& index_of) {
  std::vector<Id> ids(table.size());
  for (Id id = 0; id < table.size(); ++id) ids[id] = id;
  std::sort(ids.begin(), ids.end(),
            [&](Id a, Id b) { return table.code_point(a) < table.code_point(b); });
  std::vector<std::string> symbols;
  index_of.assign(table.size(), 0);
  for (std::size_t k = 0; k < ids.size(); ++k) {
    symbols.push_back(table.text(ids[k]));
    index_of[ids[k]] = k;
  }
  Alphabet alphabet(std::move(symbols));
  alphabet.set_separator("");
  return alphabet;
}

}  // namespace

ReadResult read_text(const ReadRequest& request) {
  const TextSettings settings = parse_settings(request.options);
  SymbolTable table;
  std::vector<std::vector<std::vector<Id>>> raw_parts;
  for (const auto& files : request.parts) {
    SequenceBuilder builder(settings.by_line);
    for (const auto& path : files) {
      const SourceFile src = load_source(path);
      require_no_nul(src);
      const std::uint32_t file = table.add_file(path);
      if (settings.token_level) {
        tokenize(src, table, file, builder, settings);
        continue;
      }
      CharSink sink(table, builder, settings, file);
      switch (settings.format) {
        case Format::plain: decode_plain(src, sink); break;
        case Format::spaced: decode_spaced(src, sink); break;
        case Format::ptb_char: decode_ptb_char(src, sink); break;
      }
      sink.end_file();
    }
    raw_parts.push_back(builder.finish());
  }

  ReadResult result;
  result.meta.kind = SequenceKind::symbols;
  std::vector<arma::uword> index_of;
  if (request.fixed_alphabet) {
    index_of = map_to_fixed_alphabet(table, *request.fixed_alphabet, request.unknown);
    result.meta.alphabet = *request.fixed_alphabet;
  } else if (settings.token_level) {
    result.meta.alphabet = build_token_alphabet(table, settings, index_of);
  } else {
    result.meta.alphabet = build_char_alphabet(table, index_of);
  }
  for (const auto& raw : raw_parts) result.parts.push_back(to_symbol_set(raw, index_of));
  return result;
}

}  // namespace seqlab::detail
