// seqlab/core/blas.hpp: which BLAS this process runs on, and control of the BLAS library's own
// threads. Armadillo hands every large matrix product to the system BLAS (OpenBLAS on Debian);
// its speed decides the speed of the HMM and RNN engines, so seqlab reports it and steers it.
//
// Why this exists: Debian's OpenBLAS picks its kernels at load time from the CPU model. On a CPU
// it does not recognise (typical in virtual machines) it falls back to a generic kernel that is
// several times slower even though the CPU has AVX2 / AVX-512 (measured here: DGEMM 11 GFLOP/s
// with the fallback "Prescott" kernel, 55-74 GFLOP/s with "SkylakeX"). The choice can only be
// overridden through the environment variable OPENBLAS_CORETYPE before the library loads, which
// the `seqlab` program does for itself (it re-executes itself once with the variable set).
#pragma once

#include <string>

namespace seqlab {

struct BlasInfo {
  std::string library;  // "OpenBLAS" or "unknown" (a BLAS without OpenBLAS's query functions)
  std::string core;     // the kernel family OpenBLAS chose, e.g. "SkylakeX"; empty if unknown
  std::string config;   // OpenBLAS's build configuration string; empty if unknown
  int threads = 0;      // the BLAS library's own thread count; 0 if unknown
  // One line, e.g. "OpenBLAS 0.3.21 ... core SkylakeX, 1 thread".
  std::string summary() const;
};

// Ensures: what the loaded BLAS says of itself. Cost: a few symbol look-ups.
BlasInfo blas_info();

// Requires threads >= 1. Ensures: the BLAS library uses `threads` threads for each call, when it
// offers that control (returns false otherwise). Process-wide.
bool set_blas_threads(int threads);

// Ensures: the OPENBLAS_CORETYPE value that selects a faster kernel family than the one OpenBLAS
// chose ("SkylakeX" on a CPU with AVX-512F/BW/VL/DQ, "Haswell" with AVX2 and FMA), when OpenBLAS
// fell back to a generic pre-AVX2 kernel on a CPU that has them; empty otherwise (also when the
// BLAS is not OpenBLAS or OPENBLAS_CORETYPE is already set).
std::string better_blas_core();

// Sets the BLAS threads to `threads` for the lifetime of the guard and restores the previous
// count afterwards (used around code that runs its own worker threads, so the two kinds of
// threads do not oversubscribe the cores).
class ScopedBlasThreads {
 public:
  explicit ScopedBlasThreads(int threads);
  ~ScopedBlasThreads();
  ScopedBlasThreads(const ScopedBlasThreads&) = delete;
  ScopedBlasThreads& operator=(const ScopedBlasThreads&) = delete;

 private:
  int previous_ = 0;
};

}  // namespace seqlab
