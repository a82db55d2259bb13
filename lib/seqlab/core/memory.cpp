// seqlab/core/memory.cpp: the memory limit and the up-front memory check (memory.hpp).
#include "seqlab/core/memory.hpp"

#include <unistd.h>

#include <cctype>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <optional>
#include <string>

#include "seqlab/core/error.hpp"

namespace seqlab {
namespace {

struct Limit {
  std::uint64_t bytes = 0;
  std::string source;
};

std::uint64_t physical_memory_bytes() {
  const long pages = ::sysconf(_SC_PHYS_PAGES);
  const long page_size = ::sysconf(_SC_PAGE_SIZE);
  if (pages <= 0 || page_size <= 0) return 0;
  return static_cast<std::uint64_t>(pages) * static_cast<std::uint64_t>(page_size);
}

std::optional<std::uint64_t> read_number_file(const std::string& path) {
  std::ifstream in(path);
  std::string text;
  if (!(in >> text) || text.empty() || !std::isdigit(static_cast<unsigned char>(text[0])))
    return std::nullopt;  // also "max" (cgroup v2: no limit)
  return std::strtoull(text.c_str(), nullptr, 10);
}

// The memory limit of this process's control group, if it has one below 2^62 bytes.
std::optional<std::uint64_t> cgroup_limit() {
  std::ifstream in("/proc/self/cgroup");
  std::optional<std::uint64_t> best;
  for (std::string line; std::getline(in, line);) {
    const auto first = line.find(':');
    const auto second = line.find(':', first + 1);
    if (first == std::string::npos || second == std::string::npos) continue;
    const std::string controllers = line.substr(first + 1, second - first - 1);
    const std::string path = line.substr(second + 1);
    std::optional<std::uint64_t> limit;
    if (controllers.empty())  // cgroup v2
      limit = read_number_file("/sys/fs/cgroup" + path + "/memory.max");
    else if (controllers == "memory" || controllers.find("memory,") == 0 ||
             controllers.find(",memory") != std::string::npos)
      limit = read_number_file("/sys/fs/cgroup/memory" + path + "/memory.limit_in_bytes");
    if (limit && *limit < (std::uint64_t{1} << 62) && (!best || *limit < *best)) best = limit;
  }
  return best;
}

std::uint64_t parse_limit(const std::string& text) {
  std::size_t end = 0;
  unsigned long long value = 0;
  try {
    value = std::stoull(text, &end);
  } catch (const std::exception&) {
    end = 0;
  }
  std::uint64_t scale = 1;
  if (end > 0 && end + 1 == text.size()) {
    switch (std::toupper(static_cast<unsigned char>(text[end]))) {
      case 'K': scale = std::uint64_t{1} << 10; break;
      case 'M': scale = std::uint64_t{1} << 20; break;
      case 'G': scale = std::uint64_t{1} << 30; break;
      case 'T': scale = std::uint64_t{1} << 40; break;
      default: end = 0;
    }
    if (end > 0) ++end;
  }
  if (end == 0 || end != text.size() || text[0] == '-' || value == 0 ||
      value > (std::uint64_t{1} << 62) / scale)
    user_error("SEQLAB_MEMORY_LIMIT: expected a positive number of bytes, optionally with K, M, "
               "G or T, got '" + printable(text) + "'");
  return value * scale;
}

Limit memory_limit() {
  Limit limit{physical_memory_bytes(), "this machine's memory"};
  if (const auto cgroup = cgroup_limit(); cgroup && (limit.bytes == 0 || *cgroup < limit.bytes))
    limit = {*cgroup, "this process's control-group limit"};
  if (const char* env = std::getenv("SEQLAB_MEMORY_LIMIT"); env != nullptr && *env != '\0') {
    const std::uint64_t set = parse_limit(env);
    if (limit.bytes == 0 || set < limit.bytes) limit = {set, "SEQLAB_MEMORY_LIMIT"};
  }
  return limit;
}

}  // namespace

std::uint64_t memory_limit_bytes() { return memory_limit().bytes; }

std::string format_bytes(long double bytes) {
  static const char* const kUnits[] = {"B", "KiB", "MiB", "GiB", "TiB", "PiB"};
  char buffer[64];
  if (bytes >= 1024.0L * 1024 * 1024 * 1024 * 1024 * 1024) {
    std::snprintf(buffer, sizeof buffer, "%.1Le bytes", bytes);
    return buffer;
  }
  int unit = 0;
  while (bytes >= 1024.0L && unit < 5) {
    bytes /= 1024.0L;
    ++unit;
  }
  if (unit == 0)
    std::snprintf(buffer, sizeof buffer, "%.0Lf B", bytes);
  else
    std::snprintf(buffer, sizeof buffer, "%.1Lf %s", bytes, kUnits[unit]);
  return buffer;
}

void require_memory(long double bytes, const std::string& what) {
  const Limit limit = memory_limit();
  if (limit.bytes == 0 || bytes <= static_cast<long double>(limit.bytes)) return;
  user_error(what + " needs at least " + format_bytes(bytes) + " of memory, more than the " +
             format_bytes(static_cast<long double>(limit.bytes)) + " available (" + limit.source +
             ")");
}

}  // namespace seqlab
