// seqlab/data/pianoroll_reader.cpp: the "pianoroll" reader: polyphonic music as binary frames.
//
// Text layout (the Boulanger-Lewandowski datasets as converted in the shared data folder): one
// line per time step with the sounding MIDI pitches, "-" for a silent step, one empty line
// between pieces. All files are parsed before any matrix is built because range = observed
// needs the lowest and highest pitch over the whole dataset.
#include <algorithm>
#include <array>
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/data/reader_detail.hpp"

namespace seqlab::detail {

const std::set<std::string> kPianorollKeys = {"range"};

namespace {
namespace fs = std::filesystem;

constexpr int kPianoLow = 21;    // A0, row 0 under range = 88
constexpr int kPianoHigh = 108;  // C8

// One piece: the pitches of every step, flat, with step t owning [step_end[t-1], step_end[t]).
struct Piece {
  std::vector<std::uint8_t> pitches;
  std::vector<std::size_t> step_end;
};

struct ParsedPart {
  std::vector<Piece> pieces;
};

void parse_file(const SourceFile& src, bool full_range, ParsedPart& part, int& lowest, int& highest) {
  Piece piece;
  bool previous_empty = false;
  std::size_t previous_empty_line = 0;
  const auto end_piece = [&]() {
    if (!piece.step_end.empty()) part.pieces.push_back(std::move(piece));
    piece = Piece{};
  };
  for_each_line(src.bytes, [&](std::string_view line, std::size_t, std::size_t line_no) {
    if (trim(line).empty()) {
      if (previous_empty)
        input_error(src.path, line_no, 0,
                    "second empty line in a row (line " + std::to_string(previous_empty_line) +
                        " is empty too); expected exactly one empty line between sequences");
      if (piece.step_end.empty())
        input_error(src.path, line_no, 0, "empty line before the first time step of the file");
      previous_empty = true;
      previous_empty_line = line_no;
      end_piece();
      return;
    }
    previous_empty = false;
    std::array<bool, 128> present{};
    std::size_t pos = 0;
    bool silent = false, any_pitch = false;
    while (pos < line.size()) {
      if (line[pos] == ' ' || line[pos] == '\t') {
        ++pos;
        continue;
      }
      const std::size_t start = pos;
      while (pos < line.size() && line[pos] != ' ' && line[pos] != '\t') ++pos;
      const std::string_view token = line.substr(start, pos - start);
      const std::size_t column = start + 1;
      if (token == "-") {
        if (silent || any_pitch)
          input_error(src.path, line_no, column,
                      "'-' marks a silent step and must be alone on its line");
        silent = true;
        continue;
      }
      if (silent)
        input_error(src.path, line_no, column, "'-' marks a silent step and must be alone on its line");
      long long pitch = -1;
      const bool digits = std::all_of(token.begin(), token.end(), [](char c) { return c >= '0' && c <= '9'; });
      if (!digits || !parse_int(token, pitch) || pitch > 127)
        input_error(src.path, line_no, column,
                    "expected a MIDI pitch 0..127 or '-', got '" + printable(std::string(token)) + "'");
      if (full_range && (pitch < kPianoLow || pitch > kPianoHigh))
        input_error(src.path, line_no, column,
                    "pitch " + std::to_string(pitch) +
                        " is outside the 88-key range 21..108 (use range = observed)");
      if (present[static_cast<std::size_t>(pitch)])
        input_error(src.path, line_no, column,
                    "pitch " + std::to_string(pitch) + " appears twice in this time step");
      present[static_cast<std::size_t>(pitch)] = true;
      any_pitch = true;
      piece.pitches.push_back(static_cast<std::uint8_t>(pitch));
      lowest = std::min(lowest, static_cast<int>(pitch));
      highest = std::max(highest, static_cast<int>(pitch));
    }
    piece.step_end.push_back(piece.pitches.size());
  });
  end_piece();  // one trailing empty line is tolerated; pieces never span files
}

}  // namespace

ReadResult read_pianoroll(const ReadRequest& request) {
  const bool full_range = request.options.get_choice("range", "88", {"88", "observed"}) == "88";
  int lowest = 128, highest = -1;
  std::vector<ParsedPart> parsed;
  std::vector<fs::path> all_files;
  for (const auto& files : request.parts) {
    ParsedPart part;
    for (const auto& path : files) {
      parse_file(load_source(path), full_range, part, lowest, highest);
      all_files.push_back(path);
    }
    parsed.push_back(std::move(part));
  }
  if (!full_range && highest < 0)
    input_error(all_files.front(), "no pitch in any file: range = observed needs at least one note");
  const int base = full_range ? kPianoLow : lowest;
  const int top = full_range ? kPianoHigh : highest;
  const auto d = static_cast<arma::uword>(top - base + 1);

  ReadResult result;
  result.meta.kind = SequenceKind::binary_frames;
  result.meta.dimension = d;
  for (int p = base; p <= top; ++p) result.meta.feature_names.push_back(std::to_string(p));
  for (const auto& part : parsed) {
    SequenceSet set;
    set.kind = SequenceKind::binary_frames;
    for (const auto& piece : part.pieces) {
      arma::mat roll(d, piece.step_end.size(), arma::fill::zeros);
      std::size_t k = 0;
      for (std::size_t t = 0; t < piece.step_end.size(); ++t)
        for (; k < piece.step_end[t]; ++k) roll(static_cast<arma::uword>(piece.pitches[k] - base), t) = 1.0;
      set.frames.push_back(std::move(roll));
    }
    result.parts.push_back(std::move(set));
  }
  return result;
}

}  // namespace seqlab::detail
