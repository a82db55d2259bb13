// seqlab/core/blas.cpp: OpenBLAS queries through dlsym, so that seqlab links against any BLAS
// and uses OpenBLAS's extensions only when they are there.
#include "seqlab/core/blas.hpp"

#include <dlfcn.h>

#include <array>
#include <cstdlib>
#include <string_view>

namespace seqlab {

namespace {
template <class F>
F lookup(const char* name) {
  return reinterpret_cast<F>(dlsym(RTLD_DEFAULT, name));
}
using GetString = char* (*)();
using GetInt = int (*)();
using SetInt = void (*)(int);

std::string call_string(const char* name) {
  const auto f = lookup<GetString>(name);
  if (f == nullptr) return {};
  const char* s = f();
  return s == nullptr ? std::string{} : std::string(s);
}

// OpenBLAS kernel families that use neither AVX2 nor AVX-512: the fallbacks of an unknown CPU.
bool is_generic_core(std::string_view core) {
  constexpr std::array<std::string_view, 11> generic = {
      "Prescott", "Core2", "Penryn", "Dunnington", "Nehalem", "Atom", "Banias", "Northwood",
      "Katmai", "Coppermine", "Sandybridge"};
  for (std::string_view g : generic)
    if (core == g) return true;
  return false;
}
}  // namespace

std::string BlasInfo::summary() const {
  std::string s = library;
  if (!config.empty()) s += " (" + config + ")";
  if (!core.empty()) s += ", core " + core;
  if (threads > 0) s += ", " + std::to_string(threads) + (threads == 1 ? " thread" : " threads");
  return s;
}

BlasInfo blas_info() {
  BlasInfo info;
  info.core = call_string("openblas_get_corename");
  info.config = call_string("openblas_get_config");
  info.library = lookup<GetString>("openblas_get_corename") != nullptr ? "OpenBLAS" : "unknown";
  if (const auto get = lookup<GetInt>("openblas_get_num_threads")) info.threads = get();
  return info;
}

bool set_blas_threads(int threads) {
  const auto set = lookup<SetInt>("openblas_set_num_threads");
  if (set == nullptr || threads < 1) return false;
  set(threads);
  return true;
}

std::string better_blas_core() {
  if (std::getenv("OPENBLAS_CORETYPE") != nullptr) return {};
  const std::string core = call_string("openblas_get_corename");
  if (core.empty() || !is_generic_core(core)) return {};
#if defined(__x86_64__) || defined(__i386__)
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512bw") &&
      __builtin_cpu_supports("avx512vl") && __builtin_cpu_supports("avx512dq"))
    return "SkylakeX";
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) return "Haswell";
#endif
  return {};
}

ScopedBlasThreads::ScopedBlasThreads(int threads) {
  if (const auto get = lookup<GetInt>("openblas_get_num_threads")) previous_ = get();
  set_blas_threads(threads);
}

ScopedBlasThreads::~ScopedBlasThreads() {
  if (previous_ > 0) set_blas_threads(previous_);
}

}  // namespace seqlab
