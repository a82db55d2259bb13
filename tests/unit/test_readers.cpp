// tests/unit/test_readers.cpp: the dataset readers (text, fasta, csv, pianoroll, patterns) on
// hand-made fixtures in tests/fixtures/readers (expected values worked out by hand in the
// comments), their error messages, and the published statistics of the real datasets.
#include <chrono>
#include <map>
#include <set>

#include "seqlab/core/error.hpp"
#include "seqlab/data/readers.hpp"
#include "seqlab/data/utf8.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
namespace fs = std::filesystem;

namespace {

fs::path fx(const std::string& name) { return test::fixture("readers/" + name); }

Options make_options(std::initializer_list<std::pair<const char*, const char*>> kv) {
  Options o("test");
  for (const auto& [k, v] : kv) o.set(k, v);
  return o;
}

SequenceDataset read_all(const std::string& reader, std::vector<fs::path> files,
                         const Options& options = Options(), const Alphabet* fixed = nullptr,
                         UnknownPolicy policy = UnknownPolicy::error) {
  DatasetFiles f;
  f.all = std::move(files);
  return read_dataset("t", reader, options, f, SplitRule{}, fixed, policy);
}

// The UserError message of `fn`, or a failed check when it does not throw one.
template <class Fn>
std::string error_of(Fn&& fn) {
  try {
    fn();
  } catch (const UserError& e) {
    return e.what();
  }
  FAIL_CHECK("expected a UserError");
  return "";
}

std::string at(const fs::path& file, const std::string& rest) { return file.string() + rest; }

bool same_uvec(const arma::uvec& a, const arma::uvec& b) {
  return a.n_elem == b.n_elem && arma::all(a == b);
}

// Exact equality of matrices (binary frames and small integers are exact in double).
bool same_mat(const arma::mat& a, const arma::mat& b) {
  return a.n_rows == b.n_rows && a.n_cols == b.n_cols && arma::all(arma::vectorise(a == b));
}

bool same_set(const SequenceSet& a, const SequenceSet& b) {
  if (a.kind != b.kind || a.size() != b.size() || a.labels != b.labels) return false;
  for (std::size_t i = 0; i < a.size(); ++i) {
    if (a.kind == SequenceKind::symbols ? !same_uvec(a.symbols[i], b.symbols[i])
                                        : !same_mat(a.frames[i], b.frames[i]))
      return false;
  }
  return true;
}

}  // namespace

// --------------------------------------------------------------------------------------------
TEST_CASE("UTF-8 decoding accepts exactly the well-formed sequences", "[readers]") {
  char32_t cp = 0;
  CHECK(decode_utf8("A", 0, cp) == 1);
  CHECK(cp == U'A');
  CHECK(decode_utf8("\xC3\xA9", 0, cp) == 2);
  CHECK(cp == 0xE9);
  CHECK(decode_utf8("\xE2\x82\xAC", 0, cp) == 3);
  CHECK(cp == 0x20AC);
  CHECK(decode_utf8("\xF0\x9F\x98\x80", 0, cp) == 4);
  CHECK(cp == 0x1F600);
  CHECK(decode_utf8("\xF4\x8F\xBF\xBF", 0, cp) == 4);  // U+10FFFF, the last code point
  CHECK(cp == 0x10FFFF);

  const auto bad = GENERATE(as<std::string>{}, "\x80", "\xBF", "\xC0\xAF", "\xC1\xBF",
                            "\xE0\x80\xAF", "\xE0\x9F\xBF", "\xED\xA0\x80", "\xED\xBF\xBF",
                            "\xF0\x80\x80\xAF", "\xF4\x90\x80\x80", "\xF5\x80\x80\x80", "\xFF",
                            "\xC3", "\xE2\x82", "\xF0\x9F\x98", "\xC3(", "\xE2\x28\xA1");
  CAPTURE(printable(bad));
  CHECK(decode_utf8(bad, 0, cp) == 0);
  CHECK(find_invalid_utf8("ok" + bad) == 2);

  for (char32_t c : {char32_t{0x7F}, char32_t{0x80}, char32_t{0x7FF}, char32_t{0x800},
                     char32_t{0xFFFF}, char32_t{0x10000}, char32_t{0x10FFFF}}) {
    const std::string s = encode_utf8(c);
    CHECK(decode_utf8(s, 0, cp) == s.size());
    CHECK(cp == c);
  }
  CHECK_THROWS_AS(encode_utf8(0xD800), std::invalid_argument);
}

