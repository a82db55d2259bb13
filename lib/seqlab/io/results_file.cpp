// seqlab/io/results_file.cpp: run files and the summary of a results folder (layout in
// docs/formats.md, "Results folders"; contracts in results_file.hpp).
#include "seqlab/io/results_file.hpp"

#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <cmath>
#include <ctime>
#include <functional>
#include <map>
#include <set>
#include <stdexcept>
#include <system_error>
#include <tuple>

#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/blas.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/version.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/history.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/rnn/task_model.hpp"
#include "seqlab_build_commit.hpp"
#include "seqlab_config.hpp"

namespace seqlab {
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr int kSummaryFormatVersion = 1;

const char* const kSplitNames[] = {"train", "valid", "test"};

std::optional<SplitMetrics>& split_of(RunResult& r, int i) {
  return i == 0 ? r.train : i == 1 ? r.valid : r.test;
}
const std::optional<SplitMetrics>& split_of(const RunResult& r, int i) {
  return i == 0 ? r.train : i == 1 ? r.valid : r.test;
}
std::optional<TaskSplitMetrics>& task_split_of(RunResult& r, int i) {
  return i == 0 ? r.task_train : i == 1 ? r.task_valid : r.task_test;
}
const std::optional<TaskSplitMetrics>& task_split_of(const RunResult& r, int i) {
  return i == 0 ? r.task_train : i == 1 ? r.task_valid : r.task_test;
}

// The unit a task run's history and per-sequence numbers have.
std::string task_unit(const std::string& task) {
  return task == "classify" ? "sequence" : "squared_error";
}

std::string compiler_name() {
#if defined(__clang__)
  return std::string("clang ") + __clang_version__;
#elif defined(__GNUC__)
  return std::string("gcc ") + __VERSION__;
#else
  return "unknown";
#endif
}

std::string utc_now() {
  const std::time_t now = std::time(nullptr);
  std::tm tm{};
  gmtime_r(&now, &tm);
  char buf[32];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%SZ", &tm);
  return buf;
}

std::string host_name() {
  char buf[256] = {};
  if (::gethostname(buf, sizeof buf - 1) != 0) return "unknown";
  return buf;
}

void check_result(const RunResult& r, const std::string& model_type, const std::string& task) {
  const auto bad = [](const std::string& what) {
    throw std::invalid_argument("write_run_file: " + what);
  };
  if (r.task != task)
    bad("task '" + r.task + "' differs from the model's ('" + task + "')");
  if (task.empty() && r.unit != "symbol" && r.unit != "frame")
    bad("unit must be 'symbol' or 'frame'");
  if (!task.empty() && r.unit != task_unit(task))
    bad("a " + task + " run's unit must be '" + task_unit(task) + "'");
  if (task.empty() && (r.task_train || r.task_valid || r.task_test))
    bad("task metrics belong to task runs");
  if (!task.empty() && (r.train || r.valid || r.test))
    bad("a task run has no likelihood splits");
  if (r.model_type != model_type)
    bad("model_type '" + r.model_type + "' differs from the model's type '" + model_type + "'");
  for (std::size_t i = 1; i < r.settings.size(); ++i)
    if (!(r.settings[i - 1].first < r.settings[i].first))
      bad("settings must be sorted by key without duplicates ('" + r.settings[i].first + "')");
  if (r.transition.n_rows != r.transition.n_cols) bad("transition must be square");
  if (!r.posterior.empty() && !r.transition.empty() && r.posterior.n_rows != r.transition.n_rows)
    bad("posterior must have one row per state of transition");
  if (!r.posterior.empty() && r.posterior.n_cols != r.stretch.size())
    bad("posterior must have one column per step of stretch");
  if (!r.activations.empty() && r.activations.n_cols != r.stretch.size())
    bad("activations must have one column per step of stretch");
}

void write_metrics(H5::Group& root, const RunResult& r) {
  H5::Group m = h5::create_group(root, "metrics");
  h5::write_uint_attribute(m, "parameters", r.parameters);
  h5::write_uint_attribute(m, "updates", r.updates);
  h5::write_uint_attribute(m, "epochs", r.epochs);
  h5::write_double_attribute(m, "wall_seconds", r.wall_seconds);
  h5::write_double_attribute(m, "floor_nats", r.floor_nats);
  for (int i = 0; i < 3; ++i) {
    const auto& s = split_of(r, i);
    if (!s) continue;
    const std::string p = std::string(kSplitNames[i]) + "_";
    h5::write_double_attribute(m, p + "log_likelihood", s->log_likelihood);
    h5::write_uint_attribute(m, p + "steps", s->steps);
    h5::write_uint_attribute(m, p + "sequences", s->sequences);
    h5::write_double_attribute(m, p + "nats_per_step", s->nats_per_step);
    h5::write_double_attribute(m, p + "bits_per_step", s->bits_per_step);
    h5::write_double_attribute(m, p + "perplexity", s->perplexity);
    h5::write_double_attribute(m, p + "nats_stderr", s->nats_stderr);
  }
  for (int i = 0; i < 3; ++i) {
    const auto& s = task_split_of(r, i);
    if (!s) continue;
    const std::string p = std::string("task_") + kSplitNames[i] + "_";
    h5::write_uint_attribute(m, p + "sequences", s->sequences);
    h5::write_double_attribute(m, p + "accuracy", s->accuracy);
    h5::write_double_attribute(m, p + "label_nll_nats", s->label_nll_nats);
    h5::write_double_attribute(m, p + "label_nll_bits", s->label_nll_bits);
    h5::write_double_attribute(m, p + "mse", s->mse);
    h5::write_double_attribute(m, p + "baseline_mse", s->baseline_mse);
  }
}

void read_metrics(const H5::Group& root, RunResult& r) {
  const H5::Group m = h5::open_group(root, "metrics");
  r.parameters = h5::read_uint_attribute(m, "parameters");
  r.updates = h5::read_uint_attribute(m, "updates");
  r.epochs = h5::read_uint_attribute(m, "epochs");
  r.wall_seconds = h5::read_double_attribute(m, "wall_seconds");
  r.floor_nats = h5::read_double_attribute(m, "floor_nats");
  for (int i = 0; i < 3; ++i) {
    const std::string p = std::string(kSplitNames[i]) + "_";
    if (!h5::has_attribute(m, p + "log_likelihood")) continue;
    SplitMetrics s;
    s.log_likelihood = h5::read_double_attribute(m, p + "log_likelihood");
    s.steps = h5::read_uint_attribute(m, p + "steps");
    s.sequences = h5::read_uint_attribute(m, p + "sequences");
    s.nats_per_step = h5::read_double_attribute(m, p + "nats_per_step");
    s.bits_per_step = h5::read_double_attribute(m, p + "bits_per_step");
    s.perplexity = h5::read_double_attribute(m, p + "perplexity");
    // Absent in run files written before estimates were recorded: not known (an RBM's NLL was
    // an AIS estimate even then), so NaN, never a claim of exactness.
    s.nats_stderr = h5::has_attribute(m, p + "nats_stderr")
                        ? h5::read_double_attribute(m, p + "nats_stderr")
                        : kNaN;
    split_of(r, i) = s;
  }
  for (int i = 0; i < 3; ++i) {
    const std::string p = std::string("task_") + kSplitNames[i] + "_";
    if (!h5::has_attribute(m, p + "sequences")) continue;
    if (r.task.empty())
      h5::format_error(m, "", "has task metrics (" + p + "*), but the run is not a task run");
    TaskSplitMetrics s;
    s.sequences = h5::read_uint_attribute(m, p + "sequences");
    s.accuracy = h5::read_double_attribute(m, p + "accuracy");
    s.label_nll_nats = h5::read_double_attribute(m, p + "label_nll_nats");
    s.label_nll_bits = h5::read_double_attribute(m, p + "label_nll_bits");
    s.mse = h5::read_double_attribute(m, p + "mse");
    s.baseline_mse = h5::read_double_attribute(m, p + "baseline_mse");
    task_split_of(r, i) = s;
  }
}

void write_environment(H5::Group& root, const RunEnvironment& e) {
  H5::Group g = h5::create_group(root, "environment");
  h5::write_string_attribute(g, "version", e.version);
  h5::write_string_attribute(g, "commit", e.commit);
  h5::write_string_attribute(g, "compiler", e.compiler);
  h5::write_string_attribute(g, "blas", e.blas);
  h5::write_string_attribute(g, "blas_kernel", e.blas_kernel);
  h5::write_string_attribute(g, "date", e.date);
  h5::write_string_attribute(g, "host", e.host);
  h5::write_uint_attribute(g, "threads", e.threads);
}

RunEnvironment read_environment(const H5::Group& root) {
  const H5::Group g = h5::open_group(root, "environment");
  RunEnvironment e;
  e.version = h5::read_string_attribute(g, "version");
  e.commit = h5::read_string_attribute(g, "commit");
  e.compiler = h5::read_string_attribute(g, "compiler");
  e.blas = h5::read_string_attribute(g, "blas");
  e.blas_kernel = h5::read_string_attribute(g, "blas_kernel");
  e.date = h5::read_string_attribute(g, "date");
  e.host = h5::read_string_attribute(g, "host");
  const std::uint64_t threads = h5::read_uint_attribute(g, "threads");
  if (threads > 1u << 20) h5::format_error(g, "", "attribute 'threads' is out of range");
  e.threads = static_cast<unsigned>(threads);
  return e;
}

void write_settings(H5::Group& root, const RunResult& r) {
  H5::Group g = h5::create_group(root, "settings");
  std::vector<std::string> keys, values;
  for (const auto& [k, v] : r.settings) {
    keys.push_back(k);
    values.push_back(v);
  }
  h5::write_strings(g, "keys", keys);
  h5::write_strings(g, "values", values);
  h5::write_string_attribute(g, "toml", r.settings_toml);
}

void read_settings(const H5::Group& root, RunResult& r) {
  const H5::Group g = h5::open_group(root, "settings");
  const std::vector<std::string> keys = h5::read_strings(g, "keys");
  const std::vector<std::string> values = h5::read_strings(g, "values");
  if (keys.size() != values.size())
    h5::format_error(g, "values",
                     "has " + std::to_string(values.size()) + " elements, expected " +
                         std::to_string(keys.size()) + " (one per key)");
  r.settings.clear();
  for (std::size_t i = 0; i < keys.size(); ++i) r.settings.emplace_back(keys[i], values[i]);
  r.settings_toml = h5::read_string_attribute(g, "toml");
}

void write_inspect(H5::Group& root, const RunResult& r) {
  H5::Group g = h5::create_group(root, "inspect");
  if (!r.transition.empty()) h5::write_mat(g, "transition", r.transition);
  if (!r.filters.empty()) h5::write_mat(g, "filters", r.filters);
  if (!r.posterior.empty()) h5::write_mat(g, "posterior", r.posterior);
  if (!r.activations.empty()) h5::write_mat(g, "activations", r.activations);
  if (!r.stretch.empty()) h5::write_strings(g, "stretch", r.stretch);
}

void read_inspect(const H5::Group& root, RunResult& r) {
  const H5::Group g = h5::open_group(root, "inspect");
  if (h5::has_child(g, "transition")) {
    r.transition = h5::read_mat(g, "transition");
    if (r.transition.n_rows != r.transition.n_cols)
      h5::format_error(g, "transition",
                       "is " + std::to_string(r.transition.n_rows) + " x " +
                           std::to_string(r.transition.n_cols) +
                           ", expected a square matrix (states x states)");
  }
  if (h5::has_child(g, "filters")) r.filters = h5::read_mat(g, "filters");
  if (h5::has_child(g, "posterior")) r.posterior = h5::read_mat(g, "posterior");
  if (h5::has_child(g, "activations")) r.activations = h5::read_mat(g, "activations");
  if (h5::has_child(g, "stretch")) r.stretch = h5::read_strings(g, "stretch");
  if (!r.posterior.empty() && !r.transition.empty() && r.posterior.n_rows != r.transition.n_rows)
    h5::format_error(g, "posterior",
                     "has " + std::to_string(r.posterior.n_rows) +
                         " rows, expected one per state (" + std::to_string(r.transition.n_rows) +
                         ")");
  const auto same_length = [&](const arma::mat& m, const char* name) {
    if (!m.empty() && m.n_cols != r.stretch.size())
      h5::format_error(g, name,
                       "has " + std::to_string(m.n_cols) +
                           " columns, expected one per step of 'stretch' (" +
                           std::to_string(r.stretch.size()) + ")");
  };
  same_length(r.posterior, "posterior");
  same_length(r.activations, "activations");
}

// Checks that the root is a run file of the format this reader knows.
void check_run_envelope(const fs::path& path, const H5::Group& root) {
  if (!h5::has_attribute(root, "seqlab_run_format") && h5::has_attribute(root, "model") &&
      h5::has_attribute(root, "seqlab_format"))
    input_error(path, "is a model file, not a run file of a results folder");
  h5::require_format_version(path, root, "seqlab_run_format", kRunFormatVersion, "run file");
}

// ---- the summary table ----------------------------------------------------------------------

// A column of results.h5 / results.csv: text, a count or a real number per run.
struct Column {
  std::string name;
  enum class Type { text, count, real } type;
  std::function<std::string(const RunResult&, const fs::path&)> text;
  std::function<std::optional<std::uint64_t>(const RunResult&)> count;
  std::function<double(const RunResult&)> real;
};

Column text_column(std::string name, std::function<std::string(const RunResult&)> f) {
  return {std::move(name), Column::Type::text,
          [f](const RunResult& r, const fs::path&) { return f(r); }, nullptr, nullptr};
}
Column count_column(std::string name,
                    std::function<std::optional<std::uint64_t>(const RunResult&)> f) {
  return {std::move(name), Column::Type::count, nullptr, std::move(f), nullptr};
}
Column real_column(std::string name, std::function<double(const RunResult&)> f) {
  return {std::move(name), Column::Type::real, nullptr, nullptr, std::move(f)};
}

std::string settings_line(const RunResult& r) {
  std::string s;
  for (const auto& [k, v] : r.settings) s += (s.empty() ? "" : "; ") + k + "=" + v;
  return s;
}

const std::vector<Column>& columns() {
  static const std::vector<Column> table = [] {
    std::vector<Column> c;
    c.push_back(text_column("run_id", [](const RunResult& r) { return r.run_id; }));
    c.push_back(text_column("label", [](const RunResult& r) { return r.label; }));
    c.push_back(text_column("model_type", [](const RunResult& r) { return r.model_type; }));
    c.push_back(text_column("family", [](const RunResult& r) { return r.family; }));
    c.push_back(text_column("dataset", [](const RunResult& r) { return r.dataset; }));
    c.push_back(text_column("unit", [](const RunResult& r) { return r.unit; }));
    c.push_back(text_column("task", [](const RunResult& r) { return r.task; }));
    c.push_back(count_column("seed", [](const RunResult& r) { return r.seed; }));
    c.push_back(count_column("parameters", [](const RunResult& r) { return r.parameters; }));
    c.push_back(count_column("updates", [](const RunResult& r) { return r.updates; }));
    c.push_back(count_column("epochs", [](const RunResult& r) { return r.epochs; }));
    c.push_back(real_column("wall_seconds", [](const RunResult& r) { return r.wall_seconds; }));
    for (int i : {2, 1, 0}) {
      const std::string p = std::string(kSplitNames[i]) + "_";
      const auto get = [i](const RunResult& r) -> const std::optional<SplitMetrics>& {
        return split_of(r, i);
      };
      c.push_back(real_column(p + "nats_per_step", [get](const RunResult& r) {
        return get(r) ? get(r)->nats_per_step : kNaN;
      }));
      c.push_back(real_column(p + "bits_per_step", [get](const RunResult& r) {
        return get(r) ? get(r)->bits_per_step : kNaN;
      }));
      c.push_back(real_column(p + "perplexity", [get](const RunResult& r) {
        return get(r) ? get(r)->perplexity : kNaN;
      }));
      c.push_back(real_column(p + "log_likelihood", [get](const RunResult& r) {
        return get(r) ? get(r)->log_likelihood : kNaN;
      }));
      c.push_back(real_column(p + "nats_stderr", [get](const RunResult& r) {
        return get(r) ? get(r)->nats_stderr : kNaN;
      }));
      c.push_back(
          count_column(p + "steps", [get](const RunResult& r) -> std::optional<std::uint64_t> {
            if (!get(r)) return std::nullopt;
            return get(r)->steps;
          }));
      c.push_back(count_column(
          p + "sequences", [get, i](const RunResult& r) -> std::optional<std::uint64_t> {
            if (get(r)) return get(r)->sequences;
            if (task_split_of(r, i)) return task_split_of(r, i)->sequences;
            return std::nullopt;
          }));
    }
    // Task runs: task metrics, never a likelihood (empty for sequence models).
    for (int i : {2, 1, 0}) {
      const std::string p = std::string(kSplitNames[i]) + "_";
      const auto task_real = [i](double TaskSplitMetrics::*field) {
        return [i, field](const RunResult& r) {
          return task_split_of(r, i) ? (*task_split_of(r, i)).*field : kNaN;
        };
      };
      c.push_back(real_column(p + "accuracy", task_real(&TaskSplitMetrics::accuracy)));
      c.push_back(real_column(p + "label_nll_nats", task_real(&TaskSplitMetrics::label_nll_nats)));
      c.push_back(real_column(p + "label_nll_bits", task_real(&TaskSplitMetrics::label_nll_bits)));
      c.push_back(real_column(p + "mse", task_real(&TaskSplitMetrics::mse)));
      c.push_back(real_column(p + "baseline_mse", task_real(&TaskSplitMetrics::baseline_mse)));
    }
    c.push_back(real_column("floor_nats", [](const RunResult& r) { return r.floor_nats; }));
    c.push_back(text_column("version", [](const RunResult& r) { return r.environment.version; }));
    c.push_back(text_column("commit", [](const RunResult& r) { return r.environment.commit; }));
    c.push_back(count_column("threads", [](const RunResult& r) { return r.environment.threads; }));
    c.push_back(text_column("date", [](const RunResult& r) { return r.environment.date; }));
    c.push_back(text_column("settings", settings_line));
    c.push_back({"file", Column::Type::text,
                 [](const RunResult&, const fs::path& file) {
                   return (fs::path("runs") / file.filename()).generic_string();
                 },
                 nullptr, nullptr});
    return c;
  }();
  return table;
}

std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string out = "\"";
  for (char ch : s) {
    if (ch == '"') out += '"';
    out += ch;
  }
  return out + "\"";
}

