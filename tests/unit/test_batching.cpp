// tests/unit/test_batching.cpp: padded minibatches, truncated-BPTT windows and flattening, on
// hand-made sets where every element is asserted, plus reassembly checks on random sets.
#include <map>

#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/data/batching.hpp"
#include "test_support.hpp"

using namespace seqlab;
using seqlab::test::IsNear;

namespace {

using test::symbol_set;

SequenceSet frame_set(const std::vector<arma::mat>& sequences) {
  SequenceSet s;
  s.kind = SequenceKind::vectors;
  s.frames = sequences;
  return s;
}

void check_umat(const arma::umat& actual, const arma::umat& expected) {
  CAPTURE(actual, expected);
  REQUIRE(actual.n_rows == expected.n_rows);
  REQUIRE(actual.n_cols == expected.n_cols);
  CHECK(arma::all(arma::vectorise(actual == expected)));
}

void check_uvec(const arma::uvec& actual, const arma::uvec& expected) {
  CAPTURE(actual, expected);
  REQUIRE(actual.n_elem == expected.n_elem);
  CHECK(arma::all(actual == expected));
}

// Reassembly: for every stream, cut its masked steps into pieces at reset flags. Returns one
// list of pieces per stream, and checks the mask-prefix and reset invariants on the way.
std::vector<std::vector<std::vector<arma::uword>>> reassemble(WindowStream& ws) {
  std::vector<std::vector<std::vector<arma::uword>>> pieces(ws.streams());
  std::vector<bool> open_piece_ended(ws.streams(), false);
  SymbolWindow w;
  std::size_t windows = 0;
  while (ws.next(w)) {
    ++windows;
    for (arma::uword b = 0; b < ws.streams(); ++b) {
      const arma::uword real = arma::accu(w.mask.row(b));
      // The real steps form a prefix of the row.
      for (arma::uword t = 0; t < ws.window(); ++t) REQUIRE(w.mask(b, t) == (t < real ? 1u : 0u));
      for (arma::uword t = real; t < ws.window(); ++t) REQUIRE(w.symbols(b, t) == 0u);
      if (real == 0) {
        CHECK(w.reset(b) == 0);
        continue;
      }
      // A piece that ended inside the previous window must be followed by a reset.
      if (open_piece_ended[b] || pieces[b].empty()) REQUIRE(w.reset(b) == 1);
      if (w.reset(b) == 1) pieces[b].emplace_back();
      for (arma::uword t = 0; t < real; ++t) pieces[b].back().push_back(w.symbols(b, t));
      open_piece_ended[b] = real < ws.window();
    }
  }
  CHECK(windows == ws.window_count());
  return pieces;
}

std::vector<arma::uword> as_vector(const arma::uvec& v) {
  return std::vector<arma::uword>(v.begin(), v.end());
}

}  // namespace

// ---- Padded minibatches ---------------------------------------------------------------------

TEST_CASE("symbol batches pad with 0 and mask the padding", "[batching]") {
  const SequenceSet set = symbol_set({{1, 2, 3}, {4}, {5, 6}});

  SECTION("in order") {
    const auto batches = make_symbol_batches(set, 2, nullptr);
    REQUIRE(batches.size() == 2);
    check_umat(batches[0].symbols, arma::umat{{1, 2, 3}, {4, 0, 0}});
    check_umat(batches[0].mask, arma::umat{{1, 1, 1}, {1, 0, 0}});
    CHECK(batches[0].index == std::vector<std::size_t>{0, 1});
    check_umat(batches[1].symbols, arma::umat{{5, 6}});
    check_umat(batches[1].mask, arma::umat{{1, 1}});
    CHECK(batches[1].index == std::vector<std::size_t>{2});
  }
  SECTION("one batch larger than the set") {
    const auto batches = make_symbol_batches(set, 10, nullptr);
    REQUIRE(batches.size() == 1);
    check_umat(batches[0].symbols, arma::umat{{1, 2, 3}, {4, 0, 0}, {5, 6, 0}});
    check_umat(batches[0].mask, arma::umat{{1, 1, 1}, {1, 0, 0}, {1, 1, 0}});
  }
  SECTION("shuffled: the permutation of random_permutation, rows follow index") {
    Rng rng = make_rng(4);
    Rng same = make_rng(4);
    const arma::uvec perm = random_permutation(3, same);
    const auto batches = make_symbol_batches(set, 2, &rng);
    REQUIRE(batches.size() == 2);
    std::vector<std::size_t> order;
    for (const auto& b : batches) {
      for (std::size_t r = 0; r < b.index.size(); ++r) {
        const arma::uvec& s = set.symbols[b.index[r]];
        for (arma::uword t = 0; t < b.symbols.n_cols; ++t) {
          CHECK(b.mask(r, t) == (t < s.n_elem ? 1u : 0u));
          CHECK(b.symbols(r, t) == (t < s.n_elem ? s(t) : 0u));
        }
      }
      order.insert(order.end(), b.index.begin(), b.index.end());
    }
    CHECK(order == std::vector<std::size_t>{perm(0), perm(1), perm(2)});
  }
  SECTION("empty set, bad arguments") {
    CHECK(make_symbol_batches(symbol_set({}), 3, nullptr).empty());
    CHECK_THROWS_AS(make_symbol_batches(set, 0, nullptr), UserError);
    CHECK_THROWS_AS(make_frame_batches(set, 2, nullptr), std::invalid_argument);
  }
}

