// seqlab/core/atomic_file.hpp: write a file so that readers see either the old or the new
// content, never a half-written one (temp file in the same directory + fsync + rename).
#pragma once

#include <filesystem>
#include <functional>
#include <string>

namespace seqlab {

// Requires: the parent directory of `target` exists (else UserError naming it); `write` creates
//   and fills the file at the path it is given (it may use any library, e.g. HDF5).
// Ensures: on success `target` holds what `write` wrote (atomic rename over any old file); if
//   `write` throws (or the process dies), `target` is untouched and the temp file is removed
//   (or, after a crash, left as "<target>.tmp.<pid>", never under the final name).
void write_atomically(const std::filesystem::path& target,
                      const std::function<void(const std::filesystem::path& temp)>& write);

// Convenience: write `content` atomically to `target`.
void write_text_atomically(const std::filesystem::path& target, const std::string& content);

// Requires nothing. Ensures: the parent directory of `target` exists and is a directory, else a
// UserError "<target>: output directory <dir> does not exist".
void require_output_directory(const std::filesystem::path& target);

}  // namespace seqlab