// --------------------------------------------------------------------------------------------
TEST_CASE("text reader, character level", "[readers]") {
  SECTION("multi-byte UTF-8: one symbol per code point, alphabet sorted by code point") {
    const auto d = read_all("text", {fx("hello.txt")});  // "h\xC3\xA9llo\n"
    CHECK(d.kind == SequenceKind::symbols);
    CHECK(d.alphabet.symbols() == std::vector<std::string>{"\n", "h", "l", "o", "\xC3\xA9"});
    CHECK(d.alphabet.separator().empty());
    REQUIRE(d.all.size() == 1);
    CHECK(same_uvec(d.all.symbols[0], arma::uvec{1, 4, 2, 2, 3, 0}));
    CHECK(d.alphabet.decode(d.all.symbols[0]) == "h\xC3\xA9llo\n");
    CHECK(d.name == "t");
    CHECK(d.source == fx("hello.txt").string());
  }
  SECTION("no trailing newline; several files are one stream") {
    const auto d = read_all("text", {fx("no_newline.txt")});  // "ab\nba"
    CHECK(d.alphabet.symbols() == std::vector<std::string>{"\n", "a", "b"});
    CHECK(same_uvec(d.all.symbols[0], arma::uvec{1, 2, 0, 2, 1}));

    const auto both = read_all("text", {fx("no_newline.txt"), fx("hello.txt")});
    REQUIRE(both.all.size() == 1);
    CHECK(both.alphabet.decode(both.all.symbols[0]) == "ab\nbah\xC3\xA9llo\n");
    CHECK(both.alphabet.size() == 7);  // \n a b h l o é
  }
  SECTION("invalid UTF-8 names the file, line and byte column of the bad byte") {
    // bad_utf8.txt = "ok\nab\xFFc\n": 0xFF is line 2, column 3. Read after another file, the
    // message still names the file it is in, with that file's own line numbers.
    CHECK_THAT(error_of([] { read_all("text", {fx("hello.txt"), fx("bad_utf8.txt")}); }),
               Equals(at(fx("bad_utf8.txt"), ":2:3: invalid UTF-8 byte 0xFF (expected UTF-8 text)")));
    test::ScratchDir dir;
    const auto [bytes, line, col, byte] = GENERATE(
        std::make_tuple(std::string("a\xC0\xAF"), 1, 2, std::string("0xC0")),      // overlong
        std::make_tuple(std::string("\n\nxy\xED\xA0\x80"), 3, 3, std::string("0xED")),  // surrogate
        std::make_tuple(std::string("ab\ncd\xE2\x82"), 2, 3, std::string("0xE2")),  // truncated at end
        std::make_tuple(std::string("\xE2\x82z"), 1, 1, std::string("0xE2")),       // truncated
        std::make_tuple(std::string("x\x80"), 1, 2, std::string("0x80")));          // stray continuation
    const fs::path p = dir / "bad.txt";
    test::write_file(p, bytes);
    CAPTURE(printable(bytes));
    const std::string expected = at(p, ":" + std::to_string(line) + ":" + std::to_string(col) +
                                           ": invalid UTF-8 byte " + byte + " (expected UTF-8 text)");
    CHECK_THAT(error_of([&] { read_all("text", {p}); }), Equals(expected));
    CHECK_THAT(error_of([&] { read_all("text", {p}, make_options({{"format", "ptb_char"}})); }),
               Equals(expected));
    CHECK_THAT(error_of([&] { read_all("text", {p}, make_options({{"level", "token"}})); }),
               Equals(expected));
  }
  SECTION("empty, whitespace-only, missing files and directories are errors naming the path") {
    CHECK_THAT(error_of([] { read_all("text", {fx("empty.txt")}); }),
               Equals(at(fx("empty.txt"), ": data file is empty (0 bytes)")));
    CHECK_THAT(error_of([] { read_all("text", {fx("blank.txt")}); }),
               Equals(at(fx("blank.txt"), ": data file holds only whitespace")));
    CHECK_THAT(error_of([] { read_all("text", {fx("no_such_file.txt")}); }),
               Contains(fx("no_such_file.txt").string()) && Contains("does not exist"));
    CHECK_THAT(error_of([] { read_all("text", {test::fixture("readers")}); }),
               Contains(test::fixture("readers").string()) && Contains("is a directory"));
  }
  SECTION("fixed alphabet: error policy reports the first outside symbol where it is") {
    const Alphabet fixed({"h", "l", "o", "\n"});
    CHECK_THAT(error_of([&] { read_all("text", {fx("hello.txt")}, Options(), &fixed); }),
               Equals(at(fx("hello.txt"),
                         ":1:2: symbol '\xC3\xA9' is not in the model's alphabet (4 symbols)")));
    const Alphabet ab({"a", "b"});
    CHECK_THAT(error_of([&] { read_all("text", {fx("no_newline.txt")}, Options(), &ab); }),
               Equals(at(fx("no_newline.txt"),
                         ":1:3: symbol '\\n' is not in the model's alphabet (2 symbols)")));
  }
  SECTION("fixed alphabet: map_to_unk uses the alphabet's unknown symbol") {
    Alphabet fixed({"\n", "<unk>", "h", "l", "o", "z"});
    fixed.set_unknown("<unk>");
    const auto d = read_all("text", {fx("hello.txt")}, Options(), &fixed, UnknownPolicy::map_to_unk);
    CHECK(d.alphabet == fixed);
    CHECK(same_uvec(d.all.symbols[0], arma::uvec{2, 1, 3, 3, 4, 0}));

    const Alphabet no_unk({"\n", "h", "l", "o"});
    CHECK_THAT(error_of([&] {
                 read_all("text", {fx("hello.txt")}, Options(), &no_unk, UnknownPolicy::map_to_unk);
               }),
               Equals(at(fx("hello.txt"), ":1:2: symbol '\xC3\xA9' is not in the model's alphabet "
                                          "(4 symbols) and the alphabet has no unknown symbol to map it to")));
  }
  SECTION("sequences = line drops line terminators (LF and CRLF) and blank lines") {
    test::ScratchDir dir;
    test::write_file(dir / "lines.txt", "Ab\r\n\r\n  \nc\rd\nb");
    const auto d = read_all("text", {dir / "lines.txt"},
                            make_options({{"sequences", "line"}, {"lowercase", "true"}}));
    REQUIRE(d.all.size() == 3);
    CHECK(d.alphabet.decode(d.all.symbols[0]) == "ab");
    CHECK(d.alphabet.decode(d.all.symbols[1]) == "c\rd");  // a lone CR is content
    CHECK(d.alphabet.decode(d.all.symbols[2]) == "b");
    CHECK(d.alphabet.symbols() == std::vector<std::string>{"\r", "a", "b", "c", "d"});
  }
  SECTION("option errors name the key") {
    CHECK_THAT(error_of([] { read_all("text", {fx("hello.txt")}, make_options({{"levle", "char"}})); }),
               Contains("unknown key 'levle'"));
    CHECK_THAT(error_of([] { read_all("text", {fx("hello.txt")}, make_options({{"level", "word"}})); }),
               Contains("key 'level'"));
    CHECK_THAT(error_of([] { read_all("text", {fx("hello.txt")}, make_options({{"eos", "<eos>"}})); }),
               Contains("key 'eos'"));
    CHECK_THAT(error_of([] {
                 read_all("text", {fx("hello.txt")}, make_options({{"level", "token"}, {"format", "spaced"}}));
               }),
               Contains("key 'format'"));
    CHECK_THAT(error_of([] { read_all("nosuchreader", {fx("hello.txt")}); }),
               Contains("unknown reader 'nosuchreader'"));
  }
}

