// tests/unit/test_checkpoint.cpp: RnnModel::fit checkpoints (rnn/checkpoint.hpp). A run stopped
// through FitOptions::stop (mid-epoch or at an epoch's end) and continued from its checkpoint
// ends with parameters, fit report and learning curve BITWISE equal to a run never stopped, for
// several cells, with early stopping, plateau cuts, dropout, averaging, a delay line, SGD
// momentum, frames and two threads; a checkpoint of the wrong run or a damaged file is refused
// with one line naming it.
#include <H5Cpp.h>

#include <atomic>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <string>
#include <type_traits>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/rnn/checkpoint.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "same_fit.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::rnn;
using Catch::Matchers::Contains;

static_assert(!std::is_base_of_v<UserError, Interrupted>,
              "an interruption must not be caught as a user error");

namespace {

Alphabet abcd() { return Alphabet({"a", "b", "c", "d"}); }

// Symbols with some structure (a noisy cycle), in sequences of uneven length so that streams
// end, restart and pause at different windows.
SequenceSet noisy_cycles(Rng& rng, const std::vector<arma::uword>& lengths) {
  std::vector<arma::uvec> sequences;
  for (const arma::uword n : lengths) {
    arma::uvec x(n);
    for (arma::uword t = 0; t < n; ++t)
      x(t) = uniform01(rng) < 0.8 ? t % 4 : uniform_index(rng, 4);
    sequences.push_back(x);
  }
  return test::symbol_set(sequences);
}

SequenceSet binary_frames(Rng& rng, const std::vector<arma::uword>& lengths, arma::uword d) {
  SequenceSet set;
  set.kind = SequenceKind::binary_frames;
  for (const arma::uword n : lengths) {
    arma::mat f(d, n, arma::fill::zeros);
    for (arma::uword t = 0; t < n; ++t)
      for (arma::uword i = 0; i < d; ++i)
        f(i, t) = (t + i) % 3 == 0 || uniform01(rng) < 0.1 ? 1.0 : 0.0;
    set.frames.push_back(f);
  }
  return set;
}

struct Case {
  std::string name;
  CellType cell = CellType::lstm;
  bool frames = false;
  bool with_valid = false;
  std::uint64_t patience = 0;
  bool plateau = false;
  double dropout = 0.0;
  double average = 0.0;
  arma::uword layers = 1;
  arma::uword delay = 0;
  bool sgd = false;
  unsigned threads = 1;
  // Where run B stops: after this many updates (mid-epoch), or at the end of this epoch
  // (1-based) when stop_at_update is 0.
  std::uint64_t stop_at_update = 0;
  std::uint64_t stop_after_epoch = 0;
};

struct Setup {
  SequenceSet train, valid;
  RnnOptions options;
  std::unique_ptr<RnnModel> model() const {
    if (train.kind == SequenceKind::symbols) return std::make_unique<RnnModel>(abcd(), options);
    return std::make_unique<RnnModel>(train.kind, train.frames.front().n_rows, options);
  }
  const SequenceSet* valid_split() const { return valid.empty() ? nullptr : &valid; }
};

Setup setup_for(const Case& c) {
  Rng rng = make_rng(20261207);
  Setup s;
  const std::vector<arma::uword> train_lengths{90, 41, 63, 17, 75, 30, 52};
  const std::vector<arma::uword> valid_lengths{40, 25};
  if (c.frames) {
    s.train = binary_frames(rng, train_lengths, 5);
    if (c.with_valid) s.valid = binary_frames(rng, valid_lengths, 5);
  } else {
    s.train = noisy_cycles(rng, train_lengths);
    if (c.with_valid) s.valid = noisy_cycles(rng, valid_lengths);
  }
  RnnOptions& o = s.options;
  o.cell = c.cell;
  o.hidden = 8;
  o.layers = c.layers;
  o.embedding = c.frames ? 0 : 4;
  o.window = 9;
  o.batch = 4;
  o.epochs = 6;
  o.learning_rate = 3e-2;
  o.patience = c.patience;
  o.reduce_on_plateau = c.plateau;
  o.plateau_patience = 0;
  o.dropout = c.dropout;
  o.average_decay = c.average;
  if (c.delay > 0) o.delay = c.delay;
  if (c.sgd) {
    o.optimizer = OptimizerKind::sgd;
    o.momentum = 0.9;
    o.learning_rate = 0.1;
  }
  return s;
}

using Outcome = test::FitOutcome;

// One fit() of the case; `stop` set by the observer at the case's stop point when `stopping`.
struct Run {
  const Setup& setup;
  const Case& c;
  std::filesystem::path checkpoint;
  double checkpoint_seconds = 1e9;

