// seqlab/data/fetch.cpp: downloads with libcurl, hashed while they are written.
#include "seqlab/data/fetch.hpp"

#include <curl/curl.h>

#include <cstdio>
#include <memory>
#include <mutex>
#include <stdexcept>

#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/data/sha256.hpp"

namespace seqlab {

namespace {

// curl_global_init is not thread-safe; do it once, the first time anything is downloaded.
void init_curl_once() {
  static std::once_flag flag;
  std::call_once(flag, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
      throw std::runtime_error("libcurl: global initialisation failed");
  });
}

struct Sink {
  std::FILE* file = nullptr;
  Sha256 hash;
  std::uint64_t bytes = 0;
  bool write_failed = false;
};

std::size_t write_chunk(char* data, std::size_t size, std::size_t count, void* user) {
  auto* sink = static_cast<Sink*>(user);
  const std::size_t n = size * count;
  if (std::fwrite(data, 1, n, sink->file) != n) {
    sink->write_failed = true;
    return 0;  // tells libcurl to abort the transfer
  }
  sink->hash.update(data, n);
  sink->bytes += n;
  return n;
}

struct CurlDeleter {
  void operator()(CURL* c) const { curl_easy_cleanup(c); }
};
struct FileCloser {
  void operator()(std::FILE* f) const { std::fclose(f); }
};

}  // namespace

void download_verified(const std::string& url, const std::filesystem::path& target,
                       const std::string& expected_sha256, const DownloadLimits& limits) {
  if (!is_sha256_hex(expected_sha256))
    user_error(target.string() + ": expected sha256 '" + printable(expected_sha256) +
               "' is not 64 lower-case hex characters");
  init_curl_once();
  write_atomically(target, [&](const std::filesystem::path& temp) {
    std::unique_ptr<CURL, CurlDeleter> curl(curl_easy_init());
    if (!curl) throw std::runtime_error("libcurl: cannot create a transfer handle");
    std::unique_ptr<std::FILE, FileCloser> file(std::fopen(temp.c_str(), "wb"));
    if (!file) input_error(temp, "cannot be created for writing");
    Sink sink;
    sink.file = file.get();
    char error_text[CURL_ERROR_SIZE] = {0};
    CURL* c = curl.get();
    curl_easy_setopt(c, CURLOPT_URL, url.c_str());
    curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "https,http,file");
    curl_easy_setopt(c, CURLOPT_REDIR_PROTOCOLS_STR, "https,http");
    curl_easy_setopt(c, CURLOPT_FOLLOWLOCATION, 1L);
    curl_easy_setopt(c, CURLOPT_MAXREDIRS, static_cast<long>(limits.max_redirects));
    curl_easy_setopt(c, CURLOPT_FAILONERROR, 1L);
    curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, limits.connect_timeout_seconds);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_LIMIT, limits.low_speed_bytes);
    curl_easy_setopt(c, CURLOPT_LOW_SPEED_TIME, limits.low_speed_seconds);
    curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
    curl_easy_setopt(c, CURLOPT_USERAGENT, "seqlab-datasets");
    curl_easy_setopt(c, CURLOPT_ERRORBUFFER, error_text);
    curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, write_chunk);
    curl_easy_setopt(c, CURLOPT_WRITEDATA, &sink);
    const CURLcode rc = curl_easy_perform(c);
    if (sink.write_failed) input_error(temp, "write failed while downloading (disk full?)");
    if (rc != CURLE_OK) {
      const std::string why = error_text[0] ? error_text : curl_easy_strerror(rc);
      user_error("download of " + url + " failed: " + why);
    }
    if (std::fflush(file.get()) != 0) input_error(target, "cannot write: the download could not be flushed (disk full?)");
    if (std::fclose(file.release()) != 0) input_error(target, "cannot write: the download could not be closed (disk full?)");
    const std::string got = sink.hash.finish();
    if (got != expected_sha256)
      user_error(url + ": downloaded " + std::to_string(sink.bytes) +
                 " bytes with sha256 " + got + ", expected " + expected_sha256 +
                 " (the server's copy differs from the registry; nothing was kept)");
  });
}

}  // namespace seqlab
