// tests/unit/test_rnn_trainer.cpp: rnn::WindowTrainer, the update loop RnnModel::fit and
// `seqlab bench rnn` share: its sharded (threaded) gradient is the gradient of the whole window's
// mean NLL, its updates are the optimizer's, and its results repeat exactly for a seed and a
// thread count.
//
// Tolerances: double-precision comparisons of sums taken in a different order (shards) at 1e-12
// relative; float32 training across thread counts at 1e-4 relative after a few Adam steps (float
// rounding of a different summation order, amplified a little by Adam's normalisation).
#include <cmath>

#include "seqlab/core/rng.hpp"
#include "seqlab/data/batching.hpp"
#include "seqlab/models/rnn/trainer.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::rnn;
using seqlab::test::IsNear;

namespace {

NetworkConfig small_config(CellType cell) {
  NetworkConfig c;
  c.kind = SequenceKind::symbols;
  c.input_size = 7;
  c.embedding = 5;
  c.cell = cell;
  c.hidden = 6;
  c.layers = 2;
  c.residual = true;
  return c;
}

// A window of B streams x k steps with ragged real prefixes and one reset row.
SymbolWindow ragged_window(arma::uword streams, arma::uword steps, Rng& rng) {
  SymbolWindow w;
  w.symbols.zeros(streams, steps);
  w.mask.zeros(streams, steps);
  w.reset.zeros(streams);
  for (arma::uword b = 0; b < streams; ++b) {
    const arma::uword real = b == 1 ? steps / 2 : steps;  // row 1 ends early
    for (arma::uword t = 0; t < real; ++t) {
      w.symbols(b, t) = static_cast<arma::uword>(uniform01(rng) * 7) % 7;
      w.mask(b, t) = 1;
    }
  }
  w.reset(2 % streams) = 1;
  return w;
}

}  // namespace

TEST_CASE("WindowTrainer: the sharded gradient is the gradient of the window's mean NLL",
          "[rnn-trainer]") {
  const CellType cell = GENERATE(CellType::elman, CellType::lstm, CellType::gru);
  const unsigned threads = GENERATE(2u, 3u);
  CAPTURE(model_type_name(cell), threads);
  const NetworkConfig config = small_config(cell);
  OptimizerOptions sgd;
  sgd.kind = OptimizerKind::sgd;
  WindowTrainer<double> sharded(config, 5, threads, sgd, 0.0, 3);
  REQUIRE(sharded.shard_count() == threads);
  Rng rng = make_rng(11);
  sharded.network().init(rng);
  sharded.sync_parameters();

  // Reference: one network over all 5 streams, mean NLL over the window's real steps.
  Network<double> whole = sharded.network();
  NetworkState<double> state = whole.initial_state(5);
  const SymbolWindow w = ragged_window(5, 4, rng);
  const arma::mat mask = arma::conv_to<arma::mat>::from(w.mask);
  whole.params().zero_gradients();
  const HeadLoss loss = whole.forward(w.symbols, &mask, &w.reset, state, nullptr);
  whole.backward(1.0 / static_cast<double>(loss.count));

  const auto update = sharded.step(w, 0.0, false);  // rate 0: gradients only
  REQUIRE(update.applied);
  CHECK(update.loss.count == loss.count);
  CHECK_THAT(update.loss.nll_sum, Catch::Matchers::WithinRel(loss.nll_sum, 1e-12));
  CHECK_THAT(arma::mat(sharded.network().params().gradients()),
             IsNear(arma::mat(whole.params().gradients()), 1e-12, 1e-14));
  CHECK_THAT(update.gradient_norm,
             Catch::Matchers::WithinRel(arma::norm(whole.params().gradients()), 1e-12));

  SECTION("the carried state continues the streams in the next window") {
    const SymbolWindow next = ragged_window(5, 3, rng);
    const arma::mat next_mask = arma::conv_to<arma::mat>::from(next.mask);
    whole.params().zero_gradients();
    const HeadLoss l2 = whole.forward(next.symbols, &next_mask, &next.reset, state, nullptr);
    const auto u2 = sharded.step(next, 0.0, false);
    CHECK_THAT(u2.loss.nll_sum, Catch::Matchers::WithinRel(l2.nll_sum, 1e-12));
  }
}

