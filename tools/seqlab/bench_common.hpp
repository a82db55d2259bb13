// tools/seqlab/bench_common.hpp: what the `seqlab bench` benchmarks share: timing, the machine's
// GEMM rates (the ceiling every engine is compared with), peak memory, and running the peers'
// scripts.
#pragma once

#include <armadillo>
#include <chrono>
#include <functional>
#include <optional>
#include <string>
#include <vector>

namespace seqlab::cli {

using BenchClock = std::chrono::steady_clock;

double seconds_since(BenchClock::time_point start);
// Median of v (NaN for an empty v).
double median(std::vector<double> v);
// Median wall time of `reps` calls of `work` (at least one).
double time_median(unsigned reps, const std::function<void()>& work);
// "1,2,4" -> {1, 2, 4}; anything else is a UserError naming --option.
std::vector<arma::uword> parse_list(const std::string& option, const std::string& text);

// GFLOP/s of a square DGEMM / SGEMM of size n on the BLAS library's current thread count
// (median of 3 after a warm-up).
double dgemm_rate(arma::uword n);
double sgemm_rate(arma::uword n);

// Peak resident memory since the last reset, in MiB (Linux: VmHWM, reset via clear_refs).
void reset_peak_memory();
double peak_memory_mib();

// Runs a shell command, returns its standard output; *status = its exit code (-1: did not run).
std::string run_capture(const std::string& command, int* status);
// s quoted for a POSIX shell.
std::string quote(const std::string& s);
// The peers' Python packages are Debian packages, installed for Debian's interpreter; a python3
// earlier on PATH (a virtualenv, pyenv) would not see them.
std::string debian_python();
// The number after "key=" in text, if any.
std::optional<double> find_number(const std::string& text, const std::string& key);
// The tinyshakespeare input.txt the dataset registry resolves (mirror or cache), if any.
std::optional<std::string> tinyshakespeare_file();

}  // namespace seqlab::cli
