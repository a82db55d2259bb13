// tests/fuzz/csv.cpp: fuzz target for the "csv" reader through read_dataset. The first byte picks
// the options: bits 0-1 delimiter = auto | comma | tab | semicolon, bits 2-3 header = auto | true
// | false, bit 4 sequence_column = id, bit 5 the file is named .tsv (auto delimiter = tab).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "seqlab/data/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace seqlab;
  const fuzz::Input in = fuzz::split_selector(data, size);
  Options options("fuzz");
  static const char* const delimiters[] = {"auto", "comma", "tab", "semicolon"};
  static const char* const headers[] = {"auto", "true", "false", "auto"};
  options.set("delimiter", delimiters[in.selector & 3]);
  options.set("header", headers[(in.selector >> 2) & 3]);
  if ((in.selector & 16) != 0) options.set("sequence_column", "id");
  const char* const name = (in.selector & 32) != 0 ? "input.tsv" : "input.csv";

  DatasetFiles files;
  files.all.push_back(fuzz::write_scratch(name, in.data, in.size));
  fuzz::refused_or_accepted(
      [&] { (void)read_dataset("fuzz", "csv", options, files, SplitRule{}); });
  return 0;
}
