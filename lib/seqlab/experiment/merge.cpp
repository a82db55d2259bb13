// seqlab/experiment/merge.cpp: the folder lock, shard records and merging results folders
// (contracts in merge.hpp; the record's layout in docs/formats.md, "Results folders").
#include "seqlab/experiment/merge.hpp"

#include <fcntl.h>
#include <sys/file.h>
#include <unistd.h>

#include <toml++/toml.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>

#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/error.hpp"

namespace seqlab {
namespace fs = std::filesystem;

namespace {

// "<name>.tmp.<digits>": a write in progress, or one a killed process left (atomic_file.hpp).
bool is_temp_name(const std::string& name) {
  const auto at = name.rfind(".tmp.");
  if (at == std::string::npos || at + 5 == name.size()) return false;
  return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(at + 5), name.end(),
                     [](char c) { return c >= '0' && c <= '9'; });
}

std::string read_bytes(const fs::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) input_error(file, "cannot be read");
  std::ostringstream bytes;
  bytes << in.rdbuf();
  if (!in && !in.eof()) input_error(file, "cannot be read");
  return bytes.str();
}

// Whether two files hold the same bytes (streamed: run files may be large).
bool same_bytes(const fs::path& a, const fs::path& b) {
  std::error_code ec;
  const auto size_a = fs::file_size(a, ec);
  if (ec) input_error(a, "cannot be examined (" + ec.message() + ")");
  const auto size_b = fs::file_size(b, ec);
  if (ec) input_error(b, "cannot be examined (" + ec.message() + ")");
  if (size_a != size_b) return false;
  std::ifstream x(a, std::ios::binary), y(b, std::ios::binary);
  if (!x) input_error(a, "cannot be read");
  if (!y) input_error(b, "cannot be read");
  std::vector<char> bx(1 << 16), by(1 << 16);
  while (x && y) {
    x.read(bx.data(), static_cast<std::streamsize>(bx.size()));
    y.read(by.data(), static_cast<std::streamsize>(by.size()));
    if (x.gcount() != y.gcount()) return false;
    if (!std::equal(bx.begin(), bx.begin() + x.gcount(), by.begin())) return false;
  }
  if (x.bad()) input_error(a, "cannot be read");
  if (y.bad()) input_error(b, "cannot be read");
  return true;
}

// `from` copied to `to` as every output is written: a temp file, fsync, rename.
void copy_atomically(const fs::path& from, const fs::path& to) {
  write_atomically(to, [&](const fs::path& temp) {
    std::error_code ec;
    fs::copy_file(from, temp, ec);
    if (ec) input_error(to, "cannot copy " + from.string() + " there (" + ec.message() + ")");
  });
}

bool readable_run_file(const fs::path& file, std::string* why = nullptr) {
  try {
    (void)read_run_file(file);
    return true;
  } catch (const UserError& e) {
    if (why) *why = e.what();
    return false;
  }
}

// Shared locks on the sources for the whole merge: a 'seqlab run' writing into one (it holds the
// lock exclusively) is refused now, and none can start there until the merge ends.
class SourceLocks {
public:
  SourceLocks() = default;
  SourceLocks(const SourceLocks&) = delete;
  SourceLocks& operator=(const SourceLocks&) = delete;
  ~SourceLocks() {
    for (const int fd : fds_) ::close(fd);
  }
  void take(const fs::path& dir) {
    const fs::path lock = dir / ".lock";
    const int fd = ::open(lock.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) return;  // never run into, or copied without its lock file: nobody writes there
    fds_.push_back(fd);
    if (::flock(fd, LOCK_SH | LOCK_NB) != 0 && errno == EWOULDBLOCK)
      user_error(dir.string() + ": a 'seqlab run' is still writing into this results folder; "
                                "merge it after that run ends (or is stopped)");
  }

private:
  std::vector<int> fds_;
};

}  // namespace

// ---- the folder lock -------------------------------------------------------------------------

FolderLock::FolderLock(const fs::path& dir, const std::string& busy_hint) {
  const fs::path lock = dir / ".lock";
  fd_ = ::open(lock.c_str(), O_CREAT | O_RDWR | O_CLOEXEC, 0644);
  if (fd_ < 0) input_error(lock, std::string("cannot open (") + std::strerror(errno) + ")");
  if (::flock(fd_, LOCK_EX | LOCK_NB) != 0) {
    const int error = errno;
    ::close(fd_);
    fd_ = -1;
    if (error == EWOULDBLOCK) input_error(dir, busy_hint);
    input_error(lock, std::string("cannot lock (") + std::strerror(error) + ")");
  }
}

FolderLock::~FolderLock() {
  if (fd_ >= 0) ::close(fd_);
}

// ---- shard records ---------------------------------------------------------------------------

