// tools/seqlab/mpi_session.cpp: MPI for the seqlab program (mpi_session.hpp): the job's
// Communicator over OpenMPI's C API, compiled in when the build found MPI (SEQLAB_WITH_MPI).
#include "mpi_session.hpp"

#include <unistd.h>

#include <algorithm>
#include <csignal>
#include <climits>
#include <cstdlib>
#include <memory>
#include <string>
#include <vector>

#include "seqlab/core/communicator.hpp"
#include "seqlab/core/error.hpp"

#ifdef SEQLAB_WITH_MPI
// The C API only: the deprecated C++ bindings do not compile warning-free.
#define OMPI_SKIP_MPICXX 1
#define MPICH_SKIP_MPICXX 1
#include <mpi.h>
#endif

namespace seqlab::cli {
namespace {

// The job size the launcher announced in the environment: 1 when started alone.
unsigned launched_ranks() {
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "PMIX_SIZE"}) {
    const char* value = std::getenv(name);
    if (value == nullptr) continue;
    char* end = nullptr;
    const unsigned long n = std::strtoul(value, &end, 10);
    if (end != value && *end == '\0' && n >= 1 && n <= 1000000) return static_cast<unsigned>(n);
  }
  return 1;
}

#ifdef SEQLAB_WITH_MPI
// Messages go in pieces whose counts fit MPI's int.
constexpr std::size_t kPiece = std::size_t{1} << 26;
constexpr int kTagSum = 7100;

void check(int code, const char* what) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw std::runtime_error(std::string("MPI: ") + what + " failed: " + std::string(text, length));
}

class MpiCommunicator final : public Communicator {
 public:
  MpiCommunicator() {
    int rank = 0, size = 1;
    check(MPI_Comm_rank(MPI_COMM_WORLD, &rank), "MPI_Comm_rank");
    check(MPI_Comm_size(MPI_COMM_WORLD, &size), "MPI_Comm_size");
    rank_ = static_cast<unsigned>(rank);
    size_ = static_cast<unsigned>(size);
  }
  unsigned rank() const override { return rank_; }
  unsigned size() const override { return size_; }

  // The binary tree of core/communicator.hpp (tree_sum) as messages: at each step a rank that is
  // a multiple of 2 step receives its right neighbour's partial sum and adds it on the right; the
  // neighbour, having sent, is done; rank 0 then sends the sum to every rank. The same bits
  // everywhere, in log2(R) rounds towards rank 0 instead of R - 1 messages into it.
  void sum_in_rank_order(double* data, std::size_t n) const override {
    for (std::size_t at = 0; at < n; at += kPiece) {
      const int count = static_cast<int>(std::min(kPiece, n - at));
      received_.resize(static_cast<std::size_t>(count));
      for (unsigned step = 1; step < size_; step *= 2) {
        if (rank_ % (2 * step) == 0) {
          if (rank_ + step < size_) {
            check(MPI_Recv(received_.data(), count, MPI_DOUBLE, static_cast<int>(rank_ + step),
                           kTagSum, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
                  "MPI_Recv");
            for (int i = 0; i < count; ++i)
              data[at + static_cast<std::size_t>(i)] += received_[static_cast<std::size_t>(i)];
          }
        } else {
          check(MPI_Send(data + at, count, MPI_DOUBLE, static_cast<int>(rank_ - step), kTagSum,
                         MPI_COMM_WORLD),
                "MPI_Send");
          break;  // this rank's part is in its left neighbour's sum now
        }
      }
      check(MPI_Bcast(data + at, count, MPI_DOUBLE, 0, MPI_COMM_WORLD), "MPI_Bcast");
    }
  }

  bool broadcast_flag(bool value) const override {
    int flag = value ? 1 : 0;
    check(MPI_Bcast(&flag, 1, MPI_INT, 0, MPI_COMM_WORLD), "MPI_Bcast");
    return flag != 0;
  }

  void agree(const std::string& error) const override {
    // The lowest failing rank (size when none failed) sends its message to every rank.
    int mine = error.empty() ? static_cast<int>(size_) : static_cast<int>(rank_);
    int first = 0;
    check(MPI_Allreduce(&mine, &first, 1, MPI_INT, MPI_MIN, MPI_COMM_WORLD), "MPI_Allreduce");
    if (first == static_cast<int>(size_)) return;
    int length = first == static_cast<int>(rank_)
                     ? static_cast<int>(std::min<std::size_t>(error.size(), 4096))
                     : 0;
    check(MPI_Bcast(&length, 1, MPI_INT, first, MPI_COMM_WORLD), "MPI_Bcast");
    std::string message(static_cast<std::size_t>(length), ' ');
    if (first == static_cast<int>(rank_)) message = error.substr(0, message.size());
    check(MPI_Bcast(message.data(), length, MPI_CHAR, first, MPI_COMM_WORLD), "MPI_Bcast");
    user_error(message);
  }

 private:
  unsigned rank_ = 0, size_ = 1;
  mutable std::vector<double> received_;  // a neighbour's partial sum, kept between calls
};

std::unique_ptr<MpiCommunicator> g_communicator;

// The launcher ends the whole job with SIGTERM when one rank fails or is killed: the ranks it
// stops say so in one line instead of vanishing silently (write(2) and _exit: async-signal-safe).
extern "C" void on_job_stopped(int) {
  static const char line[] =
      "seqlab: error: the MPI job was stopped (another rank failed or was killed; the launcher's "
      "message names it)\n";
  (void)!::write(STDERR_FILENO, line, sizeof line - 1);
  ::_exit(1);
}
#endif

}  // namespace

