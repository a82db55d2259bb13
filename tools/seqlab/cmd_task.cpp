// tools/seqlab/cmd_task.cpp: `seqlab train --task ...` and `seqlab eval` of a task model
// (cmd_task.hpp): training, writing the file, and printing task metrics.
#include "cmd_task.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iostream>
#include <optional>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"

namespace seqlab::cli {
namespace {

constexpr const char* kNote = "task metric, not a sequence likelihood";

// "bidirectional lstm classifier", "gru regressor".
std::string model_words(const RnnTaskModel& m) {
  return std::string(m.bidirectional() ? "bidirectional " : "") + m.type() +
         (m.task() == rnn::Task::classify ? " classifier" : " regressor");
}

std::string data_words(const SequenceDataset& dataset, const std::string& split) {
  return "dataset '" + dataset.name + "' (split " + split + ")";
}

// Ensures: UserError unless `model` can score `dataset`'s sequences.
void require_model_fits(const std::string& command, const std::string& model_path,
                        const RnnTaskModel& model, const SequenceDataset& dataset) {
  if (dataset.kind != model.kind())
    user_error(command + ": model " + model_path + " reads " + to_string(model.kind()) +
               ", but dataset '" + dataset.name + "' holds " + to_string(dataset.kind));
  if (model.kind() == SequenceKind::symbols &&
      dataset.alphabet.symbols() != model.alphabet().symbols())
    user_error(command + ": model " + model_path + " has an alphabet of " +
               std::to_string(model.alphabet().size()) + " symbols, but dataset '" +
               dataset.name + "' is encoded with another one (" +
               std::to_string(dataset.alphabet.size()) + " symbols)");
  if (model.kind() != SequenceKind::symbols && model.dimension() != dataset.dimension)
    user_error(command + ": model " + model_path + " reads frames of " +
               std::to_string(model.dimension()) + " rows, but dataset '" + dataset.name +
               "' has " + std::to_string(dataset.dimension));
}

void print_metrics(const std::string& what, const TaskMetrics& m) {
  std::printf("%-16s %llu sequences\n", what.c_str(),
              static_cast<unsigned long long>(m.sequences));
  if (m.task == rnn::Task::classify) {
    std::printf("%-16s %.6f (%llu of %llu)\n", "accuracy", m.accuracy(),
                static_cast<unsigned long long>(m.correct),
                static_cast<unsigned long long>(m.sequences));
    std::printf("%-16s %.6f nats/sequence   %.6f bits/sequence\n", "label NLL", m.nll_nats(),
                m.nll_bits());
  } else {
    std::printf("%-16s %.6f (over %llu target values)\n", "MSE", m.mse(),
                static_cast<unsigned long long>(m.components));
    std::printf("%-16s %.6f (always the mean target of these sequences)\n", "baseline MSE",
                m.baseline_mse());
  }
}

// Keys prefixed by `prefix` ("train_", "valid_" or "").
void add_metrics_json(JsonObject& j, const std::string& prefix, const TaskMetrics& m) {
  j.add(prefix + "sequences", static_cast<std::uint64_t>(m.sequences));
  if (m.task == rnn::Task::classify) {
    j.add(prefix + "accuracy", m.accuracy());
    j.add(prefix + "label_nll_nats", m.nll_nats());
    j.add(prefix + "label_nll_bits", m.nll_bits());
  } else {
    j.add(prefix + "mse", m.mse());
    j.add(prefix + "baseline_mse", m.baseline_mse());
  }
}

void add_model_json(JsonObject& j, const RnnTaskModel& model) {
  j.add("model", model.type());
  j.add("task", rnn::to_string(model.task()));
  j.add("bidirectional", static_cast<std::uint64_t>(model.bidirectional() ? 1 : 0));
  j.add("metric", kNote);
}

}  // namespace

int train_task(const TaskTrainRequest& r) {
  const SequenceDataset& ds = *r.dataset;
  const SequenceSet& train = ds.get(r.split);
  const SequenceSet* valid = r.split == Split::train && !ds.valid.empty() ? &ds.valid : nullptr;
  require_task_data(train, r.task, "train: " + data_words(ds, r.split_name));
  if (valid != nullptr) require_task_data(*valid, r.task, "train: " + data_words(ds, "valid"));
  arma::uword outputs = 0;
  if (r.task == rnn::Task::classify) {
    outputs = class_count(train);
    if (valid != nullptr) outputs = std::max(outputs, class_count(*valid));
    if (outputs < 2)
      user_error("train: " + data_words(ds, r.split_name) + " has labels of one class only, "
                 "expected at least 2 classes to classify");
  } else {
    outputs = target_size(train);
  }
  RnnTaskModel model = ds.kind == SequenceKind::symbols
                           ? RnnTaskModel(r.task, ds.alphabet, outputs, r.options)
                           : RnnTaskModel(r.task, ds.kind, ds.dimension, outputs, r.options);

  FitOptions fo;
  fo.seed = r.common.seed;
  fo.threads = r.common.threads;
  fo.quiet = r.common.quiet;
  FitObserver observer = progress_observer(r.common.quiet, r.log_every);
  // The learning curve, saved with the model (its history/ group).
  TrainingHistory history;
  observer.on_epoch = [&history, next = observer.on_epoch](const EpochRecord& e) {
    history.push_back(e);
    if (next) next(e);
  };
  const auto t0 = std::chrono::steady_clock::now();
  model.fit(train, valid, fo, &observer);
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  try {
    save_task_model(r.out, model, &history);
  } catch (const h5::NonFiniteValue& e) {
    training_diverged(r.out, e.dataset(), "try a lower --lr or a smaller --clip");
  }

  const TaskMetrics on_train = model.evaluate(train);
  std::optional<TaskMetrics> on_valid;
  if (valid != nullptr) on_valid = model.evaluate(*valid);
  if (!r.common.quiet) {
    std::printf("trained %s (%s parameters) on %s [%s] in %.2f s; wrote %s\n",
                model_words(model).c_str(), with_commas(model.num_parameters()).c_str(),
                ds.name.c_str(), r.split_name.c_str(), seconds, r.out.c_str());
    std::printf("%-16s %s\n", "note", kNote);
    print_metrics("train", on_train);
    if (on_valid) print_metrics("valid", *on_valid);
  }
  if (r.common.json) {
    JsonObject j;
    add_model_json(j, model);
    j.add("file", r.out);
    j.add("data", ds.name);
    j.add("split", r.split_name);
    j.add("parameters", static_cast<std::uint64_t>(model.num_parameters()));
    j.add("seconds", seconds);
    j.add("history_records", static_cast<std::uint64_t>(history.size()));
    add_metrics_json(j, "train_", on_train);
    if (on_valid) add_metrics_json(j, "valid_", *on_valid);
    std::cout << j.str() << std::endl;
  }
  return 0;
}

int eval_task(const RnnTaskModel& model, const std::string& model_path,
              const SequenceDataset& dataset, const SequenceSet& set,
              const std::string& split_name, const CommonOptions& common) {
  require_model_fits("eval", model_path, model, dataset);
  require_task_data(set, model.task(), "eval: " + data_words(dataset, split_name));
  const TaskMetrics m = model.evaluate(set);
  if (!common.quiet || !common.json) {
    std::printf("%-16s %s (%s, %s parameters)\n", "model", model_path.c_str(),
                model_words(model).c_str(), with_commas(model.num_parameters()).c_str());
    std::printf("%-16s %s [%s]\n", "data", dataset.name.c_str(), split_name.c_str());
    std::printf("%-16s %s\n", "note", kNote);
    print_metrics("scored", m);
  }
  if (common.json) {
    JsonObject j;
    add_model_json(j, model);
    j.add("file", model_path);
    j.add("data", dataset.name);
    j.add("split", split_name);
    add_metrics_json(j, "", m);
    std::cout << j.str() << std::endl;
  }
  return 0;
}

}  // namespace seqlab::cli
