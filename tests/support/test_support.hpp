// tests/support/test_support.hpp: helpers shared by all seqlab tests: fixture paths, real-data
// lookup (SKIP when absent), scratch directories, and an Armadillo matcher that reports the
// worst element.
#pragma once

#include <armadillo>
#include <catch2/catch.hpp>
#include <filesystem>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "seqlab/core/communicator.hpp"
#include "seqlab/data/dataset.hpp"

namespace seqlab::test {

// Path of a file under tests/fixtures.
std::filesystem::path fixture(const std::string& relative);

// The folder of a real dataset (e.g. "tinyshakespeare") found through SEQLAB_DATA_PATH, or
// nullopt. Tests that need it call SKIP_WITHOUT_DATA.
std::optional<std::filesystem::path> real_data_dir(const std::string& folder);

// A fresh empty directory under the system temp dir, removed when the object dies.
class ScratchDir {
public:
  ScratchDir();
  ~ScratchDir();
  ScratchDir(const ScratchDir&) = delete;
  ScratchDir& operator=(const ScratchDir&) = delete;
  const std::filesystem::path& path() const { return path_; }
  std::filesystem::path operator/(const std::string& name) const { return path_ / name; }

private:
  std::filesystem::path path_;
};

// An in-process stand-in for the ranks of an MPI job: run_ranks(R, f) calls f(communicator) on
// R threads at once, each with its own rank; the communicators exchange data through shared
// memory with the contract of core/communicator.hpp (sums in rank order, rank 0's flag, agreed
// errors). An exception escaping f on any rank is rethrown by run_ranks (the lowest rank's).
void run_ranks(unsigned ranks, const std::function<void(const Communicator&)>& f);

// A SequenceSet of kind symbols holding `sequences`.
SequenceSet symbol_set(const std::vector<arma::uvec>& sequences);

// Writes `content` to `path` (binary).
void write_file(const std::filesystem::path& path, const std::string& content);
std::string read_file(const std::filesystem::path& path);

// The gradient check of the recurrent-network tests, shared: fourth-order central differences
// (loss at p +- h and p +- 2h, h = 1e-4 * max(1, |p|)) of `loss` with respect to each of the n
// elements at `data`, compared with analytic[0..n) by |g - fd| / max(|g|, |fd|, 1e-8). Every
// element is restored. Ensures: the worst relative error, its index and both values; and the
// worst relative error among the elements whose |g - fd| exceeds `margin` (an absolute floor for
// the few elements that are themselves near the differences' rounding noise; margin 0 = none).
struct GradientCheck {
  double worst = 0.0;
  std::size_t index = 0;
  double analytic = 0.0, numeric = 0.0;
  double worst_beyond_margin = 0.0;
};
GradientCheck fourth_order_gradient_check(double* data, std::size_t n, const double* analytic,
                                          const std::function<double()>& loss,
                                          double margin = 0.0);

// Matches when shapes agree and every element satisfies |a-b| <= max(abs_tol, rel_tol*|b|).
// On failure it describes the worst element (index, both values).
class ArmaNearMatcher : public Catch::MatcherBase<arma::mat> {
public:
  ArmaNearMatcher(arma::mat expected, double rel_tol, double abs_tol)
      : expected_(std::move(expected)), rel_(rel_tol), abs_(abs_tol) {}
  bool match(const arma::mat& actual) const override;
  std::string describe() const override;

private:
  arma::mat expected_;
  double rel_, abs_;
  mutable std::string detail_;
};

inline ArmaNearMatcher IsNear(const arma::mat& expected, double rel_tol, double abs_tol = 0.0) {
  return ArmaNearMatcher(expected, rel_tol, abs_tol);
}

// Test NLL (nats per frame) of the model that treats every unit of binary frames as an
// independent coin with its training frequency (add-one smoothed): the bar any model of
// structure must clear. Requires a non-empty train set and a test set with frames.
double independent_units_nll(const SequenceSet& train, const SequenceSet& test);

}  // namespace seqlab::test

// Marks the current test as skipped (Catch2 v2 has no SKIP): prints a SKIPPED warning naming the
// missing dataset and returns. SUCCEED() keeps `--warn NoAssertions` from failing the skipped
// test; the meson test 'real-data' reports SKIP as a whole when no mirror is configured.
#define SKIP_WITHOUT_DATA(folder_var, folder_name)                                        \
  const auto folder_var##_opt = ::seqlab::test::real_data_dir(folder_name);               \
  if (!folder_var##_opt) {                                                                \
    WARN("SKIPPED: dataset '" folder_name "' not found in SEQLAB_DATA_PATH");             \
    SUCCEED();                                                                            \
    return;                                                                               \
  }                                                                                       \
  const std::filesystem::path folder_var = *folder_var##_opt
