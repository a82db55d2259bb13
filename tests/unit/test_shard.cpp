// tests/unit/test_shard.cpp: a plan cut into shards for job arrays (shard_runs: a partition,
// the same whatever the run order, balanced by estimated time; a hand-worked case), the plan's
// fingerprint, shard records, the folder lock, and merging results folders (copies once, keeps
// the target's file on a conflict, leaves unfinished files behind, refuses other experiments,
// changes nothing the second time).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <numeric>
#include <set>

#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/experiment/merge.hpp"
#include "seqlab/io/results_file.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

std::string hex_id(std::uint64_t n) {
  char buffer[17];
  std::snprintf(buffer, sizeof buffer, "%016llx", static_cast<unsigned long long>(n));
  return buffer;
}

// A plan of runs with the given estimates; run i gets id hex_id(ids[i]) (default: i).
ExperimentPlan plan_with(const std::vector<double>& seconds,
                         const std::vector<std::uint64_t>& ids = {}) {
  ExperimentPlan plan;
  for (std::size_t i = 0; i < seconds.size(); ++i) {
    PlannedRun run;
    run.id = hex_id(ids.empty() ? i : ids[i]);
    run.estimated_seconds = seconds[i];
    plan.runs.push_back(run);
  }
  return plan;
}

double seconds_of(const ExperimentPlan& plan, const std::vector<std::size_t>& runs) {
  double total = 0.0;
  for (const std::size_t i : runs) total += plan.runs[i].estimated_seconds;
  return total;
}

std::set<std::string> ids_of(const ExperimentPlan& plan, const std::vector<std::size_t>& runs) {
  std::set<std::string> ids;
  for (const std::size_t i : runs) ids.insert(plan.runs[i].id);
  return ids;
}

}  // namespace

TEST_CASE("shards partition the plan, whatever the order of its runs", "[shard]") {
  Rng rng = make_rng(20261207);
  for (const std::size_t runs : {1u, 7u, 40u, 203u}) {
    std::vector<double> seconds(runs);
    for (double& s : seconds) s = std::exp(6.0 * uniform01(rng));  // 1 s to 7 min, skewed
    seconds[runs / 2] = seconds[0];                                  // a tie, broken by id
    const ExperimentPlan plan = plan_with(seconds);
    // The same runs in another order (what another spelling of the file could give).
    std::vector<std::size_t> order(runs);
    std::iota(order.begin(), order.end(), std::size_t{0});
    std::reverse(order.begin(), order.end());
    std::rotate(order.begin(), order.begin() + static_cast<std::ptrdiff_t>(runs / 3), order.end());
    std::vector<double> permuted_seconds;
    std::vector<std::uint64_t> permuted_ids;
    for (const std::size_t i : order) {
      permuted_seconds.push_back(seconds[i]);
      permuted_ids.push_back(i);
    }
    const ExperimentPlan permuted = plan_with(permuted_seconds, permuted_ids);
    for (const unsigned count : {1u, 2u, 3u, 8u, 250u}) {
      CAPTURE(runs, count);
      std::vector<int> owner(runs, 0);
      double largest = *std::max_element(seconds.begin(), seconds.end());
      double mean = std::accumulate(seconds.begin(), seconds.end(), 0.0) / count;
      double busiest = 0.0;
      for (unsigned index = 1; index <= count; ++index) {
        const std::vector<std::size_t> mine = shard_runs(plan, index, count);
        CHECK(std::is_sorted(mine.begin(), mine.end()));
        for (const std::size_t i : mine) {
          REQUIRE(i < runs);
          ++owner[i];
        }
        busiest = std::max(busiest, seconds_of(plan, mine));
        // The same call gives the same shard, and so does the plan in another order.
        CHECK(shard_runs(plan, index, count) == mine);
        CHECK(ids_of(permuted, shard_runs(permuted, index, count)) == ids_of(plan, mine));
        if (index > runs) CHECK(mine.empty());
      }
      // Each run in exactly one shard.
      CHECK(std::all_of(owner.begin(), owner.end(), [](int n) { return n == 1; }));
      // Greedy longest-first: no shard above the mean by more than one run.
      CHECK(busiest <= mean + largest + 1e-9 * mean);
    }
  }
}

