// tests/unit/test_distributed.cpp: training shared by the ranks of an MPI job, run here with
// in-process ranks (test::run_ranks: threads with the Communicator contract). Baum-Welch: every
// rank ends with the same model, bitwise the single-process one with one rank and equal to it to
// 1e-12 relative with 2 and 3, for the categorical HMM and every frame emission, both when every
// rank holds all the data and when each holds only its shard (data-driven starts included); an
// impossible training sequence on one rank's share stops every rank with the same one-line
// error; the division of work (contiguous_share, take_shard) partitions the batches and the
// --chunk pieces in order, balanced. Recurrent
// networks split each window's streams over the ranks and follow one process to float32
// rounding; their checkpoints (every rank's shards, written by rank 0) continue a job bitwise
// as if it had never stopped, under as many ranks only.
#include <atomic>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <string>
#include <vector>

#include "seqlab/core/communicator.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/data/dataset.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/models/hmm/frame_hmm.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/rnn/checkpoint.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "seqlab/models/rnn/trainer.hpp"
#include "same_fit.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::rnn;
using Catch::Matchers::Contains;

namespace {

using CatHmm = Hmm<CategoricalEmission>;

// Largest |a - b| over the largest |a|: the relative distance of two parameter sets.
double relative_distance(const arma::mat& a, const arma::mat& b) {
  REQUIRE(a.n_rows == b.n_rows);
  REQUIRE(a.n_cols == b.n_cols);
  return arma::abs(a - b).max() / std::max(1e-300, arma::abs(a).max());
}

// All parameters of a categorical HMM in one column (initial, transition, emission).
arma::mat flat(const CatHmm& h) {
  return arma::join_cols(arma::join_cols(arma::vectorise(h.initial()), arma::vectorise(h.transition())),
                         arma::vectorise(h.emission().probabilities()));
}

// 300 sequences of 20 to 120 symbols from a random 4-state HMM over 6 symbols: 5 batches.
std::vector<arma::uvec> categorical_data(Rng& rng) {
  const CategoricalHmmParams truth = random_categorical_hmm(4, 6, 1.0, rng);
  std::vector<arma::uvec> data;
  for (int s = 0; s < 300; ++s)
    data.push_back(sample_categorical_hmm(truth, 20 + uniform_index(rng, 101), rng).symbols);
  return data;
}

std::vector<unsigned long long> lengths_of(const std::vector<arma::uvec>& data) {
  std::vector<unsigned long long> lengths;
  for (const auto& x : data) lengths.push_back(x.n_elem);
  return lengths;
}

}  // namespace

TEST_CASE("contiguous_share partitions ordered units among ranks, balanced", "[hmm][mpi]") {
  const std::vector<double> weights = {5, 1, 1, 1, 8, 2, 2, 3, 0, 4};
  const unsigned size = GENERATE(1u, 2u, 3u, 4u, 7u, 12u);
  CAPTURE(size);
  double total = 0, largest = 0;
  for (const double w : weights) total += w, largest = std::max(largest, w);
  std::size_t next = 0;
  for (unsigned r = 0; r < size; ++r) {
    const UnitRange range = contiguous_share(weights, r, size);
    CAPTURE(r, range.begin, range.end);
    CHECK(range.begin == next);  // contiguous, in rank order, no gaps
    CHECK(range.end >= range.begin);
    double mine = 0;
    for (std::size_t u = range.begin; u < range.end; ++u) mine += weights[u];
    CHECK(mine <= total / size + largest);
    next = range.end;
    const UnitRange again = contiguous_share(weights, r, size);
    CHECK((again.begin == range.begin && again.end == range.end));
  }
  CHECK(next == weights.size());
  CHECK_THROWS(contiguous_share(weights, 3, 3));
}

