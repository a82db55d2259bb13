// tests/support/test_support.cpp
#include "test_support.hpp"

#include <algorithm>
#include <barrier>
#include <cmath>
#include <cstdlib>
#include <exception>
#include <fstream>
#include <sstream>
#include <thread>

#include "seqlab/core/error.hpp"

namespace seqlab::test {
namespace fs = std::filesystem;

fs::path fixture(const std::string& relative) { return fs::path(SEQLAB_FIXTURE_DIR) / relative; }

std::optional<fs::path> real_data_dir(const std::string& folder) {
  const char* env = std::getenv("SEQLAB_DATA_PATH");
  if (!env) return std::nullopt;
  std::stringstream ss(env);
  std::string dir;
  while (std::getline(ss, dir, ':')) {
    if (dir.empty()) continue;
    fs::path p = fs::path(dir) / folder;
    if (fs::is_directory(p)) return p;
  }
  return std::nullopt;
}

ScratchDir::ScratchDir() {
  std::string templ = (fs::temp_directory_path() / "seqlab-test-XXXXXX").string();
  if (!::mkdtemp(templ.data())) throw std::runtime_error("mkdtemp failed");
  path_ = templ;
}

ScratchDir::~ScratchDir() {
  std::error_code ec;
  fs::remove_all(path_, ec);
}

SequenceSet symbol_set(const std::vector<arma::uvec>& sequences) {
  SequenceSet set;
  set.kind = SequenceKind::symbols;
  set.symbols = sequences;
  return set;
}

void write_file(const fs::path& path, const std::string& content) {
  std::ofstream out(path, std::ios::binary);
  out.write(content.data(), static_cast<std::streamsize>(content.size()));
}

std::string read_file(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

GradientCheck fourth_order_gradient_check(double* data, std::size_t n, const double* analytic,
                                          const std::function<double()>& loss, double margin) {
  GradientCheck result;
  const auto loss_at = [&](std::size_t i, double value) {
    data[i] = value;
    return loss();
  };
  for (std::size_t i = 0; i < n; ++i) {
    const double saved = data[i];
    const double h = 1e-4 * std::max(1.0, std::abs(saved));
    const double near = loss_at(i, saved + h) - loss_at(i, saved - h);
    const double far = loss_at(i, saved + 2 * h) - loss_at(i, saved - 2 * h);
    data[i] = saved;
    const double numeric = (8.0 * near - far) / (12.0 * h);
    const double error = std::abs(analytic[i] - numeric) /
                         std::max({std::abs(analytic[i]), std::abs(numeric), 1e-8});
    if (!(error <= result.worst) || i == 0)
      result = GradientCheck{error, i, analytic[i], numeric, result.worst_beyond_margin};
    if (!(std::abs(analytic[i] - numeric) <= margin) && !(error <= result.worst_beyond_margin))
      result.worst_beyond_margin = error;
  }
  return result;
}

bool ArmaNearMatcher::match(const arma::mat& actual) const {
  if (actual.n_rows != expected_.n_rows || actual.n_cols != expected_.n_cols) {
    detail_ = "shape " + std::to_string(actual.n_rows) + "x" + std::to_string(actual.n_cols) +
              " != expected " + std::to_string(expected_.n_rows) + "x" +
              std::to_string(expected_.n_cols);
    return false;
  }
  double worst = 0.0;
  arma::uword worst_i = 0;
  bool ok = true;
  for (arma::uword i = 0; i < actual.n_elem; ++i) {
    const double diff = std::abs(actual(i) - expected_(i));
    const double tol = std::max(abs_, rel_ * std::abs(expected_(i)));
    const bool bad = !(diff <= tol) && !(actual(i) == expected_(i));
    if (bad) ok = false;
    if (bad && (diff > worst || std::isnan(diff))) {
      worst = diff;
      worst_i = i;
    }
  }
  if (!ok) {
    std::ostringstream s;
    s.precision(17);
    s << "worst element " << worst_i << " (row " << worst_i % actual.n_rows << ", col "
      << worst_i / actual.n_rows << "): " << actual(worst_i) << " vs expected "
      << expected_(worst_i) << ", diff " << worst;
    detail_ = s.str();
  }
  return ok;
}

std::string ArmaNearMatcher::describe() const {
  std::ostringstream s;
  s << "is within rel " << rel_ << " / abs " << abs_ << " of the expected matrix";
  if (!detail_.empty()) s << "; " << detail_;
  return s.str();
}

double independent_units_nll(const SequenceSet& train, const SequenceSet& test) {
  arma::vec on(train.frames.front().n_rows, arma::fill::ones);
  double n = 2.0;
  for (const auto& f : train.frames) {
    on += arma::sum(f, 1);
    n += static_cast<double>(f.n_cols);
  }
  const arma::vec p = on / n;
  double ll = 0.0, frames = 0.0;
  for (const auto& f : test.frames) {
    for (arma::uword t = 0; t < f.n_cols; ++t)
      for (arma::uword i = 0; i < f.n_rows; ++i)
        ll += f(i, t) > 0.5 ? std::log(p(i)) : std::log1p(-p(i));
    frames += static_cast<double>(f.n_cols);
  }
  return -ll / frames;
}

namespace {

// Shared state of run_ranks: one slot per rank, a barrier between the phases of each collective.
struct RankHub {
  explicit RankHub(unsigned ranks) : slots(ranks), errors(ranks), barrier(ranks) {}
  std::vector<std::vector<double>> slots;
  std::vector<std::string> errors;
  bool flag = false;
  std::barrier<> barrier;
};

class ThreadCommunicator final : public Communicator {
 public:
  ThreadCommunicator(RankHub& hub, unsigned rank) : hub_(hub), rank_(rank) {}
  unsigned rank() const override { return rank_; }
  unsigned size() const override { return static_cast<unsigned>(hub_.slots.size()); }
  void sum_in_rank_order(double* data, std::size_t n) const override {
    hub_.slots[rank_].assign(data, data + n);
    hub_.barrier.arrive_and_wait();
    std::vector<const double*> parts;
    for (const auto& slot : hub_.slots) parts.push_back(slot.data());
    tree_sum(parts, data, n);        // the order core/communicator.hpp defines
    hub_.barrier.arrive_and_wait();  // nobody refills a slot before everyone has read it
  }
  bool broadcast_flag(bool value) const override {
    if (rank_ == 0) hub_.flag = value;
    hub_.barrier.arrive_and_wait();
    const bool result = hub_.flag;
    hub_.barrier.arrive_and_wait();
    return result;
  }
  void agree(const std::string& error) const override {
    hub_.errors[rank_] = error;
    hub_.barrier.arrive_and_wait();
    std::string first;
    for (const std::string& e : hub_.errors)
      if (!e.empty()) {
        first = e;
        break;
      }
    hub_.barrier.arrive_and_wait();
    if (!first.empty()) user_error(first);
  }

 private:
  RankHub& hub_;
  unsigned rank_;
};

}  // namespace

void run_ranks(unsigned ranks, const std::function<void(const Communicator&)>& f) {
  RankHub hub(ranks);
  std::vector<std::exception_ptr> failures(ranks);
  std::vector<std::thread> threads;
  for (unsigned r = 0; r < ranks; ++r)
    threads.emplace_back([&, r] {
      const ThreadCommunicator communicator(hub, r);
      try {
        f(communicator);
      } catch (...) {
        failures[r] = std::current_exception();
      }
    });
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : failures)
    if (e) std::rethrow_exception(e);
}

}  // namespace seqlab::test
