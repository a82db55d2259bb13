// seqlab/experiment/plan.cpp: experiment files (TOML, via toml++) -> checked plans of runs.
#include "seqlab/experiment/plan.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <functional>
#include <map>
#include <numeric>
#include <queue>
#include <set>
#include <sstream>
#include <stdexcept>
#include <tuple>

#include "seqlab/core/error.hpp"
#include "seqlab/data/registry.hpp"
#include "seqlab/data/sha256.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/models/rnn/task_model.hpp"

namespace seqlab {
namespace fs = std::filesystem;

namespace {

// The keys each table accepts (besides the model options in [[models]]).
const std::vector<std::string> kTopKeys = {"experiment", "budget", "datasets", "models"};
const std::vector<std::string> kExperimentKeys = {"name", "description", "seeds", "seed",
                                                  "splits", "figures", "threads", "jobs",
                                                  "samples", "checkpoint-every"};
const std::vector<std::string> kDatasetKeys = {"name", "path", "generator", "generator-options",
                                               "seed", "label", "optional", "reader",
                                               "reader-options", "split-ratios", "split-by",
                                               "split-seed"};
const std::vector<std::string> kModelKeys = {"model", "label", "datasets"};

std::string joined(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : ", ") + w;
  return s;
}

// Reports problems at a place in the experiment file.
class Reporter {
public:
  explicit Reporter(fs::path file) : file_(std::move(file)) {}
  [[noreturn]] void at(const toml::source_region& where, const std::string& message) const {
    input_error(file_, where.begin.line, where.begin.column, message);
  }
  [[noreturn]] void at(const toml::node& node, const std::string& message) const {
    at(node.source(), message);
  }
  const fs::path& file() const { return file_; }

private:
  fs::path file_;
};

// The place of `key` in `table` (the key itself where toml++ knows it, else its value).
toml::source_region key_place(const toml::table& table, const std::string& key) {
  for (auto&& [k, v] : table)
    if (k.str() == key) return k.source().begin.line > 0 ? k.source() : v.source();
  return table.source();
}

// Every key of `table` must be in `known` (or accepted by `also`); else "unknown key 'x' in
// [what] (did you mean 'y'?; accepted keys: ...)".
void require_known_keys(const Reporter& report, const toml::table& table, const std::string& what,
                        const std::vector<std::string>& known,
                        const std::vector<std::string>& also = {}) {
  for (auto&& [k, v] : table) {
    const std::string key(k.str());
    if (std::find(known.begin(), known.end(), key) != known.end()) continue;
    if (std::find(also.begin(), also.end(), key) != also.end()) continue;
    std::vector<std::string> candidates = known;
    candidates.insert(candidates.end(), also.begin(), also.end());
    const auto near = suggest_name(key, candidates);
    report.at(k.source().begin.line > 0 ? k.source() : v.source(),
              "unknown key '" + key + "' in " + what +
                  (near ? " (did you mean '" + *near + "'?)" : " (accepted keys: " +
                                                                   joined(known) + ")"));
  }
}

const char* node_kind(const toml::node& n) {
  if (n.is_array()) return "a list";
  if (n.is_table()) return "a table";
  if (n.is_string()) return "a string";
  if (n.is_integer()) return "an integer";
  if (n.is_floating_point()) return "a number";
  if (n.is_boolean()) return "true/false";
  return "a date or time";
}

std::string string_value(const Reporter& r, const toml::node& n, const std::string& key) {
  if (!n.is_string()) r.at(n, key + " must be a string, got " + node_kind(n));
  return n.as_string()->get();
}

std::int64_t integer_value(const Reporter& r, const toml::node& n, const std::string& key,
                           std::int64_t lo, std::int64_t hi) {
  if (!n.is_integer()) r.at(n, key + " must be an integer, got " + node_kind(n));
  const std::int64_t v = n.as_integer()->get();
  if (v < lo || v > hi)
    r.at(n, key + " must be between " + std::to_string(lo) + " and " + std::to_string(hi) +
                ", got " + std::to_string(v));
  return v;
}

double number_value(const Reporter& r, const toml::node& n, const std::string& key) {
  if (n.is_integer()) return static_cast<double>(n.as_integer()->get());
  if (!n.is_floating_point()) r.at(n, key + " must be a number, got " + node_kind(n));
  return n.as_floating_point()->get();
}

const toml::array& array_value(const Reporter& r, const toml::node& n, const std::string& key) {
  if (!n.is_array()) r.at(n, key + " must be a list, got " + node_kind(n));
  return *n.as_array();
}

const toml::table& table_value(const Reporter& r, const toml::node& n, const std::string& key) {
  if (!n.is_table()) r.at(n, key + " must be a table, got " + node_kind(n));
  return *n.as_table();
}

// A TOML scalar as an option value (type and range are checked by the registry).
OptionValue option_value(const Reporter& r, const toml::node& n, const std::string& key) {
  if (n.is_integer()) return n.as_integer()->get();
  if (n.is_floating_point()) return n.as_floating_point()->get();
  if (n.is_string()) return n.as_string()->get();
  if (n.is_boolean()) return n.as_boolean()->get();
  r.at(n, key + " must be a single value or a list of values (a grid), got " + node_kind(n));
}

// "a\"b" as a TOML basic string.
std::string quoted(const std::string& s) {
  std::string out = "\"";
  for (const char c : s) {
    if (c == '"' || c == '\\') {
      out += '\\';
      out += c;
    } else if (static_cast<unsigned char>(c) < 0x20) {
      char buffer[8];
      std::snprintf(buffer, sizeof buffer, "\\u%04x", static_cast<unsigned>(c));
      out += buffer;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

std::string shown(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", x);
  return buffer;
}

// The [[datasets]] entry `t`, checked (not yet opened).
DatasetSpec parse_dataset(const Reporter& r, const toml::table& t, const fs::path& base) {
  require_known_keys(r, t, "[[datasets]]", kDatasetKeys);
  DatasetSpec d;
  d.line = t.source().begin.line;
  d.column = t.source().begin.column;
  const toml::node* name = t.get("name");
  const toml::node* path = t.get("path");
  const toml::node* generator = t.get("generator");
  if ((name != nullptr) + (path != nullptr) + (generator != nullptr) != 1)
    r.at(t, "a [[datasets]] entry needs exactly one of name (a registry dataset), path (a data "
            "file) and generator (synthetic data: " + joined(synthetic_generator_names()) + ")");
  for (const char* key : {"generator-options", "seed"})
    if (generator == nullptr && t.contains(key))
      r.at(key_place(t, key), std::string(key) + " applies to synthetic data (generator = ...)");
  if (generator != nullptr) {
    d.generator = string_value(r, *generator, "generator");
    const auto& names = synthetic_generator_names();
    if (std::find(names.begin(), names.end(), d.generator) == names.end()) {
      const auto near = suggest_name(d.generator, names);
      r.at(*generator, "unknown generator '" + printable(d.generator) + "'" +
                           (near ? " (did you mean '" + *near + "'?)" : "") + "; generators are " +
                           joined(names));
    }
    d.name_or_path = d.generator;
    d.key = d.generator;
    d.generator_options.set_context(
        location(r.file(), key_place(t, "generator-options").begin.line) + " generator-options");
    if (const toml::node* n = t.get("generator-options"))
      for (auto&& [k, v] : table_value(r, *n, "generator-options")) {
        if (v.is_integer())
          d.generator_options.set(std::string(k.str()), std::to_string(v.as_integer()->get()));
        else if (v.is_floating_point())
          d.generator_options.set(std::string(k.str()), shown(v.as_floating_point()->get()));
        else if (v.is_string())
          d.generator_options.set(std::string(k.str()), v.as_string()->get());
        else
          r.at(v, "generator-options." + std::string(k.str()) + " must be a number or a string, "
                  "got " + node_kind(v));
      }
    if (const toml::node* n = t.get("seed"))
      d.generator_seed = static_cast<std::uint64_t>(
          integer_value(r, *n, "seed", 0, std::numeric_limits<std::int64_t>::max()));
    for (const char* key : {"reader", "reader-options", "split-ratios", "split-by", "split-seed"})
      if (t.contains(key))
        r.at(key_place(t, key), std::string(key) + " applies to data files (path = ...); a "
                                    "generator makes its own train, valid and test sets");
  } else if (name != nullptr) {
    d.name_or_path = string_value(r, *name, "name");
    d.key = d.name_or_path;
    for (const char* key : {"reader", "reader-options", "split-ratios", "split-by", "split-seed"})
      if (t.contains(key))
        r.at(key_place(t, key), std::string(key) + " applies to data files (path = ...); '" +
                                    d.name_or_path + "' is a registry dataset, whose reader and "
                                    "split the registry sets (see 'seqlab datasets info " +
                                    d.name_or_path + "')");
  } else {
    const std::string given = string_value(r, *path, "path");
    if (given.empty()) r.at(*path, "path must not be empty");
    const fs::path p(given);
    d.name_or_path = (p.is_absolute() ? p : base / p).lexically_normal().string();
    d.is_path = true;
    d.key = p.filename().string();
    if (const toml::node* n = t.get("reader")) d.reader = string_value(r, *n, "reader");
    d.reader_options.set_context(location(r.file(), key_place(t, "reader-options").begin.line) +
                                 " reader-options");
    if (const toml::node* n = t.get("reader-options")) {
      for (auto&& [k, v] : table_value(r, *n, "reader-options")) {
        std::string text;
        if (v.is_string()) {
          text = v.as_string()->get();
        } else if (v.is_integer()) {
          text = std::to_string(v.as_integer()->get());
        } else if (v.is_floating_point()) {
          text = shown(v.as_floating_point()->get());
        } else if (v.is_boolean()) {
          text = v.as_boolean()->get() ? "true" : "false";
        } else {
          r.at(v, "reader-options." + std::string(k.str()) + " must be a single value, got " +
                      node_kind(v));
        }
        d.reader_options.set(std::string(k.str()), text);
      }
    }
    if (const toml::node* n = t.get("split-ratios")) {
      const toml::array& a = array_value(r, *n, "split-ratios");
      if (a.size() != 3)
        r.at(*n, "split-ratios must be three numbers (train, valid, test), e.g. [80, 10, 10], "
                 "got " + std::to_string(a.size()));
      double parts[3] = {0, 0, 0};
      for (std::size_t i = 0; i < 3; ++i) {
        parts[i] = number_value(r, *a.get(i), "split-ratios");
        if (!(std::isfinite(parts[i]) && parts[i] >= 0.0))
          r.at(*a.get(i), "split-ratios must be numbers >= 0, got " + shown(parts[i]));
      }
      const double sum = parts[0] + parts[1] + parts[2];
      if (!(parts[0] > 0.0)) r.at(*n, "split-ratios: the train part must be above 0");
      SplitRule rule;
      rule.train = parts[0] / sum;
      rule.valid = parts[1] / sum;
      d.split = rule;
    }
    if (const toml::node* n = t.get("split-by")) {
      const std::string by = string_value(r, *n, "split-by");
      if (by != "position" && by != "sequence")
        r.at(*n, "split-by must be position (cut every sequence by position) or sequence "
                 "(assign whole sequences, shuffled), got '" + by + "'");
      if (!d.split) d.split = SplitRule{};
      d.split->method = by == "sequence" ? SplitRule::Method::shuffle
                                         : SplitRule::Method::contiguous;
    }
    if (const toml::node* n = t.get("split-seed")) {
      if (!d.split) d.split = SplitRule{};
      d.split->seed = static_cast<std::uint64_t>(
          integer_value(r, *n, "split-seed", 0, std::numeric_limits<std::int64_t>::max()));
    }
  }
  if (const toml::node* n = t.get("label")) {
    d.key = string_value(r, *n, "label");
    if (d.key.empty()) r.at(*n, "label must not be empty");
  }
  return d;
}

// Opens a dataset spec; its errors are reported at the entry.
SequenceDataset open_at(const Reporter& r, const toml::table& t, const DatasetSpec& d) {
  try {
    return open_planned_dataset(d);
  } catch (const UserError& e) {
    r.at(key_place(t, d.is_path ? "path" : "name"), e.what());
  }
}

// The dataset's identity for run ids: what decides its content and split.
std::string dataset_identity(const DatasetSpec& d) {
  if (!d.generator.empty()) {
    std::string id = "generator:" + d.generator + " seed:" + std::to_string(d.generator_seed);
    for (const auto& [k, v] : d.generator_options.values()) id += " " + k + "=" + v;
    return id;
  }
  if (!d.is_path) return "registry:" + d.name_or_path;
  std::string id = "file:" + d.name_or_path + " sha256:" + sha256_file(d.name_or_path) +
                   " reader:" + d.reader;
  for (const auto& [k, v] : d.reader_options.values()) id += " " + k + "=" + v;
  if (d.split) id += " split:" + d.split->describe();
  return id;
}

// A rough wall-clock estimate of one run: a few GFLOP/s per thread, capped by max-time.
double estimate_seconds(const ResolvedOptions& o, std::uint64_t parameters,
                        const SequenceDataset& data, unsigned threads) {
  const double weights = static_cast<double>(parameters);
  const double steps = static_cast<double>(data.train.total_steps());
  const double rate = 4e9 * threads;
  double seconds = 0.0;
  const std::string family = model_family(o.model);
  if (family == "n-gram") {
    seconds = steps * 2e-7 * static_cast<double>(o.integer("order") + 1);
  } else if (family == "HMM") {
    const double n = static_cast<double>(o.integer("states"));
    const double m = data.kind == SequenceKind::symbols ? static_cast<double>(data.alphabet.size())
                                                        : static_cast<double>(data.dimension);
    const double iterations = static_cast<double>(o.integer("max-iter") * o.integer("restarts"));
    seconds = iterations * steps * (6.0 * n * n + 4.0 * n * m) / rate;
  } else if (o.model == "rbm") {
    // Per frame and update: 2 (k + 1) products with the weights, 2 flops per weight.
    const double k = static_cast<double>(o.integer("gibbs-steps"));
    seconds = static_cast<double>(o.integer("epochs")) * steps * 4.0 * (k + 1.0) * weights / rate;
  } else if (o.model == "bm") {
    // Clamped phase: every frame's 2^H hidden states, twice. Free phase per update: an
    // enumeration of 2^n states (n <= 20), else the chains' sweeps of scalar code (an exp per
    // unit, n adds per flip). log Z by AIS when n > 20: a sweep per run at each of 14,500
    // temperatures. Constants fitted to digits (V = 64; H = 0, 5, 10), where this code runs at
    // about a quarter of the nominal rate.
    const double h = static_cast<double>(o.integer("hidden"));
    const double n = static_cast<double>(data.dimension) + h;
    const double updates = std::ceil(steps / static_cast<double>(o.integer("batch")));
    const double sweep = 2.0 * n * (100.0 + n);
    const double free_phase =
        n <= 20.0
            ? 4.0 * std::ldexp(n, static_cast<int>(n))
            : static_cast<double>(o.integer("free-chains") * o.integer("gibbs-steps")) * sweep;
    seconds = static_cast<double>(o.integer("epochs")) *
              (steps * 8.0 * std::ldexp(h + 1.0, static_cast<int>(h)) + updates * free_phase) /
              rate;
    if (n > 20.0) seconds += static_cast<double>(o.integer("ais-runs")) * 14500.0 * sweep / rate;
  } else if (o.model == "crbm") {
    // Every step enumerates the 2^H hidden states against V visible units: about three passes
    // per training frame (the exact gradient) and one per valid frame each epoch, at about a
    // third of a nanosecond per state and unit and pass on one AVX-512 core (1.2 at this rate).
    const double terms = std::ldexp(1.0, static_cast<int>(o.integer("hidden"))) *
                         static_cast<double>(data.dimension);
    const double passes = 3.0 * steps + static_cast<double>(data.valid.total_steps());
    seconds = static_cast<double>(o.integer("epochs")) * passes * terms * 1.2 / rate;
  } else {
    const double epochs = static_cast<double>(o.integer("epochs"));
    seconds = epochs * steps * 6.0 * weights / rate;
    // Steps per update: a window of each of `batch` streams, or (tasks) `batch` whole sequences.
    const double update_steps =
        task_requested(o) ? static_cast<double>(o.integer("batch")) * steps /
                                static_cast<double>(std::max<std::size_t>(1, data.train.size()))
                          : static_cast<double>(o.integer("batch") *
                                                std::max<std::int64_t>(1, o.integer("window")));
    if (o.integer("max-steps") > 0)
      seconds = std::min(seconds, static_cast<double>(o.integer("max-steps")) * update_steps *
                                      6.0 * weights / rate);
  }
  const auto max_time = o.values.find("max-time");
  if (max_time != o.values.end() && std::get<double>(max_time->second) > 0.0)
    seconds = std::min(seconds, std::get<double>(max_time->second));
  return seconds;
}

}  // namespace

const std::vector<std::string>& figure_names() {
  static const std::vector<std::string> names = {"learning-curves", "comparison", "hmm", "rnn",
                                                       "sweep", "energy"};
  return names;
}

std::string rough_duration(double seconds) {
  char buffer[32];
  if (seconds < 90)
    std::snprintf(buffer, sizeof buffer, "%.0f s", std::max(1.0, seconds));
  else if (seconds < 5400)
    std::snprintf(buffer, sizeof buffer, "%.0f min", seconds / 60);
  else
    std::snprintf(buffer, sizeof buffer, "%.1f h", seconds / 3600);
  return buffer;
}

std::vector<std::size_t> shard_runs(const ExperimentPlan& plan, unsigned index, unsigned count) {
  if (count == 0 || index == 0 || index > count)
    throw std::invalid_argument("shard_runs: shard " + std::to_string(index) + " of " +
                                std::to_string(count) + " (expected 1 <= index <= count)");
  // A NaN estimate would break the ordering (and with it the partition): it counts as 0.
  const auto seconds = [&](std::size_t i) {
    const double s = plan.runs[i].estimated_seconds;
    return std::isnan(s) ? 0.0 : s;
  };
  std::vector<std::size_t> order(plan.runs.size());
  std::iota(order.begin(), order.end(), std::size_t{0});
  std::sort(order.begin(), order.end(), [&](std::size_t a, std::size_t b) {
    if (seconds(a) != seconds(b)) return seconds(a) > seconds(b);
    return plan.runs[a].id < plan.runs[b].id;
  });
  // Longest-processing-time-first: each run to the shard least loaded so far. The heap's top is
  // the smallest (load, runs, shard) triple; shards beyond the number of runs stay empty.
  using Bin = std::tuple<double, std::size_t, unsigned>;
  std::priority_queue<Bin, std::vector<Bin>, std::greater<Bin>> bins;
  for (unsigned b = 1; b <= count && b <= plan.runs.size(); ++b) bins.emplace(0.0, 0, b);
  std::vector<std::size_t> mine;
  for (const std::size_t i : order) {
    auto [load, runs, bin] = bins.top();
    bins.pop();
    if (bin == index) mine.push_back(i);
    bins.emplace(load + seconds(i), runs + 1, bin);
  }
  std::sort(mine.begin(), mine.end());
  return mine;
}

std::string plan_fingerprint(const ExperimentPlan& plan) {
  std::vector<std::string> ids;
  ids.reserve(plan.runs.size());
  for (const auto& run : plan.runs) ids.push_back(run.id);
  std::sort(ids.begin(), ids.end());
  Sha256 digest;
  for (const auto& id : ids) digest.update(id + "\n");
  return digest.finish();
}

std::string run_settings(const std::string& dataset_identity, const ResolvedOptions& options,
                         std::uint64_t seed, unsigned threads) {
  std::string s = "model = " + quoted(options.model) + "\n";
  s += "dataset = " + quoted(dataset_identity) + "\n";
  s += "seed = " + std::to_string(seed) + "\n";
  s += "threads = " + std::to_string(threads) + "\n";
  s += "[options]\n";
  for (const auto& [name, value] : options.values) {  // std::map: sorted by name
    const bool text = std::holds_alternative<std::string>(value);
    s += quoted(name) + " = " + (text ? quoted(option_text(value)) : option_text(value)) + "\n";
  }
  return s;
}

SequenceDataset open_planned_dataset(const DatasetSpec& spec) {
  if (!spec.generator.empty())
    return make_synthetic_dataset(spec.key, spec.generator, spec.generator_options,
                                  spec.generator_seed);
  OpenOptions o;
  if (spec.is_path) {
    o.reader = spec.reader;
    o.reader_options = spec.reader_options;
    if (spec.split) o.split = *spec.split;
  }
  return open_dataset(spec.name_or_path, o);
}

ExperimentPlan parse_experiment(const fs::path& file, const PlanOverrides& overrides) {
  require_readable_file(file, "experiment file");
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in && !in.eof()) input_error(file, "cannot be read");
  return parse_experiment_text(text.str(), file, overrides);
}

ExperimentPlan parse_experiment_text(const std::string& text, const fs::path& file,
                                     const PlanOverrides& overrides) {
  const Reporter r(file);
  toml::table root;
  try {
    root = toml::parse(text, file.string());
  } catch (const toml::parse_error& err) {
    r.at(err.source(), "malformed TOML: " + std::string(err.description()));
  }
  require_known_keys(r, root, "the experiment file", kTopKeys);
  ExperimentPlan plan;
  plan.file = file;
  plan.text = text;
  plan.name = file.stem().string();
  plan.seeds = {1};
  plan.splits = {Split::valid, Split::test};
  plan.figures = figure_names();

  // [experiment]
  if (const toml::node* n = root.get("experiment")) {
    const toml::table& t = table_value(r, *n, "[experiment]");
    require_known_keys(r, t, "[experiment]", kExperimentKeys);
    if (const toml::node* v = t.get("name")) {
      plan.name = string_value(r, *v, "name");
      const bool safe = !plan.name.empty() &&
                        std::all_of(plan.name.begin(), plan.name.end(), [](char c) {
                          return std::isalnum(static_cast<unsigned char>(c)) || c == '_' ||
                                 c == '-' || c == '.';
                        }) &&
                        plan.name[0] != '.';
      if (!safe)
        r.at(*v, "name must be letters, digits, '_', '-' or '.' (it names the results folder), "
                 "got '" + printable(plan.name) + "'");
    }
    if (const toml::node* v = t.get("description")) plan.description = string_value(r, *v, "description");
    if (t.contains("seed") && t.contains("seeds"))
      r.at(key_place(t, "seeds"), "give either seed or seeds, not both");
    if (const toml::node* v = t.get("seed")) {
      plan.seeds = {static_cast<std::uint64_t>(
          integer_value(r, *v, "seed", 0, std::numeric_limits<std::int64_t>::max()))};
    }
    if (const toml::node* v = t.get("seeds")) {
      plan.seeds.clear();
      const toml::array& a = array_value(r, *v, "seeds");
      if (a.empty()) r.at(*v, "seeds is an empty list: the plan would have no runs");
      for (const toml::node& s : a) {
        const auto seed = static_cast<std::uint64_t>(
            integer_value(r, s, "seeds", 0, std::numeric_limits<std::int64_t>::max()));
        if (std::find(plan.seeds.begin(), plan.seeds.end(), seed) != plan.seeds.end())
          r.at(s, "seed " + std::to_string(seed) + " is listed twice (it would repeat every run)");
        plan.seeds.push_back(seed);
      }
    }
    if (const toml::node* v = t.get("splits")) {
      plan.splits.clear();
      for (const toml::node& s : array_value(r, *v, "splits")) {
        const std::string name = string_value(r, s, "splits");
        if (name != "train" && name != "valid" && name != "test")
          r.at(s, "splits lists train, valid or test, got '" + printable(name) + "'");
        plan.splits.push_back(parse_split(name));
      }
      if (plan.splits.empty()) r.at(*v, "splits is empty: name at least one split to score");
    }
    if (const toml::node* v = t.get("figures")) {
      plan.figures.clear();
      for (const toml::node& f : array_value(r, *v, "figures")) {
        const std::string name = string_value(r, f, "figures");
        if (std::find(figure_names().begin(), figure_names().end(), name) == figure_names().end()) {
          const auto near = suggest_name(name, figure_names());
          r.at(f, "unknown figure '" + printable(name) + "'" +
                      (near ? " (did you mean '" + *near + "'?)" : "") + "; figures are " +
                      joined(figure_names()));
        }
        plan.figures.push_back(name);
      }
    }
    if (const toml::node* v = t.get("threads"))
      plan.threads = static_cast<unsigned>(integer_value(r, *v, "threads", 1, 1024));
    if (const toml::node* v = t.get("jobs"))
      plan.jobs = static_cast<unsigned>(integer_value(r, *v, "jobs", 1, 1024));
    if (const toml::node* v = t.get("checkpoint-every")) {
      const double seconds = number_value(r, *v, "checkpoint-every");
      if (!(seconds >= 0.0 && seconds <= 1e9))
        r.at(*v, "checkpoint-every must be between 0 and 1e9 seconds, got " +
                     std::to_string(seconds));
      plan.checkpoint_seconds = seconds;
    }
    if (const toml::node* v = t.get("samples"))
      plan.sample_length = static_cast<std::uint64_t>(integer_value(r, *v, "samples", 0, 100000));
  }
  if (overrides.threads != 0) plan.threads = overrides.threads;
  if (overrides.jobs != 0) plan.jobs = overrides.jobs;

  // [budget]: budget options, applied to every model that takes them (a model table's own value
  // wins).
  std::vector<std::string> budget_names;
  for (const auto& o : model_options())
    if (o.budget) budget_names.push_back(o.name);
  const toml::table* budget = nullptr;
  if (const toml::node* n = root.get("budget")) {
    budget = &table_value(r, *n, "[budget]");
    require_known_keys(r, *budget, "[budget]", budget_names);
    for (auto&& [k, v] : *budget) {
      const std::string key(k.str());
      if (v.is_array())
        r.at(v, key + " in [budget] must be a single value (put a grid of budgets in a "
                      "[[models]] table), got a list");
      OptionSpelling spelling;
      spelling.name = [](const std::string& option) { return option; };
      spelling.fail = [&](const std::string&, const std::string& message) {
        r.at(k.source().begin.line > 0 ? k.source() : v.source(), message);
      };
      (void)check_option_value(*find_option(key), option_value(r, v, key), spelling);
    }
  }

  // [[datasets]]
  const toml::node* dn = root.get("datasets");
  if (dn == nullptr) r.at(root.source(), "no [[datasets]]: name at least one dataset");
  const toml::array& dataset_tables = array_value(r, *dn, "datasets");
  if (dataset_tables.empty()) r.at(*dn, "datasets is empty: name at least one dataset");
  std::vector<SequenceDataset> opened;
  std::vector<const toml::table*> dataset_nodes;
  const fs::path base = file.parent_path();
  for (const toml::node& n : dataset_tables) {
    const toml::table& t = table_value(r, n, "[[datasets]]");
    DatasetSpec d = parse_dataset(r, t, base);
    for (const auto& other : plan.datasets)
      if (other.key == d.key)
        r.at(t, "dataset '" + d.key + "' is listed twice (give one of them a label)");
    if (const toml::node* v = t.get("optional")) {
      if (!v->is_boolean()) r.at(*v, std::string("optional must be true or false, got ") + node_kind(*v));
      d.optional = v->as_boolean()->get();
    }
    if (d.optional) {
      try {
        opened.push_back(open_planned_dataset(d));
      } catch (const UserError& e) {
        d.available = false;
        plan.notes.push_back("dataset '" + d.key + "' (optional) left out: " + e.what());
        opened.emplace_back();
        plan.datasets.push_back(d);
        dataset_nodes.push_back(&t);
        continue;
      }
    } else {
      opened.push_back(open_at(r, t, d));
    }
    d.identity = dataset_identity(d);
    plan.datasets.push_back(d);
    dataset_nodes.push_back(&t);
  }

  // [[models]]
  const toml::node* mn = root.get("models");
  if (mn == nullptr) r.at(root.source(), "no [[models]]: name at least one model");
  const toml::array& model_tables = array_value(r, *mn, "models");
  if (model_tables.empty()) r.at(*mn, "models is empty: name at least one model");
  std::vector<std::string> option_names;
  for (const auto& o : model_options()) option_names.push_back(o.name);
  std::set<std::string> budget_used;
  std::map<std::string, std::size_t> by_id;  // run id -> index in plan.runs
  for (const toml::node& n : model_tables) {
    const toml::table& t = table_value(r, n, "[[models]]");
    require_known_keys(r, t, "[[models]]", kModelKeys, option_names);
    const toml::node* type_node = t.get("model");
    if (type_node == nullptr)
      r.at(t, "a [[models]] table needs model = \"TYPE\" (" + model_type_list() + ")");
    // model = "lstm", or a list of types: one more grid axis, the outermost.
    std::vector<std::string> types;
    std::vector<const toml::node*> type_nodes;
    if (type_node->is_array()) {
      if (type_node->as_array()->empty())
        r.at(*type_node, "model is an empty list: an empty grid gives no runs");
      for (const toml::node& e : *type_node->as_array()) type_nodes.push_back(&e);
    } else {
      type_nodes.push_back(type_node);
    }
    for (const toml::node* tn : type_nodes) {
      const std::string type = string_value(r, *tn, "model");
      if (find_model_type(type) == nullptr) {
        std::vector<std::string> known;
        for (const auto& m : model_types()) known.push_back(m.name);
        const auto near = suggest_name(type, known);
        r.at(*tn, "unknown model '" + printable(type) + "'" +
                      (near ? " (did you mean '" + *near + "'?)" : "") + "; model types are " +
                      model_type_list());
      }
      // An associative memory is scored by recall, not a likelihood: the runner has nothing
      // to train or score it with.
      if (!defines_likelihood(type))
        r.at(*tn, "model " + type + " defines no likelihood: experiments run sequence models "
                  "only; train it with 'seqlab train --model " + type +
                  "' and score its recall with 'seqlab eval'");
      if (std::find(types.begin(), types.end(), type) != types.end())
        r.at(*tn, "model " + type + " is listed twice");
      types.push_back(type);
    }
    std::string label;
    bool labelled = false;
    if (const toml::node* v = t.get("label")) {
      label = string_value(r, *v, "label");
      if (label.empty()) r.at(*v, "label must not be empty");
      labelled = true;
    }
    std::vector<std::size_t> dataset_indices;
    if (const toml::node* v = t.get("datasets")) {
      for (const toml::node& k : array_value(r, *v, "datasets")) {
        const std::string key = string_value(r, k, "datasets");
        std::size_t i = 0;
        while (i < plan.datasets.size() && plan.datasets[i].key != key) ++i;
        if (i == plan.datasets.size()) {
          std::vector<std::string> keys;
          for (const auto& d : plan.datasets) keys.push_back(d.key);
          r.at(k, "datasets names '" + printable(key) + "', which no [[datasets]] entry is "
                  "(entries: " + joined(keys) + ")");
        }
        if (plan.datasets[i].available) dataset_indices.push_back(i);
      }
      if (array_value(r, *v, "datasets").empty())
        r.at(*v, "datasets is an empty list: the model would have no runs");
    } else {
      for (std::size_t i = 0; i < plan.datasets.size(); ++i)
        if (plan.datasets[i].available) dataset_indices.push_back(i);
    }

    // The options in file order; lists are grid axes.
    struct Axis {
      std::string name;
      std::vector<OptionValue> values;
      std::vector<toml::source_region> places;
    };
    std::vector<Axis> axes;
    std::map<std::string, toml::source_region> places;
    std::vector<std::pair<toml::source_region, std::string>> keys_in_order;
    for (auto&& [k, v] : t) {
      const std::string key(k.str());
      if (key == "model" || key == "label" || key == "datasets") continue;
      keys_in_order.push_back({k.source().begin.line > 0 ? k.source() : v.source(), key});
    }
    std::sort(keys_in_order.begin(), keys_in_order.end(), [](const auto& a, const auto& b) {
      return std::make_pair(a.first.begin.line, a.first.begin.column) <
             std::make_pair(b.first.begin.line, b.first.begin.column);
    });
    for (const auto& [place, key] : keys_in_order) {
      const toml::node& v = *t.get(key);
      Axis axis;
      axis.name = key;
      if (v.is_array()) {
        const toml::array& a = *v.as_array();
        if (a.empty()) r.at(v, key + " is an empty list: an empty grid gives no runs");
        for (const toml::node& e : a) {
          axis.values.push_back(option_value(r, e, key));
          axis.places.push_back(e.source());
        }
      } else {
        axis.values.push_back(option_value(r, v, key));
        axis.places.push_back(v.source());
      }
      places[key] = place;
      axes.push_back(std::move(axis));
    }
    for (std::size_t type_index = 0; type_index < types.size(); ++type_index) {
    const std::string& type = types[type_index];
    const toml::node* type_node = type_nodes[type_index];
    // Budget values this model takes and does not set itself.
    OptionValues from_budget;
    if (budget != nullptr)
      for (auto&& [k, v] : *budget) {
        const std::string key(k.str());
        if (t.contains(key) || !option_applies_to(*find_option(key), type)) continue;
        from_budget[key] = option_value(r, v, key);
        places[key] = k.source().begin.line > 0 ? k.source() : v.source();
        budget_used.insert(key);
      }

    // Walk the grid: index[i] picks axes[i].values; the first axis varies slowest.
    std::vector<std::size_t> index(axes.size(), 0);
    for (bool done = false; !done;) {
      OptionValues given = from_budget;
      std::string point;
      std::map<std::string, toml::source_region> value_places = places;
      for (std::size_t i = 0; i < axes.size(); ++i) {
        given[axes[i].name] = axes[i].values[index[i]];
        if (axes[i].values.size() > 1) {
          value_places[axes[i].name] = axes[i].places[index[i]];
          point += " " + axes[i].name + "=" + option_text(axes[i].values[index[i]]);
        }
      }
      OptionSpelling spelling;
      spelling.name = [](const std::string& option) { return option; };
      spelling.fail = [&](const std::string& option, const std::string& message) {
        const auto it = value_places.find(option);
        r.at(it != value_places.end() ? it->second : type_node->source(), message);
      };
      const ResolvedOptions resolved = resolve_options(type, given, spelling);
      // A sequence-level task model (task = classify | regress) is built, trained and scored
      // as such (task metrics, not a likelihood); build_model refuses task options.
      const bool task = task_requested(resolved);
      const std::string run_label =
          (labelled ? label + (types.size() > 1 ? " " + type : "") : type) + point;
      for (const std::size_t di : dataset_indices) {
        const SequenceDataset& data = opened[di];
        std::uint64_t parameters = 0;
        {
          OptionSpelling on_data = spelling;
          on_data.fail = [&](const std::string& option, const std::string& message) {
            const auto it = value_places.find(option);
            r.at(it != value_places.end() ? it->second : type_node->source(),
                 message + " (dataset '" + plan.datasets[di].key + "')");
          };
          if (task) {
            parameters = build_task_model(resolved, data, on_data)->num_parameters();
          } else {
            const std::unique_ptr<SequenceModel> model = build_model(resolved, data, on_data);
            // An n-gram model's count depends on what training sees.
            parameters = model_family(resolved.model) == "n-gram" ? 0 : model->num_parameters();
          }
        }
        for (const std::uint64_t seed : plan.seeds) {
          PlannedRun run;
          run.settings = run_settings(plan.datasets[di].identity, resolved, seed, plan.threads);
          run.id = sha256_hex(run.settings).substr(0, 16);
          run.label = run_label;
          run.dataset = di;
          run.options = resolved;
          run.seed = seed;
          run.threads = plan.threads;
          run.parameters = parameters;
          run.estimated_seconds = estimate_seconds(resolved, parameters, data, plan.threads);
          run.line = t.source().begin.line;
          if (const auto it = by_id.find(run.id); it != by_id.end())
            r.at(t, "duplicate run: " + run_label + " on '" + plan.datasets[di].key +
                        "' with seed " + std::to_string(seed) + " has the same settings as " +
                        plan.runs[it->second].label + " from the [[models]] table at line " +
                        std::to_string(plan.runs[it->second].line));
          by_id[run.id] = plan.runs.size();
          plan.runs.push_back(std::move(run));
          if (plan.runs.size() > 100000)
            r.at(t, "the plan has more than 100000 runs; split the experiment");
        }
      }
      // Advance like an odometer: the last axis fastest.
      std::size_t i = axes.size();
      for (;;) {
        if (i == 0) {
          done = true;
          break;
        }
        --i;
        if (++index[i] < axes[i].values.size()) break;
        index[i] = 0;
      }
    }
    }  // types
  }
  if (budget != nullptr)
    for (auto&& [k, v] : *budget) {
      const std::string key(k.str());
      if (!budget_used.count(key)) {
        bool set_everywhere = false;  // every model that takes it sets its own value
        for (const toml::node& n : model_tables) {
          const toml::table& t = *n.as_table();
          const toml::node* m = t.get("model");
          std::vector<const toml::node*> names;
          if (m->is_array())
            for (const toml::node& e : *m->as_array()) names.push_back(&e);
          else
            names.push_back(m);
          for (const toml::node* name : names)
            if (option_applies_to(*find_option(key), name->as_string()->get()))
              set_everywhere = true;
        }
        if (!set_everywhere)
          r.at(k.source().begin.line > 0 ? k.source() : v.source(),
               key + " in [budget] applies to model " + [&] {
                 const auto& m = find_option(key)->models;
                 std::string s;
                 for (std::size_t i = 0; i < m.size(); ++i)
                   s += (i == 0 ? "" : i + 1 == m.size() ? " or " : ", ") + m[i];
                 return s;
               }() + " only, and no model of this experiment is one");
      }
    }
  return plan;
}

}  // namespace seqlab