TEST_CASE("sums over ranks follow one fixed binary tree", "[hmm][mpi]") {
  // Values where the order shows: added left to right, 1e16 + 1 - 1e16 + 1 gives 1; the tree
  // (x0 + x1) + (x2 + x3) loses both ones to rounding and gives 0.
  const double x[4] = {1e16, 1.0, -1e16, 1.0};
  double out = -1.0;
  tree_sum({&x[0], &x[1], &x[2], &x[3]}, &out, 1);
  CHECK(out == 0.0);
  tree_sum({&x[0], &x[1], &x[2]}, &out, 1);  // (x0 + x1) + x2 = 1e16 - 1e16
  CHECK(out == 0.0);
  tree_sum({&x[1], &x[2], &x[3]}, &out, 1);  // (1 - 1e16) + 1: rank order for three ranks
  CHECK(out == (1.0 + -1e16) + 1.0);
  tree_sum({&x[1]}, &out, 1);
  CHECK(out == 1.0);
  // In-process ranks sum in that order too.
  std::vector<double> got(4);
  test::run_ranks(4, [&](const Communicator& c) {
    double v = x[c.rank()];
    c.sum_in_rank_order(&v, 1);
    got[c.rank()] = v;
  });
  CHECK(got == std::vector<double>(4, 0.0));
}

TEST_CASE("Baum-Welch over ranks equals the single-process fit", "[hmm][mpi]") {
  Rng rng = make_rng(41);
  const std::vector<arma::uvec> data = categorical_data(rng);
  Rng start_rng = make_rng(42);
  const CategoricalHmmParams p = random_categorical_hmm(4, 6, 1.0, start_rng);
  const CatHmm start(p.initial, p.transition, CategoricalEmission(p.emission));
  TrainOptions options;
  options.max_iterations = 25;
  options.restarts = 2;
  options.tolerance = 0.0;  // every iteration runs: differences would have time to grow
  FitOptions run;
  run.seed = 5;
  CatHmm single = start;
  const FitResult single_result = single.fit(data, options, run);

  const unsigned ranks = GENERATE(1u, 2u, 3u, 4u, 7u);  // 7 ranks for 5 batches: two idle
  // Sharded: each rank is given only its share of the sequences (FitOptions::shard); the
  // restart's data-driven start (symbol frequencies) then needs the ranks' counts summed.
  const bool sharded = GENERATE(false, true);
  CAPTURE(ranks, sharded);
  std::vector<CatHmm> models(ranks, start);
  std::vector<double> log_likelihoods(ranks);
  test::run_ranks(ranks, [&](const Communicator& c) {
    FitOptions shared = run;
    shared.communicator = &c;
    if (!sharded) {
      log_likelihoods[c.rank()] = models[c.rank()].fit(data, options, shared).log_likelihood;
      return;
    }
    const DataShard shard = make_data_shard(&c, lengths_of(data));
    const std::vector<arma::uvec> mine(data.begin() + static_cast<std::ptrdiff_t>(shard.mine.begin),
                                       data.begin() + static_cast<std::ptrdiff_t>(shard.mine.end));
    shared.shard = &shard;
    log_likelihoods[c.rank()] = models[c.rank()].fit(mine, options, shared).log_likelihood;
  });
  for (unsigned r = 1; r < ranks; ++r) {
    CAPTURE(r);
    CHECK(arma::approx_equal(flat(models[r]), flat(models[0]), "absdiff", 0.0));  // same bits
    CHECK(log_likelihoods[r] == log_likelihoods[0]);
  }
  if (ranks == 1) {
    CHECK(arma::approx_equal(flat(models[0]), flat(single), "absdiff", 0.0));
    CHECK(log_likelihoods[0] == single_result.log_likelihood);
  } else {
    const double d = relative_distance(flat(single), flat(models[0]));
    char text[64];
    std::snprintf(text, sizeof text, "relative distance %.3g", d);  // Catch prints 1e-16 as 0.0
    INFO(text);
    CAPTURE(single_result.log_likelihood, log_likelihoods[0]);
    CHECK(d <= 1e-12);
    CHECK(std::abs(log_likelihoods[0] - single_result.log_likelihood) <=
          1e-12 * std::abs(single_result.log_likelihood));
  }
}