std::string shortest(double x) {
  if (std::isnan(x)) return "";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  const auto result = std::to_chars(buf, buf + sizeof buf, x);
  return std::string(buf, result.ptr);
}

bool is_temp_name(const std::string& name) {
  const auto at = name.rfind(".tmp.");
  if (at == std::string::npos || at + 5 == name.size()) return false;
  return std::all_of(name.begin() + static_cast<std::ptrdiff_t>(at + 5), name.end(),
                     [](char ch) { return ch >= '0' && ch <= '9'; });
}

}  // namespace

SplitMetrics split_metrics(const Evaluation& evaluation, SequenceKind kind) {
  SplitMetrics m;
  m.log_likelihood = evaluation.log_likelihood;
  m.steps = evaluation.symbols;
  m.sequences = evaluation.sequences;
  m.nats_stderr = evaluation.nll_stderr;
  if (evaluation.symbols > 0) {
    m.nats_per_step = evaluation.nats_per_symbol();
    m.bits_per_step = evaluation.bits_per_symbol();
    if (kind == SequenceKind::symbols) m.perplexity = evaluation.perplexity();
  }
  return m;
}

RunEnvironment current_environment(unsigned threads) {
  RunEnvironment e;
  e.version = library_version();
  e.commit = SEQLAB_BUILD_COMMIT;
  if (e.commit.empty()) e.commit = "unknown";
  e.compiler = compiler_name();
  const BlasInfo blas = blas_info();
  e.blas = blas.config.empty() ? blas.library : blas.library + " (" + blas.config + ")";
  e.blas_kernel = blas.core;
  e.date = utc_now();
  e.host = host_name();
  e.threads = threads;
  return e;
}