// --------------------------------------------------------------------------------------------
TEST_CASE("text reader, token level", "[readers]") {
  // tokens.txt: "the cat sat\nthe dog <unk>\nthe cat\n"
  // Counts with eos: the 3, <eos> 3, cat 2, <unk> 1, dog 1, sat 1.
  SECTION("eos at every line end; order by count, ties by bytes; <unk> in data -> unknown") {
    const auto d = read_all("text", {fx("tokens.txt")},
                            make_options({{"level", "token"}, {"eos", "<eos>"}}));
    CHECK(d.alphabet.symbols() ==
          std::vector<std::string>{"<eos>", "the", "cat", "<unk>", "dog", "sat"});
    REQUIRE(d.alphabet.unknown_index().has_value());
    CHECK(*d.alphabet.unknown_index() == 3);
    CHECK(d.alphabet.separator() == " ");
    REQUIRE(d.all.size() == 1);
    CHECK(same_uvec(d.all.symbols[0], arma::uvec{1, 2, 5, 0, 1, 4, 3, 0, 1, 2, 0}));
  }
  SECTION("max_vocab keeps N symbols including <unk>, which takes the removed counts") {
    // Kept: <eos> 3, the 3, cat 2; dog and sat -> <unk>, whose count becomes 1 + 2 = 3.
    // Ties at 3 by bytes: "<eos>" < "<unk>" < "the".
    const auto d = read_all("text", {fx("tokens.txt")},
                            make_options({{"level", "token"}, {"eos", "<eos>"}, {"max_vocab", "4"}}));
    CHECK(d.alphabet.symbols() == std::vector<std::string>{"<eos>", "<unk>", "the", "cat"});
    CHECK(*d.alphabet.unknown_index() == 1);
    CHECK(same_uvec(d.all.symbols[0], arma::uvec{2, 3, 1, 0, 2, 1, 1, 0, 2, 3, 0}));

    // A cap at or above the vocabulary size changes nothing.
    const auto same = read_all("text", {fx("tokens.txt")},
                               make_options({{"level", "token"}, {"eos", "<eos>"}, {"max_vocab", "6"}}));
    CHECK(same.alphabet.size() == 6);
  }
  SECTION("the cap adds <unk> when the data has none") {
    test::ScratchDir dir;
    test::write_file(dir / "abc.txt", "a a a b\nb c");
    // a 3 kept; b 2 + c 1 -> <unk> 3; tie at 3: "<unk>" < "a".
    const auto d = read_all("text", {dir / "abc.txt"},
                            make_options({{"level", "token"}, {"max_vocab", "2"}, {"unk", "<unk>"}}));
    CHECK(d.alphabet.symbols() == std::vector<std::string>{"<unk>", "a"});
    CHECK(*d.alphabet.unknown_index() == 0);
    CHECK(same_uvec(d.all.symbols[0], arma::uvec{1, 1, 1, 0, 0, 0}));
    // Without a cap and without <unk> in the data there is no unknown symbol.
    const auto plain = read_all("text", {dir / "abc.txt"}, make_options({{"level", "token"}}));
    CHECK(plain.alphabet.symbols() == std::vector<std::string>{"a", "b", "c"});
    CHECK_FALSE(plain.alphabet.unknown_index().has_value());
  }
  SECTION("sequences = line: one sequence per non-empty line") {
    const auto d = read_all("text", {fx("tokens.txt")},
                            make_options({{"level", "token"}, {"sequences", "line"}}));
    CHECK(d.alphabet.symbols() == std::vector<std::string>{"the", "cat", "<unk>", "dog", "sat"});
    REQUIRE(d.all.size() == 3);
    CHECK(same_uvec(d.all.symbols[0], arma::uvec{0, 1, 4}));
    CHECK(same_uvec(d.all.symbols[1], arma::uvec{0, 3, 2}));
    CHECK(same_uvec(d.all.symbols[2], arma::uvec{0, 1}));
  }
  SECTION("blank lines get an eos in file mode; a last line without newline too; lowercase") {
    test::ScratchDir dir;
    test::write_file(dir / "b.txt", "The x\n\nthe");
    const auto d = read_all("text", {dir / "b.txt"},
                            make_options({{"level", "token"}, {"eos", "E"}, {"lowercase", "true"}}));
    // Stream: the x E E the E -> E 3, the 2, x 1.
    CHECK(d.alphabet.symbols() == std::vector<std::string>{"E", "the", "x"});
    CHECK(same_uvec(d.all.symbols[0], arma::uvec{1, 2, 0, 0, 1, 0}));
  }
  SECTION("fixed vocabulary: the error names the token's line and column") {
    Alphabet fixed({"the", "cat", "sat", "<eos>"});
    CHECK_THAT(error_of([&] {
                 read_all("text", {fx("tokens.txt")}, make_options({{"level", "token"}, {"eos", "<eos>"}}), &fixed);
               }),
               Equals(at(fx("tokens.txt"), ":2:5: symbol 'dog' is not in the model's alphabet (4 symbols)")));
    fixed.add("<unk>");
    fixed.set_unknown("<unk>");
    const auto d = read_all("text", {fx("tokens.txt")}, make_options({{"level", "token"}, {"eos", "<eos>"}}),
                            &fixed, UnknownPolicy::map_to_unk);
    CHECK(same_uvec(d.all.symbols[0], arma::uvec{0, 1, 2, 3, 0, 4, 4, 3, 0, 1, 3}));
  }
}