TEST_CASE("frame HMMs of every emission train over ranks as in one process", "[hmm][mpi]") {
  const FrameEmission emission = GENERATE(FrameEmission::gaussian_diag, FrameEmission::gaussian_full,
                                          FrameEmission::gmm_diag, FrameEmission::bernoulli);
  CAPTURE(to_string(emission));
  // 140 sequences of 3-dimensional frames (3 batches), two clusters per dimension.
  Rng rng = make_rng(8);
  SequenceSet data;
  data.kind = data_kind(emission);
  for (int s = 0; s < 140; ++s) {
    arma::mat x(3, 10 + uniform_index(rng, 30));
    for (auto& v : x)
      v = emission == FrameEmission::bernoulli
              ? (uniform01(rng) < 0.3 ? 1.0 : 0.0)
              : standard_normal(rng) + (uniform01(rng) < 0.5 ? 2.0 : -2.0);
    data.frames.push_back(x);
  }
  FrameHmmOptions options;
  options.states = 3;
  options.emission = emission;
  options.mixtures = 2;
  options.train.max_iterations = 15;
  options.train.restarts = 2;
  options.train.tolerance = 0.0;
  options.train.emission_prior.pseudo_count = 0.5;
  FitOptions run;
  run.seed = 9;
  FrameHmm single(3, options);
  single.fit(data, nullptr, run, nullptr);
  const arma::vec expected = single.log_likelihoods(data);

  // Sharded: each rank holds only its share; the k-means starts pool the frames of all ranks.
  const bool sharded = GENERATE(false, true);
  CAPTURE(sharded);
  std::vector<FrameHmm> models(2, FrameHmm(3, options));
  test::run_ranks(2, [&](const Communicator& c) {
    FitOptions shared = run;
    shared.communicator = &c;
    if (!sharded) {
      models[c.rank()].fit(data, nullptr, shared, nullptr);
      return;
    }
    DataShard shard;
    const SequenceSet mine = take_shard(data, 0, &c, &shard);
    shared.shard = &shard;
    models[c.rank()].fit(mine, nullptr, shared, nullptr);
  });
  const arma::vec rank0 = models[0].log_likelihoods(data);
  const arma::vec rank1 = models[1].log_likelihoods(data);
  CHECK(arma::approx_equal(rank0, rank1, "absdiff", 0.0));
  const double d = arma::abs(rank0 - expected).max() / arma::abs(expected).max();
  char text[64];
  std::snprintf(text, sizeof text, "relative distance %.3g", d);
  INFO(text);
  CHECK(d <= 1e-12);
  CHECK(models[0].last_fit().best_restart == single.last_fit().best_restart);
}

TEST_CASE("a rank's impossible sequence stops every rank with the same error", "[hmm][mpi]") {
  // Symbol 2 has probability 0 in every state: the last sequence (in the last rank's batches,
  // the shortest sequences come last) is impossible from the start.
  const arma::mat emission = {{0.5, 0.5, 0.0}, {0.3, 0.7, 0.0}};
  const CatHmm start(arma::vec{0.5, 0.5}, arma::mat{{0.9, 0.1}, {0.2, 0.8}},
                     CategoricalEmission(emission));
  Rng rng = make_rng(3);
  std::vector<arma::uvec> data;
  for (int s = 0; s < 200; ++s) {
    arma::uvec x(30 + uniform_index(rng, 30));
    for (auto& v : x) v = uniform_index(rng, 2);
    data.push_back(x);
  }
  data.push_back(arma::uvec{0, 2, 1});
  TrainOptions options;
  options.max_iterations = 3;
  const bool sharded = GENERATE(false, true);  // the error names the global index either way
  CAPTURE(sharded);
  std::vector<std::string> errors(3);
  test::run_ranks(3, [&](const Communicator& c) {
    FitOptions shared;
    shared.communicator = &c;
    CatHmm model = start;
    try {
      if (sharded) {
        const DataShard shard = make_data_shard(&c, lengths_of(data));
        shared.shard = &shard;
        model.fit(std::vector<arma::uvec>(data.begin() + static_cast<std::ptrdiff_t>(shard.mine.begin),
                                          data.begin() + static_cast<std::ptrdiff_t>(shard.mine.end)),
                  options, shared);
      } else {
        model.fit(data, options, shared);
      }
    } catch (const UserError& e) {
      errors[c.rank()] = e.what();
    }
  });
  for (const std::string& e : errors) {
    CAPTURE(e);
    CHECK_THAT(e, Contains("training sequence 200 has probability 0"));
    CHECK(e == errors[0]);
  }
}

