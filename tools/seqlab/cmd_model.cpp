// tools/seqlab/cmd_model.cpp: `seqlab train`, `seqlab eval`, `seqlab sample`, `seqlab decode`,
// `seqlab recall` and `seqlab logz`: the commands that fit a model to a dataset split, score a
// split with a saved model, draw from a saved model, decode hidden states with a saved HMM
// (symbols, vectors or binary frames), show a Hopfield network's recall of single cues, and hold
// an energy model's AIS estimates of log Z against the exact value.
// Models: Markov chains, HMMs, recurrent networks (rnn, leaky, jordan, lstm, gru) and RBMs; with
// --task a recurrent network learns a sequence-level task instead (cmd_task.cpp); a Hopfield
// network, which defines no likelihood, is stored and scored by recall (cmd_hopfield.cpp).
// Thin over the library: datasets come from open_dataset(), models from the models layer, files
// from io/model_file (written atomically).
#include <unistd.h>

#include <algorithm>
#include <charconv>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <iostream>
#include <limits>
#include <map>
#include <memory>
#include <optional>
#include <sstream>

#include "cli_common.hpp"
#include "cmd_hopfield.hpp"
#include "cmd_task.hpp"
#include "mpi_session.hpp"
#include "commands.hpp"
#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/communicator.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"
#include "seqlab/core/parallel.hpp"
#include "seqlab/data/registry.hpp"
#include "seqlab/data/utf8.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/io/results_file.hpp"
#include "seqlab/models/energy/normaliser.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/model_registry.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "seqlab/report/figures.hpp"

namespace seqlab::cli {
namespace {

constexpr double kNegativeInfinity = -std::numeric_limits<double>::infinity();

// Options naming the data, shared by train and eval.
struct DataArgs {
  std::string data;
  std::string split;
  std::string reader;
  std::vector<std::string> reader_options;  // key=value
  std::string split_ratios;                 // "80,10,10"
  std::string split_by;                     // position | sequence
};

void add_data_options(po::options_description& desc, DataArgs& d, const std::string& default_split) {
  desc.add_options()
    ("data", po::value(&d.data)->value_name("NAME|PATH"),
     "a registry dataset name (see 'seqlab datasets list') or a file path")
    ("split", po::value(&d.split)->default_value(default_split)->value_name("SPLIT"),
     "train, valid, test, or all (the whole source)")
    ("reader", po::value(&d.reader)->value_name("READER"),
     "for a file path: text, fasta, csv, pianoroll or patterns (default: by extension)")
    ("reader-option", po::value(&d.reader_options)->composing()->value_name("KEY=VALUE"),
     "for a file path: a reader option, e.g. level=token (repeatable)")
    ("split-ratios", po::value(&d.split_ratios)->value_name("TRAIN,VALID,TEST"),
     "for a file path: split by these proportions, e.g. 80,10,10 (default 90,5,5)")
    ("split-by", po::value(&d.split_by)->value_name("position|sequence"),
     "for a file path: cut every sequence by position (default), or assign whole sequences to "
     "the splits after a seeded shuffle (split seed 0)");
}

OpenOptions open_options(const DataArgs& d) {
  OpenOptions o;
  o.reader = d.reader;
  o.reader_options.set_context("--reader-option");
  for (const auto& kv : d.reader_options) {
    const auto eq = kv.find('=');
    if (eq == std::string::npos || eq == 0)
      user_error("--reader-option: expected KEY=VALUE, got '" + kv + "'");
    o.reader_options.set(kv.substr(0, eq), kv.substr(eq + 1));
  }
  if (!d.split_ratios.empty()) {
    double parts[3];
    std::size_t count = 0;
    std::string rest = d.split_ratios;
    while (count < 3) {
      const auto comma = rest.find(',');
      const std::string item = rest.substr(0, comma);
      char* end = nullptr;
      parts[count] = std::strtod(item.c_str(), &end);
      if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(parts[count]) ||
          parts[count] < 0.0)
        break;
      ++count;
      if (comma == std::string::npos) {
        rest.clear();
        break;
      }
      rest = rest.substr(comma + 1);
    }
    if (count != 3 || !rest.empty() || !(parts[0] > 0.0))
      user_error("--split-ratios: expected three numbers >= 0 with a train part above 0, e.g. "
                 "80,10,10, got '" + d.split_ratios + "'");
    const double sum = parts[0] + parts[1] + parts[2];
    o.split.train = parts[0] / sum;
    o.split.valid = parts[1] / sum;
  }
  if (!d.split_by.empty()) {
    if (d.split_by != "position" && d.split_by != "sequence")
      user_error("--split-by must be position or sequence, got '" + d.split_by + "'");
    o.split.method = d.split_by == "sequence" ? SplitRule::Method::shuffle
                                              : SplitRule::Method::contiguous;
  }
  return o;
}

// A split of an opened dataset. The set is looked up on demand so that it always refers to the
// dataset this object owns.
struct DataSplit {
  SequenceDataset dataset;
  Split split = Split::test;
  const SequenceSet& set() const { return dataset.get(split); }
};

// Opens the dataset named by `d` and picks its split. Ensures: the split has at least one
// sequence with at least one step, else a UserError "<command>: split 'S' of dataset 'D' is
// empty".
DataSplit open_split(const std::string& command, const DataArgs& d, const OpenOptions& options) {
  DataSplit out;
  out.split = parse_split(d.split);
  if (!d.reader.empty() || !d.reader_options.empty() || !d.split_ratios.empty() ||
      !d.split_by.empty()) {
    const DataLocations locations = DataLocations::from_environment();
    const std::string flag = !d.reader.empty()           ? "--reader"
                             : !d.reader_options.empty() ? "--reader-option"
                             : !d.split_ratios.empty()   ? "--split-ratios"
                                                         : "--split-by";
    if (!locations.registry.empty() && load_registry(locations).find(d.data) != nullptr)
      user_error(command + ": " + flag +
                 " applies to data files; '" + d.data + "' is a registry dataset, whose reader, "
                 "options and split the registry sets (see 'seqlab datasets info " + d.data + "')");
  }
  out.dataset = open_dataset(d.data, options);
  const SequenceSet& set = out.set();
  if (set.empty() || set.total_steps() == 0)
    user_error(command + ": split '" + d.split + "' of dataset '" + out.dataset.name + "' is empty");
  return out;
}

// A model file, or the trained model inside an experiment's run file (results/NAME/runs/ID.h5),
// so that a run's model is scored, sampled or decoded without copying it out. A task run's file
// is refused by load_run_model, naming it.
std::unique_ptr<SequenceModel> load_model_or_run(const std::string& path) {
  return is_run_file(path) ? load_run_model(path) : load_model(path);
}

// The unit one predicted step is reported in: a symbol, or a frame (a vector or binary frame).
const char* step_unit(SequenceKind kind) { return kind == SequenceKind::symbols ? "symbol" : "frame"; }

// Requires nothing. Ensures: `model` can score `dataset` as opened (seqlab::require_model_fits:
// kind, alphabet, frame rows and row names), else that UserError prefixed with the command and
// the model file.
void require_model_fits(const std::string& command, const std::string& model_path,
                        const SequenceModel& model, const SequenceDataset& dataset) {
  try {
    seqlab::require_model_fits(model, dataset);
  } catch (const UserError& e) {
    // Frames written to a .txt file (as 'seqlab sample' does) are read as text unless told.
    std::string hint;
    if (dataset.kind == SequenceKind::symbols && model.kind() == SequenceKind::binary_frames)
      hint = " (read binary frames with --reader pianoroll, the format 'seqlab sample' writes "
             "for piano-roll models, or --reader patterns)";
    else if (dataset.kind == SequenceKind::symbols && model.kind() == SequenceKind::vectors)
      hint = " (read vectors with --reader csv, the format 'seqlab sample' writes for them)";
    user_error(command + ": " + model_path + ": " + e.what() + hint);
  }
}

// The model options of `seqlab train` come from the model registry (model_registry.hpp): one flag
// per option, grouped by help section, values parsed and checked by the registry.
struct ModelFlags {
  std::vector<std::unique_ptr<po::options_description>> sections;
  std::map<std::string, bool> switches;  // flag options: set by po::bool_switch
};

std::string default_shown(const OptionSpec& spec) {
  if (spec.type == OptionType::flag) return "";
  std::string others;
  for (const auto& [model, value] : spec.model_defaults)
    others += "; " + model + ": " + option_text(value);
  if (spec.zero_is_off && option_text(spec.default_value) == "0")
    return " (default 0 = off" + others + ")";
  return " (default " + option_text(spec.default_value) + others + ")";
}

void add_model_flags(po::options_description& all, ModelFlags& flags) {
  std::map<std::string, po::options_description*> by_section;
  for (const OptionSpec& spec : model_options()) {
    po::options_description*& section = by_section[spec.section];
    if (section == nullptr) {
      flags.sections.push_back(std::make_unique<po::options_description>(spec.section));
      section = flags.sections.back().get();
    }
    const std::string help = spec.help + default_shown(spec);
    if (spec.type == OptionType::flag) {
      flags.switches[spec.name] = false;
      section->add_options()(spec.name.c_str(), po::bool_switch(&flags.switches[spec.name]),
                             help.c_str());
    } else {
      section->add_options()(spec.name.c_str(),
                             po::value<std::string>()->value_name(
                                 spec.value_name.empty() ? "X" : spec.value_name),
                             help.c_str());
    }
  }
  for (const auto& section : flags.sections) all.add(*section);
}

// True when the user gave option `name` (bool switches count only when on).
bool given(const po::variables_map& vm, const std::string& name) {
  return vm.count(name) && !vm[name].defaulted();
}

// The spelling of `seqlab train`'s messages: "train: --lr-gamma ...".
OptionSpelling train_spelling() {
  OptionSpelling s;
  s.name = [](const std::string& option) { return "--" + option; };
  s.fail = [](const std::string&, const std::string& message) { user_error("train: " + message); };
  return s;
}

// The model options the user gave on the command line, parsed (not yet range-checked).
OptionValues given_model_options(const po::variables_map& vm, const ModelFlags& flags,
                                 const OptionSpelling& spelling) {
  OptionValues values;
  for (const OptionSpec& spec : model_options()) {
    if (spec.type == OptionType::flag) {
      if (flags.switches.at(spec.name)) values[spec.name] = true;
    } else if (given(vm, spec.name)) {
      values[spec.name] = parse_option_text(spec, vm[spec.name].as<std::string>(), spelling);
    }
  }
  return values;
}

// "1e-06" / "0.5" / "inf": a number as the user would recognise it in a message.
std::string shown(double x) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%g", x);
  return buffer;
}