// --------------------------------------------------------------------------------------------
TEST_CASE("text reader, spaced and ptb_char layouts", "[readers]") {
  // words.txt = " a b\n cd  e \n\n" -> per line: "a_b\n", "cd_e\n", "\n".
  // words.char.txt = the same stream, each symbol followed by one space.
  const auto derived = read_all("text", {fx("words.txt")}, make_options({{"format", "ptb_char"}}));
  const auto spaced = read_all("text", {fx("words.char.txt")}, make_options({{"format", "spaced"}}));
  const std::vector<std::string> expected_alphabet{"\n", "_", "a", "b", "c", "d", "e"};
  CHECK(derived.alphabet.symbols() == expected_alphabet);
  CHECK(spaced.alphabet.symbols() == expected_alphabet);
  REQUIRE(derived.all.size() == 1);
  REQUIRE(spaced.all.size() == 1);
  const arma::uvec expected{2, 1, 3, 0, 4, 5, 1, 6, 0, 0};
  CHECK(same_uvec(derived.all.symbols[0], expected));
  CHECK(same_uvec(spaced.all.symbols[0], expected));

  SECTION("spaced: a missing space is an error at its column") {
    test::ScratchDir dir;
    test::write_file(dir / "s.txt", "a b \n xy \n ");
    CHECK_THAT(error_of([&] { read_all("text", {dir / "s.txt"}, make_options({{"format", "spaced"}})); }),
               Equals(at(dir / "s.txt", ":2:3: expected one space after each symbol (format = spaced), got 'y'")));
  }
  SECTION("sequences = line on the derived stream splits at the newline symbol") {
    const auto lines = read_all("text", {fx("words.txt")},
                                make_options({{"format", "ptb_char"}, {"sequences", "line"}}));
    REQUIRE(lines.all.size() == 2);
    CHECK(lines.alphabet.decode(lines.all.symbols[0]) == "a_b");
    CHECK(lines.alphabet.decode(lines.all.symbols[1]) == "cd_e");
  }
}

// --------------------------------------------------------------------------------------------
TEST_CASE("symbol readers refuse NUL bytes at their place", "[readers]") {
  // A symbol holding NUL trains but cannot be stored: a model file keeps its alphabet as HDF5
  // strings, which end at NUL ("/alphabet: symbol 0 is empty" on reading the model back).
  test::ScratchDir dir;
  const std::string expected_what = ": NUL byte (0x00) is not allowed in text";
  SECTION("text: every level and layout, at the first NUL, in that file's own lines") {
    const fs::path p = dir / "nul.txt";
    test::write_file(p, std::string("ab\ncd ef\n g\0h\0\n", 15));  // first NUL: line 3, column 3
    const std::string expected = at(p, ":3:3" + expected_what);
    for (const auto& options :
         {make_options({}), make_options({{"sequences", "line"}}),
          make_options({{"format", "ptb_char"}}), make_options({{"level", "token"}}),
          make_options({{"level", "token"}, {"sequences", "line"}})}) {
      CHECK_THAT(error_of([&] { read_all("text", {fx("hello.txt"), p}, options); }),
                 Equals(expected));
    }
    const fs::path spaced = dir / "nul_spaced.txt";
    test::write_file(spaced, std::string("a b \0 ", 6));
    CHECK_THAT(error_of([&] { read_all("text", {spaced}, make_options({{"format", "spaced"}})); }),
               Equals(at(spaced, ":1:5" + expected_what)));
    // Also with a model's alphabet (evaluation), whatever the unknown-symbol policy.
    Alphabet fixed({"a", "b", "<unk>"});
    fixed.set_unknown("<unk>");
    CHECK_THAT(error_of([&] { read_all("text", {p}, Options(), &fixed, UnknownPolicy::map_to_unk); }),
               Equals(expected));
  }
  SECTION("fasta: in a header or among the bases") {
    const fs::path header = dir / "nul_header.fa";
    test::write_file(header, std::string(">ab\0c\nACGT\n", 11));
    CHECK_THAT(error_of([&] { read_all("fasta", {header}); }), Equals(at(header, ":1:4" + expected_what)));
    const fs::path bases = dir / "nul_bases.fa";
    test::write_file(bases, std::string(">r\nAC\0GT\n", 9));
    CHECK_THAT(error_of([&] { read_all("fasta", {bases}, make_options({{"non_acgt", "keep"}})); }),
               Equals(at(bases, ":2:3" + expected_what)));
  }
  SECTION("an alphabet never holds a symbol with NUL") {
    CHECK_THROWS_AS(Alphabet({"a", std::string("\0", 1)}), std::invalid_argument);
    CHECK_THROWS_AS(Alphabet({std::string("x\0y", 3)}), std::invalid_argument);
  }
}

TEST_CASE("given splits: all is train + valid + test, alphabet over every file", "[readers]") {
  DatasetFiles files;
  files.train = {fx("no_newline.txt")};
  files.valid = {fx("hello.txt")};
  files.test = {fx("no_newline.txt"), fx("no_newline.txt")};
  const auto d = read_dataset("g", "text", Options(), files, SplitRule{});
  CHECK(d.split_rule.method == SplitRule::Method::given);
  CHECK(d.alphabet.size() == 7);
  REQUIRE(d.train.size() == 1);
  REQUIRE(d.valid.size() == 1);
  REQUIRE(d.test.size() == 1);
  CHECK(d.alphabet.decode(d.train.symbols[0]) == "ab\nba");
  CHECK(d.alphabet.decode(d.valid.symbols[0]) == "h\xC3\xA9llo\n");
  CHECK(d.alphabet.decode(d.test.symbols[0]) == "ab\nbaab\nba");
  REQUIRE(d.all.size() == 3);
  CHECK(same_uvec(d.all.symbols[1], d.valid.symbols[0]));

  DatasetFiles both = files;
  both.all = {fx("hello.txt")};
  CHECK_THROWS_AS(read_dataset("g", "text", Options(), both, SplitRule{}), UserError);
  CHECK_THROWS_AS(read_dataset("g", "text", Options(), DatasetFiles{}, SplitRule{}), UserError);
}

