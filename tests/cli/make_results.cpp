// tests/cli/make_results.cpp OUT_DIR [--tricky] [--model-file FILE]: a small results folder made
// without the experiment driver,
// for the report and plot tests (built by meson, not installed). Trains an order-2 Markov chain,
// a 2-state HMM and a tiny GRU with two seeds each on two synthetic sets (the casino rolls and
// balanced brackets), scores every split, and writes one run file per run through
// write_run_file, as the driver does: histories as fit() reports them through
// FitObserver::on_epoch (a model whose fit() reports no records gets one record measured here
// after training, so every run has at least its final point), samples, inspection snapshots
// and the floor of each set. Then config.toml and the summary (rebuild_summary).
//   --tricky           the Markov chain's label and the config hold text that HTML, Markdown,
//                      LaTeX and gnuplot must escape
//   --model-file FILE  also a model file (save_model) carrying the history of one GRU run
#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <iostream>
#include <memory>
#include <sstream>

#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/io/results_file.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "seqlab/report/snapshot.hpp"

using namespace seqlab;
namespace fs = std::filesystem;

namespace {

struct Spec {
  std::string label, type, family;
  std::vector<std::pair<std::string, std::string>> settings;  // sorted by key
};

struct Data {
  std::string name, generator;
  Options options;
  SequenceDataset set;
  double floor_nats = NAN;
};

Data make_data(const std::string& name, const std::string& generator,
               std::vector<std::pair<std::string, std::string>> options) {
  Data d;
  d.name = name;
  d.generator = generator;
  for (const auto& [k, v] : options) d.options.set(k, v);
  d.set = make_synthetic_dataset(name, generator, d.options, 5);
  Evaluation floor;
  if (generator == "casino") {
    const CategoricalHmmParams p = synthetic_hmm_parameters(generator, d.options, 5);
    const CategoricalHmm truth(
        d.set.alphabet,
        Hmm<CategoricalEmission>(p.initial, p.transition, CategoricalEmission(p.emission)));
    floor = evaluate(truth, d.set, Split::test);
  } else {
    for (const arma::uvec& x : d.set.test.symbols) {
      floor.log_likelihood += generator_log_probability(generator, d.options, x).value();
      floor.symbols += x.n_elem;
    }
  }
  d.floor_nats = floor.nats_per_symbol();
  return d;
}

std::unique_ptr<SequenceModel> make_model(const Spec& spec, const Alphabet& alphabet) {
  if (spec.type == "markov")
    return std::make_unique<MarkovChain>(
        alphabet, MarkovOptions{2, MarkovOptions::Smoothing::kneser_ney, 1.0});
  if (spec.type == "hmm") {
    CategoricalHmmOptions o;
    o.states = 2;
    o.train.max_iterations = 15;
    return std::make_unique<CategoricalHmm>(alphabet, o);
  }
  RnnOptions o;
  o.cell = rnn::CellType::gru;
  o.hidden = 8;
  o.embedding = 4;
  o.epochs = 4;
  o.window = 25;
  o.batch = 4;
  o.learning_rate = 0.01;
  o.patience = 0;
  return std::make_unique<RnnModel>(alphabet, o);
}

// A short stable hex identity of the run's settings (FNV-1a, 64 bits).
std::string identity(const std::string& text) {
  std::uint64_t h = 14695981039346656037ull;
  for (unsigned char c : text) {
    h ^= c;
    h *= 1099511628211ull;
  }
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::string toml_of(const Spec& spec, const std::string& dataset, std::uint64_t seed) {
  std::ostringstream s;
  s << "dataset = \"" << dataset << "\"\nseed = " << seed << "\n\n[model]\n";
  for (const auto& [k, v] : spec.settings) s << k.substr(k.find('.') + 1) << " = " << v << "\n";
  return s.str();
}

void write_run(const fs::path& dir, const Spec& spec, const Data& data, std::uint64_t seed,
               const fs::path& model_file) {
  std::unique_ptr<SequenceModel> model = make_model(spec, data.set.alphabet);
  RunResult r;
  FitObserver observer;
  observer.on_epoch = [&](const EpochRecord& record) { r.history.push_back(record); };
  FitOptions fit;
  fit.seed = seed;
  fit.quiet = true;
  const auto start = std::chrono::steady_clock::now();
  model->fit(data.set.train, &data.set.valid, fit, &observer);
  r.wall_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();

  r.label = spec.label;
  r.model_type = model->type();
  r.family = spec.family;
  r.dataset = data.name;
  r.seed = seed;
  r.unit = "symbol";
  r.settings = spec.settings;
  r.settings.emplace_back("seed", std::to_string(seed));
  std::sort(r.settings.begin(), r.settings.end());
  r.settings_toml = toml_of(spec, data.name, seed);
  r.run_id = identity(data.name + "\n" + r.settings_toml);
  r.environment = current_environment(1);
  r.train = split_metrics(evaluate(*model, data.set, Split::train), SequenceKind::symbols);
  r.valid = split_metrics(evaluate(*model, data.set, Split::valid), SequenceKind::symbols);
  r.test = split_metrics(evaluate(*model, data.set, Split::test), SequenceKind::symbols);
  r.parameters = model->num_parameters();
  r.floor_nats = data.floor_nats;
  if (const auto* rnn = dynamic_cast<const RnnModel*>(model.get())) {
    r.updates = rnn->last_fit().updates;
    r.epochs = rnn->last_fit().epochs;
  } else if (const auto* hmm = dynamic_cast<const CategoricalHmm*>(model.get())) {
    r.updates = r.epochs = hmm->last_fit().restarts.at(hmm->last_fit().best_restart).iterations;
  } else {
    r.updates = r.epochs = 1;  // counting is one pass
  }
  if (r.history.empty()) {
    EpochRecord last;
    last.epoch = r.epochs;
    last.updates = r.updates;
    last.seconds = r.wall_seconds;
    last.train_nll = r.train->nats_per_step;
    last.valid_nll = r.valid->nats_per_step;
    r.history.push_back(last);
  }
  Rng rng = make_rng(seed);
  for (int i = 0; i < 2; ++i)
    r.samples.push_back(data.set.alphabet.decode(model->sample_symbols(60, rng, arma::uvec())));
  take_snapshot(*model, data.set, r, 60);
  write_run_file(dir / "runs" / (r.run_id + ".h5"), r, *model);
  if (!model_file.empty()) save_model(model_file, *model, &r.history);
}

}  // namespace

int main(int argc, char** argv) {
  fs::path dir, model_file;
  bool tricky = false;
  for (int i = 1; i < argc; ++i) {
    const std::string arg = argv[i];
    if (arg == "--tricky")
      tricky = true;
    else if (arg == "--model-file" && i + 1 < argc)
      model_file = argv[++i];
    else if (dir.empty() && arg.rfind("--", 0) != 0)
      dir = arg;
    else
      dir.clear(), i = argc;
  }
  if (dir.empty()) {
    std::cerr << "usage: make_results OUT_DIR [--tricky] [--model-file FILE]\n";
    return 2;
  }
  try {
    fs::create_directories(dir / "runs");
    const std::vector<Data> datasets = {
        make_data("casino", "casino", {{"sequences", "12"}, {"length", "120"}}),
        make_data("brackets", "brackets", {{"sequences", "40"}, {"length", "16"}}),
    };
    const std::string markov_label = tricky ? "markov <k=2> & \"kn\" 100%_{x}^$" : "markov k=2";
    const std::vector<Spec> specs = {
        {markov_label, "markov", "n-gram", {{"model.order", "2"}, {"model.smoothing", "\"kn\""}}},
        {"hmm N=2", "hmm", "HMM", {{"model.max_iter", "15"}, {"model.states", "2"}}},
        {"gru h=8", "gru", "RNN", {{"model.epochs", "4"}, {"model.hidden", "8"}}},
    };
    std::string config =
        "# Test experiment: three small models, two seeds, two synthetic sets.\n"
        "name = \"report test\"\nseeds = [1, 2]\ndatasets = [\"casino\", \"brackets\"]\n";
    for (const Spec& s : specs) {
      config += "\n[[model]]\nlabel = \"" + s.label + "\"\n";
      for (const auto& [k, v] : s.settings) config += k.substr(k.find('.') + 1) + " = " + v + "\n";
    }
    if (tricky) config += "# </pre><script>alert(\"escaped?\")</script> & <b>bold</b>\n";
    write_text_atomically(dir / "config.toml", config);
    for (const Data& d : datasets)
      for (const Spec& s : specs)
        for (std::uint64_t seed : {1, 2})
          write_run(dir, s, d, seed,
                    s.type == "gru" && d.name == "casino" && seed == 1 ? model_file : fs::path());
    const Summary summary = rebuild_summary(dir);
    std::cout << summary.runs.size() << " runs in " << dir.string() << "\n";
    return 0;
  } catch (const UserError& e) {
    std::cerr << "make_results: " << e.what() << "\n";
    return 1;
  }
}
