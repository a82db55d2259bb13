// seqlab/data/utf8.cpp: encoding, whole-buffer validation and located UTF-8 errors.
#include "seqlab/data/utf8.hpp"

#include <cstdio>
#include <stdexcept>

#include "seqlab/core/error.hpp"

namespace seqlab {

void append_utf8(char32_t cp, std::string& out) {
  if (cp > 0x10FFFF || (cp >= 0xD800 && cp <= 0xDFFF))
    throw std::invalid_argument("append_utf8: not a Unicode scalar value");
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xC0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xE0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  } else {
    out += static_cast<char>(0xF0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3F));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3F));
    out += static_cast<char>(0x80 | (cp & 0x3F));
  }
}

std::string encode_utf8(char32_t cp) {
  std::string s;
  append_utf8(cp, s);
  return s;
}

std::size_t find_invalid_utf8(std::string_view text) {
  std::size_t pos = 0;
  char32_t cp = 0;
  while (pos < text.size()) {
    if (static_cast<unsigned char>(text[pos]) < 0x80) {
      ++pos;
      continue;
    }
    const std::size_t n = decode_utf8(text, pos, cp);
    if (n == 0) return pos;
    pos += n;
  }
  return std::string_view::npos;
}

void invalid_utf8_error(std::string_view text, std::size_t offset,
                        const std::filesystem::path& file) {
  const TextPosition at = locate_offset(text, offset);
  char hex[8];
  std::snprintf(hex, sizeof hex, "0x%02X", static_cast<unsigned>(static_cast<unsigned char>(text[offset])));
  input_error(file, at.line, at.column,
              std::string("invalid UTF-8 byte ") + hex + " (expected UTF-8 text)");
}

void require_valid_utf8(std::string_view text, const std::filesystem::path& file) {
  const std::size_t bad = find_invalid_utf8(text);
  if (bad != std::string_view::npos) invalid_utf8_error(text, bad, file);
}

TextPosition locate_offset(std::string_view text, std::size_t offset) {
  TextPosition at;
  std::size_t line_start = 0;
  const std::size_t end = offset < text.size() ? offset : text.size();
  for (std::size_t i = 0; i < end; ++i) {
    if (text[i] == '\n') {
      ++at.line;
      line_start = i + 1;
    }
  }
  at.column = offset - line_start + 1;
  return at;
}

}  // namespace seqlab
