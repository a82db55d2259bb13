// tools/seqlab/bench_ceiling.hpp: the speed ceilings `seqlab bench` measures engines against, and
// what limits them. A "% of ceiling" is only honest when the ceiling is what the CPU can reach:
// OpenBLAS picks its kernels from the CPU model, but an environment variable (OPENBLAS_CORETYPE)
// can pin it to an older, narrower kernel family (AVX2 on an AVX-512 CPU halves its GEMM rate),
// while seqlab's own LIBXSMM kernels and vector clones still use the full width. So the benches
// report the CPU's widest vector ISA next to the BLAS kernel in use, warn when the environment
// narrows it (with the rate measured in a child process without the variable), and add a second
// reference that does not depend on OpenBLAS at all: the FMA throughput of the vector units,
// measured by hand.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace seqlab::cli {

// The widest vector instruction set of this CPU that the benches know: bits 512 ("AVX-512"),
// 256 ("AVX2+FMA"), 128 ("SSE2"), or 0 ("unknown", not x86-64).
struct VectorIsa {
  std::string name;
  int bits = 0;
};
VectorIsa cpu_vector_isa();

// The vector width of an OpenBLAS kernel family (openblas_get_corename, e.g. "Haswell" -> 256,
// "SkylakeX" -> 512, "Prescott" -> 128); 0 when unknown.
int openblas_core_bits(const std::string& core);

// Requires threads >= 1. Ensures: GFLOP/s of fused multiply-adds on `threads` threads at the
// widest width this CPU has (float or double lanes), from independent chains that keep every
// FMA unit busy: the arithmetic ceiling no GEMM can beat. NaN where not measurable (no FMA).
// Cost: about 0.3 s.
double fma_peak_gflops(bool single_precision, unsigned threads);

// The environment variables that pin this process's BLAS below what the CPU offers: each as
// "NAME=value" with why, e.g. OPENBLAS_CORETYPE=Haswell on an AVX-512 CPU (the kernel width is
// below the ISA's), or OPENBLAS_NUM_THREADS below the largest thread count the bench asks for.
struct BlasLimit {
  std::string variable;  // "OPENBLAS_CORETYPE"
  std::string value;     // "Haswell"
  std::string why;       // "pins OpenBLAS to its 256-bit kernels on a 512-bit (AVX-512) CPU"
};
std::vector<BlasLimit> blas_limits(unsigned max_threads);

// The variables `--fair-blas` removes for seqlab and the peers alike.
extern const char* const kBlasPinVariables[];

// --fair-blas: when any of kBlasPinVariables is set, unsets them and runs this program again as
// `seqlab bench ARGS...` (the BLAS library reads them only when it loads); the peers a bench
// starts inherit the environment, so they run under the same conditions. Once they are unset it
// prints which variables the run went without (as told by the first process) and returns.
void run_without_blas_pins(const std::vector<std::string>& bench_args);

// GEMM rates (GFLOP/s, n = 2048) on 1..`threads` threads, measured in a child process of this
// program with kBlasPinVariables unset: what the CPU reaches when nothing pins the BLAS.
// Empty when the child could not be run.
std::vector<double> unpinned_gemm_rates(bool single_precision, unsigned threads);

// Prints the ceiling lines every GEMM-bound bench starts with, for thread counts 1..threads:
//   CPU: widest vector ISA AVX-512; BLAS kernel Haswell (256-bit)
//   warning: OPENBLAS_CORETYPE=Haswell pins OpenBLAS to ...; SGEMM without it: 1 thread 195.3
//            GFLOP/s, ... (measured in a child process with it unset); --fair-blas unsets it
//   FMA peak (hand-measured, no BLAS): 1 thread ... GFLOP/s
// and returns the FMA peaks by thread count (index t - 1).
std::vector<double> print_ceilings(bool single_precision, unsigned threads);

}  // namespace seqlab::cli
