// seqlab/io/results_file.hpp: what one finished run of an experiment leaves behind (a "run
// file", one HDF5 file per run), and the summary of a results folder rebuilt from them
// (results.h5 and results.csv). Layouts: docs/formats.md, "Results folders".
//
// A RESULTS FOLDER holds
//   runs/<name>.h5   one run file per finished run (written atomically; merging two folders is a
//                    copy of their runs/ folders)
//   config.toml      the experiment's configuration, verbatim (written by the experiment driver)
//   results.h5       one row per run: a table of 1-D columns (rebuild_summary)
//   results.csv      the same table as CSV (rebuild_summary)
// The run files are the truth; the summary is derived from them and can always be rebuilt.
//
// What it is not: the experiment driver. The driver trains, fills a RunResult and calls
// write_run_file; this layer stores, reads and tabulates.
#pragma once

#include <armadillo>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <memory>
#include <optional>
#include <string>
#include <utility>
#include <vector>

#include "seqlab/models/sequence_model.hpp"

namespace seqlab {

class RnnTaskModel;

// One scored split. Natural logs inside; bits only for reporting.
struct SplitMetrics {
  double log_likelihood = 0.0;  // total over the split, nats
  std::uint64_t steps = 0;      // predicted steps (symbols or frames), the first included
  std::uint64_t sequences = 0;
  double nats_per_step = std::numeric_limits<double>::quiet_NaN();
  double bits_per_step = std::numeric_limits<double>::quiet_NaN();
  double perplexity = std::numeric_limits<double>::quiet_NaN();  // NaN for frame data
  // Standard error of nats_per_step when the model's normaliser is an estimate (an RBM's log Z
  // by annealed importance sampling); 0 when the likelihood is exact.
  double nats_stderr = 0.0;
};

// One split scored by a sequence-level task model (task_model.hpp): task metrics, NOT a
// sequence likelihood. Fields of the other task are NaN.
struct TaskSplitMetrics {
  std::uint64_t sequences = 0;
  double accuracy = std::numeric_limits<double>::quiet_NaN();        // classify
  double label_nll_nats = std::numeric_limits<double>::quiet_NaN();  // classify, per sequence
  double label_nll_bits = std::numeric_limits<double>::quiet_NaN();  // classify, per sequence
  double mse = std::numeric_limits<double>::quiet_NaN();             // regress
  // regress: the MSE of the best constant (the scored targets' mean): what learning nothing gets
  double baseline_mse = std::numeric_limits<double>::quiet_NaN();
};

// Requires nothing. Ensures: the metrics of `evaluation` (as evaluate() returns them) for data of
// `kind`: perplexity exp(nats per step) for symbols, NaN for frames (a density has no
// perplexity); the estimate's standard error (Evaluation::nll_stderr) as nats_stderr. A split of
// zero steps gives NaN per-step values.
SplitMetrics split_metrics(const Evaluation& evaluation, SequenceKind kind);

// Where and with what a run was computed.
struct RunEnvironment {
  std::string version;      // seqlab library version
  std::string commit;       // git commit of the build ("unknown" outside a git checkout)
  std::string compiler;     // e.g. "gcc 12.2.0"
  std::string blas;         // the BLAS library, e.g. "OpenBLAS (OpenBLAS 0.3.21 ...)"
  std::string blas_kernel;  // OpenBLAS's kernel family, e.g. "SkylakeX"; empty if unknown
  std::string date;         // UTC, ISO 8601: "2025-03-01T12:34:56Z"
  std::string host;         // the machine's host name
  unsigned threads = 1;     // worker threads of the run
};

// Requires nothing. Ensures: the environment of this process now, with `threads` as given.
// The commit is the one the library was built from (taken from git at build time); "unknown"
// when the source was not a git checkout. Cost: a few system calls.
RunEnvironment current_environment(unsigned threads);

// Everything a run file holds besides the model itself. Fields marked (driver) are the
// experiment driver's to fill; the rest come from training, scoring and take_snapshot()
// (report/snapshot.hpp).
struct RunResult {
  std::string run_id;      // identity hash (hex) of the run's settings (driver)
  std::string label;       // short human name, e.g. "lstm h=128" (driver)
  std::string model_type;  // "markov", "hmm", "rnn", "leaky", "jordan", "lstm", "gru"
  std::string family;      // report grouping: "n-gram", "HMM", "RNN", ...
  std::string dataset;     // dataset name
  std::uint64_t seed = 0;
  // "symbol" or "frame": what every per-step number is per. A task run: its history's unit,
  // "sequence" (classify: label NLL per sequence) or "squared_error" (regress: MSE).
  std::string unit = "symbol";
  // "" for a sequence model (scored by likelihood: train, valid, test); "classify" or "regress"
  // for a sequence-level task model, scored by task metrics only (task_train, ...).
  std::string task;
  // Canonical hyper-parameters, key -> value text, sorted by key (driver), and the same as
  // canonical TOML text.
  std::vector<std::pair<std::string, std::string>> settings;
  std::string settings_toml;
  RunEnvironment environment;
  TrainingHistory history;
  std::optional<SplitMetrics> train, valid, test;  // absent = split not scored
  std::optional<TaskSplitMetrics> task_train, task_valid, task_test;  // task runs only
  std::uint64_t parameters = 0;                    // free parameters of the trained model
  std::uint64_t updates = 0;                       // optimizer updates / EM iterations
  std::uint64_t epochs = 0;                        // epochs / EM iterations run
  double wall_seconds = 0.0;                       // training wall-clock time
  // The dataset's generating-process NLL per step (nats) on the test split, where known.
  double floor_nats = std::numeric_limits<double>::quiet_NaN();
  std::vector<std::string> samples;  // samples drawn from the trained model, as text
  // Inspection data for figures, empty when not applicable (take_snapshot):
  arma::mat transition;              // HMM: N x N, row-stochastic
  arma::mat filters;                 // RBM: H x V, the weights of each hidden unit (a row)
  arma::mat posterior;               // HMM: N x T state posteriors over the stretch
  arma::mat activations;             // RNN: H x T hidden states of the last layer
  std::vector<std::string> stretch;  // the T steps of the stretch as text (symbols or step numbers)
};

// The run-file format version written and read (root attribute seqlab_run_format).
inline constexpr int kRunFormatVersion = 1;

// Requires: result.unit "symbol" or "frame"; result.model_type == model.type(); settings sorted
//   by key without duplicates; inspection data consistent (transition square, posterior with
//   its rows, and posterior / activations with as many columns as stretch has elements) (else
//   std::invalid_argument: these are the caller's bugs); `path` passes require_output_path.
// Ensures: `path` holds settings, environment, history (io/history.hpp), metrics, samples,
//   inspection data and the trained model as the subgroup `model` (laid out as a model file's
//   root: save_model_into), built in memory and written atomically (h5::write_file_atomically):
//   on any failure an existing file at `path` is unchanged and no partial file is left. A model
//   with a non-finite parameter is not written (h5::NonFiniteValue names the dataset); NaN in
//   metrics and history means "not measured" and is stored as such.
void write_run_file(const std::filesystem::path& path, const RunResult& result,
                    const SequenceModel& model);
// The same for a task run: result.task is model.task()'s name and result.unit its history unit
// (task_history_unit); the model group is laid out as a task model file's root
// (save_task_model_into). Likelihood splits (train, valid, test) must be absent.
void write_run_file(const std::filesystem::path& path, const RunResult& result,
                    const RnnTaskModel& model);

// Requires nothing. Ensures: the RunResult stored at `path` (the model is not loaded), else a
//   one-line UserError naming the file and the object: not a file, not HDF5, truncated or
//   corrupt, not a run file (no seqlab_run_format), another format version, a missing or
//   mistyped attribute or dataset, inconsistent shapes.
RunResult read_run_file(const std::filesystem::path& path);

// Requires nothing. Ensures: true when `path` is a readable HDF5 file whose root carries the
//   attribute seqlab_run_format (what tells a run file from a model file); false otherwise,
//   never an error. Cost: opens the file.
bool is_run_file(const std::filesystem::path& path);

// Requires nothing. Ensures: the trained model stored in the run file's `model` subgroup, with
//   load_model's checks (UserError naming the file and "/model" otherwise).
//   A task run's file is refused (it holds no sequence model): load_run_task_model reads it.
std::unique_ptr<SequenceModel> load_run_model(const std::filesystem::path& path);
// Requires nothing. Ensures: the task model of a task run's file, else a UserError naming the
//   file (a sequence model's run is refused likewise).
RnnTaskModel load_run_task_model(const std::filesystem::path& path);

// The runs of a results folder.
struct Summary {
  std::vector<RunResult> runs;               // sorted by dataset, family, label, seed, run id
  std::vector<std::filesystem::path> files;  // files[i] holds runs[i] ("<dir>/runs/<name>.h5")
  std::vector<std::string> warnings;         // one line per file that was skipped, and why
};

// Requires: `dir` is a results folder: a directory holding a directory runs/ (else UserError
//   naming it and what is missing).
// Ensures: every readable run file runs/*.h5, sorted deterministically (dataset, family, label,
//   seed, run id, file name). Skipped with a warning each: temp files of writes in progress or
//   interrupted ("*.tmp.<pid>"), damaged or foreign .h5 files (the reader's message), any other
//   entry of runs/, and a second file carrying a run id already seen (the first file by name is
//   kept). Writes nothing. Cost: one read of each run file's metadata (models are not loaded).
Summary read_results_folder(const std::filesystem::path& dir);

// Ensures: read_results_folder(dir), and <dir>/results.h5 and <dir>/results.csv rewritten from
//   it, each atomically (one row per run, in the summary's order; layout in docs/formats.md).
//   A folder without runs gives tables of zero rows.
Summary rebuild_summary(const std::filesystem::path& dir);

// The summary table as CSV text (what results.csv holds): a header line, then one line per run.
// Fields are quoted as RFC 4180 says (when they hold a comma, a quote or a line break); numbers
// are written in the shortest form that reads back as the same double; a missing value
// (a split that was not scored, NaN) is an empty field.
std::string summary_csv(const Summary& summary);

}  // namespace seqlab
