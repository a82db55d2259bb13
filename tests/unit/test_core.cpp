// tests/unit/test_core.cpp: core helpers: errors, atomic writes, RNG, log-space maths.
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>

#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"
#include "seqlab/core/memory.hpp"
#include "seqlab/core/one_line.hpp"
#include "seqlab/core/parallel.hpp"
#include "seqlab/core/rng.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

TEST_CASE("error messages name the file, line and column", "[core]") {
  CHECK(location("a.txt") == "a.txt");
  CHECK(location("a.txt", 3) == "a.txt:3");
  CHECK(location("a.txt", 3, 7) == "a.txt:3:7");
  CHECK_THROWS_WITH(input_error("x.csv", 2, 5, "expected a number"), "x.csv:2:5: expected a number");
  CHECK(printable("a\nb\x01") == "a\\nb\\x01");
}

TEST_CASE("error messages are one line, whatever input they quote", "[core]") {
  CHECK(one_line("plain\ttext") == "plain\ttext");
  CHECK(one_line(std::string("a\nb\r\x01\x7f\0z", 8)) == "a\\nb\\r\\x01\\x7F\\x00z");
  CHECK(one_line("caf\xC3\xA9") == "caf\xC3\xA9");  // UTF-8 is kept
  CHECK_THROWS_WITH(input_error("x.toml", 2, 1, "saw 'f\n'"), "x.toml:2:1: saw 'f\\n'");
  CHECK_THROWS_WITH(user_error("key 'a\r\nb'"), "key 'a\\r\\nb'");
}

