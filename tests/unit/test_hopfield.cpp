// tests/unit/test_hopfield.cpp: Hopfield networks checked against closed forms (energy change of
// a flip, projection identities, a hand-made 2-cycle), an independent O(N^3) Storkey reference,
// and the known capacity behaviour (Hebbian recall collapses between alpha = 0.10 and 0.20, near
// alpha_c ~ 0.138; Storkey and the pseudo-inverse rule hold beyond it).
#include <H5Cpp.h>

#include <chrono>
#include <cmath>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/models/energy/hopfield.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::energy;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using seqlab::test::IsNear;

namespace {

arma::mat random_spins(arma::uword n, arma::uword p, Rng& rng) {
  arma::mat x(n, p);
  for (double& v : x) v = uniform01(rng) < 0.5 ? -1.0 : 1.0;
  return x;
}

// `x` with exactly `k` distinct units flipped.
arma::vec flip_bits(const arma::vec& x, arma::uword k, Rng& rng) {
  arma::vec y = x;
  const arma::uvec perm = random_permutation(x.n_elem, rng);
  for (arma::uword i = 0; i < k; ++i) y(perm(i)) = -y(perm(i));
  return y;
}

// Storkey (1997) written out from its definition, O(N^3) per pattern:
// W_ij += (1/N)(xi_i xi_j - xi_i h_ji - h_ij xi_j), h_ij = sum_{k != i, j} W_ik xi_k, i != j.
arma::mat storkey_reference(const arma::mat& patterns) {
  const arma::uword n = patterns.n_rows;
  arma::mat w(n, n, arma::fill::zeros);
  for (arma::uword p = 0; p < patterns.n_cols; ++p) {
    const arma::vec xi = patterns.col(p);
    arma::mat next = w;
    for (arma::uword i = 0; i < n; ++i)
      for (arma::uword j = 0; j < n; ++j) {
        if (i == j) continue;
        double hij = 0.0, hji = 0.0;
        for (arma::uword k = 0; k < n; ++k) {
          if (k != i && k != j) {
            hij += w(i, k) * xi(k);
            hji += w(j, k) * xi(k);
          }
        }
        next(i, j) = w(i, j) + (xi(i) * xi(j) - xi(i) * hji - hij * xi(j)) / double(n);
      }
    w = next;
  }
  return w;
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const UserError& e) {
    return e.what();
  }
  return "(no error)";
}

}  // namespace

TEST_CASE("Hopfield: stored patterns are fixed points below capacity", "[hopfield]") {
  const HopfieldRule rule =
      GENERATE(HopfieldRule::hebbian, HopfieldRule::storkey, HopfieldRule::pseudo_inverse);
  const std::uint64_t seed = GENERATE(1, 2, 3);
  CAPTURE(rule_name(rule), seed);
  Rng rng = make_rng(seed);
  const arma::uword n = 200;
  const arma::mat patterns = random_spins(n, 5, rng);
  HopfieldNetwork net(n);
  net.store(patterns, rule);
  REQUIRE(net.rule() == rule);
  const arma::mat w = net.weights();
  // Exactly symmetric; zero diagonal for the classical rules.
  CHECK(arma::approx_equal(w, w.t(), "absdiff", 0.0));
  if (rule != HopfieldRule::pseudo_inverse) CHECK(arma::all(w.diag() == 0.0));
  for (arma::uword p = 0; p < patterns.n_cols; ++p) {
    CAPTURE(p);
    const AsyncResult r = net.settle(patterns.col(p), rng);
    CHECK(r.converged);
    CHECK(r.sweeps == 1);
    CHECK(r.flips == 0);
    CHECK(arma::all(r.state == patterns.col(p)));
    REQUIRE(r.energy_trace.n_elem == 1);
    CHECK_THAT(r.energy_trace(0), WithinAbs(net.energy(patterns.col(p)), 1e-10));
    const SyncResult s = net.settle_synchronous(patterns.col(p));
    CHECK(s.status == SyncStatus::fixed_point);
    CHECK(s.steps == 1);
    CHECK(overlap(s.state, patterns.col(p)) == 1.0);
  }
}

