// tests/unit/test_rnn_tasks.cpp: whole-sequence and bidirectional layers and the sequence-level task
// network (classification and regression heads).
//
// What is checked and against what:
//   * backward of Unidirectional / Bidirectional layers over every cell type, and of the whole
//     task network (1- and 2-layer, bidirectional stacks, both heads, symbols and frames), against
//     finite differences of their own forward, on ragged prefix masks (lengths S, S-2, 1, 0);
//   * the reverse direction against the cell run by hand over the reversed real steps, with
//     garbage in the padding.
//
// Gradient-check settings (as the cell tests): double precision; outputs projected to a scalar
// with a fixed random r (seeded); fourth-order central differences with h = 1e-4 * max(1, |p|)
// (test_support's fourth_order_gradient_check); pass when |g - fd| / max(|g|, |fd|, 1e-8) < 1e-6
// at every index (whole networks: or |g - fd| < 1e-11, see kNoiseMargin). Sizes D = 3, H = 4,
// B = 4, S = 5.
#include <cmath>
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/models/rnn/bidirectional.hpp"
#include "seqlab/models/rnn/task_network.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::rnn;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

constexpr arma::uword kInput = 3, kHidden = 4, kStreams = 4, kSteps = 5;
constexpr arma::uword kColumns = kStreams * kSteps;
constexpr double kTolerance = 1e-6;
// The whole-network checks differentiate a mean loss of about 1 through hundreds of parameters, a
// few of whose gradients land near 1e-7 by chance; there the stencil's rounding noise (up to
// about 1.5 eps |L| / h = 2e-12) alone is 1e-6 relative. An element passes when
// |g - fd| <= 1e-12 (Catch2's WithinRel || WithinAbs); every other one must meet 1e-6 relative.
constexpr double kNoiseMargin = 1e-12;

arma::mat gaussian(arma::uword rows, arma::uword cols, Rng& rng, double scale = 1.0) {
  arma::mat m(rows, cols);
  for (double& v : m) v = scale * standard_normal(rng);
  return m;
}

// B x S (the memory of a 1 x N time-major mask): stream b has lengths[b] real steps.
arma::mat prefix_mask(const std::vector<arma::uword>& lengths, arma::uword steps) {
  arma::mat mask(lengths.size(), steps, arma::fill::zeros);
  for (arma::uword b = 0; b < lengths.size(); ++b)
    for (arma::uword t = 0; t < lengths[b]; ++t) mask(b, t) = 1.0;
  return mask;
}

// Ragged: full, two short of full, a single step, and an empty row.
const std::vector<arma::uword> kRagged = {kSteps, kSteps - 2, 1, 0};

void require_gradient(const std::string& what, const test::GradientCheck& r) {
  INFO(what << ": worst relative error " << r.worst << " at index " << r.index << " (analytic "
            << r.analytic << ", finite difference " << r.numeric << "); beyond the margin "
            << r.worst_beyond_margin);
  CHECK(r.worst_beyond_margin < kTolerance);
}

// A layer, its parameters (random, biases included) and a random window with garbage padding.
template <class Layer>
struct LayerFixture {
  Layer layer;
  ParameterSet<double> params;
  arma::mat x, r, r_final, mask;

  LayerFixture(Layer l, std::uint64_t seed) : layer(std::move(l)) {
    Rng rng = make_rng(seed);
    layer.register_parameters(params, "l0.");
    params.allocate();
    layer.init(params, rng);
    params.values() = arma::vectorise(gaussian(params.size(), 1, rng, 0.6));
    x = gaussian(kInput, kColumns, rng);
    r = gaussian(layer.output_size(), kColumns, rng);
    r_final = gaussian(layer.output_size(), kStreams, rng);
    mask = prefix_mask(kRagged, kSteps);
  }

  // L = sum over real columns of r . out (padding columns must be 0 anyway).
  double loss() {
    arma::mat out;
    layer.forward(params, x, kStreams, &mask, out);
    return arma::accu(out % r);
  }
  double final_loss() {
    arma::mat out, features;
    layer.forward(params, x, kStreams, &mask, out);
    layer.final_output(features);
    return arma::accu(features % r_final);
  }
};

