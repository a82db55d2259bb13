// tools/seqlab/cmd_run.cpp: `seqlab run EXPERIMENT.toml`: checks an experiment file, prints its
// plan (--dry-run) or runs it into a results folder. Thin over lib/seqlab/experiment.
//
// PROCESSES. Each run is carried out by a worker: this program started again as
// `seqlab run FILE --out DIR --worker RUN_ID --threads T`, with its stdout and stderr appended to
// DIR/logs/RUN_ID.log and its learning-curve records written as lines to file descriptor 3 (a
// pipe the driver reads for the progress display). A worker dies with the driver
// (PR_SET_PDEATHSIG, set between fork and exec), so a killed driver leaves no orphan writing
// into the folder, and a worker that crashes takes only its own run with it. Run files are written atomically, so after any
// kill a run file is complete or absent; running the same command again skips the complete ones.
//
// SHARDS. `--shard I/N` carries out shard I of the N into which shard_runs (experiment/plan.hpp)
// cuts the plan, for the tasks of a job array: each task runs into its own folder (the lock
// allows one driver per folder) and `seqlab merge` (cmd_merge.cpp) combines them. The folder is
// an ordinary results folder plus shard.toml (experiment/merge.hpp), and its run files are those
// an unsharded run would write.
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <sys/prctl.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <iostream>
#include <map>
#include <numeric>
#include <optional>
#include <set>
#include <string_view>

#include "cli_common.hpp"
#include "commands.hpp"
#include "mpi_session.hpp"
#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/experiment/merge.hpp"
#include "seqlab/experiment/plan.hpp"
#include "seqlab/experiment/runner.hpp"
#include "seqlab/io/results_file.hpp"
#include "seqlab/models/rnn/task_model.hpp"

namespace fs = std::filesystem;