TEST_CASE("Hopfield: Hebbian weights and the flat parameter layout by hand", "[hopfield]") {
  // Two patterns over 3 units: W = (1/3)(a a^T + b b^T) with the diagonal zeroed.
  const arma::mat patterns = {{1.0, 1.0}, {1.0, -1.0}, {-1.0, -1.0}};
  const arma::mat expected = arma::mat{{0.0, 0.0, -2.0}, {0.0, 0.0, 0.0}, {-2.0, 0.0, 0.0}} / 3.0;
  HopfieldNetwork net;
  net.store(patterns, HopfieldRule::hebbian);
  CHECK_THAT(net.weights(), IsNear(expected, 0.0, 1e-15));
  CHECK(net.units() == 3);
  CHECK(net.num_parameters() == 3 + 3);
  // [vec(W); b], column-major.
  REQUIRE(net.parameters().n_elem == 9 + 3);
  CHECK_THAT(arma::mat(net.parameters().head(9)), IsNear(arma::vectorise(expected), 0.0, 1e-15));
  CHECK(arma::all(net.parameters().tail(3) == 0.0));
  // E(a) = -1/2 a^T W a = -1/2 * 2 * W(0, 2) * a_0 a_2 = -2/3.
  CHECK_THAT(net.energy(patterns.col(0)), WithinAbs(-2.0 / 3.0, 1e-15));
  CHECK_THAT(net.local_field(patterns.col(0), 0), WithinAbs(2.0 / 3.0, 1e-15));
  CHECK(overlap(patterns.col(0), patterns.col(1)) == 1.0 / 3.0);
}

TEST_CASE("Hopfield: the pseudo-inverse rule stores half of N as exact fixed points",
          "[hopfield]") {
  Rng rng = make_rng(11);
  const arma::uword n = 200;
  const arma::mat patterns = random_spins(n, 100, rng);
  HopfieldNetwork net(n);
  net.store(patterns, HopfieldRule::pseudo_inverse);
  for (arma::uword p = 0; p < patterns.n_cols; ++p) {
    const AsyncResult r = net.settle(patterns.col(p), rng);
    CHECK(r.flips == 0);
    CHECK(r.converged);
  }
}

TEST_CASE("Hopfield: pseudo-inverse weights are the projection onto the patterns", "[hopfield]") {
  Rng rng = make_rng(5);
  const arma::uword n = 100;
  arma::mat patterns = random_spins(n, 30, rng);
  const bool dependent = GENERATE(false, true);
  CAPTURE(dependent);
  if (dependent) {  // a repeated pattern and a mirror image: rank 28, Xi^T Xi singular
    patterns.col(3) = patterns.col(0);
    patterns.col(4) = -patterns.col(1);
  }
  const arma::mat w = pseudo_inverse_weights(patterns);
  REQUIRE(w.is_finite());
  // W Xi = Xi (each stored pattern an eigen-direction with eigenvalue 1) and W^2 = W.
  CHECK_THAT(arma::mat(w * patterns), IsNear(patterns, 0.0, 1e-10));
  CHECK_THAT(arma::mat(w * w), IsNear(w, 0.0, 1e-10));
  // Rank = number of independent patterns: trace of a projection.
  const double rank = arma::rank(patterns);
  CHECK_THAT(arma::trace(w), WithinAbs(rank, 1e-9));
  CHECK(w.diag().min() >= 0.0);
  CHECK(w.diag().max() <= 1.0 + 1e-12);
}

TEST_CASE("Hopfield: Storkey's O(N^2) update equals the O(N^3) definition", "[hopfield]") {
  const arma::uword n = GENERATE(2, 5, 8, 13);
  const arma::uword p = GENERATE(1, 3, 6);
  CAPTURE(n, p);
  Rng rng = make_rng(100 + n * 10 + p);
  const arma::mat patterns = random_spins(n, p, rng);
  const arma::mat fast = storkey_weights(patterns);
  const arma::mat reference = storkey_reference(patterns);
  CHECK_THAT(fast, IsNear(reference, 0.0, 1e-12));
  // The first pattern alone gives the Hebbian weights (W = 0 before it).
  CHECK_THAT(storkey_weights(patterns.col(0)),
             IsNear(hebbian_weights(patterns.col(0)), 0.0, 1e-15));
}

