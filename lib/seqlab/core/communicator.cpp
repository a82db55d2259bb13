// seqlab/core/communicator.cpp: tree_sum, contiguous_share (the division of ordered work units
// among ranks) and the data shards built on it.
#include "seqlab/core/communicator.hpp"

#include <algorithm>
#include <stdexcept>

namespace seqlab {

void tree_sum(const std::vector<const double*>& parts, double* out, std::size_t n) {
  const std::size_t ranks = parts.size();
  if (ranks == 0) throw std::invalid_argument("tree_sum: no parts");
  std::vector<std::vector<double>> partial(ranks);
  for (std::size_t r = 0; r < ranks; ++r) partial[r].assign(parts[r], parts[r] + n);
  for (std::size_t step = 1; step < ranks; step *= 2)
    for (std::size_t r = 0; r + step < ranks; r += 2 * step)
      for (std::size_t i = 0; i < n; ++i) partial[r][i] += partial[r + step][i];
  std::copy(partial[0].begin(), partial[0].end(), out);
}

UnitRange contiguous_share(const std::vector<double>& weights, unsigned rank, unsigned size) {
  if (size == 0 || rank >= size)
    throw std::invalid_argument("contiguous_share: rank must be below size >= 1");
  double total = 0.0;
  for (const double w : weights) total += w;
  // Unit u goes to rank floor(size * middle_u / total), middle_u = the weight before u plus half
  // its own; the ranks are non-decreasing along the units, so each rank's units are contiguous.
  const auto owner = [&](double before, double w) -> unsigned {
    if (!(total > 0.0)) return 0;
    const double r = static_cast<double>(size) * (before + 0.5 * w) / total;
    return r >= static_cast<double>(size) ? size - 1 : static_cast<unsigned>(r);
  };
  UnitRange range{weights.size(), weights.size()};
  bool found = false;
  double before = 0.0;
  for (std::size_t u = 0; u < weights.size(); ++u) {
    const unsigned o = owner(before, weights[u]);
    if (o == rank && !found) {
      range.begin = u;
      found = true;
    }
    if (o > rank) {
      if (!found) range.begin = u;
      range.end = u;
      return range;
    }
    before += weights[u];
  }
  if (!found) range.begin = weights.size();
  range.end = weights.size();
  return range;
}

unsigned long long DataShard::total_steps() const {
  unsigned long long total = 0;
  for (const unsigned long long n : lengths) total += n;
  return total;
}

DataShard make_data_shard(const Communicator* communicator,
                          std::vector<unsigned long long> lengths) {
  if (communicator == nullptr) throw std::invalid_argument("make_data_shard: no communicator");
  DataShard shard;
  shard.communicator = communicator;
  shard.lengths = std::move(lengths);
  const std::vector<double> weights(shard.lengths.begin(), shard.lengths.end());
  shard.mine = contiguous_share(weights, communicator->rank(), communicator->size());
  return shard;
}

}  // namespace seqlab