// "%.6f", or "%.6e" where fixed notation would print dozens of digits.
std::string number(double x) {
  char buffer[64];
  std::snprintf(buffer, sizeof buffer, std::abs(x) < 1e9 || !std::isfinite(x) ? "%.6f" : "%.6e", x);
  return buffer;
}

// `unit` names one predicted step: "symbol" or "frame". Perplexity is printed for symbols only:
// for frames the likelihood is a density (vectors) or spread over 2^d outcomes (binary frames),
// and exp(NLL) is no "effective number of choices".
void print_evaluation(const std::string& what, const Evaluation& e, const char* unit) {
  std::printf("%-16s %s %ss in %s sequence%s\n", what.c_str(), with_commas(e.symbols).c_str(),
              unit, with_commas(e.sequences).c_str(), e.sequences == 1 ? "" : "s");
  std::printf("%-16s %s nats\n", "log-likelihood", number(e.log_likelihood).c_str());
  std::printf("%-16s %s nats/%s   %s bits/%s\n", "NLL", number(e.nats_per_symbol()).c_str(), unit,
              number(e.bits_per_symbol()).c_str(), unit);
  if (std::string(unit) == "symbol")
    std::printf("%-16s %s\n", "perplexity", number(e.perplexity()).c_str());
  if (e.nll_stderr > 0.0)
    std::printf("%-16s %s nats/%s   %s bits/%s (the model's log Z is an AIS estimate)\n",
                "NLL std. error", number(e.nll_stderr).c_str(), unit,
                number(nats_to_bits(e.nll_stderr)).c_str(), unit);
}

// The keys name the step unit: "symbols" and "perplexity" for symbol models, "frames" (and no
// perplexity) for frame models.
void add_evaluation_json(JsonObject& j, const Evaluation& e, SequenceKind kind) {
  const bool symbols = kind == SequenceKind::symbols;
  j.add("log_likelihood", e.log_likelihood);
  j.add(symbols ? "symbols" : "frames", static_cast<std::uint64_t>(e.symbols));
  j.add("sequences", static_cast<std::uint64_t>(e.sequences));
  j.add("nll_nats", e.nats_per_symbol());
  j.add("nll_bits", e.bits_per_symbol());
  if (symbols) j.add("perplexity", e.perplexity());
  if (e.nll_stderr > 0.0) {
    j.add("nll_stderr_nats", e.nll_stderr);
    j.add("nll_stderr_bits", nats_to_bits(e.nll_stderr));
  }
}