TEST_CASE("Hopfield: asynchronous updates never raise the energy", "[hopfield]") {
  const std::uint64_t seed = GENERATE(range(1, 21));
  const bool with_bias = GENERATE(false, true);
  const bool positive_diagonal = GENERATE(false, true);
  CAPTURE(seed, with_bias, positive_diagonal);
  Rng rng = make_rng(seed);
  const arma::uword n = 40;
  // Random symmetric couplings, not from patterns (a spin glass: many local minima).
  arma::mat w(n, n);
  for (double& v : w) v = standard_normal(rng);
  w = 0.5 * (w + w.t());
  w.diag().zeros();
  if (positive_diagonal)
    for (arma::uword i = 0; i < n; ++i) w(i, i) = uniform01(rng);
  arma::vec b(n, arma::fill::zeros);
  if (with_bias)
    for (double& v : b) v = 0.5 * standard_normal(rng);
  HopfieldNetwork net;
  net.set_parameters(w, b);
  const double tol = 1e-12 * (arma::accu(arma::abs(w)) + arma::accu(arma::abs(b)));
  const arma::vec start = random_spins(n, 1, rng);

  SECTION("every flip of settle() lowers the energy by 2 x_i h_i - 2 W_ii") {
    arma::vec before = start;
    double e_before = net.energy(start);
    arma::uword flips = 0;
    AsyncOptions options;
    options.on_flip = [&](arma::uword i, const arma::vec& x) {
      const double expected_change = 2.0 * before(i) * net.local_field(before, i) - 2.0 * w(i, i);
      const double e = net.energy(x);
      CHECK(e <= e_before + tol);
      CHECK(e < e_before);
      CHECK_THAT(e - e_before, WithinAbs(expected_change, tol));
      CHECK(arma::accu(x != before) == 1);
      before = x;
      e_before = e;
      ++flips;
    };
    const AsyncResult r = net.settle(start, rng, options);
    CHECK(r.flips == flips);
    CHECK(flips > 0);
    REQUIRE(r.converged);
    // The trace is per sweep, non-increasing, and ends at the final state's energy.
    REQUIRE(r.energy_trace.n_elem == r.sweeps);
    for (arma::uword s = 1; s < r.energy_trace.n_elem; ++s)
      CHECK(r.energy_trace(s) <= r.energy_trace(s - 1) + tol);
    CHECK_THAT(r.energy_trace(r.sweeps - 1), WithinAbs(net.energy(r.state), tol));
    CHECK(r.energy_trace(0) <= net.energy(start) + tol);
    // A fixed point: no unit wants to flip.
    arma::vec x = r.state;
    for (arma::uword i = 0; i < n; ++i) CHECK_FALSE(net.update_unit(x, i));
  }
  SECTION("single-unit steps in any order") {
    arma::vec x = start;
    double e = net.energy(x);
    for (int sweep = 0; sweep < 5; ++sweep) {
      const arma::uvec order = random_permutation(n, rng);
      for (arma::uword k = 0; k < n; ++k) {
        net.update_unit(x, order(k));
        const double e_next = net.energy(x);
        CHECK(e_next <= e + tol);
        e = e_next;
      }
    }
  }
}

TEST_CASE("Hopfield: settling is reproducible and a tie keeps the unit", "[hopfield]") {
  Rng rng = make_rng(3);
  const arma::mat patterns = random_spins(60, 12, rng);
  HopfieldNetwork net;
  net.store(patterns, HopfieldRule::hebbian);
  const arma::vec cue = flip_bits(patterns.col(0), 15, rng);
  Rng a = make_rng(77), b = make_rng(77);
  const AsyncResult ra = net.settle(cue, a), rb = net.settle(cue, b);
  CHECK(arma::all(ra.state == rb.state));
  CHECK(ra.sweeps == rb.sweeps);
  CHECK(arma::approx_equal(ra.energy_trace, rb.energy_trace, "absdiff", 0.0));

  // All-zero weights: every field is exactly 0, so nothing moves.
  HopfieldNetwork zero(4);
  const arma::vec x = {1, -1, -1, 1};
  const AsyncResult r = zero.settle(x, rng);
  CHECK(arma::all(r.state == x));
  CHECK(r.converged);
  CHECK(r.sweeps == 1);
  CHECK(zero.settle_synchronous(x).status == SyncStatus::fixed_point);
}

