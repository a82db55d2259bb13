// seqlab/experiment/runner.hpp: one planned run, carried out in this process: build the model
// from its settings, fit it (recording its learning curve), score the plan's splits, draw
// samples, take the inspection snapshot, and write the run file atomically. `seqlab run` calls
// it once per run in a worker process; a library user can call it directly.
#pragma once

#include <atomic>
#include <filesystem>
#include <optional>
#include <string>

#include "seqlab/experiment/plan.hpp"
#include "seqlab/io/results_file.hpp"

namespace seqlab {

// Where a run's file lives in a results folder: <dir>/runs/<run id>.h5.
std::filesystem::path run_file_path(const std::filesystem::path& results_dir,
                                    const PlannedRun& run);

// Where a run's training checkpoint lives while the run is unfinished: <dir>/runs/<run id>.ckpt
// (recurrent networks; docs/formats.md, "Checkpoints").
std::filesystem::path run_checkpoint_path(const std::filesystem::path& results_dir,
                                          const PlannedRun& run);

// How execute_run checkpoints a recurrent network's training (FitOptions::checkpoint,
// checkpoint_seconds and stop); other models ignore it. An empty file: no checkpoints.
struct RunCheckpoint {
  std::filesystem::path file;
  double seconds = 300.0;
  const std::atomic<bool>* stop = nullptr;
};

// Requires: `run` from `plan`; `data` = open_planned_dataset(plan.datasets[run.dataset]).
// Ensures: the run carried out as described above; its file written to `run_file` atomically
//   (an existing file there is replaced only by a complete new one) and its result returned.
//   `progress` (optional) receives fit()'s messages and records as they come. A model that
//   diverged is not written (h5::NonFiniteValue, a UserError naming the parameter). With
//   `checkpoint`, a network's training saves its state there as FitOptions says, continues from
//   it when the file exists (the result is the one of a run never stopped), and throws
//   Interrupted when `checkpoint.stop` is set.
// Cost: the run's training and one scoring pass per split.
RunResult execute_run(const ExperimentPlan& plan, const PlannedRun& run,
                      const SequenceDataset& data, const std::filesystem::path& run_file,
                      const FitObserver* progress = nullptr,
                      const RunCheckpoint& checkpoint = {});

// Requires: `spec` and `data` from a plan (data opened from spec). Ensures: the mean NLL per
// step (nats) of `split` under the process that generated the data, where seqlab knows it in
// closed form (registry datasets made by the generators hmm, casino, copy and brackets);
// nullopt for every other dataset. Cost: one scoring pass over the split.
std::optional<Evaluation> generating_floor(const DatasetSpec& spec, const SequenceDataset& data,
                                           Split split);

// Requires: `data` was made by synthetic generator `generator` with `options` and `seed` (a
// registry entry's or an experiment's generator dataset).
// Ensures: the log-likelihood of `split` under that generator, for the generators whose
// likelihood seqlab has in closed form (hmm and casino: their true HMM; copy and brackets: the
// generator's own formula); nullopt for any other generator or an empty split.
// Cost: one scoring pass over the split.
std::optional<Evaluation> floor_under_generator(const std::string& generator,
                                                const Options& options, std::uint64_t seed,
                                                const SequenceDataset& data, Split split);

}  // namespace seqlab
