// seqlab/data/registry.hpp: named datasets. The registry (datasets/registry.toml) says, for each
// name, which files make the dataset (with size and sha256), how they are read and split, where
// they can be downloaded, and under which licence; or which synthetic generator makes it.
//
// Where files are looked for, in order (the first folder holding ALL of a dataset's files wins):
//   1. each directory of SEQLAB_DATA_PATH (colon-separated), as <dir>/<folder>/<file>;
//   2. the user cache: $SEQLAB_CACHE_DIR, else $XDG_CACHE_HOME/seqlab/datasets, else
//      ~/.cache/seqlab/datasets (where `seqlab datasets fetch` puts downloads).
// Every load recomputes the sha256 of every file: a mismatch is an error, never a warning.
//
// Not here: parsing the files (readers.hpp) and making synthetic data (synthetic.hpp).
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "seqlab/data/dataset.hpp"
#include "seqlab/data/fetch.hpp"
#include "seqlab/data/options.hpp"
#include "seqlab/data/readers.hpp"

namespace seqlab {

// One file of a registry entry.
struct RegistryFile {
  std::string name;         // file name inside the dataset folder
  Split split = Split::all; // which part it feeds (train/valid/test for given splits, else all)
  std::string sha256;       // 64 lower-case hex characters
  std::uint64_t bytes = 0;
  std::string url;          // where exactly these bytes are served, or the upstream source
  std::string derived;      // how the file is made when no URL serves exactly these bytes
  std::size_t line = 0;     // line of the entry in the registry file

  // A file is fetched only when a URL serves exactly its bytes (a derived file is not).
  bool fetchable() const { return !url.empty() && derived.empty(); }
};

// One dataset of the registry (a [name] table).
struct RegistryEntry {
  std::string name;
  std::string description;
  SequenceKind kind = SequenceKind::symbols;
  std::string folder;            // folder name inside a mirror or the cache (file entries)
  std::string reader;            // a reader_names() entry, or empty
  std::string generator;         // a synthetic_generator_names() entry, or empty
  Options options;               // reader / generator options, context "<file>:<line> [name]"
  SplitRule split;               // file entries: how train/valid/test are formed
  std::vector<RegistryFile> files;
  std::string licence;
  std::string citation;
  std::uint64_t seed = 0;        // generators
  std::filesystem::path registry_file;
  std::size_t line = 0;          // line of the [name] header

  bool synthetic() const { return !generator.empty(); }
  // "<registry file>:<line> [name]", for messages about this entry.
  std::string where() const;
};

class Registry {
public:
  Registry() = default;

  // Requires: `file` readable (else UserError naming it).
  // Ensures: every entry parsed and checked; any problem is a UserError naming the file, line
  //   and key (malformed TOML, unknown key with the accepted keys, missing required key, wrong
  //   type, bad sha256, a split method that does not fit the files...).
  static Registry load(const std::filesystem::path& file);
  // Same, from text; `source` is the name used in messages.
  static Registry parse(const std::string& text, const std::filesystem::path& source);

  const std::vector<RegistryEntry>& entries() const { return entries_; }
  const std::filesystem::path& file() const { return file_; }
  // The entry called `name`, or nullptr. Cost: O(entries).
  const RegistryEntry* find(const std::string& name) const;
  std::vector<std::string> names() const;

private:
  std::filesystem::path file_;
  std::vector<RegistryEntry> entries_;  // in file order
};

// Where registry and data are looked for. from_environment() is the only place that reads the
// environment; everything else takes a DataLocations so tests can point it at scratch dirs.
struct DataLocations {
  std::filesystem::path registry;             // empty: no registry (only plain paths work)
  std::vector<std::filesystem::path> mirrors; // searched in order
  std::filesystem::path cache;                // empty when no cache dir can be determined

