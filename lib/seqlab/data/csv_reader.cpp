// seqlab/data/csv_reader.cpp: the "csv" reader: real-valued time series, one row per time step,
// each row one column of the d x T matrix of its sequence.
#include <cmath>
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/data/reader_detail.hpp"

namespace seqlab::detail {

const std::set<std::string> kCsvKeys = {"delimiter", "header", "sequence_column"};

namespace {
namespace fs = std::filesystem;

struct CsvSettings {
  std::string delimiter;  // auto | comma | tab | semicolon
  std::string header;     // auto | true | false
  std::string sequence_column;
};

char delimiter_for(const CsvSettings& s, const fs::path& file) {
  if (s.delimiter == "comma") return ',';
  if (s.delimiter == "tab") return '\t';
  if (s.delimiter == "semicolon") return ';';
  std::string ext = file.extension().string();
  for (char& c : ext)
    if (c >= 'A' && c <= 'Z') c = static_cast<char>(c - 'A' + 'a');
  return ext == ".tsv" ? '\t' : ',';
}

std::string unquote(std::string_view s) {
  s = trim(s);
  if (s.size() >= 2 && s.front() == '"' && s.back() == '"') s = s.substr(1, s.size() - 2);
  return std::string(s);
}

bool looks_like_header(const std::vector<std::string_view>& fields) {
  double x = 0;
  for (auto f : fields) {
    f = trim(f);
    if (!f.empty() && !parse_double(f, x)) return true;
  }
  return false;
}

// What every file of the dataset must agree on; fixed by the first file.
struct Layout {
  bool known = false;
  std::size_t width = 0;
  fs::path width_file;
  std::size_t width_line = 0;
  std::vector<std::string> header;  // empty until a file with a header is seen
  std::ptrdiff_t sequence_index = -1;
};

class CsvFileReader {
public:
  CsvFileReader(const CsvSettings& settings, Layout& layout, SequenceSet& out)
      : settings_(settings), layout_(layout), out_(out) {}

  void read(const SourceFile& src) {
    const char delimiter = delimiter_for(settings_, src.path);
    bool first_row = true;
    std::size_t data_rows = 0;
    std::vector<std::string_view> fields;
    for_each_line(src.bytes, [&](std::string_view line, std::size_t, std::size_t line_no) {
      if (trim(line).empty()) {
        end_sequence();
        return;
      }
      split_fields(line, delimiter, fields);
      check_width(src.path, line_no, fields.size());
      if (first_row) {
        first_row = false;
        const bool header = settings_.header == "true" ||
                            (settings_.header == "auto" && looks_like_header(fields));
        if (header) {
          take_header(src.path, line_no, fields);
          return;
        }
        if (!settings_.sequence_column.empty() && layout_.sequence_index < 0)
          input_error(src.path, line_no, 0,
                      "sequence_column = " + settings_.sequence_column +
                          " needs a header row naming the columns, but the first row holds only numbers");
      }
      add_row(src.path, line_no, fields);
      ++data_rows;
    });
    if (data_rows == 0) input_error(src.path, "CSV file has a header but no data rows");
    end_sequence();  // a file's rows never continue into the next file
  }

private:
  void check_width(const fs::path& file, std::size_t line_no, std::size_t width) {
    if (!layout_.known) {
      layout_.known = true;
      layout_.width = width;
      layout_.width_file = file;
      layout_.width_line = line_no;
      return;
    }
    if (width != layout_.width)
      input_error(file, line_no, 0,
                  "row has " + std::to_string(width) + " fields, expected " +
                      std::to_string(layout_.width) + " (as in " +
                      location(layout_.width_file, layout_.width_line) + ")");
  }

  void take_header(const fs::path& file, std::size_t line_no,
                   const std::vector<std::string_view>& fields) {
    std::vector<std::string> names;
    for (auto f : fields) names.push_back(unquote(f));
    if (layout_.header.empty()) {
      layout_.header = names;
      if (!settings_.sequence_column.empty()) {
        for (std::size_t k = 0; k < names.size(); ++k)
          if (names[k] == settings_.sequence_column) layout_.sequence_index = static_cast<std::ptrdiff_t>(k);
        if (layout_.sequence_index < 0)
          input_error(file, line_no, 0,
                      "sequence_column = " + settings_.sequence_column +
                          " is not a column of the header row");
      }
      if (layout_.width - (layout_.sequence_index >= 0 ? 1 : 0) == 0)
        input_error(file, line_no, 0, "no feature column besides the sequence column");
      return;
    }
    if (names != layout_.header)
      input_error(file, line_no, 0, "header row differs from the header of the first file");
  }

  void add_row(const fs::path& file, std::size_t line_no, const std::vector<std::string_view>& fields) {
    if (layout_.width - (layout_.sequence_index >= 0 ? 1 : 0) == 0)
      input_error(file, line_no, 0, "no feature column besides the sequence column");
    for (std::size_t k = 0; k < fields.size(); ++k) {
      const std::string_view cell = trim(fields[k]);
      if (static_cast<std::ptrdiff_t>(k) == layout_.sequence_index) {
        if (steps_ > 0 && cell != group_key_) end_sequence();
        group_key_.assign(cell);
        continue;
      }
      double x = 0;
      if (!parse_double(cell, x) || !std::isfinite(x))
        input_error(file, line_no, 0,
                    "field " + std::to_string(k + 1) + ": expected a finite number, got '" +
                        printable(std::string(cell)) + "'");
      values_.push_back(x);
    }
    ++steps_;
  }

  void end_sequence() {
    if (steps_ == 0) return;
    const arma::uword d = layout_.width - (layout_.sequence_index >= 0 ? 1 : 0);
    out_.frames.push_back(columns_from_rows(values_, d, steps_));
    values_.clear();
    steps_ = 0;
  }

  const CsvSettings& settings_;
  Layout& layout_;
  SequenceSet& out_;
  std::vector<double> values_;
  arma::uword steps_ = 0;
  std::string group_key_;
};

}  // namespace

ReadResult read_csv(const ReadRequest& request) {
  const Options& options = request.options;
  CsvSettings settings;
  settings.delimiter = options.get_choice("delimiter", "auto", {"auto", "comma", "tab", "semicolon"});
  settings.header = options.get_choice("header", "auto", {"auto", "true", "false"});
  settings.sequence_column = options.get_string("sequence_column", "");
  if (!settings.sequence_column.empty() && settings.header == "false")
    user_error((options.context().empty() ? "" : options.context() + ": ") +
               "key 'sequence_column' names a header column, so header cannot be false");

  Layout layout;
  ReadResult result;
  for (const auto& files : request.parts) {
    SequenceSet set;
    set.kind = SequenceKind::vectors;
    CsvFileReader reader(settings, layout, set);
    for (const auto& path : files) reader.read(load_source(path));
    result.parts.push_back(std::move(set));
  }
  result.meta.kind = SequenceKind::vectors;
  result.meta.dimension = layout.width - (layout.sequence_index >= 0 ? 1 : 0);
  for (std::size_t k = 0; k < layout.header.size(); ++k)
    if (static_cast<std::ptrdiff_t>(k) != layout.sequence_index)
      result.meta.feature_names.push_back(layout.header[k]);
  return result;
}

}  // namespace seqlab::detail
