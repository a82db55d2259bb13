// tools/seqlab/commands.hpp: the entry point of each subcommand (one .cpp file per command).
// Each gets the arguments after the command name and returns the process exit code; user errors
// are thrown as seqlab::UserError and worded by main().
#pragma once

#include <string>
#include <vector>

namespace seqlab::cli {

// --- datasets ---
// `seqlab datasets list | info NAME | fetch NAME | verify NAME` (cmd_datasets.cpp).
int datasets_command(const std::vector<std::string>& args);
// --- train / eval / sample ---
int train_command(const std::vector<std::string>& args);
int eval_command(const std::vector<std::string>& args);
int sample_command(const std::vector<std::string>& args);
int decode_command(const std::vector<std::string>& args);
// --- Hopfield networks (associative memories: recall, no likelihood) ---
// `seqlab recall` (cmd_model.cpp, with cmd_hopfield.cpp) and `seqlab capacity` (cmd_hopfield.cpp).
int recall_command(const std::vector<std::string>& args);
int capacity_command(const std::vector<std::string>& args);
// --- energy models with a likelihood ---
// `seqlab logz`: AIS estimates of log Z against the exact value (cmd_model.cpp).
int logz_command(const std::vector<std::string>& args);
// --- experiments ---
// `seqlab run EXPERIMENT.toml` (cmd_run.cpp).
int run_command(const std::vector<std::string>& args);
// `seqlab merge --out DIR FOLDER...`: results folders of one experiment combined (cmd_merge.cpp).
int merge_command(const std::vector<std::string>& args);
// --- report / plot ---
// `seqlab report RESULTS_DIR` and `seqlab plot RESULTS` (cmd_report.cpp).
int report_command(const std::vector<std::string>& args);
int plot_command(const std::vector<std::string>& args);
// --- bench ---
// `seqlab bench blas | hmm | rnn | rbm | hopfield` (cmd_bench.cpp; rnn: cmd_bench_rnn.cpp; rbm:
// cmd_bench_rbm.cpp; hopfield: cmd_bench_hopfield.cpp).
int bench_command(const std::vector<std::string>& args);
int bench_rnn(const std::vector<std::string>& args);
int bench_rbm(const std::vector<std::string>& args);
int bench_hopfield(const std::vector<std::string>& args);

}  // namespace seqlab::cli
