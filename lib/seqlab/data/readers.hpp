// seqlab/data/readers.hpp: turning files into a SequenceDataset. One entry point,
// read_dataset(), selects a reader by name; each reader's options are documented below.
//
// A reader never knows about models. Every malformed input is a UserError naming the file,
// line (and column where it helps) and what was expected.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "seqlab/data/dataset.hpp"
#include "seqlab/data/options.hpp"

namespace seqlab {

// The files a dataset is read from. Either `all` (one source; splits derived by the rule), or
// `train`/`valid`/`test` (given splits; `all` becomes their concatenation in that order). Each
// list is read as ONE stream, files concatenated in order (e.g. PTB's train part1 + part2).
struct DatasetFiles {
  std::vector<std::filesystem::path> all;
  std::vector<std::filesystem::path> train, valid, test;
  bool given_splits() const { return !train.empty() || !valid.empty() || !test.empty(); }
};

// What to do with a symbol outside a FIXED alphabet (evaluating text with a trained model).
enum class UnknownPolicy {
  error,        // UserError naming file:line:column and the symbol
  map_to_unk,   // map to the alphabet's unknown symbol; error when it has none
};

// Requires: `reader` is one of reader_names(); files exist (else UserError naming the file).
// `fixed_alphabet`: when given (symbol readers), symbols are encoded with exactly this alphabet
//   and `unknown` decides what happens to others; when absent the alphabet is built from the data
//   (character level: every code point seen in any file, sorted by code point; token level: see
//   the text reader).
// Ensures: a dataset that passes validate(), with train/valid/test given or derived by `split`
//   (`split` is ignored for given splits), name = `name`, source = the file list.
SequenceDataset read_dataset(const std::string& name, const std::string& reader,
                             const Options& options, const DatasetFiles& files,
                             const SplitRule& split, const Alphabet* fixed_alphabet = nullptr,
                             UnknownPolicy unknown = UnknownPolicy::error);

// The reader names and the option keys each accepts (for --help and error messages).
std::vector<std::string> reader_names();

// Guesses a reader for a plain path from its extension: .fa/.fasta/.fna -> fasta, .csv/.tsv ->
// csv, anything else -> text (character level). Never fails.
std::string guess_reader(const std::filesystem::path& file);

}  // namespace seqlab