namespace seqlab::cli {
namespace {

// `seqlab run --shard I/N`: which part of the plan this call runs.
struct Shard {
  unsigned index = 1, count = 1;
  std::string text() const { return std::to_string(index) + "/" + std::to_string(count); }
};

constexpr unsigned kMaxShards = 100000;

Shard parse_shard(const std::string& text) {
  const auto fail = [&] {
    user_error("run: --shard must be I/N, shard I of N with 1 <= I <= N <= " +
               std::to_string(kMaxShards) + " (e.g. 1/4 for the first of four), got '" +
               printable(text) + "'");
  };
  const auto number = [&](std::string_view digits) {
    unsigned long long value = 0;
    const auto [end, error] = std::from_chars(digits.data(), digits.data() + digits.size(), value);
    if (digits.empty() || error != std::errc() || end != digits.data() + digits.size()) fail();
    return value;
  };
  const auto slash = text.find('/');
  if (slash == std::string::npos) fail();
  const std::string_view whole(text);
  const unsigned long long index = number(whole.substr(0, slash));
  const unsigned long long count = number(whole.substr(slash + 1));
  if (index < 1 || index > count || count > kMaxShards) fail();
  return {static_cast<unsigned>(index), static_cast<unsigned>(count)};
}

// The one line for a shard with no runs (more shards than runs).
std::string empty_shard_line(const ExperimentPlan& plan, const Shard& shard) {
  return "shard " + shard.text() + " of experiment " + plan.name + " has no runs: the plan has " +
         std::to_string(plan.runs.size()) + " run" + (plan.runs.size() == 1 ? "" : "s") +
         ", fewer than " + std::to_string(shard.count) + " shards; nothing to do";
}

// The plan, or with --shard only that shard's runs (`runs`: indices into plan.runs).
void print_plan(const ExperimentPlan& plan, const std::string& out_dir,
                const std::vector<std::size_t>& runs, const std::optional<Shard>& shard) {
  std::set<std::size_t> datasets;
  double total = 0.0, mine = 0.0;
  for (const auto& run : plan.runs) total += run.estimated_seconds;
  for (const std::size_t i : runs) {
    datasets.insert(plan.runs[i].dataset);
    mine += plan.runs[i].estimated_seconds;
  }
  std::string seeds;
  for (const auto s : plan.seeds) seeds += (seeds.empty() ? "" : ", ") + std::to_string(s);
  const std::string part =
      shard ? "shard " + shard->text() + ": " + std::to_string(runs.size()) + " of " +
                  std::to_string(plan.runs.size()) + " runs"
            : std::to_string(runs.size()) + " run" + (runs.size() == 1 ? "" : "s");
  std::printf("experiment %s (%s): %s on %zu dataset%s, seed%s %s\n", plan.name.c_str(),
              plan.file.string().c_str(), part.c_str(), datasets.size(),
              datasets.size() == 1 ? "" : "s", plan.seeds.size() == 1 ? "" : "s", seeds.c_str());
  std::printf("results folder: %s\n", out_dir.c_str());
  for (const auto& note : plan.notes) std::printf("note: %s\n", note.c_str());
  std::size_t label_width = 5, dataset_width = 7;
  for (const std::size_t i : runs) {
    const PlannedRun& run = plan.runs[i];
    label_width = std::max(label_width, run.label.size());
    dataset_width = std::max(dataset_width, plan.datasets[run.dataset].key.size());
  }
  std::printf("  %-16s  %-*s  %-*s  %6s  %12s  %9s\n", "run", static_cast<int>(dataset_width),
              "dataset", static_cast<int>(label_width), "model", "seed", "parameters",
              "estimate");
  for (const std::size_t i : runs) {
    const PlannedRun& run = plan.runs[i];
    std::printf("  %-16s  %-*s  %-*s  %6llu  %12s  %9s\n", run.id.c_str(),
                static_cast<int>(dataset_width), plan.datasets[run.dataset].key.c_str(),
                static_cast<int>(label_width), run.label.c_str(),
                static_cast<unsigned long long>(run.seed),
                run.parameters > 0 ? with_commas(run.parameters).c_str() : "from data",
                rough_duration(run.estimated_seconds).c_str());
  }
  const std::string whose =
      shard ? rough_duration(mine) + " for this shard (the plan's " + rough_duration(total) + ")"
            : rough_duration(total) + " in all";
  std::printf("rough estimate: %s, %s with %u job%s at a time of %u thread%s each "
              "(from the budget and the work per epoch; max-time caps where set)\n",
              whose.c_str(), rough_duration(mine / plan.jobs).c_str(), plan.jobs,
              plan.jobs == 1 ? "" : "s", plan.threads, plan.threads == 1 ? "" : "s");
}

// ---- the worker: one run in this process ---------------------------------------------------

constexpr int kProgressFd = 3;

int run_worker(const ExperimentPlan& plan, const fs::path& out, const std::string& id) {
  const auto it = std::find_if(plan.runs.begin(), plan.runs.end(),
                               [&](const PlannedRun& r) { return r.id == id; });
  if (it == plan.runs.end())
    user_error("run: run " + id + " is not in the plan of " + plan.file.string() +
               " (the file changed while the experiment ran?)");
  const PlannedRun& run = *it;
  // A network checkpoints its training into runs/<id>.ckpt and continues from it when the
  // experiment is run again; SIGTERM (what the driver sends) stops it cleanly there.
  RunCheckpoint checkpoint;
  if (model_family(run.options.model) == "RNN" && !task_requested(run.options)) {
    checkpoint.file = run_checkpoint_path(out, run);
    checkpoint.seconds = plan.checkpoint_seconds;
    checkpoint.stop = catch_stop_signals();
  }
  std::fprintf(stderr, "run %s: %s on %s, seed %llu, %u thread%s\n", run.id.c_str(),
               run.label.c_str(), plan.datasets[run.dataset].key.c_str(),
               static_cast<unsigned long long>(run.seed), run.threads,
               run.threads == 1 ? "" : "s");
  const SequenceDataset data = open_planned_dataset(plan.datasets[run.dataset]);
  FitObserver observer = progress_observer(false, 10.0);
  const bool have_pipe = ::fcntl(kProgressFd, F_GETFD) != -1;
  observer.on_epoch = [have_pipe](const EpochRecord& r) {
    if (!have_pipe) return;
    char line[256];
    const int n = std::snprintf(line, sizeof line, "E %llu %llu %llu %.17g %.17g %.17g\n",
                                static_cast<unsigned long long>(r.epoch),
                                static_cast<unsigned long long>(r.restart),
                                static_cast<unsigned long long>(r.updates), r.seconds,
                                r.train_nll, r.valid_nll);
    // The driver may be gone; a failed progress write never stops the run.
    if (n > 0) (void)!::write(kProgressFd, line, static_cast<std::size_t>(n));
  };
  RunResult result;
  try {
    result = execute_run(plan, run, data, run_file_path(out, run), &observer, checkpoint);
  } catch (const Interrupted&) {
    std::fprintf(stderr, "run %s: stopped by signal; checkpoint in %s, running the experiment "
                         "again continues it\n", run.id.c_str(), checkpoint.file.c_str());
    return stopped_exit_code();
  }
  std::fprintf(stderr, "run %s: finished in %.1f s", run.id.c_str(), result.wall_seconds);
  if (result.test) std::fprintf(stderr, ", test %.6f bits per %s", result.test->bits_per_step,
                                result.unit.c_str());
  if (result.task_test && result.task == "regress")
    std::fprintf(stderr, ", test MSE %.6g (baseline %.6g)", result.task_test->mse,
                 result.task_test->baseline_mse);
  if (result.task_test && result.task == "classify")
    std::fprintf(stderr, ", test accuracy %.4f", result.task_test->accuracy);
  std::fprintf(stderr, "\n");
  return 0;
}

// ---- the driver ----------------------------------------------------------------------------

volatile std::sig_atomic_t g_stop_signal = 0;
extern "C" void on_stop_signal(int signal) { g_stop_signal = signal; }

struct Worker {
  std::size_t run = 0;  // index into plan.runs
  pid_t pid = -1;
  int progress = -1;    // read end of the progress pipe
  std::string pending;  // a partial progress line
  std::optional<EpochRecord> last;
  std::chrono::steady_clock::time_point started;
};

// The last non-empty line of a log file (a failed worker's error), without "seqlab: error: ".
std::string last_log_line(const fs::path& log) {
  std::ifstream in(log);
  std::string line, last;
  while (std::getline(in, line)) {
    const auto cr = line.find_last_of('\r');
    if (cr != std::string::npos) line = line.substr(cr + 1);
    if (!line.empty()) last = line;
  }
  const std::string prefix = "seqlab: error: ";
  if (last.rfind(prefix, 0) == 0) last = last.substr(prefix.size());
  return last;
}

std::string short_number(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.4f", x);
  return buffer;
}

// Three significant digits: an MSE of 3e-5 must not print as 0.0000.
std::string significant(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", x);
  return buffer;
}

// Starts `run` in a worker process: this program again as `seqlab run FILE --out DIR --worker
// ID --threads T`, its stdout and stderr appended to DIR/logs/ID.log, its progress records on
// file descriptor 3 when `progress_fd` >= 0, killed with this process (PR_SET_PDEATHSIG), and a
// plain process also when this one is a rank of an MPI job (the launcher's variables removed).
pid_t start_worker(const ExperimentPlan& plan, const fs::path& out, const PlannedRun& run,
                   int progress_fd) {
  const fs::path log = out / "logs" / (run.id + ".log");
  const int log_fd = ::open(log.c_str(), O_CREAT | O_WRONLY | O_APPEND | O_CLOEXEC, 0644);
  if (log_fd < 0) input_error(log, std::string("cannot open (") + std::strerror(errno) + ")");
  std::vector<std::string> args = {"seqlab", "run", plan.file.string(), "--out", out.string(),
                                   "--worker", run.id, "--threads",
                                   std::to_string(run.threads)};
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  std::vector<std::string> env = environment_without_mpi();
  std::vector<char*> envp;
  for (auto& e : env) envp.push_back(e.data());
  envp.push_back(nullptr);
  std::cout.flush();
  std::cerr.flush();
  const pid_t parent = ::getpid();
  const pid_t pid = ::fork();
  if (pid < 0) throw std::runtime_error(std::string("fork: ") + std::strerror(errno));
  if (pid == 0) {
    // Only async-signal-safe calls until exec. The death signal is set here, before exec (it
    // survives exec), and the parent checked after it: a parent killed between fork and this
    // point leaves no orphan.
    ::prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (::getppid() != parent) ::_exit(1);
    ::dup2(log_fd, STDOUT_FILENO);
    ::dup2(log_fd, STDERR_FILENO);
    if (progress_fd >= 0) ::dup2(progress_fd, kProgressFd);
    ::signal(SIGINT, SIG_IGN);  // the driver decides; it sends SIGTERM
    ::execve("/proc/self/exe", argv.data(), envp.data());
    ::_exit(127);
  }
  ::close(log_fd);
  return pid;
}

class Driver {
public:
  // `runs`: the indices into plan.runs to carry out (all of them, or one shard's).
  Driver(const ExperimentPlan& plan, std::vector<std::size_t> runs, std::optional<Shard> shard,
         fs::path out, bool quiet)
      : plan_(plan), runs_(std::move(runs)), shard_(shard), out_(std::move(out)), quiet_(quiet),
        terminal_(::isatty(STDERR_FILENO) != 0) {}

