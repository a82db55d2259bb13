// tests/unit/test_registry.cpp: sha256, downloads (file:// URLs, no network), registry parsing,
// dataset lookup and open_dataset; with SEQLAB_DATA_PATH set, the real registry against the mirror.
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <optional>
#include <string>

#include "seqlab/core/error.hpp"
#include "seqlab/data/fetch.hpp"
#include "seqlab/data/registry.hpp"
#include "seqlab/data/sha256.hpp"
#include "test_support.hpp"

using namespace seqlab;
namespace fs = std::filesystem;

namespace {

// "abcabcab\nabca\n", the content of tests/fixtures/registry/mirror/tiny/tiny.txt.
const std::string kTinyText = "abcabcab\nabca\n";
const std::string kTinySha = "a0c1e31ee46ce6937526d46eb74b2f0352b2ca43e8fc88a155b6ebfbd2b901bf";

// Copies the fixture dataset folder into <dir>/tiny.
void make_tiny_mirror(const fs::path& dir) {
  fs::create_directories(dir / "tiny");
  fs::copy_file(test::fixture("registry/mirror/tiny/tiny.txt"), dir / "tiny" / "tiny.txt");
}

DataLocations tiny_locations(std::vector<fs::path> mirrors, fs::path cache = {}) {
  DataLocations loc;
  loc.registry = test::fixture("registry/tiny.toml");
  loc.mirrors = std::move(mirrors);
  loc.cache = std::move(cache);
  return loc;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no UserError thrown)";
}

// Sets an environment variable for one scope and restores the previous value.
class EnvGuard {
public:
  EnvGuard(const char* name, const char* value) : name_(name) {
    if (const char* old = std::getenv(name)) old_ = old;
    if (value) {
      ::setenv(name, value, 1);
    } else {
      ::unsetenv(name);
    }
  }
  ~EnvGuard() {
    if (old_) {
      ::setenv(name_, old_->c_str(), 1);
    } else {
      ::unsetenv(name_);
    }
  }
  EnvGuard(const EnvGuard&) = delete;
  EnvGuard& operator=(const EnvGuard&) = delete;

private:
  const char* name_;
  std::optional<std::string> old_;
};

std::size_t count_entries(const fs::path& dir) {
  std::size_t n = 0;
  for (const auto& e : fs::directory_iterator(dir)) (void)e, ++n;
  return n;
}

}  // namespace