  Outcome operator()(bool stopping, std::function<void(std::uint64_t)> on_update = {}) const {
    std::unique_ptr<RnnModel> model = setup.model();
    std::atomic<bool> stop{false};
    FitOptions fit;
    fit.seed = 7;
    fit.threads = c.threads;
    fit.quiet = true;
    fit.checkpoint = checkpoint;
    fit.checkpoint_seconds = checkpoint_seconds;
    fit.stop = &stop;
    Outcome out;
    FitObserver observer;
    observer.on_epoch = [&](const EpochRecord& r) {
      out.history.push_back(r);
      if (stopping && c.stop_at_update == 0 && r.epoch == c.stop_after_epoch) stop = true;
    };
    observer.on_update = [&](std::uint64_t updates) {
      if (stopping && c.stop_at_update != 0 && updates == c.stop_at_update) stop = true;
      if (on_update) on_update(updates);
    };
    model->fit(setup.train, setup.valid_split(), fit, &observer);
    out.parameters = model->network().params().values();
    out.report = model->last_fit();
    return out;
  }
};

}  // namespace

TEST_CASE("a fit stopped and continued from its checkpoint equals one never stopped",
          "[checkpoint]") {
  Case base;
  base.stop_at_update = 23;  // mid-epoch: 6 epochs of about 14 windows
  const auto with = [&](std::string name, auto&& change) {
    Case x = base;
    x.name = std::move(name);
    change(x);
    return x;
  };
  const Case c = GENERATE_COPY(
      with("lstm, mid-epoch", [](Case&) {}),
      with("gru, at an epoch's end", [](Case& x) {
        x.cell = CellType::gru;
        x.stop_at_update = 0;
        x.stop_after_epoch = 2;
      }),
      with("lstm, valid and early stopping", [](Case& x) {
        x.with_valid = true;
        x.patience = 1;
        x.stop_at_update = 30;
      }),
      with("gru, valid, plateau and early stopping at an epoch's end", [](Case& x) {
        x.cell = CellType::gru;
        x.with_valid = true;
        x.patience = 3;
        x.plateau = true;
        x.stop_at_update = 0;
        x.stop_after_epoch = 3;
      }),
      with("2-layer lstm, dropout", [](Case& x) {
        x.layers = 2;
        x.dropout = 0.3;
      }),
      with("lstm, averaging, valid", [](Case& x) {
        x.average = 0.9;
        x.with_valid = true;
        x.patience = 2;
      }),
      with("rnn with a delay line, sgd momentum", [](Case& x) {
        x.cell = CellType::elman;
        x.delay = 3;
        x.sgd = true;
      }),
      with("lstm on binary frames, valid", [](Case& x) {
        x.frames = true;
        x.with_valid = true;
        x.patience = 2;
      }),
      with("lstm, 2 threads, dropout", [](Case& x) {
        x.threads = 2;
        x.dropout = 0.2;
      }),
      with("gru, 2 threads, averaging, at an epoch's end", [](Case& x) {
        x.cell = CellType::gru;
        x.threads = 2;
        x.average = 0.8;
        x.stop_at_update = 0;
        x.stop_after_epoch = 1;
      }),
      with("lstm, stopped before the first update", [](Case& x) { x.stop_at_update = 0; }));
  CAPTURE(c.name);

  const Setup setup = setup_for(c);
  const test::ScratchDir dir;
  const std::filesystem::path file = dir / "fit.ckpt";
  const Outcome a = Run{setup, c, {}}(false);
  REQUIRE(a.report.updates > 30);

  // B: stopped, checkpoint written; C: continued from it.
  const Run with_checkpoint{setup, c, file};
  if (c.stop_at_update == 0 && c.stop_after_epoch == 0) {
    // Stopped before anything: the flag is up from the start.
    std::unique_ptr<RnnModel> model = setup.model();
    std::atomic<bool> stop{true};
    FitOptions fit;
    fit.seed = 7;
    fit.threads = c.threads;
    fit.checkpoint = file;
    fit.stop = &stop;
    CHECK_THROWS_AS(model->fit(setup.train, setup.valid_split(), fit, nullptr), Interrupted);
  } else {
    try {
      with_checkpoint(true);
      FAIL("fit() was not interrupted");
    } catch (const Interrupted& e) {
      CHECK(e.checkpoint() == file);
      CHECK_THAT(e.what(), Contains("training stopped at epoch") && Contains(file.string()));
    }
  }
  REQUIRE(std::filesystem::exists(file));
  const FitCheckpoint stored = read_checkpoint(file);
  if (c.stop_at_update != 0) {
    CHECK(stored.report.updates == c.stop_at_update);
    CHECK(stored.epoch_windows > 0);  // mid-epoch
  } else {
    CHECK(stored.epoch_windows == 0);
  }

  const Outcome resumed = with_checkpoint(false);
  test::require_same_fit(a, resumed);
  CHECK_FALSE(std::filesystem::exists(file));  // removed when fit() completes
  // The resumed run's seconds go on from those of the first session.
  for (std::size_t i = 1; i < resumed.history.size(); ++i)
    CHECK(resumed.history[i].seconds >= resumed.history[i - 1].seconds);
}

