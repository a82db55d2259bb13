// tools/seqlab/cmd_bench.cpp: `seqlab bench blas|hmm`: speed measured against the machine's own
// GEMM rate and against peer libraries run in the same invocation, printed as ratios.
//
// The HMM benchmark follows the peers' protocol: 100 sequences of 10,000 symbols over 65 symbols
// (tinyshakespeare's first 1,000,000 characters when the dataset is available, else a sample of
// a random 32-state HMM), a fixed random model per N, one forward pass (log-likelihood of every
// sequence) and one Baum-Welch iteration (E-step with statistics + M-step). With --peers DIR
// (a folder holding the peers' data.py, ghmm_bench.c and bench_pomegranate.py), the data and the
// models are the ones data.py writes, so every program scores exactly the same numbers and the
// log-likelihoods are compared; GHMM and pomegranate run when they are installed.
#include <sys/resource.h>
#include <sys/wait.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <iomanip>
#include <iostream>
#include <map>
#include <optional>
#include <regex>
#include <sstream>

#include "bench_ceiling.hpp"
#include "bench_common.hpp"
#include "cli_common.hpp"
#include "commands.hpp"
#include "mpi_session.hpp"
#include "seqlab/core/communicator.hpp"
#include "seqlab/core/blas.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/data/registry.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/models/hmm/hmm.hpp"

