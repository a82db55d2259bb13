// tests/fuzz/registry.cpp: fuzz target for the dataset registry (TOML), through Registry::parse,
// which Registry::load (and so every `seqlab datasets` command) runs on the file's text. An
// accepted registry is walked as `seqlab datasets list` walks it.
#include <cstddef>
#include <cstdint>
#include <string>

#include "fuzz_support.hpp"
#include "seqlab/data/registry.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace seqlab;
  const std::string text(reinterpret_cast<const char*>(data), size);
  fuzz::refused_or_accepted([&] {
    const Registry registry = Registry::parse(text, "fuzz.toml");
    for (const std::string& name : registry.names()) {
      const RegistryEntry* entry = registry.find(name);
      if (entry == nullptr) fuzz::finding("listed entry '" + name + "' not found");
      (void)entry->where();
      (void)entry->split.describe();
    }
  });
  return 0;
}
