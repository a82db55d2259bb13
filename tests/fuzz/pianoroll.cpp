// tests/fuzz/pianoroll.cpp: fuzz target for the "pianoroll" reader through read_dataset. The
// first byte picks the options: bit 0 range = observed (else 88).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "seqlab/data/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace seqlab;
  const fuzz::Input in = fuzz::split_selector(data, size);
  Options options("fuzz");
  options.set("range", (in.selector & 1) != 0 ? "observed" : "88");

  DatasetFiles files;
  files.all.push_back(fuzz::write_scratch("input.txt", in.data, in.size));
  fuzz::refused_or_accepted(
      [&] { (void)read_dataset("fuzz", "pianoroll", options, files, SplitRule{}); });
  return 0;
}
