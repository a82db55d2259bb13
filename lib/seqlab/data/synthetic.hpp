// seqlab/data/synthetic.hpp: seeded generators of synthetic sequence data. Every generator takes
// its Rng explicitly: same seed, same build => same data.
#pragma once

#include <armadillo>
#include <string>
#include <vector>

#include "seqlab/core/rng.hpp"
#include "seqlab/data/dataset.hpp"
#include "seqlab/data/options.hpp"

namespace seqlab {

// Builds a whole named synthetic dataset (used by registry entries with `generator = ...` and by
// tests/demo). `generator` is one of synthetic_generator_names(); `options` its settings (unknown
// keys are a UserError). Train/valid/test are generated independently from derived seeds of
// `seed`, so they never share a sequence by construction.
SequenceDataset make_synthetic_dataset(const std::string& name, const std::string& generator,
                                       const Options& options, std::uint64_t seed);
std::vector<std::string> synthetic_generator_names();

}  // namespace seqlab