TEST_CASE("frame batches put time along slices, padding 0", "[batching]") {
  const SequenceSet set = frame_set({arma::mat{{1, 2}, {3, 4}}, arma::mat(arma::vec{5, 6})});
  const auto batches = make_frame_batches(set, 2, nullptr);
  REQUIRE(batches.size() == 1);
  const FrameBatch& b = batches[0];
  REQUIRE(b.frames.n_rows == 2);
  REQUIRE(b.frames.n_cols == 2);
  REQUIRE(b.frames.n_slices == 2);
  // slice t, column r = frame t of sequence r.
  CHECK_THAT(arma::mat(b.frames.slice(0)), IsNear(arma::mat{{1, 5}, {3, 6}}, 0.0));
  CHECK_THAT(arma::mat(b.frames.slice(1)), IsNear(arma::mat{{2, 0}, {4, 0}}, 0.0));
  check_umat(b.mask, arma::umat{{1, 1}, {1, 0}});
  CHECK(b.index == std::vector<std::size_t>{0, 1});
  CHECK_THROWS_AS(make_symbol_batches(set, 2, nullptr), std::invalid_argument);
}

// ---- Truncated-BPTT windows -----------------------------------------------------------------

TEST_CASE("one long sequence is cut into B contiguous streams", "[batching]") {
  const SequenceSet set = symbol_set({arma::regspace<arma::uvec>(0, 10)});  // 0..10, T = 11
  WindowStream ws(set, 2, 2);  // parts of floor(11 / 2) = 5 steps; step 10 is dropped
  CHECK(ws.window_count() == 3);
  CHECK(ws.covered_steps() == 10);
  SymbolWindow w;
  REQUIRE(ws.next(w));
  check_umat(w.symbols, arma::umat{{0, 1}, {5, 6}});
  check_umat(w.mask, arma::umat{{1, 1}, {1, 1}});
  check_uvec(w.reset, arma::uvec{1, 1});
  REQUIRE(ws.next(w));
  check_umat(w.symbols, arma::umat{{2, 3}, {7, 8}});
  check_umat(w.mask, arma::umat{{1, 1}, {1, 1}});
  check_uvec(w.reset, arma::uvec{0, 0});
  REQUIRE(ws.next(w));
  check_umat(w.symbols, arma::umat{{4, 0}, {9, 0}});
  check_umat(w.mask, arma::umat{{1, 0}, {1, 0}});
  check_uvec(w.reset, arma::uvec{0, 0});
  CHECK_FALSE(ws.next(w));
  CHECK_FALSE(ws.next(w));

  SECTION("rewind replays the same windows") {
    ws.rewind();
    REQUIRE(ws.next(w));
    check_umat(w.symbols, arma::umat{{0, 1}, {5, 6}});
    check_uvec(w.reset, arma::uvec{1, 1});
  }
  SECTION("too short to split, bad sizes") {
    CHECK_THROWS_AS(WindowStream(set, 12, 2), UserError);
    CHECK_THROWS_AS(WindowStream(set, 0, 2), UserError);
    CHECK_THROWS_AS(WindowStream(set, 2, 0), UserError);
    FrameWindow fw;
    CHECK_THROWS_AS(ws.next(fw), std::invalid_argument);
  }
}

