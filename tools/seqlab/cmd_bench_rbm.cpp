// tools/seqlab/cmd_bench_rbm.cpp: `seqlab bench rbm`: milliseconds per training epoch of a
// Bernoulli-Bernoulli RBM on digits-shaped data (1,797 binary frames of 64 pixels), for CD-1 and
// PCD-1 at several batch and hidden sizes, and scikit-learn's BernoulliRBM on the same data
// measured in the same invocation.
//
// The peer's protocol (bench_rbm.py): digits binarised at 8, learning rate 0.06, batch 10,
// PCD with one Gibbs step and as many chains as the batch, plain SGD (no momentum, no weight
// decay); its figure is the wall time of fit() over 20 epochs divided by 20, median of REPS fits.
// Ours runs train_rbm, the code `seqlab train` runs, with the same learning rate and with
// momentum and weight decay at 0 so the update rule is the peer's (the update costs the same
// whatever their values). Monitoring is off: the peer's fit() computes no pseudo-likelihood
// either. One train_rbm call per configuration: warm-up epochs, then blocks of epochs timed from
// the per-epoch wall times train_rbm records, so the chains and the prepared kernels carry over
// from block to block as in a real run; the median block is reported.
//
// Not identical, and counted in our time: train_rbm visits the frames in a new random order
// every epoch (copying each minibatch), while sklearn's fit() takes the same contiguous slices
// every epoch. Both cut the 1,797 frames into 179 batches of 10 and one of 7.
//
// Threads: the products run in LIBXSMM kernels on the calling thread; --threads sets the BLAS
// threads (used where LIBXSMM has no kernel) and the peer's OpenBLAS/OpenMP threads alike.
#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

#include "bench_common.hpp"
#include "cli_common.hpp"
#include "commands.hpp"
#include "seqlab/core/blas.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/data/registry.hpp"
#include "seqlab/models/energy/rbm.hpp"

namespace seqlab::cli {
namespace {

namespace fs = std::filesystem;
using energy::RbmTrainOptions;

constexpr arma::uword kVisible = 64, kFrames = 1797;
constexpr double kLearningRate = 0.06;
// The peer's only configuration; its figure sits beside ours for this one.
constexpr arma::uword kPeerBatch = 10;

std::string method_label(RbmTrainOptions::Method m) {
  return m == RbmTrainOptions::Method::pcd ? "PCD-1" : "CD-1";
}

std::vector<RbmTrainOptions::Method> parse_methods(const std::string& text) {
  std::vector<RbmTrainOptions::Method> methods;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    if (item == "pcd")
      methods.push_back(RbmTrainOptions::Method::pcd);
    else if (item == "cd")
      methods.push_back(RbmTrainOptions::Method::cd);
    else
      user_error("bench rbm: --method item '" + item + "' is neither pcd nor cd");
  }
  if (methods.empty()) user_error("bench rbm: --method is empty, expected e.g. pcd,cd");
  return methods;
}

// The digits frames as one V x n matrix when the registry opens them with the expected shape;
// otherwise random 0/1 frames of that shape (the time per epoch depends on the shape, hardly on
// the values).
std::pair<arma::mat, std::string> bench_frames() {
  try {
    const SequenceDataset ds = open_dataset("digits", OpenOptions{});
    if (ds.kind == SequenceKind::binary_frames && ds.dimension == kVisible &&
        ds.all.total_steps() == kFrames) {
      arma::mat x(kVisible, kFrames);
      arma::uword col = 0;
      for (const arma::mat& f : ds.all.frames) {
        x.cols(col, col + f.n_cols - 1) = f;
        col += f.n_cols;
      }
      return {x, "digits (1,797 x 64, binarised at 8) from the dataset registry"};
    }
  } catch (const UserError&) {
  }
  Rng rng = make_rng(20261207);
  arma::mat x(kVisible, kFrames);
  x.imbue([&] { return uniform01(rng) < 0.5 ? 1.0 : 0.0; });
  return {x, "random 0/1 frames, 1,797 x 64, p = 0.5 (the registry could not open digits; "
             "SEQLAB_DATA_PATH names the folder that holds it)"};
}

struct Config {
  RbmTrainOptions::Method method;
  arma::uword batch;
  arma::uword hidden;
};

// Median milliseconds per epoch over `blocks` blocks of `epochs` epochs after `warmup` epochs.
double measure_seqlab(const arma::mat& data, const Config& c, arma::uword warmup,
                      arma::uword epochs, arma::uword blocks) {
  RbmTrainOptions options;
  options.method = c.method;
  options.k = 1;
  options.batch_size = c.batch;
  options.learning_rate = kLearningRate;
  options.initial_momentum = 0.0;
  options.final_momentum = 0.0;
  options.weight_decay = 0.0;
  options.monitor = false;
  options.epochs = warmup + blocks * epochs;
  energy::Rbm rbm(kVisible, c.hidden, energy::VisibleType::bernoulli);
  Rng rng = make_rng(1);
  const auto records = energy::train_rbm(rbm, data, options, rng);
  std::vector<double> per_epoch;
  for (arma::uword b = 0; b < blocks; ++b) {
    const arma::uword first = warmup + b * epochs;  // epochs already done when the block starts
    const double begin = first == 0 ? 0.0 : records[first - 1].seconds;
    const double end = records[first + epochs - 1].seconds;
    per_epoch.push_back(1000.0 * (end - begin) / static_cast<double>(epochs));
  }
  return median(per_epoch);
}

struct PeerResult {
  double ms_per_epoch = NAN;
  std::string version;
  std::string note;  // why there is no figure, when there is none
};

PeerResult measure_sklearn(const fs::path& script, arma::uword hidden, unsigned threads,
                           unsigned reps) {
  const std::string t = std::to_string(threads);
  const std::string command = "OMP_NUM_THREADS=" + t + " OPENBLAS_NUM_THREADS=" + t + " " +
                              debian_python() + " " + quote(script.string()) + " " +
                              std::to_string(hidden) + " " + std::to_string(reps) + " 2>&1";
  int status = 0;
  const std::string output = run_capture(command, &status);
  PeerResult r;
  if (output.find("No module named 'sklearn'") != std::string::npos) {
    r.note = "skipped: scikit-learn is not installed for " + debian_python() +
             " (Debian package python3-sklearn)";
    return r;
  }
  const auto seconds = find_number(output, "s_per_epoch_median");
  if (status != 0 || !seconds) {
    const std::string first_line = output.substr(0, output.find('\n')).substr(0, 200);
    r.note = (status != 0 ? "failed (exit " + std::to_string(status) + ")"
                          : std::string("printed no s_per_epoch_median")) +
             (first_line.empty() ? std::string() : ": " + first_line);
    return r;
  }
  r.ms_per_epoch = 1000.0 * *seconds;
  std::smatch m;
  if (std::regex_search(output, m, std::regex(R"(sklearn (\S+) BernoulliRBM)"))) r.version = m[1];
  return r;
}

}  // namespace

