// seqlab/data/registry.cpp: parsing registry.toml, finding and verifying dataset folders,
// fetching into the cache, and open_dataset().
#include "seqlab/data/registry.hpp"

#include <algorithm>
#include <charconv>
#include <cstdlib>
#include <fstream>
#include <set>
#include <sstream>
#include <system_error>
#include <toml++/toml.h>

#include "seqlab/core/error.hpp"
#include "seqlab/data/sha256.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab_config.hpp"
#include "seqlab_registry_source.hpp"

namespace seqlab {
namespace fs = std::filesystem;

std::string RegistryEntry::where() const {
  return location(registry_file, line) + " [" + name + "]";
}

// ---------------------------------------------------------------------------------------------
// Parsing
// ---------------------------------------------------------------------------------------------
namespace {

const std::set<std::string> kEntryKeys = {"description", "kind", "folder", "reader",
                                          "generator", "options", "split", "files",
                                          "licence", "citation", "seed"};
const std::set<std::string> kSplitKeys = {"method", "train", "valid", "seed"};
const std::set<std::string> kFileKeys = {"name", "split", "sha256", "bytes", "url", "derived"};

std::string join(const std::set<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : ", ") + w;
  return s;
}
std::string join(const std::vector<std::string>& words) {
  std::string s;
  for (const auto& w : words) s += (s.empty() ? "" : ", ") + w;
  return s;
}

std::size_t line_of(const toml::node& n) { return n.source().begin.line; }

// Walks one TOML table, knowing which file and which dataset it belongs to, so every error can
// name file:line, the dataset and the key.
class TableReader {
public:
  TableReader(const fs::path& file, std::string dataset, std::string what,
              const toml::table& table)
      : file_(file), dataset_(std::move(dataset)), what_(std::move(what)), table_(table) {}

  [[noreturn]] void fail(std::size_t line, const std::string& message) const {
    input_error(file_, line, 0, "dataset '" + dataset_ + "'" + what_ + ": " + message);
  }
  [[noreturn]] void fail_key(const std::string& key, const std::string& message) const {
    fail(line_of_key(key), "key '" + key + "' " + message);
  }

  std::size_t line() const { return line_of(table_); }
  std::size_t line_of_key(const std::string& key) const {
    if (auto it = table_.find(key); it != table_.end()) {
      const std::size_t l = it->first.source().begin.line;
      return l > 0 ? l : line_of(it->second);
    }
    return line();
  }

  void require_known_keys(const std::set<std::string>& known) const {
    for (auto&& [key, value] : table_) {
      (void)value;
      const std::string k(key.str());
      if (!known.count(k))
        fail(key.source().begin.line > 0 ? key.source().begin.line : line_of(value),
             "unknown key '" + k + "' (accepted keys: " + join(known) + ")");
    }
  }

  bool has(const std::string& key) const { return table_.contains(key); }
  const toml::node* node(const std::string& key) const { return table_.get(key); }

  std::string string(const std::string& key, bool required) const {
    const toml::node* n = table_.get(key);
    if (!n) {
      if (required) fail(line(), "missing required key '" + key + "'");
      return {};
    }
    if (!n->is_string()) fail_key(key, "must be a string");
    std::string v = n->as_string()->get();
    if (required && v.empty()) fail_key(key, "must not be empty");
    return v;
  }

  double fraction(const std::string& key) const {
    const toml::node* n = table_.get(key);
    if (!n) fail(line(), "missing required key '" + key + "'");
    double v = 0;
    if (n->is_floating_point()) {
      v = n->as_floating_point()->get();
    } else if (n->is_integer()) {
      v = static_cast<double>(n->as_integer()->get());
    } else {
      fail_key(key, "must be a number in [0, 1]");
    }
    if (!(v >= 0.0 && v <= 1.0)) fail_key(key, "must be a number in [0, 1]");
    return v;
  }