TEST_CASE("derived splits follow the split rule", "[readers]") {
  const auto d = read_all("text", {fx("tokens.txt")}, make_options({{"level", "token"}, {"eos", "<eos>"}}));
  // 11 symbols, contiguous 90/5/5: floor(9.9) = 9, floor(10.45) = 10.
  CHECK(d.split_rule.method == SplitRule::Method::contiguous);
  CHECK(d.train.total_steps() == 9);
  CHECK(d.valid.total_steps() == 1);
  CHECK(d.test.total_steps() == 1);
}

// --------------------------------------------------------------------------------------------
TEST_CASE("fasta reader", "[readers]") {
  // two.fa: blank line, ">seq1 first", "ACGT", "acgg", ">seq2", "TTNA" (N at line 6, column 3).
  SECTION("N with non_acgt = error names the place") {
    CHECK_THAT(error_of([] { read_all("fasta", {fx("two.fa")}); }),
               Equals(at(fx("two.fa"), ":6:3: base 'N' is not A, C, G or T (set non_acgt = skip or keep to accept it)")));
  }
  SECTION("skip drops N; lower case is folded; one sequence per record") {
    const auto d = read_all("fasta", {fx("two.fa")}, make_options({{"non_acgt", "skip"}}));
    CHECK(d.alphabet.symbols() == std::vector<std::string>{"A", "C", "G", "T"});
    REQUIRE(d.all.size() == 2);
    CHECK(same_uvec(d.all.symbols[0], arma::uvec{0, 1, 2, 3, 0, 1, 2, 2}));
    CHECK(same_uvec(d.all.symbols[1], arma::uvec{3, 3, 0}));
  }
  SECTION("keep adds N after ACGT") {
    const auto d = read_all("fasta", {fx("two.fa")}, make_options({{"non_acgt", "keep"}}));
    CHECK(d.alphabet.symbols() == std::vector<std::string>{"A", "C", "G", "T", "N"});
    CHECK(same_uvec(d.all.symbols[1], arma::uvec{3, 3, 4, 0}));
  }
  SECTION("malformed files") {
    CHECK_THAT(error_of([] { read_all("fasta", {fx("bad_start.fa")}); }),
               Equals(at(fx("bad_start.fa"), ":1:1: expected a FASTA header line starting with '>', got 'ACGT'")));
    CHECK_THAT(error_of([] { read_all("fasta", {fx("empty_record.fa")}); }),
               Equals(at(fx("empty_record.fa"), ":1: FASTA record 'a' has no bases")));
    test::ScratchDir dir;
    test::write_file(dir / "gap.fa", ">a\nAC-T\n");
    CHECK_THAT(error_of([&] { read_all("fasta", {dir / "gap.fa"}); }),
               Equals(at(dir / "gap.fa", ":2:3: unexpected character '-' in a FASTA sequence line (expected letters)")));
    test::write_file(dir / "n_only.fa", ">a\nACG\n>b\nNN\n");
    CHECK_THAT(error_of([&] { read_all("fasta", {dir / "n_only.fa"}, make_options({{"non_acgt", "skip"}})); }),
               Contains(":3: FASTA record 'b' has no bases"));
  }
  SECTION("fixed alphabet") {
    const Alphabet acgt({"A", "C", "G", "T"});
    CHECK_THAT(error_of([&] { read_all("fasta", {fx("two.fa")}, make_options({{"non_acgt", "keep"}}), &acgt); }),
               Equals(at(fx("two.fa"), ":6:3: symbol 'N' is not in the model's alphabet (4 symbols)")));
    const Alphabet tgca({"T", "G", "C", "A"});
    const auto d = read_all("fasta", {fx("two.fa")}, make_options({{"non_acgt", "skip"}}), &tgca);
    CHECK(same_uvec(d.all.symbols[1], arma::uvec{0, 0, 3}));
  }
}

