// tools/seqlab/cmd_hopfield.hpp: the Hopfield-network side of `seqlab train` and `seqlab eval`
// (--model hopfield): storing an opened split and printing recall scores. cmd_model.cpp parses
// the options and opens the data; this file does the rest. `seqlab recall` and `seqlab capacity`
// (commands.hpp) live in cmd_hopfield.cpp too. Every result says that a Hopfield network defines
// no likelihood: it is scored by recall, never in nats or bits.
#pragma once

#include <armadillo>
#include <string>

#include "cli_common.hpp"
#include "seqlab/data/dataset.hpp"
#include "seqlab/models/energy/hopfield_memory.hpp"

namespace seqlab::cli {

// What `seqlab train --model hopfield` needs once the options are parsed and the data opened.
struct HopfieldTrainRequest {
  energy::HopfieldMemoryOptions options;
  const SequenceDataset* dataset = nullptr;  // the opened dataset
  Split split = Split::train;                // the split stored
  std::string split_name;                    // as the user wrote it
  std::string out;                           // model file to write
  CommonOptions common;
};

// Requires: request.dataset not null. Ensures: the split's frames (or transitions) stored,
// written atomically to request.out, and the recall of the stored split from cues with 10 % of
// the units flipped (seeded by common.seed) printed (text and/or --json); returns 0. Data that
// is not binary frames, a split without transitions for a sequence memory, or patterns that
// span every unit under the pseudo-inverse rule (which would then store the identity) are a
// one-line UserError naming the dataset, before anything is stored.
int train_hopfield(const HopfieldTrainRequest& request);

// Requires: a loaded memory and the scored split of `dataset`. Ensures: one line saying that
// the network defines no likelihood, then its recall scores on the split (the split's frames as
// targets of cues with `flip_fraction` of the units flipped, seeded by common.seed) or, for a
// sequence memory, its replay scores; text and/or --json (no nll field). Returns 0. Data of
// another kind or frame size is a one-line UserError naming the model and the dataset.
int eval_hopfield(const energy::HopfieldMemory& memory, const std::string& model_path,
                  const SequenceDataset& dataset, const SequenceSet& set,
                  const std::string& split_name, double flip_fraction, const CommonOptions& common);

// What `seqlab recall` needs once the options are parsed and the data (if any) opened. Exactly
// one source of cues: a dataset split (set), the stored patterns (stored) or a cue file.
struct RecallRequest {
  std::string model_path;
  const SequenceDataset* dataset = nullptr;  // --data: the opened dataset
  const SequenceSet* set = nullptr;          // --data: its split
  std::string source;                        // --data: "dataset 'digits' [test]"
  bool stored = false;                       // --stored
  std::string cue_file;                      // --cue
  arma::uword index = 0;                     // the first frame (sequence, stored pattern) shown
  arma::uword count = 3;                     // how many are shown
  double flip_fraction = 0.1;                // of each cue's units flipped
  arma::uword steps = 10;                    // a sequence memory with --cue: frames replayed
  std::string plot;                          // energy figure (.png, .svg, .pdf); empty: none
  CommonOptions common;
};

// Requires: a loaded memory; a request with one source of cues, its options checked (index
// within the source). Ensures: each cue's recall printed (text grids of '#' and '.' for square
// patterns, one line per pattern otherwise; overlaps, the nearest stored pattern, flips and the
// energy from the cue to the fixed point) or, for a sequence memory, its replay frame by frame;
// with --plot the energy figure of the cues shown (patterns memory only). Returns 0.
int recall_hopfield(const energy::HopfieldMemory& memory, const RecallRequest& request);

}  // namespace seqlab::cli
