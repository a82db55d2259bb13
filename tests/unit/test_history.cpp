// tests/unit/test_history.cpp: training histories. The `history/` group of a model file (round
// trip bit for bit, NaN and infinities kept, damaged groups refused by name), and the records
// every model family's fit() reports through FitObserver::on_epoch, checked against numbers
// computed independently of the training loop.
#include <H5Cpp.h>

#include <cmath>
#include <cstdlib>
#include <limits>
#include <regex>

#include "seqlab/core/error.hpp"
#include "seqlab/io/history.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/hmm/frame_hmm.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "seqlab/models/rnn/task_model.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
constexpr double kInf = std::numeric_limits<double>::infinity();

// Equal as stored: the same bits for numbers, NaN for NaN.
bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void require_same_records(const TrainingHistory& got, const TrainingHistory& want) {
  REQUIRE(got.size() == want.size());
  for (std::size_t i = 0; i < got.size(); ++i) {
    CAPTURE(i);
    CHECK(got[i].epoch == want[i].epoch);
    CHECK(got[i].restart == want[i].restart);
    CHECK(got[i].updates == want[i].updates);
    CHECK(same(got[i].seconds, want[i].seconds));
    CHECK(same(got[i].train_nll, want[i].train_nll));
    CHECK(same(got[i].valid_nll, want[i].valid_nll));
    CHECK(same(got[i].learning_rate, want[i].learning_rate));
    CHECK(same(got[i].gradient_norm, want[i].gradient_norm));
    CHECK(same(got[i].log_likelihood_change, want[i].log_likelihood_change));
  }
}

MarkovChain small_markov() {
  MarkovChain m(Alphabet({"a", "b", "c"}), MarkovOptions{1, MarkovOptions::Smoothing::add_alpha, 1.0});
  m.fit(test::symbol_set({arma::uvec{0, 1, 2, 0, 1, 2, 2, 1}}), nullptr, FitOptions{}, nullptr);
  return m;
}

}  // namespace

TEST_CASE("a training history survives a model file bit for bit, NaN and infinities included",
          "[history]") {
  test::ScratchDir dir;
  TrainingHistory history(3);
  history[0] = {1, 0, 0, 0.25, 1.0986122886681098, kNaN, kNaN, kNaN, kNaN};
  history[1] = {2, 0, 1, 0.5, 1.0 / 3.0, kInf, 2e-3, 0.7, -0.0};
  history[2] = {1, 1, 1, 0.75, 0.1, 0.2, kNaN, kNaN, -kInf};
  const MarkovChain model = small_markov();
  save_model(dir / "m.h5", model, &history);
  require_same_records(load_history(dir / "m.h5"), history);
  // The parameters are untouched by the extra group.
  const auto loaded = load_model(dir / "m.h5");
  const arma::uvec probe = {2, 1, 0};
  CHECK(loaded->log_likelihood(probe) == model.log_likelihood(probe));
  {
    H5::H5File f((dir / "m.h5").string(), H5F_ACC_RDONLY);
    std::string unit;
    (void)read_history(f.openGroup("/"), &unit);
    CHECK(unit == "symbol");
  }

  SECTION("an empty history is an empty group, and no history reads as empty") {
    const TrainingHistory none;
    save_model(dir / "empty.h5", model, &none);
    CHECK(load_history(dir / "empty.h5").empty());
    H5::H5File f((dir / "empty.h5").string(), H5F_ACC_RDONLY);
    CHECK(has_history(f.openGroup("/")));
    save_model(dir / "without.h5", model);
    CHECK(load_history(dir / "without.h5").empty());
  }
  SECTION("columns of different lengths are refused, naming the dataset") {
    {
      H5::H5File f((dir / "m.h5").string(), H5F_ACC_RDWR);
      H5::Group h = f.openGroup("history");
      h.unlink("valid_nll");
      const hsize_t n = 2;
      const double values[2] = {0.0, 1.0};
      h.createDataSet("valid_nll", H5::PredType::IEEE_F64LE, H5::DataSpace(1, &n))
          .write(values, H5::PredType::NATIVE_DOUBLE);
    }
    CHECK_THROWS_WITH(load_history(dir / "m.h5"),
                      Contains("/history/valid_nll") && Contains("has 2 elements, expected 3"));
  }
  SECTION("a missing column is refused, naming it") {
    {
      H5::H5File f((dir / "m.h5").string(), H5F_ACC_RDWR);
      f.openGroup("history").unlink("updates");
    }
    CHECK_THROWS_WITH(load_history(dir / "m.h5"), Contains("updates"));
  }
}