// --------------------------------------------------------------------------------------------
TEST_CASE("csv reader", "[readers]") {
  SECTION("header auto-detected; a blank line starts a new sequence") {
    // header.csv: "x,y", "1,2", "3,4.5", "", "-1,0"
    const auto d = read_all("csv", {fx("header.csv")});
    CHECK(d.kind == SequenceKind::vectors);
    CHECK(d.dimension == 2);
    CHECK(d.feature_names == std::vector<std::string>{"x", "y"});
    REQUIRE(d.all.size() == 2);
    CHECK(same_mat(d.all.frames[0], arma::mat{{1, 3}, {2, 4.5}}));
    CHECK(same_mat(d.all.frames[1], arma::vec{-1, 0}));
    // header = false makes "x" a cell that is not a number.
    CHECK_THAT(error_of([] { read_all("csv", {fx("header.csv")}, make_options({{"header", "false"}})); }),
               Equals(at(fx("header.csv"), ":1: field 1: expected a finite number, got 'x'")));
  }
  SECTION("tsv without header: tab delimiter from the extension") {
    const auto d = read_all("csv", {fx("noheader.tsv")});
    CHECK(d.dimension == 3);
    CHECK(d.feature_names.empty());
    REQUIRE(d.all.size() == 1);
    CHECK(same_mat(d.all.frames[0], arma::mat{{1, 4}, {2, 5}, {3, 6}}));
    // Every file's rows form their own sequence.
    const auto two = read_all("csv", {fx("noheader.tsv"), fx("noheader.tsv")});
    CHECK(two.all.size() == 2);
  }
  SECTION("non-finite, empty and text cells are errors with line and field") {
    CHECK_THAT(error_of([] { read_all("csv", {fx("nan.csv")}); }),
               Equals(at(fx("nan.csv"), ":3: field 2: expected a finite number, got 'nan'")));
    test::ScratchDir dir;
    const auto [content, message] = GENERATE(
        std::make_pair(std::string("1,2\n3,inf\n"), std::string(":2: field 2: expected a finite number, got 'inf'")),
        std::make_pair(std::string("1,2\n,4\n"), std::string(":2: field 1: expected a finite number, got ''")),
        std::make_pair(std::string("1,2\n3,4x\n"), std::string(":2: field 2: expected a finite number, got '4x'")));
    test::write_file(dir / "bad.csv", content);
    CHECK_THAT(error_of([&] { read_all("csv", {dir / "bad.csv"}); }), Equals(at(dir / "bad.csv", message)));
  }
  SECTION("ragged rows name the line and both widths") {
    CHECK_THAT(error_of([] { read_all("csv", {fx("ragged.csv")}); }),
               Equals(at(fx("ragged.csv"), ":2: row has 1 fields, expected 2 (as in " +
                                               fx("ragged.csv").string() + ":1)")));
  }
  SECTION("sequence_column groups consecutive equal values; CRLF tolerated") {
    // grouped.csv (CRLF): id,v1,v2 / a,1,2 / a,3,4 / b,5,6 / a,7,8
    const auto d = read_all("csv", {fx("grouped.csv")}, make_options({{"sequence_column", "id"}}));
    CHECK(d.dimension == 2);
    CHECK(d.feature_names == std::vector<std::string>{"v1", "v2"});
    REQUIRE(d.all.size() == 3);
    CHECK(same_mat(d.all.frames[0], arma::mat{{1, 3}, {2, 4}}));
    CHECK(same_mat(d.all.frames[1], arma::vec{5, 6}));
    CHECK(same_mat(d.all.frames[2], arma::vec{7, 8}));
    // Without the option, id is a text cell.
    CHECK_THAT(error_of([] { read_all("csv", {fx("grouped.csv")}); }),
               Equals(at(fx("grouped.csv"), ":2: field 1: expected a finite number, got 'a'")));
    CHECK_THAT(error_of([] { read_all("csv", {fx("grouped.csv")}, make_options({{"sequence_column", "key"}})); }),
               Contains("sequence_column = key is not a column of the header row"));
  }
  SECTION("explicit delimiter") {
    test::ScratchDir dir;
    test::write_file(dir / "semi.txt", "a;b\n1;2\n");
    const auto d = read_all("csv", {dir / "semi.txt"}, make_options({{"delimiter", "semicolon"}}));
    CHECK(same_mat(d.all.frames[0], arma::vec{1, 2}));
  }
}

// --------------------------------------------------------------------------------------------
TEST_CASE("pianoroll reader", "[readers]") {
  SECTION("range 88: row j is pitch 21 + j; '-' is an all-zero frame") {
    // roll.txt: "60 64 67", "-", "21 108", "", "62", "-"
    const auto d = read_all("pianoroll", {fx("roll.txt")});
    CHECK(d.kind == SequenceKind::binary_frames);
    CHECK(d.dimension == 88);
    REQUIRE(d.feature_names.size() == 88);
    CHECK(d.feature_names.front() == "21");
    CHECK(d.feature_names.back() == "108");
    REQUIRE(d.all.size() == 2);
    arma::mat first(88, 3, arma::fill::zeros);
    first(60 - 21, 0) = first(64 - 21, 0) = first(67 - 21, 0) = 1;
    first(0, 2) = first(87, 2) = 1;
    arma::mat second(88, 2, arma::fill::zeros);
    second(62 - 21, 0) = 1;
    CHECK(same_mat(d.all.frames[0], first));
    CHECK(same_mat(d.all.frames[1], second));
  }
  SECTION("range observed: rows are min..max pitch over all files") {
    // roll_narrow.txt: "60 62", "-", "", "61"
    const auto d = read_all("pianoroll", {fx("roll_narrow.txt")}, make_options({{"range", "observed"}}));
    CHECK(d.dimension == 3);
    CHECK(d.feature_names == std::vector<std::string>{"60", "61", "62"});
    REQUIRE(d.all.size() == 2);
    CHECK(same_mat(d.all.frames[0], arma::mat{{1, 0}, {0, 0}, {1, 0}}));
    CHECK(same_mat(d.all.frames[1], arma::vec{0, 1, 0}));
    const auto wide = read_all("pianoroll", {fx("roll_narrow.txt"), fx("roll.txt")},
                               make_options({{"range", "observed"}}));
    CHECK(wide.dimension == 88);
    CHECK(wide.all.size() == 4);
  }
  SECTION("errors name line and column") {
    test::ScratchDir dir;
    const auto [content, range, message] = GENERATE(
        std::make_tuple(std::string("60 130\n"), std::string("observed"), std::string(":1:4: expected a MIDI pitch 0..127 or '-', got '130'")),
        std::make_tuple(std::string("60\nx\n"), std::string("88"), std::string(":2:1: expected a MIDI pitch 0..127 or '-', got 'x'")),
        std::make_tuple(std::string("60 -1\n"), std::string("88"), std::string(":1:4: expected a MIDI pitch 0..127 or '-', got '-1'")),
        std::make_tuple(std::string("60 20\n"), std::string("88"), std::string(":1:4: pitch 20 is outside the 88-key range 21..108 (use range = observed)")),
        std::make_tuple(std::string("60 64 60\n"), std::string("88"), std::string(":1:7: pitch 60 appears twice in this time step")),
        std::make_tuple(std::string("60\n\n\n61\n"), std::string("88"), std::string(":3: second empty line in a row (line 2 is empty too); expected exactly one empty line between sequences")),
        std::make_tuple(std::string("\n60\n"), std::string("88"), std::string(":1: empty line before the first time step of the file")),
        std::make_tuple(std::string("60 -\n"), std::string("88"), std::string(":1:4: '-' marks a silent step and must be alone on its line")));
    test::write_file(dir / "r.txt", content);
    CAPTURE(content);
    CHECK_THAT(error_of([&] { read_all("pianoroll", {dir / "r.txt"}, make_options({{"range", range.c_str()}})); }),
               Equals(at(dir / "r.txt", message)));
  }
  SECTION("pitch 20 is fine under range observed") {
    test::ScratchDir dir;
    test::write_file(dir / "low.txt", "20 22\n");
    const auto d = read_all("pianoroll", {dir / "low.txt"}, make_options({{"range", "observed"}}));
    CHECK(same_mat(d.all.frames[0], arma::vec{1, 0, 1}));
  }
}

