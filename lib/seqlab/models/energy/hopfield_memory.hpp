// seqlab/models/energy/hopfield_memory.hpp: a Hopfield network as the command line and model
// files see it ("hopfield" in the model registry): an associative memory of a dataset split's
// binary frames, stored either as patterns (the classical symmetric network, recalled from noisy
// cues) or as the frame-to-frame transitions of its sequences (the asymmetric sequence memory,
// replayed from a first frame). The networks themselves are hopfield.hpp.
//
// What it is not: a SequenceModel. It defines NO LIKELIHOOD (an energy without a normaliser, or no
// energy at all for the asymmetric sequence memory), so it is scored by recall (RecallScores,
// ReplayScores), never in nats; load_model() refuses its files and the experiment runner refuses
// the type.
//
// DATA. Binary frames (0/1) become spins (-1/+1, binary_to_spins). Patterns: every frame of every
// sequence of the split, in order, one column each (the first K when max_patterns = K > 0).
// Transitions: frame t -> t+1 within each sequence, never from the end of one sequence to the
// start of the next.
//
// FILE LAYOUT (the root group; docs/formats.md "Hopfield networks"): the envelope of every model
// file (seqlab_format 1, model "hopfield", created_by), attributes `memory` ("patterns" or
// "sequence") and `units` (int64 N), then
//   memory = patterns: group `network` (HopfieldNetwork::save: attributes rule, units; datasets
//                      weights N x N, bias N) and dataset `patterns` (float64 N x P, the stored
//                      spins, one pattern per column in h5py's (N, P) shape);
//   memory = sequence: group `sequence` (SequenceMemory::save: attributes rule, units; dataset
//                      weights N x N) and attribute `transitions` (int64, how many were stored).
#pragma once

#include <armadillo>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

#include "seqlab/data/dataset.hpp"
#include "seqlab/models/energy/hopfield.hpp"

namespace H5 {
class Group;
}

namespace seqlab::energy {

enum class MemoryKind { patterns, sequence };
// "patterns", "sequence".
std::string memory_kind_name(MemoryKind kind);

// What `seqlab train --model hopfield` asks for (the registry's options rule, memory and
// max-patterns).
struct HopfieldMemoryOptions {
  MemoryKind memory = MemoryKind::patterns;
  HopfieldRule rule = HopfieldRule::hebbian;  // memory = patterns: hebbian, storkey, pseudo_inverse
  SequenceRule sequence_rule = SequenceRule::temporal_hebbian;  // memory = sequence
  arma::uword max_patterns = 0;  // memory = patterns: store the first K frames only (0 = all)
};

// Requires: a set of binary frames (UserError starting with `what` otherwise). Ensures: its frames
// as N x P spins (see DATA), the first max_patterns of them when that is > 0; 0 columns for a set
// without frames. Cost O(N P).
arma::mat frames_as_patterns(const SequenceSet& set, arma::uword max_patterns,
                             const std::string& what);

// Requires: as frames_as_patterns. Ensures: current and next N x M spins, column j of `next`
// following column j of `current` within one sequence (M = 0 when no sequence has 2 frames).
void frame_transitions(const SequenceSet& set, arma::mat& current, arma::mat& next,
                       const std::string& what);

class HopfieldMemory {
 public:
  // An empty memory for load().
  HopfieldMemory() = default;

  // Requires: patterns N x P spins, P >= 1; rule not custom (UserError / invalid_argument as
  // HopfieldNetwork::store). Ensures: memory() == patterns, the network stores them, patterns()
  // keeps them. Cost: the rule's (hopfield.hpp).
  void store_patterns(const arma::mat& patterns, HopfieldRule rule);
  // Requires: current and next N x M spins of equal shape, M >= 1 (UserError). Ensures:
  // memory() == sequence, the sequence memory maps each current frame to its next one.
  void store_transitions(const arma::mat& current, const arma::mat& next, SequenceRule rule);

  MemoryKind memory() const { return memory_; }
  // N (0 when empty).
  arma::uword units() const;
  // The rule as `seqlab train --rule` names it: "hebbian", "storkey" or "pinv".
  std::string rule_name() const;
  // Patterns (memory = patterns) or transitions (memory = sequence) stored.
  arma::uword stored_count() const;
  // stored_count() / units(): the load alpha of the capacity experiment.
  double load() const;
  // memory = patterns: the stored N x P spins; empty otherwise.
  const arma::mat& patterns() const { return patterns_; }
  const HopfieldNetwork& network() const { return network_; }
  const SequenceMemory& sequence_memory() const { return sequence_; }
  // Free parameters: the network's (N (N - 1) / 2 + N) or the sequence memory's N^2.
  std::uint64_t num_parameters() const;

  // The FILE LAYOUT above, without the envelope. save requires something stored (logic_error);
  // load replaces this memory only when every check passed (UserError naming the file, the
  // object and what was expected: shapes, spins, finite weights, rules).
  void save(H5::Group& group) const;
  void load(const H5::Group& group);

 private:
  MemoryKind memory_ = MemoryKind::patterns;
  HopfieldNetwork network_;
  arma::mat patterns_;
  SequenceMemory sequence_;
  arma::uword transitions_ = 0;
};

// Requires: `path` passes require_output_path; something stored. Ensures: the model file (the
// envelope and save()), built in memory and written atomically as every model file is; a
// non-finite weight throws h5::NonFiniteValue and writes nothing.
void save_hopfield_file(const std::filesystem::path& path, const HopfieldMemory& memory);

// Requires nothing. Ensures: true when `path` is a readable HDF5 file whose root attribute
// `model` is "hopfield"; false for anything else. Never throws for a bad file.
bool is_hopfield_file(const std::filesystem::path& path);

// Requires nothing. Ensures: the memory in `path`; a missing, non-HDF5, corrupt or malformed
// file, or another model type's, is a one-line UserError naming the path.
HopfieldMemory load_hopfield_file(const std::filesystem::path& path);

}  // namespace seqlab::energy