  std::uint64_t count(const std::string& key) const {
    const toml::node* n = table_.get(key);
    if (!n) fail(line(), "missing required key '" + key + "'");
    if (!n->is_integer() || n->as_integer()->get() < 0)
      fail_key(key, "must be a non-negative integer");
    return static_cast<std::uint64_t>(n->as_integer()->get());
  }

  const toml::table& table() const { return table_; }
  const fs::path& file() const { return file_; }

private:
  const fs::path& file_;
  std::string dataset_;
  std::string what_;
  const toml::table& table_;
};

std::string scalar_to_string(const toml::node& n) {
  if (n.is_string()) return n.as_string()->get();
  if (n.is_integer()) return std::to_string(n.as_integer()->get());
  if (n.is_boolean()) return n.as_boolean()->get() ? "true" : "false";
  if (n.is_floating_point()) {
    char buf[64];
    auto [end, ec] = std::to_chars(buf, buf + sizeof buf, n.as_floating_point()->get());
    if (ec == std::errc()) return std::string(buf, end);
  }
  return {};
}

RegistryEntry parse_entry(const fs::path& file, const std::string& name, const toml::node& node) {
  RegistryEntry e;
  e.name = name;
  e.registry_file = file;
  e.line = line_of(node);
  if (!node.is_table())
    input_error(file, e.line, 0,
                "top-level key '" + name + "' must be a dataset table ([" + name + "])");
  TableReader t(file, name, "", *node.as_table());
  t.require_known_keys(kEntryKeys);

  e.description = t.string("description", true);
  const std::string kind = t.string("kind", true);
  try {
    e.kind = parse_sequence_kind(kind);
  } catch (const UserError&) {
    t.fail_key("kind", "must be one of: symbols, vectors, binary_frames (got '" + kind + "')");
  }
  e.reader = t.string("reader", false);
  e.generator = t.string("generator", false);
  if (e.reader.empty() == e.generator.empty())
    t.fail(t.line(), "needs exactly one of the keys 'reader' (data files) or 'generator' "
                     "(synthetic data)");
  e.licence = t.string("licence", !e.reader.empty());
  e.citation = t.string("citation", false);

  // Options: every value becomes text; the reader or generator checks keys and types.
  e.options = Options(location(file, t.line_of_key("options")) + " [" + name + "]");
  if (const toml::node* o = t.node("options")) {
    if (!o->is_table()) t.fail_key("options", "must be a table of key = value settings");
    for (auto&& [key, value] : *o->as_table()) {
      const std::string k(key.str());
      if (!value.is_value() || value.is_date() || value.is_time() || value.is_date_time())
        t.fail(key.source().begin.line,
               "option '" + k + "' must be a string, number or boolean");
      e.options.set(k, scalar_to_string(value));
    }
  }

  if (e.synthetic()) {
    const auto names = synthetic_generator_names();
    if (std::find(names.begin(), names.end(), e.generator) == names.end())
      t.fail_key("generator", "names an unknown generator '" + e.generator +
                                  "' (known: " + join(names) + ")");
    for (const char* k : {"folder", "files", "split"})
      if (t.has(k))
        t.fail_key(k, "does not apply to a generator entry (generators make their own splits)");
    e.seed = t.count("seed");
    return e;
  }

  const auto readers = reader_names();
  if (std::find(readers.begin(), readers.end(), e.reader) == readers.end())
    t.fail_key("reader", "names an unknown reader '" + e.reader + "' (known: " + join(readers) +
                             ")");
  if (t.has("seed")) t.fail_key("seed", "applies to generator entries only (use split.seed)");
  e.folder = t.string("folder", true);
  if (e.folder.find('/') != std::string::npos || e.folder == "." || e.folder == "..")
    t.fail_key("folder", "must be a plain folder name, not a path");

  // split = { method = ..., train = ..., valid = ..., seed = ... }
  if (!t.has("split")) t.fail(t.line(), "missing required key 'split'");
  const toml::node* sn = t.node("split");
  if (!sn->is_table())
    t.fail_key("split", "must be a table {method = ..., train = ..., valid = ...}");
  TableReader s(file, name, " split", *sn->as_table());
  s.require_known_keys(kSplitKeys);
  const std::string method = s.string("method", true);
  if (method == "given") {
    e.split.method = SplitRule::Method::given;
    for (const char* k : {"train", "valid", "seed"})
      if (s.has(k)) s.fail_key(k, "does not apply to method 'given'");
  } else if (method == "contiguous" || method == "shuffle") {
    e.split.method =
        method == "contiguous" ? SplitRule::Method::contiguous : SplitRule::Method::shuffle;
    e.split.train = s.fraction("train");
    e.split.valid = s.fraction("valid");
    if (e.split.train + e.split.valid > 1.0 + 1e-12)
      s.fail_key("valid", "makes train + valid exceed 1");
    if (e.split.method == SplitRule::Method::shuffle) {
      e.split.seed = s.count("seed");
    } else if (s.has("seed")) {
      s.fail_key("seed", "applies to method 'shuffle' only");
    }
  } else {
    s.fail_key("method", "must be one of: contiguous, shuffle, given (got '" + method + "')");
  }

  // [[name.files]]
  const toml::node* fn = t.node("files");
  if (!fn) t.fail(t.line(), "missing required key 'files' (an array of [[" + name + ".files]])");
  if (!fn->is_array_of_tables() || fn->as_array()->empty())
    t.fail_key("files", "must be a non-empty array of tables ([[" + name + ".files]])");
  std::set<std::string> seen;
  for (const toml::node& item : *fn->as_array()) {
    const toml::table& ft = *item.as_table();
    TableReader f(file, name, " files", ft);
    f.require_known_keys(kFileKeys);
    RegistryFile rf;
    rf.line = f.line();
    rf.name = f.string("name", true);
    if (rf.name.find('/') != std::string::npos)
      f.fail_key("name", "must be a plain file name, not a path");
    if (!seen.insert(rf.name).second) f.fail_key("name", "repeats file '" + rf.name + "'");
    const std::string split = f.string("split", true);
    try {
      rf.split = parse_split(split);
    } catch (const UserError&) {
      f.fail_key("split", "must be one of: all, train, valid, test (got '" + split + "')");
    }
    if (e.split.method == SplitRule::Method::given && rf.split == Split::all)
      f.fail_key("split", "must be train, valid or test: the entry's split method is 'given'");
    if (e.split.method != SplitRule::Method::given && rf.split != Split::all)
      f.fail_key("split", "must be 'all': the entry's splits are derived by method '" + method +
                              "'");
    rf.sha256 = f.string("sha256", true);
    if (!is_sha256_hex(rf.sha256))
      f.fail_key("sha256", "must be 64 lower-case hex characters");
    rf.bytes = f.count("bytes");
    rf.url = f.string("url", false);
    rf.derived = f.string("derived", false);
    if (rf.url.empty() && rf.derived.empty())
      f.fail(f.line(), "file '" + rf.name + "' needs 'url' or 'derived' (where its bytes come from)");
    e.files.push_back(std::move(rf));
  }
  if (e.split.method == SplitRule::Method::given) {
    const bool has_train = std::any_of(e.files.begin(), e.files.end(),
                                       [](const RegistryFile& f) { return f.split == Split::train; });
    if (!has_train) t.fail_key("files", "has no file with split = \"train\"");
  }
  return e;
}

}  // namespace

