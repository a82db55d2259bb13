// tools/seqlab/main.cpp: the `seqlab` program: git-style subcommands over libseqlab.
// Exit codes: 0 success, 1 user error (one line on stderr), 2 internal error, 128 + N stopped
// by signal N with a checkpoint to continue from (130 SIGINT, 143 SIGTERM).
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/statvfs.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "mpi_session.hpp"
#include "seqlab/core/blas.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab_config.hpp"

namespace seqlab::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      // datasets
      {"datasets", "the registered datasets: list, info, fetch, verify, true-model, floor", datasets_command},
      // train / eval / sample
      {"train", "fit a model to a dataset split and save it (HDF5)", train_command},
      {"eval", "score a dataset split with a saved model: NLL in nats and bits, perplexity",
       eval_command},
      {"sample", "draw a sequence from a saved model", sample_command},
      {"decode", "hidden-state paths of an HMM: Viterbi or posterior decoding", decode_command},
      // Hopfield networks
      {"recall", "a Hopfield network's recall of single cues: grids, overlaps, energy figure",
       recall_command},
      {"capacity", "the Hopfield capacity experiment: recall against load per rule, table and "
                   "figure",
       capacity_command},
      // energy models with a likelihood
      {"logz", "AIS estimates of an RBM's or BM's log Z against the schedule, beside the exact value",
       logz_command},
      // experiments
      {"run", "run an experiment file (TOML): models x datasets x seeds into a results folder",
       run_command},
      {"merge", "combine results folders of one experiment (the shards of a job array) into one",
       merge_command},
      // report / plot
      {"report", "the report of a results folder: HTML page, Markdown, LaTeX table, figures",
       report_command},
      {"plot", "figures of a results folder, a run file, or a model file's learning curve",
       plot_command},
      // bench
      {"bench", "measure speed against the machine's GEMM rate and against peer libraries",
       bench_command},
  };
  return table;
}

}  // namespace seqlab::cli