// ------------------------------------------------------------------------------------------
int run_train(const std::vector<std::string>& args) {
  const std::string cmd = "train";
  CommonOptions common;
  DataArgs data;
  std::string model_name, out, checkpoint;
  double log_every = 10.0, checkpoint_every = 300.0;
  bool resume = false;

  po::options_description general("Options");
  general.add_options()
    ("model", po::value(&model_name)->value_name("TYPE"),
     ("model type: " + model_type_list()).c_str())
    ("out,o", po::value(&out)->value_name("FILE.h5"), "where to write the trained model")
    ("log-every", po::value(&log_every)->default_value(10)->value_name("SECONDS"),
     "when stderr is not a terminal (a log file), write the progress line at most this often "
     "(0 = every time it changes, about twice a second)")
    ("checkpoint", po::value(&checkpoint)->value_name("FILE"),
     "recurrent networks: save the whole training state to FILE every --checkpoint-every "
     "seconds and when stopped by SIGINT or SIGTERM (exit 130 / 143); FILE is removed when "
     "training finishes. FILE must not exist yet, unless --resume. Under mpirun rank 0 writes "
     "it, and it continues under as many ranks")
    ("checkpoint-every", po::value(&checkpoint_every)->default_value(300)->value_name("SECONDS"),
     "with --checkpoint: seconds between checkpoints (0 = after every update)")
    ("resume", po::bool_switch(&resume),
     "continue from the --checkpoint FILE of a stopped run (the same command plus --resume): "
     "the result is bit for bit that of a run never stopped");
  add_data_options(general, data, "train");
  add_common_options(general, common, kJson | kSeed | kThreads);
  po::options_description all;
  all.add(general);
  ModelFlags flags;
  add_model_flags(all, flags);
  po::variables_map vm;
  if (!parse_command_line(cmd, "--model TYPE --data NAME|PATH --out FILE.h5 [options]", args, all,
                          nullptr, vm))
    return 0;
  require_option(cmd, vm, "model");
  require_option(cmd, vm, "data");
  require_option(cmd, vm, "out");
  if (!(std::isfinite(log_every) && log_every >= 0.0 && log_every <= 1e9))
    user_error("train: --log-every must be a number in [0, 1e+09], got " + shown(log_every));
  const OptionSpelling spelling = train_spelling();
  const ResolvedOptions options =
      resolve_options(model_name, given_model_options(vm, flags, spelling), spelling);
  const bool recurrent_model = model_family(model_name) == "RNN";
  // Fail before any work when the result could not be written or would replace an input.
  require_output_path(out);
  require_distinct_output(out, "--out", {{"--data", data.data}});

  const bool task = options.was_given("task") && options.text("task") != "none";
  // Under mpirun the ranks share Baum-Welch (FitOptions::communicator); rank 0 alone prints and
  // writes the model. Other models would only train R copies side by side.
  const Communicator* communicator = mpi_communicator();
  if (communicator != nullptr && ((model_name != "hmm" && !recurrent_model) || task))
    user_error("train: --model " + model_name + (task ? " --task" : "") +
               " trains in one process; under mpirun (" + std::to_string(mpi_size()) +
               " ranks) only --model hmm (Baum-Welch) and the recurrent networks (next-step "
               "training) share their training: run it without mpirun");
  const bool speaks = mpi_rank() == 0;
  if (!speaks) {
    common.quiet = true;
    common.json = false;
  }
  if (!checkpoint.empty() || resume || given(vm, "checkpoint-every")) {
    if (checkpoint.empty())
      user_error(std::string("train: ") + (resume ? "--resume" : "--checkpoint-every") +
                 " needs --checkpoint FILE" + (resume ? ", the checkpoint to continue from" : ""));
    if (!recurrent_model)
      user_error("train: --checkpoint applies to recurrent networks (rnn, leaky, jordan, lstm, "
                 "gru), not to --model " + model_name);
    if (task)
      user_error("train: --checkpoint applies to next-step training, not to --task");
    if (!(std::isfinite(checkpoint_every) && checkpoint_every >= 0.0 && checkpoint_every <= 1e9))
      user_error("train: --checkpoint-every must be a number of seconds in [0, 1e+09], got " +
                 shown(checkpoint_every));
    require_output_path(checkpoint);
    require_distinct_output(checkpoint, "--checkpoint", {{"--data", data.data}, {"--out", out}});
    if (std::filesystem::absolute(checkpoint).lexically_normal() ==
        std::filesystem::absolute(out).lexically_normal())
      user_error("train: --checkpoint and --out name the same file, " + out);
    std::error_code ec;
    const bool exists = std::filesystem::exists(checkpoint, ec);
    if (resume && !exists)
      input_error(checkpoint, "no checkpoint to resume from (--resume continues a run that was "
                              "stopped; a run that finished removed its checkpoint)");
    if (!resume && exists)
      input_error(checkpoint, "holds the checkpoint of an unfinished run: add --resume to "
                              "continue it, or remove the file to start again");
  }
  // A Hopfield network is stored, not fitted, and scored by recall (cmd_hopfield.cpp).
  if (!defines_likelihood(model_name)) {
    HopfieldTrainRequest request;
    request.options = hopfield_options_for(options, spelling);
    const DataSplit opened = open_split(cmd, data, open_options(data));
    request.dataset = &opened.dataset;
    request.split = opened.split;
    request.split_name = data.split;
    request.out = out;
    request.common = common;
    return train_hopfield(request);
  }
  if (options.was_given("bidirectional") && !task)
    user_error("train: --bidirectional: a bidirectional network reads the future, so it defines "
               "no left-to-right likelihood; it needs --task classify or --task regress");
  if (task) {
    TaskTrainRequest request;
    request.task = rnn::parse_task(options.text("task"), "train: --task");
    request.options = rnn_task_options_for(options, spelling);
    const DataSplit opened = open_split(cmd, data, open_options(data));
    if (opened.dataset.kind != SequenceKind::symbols && options.was_given("embedding"))
      user_error("train: --embedding applies to symbol data; dataset '" + opened.dataset.name +
                 "' holds " + to_string(opened.dataset.kind));
    request.dataset = &opened.dataset;
    request.split = opened.split;
    request.split_name = data.split;
    request.out = out;
    request.common = common;
    request.log_every = log_every;
    return train_task(request);
  }

  DataSplit opened = open_split(cmd, data, open_options(data));
  std::unique_ptr<SequenceModel> model = build_model(options, opened.dataset, spelling);

  // Under mpirun an HMM's ranks each keep only their share of the training sequences (cut into
  // the --chunk pieces first), and drop the rest of the training data: no rank holds it all.
  const bool sharded = communicator != nullptr && model_name == "hmm";
  const arma::uword chunk =
      options.values.count("chunk") != 0 ? static_cast<arma::uword>(options.integer("chunk")) : 0;
  DataShard shard;
  SequenceSet shard_set;
  if (sharded) {
    shard_set = take_shard(opened.set(), chunk, communicator, &shard);
    for (SequenceSet* dropped : {&opened.dataset.all, &opened.dataset.train, &opened.dataset.test}) {
      *dropped = SequenceSet{};
      dropped->kind = shard_set.kind;
    }
    if (speaks && !common.quiet) {
      // Every rank's share, from the lengths every rank knows: the smallest and largest.
      const std::vector<double> weights(shard.lengths.begin(), shard.lengths.end());
      double fewest = 0, most = 0;
      for (unsigned r = 0; r < communicator->size(); ++r) {
        const UnitRange range = contiguous_share(weights, r, communicator->size());
        double steps = 0;
        for (std::size_t u = range.begin; u < range.end; ++u) steps += weights[u];
        fewest = r == 0 ? steps : std::min(fewest, steps);
        most = std::max(most, steps);
      }
      std::printf("MPI: %u ranks each hold only their share of the %s training %s%s: %s to %s "
                  "%ss each\n",
                  communicator->size(), with_commas(shard.count()).c_str(),
                  chunk > 0 ? "pieces" : "sequences",
                  chunk > 0 ? (" of at most " + with_commas(chunk) + " symbols").c_str() : "",
                  with_commas(static_cast<std::uint64_t>(fewest)).c_str(),
                  with_commas(static_cast<std::uint64_t>(most)).c_str(),
                  step_unit(shard_set.kind));
    }
  }
  const SequenceSet& train = sharded ? shard_set : opened.set();
  const SequenceDataset& dataset = opened.dataset;
  const SequenceSet* valid =
      opened.split == Split::train && !dataset.valid.empty() ? &dataset.valid : nullptr;
  const char* unit = step_unit(dataset.kind);
  // Options that act on the valid split do nothing without one: say so instead.
  if (valid == nullptr)
    for (const char* name : {"patience", "valid-every"})
      if (options.was_given(name))
        user_error("train: --" + std::string(name) + " needs a valid split, and training on split '" +
                   data.split + "' of dataset '" + dataset.name + "' has none");
  if (valid == nullptr && recurrent_model && options.text("schedule") == "plateau")
    user_error("train: --schedule plateau follows the valid NLL, and training on split '" +
               data.split + "' of dataset '" + dataset.name + "' has no valid split");

  FitOptions fo;
  fo.seed = common.seed;
  fo.threads = common.threads;
  fo.quiet = common.quiet;
  fo.checkpoint = checkpoint;
  fo.checkpoint_seconds = checkpoint_every;
  fo.communicator = communicator;
  if (sharded) fo.shard = &shard;
  if (!checkpoint.empty()) fo.stop = catch_stop_signals();
  FitObserver observer = progress_observer(common.quiet, log_every);
  // The learning curve, saved with the model (its history/ group).
  TrainingHistory history;
  observer.on_epoch = [&history, next = observer.on_epoch](const EpochRecord& r) {
    history.push_back(r);
    if (next) next(r);
  };
  const auto t0 = std::chrono::steady_clock::now();
  try {
    model->fit(train, valid, fo, &observer);
  } catch (const Interrupted&) {
    // Under MPI every rank stopped at the same update and rank 0 wrote the checkpoint.
    if (!speaks) return stopped_exit_code();
    std::cout.flush();
    const int signal = stop_signal();
    std::cerr << "seqlab: train stopped by signal"
              << (signal != 0 ? std::string(" (") + strsignal(signal) + ")" : std::string())
              << "; checkpoint in " << checkpoint << ", run the same command"
              << (resume ? " again" : " with --resume") << " to continue" << std::endl;
    return stopped_exit_code();
  } catch (const UserError& e) {  // the data's fault or the options': say which data
    user_error("train on dataset '" + dataset.name + "' [" + data.split + "]: " + e.what());
  }
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  // A shard's training score is the sum of the ranks' scores of their pieces, so every rank takes
  // part (with --chunk it is the score of the pieces, as trained, and says so below).
  std::optional<Evaluation> on_train;
  if (sharded) {
    Evaluation local = train.empty() ? Evaluation{} : evaluate(*model, train);
    double sums[3] = {local.log_likelihood, static_cast<double>(local.symbols),
                      static_cast<double>(local.sequences)};
    communicator->sum_in_rank_order(sums, 3);
    on_train.emplace();
    on_train->log_likelihood = sums[0];
    on_train->symbols = static_cast<std::uint64_t>(sums[1]);
    on_train->sequences = static_cast<std::uint64_t>(sums[2]);
  }
  if (!speaks) return 0;  // every rank holds the same model: rank 0 writes and reports it
  try {
    save_model(out, *model, &history);
  } catch (const h5::NonFiniteValue& e) {
    training_diverged(out, e.dataset(),
                      recurrent_model ? "try a lower --lr or a smaller --clip"
                                      : "standardise the data (zero mean, unit variance) or raise "
                                        "--variance-floor");
  }

  // A recurrent network already measured its training NLL during the last epoch; scoring a long
  // training text again in float64 would take minutes (it is one sequential pass), so it reports
  // that figure instead, labelled as such. Every other model is scored exactly.
  const auto* rnn_model = dynamic_cast<const RnnModel*>(model.get());
  if (rnn_model == nullptr && !sharded) on_train = evaluate(*model, train);
  std::optional<Evaluation> on_valid;
  if (valid) on_valid = evaluate(*model, *valid);
  if (!common.quiet) {
    std::printf("trained %s (%s parameters) on %s [%s] in %.2f s; wrote %s\n", model->type().c_str(),
                with_commas(model->num_parameters()).c_str(), dataset.name.c_str(),
                data.split.c_str(), seconds, out.c_str());
    if (on_train && sharded && chunk > 0)
      std::printf("train: scored as %s pieces of at most %s symbols (--chunk), as trained\n",
                  with_commas(on_train->sequences).c_str(), with_commas(chunk).c_str());
    if (on_train)
      print_evaluation("train", *on_train, unit);
    else if (!std::isfinite(rnn_model->last_fit().train_nll))
      std::printf("%-16s not measured: no training epoch ran (the saved network is its random "
                  "initialisation)\n", "train NLL");
    else
      std::printf("%-16s %.6f nats/%s   %.6f bits/%s (during the last epoch, training mode)\n",
                  "train NLL", rnn_model->last_fit().train_nll, unit,
                  rnn_model->last_fit().train_nll / std::log(2.0), unit);
    if (on_valid) print_evaluation("valid", *on_valid, unit);
  }
  if (common.json) {
    JsonObject j;
    j.add("model", model->type());
    j.add("file", out);
    j.add("data", dataset.name);
    j.add("split", data.split);
    j.add("parameters", static_cast<std::uint64_t>(model->num_parameters()));
    j.add("seconds", seconds);
    j.add("history_records", static_cast<std::uint64_t>(history.size()));
    if (on_train) {
      if (sharded && chunk > 0) j.add("train_scored_on_pieces_of", static_cast<std::uint64_t>(chunk));
      j.add("train_nll_nats", on_train->nats_per_symbol());
      j.add("train_nll_bits", on_train->bits_per_symbol());
    } else {
      j.add("train_epoch_nll_nats", rnn_model->last_fit().train_nll);
      j.add("train_epoch_nll_bits", rnn_model->last_fit().train_nll / std::log(2.0));
    }
    if (on_valid) {
      j.add("valid_nll_nats", on_valid->nats_per_symbol());
      j.add("valid_nll_bits", on_valid->bits_per_symbol());
    }
    std::cout << j.str() << std::endl;
  }
  return 0;
}

