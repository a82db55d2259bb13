// tools/seqlab/cmd_run.cpp: `seqlab run EXPERIMENT.toml`: checks an experiment file, prints its
// plan (--dry-run) or runs it into a results folder. Thin over lib/seqlab/experiment.
#include <cstdio>
#include <iostream>
#include <set>

#include "cli_common.hpp"
#include "commands.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/experiment/plan.hpp"

namespace seqlab::cli {
namespace {

// "1,234,567"
std::string commas(std::uint64_t n) {
  std::string digits = std::to_string(n), out;
  for (std::size_t i = 0; i < digits.size(); ++i) {
    if (i > 0 && (digits.size() - i) % 3 == 0) out += ',';
    out += digits[i];
  }
  return out;
}

void print_plan(const ExperimentPlan& plan, const std::string& out_dir) {
  std::set<std::size_t> datasets;
  double total = 0.0;
  for (const auto& run : plan.runs) {
    datasets.insert(run.dataset);
    total += run.estimated_seconds;
  }
  std::string seeds;
  for (const auto s : plan.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(s);
  std::printf("experiment %s (%s): %zu run%s on %zu dataset%s, seed%s %s\n", plan.name.c_str(),
              plan.file.string().c_str(), plan.runs.size(), plan.runs.size() == 1 ? "" : "s",
              datasets.size(), datasets.size() == 1 ? "" : "s", plan.seeds.size() == 1 ? "" : "s",
              seeds.c_str());
  std::printf("results folder: %s\n", out_dir.c_str());
  for (const auto& note : plan.notes) std::printf("note: %s\n", note.c_str());
  std::size_t label_width = 5, dataset_width = 7;
  for (const auto& run : plan.runs) {
    label_width = std::max(label_width, run.label.size());
    dataset_width = std::max(dataset_width, plan.datasets[run.dataset].key.size());
  }
  std::printf("  %-16s  %-*s  %-*s  %6s  %12s  %9s\n", "run", static_cast<int>(dataset_width),
              "dataset", static_cast<int>(label_width), "model", "seed", "parameters",
              "estimate");
  for (const auto& run : plan.runs)
    std::printf("  %-16s  %-*s  %-*s  %6llu  %12s  %9s\n", run.id.c_str(),
                static_cast<int>(dataset_width), plan.datasets[run.dataset].key.c_str(),
                static_cast<int>(label_width), run.label.c_str(),
                static_cast<unsigned long long>(run.seed), commas(run.parameters).c_str(),
                rough_duration(run.estimated_seconds).c_str());
  std::printf("rough estimate: %s in all, %s with %u job%s at a time of %u thread%s each "
              "(from the budget and the work per epoch; max-time caps where set)\n",
              rough_duration(total).c_str(), rough_duration(total / plan.jobs).c_str(), plan.jobs,
              plan.jobs == 1 ? "" : "s", plan.threads, plan.threads == 1 ? "" : "s");
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  CommonOptions common;
  std::string file, out;
  std::int64_t jobs = 0, threads = 0;
  bool dry_run = false;
  po::options_description desc("Options");
  desc.add_options()
    ("experiment", po::value(&file)->value_name("FILE.toml"), "the experiment file")
    ("out,o", po::value(&out)->value_name("DIR"),
     "the results folder (default: results/<experiment name>)")
    ("jobs,j", po::value(&jobs)->value_name("J"),
     "runs at a time (default: the file's [experiment] jobs, else 1)")
    ("threads", po::value(&threads)->value_name("T"),
     "threads of each run (default: the file's [experiment] threads, else 1); part of a run's "
     "identity, since a network's result depends on it")
    ("dry-run,n", po::bool_switch(&dry_run),
     "check the file, print the plan (runs, parameters, a rough time estimate) and exit");
  add_common_options(desc, common, 0);
  po::positional_options_description positional;
  positional.add("experiment", 1);
  po::variables_map vm;
  if (!parse_command_line("run", "EXPERIMENT.toml [--out DIR] [--jobs J] [--threads T] "
                                 "[--dry-run]",
                          args, desc, &positional, vm))
    return 0;
  if (file.empty()) user_error("run: an experiment file is required (see 'seqlab run --help')");
  PlanOverrides overrides;
  if (vm.count("jobs")) {
    if (jobs < 1 || jobs > 1024)
      user_error("run: --jobs must be between 1 and 1024, got " + std::to_string(jobs));
    overrides.jobs = static_cast<unsigned>(jobs);
  }
  if (vm.count("threads")) {
    if (threads < 1 || threads > static_cast<std::int64_t>(max_threads()))
      user_error("run: --threads must be between 1 and " + std::to_string(max_threads()) +
                 " (4 x this machine's cores), got " + std::to_string(threads));
    overrides.threads = static_cast<unsigned>(threads);
  }
  const ExperimentPlan plan = parse_experiment(file, overrides);
  if (out.empty()) out = "results/" + plan.name;
  if (dry_run) {
    print_plan(plan, out);
    return 0;
  }
  user_error("run: running a plan is not built yet; --dry-run checks the file and prints it");
}

}  // namespace seqlab::cli