  int run();

private:
  void prepare_folder();
  void start(std::size_t index);
  void read_progress(Worker& w);
  bool reap();  // true when a worker ended
  // A run's outcome (a waitpid status): counted, and said. `where` names a remote rank ("" for
  // this process's workers); seconds < 0 when unknown.
  void account(std::size_t index, int status, double seconds, const std::string& where);
  void serve_remotes();
  void show();
  void say(const std::string& line);
  double eta_seconds() const;
  void print_summary(const Summary& summary) const;

  // "8 runs" or "7 runs of shard 2/3": what this call was asked to do.
  std::string runs_text() const;

  const ExperimentPlan& plan_;
  std::vector<std::size_t> runs_;
  std::optional<Shard> shard_;
  fs::path out_;
  bool quiet_, terminal_;
  std::optional<FolderLock> lock_;
  std::vector<std::size_t> pending_;   // run indices still to do, next first
  std::vector<Worker> workers_;
  // Under MPI (mpirun -n R seqlab run): the other ranks, which ask rank 0 for runs.
  unsigned remotes_ = mpi_size() - 1, remotes_stopped_ = 0;
  std::map<unsigned, std::size_t> remote_runs_;  // rank -> the run it is carrying out
  std::size_t already_done_ = 0, finished_ = 0;
  std::vector<std::pair<std::size_t, std::string>> failures_;
  std::size_t shown_width_ = 0;
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
  double finished_estimate_ = 0.0;    // estimated seconds of the runs finished in this call
  std::chrono::steady_clock::time_point last_shown_{};
};

void Driver::say(const std::string& line) {
  if (quiet_) return;
  if (terminal_ && shown_width_ > 0) std::cerr << "\r\x1b[K";
  shown_width_ = 0;
  std::cerr << line << std::endl;
}

void Driver::prepare_folder() {
  std::error_code ec;
  if (fs::exists(out_, ec) && !fs::is_directory(out_, ec))
    input_error(out_, "exists and is not a directory, expected a results folder");
  for (const fs::path& d : {out_, out_ / "runs", out_ / "logs"}) {
    fs::create_directories(d, ec);
    if (ec) input_error(d, "cannot create the directory (" + ec.message() + ")");
  }
  // One driver per folder: two would run the same runs twice. The tasks of a job array each
  // need a folder of their own.
  lock_.emplace(out_, shard_ ? "another 'seqlab run' is writing into this results folder: give "
                               "each shard its own --out (e.g. --out " +
                                   out_.string() + "-" + std::to_string(shard_->index) +
                                   " for --shard " + shard_->text() +
                                   ") and combine the folders with 'seqlab merge'"
                             : "another 'seqlab run' is writing into this results folder; "
                               "wait for it or use another --out");
  write_bytes_atomically(out_ / "config.toml", plan_.text.data(), plan_.text.size());
  if (shard_) record_shard(out_, plan_, shard_->index, shard_->count, runs_);

  // The whole plan's run files belong here (a folder may hold several shards); of this call's
  // runs, those whose file is complete are done, and a damaged file is run again (replaced
  // whole).
  std::set<std::string> ids;
  for (const auto& run : plan_.runs) ids.insert(run.id + ".h5");
  for (const std::size_t i : runs_) {
    const PlannedRun& run = plan_.runs[i];
    const fs::path file = run_file_path(out_, run);
    bool done = false;
    if (fs::exists(file, ec)) {
      try {
        done = read_run_file(file).run_id == run.id;
      } catch (const UserError& e) {
        say("run " + run.id + ": the existing run file is damaged, running it again (" +
            e.what() + ")");
      }
    }
    if (done)
      ++already_done_;
    else
      pending_.push_back(i);
  }
  // Run files of settings no longer in the plan would mix into the summary, and their
  // checkpoints would lie there for ever: move both aside (listed first, then moved, so that
  // the listing never sees its own renames).
  std::vector<fs::path> leftovers;
  std::size_t stale_runs = 0, stale_checkpoints = 0;
  for (const auto& entry : fs::directory_iterator(out_ / "runs", ec)) {
    const fs::path& path = entry.path();
    const std::string id = path.stem().string();
    const bool known = ids.count(id + ".h5") > 0;
    if (path.extension() == ".h5" && !known) ++stale_runs;
    else if (path.extension() == ".ckpt" && !known) ++stale_checkpoints;
    else continue;
    leftovers.push_back(path);
  }
  for (const fs::path& path : leftovers) {
    fs::create_directories(out_ / "stale", ec);
    fs::rename(path, out_ / "stale" / path.filename(), ec);
    if (ec) input_error(path, "cannot move it to stale/ (" + ec.message() + ")");
  }
  if (!leftovers.empty()) {
    std::string what;
    if (stale_runs > 0)
      what = std::to_string(stale_runs) + " run file" + (stale_runs == 1 ? "" : "s");
    if (stale_checkpoints > 0)
      what += (what.empty() ? "" : " and ") + std::to_string(stale_checkpoints) +
              " checkpoint" + (stale_checkpoints == 1 ? "" : "s");
    say("moved " + what + " of settings no longer in " + plan_.file.string() + " to " +
        (out_ / "stale").string() + " (kept, not in the summary)");
  }
  // Longest first: with several jobs the last ones to finish are then short.
  std::stable_sort(pending_.begin(), pending_.end(), [&](std::size_t a, std::size_t b) {
    return plan_.runs[a].estimated_seconds > plan_.runs[b].estimated_seconds;
  });
  std::reverse(pending_.begin(), pending_.end());  // pop_back() takes the next
}

void Driver::start(std::size_t index) {
  const PlannedRun& run = plan_.runs[index];
  int pipe_fds[2];
  if (::pipe2(pipe_fds, O_CLOEXEC) != 0)
    throw std::runtime_error(std::string("pipe: ") + std::strerror(errno));
  const pid_t pid = start_worker(plan_, out_, run, pipe_fds[1]);
  ::close(pipe_fds[1]);
  Worker w;
  w.run = index;
  w.pid = pid;
  w.progress = pipe_fds[0];
  w.started = std::chrono::steady_clock::now();
  workers_.push_back(std::move(w));
  if (!terminal_)
    say("run " + run.id + " started: " + run.label + " on " + plan_.datasets[run.dataset].key +
        ", seed " + std::to_string(run.seed));
}

void Driver::read_progress(Worker& w) {
  char buffer[4096];
  for (;;) {
    const ssize_t n = ::read(w.progress, buffer, sizeof buffer);
    if (n <= 0) break;
    w.pending.append(buffer, static_cast<std::size_t>(n));
    if (n < static_cast<ssize_t>(sizeof buffer)) break;
  }
  std::size_t eol;
  while ((eol = w.pending.find('\n')) != std::string::npos) {
    const std::string line = w.pending.substr(0, eol);
    w.pending.erase(0, eol + 1);
    unsigned long long epoch = 0, restart = 0, updates = 0;
    double seconds = 0, train = 0, valid = 0;
    if (std::sscanf(line.c_str(), "E %llu %llu %llu %lg %lg %lg", &epoch, &restart, &updates,
                    &seconds, &train, &valid) == 6) {
      EpochRecord r;
      r.epoch = epoch;
      r.restart = restart;
      r.updates = updates;
      r.seconds = seconds;
      r.train_nll = train;
      r.valid_nll = valid;
      w.last = r;
    }
  }
}

bool Driver::reap() {
  bool any = false;
  for (std::size_t i = 0; i < workers_.size();) {
    int status = 0;
    const pid_t r = ::waitpid(workers_[i].pid, &status, WNOHANG);
    if (r == 0) {
      ++i;
      continue;
    }
    Worker w = std::move(workers_[i]);
    workers_.erase(workers_.begin() + static_cast<std::ptrdiff_t>(i));
    read_progress(w);
    ::close(w.progress);
    any = true;
    const double seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - w.started).count();
    if (g_stop_signal != 0) continue;  // stopped by us: neither finished nor failed
    account(w.run, status, seconds, "");
  }
  return any;
}

void Driver::account(std::size_t index, int status, double seconds, const std::string& where) {
  const PlannedRun& run = plan_.runs[index];
  const fs::path log = out_ / "logs" / (run.id + ".log");
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0) {
    ++finished_;
    finished_estimate_ += run.estimated_seconds;
    say("run " + run.id + " finished" + where +
        (seconds >= 0.0 ? " in " + rough_duration(seconds) : std::string()) + ": " + run.label +
        " on " + plan_.datasets[run.dataset].key + ", seed " + std::to_string(run.seed));
  } else {
    std::string why = WIFSIGNALED(status)
                          ? std::string("killed by signal ") + strsignal(WTERMSIG(status))
                          : last_log_line(log);
    if (why.empty()) why = "exit code " + std::to_string(WEXITSTATUS(status));
    failures_.push_back({index, why});
    say("run " + run.id + " FAILED" + where + ": " + run.label + " on " +
        plan_.datasets[run.dataset].key + ", seed " + std::to_string(run.seed) + ": " + why +
        " (log: " + log.string() + ")");
  }
}