int bench_rbm(const std::vector<std::string>& args) {
  po::options_description desc("options");
  CommonOptions common;
  std::string hidden_text, batch_text, method_text, peers_text;
  arma::uword epochs = 20, blocks = 5, warmup = 2;
  unsigned peer_reps = 3;
  desc.add_options()
      ("hidden", po::value<std::string>(&hidden_text)->default_value("100,256"),
       "hidden sizes, comma-separated")
      ("batch", po::value<std::string>(&batch_text)->default_value("10,100"),
       "minibatch sizes (also the number of PCD chains), comma-separated")
      ("method", po::value<std::string>(&method_text)->default_value("pcd,cd"),
       "training methods, comma-separated: pcd (PCD-1), cd (CD-1)")
      ("epochs", po::value<arma::uword>(&epochs)->default_value(20),
       "epochs per timed block")
      ("blocks", po::value<arma::uword>(&blocks)->default_value(5),
       "timed blocks, the median is reported")
      ("warmup", po::value<arma::uword>(&warmup)->default_value(2),
       "untimed epochs before the first block")
      ("peers", po::value<std::string>(&peers_text),
       "folder with the peer benchmark scripts (bench_rbm.py: scikit-learn's BernoulliRBM)")
      ("peer-reps", po::value<unsigned>(&peer_reps)->default_value(3),
       "fits of 20 epochs the peer times, the median is reported");
  add_common_options(desc, common, kJson | kThreads);
  po::variables_map vm;
  if (!parse_command_line(
          "bench rbm",
          "[--hidden 100,256] [--batch 10,100] [--method pcd,cd] [--threads T] [--peers DIR]\n"
          "Milliseconds per training epoch of a Bernoulli RBM with 64 visible units on 1,797\n"
          "binary frames (digits, or random frames of that shape without the dataset);\n"
          "one Gibbs step, learning rate 0.06, no momentum, no weight decay, monitoring off.\n"
          "--threads T gives T threads to the BLAS library (used only where LIBXSMM has no\n"
          "kernel for a product) and to the peer's OpenBLAS and OpenMP.",
          args, desc, nullptr, vm))
    return 0;
  const auto hidden_sizes = parse_list("hidden", hidden_text);
  const auto batch_sizes = parse_list("batch", batch_text);
  const auto methods = parse_methods(method_text);
  if (epochs == 0 || blocks == 0) user_error("bench rbm: --epochs and --blocks must be >= 1");
  if (peer_reps == 0) user_error("bench rbm: --peer-reps must be >= 1");
  std::optional<fs::path> peer_script;
  if (vm.count("peers")) {
    peer_script = fs::path(peers_text) / "bench_rbm.py";
    if (!fs::exists(*peer_script))
      user_error("bench rbm: --peers " + peers_text +
                 ": no bench_rbm.py there (the peer scripts' folder)");
  }

  const auto [data, source] = bench_frames();
  ScopedBlasThreads blas(static_cast<int>(common.threads));
  if (!common.json) {
    std::cout << "data: " << source << "\n";
    std::cout << "BLAS: " << blas_info().summary() << "\n";
    std::cout << "ms per training epoch over the 1,797 frames (median of " << blocks
              << " blocks of " << epochs << " epochs after " << warmup << " warm-up epochs), "
              << common.threads << " thread(s)\n";
    if (peer_script)
      std::cout << "peer: scikit-learn's BernoulliRBM, which trains by PCD with one Gibbs step, "
                << kPeerBatch << " chains and batch " << kPeerBatch
                << ", plain SGD at 0.06 (bench_rbm.py: fit() of 20 epochs / 20); ratio = "
                   "sklearn ms / seqlab PCD-1 batch="
                << kPeerBatch << " ms\n";
  }

  for (arma::uword hidden : hidden_sizes) {
    std::optional<double> peer_counterpart;  // ours at the peer's configuration
    for (const auto method : methods) {
      for (arma::uword batch : batch_sizes) {
        const Config c{method, batch, hidden};
        const double ms = measure_seqlab(data, c, warmup, epochs, blocks);
        if (method == RbmTrainOptions::Method::pcd && batch == kPeerBatch) peer_counterpart = ms;
        if (common.json) {
          JsonObject row;
          row.add("program", "seqlab");
          row.add("method", method_label(method));
          row.add("batch", static_cast<std::uint64_t>(batch));
          row.add("hidden", static_cast<std::uint64_t>(hidden));
          row.add("threads", static_cast<std::uint64_t>(common.threads));
          row.add("ms_per_epoch", ms);
          std::cout << row.str() << "\n";
        } else {
          std::cout << "seqlab " << method_label(method) << " batch=" << batch
                    << " hidden=" << hidden << ": " << std::fixed << std::setprecision(2) << ms
                    << " ms/epoch" << std::defaultfloat << "\n";
        }
      }
    }
    if (!peer_script) continue;
    const PeerResult peer = measure_sklearn(*peer_script, hidden, common.threads, peer_reps);
    if (common.json) {
      JsonObject row;
      row.add("program", "sklearn");
      row.add("method", "PCD-1");
      row.add("batch", static_cast<std::uint64_t>(kPeerBatch));
      row.add("hidden", static_cast<std::uint64_t>(hidden));
      row.add("threads", static_cast<std::uint64_t>(common.threads));
      row.add("ms_per_epoch", peer.ms_per_epoch);
      if (peer_counterpart) row.add("ratio", peer.ms_per_epoch / *peer_counterpart);
      if (!peer.note.empty()) row.add("note", peer.note);
      std::cout << row.str() << "\n";
      continue;
    }
    if (!peer.note.empty()) {
      std::cout << "sklearn BernoulliRBM hidden=" << hidden << ": " << peer.note << "\n";
      continue;
    }
    std::cout << "sklearn " << peer.version << " BernoulliRBM (PCD-1, batch " << kPeerBatch
              << ") hidden=" << hidden
              << ": " << std::fixed << std::setprecision(2) << peer.ms_per_epoch << " ms/epoch";
    if (peer_counterpart)
      std::cout << "; seqlab PCD-1 batch=" << kPeerBatch << " " << *peer_counterpart
                << " ms/epoch; ratio sklearn / seqlab " << std::setprecision(1)
                << peer.ms_per_epoch / *peer_counterpart;
    else
      std::cout << " (nothing of seqlab's to compare: --method needs pcd and --batch "
                << kPeerBatch << ")";
    std::cout << std::defaultfloat << "\n";
  }
  return 0;
}

}  // namespace seqlab::cli
