// seqlab/core/atomic_file.hpp: write a file so that readers see either the old or the new
// content, never a half-written one, and so that a failed write says so.
//
// How every seqlab output file is written (docs/formats.md, "Writing files safely"):
//   1. the output path is checked (require_output_path) before any long work, and again just
//      before the rename: a new path or an existing regular file, nothing else;
//   2. the bytes go to "<target>.tmp.<pid>" in the same directory, created exclusively, through
//      write(2) with every return value checked, then fsync(2) and close(2), both checked;
//   3. rename(2) replaces the target in one step, and the directory is fsync'ed;
//   4. on any failure the temp file is removed and a one-line UserError names the target and the
//      system's reason, e.g. "m.h5: cannot write: No space left on device (an existing file
//      there is left unchanged)".
// Temp files left by killed runs ("<target>.tmp.<pid>" of a process that no longer exists, or
// that is a zombie nobody reaped) are removed the next time that target is written.
//
// What it is not: a lock. Two processes writing the same target both succeed; the last rename
// wins, and each file seen under the target is complete.
#pragma once

#include <cstddef>
#include <filesystem>
#include <functional>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace seqlab {

// Requires nothing.
// Ensures: `target` is a path seqlab may write an output file to, else a UserError naming it and
// what is wrong: an empty path; a path ending in '/'; a missing, non-directory or unwritable
// parent directory; an existing directory, device node, FIFO or socket; a symbolic link, even a
// dangling one (seqlab never follows a symbolic link at an output path: rename(2) would replace
// the link itself, so give the real path). A new path and an existing regular file pass.
// Cost: a few system calls. Call it before any long work, so that a run fails in a second rather
// than after hours of training.
void require_output_path(const std::filesystem::path& target);

// The older name of require_output_path (same checks).
void require_output_directory(const std::filesystem::path& target);

// Requires: `option` names the output option in messages ("--out"); `inputs` pairs an option
// name with a path the same run reads (paths that do not exist, e.g. registry dataset names,
// are skipped).
// Ensures: `target` is not one of the existing input files (the same file by device and inode,
// so another spelling or a hard link is caught too), else a UserError
// "<target>: --out names the same file as --model (the output would replace the input)".
void require_distinct_output(const std::filesystem::path& target, const std::string& option,
                             const std::vector<std::pair<std::string, std::filesystem::path>>& inputs);

// Requires: `target` passes require_output_path.
// Ensures: `target` holds exactly `size` bytes from `data`, replaced in one rename; on failure
// (a full disk, a file-size limit, an I/O error) a UserError naming `target` and the reason,
// `target` untouched and no temp file left. Stale temp files of dead processes next to `target`
// are removed first.
void write_bytes_atomically(const std::filesystem::path& target, const void* data,
                            std::size_t size);

// Convenience: write `content` atomically to `target` (as write_bytes_atomically).
void write_text_atomically(const std::filesystem::path& target, std::string_view content);

// For writers that need a path (a library that opens the file itself, e.g. a download).
// Requires: `target` passes require_output_path; `write` creates and fills the file at the path it
//   is given and throws when anything fails (it must check its own writes and close).
// Ensures: as write_bytes_atomically; after `write` returns, the temp file is fsync'ed (which
//   reports write-back errors) before the rename. If `write` throws (or the process dies),
//   `target` is untouched; the temp file is removed (or, after a crash, left as
//   "<target>.tmp.<pid>" and removed by the next write of `target`).
void write_atomically(const std::filesystem::path& target,
                      const std::function<void(const std::filesystem::path& temp)>& write);

// The temp name this process uses for `target`: "<target>.tmp.<pid>".
std::filesystem::path temp_path_for(const std::filesystem::path& target);

// Requires nothing. Ensures: every "<target>.tmp.<pid>" next to `target` whose pid is not a live
// process (and is not this one) has been removed; returns how many were. Errors are ignored
// (a temp file that cannot be removed is left). A pid in another PID namespace (a container
// sharing the directory) looks dead: its temp file is removed and that writer's rename fails
// with an error, never with a damaged file.
std::size_t remove_stale_temp_files(const std::filesystem::path& target);

}  // namespace seqlab
