// seqlab/report/snapshot.hpp: what a trained model shows of itself for the report's per-family
// figures, taken right after training (by the experiment driver) and stored in the run file.
//   HMMs (over symbols or frames): the transition matrix, and the state posteriors
//     P(state_t = i | x) over a stretch of test data;
//   recurrent networks: the top layer's hidden state at each step of the same stretch;
//   restricted Boltzmann machines: the filters, each hidden unit's weights (H x V);
//   other models: nothing.
// The stretch is the first `length` steps of the FIRST sequence of the test split (a posterior
// is defined within one sequence; a stretch never runs across a sequence boundary).
#pragma once

#include <armadillo>

#include "seqlab/data/dataset.hpp"
#include "seqlab/io/results_file.hpp"
#include "seqlab/models/sequence_model.hpp"

namespace seqlab {

// Requires: `data` encoded as the model reads it (require_model_fits passes, else its UserError).
// Ensures: into.transition / filters / posterior / activations / stretch set as described above
//   and consistent for write_run_file; all five cleared first, and left empty when the model has
//   nothing to show, when the test split has no steps, or (posterior only) when the stretch has
//   probability 0 under the model. stretch holds the symbols as text (symbol data) or the step
//   numbers 0, 1, ... (frame data). Cost: one forward-backward (HMM) or T network steps (RNN).
void take_snapshot(const SequenceModel& model, const SequenceDataset& data, RunResult& into,
                   arma::uword length = 200);

}  // namespace seqlab
