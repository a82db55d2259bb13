// tools/seqlab/mpi_session.hpp: the seqlab program as one rank of an MPI job
// (`mpirun -n R seqlab train --model hmm ...`). When the launcher started this process as one of
// several ranks, the program joins the job: `seqlab train` then shares Baum-Welch with the other
// ranks through mpi_communicator(), rank 0 alone prints and writes files, and every rank stops
// with the same one-line error when one of them fails in a shared step. Started alone (or as the
// only rank of a job), nothing changes: MPI is not even initialised. A build without MPI
// (meson -Dmpi=disabled, or no MPI found) refuses to run as one of several ranks, in one line.
#pragma once

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

}  // namespace seqlab::cli