// Under MPI: answer every rank that asks for work (cmd_run.cpp's run queue, mpi_session.hpp).
void Driver::serve_remotes() {
  while (const auto request = poll_run_request()) {
    const std::string where = " on rank " + std::to_string(request->rank);
    if (request->finished_run >= 0) {
      const auto index = static_cast<std::size_t>(request->finished_run);
      remote_runs_.erase(request->rank);
      account(index, request->exit_status, -1.0, where);
    }
    if (!pending_.empty() && g_stop_signal == 0) {
      const std::size_t index = pending_.back();
      pending_.pop_back();
      remote_runs_[request->rank] = index;
      answer_run_request(request->rank, static_cast<long long>(index));
      const PlannedRun& run = plan_.runs[index];
      if (!terminal_)
        say("run " + run.id + " started" + where + ": " + run.label + " on " +
            plan_.datasets[run.dataset].key + ", seed " + std::to_string(run.seed));
    } else {
      answer_run_request(request->rank, -1);
      ++remotes_stopped_;
    }
  }
}

double Driver::eta_seconds() const {
  double remaining = 0.0;
  for (const std::size_t i : pending_) remaining += plan_.runs[i].estimated_seconds;
  for (const auto& w : workers_) remaining += plan_.runs[w.run].estimated_seconds;
  const double elapsed =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  // Scale the plan's rough estimates by how they compared with the runs finished so far.
  const double scale = finished_estimate_ > 0.0 ? elapsed / finished_estimate_ * plan_.jobs : 1.0;
  return remaining * scale / plan_.jobs;
}