TEST_CASE("WindowTrainer: an update is one optimizer step on the clipped gradient",
          "[rnn-trainer]") {
  const NetworkConfig config = small_config(CellType::lstm);
  OptimizerOptions sgd;
  sgd.kind = OptimizerKind::sgd;
  WindowTrainer<double> trainer(config, 4, 2, sgd, 0.5, 3);
  Rng rng = make_rng(5);
  trainer.network().init(rng);
  trainer.sync_parameters();
  const arma::vec before = trainer.network().params().values();
  const SymbolWindow w = ragged_window(4, 5, rng);
  const auto u = trainer.step(w, 0.1, false);
  REQUIRE(u.applied);
  const arma::vec& g = trainer.network().params().gradients();
  // The norm before clipping is reported; the applied gradient has norm min(norm, 0.5).
  CHECK_THAT(arma::norm(g), Catch::Matchers::WithinRel(std::min(u.gradient_norm, 0.5), 1e-12));
  CHECK_THAT(arma::mat(trainer.network().params().values()),
             IsNear(arma::mat(before - 0.1 * g), 1e-12, 1e-15));
}

TEST_CASE("WindowTrainer: same seed and thread count, same bits; other thread counts agree",
          "[rnn-trainer]") {
  NetworkConfig config = small_config(CellType::gru);
  config.dropout = 0.2;
  const auto train = [&](unsigned threads, bool dropout) {
    OptimizerOptions adam;
    WindowTrainer<float> t(config, 6, threads, adam, 5.0, 9);
    Rng init = make_rng(1);
    t.network().init(init);
    t.sync_parameters();
    Rng data = make_rng(2);
    for (int i = 0; i < 5; ++i) t.step(ragged_window(6, 8, data), 1e-2, dropout);
    return arma::fvec(t.network().params().values());
  };
  // With dropout (one mask stream per shard) the bits repeat for the same thread count...
  CHECK(arma::approx_equal(train(2, true), train(2, true), "absdiff", 0.0f));
  // ...and without it the thread count changes only the rounding.
  const arma::fvec one = train(1, false), two = train(2, false);
  CHECK_THAT(arma::conv_to<arma::mat>::from(two), IsNear(arma::conv_to<arma::mat>::from(one), 1e-4, 1e-5));
}

TEST_CASE("WindowTrainer: a window without real steps changes nothing", "[rnn-trainer]") {
  const NetworkConfig config = small_config(CellType::elman);
  WindowTrainer<float> t(config, 3, 2, OptimizerOptions{}, 1.0, 1);
  Rng rng = make_rng(3);
  t.network().init(rng);
  t.sync_parameters();
  const arma::fvec before = t.network().params().values();
  SymbolWindow empty;
  empty.symbols.zeros(3, 4);
  empty.mask.zeros(3, 4);
  empty.reset.zeros(3);
  const auto u = t.step(empty, 1e-2, false);
  CHECK_FALSE(u.applied);
  CHECK(u.loss.count == 0);
  CHECK(arma::approx_equal(before, t.network().params().values(), "absdiff", 0.0f));
}

TEST_CASE("WindowTrainer: element clipping clamps every gradient element before the norm clip",
          "[rnn-trainer]") {
  const NetworkConfig config = small_config(CellType::lstm);
  OptimizerOptions sgd;
  sgd.kind = OptimizerKind::sgd;
  WindowTrainer<double> plain(config, 4, 1, sgd, 0.0, 3), clamped(config, 4, 2, sgd, 0.0, 3);
  clamped.set_clip_value(1e-3);
  Rng rng = make_rng(8);
  plain.network().init(rng);
  plain.sync_parameters();
  clamped.network().params().values() = plain.network().params().values();
  clamped.sync_parameters();
  Rng data = make_rng(9);
  const SymbolWindow w = ragged_window(4, 6, data);
  plain.step(w, 0.0, false);
  clamped.step(w, 0.0, false);
  const arma::vec expected = arma::clamp(plain.network().params().gradients(), -1e-3, 1e-3);
  REQUIRE(arma::abs(plain.network().params().gradients()).max() > 1e-3);  // clipping bites
  CHECK_THAT(arma::mat(clamped.network().params().gradients()), IsNear(arma::mat(expected), 1e-12, 1e-15));
  CHECK_THROWS_AS(clamped.set_clip_value(-1.0), std::invalid_argument);
}
