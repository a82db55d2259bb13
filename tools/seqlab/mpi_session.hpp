// tools/seqlab/mpi_session.hpp: the seqlab program as one rank of an MPI job
// (`mpirun -n R seqlab train --model hmm ...`). When the launcher started this process as one of
// several ranks, the program joins the job: `seqlab train` then shares Baum-Welch with the other
// ranks through mpi_communicator(), rank 0 alone prints and writes files, and every rank stops
// with the same one-line error when one of them fails in a shared step. Started alone (or as the
// only rank of a job), nothing changes: MPI is not even initialised. A build without MPI
// (meson -Dmpi=disabled, or no MPI found) refuses to run as one of several ranks, in one line.
#pragma once

#include <optional>
#include <string>
#include <vector>

namespace seqlab {
class Communicator;
}

namespace seqlab::cli {

// Requires: called once, before any command runs. Ensures: MPI initialised when this process
//   is one rank of a job of two or more (the launcher's OMPI_COMM_WORLD_SIZE or PMI_SIZE says
//   so); UserError when it is and this build has no MPI.
void start_mpi();

// Requires: the command's exit status. Ensures: MPI finalised after a success; after a failure
//   the process just exits (a rank that failed alone must not wait in MPI_Finalize for ranks
//   that wait for it: the launcher ends the job instead).
void stop_mpi(int status);

// The job's communicator when this process is one of several ranks, else null.
const Communicator* mpi_communicator();

// This process's rank (0 when alone) and the number of ranks (1 when alone).
unsigned mpi_rank();
unsigned mpi_size();

// The run queue of `mpirun -n R seqlab run EXP.toml` (cmd_run.cpp): rank 0 hands out the runs of
// the plan, longest first, to the other ranks as they ask for work, and runs its own --jobs.
// A request carries the outcome of the asker's previous run.
struct RunRequest {
  unsigned rank = 0;
  long long finished_run = -1;  // plan index of the asker's previous run, -1 for none
  int exit_status = 0;          // that run's worker exit status
};
// Rank 0. Ensures: a request waiting from another rank, without blocking; else nothing.
std::optional<RunRequest> poll_run_request();
// Rank 0. Ensures: `rank` is told to carry out run `run` (a plan index), or to stop (-1).
void answer_run_request(unsigned rank, long long run);
// Other ranks. Ensures: the outcome of the previous run sent to rank 0, and the next run
//   received (blocking): a plan index, or -1 when there is no more work.
long long request_run(long long finished_run, int exit_status);

// The environment for a process this program starts (a run's worker) without the launcher's
// variables, so that the child runs as a plain process instead of joining the MPI job.
std::vector<std::string> environment_without_mpi();

}  // namespace seqlab::cli