TEST_CASE("many sequences play back to back per stream, never mixed in a window", "[batching]") {
  // Stream 0 plays sequences 0 and 2; stream 1 plays 1 and 3.
  const SequenceSet set = symbol_set({{1, 2, 3}, {4, 5}, {6, 7, 8, 9, 10}, {11}});
  WindowStream ws(set, 2, 2);
  CHECK(ws.window_count() == 5);  // stream 0: ceil(3/2) + ceil(5/2) = 5; stream 1: 1 + 1
  CHECK(ws.covered_steps() == 11);
  SymbolWindow w;
  REQUIRE(ws.next(w));  // window 0
  check_umat(w.symbols, arma::umat{{1, 2}, {4, 5}});
  check_umat(w.mask, arma::umat{{1, 1}, {1, 1}});
  check_uvec(w.reset, arma::uvec{1, 1});
  REQUIRE(ws.next(w));  // window 1: sequence 0 ends mid-window; stream 1 starts sequence 3
  check_umat(w.symbols, arma::umat{{3, 0}, {11, 0}});
  check_umat(w.mask, arma::umat{{1, 0}, {1, 0}});
  check_uvec(w.reset, arma::uvec{0, 1});
  REQUIRE(ws.next(w));  // window 2: stream 0 starts sequence 2; stream 1 is exhausted
  check_umat(w.symbols, arma::umat{{6, 7}, {0, 0}});
  check_umat(w.mask, arma::umat{{1, 1}, {0, 0}});
  check_uvec(w.reset, arma::uvec{1, 0});
  REQUIRE(ws.next(w));  // window 3
  check_umat(w.symbols, arma::umat{{8, 9}, {0, 0}});
  check_umat(w.mask, arma::umat{{1, 1}, {0, 0}});
  check_uvec(w.reset, arma::uvec{0, 0});
  REQUIRE(ws.next(w));  // window 4
  check_umat(w.symbols, arma::umat{{10, 0}, {0, 0}});
  check_umat(w.mask, arma::umat{{1, 0}, {0, 0}});
  check_uvec(w.reset, arma::uvec{0, 0});
  CHECK_FALSE(ws.next(w));
}

TEST_CASE("frame windows carry frames along slices", "[batching]") {
  // d = 1; sequences [1 2 3] and [4]; B = 2, k = 2.
  const SequenceSet set = frame_set({arma::mat{{1, 2, 3}}, arma::mat(1, 1, arma::fill::value(4.0))});
  WindowStream ws(set, 2, 2);
  FrameWindow w;
  REQUIRE(ws.next(w));
  REQUIRE(w.frames.n_rows == 1);
  REQUIRE(w.frames.n_cols == 2);
  REQUIRE(w.frames.n_slices == 2);
  CHECK_THAT(arma::mat(w.frames.slice(0)), IsNear(arma::mat{{1, 4}}, 0.0));
  CHECK_THAT(arma::mat(w.frames.slice(1)), IsNear(arma::mat{{2, 0}}, 0.0));
  check_umat(w.mask, arma::umat{{1, 1}, {1, 0}});
  check_uvec(w.reset, arma::uvec{1, 1});
  REQUIRE(ws.next(w));
  CHECK_THAT(arma::mat(w.frames.slice(0)), IsNear(arma::mat{{3, 0}}, 0.0));
  CHECK_THAT(arma::mat(w.frames.slice(1)), IsNear(arma::mat{{0, 0}}, 0.0));
  check_umat(w.mask, arma::umat{{1, 0}, {0, 0}});
  check_uvec(w.reset, arma::uvec{0, 0});
  CHECK_FALSE(ws.next(w));
}

