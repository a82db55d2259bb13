// tests/fuzz/fasta.cpp: fuzz target for the "fasta" reader through read_dataset. The first byte
// picks the options: bits 0-1 non_acgt = error | skip | keep, bit 2 a fixed alphabet {A, C, G, T}
// (symbols outside it refused, as when a model scores new data).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "seqlab/data/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace seqlab;
  const fuzz::Input in = fuzz::split_selector(data, size);
  Options options("fuzz");
  static const char* const policies[] = {"error", "skip", "keep", "keep"};
  options.set("non_acgt", policies[in.selector & 3]);
  const Alphabet fixed({"A", "C", "G", "T"});
  const bool use_fixed = (in.selector & 4) != 0;

  DatasetFiles files;
  files.all.push_back(fuzz::write_scratch("input.fa", in.data, in.size));
  fuzz::refused_or_accepted([&] {
    const SequenceDataset dataset = read_dataset("fuzz", "fasta", options, files, SplitRule{},
                                                 use_fixed ? &fixed : nullptr);
    fuzz::check_storable(dataset.alphabet);
  });
  return 0;
}
