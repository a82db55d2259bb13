// tools/seqlab/cmd_merge.cpp: `seqlab merge --out DIR FOLDER...`: results folders of one
// experiment (the shards of a job array, `seqlab run --shard I/N`) combined into one, which
// `seqlab report` reads like any other. Thin over merge_results_folders (experiment/merge.hpp);
// this file words what it did: where the runs came from and what the plan still lacks.
#include <algorithm>
#include <cstdio>
#include <iostream>

#include "cli_common.hpp"
#include "commands.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/experiment/merge.hpp"

namespace seqlab::cli {
namespace fs = std::filesystem;

namespace {

std::string plural(std::size_t n, const std::string& word) {
  return std::to_string(n) + " " + word + (n == 1 ? "" : "s");
}

std::string shard_names(const std::vector<unsigned>& shards, unsigned count) {
  std::string s;
  for (const unsigned i : shards)
    s += (s.empty() ? "" : ", ") + std::to_string(i) + "/" + std::to_string(count);
  return s;
}

// One line per source: what came from it, and what of its shards it lacks.
std::string source_line(const MergedSource& s, const fs::path& target) {
  std::string line = s.dir.string();
  if (s.shard) line += " (shard" + std::string(s.shard->shards.size() == 1 ? " " : "s ") +
                       shard_names(s.shard->shards, s.shard->count) + ")";
  line += ": " + plural(s.copied, "run") + " copied";
  if (s.present > 0) line += ", " + std::to_string(s.present) + " already in " + target.string();
  if (s.conflicts > 0)
    line += ", " + std::to_string(s.conflicts) + " differing from " + target.string() + "'s (kept)";
  if (s.skipped > 0) line += ", " + std::to_string(s.skipped) + " unreadable (not copied)";
  if (s.unfinished > 0)
    line += ", " + std::to_string(s.unfinished) + " unfinished (checkpoints or partial files, " +
            "left there)";
  if (!s.missing.empty()) {
    line += "; " + std::to_string(s.missing.size()) + " of the " +
            plural(s.shard->runs.size(), "run") + " of its shard" +
            (s.shard->shards.size() == 1 ? "" : "s") +
            " are not finished: run the same shard again with --out " + s.dir.string() +
            " (it resumes), then merge again";
  }
  return line;
}

}  // namespace

int merge_command(const std::vector<std::string>& args) {
  CommonOptions common;
  std::string out;
  std::vector<std::string> folders;
  po::options_description desc("Options");
  desc.add_options()
    ("out,o", po::value(&out)->value_name("DIR"),
     "the results folder to merge into: new, empty, or a results folder of the same experiment "
     "(its run files are kept)");
  add_common_options(desc, common, 0);
  po::options_description hidden;
  hidden.add_options()("folders", po::value(&folders), "results folders to merge");
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description positional;
  positional.add("folders", -1);
  po::variables_map vm;
  if (!parse_command_line("merge", "--out DIR FOLDER... (results folders of one experiment, "
                                   "e.g. the shards of 'seqlab run --shard I/N')",
                          args, all, &positional, vm))
    return 0;
  require_option("merge", vm, "out");
  if (folders.empty())
    user_error("merge: give the results folders to merge after --out DIR (see 'seqlab merge "
               "--help')");
  const fs::path target = out;
  const MergeReport report =
      merge_results_folders(target, std::vector<fs::path>(folders.begin(), folders.end()));

  for (const std::string& w : report.warnings) std::cerr << "seqlab: warning: " << w << "\n";
  for (const std::string& w : report.summary.warnings)
    std::cerr << "seqlab: warning: " << w << "\n";
  if (common.quiet) return 0;
  for (const MergedSource& s : report.sources)
    std::printf("%s\n", source_line(s, target).c_str());
  const std::size_t held = report.summary.runs.size();
  std::string total = target.string() + ": " + plural(held, "run");
  if (report.plan_runs) {
    const std::size_t plan = *report.plan_runs;
    if (held >= plan) {
      total += " of the plan's " + std::to_string(plan) + ", none missing";
    } else {
      total += " of the plan's " + std::to_string(plan) + ", " +
               std::to_string(plan - held) + " missing";
      if (!report.shards_absent.empty())
        total += " (shard" + std::string(report.shards_absent.size() == 1 ? " " : "s ") +
                 shard_names(report.shards_absent, report.shard_count) + " not merged)";
      total += "; running the experiment file with --out " + target.string() +
               " does only those";
    }
  }
  std::printf("%s; summary: %s, %s\n", total.c_str(), (target / "results.h5").c_str(),
              (target / "results.csv").c_str());
  return 0;
}

}  // namespace seqlab::cli