void Driver::show() {
  if (quiet_ || !terminal_) return;
  const auto now = std::chrono::steady_clock::now();
  if (std::chrono::duration<double>(now - last_shown_).count() < 0.25) return;
  last_shown_ = now;
  std::string line = "[" + std::to_string(already_done_ + finished_ + failures_.size()) + "/" +
                     std::to_string(runs_.size()) + " runs, ETA " +
                     rough_duration(eta_seconds()) + "]";
  for (const auto& w : workers_) {
    const PlannedRun& run = plan_.runs[w.run];
    line += "  " + run.label + " s" + std::to_string(run.seed);
    if (w.last) {
      line += " ep " + std::to_string(w.last->epoch);
      const double nll = std::isfinite(w.last->valid_nll) ? w.last->valid_nll : w.last->train_nll;
      // A task run's records hold its task objective, not a sequence NLL.
      const char* what = !task_requested(run.options)             ? " NLL "
                         : run.options.text("task") == "regress" ? " MSE "
                                                                  : " label NLL ";
      if (std::isfinite(nll)) line += what + short_number(nll);
    }
  }
  if (line.size() > 160) line = line.substr(0, 157) + "...";
  std::cerr << "\r\x1b[K" << line << std::flush;
  shown_width_ = line.size();
}

void Driver::print_summary(const Summary& summary) const {
  if (quiet_) return;
  const auto sequence_run =
      std::find_if(summary.runs.begin(), summary.runs.end(),
                   [](const RunResult& r) { return r.task.empty(); });
  if (sequence_run != summary.runs.end())
    std::printf("%-24s %-28s %5s %14s %14s %10s\n", "dataset", "model", "seeds", "test nats",
                "test bits", "perplexity");
  // Mean over seeds of each (dataset, label).
  std::map<std::pair<std::string, std::string>, std::vector<const RunResult*>> groups;
  std::vector<std::pair<std::string, std::string>> order;
  std::vector<const RunResult*> task_runs;
  for (const auto& r : summary.runs) {
    if (!r.task.empty()) {
      task_runs.push_back(&r);
      continue;
    }
    const auto key = std::make_pair(r.dataset, r.label);
    if (!groups.count(key)) order.push_back(key);
    groups[key].push_back(&r);
  }
  for (const auto& key : order) {
    const auto& runs = groups[key];
    double nats = 0.0;
    std::size_t n = 0;
    for (const auto* r : runs)
      if (r->test) {
        nats += r->test->nats_per_step;
        ++n;
      }
    const std::string unit = runs.front()->unit;
    if (n == 0) {
      std::printf("%-24s %-28s %5zu %14s %14s %10s\n", key.first.c_str(), key.second.c_str(),
                  runs.size(), "-", "-", "-");
      continue;
    }
    nats /= static_cast<double>(n);
    std::printf("%-24s %-28s %5zu %14.6f %14.6f %10s\n", key.first.c_str(), key.second.c_str(),
                runs.size(), nats, nats / std::log(2.0),
                unit == "symbol" ? short_number(std::exp(nats)).c_str() : "-");
  }
  if (sequence_run != summary.runs.end())
    std::printf("(test NLL per %s, mean over seeds; nats = natural log, bits = log2)\n",
                sequence_run->unit.c_str());
  if (task_runs.empty()) return;
  // Sequence-level tasks: their own table, since a task metric is not a likelihood.
  if (sequence_run != summary.runs.end()) std::printf("\n");
  std::printf("%-24s %-28s %5s %-10s %14s %14s\n", "dataset", "model", "seed", "task",
              "test metric", "baseline");
  for (const RunResult* r : task_runs) {
    const bool regress = r->task == "regress";
    const TaskSplitMetrics* m = r->task_test ? &*r->task_test : nullptr;
    std::printf("%-24s %-28s %5llu %-10s %14s %14s\n", r->dataset.c_str(), r->label.c_str(),
                static_cast<unsigned long long>(r->seed), r->task.c_str(),
                m == nullptr ? "-"
                : regress    ? ("MSE " + significant(m->mse)).c_str()
                             : ("acc " + short_number(m->accuracy)).c_str(),
                m == nullptr || !regress ? "-" : ("MSE " + significant(m->baseline_mse)).c_str());
  }
  std::printf("(task metrics on the test split, not likelihoods: MSE for regress, accuracy for "
              "classify; baseline = predicting the mean target)\n");
}