TEST_CASE("windows reassemble to the original data, every step exactly once", "[batching]") {
  const arma::uword streams = GENERATE(1u, 2u, 3u, 7u);
  const arma::uword window = GENERATE(1u, 3u, 8u);
  CAPTURE(streams, window);
  Rng rng = make_rng(1000 + 10 * streams + window);

  SECTION("many sequences of random lengths (some empty)") {
    std::vector<arma::uvec> seqs;
    for (int i = 0; i < 17; ++i) {
      const arma::uword len = uniform_index(rng, 12);  // 0..11
      arma::uvec s(len);
      // Distinct values per step so that any misplaced or repeated step is noticed.
      for (arma::uword t = 0; t < len; ++t) s(t) = 1000 * (i + 1) + t;
      seqs.push_back(s);
    }
    const SequenceSet set = symbol_set(seqs);
    WindowStream ws(set, streams, window);
    CHECK(ws.covered_steps() == set.total_steps());
    const auto pieces = reassemble(ws);
    for (arma::uword b = 0; b < streams; ++b) {
      std::vector<std::vector<arma::uword>> expected;
      for (std::size_t i = b; i < seqs.size(); i += streams)
        if (seqs[i].n_elem > 0) expected.push_back(as_vector(seqs[i]));
      CAPTURE(b);
      CHECK(pieces[b] == expected);
    }
  }
  SECTION("one long sequence") {
    const arma::uword T = 50 + uniform_index(rng, 20);
    const SequenceSet set = symbol_set({arma::regspace<arma::uvec>(0, T - 1)});
    WindowStream ws(set, streams, window);
    const arma::uword part = T / streams;
    CHECK(ws.covered_steps() == part * streams);
    const auto pieces = reassemble(ws);
    for (arma::uword b = 0; b < streams; ++b) {
      CAPTURE(b);
      REQUIRE(pieces[b].size() == 1);  // reset only at the stream's first window
      const arma::uvec expected = arma::regspace<arma::uvec>(b * part, (b + 1) * part - 1);
      CHECK(pieces[b][0] == as_vector(expected));
    }
  }
}

// ---- Flattening -----------------------------------------------------------------------------

TEST_CASE("all_frames and flatten_windows stack frames without crossing sequences",
          "[batching]") {
  // d = 2. Sequence 0 has frames (1,2) (3,4) (5,6) (7,8); sequence 1 has (9,10) (11,12).
  SequenceSet set;
  set.kind = SequenceKind::binary_frames;  // values need not be 0/1 for this layout check
  set.frames = {arma::mat{{1, 3, 5, 7}, {2, 4, 6, 8}}, arma::mat{{9, 11}, {10, 12}}};

  CHECK_THAT(all_frames(set),
             IsNear(arma::mat{{1, 3, 5, 7, 9, 11}, {2, 4, 6, 8, 10, 12}}, 0.0));

  SECTION("with the model's row count: the same matrix, or one line naming the sequence") {
    CHECK_THAT(all_frames(set, 2, "m"), IsNear(all_frames(set), 0.0));
    SequenceSet empty;
    empty.kind = SequenceKind::binary_frames;
    CHECK(all_frames(empty, 4, "m").n_rows == 4);
    set.frames.push_back(arma::mat(3, 1, arma::fill::zeros));
    CHECK_THROWS_WITH(all_frames(set, 2, "m: the data"),
                      Catch::Matchers::Equals(
                          "m: the data: sequence 2 has frames of 3 rows, the model 2"));
  }
  SECTION("sums_by_sequence adds each sequence's steps, 0 for an empty one") {
    set.frames.insert(set.frames.begin() + 1, arma::mat(2, 0));
    CHECK_THAT(sums_by_sequence(arma::vec{1, 2, 3, 4, 5, 6}, set),
               IsNear(arma::vec{10, 0, 11}, 0.0));
  }
  SECTION("width 2, stride 1: starts 0, 1, 2 in sequence 0 and 0 in sequence 1") {
    CHECK_THAT(flatten_windows(set, 2, 1), IsNear(arma::mat{{1, 3, 5, 9},
                                                            {2, 4, 6, 10},
                                                            {3, 5, 7, 11},
                                                            {4, 6, 8, 12}},
                                                  0.0));
  }
  SECTION("width 2, stride 2") {
    CHECK_THAT(flatten_windows(set, 2, 2),
               IsNear(arma::mat{{1, 5, 9}, {2, 6, 10}, {3, 7, 11}, {4, 8, 12}}, 0.0));
  }
  SECTION("width 3: sequence 1 is too short and contributes nothing") {
    CHECK_THAT(flatten_windows(set, 3, 1), IsNear(arma::mat{{1, 3},
                                                            {2, 4},
                                                            {3, 5},
                                                            {4, 6},
                                                            {5, 7},
                                                            {6, 8}},
                                                  0.0));
  }
  SECTION("width 1 is all_frames") {
    CHECK_THAT(flatten_windows(set, 1, 1), IsNear(all_frames(set), 0.0));
  }
  SECTION("bad arguments") {
    CHECK_THROWS_AS(flatten_windows(set, 0, 1), UserError);
    CHECK_THROWS_AS(flatten_windows(set, 1, 0), UserError);
    CHECK_THROWS_AS(all_frames(symbol_set({{1}})), std::invalid_argument);
    CHECK(flatten_windows(set, 5, 1).n_cols == 0);
  }
}
