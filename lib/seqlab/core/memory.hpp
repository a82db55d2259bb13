// seqlab/core/memory.hpp: the memory a model or a training run will need, checked BEFORE it is
// allocated. A hostile size (--states 100000, --hidden 100000000, a model file claiming a billion
// units) then ends in one line naming the size and the estimate, not in std::bad_alloc or a
// machine that swaps for an hour. Byte counts are long double: products of hostile sizes do not
// overflow.
#pragma once

#include <cstdint>
#include <string>

namespace seqlab {

// The memory seqlab plans with, in bytes: the smallest of the machine's physical memory, the
// memory limit of the process's control group (cgroup v1 or v2, as batch schedulers set it), and
// SEQLAB_MEMORY_LIMIT when set (bytes, or with a K, M, G or T suffix: powers of 1024). 0 = unknown.
// A SEQLAB_MEMORY_LIMIT that does not parse is a UserError naming it. Cost: a few small reads.
std::uint64_t memory_limit_bytes();

// A byte count for messages: "812 B", "3.2 KiB", "1.5 GiB", "74.5 TiB", or "4.0e+17 bytes" beyond.
std::string format_bytes(long double bytes);

// Requires nothing. Ensures: returns when `bytes` is at most memory_limit_bytes() (or that is
//   unknown); otherwise a UserError "<what> needs at least <bytes> of memory, more than the
//   <limit> available (<where the limit comes from>)". Estimates passed here are lower bounds
//   of what would be allocated.
void require_memory(long double bytes, const std::string& what);

}  // namespace seqlab