std::string Driver::runs_text() const {
  return std::to_string(runs_.size()) + " runs" + (shard_ ? " of shard " + shard_->text() : "");
}

int Driver::run() {
  prepare_folder();
  if (shard_ && runs_.empty()) {  // an empty shard: the folder is a results folder all the same
    rebuild_summary(out_);
    if (!quiet_) std::printf("%s\n", empty_shard_line(plan_, *shard_).c_str());
    return 0;
  }
  for (const auto& note : plan_.notes) say("note: " + note);
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  ::sigaction(SIGINT, &action, nullptr);
  ::sigaction(SIGTERM, &action, nullptr);
  if (already_done_ > 0)
    say("resuming: " + std::to_string(already_done_) + " of " + runs_text() +
        " already finished in " + out_.string());
  while ((!pending_.empty() || !workers_.empty() || remotes_stopped_ < remotes_) &&
         g_stop_signal == 0) {
    if (remotes_ > 0) serve_remotes();
    while (!pending_.empty() && workers_.size() < plan_.jobs && g_stop_signal == 0) {
      start(pending_.back());
      pending_.pop_back();
    }
    std::vector<pollfd> fds;
    for (const auto& w : workers_) fds.push_back({w.progress, POLLIN, 0});
    ::poll(fds.data(), fds.size(), 200);
    for (std::size_t i = 0; i < fds.size(); ++i)
      if (fds[i].revents & (POLLIN | POLLHUP)) read_progress(workers_[i]);
    reap();
    show();
  }
  if (g_stop_signal != 0) {
    for (const auto& w : workers_) ::kill(w.pid, SIGTERM);
    while (!workers_.empty()) {
      if (!reap()) ::usleep(20000);
    }
    if (terminal_ && !quiet_ && shown_width_ > 0) std::cerr << "\r\x1b[K" << std::flush;
    std::cerr << "seqlab run: stopped by " << strsignal(g_stop_signal) << "; "
              << already_done_ + finished_ << " of " << runs_text()
              << " are finished in " << out_.string()
              << "; run the same command again to do the rest" << std::endl;
    return 128 + g_stop_signal;
  }
  if (terminal_ && !quiet_ && shown_width_ > 0) std::cerr << "\r\x1b[K" << std::flush;
  const Summary summary = rebuild_summary(out_);
  for (const auto& w : summary.warnings) say("warning: " + w);
  print_summary(summary);
  if (!quiet_)
    std::printf("results: %s, %s (%zu runs)\n", (out_ / "results.h5").c_str(),
                (out_ / "results.csv").c_str(), summary.runs.size());
  if (!failures_.empty()) {
    const PlannedRun& first = plan_.runs[failures_.front().first];
    user_error("run: " + std::to_string(failures_.size()) + " of " + runs_text() +
               " failed (first: " + first.id + ", " +
               first.label + " on " + plan_.datasets[first.dataset].key + ": " +
               failures_.front().second + "); logs in " + (out_ / "logs").string());
  }
  return 0;
}

