// seqlab/io/history.hpp: a learning curve (TrainingHistory) as the `history/` group of a model or
// results file (docs/formats.md, "Training history").
//
// LAYOUT. Group `history` with attribute `unit` and
// one 1-D dataset per EpochRecord field, all of the same length (one element per record):
//   epoch, restart, updates            uint64
//   seconds, train_nll, valid_nll,     float64; NLLs in nats per step; NaN = not measured,
//   learning_rate, gradient_norm,      +-inf = measured and infinite (e.g. a valid NLL of +inf:
//   log_likelihood_change              a valid sequence has probability 0), stored as it is
// An empty history is a group of zero-length datasets.
// UNIT says what the NLL columns hold: "symbol" or "frame" (nats per predicted step, sequence
// models), "sequence" (label NLL in nats per sequence, classification task models) or
// "squared_error" (the mean squared error per target component, regression task models: not an
// NLL at all).
#pragma once

#include <string>

#include "seqlab/models/sequence_model.hpp"

namespace H5 {
class Group;
}

namespace seqlab {

// Requires: `parent` has no child named "history"; a unit named above.
// Ensures: the layout above under parent/history, every value as it is (NaN and infinities
//   included). Cost: O(records).
void write_history(H5::Group& parent, const TrainingHistory& history, const std::string& unit);

// True when `parent` holds a `history` group.
bool has_history(const H5::Group& parent);

// Requires nothing. Ensures: the records stored under parent/history, else a UserError naming the
//   file, the object and what was expected (a missing or mis-shaped dataset, lengths that
//   differ). `unit` (when not null) receives the group's unit attribute.
TrainingHistory read_history(const H5::Group& parent, std::string* unit = nullptr);

}  // namespace seqlab
