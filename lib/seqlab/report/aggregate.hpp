// seqlab/report/aggregate.hpp: runs grouped as the report compares them. A "model" of the report
// is one label on one dataset; its runs differ by seed only (the experiment driver gives every
// configuration its own label). Statistics over seeds are taken here, once, for the tables and
// the figures alike.
#pragma once

#include <cstddef>
#include <limits>
#include <string>
#include <vector>

#include "seqlab/io/results_file.hpp"

namespace seqlab::report {

// Mean, sample standard deviation (n - 1; NaN for one value), minimum and maximum of the values
// that are not NaN (an infinity counts and propagates). n = 0: every field NaN.
struct Stat {
  std::size_t n = 0;
  double mean = std::numeric_limits<double>::quiet_NaN();
  double sd = std::numeric_limits<double>::quiet_NaN();
  double min = std::numeric_limits<double>::quiet_NaN();
  double max = std::numeric_limits<double>::quiet_NaN();
};
Stat stat_of(const std::vector<double>& values);

struct ModelGroup {
  std::string dataset, label, family, model_type, unit;
  std::string task;                    // "" (a sequence model), "classify" or "regress"
  std::vector<const RunResult*> runs;  // one per seed, by seed
  // 1-based rank within the dataset: sequence models by mean test bits; task models among
  // themselves by their test objective (MSE, or label NLL)
  std::size_t rank = 0;
  Stat test_nats, test_bits, test_perplexity, valid_bits, parameters, wall_seconds, updates;
  // The standard error of each run's test NLL (nats per step) where it is an estimate (AIS);
  // all 0 when exact.
  Stat test_nats_stderr;
  // Task groups: test metrics over seeds (regress: MSE, the mean target's MSE and their ratio;
  // classify: accuracy and label NLL in bits per sequence).
  Stat test_mse, test_baseline_mse, test_relative_mse, test_accuracy, test_label_bits;
  // The dataset's floor in nats per step (from the first run that knows it), else NaN.
  double floor_nats = std::numeric_limits<double>::quiet_NaN();
  // The run shown where one run stands for the group (samples, per-family figures): the lowest
  // test NLL (ties and missing scores: the lowest seed).
  const RunResult* best = nullptr;
};

// Requires: the RunResults outlive the groups (they point into `runs`).
// Ensures: one group per (dataset, label), ordered by dataset name, then sequence models before
//   task models, then by rank: mean test bits per step (task models: mean test MSE, or label
//   NLL) ascending (groups without a test score last), ties by label.
std::vector<ModelGroup> group_runs(const std::vector<RunResult>& runs);

// The datasets of `groups` in order of first appearance (their sorted order).
std::vector<std::string> datasets_of(const std::vector<ModelGroup>& groups);

// Report order of the families: "n-gram", "HMM", "RNN", then any others alphabetically.
std::vector<std::string> family_order(const std::vector<ModelGroup>& groups);

// The groups of sequence models (task.empty()), or of sequence-level task models.
std::vector<ModelGroup> sequence_groups(const std::vector<ModelGroup>& groups);
std::vector<ModelGroup> task_groups(const std::vector<ModelGroup>& groups);

// "bits per symbol" / "bits per frame" (or nats), the unit every per-step number of a run has.
std::string per_step(const std::string& measure, const std::string& unit);

}  // namespace seqlab::report