namespace {

void write_run(const fs::path& path, const RunResult& result,
               const std::function<void(H5::Group&)>& save) {
  h5::write_file_atomically(path, [&](H5::Group& root) {
    h5::write_int_attribute(root, "seqlab_run_format", kRunFormatVersion);
    h5::write_string_attribute(root, "created_by", std::string("seqlab ") + SEQLAB_VERSION);
    h5::write_string_attribute(root, "run_id", result.run_id);
    h5::write_string_attribute(root, "label", result.label);
    h5::write_string_attribute(root, "model_type", result.model_type);
    h5::write_string_attribute(root, "family", result.family);
    h5::write_string_attribute(root, "dataset", result.dataset);
    h5::write_uint_attribute(root, "seed", result.seed);
    h5::write_string_attribute(root, "unit", result.unit);
    if (!result.task.empty()) h5::write_string_attribute(root, "task", result.task);
    write_settings(root, result);
    write_environment(root, result.environment);
    write_history(root, result.history, result.unit);
    write_metrics(root, result);
    h5::write_strings(root, "samples", result.samples);
    write_inspect(root, result);
    H5::Group model_group = h5::create_group(root, "model");
    save(model_group);
  });
}

}  // namespace

void write_run_file(const fs::path& path, const RunResult& result, const SequenceModel& model) {
  check_result(result, model.type(), "");
  write_run(path, result, [&](H5::Group& group) { save_model_into(group, model); });
}