// The first step of sequence i of `set` that has probability 0 under `model`, if any.
std::optional<arma::uword> first_impossible_step(const SequenceModel& model, const SequenceSet& set,
                                                 std::size_t i) {
  const arma::vec steps = set.kind == SequenceKind::symbols ? model.step_log_probs(set.symbols[i])
                                                            : model.step_log_probs(set.frames[i]);
  for (arma::uword t = 0; t < steps.n_elem; ++t)
    if (std::isinf(steps(t)) && steps(t) < 0) return t;
  return std::nullopt;
}

// Why a step can get probability 0 under this kind of model, and what to do about it.
std::string impossible_step_cause(const SequenceModel& model) {
  const std::string retrain = " does that to an HMM trained without --pseudo-count: retrain with "
                              "--pseudo-count 0.01 or so";
  if (model.type() == "hmm") {
    switch (model.kind()) {
      case SequenceKind::symbols:
        return "a symbol or transition never seen in training" + retrain;
      case SequenceKind::binary_frames:
        return "a unit that was always off (or always on) in a state, or a transition never "
               "seen in training," + retrain;
      case SequenceKind::vectors:
        return "a transition or initial state never used in training" + retrain +
               "; values far outside the training data (standardise them) do it too";
    }
  }
  if (model.type() == "markov") return "a context or symbol with no probability mass left";
  return "the network puts all of its probability elsewhere (extreme logits, as after a diverged "
         "or heavily overfit training run)";
}

void warn_impossible_step(const SequenceModel& model, std::size_t sequence, arma::uword step,
                          const char* consequence) {
  std::fprintf(stderr, "seqlab: warning: sequence %zu, step %llu has probability 0 under the model "
               "(%s); %s\n", sequence, static_cast<unsigned long long>(step), consequence,
               impossible_step_cause(model).c_str());
}

// An infinite NLL is a correct answer but rarely the one wanted: it means one step has
// probability 0 under the model. Says where (the first such step), and the usual cause.
void warn_first_impossible_step(const SequenceModel& model, const SequenceSet& set) {
  for (std::size_t i = 0; i < set.size(); ++i)
    if (const auto t = first_impossible_step(model, set, i)) {
      warn_impossible_step(model, i, *t, "the NLL is infinite");
      return;
    }
}