TEST_CASE("a Markov chain reports one record whose NLLs are evaluate()'s", "[history][markov]") {
  Rng rng = make_rng(3);
  const auto random_text = [&](arma::uword n) {
    arma::uvec x(n);
    for (auto& v : x) v = uniform_index(rng, 3);
    return x;
  };
  const SequenceSet train = test::symbol_set({random_text(300), random_text(120)});
  const SequenceSet valid = test::symbol_set({random_text(80)});
  MarkovChain model(Alphabet({"a", "b", "c"}), MarkovOptions{2, MarkovOptions::Smoothing::kneser_ney, 1.0});
  TrainingHistory history;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  model.fit(train, &valid, FitOptions{}, &observer);
  REQUIRE(history.size() == 1);
  const EpochRecord& r = history[0];
  CHECK(r.epoch == 1);
  CHECK(r.restart == 0);
  CHECK(r.updates == 1);
  CHECK(r.seconds >= 0.0);
  CHECK(r.train_nll == evaluate(model, train).nats_per_symbol());
  CHECK(r.valid_nll == evaluate(model, valid).nats_per_symbol());
  // Not a constant: a chain fitted to its training data scores it better than the valid split.
  CHECK(r.train_nll < r.valid_nll);
  CHECK(std::isnan(r.learning_rate));
  CHECK(std::isnan(r.gradient_norm));
  CHECK(std::isnan(r.log_likelihood_change));

  SECTION("without a valid split the valid NLL is not measured") {
    history.clear();
    model.fit(train, nullptr, FitOptions{}, &observer);
    REQUIRE(history.size() == 1);
    CHECK(std::isnan(history[0].valid_nll));
    CHECK(history[0].train_nll == evaluate(model, train).nats_per_symbol());
  }
}

namespace {

// Symbols drawn from a 2-state HMM over "abcd" whose states prefer {a, b} and {c, d}.
std::vector<arma::uvec> hmm_symbols(arma::uword sequences, arma::uword length, Rng& rng) {
  const Hmm<CategoricalEmission> truth(
      arma::vec{0.5, 0.5}, arma::mat{{0.9, 0.1}, {0.15, 0.85}},
      CategoricalEmission(arma::mat{{0.5, 0.4, 0.05, 0.05}, {0.05, 0.05, 0.3, 0.6}}));
  std::vector<arma::uvec> out;
  for (arma::uword s = 0; s < sequences; ++s) out.push_back(truth.sample(length, rng).observations);
  return out;
}

SequenceSet symbols_of(std::vector<arma::uvec> sequences) {
  SequenceSet set;
  set.kind = SequenceKind::symbols;
  set.symbols = std::move(sequences);
  return set;
}

}  // namespace

TEST_CASE("Baum-Welch reports every E-step pass with the parameters it scored", "[history][hmm]") {
  Rng rng = make_rng(11);
  const std::vector<arma::uvec> data = hmm_symbols(4, 120, rng);
  Hmm<CategoricalEmission> hmm(arma::vec{0.3, 0.7}, arma::mat{{0.6, 0.4}, {0.5, 0.5}},
                               CategoricalEmission(arma::mat{{0.1, 0.2, 0.3, 0.4},
                                                             {0.4, 0.3, 0.2, 0.1}}));
  TrainOptions options;
  options.max_iterations = 6;
  options.tolerance = 0.0;
  options.restarts = 2;
  std::vector<EmPass> passes;
  std::vector<double> independent;  // log p(data) of each scored HMM, by the log-space forward
  const FitResult result =
      hmm.fit(data, options, FitOptions{}, [&](const EmPass& p, const Hmm<CategoricalEmission>& h) {
        passes.push_back(p);
        double ll = 0.0;
        for (const arma::uvec& x : data) ll += h.log_likelihood_log_space(x);
        independent.push_back(ll);
      });
  REQUIRE(passes.size() == 2 * 7);
  for (std::size_t i = 0; i < passes.size(); ++i) {
    CAPTURE(i);
    const EmPass& p = passes[i];
    CHECK(p.restart == i / 7);
    CHECK(p.pass == i % 7);
    CHECK(p.final == (p.pass == 6));
    CHECK(p.log_likelihood == result.restarts[p.restart].log_likelihood[p.pass]);
    CHECK_THAT(p.log_likelihood, WithinRel(independent[i], 1e-10));
    if (p.pass == 0)
      CHECK(std::isnan(p.change));
    else
      CHECK(p.change == p.log_likelihood - passes[i - 1].log_likelihood);
  }
}