namespace {

void print_usage() {
  std::cout << "usage: seqlab <command> [options]   (seqlab <command> --help for details)\n\n"
               "commands:\n";
  for (const auto& c : seqlab::cli::commands())
    std::cout << "  " << c.name << std::string(c.name.size() < 10 ? 10 - c.name.size() : 1, ' ')
              << c.summary << "\n";
  std::cout << "\nseqlab " << SEQLAB_VERSION << "\n";
}

// The reason a write to standard output failed, when errno no longer tells (stdio keeps only a
// flag, and the command went on after the failed write): the conditions that make such writes
// fail persist, so they can still be seen. 0 when none of them holds.
int persisting_write_failure() {
  struct stat st {};
  if (::fstat(STDOUT_FILENO, &st) != 0) return errno;
  if (S_ISCHR(st.st_mode) && gnu_dev_major(st.st_rdev) == 1 &&
      gnu_dev_minor(st.st_rdev) == 7)
    return ENOSPC;  // /dev/full
  if (!S_ISREG(st.st_mode)) return 0;
  struct rlimit limit {};
  if (::getrlimit(RLIMIT_FSIZE, &limit) == 0 && limit.rlim_cur != RLIM_INFINITY &&
      static_cast<rlim_t>(st.st_size) >= limit.rlim_cur)
    return EFBIG;
  struct statvfs fs {};
  if (::fstatvfs(STDOUT_FILENO, &fs) == 0 && fs.f_bavail == 0) return ENOSPC;
  return 0;
}

// Everything printed must reach standard output: a full disk or /dev/full loses it silently
// unless the stream is flushed, checked and closed before exit. Ensures: `status` when all went
// well (or an error was already reported), else one error line and exit code 1.
int finish_standard_output(int status) {
  // A write that failed earlier (at a flush inside the command) left its reason in errno, and
  // stdio keeps only a flag: take errno along when it is a reason a write gives.
  const int earlier = errno;
  const bool write_reason = earlier == ENOSPC || earlier == EFBIG || earlier == EIO ||
                            earlier == EDQUOT || earlier == EPIPE || earlier == EBADF ||
                            earlier == EROFS || earlier == ENXIO;
  errno = 0;
  std::cout.flush();  // std::cout writes through C's stdout (synchronised with stdio)
  bool failed = !std::cout.good() || std::ferror(stdout) != 0;
  failed = std::fflush(stdout) != 0 || failed;
  int error = errno != 0 ? errno : write_reason ? earlier : 0;
  if (failed && error == 0) error = persisting_write_failure();
  // close(2) can report what the writes did not (e.g. on network file systems). A standard
  // output that was never open (EBADF) had nothing written to it, or the flush failed already.
  if (!failed && ::close(STDOUT_FILENO) != 0 && errno != EBADF && errno != EINTR) {
    failed = true;
    error = errno;
  }
  if (!failed || status != 0) return status;
  std::cerr << "seqlab: error: cannot write to standard output: "
            << (error != 0 ? std::strerror(error) : "an earlier write failed") << "\n";
  return 1;
}

int run(std::vector<std::string> args) {
  if (args.empty() || args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    print_usage();
    return args.empty() ? 1 : 0;
  }
  if (args[0] == "--version") {
    std::cout << "seqlab " << SEQLAB_VERSION << "\n";
    return 0;
  }
  const std::string name = args[0];
  args.erase(args.begin());
  try {
    seqlab::cli::start_mpi();
    // Of the commands, training shares its work over the ranks of an MPI job; the others would
    // only run R times side by side.
    if (seqlab::cli::mpi_size() > 1 && name != "train" && name != "bench" && name != "run")
      seqlab::user_error("'seqlab " + name + "' runs in one process; under mpirun (" +
                         std::to_string(seqlab::cli::mpi_size()) +
                         " ranks) only 'seqlab train --model hmm' and 'seqlab run' share their "
                         "work");
    for (const auto& c : seqlab::cli::commands())
      if (c.name == name) return c.run(args);
    seqlab::user_error("unknown command '" + name + "' (see 'seqlab --help')");
  } catch (const seqlab::Interrupted& e) {  // a command that did not word it itself
    std::cout.flush();
    std::cerr << "seqlab: " << e.what() << "\n";
    return seqlab::cli::stopped_exit_code();
  } catch (const seqlab::UserError& e) {
    std::cout.flush();  // what the command printed before the error comes first
    // One write of the whole line: the ranks of an MPI job print theirs into one stream.
    std::cerr << (std::string("seqlab: error: ") + e.what() + "\n");
    return 1;
  } catch (const std::exception& e) {
    std::cout.flush();
    std::cerr << "seqlab: internal error: " << e.what() << "\n";
    return 2;
  }
}

}  // namespace

// OpenBLAS chose a generic kernel on a CPU it did not recognise (see core/blas.hpp): run again,
// once, with the kernel family named in the environment. Child processes (peer benchmarks)
// inherit it, so every program of a benchmark run uses the same BLAS kernels.
void select_blas_kernels(char** argv) {
  const std::string core = seqlab::better_blas_core();
  if (core.empty()) return;
  ::setenv("OPENBLAS_CORETYPE", core.c_str(), 1);
  ::execv("/proc/self/exe", argv);  // returns only on failure: carry on with the slow kernels
}

int main(int argc, char** argv) {
  select_blas_kernels(argv);
  // The engines run their own worker threads (--threads); BLAS threads are opted into per
  // command, never stacked under ours by accident.
  seqlab::set_blas_threads(1);
  // A file-size limit (ulimit -f) then fails the write with EFBIG, reported as an error,
  // instead of killing the process in the middle of it.
  std::signal(SIGXFSZ, SIG_IGN);
  const int status = finish_standard_output(run(std::vector<std::string>(argv + 1, argv + argc)));
  seqlab::cli::stop_mpi(status);
  return status;
}
