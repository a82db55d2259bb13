// tools/seqlab/cmd_bench_hopfield.cpp: `seqlab bench hopfield`: the speed of asynchronous recall
// in a Hopfield network (unit updates per second, N = 1000 units holding P = 100 Hebbian
// patterns by default, cues with 10 % of their units flipped), and the wall time of the
// capacity experiment `seqlab capacity` runs by default (N = 500, 20 loads, 10 seeds; the 3
// classical rules and the modern network's one-update retrieval).
//
// A unit update is one visit of one unit in a sweep (its field read, the unit set to its sign);
// a recall of S sweeps makes S N of them. The rate counts the whole recall: the field's GEMV at
// the start, the sweeps with their incremental field updates per flip, and the recomputation
// that confirms a fixed point. Blocks of recalls are timed and the median block reported. The
// recalls must succeed (final overlap >= 0.95, below the Hebbian capacity at P / N = 0.1): the
// bench says so, since a failed recall would time different work.
#include <chrono>
#include <iostream>

#include "bench_common.hpp"
#include "cli_common.hpp"
#include "commands.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/models/energy/hopfield.hpp"

namespace seqlab::cli {
namespace {

using energy::HopfieldNetwork;
using energy::HopfieldRule;

struct RecallTiming {
  double updates_per_second = 0.0;  // median block
  double sweeps = 0.0;              // mean sweeps per recall
  double recalled = 0.0;            // fraction of recalls ending at overlap >= 0.95
};

RecallTiming time_recall(arma::uword units, arma::uword patterns, double flip, arma::uword cues,
                         arma::uword blocks, std::uint64_t seed) {
  Rng rng = make_rng(seed);
  arma::mat stored(units, patterns);
  stored.imbue([&] { return uniform01(rng) < 0.5 ? -1.0 : 1.0; });
  HopfieldNetwork net;
  net.store(stored, HopfieldRule::hebbian);
  const arma::uword flips = energy::flips_for(flip, units);
  std::vector<arma::vec> cue_list;
  std::vector<arma::uword> target;
  for (arma::uword k = 0; k < cues; ++k) {
    target.push_back(k % patterns);
    cue_list.push_back(energy::flip_units(stored.col(target.back()), flips, rng));
  }
  std::vector<double> rates;
  double sweeps = 0.0, recalled = 0.0;
  for (arma::uword b = 0; b < blocks; ++b) {
    Rng recall_rng = make_rng(derive_seed(seed, 1 + b));
    double block_sweeps = 0.0;
    const auto start = BenchClock::now();
    for (arma::uword k = 0; k < cues; ++k) {
      const energy::AsyncResult r = net.recall(cue_list[k], recall_rng);
      block_sweeps += static_cast<double>(r.sweeps);
      if (b == 0 && energy::overlap(r.state, stored.col(target[k])) >= 0.95) recalled += 1.0;
    }
    const double seconds = seconds_since(start);
    rates.push_back(block_sweeps * static_cast<double>(units) / seconds);
    sweeps += block_sweeps;
  }
  RecallTiming t;
  t.updates_per_second = median(rates);
  t.sweeps = sweeps / static_cast<double>(blocks * cues);
  t.recalled = recalled / static_cast<double>(cues);
  return t;
}

}  // namespace

int bench_hopfield(const std::vector<std::string>& args) {
  po::options_description desc("options");
  CommonOptions common;
  arma::uword units = 1000, patterns = 100, cues = 200, blocks = 5;
  double flip = 0.1;
  bool skip_capacity = false;
  desc.add_options()
      ("units", po::value<arma::uword>(&units)->default_value(1000), "N, units of the network")
      ("patterns", po::value<arma::uword>(&patterns)->default_value(100),
       "P, random patterns stored by the Hebbian rule")
      ("flip", po::value<double>(&flip)->default_value(0.1, "0.1"),
       "fraction of each cue's units flipped")
      ("cues", po::value<arma::uword>(&cues)->default_value(200), "recalls per timed block")
      ("blocks", po::value<arma::uword>(&blocks)->default_value(5),
       "timed blocks, the median is reported")
      ("no-capacity", po::bool_switch(&skip_capacity),
       "skip timing the default capacity experiment");
  add_common_options(desc, common, kJson | kSeed);
  po::variables_map vm;
  if (!parse_command_line(
          "bench hopfield",
          "[--units 1000] [--patterns 100] [--flip 0.1] [--cues 200] [--no-capacity]\n"
          "Asynchronous recall in a Hopfield network: unit updates per second over whole\n"
          "recalls from noisy cues (one thread); then the wall time of the capacity experiment\n"
          "that 'seqlab capacity' runs by default (N = 500, 20 loads, 3 rules + modern, 10 seeds).",
          args, desc, nullptr, vm))
    return 0;
  if (units < 2 || units > 20000) user_error("bench hopfield: --units must be in [2, 20000]");
  if (patterns < 1 || patterns > units)
    user_error("bench hopfield: --patterns must be in [1, --units]");
  if (!(flip >= 0.0 && flip <= 0.5)) user_error("bench hopfield: --flip must be in [0, 0.5]");
  if (cues == 0 || blocks == 0) user_error("bench hopfield: --cues and --blocks must be >= 1");

  const RecallTiming t = time_recall(units, patterns, flip, cues, blocks, common.seed);
  double capacity_seconds = -1.0;
  if (!skip_capacity) {
    energy::CapacityOptions c;
    for (int i = 0; i < 20; ++i) c.loads.push_back(0.02 + 0.02 * i);
    c.seeds.clear();
    for (std::uint64_t s = 0; s < 10; ++s) c.seeds.push_back(common.seed + s);
    c.modern_beta = 1.0;  // as `seqlab capacity` (its --beta default)
    const auto start = BenchClock::now();
    (void)energy::run_capacity_experiment(c);
    capacity_seconds = seconds_since(start);
  }
  if (common.json) {
    JsonObject row;
    row.add("units", static_cast<std::uint64_t>(units));
    row.add("patterns", static_cast<std::uint64_t>(patterns));
    row.add("flip", flip);
    row.add("unit_updates_per_second", t.updates_per_second);
    row.add("sweeps_per_recall", t.sweeps);
    row.add("fraction_recalled", t.recalled);
    if (capacity_seconds >= 0.0) row.add("capacity_seconds", capacity_seconds);
    std::cout << row.str() << "\n";
    return 0;
  }
  std::cout << "Hopfield asynchronous recall, N = " << units << ", P = " << patterns
            << " (Hebbian), cues with " << flip * 100.0 << " % of units flipped, one thread\n";
  std::cout << "  unit updates per second   " << t.updates_per_second / 1e6
            << " million (median of " << blocks << " blocks of " << cues << " recalls)\n";
  std::cout << "  recalls per second        "
            << t.updates_per_second / (t.sweeps * static_cast<double>(units)) << "\n";
  std::cout << "  sweeps per recall         " << t.sweeps << "\n";
  std::cout << "  recalled (overlap >= 0.95) " << t.recalled
            << (t.recalled < 1.0 ? "  (some recalls failed: the load is past capacity)" : "")
            << "\n";
  if (capacity_seconds >= 0.0)
    std::cout << "capacity experiment (N = 500, 20 loads, 3 rules + modern, 10 seeds, one thread): "
              << capacity_seconds << " s\n";
  return 0;
}

}  // namespace seqlab::cli