template <class Layer>
void check_layer_gradients(Layer layer, const std::string& label) {
  CAPTURE(label);
  LayerFixture<Layer> f(std::move(layer), 20261123);
  arma::mat out, d_x;
  f.params.zero_gradients();
  f.layer.forward(f.params, f.x, kStreams, &f.mask, out);
  // Padding columns of the output are zero, so r there has no effect on L.
  for (arma::uword i = 0; i < kColumns; ++i)
    if (f.mask(i) == 0.0) CHECK(arma::all(out.col(i) == 0.0));
  f.layer.backward(f.params, f.x, &f.mask, f.r, &d_x);
  const arma::vec d_params = f.params.gradients();
  REQUIRE(arma::abs(d_params).max() > 0.0);
  const auto loss = [&] { return f.loss(); };
  require_gradient(label + " parameters, all outputs",
                   test::fourth_order_gradient_check(f.params.values().memptr(), f.params.size(),
                                                     d_params.memptr(), loss));
  require_gradient(label + " inputs, all outputs",
                   test::fourth_order_gradient_check(f.x.memptr(), f.x.n_elem, d_x.memptr(), loss));
  for (arma::uword i = 0; i < kColumns; ++i)
    if (f.mask(i) == 0.0) CHECK(arma::all(d_x.col(i) == 0.0));

  arma::mat features;
  f.params.zero_gradients();
  f.layer.forward(f.params, f.x, kStreams, &f.mask, out);
  f.layer.final_output(features);
  REQUIRE(features.n_rows == f.layer.output_size());
  REQUIRE(features.n_cols == kStreams);
  CHECK(arma::all(features.col(3) == 0.0));  // the empty stream
  f.layer.backward_final(f.params, f.x, &f.mask, f.r_final, &d_x);
  const arma::vec d_final = f.params.gradients();
  const auto final_loss = [&] { return f.final_loss(); };
  require_gradient(label + " parameters, final output",
                   test::fourth_order_gradient_check(f.params.values().memptr(), f.params.size(),
                                                     d_final.memptr(), final_loss));
  require_gradient(label + " inputs, final output",
                   test::fourth_order_gradient_check(f.x.memptr(), f.x.n_elem, d_x.memptr(),
                                                     final_loss));
}

template <template <class> class Cell, class... Args>
void check_both_kinds(const std::string& label, const Args&... args) {
  SECTION(label + ", bidirectional") {
    check_layer_gradients(Bidirectional<Cell<double>>(Cell<double>(kInput, kHidden, args...),
                                                      Cell<double>(kInput, kHidden, args...)),
                          label + " bidirectional");
  }
  SECTION(label + ", unidirectional") {
    check_layer_gradients(Unidirectional<Cell<double>>(Cell<double>(kInput, kHidden, args...)),
                          label + " unidirectional");
  }
}

// ---- task networks ----------------------------------------------------------------------------

struct TaskCase {
  std::string label;
  CellType cell;
  SequenceKind kind;
  Task task;
  arma::uword layers;
  bool bidirectional;
  bool train_tau = false;
  GruVariant variant = GruVariant::cho;
};

TaskNetworkConfig task_config(const TaskCase& c) {
  TaskNetworkConfig config;
  config.task = c.task;
  config.kind = c.kind;
  config.input_size = c.kind == SequenceKind::symbols ? 5 : 3;
  config.embedding = 3;
  config.cell = c.cell;
  config.hidden = kHidden;
  config.layers = c.layers;
  config.bidirectional = c.bidirectional;
  config.leaky.tau = arma::vec{2.5};
  config.leaky.train_tau = c.train_tau;
  config.gru_variant = c.variant;
  config.outputs = c.task == Task::classify ? 3 : 2;
  return config;
}

// A minibatch in the network's layout: B x S symbols or d x N frames, labels or targets.
struct TaskBatch {
  arma::umat symbols;
  arma::mat frames;
  arma::umat labels;
  arma::mat targets;
  arma::mat mask;
};

TaskBatch random_batch(const TaskNetworkConfig& config, Rng& rng,
                       const std::vector<arma::uword>& lengths, arma::uword steps) {
  TaskBatch t;
  const arma::uword streams = lengths.size();
  t.mask = prefix_mask(lengths, steps);
  if (config.kind == SequenceKind::symbols) {
    t.symbols.set_size(streams, steps);
    for (auto& s : t.symbols) s = uniform_index(rng, config.input_size);
  } else {
    t.frames.set_size(config.input_size, streams * steps);
    for (auto& x : t.frames)
      x = config.kind == SequenceKind::binary_frames ? (uniform01(rng) < 0.5 ? 1.0 : 0.0)
                                                      : standard_normal(rng);
  }
  t.labels.set_size(1, streams);
  for (auto& l : t.labels) l = uniform_index(rng, config.outputs);
  t.targets = gaussian(config.outputs, streams, rng);
  return t;
}

void encode(TaskNetwork<double>& net, const TaskBatch& t) {
  if (net.config().kind == SequenceKind::symbols)
    net.encode(t.symbols, &t.mask);
  else
    net.encode(t.frames, t.mask.n_rows, &t.mask);
}

TaskLoss batch_loss(TaskNetwork<double>& net, const TaskBatch& t) {
  encode(net, t);
  return net.config().task == Task::classify ? net.loss(t.labels) : net.loss(t.targets);
}

// Symbols 0..V-1 of a sequence, as a set of one kind.
}  // namespace