TEST_CASE("a hand-worked partition: longest first to the least loaded shard", "[shard]") {
  // 5 s -> shard 1 (5); 4 s -> shard 2 (4); the 3 s runs by id: 2 -> shard 2 (7),
  // 3 -> shard 1 (8), 4 -> shard 2 (10).
  const ExperimentPlan plan = plan_with({3.0, 4.0, 3.0, 5.0, 3.0}, {4, 1, 2, 0, 3});
  CHECK(shard_runs(plan, 1, 2) == std::vector<std::size_t>{3, 4});
  CHECK(shard_runs(plan, 2, 2) == std::vector<std::size_t>{0, 1, 2});
  CHECK(seconds_of(plan, shard_runs(plan, 1, 2)) == 8.0);
  CHECK(seconds_of(plan, shard_runs(plan, 2, 2)) == 10.0);
}

TEST_CASE("runs of equal estimates are spread evenly by count", "[shard]") {
  const ExperimentPlan plan = plan_with(std::vector<double>(20, 0.0));
  std::size_t total = 0;
  for (unsigned index = 1; index <= 6; ++index) {
    const std::size_t n = shard_runs(plan, index, 6).size();
    CAPTURE(index);
    CHECK((n == 3 || n == 4));
    total += n;
  }
  CHECK(total == 20);
  // A NaN estimate counts as 0 and keeps the partition a partition.
  ExperimentPlan odd = plan_with({1.0, std::nan(""), 2.0});
  CHECK(shard_runs(odd, 1, 2).size() + shard_runs(odd, 2, 2).size() == 3);
}

TEST_CASE("shard_runs refuses shards outside 1..count", "[shard]") {
  const ExperimentPlan plan = plan_with({1.0, 2.0});
  CHECK_THROWS_AS(shard_runs(plan, 0, 3), std::invalid_argument);
  CHECK_THROWS_AS(shard_runs(plan, 4, 3), std::invalid_argument);
  CHECK_THROWS_AS(shard_runs(plan, 1, 0), std::invalid_argument);
}

TEST_CASE("the plan fingerprint depends on the run ids, not their order", "[shard]") {
  const ExperimentPlan a = plan_with({1.0, 2.0, 3.0}, {5, 6, 7});
  const ExperimentPlan b = plan_with({3.0, 1.0, 2.0}, {7, 5, 6});
  const ExperimentPlan c = plan_with({1.0, 2.0, 3.0}, {5, 6, 8});
  CHECK(plan_fingerprint(a) == plan_fingerprint(b));
  CHECK(plan_fingerprint(a) != plan_fingerprint(c));
  CHECK(plan_fingerprint(a).size() == 64);
}

TEST_CASE("a shard record names the plan and the shards run into a folder", "[shard]") {
  test::ScratchDir dir;
  const ExperimentPlan plan = plan_with({1.0, 2.0, 3.0, 4.0, 5.0});
  CHECK_FALSE(read_shard_record(dir.path()));
  const ShardRecord first = record_shard(dir.path(), plan, 2, 3, shard_runs(plan, 2, 3));
  const auto back = read_shard_record(dir.path());
  REQUIRE(back);
  CHECK(back->plan == plan_fingerprint(plan));
  CHECK(back->plan_runs == 5);
  CHECK(back->count == 3);
  CHECK(back->shards == std::vector<unsigned>{2});
  CHECK(back->runs == first.runs);
  CHECK(back->runs.size() == shard_runs(plan, 2, 3).size());

  SECTION("another shard of the same plan into the same folder adds to the record") {
    record_shard(dir.path(), plan, 1, 3, shard_runs(plan, 1, 3));
    const auto both = read_shard_record(dir.path());
    REQUIRE(both);
    CHECK(both->shards == std::vector<unsigned>{1, 2});
    CHECK(both->runs.size() ==
          shard_runs(plan, 1, 3).size() + shard_runs(plan, 2, 3).size());
    CHECK(std::is_sorted(both->runs.begin(), both->runs.end()));
  }
  SECTION("another count replaces it") {
    record_shard(dir.path(), plan, 1, 2, shard_runs(plan, 1, 2));
    CHECK(read_shard_record(dir.path())->shards == std::vector<unsigned>{1});
    CHECK(read_shard_record(dir.path())->count == 2);
  }
  SECTION("a damaged record is a one-line error naming it") {
    test::write_file(dir / "shard.toml", "plan = 'x'\nplan-runs = 3\nshard-count = 2\n"
                                         "shards = [3]\nruns = []\n");
    CHECK_THROWS_WITH(read_shard_record(dir.path()),
                      Contains("shard.toml") && Contains("shards must be integers from 1"));
    test::write_file(dir / "shard.toml", "plan = [");
    CHECK_THROWS_WITH(read_shard_record(dir.path()), Contains("malformed shard record"));
  }
}

