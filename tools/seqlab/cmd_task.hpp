// tools/seqlab/cmd_task.hpp: the sequence-level task side of `seqlab train` and `seqlab eval`
// (--task classify|regress, --bidirectional): training an RnnTaskModel on an opened split and
// printing task metrics. cmd_model.cpp parses the options and opens the data; this file does the
// rest. Every printed result says it is a task metric, not a sequence likelihood.
#pragma once

#include <string>

#include "cli_common.hpp"
#include "seqlab/data/dataset.hpp"
#include "seqlab/models/rnn/task_model.hpp"

namespace seqlab::cli {

// What `seqlab train --task` needs once the options are parsed and the data opened.
struct TaskTrainRequest {
  RnnTaskOptions options;
  rnn::Task task = rnn::Task::classify;
  const SequenceDataset* dataset = nullptr;  // the opened dataset
  Split split = Split::train;                // the split trained on
  std::string split_name;                    // as the user wrote it
  std::string out;                           // model file to write
  CommonOptions common;
  double log_every = 10.0;                   // seconds between progress lines in a log
};

// Requires: request.dataset not null. Ensures: a model trained on the split (early stopping on
// the dataset's valid split when training on train), written atomically to request.out, its
// metrics on train (and valid) printed (text and/or --json); returns the exit code 0. A split
// without labels / targets for the task is a one-line UserError naming the dataset.
int train_task(const TaskTrainRequest& request);

// Requires: a loaded task model and the scored split of `dataset`. Ensures: the metrics printed
// as `seqlab eval` prints (text and/or --json); returns 0. A dataset of another kind or frame
// size, or without what the task needs, is a one-line UserError naming the model and dataset.
int eval_task(const RnnTaskModel& model, const std::string& model_path,
              const SequenceDataset& dataset, const SequenceSet& set,
              const std::string& split_name, const CommonOptions& common);

}  // namespace seqlab::cli
