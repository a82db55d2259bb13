// tests/fuzz/patterns.cpp: fuzz target for the "patterns" reader through read_dataset. The first
// byte picks the options: bit 0 threshold = 0.5 (else values must be 0/1), bit 1 label = none
// (else last), bits 2-3 frame_width = 0 | 2 | 3 | 8.
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "seqlab/data/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace seqlab;
  const fuzz::Input in = fuzz::split_selector(data, size);
  Options options("fuzz");
  if ((in.selector & 1) != 0) options.set("threshold", "0.5");
  options.set("label", (in.selector & 2) != 0 ? "none" : "last");
  static const char* const widths[] = {"0", "2", "3", "8"};
  options.set("frame_width", widths[(in.selector >> 2) & 3]);

  DatasetFiles files;
  files.all.push_back(fuzz::write_scratch("input.txt", in.data, in.size));
  fuzz::refused_or_accepted(
      [&] { (void)read_dataset("fuzz", "patterns", options, files, SplitRule{}); });
  return 0;
}