TEST_CASE("take_shard gives each rank a contiguous run of the --chunk pieces", "[hmm][mpi]") {
  // Sequences of 0, 7, 25, 3 and 12 symbols; pieces of at most 5: 2, 5, 1 and 3 pieces (an
  // empty sequence has none, as when the model cuts them itself).
  SequenceSet set;
  int next = 0;
  for (const arma::uword n : {0, 7, 25, 3, 12}) {
    arma::uvec x(n);
    for (auto& v : x) v = static_cast<arma::uword>(next++);
    set.symbols.push_back(x);
  }
  const unsigned ranks = GENERATE(1u, 2u, 3u, 5u, 16u);  // 16 ranks for 11 pieces: idle ones
  CAPTURE(ranks);
  std::vector<SequenceSet> shares(ranks);
  std::vector<DataShard> shards(ranks);
  test::run_ranks(ranks, [&](const Communicator& c) {
    shares[c.rank()] = take_shard(set, 5, &c, &shards[c.rank()]);
  });
  // Every rank knows every piece's length; the shares, in rank order, are the pieces in order.
  const std::vector<unsigned long long> expected = {5, 2, 5, 5, 5, 5, 5, 3, 5, 5, 2};
  std::vector<arma::uword> joined;
  for (unsigned r = 0; r < ranks; ++r) {
    CAPTURE(r);
    CHECK(shards[r].lengths == expected);
    CHECK(shares[r].size() == shards[r].mine.end - shards[r].mine.begin);
    for (const auto& x : shares[r].symbols) {
      CHECK(x.n_elem <= 5);
      joined.insert(joined.end(), x.begin(), x.end());
    }
  }
  std::vector<arma::uword> all(47);
  for (arma::uword i = 0; i < all.size(); ++i) all[i] = i;
  CHECK(joined == all);
}

TEST_CASE("pooled frames over a shard are the single-process pool", "[hmm][mpi]") {
  // Both branches: every frame (limit above the total) and uniform draws (limit below it).
  Rng rng = make_rng(12);
  std::vector<arma::mat> data;
  for (int s = 0; s < 9; ++s) data.push_back(arma::randn<arma::mat>(2, 1 + uniform_index(rng, 12)));
  const arma::uword limit = GENERATE(arma::uword{1000}, arma::uword{17});
  CAPTURE(limit);
  Rng single_rng = make_rng(99);
  const arma::mat expected = detail::pool_observations(data, 2, limit, 3, single_rng);
  std::vector<arma::mat> pools(3);
  test::run_ranks(3, [&](const Communicator& c) {
    std::vector<unsigned long long> lengths;
    for (const auto& x : data) lengths.push_back(x.n_cols);
    const DataShard shard = make_data_shard(&c, lengths);
    const std::vector<arma::mat> mine(data.begin() + static_cast<std::ptrdiff_t>(shard.mine.begin),
                                      data.begin() + static_cast<std::ptrdiff_t>(shard.mine.end));
    Rng r = make_rng(99);
    pools[c.rank()] = detail::pool_observations(mine, 2, limit, 3, r, &shard);
  });
  for (const arma::mat& pool : pools) CHECK(arma::approx_equal(pool, expected, "absdiff", 0.0));
}

TEST_CASE("a chunked corpus trains sharded over ranks as in one process", "[hmm][mpi]") {
  // One text of 6,000 symbols cut into pieces of 250 (CategoricalHmmOptions::train_chunk): the
  // ranks each hold their run of pieces, cut before training (take_shard).
  Rng rng = make_rng(77);
  const CategoricalHmmParams truth = random_categorical_hmm(3, 5, 1.0, rng);
  SequenceSet text;
  text.symbols.push_back(sample_categorical_hmm(truth, 6000, rng).symbols);
  const Alphabet alphabet(std::vector<std::string>{"a", "b", "c", "d", "e"});
  CategoricalHmmOptions options;
  options.states = 3;
  options.train_chunk = 250;
  options.train.max_iterations = 20;
  options.train.restarts = 2;
  options.train.tolerance = 0.0;
  FitOptions run;
  run.seed = 4;
  CategoricalHmm single(alphabet, options);
  single.fit(text, nullptr, run, nullptr);
  std::vector<CategoricalHmm> models(3, CategoricalHmm(alphabet, options));
  test::run_ranks(3, [&](const Communicator& c) {
    FitOptions shared = run;
    shared.communicator = &c;
    DataShard shard;
    const SequenceSet mine = take_shard(text, options.train_chunk, &c, &shard);
    shared.shard = &shard;
    models[c.rank()].fit(mine, nullptr, shared, nullptr);
  });
  CHECK(arma::approx_equal(flat(models[1].hmm()), flat(models[0].hmm()), "absdiff", 0.0));
  CHECK(arma::approx_equal(flat(models[2].hmm()), flat(models[0].hmm()), "absdiff", 0.0));
  const double d = relative_distance(flat(single.hmm()), flat(models[0].hmm()));
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, "relative distance %.3g", d);
  INFO(buffer);
  CHECK(d <= 1e-12);
  CHECK(models[0].last_fit().best_restart == single.last_fit().best_restart);
}