namespace seqlab::cli {

namespace {

namespace fs = std::filesystem;
using CatHmm = Hmm<CategoricalEmission>;

// ---- benchmark data -----------------------------------------------------------------------

struct BenchData {
  std::vector<arma::uvec> sequences;
  arma::uword symbols = 65;
  std::string source;
  fs::path peer_data;  // folder with the peers' model_N*.txt / symbols.txt, when used
};

// The peers' text model format: "N M", then initial (N), transition (N x N row-major), emission
// (N x M row-major).
CatHmm read_peer_model(const fs::path& path) {
  std::ifstream in(path);
  arma::uword n = 0, m = 0;
  if (!(in >> n >> m) || n == 0 || m == 0)
    user_error(path.string() + ": line 1: expected 'N M' (two positive integers)");
  arma::vec initial(n);
  arma::mat transition(n, n), emission(n, m);
  for (arma::uword i = 0; i < n; ++i) in >> initial(i);
  for (arma::uword i = 0; i < n; ++i)
    for (arma::uword j = 0; j < n; ++j) in >> transition(i, j);
  for (arma::uword i = 0; i < n; ++i)
    for (arma::uword k = 0; k < m; ++k) in >> emission(i, k);
  if (!in) user_error(path.string() + ": ended early, expected N + N*N + N*M numbers");
  // Printed with 17 digits by the peers' script: rows sum to 1 within rounding.
  return CatHmm(initial, transition, CategoricalEmission(emission));
}

BenchData peer_benchmark_data(const fs::path& peers, const fs::path& scratch,
                              arma::uword sequences, arma::uword length) {
  BenchData data;
  data.peer_data = scratch / "peer_data";
  fs::create_directories(data.peer_data);
  std::string env = "PEER_DATA=" + quote(data.peer_data.string());
  // data.py looks for tinyshakespeare beside the peers folder unless told; point it at the
  // dataset the registry resolves, when there is one.
  // (Without one, data.py falls back to its own synthetic source and says so in source.txt.)
  if (const auto text = tinyshakespeare_file()) env += " TINYSHAKESPEARE=" + quote(*text);
  int status = 0;
  run_capture(env + " " + debian_python() + " " + quote((peers / "data.py").string()) + " 2>&1", &status);
  if (status != 0) user_error("bench: " + (peers / "data.py").string() + " failed (needs python3-numpy)");
  std::ifstream in(data.peer_data / "symbols.txt");
  std::string line;
  while (data.sequences.size() < sequences && std::getline(in, line)) {
    std::istringstream fields(line);
    std::vector<arma::uword> x;
    arma::uword v = 0;
    while (fields >> v && x.size() < length) x.push_back(v);
    data.sequences.emplace_back(x);
  }
  std::ifstream src(data.peer_data / "source.txt");
  std::getline(src, data.source);
  data.source = "peers' data.py: " + data.source;
  return data;
}

BenchData own_benchmark_data(arma::uword sequences, arma::uword length) {
  BenchData data;
  try {
    OpenOptions options;
    const SequenceDataset ds = open_dataset("tinyshakespeare", options);
    const arma::uvec& text = ds.all.symbols.at(0);
    if (text.n_elem >= sequences * length && ds.alphabet.size() == 65) {
      for (arma::uword s = 0; s < sequences; ++s)
        data.sequences.push_back(text.subvec(s * length, (s + 1) * length - 1));
      data.source = "tinyshakespeare, first " + std::to_string(sequences * length) + " characters";
      return data;
    }
  } catch (const UserError&) {
  }
  Rng rng = make_rng(20240607);
  const CategoricalHmmParams truth = random_categorical_hmm(32, 65, 0.1, rng);
  for (arma::uword s = 0; s < sequences; ++s)
    data.sequences.push_back(sample_categorical_hmm(truth, length, rng).symbols);
  data.source = "synthetic: sample of a random 32-state HMM over 65 symbols";
  return data;
}

// The sequences an N-state measurement runs on: all of them, or (unless `all`) 26 for N > 256
// (their double alpha buffers would not fit otherwise).
std::vector<arma::uvec> bench_sequences(const BenchData& data, arma::uword states,
                                        bool all = false) {
  const arma::uword used = states > 256 && !all
                               ? std::min<arma::uword>(data.sequences.size(), 26)
                               : data.sequences.size();
  return std::vector<arma::uvec>(data.sequences.begin(), data.sequences.begin() + used);
}

CatHmm bench_model(const BenchData& data, arma::uword states) {
  const fs::path peer_model = data.peer_data / ("model_N" + std::to_string(states) + ".txt");
  if (!data.peer_data.empty() && fs::exists(peer_model)) return read_peer_model(peer_model);
  Rng rng = make_rng(1234 + states);
  const CategoricalHmmParams p = random_categorical_hmm(states, data.symbols, 1.0, rng);
  return CatHmm(p.initial, p.transition, CategoricalEmission(p.emission));
}

// ---- peers ----------------------------------------------------------------------------------

struct PeerResult {
  std::string name;
  arma::uword states = 0;
  arma::uword sequences = 0;        // how many of the benchmark sequences it ran on
  double forward_seconds = NAN;     // per 10^6 symbols
  double em_seconds = NAN;          // per 10^6 symbols
  double log_likelihood = NAN;      // of the model on those sequences
  std::string note;
};

// How many sequences each peer gets at each N: enough for a stable time, few enough that the
// slow ones finish in about a minute (their time is scaled to 10^6 symbols; it is linear in T).
arma::uword peer_sequences(const std::string& peer, arma::uword states) {
  if (peer == "ghmm") return states <= 16 ? 100 : states <= 64 ? 20 : 2;
  return states <= 16 ? 10 : 1;  // pomegranate
}

std::optional<PeerResult> run_ghmm(const fs::path& peers, const fs::path& scratch,
                                   const BenchData& data, arma::uword states) {
  const fs::path model = data.peer_data / ("model_N" + std::to_string(states) + ".txt");
  if (!fs::exists(model)) return std::nullopt;
  int status = 0;
  const fs::path exe = scratch / "ghmm_bench";
  if (!fs::exists(exe)) {
    run_capture("gcc -O2 -o " + quote(exe.string()) + " " +
                    quote((peers / "ghmm_bench.c").string()) +
                    " $(ghmm-config --libs) -lm -rdynamic 2>&1",
                &status);
    if (status != 0) return std::nullopt;
  }
  PeerResult r;
  r.name = "GHMM";
  r.states = states;
  r.sequences = peer_sequences("ghmm", states);
  const std::string out = run_capture(quote(exe.string()) + " " + quote(model.string()) + " " +
                                          quote((data.peer_data / "symbols.txt").string()) + " " +
                                          std::to_string(r.sequences) + " " +
                                          (states <= 16 ? "3" : "1") + " 2>&1",
                                      &status);
  const double per_million = 1e6 / (static_cast<double>(r.sequences) * 10000.0);
  const auto fwd = find_number(out, "fwd_s_median");
  const auto ll = find_number(out, R"(forward-LL\(logp\))");
  const std::regex step_pattern(R"(baum_welch_nstep\((\d)\) s_median=([0-9.eE+-]+))");
  std::map<int, double> nstep;
  for (std::sregex_iterator it(out.begin(), out.end(), step_pattern), end; it != end; ++it)
    nstep[std::stoi((*it)[1].str())] = std::stod((*it)[2].str());
  if (status != 0 || !fwd) {
    r.note = "failed: " + out.substr(0, 200);
    return r;
  }
  r.forward_seconds = *fwd * per_million;
  if (ll) r.log_likelihood = *ll;
  if (nstep.count(1) && nstep.count(2)) r.em_seconds = (nstep[2] - nstep[1]) * per_million;
  return r;
}

std::optional<PeerResult> run_pomegranate(const fs::path& peers, const BenchData& data,
                                          arma::uword states) {
  if (states > 64 || !fs::exists(data.peer_data / ("model_N" + std::to_string(states) + ".npz")))
    return std::nullopt;
  int status = 0;
  run_capture(debian_python() + " -c 'import pomegranate' 2>&1", &status);
  if (status != 0) return std::nullopt;
  PeerResult r;
  r.name = "pomegranate";
  r.states = states;
  r.sequences = peer_sequences("pomegranate", states);
  const std::string out =
      run_capture("OMP_NUM_THREADS=1 PEER_DATA=" + quote(data.peer_data.string()) + " " + debian_python() + " " +
                      quote((peers / "bench_pomegranate.py").string()) + " " +
                      std::to_string(states) + " " + std::to_string(r.sequences) + " 1 2>&1",
                  &status);
  const double per_million = 1e6 / (static_cast<double>(r.sequences) * 10000.0);
  const auto fwd = find_number(out, "fwd_s_median");
  const auto em = find_number(out, "em_iter_s_median");
  const auto ll = find_number(out, "forward-LL");
  if (status != 0 || !fwd) {
    r.note = "failed: " + out.substr(0, 200);
    return r;
  }
  r.forward_seconds = *fwd * per_million;
  if (em) r.em_seconds = *em * per_million;
  if (ll) r.log_likelihood = *ll;
  return r;
}

// ---- the commands -----------------------------------------------------------------------------

int bench_blas(const std::vector<std::string>& args) {
  po::options_description desc("options");
  CommonOptions common;
  arma::uword size = 2048;
  std::string precision = "double";
  bool rates_only = false;
  desc.add_options()("size", po::value<arma::uword>(&size)->default_value(2048),
                     "matrix size n of the square GEMM")(
      "precision", po::value<std::string>(&precision)->default_value("double"),
      "double (DGEMM) or float (SGEMM)");
  add_common_options(desc, common, kThreads);
  po::options_description hidden;
  // The child process of unpinned_gemm_rates (bench_ceiling.hpp): one "threads=T gflops=X" line
  // per thread count, nothing else.
  hidden.add_options()("rates-only", po::bool_switch(&rates_only),
                       "internal: the rates alone, for a parent bench");
  po::options_description all;
  all.add(desc).add(hidden);
  po::variables_map vm;
  if (!parse_command_line("bench blas", "[--size N] [--precision double|float] [--threads T]",
                          args, all, nullptr, vm))
    return 0;
  if (precision != "double" && precision != "float")
    user_error("bench blas: --precision must be double or float, got '" + precision + "'");
  const bool single = precision == "float";
  if (rates_only) {
    for (unsigned t = 1; t <= common.threads; ++t) {
      set_blas_threads(static_cast<int>(t));
      std::cout << "threads=" << t << " gflops=" << (single ? sgemm_rate(size) : dgemm_rate(size))
                << "\n";
    }
    set_blas_threads(1);
    return 0;
  }
  std::cout << "BLAS: " << blas_info().summary() << "\n";
  const std::vector<double> peaks = print_ceilings(single, common.threads);
  for (unsigned t = 1; t <= common.threads; ++t) {
    set_blas_threads(static_cast<int>(t));
    const double rate = single ? sgemm_rate(size) : dgemm_rate(size);
    std::cout << (single ? "SGEMM" : "DGEMM") << " n=" << size << ", " << t << " thread(s): "
              << std::fixed << std::setprecision(1) << rate << " GFLOP/s";
    if (std::isfinite(peaks[t - 1]))
      std::cout << " = " << std::setprecision(0) << 100.0 * rate / peaks[t - 1]
                << " % of the FMA peak";
    std::cout << "\n";
  }
  set_blas_threads(1);
  return 0;
}

// One rank's part of `bench hmm --mpi` (started by time_mpi_iteration under mpirun): the
// Baum-Welch iteration on the bench data shared by the job's ranks, one thread each, timed
// after a warm-up; rank 0 prints one JSON line per N.
int bench_hmm_rank(const std::vector<arma::uword>& state_counts, arma::uword sequences,
                   arma::uword length) {
  const Communicator* communicator = mpi_communicator();
  if (communicator == nullptr) user_error("bench hmm --mpi-worker: not started as an MPI rank");
  const BenchData data = own_benchmark_data(sequences, length);
  for (const arma::uword n : state_counts) {
    const CatHmm model = bench_model(data, n);
    const std::vector<arma::uvec> subset = bench_sequences(data, n);
    arma::uword symbols = 0;
    for (const auto& x : subset) symbols += x.n_elem;
    const TrainOptions options;
    FitOptions run;
    run.threads = 1;
    run.communicator = communicator;
    HmmWorkspace workspace;
    CatHmm copy = model;
    copy.em_step(subset, options, run, &workspace);  // warm-up (buffers, kernels)
    copy = model;
    communicator->broadcast_flag(true);  // start together
    const auto start = BenchClock::now();
    copy.em_step(subset, options, run, &workspace);
    const double seconds = seconds_since(start);
    if (communicator->rank() != 0) continue;
    JsonObject row;
    row.add("states", static_cast<std::uint64_t>(n));
    row.add("ranks", static_cast<std::uint64_t>(communicator->size()));
    row.add("em_seconds_per_million", seconds * 1e6 / static_cast<double>(symbols));
    // What expectation() exchanges: per-sequence log-likelihoods, initial counts, transition
    // counts, occupancies and the N x M emission counts.
    row.add("message_doubles", static_cast<std::uint64_t>(subset.size() + 2 * n + n * n +
                                                          n * model.emission().dimension()));
    std::cout << row.str() << std::endl;
  }
  return 0;
}

struct MpiTiming {
  double em_seconds_per_million = NAN;
  std::uint64_t message_doubles = 0;
};

// Runs bench_hmm_rank for one N under `mpirun -n 2` and reads rank 0's line.
MpiTiming time_mpi_iteration(arma::uword n, arma::uword sequences, arma::uword length) {
  int status = 0;
  const std::string mpirun = run_capture("command -v mpirun 2>/dev/null", &status);
  if (status != 0 || mpirun.empty())
    user_error("bench hmm --mpi: mpirun not found (Debian package openmpi-bin)");
  const std::string command =
      "OMPI_MCA_btl_vader_single_copy_mechanism=none mpirun --allow-run-as-root --oversubscribe "
      "-n 2 /proc/" + std::to_string(::getpid()) + "/exe bench hmm --mpi-worker --states " +
      std::to_string(n) + " --sequences " + std::to_string(sequences) + " --length " +
      std::to_string(length) + " 2>&1";
  const std::string out = run_capture(command, &status);
  const std::regex row_pattern(
      R"("em_seconds_per_million": ([0-9.eE+-]+), "message_doubles": ([0-9]+))");
  std::smatch m;
  if (status != 0 || !std::regex_search(out, m, row_pattern))
    user_error("bench hmm --mpi: the MPI job failed (exit " + std::to_string(status) + "): " +
               out.substr(0, 300));
  MpiTiming t;
  t.em_seconds_per_million = std::stod(m[1].str());
  t.message_doubles = std::stoull(m[2].str());
  return t;
}

int bench_hmm(const std::vector<std::string>& args) {
  po::options_description desc("options");
  CommonOptions common;
  std::string states_text, threads_text, peers_text;
  arma::uword sequences = 100, length = 10000;
  unsigned reps = 0;
  bool mpi = false, mpi_worker = false, all_sequences = false, cold = false, compare = false;
  std::string precision_text = "float64";
  desc.add_options()
      ("states", po::value<std::string>(&states_text)->default_value("16,64,256,1024"),
       "numbers of hidden states N, comma-separated")
      ("thread-counts", po::value<std::string>(&threads_text)->default_value("1,2"),
       "thread counts to measure, comma-separated")
      ("sequences", po::value<arma::uword>(&sequences)->default_value(100),
       "number of sequences (N > 256 uses fewer, see --help)")
      ("length", po::value<arma::uword>(&length)->default_value(10000), "symbols per sequence")
      ("reps", po::value<unsigned>(&reps)->default_value(0),
       "repetitions per timing, median taken (0 = 3 for N <= 64, else 1)")
      ("peers", po::value<std::string>(&peers_text),
       "folder with the peer benchmark scripts (data.py, ghmm_bench.c, bench_pomegranate.py)")
      ("mpi", po::bool_switch(&mpi),
       "also time the Baum-Welch iteration shared by 2 MPI ranks of 1 thread each (mpirun), "
       "against 1 process of 2 threads, with the bytes the ranks exchange per iteration")
      ("precision", po::value<std::string>(&precision_text)->default_value("float64"),
       "arithmetic of the Baum-Welch E-step: float64 or float32 (the forward pass is float64)")
      ("compare", po::bool_switch(&compare),
       "with --precision float32: one Baum-Welch step in both precisions from the same "
       "parameters, and their largest relative differences")
      ("all", po::bool_switch(&all_sequences), "every N runs on all sequences (not 26 for N > 256)")
      ("cold", po::bool_switch(&cold),
       "time ONE Baum-Welch iteration per thread count from fresh buffers (allocation and page "
       "faults included, no warm-up, no forward pass): for N where one iteration takes minutes");
  add_common_options(desc, common, kJson);
  po::options_description hidden;
  hidden.add_options()("mpi-worker", po::bool_switch(&mpi_worker),
                       "internal: one rank of the --mpi measurement");
  po::options_description all;
  all.add(desc).add(hidden);
  po::variables_map vm;
  if (!parse_command_line(
          "bench hmm",
          "[--states 16,64,256,1024] [--thread-counts 1,2] [--peers DIR] [--mpi]\n"
          "       [--precision float64|float32 [--compare]] [--all] [--cold]\n"
          "Seconds per forward pass and per Baum-Welch iteration, scaled to 10^6 symbols.\n"
          "N > 256 runs on 26 sequences (its alpha buffer would not fit otherwise) unless --all.",
          args, all, nullptr, vm))
    return 0;
  if (mpi_worker) return bench_hmm_rank(parse_list("states", states_text), sequences, length);
  if (mpi_size() > 1)
    user_error("bench hmm: runs in one process (--mpi starts its own MPI job)");
  const auto state_counts = parse_list("states", states_text);
  const auto thread_counts = parse_list("thread-counts", threads_text);
  if (sequences == 0 || length == 0) user_error("bench hmm: --sequences and --length must be >= 1");
  if (precision_text != "float64" && precision_text != "float32")
    user_error("bench hmm: --precision " + precision_text + ": expected float64 or float32");
  const Precision precision =
      precision_text == "float32" ? Precision::float32 : Precision::float64;

  const fs::path scratch = fs::temp_directory_path() / ("seqlab-bench-" + std::to_string(::getpid()));
  fs::create_directories(scratch);
  struct Cleanup {
    fs::path dir;
    ~Cleanup() {
      std::error_code ec;
      fs::remove_all(dir, ec);
    }
  } cleanup{scratch};

  std::optional<fs::path> peers;
  if (vm.count("peers")) {
    peers = fs::path(peers_text);
    if (!fs::exists(*peers / "data.py"))
      user_error("bench hmm: --peers " + peers_text + ": no data.py there (the peer scripts' folder)");
  }
  const BenchData data = peers ? peer_benchmark_data(*peers, scratch, sequences, length)
                               : own_benchmark_data(sequences, length);
  arma::uword total = 0;
  for (const auto& x : data.sequences) total += x.n_elem;

  std::cout << "data: " << data.source << "; " << data.sequences.size() << " sequences, " << total
            << " symbols\n";
  std::cout << "BLAS: " << blas_info().summary() << "\n";
  print_ceilings(false, static_cast<unsigned>(*std::max_element(thread_counts.begin(), thread_counts.end())));
  std::map<unsigned, double> gemm_rate;
  for (unsigned t : thread_counts) {
    set_blas_threads(static_cast<int>(t));
    gemm_rate[t] = dgemm_rate(2048);
    std::cout << "DGEMM n=2048 on " << t << " thread(s): " << std::fixed << std::setprecision(1)
              << gemm_rate[t] << " GFLOP/s\n";
  }
  set_blas_threads(1);
  std::cout << "times are seconds per 10^6 symbols; ratios = peer time / seqlab time on 1 thread\n";

  for (arma::uword n : state_counts) {
    const CatHmm model = bench_model(data, n);
    const std::vector<arma::uvec> subset = bench_sequences(data, n, all_sequences);
    arma::uword used_symbols = 0;
    for (const auto& x : subset) used_symbols += x.n_elem;
    const double per_million = 1e6 / static_cast<double>(used_symbols);
    const unsigned r = reps > 0 ? reps : (n <= 64 ? 3u : 1u);
    if (precision == Precision::float32 && compare) {
      // One Baum-Welch step from the same parameters in both precisions.
      TrainOptions options;
      FitOptions run;
      run.threads = thread_counts.back();
      CatHmm exact = model, single = model;
      const double ll64 = exact.em_step(subset, options, run);
      options.precision = Precision::float32;
      const double ll32 = single.em_step(subset, options, run);
      // Largest |a - b| / |b| over entries |b| >= floor, and over all entries with |b| below the
      // floor replaced by it.
      const auto worst = [](const arma::mat& a, const arma::mat& b, double floor) {
        double r = 0.0;
        for (arma::uword k = 0; k < b.n_elem; ++k)
          r = std::max(r, std::abs(a(k) - b(k)) / std::max(std::abs(b(k)), floor));
        return r;
      };
      std::cout << std::scientific << std::setprecision(2) << "seqlab N=" << n
                << " float32 vs float64, one Baum-Welch step on " << used_symbols
                << " symbols: log-likelihood relative difference "
                << std::abs(ll32 - ll64) / std::abs(ll64);
      // The convention of the tests (largest |a - b| over largest |b| of each parameter set):
      const auto overall = [](const arma::mat& a, const arma::mat& b) {
        return arma::abs(a - b).max() / std::max(arma::abs(b).max(), 1e-300);
      };
      std::cout << "; largest difference over largest value: initial "
                << overall(single.initial(), exact.initial()) << ", transition "
                << overall(single.transition(), exact.transition()) << ", emission "
                << overall(single.emission().probabilities(), exact.emission().probabilities());
      for (const double floor : {0.0, 1e-6}) {
        std::cout << (floor == 0.0 ? "; max relative difference of every entry: initial "
                                   : "; of entries >= 1e-6 (smaller ones on that scale): initial ")
                  << worst(single.initial(), exact.initial(), floor) << ", transition "
                  << worst(single.transition(), exact.transition(), floor) << ", emission "
                  << worst(single.emission().probabilities(), exact.emission().probabilities(),
                           floor);
      }
      std::cout << std::defaultfloat << std::endl;
    }
    if (cold) {
      for (unsigned t : thread_counts) {
        TrainOptions options;
        options.precision = precision;
        FitOptions run;
        run.threads = t;
        CatHmm copy = model;
        reset_peak_memory();
        const auto start = BenchClock::now();
        const double ll = copy.em_step(subset, options, run);
        const double seconds = seconds_since(start);
        const double peak = peak_memory_mib();
        if (common.json) {
          JsonObject row;
          row.add("program", "seqlab");
          row.add("states", static_cast<std::uint64_t>(n));
          row.add("threads", static_cast<std::uint64_t>(t));
          row.add("precision", precision_text);
          row.add("symbols", static_cast<std::uint64_t>(used_symbols));
          row.add("em_seconds", seconds);
          row.add("em_seconds_per_million", seconds * per_million);
          row.add("peak_memory_mib", peak);
          row.add("log_likelihood", ll);
          std::cout << row.str() << std::endl;
        } else {
          std::cout << std::fixed << std::setprecision(1) << "seqlab N=" << n << " threads=" << t
                    << " " << precision_text << ": one Baum-Welch iteration (cold) on "
                    << used_symbols << " symbols: " << seconds << " s (" << seconds * per_million
                    << " s per 10^6 symbols), peak memory " << std::setprecision(0) << peak
                    << " MiB, log-likelihood " << std::setprecision(6) << ll << std::endl;
        }
      }
      continue;
    }
    std::map<unsigned, std::pair<double, double>> ours;  // threads -> (forward, em)
    double peak_mib = NAN;
    for (unsigned t : thread_counts) {
      double ll = 0.0;
      const double forward = time_median(r, [&] { ll = arma::accu(model.log_likelihoods(subset, t)); });
      TrainOptions options;
      options.precision = precision;
      FitOptions run;
      run.threads = t;
      // A training loop keeps its scratch buffers between iterations: time the steady state.
      HmmWorkspace workspace;
      CatHmm copy = model;
      reset_peak_memory();
      copy.em_step(subset, options, run, &workspace);
      const double em = time_median(r, [&] {
        copy = model;
        copy.em_step(subset, options, run, &workspace);
      });
      if (t == thread_counts.front()) peak_mib = peak_memory_mib();
      ours[t] = {forward * per_million, em * per_million};
      const double gflops = 2.0 * n * n * static_cast<double>(used_symbols) / forward / 1e9;
      JsonObject row;
      row.add("program", "seqlab");
      row.add("states", static_cast<std::uint64_t>(n));
      row.add("threads", static_cast<std::uint64_t>(t));
      row.add("forward_seconds_per_million", forward * per_million);
      row.add("em_seconds_per_million", em * per_million);
      row.add("forward_gemm_fraction", gflops / gemm_rate[t]);
      row.add("log_likelihood", ll);
      if (common.json) {
        std::cout << row.str() << "\n";
      } else {
        std::cout << std::fixed << std::setprecision(3) << "seqlab N=" << n << " threads=" << t
                  << ": forward " << forward * per_million << " s, Baum-Welch iteration "
                  << em * per_million << " s; forward GEMMs at " << std::setprecision(1) << gflops
                  << " GFLOP/s = " << std::setprecision(0) << 100.0 * gflops / gemm_rate[t]
                  << " % of DGEMM on " << t << " thread(s)";
        if (t != thread_counts.front())
          std::cout << std::setprecision(2) << "; speed-up over " << thread_counts.front()
                    << " thread(s): forward x" << ours[thread_counts.front()].first / ours[t].first
                    << ", Baum-Welch x" << ours[thread_counts.front()].second / ours[t].second;
        std::cout << "\n";
      }
    }
    std::cout << std::fixed << std::setprecision(0) << "seqlab N=" << n
              << ": peak memory of one Baum-Welch iteration on " << used_symbols << " symbols: "
              << peak_mib << " MiB (the N x T posteriors alone: "
              << n * static_cast<double>(used_symbols) * 8.0 / (1024.0 * 1024.0) << " MiB)\n";
    if (mpi) {
      const MpiTiming m = time_mpi_iteration(n, sequences, length);
      const auto two_threads = ours.find(2);
      std::cout << std::fixed << std::setprecision(3) << "seqlab N=" << n
                << " 2 MPI ranks x 1 thread: Baum-Welch iteration " << m.em_seconds_per_million
                << " s";
      if (two_threads != ours.end())
        std::cout << std::setprecision(2) << " (1 process of 2 threads: "
                  << std::setprecision(3) << two_threads->second.second << " s, ratio x"
                  << std::setprecision(2) << two_threads->second.second / m.em_seconds_per_million
                  << ")";
      std::cout << "; each rank sends " << with_commas(m.message_doubles) << " doubles ("
                << std::setprecision(1) << m.message_doubles * 8.0 / 1048576.0
                << " MiB) to rank 0 and receives as many per iteration\n";
    }
    if (!peers) continue;
    const double ours_fwd = ours.begin()->second.first, ours_em = ours.begin()->second.second;
    for (const auto& peer : {run_ghmm(*peers, scratch, data, n), run_pomegranate(*peers, data, n)}) {
      if (!peer) continue;
      if (!peer->note.empty()) {
        std::cout << peer->name << " N=" << n << ": " << peer->note << "\n";
        continue;
      }
      const std::vector<arma::uvec> same(data.sequences.begin(),
                                         data.sequences.begin() + peer->sequences);
      const double ours_ll = arma::accu(model.log_likelihoods(same, 1));
      std::cout << std::setprecision(3) << peer->name << " N=" << n << " (on " << peer->sequences
                << " sequences): forward " << peer->forward_seconds << " s (x"
                << std::setprecision(1) << peer->forward_seconds / ours_fwd << ")";
      if (!std::isnan(peer->em_seconds))
        std::cout << std::setprecision(3) << ", Baum-Welch iteration " << peer->em_seconds
                  << " s (x" << std::setprecision(1) << peer->em_seconds / ours_em << ")";
      std::cout << std::scientific << std::setprecision(1) << "; log-likelihood "
                << std::setprecision(10) << std::defaultfloat << peer->log_likelihood
                << " vs seqlab " << ours_ll << " (relative difference " << std::scientific
                << std::setprecision(1) << std::abs(peer->log_likelihood - ours_ll) / std::abs(ours_ll)
                << ")" << std::defaultfloat << "\n";
    }
  }
  return 0;
}

}  // namespace

int bench_command(const std::vector<std::string>& args) {
  const std::string usage =
      "usage: seqlab bench blas|hmm|rnn|rbm|hopfield [options]   (seqlab bench <what> --help)\n"
      "  blas  the machine's GEMM rate on 1..--threads threads, against its FMA peak\n"
      "  hmm   forward pass and Baum-Welch iteration for N = 16, 64, 256, 1024, peers with --peers\n"
      "  rnn   recurrent-network training throughput (chars/s), PyTorch with --peers\n"
      "  rbm   RBM training, ms per epoch on digits (CD-1, PCD-1), scikit-learn with --peers\n"
      "  hopfield  asynchronous recall, unit updates per second; the capacity experiment's time\n"
      "Every bench takes --fair-blas: seqlab and its peers both run without the environment\n"
      "variables that pin OpenBLAS to older kernels (OPENBLAS_CORETYPE, OPENBLAS_L2_SIZE).\n";
  if (args.empty() || args[0] == "--help" || args[0] == "-h") {
    std::cout << usage;
    return args.empty() ? 1 : 0;
  }
  std::vector<std::string> rest(args.begin() + 1, args.end());
  const auto fair = std::find(rest.begin(), rest.end(), "--fair-blas");
  if (fair != rest.end()) {
    rest.erase(fair);
    if (mpi_size() > 1)
      user_error("bench " + args[0] + " --fair-blas: under mpirun, unset the variables in the "
                 "launch instead (env -u OPENBLAS_CORETYPE -u OPENBLAS_L2_SIZE)");
    run_without_blas_pins(args);  // returns once they are unset
  }
  if (args[0] == "blas") return bench_blas(rest);
  if (mpi_size() > 1 && args[0] != "hmm")
    user_error("bench " + args[0] + ": runs in one process, not under mpirun");
  if (args[0] == "hmm") return bench_hmm(rest);
  if (args[0] == "rnn") return bench_rnn(rest);
  if (args[0] == "rbm") return bench_rbm(rest);
  if (args[0] == "hopfield") return bench_hopfield(rest);
  user_error("bench: unknown benchmark '" + args[0] +
             "', expected blas, hmm, rnn, rbm or hopfield");
}

}  // namespace seqlab::cli
