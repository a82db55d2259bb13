// tools/seqlab/cmd_hopfield.cpp: Hopfield networks on the command line (cmd_hopfield.hpp):
// storing a split (`seqlab train --model hopfield`), recall scores (`seqlab eval`), individual
// cues with their grids and energies (`seqlab recall`), and the capacity experiment with its
// table and figure (`seqlab capacity`). None of them prints a likelihood: there is none.
#include "cmd_hopfield.hpp"

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <limits>

#include "commands.hpp"
#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/memory.hpp"
#include "seqlab/core/parallel.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/report/figures.hpp"

namespace seqlab::cli {
namespace {

using energy::HopfieldMemory;
using energy::MemoryKind;

constexpr const char* kNoLikelihood =
    "a Hopfield network defines no likelihood (no nats or bits): it is scored by recall";
// The threshold of "recalled", as in the capacity experiment.
constexpr double kThreshold = 0.95;
// The Hebbian network's capacity for N -> infinity (Amit, Gutfreund and Sompolinsky 1985).
constexpr double kAlphaC = 0.138;

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

std::string data_words(const SequenceDataset& dataset, const std::string& split) {
  return "dataset '" + dataset.name + "' [" + split + "]";
}

// "Hopfield network (memory patterns, rule pinv, 64 units, 40 patterns stored, load 0.625)"
std::string model_words(const HopfieldMemory& m) {
  const bool patterns = m.memory() == MemoryKind::patterns;
  return "Hopfield network (memory " + energy::memory_kind_name(m.memory()) + ", rule " +
         m.rule_name() + ", " + with_commas(m.units()) + " units, " +
         with_commas(m.stored_count()) + (patterns ? " patterns" : " transitions") +
         " stored, load " + fmt("%.4g", m.load()) + ")";
}

// "6 of 64 units flipped (10 %)"
std::string flip_words(arma::uword flipped, arma::uword units, double fraction) {
  return std::to_string(flipped) + " of " + std::to_string(units) + " units flipped (" +
         fmt("%.3g", 100.0 * fraction) + " %)";
}

void require_fits(const std::string& command, const std::string& model_path,
                  const HopfieldMemory& m, const SequenceDataset& dataset) {
  if (dataset.kind != SequenceKind::binary_frames)
    user_error(command + ": model " + model_path +
               " is a Hopfield network of binary frames, but dataset '" + dataset.name +
               "' holds " + to_string(dataset.kind));
  if (dataset.dimension != m.units())
    user_error(command + ": model " + model_path + " has " + std::to_string(m.units()) +
               " units, but dataset '" + dataset.name + "' has frames of " +
               std::to_string(dataset.dimension) + " rows");
}

void require_flip_fraction(const std::string& command, double f) {
  if (!(f >= 0.0 && f <= 1.0))
    user_error(command + ": --flip must be a fraction of the units in [0, 1], got " + fmt("%g", f));
}

// The split's sequences as spins, one N x T matrix each.
std::vector<arma::mat> sequences_as_spins(const SequenceSet& set, const std::string& what) {
  std::vector<arma::mat> out;
  out.reserve(set.frames.size());
  for (std::size_t i = 0; i < set.frames.size(); ++i) {
    try {
      out.push_back(energy::binary_to_spins(set.frames[i]));
    } catch (const UserError& e) {
      user_error(what + ", sequence " + std::to_string(i) + ": " + e.what());
    }
  }
  return out;
}

void print_recall(const std::string& cues, const energy::RecallScores& s, arma::uword units,
                  double flip, std::uint64_t seed) {
  std::printf("%-16s %s as cues, each with %s, seed %llu\n", "cues", cues.c_str(),
              flip_words(s.flipped_units, units, flip).c_str(),
              static_cast<unsigned long long>(seed));
  std::printf("%-16s %.6f (of each noisy cue with its target, before recall)\n", "cue overlap",
              s.cue_overlap);
  std::printf("%-16s %.6f (of the fixed point reached with the target)\n", "mean overlap",
              s.mean_overlap);
  std::printf("%-16s %.6f (fraction with a final overlap >= %.2f)\n", "recalled",
              s.fraction_recalled, kThreshold);
  std::printf(
      "%-16s %.6f (fraction whose final state is nearest the stored pattern nearest "
      "its target)\n",
      "nearest memory", s.fraction_nearest);
  std::printf("%-16s %.2f unit flips per cue in %.2f sweeps; %.6f reached a fixed point\n",
              "updates", s.mean_flips, s.mean_sweeps, s.fraction_converged);
}

void add_recall_json(JsonObject& j, const std::string& prefix, const energy::RecallScores& s,
                     double flip) {
  j.add(prefix + "cues", static_cast<std::uint64_t>(s.cues));
  j.add(prefix + "flip_fraction", flip);
  j.add(prefix + "flipped_units", static_cast<std::uint64_t>(s.flipped_units));
  j.add(prefix + "cue_overlap", s.cue_overlap);
  j.add(prefix + "mean_overlap", s.mean_overlap);
  j.add(prefix + "fraction_recalled", s.fraction_recalled);
  j.add(prefix + "fraction_nearest_memory", s.fraction_nearest);
  j.add(prefix + "mean_unit_flips", s.mean_flips);
  j.add(prefix + "mean_sweeps", s.mean_sweeps);
  j.add(prefix + "fraction_converged", s.fraction_converged);
}

void print_replay(const std::string& sequences, const energy::ReplayScores& s, arma::uword units,
                  double flip, std::uint64_t seed) {
  std::printf("%-16s %s, each replayed from its first frame with %s, seed %llu\n", "replay",
              sequences.c_str(), flip_words(s.flipped_units, units, flip).c_str(),
              static_cast<unsigned long long>(seed));
  std::printf(
      "%-16s %llu sequences of 2 or more frames (%llu of one frame skipped), %llu frames "
      "replayed after the first\n",
      "replayed", static_cast<unsigned long long>(s.sequences),
      static_cast<unsigned long long>(s.skipped), static_cast<unsigned long long>(s.frames));
  std::printf("%-16s %.6f (fraction of those frames reproduced: overlap >= %.2f)\n",
              "replay accuracy", s.fraction_reproduced, kThreshold);
  std::printf("%-16s %.6f (of each replayed state with the sequence's frame)\n", "mean overlap",
              s.mean_overlap);
  std::printf("%-16s %.6f (fraction of sequences reproduced to the end)\n", "whole sequences",
              s.fraction_sequences_whole);
}

void add_replay_json(JsonObject& j, const std::string& prefix, const energy::ReplayScores& s,
                     double flip) {
  j.add(prefix + "sequences", static_cast<std::uint64_t>(s.sequences));
  j.add(prefix + "sequences_skipped", static_cast<std::uint64_t>(s.skipped));
  j.add(prefix + "replayed_frames", static_cast<std::uint64_t>(s.frames));
  j.add(prefix + "flip_fraction", flip);
  j.add(prefix + "flipped_units", static_cast<std::uint64_t>(s.flipped_units));
  j.add(prefix + "replay_accuracy", s.fraction_reproduced);
  j.add(prefix + "mean_replay_overlap", s.mean_overlap);
  j.add(prefix + "fraction_sequences_whole", s.fraction_sequences_whole);
}

void add_model_json(JsonObject& j, const HopfieldMemory& m) {
  j.add("model", "hopfield");
  j.add("likelihood", "none");
  j.add("note", kNoLikelihood);
  j.add("memory", energy::memory_kind_name(m.memory()));
  j.add("rule", m.rule_name());
  j.add("units", static_cast<std::uint64_t>(m.units()));
  j.add("stored", static_cast<std::uint64_t>(m.stored_count()));
  j.add("load", m.load());
  j.add("parameters", static_cast<std::uint64_t>(m.num_parameters()));
}

}  // namespace

// ---- train ---------------------------------------------------------------------------------

int train_hopfield(const HopfieldTrainRequest& r) {
  const SequenceDataset& ds = *r.dataset;
  const SequenceSet& set = ds.get(r.split);
  const std::string what = "train: " + data_words(ds, r.split_name);
  if (ds.kind != SequenceKind::binary_frames)
    user_error(what + " holds " + to_string(ds.kind) +
               "; a Hopfield network stores binary frames (0/1 patterns)");
  const arma::uword n = ds.dimension;
  const long double nn = static_cast<long double>(n);
  HopfieldMemory memory;
  const auto t0 = std::chrono::steady_clock::now();
  if (r.options.memory == MemoryKind::patterns) {
    const arma::mat patterns = energy::frames_as_patterns(set, r.options.max_patterns, what);
    const long double p = static_cast<long double>(patterns.n_cols);
    // The weights (and their copy while storing), the patterns twice; the pseudo-inverse rule
    // adds the P x P Gram matrix, its pseudo-inverse and the SVD's factors.
    long double bytes = 8.0L * (3.0L * nn * nn + 2.0L * nn * p);
    if (r.options.rule == energy::HopfieldRule::pseudo_inverse) bytes += 8.0L * 4.0L * p * p;
    require_memory(bytes, "train: a Hopfield network of " + with_commas(n) + " units storing " +
                              with_commas(patterns.n_cols) + " patterns");
    if (r.options.rule == energy::HopfieldRule::pseudo_inverse && arma::rank(patterns) == n)
      user_error(what + ": its " + with_commas(patterns.n_cols) + " patterns span all " +
                 std::to_string(n) +
                 " units, so the pseudo-inverse rule would store the identity (every state a "
                 "fixed point, nothing recalled): store fewer with --max-patterns K (K < " +
                 std::to_string(n) + "), or use --rule hebbian or storkey");
    memory.store_patterns(patterns, r.options.rule);
  } else {
    arma::mat current, next;
    energy::frame_transitions(set, current, next, what);
    if (current.n_cols == 0)
      user_error(what +
                 ": every sequence has a single frame, so there is no frame-to-frame "
                 "transition for --memory sequence to store");
    const long double m = static_cast<long double>(current.n_cols);
    require_memory(8.0L * (3.0L * nn * nn + 4.0L * nn * m),
                   "train: a sequence memory of " + with_commas(n) + " units storing " +
                       with_commas(current.n_cols) + " transitions");
    memory.store_transitions(current, next, r.options.sequence_rule);
  }
  const double seconds = seconds_since(t0);
  save_hopfield_file(r.out, memory);

  // The stored split recalled from cues with 10 % of the units flipped: what "train NLL" is to
  // the sequence models.
  energy::RecallOptions ro;
  Rng rng = make_rng(r.common.seed);
  const bool patterns = memory.memory() == MemoryKind::patterns;
  energy::RecallScores recall;
  energy::ReplayScores replay;
  if (patterns)
    recall = energy::score_recall(memory.network(), memory.patterns(), memory.patterns(), ro, rng);
  else
    replay = energy::score_replay(memory.sequence_memory(), sequences_as_spins(set, what), ro, rng);
  if (!r.common.quiet) {
    std::printf("stored %s %s of %s units from %s [%s] with the %s rule in %.2f s; wrote %s\n",
                with_commas(memory.stored_count()).c_str(), patterns ? "patterns" : "transitions",
                with_commas(n).c_str(), ds.name.c_str(), r.split_name.c_str(),
                memory.rule_name().c_str(), seconds, r.out.c_str());
    std::printf("%-16s %s\n", "model", model_words(memory).c_str());
    std::printf("%-16s %s; 'seqlab eval' scores it on a split\n", "likelihood", kNoLikelihood);
    if (patterns && memory.network().rule() == energy::HopfieldRule::hebbian &&
        memory.load() > kAlphaC)
      std::printf(
          "%-16s load %.4g is above the Hebbian capacity (about %.3g patterns per unit): "
          "expect poor recall\n",
          "note", memory.load(), kAlphaC);
    if (patterns)
      print_recall("the " + with_commas(memory.stored_count()) + " stored patterns", recall, n,
                   ro.flip_fraction, r.common.seed);
    else
      print_replay("the stored split's sequences", replay, n, ro.flip_fraction, r.common.seed);
  }
  if (r.common.json) {
    JsonObject j;
    add_model_json(j, memory);
    j.add("file", r.out);
    j.add("data", ds.name);
    j.add("split", r.split_name);
    j.add("seconds", seconds);
    if (patterns)
      add_recall_json(j, "train_", recall, ro.flip_fraction);
    else
      add_replay_json(j, "train_", replay, ro.flip_fraction);
    std::cout << j.str() << std::endl;
  }
  return 0;
}

// ---- eval ----------------------------------------------------------------------------------

int eval_hopfield(const HopfieldMemory& memory, const std::string& model_path,
                  const SequenceDataset& dataset, const SequenceSet& set,
                  const std::string& split_name, double flip_fraction,
                  const CommonOptions& common) {
  require_fits("eval", model_path, memory, dataset);
  require_flip_fraction("eval", flip_fraction);
  const std::string what = "eval: " + data_words(dataset, split_name);
  energy::RecallOptions ro;
  ro.flip_fraction = flip_fraction;
  Rng rng = make_rng(common.seed);
  const bool patterns = memory.memory() == MemoryKind::patterns;
  energy::RecallScores recall;
  energy::ReplayScores replay;
  if (patterns) {
    const arma::mat targets = energy::frames_as_patterns(set, 0, what);
    recall = energy::score_recall(memory.network(), memory.patterns(), targets, ro, rng);
  } else {
    replay = energy::score_replay(memory.sequence_memory(), sequences_as_spins(set, what), ro, rng);
  }
  if (!common.quiet || !common.json) {
    std::printf("%-16s %s (%s)\n", "model", model_path.c_str(), model_words(memory).c_str());
    std::printf("%-16s %s [%s]\n", "data", dataset.name.c_str(), split_name.c_str());
    std::printf("%-16s none: %s\n", "likelihood", kNoLikelihood);
    if (patterns)
      print_recall("the split's " + with_commas(recall.cues) + " frames", recall, memory.units(),
                   flip_fraction, common.seed);
    else
      print_replay("the split's " + with_commas(set.size()) + " sequences", replay, memory.units(),
                   flip_fraction, common.seed);
  }
  if (common.json) {
    JsonObject j;
    add_model_json(j, memory);
    j.add("file", model_path);
    j.add("data", dataset.name);
    j.add("split", split_name);
    if (patterns)
      add_recall_json(j, "", recall, flip_fraction);
    else
      add_replay_json(j, "", replay, flip_fraction);
    std::cout << j.str() << std::endl;
  }
  return 0;
}

// ---- recall --------------------------------------------------------------------------------
namespace {

// The side of a square image of n units (n = side^2, side >= 2), else 0.
arma::uword square_side(arma::uword n) {
  auto side = static_cast<arma::uword>(std::llround(std::sqrt(static_cast<double>(n))));
  return side >= 2 && side * side == n ? side : 0;
}

// A spin vector as text: '#' for +1, '.' for -1; rows of `width` units (the whole vector when
// width is 0).
std::vector<std::string> pattern_lines(const arma::vec& x, arma::uword width) {
  const arma::uword w = width > 0 ? width : x.n_elem;
  std::vector<std::string> lines;
  for (arma::uword start = 0; start < x.n_elem; start += w) {
    std::string line;
    for (arma::uword i = start; i < std::min(start + w, x.n_elem); ++i)
      line += x[i] > 0 ? '#' : '.';
    lines.push_back(line);
  }
  return lines;
}

// Patterns side by side under their headings (square images), or one labelled line each.
void print_patterns(const std::vector<std::pair<std::string, arma::vec>>& columns) {
  const arma::uword side = square_side(columns.front().second.n_elem);
  if (side == 0) {
    for (const auto& [heading, x] : columns)
      std::printf("  %-10s %s\n", heading.c_str(), pattern_lines(x, 0).front().c_str());
    return;
  }
  const std::size_t width = std::max<std::size_t>(side, 10) + 3;
  std::string head = "  ";
  for (const auto& [heading, x] : columns) {
    (void)x;
    head += heading + std::string(width > heading.size() ? width - heading.size() : 1, ' ');
  }
  while (!head.empty() && head.back() == ' ') head.pop_back();
  std::printf("%s\n", head.c_str());
  std::vector<std::vector<std::string>> grids;
  for (const auto& [heading, x] : columns) {
    (void)heading;
    grids.push_back(pattern_lines(x, side));
  }
  for (arma::uword row = 0; row < side; ++row) {
    std::string line = "  ";
    for (const auto& g : grids) line += g[row] + std::string(width - side, ' ');
    while (!line.empty() && line.back() == ' ') line.pop_back();
    std::printf("%s\n", line.c_str());
  }
}

// Reads a cue: '#' or '1' for an active unit, '.' or '0' for an inactive one, '?' for an
// unknown one (0 in the cue: recall fills it at random); blanks and commas separate nothing and
// are skipped, so a cue may be drawn as a grid.
arma::vec read_cue_file(const std::string& path, arma::uword units) {
  require_readable_file(path, "cue file");
  std::ifstream in(path, std::ios::binary);
  std::vector<double> values;
  std::string line;
  std::size_t line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    for (std::size_t col = 0; col < line.size(); ++col) {
      const char c = line[col];
      if (c == ' ' || c == '\t' || c == ',' || c == '\r') continue;
      if (c == '#' || c == '1')
        values.push_back(1.0);
      else if (c == '.' || c == '0')
        values.push_back(-1.0);
      else if (c == '?')
        values.push_back(0.0);
      else
        input_error(path, line_no, col + 1,
                    "unexpected '" + printable(std::string(1, c)) +
                        "' in a cue: expected # or 1 (on), . or 0 (off), ? (unknown)");
    }
  }
  if (in.bad()) input_error(path, "cannot read the cue file");
  if (values.size() != units)
    input_error(path, "holds " + std::to_string(values.size()) + " units, expected " +
                          std::to_string(units) + " (one per unit of the network)");
  return arma::vec(values);
}

struct EnergyCheck {
  bool never_increases = true;
  double largest_rise = 0.0;
  arma::uword at_flip = 0;
};

// Rises of the energy trace beyond rounding (1e-9 of its scale).
EnergyCheck check_descent(const arma::vec& energy) {
  EnergyCheck c;
  const double scale = std::max(1.0, energy.n_elem ? arma::abs(energy).max() : 0.0);
  for (arma::uword k = 1; k < energy.n_elem; ++k) {
    const double rise = energy[k] - energy[k - 1];
    if (rise > c.largest_rise) {
      c.largest_rise = rise;
      c.at_flip = k;
    }
  }
  c.never_increases = c.largest_rise <= 1e-9 * scale;
  return c;
}

struct Cue {
  std::string name;  // "frame 3 of dataset 'digits' [test]", "stored pattern 2", the file
  arma::vec target;  // the clean pattern; empty for a cue file
  arma::vec cue;     // what recall starts from (spins, 0 = unknown)
  arma::uword flipped = 0;
};

int recall_patterns(const HopfieldMemory& memory, const RecallRequest& r) {
  const arma::uword n = memory.units();
  const arma::uword flips = energy::flips_for(r.flip_fraction, n);
  Rng rng = make_rng(r.common.seed);
  std::vector<Cue> cues;
  if (!r.cue_file.empty()) {
    Cue c;
    c.name = r.cue_file;
    const arma::vec given = read_cue_file(r.cue_file, n);
    c.cue = given;
    if (flips > 0) {
      // Flip among the known units only: an unknown unit has no value to flip.
      const arma::uvec known = arma::find(given != 0.0);
      const arma::uword k = std::min<arma::uword>(flips, known.n_elem);
      const arma::uvec perm = random_permutation(known.n_elem, rng);
      for (arma::uword i = 0; i < k; ++i) c.cue[known[perm[i]]] = -c.cue[known[perm[i]]];
      c.flipped = k;
    }
    cues.push_back(c);
  } else {
    const arma::mat targets =
        r.stored ? memory.patterns() : energy::frames_as_patterns(*r.set, 0, "recall: " + r.source);
    if (r.index >= targets.n_cols)
      user_error("recall: --index " + std::to_string(r.index) + " is past the last " +
                 (r.stored ? "stored pattern" : "frame") + " (" + std::to_string(targets.n_cols) +
                 " of them, numbered from 0)");
    const arma::uword last = std::min<arma::uword>(targets.n_cols, r.index + r.count);
    for (arma::uword j = r.index; j < last; ++j) {
      Cue c;
      c.name = r.stored ? "stored pattern " + std::to_string(j)
                        : "frame " + std::to_string(j) + " of " + r.source;
      c.target = targets.col(j);
      c.cue = energy::flip_units(c.target, flips, rng);
      c.flipped = flips;
      cues.push_back(c);
    }
  }

  std::vector<report::Series> traces;
  bool all_descend = true;
  std::string items = "[";
  if (!r.common.quiet || !r.common.json)
    std::printf("%-16s %s (%s)\n", "model", r.model_path.c_str(), model_words(memory).c_str());
  for (std::size_t k = 0; k < cues.size(); ++k) {
    const Cue& c = cues[k];
    const energy::TracedRecall t = energy::recall_with_energy(memory.network(), c.cue, rng);
    const arma::vec& final_state = t.result.state;
    const energy::BestOverlap reached = energy::best_overlap(final_state, memory.patterns());
    const EnergyCheck descent = check_descent(t.energy);
    all_descend = all_descend && descent.never_increases;
    const bool has_target = c.target.n_elem > 0;
    const double cue_overlap = has_target ? energy::overlap(t.start, c.target) : 0.0;
    const double final_overlap = has_target ? energy::overlap(final_state, c.target) : 0.0;
    energy::BestOverlap intended;
    if (has_target) intended = energy::best_overlap(c.target, memory.patterns());
    if (!r.common.quiet || !r.common.json) {
      std::printf("\ncue %zu of %zu: %s, %s\n", k + 1, cues.size(), c.name.c_str(),
                  flip_words(c.flipped, n, static_cast<double>(c.flipped) / static_cast<double>(n))
                      .c_str());
      std::vector<std::pair<std::string, arma::vec>> columns;
      if (has_target) columns.emplace_back(r.stored ? "stored" : "frame", c.target);
      columns.emplace_back("cue", t.start);
      columns.emplace_back("recalled", final_state);
      columns.emplace_back("nearest", memory.patterns().col(reached.index));
      print_patterns(columns);
      if (has_target)
        std::printf("%-24s %.4f (cue) -> %.4f (recalled: %s)\n", "overlap with the target",
                    cue_overlap, final_overlap, final_overlap >= kThreshold ? "yes" : "no");
      std::printf("%-24s %llu, overlap %.4f%s\n", "nearest stored pattern",
                  static_cast<unsigned long long>(reached.index), reached.overlap,
                  has_target
                      ? (" (the target's nearest: " + std::to_string(intended.index) + ")").c_str()
                      : "");
      std::printf("%-24s %llu unit flips in %llu sweeps, %s\n", "updates",
                  static_cast<unsigned long long>(t.result.flips),
                  static_cast<unsigned long long>(t.result.sweeps),
                  t.result.converged ? "a fixed point" : "no fixed point within 100 sweeps");
      if (descent.never_increases)
        std::printf("%-24s %.6g -> %.6g, never increasing\n", "energy", t.energy.front(),
                    t.energy.back());
      else
        std::printf("%-24s %.6g -> %.6g, INCREASED by %.3g at flip %llu\n", "energy",
                    t.energy.front(), t.energy.back(), descent.largest_rise,
                    static_cast<unsigned long long>(descent.at_flip));
    }
    report::Series s;
    s.label = c.name.size() > 40 ? c.name.substr(0, 40) : c.name;
    for (arma::uword i = 0; i < t.energy.n_elem; ++i) {
      s.x.push_back(static_cast<double>(i));
      s.y.push_back(t.energy[i]);
    }
    traces.push_back(std::move(s));
    JsonObject item;
    item.add("cue", c.name);
    item.add("flipped_units", static_cast<std::uint64_t>(c.flipped));
    if (has_target) {
      item.add("cue_overlap", cue_overlap);
      item.add("overlap", final_overlap);
      item.add("recalled", static_cast<std::uint64_t>(final_overlap >= kThreshold ? 1 : 0));
      item.add("intended_pattern", static_cast<std::uint64_t>(intended.index));
    }
    item.add("nearest_pattern", static_cast<std::uint64_t>(reached.index));
    item.add("nearest_overlap", reached.overlap);
    item.add("unit_flips", static_cast<std::uint64_t>(t.result.flips));
    item.add("sweeps", static_cast<std::uint64_t>(t.result.sweeps));
    item.add("converged", static_cast<std::uint64_t>(t.result.converged ? 1 : 0));
    item.add("energy_start", t.energy.front());
    item.add("energy_end", t.energy.back());
    item.add("energy_never_increases", static_cast<std::uint64_t>(descent.never_increases ? 1 : 0));
    items += (k ? ", " : "") + item.str();
  }
  if (!r.plot.empty()) {
    const std::string subtitle =
        std::to_string(n) + " units, rule " + memory.rule_name() + "; each step one unit flip; " +
        (all_descend ? "the energy never increases" : "the energy INCREASED somewhere");
    report::draw_energy_figure(traces, subtitle, r.plot);
    if (!r.common.quiet) std::printf("\nwrote the energy figure %s\n", r.plot.c_str());
  }
  if (r.common.json) {
    JsonObject j;
    add_model_json(j, memory);
    j.add("file", r.model_path);
    j.add_raw("cues", items + "]");
    std::cout << j.str() << std::endl;
  }
  return 0;
}

int replay_sequences(const HopfieldMemory& memory, const RecallRequest& r) {
  const arma::uword n = memory.units();
  const arma::uword flips = energy::flips_for(r.flip_fraction, n);
  Rng rng = make_rng(r.common.seed);
  struct Shown {
    std::string name;
    arma::mat frames;  // the true frames; one column (the cue) for a cue file
    arma::vec first;   // what replay starts from
  };
  std::vector<Shown> shown;
  if (!r.cue_file.empty()) {
    const arma::vec given = read_cue_file(r.cue_file, n);
    if (arma::any(given == 0.0))
      input_error(r.cue_file,
                  "has unknown units ('?'): a sequence memory replays from a whole "
                  "frame");
    shown.push_back({r.cue_file, arma::mat(given), energy::flip_units(given, flips, rng)});
  } else {
    const std::vector<arma::mat> sequences = sequences_as_spins(*r.set, "recall: " + r.source);
    if (r.index >= sequences.size())
      user_error("recall: --index " + std::to_string(r.index) + " is past the last sequence (" +
                 std::to_string(sequences.size()) + " of them, numbered from 0)");
    const std::size_t last = std::min<std::size_t>(sequences.size(), r.index + r.count);
    for (std::size_t i = r.index; i < last; ++i)
      shown.push_back({"sequence " + std::to_string(i) + " of " + r.source, sequences[i],
                       energy::flip_units(sequences[i].col(0), flips, rng)});
  }
  std::string items = "[";
  if (!r.common.quiet || !r.common.json)
    std::printf("%-16s %s (%s)\n", "model", r.model_path.c_str(), model_words(memory).c_str());
  for (std::size_t k = 0; k < shown.size(); ++k) {
    const Shown& s = shown[k];
    const bool from_file = !r.cue_file.empty();
    const arma::uword steps = from_file ? r.steps : s.frames.n_cols - 1;
    const arma::mat states = memory.sequence_memory().replay(s.first, steps);
    std::string overlaps = "[";
    if (!r.common.quiet || !r.common.json) {
      std::printf("\n%s: replayed from its first frame with %s\n", s.name.c_str(),
                  flip_words(flips, n, r.flip_fraction).c_str());
      std::printf("  %4s  %-8s %s\n", "t", from_file ? "" : "overlap", "replayed state (# = on)");
    }
    for (arma::uword t = 0; t <= steps; ++t) {
      const bool known = t < s.frames.n_cols && !(from_file && t > 0);
      const double m = known ? energy::overlap(states.col(t), s.frames.col(t)) : 0.0;
      if (known) overlaps += (t ? ", " : "") + json_number(m);
      if (!r.common.quiet || !r.common.json)
        std::printf("  %4llu  %-8s %s\n", static_cast<unsigned long long>(t),
                    known ? fmt("%.4f", m).c_str() : "",
                    pattern_lines(states.col(t), 0).front().c_str());
    }
    JsonObject item;
    item.add("sequence", s.name);
    item.add("replayed_frames", static_cast<std::uint64_t>(steps));
    item.add_raw("overlaps", overlaps + "]");
    items += (k ? ", " : "") + item.str();
  }
  if (r.common.json) {
    JsonObject j;
    add_model_json(j, memory);
    j.add("file", r.model_path);
    j.add_raw("sequences", items + "]");
    std::cout << j.str() << std::endl;
  }
  return 0;
}

}  // namespace

