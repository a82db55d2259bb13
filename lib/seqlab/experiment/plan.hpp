// seqlab/experiment/plan.hpp: an experiment file (TOML) checked and expanded into its plan: the
// list of runs (model x dataset x grid point x seed), each with fully defaulted settings and an
// identity hash. Format: docs/experiments.md; examples: experiments/*.toml.
//
// CHECKED BEFORE ANYTHING RUNS. parse_experiment reports the first problem as one UserError
// "FILE:LINE:COLUMN: what was expected": malformed TOML, an unknown key (with the nearest valid
// key), a wrong type (a list where a number is needed), a value out of range, an unknown model
// type or dataset, an option that does not apply to the model type, an empty grid, two runs with
// the same settings. Every dataset is opened once to check it (and to count parameters).
//
// RUN IDENTITY. A run is identified by the sha256 of its canonical settings text (run_settings):
// the model type, every option of that type with its default filled in, the dataset's identity
// (registry name, or the file's path and sha256 with the reader, its options and the split
// rule), the seed and the threads (a network's result depends on its thread count). The same
// settings written in another file, order or spelling give the same id.
#pragma once

#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "seqlab/data/dataset.hpp"
#include "seqlab/data/options.hpp"
#include "seqlab/models/model_registry.hpp"

namespace seqlab {

// One [[datasets]] entry.
struct DatasetSpec {
  std::string key;            // how models and reports name it: `label`, else the name / file name
  std::string name_or_path;   // a registry name, or a path (relative paths: from the config file)
  bool is_path = false;
  std::string generator;      // synthetic data made here (make_synthetic_dataset), else empty
  Options generator_options;
  std::uint64_t generator_seed = 1;
  std::string reader;         // paths: "" = by extension
  Options reader_options;     // paths
  std::optional<SplitRule> split;  // paths: from split-ratios / split-by; else 90/5/5 contiguous
  std::string identity;       // canonical text: registry name, or path + sha256 + reader + split
  bool optional = false;      // `optional = true`: left out (with a note) when it cannot be opened
  bool available = true;      // false: an optional dataset that could not be opened (no runs)
  std::size_t line = 0, column = 0;
};

// One run of the plan.
struct PlannedRun {
  std::string id;             // 16 hex digits of sha256(settings)
  std::string settings;       // canonical settings text (TOML), see run_settings()
  std::string label;          // model label shown in reports, e.g. "lstm hidden=128"
  std::size_t dataset = 0;    // index into ExperimentPlan::datasets
  ResolvedOptions options;    // the model's options, every default filled in
  std::uint64_t seed = 1;
  unsigned threads = 1;
  // of the model built for the dataset; 0 where the count depends on what training sees (an
  // n-gram model stores the n-grams of the data)
  std::uint64_t parameters = 0;
  double estimated_seconds = 0;   // rough: from the budget and the work per epoch
  std::size_t line = 0;           // the [[models]] table it came from
};

struct ExperimentPlan {
  std::filesystem::path file;       // the experiment file
  std::string text;                 // its verbatim content
  std::string name;                 // [experiment] name, else the file's stem
  std::string description;
  std::vector<std::uint64_t> seeds;
  std::vector<Split> splits;        // scored after training (default valid, test)
  std::vector<std::string> figures; // wanted figures
  unsigned threads = 1;             // per run
  unsigned jobs = 1;                // runs at a time
  std::uint64_t sample_length = 200;  // steps drawn from each trained model for the report
  // Seconds between a network run's training checkpoints (0: at every update); not part of a
  // run's identity, since the result does not depend on it.
  double checkpoint_seconds = 300.0;
  std::vector<DatasetSpec> datasets;
  std::vector<std::string> notes;   // what the plan left out and why (optional datasets)
  std::vector<PlannedRun> runs;     // by model table, grid point (first key slowest), dataset, seed
};

// What the command line may change in a plan (0 = keep the file's value).
struct PlanOverrides {
  unsigned threads = 0;
  unsigned jobs = 0;
};

// The figure names an experiment may ask for.
const std::vector<std::string>& figure_names();

// Requires nothing. Ensures: the checked plan of the experiment file `file` (see above), else a
// UserError naming file:line:column. Cost: reads the file and opens every dataset once.
ExperimentPlan parse_experiment(const std::filesystem::path& file, const PlanOverrides& overrides);
// The same for text already read (`file` names it in messages and anchors relative paths).
ExperimentPlan parse_experiment_text(const std::string& text, const std::filesystem::path& file,
                                     const PlanOverrides& overrides);

// Requires: a spec from a plan. Ensures: the dataset it names, opened with its reader and split.
SequenceDataset open_planned_dataset(const DatasetSpec& spec);

// The canonical settings text of a run (what its id hashes): TOML with keys in a fixed order.
std::string run_settings(const std::string& dataset_identity, const ResolvedOptions& options,
                         std::uint64_t seed, unsigned threads);

// "3 min", "1.2 h": a rough duration for plans.
std::string rough_duration(double seconds);

// ---- shards: one plan split over the tasks of a job array (`seqlab run --shard I/N`) ------------

// Requires: 1 <= index <= count (else std::invalid_argument: the caller checks what users type).
// Ensures: the indices into plan.runs of shard `index` of `count`, ascending (plan order). The
//   `count` shards partition the plan: disjoint, and together every run. They depend only on the
//   runs' ids and estimated seconds, never on the order of the runs, the clock, the machine or
//   the folder, so every task of an array computes the same partition: runs are dealt longest
//   first (equal estimates: smaller run id first) to the shard with the least estimated time so
//   far (ties: fewer runs, then the smaller index). Hence a shard's estimate is at most the mean
//   over shards plus the longest single run, runs of equal estimates are spread evenly by count,
//   and a shard is empty when count exceeds the runs.
// Cost: O(R log R + R log count + count) for R runs.
std::vector<std::size_t> shard_runs(const ExperimentPlan& plan, unsigned index, unsigned count);

// Ensures: the sha256 (hex) of the plan's run ids, sorted, one per line: equal for two plans
//   exactly when they hold the same runs (same settings, datasets, seeds and threads) whatever
//   their order; what tells whether two shards' folders came from one plan. Cost: O(R log R).
std::string plan_fingerprint(const ExperimentPlan& plan);

}  // namespace seqlab
