// seqlab/models/energy/hopfield_memory.cpp: Hopfield networks as stored memories of a dataset
// split, and their model files (see the header).
#include "seqlab/models/energy/hopfield_memory.hpp"

#include <H5Cpp.h>

#include <stdexcept>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab_config.hpp"

namespace seqlab::energy {

namespace {

constexpr const char* kType = "hopfield";

void require_binary_frames(const SequenceSet& set, const std::string& what) {
  if (set.kind != SequenceKind::binary_frames)
    user_error(what + " holds " + to_string(set.kind) +
               ", expected binary frames (a Hopfield network stores 0/1 patterns)");
}

// Sequence i of the set as spins; `what` names it in messages.
arma::mat spins_of(const SequenceSet& set, std::size_t i, const std::string& what) {
  try {
    return binary_to_spins(set.frames[i]);
  } catch (const UserError& e) {
    user_error(what + ", sequence " + std::to_string(i) + ": " + e.what());
  }
}

}  // namespace

std::string memory_kind_name(MemoryKind kind) {
  return kind == MemoryKind::patterns ? "patterns" : "sequence";
}

arma::mat frames_as_patterns(const SequenceSet& set, arma::uword max_patterns,
                             const std::string& what) {
  require_binary_frames(set, what);
  arma::uword total = 0, rows = 0;
  for (const arma::mat& f : set.frames) {
    total += f.n_cols;
    if (f.n_cols > 0) rows = f.n_rows;
  }
  const arma::uword count = max_patterns > 0 ? std::min(max_patterns, total) : total;
  arma::mat out(rows, count);
  arma::uword filled = 0;
  for (std::size_t i = 0; i < set.frames.size() && filled < count; ++i) {
    if (set.frames[i].n_cols == 0) continue;
    const arma::mat spins = spins_of(set, i, what);
    const arma::uword take = std::min<arma::uword>(spins.n_cols, count - filled);
    out.cols(filled, filled + take - 1) = spins.cols(0, take - 1);
    filled += take;
  }
  return out;
}

void frame_transitions(const SequenceSet& set, arma::mat& current, arma::mat& next,
                       const std::string& what) {
  require_binary_frames(set, what);
  arma::uword total = 0, rows = 0;
  for (const arma::mat& f : set.frames)
    if (f.n_cols >= 2) {
      total += f.n_cols - 1;
      rows = f.n_rows;
    }
  current.set_size(rows, total);
  next.set_size(rows, total);
  arma::uword filled = 0;
  for (std::size_t i = 0; i < set.frames.size(); ++i) {
    const arma::uword t = set.frames[i].n_cols;
    if (t < 2) continue;
    const arma::mat spins = spins_of(set, i, what);
    current.cols(filled, filled + t - 2) = spins.cols(0, t - 2);
    next.cols(filled, filled + t - 2) = spins.cols(1, t - 1);
    filled += t - 1;
  }
}

void HopfieldMemory::store_patterns(const arma::mat& patterns, HopfieldRule rule) {
  HopfieldNetwork network;
  network.store(patterns, rule);
  network_ = std::move(network);
  patterns_ = patterns;
  sequence_ = SequenceMemory();
  transitions_ = 0;
  memory_ = MemoryKind::patterns;
}

void HopfieldMemory::store_transitions(const arma::mat& current, const arma::mat& next,
                                       SequenceRule rule) {
  SequenceMemory sequence;
  sequence.store_transitions(current, next, rule);
  sequence_ = std::move(sequence);
  transitions_ = current.n_cols;
  network_ = HopfieldNetwork();
  patterns_.reset();
  memory_ = MemoryKind::sequence;
}

arma::uword HopfieldMemory::units() const {
  return memory_ == MemoryKind::patterns ? network_.units() : sequence_.units();
}

std::string HopfieldMemory::rule_name() const {
  if (memory_ == MemoryKind::sequence)
    return sequence_.rule() == SequenceRule::temporal_hebbian ? "hebbian" : "pinv";
  switch (network_.rule()) {
    case HopfieldRule::hebbian:
      return "hebbian";
    case HopfieldRule::storkey:
      return "storkey";
    case HopfieldRule::pseudo_inverse:
      return "pinv";
    case HopfieldRule::custom:
      return "custom";
  }
  throw std::logic_error("HopfieldMemory::rule_name: unknown rule");
}

arma::uword HopfieldMemory::stored_count() const {
  return memory_ == MemoryKind::patterns ? patterns_.n_cols : transitions_;
}

double HopfieldMemory::load() const {
  return units() == 0 ? 0.0 : static_cast<double>(stored_count()) / static_cast<double>(units());
}

std::uint64_t HopfieldMemory::num_parameters() const {
  if (memory_ == MemoryKind::patterns) return network_.num_parameters();
  const std::uint64_t n = sequence_.units();
  return n * n;
}

void HopfieldMemory::save(H5::Group& group) const {
  if (units() == 0) throw std::logic_error("HopfieldMemory::save: nothing stored");
  h5::write_string_attribute(group, "memory", memory_kind_name(memory_));
  h5::write_int_attribute(group, "units", static_cast<std::int64_t>(units()));
  if (memory_ == MemoryKind::patterns) {
    H5::Group net = h5::create_group(group, "network");
    network_.save(net);
    h5::write_mat(group, "patterns", patterns_);
  } else {
    H5::Group seq = h5::create_group(group, "sequence");
    sequence_.save(seq);
    h5::write_int_attribute(group, "transitions", static_cast<std::int64_t>(transitions_));
  }
}

void HopfieldMemory::load(const H5::Group& group) {
  h5::quiet_errors();
  const std::string kind = h5::read_string_attribute(group, "memory");
  if (kind != "patterns" && kind != "sequence")
    h5::format_error(group, "memory",
                     "is '" + printable(kind) + "', expected patterns or sequence");
  const arma::uword n = h5::read_size_attribute(group, "units");
  HopfieldMemory loaded;
  if (kind == "patterns") {
    loaded.memory_ = MemoryKind::patterns;
    loaded.network_.load(h5::open_group(group, "network"));
    if (loaded.network_.units() != n)
      h5::format_error(group, "network",
                       "has " + std::to_string(loaded.network_.units()) +
                           " units, but the root attribute 'units' says " + std::to_string(n));
    if (loaded.network_.rule() == HopfieldRule::custom)
      h5::format_error(group, "network",
                       "has rule custom, expected hebbian, storkey or "
                       "pseudo_inverse (the rule that stored the patterns)");
    const arma::mat patterns = h5::read_mat(group, "patterns");
    if (patterns.n_rows != n || patterns.n_cols == 0)
      h5::format_error(group, "patterns",
                       "is " + std::to_string(patterns.n_rows) + " x " +
                           std::to_string(patterns.n_cols) + ", expected " + std::to_string(n) +
                           " x P stored patterns with P >= 1");
    for (arma::uword j = 0; j < patterns.n_cols; ++j)
      for (arma::uword i = 0; i < n; ++i)
        if (patterns(i, j) != 1.0 && patterns(i, j) != -1.0)
          h5::format_error(group, "patterns",
                           "element (" + std::to_string(i) + ", " + std::to_string(j) +
                               ") is not -1 or +1 (stored patterns are spins)");
    loaded.patterns_ = patterns;
  } else {
    loaded.memory_ = MemoryKind::sequence;
    loaded.sequence_.load(h5::open_group(group, "sequence"));
    if (loaded.sequence_.units() != n)
      h5::format_error(group, "sequence",
                       "has " + std::to_string(loaded.sequence_.units()) +
                           " units, but the root attribute 'units' says " + std::to_string(n));
    const std::int64_t transitions = h5::read_int_attribute(group, "transitions");
    if (transitions < 1)
      h5::format_error(group, "transitions",
                       "is " + std::to_string(transitions) + ", expected at least 1");
    loaded.transitions_ = static_cast<arma::uword>(transitions);
  }
  *this = std::move(loaded);
}

void save_hopfield_file(const std::filesystem::path& path, const HopfieldMemory& memory) {
  h5::write_file_atomically(path, [&](H5::Group& root) {
    h5::write_int_attribute(root, "seqlab_format", kModelFormatVersion);
    h5::write_string_attribute(root, "model", kType);
    h5::write_string_attribute(root, "created_by", std::string("seqlab ") + SEQLAB_VERSION);
    memory.save(root);
  });
}

bool is_hopfield_file(const std::filesystem::path& path) {
  std::error_code ec;
  if (!std::filesystem::is_regular_file(path, ec)) return false;
  h5::quiet_errors();
  try {
    if (!H5::H5File::isHdf5(path.string())) return false;
    H5::H5File file(path.string(), H5F_ACC_RDONLY);
    const H5::Group root = file.openGroup("/");
    return h5::has_attribute(root, "model") && h5::read_string_attribute(root, "model") == kType;
  } catch (const H5::Exception&) {
    return false;
  } catch (const UserError&) {  // an attribute of another type: not ours
    return false;
  }
}

HopfieldMemory load_hopfield_file(const std::filesystem::path& path) {
  H5::H5File file = h5::open_for_reading(path, "model file");
  try {
    const H5::Group root = file.openGroup("/");
    if (!h5::has_attribute(root, "model"))
      input_error(path, "not a seqlab model file (no 'model' attribute)");
    h5::require_format_version(path, root, "seqlab_format", kModelFormatVersion, "model file");
    const std::string type = h5::read_string_attribute(root, "model");
    if (type != kType)
      input_error(path, "is a '" + printable(type) + "' model, not a Hopfield network");
    HopfieldMemory memory;
    memory.load(root);
    return memory;
  } catch (const H5::Exception& e) {
    input_error(path, "corrupt or truncated HDF5 file (" + h5::describe(e) + ")");
  }
}

}  // namespace seqlab::energy