// ------------------------------------------------------------------------------------------
int run_eval(const std::vector<std::string>& args) {
  const std::string cmd = "eval";
  CommonOptions common;
  DataArgs data;
  std::string model_path, unknown;
  bool per_sequence = false;
  double flip = 0.1;
  po::options_description desc("Options");
  desc.add_options()
    ("model,m", po::value(&model_path)->value_name("FILE.h5"),
     "a model file written by 'seqlab train', or an experiment's run file "
     "(results/NAME/runs/ID.h5)")
    ("flip", po::value(&flip)->default_value(0.1, "0.1")->value_name("F"),
     "Hopfield networks (no likelihood: scored by recall): the fraction of each cue's units "
     "flipped before recall; --seed draws the flips and the update order")
    ("per-sequence", po::bool_switch(&per_sequence),
     "also give each sequence's log-likelihood (nats) and length: a table, or with --json the "
     "array \"per_sequence\"")
    ("unknown", po::value(&unknown)->default_value("error")->value_name("error|unk"),
     "a symbol outside the model's alphabet: stop with an error, or score it as <unk> (only when "
     "the model has an <unk> symbol)");
  add_data_options(desc, data, "test");
  add_common_options(desc, common, kJson | kSeed);
  po::variables_map vm;
  if (!parse_command_line(cmd, "--model FILE.h5 --data NAME|PATH [--split test] [--json] [--per-sequence]",
                          args, desc, nullptr, vm))
    return 0;
  require_option(cmd, vm, "model");
  require_option(cmd, vm, "data");
  // Symbols are read with the model's alphabet.
  const auto with_alphabet = [&](const Alphabet& alphabet) {
    OpenOptions oo = open_options(data);
    oo.fixed_alphabet = &alphabet;
    if (unknown == "error")
      oo.unknown = UnknownPolicy::error;
    else if (unknown == "unk")
      oo.unknown = UnknownPolicy::map_to_unk;
    else
      user_error("eval: --unknown must be error or unk, got '" + unknown + "'");
    return oo;
  };
  check_model_file_loads(model_path);
  if (energy::is_hopfield_file(model_path)) {
    if (per_sequence)
      user_error("eval: --per-sequence gives log-likelihoods; " + model_path +
                 " is a Hopfield network, which defines none (it is scored by recall)");
    const energy::HopfieldMemory memory = energy::load_hopfield_file(model_path);
    const DataSplit opened = open_split(cmd, data, open_options(data));
    return eval_hopfield(memory, model_path, opened.dataset, opened.set(), data.split, flip,
                         common);
  }
  for (const char* name : {"flip", "seed"})
    if (given(vm, name))
      user_error("eval: --" + std::string(name) + " applies to Hopfield networks (recall from "
                 "noisy cues); " + model_path + " is scored exactly, without random choices");
  if (is_task_model_file(model_path)) {
    if (per_sequence)
      user_error("eval: --per-sequence applies to models with a likelihood; " + model_path +
                 " is a --task model");
    const RnnTaskModel task_model = load_task_model(model_path);
    const OpenOptions oo = task_model.kind() == SequenceKind::symbols
                               ? with_alphabet(task_model.alphabet())
                               : open_options(data);
    const DataSplit opened = open_split(cmd, data, oo);
    return eval_task(task_model, model_path, opened.dataset, opened.set(), data.split, common);
  }
  const auto model = load_model_or_run(model_path);

  const OpenOptions oo = model->kind() == SequenceKind::symbols ? with_alphabet(model->alphabet())
                                                                : open_options(data);
  const DataSplit opened = open_split(cmd, data, oo);
  const SequenceDataset& dataset = opened.dataset;
  require_model_fits(cmd, model_path, *model, dataset);
  const Evaluation e = evaluate(*model, dataset, opened.split);
  if (std::isinf(e.log_likelihood) && e.log_likelihood < 0)
    warn_first_impossible_step(*model, opened.set());

  if (!common.quiet || !common.json) {
    std::printf("%-16s %s (%s, %s parameters)\n", "model", model_path.c_str(), model->type().c_str(),
                with_commas(model->num_parameters()).c_str());
    std::printf("%-16s %s [%s]\n", "data", dataset.name.c_str(), data.split.c_str());
    print_evaluation("scored", e, step_unit(model->kind()));
  }
  const SequenceSet& set = opened.set();
  const bool symbols = model->kind() == SequenceKind::symbols;
  if (per_sequence && !common.json) {
    std::printf("\n%8s %12s %24s %12s %12s\n", "sequence", symbols ? "symbols" : "frames",
                "log-likelihood (nats)", "nats/step", "bits/step");
    for (std::size_t i = 0; i < set.size(); ++i) {
      const double steps = static_cast<double>(set.length(i));
      const double nats = steps > 0 ? -e.per_sequence(i) / steps : 0.0;
      std::printf("%8zu %12llu %24.10g %12.6f %12.6f\n", i,
                  static_cast<unsigned long long>(set.length(i)), e.per_sequence(i), nats,
                  nats_to_bits(nats));
    }
  }
  if (common.json) {
    JsonObject j;
    j.add("model", model->type());
    j.add("file", model_path);
    j.add("data", dataset.name);
    j.add("split", data.split);
    add_evaluation_json(j, e, model->kind());
    if (per_sequence) {
      std::string items = "[";
      for (std::size_t i = 0; i < set.size(); ++i) {
        JsonObject item;
        item.add("sequence", static_cast<std::uint64_t>(i));
        item.add(symbols ? "symbols" : "frames", static_cast<std::uint64_t>(set.length(i)));
        item.add("log_likelihood", e.per_sequence(i));
        items += (i ? ", " : "") + item.str();
      }
      j.add_raw("per_sequence", items + "]");
    }
    std::cout << j.str() << std::endl;
  }
  return 0;
}

// ------------------------------------------------------------------------------------------
// Encodes prime text with the model's alphabet: code points for a character-level alphabet
// (separator ""), whitespace-separated tokens otherwise.
arma::uvec encode_prime(const std::string& text, const Alphabet& alphabet) {
  std::vector<std::string> pieces;
  if (alphabet.separator().empty()) {
    for (std::size_t pos = 0; pos < text.size();) {
      char32_t cp = 0;
      const std::size_t n = decode_utf8(text, pos, cp);
      if (n == 0) invalid_utf8_error(text, pos, "--prime");
      pieces.push_back(text.substr(pos, n));
      pos += n;
    }
  } else {
    std::istringstream ss(text);
    for (std::string tok; ss >> tok;) pieces.push_back(tok);
  }
  arma::uvec out(pieces.size());
  for (std::size_t i = 0; i < pieces.size(); ++i) {
    auto idx = alphabet.find(pieces[i]);
    if (!idx) idx = alphabet.unknown_index();
    if (!idx)
      user_error("--prime: symbol '" + printable(pieces[i]) + "' is not in the model's alphabet (" +
                 std::to_string(alphabet.size()) + " symbols)");
    out(i) = *idx;
  }
  return out;
}

// The MIDI pitches named by `names` when every one is an integer 0..127 (a piano roll's rows),
// else nullopt.
std::optional<std::vector<int>> midi_pitches(const std::vector<std::string>& names) {
  if (names.empty()) return std::nullopt;
  std::vector<int> pitches;
  for (const auto& name : names) {
    int pitch = -1;
    const auto [end, ec] = std::from_chars(name.data(), name.data() + name.size(), pitch);
    if (ec != std::errc() || end != name.data() + name.size() || pitch < 0 || pitch > 127)
      return std::nullopt;
    pitches.push_back(pitch);
  }
  return pitches;
}

// Prints d x T frames one time step per line, in the format the matching reader reads back:
// binary frames whose rows are MIDI pitches as a piano roll (the pitches that are on, '-' for a
// silent step; reader "pianoroll"), anything else as comma-separated numbers in their shortest
// round-trip form (reader "csv").
void print_frames(const arma::mat& frames, SequenceKind kind, const std::vector<std::string>& names) {
  const auto pitches = kind == SequenceKind::binary_frames ? midi_pitches(names) : std::nullopt;
  std::string line;
  char buffer[32];
  for (arma::uword t = 0; t < frames.n_cols; ++t) {
    line.clear();
    for (arma::uword r = 0; r < frames.n_rows; ++r) {
      if (pitches) {
        if (frames(r, t) != 0.0) line += (line.empty() ? "" : " ") + std::to_string((*pitches)[r]);
        continue;
      }
      const auto [end, ec] = std::to_chars(buffer, buffer + sizeof buffer, frames(r, t));
      if (ec != std::errc()) throw std::logic_error("print_frames: to_chars failed");
      if (r > 0) line += ',';
      line.append(buffer, end);
    }
    if (pitches && line.empty()) line = "-";
    std::cout << line << '\n';
  }
}

