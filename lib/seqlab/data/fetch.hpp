// seqlab/data/fetch.hpp: download one file and keep it only if its sha256 is the expected one.
//
// The download goes to a temp file beside the target and is renamed over it only after the
// digest matched, so a failed or corrupted download never replaces a good file and never leaves
// a partial file under the final name. Supported URL schemes: https, http and file (the last is
// what the tests use; no network is needed for them).
#pragma once

#include <cstdint>
#include <filesystem>
#include <string>

namespace seqlab {

struct DownloadLimits {
  long connect_timeout_seconds = 30;
  // Abort when fewer than `low_speed_bytes` per second arrive for `low_speed_seconds` seconds
  // (a stalled server), rather than capping the total time of a large download.
  long low_speed_bytes = 1;
  long low_speed_seconds = 60;
  int max_redirects = 10;
};

// Requires: the parent directory of `target` exists (else UserError naming it); `expected_sha256`
//   is 64 lower-case hex characters.
// Ensures: on success `target` holds the bytes served at `url` and their sha256 equals
//   `expected_sha256` (atomic rename over any previous file). On any failure (network, HTTP
//   status >= 400, timeout, digest mismatch) throws UserError naming the URL or the target and the
//   cause; the temp file is removed and a previous `target` is left untouched.
// Cost: one transfer plus one pass of SHA-256 over the data (hashed while it arrives).
void download_verified(const std::string& url, const std::filesystem::path& target,
                       const std::string& expected_sha256,
                       const DownloadLimits& limits = DownloadLimits{});

}  // namespace seqlab
