// tests/fuzz/text.cpp: fuzz target for the "text" reader (characters and tokens), through
// read_dataset as `seqlab train/eval` call it. The first byte picks the options:
//   bit 0 level = token | char, bits 1-2 format (char level: plain, spaced, ptb_char),
//   bit 3 sequences = line, bit 4 lowercase, bit 5 eos = <eos> (token level),
//   bit 6 max_vocab = 3 (token level), bit 7 a fixed alphabet {a, b, \n} with unknowns mapped to
//   an unknown symbol (as when a model scores new text).
#include <cstddef>
#include <cstdint>

#include "fuzz_support.hpp"
#include "seqlab/data/readers.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace seqlab;
  const fuzz::Input in = fuzz::split_selector(data, size);
  const bool token = (in.selector & 1) != 0;
  Options options("fuzz");
  options.set("level", token ? "token" : "char");
  if (!token) {
    static const char* const formats[] = {"plain", "spaced", "ptb_char", "plain"};
    options.set("format", formats[(in.selector >> 1) & 3]);
  }
  if ((in.selector & 8) != 0) options.set("sequences", "line");
  if ((in.selector & 16) != 0) options.set("lowercase", "true");
  if (token && (in.selector & 32) != 0) options.set("eos", "<eos>");
  if (token && (in.selector & 64) != 0) options.set("max_vocab", "3");

  Alphabet fixed({"a", "b", "\n", "<unk>"});
  fixed.set_unknown("<unk>");
  const bool use_fixed = (in.selector & 128) != 0;

  DatasetFiles files;
  files.all.push_back(fuzz::write_scratch("input.txt", in.data, in.size));
  fuzz::refused_or_accepted([&] {
    const SequenceDataset dataset =
        read_dataset("fuzz", "text", options, files, SplitRule{}, use_fixed ? &fixed : nullptr,
                     UnknownPolicy::map_to_unk);
    fuzz::check_storable(dataset.alphabet);
  });
  return 0;
}