TEST_CASE("recurrent training over ranks follows one process with all streams", "[rnn][mpi]") {
  // 24 sequences over 5 symbols, 8 streams, 20 updates: one process with all 8 streams against
  // 2 and 4 ranks holding 4 and 2 streams each. Each stream's forward and backward is the same
  // computation either way; only the sum of the gradients is ordered differently (float32
  // shards added in double over ranks), so the parameters agree to float32 rounding.
  Rng rng = make_rng(12);
  std::vector<arma::uvec> sequences;
  for (int s = 0; s < 24; ++s) {
    arma::uvec x(40 + uniform_index(rng, 40));
    for (auto& v : x) v = uniform_index(rng, 5);
    sequences.push_back(x);
  }
  const SequenceSet train = test::symbol_set(sequences);
  // 150 short valid sequences: three groups of scoring streams, shared out over the ranks.
  std::vector<arma::uvec> held_out;
  for (int s = 0; s < 150; ++s) {
    arma::uvec x(5 + uniform_index(rng, 20));
    for (auto& v : x) v = uniform_index(rng, 5);
    held_out.push_back(x);
  }
  const SequenceSet valid = test::symbol_set(held_out);
  Alphabet alphabet;
  for (const char c : std::string("abcde")) alphabet.add(std::string(1, c));
  const CellType cell = GENERATE(CellType::lstm, CellType::gru);
  CAPTURE(model_type_name(cell));
  RnnOptions options;
  options.cell = cell;
  options.hidden = 16;
  options.embedding = 8;
  options.batch = 8;
  options.window = 20;
  options.max_steps = 20;
  options.learning_rate = 0.01;
  FitOptions run;
  run.seed = 4;
  const auto record_valid = [](std::vector<double>& into) {
    FitObserver o;
    o.on_epoch = [&into](const EpochRecord& r) { into.push_back(r.valid_nll); };
    return o;
  };
  std::vector<double> single_valid;
  const FitObserver single_observer = record_valid(single_valid);
  RnnModel single(alphabet, options);
  single.fit(train, &valid, run, &single_observer);
  const arma::vec expected = single.network().params().values();
  REQUIRE(single_valid.size() >= 2);

  const unsigned ranks = GENERATE(2u, 4u);
  CAPTURE(ranks);
  std::vector<arma::vec> values(ranks);
  std::vector<std::vector<double>> valid_nll(ranks);
  test::run_ranks(ranks, [&](const Communicator& c) {
    RnnModel model(alphabet, options);
    FitOptions shared = run;
    shared.communicator = &c;
    const FitObserver observer = record_valid(valid_nll[c.rank()]);
    model.fit(train, &valid, shared, &observer);
    values[c.rank()] = model.network().params().values();
  });
  for (unsigned r = 1; r < ranks; ++r) {
    CHECK(arma::approx_equal(values[r], values[0], "absdiff", 0.0));
    CHECK(valid_nll[r] == valid_nll[0]);  // the split scoring gives every rank the same numbers
  }
  REQUIRE(valid_nll[0].size() == single_valid.size());
  for (std::size_t e = 0; e < single_valid.size(); ++e)
    CHECK_THAT(valid_nll[0][e], Catch::Matchers::WithinRel(single_valid[e], 1e-6));
  const double d = arma::abs(values[0] - expected).max() / arma::abs(expected).max();
  char text[64];
  std::snprintf(text, sizeof text, "relative distance %.3g", d);
  INFO(text);
  CHECK(d <= 1e-5);
  CHECK(d > 0.0);  // the ranks really split the work (a different rounding shows)
}

