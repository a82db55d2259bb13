// seqlab/data/fasta_reader.cpp: the "fasta" reader: one symbol sequence per record, bases
// upper-cased, with a policy for letters other than A, C, G, T.
#include <algorithm>
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/data/reader_detail.hpp"

namespace seqlab::detail {

const std::set<std::string> kFastaKeys = {"non_acgt"};

namespace {
using Id = SymbolTable::Id;

enum class NonAcgt { error, skip, keep };

bool is_acgt(char c) { return c == 'A' || c == 'C' || c == 'G' || c == 'T'; }

struct Record {
  std::size_t header_line = 0;
  std::string name;
  std::vector<Id> bases;
};

void read_fasta_file(const SourceFile& src, std::uint32_t file, NonAcgt policy, SymbolTable& table,
                     std::vector<std::vector<Id>>& sequences) {
  Record record;
  bool in_record = false;
  const auto close_record = [&]() {
    if (!in_record) return;
    if (record.bases.empty())
      input_error(src.path, record.header_line, 0,
                  "FASTA record '" + printable(record.name) + "' has no bases" +
                      (policy == NonAcgt::skip ? " (after skipping letters other than A, C, G, T)" : ""));
    sequences.push_back(std::move(record.bases));
    record = Record{};
  };
  for_each_line(src.bytes, [&](std::string_view line, std::size_t line_offset, std::size_t line_no) {
    if (!line.empty() && line.front() == '>') {
      close_record();
      in_record = true;
      record.header_line = line_no;
      record.name = std::string(trim(line.substr(1)));
      return;
    }
    if (!in_record) {
      if (trim(line).empty()) return;  // blank lines before the first header
      input_error(src.path, line_no, 1,
                  "expected a FASTA header line starting with '>', got '" +
                      printable(std::string(line), 20) + "'");
    }
    for (std::size_t k = 0; k < line.size(); ++k) {
      char c = line[k];
      if (is_space(c)) continue;
      if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
      if (c < 'A' || c > 'Z')
        input_error(src.path, line_no, k + 1,
                    "unexpected character '" + printable(std::string(1, line[k])) +
                        "' in a FASTA sequence line (expected letters)");
      if (!is_acgt(c)) {
        if (policy == NonAcgt::skip) continue;
        if (policy == NonAcgt::error)
          input_error(src.path, line_no, k + 1,
                      std::string("base '") + line[k] +
                          "' is not A, C, G or T (set non_acgt = skip or keep to accept it)");
      }
      record.bases.push_back(table.intern_code_point(static_cast<char32_t>(c), file, line_offset + k));
    }
  });
  close_record();
}

}  // namespace

ReadResult read_fasta(const ReadRequest& request) {
  const std::string choice =
      request.options.get_choice("non_acgt", "error", {"error", "skip", "keep"});
  const NonAcgt policy = choice == "skip" ? NonAcgt::skip : choice == "keep" ? NonAcgt::keep : NonAcgt::error;

  SymbolTable table;
  std::vector<std::vector<std::vector<Id>>> raw_parts;
  for (const auto& files : request.parts) {
    std::vector<std::vector<Id>> sequences;
    for (const auto& path : files) {
      const SourceFile src = load_source(path);
      require_no_nul(src);
      read_fasta_file(src, table.add_file(path), policy, table, sequences);
    }
    raw_parts.push_back(std::move(sequences));
  }

  ReadResult result;
  result.meta.kind = SequenceKind::symbols;
  std::vector<arma::uword> index_of;
  if (request.fixed_alphabet) {
    index_of = map_to_fixed_alphabet(table, *request.fixed_alphabet, request.unknown);
    result.meta.alphabet = *request.fixed_alphabet;
  } else {
    std::vector<std::string> symbols = {"A", "C", "G", "T"};
    std::vector<std::string> extras;
    for (Id id = 0; id < table.size(); ++id)
      if (!is_acgt(table.text(id)[0])) extras.push_back(table.text(id));
    std::sort(extras.begin(), extras.end());
    symbols.insert(symbols.end(), extras.begin(), extras.end());
    Alphabet alphabet(std::move(symbols));
    alphabet.set_separator("");
    index_of.assign(table.size(), 0);
    for (Id id = 0; id < table.size(); ++id) index_of[id] = *alphabet.find(table.text(id));
    result.meta.alphabet = std::move(alphabet);
  }
  for (const auto& raw : raw_parts) result.parts.push_back(to_symbol_set(raw, index_of));
  return result;
}

}  // namespace seqlab::detail