TEST_CASE("a fit stopped twice, and one resumed from a periodic checkpoint, equal one never "
          "stopped", "[checkpoint]") {
  Case c;
  c.cell = CellType::lstm;
  c.with_valid = true;
  c.patience = 2;
  c.dropout = 0.1;
  const Setup setup = setup_for(c);
  const test::ScratchDir dir;
  const Outcome a = Run{setup, c, {}}(false);

  SECTION("two stops") {
    const std::filesystem::path file = dir / "twice.ckpt";
    Case first = c, second = c;
    first.stop_at_update = 11;
    second.stop_at_update = 40;
    CHECK_THROWS_AS(Run({setup, first, file})(true), Interrupted);
    CHECK_THROWS_AS(Run({setup, second, file})(true), Interrupted);
    CHECK(read_checkpoint(file).report.updates == 40);
    test::require_same_fit(a, Run{setup, c, file}(false));
  }

  SECTION("checkpoints at every update leave the result alone; a copy of one taken mid-run "
          "continues like a run killed there") {
    const std::filesystem::path file = dir / "every.ckpt";
    const std::filesystem::path copy = dir / "copy.ckpt";
    Run every{setup, c, file, 0.0};
    // When update 29 is reported, the file holds the state before its window: a kill -9 at this
    // moment would leave exactly this file.
    const Outcome b = every(false, [&](std::uint64_t updates) {
      if (updates == 29) std::filesystem::copy_file(file, copy);
    });
    test::require_same_fit(a, b);
    CHECK_FALSE(std::filesystem::exists(file));
    REQUIRE(std::filesystem::exists(copy));
    CHECK(read_checkpoint(copy).report.updates == 28);
    test::require_same_fit(a, Run{setup, c, copy}(false));
  }
}

TEST_CASE("stop without a checkpoint throws Interrupted naming none", "[checkpoint]") {
  Case c;
  const Setup setup = setup_for(c);
  std::unique_ptr<RnnModel> model = setup.model();
  std::atomic<bool> stop{false};
  FitOptions fit;
  fit.stop = &stop;
  FitObserver observer;
  observer.on_update = [&](std::uint64_t updates) { stop = updates >= 3; };
  try {
    model->fit(setup.train, nullptr, fit, &observer);
    FAIL("fit() was not interrupted");
  } catch (const Interrupted& e) {
    CHECK(e.checkpoint().empty());
    CHECK_THAT(e.what(), Contains("no checkpoint"));
  }
  fit.checkpoint_seconds = -1;
  CHECK_THROWS_AS(model->fit(setup.train, nullptr, fit, nullptr), UserError);
}

