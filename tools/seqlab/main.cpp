// tools/seqlab/main.cpp: the `seqlab` program: git-style subcommands over libseqlab.
// Exit codes: 0 success, 1 user error (one line on stderr), 2 internal error.
#include <unistd.h>

#include <cstdlib>
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
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
  std::vector<std::string> args(argv + 1, argv + argc);
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
    for (const auto& c : seqlab::cli::commands())
      if (c.name == name) return c.run(args);
    seqlab::user_error("unknown command '" + name + "' (see 'seqlab --help')");
  } catch (const seqlab::UserError& e) {
    std::cerr << "seqlab: error: " << e.what() << "\n";
    return 1;
  } catch (const std::exception& e) {
    std::cerr << "seqlab: internal error: " << e.what() << "\n";
    return 2;
  }
}