TEST_CASE("Hopfield: synchronous updates detect a fixed point and a 2-cycle", "[hopfield]") {
  // Two units coupled negatively: (1, 1) -> (-1, -1) -> (1, 1) is a 2-cycle under synchronous
  // updates, while (1, -1) is a fixed point (energy -1).
  HopfieldNetwork net;
  net.set_parameters(arma::mat{{0.0, -1.0}, {-1.0, 0.0}}, arma::vec(2, arma::fill::zeros));
  const SyncResult cycle = net.settle_synchronous(arma::vec{1.0, 1.0});
  CHECK(cycle.status == SyncStatus::two_cycle);
  CHECK(cycle.steps == 2);
  CHECK(arma::all(cycle.state == arma::vec{1.0, 1.0}));
  const SyncResult fixed = net.settle_synchronous(arma::vec{1.0, -1.0});
  CHECK(fixed.status == SyncStatus::fixed_point);
  CHECK(fixed.steps == 1);
  CHECK(net.energy(arma::vec{1.0, -1.0}) == -1.0);
  CHECK(net.energy(arma::vec{1.0, 1.0}) == 1.0);
  const SyncResult capped = net.settle_synchronous(arma::vec{1.0, 1.0}, 1);
  CHECK(capped.status == SyncStatus::max_steps);
  CHECK(capped.steps == 1);
  CHECK(sync_status_name(SyncStatus::two_cycle) == "two_cycle");
  // Asynchronous updates cannot cycle: from (1, 1) one flip reaches a fixed point.
  Rng rng = make_rng(1);
  const AsyncResult a = net.settle(arma::vec{1.0, 1.0}, rng);
  CHECK(a.converged);
  CHECK(a.flips == 1);
  CHECK(arma::accu(a.state) == 0.0);
}

TEST_CASE("Hopfield: recall from noisy and partial cues", "[hopfield]") {
  Rng rng = make_rng(21);
  const arma::uword n = 200;
  const arma::mat patterns = random_spins(n, 10, rng);
  HopfieldNetwork net;
  net.store(patterns, HopfieldRule::hebbian);
  for (arma::uword p = 0; p < patterns.n_cols; ++p) {
    CAPTURE(p);
    const AsyncResult noisy = net.recall(flip_bits(patterns.col(p), 20, rng), rng);
    CHECK(noisy.converged);
    CHECK(overlap(noisy.state, patterns.col(p)) == 1.0);
    // Half the units unknown (0).
    arma::vec partial = patterns.col(p);
    partial.subvec(0, n / 2 - 1).zeros();
    const AsyncResult part = net.recall(partial, rng);
    CHECK(overlap(part.state, patterns.col(p)) == 1.0);
    const BestOverlap best = best_overlap(part.state, patterns);
    CHECK(best.index == p);
    CHECK(best.overlap == 1.0);
  }
  // The mirror image has overlap -1 and is not the best match of the pattern itself.
  CHECK(overlap(-patterns.col(0), patterns.col(0)) == -1.0);
  CHECK(best_overlap(-patterns.col(0), patterns).overlap < 0.5);
}

TEST_CASE("Hopfield: Storkey beats Hebbian at alpha = 0.18, pseudo-inverse holds at 0.3",
          "[hopfield]") {
  CapacityOptions o;
  o.units = 200;
  o.loads = {0.18, 0.30};
  o.seeds = {1, 2, 3, 4};
  const CapacityTable t = run_capacity_experiment(o);
  REQUIRE(t.size() == 3 * 2 * 4);
  auto at = [&](const std::string& rule, double alpha, std::uint64_t seed) {
    for (std::size_t i = 0; i < t.size(); ++i)
      if (t.rule[i] == rule && t.alpha[i] == alpha && t.seed[i] == seed) return i;
    FAIL("no row " << rule << " " << alpha << " " << seed);
    return std::size_t{0};
  };
  for (const std::uint64_t seed : o.seeds) {
    CAPTURE(seed);
    const std::size_t heb = at("hebbian", 0.18, seed), sto = at("storkey", 0.18, seed);
    CAPTURE(t.fraction_recalled[heb], t.fraction_recalled[sto]);
    CHECK(t.patterns[heb] == 36);
    CHECK(t.fraction_recalled[sto] >= t.fraction_recalled[heb] + 0.3);
    const std::size_t pi = at("pseudo_inverse", 0.30, seed);
    CHECK(t.patterns[pi] == 60);
    CHECK(t.fraction_recalled[pi] >= 0.95);
    CHECK(t.mean_overlap[pi] >= 0.98);
  }
}

