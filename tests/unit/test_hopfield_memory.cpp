// tests/unit/test_hopfield_memory.cpp: what the command line builds on Hopfield networks: the
// energy traced along recall (it never rises; its ends are the energies of the start and the
// fixed point), recall and replay scores recomputed by hand from the same draws, sequence memory
// from the transitions of several sequences, HopfieldMemory and its model files, and the
// registry's handling of a type that defines no likelihood.
#include <H5Cpp.h>

#include <cmath>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/energy/hopfield_memory.hpp"
#include "seqlab/models/model_registry.hpp"
#include "seqlab/report/figures.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::energy;
using Catch::Matchers::Contains;

namespace {

arma::mat random_spins(arma::uword n, arma::uword p, Rng& rng) {
  arma::mat x(n, p);
  for (double& v : x) v = uniform01(rng) < 0.5 ? -1.0 : 1.0;
  return x;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

// Binary frames (0/1) of the given spins.
arma::mat as_binary(const arma::mat& spins) { return (spins + 1.0) / 2.0; }

SequenceSet binary_set(const std::vector<arma::mat>& spin_sequences) {
  SequenceSet set;
  set.kind = SequenceKind::binary_frames;
  for (const arma::mat& s : spin_sequences) set.frames.push_back(as_binary(s));
  return set;
}

OptionSpelling plain_spelling() {
  OptionSpelling s;
  s.name = [](const std::string& option) { return option; };
  s.fail = [](const std::string&, const std::string& message) { throw UserError(message); };
  return s;
}

}  // namespace

TEST_CASE("Hopfield memory: the energy along recall never rises and ends at the fixed point",
          "[hopfield]") {
  Rng rng = make_rng(31);
  const arma::uword n = 60;
  HopfieldNetwork net;
  const HopfieldRule rule = GENERATE(HopfieldRule::hebbian, HopfieldRule::pseudo_inverse);
  CAPTURE(rule_name(rule));
  net.store(random_spins(n, 8, rng), rule);
  for (int trial = 0; trial < 5; ++trial) {
    CAPTURE(trial);
    const arma::vec cue = random_spins(n, 1, rng);  // far from every pattern: many flips
    Rng a = make_rng(100 + trial), b = make_rng(100 + trial);
    const TracedRecall t = recall_with_energy(net, cue, a);
    const AsyncResult plain = net.recall(cue, b);
    // The same draws as recall(): the same trajectory.
    CHECK(arma::all(t.result.state == plain.state));
    CHECK(t.result.flips == plain.flips);
    CHECK(t.result.sweeps == plain.sweeps);
    REQUIRE(t.energy.n_elem == t.result.flips + 1);
    CHECK(arma::all(t.start == cue));
    CHECK_THAT(t.energy.front(), Catch::Matchers::WithinAbs(net.energy(cue), 1e-12));
    CHECK_THAT(t.energy.back(), Catch::Matchers::WithinAbs(net.energy(t.result.state), 1e-12));
    REQUIRE(t.result.flips >= 3);
    // A flip fires only on a field of the other sign, so a step lowers E by 2 |h_i| + 2 W_ii
    // (hopfield.hpp). A unit whose exact field is 0 can still flip on a field that rounding
    // left at 1e-17 (the same sum in another order), a step of E by rounding only: allowed.
    const arma::vec steps = arma::diff(t.energy);
    const double scale = arma::abs(t.energy).max();
    CAPTURE(steps.max(), scale);
    CHECK(steps.max() <= 1e-12 * scale);
    CHECK(arma::accu(steps < -1e-9) >= 3);
    CHECK(t.energy.back() < t.energy.front() - 1.0);
  }
  SECTION("a partial cue: unknown units are filled in before the first flip") {
    arma::vec cue = random_spins(n, 1, rng);
    cue.head(20).zeros();
    Rng a = make_rng(5);
    const TracedRecall t = recall_with_energy(net, cue, a);
    CHECK(arma::all(arma::abs(t.start) == 1.0));
    CHECK(arma::all(t.start.tail(n - 20) == cue.tail(n - 20)));
    CHECK_THAT(t.energy.front(), Catch::Matchers::WithinAbs(net.energy(t.start), 1e-12));
  }
  SECTION("no flip: one energy, the start's") {
    Rng c = make_rng(7);
    const AsyncResult settled = net.recall(random_spins(n, 1, rng), c);
    REQUIRE(settled.converged);
    const arma::vec fixed = settled.state;
    Rng a = make_rng(6);
    const TracedRecall t = recall_with_energy(net, fixed, a);
    CHECK(t.result.flips == 0);
    REQUIRE(t.energy.n_elem == 1);
    CHECK(arma::all(t.start == fixed));
  }
}

TEST_CASE("Hopfield memory: cues flip exactly round(f N) distinct units", "[hopfield]") {
  Rng rng = make_rng(2);
  CHECK(flips_for(0.1, 64) == 6);  // 6.4
  CHECK(flips_for(0.1, 500) == 50);
  CHECK(flips_for(0.0, 10) == 0);
  CHECK(flips_for(1.0, 10) == 10);
  CHECK_THAT(error_of([] { (void)flips_for(1.5, 10); }), Contains("not in [0, 1]"));
  CHECK_THAT(error_of([] { (void)flips_for(std::nan(""), 10); }), Contains("not in [0, 1]"));
  const arma::vec x = random_spins(40, 1, rng);
  for (const arma::uword k : {0u, 1u, 13u, 40u}) {
    const arma::vec y = flip_units(x, k, rng);
    CHECK(arma::accu(y != x) == k);
    CHECK(arma::all(arma::abs(y) == 1.0));
  }
  CHECK_THAT(error_of([&] { (void)flip_units(x, 41, rng); }), Contains("cannot flip 41 of 40"));
}

TEST_CASE("Hopfield memory: recall scores are the means of the cues' recalls", "[hopfield]") {
  Rng rng = make_rng(11);
  const arma::uword n = 100;
  RecallOptions o;
  SECTION("pseudo-inverse, 10 patterns, 10 % flipped: every stored pattern comes back") {
    const arma::mat stored = random_spins(n, 10, rng);
    HopfieldNetwork net;
    net.store(stored, HopfieldRule::pseudo_inverse);
    Rng r = make_rng(3);
    const RecallScores s = score_recall(net, stored, stored, o, r);
    CHECK(s.cues == 10);
    CHECK(s.flipped_units == 10);
    CHECK_THAT(s.cue_overlap, Catch::Matchers::WithinAbs(0.8, 1e-15));  // 1 - 2 * 10 / 100
    CHECK(s.mean_overlap == 1.0);
    CHECK(s.fraction_recalled == 1.0);
    CHECK(s.fraction_nearest == 1.0);
    CHECK(s.fraction_converged == 1.0);
    CHECK(s.mean_flips == 10.0);  // each flipped unit flips back, nothing else moves
  }
  SECTION("Hebbian beyond capacity: recomputed by hand from the same draws") {
    const arma::mat stored = random_spins(n, 30, rng);  // alpha = 0.3 >> 0.138
    const arma::mat targets = random_spins(n, 7, rng).eval();
    arma::mat cues_targets = arma::join_horiz(stored.cols(0, 4), targets);
    HopfieldNetwork net;
    net.store(stored, HopfieldRule::hebbian);
    o.flip_fraction = 0.15;
    Rng r = make_rng(9);
    const RecallScores s = score_recall(net, stored, cues_targets, o, r);
    // By hand: the same stream, cue then recall per target, in column order.
    Rng h = make_rng(9);
    double cue = 0, total = 0, recalled = 0, nearest = 0, flips = 0, sweeps = 0;
    for (arma::uword j = 0; j < cues_targets.n_cols; ++j) {
      const arma::vec target = cues_targets.col(j);
      const arma::vec c = flip_units(target, 15, h);
      const AsyncResult a = net.recall(c, h);
      cue += overlap(c, target);
      const double m = overlap(a.state, target);
      total += m;
      recalled += m >= 0.95 ? 1 : 0;
      nearest += best_overlap(a.state, stored).index == best_overlap(target, stored).index;
      flips += static_cast<double>(a.flips);
      sweeps += static_cast<double>(a.sweeps);
    }
    const double c = static_cast<double>(cues_targets.n_cols);
    CHECK(s.cues == cues_targets.n_cols);
    CHECK_THAT(s.cue_overlap, Catch::Matchers::WithinAbs(cue / c, 1e-15));
    CHECK_THAT(s.mean_overlap, Catch::Matchers::WithinAbs(total / c, 1e-15));
    CHECK(s.fraction_recalled == recalled / c);
    CHECK(s.fraction_nearest == nearest / c);
    CHECK(s.mean_flips == flips / c);
    CHECK(s.mean_sweeps == sweeps / c);
    CHECK(s.fraction_recalled < 0.5);  // far beyond capacity
  }
  SECTION("a duplicate stored pattern counts as the intended memory") {
    arma::mat stored = random_spins(n, 3, rng);
    stored = arma::join_horiz(stored, stored.col(0));  // column 3 = column 0
    HopfieldNetwork net;
    net.store(stored, HopfieldRule::pseudo_inverse);
    o.flip_fraction = 0.0;
    Rng r = make_rng(1);
    const RecallScores s = score_recall(net, stored, stored.col(3), o, r);
    CHECK(s.fraction_nearest == 1.0);  // best_overlap finds column 0 for both
    CHECK(s.mean_flips == 0.0);
    CHECK(s.mean_sweeps == 1.0);
  }
  SECTION("bad input, before any recall") {
    const arma::mat stored = random_spins(n, 3, rng);
    HopfieldNetwork net;
    net.store(stored, HopfieldRule::hebbian);
    Rng r = make_rng(1);
    RecallOptions bad = o;
    bad.flip_fraction = -0.1;
    CHECK_THAT(error_of([&] { score_recall(net, stored, stored, bad, r); }),
               Contains("flip fraction -0.1"));
    bad = o;
    bad.threshold = 1.5;
    CHECK_THAT(error_of([&] { score_recall(net, stored, stored, bad, r); }),
               Contains("threshold 1.5"));
    CHECK_THAT(
        error_of([&] { score_recall(net, stored, arma::mat(n - 1, 2, arma::fill::ones), o, r); }),
        Contains("expected 100 x C targets"));
    arma::mat halves = stored;
    halves(4, 1) = 0.5;
    CHECK_THAT(error_of([&] { score_recall(net, stored, halves, o, r); }),
               Contains("element (4, 1) is 0.5"));
  }
}

TEST_CASE("Hopfield memory: transitions of several sequences, replayed", "[hopfield]") {
  Rng rng = make_rng(21);
  const arma::uword n = 120;
  const arma::mat a = random_spins(n, 6, rng), b = random_spins(n, 4, rng),
                  single = random_spins(n, 1, rng);
  SECTION("one sequence: store_transitions is store") {
    SequenceMemory m1, m2;
    m1.store(a, SequenceRule::temporal_pseudo_inverse);
    m2.store_transitions(a.cols(0, 4), a.cols(1, 5), SequenceRule::temporal_pseudo_inverse);
    CHECK(arma::approx_equal(m1.weights(), m2.weights(), "absdiff", 0.0));
  }
  SECTION("frame_transitions never links the end of one sequence to the next's start") {
    const SequenceSet set = binary_set({a, single, b});
    arma::mat cur, next;
    frame_transitions(set, cur, next, "test");
    REQUIRE(cur.n_cols == 5 + 3);
    CHECK(arma::all(arma::vectorise(cur.cols(0, 4) == a.cols(0, 4))));
    CHECK(arma::all(arma::vectorise(next.cols(0, 4) == a.cols(1, 5))));
    CHECK(arma::all(arma::vectorise(cur.cols(5, 7) == b.cols(0, 2))));
    CHECK(arma::all(arma::vectorise(next.cols(5, 7) == b.cols(1, 3))));
    // The Hebbian weights are the sum of the two sequences' own.
    SequenceMemory both, only_a, only_b;
    both.store_transitions(cur, next, SequenceRule::temporal_hebbian);
    only_a.store(a, SequenceRule::temporal_hebbian);
    only_b.store(b, SequenceRule::temporal_hebbian);
    CHECK_THAT(both.weights(), test::IsNear(only_a.weights() + only_b.weights(), 0.0, 1e-14));
  }
  SECTION("replay scores: the pseudo-inverse memory reproduces both sequences") {
    const SequenceSet set = binary_set({a, single, b});
    arma::mat cur, next;
    frame_transitions(set, cur, next, "test");
    SequenceMemory m;
    m.store_transitions(cur, next, SequenceRule::temporal_pseudo_inverse);
    RecallOptions o;
    o.flip_fraction = 0.0;
    Rng r = make_rng(4);
    const ReplayScores s = score_replay(m, {a, single, b}, o, r);
    CHECK(s.sequences == 2);
    CHECK(s.skipped == 1);
    CHECK(s.frames == 5 + 3);
    CHECK(s.mean_overlap == 1.0);
    CHECK(s.fraction_reproduced == 1.0);
    CHECK(s.fraction_sequences_whole == 1.0);
    // A memory of `a` alone: replaying `b` is by hand the mean of replay_accuracy.
    SequenceMemory ma;
    ma.store(a, SequenceRule::temporal_pseudo_inverse);
    Rng r2 = make_rng(4);
    const ReplayScores sb = score_replay(ma, {b}, o, r2);
    const arma::vec acc = ma.replay_accuracy(b);
    CHECK_THAT(sb.mean_overlap, Catch::Matchers::WithinAbs(arma::mean(acc), 1e-15));
    CHECK(sb.fraction_reproduced == arma::mean(arma::conv_to<arma::vec>::from(acc >= 0.95)));
    CHECK(sb.fraction_sequences_whole == (arma::all(acc >= 0.95) ? 1.0 : 0.0));
  }
  SECTION("only one-frame sequences: nothing replayed, NaN means") {
    SequenceMemory m;
    m.store(a, SequenceRule::temporal_hebbian);
    Rng r = make_rng(4);
    const ReplayScores s = score_replay(m, {single}, RecallOptions{}, r);
    CHECK(s.sequences == 0);
    CHECK(s.skipped == 1);
    CHECK(std::isnan(s.mean_overlap));
    CHECK(std::isnan(s.fraction_reproduced));
  }
  SECTION("bad input") {
    SequenceMemory m;
    CHECK_THAT(error_of([&] {
                 m.store_transitions(a.cols(0, 2), a.cols(1, 2), SequenceRule::temporal_hebbian);
               }),
               Contains("expected equal shapes"));
    Rng r = make_rng(1);
    CHECK_THAT(error_of([&] { score_replay(m, {a}, RecallOptions{}, r); }),
               Contains("nothing stored"));
    m.store(a, SequenceRule::temporal_hebbian);
    CHECK_THAT(
        error_of([&] { score_replay(m, {random_spins(n - 1, 3, rng)}, RecallOptions{}, r); }),
        Contains("sequence 0 is 119 x 3"));
  }
}

TEST_CASE("Hopfield memory: frames as patterns, the first K across sequences", "[hopfield]") {
  Rng rng = make_rng(5);
  const arma::mat a = random_spins(16, 3, rng), b = random_spins(16, 4, rng);
  const SequenceSet set = binary_set({a, b});
  const arma::mat all = frames_as_patterns(set, 0, "test");
  REQUIRE(all.n_cols == 7);
  CHECK(arma::all(arma::vectorise(all == arma::join_horiz(a, b))));
  const arma::mat five = frames_as_patterns(set, 5, "test");
  REQUIRE(five.n_cols == 5);
  CHECK(arma::all(arma::vectorise(five == all.cols(0, 4))));
  CHECK(frames_as_patterns(set, 100, "test").n_cols == 7);
  SequenceSet symbols;
  symbols.kind = SequenceKind::symbols;
  CHECK_THAT(error_of([&] { (void)frames_as_patterns(symbols, 0, "train: dataset 'x'"); }),
             Contains("train: dataset 'x' holds symbols, expected binary frames"));
  SequenceSet gray = set;
  gray.frames[1](3, 2) = 0.5;
  CHECK_THAT(error_of([&] { (void)frames_as_patterns(gray, 0, "d"); }),
             Contains("d, sequence 1: binary frames: element (3, 2) is 0.5"));
}

TEST_CASE("Hopfield memory: model files round trip, and only Hopfield readers take them",
          "[hopfield]") {
  test::ScratchDir dir;
  Rng rng = make_rng(8);
  SECTION("patterns") {
    const HopfieldRule rule =
        GENERATE(HopfieldRule::hebbian, HopfieldRule::storkey, HopfieldRule::pseudo_inverse);
    const arma::mat stored = random_spins(25, 4, rng);
    HopfieldMemory m;
    m.store_patterns(stored, rule);
    CHECK(m.units() == 25);
    CHECK(m.stored_count() == 4);
    CHECK(m.load() == 4.0 / 25.0);
    CHECK(m.num_parameters() == 25 * 24 / 2 + 25);
    const auto path = dir / "m.h5";
    save_hopfield_file(path, m);
    CHECK(is_hopfield_file(path));
    const HopfieldMemory back = load_hopfield_file(path);
    CHECK(back.memory() == MemoryKind::patterns);
    CHECK(back.rule_name() == m.rule_name());
    CHECK(
        arma::approx_equal(back.network().parameters(), m.network().parameters(), "absdiff", 0.0));
    CHECK(arma::all(arma::vectorise(back.patterns() == stored)));
    // Not a sequence model: load_model refuses it in one line.
    const std::string message = error_of([&] { (void)load_model(path); });
    CHECK_THAT(message, Contains("m.h5"));
    CHECK_THAT(message, Contains("defines no likelihood"));
    CHECK(message.find('\n') == std::string::npos);
  }
  SECTION("rule names as the command line gives them") {
    HopfieldMemory m;
    m.store_patterns(random_spins(9, 2, rng), HopfieldRule::pseudo_inverse);
    CHECK(m.rule_name() == "pinv");
    m.store_transitions(random_spins(9, 2, rng), random_spins(9, 2, rng),
                        SequenceRule::temporal_pseudo_inverse);
    CHECK(m.rule_name() == "pinv");
    CHECK(m.memory() == MemoryKind::sequence);
    CHECK(m.patterns().n_elem == 0);
  }
  SECTION("sequence") {
    const arma::mat frames = random_spins(30, 5, rng);
    HopfieldMemory m;
    m.store_transitions(frames.cols(0, 3), frames.cols(1, 4), SequenceRule::temporal_hebbian);
    const auto path = dir / "s.h5";
    save_hopfield_file(path, m);
    const HopfieldMemory back = load_hopfield_file(path);
    CHECK(back.memory() == MemoryKind::sequence);
    CHECK(back.stored_count() == 4);
    CHECK(back.num_parameters() == 900);
    CHECK(arma::approx_equal(back.sequence_memory().weights(), m.sequence_memory().weights(),
                             "absdiff", 0.0));
  }
  SECTION("other files") {
    const auto text = dir / "t.txt";
    test::write_file(text, "not hdf5");
    CHECK_FALSE(is_hopfield_file(text));
    CHECK_FALSE(is_hopfield_file(dir / "missing.h5"));
    CHECK_FALSE(is_hopfield_file(test::fixture("models/markov_abaab_order1.h5")));
    const std::string message =
        error_of([&] { (void)load_hopfield_file(test::fixture("models/markov_abaab_order1.h5")); });
    CHECK_THAT(message, Contains("is a 'markov' model, not a Hopfield network"));
  }
  SECTION("a forged file: stored patterns that are not spins") {
    const auto path = dir / "forged.h5";
    HopfieldNetwork net;
    net.store(random_spins(6, 2, rng), HopfieldRule::hebbian);
    {
      H5::H5File f(path.string(), H5F_ACC_TRUNC);
      H5::Group root = f.openGroup("/");
      h5::write_int_attribute(root, "seqlab_format", kModelFormatVersion);
      h5::write_string_attribute(root, "model", "hopfield");
      h5::write_string_attribute(root, "memory", "patterns");
      h5::write_int_attribute(root, "units", 6);
      H5::Group g = root.createGroup("network");
      net.save(g);
      arma::mat p = random_spins(6, 2, rng);
      p(2, 1) = 0.0;
      h5::write_mat(root, "patterns", p);
    }
    const std::string message = error_of([&] { (void)load_hopfield_file(path); });
    CHECK_THAT(message, Contains("patterns"));
    CHECK_THAT(message, Contains("element (2, 1) is not -1 or +1"));
  }
}

TEST_CASE("Hopfield memory: the registry takes its options and refuses to build a sequence model",
          "[hopfield][registry]") {
  const ModelType* type = find_model_type("hopfield");
  REQUIRE(type != nullptr);
  CHECK_FALSE(type->defines_likelihood);
  CHECK_FALSE(defines_likelihood("hopfield"));
  CHECK(defines_likelihood("hmm"));
  const OptionSpelling s = plain_spelling();
  SECTION("defaults and mapping") {
    const ResolvedOptions r = resolve_options("hopfield", {}, s);
    CHECK(r.text("rule") == "hebbian");
    CHECK(r.text("memory") == "patterns");
    CHECK(r.integer("max-patterns") == 0);
    const HopfieldMemoryOptions h = hopfield_options_for(
        resolve_options("hopfield",
                        {{"rule", std::string("pinv")}, {"max-patterns", std::int64_t{9}}}, s),
        s);
    CHECK(h.memory == MemoryKind::patterns);
    CHECK(h.rule == HopfieldRule::pseudo_inverse);
    CHECK(h.max_patterns == 9);
    const HopfieldMemoryOptions q = hopfield_options_for(
        resolve_options("hopfield",
                        {{"rule", std::string("pinv")}, {"memory", std::string("sequence")}}, s),
        s);
    CHECK(q.memory == MemoryKind::sequence);
    CHECK(q.sequence_rule == SequenceRule::temporal_pseudo_inverse);
  }
  SECTION("refusals") {
    CHECK_THAT(error_of([&] {
                 (void)resolve_options(
                     "hopfield",
                     {{"rule", std::string("storkey")}, {"memory", std::string("sequence")}}, s);
               }),
               Contains("rule storkey applies to memory patterns"));
    CHECK_THAT(error_of([&] {
                 (void)resolve_options(
                     "hopfield",
                     {{"memory", std::string("sequence")}, {"max-patterns", std::int64_t{3}}}, s);
               }),
               Contains("max-patterns applies to memory patterns only"));
    CHECK_THAT(error_of([&] {
                 (void)resolve_options("hmm", {{"rule", std::string("pinv")}}, s);
               }),
               Contains("rule applies to model hopfield only"));
    SequenceDataset data;
    data.name = "d";
    data.kind = SequenceKind::binary_frames;
    data.dimension = 4;
    CHECK_THAT(error_of([&] { (void)build_model(resolve_options("hopfield", {}, s), data, s); }),
               Contains("defines no likelihood"));
  }
}

TEST_CASE("figure files name their format by extension", "[report][hopfield]") {
  CHECK(report::figure_format_of("a/cap.png", "--plot") == report::FigureFormat::png);
  CHECK(report::figure_format_of("cap.SVG", "--plot") == report::FigureFormat::svg);
  CHECK(report::figure_format_of("x.pdf", "--plot") == report::FigureFormat::pdf);
  CHECK_THAT(error_of([] { (void)report::figure_format_of("cap.jpg", "capacity: --plot"); }),
             Contains("capacity: --plot: 'cap.jpg' names no figure format"));
  CHECK_THAT(error_of([] { (void)report::figure_format_of("cap", "--plot"); }),
             Contains("ending in .png, .svg or .pdf"));
}