TEST_CASE("an HMM fit records every EM pass of every restart", "[history][hmm]") {
  Rng rng = make_rng(12);
  const SequenceSet train = symbols_of(hmm_symbols(5, 150, rng));
  const SequenceSet valid = symbols_of(hmm_symbols(2, 100, rng));
  CategoricalHmmOptions options;
  options.states = 2;
  options.train.max_iterations = 7;
  options.train.tolerance = 0.0;  // all 7 iterations
  options.train.restarts = 3;
  CategoricalHmm model(Alphabet({"a", "b", "c", "d"}), options);
  FitOptions fit;
  fit.seed = 4;
  TrainingHistory history;
  std::vector<std::string> progress;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  observer.on_message = [&](const std::string& m) {
    if (!m.empty() && m[0] == '\r') progress.push_back(m);
  };
  model.fit(train, &valid, fit, &observer);
  const FitResult& result = model.last_fit();
  const double steps = static_cast<double>(train.total_steps());

  // 8 passes (7 iterations and the final score) per restart.
  REQUIRE(result.restarts.size() == 3);
  REQUIRE(history.size() == 3 * 8);
  for (std::size_t i = 0; i < history.size(); ++i) {
    CAPTURE(i);
    const EpochRecord& r = history[i];
    const arma::uword restart = i / 8, pass = i % 8;
    CHECK(r.restart == restart);
    CHECK(r.epoch == pass + 1);
    CHECK(r.updates == 7 * restart + pass);
    CHECK(r.train_nll == -result.restarts[restart].log_likelihood[pass] / steps);
    if (pass == 0) {
      CHECK(std::isnan(r.log_likelihood_change));
    } else {
      // The change is the difference of consecutive total log-likelihoods.
      CHECK_THAT(r.log_likelihood_change,
                 WithinAbs(-(r.train_nll - history[i - 1].train_nll) * steps, 1e-9));
      CHECK(history[i - 1].updates <= r.updates);
      CHECK(history[i - 1].seconds <= r.seconds);
    }
    CHECK(std::isfinite(r.valid_nll));  // scored at every pass: a valid learning curve
    CHECK(std::isnan(r.learning_rate));
    CHECK(std::isnan(r.gradient_norm));
  }
  // The kept restart's last record describes the fitted model.
  const EpochRecord& kept = history[8 * result.best_restart + 7];
  CHECK_THAT(kept.train_nll, WithinRel(evaluate(model, train).nats_per_symbol(), 1e-12));
  CHECK_THAT(kept.valid_nll, WithinRel(evaluate(model, valid).nats_per_symbol(), 1e-12));
  // Different restarts end in different places (not one record copied three times).
  CHECK(history[7].train_nll != history[15].train_nll);

  // One progress line per pass, overwritten on a terminal and kept in a log.
  REQUIRE(progress.size() == history.size());
  const std::regex line(
      "\rhmm: restart [0-2], iteration [0-7]/7: LL -[0-9]+\\.[0-9]{6} nats/symbol, change "
      "(n/a|[-+][0-9]\\.[0-9]{3}e[-+][0-9]+ nats), [0-9.e+-]+ s/iteration, ETA [0-9.]+s\n");
  for (const std::string& m : progress) {
    CAPTURE(m);
    CHECK(std::regex_match(m, line));
  }
  CHECK(progress[9].find("restart 1, iteration 1/7: LL " + std::to_string(-history[9].train_nll) +
                         " nats/symbol") != std::string::npos);

  SECTION("quiet: records, but no progress lines") {
    fit.quiet = true;
    history.clear();
    progress.clear();
    model.fit(train, &valid, fit, &observer);
    CHECK(history.size() == 3 * 8);
    CHECK(progress.empty());
  }
}