int run_sample(const std::vector<std::string>& args) {
  const std::string cmd = "sample";
  CommonOptions common;
  std::string model_path, prime;
  std::int64_t length = 0;
  double temperature = 1.0;
  po::options_description desc("Options");
  desc.add_options()
    ("model,m", po::value(&model_path)->value_name("FILE.h5"),
     "a model file written by 'seqlab train', or an experiment's run file")
    ("length,n", po::value(&length)->value_name("N"),
     "number of symbols (or frames, one per line: piano-roll lines for binary frames with pitch "
     "rows, else comma-separated values) to draw. Symbols are printed exactly, with no newline "
     "added unless stdout is a terminal, so the output reads back with 'seqlab eval'")
    ("prime", po::value(&prime)->value_name("TEXT"),
     "symbol models: text the sample continues (printed first)")
    ("temperature", po::value(&temperature)->value_name("X"),
     "recurrent models: divide the logits by X before drawing; 0 = always the most probable "
     "value (default 1)");
  add_common_options(desc, common, kSeed);
  po::variables_map vm;
  if (!parse_command_line(cmd, "--model FILE.h5 --length N [--seed S] [--prime TEXT]", args, desc,
                          nullptr, vm))
    return 0;
  require_option(cmd, vm, "model");
  require_option(cmd, vm, "length");
  if (length < 0 || length > 100'000'000)
    user_error("sample: --length must be between 0 and 100000000, got " + std::to_string(length));
  check_model_file_loads(model_path);
  const auto model = load_model_or_run(model_path);
  if (vm.count("temperature")) {
    auto* network = dynamic_cast<RnnModel*>(model.get());
    if (network == nullptr)
      user_error("sample: --temperature applies to recurrent models; model " + model_path +
                 " is a '" + model->type() + "' model");
    if (!(temperature >= 0.0) || !std::isfinite(temperature))
      user_error("sample: --temperature must be a number >= 0");
    network->set_temperature(temperature);
  }
  Rng rng = make_rng(common.seed);
  if (model->kind() != SequenceKind::symbols) {
    if (vm.count("prime"))
      user_error("sample: --prime is text for symbol models; model " + model_path + " models " +
                 to_string(model->kind()));
    const arma::mat drawn =
        model->sample_frames(static_cast<arma::uword>(length), rng, arma::mat());
    print_frames(drawn, model->kind(), model->feature_names());
    return 0;
  }
  const Alphabet& alphabet = model->alphabet();
  const arma::uvec primed = encode_prime(prime, alphabet);
  const arma::uvec drawn = model->sample_symbols(static_cast<arma::uword>(length), rng, primed);
  std::string text = alphabet.decode(primed);
  if (!text.empty() && drawn.n_elem > 0) text += alphabet.separator();
  text += alphabet.decode(drawn);
  std::cout << text;
  // A terminal gets a final newline for the prompt; a file or a pipe gets exactly the sample, so
  // that 'seqlab sample > s.txt' reads back with the model's alphabet (which may lack "\n").
  if (::isatty(STDOUT_FILENO) != 0 && (text.empty() || text.back() != '\n')) std::cout << "\n";
  return 0;
}

// ------------------------------------------------------------------------------------------
int run_decode(const std::vector<std::string>& args) {
  const std::string cmd = "decode";
  CommonOptions common;
  DataArgs data;
  std::string model_path, out;
  bool viterbi = false, posterior = false;
  po::options_description desc("Options");
  desc.add_options()
    ("model,m", po::value(&model_path)->value_name("FILE.h5"),
     "an HMM file written by 'seqlab train', or an experiment's run file of an HMM")
    ("out,o", po::value(&out)->value_name("PATHS.h5"),
     "write the paths to an HDF5 file instead of printing them: dataset paths/<i> (uint64 states "
     "of sequence i, attribute score: log p(x, path) or log p(x)); root attributes method, model, "
     "data, split. A sequence of probability 0 under the model has no path: it is printed as "
     "'impossible' (JSON: states null, impossible_step = its first step of probability 0; "
     "HDF5: an empty path, score -inf, attribute impossible_step), with a warning")
    ("viterbi", po::bool_switch(&viterbi), "most probable state path (default)")
    ("posterior", po::bool_switch(&posterior), "most probable state at each step (posterior decoding)");
  add_data_options(desc, data, "test");
  add_common_options(desc, common, kJson);
  po::variables_map vm;
  if (!parse_command_line(cmd, "--model HMM.h5 --data NAME|PATH [--split test] [--viterbi|--posterior]",
                          args, desc, nullptr, vm))
    return 0;
  require_option(cmd, vm, "model");
  require_option(cmd, vm, "data");
  if (viterbi && posterior) user_error("decode: give --viterbi or --posterior, not both");
  // Before any reading: the paths file must be writable and must not replace an input.
  if (vm.count("out")) {
    require_output_path(out);
    require_distinct_output(out, "--out", {{"--model", model_path}, {"--data", data.data}});
  }
  check_model_file_loads(model_path);
  const auto model = load_model_or_run(model_path);
  if (!model->has_hidden_states())
    input_error(model_path, "is a '" + model->type() + "' model, expected an HMM (decode needs hidden states)");
  const bool symbols = model->kind() == SequenceKind::symbols;
  OpenOptions oo = open_options(data);
  if (symbols) oo.fixed_alphabet = &model->alphabet();
  const DataSplit opened = open_split(cmd, data, oo);
  require_model_fits(cmd, model_path, *model, opened.dataset);
  const SequenceSet& set = opened.set();
  std::vector<arma::uvec> paths;
  std::vector<double> scores;
  std::vector<std::optional<arma::uword>> impossible;  // the first step of probability 0
  // One line per sequence: the state indices separated by spaces; with --json one object per line.
  // A sequence of probability 0 has no path: the line says "impossible" (JSON: "states": null and
  // "impossible_step"), and a warning names its first step of probability 0.
  for (std::size_t i = 0; i < set.size(); ++i) {
    arma::uvec path;
    double score = 0.0;
    if (posterior) {
      score = symbols ? model->log_likelihood(set.symbols[i]) : model->log_likelihood(set.frames[i]);
      if (score > kNegativeInfinity)
        path = symbols ? model->posterior_decode(set.symbols[i])
                       : model->posterior_decode(set.frames[i]);
    } else {
      const ViterbiPath v = symbols ? model->viterbi(set.symbols[i]) : model->viterbi(set.frames[i]);
      path = v.states;
      score = v.log_probability;
    }
    std::optional<arma::uword> zero_at;
    if (!(score > kNegativeInfinity)) {
      zero_at = first_impossible_step(*model, set, i).value_or(0);
      warn_impossible_step(*model, i, *zero_at, "it has no state path");
    }
    if (!out.empty()) {
      paths.push_back(std::move(path));
      scores.push_back(score);
      impossible.push_back(zero_at);
      continue;
    }
    if (common.json) {
      std::string states;
      for (arma::uword t = 0; t < path.n_elem; ++t) states += (t ? "," : "") + std::to_string(path(t));
      std::cout << "{\"sequence\": " << i << ", \"" << (posterior ? "log_likelihood" : "log_probability")
                << "\": " << json_number(score) << ", \"states\": "
                << (zero_at ? "null, \"impossible_step\": " + std::to_string(*zero_at)
                            : "[" + states + "]")
                << "}\n";
    } else if (zero_at) {
      std::cout << "impossible\n";
    } else {
      for (arma::uword t = 0; t < path.n_elem; ++t) std::cout << (t ? " " : "") << path(t);
      std::cout << "\n";
    }
  }
  if (!out.empty()) {
    h5::write_file_atomically(out, [&](H5::Group& root) {
      h5::write_string_attribute(root, "method", posterior ? "posterior" : "viterbi");
      h5::write_string_attribute(root, "model", model_path);
      h5::write_string_attribute(root, "data", data.data);
      h5::write_string_attribute(root, "split", to_string(opened.split));
      H5::Group group = root.createGroup("paths");
      // score/<i>: log p(x, path) for Viterbi, log p(x) for posterior decoding.
      for (std::size_t i = 0; i < paths.size(); ++i) {
        h5::write_uvec(group, std::to_string(i), paths[i]);
        H5::DataSet d = group.openDataSet(std::to_string(i));
        h5::write_double_attribute(d, "score", scores[i]);
        if (impossible[i]) h5::write_int_attribute(d, "impossible_step", static_cast<std::int64_t>(*impossible[i]));
      }
    });
    if (!common.quiet)
      std::cout << "wrote " << paths.size() << " " << (posterior ? "posterior" : "Viterbi")
                << " paths to " << out << "\n";
  }
  return 0;
}