std::optional<ShardRecord> read_shard_record(const fs::path& dir) {
  const fs::path file = dir / kShardRecordFile;
  std::error_code ec;
  if (!fs::exists(file, ec)) return std::nullopt;
  toml::table t;
  try {
    t = toml::parse(read_bytes(file), file.string());
  } catch (const toml::parse_error& e) {
    input_error(file, e.source().begin.line, e.source().begin.column,
                "malformed shard record: " + std::string(e.description()));
  }
  const auto bad = [&](const std::string& what) {
    input_error(file, "not a shard record written by 'seqlab run --shard': " + what);
  };
  ShardRecord r;
  const auto plan = t["plan"].value<std::string>();
  const auto plan_runs = t["plan-runs"].value<std::int64_t>();
  const auto count = t["shard-count"].value<std::int64_t>();
  if (!plan) bad("no plan (text)");
  if (!plan_runs || *plan_runs < 0) bad("no plan-runs (an integer >= 0)");
  if (!count || *count < 1) bad("no shard-count (an integer >= 1)");
  r.plan = *plan;
  r.plan_runs = static_cast<std::size_t>(*plan_runs);
  r.count = static_cast<unsigned>(*count);
  const toml::array* shards = t["shards"].as_array();
  const toml::array* runs = t["runs"].as_array();
  if (!shards) bad("no shards (a list of integers)");
  if (!runs) bad("no runs (a list of run ids)");
  for (const toml::node& n : *shards) {
    const auto i = n.value<std::int64_t>();
    if (!i || *i < 1 || *i > *count) bad("shards must be integers from 1 to shard-count");
    r.shards.push_back(static_cast<unsigned>(*i));
  }
  for (const toml::node& n : *runs) {
    const auto id = n.value<std::string>();
    if (!id) bad("runs must be run ids (text)");
    r.runs.push_back(*id);
  }
  return r;
}

ShardRecord record_shard(const fs::path& dir, const ExperimentPlan& plan, unsigned index,
                         unsigned count, const std::vector<std::size_t>& runs) {
  ShardRecord r;
  r.plan = plan_fingerprint(plan);
  r.plan_runs = plan.runs.size();
  r.count = count;
  std::optional<ShardRecord> before;
  try {
    before = read_shard_record(dir);
  } catch (const UserError&) {
    // A damaged record is replaced: the folder's runs are what they are either way.
  }
  std::set<unsigned> shards{index};
  std::set<std::string> ids;
  for (const std::size_t i : runs) ids.insert(plan.runs.at(i).id);
  if (before && before->plan == r.plan && before->count == count) {
    shards.insert(before->shards.begin(), before->shards.end());
    ids.insert(before->runs.begin(), before->runs.end());
  }
  r.shards.assign(shards.begin(), shards.end());
  r.runs.assign(ids.begin(), ids.end());

  toml::array shard_array, run_array;
  for (const unsigned i : r.shards) shard_array.push_back(static_cast<std::int64_t>(i));
  for (const auto& id : r.runs) run_array.push_back(id);
  const toml::table t{{"plan", r.plan},
                      {"plan-runs", static_cast<std::int64_t>(r.plan_runs)},
                      {"shard-count", static_cast<std::int64_t>(r.count)},
                      {"shards", shard_array},
                      {"runs", run_array}};
  std::ostringstream text;
  text << "# Written by 'seqlab run --shard': the shards of the plan run into this folder, and\n"
          "# their run ids ('seqlab merge' reads it to say which runs are still missing).\n"
       << t << "\n";
  write_text_atomically(dir / kShardRecordFile, text.str());
  return r;
}

// ---- merging ---------------------------------------------------------------------------------

