// seqlab/experiment/merge.hpp: results folders of one experiment combined into one (what the
// tasks of a job array leave, each having run its shard of the plan with `seqlab run --shard
// I/N`); the shard record a sharded run leaves in its folder, so that a merge can say which runs
// are still missing without opening the experiment's datasets; and the folder lock that keeps
// two writers (runs or merges) out of one folder.
//
// MERGING IS A COPY. The run files are the truth (io/results_file.hpp): a merge copies each
// source's complete run files runs/<id>.h5 (and logs/<id>.log) into the target, each atomically,
// never replacing a readable run file there, then rebuilds the target's summary. Temp files of
// interrupted writes and checkpoints of unfinished runs stay where they are. Merging the same
// folders again copies nothing.
//
// What it is not: a check that every source's runs belong to the plan. Identical config.toml
// bytes say the sources ran one experiment file; the shard records say whether the shards ran
// one plan (the same --threads, the same datasets). A folder without a record is taken as it is.
#pragma once

#include <cstddef>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "seqlab/experiment/plan.hpp"
#include "seqlab/io/results_file.hpp"

namespace seqlab {

// What `seqlab run --shard I/N` leaves in its folder as shard.toml (docs/formats.md).
struct ShardRecord {
  std::string plan;               // plan_fingerprint of the whole plan
  std::size_t plan_runs = 0;      // runs in the whole plan
  unsigned count = 1;             // N: how many shards the plan was cut into
  std::vector<unsigned> shards;   // the I's run into this folder, ascending
  std::vector<std::string> runs;  // the run ids of those shards, ascending
};

// The record's file name in a results folder.
inline constexpr const char* kShardRecordFile = "shard.toml";

// Requires nothing. Ensures: the record in `dir`, nullopt when the folder has none; a record that
// does not parse is a UserError naming the file and the key.
std::optional<ShardRecord> read_shard_record(const std::filesystem::path& dir);

// Requires: `dir` a results folder; `runs` = shard_runs(plan, index, count).
// Ensures: `dir`/shard.toml written atomically, saying that shard `index` of `count` of `plan`
//   was run there. A record already there of the same plan and count is extended (shards run
//   one after the other into one folder); any other is replaced. Returns what was written.
ShardRecord record_shard(const std::filesystem::path& dir, const ExperimentPlan& plan,
                         unsigned index, unsigned count, const std::vector<std::size_t>& runs);

// What a merge took from one source folder.
struct MergedSource {
  std::filesystem::path dir;
  std::optional<ShardRecord> shard;  // its record, if it was run with --shard
  std::size_t copied = 0;      // run files copied into the target
  std::size_t present = 0;     // run files the target already held, byte for byte
  std::size_t conflicts = 0;   // run files whose id the target holds with other content (kept)
  std::size_t skipped = 0;     // damaged or foreign files in runs/ (one warning each)
  std::size_t unfinished = 0;  // checkpoints and temp files of runs not finished there
  // Run ids of its record's shards that the target does not hold after the merge.
  std::vector<std::string> missing;
};

// The outcome of merge_results_folders.
struct MergeReport {
  std::vector<MergedSource> sources;      // in the order given
  std::vector<std::string> warnings;      // one line each: conflicts, files not copied and why
  std::optional<std::size_t> plan_runs;   // the plan's size, when any folder has a shard record
  // When every record cuts the plan into the same number of shards: that number and the shards
  // that no source's (nor the target's) record lists, ascending; else 0 and empty.
  unsigned shard_count = 0;
  std::vector<unsigned> shards_absent;
  bool config_written = false;            // the target had no config.toml before
  Summary summary;                        // of the target, rebuilt after the merge
};

// Requires nothing; every check below comes before anything is written.
// Ensures: each source is a results folder (runs/ inside) with a config.toml of the same bytes
//   as the others' and as the target's when it has one, no source is the target, no
//   'seqlab run' holds a source's or the target's lock, and the shard records agree on the plan,
//   else a one-line UserError naming the folders. Then the target (created if missing; an
//   existing one must be an empty directory or a results folder) holds, for each source in
//   turn, each of its readable run files runs/<name>.h5: copied atomically (write, fsync,
//   rename) when the target has no file of that name or an unreadable one; left alone when the
//   target's has the same bytes; when the content differs, the target's is kept and a warning
//   names both files. A copied run's log, logs/<name>.log, comes with it; the log of a run the
//   target already had is copied only when the target has none. config.toml is written when the
//   target has none, and the summary (results.h5, results.csv) is rebuilt (the same bytes when
//   nothing new came, so merging again changes no file). The target's lock is
//   held throughout, so a 'seqlab run' cannot start there meanwhile.
// Cost: one read of each run file's metadata, a byte comparison where the target has the name,
//   and the copies.
MergeReport merge_results_folders(const std::filesystem::path& target,
                                  const std::vector<std::filesystem::path>& sources);

// The lock of a results folder (`dir`/.lock, flock): one writer at a time. `seqlab run` holds it
// while it runs, merge_results_folders while it merges.
class FolderLock {
public:
  // Requires: `dir` exists. Ensures: the lock taken exclusively and held until destruction
  //   (or the process ends), else a UserError naming `dir`: with `busy_hint` (what to do) when
  //   another process holds it, or with the reason the lock file cannot be opened.
  FolderLock(const std::filesystem::path& dir, const std::string& busy_hint);
  ~FolderLock();
  FolderLock(const FolderLock&) = delete;
  FolderLock& operator=(const FolderLock&) = delete;

private:
  int fd_ = -1;
};

}  // namespace seqlab
