// seqlab/core/communicator.hpp: how one computation spread over several processes (MPI ranks)
// combines its partial results. The library never calls MPI itself: a program that runs under
// MPI implements Communicator (the seqlab program's MPI build does) and passes it in FitOptions;
// without one, everything runs in this process as it always did.
//
// DETERMINISM. Every operation leaves the same bits on every rank and depends only on the number
// of ranks, never on the order in which messages arrive: sums follow one fixed binary tree over
// the ranks (tree_sum below), the lower ranks' partial sum always on the left. With one
// rank nothing is added, so a one-rank run is bitwise the single-process one.
//
// ERRORS. A rank that fails (bad input, a sequence of probability 0) must not leave the others
// waiting in a collective forever: the parts of a computation that can fail run before an
// agree() call, which turns one rank's error into the same one-line UserError on every rank.
#pragma once

#include <cstddef>
#include <string>
#include <vector>

namespace seqlab {

class Communicator {
 public:
  virtual ~Communicator() = default;

  // This process's rank in [0, size()), and the number of ranks (>= 1).
  virtual unsigned rank() const = 0;
  virtual unsigned size() const = 0;

  // Requires: every rank calls it with the same n. Ensures on every rank: data[i] = the sum over
  //   the ranks of their data[i], added as tree_sum says (for R <= 3 that is rank order
  //   0, 1, 2). Cost: log2(R) rounds of n doubles towards rank 0, then n back to every rank.
  virtual void sum_in_rank_order(double* data, std::size_t n) const = 0;

  // Requires: every rank calls it. Ensures on every rank: rank 0's value. For decisions taken on
  //   one clock (a time budget), so that every rank takes the same branch.
  virtual bool broadcast_flag(bool value) const = 0;

  // Requires: every rank calls it; `error` is empty where this rank succeeded, else its one-line
  //   message. Ensures: returns normally on every rank when every rank succeeded; otherwise
  //   throws on every rank the UserError of the lowest failing rank (the same line everywhere).
  virtual void agree(const std::string& error) const = 0;
};

// THE ORDER OF A SUM OVER RANKS. Rank r starts with its own part s_r; for step = 1, 2, 4, ...
// while step < R, every rank r that is a multiple of 2 step with r + step < R adds
// s_r = s_r + s_{r + step}; the sum is s_0. So R = 4 adds (x0 + x1) + (x2 + x3). A Communicator
// over MPI runs it as messages; tree_sum does it in one process over the R parts (for tests and
// in-process ranks). Requires parts of n values each. Ensures out[i] = that sum of parts[r][i].
void tree_sum(const std::vector<const double*>& parts, double* out, std::size_t n);

// A contiguous range [begin, end) of work units.
struct UnitRange {
  std::size_t begin = 0, end = 0;
};

// Requires: weights >= 0 and finite; size >= 1, rank < size. Ensures: the units (in their order)
//   that rank `rank` of `size` takes: contiguous ranges that partition [0, weights.size()) in
//   rank order, unit u going to the rank whose share of the total weight holds the middle of u's
//   weight (so every rank's weight is within the largest unit of total / size). Depends on the
//   weights and the size only. Cost O(units).
UnitRange contiguous_share(const std::vector<double>& weights, unsigned rank, unsigned size);

// A training set split over the ranks of an MPI job, so that no rank holds all of it: the
// sequences have one global order, and each rank holds only its contiguous share of them
// (contiguous_share by length, so the ranks get nearly equal numbers of steps). A model that
// combines per-sequence results indexes them by mine.begin + local index; one that needs a
// property of the whole set (a count, a sample of frames) gets it from `lengths` and sums over
// the ranks.
struct DataShard {
  const Communicator* communicator = nullptr;  // the ranks; non-null
  std::vector<unsigned long long> lengths;     // every sequence's length, in the global order
  UnitRange mine;                              // the sequences this rank holds
  std::size_t count() const { return lengths.size(); }
  unsigned long long total_steps() const;
};

// Requires: communicator non-null. Ensures: the shard of rank communicator->rank() for a set
//   with these sequence lengths (global order). Cost O(sequences).
DataShard make_data_shard(const Communicator* communicator,
                          std::vector<unsigned long long> lengths);

// Runs `check` (validation of this rank's part of the data); under a shard of several ranks the
// first failing rank's UserError is then thrown on every rank (agree()), so that no rank waits
// in a later collective for one that failed. Without a shard it simply runs `check`.
template <class Check>
void agreed_check(const DataShard* shard, Check&& check);

}  // namespace seqlab

// ---- implementation of the template above ---------------------------------------------------
#include "seqlab/core/error.hpp"

namespace seqlab {

template <class Check>
void agreed_check(const DataShard* shard, Check&& check) {
  if (shard == nullptr || shard->communicator->size() <= 1) {
    check();
    return;
  }
  std::string failure;
  try {
    check();
  } catch (const UserError& e) {
    failure = e.what();
  }
  shard->communicator->agree(failure);
}

}  // namespace seqlab