MergeReport merge_results_folders(const fs::path& target, const std::vector<fs::path>& sources) {
  std::error_code ec;
  if (sources.empty()) user_error("merge: no folders to merge");
  // Every check first: nothing is written until all sources and the target pass.
  const bool target_exists = fs::exists(target, ec);
  bool target_is_folder = false;
  if (target_exists) {
    if (!fs::is_directory(target, ec))
      input_error(target, "exists and is not a directory, expected a results folder to merge into");
    target_is_folder = fs::is_directory(target / "runs", ec);
    if (!target_is_folder && !fs::is_empty(target, ec))
      input_error(target, "exists and is not a results folder (no runs/ inside) nor empty; "
                          "give a new folder or a results folder of the same experiment");
  }
  std::optional<std::string> config;  // the experiment file's bytes, and whose they are
  fs::path config_from;
  if (target_is_folder && fs::exists(target / "config.toml", ec)) {
    config = read_bytes(target / "config.toml");
    config_from = target;
  }
  MergeReport report;
  std::optional<ShardRecord> target_record;
  if (target_is_folder) target_record = read_shard_record(target);
  const ShardRecord* first_record = target_record ? &*target_record : nullptr;
  fs::path first_record_dir = target;
  for (const fs::path& dir : sources) {
    if (!fs::exists(dir, ec)) user_error(dir.string() + ": no such results folder");
    if (!fs::is_directory(dir, ec) || !fs::is_directory(dir / "runs", ec))
      user_error(dir.string() + ": not a results folder (no runs/ folder inside)");
    if (target_exists && fs::equivalent(dir, target, ec))
      user_error("merge: " + dir.string() + " is both a source and --out; merge other folders "
                                            "into it");
    if (!fs::exists(dir / "config.toml", ec))
      user_error(dir.string() + ": no config.toml, so which experiment it holds is unknown "
                                "(every folder 'seqlab run' writes has one)");
    const std::string bytes = read_bytes(dir / "config.toml");
    if (!config) {
      config = bytes;
      config_from = dir;
    } else if (*config != bytes) {
      user_error("merge: " + config_from.string() + " and " + dir.string() +
                 " hold different experiments (their config.toml differ); merge only folders "
                 "of one experiment file");
    }
    MergedSource source;
    source.dir = dir;
    source.shard = read_shard_record(dir);
    report.sources.push_back(std::move(source));
  }
  for (MergedSource& source : report.sources) {
    if (!source.shard) continue;
    if (!first_record) {
      first_record = &*source.shard;
      first_record_dir = source.dir;
    } else if (first_record->plan != source.shard->plan) {
      user_error("merge: " + first_record_dir.string() + " and " + source.dir.string() +
                 " hold shards of different plans (their run ids differ: run with other "
                 "--threads, or other data); run every shard of an experiment the same way");
    }
  }
  SourceLocks source_locks;
  for (const MergedSource& source : report.sources) source_locks.take(source.dir);

  for (const fs::path& d : {target, target / "runs", target / "logs"}) {
    fs::create_directories(d, ec);
    if (ec) input_error(d, "cannot create the directory (" + ec.message() + ")");
  }
  const FolderLock lock(target, "a 'seqlab run' or 'seqlab merge' is writing into this results "
                                "folder; merge after it ends");
  const fs::path runs_dir = target / "runs";
  const fs::path logs_dir = target / "logs";
  for (MergedSource& source : report.sources) {
    std::vector<fs::path> entries;
    for (fs::directory_iterator it(source.dir / "runs", ec), end; !ec && it != end;
         it.increment(ec))
      entries.push_back(it->path());
    if (ec) input_error(source.dir / "runs", "cannot list the folder (" + ec.message() + ")");
    std::sort(entries.begin(), entries.end());
    for (const fs::path& from : entries) {
      const std::string name = from.filename().string();
      if (is_temp_name(name) || from.extension() == ".ckpt") {
        ++source.unfinished;
        continue;
      }
      std::string why;
      if (from.extension() != ".h5" || !fs::is_regular_file(from, ec)) {
        ++source.skipped;
        report.warnings.push_back(from.string() + ": not a run file (expected <run id>.h5): "
                                                  "not copied");
        continue;
      }
      if (!readable_run_file(from, &why)) {
        ++source.skipped;
        report.warnings.push_back(why + ": not copied");
        continue;
      }
      const fs::path to = runs_dir / name;
      const fs::path log_from = source.dir / "logs" / (from.stem().string() + ".log");
      const fs::path log_to = logs_dir / log_from.filename();
      const bool have_log = fs::is_regular_file(log_from, ec);
      if (fs::exists(to, ec)) {
        if (same_bytes(from, to)) {
          ++source.present;
          if (have_log && !fs::exists(log_to, ec)) copy_atomically(log_from, log_to);
          continue;
        }
        std::string damage;
        if (readable_run_file(to, &damage)) {
          ++source.conflicts;
          report.warnings.push_back("run " + from.stem().string() + ": " + to.string() + " and " +
                                    from.string() + " differ (the same run carried out twice); "
                                    "kept " + to.string() + ", did not copy the other");
          continue;
        }
        report.warnings.push_back(damage + ": replaced by " + from.string());
      }
      copy_atomically(from, to);
      ++source.copied;
      if (have_log) copy_atomically(log_from, log_to);
    }
  }
  if (!fs::exists(target / "config.toml", ec)) {
    write_text_atomically(target / "config.toml", *config);
    report.config_written = true;
  }
  // Rebuilt from the run files every time: HDF5 files carry no write times (io/hdf5), so
  // merging again rewrites the summary with the same bytes.
  report.summary = rebuild_summary(target);

  // What the shard records say is still missing.
  std::set<std::string> held;
  for (const RunResult& r : report.summary.runs) held.insert(r.run_id);
  std::set<unsigned> counts, listed;
  if (target_record) {
    counts.insert(target_record->count);
    listed.insert(target_record->shards.begin(), target_record->shards.end());
  }
  for (MergedSource& source : report.sources) {
    if (!source.shard) continue;
    counts.insert(source.shard->count);
    listed.insert(source.shard->shards.begin(), source.shard->shards.end());
    for (const auto& id : source.shard->runs)
      if (!held.count(id)) source.missing.push_back(id);
  }
  if (first_record) report.plan_runs = first_record->plan_runs;
  if (counts.size() == 1) {
    report.shard_count = *counts.begin();
    for (unsigned i = 1; i <= report.shard_count; ++i)
      if (!listed.count(i)) report.shards_absent.push_back(i);
  }
  return report;
}

}  // namespace seqlab