int recall_hopfield(const HopfieldMemory& memory, const RecallRequest& r) {
  if (r.dataset != nullptr) require_fits("recall", r.model_path, memory, *r.dataset);
  if (memory.memory() == MemoryKind::sequence) {
    if (!r.plot.empty())
      user_error(
          "recall: --plot draws the energy of recall, and a sequence memory (asymmetric "
          "weights) has no energy function");
    if (r.stored)
      user_error(
          "recall: --stored shows stored patterns; a sequence memory keeps only its "
          "weights: give --data (the split's sequences) or --cue FILE");
    return replay_sequences(memory, r);
  }
  return recall_patterns(memory, r);
}

// ---- capacity ------------------------------------------------------------------------------
namespace {

// "0.02:0.40:20" (20 loads from 0.02 to 0.40, ends included) or "0.05,0.1,0.2".
std::vector<double> parse_loads(const std::string& text) {
  const std::string usage =
      "capacity: --loads must be FROM:TO:COUNT (e.g. 0.02:0.40:20) or a comma-separated list of "
      "loads in (0, 16], got '" +
      printable(text) + "'";
  const auto number = [&](const std::string& item) {
    char* end = nullptr;
    const double v = std::strtod(item.c_str(), &end);
    if (item.empty() || end != item.c_str() + item.size() || !std::isfinite(v)) user_error(usage);
    return v;
  };
  std::vector<double> loads;
  if (text.find(':') != std::string::npos) {
    const auto a = text.find(':');
    const auto b = text.find(':', a + 1);
    if (b == std::string::npos || text.find(':', b + 1) != std::string::npos) user_error(usage);
    const double from = number(text.substr(0, a));
    const double to = number(text.substr(a + 1, b - a - 1));
    const std::string count_text = text.substr(b + 1);
    const double count = number(count_text);
    if (!(count >= 1 && count <= 10000 && count == std::floor(count)) || !(to >= from))
      user_error(usage);
    const auto k = static_cast<std::size_t>(count);
    if (k == 1 && to != from) user_error(usage);
    for (std::size_t i = 0; i < k; ++i)
      loads.push_back(
          k == 1 ? from : from + (to - from) * static_cast<double>(i) / static_cast<double>(k - 1));
  } else {
    std::size_t start = 0;
    while (true) {
      const auto comma = text.find(',', start);
      loads.push_back(number(text.substr(start, comma - start)));
      if (comma == std::string::npos) break;
      start = comma + 1;
    }
  }
  for (const double a : loads)
    if (!(a > 0.0 && a <= 16.0)) user_error(usage);
  return loads;
}

// The classical rules of a --rules list, in its order; `modern` set when it names the modern
// network (whose rows come after the classical ones, wherever it is named).
std::vector<energy::HopfieldRule> parse_rules(const std::string& text, bool& modern) {
  std::vector<energy::HopfieldRule> rules;
  modern = false;
  std::size_t start = 0;
  while (true) {
    const auto comma = text.find(',', start);
    const std::string name = text.substr(start, comma - start);
    energy::HopfieldRule rule = energy::HopfieldRule::hebbian;
    if (name == "modern") {
      if (modern) user_error("capacity: --rules names modern twice");
      modern = true;
      if (comma == std::string::npos) break;
      start = comma + 1;
      continue;
    }
    if (name == "hebbian")
      rule = energy::HopfieldRule::hebbian;
    else if (name == "storkey")
      rule = energy::HopfieldRule::storkey;
    else if (name == "pinv" || name == "pseudo_inverse")
      rule = energy::HopfieldRule::pseudo_inverse;
    else
      user_error("capacity: --rules: unknown rule '" + printable(name) +
                 "', expected a comma-separated list of hebbian, storkey, pinv and modern");
    if (std::find(rules.begin(), rules.end(), rule) != rules.end())
      user_error("capacity: --rules names " + name + " twice");
    rules.push_back(rule);
    if (comma == std::string::npos) break;
    start = comma + 1;
  }
  return rules;
}

// "pseudo_inverse" -> "pinv", as the command line names it.
std::string short_rule_name(const std::string& library_name) {
  return library_name == "pseudo_inverse" ? "pinv" : library_name;
}

}  // namespace

