// tools/seqlab/cli_common.hpp: what every subcommand of the `seqlab` program shares: the
// command table, common options (--help, --seed, --threads, --quiet, --json) and parsing.
#pragma once

#include <boost/program_options.hpp>
#include <atomic>
#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "seqlab/models/sequence_model.hpp"

namespace seqlab::cli {

namespace po = boost::program_options;

// A subcommand: `run` gets the arguments after the command name.
struct Command {
  std::string name;
  std::string summary;
  std::function<int(const std::vector<std::string>& args)> run;
};

// Every command registers itself here (see main.cpp for the table).
const std::vector<Command>& commands();

// Options every command accepts.
struct CommonOptions {
  std::uint64_t seed = 1;
  unsigned threads = 1;
  bool quiet = false;
  bool json = false;
};

// The common options a command offers beyond --help and --quiet: only those that do something
// for it (a --seed that changes nothing would suggest randomness where there is none).
enum CommonOption : unsigned { kJson = 1u, kSeed = 2u, kThreads = 4u };

// Adds --help, --quiet and those of --json, --seed, --threads that `which` (CommonOption bits)
// names. --threads takes 1 .. max_threads(); anything else is a UserError naming it.
void add_common_options(po::options_description& desc, CommonOptions& common, unsigned which);

// The most worker threads a command accepts: 4 x the machine's cores (at least 4). More would
// only share the same cores and cost memory (one network copy per thread).
unsigned max_threads();

// Parses `args` against `desc` (positional names optional). Unknown options, missing values and
// malformed numbers become a UserError naming the option. Returns false when --help was given
// (the help text has been printed; the caller returns 0).
bool parse_command_line(const std::string& command, const std::string& usage,
                        const std::vector<std::string>& args, po::options_description& desc,
                        const po::positional_options_description* positional,
                        po::variables_map& vm);

// Requires the option to have been given, else a UserError "<command>: --<name> is required".
void require_option(const std::string& command, const po::variables_map& vm,
                    const std::string& name);

// Throws the UserError of a training run whose parameters became non-finite (h5::NonFiniteValue
// from the model writer): "<out>: training diverged (non-finite parameters in '<dataset>'): the
// model was not written; <hint>". Nothing was written: the model is built in memory first.
[[noreturn]] void training_diverged(const std::string& out, const std::string& dataset,
                                    const std::string& hint);

// How training progress reaches stderr. A message starting with '\r' is an in-place progress
// line: on a terminal it overwrites the previous one and is cleared before the next ordinary
// line; in a log (stderr not a terminal) it is written as an ordinary line at most once every
// `log_every_seconds` (0 = every one), so a long first epoch still shows it is alive; one that
// also ends in '\n' (an EM iteration) is written every time. Ordinary messages are always
// written. Nothing is written when `quiet`.
FitObserver progress_observer(bool quiet, double log_every_seconds);

// One JSON object on one line (machine-readable output of --json). Numbers keep 17 significant
// digits so that a result read back is the double that was printed; non-finite numbers are null.
class JsonObject {
public:
  void add(const std::string& key, const std::string& value);
  void add(const std::string& key, const char* value) { add(key, std::string(value)); }
  void add(const std::string& key, double value);
  void add(const std::string& key, std::uint64_t value);
  // `json` must already be valid JSON (an array or object built by the caller).
  void add_raw(const std::string& key, const std::string& json);
  std::string str() const;

private:
  std::vector<std::string> fields_;
};

// Reads the model file at `path` once in a child process (fork) before this process opens it, so
// that a damaged file on which libhdf5 itself crashes or hangs (tests/fuzz/README.md lists such
// inputs) ends in one line naming the file, exit 1, instead of a segfault or a hang. A file the
// child reads, or refuses with an error, is left to the caller's own load (which then reports
// the same error). Time limit: SEQLAB_LOAD_TIMEOUT seconds (default 60). Cost: one extra load.
void check_model_file_loads(const std::string& path);

// One number through a printf format with one double conversion ("%.4f"): fmt("%.4f", x).
std::string fmt(const char* format, double x);

// "1,2,4" -> {1, 2, 4}: positive integers, comma-separated; anything else (and an empty list) is
// a UserError "<command>: --<option> '<text>' is not a comma-separated list of positive integers".
std::vector<std::uint64_t> parse_positive_list(const std::string& command, const std::string& option,
                                               const std::string& text);

std::string json_escape(const std::string& s);
// A double with 17 significant digits, or null when not finite.
std::string json_number(double x);

// Cooperative stop of long training (FitOptions::stop). Ensures: from now on SIGINT and SIGTERM
// set the returned flag instead of killing the process (fit() then finishes its update, saves
// its checkpoint and throws Interrupted); a second signal of the same kind kills as usual. A
// signal this process was started with ignored (a background job's SIGINT, a `seqlab run`
// worker's) stays ignored. Idempotent.
const std::atomic<bool>* catch_stop_signals();
// The signal that set the flag (0 while none has).
int stop_signal();
// The exit code of a command stopped that way: 128 + the signal's number (130 for SIGINT, 143
// for SIGTERM; 130 when no signal was seen).
int stopped_exit_code();

}  // namespace seqlab::cli