TEST_CASE("a valid split the HMM gives probability 0 is recorded as an infinite NLL",
          "[history][hmm]") {
  // Training never shows 'd': after the first M-step every state emits it with probability 0.
  Rng rng = make_rng(13);
  std::vector<arma::uvec> sequences = hmm_symbols(3, 100, rng);
  for (arma::uvec& x : sequences) x.elem(arma::find(x == 3)).fill(2);
  const SequenceSet train = symbols_of(sequences);
  const SequenceSet valid = symbols_of({arma::uvec{0, 1, 3, 2}});
  CategoricalHmmOptions options;
  options.states = 2;
  options.train.max_iterations = 3;
  CategoricalHmm model(Alphabet({"a", "b", "c", "d"}), options);
  TrainingHistory history;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  model.fit(train, &valid, FitOptions{}, &observer);
  REQUIRE_FALSE(history.empty());
  CHECK(history.back().valid_nll == kInf);
  CHECK(std::isfinite(history.back().train_nll));
  test::ScratchDir dir;
  save_model(dir / "hmm.h5", model, &history);
  require_same_records(load_history(dir / "hmm.h5"), history);
}

TEST_CASE("an HMM time budget ends the restart in progress and skips the rest",
          "[history][hmm]") {
  Rng rng = make_rng(14);
  const SequenceSet train = symbols_of(hmm_symbols(4, 200, rng));
  CategoricalHmmOptions options;
  options.states = 3;
  options.train.max_iterations = 500;
  options.train.tolerance = 0.0;
  options.train.restarts = 3;
  options.train.max_seconds = 1e-9;  // used up by the time the first iteration ends
  CategoricalHmm model(Alphabet({"a", "b", "c", "d"}), options);
  TrainingHistory history;
  std::vector<std::string> lines;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  observer.on_message = [&](const std::string& m) {
    if (m.empty() || m[0] != '\r') lines.push_back(m);
  };
  FitOptions fit;
  fit.quiet = true;
  model.fit(train, nullptr, fit, &observer);
  const FitResult& result = model.last_fit();
  // One iteration (E-step, M-step) and the pass that scores its result; restarts 1 and 2 never
  // start.
  REQUIRE(result.restarts.size() == 1);
  CHECK(result.restarts_skipped == 2);
  CHECK(result.restarts[0].iterations == 1);
  CHECK(result.restarts[0].out_of_time);
  CHECK_FALSE(result.restarts[0].converged);
  REQUIRE(history.size() == 2);
  CHECK(history[1].updates == 1);
  CHECK_THAT(history[1].train_nll, WithinRel(evaluate(model, train).nats_per_symbol(), 1e-12));
  // The log says what the budget did.
  REQUIRE(lines.size() >= 1);
  CHECK_THAT(lines[0], Contains("time budget of 1e-09 s was used up in restart 0 after 1 "
                                "iteration; restarts 1 to 2 were not started"));
  CHECK_THAT(lines[1], Contains("stopped by the time budget"));

  SECTION("frame HMMs share the rule") {
    FrameHmmOptions fo;
    fo.states = 2;
    fo.train = options.train;
    FrameHmm frames(2, fo);
    SequenceSet vectors;
    vectors.kind = SequenceKind::vectors;
    for (int s = 0; s < 3; ++s) {
      arma::mat x(2, 50);
      for (double& v : x) v = standard_normal(rng);
      vectors.frames.push_back(x);
    }
    history.clear();
    frames.fit(vectors, nullptr, fit, &observer);
    CHECK(frames.last_fit().restarts.size() == 1);
    CHECK(frames.last_fit().restarts_skipped == 2);
    CHECK(history.size() == 2);
  }
  SECTION("the budget must be a finite number >= 0") {
    Hmm<CategoricalEmission> hmm = model.hmm();
    TrainOptions bad;
    bad.max_seconds = -1.0;
    CHECK_THROWS_WITH(hmm.fit(train.symbols, bad), Contains("max_seconds must be a finite number"));
  }
}

