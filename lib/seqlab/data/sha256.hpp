// seqlab/data/sha256.hpp: SHA-256 digests of byte strings and files, as lower-case hex.
//
// Every dataset file is checked against the digest in the registry each time it is loaded, so
// hashing streams over the file in fixed chunks (constant memory, ~300 MB/s with OpenSSL).
#pragma once

#include <filesystem>
#include <string>
#include <string_view>

namespace seqlab {

// Incremental SHA-256 (for data that arrives in pieces, e.g. a download).
// Requires: update() only before finish(); finish() at most once.
class Sha256 {
public:
  Sha256();
  ~Sha256();
  Sha256(const Sha256&) = delete;
  Sha256& operator=(const Sha256&) = delete;

  void update(const void* data, std::size_t size);
  void update(std::string_view bytes) { update(bytes.data(), bytes.size()); }
  // Ensures: the 64-character lower-case hex digest of everything passed to update().
  std::string finish();

private:
  void* context_;  // EVP_MD_CTX*, kept opaque so users of this header need no OpenSSL headers
  bool finished_ = false;
};

// Ensures: the lower-case hex SHA-256 of `bytes`. Cost: O(size).
std::string sha256_hex(std::string_view bytes);

// Requires: `file` is a readable regular file (else UserError naming it).
// Ensures: the lower-case hex SHA-256 of its content. Cost: O(size), memory O(1).
std::string sha256_file(const std::filesystem::path& file);

// True when `text` has the shape of a digest: exactly 64 lower-case hex characters.
bool is_sha256_hex(std::string_view text);

}  // namespace seqlab