// ------------------------------------------------------------------------------------------
int run_recall(const std::vector<std::string>& args) {
  const std::string cmd = "recall";
  CommonOptions common;
  DataArgs data;
  RecallRequest request;
  std::int64_t index = 0, count = 3, steps = 10;
  double flip = 0.1;
  po::options_description desc("Options");
  desc.add_options()
    ("model,m", po::value(&request.model_path)->value_name("FILE.h5"),
     "a Hopfield network written by 'seqlab train --model hopfield'")
    ("stored", po::bool_switch(&request.stored),
     "cue the network with its own stored patterns (--memory patterns)")
    ("cue", po::value(&request.cue_file)->value_name("FILE"),
     "recall from the cue in FILE: # or 1 for an active unit, . or 0 for an inactive one, ? "
     "for an unknown one (set at random before recall); blanks, commas and line breaks are "
     "skipped, so a square pattern may be drawn as a grid")
    ("index", po::value(&index)->default_value(0)->value_name("I"),
     "the first frame (with --stored: stored pattern; for a sequence memory: sequence) shown, "
     "counted from 0")
    ("count", po::value(&count)->default_value(3)->value_name("K"), "how many are shown")
    ("flip", po::value(&flip)->value_name("F"),
     "fraction of each cue's units flipped before recall (default 0.1; 0 with --cue)")
    ("steps", po::value(&steps)->default_value(10)->value_name("T"),
     "a sequence memory with --cue: the frames to replay")
    ("plot", po::value(&request.plot)->value_name("FILE.png|svg|pdf"),
     "draw the energy after every unit flip of each cue's recall (gnuplot)");
  add_data_options(desc, data, "test");
  add_common_options(desc, common, kJson | kSeed);
  po::variables_map vm;
  if (!parse_command_line(cmd, "--model HOPFIELD.h5 (--data NAME|PATH [--split test] | --stored | "
                               "--cue FILE) [--flip 0.1] [--index I] [--count K] [--plot E.png]",
                          args, desc, nullptr, vm))
    return 0;
  require_option(cmd, vm, "model");
  const int sources = (vm.count("data") ? 1 : 0) + (vm.count("cue") ? 1 : 0) +
                      (request.stored ? 1 : 0);
  if (sources != 1)
    user_error("recall: give one source of cues: --data NAME|PATH (a split's frames), --stored "
               "(the stored patterns) or --cue FILE");
  if (index < 0) user_error("recall: --index must be >= 0, got " + std::to_string(index));
  if (count < 1 || count > 1000000)
    user_error("recall: --count must be between 1 and 1000000, got " + std::to_string(count));
  if (steps < 1 || steps > 1000000)
    user_error("recall: --steps must be between 1 and 1000000, got " + std::to_string(steps));
  if (!vm.count("flip")) flip = request.cue_file.empty() ? 0.1 : 0.0;
  if (!(flip >= 0.0 && flip <= 1.0))
    user_error("recall: --flip must be a fraction of the units in [0, 1], got " + shown(flip));
  if (!request.plot.empty()) {
    (void)report::figure_format_of(request.plot, "recall: --plot");
    require_output_path(request.plot);
    require_distinct_output(request.plot, "--plot",
                            {{"--model", request.model_path}, {"--cue", request.cue_file},
                             {"--data", data.data}});
    report::require_gnuplot();
  }
  check_model_file_loads(request.model_path);
  const energy::HopfieldMemory memory = energy::load_hopfield_file(request.model_path);
  request.index = static_cast<arma::uword>(index);
  request.count = static_cast<arma::uword>(count);
  request.steps = static_cast<arma::uword>(steps);
  request.flip_fraction = flip;
  request.common = common;
  std::optional<DataSplit> opened;
  if (vm.count("data")) {
    opened = open_split(cmd, data, open_options(data));
    request.dataset = &opened->dataset;
    request.set = &opened->set();
    request.source = "dataset '" + opened->dataset.name + "' [" + data.split + "]";
  }
  return recall_hopfield(memory, request);
}