TEST_CASE("require_readable_file tells missing, directory and file apart", "[core]") {
  test::ScratchDir dir;
  CHECK_THROWS_WITH(require_readable_file(dir / "nope.txt", "data file"),
                    Catch::Contains("nope.txt") && Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(require_readable_file(dir.path(), "data file"),
                    Catch::Contains("is a directory, expected a data file"));
  test::write_file(dir / "ok.txt", "x");
  CHECK_NOTHROW(require_readable_file(dir / "ok.txt", "data file"));
}

TEST_CASE("write_atomically keeps the old file when the writer fails", "[core]") {
  test::ScratchDir dir;
  const auto target = dir / "out.txt";
  write_text_atomically(target, "good");
  SECTION("a throwing writer leaves the previous content and no temp file") {
    CHECK_THROWS(write_atomically(target, [](const std::filesystem::path& tmp) {
      std::ofstream(tmp) << "half";
      throw std::runtime_error("interrupted");
    }));
    CHECK(test::read_file(target) == "good");
    int files = 0;
    for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++files;
    CHECK(files == 1);
  }
  SECTION("a missing output directory is a user error naming it") {
    CHECK_THROWS_AS(write_text_atomically(dir / "missing" / "x.txt", "x"), UserError);
    CHECK_THROWS_WITH(write_text_atomically(dir / "missing" / "x.txt", "x"),
                      Catch::Contains("output directory") && Catch::Contains("does not exist"));
  }
  SECTION("success replaces the content") {
    write_text_atomically(target, "better");
    CHECK(test::read_file(target) == "better");
  }
}

TEST_CASE("require_output_path accepts a new path or a regular file and nothing else", "[core]") {
  test::ScratchDir dir;
  namespace fs = std::filesystem;
  test::write_file(dir / "old.txt", "x");
  CHECK_NOTHROW(require_output_path(dir / "new.txt"));
  CHECK_NOTHROW(require_output_path(dir / "old.txt"));
  CHECK_THROWS_WITH(require_output_path(""), Catch::Contains("the output path is empty"));
  CHECK_THROWS_WITH(require_output_path((dir / "new.txt").string() + "/"),
                    Catch::Contains("ends in '/'"));
  CHECK_THROWS_WITH(require_output_path(dir.path()), Catch::Contains("is a directory"));
  CHECK_THROWS_WITH(require_output_path(dir / "missing" / "x.txt"),
                    Catch::Contains("output directory") && Catch::Contains("does not exist"));
  CHECK_THROWS_WITH(require_output_path(dir / "old.txt" / "x.txt"),
                    Catch::Contains("is not a directory"));
  REQUIRE(::mkfifo((dir / "fifo").c_str(), 0600) == 0);
  CHECK_THROWS_WITH(require_output_path(dir / "fifo"),
                    Catch::Contains("fifo: is a FIFO (named pipe), expected a regular file"));
  fs::create_symlink("old.txt", dir / "link.txt");
  fs::create_symlink("nowhere.txt", dir / "dangling.txt");
  CHECK_THROWS_WITH(require_output_path(dir / "link.txt"), Catch::Contains("is a symbolic link"));
  CHECK_THROWS_WITH(require_output_path(dir / "dangling.txt"),
                    Catch::Contains("is a symbolic link"));
  CHECK_THROWS_WITH(write_text_atomically(dir / "link.txt", "y"),
                    Catch::Contains("is a symbolic link"));
  CHECK(fs::is_symlink(dir / "link.txt"));
  CHECK(test::read_file(dir / "old.txt") == "x");
  CHECK_THROWS_WITH(require_output_path("/dev/null"),
                    Catch::Contains("/dev/null: is a character device"));
  // An output that is one of the inputs, however it is spelled.
  const auto again = dir.path() / ".." / dir.path().filename() / "old.txt";
  CHECK_THROWS_WITH(require_distinct_output(again, "--out", {{"--data", dir / "old.txt"}}),
                    Catch::Contains("--out names the same file as --data"));
  CHECK_NOTHROW(require_distinct_output(dir / "new.txt", "--out", {{"--data", dir / "old.txt"}}));
  CHECK_NOTHROW(require_distinct_output(dir / "old.txt", "--out", {{"--data", "casino"}}));
}

TEST_CASE("a write that fails keeps the old file, removes the temp and says why", "[core]") {
  // A file-size limit makes write(2) fail with EFBIG once SIGXFSZ is ignored: the same path
  // through the writer as a full disk, without needing one. Run in a child: limits are per
  // process.
  test::ScratchDir dir;
  const auto target = dir / "out.txt";
  write_text_atomically(target, "good");
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::signal(SIGXFSZ, SIG_IGN);
    const struct rlimit rl{4096, 4096};
    if (::setrlimit(RLIMIT_FSIZE, &rl) != 0) ::_exit(3);
    int code = 4;
    try {
      write_text_atomically(target, std::string(100000, 'x'));
    } catch (const UserError& e) {
      const std::string m = e.what();
      code = m == target.string() + ": cannot write: File too large (an existing file there is "
                                    "left unchanged)" ? 0 : 5;
      if (code) std::fprintf(stderr, "message: %s\n", m.c_str());
    }
    ::_exit(code);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  INFO("wait status " << status);
  REQUIRE(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
  CHECK(test::read_file(target) == "good");
  int files = 0;
  for (auto& e : std::filesystem::directory_iterator(dir.path())) (void)e, ++files;
  CHECK(files == 1);
}

TEST_CASE("temp files of dead processes are removed when their target is written", "[core]") {
  test::ScratchDir dir;
  const auto target = dir / "m.h5";
  // A pid that has just exited (a child reaped here), one alive (this process's parent).
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) ::_exit(0);
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  const std::string dead = std::to_string(child), alive = std::to_string(::getppid());
  test::write_file(dir / ("m.h5.tmp." + dead), "stale");
  test::write_file(dir / ("m.h5.tmp." + alive), "in progress");
  test::write_file(dir / ("other.h5.tmp." + dead), "another target");
  test::write_file(dir / "m.h5.tmp.notapid", "not ours");
  write_text_atomically(target, "new");
  namespace fs = std::filesystem;
  CHECK_FALSE(fs::exists(dir / ("m.h5.tmp." + dead)));
  CHECK(fs::exists(dir / ("m.h5.tmp." + alive)));
  CHECK(fs::exists(dir / ("other.h5.tmp." + dead)));
  CHECK(fs::exists(dir / "m.h5.tmp.notapid"));
  CHECK(test::read_file(target) == "new");
  CHECK(remove_stale_temp_files(target) == 0);

  SECTION("a zombie (exited, not reaped: a killed worker whose reaper is slow) is dead") {
    const pid_t zombie = ::fork();
    REQUIRE(zombie >= 0);
    if (zombie == 0) ::_exit(0);
    // Not reaped yet: wait until it has exited (waitid with WNOWAIT leaves it a zombie).
    siginfo_t info{};
    REQUIRE(::waitid(P_PID, static_cast<id_t>(zombie), &info, WEXITED | WNOWAIT) == 0);
    REQUIRE(::kill(zombie, 0) == 0);  // a zombie still answers kill(pid, 0)
    test::write_file(dir / ("m.h5.tmp." + std::to_string(zombie)), "left by a killed worker");
    CHECK(remove_stale_temp_files(target) == 1);
    CHECK_FALSE(fs::exists(dir / ("m.h5.tmp." + std::to_string(zombie))));
    CHECK(fs::exists(dir / ("m.h5.tmp." + alive)));
    REQUIRE(::waitpid(zombie, &status, 0) == zombie);
  }
}

TEST_CASE("the RNG stream is a pure function of the seed", "[core]") {
  Rng a = make_rng(42), b = make_rng(42), c = make_rng(43);
  for (int i = 0; i < 100; ++i) {
    const double x = uniform01(a);
    CHECK(x == uniform01(b));
    CHECK(x >= 0.0);
    CHECK(x < 1.0);
  }
  CHECK(uniform01(a) != uniform01(c));
  CHECK(derive_seed(1, 0) != derive_seed(1, 1));
  CHECK(derive_seed(7, 3) == derive_seed(7, 3));
}

TEST_CASE("sample_categorical follows the weights", "[core]") {
  Rng rng = make_rng(5);
  const arma::vec p = {0.1, 0.0, 0.6, 0.3};
  arma::vec counts(4, arma::fill::zeros);
  const int n = 200000;
  for (int i = 0; i < n; ++i) counts(sample_categorical(p, rng)) += 1;
  CHECK(counts(1) == 0);
  // Binomial standard error at n=2e5 is about 0.0011; 5 sigma.
  for (arma::uword i = 0; i < 4; ++i) CHECK_THAT(counts(i) / n, WithinAbs(p(i), 0.0055));
  CHECK_THROWS(sample_categorical(arma::vec{0.0, 0.0}, rng));
}

TEST_CASE("random_permutation is a permutation", "[core]") {
  Rng rng = make_rng(9);
  const arma::uvec perm = random_permutation(50, rng);
  CHECK(arma::all(arma::sort(perm) == arma::regspace<arma::uvec>(0, 49)));
  CHECK(random_permutation(0, rng).n_elem == 0);
}

TEST_CASE("standard_normal has mean 0 and variance 1", "[core]") {
  Rng rng = make_rng(11);
  arma::vec x(100000);
  for (auto& v : x) v = standard_normal(rng);
  CHECK_THAT(arma::mean(x), WithinAbs(0.0, 0.02));      // se 0.0032
  CHECK_THAT(arma::var(x), WithinAbs(1.0, 0.03));       // se 0.0045
}

TEST_CASE("log-space helpers are exact at the edges", "[core]") {
  CHECK(log_add_exp(kNegInf, kNegInf) == kNegInf);
  CHECK(log_add_exp(kNegInf, 2.0) == 2.0);
  CHECK_THAT(log_add_exp(std::log(0.25), std::log(0.5)), WithinRel(std::log(0.75), 1e-15));
  CHECK_THAT(log_add_exp(1000.0, 1000.0), WithinRel(1000.0 + std::log(2.0), 1e-15));
  const std::vector<double> v = {-1000.0, -1000.0, -1000.0};
  CHECK_THAT(log_sum_exp(v.begin(), v.end()), WithinRel(-1000.0 + std::log(3.0), 1e-15));
  CHECK_THAT(nats_to_bits(std::log(8.0)), WithinRel(3.0, 1e-15));
}

TEST_CASE("run_units runs every unit once, also when the system refuses threads", "[core]") {
  std::vector<int> runs(300, 0);
  run_units(runs.size(), 4, [&](std::size_t unit, unsigned worker) {
    REQUIRE(worker < 4);
    ++runs[unit];  // each unit is taken by one worker only
  });
  CHECK(std::count(runs.begin(), runs.end(), 1) == 300);
#if defined(__SANITIZE_ADDRESS__)
  WARN("thread refusal not tested under AddressSanitizer (it needs a small address-space limit)");
#else
  // In a child whose address space has room for about two more 8 MiB thread stacks, 64 threads
  // are asked for: the rest must be refused, and the work still done (not std::terminate).
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {
    std::ifstream status("/proc/self/status");
    std::uint64_t size_kib = 0;
    for (std::string key; status >> key;)
      if (key == "VmSize:") {
        status >> size_kib;
        break;
      }
    const rlim_t limit = (size_kib + 20 * 1024) * 1024;
    const struct rlimit rl{limit, limit};
    if (size_kib == 0 || ::setrlimit(RLIMIT_AS, &rl) != 0) ::_exit(3);
    std::vector<int> child_runs(200, 0);
    run_units(child_runs.size(), 64, [&](std::size_t unit, unsigned) { ++child_runs[unit]; });
    ::_exit(std::count(child_runs.begin(), child_runs.end(), 1) == 200 ? 0 : 1);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  INFO("wait status " << status);
  CHECK(WIFEXITED(status));
  CHECK(WEXITSTATUS(status) == 0);
#endif
}

TEST_CASE("memory checks: byte formatting, the limit's sources, refusal before allocation",
          "[core]") {
  CHECK(format_bytes(812) == "812 B");
  CHECK(format_bytes(1536) == "1.5 KiB");
  CHECK(format_bytes(74.5L * 1024 * 1024 * 1024) == "74.5 GiB");
  CHECK(format_bytes(4e17L) == "355.3 PiB");
  CHECK(format_bytes(4e20L) == "4.0e+20 bytes");
  const char* old = std::getenv("SEQLAB_MEMORY_LIMIT");
  const std::string saved = old ? old : "";
  SECTION("SEQLAB_MEMORY_LIMIT lowers the limit and is named in the refusal") {
    ::setenv("SEQLAB_MEMORY_LIMIT", "3M", 1);
    CHECK(memory_limit_bytes() == 3u * 1024 * 1024);
    CHECK_NOTHROW(require_memory(3.0L * 1024 * 1024, "exactly the limit"));
    CHECK_THROWS_WITH(require_memory(3.0L * 1024 * 1024 + 1, "a model"),
                      "a model needs at least 3.0 MiB of memory, more than the 3.0 MiB available "
                      "(SEQLAB_MEMORY_LIMIT)");
    ::setenv("SEQLAB_MEMORY_LIMIT", "4096", 1);
    CHECK(memory_limit_bytes() == 4096);
  }
  SECTION("a malformed SEQLAB_MEMORY_LIMIT is a user error naming it") {
    for (const char* bad : {"lots", "-5", "0", "5X", "3MB", "99999999999999999999T"}) {
      ::setenv("SEQLAB_MEMORY_LIMIT", bad, 1);
      CAPTURE(bad);
      CHECK_THROWS_WITH(memory_limit_bytes(), Catch::StartsWith("SEQLAB_MEMORY_LIMIT: expected"));
    }
  }
  SECTION("without it, the machine's memory bounds the estimate") {
    ::unsetenv("SEQLAB_MEMORY_LIMIT");
    CHECK(memory_limit_bytes() > 0);
    CHECK_THROWS_WITH(require_memory(1e30L, "x"), Catch::Contains("of memory, more than the"));
  }
  if (old) ::setenv("SEQLAB_MEMORY_LIMIT", saved.c_str(), 1); else ::unsetenv("SEQLAB_MEMORY_LIMIT");
}
