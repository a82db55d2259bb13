// seqlab/data/pattern_reader.cpp: the "patterns" reader: binary patterns (e.g. 8x8 digits), one
// per line, as one frame or as a short sequence of row frames, with an optional class label.
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/data/reader_detail.hpp"

namespace seqlab::detail {

const std::set<std::string> kPatternKeys = {"threshold", "label", "frame_width"};

namespace {
namespace fs = std::filesystem;

struct PatternSettings {
  bool has_threshold = false;
  double threshold = 0;
  bool labelled = true;
  std::size_t frame_width = 0;
};

struct PatternLayout {
  std::size_t length = 0;  // values per pattern (label excluded); 0 until the first pattern
  fs::path first_file;
  std::size_t first_line = 0;
};

void read_pattern_file(const SourceFile& src, const PatternSettings& s, PatternLayout& layout,
                       SequenceSet& out) {
  std::vector<std::string_view> fields;
  std::vector<double> values;
  for_each_line(src.bytes, [&](std::string_view line, std::size_t, std::size_t line_no) {
    if (trim(line).empty()) return;
    split_fields(line, ',', fields);
    std::size_t n = fields.size();
    if (s.labelled) {
      if (n < 2)
        input_error(src.path, line_no, 0,
                    "expected pattern values followed by a class label (label = last), got 1 field");
      --n;
    }
    if (layout.length == 0) {
      if (s.frame_width > 0 && n % s.frame_width != 0)
        input_error(src.path, line_no, 0,
                    "pattern has " + std::to_string(n) + " values, not a multiple of frame_width = " +
                        std::to_string(s.frame_width));
      layout.length = n;
      layout.first_file = src.path;
      layout.first_line = line_no;
    } else if (n != layout.length) {
      input_error(src.path, line_no, 0,
                  "pattern has " + std::to_string(n) + " values, expected " +
                      std::to_string(layout.length) + " (as in " +
                      location(layout.first_file, layout.first_line) + ")");
    }
    values.assign(n, 0.0);
    for (std::size_t k = 0; k < n; ++k) {
      const std::string_view cell = trim(fields[k]);
      long long v = 0;
      if (!parse_int(cell, v))
        input_error(src.path, line_no, 0,
                    "field " + std::to_string(k + 1) + ": expected an integer, got '" +
                        printable(std::string(cell)) + "'");
      if (s.has_threshold) {
        values[k] = static_cast<double>(v) >= s.threshold ? 1.0 : 0.0;
      } else {
        if (v != 0 && v != 1)
          input_error(src.path, line_no, 0,
                      "field " + std::to_string(k + 1) + ": expected 0 or 1 (or set threshold), got '" +
                          std::string(cell) + "'");
        values[k] = static_cast<double>(v);
      }
    }
    if (s.labelled) {
      const std::string_view cell = trim(fields.back());
      long long label = -1;
      if (!parse_int(cell, label) || label < 0)
        input_error(src.path, line_no, 0,
                    "field " + std::to_string(fields.size()) +
                        ": expected a non-negative integer class label, got '" +
                        printable(std::string(cell)) + "'");
      out.labels.push_back(static_cast<arma::sword>(label));
    }
    // Frame t holds values [t*W, (t+1)*W): row-major rows of the pattern become columns.
    const arma::uword d = s.frame_width > 0 ? s.frame_width : n;
    out.frames.push_back(columns_from_rows(values, d, n / d));
  });
}

}  // namespace

ReadResult read_patterns(const ReadRequest& request) {
  const Options& options = request.options;
  const std::string prefix = options.context().empty() ? "" : options.context() + ": ";
  PatternSettings s;
  s.has_threshold = options.has("threshold");
  s.threshold = options.get_double("threshold", 0.0);
  s.labelled = options.get_choice("label", "last", {"last", "none"}) == "last";
  const std::int64_t width = options.get_int("frame_width", 0);
  if (width < 0)
    user_error(prefix + "key 'frame_width': expected 0 (whole pattern) or a positive width, got " +
               std::to_string(width));
  s.frame_width = static_cast<std::size_t>(width);

  PatternLayout layout;
  ReadResult result;
  for (const auto& files : request.parts) {
    SequenceSet set;
    set.kind = SequenceKind::binary_frames;
    for (const auto& path : files) read_pattern_file(load_source(path), s, layout, set);
    result.parts.push_back(std::move(set));
  }
  result.meta.kind = SequenceKind::binary_frames;
  result.meta.dimension = s.frame_width > 0 ? s.frame_width : layout.length;
  return result;
}

}  // namespace seqlab::detail
