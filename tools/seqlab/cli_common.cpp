// tools/seqlab/cli_common.cpp: shared option handling of the seqlab subcommands.
#include "cli_common.hpp"

#include <sys/wait.h>
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <charconv>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <chrono>
#include <csignal>
#include <iostream>
#include <memory>
#include <sstream>
#include <thread>

#include "seqlab/core/error.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/energy/hopfield_memory.hpp"
#include "seqlab/models/rnn/task_model.hpp"

namespace seqlab::cli {

unsigned max_threads() { return std::max(4u, 4u * std::thread::hardware_concurrency()); }

void add_common_options(po::options_description& desc, CommonOptions& common, unsigned which) {
  desc.add_options()("help,h", "show this help and exit");
  if (which & kSeed)
    desc.add_options()(
        "seed",
        po::value<std::string>()->default_value("1")->value_name("S")->notifier(
            [&common](const std::string& text) {
              // Strictly 0 .. 2^64-1: a stream parser would wrap "-1" to 2^64-1 silently.
              std::uint64_t seed = 0;
              const auto [end, ec] = std::from_chars(text.data(), text.data() + text.size(), seed);
              if (text.empty() || ec != std::errc() || end != text.data() + text.size())
                user_error("--seed must be an integer between 0 and 18446744073709551615, got '" +
                           printable(text) + "'");
              common.seed = seed;
            }),
        "seed of every random choice (same seed, same build => same result)");
  if (which & kThreads)
    desc.add_options()(
        "threads",
        po::value<std::int64_t>()->default_value(1)->value_name("T")->notifier(
            [&common](std::int64_t t) {
              if (t < 1 || t > static_cast<std::int64_t>(max_threads()))
                user_error("--threads must be between 1 and " + std::to_string(max_threads()) +
                           " (4 x this machine's cores), got " + std::to_string(t));
              common.threads = static_cast<unsigned>(t);
            }),
        "worker threads");
  desc.add_options()("quiet,q", po::bool_switch(&common.quiet), "print only results and errors");
  if (which & kJson)
    desc.add_options()("json", po::bool_switch(&common.json),
                       "print one JSON object with the results as the last line of stdout");
}

// Boost reads "--order -1" as an option "-1"; joining it as "--order=-1" lets the option's own
// range check word the error.
std::vector<std::string> join_negative_values(const std::vector<std::string>& args) {
  std::vector<std::string> out;
  for (const auto& a : args) {
    const bool negative_number =
        a.size() >= 2 && a[0] == '-' && (std::isdigit(static_cast<unsigned char>(a[1])) || a[1] == '.');
    if (negative_number && !out.empty() && out.back().rfind("--", 0) == 0 &&
        out.back().find('=') == std::string::npos) {
      out.back() += "=" + a;
    } else {
      out.push_back(a);
    }
  }
  return out;
}

bool parse_command_line(const std::string& command, const std::string& usage,
                        const std::vector<std::string>& args, po::options_description& desc,
                        const po::positional_options_description* positional,
                        po::variables_map& vm) {
  try {
    po::command_line_parser parser(join_negative_values(args));
    parser.options(desc);
    if (positional) parser.positional(*positional);
    const po::parsed_options parsed = parser.run();
    // A word that no positional name takes would otherwise be dropped without a word.
    for (const auto& option : parsed.options)
      if (option.string_key.empty() && option.position_key != -1)
        user_error(command + ": unexpected argument '" +
                   (option.original_tokens.empty() ? std::string() : option.original_tokens[0]) +
                   "' (options start with --; see 'seqlab " + command + " --help')");
    po::store(parsed, vm);
    if (vm.count("help")) {
      std::cout << "usage: seqlab " << command << " " << usage << "\n\n" << desc << "\n";
      return false;
    }
    try {
      po::notify(vm);
    } catch (const UserError& e) {  // from an option's own check: say which command
      user_error(command + ": " + e.what());
    }
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

void training_diverged(const std::string& out, const std::string& dataset,
                       const std::string& hint) {
  input_error(out, "training diverged (non-finite parameters in '" + dataset +
                       "'): the model was not written; " + hint);
}

FitObserver progress_observer(bool quiet, double log_every_seconds) {
  FitObserver observer;
  if (quiet) return observer;
  struct State {
    bool terminal = ::isatty(STDERR_FILENO) != 0;
    std::size_t width = 0;  // of the in-place line on screen, 0 = none
    std::chrono::steady_clock::time_point last_logged = std::chrono::steady_clock::now();
  };
  auto state = std::make_shared<State>();
  observer.on_message = [state, log_every_seconds](const std::string& m) {
    if (!m.empty() && m[0] == '\r') {
      // "\r...\n": overwritten on a terminal, but every one kept in a log.
      const bool keep = m.size() > 1 && m.back() == '\n';
      const std::string shown = keep ? m.substr(0, m.size() - 1) : m;
      if (!state->terminal) {
        const auto now = std::chrono::steady_clock::now();
        if (!keep &&
            std::chrono::duration<double>(now - state->last_logged).count() < log_every_seconds)
          return;
        state->last_logged = now;
        std::string line = shown.substr(1);
        while (!line.empty() && line.back() == ' ') line.pop_back();
        std::cerr << line << std::endl;
        return;
      }
      std::cerr << shown
                << std::string(state->width > shown.size() ? state->width - shown.size() : 0, ' ')
                << std::flush;
      state->width = shown.size();
      return;
    }
    if (state->width > 0) std::cerr << '\r' << std::string(state->width, ' ') << '\r';
    state->width = 0;
    std::cerr << m << std::endl;
  };
  return observer;
}

}  // namespace seqlab::cli

namespace seqlab::cli {

void check_model_file_loads(const std::string& path) {
  double limit = 60.0;
  if (const char* text = std::getenv("SEQLAB_LOAD_TIMEOUT"); text != nullptr && *text != '\0') {
    char* end = nullptr;
    limit = std::strtod(text, &end);
    if (*end != '\0' || !(limit > 0.0 && limit <= 1e6))
      user_error(std::string("SEQLAB_LOAD_TIMEOUT must be a number of seconds in (0, 1e6], got '") +
                 text + "'");
  }
  std::cout.flush();
  std::cerr.flush();
  const pid_t child = ::fork();
  if (child < 0) return;  // no process to spare: the caller's load runs unguarded, as before
  if (child == 0) {
    // The child only reads; what it would print (HDF5 or sanitizer reports) goes nowhere.
    const int null_fd = ::open("/dev/null", O_WRONLY);
    if (null_fd >= 0) {
      ::dup2(null_fd, STDOUT_FILENO);
      ::dup2(null_fd, STDERR_FILENO);
    }
    try {
      if (is_task_model_file(path))
        (void)load_task_model(path);
      else if (energy::is_hopfield_file(path))
        (void)energy::load_hopfield_file(path);
      else
        (void)load_model(path);
    } catch (...) {
    }
    ::_exit(0);  // no exit handlers: nothing of the parent's is flushed or checked twice
  }
  const auto start = std::chrono::steady_clock::now();
  int status = 0;
  for (;;) {
    const pid_t done = ::waitpid(child, &status, WNOHANG);
    if (done == child) break;
    if (done < 0) return;  // the child is out of our hands: load unguarded
    const double waited =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    if (waited > limit) {
      ::kill(child, SIGKILL);
      ::waitpid(child, &status, 0);
      input_error(path, "reading it did not finish in " + std::to_string(static_cast<long>(limit)) +
                            " s: the HDF5 library loops on some damaged files (SEQLAB_LOAD_TIMEOUT "
                            "sets the limit for a very large model on a slow disk)");
    }
    // Most files load in milliseconds: poll finely first, then every 20 ms.
    std::this_thread::sleep_for(std::chrono::microseconds(waited < 0.1 ? 500 : 20000));
  }
  if (WIFSIGNALED(status))
    input_error(path, std::string("the HDF5 library crashed reading it (") +
                          ::strsignal(WTERMSIG(status)) + "): the file is damaged");
  if (WIFEXITED(status) && WEXITSTATUS(status) != 0)
    input_error(path, "the HDF5 library failed reading it (exit status " +
                          std::to_string(WEXITSTATUS(status)) + "): the file is damaged");
}

std::string fmt(const char* format, double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, format, x);
  return buffer;
}

std::vector<std::uint64_t> parse_positive_list(const std::string& command, const std::string& option,
                                               const std::string& text) {
  std::vector<std::uint64_t> values;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    try {
      std::size_t used = 0;
      const unsigned long long v = std::stoull(item, &used);
      if (used != item.size() || v == 0 || item[0] == '-' || item[0] == '+')
        throw std::invalid_argument(item);
      values.push_back(v);
    } catch (const std::exception&) {
      user_error(command + ": --" + option + " '" + text +
                 "' is not a comma-separated list of positive integers");
    }
  }
  if (values.empty()) user_error(command + ": --" + option + " is empty, expected e.g. 1,2");
  return values;
}

std::string json_escape(const std::string& s) {
  std::string out = "\"";
  for (unsigned char c : s) {
    switch (c) {
      case '"': out += "\\\""; break;
      case '\\': out += "\\\\"; break;
      case '\n': out += "\\n"; break;
      case '\t': out += "\\t"; break;
      case '\r': out += "\\r"; break;
      default:
        if (c < 0x20) {
          char buf[8];
          std::snprintf(buf, sizeof buf, "\\u%04x", c);
          out += buf;
        } else {
          out += static_cast<char>(c);
        }
    }
  }
  return out + "\"";
}

std::string json_number(double x) {
  if (!std::isfinite(x)) return "null";
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.17g", x);
  return buf;
}

void JsonObject::add(const std::string& key, const std::string& value) {
  fields_.push_back(json_escape(key) + ": " + json_escape(value));
}
void JsonObject::add(const std::string& key, double value) {
  fields_.push_back(json_escape(key) + ": " + json_number(value));
}
void JsonObject::add(const std::string& key, std::uint64_t value) {
  fields_.push_back(json_escape(key) + ": " + std::to_string(value));
}
void JsonObject::add_raw(const std::string& key, const std::string& json) {
  fields_.push_back(json_escape(key) + ": " + json);
}
std::string JsonObject::str() const {
  std::string out = "{";
  for (std::size_t i = 0; i < fields_.size(); ++i) out += (i ? ", " : "") + fields_[i];
  return out + "}";
}

namespace {

std::atomic<bool> g_stop_flag{false};
volatile std::sig_atomic_t g_stopped_by = 0;
static_assert(std::atomic<bool>::is_always_lock_free, "the flag is set in a signal handler");

extern "C" void on_cooperative_stop(int signal) {
  g_stopped_by = signal;
  g_stop_flag.store(true);
}

}  // namespace

const std::atomic<bool>* catch_stop_signals() {
  for (const int signal : {SIGINT, SIGTERM}) {
    struct sigaction old {};
    if (::sigaction(signal, nullptr, &old) == 0 && old.sa_handler == SIG_IGN) continue;
    struct sigaction action {};
    action.sa_handler = on_cooperative_stop;
    sigemptyset(&action.sa_mask);
    action.sa_flags = SA_RESETHAND;  // the second one kills
    ::sigaction(signal, &action, nullptr);
  }
  return &g_stop_flag;
}

int stop_signal() { return g_stopped_by; }

int stopped_exit_code() { return 128 + (g_stopped_by != 0 ? g_stopped_by : SIGINT); }

}  // namespace seqlab::cli
