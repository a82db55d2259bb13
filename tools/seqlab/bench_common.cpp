// tools/seqlab/bench_common.cpp: the shared benchmark helpers of bench_common.hpp.
#include "bench_common.hpp"

#include <sys/wait.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "cli_common.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/data/registry.hpp"

namespace seqlab::cli {

double seconds_since(BenchClock::time_point start) {
  return std::chrono::duration<double>(BenchClock::now() - start).count();
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? std::nan("") : v[v.size() / 2];
}

double time_median(unsigned reps, const std::function<void()>& work) {
  std::vector<double> times;
  for (unsigned r = 0; r < std::max(1u, reps); ++r) {
    const auto start = BenchClock::now();
    work();
    times.push_back(seconds_since(start));
  }
  return median(times);
}

std::vector<arma::uword> parse_list(const std::string& option, const std::string& text) {
  const std::vector<std::uint64_t> values = parse_positive_list("bench", option, text);
  return std::vector<arma::uword>(values.begin(), values.end());
}

namespace {
template <class T>
double gemm_rate(arma::uword n) {
  Rng rng = make_rng(7);
  arma::Mat<T> a(n, n), b(n, n), c(n, n);
  a.imbue([&] { return static_cast<T>(uniform01(rng)); });
  b.imbue([&] { return static_cast<T>(uniform01(rng)); });
  c = a * b;  // warm-up: first-touch and thread start-up
  const double t = time_median(3, [&] { c = a * b; });
  return 2.0 * std::pow(static_cast<double>(n), 3) / t / 1e9;
}
}  // namespace

double dgemm_rate(arma::uword n) { return gemm_rate<double>(n); }
double sgemm_rate(arma::uword n) { return gemm_rate<float>(n); }

void reset_peak_memory() {
  std::ofstream("/proc/self/clear_refs") << "5";
}
double peak_memory_mib() {
  std::ifstream status("/proc/self/status");
  std::string line;
  while (std::getline(status, line))
    if (line.rfind("VmHWM:", 0) == 0) return std::stod(line.substr(6)) / 1024.0;
  return std::nan("");
}

std::string run_capture(const std::string& command, int* status) {
  std::string output;
  FILE* pipe = ::popen(command.c_str(), "r");
  if (pipe == nullptr) {
    *status = -1;
    return output;
  }
  char buffer[4096];
  std::size_t got = 0;
  while ((got = std::fread(buffer, 1, sizeof buffer, pipe)) > 0) output.append(buffer, got);
  const int raw = ::pclose(pipe);
  *status = WIFEXITED(raw) ? WEXITSTATUS(raw) : -1;
  return output;
}

std::string quote(const std::string& s) {
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string debian_python() {
  return std::filesystem::exists("/usr/bin/python3") ? "/usr/bin/python3" : "python3";
}

std::optional<double> find_number(const std::string& text, const std::string& key) {
  const std::regex pattern(key + "=(-?[0-9.eE+-]+)");
  std::smatch m;
  if (!std::regex_search(text, m, pattern)) return std::nullopt;
  return std::stod(m[1].str());
}

std::optional<std::string> tinyshakespeare_file() {
  const DataLocations where = DataLocations::from_environment();
  std::vector<std::filesystem::path> folders = where.mirrors;
  if (!where.cache.empty()) folders.push_back(where.cache);
  for (const auto& dir : folders)
    if (std::filesystem::exists(dir / "tinyshakespeare" / "input.txt"))
      return (dir / "tinyshakespeare" / "input.txt").string();
  return std::nullopt;
}

}  // namespace seqlab::cli