TEST_CASE("Hopfield: the Hebbian capacity curve falls near alpha_c ~ 0.138", "[hopfield]") {
  const auto begin = std::chrono::steady_clock::now();
  CapacityOptions o;
  o.units = 200;
  o.loads = {0.08, 0.12, 0.16, 0.20};
  o.rules = {HopfieldRule::hebbian};
  o.seeds = {1, 2, 3};
  const CapacityTable t = run_capacity_experiment(o);
  REQUIRE(t.size() == 4 * 3);
  // Per seed: all recalled at 0.08 (30 seeds measured: every one 1.0), at most half at 0.20
  // (30 seeds: at most 0.325).
  for (std::size_t i = 0; i < t.size(); ++i) {
    CAPTURE(t.alpha[i], t.seed[i], t.fraction_recalled[i], t.mean_overlap[i]);
    CHECK(t.rule[i] == "hebbian");
    if (t.alpha[i] == 0.08) CHECK(t.fraction_recalled[i] >= 0.9);
    if (t.alpha[i] == 0.20) CHECK(t.fraction_recalled[i] <= 0.5);
  }
  // The seed-averaged curve falls at every step from 0.12 on (30-seed means: 1.00, 0.95, 0.57,
  // 0.19), and so does the mean final overlap.
  arma::vec fraction(4, arma::fill::zeros), mean_overlap(4, arma::fill::zeros);
  for (std::size_t i = 0; i < t.size(); ++i) {
    fraction(i / 3) += t.fraction_recalled[i] / 3.0;
    mean_overlap(i / 3) += t.mean_overlap[i] / 3.0;
  }
  CAPTURE(fraction.t(), mean_overlap.t());
  CHECK(fraction(1) > fraction(2));
  CHECK(fraction(2) > fraction(3));
  CHECK(mean_overlap(3) < mean_overlap(0));
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - begin).count();
  CAPTURE(seconds);
  // Same seeds, same table.
  const CapacityTable again = run_capacity_experiment(o);
  CHECK(again.fraction_recalled == t.fraction_recalled);
  CHECK(again.mean_overlap == t.mean_overlap);

  SECTION("written as one dataset per column") {
    test::ScratchDir dir;
    write_capacity_table(dir / "capacity.h5", t, o);
    H5::H5File f((dir / "capacity.h5").string(), H5F_ACC_RDONLY);
    const H5::Group root = f.openGroup("/");
    CHECK(h5::read_int_attribute(root, "units") == 200);
    CHECK(h5::read_double_attribute(root, "flip_fraction") == 0.10);
    CHECK(h5::read_double_attribute(root, "threshold") == 0.95);
    CHECK(h5::read_strings(root, "rule") == t.rule);
    CHECK(arma::all(h5::read_vec(root, "alpha") == arma::vec(t.alpha)));
    CHECK(arma::all(h5::read_vec(root, "fraction_recalled") == arma::vec(t.fraction_recalled)));
    CHECK(arma::all(h5::read_vec(root, "mean_overlap") == arma::vec(t.mean_overlap)));
    CHECK(arma::all(h5::read_uvec(root, "patterns") == arma::uvec(t.patterns)));
    // Rows: rule, then load, then seed.
    CHECK(arma::all(h5::read_uvec(root, "seed") == arma::uvec{1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3}));
  }
}

TEST_CASE("Hopfield: capacity experiment rejects bad options", "[hopfield]") {
  CapacityOptions o;
  o.units = 20;
  o.loads = {0.1};
  SECTION("load") {
    o.loads = {0.1, -0.2};
    CHECK_THAT(error_of([&] { run_capacity_experiment(o); }), Contains("load -0.2"));
  }
  SECTION("flip fraction") {
    o.flip_fraction = 1.5;
    CHECK_THAT(error_of([&] { run_capacity_experiment(o); }), Contains("flip fraction"));
  }
  SECTION("custom rule") {
    o.rules = {HopfieldRule::custom};
    CHECK_THAT(error_of([&] { run_capacity_experiment(o); }), Contains("custom"));
  }
}

