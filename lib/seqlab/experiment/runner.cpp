// seqlab/experiment/runner.cpp: carrying out one planned run (see runner.hpp).
#include "seqlab/experiment/runner.hpp"

#include <chrono>

#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/data/registry.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/rnn/task_model.hpp"
#include "seqlab/report/snapshot.hpp"

namespace seqlab {
namespace fs = std::filesystem;

namespace {

// Settings are checked when the plan is made; a failure now is a changed registry or data.
OptionSpelling plain_spelling() {
  OptionSpelling s;
  s.name = [](const std::string& option) { return option; };
  s.fail = [](const std::string&, const std::string& message) { user_error(message); };
  return s;
}

// Samples a report shows: a few draws from a symbol model, as text (frame models: none).
std::vector<std::string> draw_samples(const SequenceModel& model, std::uint64_t seed,
                                      std::uint64_t length) {
  std::vector<std::string> samples;
  if (length == 0 || model.kind() != SequenceKind::symbols) return samples;
  for (std::uint64_t i = 0; i < 3; ++i) {
    Rng rng = make_rng(derive_seed(seed, 1000 + i));
    const arma::uvec x = model.sample_symbols(static_cast<arma::uword>(length), rng, arma::uvec());
    samples.push_back(model.alphabet().decode(x));
  }
  return samples;
}

TaskSplitMetrics task_split_metrics(const TaskMetrics& m) {
  TaskSplitMetrics t;
  t.sequences = m.sequences;
  if (m.task == rnn::Task::classify) {
    t.accuracy = m.accuracy();
    t.label_nll_nats = m.nll_nats();
    t.label_nll_bits = m.nll_bits();
  } else {
    t.mse = m.mse();
    t.baseline_mse = m.baseline_mse();
  }
  return t;
}

}  // namespace

fs::path run_file_path(const fs::path& results_dir, const PlannedRun& run) {
  return results_dir / "runs" / (run.id + ".h5");
}

fs::path run_checkpoint_path(const fs::path& results_dir, const PlannedRun& run) {
  return results_dir / "runs" / (run.id + ".ckpt");
}

std::optional<Evaluation> generating_floor(const DatasetSpec& spec, const SequenceDataset& data,
                                           Split split) {
  if (spec.is_path) return std::nullopt;
  // The generator behind the data: the experiment's own, or the registry entry's.
  std::string generator = spec.generator;
  Options options = spec.generator_options;
  std::uint64_t seed = spec.generator_seed;
  if (generator.empty()) {
    const DataLocations locations = DataLocations::from_environment();
    if (locations.registry.empty()) return std::nullopt;
    const Registry registry = load_registry(locations);
    const RegistryEntry* e = registry.find(spec.name_or_path);
    if (e == nullptr || !e->synthetic()) return std::nullopt;
    generator = e->generator;
    options = e->options;
    seed = e->seed;
  }
  return floor_under_generator(generator, options, seed, data, split);
}

std::optional<Evaluation> floor_under_generator(const std::string& generator,
                                                const Options& options, std::uint64_t seed,
                                                const SequenceDataset& data, Split split) {
  const SequenceSet& part = data.get(split);
  if (part.empty() || part.total_steps() == 0) return std::nullopt;
  if (generator == "hmm" || generator == "casino") {
    const CategoricalHmmParams p = synthetic_hmm_parameters(generator, options, seed);
    const CategoricalHmm truth(
        data.alphabet,
        Hmm<CategoricalEmission>(p.initial, p.transition, CategoricalEmission(p.emission)));
    return evaluate(truth, data, split);
  }
  if (generator == "copy" || generator == "brackets") {
    Evaluation ev;
    for (const arma::uvec& x : part.symbols) {
      ev.log_likelihood += generator_log_probability(generator, options, x).value();
      ev.symbols += x.n_elem;
      ++ev.sequences;
    }
    return ev;
  }
  return std::nullopt;
}

namespace {

// What every run file says of the run, whatever the model.
RunResult run_header(const ExperimentPlan& plan, const PlannedRun& run, const std::string& type) {
  const DatasetSpec& spec = plan.datasets.at(run.dataset);
  RunResult result;
  result.run_id = run.id;
  result.label = run.label;
  result.model_type = type;
  result.family = model_family(run.options.model);
  result.dataset = spec.key;
  result.seed = run.seed;
  result.settings.push_back({"dataset", spec.identity});
  result.settings.push_back({"model", run.options.model});
  for (const auto& [name, value] : run.options.values)
    result.settings.push_back({name, option_text(value)});
  result.settings.push_back({"seed", std::to_string(run.seed)});
  result.settings.push_back({"threads", std::to_string(run.threads)});
  std::sort(result.settings.begin(), result.settings.end());
  result.settings_toml = run.settings;
  result.environment = current_environment(run.threads);
  return result;
}

FitObserver recording_observer(RunResult& result, const FitObserver* progress) {
  FitObserver observer;
  observer.on_epoch = [&result, progress](const EpochRecord& record) {
    result.history.push_back(record);
    if (progress != nullptr && progress->on_epoch) progress->on_epoch(record);
  };
  if (progress != nullptr) observer.on_message = progress->on_message;
  return observer;
}

// A sequence-level task run: trained on whole sequences, scored by task metrics on the plan's
// splits; no likelihood, floor, samples or inspection data. No checkpoints (task training does
// not take them): an interrupted task run starts again.
RunResult execute_task_run(const ExperimentPlan& plan, const PlannedRun& run,
                           const SequenceDataset& data, const fs::path& run_file,
                           const FitObserver* progress) {
  const std::unique_ptr<RnnTaskModel> model =
      build_task_model(run.options, data, plain_spelling());
  RunResult result = run_header(plan, run, model->type());
  result.task = rnn::to_string(model->task());
  result.unit = task_history_unit(model->task());
  const FitObserver observer = recording_observer(result, progress);
  FitOptions fit;
  fit.seed = run.seed;
  fit.threads = run.threads;
  fit.quiet = progress == nullptr || !progress->on_message;
  const SequenceSet* valid = data.valid.empty() ? nullptr : &data.valid;
  const auto start = std::chrono::steady_clock::now();
  model->fit(data.train, valid, fit, &observer);
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.parameters = model->num_parameters();
  result.epochs = result.history.size();
  result.updates = result.history.empty() ? 0 : result.history.back().updates;
  for (const Split split : plan.splits) {
    const SequenceSet& set = data.get(split);
    if (set.empty()) continue;
    const TaskSplitMetrics m = task_split_metrics(model->evaluate(set));
    if (split == Split::train) result.task_train = m;
    if (split == Split::valid) result.task_valid = m;
    if (split == Split::test) result.task_test = m;
  }
  write_run_file(run_file, result, *model);
  return result;
}

}  // namespace

RunResult execute_run(const ExperimentPlan& plan, const PlannedRun& run,
                      const SequenceDataset& data, const fs::path& run_file,
                      const FitObserver* progress, const RunCheckpoint& checkpoint) {
  if (task_requested(run.options)) return execute_task_run(plan, run, data, run_file, progress);
  const DatasetSpec& spec = plan.datasets.at(run.dataset);
  std::unique_ptr<SequenceModel> model = build_model(run.options, data, plain_spelling());
  RunResult result = run_header(plan, run, model->type());
  result.unit = data.kind == SequenceKind::symbols ? "symbol" : "frame";
  const FitObserver observer = recording_observer(result, progress);
  FitOptions fit;
  fit.seed = run.seed;
  fit.threads = run.threads;
  fit.quiet = progress == nullptr || !progress->on_message;
  fit.checkpoint = checkpoint.file;
  fit.checkpoint_seconds = checkpoint.seconds;
  fit.stop = checkpoint.stop;
  const SequenceSet* valid = data.valid.empty() ? nullptr : &data.valid;
  const auto start = std::chrono::steady_clock::now();
  model->fit(data.train, valid, fit, &observer);
  result.wall_seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  // Resumed from a checkpoint: the records count the time before it too.
  if (!result.history.empty())
    result.wall_seconds = std::max(result.wall_seconds, result.history.back().seconds);
  result.parameters = model->num_parameters();
  result.epochs = result.history.size();
  result.updates = result.history.empty() ? 0 : result.history.back().updates;

  for (const Split split : plan.splits) {
    const SequenceSet& set = data.get(split);
    if (set.empty() || set.total_steps() == 0) continue;
    const SplitMetrics m = split_metrics(evaluate(*model, data, split), data.kind);
    if (split == Split::train) result.train = m;
    if (split == Split::valid) result.valid = m;
    if (split == Split::test) result.test = m;
  }
  if (const auto floor = generating_floor(spec, data, Split::test))
    result.floor_nats = floor->nats_per_symbol();
  result.samples = draw_samples(*model, run.seed, plan.sample_length);
  take_snapshot(*model, data, result);
  write_run_file(run_file, result, *model);
  return result;
}

}  // namespace seqlab