  // Registry: $SEQLAB_REGISTRY if set (it must exist then); else the installed copy
  // <datadir>/seqlab/registry.toml if it exists; else the source tree's datasets/registry.toml
  // if it exists; else empty. Mirrors: SEQLAB_DATA_PATH. Cache: see the file comment.
  static DataLocations from_environment();
  // Every directory searched for a dataset folder, in order (mirrors, then cache).
  std::vector<std::filesystem::path> search_dirs() const;
};

// Requires: locations.registry non-empty (else UserError saying how to name one).
Registry load_registry(const DataLocations& locations);

// Ensures: the first <dir>/<entry.folder> of locations.search_dirs() in which every file of
// `entry` exists as a regular file, or nullopt (also for synthetic entries). Cost: stat calls only.
std::optional<std::filesystem::path> locate(const RegistryEntry& entry,
                                            const DataLocations& locations);

// The state of one file after checking it.
struct FileCheck {
  enum class Status { ok, missing, mismatch };
  const RegistryFile* file = nullptr;
  std::filesystem::path path;
  Status status = Status::missing;
  std::string actual_sha256;  // when the file exists
  std::uint64_t actual_bytes = 0;
};

// Ensures: one FileCheck per file of `entry`, in registry order, by recomputing every sha256
// under `folder`. Cost: one pass over every file.
std::vector<FileCheck> verify_files(const RegistryEntry& entry,
                                    const std::filesystem::path& folder);

// Throws the UserError for the first file that is not ok:
// "FILE: sha256 mismatch (expected X, got Y); re-fetch with 'seqlab datasets fetch NAME'".
void require_verified(const RegistryEntry& entry, const std::vector<FileCheck>& checks);

// How to open a dataset named on a command line or in a config.
struct OpenOptions {
  // Symbol data: encode with exactly this alphabet (a trained model's), matching symbols by their
  // text, for files and synthetic sets alike; `unknown` decides what a symbol outside it does.
  const Alphabet* fixed_alphabet = nullptr;
  UnknownPolicy unknown = UnknownPolicy::error;
  std::string reader;      // for plain paths: "" = guess_reader
  Options reader_options;  // for plain paths
  SplitRule split;         // for plain paths: default contiguous 90/5/5
};

// Requires: `name_or_path` is a registry name or an existing file.
// Ensures:
//   * a registry name: the folder is located, every file verified, then read with the entry's
//     reader, options and split (OpenOptions::reader/reader_options/split are not used: the
//     registry fixes them), or generated by the entry's generator and seed. The result's kind
//     must match the entry's `kind`.
//   * with opts.fixed_alphabet, symbol data (read or generated) is encoded with it
//     (reencode_symbols for generated sets), so its indices are the model's.
//   * an existing file: read with opts.reader (or guess_reader), opts.reader_options and
//     opts.split; the dataset is named after the file.
//   * otherwise UserError "unknown dataset 'X' (did you mean 'Y'? see 'seqlab datasets list');
//     it is not a file either"; a known dataset whose files are missing: a UserError saying where
//     it looked and to run 'seqlab datasets fetch NAME' or set SEQLAB_DATA_PATH.
// Cost: reading plus one sha256 pass over the files.
SequenceDataset open_dataset(const std::string& name_or_path, const OpenOptions& opts);
SequenceDataset open_dataset(const std::string& name_or_path, const OpenOptions& opts,
                             const DataLocations& locations);

// Loads a registry entry (the registry-name branch of open_dataset).
SequenceDataset load_entry(const RegistryEntry& entry, const DataLocations& locations,
                           const Alphabet* fixed_alphabet = nullptr,
                           UnknownPolicy unknown = UnknownPolicy::error);

// What fetch_dataset did with each file.
struct FetchResult {
  enum class Action { already_present, downloaded, available_in_mirror };
  std::string file;
  Action action = Action::downloaded;
  std::filesystem::path path;
};

// Requires: a file entry (synthetic ones need nothing: returns empty); locations.cache non-empty.
// Ensures: when a mirror already holds the verified folder nothing is downloaded (every file
//   reported available_in_mirror). Otherwise every file ends verified in <cache>/<folder>:
//   a verified file there is kept, the others are downloaded with download_verified (a failure
//   removes the temp file and keeps any previous file). Before anything is downloaded, a file that
//   is missing and has no URL serving exactly its bytes (a `derived` file) is a UserError saying
//   it must come from a mirror (SEQLAB_DATA_PATH).
std::vector<FetchResult> fetch_dataset(const RegistryEntry& entry, const DataLocations& locations,
                                       const DownloadLimits* limits = nullptr);

// Levenshtein distance (insert, delete, substitute; each costs 1). Cost: O(|a| |b|).
std::size_t edit_distance(const std::string& a, const std::string& b);
// The candidate nearest to `query` when it is close enough to be a likely typo (distance at
// most max(2, |query| / 3)), else nullopt. Ties go to the first candidate.
std::optional<std::string> suggest_name(const std::string& query,
                                        const std::vector<std::string>& candidates);

}  // namespace seqlab