TEST_CASE("real_prefix reads lengths and mirrors each row's real steps", "[rnn-tasks]") {
  const arma::mat mask = prefix_mask({3, 1, 0}, 4);  // B = 3, S = 4
  RealPrefix p;
  real_prefix<double>(&mask, 3, 4, p);
  CHECK(arma::all(p.lengths == arma::uvec{3, 1, 0}));
  // Stream 0: steps 0, 1, 2 -> 2, 1, 0 (columns 0, 3, 6 -> 6, 3, 0); padding stays.
  CHECK(arma::all(p.mirror == arma::uvec{6, 1, 2, 3, 4, 5, 0, 7, 8, 9, 10, 11}));
  real_prefix<double>(nullptr, 2, 3, p);
  CHECK(arma::all(p.lengths == arma::uvec{3, 3}));
  CHECK(arma::all(p.mirror == arma::uvec{4, 5, 2, 3, 0, 1}));
  arma::mat holes = prefix_mask({2, 2}, 3);
  holes(0, 0) = 0.0;
  CHECK_THROWS_AS(real_prefix<double>(&holes, 2, 3, p), std::invalid_argument);
}

TEST_CASE("whole-sequence layer backward matches finite differences on ragged masks",
          "[rnn-tasks]") {
  check_both_kinds<ElmanCell>("elman tanh", Activation::tanh);
  check_both_kinds<ElmanCell>("elman relu", Activation::relu);
  check_both_kinds<LeakyCell>("leaky, trained tau",
                              LeakyOptions{Activation::tanh, arma::vec{1.5, 2.0, 3.0, 6.0}, true});
  check_both_kinds<LstmCell>("lstm");
  check_both_kinds<GruCell>("gru cho", GruVariant::cho);
  check_both_kinds<GruCell>("gru pytorch", GruVariant::pytorch);
}

TEST_CASE("the reverse direction reads each stream's real steps backwards, never padding first",
          "[rnn-tasks]") {
  const int which = GENERATE(0, 1, 2, 3);
  CAPTURE(which);
  Rng rng = make_rng(31 + which);
  const auto run = [&](auto forward_cell, auto reverse_cell) {
    using Cell = decltype(forward_cell);
    Bidirectional<Cell> layer(forward_cell, reverse_cell);
    ParameterSet<double> params;
    layer.register_parameters(params, "");
    params.allocate();
    layer.init(params, rng);
    // Nonzero biases too: a state that ran over padding would show it.
    params.values() = arma::vectorise(gaussian(params.size(), 1, rng, 0.5));
    const std::vector<arma::uword> lengths = {kSteps, 2, 3, 1};
    const arma::mat mask = prefix_mask(lengths, kSteps);
    arma::mat x = gaussian(kInput, kColumns, rng);
    for (arma::uword i = 0; i < kColumns; ++i)
      if (mask(i) == 0.0) x.col(i).fill(7.0);  // garbage that must never be read
    arma::mat out, features;
    layer.forward(params, x, kStreams, &mask, out);
    layer.final_output(features);

    for (arma::uword b = 0; b < kStreams; ++b) {
      CAPTURE(b);
      const arma::uword n = lengths[b];
      // The reverse cell alone (prefix "reverse.") over x_n, ..., x_1 as one stream.
      arma::mat reversed(kInput, n), alone_fwd, alone_rev, forward_in(kInput, n);
      for (arma::uword t = 0; t < n; ++t) {
        reversed.col(t) = x.col((n - 1 - t) * kStreams + b);
        forward_in.col(t) = x.col(t * kStreams + b);
      }
      Cell fwd = layer.forward_cell(), rev = layer.reverse_cell();
      RecurrentState<double> zero{arma::mat(kHidden, 1, arma::fill::zeros), {}};
      if (Cell::has_cell_state) zero.c.zeros(kHidden, 1);
      fwd.forward(params, forward_in, zero, nullptr, alone_fwd);
      rev.forward(params, reversed, zero, nullptr, alone_rev);
      for (arma::uword t = 0; t < n; ++t) {
        const arma::vec column = out.col(t * kStreams + b);
        CHECK_THAT(arma::mat(column.head(kHidden)), test::IsNear(alone_fwd.col(t), 1e-13, 1e-15));
        CHECK_THAT(arma::mat(column.tail(kHidden)),
                   test::IsNear(alone_rev.col(n - 1 - t), 1e-13, 1e-15));
      }
      // Final representation: forward after x_n, reverse after x_1.
      CHECK_THAT(arma::mat(features.col(b).head(kHidden)),
                 test::IsNear(alone_fwd.col(n - 1), 1e-13, 1e-15));
      CHECK_THAT(arma::mat(features.col(b).tail(kHidden)),
                 test::IsNear(alone_rev.col(n - 1), 1e-13, 1e-15));
    }
  };
  if (which == 0) run(ElmanCell<double>(kInput, kHidden), ElmanCell<double>(kInput, kHidden));
  if (which == 1) {
    const LeakyOptions o{Activation::tanh, arma::vec{3.0}, false};
    run(LeakyCell<double>(kInput, kHidden, o), LeakyCell<double>(kInput, kHidden, o));
  }
  if (which == 2) run(LstmCell<double>(kInput, kHidden), LstmCell<double>(kInput, kHidden));
  if (which == 3)
    run(GruCell<double>(kInput, kHidden, GruVariant::pytorch),
        GruCell<double>(kInput, kHidden, GruVariant::pytorch));
}