TEST_CASE("a frame HMM records its restarts and scores the valid split at every pass",
          "[history][hmm]") {
  Rng rng = make_rng(15);
  SequenceSet train, valid;
  train.kind = valid.kind = SequenceKind::vectors;
  for (int s = 0; s < 5; ++s) {
    arma::mat x(2, 60);
    for (arma::uword t = 0; t < x.n_cols; ++t) {
      const bool second = (t / 15) % 2 == 1;
      x(0, t) = (second ? 3.0 : -2.0) + 0.5 * standard_normal(rng);
      x(1, t) = (second ? 1.0 : 0.0) + 0.5 * standard_normal(rng);
    }
    (s < 4 ? train : valid).frames.push_back(x);
  }
  FrameHmmOptions options;
  options.states = 2;
  options.train.max_iterations = 5;
  options.train.tolerance = 0.0;
  options.train.restarts = 2;
  FrameHmm model(2, options);
  TrainingHistory history;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  FitOptions fit;
  fit.seed = 8;
  model.fit(train, &valid, fit, &observer);
  REQUIRE(history.size() == 2 * 6);
  for (std::size_t i = 0; i < history.size(); ++i) {
    CAPTURE(i);
    CHECK(history[i].restart == i / 6);
    CHECK(history[i].epoch == i % 6 + 1);
    CHECK(history[i].updates == 5 * (i / 6) + i % 6);
    CHECK(std::isfinite(history[i].valid_nll));
  }
  const EpochRecord& kept = history[6 * model.last_fit().best_restart + 5];
  CHECK_THAT(kept.train_nll, WithinRel(evaluate(model, train).nats_per_symbol(), 1e-12));
  CHECK_THAT(kept.valid_nll, WithinRel(evaluate(model, valid).nats_per_symbol(), 1e-12));
  test::ScratchDir dir;
  save_model(dir / "frames.h5", model, &history);
  std::string unit;
  {
    H5::H5File f((dir / "frames.h5").string(), H5F_ACC_RDONLY);
    require_same_records(read_history(f.openGroup("/"), &unit), history);
  }
  CHECK(unit == "frame");
}

namespace {

arma::uvec random_text(arma::uword n, arma::uword v, Rng& rng) {
  arma::uvec x(n);
  for (auto& s : x) s = uniform_index(rng, v);
  return x;
}

// The number after `label` in a progress line ("valid NLL 1.2345 nats" -> 1.2345), or NaN.
double number_after(const std::string& line, const std::string& label) {
  const auto at = line.find(label);
  if (at == std::string::npos) return std::numeric_limits<double>::quiet_NaN();
  return std::strtod(line.c_str() + at + label.size(), nullptr);
}

}  // namespace

TEST_CASE("a network records each epoch with the numbers of its progress line",
          "[history][rnn]") {
  Rng rng = make_rng(21);
  const SequenceSet train = test::symbol_set({random_text(400, 4, rng)});
  const SequenceSet valid = test::symbol_set({random_text(120, 4, rng)});
  RnnOptions options;
  options.cell = rnn::CellType::lstm;
  options.hidden = 8;
  options.window = 10;
  options.batch = 4;
  options.epochs = 4;
  options.learning_rate = 1e-2;
  options.patience = 0;
  const auto train_with = [&](const RnnOptions& o, TrainingHistory& history,
                              std::vector<std::string>& epoch_lines) {
    RnnModel model(Alphabet({"a", "b", "c", "d"}), o);
    FitObserver observer;
    observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
    observer.on_message = [&](const std::string& m) {
      if (m.find(": epoch ") != std::string::npos && m.find("ETA") != std::string::npos &&
          m[0] != '\r')
        epoch_lines.push_back(m);
    };
    FitOptions fit;
    fit.seed = 2;
    fit.quiet = true;
    model.fit(train, &valid, fit, &observer);
    return model;
  };

  SECTION("constant rate, valid checked every epoch") {
    TrainingHistory history;
    std::vector<std::string> lines;
    const RnnModel model = train_with(options, history, lines);
    const RnnFitReport& report = model.last_fit();
    REQUIRE(history.size() == 4);
    REQUIRE(report.epochs == 4);
    REQUIRE(lines.size() == 4);
    for (std::size_t i = 0; i < history.size(); ++i) {
      CAPTURE(i, lines[i]);
      const EpochRecord& r = history[i];
      CHECK(r.epoch == i + 1);
      CHECK(r.restart == 0);
      CHECK(r.updates == (i + 1) * 10);  // 400 steps in 4 streams of 10-step windows
      CHECK(r.learning_rate == 1e-2);
      CHECK(std::isfinite(r.gradient_norm));
      CHECK(r.gradient_norm > 0.0);
      if (i > 0) CHECK(r.seconds >= history[i - 1].seconds);
      // The numbers the log line shows, as it rounds them.
      CHECK_THAT(number_after(lines[i], "train NLL "), WithinAbs(r.train_nll, 5.1e-5));
      CHECK_THAT(number_after(lines[i], "valid NLL "), WithinAbs(r.valid_nll, 5.1e-5));
      CHECK(std::isnan(r.log_likelihood_change));
    }
    CHECK(history.back().updates == report.updates);
    CHECK(history.back().train_nll == report.train_nll);
    // The last epoch's parameters are the model's (no early stopping): its float64 score is the
    // float32 check up to rounding.
    CHECK_THAT(evaluate(model, valid).nats_per_symbol(), WithinRel(history.back().valid_nll, 1e-5));
    test::ScratchDir dir;
    save_model(dir / "lstm.h5", model, &history);
    require_same_records(load_history(dir / "lstm.h5"), history);
  }
  SECTION("a step schedule and valid checks every third epoch") {
    RnnOptions o = options;
    o.schedule = rnn::ScheduleKind::step;
    o.lr_gamma = 0.5;
    o.valid_every = 3;
    TrainingHistory history;
    std::vector<std::string> lines;
    (void)train_with(o, history, lines);
    REQUIRE(history.size() == 4);
    for (std::size_t i = 0; i < history.size(); ++i) {
      CAPTURE(i);
      // The rate of the last update of epoch i: halved after every epoch.
      CHECK(history[i].learning_rate == 1e-2 * std::pow(0.5, static_cast<double>(i)));
      // Scored after epoch 3 and the last (4).
      CHECK(std::isnan(history[i].valid_nll) == (i < 2));
    }
  }
}