Registry Registry::parse(const std::string& text, const fs::path& source) {
  toml::table root;
  try {
    root = toml::parse(text, source.string());
  } catch (const toml::parse_error& err) {
    input_error(source, err.source().begin.line, err.source().begin.column,
                "malformed TOML: " + std::string(err.description()));
  }
  Registry r;
  r.file_ = source;
  for (auto&& [key, node] : root) r.entries_.push_back(parse_entry(source, std::string(key.str()), node));
  // toml++ keeps keys sorted; list datasets in the order the file gives them.
  std::stable_sort(r.entries_.begin(), r.entries_.end(),
                   [](const RegistryEntry& a, const RegistryEntry& b) { return a.line < b.line; });
  return r;
}

Registry Registry::load(const fs::path& file) {
  require_readable_file(file, "dataset registry");
  std::ifstream in(file, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  return parse(text.str(), file);
}

const RegistryEntry* Registry::find(const std::string& name) const {
  for (const auto& e : entries_)
    if (e.name == name) return &e;
  return nullptr;
}

std::vector<std::string> Registry::names() const {
  std::vector<std::string> out;
  for (const auto& e : entries_) out.push_back(e.name);
  return out;
}

// ---------------------------------------------------------------------------------------------
// Locations
// ---------------------------------------------------------------------------------------------

DataLocations DataLocations::from_environment() {
  DataLocations loc;
  auto env = [](const char* name) -> std::string {
    const char* v = std::getenv(name);
    return v ? std::string(v) : std::string();
  };
  std::error_code ec;
  if (const std::string r = env("SEQLAB_REGISTRY"); !r.empty()) {
    loc.registry = r;
  } else if (const fs::path installed = fs::path(SEQLAB_DATADIR) / "registry.toml";
             fs::is_regular_file(installed, ec)) {
    loc.registry = installed;
  } else if (const fs::path source = SEQLAB_SOURCE_REGISTRY; fs::is_regular_file(source, ec)) {
    loc.registry = source;
  }
  std::stringstream path(env("SEQLAB_DATA_PATH"));
  for (std::string dir; std::getline(path, dir, ':');)
    if (!dir.empty()) loc.mirrors.emplace_back(dir);
  if (const std::string c = env("SEQLAB_CACHE_DIR"); !c.empty()) {
    loc.cache = c;
  } else if (const std::string x = env("XDG_CACHE_HOME"); !x.empty()) {
    loc.cache = fs::path(x) / "seqlab" / "datasets";
  } else if (const std::string h = env("HOME"); !h.empty()) {
    loc.cache = fs::path(h) / ".cache" / "seqlab" / "datasets";
  }
  return loc;
}

std::vector<fs::path> DataLocations::search_dirs() const {
  std::vector<fs::path> dirs = mirrors;
  if (!cache.empty()) dirs.push_back(cache);
  return dirs;
}

Registry load_registry(const DataLocations& locations) {
  if (locations.registry.empty())
    user_error("no dataset registry found: set SEQLAB_REGISTRY to a registry.toml file "
               "(the source tree has datasets/registry.toml)");
  return Registry::load(locations.registry);
}

namespace {
bool holds_all_files(const RegistryEntry& entry, const fs::path& folder) {
  std::error_code ec;
  for (const auto& f : entry.files)
    if (!fs::is_regular_file(folder / f.name, ec)) return false;
  return true;
}
}  // namespace

std::optional<fs::path> locate(const RegistryEntry& entry, const DataLocations& locations) {
  if (entry.synthetic()) return std::nullopt;
  for (const auto& dir : locations.search_dirs())
    if (holds_all_files(entry, dir / entry.folder)) return dir / entry.folder;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// Verification
// ---------------------------------------------------------------------------------------------

std::vector<FileCheck> verify_files(const RegistryEntry& entry, const fs::path& folder) {
  std::vector<FileCheck> checks;
  for (const auto& f : entry.files) {
    FileCheck c;
    c.file = &f;
    c.path = folder / f.name;
    std::error_code ec;
    if (!fs::is_regular_file(c.path, ec)) {
      c.status = FileCheck::Status::missing;
    } else {
      c.actual_bytes = fs::file_size(c.path, ec);
      c.actual_sha256 = sha256_file(c.path);
      c.status = c.actual_sha256 == f.sha256 ? FileCheck::Status::ok : FileCheck::Status::mismatch;
    }
    checks.push_back(std::move(c));
  }
  return checks;
}

void require_verified(const RegistryEntry& entry, const std::vector<FileCheck>& checks) {
  for (const auto& c : checks) {
    if (c.status == FileCheck::Status::missing)
      input_error(c.path, "missing; re-fetch with 'seqlab datasets fetch " + entry.name + "'");
    if (c.status == FileCheck::Status::mismatch)
      input_error(c.path, "sha256 mismatch (expected " + c.file->sha256 + ", got " +
                              c.actual_sha256 + "); re-fetch with 'seqlab datasets fetch " +
                              entry.name + "'");
  }
}

// ---------------------------------------------------------------------------------------------
// Loading
// ---------------------------------------------------------------------------------------------

namespace {

[[noreturn]] void not_found(const RegistryEntry& entry, const DataLocations& locations) {
  std::string dirs;
  for (const auto& d : locations.search_dirs())
    dirs += (dirs.empty() ? "" : ", ") + (d / entry.folder).string();
  if (dirs.empty()) dirs = "nowhere: SEQLAB_DATA_PATH is empty and no cache directory is known";
  user_error("dataset '" + entry.name + "': its " + std::to_string(entry.files.size()) +
             " file(s) were not all found (looked in " + dirs + "); run 'seqlab datasets fetch " +
             entry.name + "' or set SEQLAB_DATA_PATH to a directory holding '" + entry.folder +
             "/'");
}

void require_kind(const RegistryEntry& entry, const SequenceDataset& d) {
  if (d.kind != entry.kind)
    user_error(entry.where() + ": kind = '" + to_string(entry.kind) + "' but the " +
               (entry.synthetic() ? "generator '" + entry.generator
                                  : "reader '" + entry.reader) +
               "' produced '" + to_string(d.kind) + "' sequences");
}

}  // namespace

SequenceDataset load_entry(const RegistryEntry& entry, const DataLocations& locations,
                           const Alphabet* fixed_alphabet, UnknownPolicy unknown) {
  if (entry.synthetic()) {
    SequenceDataset d = make_synthetic_dataset(entry.name, entry.generator, entry.options,
                                               entry.seed);
    require_kind(entry, d);
    // A generator builds its own alphabet; scoring with a model needs the model's indices.
    if (fixed_alphabet && d.kind == SequenceKind::symbols)
      reencode_symbols(d, *fixed_alphabet, unknown);
    return d;
  }
  const auto folder = locate(entry, locations);
  if (!folder) not_found(entry, locations);
  require_verified(entry, verify_files(entry, *folder));
  DatasetFiles files;
  for (const auto& f : entry.files) {
    const fs::path p = *folder / f.name;
    switch (f.split) {
      case Split::all: files.all.push_back(p); break;
      case Split::train: files.train.push_back(p); break;
      case Split::valid: files.valid.push_back(p); break;
      case Split::test: files.test.push_back(p); break;
    }
  }
  SequenceDataset d = read_dataset(entry.name, entry.reader, entry.options, files, entry.split,
                                   fixed_alphabet, unknown);
  require_kind(entry, d);
  return d;
}

SequenceDataset open_dataset(const std::string& name_or_path, const OpenOptions& opts) {
  return open_dataset(name_or_path, opts, DataLocations::from_environment());
}

SequenceDataset open_dataset(const std::string& name_or_path, const OpenOptions& opts,
                             const DataLocations& locations) {
  Registry registry;
  if (!locations.registry.empty()) registry = load_registry(locations);
  if (const RegistryEntry* e = registry.find(name_or_path))
    return load_entry(*e, locations, opts.fixed_alphabet, opts.unknown);

  const fs::path path(name_or_path);
  std::error_code ec;
  if (fs::is_regular_file(path, ec)) {
    const std::string reader = opts.reader.empty() ? guess_reader(path) : opts.reader;
    DatasetFiles files;
    files.all.push_back(path);
    return read_dataset(path.filename().string(), reader, opts.reader_options, files, opts.split,
                        opts.fixed_alphabet, opts.unknown);
  }
  if (fs::is_directory(path, ec))
    input_error(path, "is a directory, expected a data file or a dataset name");

  // Something that looks like a path is reported as a missing file, not as an unknown name.
  if (name_or_path.find('/') != std::string::npos || path.has_extension())
    input_error(path, "data file does not exist (and no registered dataset has that name)");
  std::string hint;
  if (auto near = suggest_name(name_or_path, registry.names())) hint = "did you mean '" + *near + "'? ";
  const std::string see = locations.registry.empty()
                              ? "no dataset registry found; set SEQLAB_REGISTRY"
                              : "see 'seqlab datasets list'";
  user_error("unknown dataset '" + name_or_path + "' (" + hint + see + "); it is not a file either");
}

// ---------------------------------------------------------------------------------------------
// Fetching
// ---------------------------------------------------------------------------------------------

std::vector<FetchResult> fetch_dataset(const RegistryEntry& entry, const DataLocations& locations,
                                       const DownloadLimits* limits) {
  std::vector<FetchResult> results;
  if (entry.synthetic()) return results;

  // A verified copy in a mirror makes downloading pointless.
  std::error_code ec;
  for (const auto& dir : locations.mirrors) {
    const fs::path folder = dir / entry.folder;
    if (!holds_all_files(entry, folder)) continue;
    const auto checks = verify_files(entry, folder);
    if (std::all_of(checks.begin(), checks.end(),
                    [](const FileCheck& c) { return c.status == FileCheck::Status::ok; })) {
      for (const auto& c : checks)
        results.push_back({c.file->name, FetchResult::Action::available_in_mirror, c.path});
      return results;
    }
  }

  if (locations.cache.empty())
    user_error("dataset '" + entry.name + "': no cache directory to fetch into (set "
               "SEQLAB_CACHE_DIR, XDG_CACHE_HOME or HOME)");
  const fs::path folder = locations.cache / entry.folder;

  // Decide everything before downloading anything: a file no URL can provide stops the fetch.
  std::vector<bool> present(entry.files.size(), false);
  for (std::size_t i = 0; i < entry.files.size(); ++i) {
    const RegistryFile& f = entry.files[i];
    const fs::path p = folder / f.name;
    present[i] = fs::is_regular_file(p, ec) && sha256_file(p) == f.sha256;
    if (!present[i] && !f.fetchable())
      user_error("dataset '" + entry.name + "': file '" + f.name +
                 "' cannot be downloaded (" + (f.derived.empty() ? "no URL" : f.derived) +
                 "); it must come from a mirror: set SEQLAB_DATA_PATH to a directory holding '" +
                 entry.folder + "/" + f.name + "'");
  }
  fs::create_directories(folder, ec);
  if (ec) input_error(folder, "cannot create the cache folder: " + ec.message());
  for (std::size_t i = 0; i < entry.files.size(); ++i) {
    const RegistryFile& f = entry.files[i];
    const fs::path p = folder / f.name;
    if (present[i]) {
      results.push_back({f.name, FetchResult::Action::already_present, p});
      continue;
    }
    download_verified(f.url, p, f.sha256, limits ? *limits : DownloadLimits{});
    results.push_back({f.name, FetchResult::Action::downloaded, p});
  }
  return results;
}

// ---------------------------------------------------------------------------------------------
// Suggestions
// ---------------------------------------------------------------------------------------------

std::size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<std::size_t> prev(b.size() + 1), cur(b.size() + 1);
  for (std::size_t j = 0; j <= b.size(); ++j) prev[j] = j;
  for (std::size_t i = 1; i <= a.size(); ++i) {
    cur[0] = i;
    for (std::size_t j = 1; j <= b.size(); ++j) {
      const std::size_t substitute = prev[j - 1] + (a[i - 1] == b[j - 1] ? 0 : 1);
      cur[j] = std::min({prev[j] + 1, cur[j - 1] + 1, substitute});
    }
    std::swap(prev, cur);
  }
  return prev[b.size()];
}

std::optional<std::string> suggest_name(const std::string& query,
                                        const std::vector<std::string>& candidates) {
  const std::size_t limit = std::max<std::size_t>(2, query.size() / 3);
  std::optional<std::string> best;
  std::size_t best_distance = limit + 1;
  for (const auto& c : candidates) {
    const std::size_t d = edit_distance(query, c);
    if (d < best_distance) {
      best_distance = d;
      best = c;
    }
  }
  return best;
}

}  // namespace seqlab