TEST_CASE("the task network's loss gradient matches finite differences", "[rnn-tasks]") {
  const TaskCase c = GENERATE(
      TaskCase{"2-layer bidirectional lstm, symbols, classify", CellType::lstm,
               SequenceKind::symbols, Task::classify, 2, true},
      TaskCase{"2-layer bidirectional gru pytorch, vectors, regress", CellType::gru,
               SequenceKind::vectors, Task::regress, 2, true, false, GruVariant::pytorch},
      TaskCase{"2-layer bidirectional elman, binary frames, classify", CellType::elman,
               SequenceKind::binary_frames, Task::classify, 2, true},
      TaskCase{"bidirectional leaky with trained tau, symbols, regress", CellType::leaky,
               SequenceKind::symbols, Task::regress, 1, true, true},
      TaskCase{"unidirectional gru cho, vectors, classify", CellType::gru, SequenceKind::vectors,
               Task::classify, 1, false},
      TaskCase{"2-layer unidirectional lstm, symbols, regress", CellType::lstm,
               SequenceKind::symbols, Task::regress, 2, false});
  CAPTURE(c.label);
  TaskNetwork<double> net(task_config(c));
  Rng rng = make_rng(17);
  // Every parameter N(0, 0.6^2), as in the layer checks: the initial values' structure (zero
  // biases, orthogonal blocks) would leave some gradients near the differences' noise floor.
  net.params().values() = arma::vectorise(gaussian(net.params().size(), 1, rng, 0.6));
  const TaskBatch batch = random_batch(net.config(), rng, kRagged, kSteps);

  net.params().zero_gradients();
  const TaskLoss l = batch_loss(net, batch);
  CHECK(l.count == (c.task == Task::classify ? kStreams : kStreams * 2));
  const double scale = 1.0 / static_cast<double>(l.count);
  net.backward(scale);
  const arma::vec analytic = net.params().gradients();
  REQUIRE(arma::abs(analytic).max() > 0.0);
  const auto loss = [&] { return scale * batch_loss(net, batch).sum; };
  const test::GradientCheck r = test::fourth_order_gradient_check(
      net.params().values().memptr(), net.params().size(), analytic.memptr(), loss,
      kNoiseMargin);
  std::string block;
  for (const auto& b : net.params().blocks())
    if (r.index >= b.offset && r.index < b.offset + b.size()) block = b.name;
  require_gradient(c.label + " (worst block " + block + ")", r);
  if (c.bidirectional) CHECK(net.params().contains("l0.reverse.weight_hh"));
  if (c.layers == 2)
    CHECK(net.params().value("l1.weight_ih").n_cols == net.feature_size());
}

TEST_CASE("the squared-error head's gradients match finite differences", "[rnn-tasks]") {
  Rng rng = make_rng(19);
  arma::mat weight = gaussian(2, 5, rng), bias = gaussian(2, 1, rng);
  arma::mat features = gaussian(5, 4, rng);
  const arma::mat targets = gaussian(2, 4, rng);
  arma::mat out, d_features, d_weight(2, 5, arma::fill::zeros), d_bias(2, 1, arma::fill::zeros);
  const TaskLoss l = squared_error_head_forward(weight, bias, features, targets, out);
  CHECK_THAT(l.sum, WithinRel(arma::accu(arma::square(weight * features +
                                                      arma::repmat(bias, 1, 4) - targets)),
                              1e-14));
  CHECK(l.count == 8);
  squared_error_head_backward(weight, features, targets, out, 0.25, d_features, d_weight, d_bias);
  const auto loss = [&] {
    arma::mat o;
    return 0.25 * squared_error_head_forward(weight, bias, features, targets, o).sum;
  };
  require_gradient("weight", test::fourth_order_gradient_check(weight.memptr(), weight.n_elem,
                                                               d_weight.memptr(), loss));
  require_gradient("bias", test::fourth_order_gradient_check(bias.memptr(), bias.n_elem,
                                                             d_bias.memptr(), loss));
  require_gradient("features", test::fourth_order_gradient_check(
                                   features.memptr(), features.n_elem, d_features.memptr(), loss));
}

