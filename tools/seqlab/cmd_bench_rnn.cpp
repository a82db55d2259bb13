// tools/seqlab/cmd_bench_rnn.cpp: `seqlab bench rnn`: recurrent-network training throughput
// (characters per second for forward + backward + Adam step) against the machine's SGEMM rate
// and against PyTorch, both measured in the same invocation.
//
// The protocol is the peers' (bench_torch_rnn.py): a character model over 65 symbols with a
// 64-wide embedding, one recurrent layer, batch 32, window 100, Adam at 2e-3, no clipping,
// float32; tinyshakespeare's training text when the dataset is available (a sample of a random
// HMM over 65 symbols otherwise: the speed does not depend on the text). Training runs through
// rnn::WindowTrainer, the code RnnModel::fit runs.
//
// Thread counts are made honest on both sides: PyTorch's set_num_threads does not reach the
// BLAS library underneath it (OpenBLAS on Debian, which starts one thread per core by itself),
// so the peer runs with OPENBLAS_NUM_THREADS and OMP_NUM_THREADS set to the same count, and with
// OMP_WAIT_POLICY=PASSIVE (its busy-waiting threads otherwise fight OpenBLAS's).
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <iomanip>
#include <iostream>
#include <map>
#include <sstream>

#include "bench_ceiling.hpp"
#include "bench_common.hpp"
#include "cli_common.hpp"
#include "commands.hpp"
#include "seqlab/core/blas.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/data/registry.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/models/rnn/trainer.hpp"

