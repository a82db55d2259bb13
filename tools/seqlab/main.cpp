// tools/seqlab/main.cpp: the `seqlab` program: git-style subcommands over libseqlab.
// Exit codes: 0 success, 1 user error (one line on stderr), 2 internal error.
#include <exception>
#include <iostream>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab_config.hpp"

namespace seqlab::cli {

const std::vector<Command>& commands() {
  static const std::vector<Command> table = {
      // datasets
      {"datasets", "list, describe, fetch and verify the registered datasets", datasets_command},
      // train / eval / sample
      {"train", "fit a model to a dataset split and save it (HDF5)", train_command},
      {"eval", "score a dataset split with a saved model: NLL in nats and bits, perplexity",
       eval_command},
      {"sample", "draw a sequence from a saved model", sample_command},
      {"decode", "hidden-state paths of an HMM: Viterbi or posterior decoding", decode_command},
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

int main(int argc, char** argv) {
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