// `seqlab logz`: AIS estimates of an energy model's log Z for several schedule lengths and run
// counts, each with its standard error, held against the exact value where the model can be
// enumerated and against the value stored in the model; a table, an HDF5 file and a figure.
int run_logz(const std::vector<std::string>& args) {
  const std::string cmd = "logz";
  CommonOptions common;
  DataArgs data;
  std::string model_path, steps_text = "100,300,1000,3000,10000", runs_text = "100", out, plot;
  po::options_description desc("Options");
  desc.add_options()
    ("model,m", po::value(&model_path)->value_name("FILE.h5"),
     "an rbm or bm model file written by 'seqlab train', or an experiment's run file")
    ("steps", po::value(&steps_text)->default_value(steps_text)->value_name("LIST"),
     "annealing schedule lengths, comma-separated: each the default schedule (0 -> 0.5 -> 0.9 "
     "-> 1, 14,500 steps) with its steps scaled to about this many")
    ("runs", po::value(&runs_text)->default_value(runs_text)->value_name("LIST"),
     "independent annealing runs per estimate, comma-separated (>= 2 each)")
    ("out,o", po::value(&out)->value_name("FILE.h5"),
     "the table, one row per (runs, steps) (HDF5; docs/formats.md)")
    ("plot", po::value(&plot)->value_name("FILE.png|svg|pdf"),
     "also draw the estimates against the steps (log scale), error bars +- 1 standard error, "
     "with the exact log Z and the model's own value as lines");
  add_data_options(desc, data, "train");
  add_common_options(desc, common, kJson | kSeed | kThreads);
  po::variables_map vm;
  if (!parse_command_line(cmd,
                          "--model FILE.h5 --data NAME|PATH [--steps 100,300,1000,3000,10000] "
                          "[--runs 100] [--out FILE.h5] [--plot FILE.png]\n"
                          "AIS estimates of an RBM's or Boltzmann machine's log partition "
                          "function against the schedule length, with their standard errors, "
                          "beside the exact value where the model is small enough to enumerate "
                          "(and the value the model scores with). --data names the data the "
                          "model was trained on: its training split gives AIS its base rates, "
                          "as training did.",
                          args, desc, nullptr, vm))
    return 0;
  require_option(cmd, vm, "model");
  require_option(cmd, vm, "data");
  const std::vector<std::uint64_t> steps_list = parse_positive_list(cmd, "steps", steps_text);
  const std::vector<std::uint64_t> runs_list = parse_positive_list(cmd, "runs", runs_text);
  for (const std::uint64_t k : steps_list)
    if (k < 3 || k > 10000000)
      user_error("logz: --steps must each be between 3 and 10,000,000, got " + with_commas(k));
  for (const std::uint64_t m : runs_list)
    if (m < 2 || m > 1000000)
      user_error("logz: --runs must each be between 2 and 1,000,000, got " + with_commas(m));
  if (!out.empty()) {
    require_output_path(out);
    require_distinct_output(out, "--out", {{"--model", model_path}, {"--data", data.data}});
  }
  if (!plot.empty()) {
    (void)report::figure_format_of(plot, "logz: --plot");
    require_output_path(plot);
    require_distinct_output(plot, "--plot", {{"--model", model_path}, {"--data", data.data}});
    if (!out.empty() && std::filesystem::absolute(plot).lexically_normal() ==
                            std::filesystem::absolute(out).lexically_normal())
      user_error("logz: --plot and --out name the same file, " + out);
    report::require_gnuplot();
  }
  check_model_file_loads(model_path);
  if (energy::is_hopfield_file(model_path))
    user_error("logz: " + model_path +
               " is a Hopfield network, which defines no likelihood and so no log Z");
  if (is_task_model_file(model_path))
    user_error("logz: " + model_path + " is a --task model, which has no log Z");
  const auto model = load_model_or_run(model_path);
  const auto* normaliser = dynamic_cast<const energy::Normaliser*>(model.get());
  if (normaliser == nullptr)
    user_error("logz: " + model_path + " is a " + model->type() +
               " model, whose likelihood has no log Z to estimate (logz takes rbm and bm "
               "models)");
  const DataSplit opened = open_split(cmd, data, open_options(data));
  require_model_fits(cmd, model_path, *model, opened.dataset);

  // Before the long work: the exact value, when the model can be enumerated.
  const bool enumerable = normaliser->log_partition_enumerable();
  const double exact = enumerable ? normaliser->exact_log_partition() : 0.0;

  // One estimate per (runs, steps), each from its own stream: the table does not depend on the
  // number of threads.
  struct Row {
    std::uint64_t runs = 0, steps = 0;
    double log_z = 0, stderr_ = 0, ess = 0, seconds = 0;
  };
  std::vector<Row> rows;
  for (const std::uint64_t m : runs_list)
    for (const std::uint64_t k : steps_list) rows.push_back({m, k});
  std::vector<energy::AisOptions> options(rows.size());
  for (std::size_t i = 0; i < rows.size(); ++i) {
    options[i] = energy::ais_options_with_steps(rows[i].steps, rows[i].runs);
    rows[i].steps = energy::ais_schedule(options[i]).n_elem - 1;  // the exact count
  }
  const auto t0 = std::chrono::steady_clock::now();
  run_units(rows.size(), common.threads, [&](std::size_t i, unsigned) {
    Rng rng = make_rng(derive_seed(common.seed, i));
    const auto start = std::chrono::steady_clock::now();
    const energy::AisResult r = normaliser->estimate_log_partition(opened.set(), options[i], rng);
    rows[i].seconds =
        std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
    rows[i].log_z = r.log_z;
    rows[i].stderr_ = r.standard_error;
    rows[i].ess = r.effective_sample_size;
  });
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();

  const std::string stored_words =
      fmt("%.6f", normaliser->log_partition()) +
      (normaliser->log_partition_method() == "exact"
           ? " (exact)"
           : " +- " + fmt("%.6f", normaliser->log_partition_stderr()) + " (AIS)");
  if (!out.empty())
    h5::write_file_atomically(out, [&](H5::Group& root) {
      h5::write_string_attribute(root, "model_file", model_path);
      h5::write_string_attribute(root, "model_type", model->type());
      h5::write_string_attribute(root, "data", opened.dataset.name);
      h5::write_string_attribute(root, "split", data.split);
      h5::write_double_attribute(root, "stored_log_z", normaliser->log_partition());
      h5::write_double_attribute(root, "stored_log_z_stderr", normaliser->log_partition_stderr());
      h5::write_string_attribute(root, "stored_log_z_method", normaliser->log_partition_method());
      if (enumerable) h5::write_double_attribute(root, "exact_log_z", exact);
      arma::uvec runs(rows.size()), steps(rows.size());
      arma::vec log_z(rows.size()), se(rows.size()), ess(rows.size()), secs(rows.size());
      for (std::size_t i = 0; i < rows.size(); ++i) {
        runs[i] = rows[i].runs;
        steps[i] = rows[i].steps;
        log_z[i] = rows[i].log_z;
        se[i] = rows[i].stderr_;
        ess[i] = rows[i].ess;
        secs[i] = rows[i].seconds;
      }
      h5::write_uvec(root, "runs", runs);
      h5::write_uvec(root, "steps", steps);
      h5::write_reals(root, "log_z", log_z);
      h5::write_reals(root, "standard_error", se);
      h5::write_reals(root, "effective_sample_size", ess);
      h5::write_reals(root, "seconds", secs);
    });
  if (!common.quiet || !common.json) {
    std::printf("model   %s (%s, %s parameters)\n", model_path.c_str(), model->type().c_str(),
                with_commas(model->num_parameters()).c_str());
    std::printf("data    %s [%s]: the base rates of AIS\n", opened.dataset.name.c_str(),
                data.split.c_str());
    std::printf("log Z   stored in the model %s\n", stored_words.c_str());
    if (enumerable)
      std::printf("        exact (enumeration) %.6f\n", exact);
    else
      std::printf("        exact: not computable (more than 2^20 states to enumerate)\n");
    std::printf("\n%8s %9s %14s %12s %s %10s %9s\n", "runs", "steps", "AIS log Z", "std. error",
                enumerable ? "   minus exact  in std. errors" : "", "ESS", "seconds");
    for (const Row& r : rows) {
      std::string versus;
      if (enumerable)
        versus = fmt("%14.6f", r.log_z - exact) + fmt("%15.2f", (r.log_z - exact) / r.stderr_);
      std::printf("%8s %9s %14.6f %12.6f %s %10.1f %9.2f\n", with_commas(r.runs).c_str(),
                  with_commas(r.steps).c_str(), r.log_z, r.stderr_, versus.c_str(), r.ess,
                  r.seconds);
    }
    std::printf("\n%zu estimates in %.2f s on %u thread%s%s\n", rows.size(), seconds,
                common.threads, common.threads == 1 ? "" : "s",
                out.empty() ? "" : ("; wrote " + out).c_str());
  }
  if (!plot.empty()) {
    std::vector<report::Series> series;
    for (const std::uint64_t m : runs_list) {
      report::Series s;
      s.label = "AIS, " + with_commas(m) + " runs";
      for (const Row& r : rows)
        if (r.runs == m) {
          s.x.push_back(static_cast<double>(r.steps));
          s.y.push_back(r.log_z);
          s.low.push_back(r.log_z - r.stderr_);
          s.high.push_back(r.log_z + r.stderr_);
        }
      series.push_back(std::move(s));
    }
    std::vector<report::ReferenceLine> references;
    if (enumerable)
      references.push_back({"exact (enumeration) " + fmt("%.4f", exact), exact, false});
    if (normaliser->log_partition_method() != "exact")
      references.push_back({"stored in the model " + fmt("%.4f", normaliser->log_partition()) +
                                " (AIS)",
                            normaliser->log_partition(), true});
    report::draw_log_partition_figure(
        series, references,
        model->type() + " " + std::filesystem::path(model_path).filename().string() + " on " +
            opened.dataset.name + "; error bars +- 1 standard error",
        plot);
    if (!common.quiet) std::printf("wrote the log Z figure %s\n", plot.c_str());
  }
  if (common.json) {
    std::string items = "[";
    for (std::size_t i = 0; i < rows.size(); ++i) {
      JsonObject row;
      row.add("runs", rows[i].runs);
      row.add("steps", rows[i].steps);
      row.add("log_z", rows[i].log_z);
      row.add("standard_error", rows[i].stderr_);
      row.add("effective_sample_size", rows[i].ess);
      row.add("seconds", rows[i].seconds);
      items += (i ? ", " : "") + row.str();
    }
    JsonObject j;
    j.add("model", model->type());
    j.add("file", model_path);
    j.add("data", opened.dataset.name);
    j.add("split", data.split);
    j.add("stored_log_z", normaliser->log_partition());
    j.add("stored_log_z_stderr", normaliser->log_partition_stderr());
    j.add("stored_log_z_method", normaliser->log_partition_method());
    if (enumerable) j.add("exact_log_z", exact);
    j.add_raw("estimates", items + "]");
    std::cout << j.str() << std::endl;
  }
  return 0;
}

}  // namespace

int recall_command(const std::vector<std::string>& args) { return run_recall(args); }
int logz_command(const std::vector<std::string>& args) { return run_logz(args); }
int decode_command(const std::vector<std::string>& args) { return run_decode(args); }
int train_command(const std::vector<std::string>& args) { return run_train(args); }
int eval_command(const std::vector<std::string>& args) { return run_eval(args); }
int sample_command(const std::vector<std::string>& args) { return run_sample(args); }

}  // namespace seqlab::cli
