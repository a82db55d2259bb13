// seqlab/core/vector_clones.hpp: PRIVATE (not installed). SEQLAB_VECTOR_CLONES, put before the
// definition of a function whose element-wise loops matter for speed: GCC then compiles it three
// times (baseline x86-64, AVX2, AVX-512) and the dynamic loader picks the best one the CPU runs,
// so the library stays portable while the recursions' loops use the machine's full vector width.
//
// Results do not depend on the clone picked: vectorising a loop never reassociates its
// arithmetic (no -ffast-math), and the build sets -ffp-contract=off, so no clone fuses a
// multiply and an add that the baseline rounds separately. A function inlined into a clone is
// compiled for the clone's target too. Elsewhere (other compilers, other CPUs) it expands to
// nothing.
#pragma once

#if defined(__x86_64__) && defined(__GNUC__) && !defined(__clang__)
#define SEQLAB_VECTOR_CLONES __attribute__((target_clones("avx512f", "avx2", "default")))
#else
#define SEQLAB_VECTOR_CLONES
#endif