TEST_CASE("Hopfield: sequence memory replays stored sequences", "[hopfield]") {
  Rng rng = make_rng(8);
  const arma::uword n = 200, steps = 10;
  SECTION("random frames: both rules replay exactly") {
    const arma::mat frames = random_spins(n, steps, rng);
    for (const SequenceRule rule :
         {SequenceRule::temporal_hebbian, SequenceRule::temporal_pseudo_inverse}) {
      CAPTURE(sequence_rule_name(rule));
      SequenceMemory mem;
      mem.store(frames, rule);
      const arma::vec acc = mem.replay_accuracy(frames);
      REQUIRE(acc.n_elem == steps - 1);
      CHECK(arma::all(acc == 1.0));
      const arma::mat states = mem.replay(frames.col(0), steps - 1);
      CHECK(arma::all(arma::vectorise(states == frames)));
    }
  }
  SECTION("correlated frames: only the pseudo-inverse rule replays them") {
    // Each frame is a common base with its own 10 % of units flipped: any two frames agree on
    // about 82 % of the units.
    const arma::vec base = random_spins(n, 1, rng);
    arma::mat frames(n, steps);
    for (arma::uword t = 0; t < steps; ++t) frames.col(t) = flip_bits(base, n / 10, rng);
    const double agreement = arma::accu(frames.col(0) == frames.col(1)) / double(n);
    CAPTURE(agreement);
    CHECK(agreement >= 0.75);
    SequenceMemory hebb, pinv;
    hebb.store(frames, SequenceRule::temporal_hebbian);
    pinv.store(frames, SequenceRule::temporal_pseudo_inverse);
    const arma::vec acc_pinv = pinv.replay_accuracy(frames);
    const arma::vec acc_hebb = hebb.replay_accuracy(frames);
    CAPTURE(acc_hebb.t(), acc_pinv.t());
    CHECK(arma::all(acc_pinv == 1.0));
    CHECK(arma::mean(acc_hebb) <= 0.9);
    CHECK(acc_hebb.min() < 0.9);
  }
}

TEST_CASE("Hopfield: modern retrieval in one update where the classical network fails",
          "[hopfield]") {
  Rng rng = make_rng(17);
  const arma::uword n = 100, p = 50;
  const arma::mat patterns = random_spins(n, p, rng);
  const double beta = 1.0;
  for (arma::uword j = 0; j < p; ++j) {
    CAPTURE(j);
    const arma::vec cue = flip_bits(patterns.col(j), 10, rng);
    const arma::vec once = modern_update(patterns, cue, beta);
    CHECK(overlap(arma::sign(once), patterns.col(j)) == 1.0);
    CHECK(arma::vec(arma::abs(once - patterns.col(j))).max() < 1e-6);
    const ModernResult it = modern_retrieve(patterns, cue, beta);
    CHECK(it.converged);
    CHECK(it.iterations <= 3);
    CHECK_THAT(arma::mat(it.state), IsNear(patterns.col(j), 0.0, 1e-12));
  }
  // The classical Hebbian network at the same load (alpha = 0.5) recalls almost nothing; in the
  // capacity experiment, one modern update from the same cues recalls every pattern.
  CapacityOptions o;
  o.units = n;
  o.loads = {0.5, 4.0};
  o.rules = {HopfieldRule::hebbian};
  o.seeds = {17, 18};
  const CapacityTable classical = run_capacity_experiment(o);
  o.modern_beta = beta;
  const CapacityTable t = run_capacity_experiment(o);
  REQUIRE(t.size() == 8);
  for (std::size_t i = 0; i < t.size(); ++i) {
    CAPTURE(i, t.rule[i], t.alpha[i], t.fraction_recalled[i], t.mean_overlap[i]);
    if (i < 4) {
      CHECK(t.rule[i] == "hebbian");
      CHECK(t.fraction_recalled[i] == classical.fraction_recalled[i]);  // modern changes nothing
      CHECK(t.fraction_recalled[i] <= 0.1);
    } else {
      CHECK(t.rule[i] == "modern");
      CHECK(t.fraction_recalled[i] == 1.0);
      CHECK_THAT(t.mean_overlap[i], WithinAbs(1.0, 1e-9));
    }
  }
  SECTION("modern alone gives the same rows; beta is checked and stored") {
    o.rules.clear();
    const CapacityTable alone = run_capacity_experiment(o);
    REQUIRE(alone.size() == 4);
    CHECK(alone.mean_overlap == std::vector<double>(t.mean_overlap.begin() + 4, t.mean_overlap.end()));
    test::ScratchDir dir;
    write_capacity_table(dir / "modern.h5", alone, o);
    H5::H5File f((dir / "modern.h5").string(), H5F_ACC_RDONLY);
    CHECK(h5::read_double_attribute(f.openGroup("/"), "modern_beta") == beta);
    o.modern_beta = 0.0;
    CHECK_THAT(error_of([&] { run_capacity_experiment(o); }),
               Contains("beta of the modern network 0 is not finite and > 0"));
  }
  SECTION("a small beta averages the patterns instead of retrieving one") {
    o.modern_beta = 1e-3;
    const CapacityTable soft = run_capacity_experiment(o);
    for (std::size_t i = 4; i < soft.size(); ++i) CHECK(soft.fraction_recalled[i] == 0.0);
  }
}