using RanksResult = test::FitOutcome;
using test::require_same_fit;

TEST_CASE("a checkpoint of ranks, written by rank 0, continues the job as if never stopped",
          "[rnn][mpi][checkpoint]") {
  // 2 ranks of 2 threads: 4 shards with their own dropout generators and streams (5 streams:
  // ranks of 2 and 3, so the shards differ in size). Dropout, early stopping and averaging make
  // every part of the state matter.
  Rng rng = make_rng(31);
  const auto symbols = [&](int count, arma::uword shortest) {
    std::vector<arma::uvec> sequences;
    for (int s = 0; s < count; ++s) {
      arma::uvec x(shortest + uniform_index(rng, 30));
      for (arma::uword t = 0; t < x.n_elem; ++t)
        x(t) = uniform01(rng) < 0.7 ? t % 4 : uniform_index(rng, 4);
      sequences.push_back(x);
    }
    return test::symbol_set(sequences);
  };
  const SequenceSet train = symbols(9, 20);
  const SequenceSet valid = symbols(3, 10);
  const Alphabet alphabet({"a", "b", "c", "d"});
  RnnOptions options;
  options.cell = CellType::lstm;
  options.hidden = 6;
  options.embedding = 3;
  options.batch = 5;
  options.window = 8;
  options.epochs = 4;
  options.learning_rate = 3e-2;
  options.dropout = 0.25;
  options.patience = 3;
  options.average_decay = 0.8;
  const test::ScratchDir dir;

  // One fit on every one of `ranks` in-process ranks; rank `stopper` raises its stop flag when
  // it reports update `stop_at` (0: never). Returns rank 0's result and checks that every rank
  // ends alike.
  const auto fit_on_ranks = [&](unsigned ranks, const std::filesystem::path& checkpoint,
                                double every, unsigned stopper, std::uint64_t stop_at,
                                const std::function<void(std::uint64_t)>& on_rank0_update = {}) {
    std::vector<RanksResult> results(ranks);
    test::run_ranks(ranks, [&](const Communicator& c) {
      RnnModel model(alphabet, options);
      std::atomic<bool> stop{false};
      FitOptions fit;
      fit.seed = 5;
      fit.threads = 2;
      fit.quiet = true;
      fit.communicator = &c;
      fit.checkpoint = checkpoint;
      fit.checkpoint_seconds = every;
      fit.stop = &stop;
      RanksResult& mine = results[c.rank()];
      FitObserver observer;
      observer.on_epoch = [&](const EpochRecord& r) { mine.history.push_back(r); };
      observer.on_update = [&](std::uint64_t updates) {
        if (c.rank() == stopper && updates == stop_at) stop = true;
        if (c.rank() == 0 && on_rank0_update) on_rank0_update(updates);
      };
      model.fit(train, &valid, fit, &observer);
      mine.parameters = model.network().params().values();
      mine.report = model.last_fit();
    });
    for (unsigned r = 1; r < ranks; ++r) require_same_fit(results[0], results[r]);
    return results[0];
  };

  const RanksResult straight = fit_on_ranks(2, {}, 0.0, 0, 0);
  REQUIRE(straight.report.updates > 12);

  SECTION("stopped by one rank's flag, then resumed by a fresh pair") {
    const std::filesystem::path file = dir / "ranks.ckpt";
    // Rank 1 alone is asked to stop: both ranks stop at the same window boundary.
    try {
      fit_on_ranks(2, file, 1e9, 1, 7);
      FAIL("fit() was not interrupted");
    } catch (const Interrupted& e) {
      CHECK(e.checkpoint() == file);
    }
    REQUIRE(std::filesystem::exists(file));
    const FitCheckpoint stored = read_checkpoint(file);
    CHECK(stored.ranks == 2);
    CHECK(stored.report.updates == 7);
    CHECK(stored.trainer.streams.size() == 4);  // 2 shards on each rank
    CHECK(stored.trainer.streams[0].streams() == 1);  // rank 0's 2 streams, rank 1's 3
    CHECK(stored.trainer.streams[3].streams() == 2);
    // The generators of the shards went on from 4 different seeds.
    for (std::size_t w = 1; w < 4; ++w) CHECK(stored.trainer.dropout[w] != stored.trainer.dropout[0]);
    const std::filesystem::path copy = dir / "copy.ckpt";
    std::filesystem::copy_file(file, copy);

    require_same_fit(straight, fit_on_ranks(2, file, 1e9, 0, 0));
    CHECK_FALSE(std::filesystem::exists(file));  // removed by rank 0 when the job completes

    // Another number of ranks cannot take the shards back: one line naming both counts.
    RnnModel alone(alphabet, options);
    FitOptions fit;
    fit.seed = 5;
    fit.threads = 2;
    fit.checkpoint = copy;
    CHECK_THROWS_WITH(alone.fit(train, &valid, fit, nullptr),
                      Contains(copy.string()) && Contains("written by 2 MPI ranks and this run is 1 process; "
                                   "continue it under mpirun -n 2"));
    std::string errors[3];
    test::run_ranks(3, [&](const Communicator& c) {
      RnnModel model(alphabet, options);
      FitOptions shared = fit;
      shared.communicator = &c;
      try {
        model.fit(train, &valid, shared, nullptr);
      } catch (const UserError& e) {
        errors[c.rank()] = e.what();
      }
    });
    CHECK_THAT(errors[0], Contains("written by 2 MPI ranks and this run is 3 MPI ranks"));
    CHECK(errors[1] == errors[0]);
    CHECK(errors[2] == errors[0]);
    CHECK(std::filesystem::exists(copy));  // a refused resume leaves the checkpoint alone
  }

  SECTION("checkpoints at every update leave the job alone; one taken mid-run continues it") {
    const std::filesystem::path file = dir / "every.ckpt";
    const std::filesystem::path copy = dir / "copy.ckpt";
    // When rank 0 reports update 9, the file holds the state before that update's window.
    const RanksResult every = fit_on_ranks(2, file, 0.0, 0, 0, [&](std::uint64_t updates) {
      if (updates == 9) std::filesystem::copy_file(file, copy);
    });
    require_same_fit(straight, every);
    CHECK_FALSE(std::filesystem::exists(file));
    REQUIRE(std::filesystem::exists(copy));
    CHECK(read_checkpoint(copy).report.updates == 8);
    require_same_fit(straight, fit_on_ranks(2, copy, 1e9, 0, 0));
  }
}