namespace seqlab::cli {
namespace {

namespace fs = std::filesystem;

constexpr arma::uword kVocabulary = 65, kEmbedding = 64, kBatch = 32, kWindow = 100;

struct BenchModel {
  rnn::CellType cell;
  arma::uword hidden;
  std::string label() const { return rnn::model_type_name(cell) + "-" + std::to_string(hidden); }
};

std::vector<BenchModel> parse_models(const std::string& text) {
  std::vector<BenchModel> models;
  std::stringstream in(text);
  std::string item;
  while (std::getline(in, item, ',')) {
    const auto colon = item.find(':');
    if (colon == std::string::npos)
      user_error("bench rnn: --models item '" + item + "' is not CELL:HIDDEN (e.g. lstm:256)");
    BenchModel m;
    m.cell = rnn::parse_model_type(item.substr(0, colon), "bench rnn: --models");
    try {
      std::size_t used = 0;
      m.hidden = std::stoull(item.substr(colon + 1), &used);
      if (used != item.size() - colon - 1 || m.hidden == 0) throw std::invalid_argument(item);
    } catch (const std::exception&) {
      user_error("bench rnn: --models item '" + item + "' has no positive hidden size");
    }
    models.push_back(m);
  }
  if (models.empty()) user_error("bench rnn: --models is empty, expected e.g. lstm:256,gru:256");
  return models;
}

// Floating-point operations of the dense products seqlab does per character: forward = the
// recurrence (G H x H) and the head (V x H); backward does two products of the same size for each
// (data and weight gradients), so three times forward in all. The input projection is not
// counted because seqlab does not do it per character: it gathers columns of the table W_ih E,
// made once per window (cell.hpp, PROJECTED INPUT), whose products cost (V+1)/(B S) = 2 % of
// the per-character ones. (A framework that multiplies W_ih by every embedding does
// 3 * 2 * G H E more per character.)
double flops_per_char(const BenchModel& m) {
  const double g = static_cast<double>(rnn::gate_blocks(m.cell));
  const double h = static_cast<double>(m.hidden);
  return 3.0 * 2.0 * (g * h * h + kVocabulary * h);
}

// The training text: tinyshakespeare's first 90 % when available, else a synthetic sample.
std::pair<SequenceSet, std::string> bench_text() {
  try {
    OpenOptions options;
    const SequenceDataset ds = open_dataset("tinyshakespeare", options);
    if (ds.alphabet.size() == kVocabulary)
      return {ds.train, "tinyshakespeare training split"};
  } catch (const UserError&) {
  }
  Rng rng = make_rng(20261123);
  const CategoricalHmmParams truth = random_categorical_hmm(32, kVocabulary, 0.1, rng);
  SequenceSet set;
  set.kind = SequenceKind::symbols;
  set.symbols.push_back(sample_categorical_hmm(truth, 400000, rng).symbols);
  return {set, "synthetic: 400,000 symbols of a random 32-state HMM over 65 symbols"};
}

struct Measured {
  double chars_per_second = NAN;
  double last_loss = NAN;
};

Measured measure_seqlab(const BenchModel& m, unsigned threads, const SequenceSet& text,
                        unsigned steps, unsigned blocks) {
  rnn::NetworkConfig config;
  config.kind = SequenceKind::symbols;
  config.input_size = kVocabulary;
  config.embedding = kEmbedding;
  config.cell = m.cell;
  config.hidden = m.hidden;
  rnn::OptimizerOptions adam;
  rnn::WindowTrainer<float> trainer(config, kBatch, threads, adam, 0.0, 1);
  ScopedBlasThreads blas(static_cast<int>(std::max(1u, threads / trainer.shard_count())));
  Rng rng = make_rng(1);
  trainer.network().init(rng);
  trainer.sync_parameters();
  WindowStream stream(text, kBatch, kWindow);
  SymbolWindow window;
  Measured out;
  const auto one = [&] {
    if (!stream.next(window)) {
      stream.rewind();
      trainer.reset_state();
      stream.next(window);
    }
    out.last_loss = trainer.step(window, 2e-3, false).loss.mean();
  };
  for (int i = 0; i < 3; ++i) one();
  std::vector<double> rates;
  for (unsigned b = 0; b < blocks; ++b) {
    const auto start = BenchClock::now();
    for (unsigned i = 0; i < steps; ++i) one();
    rates.push_back(static_cast<double>(steps * kBatch * kWindow) / seconds_since(start));
  }
  out.chars_per_second = median(rates);
  return out;
}

// PyTorch through the peers' script; NaN when it cannot run (note says why).
double measure_torch(const fs::path& peers, const BenchModel& m, unsigned threads, unsigned steps,
                     std::string* note) {
  const fs::path script = peers / "bench_torch_rnn.py";
  if (!fs::exists(script)) {
    *note = "no bench_torch_rnn.py in " + peers.string();
    return NAN;
  }
  if (m.cell != rnn::CellType::lstm && m.cell != rnn::CellType::gru &&
      m.cell != rnn::CellType::elman) {
    *note = "no PyTorch counterpart";
    return NAN;
  }
  const auto text = tinyshakespeare_file();
  if (!text) {
    *note = "PyTorch's script needs tinyshakespeare (set SEQLAB_DATA_PATH)";
    return NAN;
  }
  const std::string t = std::to_string(threads);
  const std::string cell = m.cell == rnn::CellType::elman ? "rnn" : rnn::model_type_name(m.cell);
  const std::string command = "OMP_WAIT_POLICY=PASSIVE OMP_NUM_THREADS=" + t +
                              " OPENBLAS_NUM_THREADS=" + t + " TINYSHAKESPEARE=" + quote(*text) +
                              " " + debian_python() + " " + quote(script.string()) + " " + t +
                              " " + cell + " " + std::to_string(m.hidden) + " " +
                              std::to_string(steps) + " 2>&1";
  int status = 0;
  const std::string output = run_capture(command, &status);
  const auto rate = find_number(output, "chars_per_s_median");
  if (status != 0 || !rate) {
    *note = "PyTorch did not run (python3-torch installed?)";
    return NAN;
  }
  return *rate;
}

}  // namespace

int bench_rnn(const std::vector<std::string>& args) {
  po::options_description desc("options");
  CommonOptions common;
  std::string models_text, threads_text, peers_text;
  unsigned steps = 0, blocks = 3;
  desc.add_options()
      ("models", po::value<std::string>(&models_text)
           ->default_value("lstm:128,lstm:256,lstm:512,gru:256,gru:512,rnn:256,leaky:256"),
       "CELL:HIDDEN pairs, comma-separated (cells rnn, leaky, lstm, gru)")
      ("thread-counts", po::value<std::string>(&threads_text)->default_value("1,2"),
       "thread counts to measure, comma-separated")
      ("steps", po::value<unsigned>(&steps)->default_value(0),
       "updates per timed block (0 = about two seconds' worth)")
      ("blocks", po::value<unsigned>(&blocks)->default_value(3),
       "timed blocks, the median is reported")
      ("peers", po::value<std::string>(&peers_text),
       "folder with the peer benchmark scripts (bench_torch_rnn.py)");
  add_common_options(desc, common, kJson);
  po::variables_map vm;
  if (!parse_command_line(
          "bench rnn",
          "[--models lstm:256,gru:256] [--thread-counts 1,2] [--peers DIR]\n"
          "Training throughput in characters per second (forward + backward + Adam step):\n"
          "65 symbols, embedding 64, one layer, batch 32, window 100, float32.",
          args, desc, nullptr, vm))
    return 0;
  const auto models = parse_models(models_text);
  const auto thread_counts = parse_list("thread-counts", threads_text);
  if (blocks == 0) user_error("bench rnn: --blocks must be >= 1");
  std::optional<fs::path> peers;
  if (vm.count("peers")) peers = fs::path(peers_text);

  const auto [text, source] = bench_text();
  if (!common.json) {
    std::cout << "data: " << source << "\n";
    std::cout << "BLAS: " << blas_info().summary() << "\n";
  }
  // The hand-measured FMA peak: a ceiling that does not depend on how OpenBLAS was dispatched.
  std::map<arma::uword, double> fma_peak;
  {
    const unsigned most = static_cast<unsigned>(*std::max_element(thread_counts.begin(), thread_counts.end()));
    std::vector<double> peaks;
    if (common.json) {
      for (unsigned t = 1; t <= most; ++t) peaks.push_back(fma_peak_gflops(true, t));
    } else {
      peaks = print_ceilings(true, most);
    }
    for (arma::uword t : thread_counts) fma_peak[t] = peaks[t - 1];
  }
  std::map<arma::uword, double> sgemm;
  for (arma::uword t : thread_counts) {
    set_blas_threads(static_cast<int>(t));
    sgemm[t] = sgemm_rate(2048);
    if (!common.json)
      std::cout << "SGEMM n=2048 on " << t << " thread(s): " << std::fixed << std::setprecision(1)
                << sgemm[t] << " GFLOP/s\n";
  }
  set_blas_threads(1);
  if (!common.json)
    std::cout << "chars/s of training (forward + backward + Adam); GFLOP/s counts the recurrent "
                 "and output products done per character; ratio = seqlab / PyTorch on the same "
                 "thread count\n";

  for (const BenchModel& m : models) {
    std::map<arma::uword, double> ours;
    for (arma::uword t : thread_counts) {
      // About two seconds per block unless told: a first short block sets the pace.
      unsigned n = steps;
      if (n == 0) {
        const Measured probe = measure_seqlab(m, static_cast<unsigned>(t), text, 2, 1);
        n = static_cast<unsigned>(std::clamp(2.0 * probe.chars_per_second / (kBatch * kWindow),
                                             3.0, 200.0));
      }
      const Measured r = measure_seqlab(m, static_cast<unsigned>(t), text, n, blocks);
      ours[t] = r.chars_per_second;
      const double gflops = r.chars_per_second * flops_per_char(m) / 1e9;
      std::string note;
      const double torch = peers ? measure_torch(*peers, m, static_cast<unsigned>(t),
                                                 std::max(3u, n / 2), &note)
                                 : NAN;
      if (common.json) {
        JsonObject row;
        row.add("model", m.label());
        row.add("threads", static_cast<std::uint64_t>(t));
        row.add("chars_per_second", r.chars_per_second);
        row.add("gflops", gflops);
        row.add("sgemm_fraction", gflops / sgemm[t]);
        if (std::isfinite(fma_peak[t])) row.add("fma_peak_fraction", gflops / fma_peak[t]);
        if (!std::isnan(torch)) {
          row.add("torch_chars_per_second", torch);
          row.add("ratio", r.chars_per_second / torch);
        }
        std::cout << row.str() << "\n";
        continue;
      }
      std::cout << std::fixed << std::setprecision(0) << "seqlab " << m.label() << " threads=" << t
                << ": " << r.chars_per_second << " chars/s, " << std::setprecision(1) << gflops
                << " GFLOP/s = " << std::setprecision(0) << 100.0 * gflops / sgemm[t]
                << " % of SGEMM on " << t << " thread(s)";
      if (std::isfinite(fma_peak[t]))
        std::cout << ", " << 100.0 * gflops / fma_peak[t] << " % of the FMA peak";
      if (t != thread_counts.front())
        std::cout << std::setprecision(2) << ", x" << r.chars_per_second / ours[thread_counts.front()]
                  << " over " << thread_counts.front() << " thread(s)";
      if (!std::isnan(torch))
        std::cout << std::setprecision(0) << "; PyTorch " << torch << " chars/s, ratio "
                  << std::setprecision(2) << r.chars_per_second / torch;
      else if (peers)
        std::cout << "; PyTorch: " << note;
      std::cout << std::defaultfloat << "\n";
    }
  }
  return 0;
}

}  // namespace seqlab::cli
