// seqlab/core/error.cpp: wording of user-facing errors.
#include "seqlab/core/error.hpp"

#include <cmath>
#include <cstdio>
#include <fstream>
#include <system_error>

#include "seqlab/core/one_line.hpp"

namespace seqlab {

std::string location(const std::filesystem::path& file, std::size_t line, std::size_t column) {
  std::string s = file.string();
  if (line > 0) {
    s += ":" + std::to_string(line);
    if (column > 0) s += ":" + std::to_string(column);
  }
  return s;
}

std::string one_line(const std::string& message) {
  std::string out;
  out.reserve(message.size());
  for (const char ch : message) {
    const auto c = static_cast<unsigned char>(ch);
    if (c == '\n') {
      out += "\\n";
    } else if (c == '\r') {
      out += "\\r";
    } else if ((c < 0x20 && c != '\t') || c == 0x7f) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    } else {
      out += ch;
    }
  }
  return out;
}

void input_error(const std::filesystem::path& file, std::size_t line, std::size_t column,
                 const std::string& what) {
  throw UserError(one_line(location(file, line, column) + ": " + what));
}

void input_error(const std::filesystem::path& file, const std::string& what) {
  input_error(file, 0, 0, what);
}

void user_error(const std::string& what) { throw UserError(one_line(what)); }

namespace {
// "a model file", "an experiment file"
std::string with_article(const std::string& noun) {
  const bool vowel = !noun.empty() && std::string("aeiou").find(noun[0]) != std::string::npos;
  return (vowel ? "an " : "a ") + noun;
}
}  // namespace

void require_readable_file(const std::filesystem::path& file, const std::string& role) {
  std::error_code ec;
  const auto status = std::filesystem::status(file, ec);
  if (ec || !std::filesystem::exists(status))
    input_error(file, role + " does not exist");
  if (std::filesystem::is_directory(status))
    input_error(file, "is a directory, expected " + with_article(role));
  if (!std::filesystem::is_regular_file(status))
    input_error(file, "is not a regular file, expected " + with_article(role));
  std::ifstream probe(file, std::ios::binary);
  if (!probe) input_error(file, role + " cannot be opened for reading (permissions?)");
}

std::string printable(const std::string& bytes, std::size_t max_chars) {
  std::string out;
  for (unsigned char c : bytes) {
    if (out.size() >= max_chars) {
      out += "...";
      break;
    }
    if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else if (c == '\n') {
      out += "\\n";
    } else if (c == '\t') {
      out += "\\t";
    } else {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\x%02X", c);
      out += buf;
    }
  }
  return out;
}

}  // namespace seqlab

namespace seqlab {

std::string with_commas(std::uint64_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

std::string duration_text(double seconds) {
  char buffer[32];
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  if (seconds < 60) {
    std::snprintf(buffer, sizeof buffer, "%.1fs", seconds);
    return buffer;
  }
  const auto s = static_cast<long long>(seconds);
  if (s < 3600)
    std::snprintf(buffer, sizeof buffer, "%lldm%02llds", s / 60, s % 60);
  else
    std::snprintf(buffer, sizeof buffer, "%lldh%02lldm", s / 3600, (s % 3600) / 60);
  return buffer;
}

}  // namespace seqlab