void write_run_file(const fs::path& path, const RunResult& result, const RnnTaskModel& model) {
  check_result(result, model.type(), rnn::to_string(model.task()));
  write_run(path, result, [&](H5::Group& group) { save_task_model_into(group, model); });
}

RunResult read_run_file(const fs::path& path) {
  H5::H5File file = h5::open_for_reading(path, "run file");
  try {
    const H5::Group root = file.openGroup("/");
    check_run_envelope(path, root);
    RunResult r;
    r.run_id = h5::read_string_attribute(root, "run_id");
    r.label = h5::read_string_attribute(root, "label");
    r.model_type = h5::read_string_attribute(root, "model_type");
    r.family = h5::read_string_attribute(root, "family");
    r.dataset = h5::read_string_attribute(root, "dataset");
    r.seed = h5::read_uint_attribute(root, "seed");
    r.unit = h5::read_string_attribute(root, "unit");
    if (h5::has_attribute(root, "task")) {
      r.task = h5::read_string_attribute(root, "task");
      if (r.task != "classify" && r.task != "regress")
        h5::format_error(root, "",
                         "attribute 'task' is '" + printable(r.task) +
                             "', expected 'classify' or 'regress'");
      if (r.unit != task_unit(r.task))
        h5::format_error(root, "",
                         "attribute 'unit' is '" + printable(r.unit) + "', expected '" +
                             task_unit(r.task) + "' for a " + r.task + " run");
    } else if (r.unit != "symbol" && r.unit != "frame") {
      h5::format_error(
          root, "",
          "attribute 'unit' is '" + printable(r.unit) + "', expected 'symbol' or 'frame'");
    }
    read_settings(root, r);
    r.environment = read_environment(root);
    std::string history_unit;
    r.history = read_history(root, &history_unit);
    if (history_unit != r.unit)
      h5::format_error(root, "history", "is per " + history_unit + ", the run per " + r.unit);
    read_metrics(root, r);
    r.samples = h5::read_strings(root, "samples");
    read_inspect(root, r);
    const H5::Group model = h5::open_group(root, "model");
    if (!h5::has_attribute(model, "model"))
      h5::format_error(model, "", "missing attribute 'model' (expected the trained model)");
    const std::string stored = h5::read_string_attribute(model, "model");
    if (stored != r.model_type)
      h5::format_error(model, "",
                       "holds a '" + printable(stored) + "' model, the run says '" +
                           printable(r.model_type) + "'");
    return r;
  } catch (const H5::Exception& e) {
    input_error(path, "corrupt or truncated HDF5 file (" + h5::describe(e) + ")");
  }
}