void start_mpi() {
  const unsigned ranks = launched_ranks();
  if (ranks < 2) return;
#ifdef SEQLAB_WITH_MPI
  check(MPI_Init(nullptr, nullptr), "MPI_Init");
  // Errors come back as codes (check() words them) instead of aborting the job silently.
  MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  g_communicator = std::make_unique<MpiCommunicator>();
  std::signal(SIGTERM, on_job_stopped);
#else
  user_error("started as one of " + std::to_string(ranks) +
             " MPI ranks, but this seqlab was built without MPI (install libopenmpi-dev and "
             "configure with meson -Dmpi=enabled), or run it without mpirun");
#endif
}

void stop_mpi(int status) {
#ifdef SEQLAB_WITH_MPI
  if (g_communicator && status == 0) {
    g_communicator.reset();
    MPI_Finalize();
  }
#else
  (void)status;
#endif
}

const Communicator* mpi_communicator() {
#ifdef SEQLAB_WITH_MPI
  return g_communicator.get();
#else
  return nullptr;
#endif
}

unsigned mpi_rank() {
  const Communicator* c = mpi_communicator();
  return c != nullptr ? c->rank() : 0;
}

unsigned mpi_size() {
  const Communicator* c = mpi_communicator();
  return c != nullptr ? c->size() : 1;
}

#ifdef SEQLAB_WITH_MPI
namespace {
constexpr int kTagRequest = 7101, kTagAnswer = 7102;
}

std::optional<RunRequest> poll_run_request() {
  int waiting = 0;
  MPI_Status status;
  check(MPI_Iprobe(MPI_ANY_SOURCE, kTagRequest, MPI_COMM_WORLD, &waiting, &status), "MPI_Iprobe");
  if (!waiting) return std::nullopt;
  long long message[2] = {-1, 0};
  check(MPI_Recv(message, 2, MPI_LONG_LONG, status.MPI_SOURCE, kTagRequest, MPI_COMM_WORLD,
                 MPI_STATUS_IGNORE),
        "MPI_Recv");
  RunRequest r;
  r.rank = static_cast<unsigned>(status.MPI_SOURCE);
  r.finished_run = message[0];
  r.exit_status = static_cast<int>(message[1]);
  return r;
}

void answer_run_request(unsigned rank, long long run) {
  check(MPI_Send(&run, 1, MPI_LONG_LONG, static_cast<int>(rank), kTagAnswer, MPI_COMM_WORLD),
        "MPI_Send");
}

long long request_run(long long finished_run, int exit_status) {
  long long message[2] = {finished_run, exit_status};
  check(MPI_Send(message, 2, MPI_LONG_LONG, 0, kTagRequest, MPI_COMM_WORLD), "MPI_Send");
  long long run = -1;
  check(MPI_Recv(&run, 1, MPI_LONG_LONG, 0, kTagAnswer, MPI_COMM_WORLD, MPI_STATUS_IGNORE),
        "MPI_Recv");
  return run;
}
#else
std::optional<RunRequest> poll_run_request() { return std::nullopt; }
void answer_run_request(unsigned, long long) {}
long long request_run(long long, int) { return -1; }
#endif

std::vector<std::string> environment_without_mpi() {
  std::vector<std::string> env;
  for (char** e = environ; *e != nullptr; ++e) {
    const std::string entry = *e;
    if (entry.rfind("OMPI_", 0) == 0 || entry.rfind("PMIX_", 0) == 0 ||
        entry.rfind("PMI_", 0) == 0 || entry.rfind("OPAL_", 0) == 0)
      continue;
    env.push_back(entry);
  }
  return env;
}

}  // namespace seqlab::cli