TEST_CASE("Hopfield: stable softmax", "[hopfield]") {
  const arma::vec s = stable_softmax(arma::vec{1000.0, 1001.0, -arma::datum::inf});
  const double e = std::exp(-1.0);
  CHECK_THAT(s(0), WithinRel(e / (1.0 + e), 1e-14));
  CHECK_THAT(s(1), WithinRel(1.0 / (1.0 + e), 1e-14));
  CHECK(s(2) == 0.0);
  CHECK_THAT(arma::accu(stable_softmax(arma::vec{-800.0, -801.0, -799.0})), WithinAbs(1.0, 1e-15));
  CHECK_THAT(error_of([] {
               stable_softmax(arma::vec{1.0, arma::datum::nan});
             }),
             Contains("finite"));
  CHECK_THAT(error_of([] { modern_update(arma::mat(3, 2, arma::fill::ones), arma::vec(2), 1.0); }),
             Contains("expected a vector of 3 units"));
}

TEST_CASE("Hopfield: save and load", "[hopfield]") {
  test::ScratchDir dir;
  const auto file = dir / "net.h5";
  Rng rng = make_rng(4);
  SECTION("round trip is bit-exact") {
    const HopfieldRule rule = GENERATE(HopfieldRule::hebbian, HopfieldRule::storkey,
                                       HopfieldRule::pseudo_inverse, HopfieldRule::custom);
    CAPTURE(rule_name(rule));
    HopfieldNetwork net;
    if (rule == HopfieldRule::custom) {
      arma::mat w(7, 7);
      for (double& v : w) v = standard_normal(rng);
      w = w + w.t();
      w.diag().fill(0.25);
      arma::vec b(7);
      for (double& v : b) v = standard_normal(rng);
      net.set_parameters(w, b);
    } else {
      net.store(random_spins(30, 6, rng), rule);
    }
    {
      H5::H5File f(file.string(), H5F_ACC_TRUNC);
      H5::Group g = f.createGroup("model");
      net.save(g);
    }
    H5::H5File f(file.string(), H5F_ACC_RDONLY);
    HopfieldNetwork loaded;
    loaded.load(f.openGroup("model"));
    CHECK(loaded.rule() == net.rule());
    CHECK(loaded.units() == net.units());
    CHECK(arma::approx_equal(loaded.parameters(), net.parameters(), "absdiff", 0.0));
  }
  SECTION("malformed groups") {
    arma::mat w = hebbian_weights(random_spins(6, 2, rng));
    std::string rule = "hebbian";
    arma::uword units = 6;
    const int defect = GENERATE(0, 1, 2, 3);
    CAPTURE(defect);
    const char* expected_by_defect[] = {"is not symmetric", "diagonal element 2", "expected 5 x 5",
                                        "attribute 'rule'"};
    const std::string expected = expected_by_defect[defect];
    if (defect == 0) w(1, 0) += 0.5;  // asymmetric weights
    if (defect == 1) w(2, 2) = 0.1;   // a non-zero diagonal for the Hebbian rule
    if (defect == 2) units = 5;       // wrong shape
    if (defect == 3) rule = "oja";    // unknown rule
    {
      H5::H5File f(file.string(), H5F_ACC_TRUNC);
      H5::Group g = f.createGroup("model");
      h5::write_string_attribute(g, "rule", rule);
      h5::write_int_attribute(g, "units", static_cast<std::int64_t>(units));
      h5::write_mat(g, "weights", w);
      h5::write_vec(g, "bias", arma::vec(units, arma::fill::zeros));
    }
    H5::H5File f(file.string(), H5F_ACC_RDONLY);
    HopfieldNetwork net(3);
    const std::string message = error_of([&] { net.load(f.openGroup("model")); });
    CHECK_THAT(message, Contains(expected));
    if (expected != "attribute 'rule'") CHECK_THAT(message, Contains("weights"));
    CHECK(message.find('\n') == std::string::npos);
    CHECK(net.units() == 3);  // unchanged by a failed load
  }
}