bool is_run_file(const fs::path& path) {
  try {
    std::error_code ec;
    if (!fs::is_regular_file(path, ec)) return false;
    h5::quiet_errors();
    if (!H5::H5File::isHdf5(path.string())) return false;
    H5::H5File file(path.string(), H5F_ACC_RDONLY);
    return h5::has_attribute(file.openGroup("/"), "seqlab_run_format");
  } catch (const H5::Exception&) {
    return false;
  }
}

std::unique_ptr<SequenceModel> load_run_model(const fs::path& path) {
  H5::H5File file = h5::open_for_reading(path, "run file");
  try {
    const H5::Group root = file.openGroup("/");
    check_run_envelope(path, root);
    if (h5::has_attribute(root, "task"))
      input_error(path, "holds a sequence-level task model (task " +
                            printable(h5::read_string_attribute(root, "task")) +
                            "), not a sequence model");
    return load_model_from(h5::open_group(root, "model"), path.string() + ": /model");
  } catch (const H5::Exception& e) {
    input_error(path, "corrupt or truncated HDF5 file (" + h5::describe(e) + ")");
  }
}

RnnTaskModel load_run_task_model(const fs::path& path) {
  H5::H5File file = h5::open_for_reading(path, "run file");
  try {
    const H5::Group root = file.openGroup("/");
    check_run_envelope(path, root);
    if (!h5::has_attribute(root, "task"))
      input_error(path, "holds a sequence model, not a sequence-level task model");
    const H5::Group group = h5::open_group(root, "model");
    RnnTaskModel model;
    model.load(group);
    return model;
  } catch (const H5::Exception& e) {
    input_error(path, "corrupt or truncated HDF5 file (" + h5::describe(e) + ")");
  }
}

