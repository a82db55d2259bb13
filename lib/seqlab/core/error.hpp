// seqlab/core/error.hpp: the two kinds of failure seqlab reports, and how they are worded.
//
// A UserError is the user's to fix (a missing file, a malformed config, a symbol outside an
// alphabet). Its message is ONE line that names where (file, line/column or key) and what was
// expected. The CLI prints it as "seqlab: error: <message>" and exits 1. Anything else that
// escapes (std::exception) is a bug in seqlab: the CLI exits 2 -- except an Interrupted, which
// is neither: a long computation stopped because it was asked to (a signal), having saved what
// is needed to continue.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <stdexcept>
#include <string>
#include <utility>

namespace seqlab {

class UserError : public std::runtime_error {
public:
  using std::runtime_error::runtime_error;
};

// Thrown by a computation that was asked to stop (FitOptions::stop) and did so cleanly. Not a
// UserError on purpose: nothing is wrong with the input, and the places that catch UserErrors to
// reword them as bad input must let it pass. The message is one line ("lstm: training stopped at
// epoch 3, update 1,234; checkpoint in run.ckpt"); checkpoint() names the file holding the state
// to continue from, empty when none was written. The CLI prints one line and exits 128 + the
// signal's number (130 for SIGINT, 143 for SIGTERM).
class Interrupted : public std::runtime_error {
public:
  Interrupted(const std::string& message, std::filesystem::path checkpoint)
      : std::runtime_error(message), checkpoint_(std::move(checkpoint)) {}
  const std::filesystem::path& checkpoint() const { return checkpoint_; }

private:
  std::filesystem::path checkpoint_;
};

// "FILE" or "FILE:LINE" or "FILE:LINE:COLUMN" (line and column are 1-based; 0 means omitted).
std::string location(const std::filesystem::path& file, std::size_t line = 0,
                     std::size_t column = 0);

// Throws UserError("<location>: <what>"). Use for input that does not parse.
[[noreturn]] void input_error(const std::filesystem::path& file, std::size_t line,
                              std::size_t column, const std::string& what);
[[noreturn]] void input_error(const std::filesystem::path& file, const std::string& what);

// Throws UserError(what). Use for bad options and arguments (name the option in `what`).
[[noreturn]] void user_error(const std::string& what);

// Requires: a path the caller is about to read.
// Ensures: it exists and is a regular file (not a directory), else throws a UserError naming it
// and what it is instead. `role` words the message, e.g. "model file" or "data file".
void require_readable_file(const std::filesystem::path& file, const std::string& role);

// A short printable rendering of a byte string for messages: non-printable bytes as \xNN,
// cut to `max_chars` with "..." appended.
std::string printable(const std::string& bytes, std::size_t max_chars = 40);

// A count with thousands separators ("1,234,567"): how every message and report prints counts.
std::string with_commas(std::uint64_t n);

// A duration for progress lines: "12.3s", "1m05s", "2h03m"; "?" when negative or not finite.
std::string duration_text(double seconds);

}  // namespace seqlab
