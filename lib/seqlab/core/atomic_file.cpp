// seqlab/core/atomic_file.cpp: checked temp-file-and-rename writes (see atomic_file.hpp).
#include "seqlab/core/atomic_file.hpp"

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <cerrno>
#include <climits>
#include <cstring>
#include <fstream>
#include <string>
#include <system_error>

#include "seqlab/core/error.hpp"

namespace seqlab {
namespace fs = std::filesystem;

namespace {

std::string reason(int error) { return std::strerror(error); }

fs::path directory_of(const fs::path& target) {
  const fs::path dir = target.parent_path();
  return dir.empty() ? fs::path(".") : dir;
}

// What a non-regular file system object is, for messages.
std::string kind_of(mode_t mode) {
  if (S_ISDIR(mode)) return "a directory";
  if (S_ISLNK(mode)) return "a symbolic link";
  if (S_ISCHR(mode)) return "a character device";
  if (S_ISBLK(mode)) return "a block device";
  if (S_ISFIFO(mode)) return "a FIFO (named pipe)";
  if (S_ISSOCK(mode)) return "a socket";
  return "not a regular file";
}

bool target_exists(const fs::path& target) {
  struct stat st {};
  return ::lstat(target.c_str(), &st) == 0;
}

// The one-line error of a failed write; `target` is untouched when this is called.
[[noreturn]] void write_failed(const fs::path& target, const std::string& why) {
  input_error(target, "cannot write: " + why +
                          (target_exists(target) ? " (an existing file there is left unchanged)"
                                                 : " (no file was written)"));
}

// fsync(2) of an open descriptor. File systems that cannot sync (EINVAL, ENOTSUP, ENOSYS) are
// not an error: there is nothing more to wait for.
int checked_fsync(int fd) {
  if (::fsync(fd) == 0) return 0;
  const int error = errno;
  return error == EINVAL || error == ENOTSUP || error == ENOSYS ? 0 : error;
}

// A temp file next to the target that is removed unless it was renamed into place.
class TempFile {
public:
  explicit TempFile(const fs::path& target) : target_(target), path_(temp_path_for(target)) {
    ::unlink(path_.c_str());  // a leftover of an earlier process that had our pid
  }
  TempFile(const TempFile&) = delete;
  TempFile& operator=(const TempFile&) = delete;
  ~TempFile() {
    if (fd_ >= 0) ::close(fd_);
    if (!renamed_) ::unlink(path_.c_str());
  }

  const fs::path& path() const { return path_; }

  // Creates the temp file exclusively (never through a link planted under its name).
  void create() {
    fd_ = ::open(path_.c_str(), O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0666);
    if (fd_ < 0) {
      const int error = errno;
      write_failed(target_, "cannot create the temp file '" + path_.filename().string() +
                                "': " + reason(error));
    }
  }

  // Opens a temp file that another library wrote, to sync it.
  void open_written() {
    fd_ = ::open(path_.c_str(), O_RDONLY | O_CLOEXEC | O_NOFOLLOW);
    if (fd_ < 0) {
      const int error = errno;
      write_failed(target_, "the temp file '" + path_.filename().string() +
                                "' cannot be reopened: " + reason(error));
    }
  }

  void write(const void* data, std::size_t size) {
    const char* p = static_cast<const char*>(data);
    while (size > 0) {
      const std::size_t chunk = std::min<std::size_t>(size, std::size_t{1} << 30);
      const ssize_t n = ::write(fd_, p, chunk);
      if (n < 0) {
        if (errno == EINTR) continue;
        write_failed(target_, reason(errno));
      }
      if (n == 0) write_failed(target_, "the system wrote nothing (no space left?)");
      p += n;
      size -= static_cast<std::size_t>(n);
    }
  }

  // fsync and close, both checked: a full disk or an I/O error may surface only here.
  void finish() {
    if (const int error = checked_fsync(fd_)) write_failed(target_, reason(error));
    const int fd = fd_;
    fd_ = -1;
    // Linux frees the descriptor even when close fails; EINTR after a successful fsync loses
    // nothing, any other error does.
    if (::close(fd) != 0 && errno != EINTR) write_failed(target_, reason(errno));
  }

