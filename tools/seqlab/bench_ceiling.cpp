// tools/seqlab/bench_ceiling.cpp: the speed ceilings of bench_ceiling.hpp.
#include "bench_ceiling.hpp"

#include <unistd.h>

#include <cctype>
#include <chrono>
#include <cmath>
#include <cstdint>
#include <cstdlib>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <stdexcept>
#include <thread>

#if defined(__x86_64__) && defined(__GNUC__)
#include <immintrin.h>
#define SEQLAB_FMA_KERNELS 1
#endif

#include "bench_common.hpp"
#include "seqlab/core/blas.hpp"

namespace seqlab::cli {

const char* const kBlasPinVariables[] = {"OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", nullptr};

VectorIsa cpu_vector_isa() {
#if defined(__x86_64__) && defined(__GNUC__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f")) return {"AVX-512", 512};
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return {"AVX2+FMA", 256};
  return {"SSE2", 128};
#else
  return {"unknown", 0};
#endif
}

int openblas_core_bits(const std::string& core) {
  std::string c;
  for (const char ch : core) c += static_cast<char>(std::tolower(static_cast<unsigned char>(ch)));
  for (const char* wide : {"skylakex", "cooperlake", "sapphirerapids"})
    if (c == wide) return 512;
  for (const char* avx2 : {"haswell", "zen", "sandybridge", "excavator", "steamroller",
                           "piledriver", "bulldozer"})
    if (c == avx2) return 256;
  for (const char* sse : {"prescott", "core2", "penryn", "dunnington", "nehalem", "atom",
                          "katmai", "coppermine", "northwood", "banias", "opteron", "barcelona",
                          "bobcat", "nano"})
    if (c == sse) return 128;
  return 0;
}

namespace {

#ifdef SEQLAB_FMA_KERNELS
// CHAINS independent accumulators, each x = x a + b per step: enough chains in flight to cover
// the FMA latency on every FMA port (4 cycles x 2 ports), so the loop runs at the units' rate.
// x converges to b / (1 - a): the values stay finite however long it runs.
constexpr int kChains = 12;

__attribute__((target("avx512f"))) double fma_loop_512(bool single, std::uint64_t steps) {
  if (single) {
    __m512 x[kChains];
    for (int k = 0; k < kChains; ++k) x[k] = _mm512_set1_ps(static_cast<float>(k));
    const __m512 a = _mm512_set1_ps(0.999f), b = _mm512_set1_ps(1e-3f);
    for (std::uint64_t i = 0; i < steps; ++i)
      for (int k = 0; k < kChains; ++k) x[k] = _mm512_fmadd_ps(x[k], a, b);
    double out = 0.0;
    alignas(64) float lanes[16];
    for (int k = 0; k < kChains; ++k) {
      _mm512_store_ps(lanes, x[k]);
      for (const float v : lanes) out += v;
    }
    return out;
  }
  __m512d x[kChains];
  for (int k = 0; k < kChains; ++k) x[k] = _mm512_set1_pd(k);
  const __m512d a = _mm512_set1_pd(0.999), b = _mm512_set1_pd(1e-3);
  for (std::uint64_t i = 0; i < steps; ++i)
    for (int k = 0; k < kChains; ++k) x[k] = _mm512_fmadd_pd(x[k], a, b);
  double out = 0.0;
  alignas(64) double lanes[8];
  for (int k = 0; k < kChains; ++k) {
    _mm512_store_pd(lanes, x[k]);
    for (const double v : lanes) out += v;
  }
  return out;
}

__attribute__((target("avx2,fma"))) double fma_loop_256(bool single, std::uint64_t steps) {
  double out = 0.0;
  if (single) {
    __m256 x[kChains];
    for (int k = 0; k < kChains; ++k) x[k] = _mm256_set1_ps(static_cast<float>(k));
    const __m256 a = _mm256_set1_ps(0.999f), b = _mm256_set1_ps(1e-3f);
    for (std::uint64_t i = 0; i < steps; ++i)
      for (int k = 0; k < kChains; ++k) x[k] = _mm256_fmadd_ps(x[k], a, b);
    alignas(32) float lanes[8];
    for (int k = 0; k < kChains; ++k) {
      _mm256_store_ps(lanes, x[k]);
      for (const float v : lanes) out += v;
    }
    return out;
  }
  __m256d x[kChains];
  for (int k = 0; k < kChains; ++k) x[k] = _mm256_set1_pd(k);
  const __m256d a = _mm256_set1_pd(0.999), b = _mm256_set1_pd(1e-3);
  for (std::uint64_t i = 0; i < steps; ++i)
    for (int k = 0; k < kChains; ++k) x[k] = _mm256_fmadd_pd(x[k], a, b);
  alignas(32) double lanes[4];
  for (int k = 0; k < kChains; ++k) {
    _mm256_store_pd(lanes, x[k]);
    for (const double v : lanes) out += v;
  }
  return out;
}
#endif

}  // namespace

double fma_peak_gflops(bool single, unsigned threads) {
#ifdef SEQLAB_FMA_KERNELS
  const VectorIsa isa = cpu_vector_isa();
  if (isa.bits < 256 || threads == 0) return std::nan("");
  const int lanes = isa.bits / (single ? 32 : 64);
  const std::uint64_t steps = 20'000'000;  // 240 million FMAs per thread: about 0.1 s
  std::vector<double> sink(threads);
  const auto run = [&](unsigned w) {
    sink[w] = isa.bits == 512 ? fma_loop_512(single, steps) : fma_loop_256(single, steps);
  };
  const double seconds = time_median(3, [&] {
    std::vector<std::thread> pool;
    for (unsigned w = 1; w < threads; ++w) pool.emplace_back(run, w);
    run(0);
    for (auto& t : pool) t.join();
  });
  double check = 0.0;
  for (const double v : sink) check += v;
  if (!std::isfinite(check)) return std::nan("");
  return 2.0 * lanes * kChains * static_cast<double>(steps) * threads / seconds / 1e9;
#else
  (void)single;
  (void)threads;
  return std::nan("");
#endif
}

std::vector<BlasLimit> blas_limits(unsigned max_threads) {
  std::vector<BlasLimit> limits;
  const BlasInfo info = blas_info();
  const VectorIsa isa = cpu_vector_isa();
  if (const char* core = std::getenv("OPENBLAS_CORETYPE")) {
    const int bits = openblas_core_bits(info.core.empty() ? core : info.core);
    if (bits > 0 && bits < isa.bits)
      limits.push_back({"OPENBLAS_CORETYPE", core,
                        "pins OpenBLAS to its " + std::to_string(bits) + "-bit kernels on a " +
                            std::to_string(isa.bits) + "-bit (" + isa.name + ") CPU"});
  }
  // A thread count OpenBLAS will not go up to, and a variable that set it.
  set_blas_threads(static_cast<int>(max_threads));
  const int reached = blas_info().threads;
  set_blas_threads(1);
  if (reached > 0 && static_cast<unsigned>(reached) < max_threads)
    for (const char* name : {"OPENBLAS_NUM_THREADS", "GOTO_NUM_THREADS", "OMP_NUM_THREADS"})
      if (const char* value = std::getenv(name)) {
        limits.push_back({name, value,
                          "caps OpenBLAS at " + std::to_string(reached) + " thread(s), below the " +
                              std::to_string(max_threads) + " asked for"});
        break;
      }
  return limits;
}

void run_without_blas_pins(const std::vector<std::string>& bench_args) {
  std::string removed;
  for (const char* const* v = kBlasPinVariables; *v != nullptr; ++v)
    if (const char* value = std::getenv(*v)) removed += (removed.empty() ? "" : " ") + std::string(*v) + "=" + value;
  if (removed.empty()) {
    const char* told = std::getenv("SEQLAB_FAIR_BLAS_REMOVED");
    std::cout << "--fair-blas: seqlab and the peers run without "
              << (told != nullptr && *told != '\0' ? told : "any BLAS pins (none were set)")
              << "\n";
    ::unsetenv("SEQLAB_FAIR_BLAS_REMOVED");
    return;
  }
  for (const char* const* v = kBlasPinVariables; *v != nullptr; ++v) ::unsetenv(*v);
  ::setenv("SEQLAB_FAIR_BLAS_REMOVED", removed.c_str(), 1);
  std::vector<std::string> words = {"seqlab", "bench"};
  words.insert(words.end(), bench_args.begin(), bench_args.end());
  std::vector<char*> argv;
  for (std::string& w : words) argv.push_back(w.data());
  argv.push_back(nullptr);
  std::cout.flush();
  ::execv("/proc/self/exe", argv.data());
  throw std::runtime_error("bench --fair-blas: could not run the program again without " + removed);
}

std::vector<double> unpinned_gemm_rates(bool single, unsigned threads) {
  char self[4096];
  const ssize_t n = ::readlink("/proc/self/exe", self, sizeof self - 1);
  if (n <= 0) return {};
  self[n] = '\0';
  std::string command = "env";
  for (const char* const* v = kBlasPinVariables; *v != nullptr; ++v) command += std::string(" -u ") + *v;
  command += " " + quote(self) + " bench blas --rates-only --precision " +
             (single ? "float" : "double") + " --threads " + std::to_string(threads) + " 2>/dev/null";
  int status = -1;
  const std::string out = run_capture(command, &status);
  if (status != 0) return {};
  std::vector<double> rates;
  std::istringstream lines(out);
  std::string line;
  while (std::getline(lines, line))
    if (const auto rate = find_number(line, "gflops")) rates.push_back(*rate);
  if (rates.size() != threads) return {};
  return rates;
}

std::vector<double> print_ceilings(bool single, unsigned threads) {
  const VectorIsa isa = cpu_vector_isa();
  const BlasInfo info = blas_info();
  const int bits = openblas_core_bits(info.core);
  std::cout << "CPU: widest vector ISA " << isa.name << "; BLAS kernel "
            << (info.core.empty() ? std::string("unknown") : info.core)
            << (bits > 0 ? " (" + std::to_string(bits) + "-bit)" : std::string()) << "\n";
  const char* gemm = single ? "SGEMM" : "DGEMM";
  const std::vector<BlasLimit> limits = blas_limits(threads);
  const std::vector<double> free =
      limits.empty() ? std::vector<double>{} : unpinned_gemm_rates(single, threads);
  for (const BlasLimit& limit : limits) {
    std::cout << "warning: " << limit.variable << "=" << limit.value << " " << limit.why;
    if (!free.empty()) {
      std::cout << "; " << gemm << " n=2048 without it:";
      for (unsigned t = 1; t <= free.size(); ++t)
        std::cout << (t > 1 ? "," : "") << " " << t << " thread" << (t > 1 ? "s " : " ")
                  << std::fixed << std::setprecision(1) << free[t - 1] << " GFLOP/s";
      std::cout << " (measured in a child process with it unset)";
    }
    std::cout << "; --fair-blas unsets it for seqlab and the peers\n";
  }
  std::vector<double> peaks;
  std::cout << "FMA peak (" << (single ? "float" : "double")
            << ", measured by hand, no BLAS):";
  for (unsigned t = 1; t <= threads; ++t) {
    peaks.push_back(fma_peak_gflops(single, t));
    std::cout << (t > 1 ? "," : "") << " " << t << " thread" << (t > 1 ? "s " : " ") << std::fixed
              << std::setprecision(1) << peaks.back() << " GFLOP/s";
  }
  std::cout << "\n";
  return peaks;
}

}  // namespace seqlab::cli
