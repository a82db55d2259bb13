// tests/unit/test_results.cpp: run files (every field round trips, NaN where it means "not
// measured", the stored model scores as the original), damaged run files, and the summary of a
// results folder (results.h5, results.csv, skipped files with warnings).
#include <H5Cpp.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <sstream>

#include "seqlab/core/error.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/io/results_file.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/rnn/task_model.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
namespace fs = std::filesystem;

namespace {

constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();

SequenceDataset casino_data(std::uint64_t seed = 3) {
  Options options;
  options.set("sequences", "6");
  options.set("length", "80");
  return make_synthetic_dataset("casino", "casino", options, seed);
}

// Equal, or both NaN.
bool same(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void check_same(const std::optional<SplitMetrics>& a, const std::optional<SplitMetrics>& b) {
  REQUIRE(a.has_value() == b.has_value());
  if (!a) return;
  CHECK(same(a->log_likelihood, b->log_likelihood));
  CHECK(a->steps == b->steps);
  CHECK(a->sequences == b->sequences);
  CHECK(same(a->nats_per_step, b->nats_per_step));
  CHECK(same(a->bits_per_step, b->bits_per_step));
  CHECK(same(a->perplexity, b->perplexity));
  CHECK(same(a->nats_stderr, b->nats_stderr));
}

void check_same(const RunResult& a, const RunResult& b) {
  CHECK(a.run_id == b.run_id);
  CHECK(a.label == b.label);
  CHECK(a.model_type == b.model_type);
  CHECK(a.family == b.family);
  CHECK(a.dataset == b.dataset);
  CHECK(a.seed == b.seed);
  CHECK(a.unit == b.unit);
  CHECK(a.settings == b.settings);
  CHECK(a.settings_toml == b.settings_toml);
  CHECK(a.environment.version == b.environment.version);
  CHECK(a.environment.commit == b.environment.commit);
  CHECK(a.environment.compiler == b.environment.compiler);
  CHECK(a.environment.blas == b.environment.blas);
  CHECK(a.environment.blas_kernel == b.environment.blas_kernel);
  CHECK(a.environment.date == b.environment.date);
  CHECK(a.environment.host == b.environment.host);
  CHECK(a.environment.threads == b.environment.threads);
  REQUIRE(a.history.size() == b.history.size());
  for (std::size_t i = 0; i < a.history.size(); ++i) {
    CAPTURE(i);
    const EpochRecord& x = a.history[i];
    const EpochRecord& y = b.history[i];
    CHECK(x.epoch == y.epoch);
    CHECK(x.restart == y.restart);
    CHECK(x.updates == y.updates);
    CHECK(same(x.seconds, y.seconds));
    CHECK(same(x.train_nll, y.train_nll));
    CHECK(same(x.valid_nll, y.valid_nll));
    CHECK(same(x.learning_rate, y.learning_rate));
    CHECK(same(x.gradient_norm, y.gradient_norm));
    CHECK(same(x.log_likelihood_change, y.log_likelihood_change));
  }
  check_same(a.train, b.train);
  check_same(a.valid, b.valid);
  check_same(a.test, b.test);
  CHECK(a.parameters == b.parameters);
  CHECK(a.updates == b.updates);
  CHECK(a.epochs == b.epochs);
  CHECK(same(a.wall_seconds, b.wall_seconds));
  CHECK(same(a.floor_nats, b.floor_nats));
  CHECK(a.samples == b.samples);
  CHECK_THAT(b.transition, test::IsNear(a.transition, 0.0));
  CHECK_THAT(b.filters, test::IsNear(a.filters, 0.0));
  CHECK_THAT(b.posterior, test::IsNear(a.posterior, 0.0));
  CHECK_THAT(b.activations, test::IsNear(a.activations, 0.0));
  CHECK(a.stretch == b.stretch);
}

// A run of a 2-state HMM on the casino rolls with every field of RunResult filled.
struct HmmRun {
  SequenceDataset data = casino_data();
  CategoricalHmm model;
  RunResult result;

  explicit HmmRun(std::uint64_t seed = 7, const std::string& label = "hmm N=2",
                  const std::string& run_id = "") {
    CategoricalHmmOptions options;
    options.states = 2;
    options.train.max_iterations = 5;
    model = CategoricalHmm(data.alphabet, options);
    FitObserver observer;
    observer.on_epoch = [&](const EpochRecord& r) { result.history.push_back(r); };
    FitOptions fit;
    fit.seed = seed;
    model.fit(data.train, &data.valid, fit, &observer);
    result.run_id = run_id.empty() ? "00ab" + std::to_string(seed) : run_id;
    result.label = label;
    result.model_type = "hmm";
    result.family = "HMM";
    result.dataset = "casino";
    result.seed = seed;
    result.unit = "symbol";
    result.settings = {{"model.states", "2"}, {"model.type", "hmm"}, {"train.max_iter", "5"}};
    result.settings_toml = "[model]\nstates = 2\ntype = \"hmm\"\n\n[train]\nmax_iter = 5\n";
    result.environment = current_environment(2);
    // Hand-made records after whatever fit() reported: the layout is what is tested here.
    EpochRecord a;
    a.epoch = 1;
    a.updates = 1;
    a.seconds = 0.25;
    a.train_nll = 1.7;
    EpochRecord b = a;
    b.epoch = 2;
    b.restart = 1;
    b.updates = 2;
    b.valid_nll = 1.65;
    b.log_likelihood_change = 3.5;
    b.learning_rate = 0.01;
    b.gradient_norm = 2.0;
    result.history.push_back(a);
    result.history.push_back(b);
    result.train = split_metrics(evaluate(model, data, Split::train), SequenceKind::symbols);
    result.test = split_metrics(evaluate(model, data, Split::test), SequenceKind::symbols);
    result.train->nats_stderr = 0.0125;  // as an AIS estimate would have: stored as it is
    result.parameters = model.num_parameters();
    result.updates = 5;
    result.epochs = 5;
    result.wall_seconds = 0.125;
    result.floor_nats = 1.62;
    result.samples = {"1266366", "", "6 & <b>"};
    result.transition = model.hmm().transition();
    // Storage only (an RBM's field): any H x V matrix round trips.
    result.filters = {{0.5, -1.25, 3.0}, {-0.0, 1e-300, -7.5}};
    const arma::uvec x = data.test.symbols.at(0).head(12);
    result.posterior = model.hmm().posteriors(x).gamma;
    for (arma::uword t = 0; t < x.n_elem; ++t) result.stretch.push_back(data.alphabet.symbol(x(t)));
  }
};

std::string error_reading(const fs::path& path) {
  try {
    read_run_file(path);
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("a run file holds every field of the run and the trained model", "[results]") {
  test::ScratchDir dir;
  HmmRun run;
  const fs::path file = dir / "run.h5";
  write_run_file(file, run.result, run.model);
  const RunResult back = read_run_file(file);
  check_same(run.result, back);
  CHECK_FALSE(back.valid.has_value());  // not scored: absent, not zero
  CHECK(std::isfinite(back.history[0].valid_nll));  // an HMM scores valid at every pass

  SECTION("the stored model scores exactly as the original") {
    const auto model = load_run_model(file);
    REQUIRE(model->type() == "hmm");
    const Evaluation original = evaluate(run.model, run.data, Split::test);
    const Evaluation reloaded = evaluate(*model, run.data, Split::test);
    CHECK(reloaded.log_likelihood == original.log_likelihood);
    CHECK(reloaded.symbols == original.symbols);
  }

  SECTION("the layout is what docs/formats.md promises") {
    H5::H5File f(file.string(), H5F_ACC_RDONLY);
    const H5::Group root = f.openGroup("/");
    CHECK(h5::read_int_attribute(root, "seqlab_run_format") == 1);
    CHECK(h5::read_string_attribute(root, "label") == "hmm N=2");
    CHECK(h5::read_uint_attribute(root, "seed") == 7);
    const H5::Group metrics = root.openGroup("metrics");
    CHECK(h5::read_double_attribute(metrics, "test_bits_per_step") ==
          run.result.test->bits_per_step);
    CHECK_FALSE(h5::has_attribute(metrics, "valid_bits_per_step"));
    CHECK(std::isnan(h5::read_double_attribute(metrics, "test_perplexity")) == false);
    CHECK(h5::read_strings(root, "inspect/stretch").size() == 12);
    CHECK(h5::read_mat(root.openGroup("inspect"), "posterior").n_cols == 12);
  }
}

TEST_CASE("split_metrics gives nats, bits and perplexity per step", "[results]") {
  Evaluation e;
  e.log_likelihood = -200.0;
  e.symbols = 100;
  e.sequences = 4;
  const SplitMetrics s = split_metrics(e, SequenceKind::symbols);
  CHECK(s.nats_per_step == 2.0);
  CHECK_THAT(s.bits_per_step, Catch::Matchers::WithinRel(2.0 / std::log(2.0), 1e-15));
  CHECK_THAT(s.perplexity, Catch::Matchers::WithinRel(std::exp(2.0), 1e-15));
  CHECK(s.steps == 100);
  CHECK(s.sequences == 4);
  CHECK(std::isnan(split_metrics(e, SequenceKind::binary_frames).perplexity));
  CHECK(std::isnan(split_metrics(Evaluation{}, SequenceKind::symbols).nats_per_step));
}

TEST_CASE("frame runs, large seeds and empty inspection data round trip", "[results]") {
  test::ScratchDir dir;
  HmmRun run;
  RunResult r = run.result;
  r.seed = std::numeric_limits<std::uint64_t>::max();  // beyond int64
  r.transition.reset();
  r.posterior.reset();
  r.stretch.clear();
  r.samples.clear();
  r.settings.clear();
  r.settings_toml.clear();
  r.floor_nats = kNaN;
  r.valid = r.test;
  r.train.reset();
  write_run_file(dir / "r.h5", r, run.model);
  const RunResult back = read_run_file(dir / "r.h5");
  check_same(r, back);
  CHECK(back.transition.is_empty());
}

TEST_CASE("write_run_file refuses inconsistent results (the caller's bug)", "[results]") {
  test::ScratchDir dir;
  HmmRun run;
  RunResult r = run.result;
  SECTION("model type") {
    r.model_type = "lstm";
    CHECK_THROWS_AS(write_run_file(dir / "r.h5", r, run.model), std::invalid_argument);
  }
  SECTION("unit") {
    r.unit = "bit";
    CHECK_THROWS_AS(write_run_file(dir / "r.h5", r, run.model), std::invalid_argument);
  }
  SECTION("settings order") {
    r.settings = {{"b", "1"}, {"a", "2"}};
    CHECK_THROWS_AS(write_run_file(dir / "r.h5", r, run.model), std::invalid_argument);
  }
  SECTION("stretch length") {
    r.stretch.pop_back();
    CHECK_THROWS_AS(write_run_file(dir / "r.h5", r, run.model), std::invalid_argument);
  }
  CHECK_FALSE(fs::exists(dir / "r.h5"));
}

TEST_CASE("damaged, truncated and foreign run files give one-line UserErrors naming the file",
          "[results]") {
  test::ScratchDir dir;
  HmmRun run;
  const fs::path good = dir / "good.h5";
  write_run_file(good, run.result, run.model);
  const std::string bytes = test::read_file(good);

  SECTION("truncated") {
    test::write_file(dir / "cut.h5", bytes.substr(0, bytes.size() / 2));
    const std::string e = error_reading(dir / "cut.h5");
    CHECK_THAT(e, Contains("cut.h5"));
    CHECK(e.find('\n') == std::string::npos);
    CHECK_THROWS_AS(load_run_model(dir / "cut.h5"), UserError);
  }
  SECTION("cut to its first bytes") {
    test::write_file(dir / "head.h5", bytes.substr(0, 600));
    CHECK_THAT(error_reading(dir / "head.h5"), Contains("head.h5"));
  }
  SECTION("not HDF5") {
    test::write_file(dir / "text.h5", "label,test\nlstm,1.5\n");
    CHECK_THAT(error_reading(dir / "text.h5"), Contains("text.h5: not an HDF5 file"));
  }
  SECTION("a model file") {
    save_model(dir / "model.h5", run.model);
    CHECK_THAT(error_reading(dir / "model.h5"),
               Contains("model.h5: is a model file, not a run file"));
  }
  SECTION("missing") { CHECK_THAT(error_reading(dir / "nothing.h5"), Contains("nothing.h5")); }
  SECTION("a missing attribute") {
    fs::copy_file(good, dir / "edited.h5");
    {
      H5::H5File f((dir / "edited.h5").string(), H5F_ACC_RDWR);
      f.openGroup("/metrics").removeAttr("parameters");
    }
    CHECK_THAT(error_reading(dir / "edited.h5"),
               Contains("edited.h5: /metrics: missing attribute 'parameters'"));
  }
  SECTION("another format version") {
    fs::copy_file(good, dir / "v2.h5");
    {
      H5::H5File f((dir / "v2.h5").string(), H5F_ACC_RDWR);
      H5::Group root = f.openGroup("/");
      h5::write_int_attribute(root, "seqlab_run_format", 2);
    }
    CHECK_THAT(error_reading(dir / "v2.h5"), Contains("seqlab_run_format 2 is not supported"));
  }
  SECTION("a model subgroup of another type") {
    fs::copy_file(good, dir / "swapped.h5");
    {
      H5::H5File f((dir / "swapped.h5").string(), H5F_ACC_RDWR);
      H5::Group model = f.openGroup("/model");
      h5::write_string_attribute(model, "model", "markov");
    }
    CHECK_THAT(error_reading(dir / "swapped.h5"),
               Contains("swapped.h5: /model: holds a 'markov' model, the run says 'hmm'"));
  }
}

TEST_CASE("a task run file holds task metrics, no likelihood, and the task model", "[results]") {
  test::ScratchDir dir;
  Options options;
  options.set("sequences", "40");
  options.set("length", "8");
  const SequenceDataset data = make_synthetic_dataset("adding", "adding", options, 5);
  RnnTaskOptions o;
  o.cell = rnn::CellType::gru;
  o.hidden = 4;
  o.batch = 8;
  o.epochs = 2;
  RnnTaskModel model(rnn::Task::regress, data.kind, data.dimension, 1, o);
  RunResult result;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& r) { result.history.push_back(r); };
  FitOptions fit;
  fit.seed = 3;
  model.fit(data.train, &data.valid, fit, &observer);
  REQUIRE(result.history.size() == 2);
  const TaskMetrics test = model.evaluate(data.test);
  result.run_id = "7a5c";
  result.label = "gru task";
  result.model_type = "gru";
  result.family = "RNN";
  result.dataset = "adding";
  result.seed = 3;
  result.task = "regress";
  result.unit = "squared_error";
  result.environment = current_environment(1);
  TaskSplitMetrics t;
  t.sequences = test.sequences;
  t.mse = test.mse();
  t.baseline_mse = test.baseline_mse();
  result.task_test = t;
  result.parameters = model.num_parameters();
  const fs::path file = dir / "runs" / "task.h5";
  fs::create_directories(dir / "runs");
  write_run_file(file, result, model);

  const RunResult back = read_run_file(file);
  CHECK(back.task == "regress");
  CHECK(back.unit == "squared_error");
  CHECK_FALSE(back.test.has_value());
  CHECK_FALSE(back.task_valid.has_value());
  REQUIRE(back.task_test.has_value());
  CHECK(back.task_test->mse == test.mse());
  CHECK(back.task_test->baseline_mse == test.baseline_mse());
  CHECK(back.task_test->sequences == data.test.size());
  CHECK(std::isnan(back.task_test->accuracy));
  REQUIRE(back.history.size() == 2);
  CHECK(back.history[1].valid_nll == result.history[1].valid_nll);  // the valid MSE

  SECTION("the stored task model predicts exactly as the original; load_run_model refuses it") {
    const RnnTaskModel reloaded = load_run_task_model(file);
    CHECK(reloaded.evaluate(data.test).squared_error == test.squared_error);
    CHECK_THROWS_WITH(load_run_model(file), Contains("task.h5") && Contains("task model"));
  }
  SECTION("results.csv carries the task metrics and leaves the likelihood columns empty") {
    const Summary s = rebuild_summary(dir.path());
    REQUIRE(s.runs.size() == 1);
    std::istringstream csv(test::read_file(dir / "results.csv"));
    std::string header, line;
    std::getline(csv, header);
    std::getline(csv, line);
    std::vector<std::string> names, values;
    for (std::istringstream h(header); std::getline(h, names.emplace_back(), ',');) {}
    for (std::istringstream v(line); std::getline(v, values.emplace_back(), ',');) {}
    const auto field = [&](const std::string& name) {
      const auto at = std::find(names.begin(), names.end(), name);
      REQUIRE(at != names.end());
      return values.at(static_cast<std::size_t>(at - names.begin()));
    };
    CHECK(field("task") == "regress");
    CHECK(field("test_nats_per_step").empty());
    CHECK(field("test_accuracy").empty());
    CHECK(std::stod(field("test_mse")) == test.mse());
    CHECK(std::stod(field("test_baseline_mse")) == test.baseline_mse());
    CHECK(field("test_sequences") == std::to_string(data.test.size()));
  }
  SECTION("a task run with a likelihood split, or a wrong unit, is the caller's bug") {
    RunResult bad = result;
    bad.test = SplitMetrics{};
    CHECK_THROWS_AS(write_run_file(dir / "bad.h5", bad, model), std::invalid_argument);
    bad = result;
    bad.unit = "frame";
    CHECK_THROWS_AS(write_run_file(dir / "bad.h5", bad, model), std::invalid_argument);
    CHECK_FALSE(fs::exists(dir / "bad.h5"));
  }
}

TEST_CASE("rebuild_summary tabulates the readable runs and warns about the rest", "[results]") {
  test::ScratchDir dir;
  fs::create_directories(dir / "runs");
  HmmRun a(1, "hmm N=2");
  HmmRun b(2, "hmm N=2");
  HmmRun c(1, "a, \"quoted\" label", "0011");
  c.result.test->log_likelihood = -std::numeric_limits<double>::infinity();
  c.result.test->nats_per_step = std::numeric_limits<double>::infinity();
  c.result.floor_nats = kNaN;
  write_run_file(dir / "runs" / "b.h5", b.result, b.model);
  write_run_file(dir / "runs" / "a.h5", a.result, a.model);
  write_run_file(dir / "runs" / "c.h5", c.result, c.model);
  test::write_file(dir / "runs" / "d.h5.tmp.12345", "half");
  test::write_file(dir / "runs" / "e.h5", test::read_file(dir / "runs" / "a.h5").substr(0, 900));

  const Summary s = rebuild_summary(dir.path());
  REQUIRE(s.runs.size() == 3);
  // Sorted by dataset, family, label, seed: the quoted label sorts before "hmm N=2".
  CHECK(s.runs[0].label == "a, \"quoted\" label");
  CHECK(s.runs[1].seed == 1);
  CHECK(s.runs[2].seed == 2);
  CHECK(s.files[2].filename() == "b.h5");
  REQUIRE(s.warnings.size() == 2);
  CHECK_THAT(s.warnings[0], Contains("d.h5.tmp.12345: a temporary file"));
  CHECK_THAT(s.warnings[1], Contains("e.h5"));
  CHECK_THAT(s.warnings[1], Contains("ignored"));
  // Reading alone writes nothing; rebuilding wrote both tables and no temp file is left.
  CHECK(fs::exists(dir / "results.h5"));
  CHECK(fs::exists(dir / "results.csv"));

  SECTION("results.csv") {
    std::istringstream csv(test::read_file(dir / "results.csv"));
    std::string header, line;
    std::getline(csv, header);
    CHECK(header.rfind("run_id,label,model_type,family,dataset,unit,task,seed,parameters,updates,"
                       "epochs,wall_seconds,test_nats_per_step,test_bits_per_step,",
                       0) == 0);
    CHECK_THAT(header, Contains(",floor_nats,version,commit,threads,date,settings,file"));
    std::vector<std::string> lines;
    while (std::getline(csv, line)) lines.push_back(line);
    REQUIRE(lines.size() == 3);
    // RFC 4180 quoting, infinities spelled out, NaN (valid not scored, no floor) empty.
    CHECK(lines[0].rfind("0011,\"a, \"\"quoted\"\" label\",hmm,HMM,casino,symbol,,1,", 0) == 0);
    CHECK_THAT(lines[0], Contains(",inf,"));
    CHECK_THAT(lines[0], Contains(",runs/c.h5"));
    CHECK_THAT(lines[1], Contains(",1.62,"));   // the floor, shortest form
    CHECK_THAT(lines[1], Contains(",0.125,"));  // wall seconds
    CHECK_THAT(lines[1], Contains("model.states=2; model.type=hmm; train.max_iter=5"));
    // valid_* of a run without a valid score: seven empty fields in a row.
    CHECK_THAT(lines[1], Contains(",,,,,,"));
    CHECK(summary_csv(s) == test::read_file(dir / "results.csv"));
  }

  SECTION("results.h5") {
    H5::H5File f((dir / "results.h5").string(), H5F_ACC_RDONLY);
    const H5::Group root = f.openGroup("/");
    CHECK(h5::read_int_attribute(root, "seqlab_summary_format") == 1);
    CHECK(h5::read_uint_attribute(root, "runs") == 3);
    CHECK(h5::read_strings(root, "run_id") == std::vector<std::string>{"0011", "00ab1", "00ab2"});
    CHECK(h5::read_strings(root, "file") ==
          std::vector<std::string>{"runs/c.h5", "runs/a.h5", "runs/b.h5"});
    const arma::vec bits = h5::read_vec(root, "test_bits_per_step");
    REQUIRE(bits.n_elem == 3);
    CHECK(bits(2) == b.result.test->bits_per_step);
    CHECK(std::isinf(h5::read_vec(root, "test_nats_per_step")(0)));
    CHECK(arma::all(h5::read_uvec(root, "seed") == arma::uvec{1, 1, 2}));
    CHECK(h5::read_vec(root, "valid_nats_per_step").has_nan());
    CHECK(arma::all(h5::read_uvec(root, "valid_steps") == arma::uvec{0, 0, 0}));
  }

  SECTION("a run id seen twice keeps the first file") {
    fs::copy_file(dir / "runs" / "a.h5", dir / "runs" / "z.h5");
    const Summary again = read_results_folder(dir.path());
    CHECK(again.runs.size() == 3);
    REQUIRE(again.warnings.size() == 3);
    CHECK_THAT(again.warnings[2], Contains("z.h5: run id 00ab1 is also in"));
  }
}

TEST_CASE("a folder without runs/ is not a results folder; an empty runs/ gives empty tables",
          "[results]") {
  test::ScratchDir dir;
  CHECK_THROWS_WITH(read_results_folder(dir / "missing"), Contains("no such results folder"));
  CHECK_THROWS_WITH(read_results_folder(dir.path()), Contains("no runs/ folder inside"));
  test::write_file(dir / "file", "x");
  CHECK_THROWS_WITH(read_results_folder(dir / "file"), Contains("not a results folder"));
  fs::create_directories(dir / "runs");
  const Summary s = rebuild_summary(dir.path());
  CHECK(s.runs.empty());
  CHECK(s.warnings.empty());
  const std::string csv = test::read_file(dir / "results.csv");
  CHECK(std::count(csv.begin(), csv.end(), '\n') == 1);  // the header alone
  H5::H5File f((dir / "results.h5").string(), H5F_ACC_RDONLY);
  CHECK(h5::read_strings(f.openGroup("/"), "run_id").empty());
}

TEST_CASE("current_environment describes this build and machine", "[results]") {
  const RunEnvironment e = current_environment(3);
  CHECK(e.threads == 3);
  CHECK_FALSE(e.version.empty());
  CHECK_FALSE(e.commit.empty());
  CHECK_FALSE(e.compiler.empty());
  CHECK_FALSE(e.blas.empty());
  CHECK_FALSE(e.host.empty());
  REQUIRE(e.date.size() == 20);  // 2025-03-01T12:34:56Z
  CHECK(e.date[10] == 'T');
  CHECK(e.date.back() == 'Z');
}