Summary read_results_folder(const fs::path& dir) {
  std::error_code ec;
  if (!fs::exists(dir, ec)) user_error(dir.string() + ": no such results folder");
  if (!fs::is_directory(dir, ec))
    user_error(dir.string() + ": not a results folder (expected a directory with runs/ inside)");
  const fs::path runs = dir / "runs";
  if (!fs::is_directory(runs, ec))
    user_error(dir.string() + ": not a results folder (no runs/ folder inside)");

  std::vector<fs::path> entries;
  for (fs::directory_iterator it(runs, ec), end; !ec && it != end; it.increment(ec))
    entries.push_back(it->path());
  if (ec) user_error(runs.string() + ": cannot list the folder (" + ec.message() + ")");
  std::sort(entries.begin(), entries.end());

  Summary summary;
  std::vector<std::pair<RunResult, fs::path>> found;
  std::map<std::string, fs::path> seen_ids;
  for (const fs::path& entry : entries) {
    const std::string name = entry.filename().string();
    if (is_temp_name(name)) {
      summary.warnings.push_back(entry.string() +
                                 ": a temporary file (a run file being written, "
                                 "or left by an interrupted write): ignored");
      continue;
    }
    if (entry.extension() != ".h5" || !fs::is_regular_file(entry, ec)) {
      summary.warnings.push_back(entry.string() + ": not a run file (expected <name>.h5): ignored");
      continue;
    }
    try {
      RunResult r = read_run_file(entry);
      const auto [at, fresh] = seen_ids.emplace(r.run_id, entry);
      if (!fresh) {
        summary.warnings.push_back(entry.string() + ": run id " + r.run_id + " is also in " +
                                   at->second.string() + ": ignored (the first file is kept)");
        continue;
      }
      found.emplace_back(std::move(r), entry);
    } catch (const UserError& e) {
      summary.warnings.push_back(std::string(e.what()) + ": ignored");
    }
  }
  std::stable_sort(found.begin(), found.end(), [](const auto& a, const auto& b) {
    const RunResult& x = a.first;
    const RunResult& y = b.first;
    return std::tie(x.dataset, x.family, x.label, x.seed, x.run_id, a.second) <
           std::tie(y.dataset, y.family, y.label, y.seed, y.run_id, b.second);
  });
  for (auto& [r, f] : found) {
    summary.runs.push_back(std::move(r));
    summary.files.push_back(f);
  }
  return summary;
}