  // The output path is checked again (something may have appeared there during a long run),
  // then the temp file replaces it and the directory entry is synced.
  void rename_into_place() {
    require_output_path(target_);
    if (::rename(path_.c_str(), target_.c_str()) != 0) write_failed(target_, reason(errno));
    renamed_ = true;
    const fs::path dir = directory_of(target_);
    // A directory this process cannot open (write and search permission only) cannot be
    // synced by it; the rename is done all the same.
    const int dfd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (dfd < 0) return;
    const int error = checked_fsync(dfd);
    ::close(dfd);
    if (error != 0)
      input_error(target_, "was written, but its directory could not be synced to disk (" +
                               reason(error) + "): the new file may not survive a crash");
  }

private:
  fs::path target_;
  fs::path path_;
  int fd_ = -1;
  bool renamed_ = false;
};

}  // namespace

void require_output_path(const fs::path& target) {
  const std::string name = target.string();
  if (name.empty()) user_error("the output path is empty, expected a file name");
  if (name.back() == '/') input_error(target, "ends in '/', expected a file name, not a directory");
  struct stat st {};
  if (::lstat(name.c_str(), &st) == 0) {
    if (S_ISLNK(st.st_mode))
      input_error(target, "is a symbolic link; seqlab never writes through a symbolic link at an "
                          "output path (give the path of the file itself)");
    if (S_ISDIR(st.st_mode)) input_error(target, "is a directory, expected a file path");
    if (!S_ISREG(st.st_mode))
      input_error(target, "is " + kind_of(st.st_mode) + ", expected a regular file or a new path");
  } else if (errno != ENOENT && errno != ENOTDIR) {
    input_error(target, "cannot be examined: " + reason(errno));
  }
  const fs::path dir = directory_of(target);
  struct stat dst {};
  if (::stat(dir.c_str(), &dst) != 0) {
    if (errno == ENOENT) input_error(target, "output directory '" + dir.string() + "' does not exist");
    if (errno == ENOTDIR)
      input_error(target, "output directory '" + dir.string() + "' is not a directory");
    input_error(target, "output directory '" + dir.string() + "' cannot be examined: " + reason(errno));
  }
  if (!S_ISDIR(dst.st_mode))
    input_error(target, "output directory '" + dir.string() + "' is not a directory");
  if (::access(dir.c_str(), W_OK | X_OK) != 0)
    input_error(target, "output directory '" + dir.string() + "' is not writable (" +
                            reason(errno) + ")");
}

void require_output_directory(const fs::path& target) { require_output_path(target); }

void require_distinct_output(const fs::path& target, const std::string& option,
                             const std::vector<std::pair<std::string, fs::path>>& inputs) {
  struct stat out {};
  if (target.empty() || ::stat(target.c_str(), &out) != 0) return;  // a new file
  for (const auto& [input_option, input] : inputs) {
    struct stat in {};
    if (input.empty() || ::stat(input.c_str(), &in) != 0) continue;
    if (in.st_dev == out.st_dev && in.st_ino == out.st_ino)
      input_error(target, option + " names the same file as " + input_option +
                              " (the output would replace the input)");
  }
}

fs::path temp_path_for(const fs::path& target) {
  return target.string() + ".tmp." + std::to_string(::getpid());
}

// A process that exists and has not exited. A zombie (exited, not yet reaped: where a container's
// first process does not reap orphans, a killed worker stays one) is dead for our purpose: it
// will never finish its temp file. Processes we may not signal count as alive (not ours to judge).
namespace {
bool process_running(long pid) {
  if (::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH) return false;
  std::ifstream stat("/proc/" + std::to_string(pid) + "/stat");
  std::string line;
  if (!std::getline(stat, line)) return true;
  // "pid (comm) state ...": comm may hold spaces and parentheses, the state follows the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos || close + 2 >= line.size()) return true;
  const char state = line[close + 2];
  return state != 'Z' && state != 'X';
}
}  // namespace

std::size_t remove_stale_temp_files(const fs::path& target) {
  const std::string prefix = target.filename().string() + ".tmp.";
  const fs::path dir = directory_of(target);
  std::error_code ec;
  fs::directory_iterator it(dir, fs::directory_options::skip_permission_denied, ec);
  if (ec) return 0;
  std::size_t removed = 0;
  for (; it != fs::directory_iterator(); it.increment(ec)) {
    if (ec) break;
    const std::string name = it->path().filename().string();
    if (name.size() <= prefix.size() || name.compare(0, prefix.size(), prefix) != 0) continue;
    const std::string digits = name.substr(prefix.size());
    if (digits.size() > 9 || !std::all_of(digits.begin(), digits.end(),
                                          [](char c) { return c >= '0' && c <= '9'; }))
      continue;
    const long pid = std::stol(digits);
    if (pid <= 0 || pid == static_cast<long>(::getpid())) continue;
    if (process_running(pid)) continue;
    struct stat st {};
    if (::lstat(it->path().c_str(), &st) != 0 || !S_ISREG(st.st_mode)) continue;
    if (::unlink(it->path().c_str()) == 0) ++removed;
  }
  return removed;
}

void write_bytes_atomically(const fs::path& target, const void* data, std::size_t size) {
  require_output_path(target);
  remove_stale_temp_files(target);
  TempFile temp(target);
  temp.create();
  temp.write(data, size);
  temp.finish();
  temp.rename_into_place();
}

void write_text_atomically(const fs::path& target, std::string_view content) {
  write_bytes_atomically(target, content.data(), content.size());
}

void write_atomically(const fs::path& target, const std::function<void(const fs::path& temp)>& write) {
  require_output_path(target);
  remove_stale_temp_files(target);
  TempFile temp(target);
  write(temp.path());
  temp.open_written();
  temp.finish();
  temp.rename_into_place();
}

}  // namespace seqlab