TEST_CASE("a folder lock admits one holder", "[shard]") {
  test::ScratchDir dir;
  {
    const FolderLock held(dir.path(), "busy: try later");
    CHECK_THROWS_WITH(FolderLock(dir.path(), "busy: try later"), Contains("busy: try later"));
  }
  CHECK_NOTHROW(FolderLock(dir.path(), "busy"));
}

namespace {

// Results folders holding run files of small HMMs on the casino rolls.
struct Folders {
  test::ScratchDir root;
  SequenceDataset data = [] {
    Options options;
    options.set("sequences", "6");
    options.set("length", "80");
    return make_synthetic_dataset("casino", "casino", options, 5);
  }();

  fs::path folder(const std::string& name, const std::string& config = "name = 'x'\n") {
    const fs::path dir = root / name;
    fs::create_directories(dir / "runs");
    fs::create_directories(dir / "logs");
    test::write_file(dir / "config.toml", config);
    return dir;
  }

  // A run file runs/<id>.h5 (and its log); `seed` changes its content.
  void run(const fs::path& dir, const std::string& id, std::uint64_t seed) {
    CategoricalHmmOptions options;
    options.states = 2;
    options.train.max_iterations = 2;
    CategoricalHmm model(data.alphabet, options);
    FitOptions fit;
    fit.seed = seed;
    model.fit(data.train, &data.valid, fit, nullptr);
    RunResult r;
    r.run_id = id;
    r.label = "hmm states=2";
    r.model_type = "hmm";
    r.family = "HMM";
    r.dataset = "casino";
    r.seed = seed;
    r.environment = current_environment(1);
    r.test = split_metrics(evaluate(model, data, Split::test), SequenceKind::symbols);
    write_run_file(dir / "runs" / (id + ".h5"), r, model);
    test::write_file(dir / "logs" / (id + ".log"), "log of " + id + " seed " +
                                                       std::to_string(seed) + "\n");
  }
};

std::vector<std::string> run_names(const fs::path& dir) {
  std::vector<std::string> names;
  for (const auto& e : fs::directory_iterator(dir / "runs"))
    names.push_back(e.path().filename().string());
  std::sort(names.begin(), names.end());
  return names;
}

}  // namespace

TEST_CASE("merging copies each run once and never replaces a good file", "[shard]") {
  Folders f;
  const fs::path a = f.folder("a"), b = f.folder("b"), out = f.root / "merged";
  f.run(a, "0000000000000001", 1);
  f.run(a, "0000000000000002", 2);
  f.run(b, "0000000000000003", 3);
  fs::copy_file(a / "runs" / "0000000000000002.h5", b / "runs" / "0000000000000002.h5");
  f.run(b, "0000000000000001", 11);  // the same id with other content: a conflict
  // Left behind: a write in progress, a checkpoint, a damaged file, something else.
  test::write_file(b / "runs" / "0000000000000004.h5.tmp.4321", "half");
  test::write_file(b / "runs" / "0000000000000005.ckpt", "state");
  test::write_file(b / "runs" / "0000000000000006.h5", "not hdf5");
  test::write_file(b / "runs" / "notes.txt", "x");

  const MergeReport report = merge_results_folders(out, {a, b});
  REQUIRE(report.sources.size() == 2);
  CHECK(report.sources[0].copied == 2);
  CHECK(report.sources[1].copied == 1);
  CHECK(report.sources[1].present == 1);
  CHECK(report.sources[1].conflicts == 1);
  CHECK(report.sources[1].unfinished == 2);
  CHECK(report.sources[1].skipped == 2);
  CHECK(run_names(out) == std::vector<std::string>{"0000000000000001.h5", "0000000000000002.h5",
                                                   "0000000000000003.h5"});
  // The first source's file is kept, byte for byte, with its own log.
  CHECK(test::read_file(out / "runs" / "0000000000000001.h5") ==
        test::read_file(a / "runs" / "0000000000000001.h5"));
  CHECK(test::read_file(out / "logs" / "0000000000000001.log") == "log of 0000000000000001 seed 1\n");
  CHECK(test::read_file(out / "logs" / "0000000000000003.log") == "log of 0000000000000003 seed 3\n");
  REQUIRE(report.warnings.size() == 3);
  const auto conflict = std::find_if(report.warnings.begin(), report.warnings.end(),
                                     [](const std::string& w) { return w.rfind("run ", 0) == 0; });
  REQUIRE(conflict != report.warnings.end());
  CHECK_THAT(*conflict, Contains((out / "runs" / "0000000000000001.h5").string()) &&
                            Contains((b / "runs" / "0000000000000001.h5").string()));
  CHECK(test::read_file(out / "config.toml") == "name = 'x'\n");
  CHECK(report.config_written);
  CHECK(report.summary.runs.size() == 3);
  CHECK_FALSE(report.plan_runs);
  CHECK(fs::exists(out / "results.csv"));

  SECTION("merging again changes nothing") {
    const std::string csv = test::read_file(out / "results.csv");
    const std::string first = test::read_file(out / "runs" / "0000000000000001.h5");
    const MergeReport again = merge_results_folders(out, {a, b});
    CHECK(again.sources[0].copied + again.sources[1].copied == 0);
    CHECK(again.sources[0].present == 2);
    CHECK_FALSE(again.config_written);
    CHECK(test::read_file(out / "results.csv") == csv);
    CHECK(test::read_file(out / "runs" / "0000000000000001.h5") == first);
    CHECK(run_names(out).size() == 3);
  }
  SECTION("an unreadable run file in the target is replaced") {
    test::write_file(out / "runs" / "0000000000000003.h5", "damaged");
    const MergeReport again = merge_results_folders(out, {b});
    CHECK(again.sources[0].copied == 1);
    CHECK(test::read_file(out / "runs" / "0000000000000003.h5") ==
          test::read_file(b / "runs" / "0000000000000003.h5"));
  }
}