std::string summary_csv(const Summary& summary) {
  std::string out;
  const auto& cols = columns();
  for (std::size_t c = 0; c < cols.size(); ++c) out += (c ? "," : "") + cols[c].name;
  out += "\n";
  for (std::size_t i = 0; i < summary.runs.size(); ++i) {
    const RunResult& r = summary.runs[i];
    const fs::path file = i < summary.files.size() ? summary.files[i] : fs::path();
    for (std::size_t c = 0; c < cols.size(); ++c) {
      if (c) out += ",";
      switch (cols[c].type) {
        case Column::Type::text:
          out += csv_field(cols[c].text(r, file));
          break;
        case Column::Type::count: {
          const auto v = cols[c].count(r);
          if (v) out += std::to_string(*v);
          break;
        }
        case Column::Type::real:
          out += shortest(cols[c].real(r));
          break;
      }
    }
    out += "\n";
  }
  return out;
}

Summary rebuild_summary(const fs::path& dir) {
  Summary summary = read_results_folder(dir);
  const auto& cols = columns();
  h5::write_file_atomically(dir / "results.h5", [&](H5::Group& root) {
    h5::write_int_attribute(root, "seqlab_summary_format", kSummaryFormatVersion);
    h5::write_string_attribute(root, "created_by", std::string("seqlab ") + SEQLAB_VERSION);
    h5::write_uint_attribute(root, "runs", summary.runs.size());
    for (const Column& c : cols) {
      const std::size_t n = summary.runs.size();
      switch (c.type) {
        case Column::Type::text: {
          std::vector<std::string> values;
          for (std::size_t i = 0; i < n; ++i)
            values.push_back(c.text(summary.runs[i], summary.files[i]));
          h5::write_strings(root, c.name, values);
          break;
        }
        case Column::Type::count: {
          arma::uvec values(n);
          for (std::size_t i = 0; i < n; ++i) values(i) = c.count(summary.runs[i]).value_or(0);
          h5::write_uvec(root, c.name, values);
          break;
        }
        case Column::Type::real: {
          arma::vec values(n);
          for (std::size_t i = 0; i < n; ++i) values(i) = c.real(summary.runs[i]);
          h5::write_reals(root, c.name, values);
          break;
        }
      }
    }
  });
  write_text_atomically(dir / "results.csv", summary_csv(summary));
  return summary;
}

}  // namespace seqlab