TEST_CASE("Hopfield: sequence memory save and load", "[hopfield]") {
  test::ScratchDir dir;
  const auto file = dir / "seq.h5";
  Rng rng = make_rng(9);
  const arma::mat frames = random_spins(12, 5, rng);
  const SequenceRule rule =
      GENERATE(SequenceRule::temporal_hebbian, SequenceRule::temporal_pseudo_inverse);
  CAPTURE(sequence_rule_name(rule));
  SequenceMemory mem;
  mem.store(frames, rule);
  {
    H5::H5File f(file.string(), H5F_ACC_TRUNC);
    H5::Group g = f.createGroup("model");
    mem.save(g);
  }
  {
    H5::H5File f(file.string(), H5F_ACC_RDONLY);
    SequenceMemory loaded;
    loaded.load(f.openGroup("model"));
    CHECK(loaded.rule() == rule);
    CHECK(arma::approx_equal(loaded.weights(), mem.weights(), "absdiff", 0.0));
    CHECK(arma::all(loaded.replay_accuracy(frames) == mem.replay_accuracy(frames)));
  }
  {  // a wrong shape
    H5::H5File f(file.string(), H5F_ACC_TRUNC);
    H5::Group g = f.createGroup("model");
    h5::write_string_attribute(g, "rule", sequence_rule_name(rule));
    h5::write_int_attribute(g, "units", 12);
    h5::write_mat(g, "weights", arma::mat(12, 11, arma::fill::zeros));
  }
  H5::H5File f(file.string(), H5F_ACC_RDONLY);
  SequenceMemory broken;
  const std::string message = error_of([&] { broken.load(f.openGroup("model")); });
  CHECK_THAT(message, Contains("weights") && Contains("expected 12 x 12"));
  CHECK(broken.units() == 0);
}

TEST_CASE("Hopfield: bad input is a one-line UserError", "[hopfield]") {
  Rng rng = make_rng(2);
  arma::mat patterns = random_spins(10, 3, rng);
  HopfieldNetwork net;
  net.store(patterns, HopfieldRule::hebbian);
  SECTION("patterns not +-1") {
    patterns(4, 1) = 0.0;
    CHECK_THAT(error_of([&] { net.store(patterns, HopfieldRule::storkey); }),
               Contains("element (4, 1) is 0, expected -1 or +1"));
    patterns(4, 1) = arma::datum::nan;
    CHECK_THAT(error_of([&] { hebbian_weights(patterns); }), Contains("nan"));
  }
  SECTION("0/1 converter") {
    const arma::mat frames = {{0.0, 1.0}, {1.0, 0.5}};
    CHECK_THAT(error_of([&] { binary_to_spins(frames); }),
               Contains("element (1, 1) is 0.5, expected 0 or 1"));
    const arma::mat ok = {{0.0, 1.0}, {1.0, 0.0}};
    CHECK(arma::all(arma::vectorise(binary_to_spins(ok) == arma::mat{{-1.0, 1.0}, {1.0, -1.0}})));
  }
  SECTION("dimension mismatch") {
    CHECK_THAT(error_of([&] { net.recall(arma::vec(9, arma::fill::ones), rng); }),
               Contains("expected a vector of 10 units, got 9"));
    CHECK_THAT(error_of([&] { net.store(random_spins(11, 2, rng), HopfieldRule::hebbian); }),
               Contains("expected 10"));
    CHECK_THAT(error_of([&] { best_overlap(arma::vec(9, arma::fill::ones), patterns); }),
               Contains("got 9"));
  }
  SECTION("cue values") {
    arma::vec cue = patterns.col(0);
    cue(3) = 0.5;
    CHECK_THAT(error_of([&] { net.recall(cue, rng); }), Contains("cue element 3 is 0.5"));
    CHECK_THAT(error_of([&] { net.settle(cue, rng); }), Contains("expected -1 or +1"));
  }
  SECTION("asymmetric custom weights") {
    arma::mat w(3, 3, arma::fill::zeros);
    w(0, 1) = 1.0;
    CHECK_THAT(error_of([&] { net.set_parameters(w, arma::vec(3, arma::fill::zeros)); }),
               Contains("not symmetric"));
  }
  SECTION("sequence memory") {
    SequenceMemory mem;
    CHECK_THAT(error_of([&] { mem.store(patterns.col(0), SequenceRule::temporal_hebbian); }),
               Contains("at least 2 frames"));
    mem.store(patterns, SequenceRule::temporal_hebbian);
    CHECK_THAT(error_of([&] { mem.replay(arma::vec(4, arma::fill::ones), 2); }),
               Contains("expected a vector of 10 units, got 4"));
  }
}