// A rank other than 0 of `mpirun -n R seqlab run`: asks rank 0 for a run, carries it out in a
// worker process (as the driver does: log in DIR/logs, run file written atomically), reports
// its exit status with the next request, until rank 0 says there is no more work.
int run_remote_executor(const ExperimentPlan& plan, const fs::path& out) {
  long long previous = -1;
  int previous_status = 0;
  for (;;) {
    const long long next = request_run(previous, previous_status);
    if (next < 0) return 0;
    const pid_t pid =
        start_worker(plan, out, plan.runs.at(static_cast<std::size_t>(next)), -1);
    int status = 0;
    while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
    }
    previous = next;
    previous_status = status;
  }
}

}  // namespace

int run_command(const std::vector<std::string>& args) {
  CommonOptions common;
  std::string file, out, worker, shard_text;
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
     "check the file, print the plan (runs, parameters, a rough time estimate) and exit")
    ("shard", po::value(&shard_text)->value_name("I/N"),
     "carry out only shard I of N of the plan (1 <= I <= N), for the tasks of a job array: the "
     "N shards split the plan by estimated time, the same on every machine. Give each task its "
     "own --out (one 'seqlab run' per folder) and combine the folders with 'seqlab merge'");
  add_common_options(desc, common, 0);
  po::options_description hidden;
  hidden.add_options()("worker", po::value(&worker), "internal: carry out one run");
  po::options_description all;
  all.add(desc).add(hidden);
  po::positional_options_description positional;
  positional.add("experiment", 1);
  po::variables_map vm;
  if (!parse_command_line("run", "EXPERIMENT.toml [--out DIR] [--jobs J] [--threads T] "
                                 "[--shard I/N] [--dry-run]",
                          args, all, &positional, vm))
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
  std::optional<Shard> shard;
  if (vm.count("shard")) shard = parse_shard(shard_text);
  const ExperimentPlan plan = parse_experiment(file, overrides);
  if (out.empty()) out = "results/" + plan.name;
  if (!worker.empty()) return run_worker(plan, out, worker);
  std::vector<std::size_t> runs(plan.runs.size());
  std::iota(runs.begin(), runs.end(), std::size_t{0});
  if (shard) runs = shard_runs(plan, shard->index, shard->count);
  // Under MPI, rank 0 drives (its own --jobs, plus a queue the other ranks draw runs from) and
  // the other ranks carry out what it hands them.
  if (mpi_rank() != 0) return dry_run ? 0 : run_remote_executor(plan, out);
  if (dry_run) {
    if (shard && runs.empty())
      std::printf("%s\n", empty_shard_line(plan, *shard).c_str());
    else
      print_plan(plan, out, runs, shard);
    return 0;
  }
  return Driver(plan, std::move(runs), shard, out, common.quiet).run();
}

}  // namespace seqlab::cli