TEST_CASE("the job's shards, gathered from every rank, each have their own dropout generator",
          "[rnn][mpi][checkpoint]") {
  // 8 streams over 6 ranks of 2 threads: the ranks hold 1, 1, 2, 1, 1 and 2 streams, so 1, 1, 2,
  // 1, 1 and 2 shards. Shard j of the job (rank order) draws from the generator seeded with j,
  // as shard j of one process does: no two shards share one.
  NetworkConfig config;
  config.input_size = 3;
  config.embedding = 2;
  config.hidden = 2;
  const std::uint64_t seed = 77;
  std::vector<WindowTrainer<float>::State> states(6);
  std::vector<std::vector<ShardSpan>> layouts(6);
  test::run_ranks(6, [&](const Communicator& c) {
    WindowTrainer<float> trainer(config, 8, 2, OptimizerOptions{}, 0.0, seed, &c);
    states[c.rank()] = trainer.export_state();
    layouts[c.rank()] = trainer.job_shards();
  });
  for (unsigned r = 0; r < 6; ++r) {
    CAPTURE(r);
    REQUIRE(states[r].dropout.size() == 8);
    REQUIRE(layouts[r].size() == 8);
    for (std::size_t j = 0; j < 8; ++j) {
      CAPTURE(j);
      CHECK(layouts[r][j].first == j);
      CHECK(layouts[r][j].count == 1);  // a rank's 2 streams go to its 2 threads
      CHECK(states[r].streams[j].streams() == 1);
      CHECK(states[r].dropout[j] == make_rng(derive_seed(seed, j)));
    }
  }
  CHECK(rank_shards(8, 2, 2, 6).size() == 2);
  CHECK(rank_shards(8, 2, 4, 6).size() == 1);
}
