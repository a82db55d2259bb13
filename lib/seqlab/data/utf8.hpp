// seqlab/data/utf8.hpp: strict UTF-8 decoding and validation for the text readers, and the
// mapping from a byte offset to the 1-based line and byte column that error messages use.
//
// Strict means what RFC 3629 allows and nothing else: no overlong forms, no surrogates
// (U+D800..U+DFFF), nothing above U+10FFFF, no stray continuation bytes, no truncated sequences.
// Decoding never allocates; text-heavy readers decode to char32_t and look code points up in a
// table instead of building one std::string per character.
#pragma once

#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace seqlab {

// Requires: pos < text.size().
// Ensures: when the bytes at `pos` start a well-formed UTF-8 sequence, sets `code_point` and
//   returns its length (1..4); otherwise returns 0 and leaves `code_point` unspecified.
// Cost: O(1); inline because readers call it once per character.
inline std::size_t decode_utf8(std::string_view text, std::size_t pos, char32_t& code_point) {
  const auto byte = [&](std::size_t i) { return static_cast<unsigned char>(text[i]); };
  const unsigned char lead = byte(pos);
  if (lead < 0x80) {
    code_point = lead;
    return 1;
  }
  std::size_t length = 0;
  char32_t cp = 0;
  // The allowed range of the SECOND byte is what rules out overlong forms, surrogates and code
  // points above U+10FFFF (the table of RFC 3629, section 4).
  unsigned char second_min = 0x80, second_max = 0xBF;
  if (lead >= 0xC2 && lead <= 0xDF) {
    length = 2;
    cp = lead & 0x1Fu;
  } else if (lead >= 0xE0 && lead <= 0xEF) {
    length = 3;
    cp = lead & 0x0Fu;
    if (lead == 0xE0) second_min = 0xA0;
    if (lead == 0xED) second_max = 0x9F;
  } else if (lead >= 0xF0 && lead <= 0xF4) {
    length = 4;
    cp = lead & 0x07u;
    if (lead == 0xF0) second_min = 0x90;
    if (lead == 0xF4) second_max = 0x8F;
  } else {
    return 0;  // continuation byte, C0/C1 (always overlong) or F5..FF
  }
  if (text.size() - pos < length) return 0;
  const unsigned char second = byte(pos + 1);
  if (second < second_min || second > second_max) return 0;
  cp = (cp << 6) | (second & 0x3Fu);
  for (std::size_t k = 2; k < length; ++k) {
    const unsigned char c = byte(pos + k);
    if ((c & 0xC0u) != 0x80u) return 0;
    cp = (cp << 6) | (c & 0x3Fu);
  }
  code_point = cp;
  return length;
}

// Requires: code_point <= 0x10FFFF and not a surrogate (else std::invalid_argument).
// Ensures: its UTF-8 bytes are appended to `out`.
void append_utf8(char32_t code_point, std::string& out);
std::string encode_utf8(char32_t code_point);

// Ensures: the offset of the first byte that does not start a well-formed sequence, or
// std::string_view::npos when all of `text` is valid UTF-8. Cost: O(size), ASCII fast path.
std::size_t find_invalid_utf8(std::string_view text);

// Ensures: nothing when `text` is valid UTF-8; otherwise throws UserError
//   "FILE:LINE:COL: invalid UTF-8 byte 0xNN (expected UTF-8 text)"
// naming the lead byte of the first malformed sequence and its 1-based line and byte column.
void require_valid_utf8(std::string_view text, const std::filesystem::path& file);

// Same message for a known bad offset (the caller already found it while decoding).
[[noreturn]] void invalid_utf8_error(std::string_view text, std::size_t offset,
                                     const std::filesystem::path& file);

// 1-based line and 1-based BYTE column of `offset` in `text` (offset == size() is allowed and
// names the position just after the last byte). Lines end at '\n'. Cost: O(offset).
struct TextPosition {
  std::size_t line = 1;
  std::size_t column = 1;
};
TextPosition locate_offset(std::string_view text, std::size_t offset);

}  // namespace seqlab