TEST_CASE("a task model records each epoch's objective, and its file keeps them",
          "[history][rnn]") {
  Rng rng = make_rng(22);
  SequenceSet train, valid;
  train.kind = valid.kind = SequenceKind::symbols;
  for (int s = 0; s < 40; ++s) {
    const arma::uvec x = random_text(6 + s % 5, 3, rng);
    (s < 32 ? train : valid).symbols.push_back(x);
    (s < 32 ? train : valid).labels.push_back(x(0) == 0 ? 1 : 0);
  }
  RnnTaskOptions o;
  o.cell = rnn::CellType::gru;
  o.hidden = 6;
  o.batch = 8;
  o.epochs = 3;
  o.learning_rate = 5e-3;
  o.patience = 0;
  RnnTaskModel model(rnn::Task::classify, Alphabet({"a", "b", "c"}), 2, o);
  TrainingHistory history;
  std::vector<std::string> lines;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { history.push_back(r); };
  observer.on_message = [&](const std::string& m) {
    if (m.find(": epoch ") != std::string::npos) lines.push_back(m);
  };
  FitOptions fit;
  fit.seed = 3;
  model.fit(train, &valid, fit, &observer);
  REQUIRE(history.size() == 3);
  REQUIRE(lines.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CAPTURE(i, lines[i]);
    CHECK(history[i].epoch == i + 1);
    CHECK(history[i].updates == 4 * (i + 1));  // 32 sequences in minibatches of 8
    CHECK(history[i].learning_rate == 5e-3);
    CHECK(history[i].gradient_norm > 0.0);
    CHECK_THAT(number_after(lines[i], "train label NLL "), WithinAbs(history[i].train_nll, 5.1e-6));
    CHECK_THAT(number_after(lines[i], "valid label NLL "), WithinAbs(history[i].valid_nll, 5.1e-6));
  }
  // Scored in float64 on the last epoch's parameters: exactly evaluate()'s objective.
  CHECK(history.back().valid_nll == model.evaluate(valid).objective());
  test::ScratchDir dir;
  save_task_model(dir / "task.h5", model, &history);
  require_same_records(load_history(dir / "task.h5"), history);
  const auto unit_of = [](const fs::path& path) {
    H5::H5File f(path.string(), H5F_ACC_RDONLY);
    std::string unit;
    (void)read_history(f.openGroup("/"), &unit);
    return unit;
  };
  CHECK(unit_of(dir / "task.h5") == "sequence");

  // Regression: the NLL columns hold the MSE, and the unit says so.
  SequenceSet targets;
  targets.kind = SequenceKind::symbols;
  targets.symbols = train.symbols;
  for (const arma::uvec& x : targets.symbols) targets.targets.push_back(arma::vec{double(x(0))});
  RnnTaskModel regress(rnn::Task::regress, Alphabet({"a", "b", "c"}), 1, o);
  TrainingHistory mse;
  observer.on_epoch = [&](const EpochRecord& r) { mse.push_back(r); };
  regress.fit(targets, nullptr, fit, &observer);
  REQUIRE(mse.size() == 3);
  CHECK(std::isnan(mse.back().valid_nll));
  save_task_model(dir / "regress.h5", regress, &mse);
  require_same_records(load_history(dir / "regress.h5"), mse);
  CHECK(unit_of(dir / "regress.h5") == "squared_error");
}