// --------------------------------------------------------------------------------------------
TEST_CASE("patterns reader", "[readers]") {
  // patterns.csv: "1,1,0,0,0,1,3" and "0,0,1,1,1,0,7".
  SECTION("whole pattern as one frame, label last") {
    const auto d = read_all("patterns", {fx("patterns.csv")});
    CHECK(d.kind == SequenceKind::binary_frames);
    CHECK(d.dimension == 6);
    REQUIRE(d.all.size() == 2);
    CHECK(same_mat(d.all.frames[0], arma::mat{1, 1, 0, 0, 0, 1}.t()));
    CHECK(same_mat(d.all.frames[1], arma::mat{0, 0, 1, 1, 1, 0}.t()));
    CHECK(d.all.labels == std::vector<arma::sword>{3, 7});
  }
  SECTION("frame_width = 2: frame t holds values 2t, 2t+1 (row-major rows become columns)") {
    const auto d = read_all("patterns", {fx("patterns.csv")}, make_options({{"frame_width", "2"}}));
    CHECK(d.dimension == 2);
    CHECK(same_mat(d.all.frames[0], arma::mat{{1, 0, 0}, {1, 0, 1}}));
    CHECK(same_mat(d.all.frames[1], arma::mat{{0, 1, 1}, {0, 1, 0}}));
    CHECK_THAT(error_of([] { read_all("patterns", {fx("patterns.csv")}, make_options({{"frame_width", "4"}})); }),
               Equals(at(fx("patterns.csv"), ":1: pattern has 6 values, not a multiple of frame_width = 4")));
  }
  SECTION("label = none makes the label a value, which must then be 0 or 1") {
    CHECK_THAT(error_of([] { read_all("patterns", {fx("patterns.csv")}, make_options({{"label", "none"}})); }),
               Equals(at(fx("patterns.csv"), ":1: field 7: expected 0 or 1 (or set threshold), got '3'")));
    const auto d = read_all("patterns", {fx("patterns.csv")},
                            make_options({{"label", "none"}, {"threshold", "1"}}));
    CHECK(d.dimension == 7);
    CHECK(d.all.labels.empty());
    CHECK(same_mat(d.all.frames[0], arma::mat{1, 1, 0, 0, 0, 1, 1}.t()));
  }
  SECTION("threshold: value >= T is 1") {
    // patterns_gray.csv: "0,8,16,7,3" and "9,2,8,8,0", T = 8, frame_width 2.
    const auto d = read_all("patterns", {fx("patterns_gray.csv")},
                            make_options({{"threshold", "8"}, {"frame_width", "2"}}));
    CHECK(same_mat(d.all.frames[0], arma::mat{{0, 1}, {1, 0}}));
    CHECK(same_mat(d.all.frames[1], arma::mat{{1, 1}, {0, 1}}));
    CHECK(d.all.labels == std::vector<arma::sword>{3, 0});
  }
  SECTION("patterns of different lengths") {
    test::ScratchDir dir;
    test::write_file(dir / "p.csv", "1,0,1\n1,0\n");
    CHECK_THAT(error_of([&] { read_all("patterns", {dir / "p.csv"}); }),
               Equals(at(dir / "p.csv", ":2: pattern has 1 values, expected 2 (as in " +
                                            (dir / "p.csv").string() + ":1)")));
  }
}

// --------------------------------------------------------------------------------------------
TEST_CASE("reader names and guesses", "[readers]") {
  CHECK(reader_names() == std::vector<std::string>{"text", "fasta", "csv", "pianoroll", "patterns"});
  CHECK(reader_option_keys("fasta") == std::vector<std::string>{"non_acgt"});
  CHECK(guess_reader("x/genome.fa") == "fasta");
  CHECK(guess_reader("genome.FASTA") == "fasta");
  CHECK(guess_reader("g.fna") == "fasta");
  CHECK(guess_reader("series.csv") == "csv");
  CHECK(guess_reader("series.tsv") == "csv");
  CHECK(guess_reader("input.txt") == "text");
  CHECK(guess_reader("README") == "text");
}

TEST_CASE("reading is deterministic", "[readers]") {
  const auto [reader, file, key, value] = GENERATE(
      std::make_tuple(std::string("text"), std::string("tokens.txt"), "level", "token"),
      std::make_tuple(std::string("text"), std::string("hello.txt"), "sequences", "file"),
      std::make_tuple(std::string("fasta"), std::string("two.fa"), "non_acgt", "keep"),
      std::make_tuple(std::string("csv"), std::string("grouped.csv"), "sequence_column", "id"),
      std::make_tuple(std::string("pianoroll"), std::string("roll.txt"), "range", "observed"),
      std::make_tuple(std::string("patterns"), std::string("patterns.csv"), "frame_width", "3"));
  CAPTURE(reader, file);
  const Options options = make_options({{key, value}});
  const auto a = read_all(reader, {fx(file)}, options);
  const auto b = read_all(reader, {fx(file)}, options);
  CHECK(a.alphabet == b.alphabet);
  CHECK(a.dimension == b.dimension);
  CHECK(a.feature_names == b.feature_names);
  for (Split s : {Split::all, Split::train, Split::valid, Split::test}) CHECK(same_set(a.get(s), b.get(s)));
}

// --------------------------------------------------------------------------------------------
// Real data: numbers from the SOURCE.md files of the shared datasets.