int capacity_command(const std::vector<std::string>& args) {
  const std::string cmd = "capacity";
  CommonOptions common;
  std::int64_t units = 500, seeds = 10, max_sweeps = 100;
  std::string loads_text = "0.02:0.40:20", rules_text = "hebbian,storkey,pinv,modern", out, plot;
  double flip = 0.1, beta = 1.0;
  po::options_description desc("Options");
  desc.add_options()
    ("units", po::value(&units)->default_value(500)->value_name("N"), "units of each network")
    ("loads", po::value(&loads_text)->default_value(loads_text)->value_name("FROM:TO:COUNT"),
     "loads alpha = P/N to test: COUNT evenly spaced from FROM to TO (ends included), or a "
     "comma-separated list; each in (0, 16], P = round(alpha N) random patterns")
    ("rules", po::value(&rules_text)->default_value(rules_text)->value_name("LIST"),
     "learning rules, comma-separated: hebbian, storkey, pinv (classical networks, "
     "asynchronous recall), modern (a modern continuous Hopfield network: ONE update "
     "x = X softmax(beta X' cue) over the stored patterns X, no settling)")
    ("beta", po::value(&beta)->default_value(1.0, "1")->value_name("B"),
     "inverse temperature of the modern network's update, > 0")
    ("seeds", po::value(&seeds)->default_value(10)->value_name("K"),
     "trials per rule and load: seeds S .. S+K-1 (S = --seed), each with its own patterns and "
     "cues, shared by the rules")
    ("flip", po::value(&flip)->default_value(0.1, "0.1")->value_name("F"),
     "fraction of each cue's units flipped (the cue is its stored pattern with round(F N) "
     "distinct units flipped); recalled when the final overlap is >= 0.95")
    ("max-sweeps", po::value(&max_sweeps)->default_value(100)->value_name("S"),
     "asynchronous sweeps per recall at most")
    ("out,o", po::value(&out)->value_name("FILE.h5"),
     "the table, one row per rule, load and seed (HDF5; docs/formats.md)")
    ("plot", po::value(&plot)->value_name("FILE.png|svg|pdf"),
     "also draw the capacity curve (gnuplot): fraction recalled against alpha, one line per "
     "rule with its min..max band over seeds, alpha_c = 0.138 marked");
  add_common_options(desc, common, kJson | kSeed | kThreads);
  po::variables_map vm;
  if (!parse_command_line(cmd,
                          "--out FILE.h5 [--units 500] [--loads 0.02:0.40:20] "
                          "[--rules hebbian,storkey,pinv,modern] [--seeds 10] [--flip 0.1] "
                          "[--plot FILE.png]",
                          args, desc, nullptr, vm))
    return 0;
  require_option(cmd, vm, "out");
  if (units < 1 || units > 100000)
    user_error("capacity: --units must be between 1 and 100000, got " + std::to_string(units));
  if (seeds < 1 || seeds > 100000)
    user_error("capacity: --seeds must be between 1 and 100000, got " + std::to_string(seeds));
  if (max_sweeps < 1 || max_sweeps > 1000000)
    user_error("capacity: --max-sweeps must be between 1 and 1000000, got " +
               std::to_string(max_sweeps));
  require_flip_fraction(cmd, flip);
  energy::CapacityOptions o;
  o.units = static_cast<arma::uword>(units);
  o.loads = parse_loads(loads_text);
  bool modern = false;
  o.rules = parse_rules(rules_text, modern);
  if (!(std::isfinite(beta) && beta > 0.0 && beta <= 1e6))
    user_error("capacity: --beta must be > 0 and at most 1e6, got " + fmt("%g", beta));
  if (modern) o.modern_beta = beta;
  o.flip_fraction = flip;
  o.threshold = kThreshold;
  o.max_sweeps = static_cast<arma::uword>(max_sweeps);
  if (common.seed > std::numeric_limits<std::uint64_t>::max() - static_cast<std::uint64_t>(seeds))
    user_error("capacity: --seed plus --seeds passes the largest seed");
  o.seeds.clear();
  for (std::int64_t k = 0; k < seeds; ++k)
    o.seeds.push_back(common.seed + static_cast<std::uint64_t>(k));
  // Before any work: where the results go, and gnuplot for the figure.
  require_output_path(out);
  if (!plot.empty()) {
    (void)report::figure_format_of(plot, "capacity: --plot");
    require_output_path(plot);
    if (std::filesystem::absolute(plot).lexically_normal() ==
        std::filesystem::absolute(out).lexically_normal())
      user_error("capacity: --plot and --out name the same file, " + out);
    report::require_gnuplot();
  }
  const long double n = static_cast<long double>(o.units);
  const long double p_max = std::max(
      1.0L,
      std::round(static_cast<long double>(*std::max_element(o.loads.begin(), o.loads.end())) * n));
  const long double per_thread = 8.0L * (3.0L * n * n + 4.0L * n * p_max + 4.0L * p_max * p_max);
  require_memory(
      per_thread * static_cast<long double>(std::min<std::int64_t>(common.threads, seeds)),
      "capacity: networks of " + with_commas(o.units) + " units");

  // One unit of work per seed: a seed's trials depend on the seed only, so the merged table is
  // the one a single call with every seed gives, whatever the number of threads.
  const auto t0 = std::chrono::steady_clock::now();
  std::vector<energy::CapacityTable> parts(o.seeds.size());
  run_units(o.seeds.size(), common.threads, [&](std::size_t unit, unsigned) {
    energy::CapacityOptions one = o;
    one.seeds = {o.seeds[unit]};
    parts[unit] = energy::run_capacity_experiment(one);
  });
  const double seconds = seconds_since(t0);
  energy::CapacityTable table;
  const std::size_t n_loads = o.loads.size();
  // Table rows per seed: the classical rules, then the modern network.
  const std::size_t n_rules = o.rules.size() + (modern ? 1 : 0);
  for (std::size_t ri = 0; ri < n_rules; ++ri)
    for (std::size_t l = 0; l < n_loads; ++l)
      for (const energy::CapacityTable& part : parts) {
        const std::size_t row = ri * n_loads + l;  // one seed per part
        table.rule.push_back(part.rule[row]);
        table.alpha.push_back(part.alpha[row]);
        table.seed.push_back(part.seed[row]);
        table.patterns.push_back(part.patterns[row]);
        table.fraction_recalled.push_back(part.fraction_recalled[row]);
        table.mean_overlap.push_back(part.mean_overlap[row]);
      }
  energy::write_capacity_table(out, table, o);

  // Means over seeds (and the range of the fraction recalled) per rule and load.
  const std::size_t k = o.seeds.size();
  struct Cell {
    double recalled = 0, low = 1, high = 0, overlap = 0;
  };
  std::vector<std::vector<Cell>> cells(n_rules, std::vector<Cell>(n_loads));
  for (std::size_t i = 0; i < table.size(); ++i) {
    const std::size_t ri = i / (n_loads * k), l = (i / k) % n_loads;
    Cell& c = cells[ri][l];
    c.recalled += table.fraction_recalled[i] / static_cast<double>(k);
    c.overlap += table.mean_overlap[i] / static_cast<double>(k);
    c.low = std::min(c.low, table.fraction_recalled[i]);
    c.high = std::max(c.high, table.fraction_recalled[i]);
  }
  std::vector<std::string> names;
  for (const auto rule : o.rules) names.push_back(short_rule_name(energy::rule_name(rule)));
  if (modern) names.push_back("modern");
  const arma::uword flipped = energy::flips_for(flip, o.units);
  if (!common.quiet || !common.json) {
    std::printf(
        "capacity of Hopfield networks of %s units: %zu loads x %zu rules x %zu seeds; "
        "cues with %s; recalled when the final overlap is >= %.2f\n",
        with_commas(o.units).c_str(), n_loads, n_rules, k,
        flip_words(flipped, o.units, flip).c_str(), kThreshold);
    std::printf(
        "means over seeds (recalled: fraction of the P cues recalled; overlap: mean final "
        "overlap)\n\n");
    std::string head = "   alpha       P", sub = "                ";
    for (const auto& name : names) {
      head += "   " + name + std::string(name.size() < 17 ? 17 - name.size() : 1, ' ');
      sub += "   recalled  overlap ";
    }
    for (std::string* line : {&head, &sub})
      while (!line->empty() && line->back() == ' ') line->pop_back();
    std::printf("%s\n%s\n", head.c_str(), sub.c_str());
    for (std::size_t l = 0; l < n_loads; ++l) {
      std::printf("%8.4f %7llu", o.loads[l],
                  static_cast<unsigned long long>(parts.front().patterns[l]));
      for (std::size_t ri = 0; ri < n_rules; ++ri)
        std::printf("   %8.4f  %7.4f%s", cells[ri][l].recalled, cells[ri][l].overlap,
                    ri + 1 < n_rules ? " " : "\n");
    }
    std::printf("\nwrote %s (%zu rows) in %.2f s of computing on %u thread%s\n", out.c_str(),
                table.size(), seconds, common.threads, common.threads == 1 ? "" : "s");
  }
  if (!plot.empty()) {
    std::vector<report::Series> series;
    for (std::size_t ri = 0; ri < n_rules; ++ri) {
      report::Series s;
      s.label = names[ri] == "modern" ? "modern, 1 update (beta " + fmt("%g", beta) + ")"
                                      : names[ri];
      for (std::size_t l = 0; l < n_loads; ++l) {
        s.x.push_back(o.loads[l]);
        s.y.push_back(cells[ri][l].recalled);
        if (k > 1) {
          s.low.push_back(cells[ri][l].low);
          s.high.push_back(cells[ri][l].high);
        }
      }
      series.push_back(std::move(s));
    }
    // The classical rules settle asynchronously; the modern network's label says its one update.
    const std::string subtitle =
        "N = " + with_commas(o.units) + ", " + fmt("%.3g", 100.0 * flip) + " % of each cue flipped; " +
        (k > 1 ? "mean of " + std::to_string(k) + " seeds, band min..max" : "one seed");
    report::draw_capacity_figure(series, kAlphaC, subtitle, plot);
    if (!common.quiet) std::printf("wrote the capacity figure %s\n", plot.c_str());
  }
  if (common.json) {
    std::string rows = "[";
    for (std::size_t ri = 0; ri < n_rules; ++ri)
      for (std::size_t l = 0; l < n_loads; ++l) {
        JsonObject row;
        row.add("rule", names[ri]);
        row.add("alpha", o.loads[l]);
        row.add("patterns", static_cast<std::uint64_t>(parts.front().patterns[l]));
        row.add("fraction_recalled", cells[ri][l].recalled);
        row.add("fraction_recalled_min", cells[ri][l].low);
        row.add("fraction_recalled_max", cells[ri][l].high);
        row.add("mean_overlap", cells[ri][l].overlap);
        rows += (ri + l ? ", " : "") + row.str();
      }
    JsonObject j;
    j.add("units", static_cast<std::uint64_t>(o.units));
    j.add("seeds", static_cast<std::uint64_t>(k));
    j.add("flip_fraction", flip);
    j.add("flipped_units", static_cast<std::uint64_t>(flipped));
    j.add("threshold", kThreshold);
    if (modern) j.add("modern_beta", beta);
    j.add("file", out);
    j.add("seconds", seconds);
    j.add("threads", static_cast<std::uint64_t>(common.threads));
    j.add_raw("rows", rows + "]");
    std::cout << j.str() << std::endl;
  }
  return 0;
}

}  // namespace seqlab::cli
