// seqlab/core/atomic_file.cpp: temp-file-and-rename writes.
#include "seqlab/core/atomic_file.hpp"

#include <fcntl.h>
#include <unistd.h>

#include <cstdio>
#include <fstream>
#include <system_error>

#include "seqlab/core/error.hpp"

namespace seqlab {
namespace fs = std::filesystem;

void require_output_directory(const fs::path& target) {
  fs::path dir = target.parent_path();
  if (dir.empty()) dir = ".";
  std::error_code ec;
  if (!fs::is_directory(dir, ec))
    input_error(target, "output directory '" + dir.string() + "' does not exist");
  if (fs::is_directory(target, ec)) input_error(target, "is a directory, expected a file path");
}

namespace {
void fsync_path(const fs::path& p) {
  int fd = ::open(p.c_str(), O_RDONLY);
  if (fd >= 0) {
    ::fsync(fd);
    ::close(fd);
  }
}
}  // namespace

void write_atomically(const fs::path& target,
                      const std::function<void(const fs::path& temp)>& write) {
  require_output_directory(target);
  const fs::path temp = target.string() + ".tmp." + std::to_string(::getpid());
  std::error_code ec;
  fs::remove(temp, ec);
  try {
    write(temp);
    fsync_path(temp);
    fs::rename(temp, target);
  } catch (...) {
    fs::remove(temp, ec);
    throw;
  }
  fs::path dir = target.parent_path();
  fsync_path(dir.empty() ? fs::path(".") : dir);
}

void write_text_atomically(const fs::path& target, const std::string& content) {
  write_atomically(target, [&](const fs::path& temp) {
    std::ofstream out(temp, std::ios::binary);
    if (!out) input_error(temp, "cannot be created for writing");
    out.write(content.data(), static_cast<std::streamsize>(content.size()));
    out.flush();
    if (!out) input_error(temp, "write failed (disk full?)");
  });
}

}  // namespace seqlab
