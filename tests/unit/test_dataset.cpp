// tests/unit/test_dataset.cpp: the data convention and the split rules.
#include "seqlab/core/error.hpp"
#include "seqlab/data/dataset.hpp"
#include "test_support.hpp"

using namespace seqlab;

namespace {
SequenceDataset symbols_dataset(arma::uword length) {
  SequenceDataset d;
  d.name = "toy";
  d.kind = SequenceKind::symbols;
  d.alphabet = Alphabet({"a", "b", "c"});
  d.all.kind = SequenceKind::symbols;
  arma::uvec s(length);
  for (arma::uword t = 0; t < length; ++t) s(t) = t % 3;
  d.all.symbols.push_back(s);
  return d;
}
}  // namespace

TEST_CASE("Alphabet maps symbols to indices in insertion order", "[data]") {
  Alphabet a({"x", "y"});
  CHECK(a.size() == 2);
  CHECK(a.add("z") == 2);
  CHECK(a.add("x") == 0);
  CHECK(*a.find("y") == 1);
  CHECK_FALSE(a.find("w").has_value());
  CHECK_FALSE(a.unknown_index().has_value());
  a.add("<unk>");
  a.set_unknown("<unk>");
  CHECK(*a.unknown_index() == 3);
  a.set_separator(" ");
  CHECK(a.decode(arma::uvec{0, 2, 1}) == "x z y");
  CHECK_THROWS(Alphabet({"a", "a"}));
}

TEST_CASE("contiguous split cuts every sequence at floor(fraction * T)", "[data]") {
  auto d = symbols_dataset(1000);
  d.apply_split(SplitRule{});  // 90/5/5
  REQUIRE(d.train.size() == 1);
  CHECK(d.train.symbols[0].n_elem == 900);
  CHECK(d.valid.symbols[0].n_elem == 50);
  CHECK(d.test.symbols[0].n_elem == 50);
  // Non-overlapping and in order: concatenating gives back the source.
  arma::uvec joined = arma::join_cols(arma::join_cols(d.train.symbols[0], d.valid.symbols[0]),
                                      d.test.symbols[0]);
  CHECK(arma::all(joined == d.all.symbols[0]));
  CHECK(d.get(Split::test).symbols[0](0) == 950 % 3);
  CHECK_NOTHROW(d.validate());

  SECTION("odd lengths round down") {
    auto e = symbols_dataset(101);
    e.apply_split(SplitRule{});
    CHECK(e.train.total_steps() == 90);   // floor(90.9)
    CHECK(e.valid.total_steps() == 5);    // floor(95.95) - 90
    CHECK(e.test.total_steps() == 6);
  }
}

TEST_CASE("shuffle split is seeded, deterministic and non-overlapping", "[data]") {
  SequenceDataset d;
  d.kind = SequenceKind::binary_frames;
  d.dimension = 2;
  d.all.kind = d.kind;
  for (int i = 0; i < 40; ++i) {
    d.all.frames.push_back(arma::mat(2, 1, arma::fill::value(i % 2)));
    d.all.labels.push_back(i);
  }
  SplitRule rule;
  rule.method = SplitRule::Method::shuffle;
  rule.train = 0.5;
  rule.valid = 0.25;
  rule.seed = 3;
  d.apply_split(rule);
  CHECK(d.train.size() == 20);
  CHECK(d.valid.size() == 10);
  CHECK(d.test.size() == 10);
  std::vector<arma::sword> seen;
  for (auto* s : {&d.train, &d.valid, &d.test}) seen.insert(seen.end(), s->labels.begin(), s->labels.end());
  std::sort(seen.begin(), seen.end());
  for (int i = 0; i < 40; ++i) CHECK(seen[i] == i);
  auto again = d;
  again.apply_split(rule);
  CHECK(again.train.labels == d.train.labels);
  rule.seed = 4;
  again.apply_split(rule);
  CHECK(again.train.labels != d.train.labels);
  CHECK_NOTHROW(d.validate());
}

TEST_CASE("validate rejects data that breaks the convention", "[data]") {
  auto d = symbols_dataset(10);
  d.all.symbols[0](3) = 7;  // outside a 3-symbol alphabet
  CHECK_THROWS(d.validate());
  SequenceDataset f;
  f.kind = SequenceKind::binary_frames;
  f.dimension = 2;
  f.all.kind = f.kind;
  f.train.kind = f.valid.kind = f.test.kind = f.kind;
  f.all.frames.push_back(arma::mat{{0, 1}, {0.5, 1}});
  CHECK_THROWS(f.validate());
}

TEST_CASE("split and kind names parse or fail with the accepted values", "[data]") {
  CHECK(parse_split("valid") == Split::valid);
  CHECK_THROWS_WITH(parse_split("dev"), Catch::Contains("expected train, valid, test or all"));
  CHECK(parse_sequence_kind("vectors") == SequenceKind::vectors);
  CHECK_THROWS_AS(parse_sequence_kind("images"), UserError);
}
