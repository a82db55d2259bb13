// tools/seqlab/cmd_datasets.cpp: `seqlab datasets list | info NAME | fetch NAME | verify NAME`.
// A thin layer over data/registry.hpp: it prints what the registry says and what was found; the
// rules (where to look, what counts as verified) live in the library.
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <sstream>
#include <string>
#include <vector>

#include "cli_common.hpp"
#include "commands.hpp"
#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/data/registry.hpp"
#include "seqlab/data/sha256.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/experiment/runner.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/hmm/hmm.hpp"

namespace seqlab::cli {
namespace {
namespace fs = std::filesystem;

const char* kUsage =
    "usage: seqlab datasets <subcommand> [options]   (seqlab datasets <subcommand> --help)\n\n"
    "subcommands:\n"
    "  list          every registered dataset and where its files were found\n"
    "  info NAME     everything the registry says about NAME, and its splits when available\n"
    "  fetch NAME    download NAME's files into the user cache and verify them\n"
    "  verify NAME   recompute the sha256 of NAME's files; exit 1 on any mismatch or missing file\n"
    "  true-model NAME --out FILE\n"
    "                the HMM that generates a synthetic dataset (hmm, casino), as a model file:\n"
    "                its held-out NLL is the floor a fitted model can reach\n"
    "  floor NAME [--split test]\n"
    "                the NLL of a synthetic split under its generating process (hmm, casino,\n"
    "                copy, brackets): the floor no model can beat on average\n\n"
    "Files are looked for in each directory of SEQLAB_DATA_PATH, then in the cache\n"
    "($SEQLAB_CACHE_DIR, else $XDG_CACHE_HOME/seqlab/datasets, else ~/.cache/seqlab/datasets).\n"
    "The registry is $SEQLAB_REGISTRY, else the installed datasets registry.\n";

struct Parsed {
  CommonOptions common;
  std::string name;
  std::string registry;
  bool proceed = true;
};

// Parses the options of one subcommand; `with_name` adds the positional NAME.
Parsed parse(const std::string& sub, const std::vector<std::string>& args, bool with_name,
             const std::string& summary) {
  Parsed p;
  const std::string command = "datasets " + sub;
  po::options_description desc(summary + "\n\noptions");
  add_common_options(desc, p.common, 0);
  desc.add_options()("registry", po::value(&p.registry),
                     "registry file to use instead of $SEQLAB_REGISTRY / the installed one");
  po::positional_options_description positional;
  if (with_name) {
    desc.add_options()("name", po::value(&p.name), "dataset name (see 'seqlab datasets list')");
    positional.add("name", 1);
  }
  po::variables_map vm;
  p.proceed = parse_command_line(command, with_name ? "NAME [options]" : "[options]", args, desc,
                                 &positional, vm);
  if (p.proceed && with_name && p.name.empty())
    user_error(command + ": a dataset NAME is required (see 'seqlab datasets list')");
  return p;
}

DataLocations locations_for(const Parsed& p) {
  DataLocations loc = DataLocations::from_environment();
  if (!p.registry.empty()) loc.registry = p.registry;
  return loc;
}

const RegistryEntry& find_entry(const Registry& registry, const std::string& name) {
  if (const RegistryEntry* e = registry.find(name)) return *e;
  std::string hint;
  if (auto near = suggest_name(name, registry.names())) hint = "did you mean '" + *near + "'? ";
  user_error("unknown dataset '" + name + "' (" + hint + "see 'seqlab datasets list')");
}

bool under(const fs::path& path, const fs::path& dir) {
  if (dir.empty()) return false;
  const auto rel = path.lexically_normal().lexically_relative(dir.lexically_normal());
  return !rel.empty() && *rel.begin() != "..";
}

std::string where_found(const RegistryEntry& e, const DataLocations& loc) {
  if (e.synthetic()) return "synthetic";
  const auto folder = locate(e, loc);
  if (!folder) return "not found";
  return under(*folder, loc.cache) ? "cache " + folder->string() : folder->string();
}

std::string options_text(const Options& o) {
  std::string s;
  for (const auto& [k, v] : o.values()) s += (s.empty() ? "" : ", ") + k + " = " + v;
  return s;
}

int run_list(const std::vector<std::string>& args) {
  Parsed p = parse("list", args, false, "List every registered dataset.");
  if (!p.proceed) return 0;
  const DataLocations loc = locations_for(p);
  const Registry registry = load_registry(loc);
  std::size_t width = 4;
  for (const auto& e : registry.entries()) width = std::max(width, e.name.size());
  std::cout << std::left << std::setw(static_cast<int>(width) + 2) << "name" << std::setw(15)
            << "kind" << std::setw(22) << "reader/generator" << "where\n";
  for (const auto& e : registry.entries()) {
    const std::string how = e.synthetic() ? "generator " + e.generator : "reader " + e.reader;
    std::cout << std::left << std::setw(static_cast<int>(width) + 2) << e.name << std::setw(15)
              << to_string(e.kind) << std::setw(22) << how << where_found(e, loc) << "\n";
  }
  return 0;
}

void print_set(const char* label, const SequenceSet& s) {
  std::cout << "  " << std::left << std::setw(7) << label << s.size() << " sequences, "
            << s.total_steps() << " steps\n";
}

int run_info(const std::vector<std::string>& args) {
  Parsed p = parse("info", args, true,
                   "Show a registry entry, where its files are, and (when available) its splits.");
  if (!p.proceed) return 0;
  const DataLocations loc = locations_for(p);
  const Registry registry = load_registry(loc);
  const RegistryEntry& e = find_entry(registry, p.name);
  auto row = [](const std::string& key, const std::string& value) {
    if (!value.empty()) std::cout << std::left << std::setw(13) << key << value << "\n";
  };
  row("name", e.name);
  row("description", e.description);
  row("kind", to_string(e.kind));
  row("reader", e.reader);
  row("generator", e.generator);
  row("options", options_text(e.options));
  if (e.synthetic()) {
    row("seed", std::to_string(e.seed));
  } else {
    row("split", e.split.describe());
    row("folder", e.folder);
  }
  row("licence", e.licence);
  row("citation", e.citation);
  row("registry", location(e.registry_file, e.line));
  for (const auto& f : e.files) {
    std::cout << "file         " << f.name << " (" << to_string(f.split) << ", " << f.bytes
              << " bytes)\n"
              << "  sha256     " << f.sha256 << "\n";
    if (!f.url.empty()) std::cout << "  url        " << f.url << "\n";
    if (!f.derived.empty()) std::cout << "  derived    " << f.derived << "\n";
  }
  if (!e.synthetic()) {
    std::string looked;
    for (const auto& d : loc.search_dirs()) looked += (looked.empty() ? "" : ", ") + (d / e.folder).string();
    row("searched", looked.empty() ? "(SEQLAB_DATA_PATH empty, no cache directory)" : looked);
    row("found", where_found(e, loc));
    if (!locate(e, loc)) {
      std::cout << "(run 'seqlab datasets fetch " << e.name
                << "' or set SEQLAB_DATA_PATH to see its splits)\n";
      return 0;
    }
  }
  const SequenceDataset d = load_entry(e, loc);
  std::cout << "splits       ("
            << (e.synthetic() ? "each generated from its own seed" : d.split_rule.describe())
            << ")\n";
  print_set("train", d.train);
  print_set("valid", d.valid);
  print_set("test", d.test);
  if (d.kind == SequenceKind::symbols) {
    std::cout << "alphabet     " << d.alphabet.size() << " symbols\n";
  } else {
    std::cout << "dimension    " << d.dimension << "\n";
  }
  return 0;
}

int run_fetch(const std::vector<std::string>& args) {
  Parsed p = parse("fetch", args, true,
                   "Download a dataset's files into the user cache, verifying each sha256.");
  if (!p.proceed) return 0;
  const DataLocations loc = locations_for(p);
  const Registry registry = load_registry(loc);
  const RegistryEntry& e = find_entry(registry, p.name);
  if (e.synthetic()) {
    if (!p.common.quiet) std::cout << e.name << ": synthetic, nothing to fetch\n";
    return 0;
  }
  for (const auto& r : fetch_dataset(e, loc)) {
    if (p.common.quiet) continue;
    const char* what = r.action == FetchResult::Action::downloaded        ? "downloaded"
                       : r.action == FetchResult::Action::already_present ? "already present"
                                                                          : "in mirror";
    std::cout << std::left << std::setw(16) << what << r.path.string() << "\n";
  }
  return 0;
}

int run_verify(const std::vector<std::string>& args) {
  Parsed p = parse("verify", args, true,
                   "Recompute the sha256 of every file of a dataset; exit 1 on any problem.");
  if (!p.proceed) return 0;
  const DataLocations loc = locations_for(p);
  const Registry registry = load_registry(loc);
  const RegistryEntry& e = find_entry(registry, p.name);
  if (e.synthetic()) {
    std::cout << e.name << ": synthetic, nothing to verify\n";
    return 0;
  }
  // A complete folder if there is one; else the first folder that exists at all, so the
  // report names the files that are missing from it.
  std::optional<fs::path> folder = locate(e, loc);
  if (!folder) {
    for (const auto& d : loc.search_dirs()) {
      std::error_code ec;
      if (fs::is_directory(d / e.folder, ec)) {
        folder = d / e.folder;
        break;
      }
    }
  }
  if (!folder) {
    std::cerr << "seqlab: error: dataset '" << e.name << "' not found (no folder '" << e.folder
              << "' in SEQLAB_DATA_PATH or the cache); run 'seqlab datasets fetch " << e.name
              << "'\n";
    return 1;
  }
  int bad = 0;
  for (const auto& c : verify_files(e, *folder)) {
    switch (c.status) {
      case FileCheck::Status::ok:
        std::cout << "ok        " << c.path.string() << "\n";
        break;
      case FileCheck::Status::missing:
        ++bad;
        std::cout << "missing   " << c.path.string() << "\n";
        break;
      case FileCheck::Status::mismatch:
        ++bad;
        std::cout << "mismatch  " << c.path.string() << " (expected " << c.file->sha256
                  << ", got " << c.actual_sha256 << ")\n";
        break;
    }
  }
  if (bad > 0) {
    std::cerr << "seqlab: error: " << e.name << ": " << bad << " of " << e.files.size()
              << " file(s) failed verification; re-fetch with 'seqlab datasets fetch " << e.name
              << "'\n";
    return 1;
  }
  return 0;
}

int run_true_model(const std::vector<std::string>& args) {
  CommonOptions common;
  std::string name, registry_file, out;
  po::options_description desc(
      "Write the generating HMM of a synthetic dataset (generators hmm and casino) as a model\n"
      "file, so `seqlab eval` gives the floor a fitted model can reach on its data.\n\noptions");
  add_common_options(desc, common, 0);
  desc.add_options()("name", po::value(&name), "dataset name (see 'seqlab datasets list')")(
      "out", po::value(&out), "model file to write (HDF5)")(
      "registry", po::value(&registry_file), "registry file to use instead of $SEQLAB_REGISTRY");
  po::positional_options_description positional;
  positional.add("name", 1);
  po::variables_map vm;
  if (!parse_command_line("datasets true-model", "NAME --out FILE [options]", args, desc,
                          &positional, vm))
    return 0;
  if (name.empty()) user_error("datasets true-model: a dataset NAME is required");
  require_option("datasets true-model", vm, "out");
  require_output_path(out);
  DataLocations loc = DataLocations::from_environment();
  if (!registry_file.empty()) loc.registry = registry_file;
  const Registry registry = load_registry(loc);
  const RegistryEntry& e = find_entry(registry, name);
  if (e.generator != "hmm" && e.generator != "casino")
    user_error("datasets true-model: '" + name + "' has no generating HMM (" +
               (e.synthetic() ? "generator " + e.generator : std::string("a real dataset")) +
               "); only the generators hmm and casino have one");
  const CategoricalHmmParams p = synthetic_hmm_parameters(e.generator, e.options, e.seed);
  const SequenceDataset d = load_entry(e, loc);
  const CategoricalHmm model(
      d.alphabet,
      Hmm<CategoricalEmission>(p.initial, p.transition, CategoricalEmission(p.emission)));
  save_model(out, model);
  if (!common.quiet)
    std::cout << "wrote the generating " << p.initial.n_elem << "-state HMM of " << name << " to "
              << out << "\n";
  return 0;
}

int run_floor(const std::vector<std::string>& args) {
  CommonOptions common;
  std::string name, registry_file, split = "test";
  po::options_description desc(
      "The NLL of a synthetic dataset's split under the process that generated it: the floor\n"
      "no model of that data can beat on average (generators hmm and casino: their true HMM;\n"
      "copy and brackets: the generator's own closed form).\n\noptions");
  add_common_options(desc, common, kJson);
  desc.add_options()("name", po::value(&name), "dataset name (see 'seqlab datasets list')")(
      "split", po::value(&split)->default_value("test"), "train, valid or test")(
      "registry", po::value(&registry_file), "registry file to use instead of $SEQLAB_REGISTRY");
  po::positional_options_description positional;
  positional.add("name", 1);
  po::variables_map vm;
  if (!parse_command_line("datasets floor", "NAME [--split test] [options]", args, desc,
                          &positional, vm))
    return 0;
  if (name.empty()) user_error("datasets floor: a dataset NAME is required");
  DataLocations loc = DataLocations::from_environment();
  if (!registry_file.empty()) loc.registry = registry_file;
  const Registry registry = load_registry(loc);
  const RegistryEntry& e = find_entry(registry, name);
  if (!e.synthetic())
    user_error("datasets floor: '" + name + "' is a real dataset; its generating process is "
               "unknown");
  const SequenceDataset d = load_entry(e, loc);
  const auto floor = floor_under_generator(e.generator, e.options, e.seed, d, parse_split(split));
  if (!floor)
    user_error("datasets floor: the generator " + e.generator + " of '" + name +
               "' has no closed-form likelihood here (only hmm, casino, copy and brackets), or "
               "its " + split + " split is empty");
  const Evaluation& ev = *floor;
  if (common.json) {
    JsonObject o;
    o.add("dataset", name);
    o.add("split", split);
    o.add("generator", e.generator);
    o.add("log_likelihood", ev.log_likelihood);
    o.add("symbols", ev.symbols);
    o.add("nll_nats", ev.nats_per_symbol());
    o.add("nll_bits", ev.bits_per_symbol());
    std::cout << o.str() << "\n";
  } else {
    std::cout << std::fixed << std::setprecision(6) << name << " [" << split
              << "] under its generator (" << e.generator << "): " << ev.nats_per_symbol()
              << " nats/symbol, " << ev.bits_per_symbol() << " bits/symbol over " << ev.symbols
              << " symbols\n";
  }
  return 0;
}

}  // namespace

int datasets_command(const std::vector<std::string>& args) {
  if (args.empty()) {
    std::cerr << kUsage;
    return 1;
  }
  if (args[0] == "--help" || args[0] == "-h" || args[0] == "help") {
    std::cout << kUsage;
    return 0;
  }
  const std::vector<std::string> rest(args.begin() + 1, args.end());
  if (args[0] == "list") return run_list(rest);
  if (args[0] == "info") return run_info(rest);
  if (args[0] == "fetch") return run_fetch(rest);
  if (args[0] == "verify") return run_verify(rest);
  if (args[0] == "true-model") return run_true_model(rest);
  if (args[0] == "floor") return run_floor(rest);
  user_error("datasets: unknown subcommand '" + args[0] +
             "' (expected list, info, fetch, verify, true-model or floor; see 'seqlab datasets "
             "--help')");
}

}  // namespace seqlab::cli