TEST_CASE("real data: tinyshakespeare", "[readers][data]") {
  SKIP_WITHOUT_DATA(dir, "tinyshakespeare");
  const auto start = std::chrono::steady_clock::now();
  const auto d = read_all("text", {dir / "input.txt"});
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  INFO("read in " << seconds << " s");
  CHECK(d.all.total_steps() == 1115394);
  CHECK(d.alphabet.size() == 65);
  CHECK(d.alphabet.symbol(0) == "\n");
  CHECK(d.alphabet.symbol(1) == " ");
  CHECK(d.alphabet.symbol(64) == "z");
}

TEST_CASE("real data: JSB chorales", "[readers][data]") {
  SKIP_WITHOUT_DATA(dir, "jsb_chorales");
  DatasetFiles files;
  files.train = {dir / "train.txt"};
  files.valid = {dir / "valid.txt"};
  files.test = {dir / "test.txt"};
  const auto d = read_dataset("jsb", "pianoroll", Options(), files, SplitRule{});
  CHECK(d.dimension == 88);
  struct Expected {
    Split split;
    std::size_t sequences, steps, silent;
  };
  for (const auto& e : {Expected{Split::train, 229, 13807, 18}, Expected{Split::valid, 76, 4602, 29},
                        Expected{Split::test, 77, 4725, 17}}) {
    const SequenceSet& s = d.get(e.split);
    CAPTURE(to_string(e.split));
    CHECK(s.size() == e.sequences);
    CHECK(s.total_steps() == e.steps);
    std::size_t silent = 0;
    double max_poly = 0;
    for (const auto& roll : s.frames) {
      const arma::rowvec notes = arma::sum(roll, 0);
      silent += arma::accu(notes == 0.0);
      max_poly = std::max(max_poly, notes.max());
    }
    CHECK(silent == e.silent);
    CHECK(max_poly == 4.0);
  }
  CHECK(d.all.size() == 229 + 76 + 77);
  const auto observed = read_dataset("jsb", "pianoroll", make_options({{"range", "observed"}}), files, SplitRule{});
  CHECK(observed.feature_names.front() == "43");  // lowest pitch over all splits (train 43..96)
  CHECK(observed.feature_names.back() == "96");
}

TEST_CASE("real data: lambda phage", "[readers][data]") {
  SKIP_WITHOUT_DATA(dir, "lambda_phage");
  const auto d = read_all("fasta", {dir / "lambda_virus.fa"});
  REQUIRE(d.all.size() == 1);
  const arma::uvec& s = d.all.symbols[0];
  CHECK(s.n_elem == 48502);
  CHECK(arma::accu(s == 0) == 12334);  // A
  CHECK(arma::accu(s == 1) == 11362);  // C
  CHECK(arma::accu(s == 2) == 12820);  // G
  CHECK(arma::accu(s == 3) == 11986);  // T
}

TEST_CASE("real data: Penn Treebank, word and character level", "[readers][data]") {
  SKIP_WITHOUT_DATA(dir, "ptb");
  SECTION("word level with <eos>") {
    DatasetFiles files;
    files.train = {dir / "ptb.train.part1.txt", dir / "ptb.train.part2.txt"};
    files.valid = {dir / "ptb.valid.txt"};
    files.test = {dir / "ptb.test.txt"};
    const auto start = std::chrono::steady_clock::now();
    const auto d = read_dataset("ptb", "text", make_options({{"level", "token"}, {"eos", "<eos>"}}),
                                files, SplitRule{});
    INFO("read in " << std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count() << " s");
    CHECK(d.alphabet.size() == 10000);
    REQUIRE(d.alphabet.unknown_index().has_value());
    CHECK(d.alphabet.symbol(*d.alphabet.unknown_index()) == "<unk>");
    REQUIRE(d.train.size() == 1);
    CHECK(d.train.total_steps() == 929589);
    CHECK(d.valid.total_steps() == 73760);
    CHECK(d.test.total_steps() == 82430);
  }
  SECTION("ptb.char.valid.txt (spaced) equals ptb.valid.txt turned into characters") {
    const auto spaced = read_all("text", {dir / "ptb.char.valid.txt"}, make_options({{"format", "spaced"}}));
    const auto derived = read_all("text", {dir / "ptb.valid.txt"}, make_options({{"format", "ptb_char"}}));
    CHECK(spaced.alphabet == derived.alphabet);
    REQUIRE(spaced.all.size() == 1);
    REQUIRE(derived.all.size() == 1);
    CHECK(spaced.all.symbols[0].n_elem == derived.all.symbols[0].n_elem);
    CHECK(same_uvec(spaced.all.symbols[0], derived.all.symbols[0]));
    // 786,084 bytes, each symbol followed by one space.
    CHECK(spaced.all.symbols[0].n_elem == 786084 / 2);
  }
}

TEST_CASE("real data: digits, raw with threshold 8 equals the binarized file", "[readers][data]") {
  SKIP_WITHOUT_DATA(dir, "digits");
  const auto binary = read_all("patterns", {dir / "digits_binarized_t8.csv"});
  CHECK(binary.dimension == 64);
  REQUIRE(binary.all.size() == 1797);
  std::map<arma::sword, std::size_t> per_class;
  for (auto label : binary.all.labels) ++per_class[label];
  CHECK(per_class.size() == 10);
  CHECK(per_class.begin()->first == 0);
  CHECK(per_class.rbegin()->first == 9);
  CHECK(per_class[0] == 178);
  CHECK(per_class[8] == 174);

  const auto raw = read_all("patterns", {dir / "digits.csv"}, make_options({{"threshold", "8"}}));
  CHECK(same_set(raw.all, binary.all));

  const auto rows = read_all("patterns", {dir / "digits_binarized_t8.csv"}, make_options({{"frame_width", "8"}}));
  REQUIRE(rows.all.frames[0].n_rows == 8);
  REQUIRE(rows.all.frames[0].n_cols == 8);
  // Frame t of the 8-frame view is image row t: element (j, t) is pixel 8t + j.
  CHECK(same_mat(arma::vectorise(rows.all.frames[0]), binary.all.frames[0]));
}
