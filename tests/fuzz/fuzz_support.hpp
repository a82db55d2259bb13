// tests/fuzz/fuzz_support.hpp: what every fuzz target shares (header only, not installed).
//
// A fuzz target is one function, LLVMFuzzerTestOneInput(data, size), that hands the bytes to the
// library entry point the CLI uses for that input. The rule it checks is the CLI's: any input is
// either accepted or refused with a UserError whose message is one non-empty line (the CLI
// prints it as "seqlab: error: ..." and exits 1). Everything else is a bug and must end the run:
// a crash or sanitizer report, another exception type (the CLI's "internal error", exit 2), a
// multi-line message, a leak, a hang or a huge allocation (the last three are caught by the
// fuzzer's own limits). The same targets are linked with libFuzzer (clang, build-fuzz/) and with
// replay_main.cpp (every build), which replays the checked-in corpora and crash inputs.
#pragma once

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <string>
#include <string_view>

#include "seqlab/core/error.hpp"
#include "seqlab/data/alphabet.hpp"

namespace seqlab::fuzz {

// A scratch directory private to this process, made on first use and removed at exit.
inline const std::filesystem::path& scratch_dir() {
  struct Dir {
    std::filesystem::path path;
    Dir() {
      std::string pattern = (std::filesystem::temp_directory_path() / "seqlab-fuzz-XXXXXX").string();
      if (mkdtemp(pattern.data()) == nullptr) {
        std::perror("seqlab fuzz: mkdtemp");
        std::abort();
      }
      path = pattern;
    }
    ~Dir() {
      std::error_code ignored;
      std::filesystem::remove_all(path, ignored);
    }
  };
  static const Dir dir;
  return dir.path;
}

// Ensures: scratch_dir()/name holds exactly the `size` bytes at `data`; returns its path.
inline std::filesystem::path write_scratch(const std::string& name, const std::uint8_t* data,
                                           std::size_t size) {
  const std::filesystem::path path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(data), static_cast<std::streamsize>(size));
  out.close();
  if (!out) {
    std::fprintf(stderr, "seqlab fuzz: cannot write %s\n", path.c_str());
    std::abort();
  }
  return path;
}

// Ends the run with `what` on stderr: a finding.
[[noreturn]] inline void finding(const std::string& what) {
  std::fprintf(stderr, "seqlab fuzz: FINDING: %s\n", what.c_str());
  std::abort();
}

// Runs fn(). A UserError with a one-line, non-empty message is an accepted outcome; any other
// exception propagates (std::terminate: a finding), and so does a malformed message.
template <class Fn>
void refused_or_accepted(Fn&& fn) {
  try {
    fn();
  } catch (const UserError& e) {
    const std::string_view message = e.what();
    if (message.empty()) finding("UserError with an empty message");
    if (message.find('\n') != std::string_view::npos || message.find('\r') != std::string_view::npos)
      finding("UserError message is not one line: " + std::string(message));
  }
}

// A trained model stores its alphabet as HDF5 strings (C strings), so every symbol a reader
// puts in an alphabet must be non-empty and free of NUL bytes, or the model cannot be read back.
inline void check_storable(const Alphabet& alphabet) {
  for (const std::string& symbol : alphabet.symbols())
    if (symbol.empty() || symbol.find('\0') != std::string::npos)
      finding("alphabet symbol a model file cannot store: '" + printable(symbol) + "'");
}

// The first byte of an input chooses options (so one corpus explores them); the rest is the file.
struct Input {
  std::uint8_t selector = 0;
  const std::uint8_t* data = nullptr;
  std::size_t size = 0;
};
inline Input split_selector(const std::uint8_t* data, std::size_t size) {
  if (size == 0) return {0, data, 0};
  return {data[0], data + 1, size - 1};
}

}  // namespace seqlab::fuzz