TEST_CASE("a checkpoint of another run, or a damaged one, is refused in one line naming it",
          "[checkpoint]") {
  Case c;
  c.stop_at_update = 5;
  c.with_valid = true;
  c.patience = 2;
  const Setup setup = setup_for(c);
  const test::ScratchDir dir;
  const std::filesystem::path file = dir / "run.ckpt";
  CHECK_THROWS_AS(Run({setup, c, file})(true), Interrupted);
  REQUIRE(std::filesystem::exists(file));

  const auto refused = [&](const std::function<void()>& fit, const std::string& expected) {
    try {
      fit();
      FAIL("no error");
    } catch (const UserError& e) {
      const std::string m = e.what();
      CAPTURE(m);
      CHECK(m.rfind(file.string() + ": ", 0) == 0);
      CHECK(m.find('\n') == std::string::npos);
      CHECK_THAT(m, Contains(expected));
    }
  };
  const auto fit_with = [&](const Setup& s, std::uint64_t seed, unsigned threads,
                            const std::filesystem::path& checkpoint) {
    return [&s, seed, threads, checkpoint] {
      std::unique_ptr<RnnModel> model = s.model();
      FitOptions fit;
      fit.seed = seed;
      fit.threads = threads;
      fit.checkpoint = checkpoint;
      model->fit(s.train, s.valid_split(), fit, nullptr);
    };
  };

  SECTION("other settings, seed, threads or data") {
    refused(fit_with(setup, 8, 1, file), "made with seed = 7, this run has seed = 8");
    refused(fit_with(setup, 7, 2, file), "threads = 1, this run has threads = 2");
    Setup wider = setup;
    wider.options.hidden = 9;
    refused(fit_with(wider, 7, 1, file), "hidden = 8, this run has hidden = 9");
    Setup rate = setup;
    rate.options.learning_rate = 0.5;
    refused(fit_with(rate, 7, 1, file), "learning_rate");
    Setup other_data = setup;
    other_data.train.symbols[0](0) = (other_data.train.symbols[0](0) + 1) % 4;
    refused(fit_with(other_data, 7, 1, file), "train_data");
    Setup no_valid = setup;
    no_valid.valid = SequenceSet();
    refused(fit_with(no_valid, 7, 1, file), "valid_data");
    CHECK(std::filesystem::exists(file));  // a refused checkpoint is left alone
  }
  SECTION("damaged files") {
    const std::filesystem::path bad = dir / "bad.ckpt";
    const std::string bytes = test::read_file(file);
    // refused() expects messages that name `file`: damage copies of it in place.
    test::write_file(bad, bytes.substr(0, bytes.size() / 2));
    std::filesystem::rename(bad, file);
    refused(fit_with(setup, 7, 1, file), "");
    test::write_file(file, "not a checkpoint at all\n");
    refused(fit_with(setup, 7, 1, file), "not an HDF5 file");
    std::unique_ptr<RnnModel> model = setup.model();
    save_model(file, *model);
    refused(fit_with(setup, 7, 1, file), "not a seqlab checkpoint");
  }
}

TEST_CASE("checkpoint state round-trips through the file exactly", "[checkpoint]") {
  Case c;
  c.cell = CellType::gru;
  c.stop_at_update = 17;
  c.with_valid = true;
  c.patience = 3;
  c.plateau = true;
  c.average = 0.5;
  c.dropout = 0.2;
  c.threads = 2;
  const Setup setup = setup_for(c);
  const test::ScratchDir dir;
  const std::filesystem::path file = dir / "state.ckpt";
  CHECK_THROWS_AS(Run({setup, c, file})(true), Interrupted);
  const FitCheckpoint a = read_checkpoint(file);
  const std::filesystem::path again = dir / "again.ckpt";
  write_checkpoint(again, a);
  const FitCheckpoint b = read_checkpoint(again);
  CHECK(a.fingerprint.size() == b.fingerprint.size());
  CHECK(arma::approx_equal(a.parameters, b.parameters, "absdiff", 0.0f));
  CHECK(arma::approx_equal(a.trainer.optimizer.first, b.trainer.optimizer.first, "absdiff", 0.0f));
  CHECK(arma::approx_equal(a.trainer.optimizer.second, b.trainer.optimizer.second, "absdiff", 0.0f));
  REQUIRE(b.trainer.dropout.size() == 2);
  CHECK(a.trainer.dropout == b.trainer.dropout);
  REQUIRE(a.average.has_value());
  REQUIRE(b.average.has_value());
  CHECK(arma::approx_equal(a.average->sum, b.average->sum, "absdiff", 0.0));
  CHECK(a.average->weight == b.average->weight);
  REQUIRE(b.plateau.has_value());
  REQUIRE(b.stopping.has_value());
  CHECK(a.stopping->best_parameters.n_elem == b.stopping->best_parameters.n_elem);
  CHECK(a.history.size() == b.history.size());
  CHECK(a.report.updates == 17);
}