TEST_CASE("sha256 matches the FIPS 180-2 vectors and sha256sum on a multi-chunk file",
          "[registry]") {
  CHECK(sha256_hex("") == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
  CHECK(sha256_hex("abc") == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
  CHECK(sha256_hex("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq") ==
        "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1");

  SECTION("a file over three 1 MiB chunks, byte i = (31 i + 7) mod 251") {
    test::ScratchDir dir;
    const std::size_t n = 3 * 1024 * 1024 + 123;
    std::string bytes(n, '\0');
    for (std::size_t i = 0; i < n; ++i) bytes[i] = static_cast<char>((i * 31 + 7) % 251);
    test::write_file(dir / "big.bin", bytes);
    // Computed with `sha256sum` on the same bytes.
    const std::string expected = "f375c3b921117fba5f6dba4abc3fee657247bb5c11ef3fd44aa7149f290c399b";
    CHECK(sha256_file(dir / "big.bin") == expected);
    Sha256 pieces;  // uneven pieces must give the same digest
    for (std::size_t at = 0; at < n; at += 100000) pieces.update(bytes.substr(at, 100000));
    CHECK(pieces.finish() == expected);
  }
  SECTION("a missing file is a user error naming it") {
    CHECK_THROWS_WITH(sha256_file("/nonexistent/x.txt"), Catch::Contains("x.txt"));
  }
  CHECK(is_sha256_hex(kTinySha));
  CHECK_FALSE(is_sha256_hex(kTinySha.substr(1)));
  CHECK_FALSE(is_sha256_hex("A0C1E31EE46CE6937526D46EB74B2F0352B2CA43E8FC88A155B6EBFBD2B901BF"));
}

TEST_CASE("registry parse errors name the file, the line and the key", "[registry]") {
  SECTION("unknown key") {
    const std::string msg = error_of([] { Registry::load(test::fixture("registry/unknown_key.toml")); });
    CHECK_THAT(msg, Catch::Contains("unknown_key.toml:5:") && Catch::Contains("'colour'") &&
                        Catch::Contains("dataset 'tiny'") && Catch::Contains("accepted keys") &&
                        Catch::Contains("description"));
  }
  SECTION("malformed TOML") {
    const std::string msg = error_of([] { Registry::load(test::fixture("registry/malformed.toml")); });
    CHECK_THAT(msg, Catch::Contains("malformed.toml:4") && Catch::Contains("malformed TOML"));
  }
  SECTION("a parser message quoting a line break stays one line (found by fuzzing)") {
    // toml++ quotes what it saw, here 'f' and the line break after it.
    const std::string msg = error_of([] { Registry::parse("[tiny]\ndescription = f\n", "r.toml"); });
    CHECK_THAT(msg, Catch::StartsWith("r.toml:2:") && Catch::Contains("malformed TOML"));
    CHECK(msg.find('\n') == std::string::npos);
    // A quoted key may hold any character; the message names it escaped.
    const std::string key = error_of([] { Registry::parse("[tiny]\n\"col\\nour\" = 1\n", "r.toml"); });
    CHECK_THAT(key, Catch::Contains("unknown key 'col\\nour'"));
  }
  SECTION("missing required key: the entry's header line") {
    const std::string msg = error_of([] { Registry::load(test::fixture("registry/missing_key.toml")); });
    CHECK_THAT(msg, Catch::Contains("missing_key.toml:3:") &&
                        Catch::Contains("missing required key 'kind'"));
  }
  SECTION("inline texts: each rule names its key") {
    const std::string head =
        "[d]\ndescription = \"x\"\nkind = \"symbols\"\nfolder = \"d\"\nreader = \"text\"\n"
        "licence = \"l\"\n";
    const std::string file =
        "[[d.files]]\nname = \"a.txt\"\nsplit = \"all\"\nbytes = 1\nsha256 = \"" + kTinySha +
        "\"\nderived = \"by hand\"\n";
    const std::string contiguous = "split = { method = \"contiguous\", train = 0.8, valid = 0.1 }\n";
    // Sanity: the pieces make a valid registry.
    CHECK(Registry::parse(head + contiguous + file, "r.toml").entries().size() == 1);
    CHECK_THAT(error_of([&] { Registry::parse(head + "split = { method = \"random\" }\n" + file, "r.toml"); }),
               Catch::Contains("r.toml:7:") && Catch::Contains("'method'") &&
                   Catch::Contains("contiguous, shuffle, given"));
    CHECK_THAT(error_of([&] { Registry::parse(head + "split = { method = \"given\" }\n" + file, "r.toml"); }),
               Catch::Contains("key 'split'") && Catch::Contains("train, valid or test"));
    CHECK_THAT(error_of([&] {
                 Registry::parse(head + contiguous + "[[d.files]]\nname = \"a.txt\"\nsplit = \"all\"\n"
                                 "bytes = 1\nsha256 = \"abc\"\nderived = \"x\"\n", "r.toml");
               }),
               Catch::Contains("r.toml:12:") && Catch::Contains("'sha256'") &&
                   Catch::Contains("64 lower-case hex"));
    CHECK_THAT(error_of([&] {
                 Registry::parse("[g]\ndescription = \"x\"\nkind = \"symbols\"\nseed = 1\n", "r.toml");
               }),
               Catch::Contains("r.toml:1:") && Catch::Contains("exactly one of the keys 'reader'"));
    CHECK_THAT(error_of([&] { Registry::parse(head + "split = { method = \"contiguous\", train = 0.8, valid = 0.3 }\n" + file, "r.toml"); }),
               Catch::Contains("'valid'") && Catch::Contains("exceed 1"));
  }
}

TEST_CASE("a registry lists entries in file order with their fields", "[registry]") {
  const Registry r = Registry::load(test::fixture("registry/tiny.toml"));
  REQUIRE(r.names() == std::vector<std::string>{"tiny", "coins"});
  const RegistryEntry& tiny = *r.find("tiny");
  CHECK(tiny.reader == "text");
  CHECK(tiny.folder == "tiny");
  CHECK(tiny.split.method == SplitRule::Method::contiguous);
  CHECK(tiny.split.train == 0.5);
  CHECK(tiny.split.valid == 0.25);
  REQUIRE(tiny.files.size() == 1);
  CHECK(tiny.files[0].bytes == 14);
  CHECK(tiny.files[0].sha256 == kTinySha);
  CHECK_FALSE(tiny.files[0].fetchable());
  CHECK(tiny.options.get_string("level", "") == "char");
  CHECK_THAT(tiny.options.context(), Catch::EndsWith("tiny.toml:9 [tiny]"));
  const RegistryEntry& coins = *r.find("coins");
  CHECK(coins.synthetic());
  CHECK(coins.seed == 7);
  CHECK(coins.options.get_int("sequences", 0) == 3);
  CHECK(r.find("nope") == nullptr);
}

TEST_CASE("edit distance and name suggestions", "[registry]") {
  CHECK(edit_distance("kitten", "sitting") == 3);
  CHECK(edit_distance("", "abc") == 3);
  CHECK(edit_distance("flaw", "lawn") == 2);
  CHECK(edit_distance("ptb", "ptb") == 0);
  const std::vector<std::string> names = {"tinyshakespeare", "ptb", "ptb_char", "digits"};
  CHECK(suggest_name("tinyshakspeare", names) == std::optional<std::string>("tinyshakespeare"));
  CHECK(suggest_name("ptb-char", names) == std::optional<std::string>("ptb_char"));
  CHECK(suggest_name("digit", names) == std::optional<std::string>("digits"));
  CHECK_FALSE(suggest_name("casino_royale", names).has_value());
}

TEST_CASE("data folders are looked up in SEQLAB_DATA_PATH order, then the cache", "[registry]") {
  test::ScratchDir a, b, cache;
  const Registry registry = Registry::load(test::fixture("registry/tiny.toml"));
  const RegistryEntry& tiny = *registry.find("tiny");
  SECTION("nothing anywhere") {
    CHECK_FALSE(locate(tiny, tiny_locations({a.path(), b.path()}, cache.path())).has_value());
  }
  SECTION("both mirrors hold it: the first wins") {
    make_tiny_mirror(a.path());
    make_tiny_mirror(b.path());
    CHECK(locate(tiny, tiny_locations({a.path(), b.path()})) == a.path() / "tiny");
    CHECK(locate(tiny, tiny_locations({b.path(), a.path()})) == b.path() / "tiny");
  }
  SECTION("an incomplete folder does not count") {
    fs::create_directories(a / "tiny");
    make_tiny_mirror(b.path());
    CHECK(locate(tiny, tiny_locations({a.path(), b.path()})) == b.path() / "tiny");
  }
  SECTION("the cache comes after every mirror") {
    make_tiny_mirror(cache.path());
    CHECK(locate(tiny, tiny_locations({a.path()}, cache.path())) == cache.path() / "tiny");
    make_tiny_mirror(a.path());
    CHECK(locate(tiny, tiny_locations({a.path()}, cache.path())) == a.path() / "tiny");
  }
}

TEST_CASE("DataLocations reads the environment in one place", "[registry]") {
  EnvGuard r("SEQLAB_REGISTRY", "/somewhere/registry.toml");
  EnvGuard p("SEQLAB_DATA_PATH", "/m1::/m2");
  SECTION("explicit cache dir") {
    EnvGuard c("SEQLAB_CACHE_DIR", "/cache");
    const DataLocations loc = DataLocations::from_environment();
    CHECK(loc.registry == "/somewhere/registry.toml");
    CHECK(loc.mirrors == std::vector<fs::path>{"/m1", "/m2"});
    CHECK(loc.cache == "/cache");
    CHECK(loc.search_dirs() == std::vector<fs::path>{"/m1", "/m2", "/cache"});
  }
  SECTION("XDG, then HOME") {
    EnvGuard c("SEQLAB_CACHE_DIR", nullptr);
    {
      EnvGuard x("XDG_CACHE_HOME", "/xdg");
      CHECK(DataLocations::from_environment().cache == "/xdg/seqlab/datasets");
    }
    EnvGuard x("XDG_CACHE_HOME", nullptr);
    EnvGuard h("HOME", "/home/someone");
    CHECK(DataLocations::from_environment().cache == "/home/someone/.cache/seqlab/datasets");
  }
}

TEST_CASE("open_dataset: registry names, plain paths, typos, missing and corrupted files",
          "[registry]") {
  test::ScratchDir mirror, cache;
  const DataLocations loc = tiny_locations({mirror.path()}, cache.path());
  SECTION("a registry name is verified, read and split by the entry's rule") {
    make_tiny_mirror(mirror.path());
    const SequenceDataset d = open_dataset("tiny", OpenOptions{}, loc);
    CHECK(d.name == "tiny");
    CHECK(d.kind == SequenceKind::symbols);
    CHECK(d.alphabet.size() == 4);  // '\n', a, b, c
    CHECK(d.all.total_steps() == 14);
    CHECK(d.train.total_steps() == 7);  // floor(0.5 * 14)
    CHECK(d.valid.total_steps() == 3);  // floor(0.75 * 14) - 7
    CHECK(d.test.total_steps() == 4);
  }
  SECTION("a synthetic entry needs no files") {
    const SequenceDataset d = open_dataset("coins", OpenOptions{}, loc);
    CHECK(d.kind == SequenceKind::symbols);
    CHECK(d.alphabet.size() == 6);
    CHECK(d.train.size() == 3);
    CHECK(d.train.total_steps() == 60);
  }
  SECTION("a synthetic entry read with a fixed alphabet gets that alphabet's indices") {
    // The casino's own alphabet is 1..6 in that order; the model's here is reversed and has one
    // more symbol. Every index must name the same face as before.
    const SequenceDataset own = open_dataset("coins", OpenOptions{}, loc);
    const Alphabet reversed({"x", "6", "5", "4", "3", "2", "1"});
    OpenOptions o;
    o.fixed_alphabet = &reversed;
    const SequenceDataset d = open_dataset("coins", o, loc);
    CHECK(d.alphabet == reversed);
    REQUIRE(d.train.size() == own.train.size());
    for (std::size_t i = 0; i < own.train.size(); ++i)
      for (arma::uword t = 0; t < own.train.symbols[i].n_elem; ++t)
        REQUIRE(reversed.symbol(d.train.symbols[i](t)) ==
                own.alphabet.symbol(own.train.symbols[i](t)));
    CHECK(d.test.total_steps() == own.test.total_steps());
  }
  SECTION("a synthetic entry with a symbol outside the fixed alphabet is refused, or mapped to unk") {
    const Alphabet letters({"a", "b", "<unk>"});
    OpenOptions o;
    o.fixed_alphabet = &letters;
    const std::string msg = error_of([&] { open_dataset("coins", o, loc); });
    CHECK_THAT(msg, Catch::StartsWith("dataset 'coins', split all, sequence 0, step 0: symbol '") &&
                        Catch::EndsWith("' is not in the model's alphabet (3 symbols)"));
    Alphabet with_unk = letters;
    with_unk.set_unknown("<unk>");
    o.fixed_alphabet = &with_unk;
    o.unknown = UnknownPolicy::map_to_unk;
    const SequenceDataset d = open_dataset("coins", o, loc);
    for (const arma::uvec& x : d.all.symbols) CHECK(arma::all(x == 2));
  }
  SECTION("a plain path uses the given split") {
    test::write_file(mirror / "plain.txt", "xyxyxyxyxy");
    OpenOptions o;
    o.split.train = 0.6;
    o.split.valid = 0.2;
    const SequenceDataset d = open_dataset((mirror / "plain.txt").string(), o, loc);
    CHECK(d.name == "plain.txt");
    CHECK(d.alphabet.size() == 2);
    CHECK(d.train.total_steps() == 6);
    CHECK(d.valid.total_steps() == 2);
    CHECK(d.test.total_steps() == 2);
  }
  SECTION("a typo gets a suggestion") {
    const std::string msg = error_of([&] { open_dataset("tiyn", OpenOptions{}, loc); });
    CHECK(msg == "unknown dataset 'tiyn' (did you mean 'tiny'? see 'seqlab datasets list'); "
                 "it is not a file either");
  }
  SECTION("a known dataset without files says where it looked and what to do") {
    const std::string msg = error_of([&] { open_dataset("tiny", OpenOptions{}, loc); });
    CHECK_THAT(msg, Catch::Contains((mirror.path() / "tiny").string()) &&
                        Catch::Contains((cache.path() / "tiny").string()) &&
                        Catch::Contains("seqlab datasets fetch tiny") &&
                        Catch::Contains("SEQLAB_DATA_PATH"));
    CHECK(msg.find('\n') == std::string::npos);
  }
  SECTION("a corrupted file is refused with both digests") {
    make_tiny_mirror(mirror.path());
    fs::permissions(mirror / "tiny/tiny.txt", fs::perms::owner_write, fs::perm_options::add);
    test::write_file(mirror / "tiny/tiny.txt", "abcabcab\nabcX\n");
    const std::string got = sha256_hex("abcabcab\nabcX\n");
    CHECK(error_of([&] { open_dataset("tiny", OpenOptions{}, loc); }) ==
          (mirror.path() / "tiny" / "tiny.txt").string() + ": sha256 mismatch (expected " +
              kTinySha + ", got " + got + "); re-fetch with 'seqlab datasets fetch tiny'");
    const Registry registry = Registry::load(loc.registry);
    const auto checks = verify_files(*registry.find("tiny"), mirror / "tiny");
    REQUIRE(checks.size() == 1);
    CHECK(checks[0].status == FileCheck::Status::mismatch);
    CHECK(checks[0].actual_sha256 == got);
  }
}

TEST_CASE("fetch downloads file:// URLs into the cache, verified and atomically", "[registry]") {
  test::ScratchDir source, cache, mirror;
  test::write_file(source / "tiny.txt", kTinyText);
  const std::string url = "file://" + (source.path() / "tiny.txt").string();
  auto registry_text = [&](const std::string& sha, const std::string& file_url) {
    return "[tiny]\ndescription = \"t\"\nkind = \"symbols\"\nfolder = \"tiny\"\nreader = \"text\"\n"
           "split = { method = \"contiguous\", train = 0.5, valid = 0.25 }\nlicence = \"l\"\n"
           "[[tiny.files]]\nname = \"tiny.txt\"\nsplit = \"all\"\nbytes = 14\nsha256 = \"" +
           sha + "\"\n" + file_url + "\n";
  };
  DataLocations loc;
  loc.mirrors = {mirror.path()};
  loc.cache = cache.path();
  const fs::path target = cache / "tiny/tiny.txt";

  SECTION("a good file lands in the cache; a second fetch skips it") {
    const Registry r = Registry::parse(registry_text(kTinySha, "url = \"" + url + "\""), "r.toml");
    auto results = fetch_dataset(*r.find("tiny"), loc);
    REQUIRE(results.size() == 1);
    CHECK(results[0].action == FetchResult::Action::downloaded);
    CHECK(results[0].path == target);
    CHECK(test::read_file(target) == kTinyText);
    CHECK(count_entries(cache / "tiny") == 1);
    results = fetch_dataset(*r.find("tiny"), loc);
    CHECK(results[0].action == FetchResult::Action::already_present);
    CHECK(locate(*r.find("tiny"), loc) == cache.path() / "tiny");
  }
  SECTION("a verified mirror copy makes fetching unnecessary") {
    make_tiny_mirror(mirror.path());
    const Registry r = Registry::parse(registry_text(kTinySha, "url = \"file:///nonexistent\""), "r.toml");
    const auto results = fetch_dataset(*r.find("tiny"), loc);
    REQUIRE(results.size() == 1);
    CHECK(results[0].action == FetchResult::Action::available_in_mirror);
    CHECK_FALSE(fs::exists(cache / "tiny"));
  }
  SECTION("a wrong sha256 is an error and leaves no file behind") {
    const std::string wrong(64, '0');
    const Registry r = Registry::parse(registry_text(wrong, "url = \"" + url + "\""), "r.toml");
    CHECK_THAT(error_of([&] { fetch_dataset(*r.find("tiny"), loc); }),
               Catch::Contains(url) && Catch::Contains(kTinySha) && Catch::Contains(wrong));
    CHECK(count_entries(cache / "tiny") == 0);
  }
  SECTION("a failed download keeps the previous good file") {
    fs::create_directories(cache / "tiny");
    test::write_file(target, "previous\n");
    const std::string previous_sha = sha256_hex("previous\n");
    // The source now serves other bytes than expected: nothing may replace the old file.
    CHECK_THROWS_AS(download_verified(url, target, previous_sha), UserError);
    CHECK(test::read_file(target) == "previous\n");
    CHECK(count_entries(cache / "tiny") == 1);
    // A URL that does not exist: same guarantee, and the message names the URL.
    CHECK_THAT(error_of([&] { download_verified("file:///nonexistent/x.txt", target, previous_sha); }),
               Catch::Contains("file:///nonexistent/x.txt"));
    CHECK(test::read_file(target) == "previous\n");
    CHECK(count_entries(cache / "tiny") == 1);
  }
  SECTION("a derived file without a mirror copy must come from a mirror") {
    const Registry r = Registry::parse(
        registry_text(kTinySha, "url = \"" + url + "\"\nderived = \"lines 1-2 of big.txt\""), "r.toml");
    const std::string msg = error_of([&] { fetch_dataset(*r.find("tiny"), loc); });
    CHECK_THAT(msg, Catch::Contains("'tiny.txt' cannot be downloaded (lines 1-2 of big.txt)") &&
                        Catch::Contains("SEQLAB_DATA_PATH"));
    CHECK_FALSE(fs::exists(target));
  }
}

// ---- real data (tests run with SEQLAB_DATA_PATH pointing at a mirror) ----------------------

namespace {
DataLocations real_locations() {
  DataLocations loc = DataLocations::from_environment();
  loc.registry = fs::path(SEQLAB_SOURCE_DIR) / "datasets" / "registry.toml";
  loc.cache.clear();  // only the mirror counts here
  return loc;
}
}  // namespace

TEST_CASE("every registry entry with files verifies against the mirror", "[registry]") {
  SKIP_WITHOUT_DATA(dir, "tinyshakespeare");
  const DataLocations loc = real_locations();
  const Registry r = load_registry(loc);
  std::size_t file_entries = 0;
  for (const auto& e : r.entries()) {
    if (e.synthetic()) continue;
    ++file_entries;
    INFO("dataset " << e.name);
    const auto folder = locate(e, loc);
    REQUIRE(folder.has_value());
    for (const auto& c : verify_files(e, *folder)) {
      INFO("file " << c.path);
      CHECK(c.status == FileCheck::Status::ok);
      CHECK(c.actual_bytes == c.file->bytes);
    }
  }
  CHECK(file_entries == 9);
}

TEST_CASE("open_dataset(\"tinyshakespeare\") splits 90/5/5 by the floor rule", "[registry]") {
  SKIP_WITHOUT_DATA(dir, "tinyshakespeare");
  const SequenceDataset d = open_dataset("tinyshakespeare", OpenOptions{}, real_locations());
  CHECK(d.alphabet.size() == 65);
  CHECK(d.all.total_steps() == 1115394);
  CHECK(d.train.total_steps() == 1003854);  // floor(0.90 * 1115394) = floor(1003854.6)
  CHECK(d.valid.total_steps() == 55770);    // floor(0.95 * 1115394) - 1003854 = 1059624 - 1003854
  CHECK(d.test.total_steps() == 55770);     // 1115394 - 1059624
}

TEST_CASE("every synthetic registry entry generates data of its declared kind", "[registry]") {
  const DataLocations loc = real_locations();
  const Registry registry = load_registry(loc);
  for (const auto& e : registry.entries()) {
    if (!e.synthetic()) continue;
    INFO("dataset " << e.name);
    const SequenceDataset d = load_entry(e, loc);
    CHECK(d.kind == e.kind);
    CHECK(d.train.size() > 0);
    CHECK(d.test.size() > 0);
    CHECK_NOTHROW(d.validate());
  }
}

TEST_CASE("every real registry entry loads with its reader", "[registry][slow][.]") {
  SKIP_WITHOUT_DATA(dir, "tinyshakespeare");
  const DataLocations loc = real_locations();
  const Registry registry = load_registry(loc);
  for (const auto& e : registry.entries()) {
    if (e.synthetic()) continue;
    INFO("dataset " << e.name);
    const SequenceDataset d = load_entry(e, loc);
    CHECK(d.kind == e.kind);
    CHECK(d.train.size() > 0);
    CHECK(d.test.size() > 0);
  }
}

TEST_CASE("digits: threshold 8 on digits.csv equals the shipped binarised file", "[registry]") {
  SKIP_WITHOUT_DATA(dir, "digits");
  const SequenceDataset d = open_dataset("digits", OpenOptions{}, real_locations());
  Options o("test");
  o.set("label", "last");
  DatasetFiles files;
  files.all.push_back(dir / "digits_binarized_t8.csv");
  const SequenceDataset b = read_dataset("b", "patterns", o, files, d.split_rule);
  REQUIRE(d.all.size() == 1797);
  REQUIRE(b.all.size() == 1797);
  CHECK(d.train.size() == 1437);  // floor(0.8 * 1797)
  CHECK(d.valid.size() == 179);   // floor(0.1 * 1797)
  std::size_t differing = 0;
  for (std::size_t i = 0; i < d.all.size(); ++i)
    if (!arma::approx_equal(d.all.frames[i], b.all.frames[i], "absdiff", 0.0) ||
        d.all.labels[i] != b.all.labels[i])
      ++differing;
  CHECK(differing == 0);
}

TEST_CASE("ptb_char built from the word files reproduces ptb.char.valid/test", "[registry][slow][.]") {
  SKIP_WITHOUT_DATA(dir, "ptb");
  const SequenceDataset d = open_dataset("ptb_char", OpenOptions{}, real_locations());
  Options o("test");
  o.set("format", "spaced");
  DatasetFiles files;
  files.train.push_back(dir / "ptb.char.valid.txt");
  files.test.push_back(dir / "ptb.char.test.txt");
  SplitRule given;
  given.method = SplitRule::Method::given;
  const SequenceDataset shipped = read_dataset("c", "text", o, files, given);
  REQUIRE(d.valid.size() == 1);
  CHECK(d.valid.symbols[0].n_elem == 786084 / 2);  // every symbol is followed by one space
  CHECK(d.alphabet.decode(d.valid.symbols[0]) == shipped.alphabet.decode(shipped.train.symbols[0]));
  CHECK(d.alphabet.decode(d.test.symbols[0]) == shipped.alphabet.decode(shipped.test.symbols[0]));
}