TEST_CASE("merging refuses other experiments, non-folders and busy folders before writing",
          "[shard]") {
  Folders f;
  const fs::path a = f.folder("a"), out = f.root / "merged";
  const fs::path other = f.folder("other", "name = 'y'\n");
  f.run(a, "0000000000000001", 1);
  CHECK_THROWS_WITH(merge_results_folders(out, {a, other}),
                    Contains(a.string()) && Contains(other.string()) &&
                        Contains("different experiments"));
  CHECK_FALSE(fs::exists(out));
  test::write_file(f.root / "file", "x");
  CHECK_THROWS_WITH(merge_results_folders(out, {a, f.root / "file"}),
                    Contains("not a results folder"));
  CHECK_THROWS_WITH(merge_results_folders(out, {a, f.root / "missing"}),
                    Contains("no such results folder"));
  fs::remove(other / "config.toml");
  CHECK_THROWS_WITH(merge_results_folders(out, {a, other}), Contains("no config.toml"));
  CHECK_THROWS_WITH(merge_results_folders(a, {a}), Contains("both a source and --out"));
  CHECK_FALSE(fs::exists(out));
  {
    const FolderLock running(a, "held");  // what a 'seqlab run' writing into `a` holds
    CHECK_THROWS_WITH(merge_results_folders(out, {a}), Contains("still writing"));
  }
  fs::create_directories(out);
  test::write_file(out / "something", "x");
  CHECK_THROWS_WITH(merge_results_folders(out, {a}), Contains("not a results folder"));
  CHECK(run_names(a).size() == 1);
}

TEST_CASE("shard records tell a merge what is missing and which plans differ", "[shard]") {
  Folders f;
  const ExperimentPlan plan = plan_with({1.0, 2.0, 3.0, 4.0, 5.0, 6.0}, {1, 2, 3, 4, 5, 6});
  const fs::path s1 = f.folder("s1"), s2 = f.folder("s2"), out = f.root / "merged";
  for (const auto& [dir, index] : {std::pair{s1, 1u}, std::pair{s2, 2u}}) {
    const auto mine = shard_runs(plan, index, 3);
    record_shard(dir, plan, index, 3, mine);
    for (const std::size_t i : mine)
      if (!(index == 2 && i == mine.front())) f.run(dir, plan.runs[i].id, i + 1);
  }
  const MergeReport report = merge_results_folders(out, {s1, s2});
  REQUIRE(report.plan_runs);
  CHECK(*report.plan_runs == 6);
  CHECK(report.shard_count == 3);
  CHECK(report.shards_absent == std::vector<unsigned>{3});
  CHECK(report.sources[0].missing.empty());
  CHECK(report.sources[1].missing ==
        std::vector<std::string>{plan.runs[shard_runs(plan, 2, 3).front()].id});
  CHECK(report.summary.runs.size() == 3);

  const ExperimentPlan other = plan_with({1.0, 2.0, 3.0}, {7, 8, 9});
  const fs::path t = f.folder("t");
  record_shard(t, other, 3, 3, shard_runs(other, 3, 3));
  CHECK_THROWS_WITH(merge_results_folders(f.root / "merged2", {s1, t}),
                    Contains("different plans") && Contains(s1.string()) && Contains(t.string()));
  CHECK_FALSE(fs::exists(f.root / "merged2"));
}
