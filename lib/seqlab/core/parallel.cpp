// seqlab/core/parallel.cpp: run_units (parallel.hpp) on plain std::threads pulling unit numbers
// from one atomic counter.
#include "seqlab/core/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <system_error>
#include <thread>
#include <vector>

namespace seqlab {

void run_units(std::size_t units, unsigned threads,
               const std::function<void(std::size_t unit, unsigned worker)>& work) {
  if (threads <= 1 || units <= 1) {
    for (std::size_t u = 0; u < units; ++u) work(u, 0);
    return;
  }
  const unsigned workers = static_cast<unsigned>(std::min<std::size_t>(threads, units));
  std::atomic<std::size_t> next{0};
  std::vector<std::exception_ptr> errors(units);
  const auto drain = [&](unsigned w) {
    for (std::size_t u = next++; u < units; u = next++) {
      try {
        work(u, w);
      } catch (...) {
        errors[u] = std::current_exception();
      }
    }
  };
  std::vector<std::thread> pool;
  // A thread the system refuses (resource limits) is not an error: the units do not depend on
  // which worker runs them, so the threads already running, and this one, do all the work.
  try {
    for (unsigned w = 1; w < workers; ++w) pool.emplace_back(drain, w);
  } catch (const std::system_error&) {
  }
  drain(0);
  for (auto& t : pool) t.join();
  for (auto& e : errors)
    if (e) std::rethrow_exception(e);
}

}  // namespace seqlab
