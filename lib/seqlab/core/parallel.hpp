// seqlab/core/parallel.hpp: the one threading helper the engines share: run numbered units of
// work on a few threads. Determinism is the caller's business and easy to keep: a unit's result
// must depend on the unit only (not on the worker that ran it), and results are merged in unit
// order after the call returns.
#pragma once

#include <cstddef>
#include <functional>

namespace seqlab {

// Requires: work safe to run concurrently for different units.
// Ensures: work(unit, worker) ran exactly once for every unit = 0..units-1, with
//   worker < max(1, threads) naming the thread (for per-thread scratch space); with threads <= 1
//   or units <= 1 everything runs on the calling thread, in unit order. If any call throws, the
//   first exception in UNIT order is rethrown after every thread has joined. When the system
//   refuses to start a thread, the threads started so far (at least the calling one) do the work.
// Cost: starts min(threads, units) threads per call (tens of microseconds): meant for units of
//   milliseconds or more.
void run_units(std::size_t units, unsigned threads,
               const std::function<void(std::size_t unit, unsigned worker)>& work);

}  // namespace seqlab
