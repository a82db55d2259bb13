// tools/seqlab/cli_common.cpp: shared option handling of the seqlab subcommands.
#include "cli_common.hpp"

#include <iostream>

#include "seqlab/core/error.hpp"

namespace seqlab::cli {

void add_common_options(po::options_description& desc, CommonOptions& common, bool with_json) {
  desc.add_options()
    ("help,h", "show this help and exit")
    ("seed", po::value(&common.seed)->default_value(1), "seed of every random choice")
    ("threads", po::value(&common.threads)->default_value(1), "worker threads")
    ("quiet,q", po::bool_switch(&common.quiet), "print only results and errors");
  if (with_json)
    desc.add_options()("json", po::bool_switch(&common.json),
                       "print one JSON object with the results as the last line of stdout");
}

bool parse_command_line(const std::string& command, const std::string& usage,
                        const std::vector<std::string>& args, po::options_description& desc,
                        const po::positional_options_description* positional,
                        po::variables_map& vm) {
  try {
    po::command_line_parser parser(args);
    parser.options(desc);
    if (positional) parser.positional(*positional);
    po::store(parser.run(), vm);
    if (vm.count("help")) {
      std::cout << "usage: seqlab " << command << " " << usage << "\n\n" << desc << "\n";
      return false;
    }
    po::notify(vm);
  } catch (const po::error& e) {
    user_error(command + ": " + e.what() + " (see 'seqlab " + command + " --help')");
  }
  return true;
}

void require_option(const std::string& command, const po::variables_map& vm,
                    const std::string& name) {
  if (!vm.count(name))
    user_error(command + ": --" + name + " is required (see 'seqlab " + command + " --help')");
}

}  // namespace seqlab::cli
