// seqlab/seqlab.hpp: the whole public interface in one include, for research code:
//   #include <seqlab/seqlab.hpp>
// Data (alphabets, datasets, readers, the registry, synthetic sets), every model family behind
// the SequenceModel interface (Markov chains, HMMs over symbols and frames, recurrent networks
// and sequence-level task models), model files, run files, results folders and their reports,
// and evaluate().
// Projects that care about compile time include the individual headers instead; this one costs
// what all of them cost.
#pragma once

#include "seqlab/core/error.hpp"
#include "seqlab/core/logmath.hpp"
#include "seqlab/core/memory.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/core/version.hpp"
#include "seqlab/data/alphabet.hpp"
#include "seqlab/data/batching.hpp"
#include "seqlab/data/dataset.hpp"
#include "seqlab/data/options.hpp"
#include "seqlab/data/readers.hpp"
#include "seqlab/data/registry.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/io/history.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/model_registry.hpp"
#include "seqlab/experiment/merge.hpp"
#include "seqlab/experiment/plan.hpp"
#include "seqlab/experiment/runner.hpp"
#include "seqlab/io/results_file.hpp"
#include "seqlab/models/hmm/frame_hmm.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/energy/boltzmann.hpp"
#include "seqlab/models/energy/hopfield.hpp"
#include "seqlab/models/energy/crbm.hpp"
#include "seqlab/models/energy/hopfield_memory.hpp"
#include "seqlab/models/energy/normaliser.hpp"
#include "seqlab/models/energy/rbm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "seqlab/models/rnn/task_model.hpp"
#include "seqlab/models/sequence_model.hpp"
#include "seqlab/report/aggregate.hpp"
#include "seqlab/report/figures.hpp"
#include "seqlab/report/report.hpp"
#include "seqlab/report/snapshot.hpp"
