// tests/unit/test_rnn_tasks.cpp: whole-sequence and bidirectional layers, the sequence-level task
// network (classification and regression heads), RnnTaskModel and its files; in the [slow] suite
// the functional tasks (adding problem, copy after a delay, a bidirectional classification).
//
// What is checked and against what:
//   * backward of Unidirectional / Bidirectional layers over every cell type, and of the whole
//     task network (1- and 2-layer, bidirectional stacks, both heads, symbols and frames), against
//     finite differences of their own forward, on ragged prefix masks (lengths S, S-2, 1, 0);
//   * the reverse direction against the cell run by hand over the reversed real steps, with
//     garbage in the padding, and a padded batch against each sequence scored alone;
//   * closed forms: zero weights give uniform class probabilities (NLL = log K exactly), the
//     regression baseline is the targets' variance;
//   * model files: save/load gives identical outputs; bad files and data give one-line errors;
//   * against PyTorch: converted torch SeqlabTaskModels (bidirectional LSTM and GRU, relu RNN),
//     whose outputs for one packed batch are recorded in tests/fixtures/rnn/golden_task_*;
//   * training: a small bidirectional GRU learns a label made of both ends of short sequences,
//     early stopping keeps the best epoch, and a seed fixes the result.
//
// Gradient-check settings (as the cell tests): double precision; outputs projected to a scalar
// with a fixed random r (seeded); fourth-order central differences with h = 1e-4 * max(1, |p|)
// (test_support's fourth_order_gradient_check); pass when |g - fd| / max(|g|, |fd|, 1e-8) < 1e-6
// at every index (whole networks: or |g - fd| <= 1e-12, see kNoiseMargin). Sizes D = 3, H = 4,
// B = 4, S = 5.
#include <H5Cpp.h>

#include <cmath>
#include <fstream>
#include <sstream>
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/rnn/bidirectional.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "seqlab/models/rnn/task_model.hpp"
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
SequenceSet symbol_sets(const std::vector<arma::uvec>& sequences) {
  return test::symbol_set(sequences);
}

Alphabet letters(const std::string& symbols) {
  std::vector<std::string> names;
  for (char c : symbols) names.emplace_back(1, c);
  return Alphabet(names);
}

void expect_one_line_error(const std::function<void()>& f, const std::string& expected) {
  try {
    f();
    FAIL("no error; expected: " << expected);
  } catch (const UserError& e) {
    const std::string what = e.what();
    INFO(what);
    CHECK(what.find('\n') == std::string::npos);
    CHECK_THAT(what, Contains(expected));
  }
}

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

TEST_CASE("zero weights give uniform class probabilities: label NLL = log K exactly",
          "[rnn-tasks]") {
  const arma::uword classes = GENERATE(2, 3, 7);
  const CellType cell = GENERATE(CellType::elman, CellType::lstm, CellType::gru);
  CAPTURE(classes, model_type_name(cell));
  RnnTaskOptions o;
  o.cell = cell;
  o.hidden = 5;
  o.bidirectional = true;
  RnnTaskModel model(Task::classify, letters("abcd"), classes, o);  // every parameter 0
  Rng rng = make_rng(3);
  SequenceSet set;
  set.kind = SequenceKind::symbols;
  for (arma::uword i = 0; i < 9; ++i) {
    arma::uvec s(1 + uniform_index(rng, 12));
    for (auto& v : s) v = uniform_index(rng, 4);
    set.symbols.push_back(s);
    set.labels.push_back(static_cast<arma::sword>(i % classes));
  }
  const arma::mat log_p = model.predict(set);
  CHECK(arma::all(arma::vectorise(log_p) == -std::log(static_cast<double>(classes))));
  const TaskMetrics m = model.evaluate(set);
  CHECK(m.sequences == 9);
  CHECK_THAT(m.nll_nats(), WithinRel(std::log(static_cast<double>(classes)), 1e-15));
  CHECK_THAT(m.nll_bits(), WithinRel(std::log2(static_cast<double>(classes)), 1e-15));
  // Ties go to class 0: exactly the sequences labelled 0 count as correct.
  const double zeros = static_cast<double>((9 + classes - 1) / classes);
  CHECK_THAT(m.accuracy(), WithinRel(zeros / 9.0, 1e-15));
}

TEST_CASE("regression metrics: zero weights predict the bias; the baseline is the variance",
          "[rnn-tasks]") {
  RnnTaskOptions o;
  o.cell = CellType::gru;
  o.hidden = 3;
  RnnTaskModel model(Task::regress, SequenceKind::vectors, 2, 1, o);
  arma::vec values = model.network().params().values();
  values.tail(1).fill(0.5);  // head.bias is the last block
  model.set_parameters(values);
  SequenceSet set;
  set.kind = SequenceKind::vectors;
  for (double t : {1.0, 2.0, 3.0, 4.0}) {
    set.frames.push_back(arma::mat(2, 3, arma::fill::ones) * t);
    set.targets.push_back(arma::vec{t});
  }
  const TaskMetrics m = model.evaluate(set);
  // (0.5^2 + 1.5^2 + 2.5^2 + 3.5^2) / 4 = 5.25; the mean 2.5 leaves variance 1.25.
  CHECK_THAT(m.mse(), WithinRel(5.25, 1e-15));
  CHECK_THAT(m.baseline_mse(), WithinRel(1.25, 1e-15));
  CHECK_THAT(arma::mat(model.predict(set)), test::IsNear(arma::mat(1, 4, arma::fill::value(0.5)), 0.0));
}

TEST_CASE("a saved and loaded task model gives identical outputs", "[rnn-tasks]") {
  const CellType cell = GENERATE(CellType::elman, CellType::leaky, CellType::lstm, CellType::gru);
  const bool bidirectional = GENERATE(false, true);
  const SequenceKind kind = GENERATE(SequenceKind::symbols, SequenceKind::vectors);
  CAPTURE(model_type_name(cell), bidirectional, to_string(kind));
  RnnTaskOptions o;
  o.cell = cell;
  o.hidden = 4;
  o.layers = 2;
  o.embedding = 3;
  o.bidirectional = bidirectional;
  if (cell == CellType::leaky) {
    o.tau = 2.5;
    o.train_tau = true;
  }
  if (cell == CellType::gru) o.gru_variant = GruVariant::pytorch;
  const Task task = kind == SequenceKind::symbols ? Task::classify : Task::regress;
  RnnTaskModel model = kind == SequenceKind::symbols
                           ? RnnTaskModel(task, letters("xyz"), 3, o)
                           : RnnTaskModel(task, kind, 2, 2, o);
  model.initialize(5);
  test::ScratchDir dir;
  save_task_model(dir / "task.h5", model);
  CHECK(is_task_model_file(dir / "task.h5"));
  const RnnTaskModel loaded = load_task_model(dir / "task.h5");
  CHECK(loaded.type() == model_type_name(cell));
  CHECK(loaded.task() == task);
  CHECK(loaded.bidirectional() == bidirectional);
  CHECK(loaded.num_parameters() == model.num_parameters());

  Rng rng = make_rng(6);
  SequenceSet set;
  set.kind = kind;
  for (int i = 0; i < 5; ++i) {
    const arma::uword n = 2 + uniform_index(rng, 9);
    if (kind == SequenceKind::symbols) {
      arma::uvec s(n);
      for (auto& v : s) v = uniform_index(rng, 3);
      set.symbols.push_back(s);
    } else {
      set.frames.push_back(gaussian(2, n, rng));
    }
  }
  const arma::mat before = model.predict(set), after = loaded.predict(set);
  // A trained tau goes tau -> rho -> tau through the file, which is exact only to a few ulps.
  if (cell == CellType::leaky)
    CHECK_THAT(after, test::IsNear(before, 1e-12, 1e-14));
  else
    CHECK(arma::all(arma::vectorise(after == before)));
}

TEST_CASE("a batch pads sequences without changing any sequence's output", "[rnn-tasks]") {
  RnnTaskOptions o;
  o.cell = CellType::lstm;
  o.hidden = 6;
  o.bidirectional = true;
  o.layers = 2;
  RnnTaskModel model(Task::classify, letters("abc"), 4, o);
  model.initialize(9);
  Rng rng = make_rng(10);
  SequenceSet all;
  all.kind = SequenceKind::symbols;
  for (arma::uword n : {1, 7, 3, 12, 5}) {
    arma::uvec s(n);
    for (auto& v : s) v = uniform_index(rng, 3);
    all.symbols.push_back(s);
  }
  const arma::mat together = model.predict(all);
  for (std::size_t i = 0; i < all.size(); ++i) {
    const arma::mat alone = model.predict(test::symbol_set({all.symbols[i]}));
    CHECK_THAT(alone, test::IsNear(together.col(i), 1e-13, 1e-15));
  }
}

TEST_CASE("task models reject data without labels or targets and bad files, in one line",
          "[rnn-tasks]") {
  SECTION("missing annotations name the data and what was expected") {
    const SequenceSet plain = symbol_sets({arma::uvec{0, 1}, arma::uvec{1}});
    expect_one_line_error([&] { require_task_data(plain, Task::classify, "train: dataset 'x'"); },
                          "train: dataset 'x' has no class labels (expected one label per "
                          "sequence to classify)");
    expect_one_line_error([&] { require_task_data(plain, Task::regress, "eval: dataset 'x'"); },
                          "eval: dataset 'x' has no regression targets");
    SequenceSet unlabelled = plain;
    unlabelled.labels = {1, -1};
    expect_one_line_error([&] { require_task_data(unlabelled, Task::classify, "d"); },
                          "sequence 1 has no class label");
  }
  SECTION("labels outside the model's classes, and a fit on the wrong kind") {
    RnnTaskOptions o;
    o.hidden = 3;
    RnnTaskModel model(Task::classify, letters("ab"), 2, o);
    SequenceSet set = symbol_sets({arma::uvec{0, 1}});
    set.labels = {2};
    expect_one_line_error([&] { model.evaluate(set); }, "has label 2, the model has 2 classes");
    SequenceSet frames;
    frames.kind = SequenceKind::vectors;
    frames.frames.push_back(arma::mat(2, 3, arma::fill::zeros));
    frames.labels = {0};
    expect_one_line_error([&] { model.fit(frames, nullptr, FitOptions{}, nullptr); },
                          "holds vectors, the model was built for symbols");
  }
  SECTION("files") {
    RnnTaskOptions o;
    o.hidden = 3;
    o.bidirectional = true;
    RnnTaskModel model(Task::classify, letters("ab"), 2, o);
    model.initialize(1);
    test::ScratchDir dir;
    const auto path = dir / "bi.h5";
    save_task_model(path, model);
    // A task model is not a sequence model: load_model says so instead of misreading it.
    expect_one_line_error([&] { load_model(path); },
                          "holds a sequence-level task model (task 'classify'): it gives task "
                          "metrics, not a sequence likelihood");
    RnnOptions ro;
    ro.hidden = 3;
    RnnModel next_step(letters("ab"), ro);
    save_model(dir / "lstm.h5", next_step);
    CHECK_FALSE(is_task_model_file(dir / "lstm.h5"));
    CHECK_FALSE(is_task_model_file(dir / "missing.h5"));
    expect_one_line_error([&] { load_task_model(dir / "lstm.h5"); },
                          "is a sequence model, not a sequence-level task model");
    h5::quiet_errors();
    {
      H5::H5File file(path.string(), H5F_ACC_RDWR);
      H5::Group rnn = file.openGroup("/rnn");
      rnn.unlink("weight_hh_l0_reverse");
      h5::write_mat(rnn, "weight_hh_l0_reverse", arma::mat(12, 2, arma::fill::zeros));
    }
    expect_one_line_error([&] { load_task_model(path); },
                          "/rnn/weight_hh_l0_reverse: is 12 x 2, expected 12 x 3");
    test::write_file(dir / "junk.h5", "not hdf5");
    expect_one_line_error([&] { load_task_model(dir / "junk.h5"); }, "not an HDF5 file");
  }
}

namespace {

// A set whose label needs both ends of the sequence: `count` sequences of uniform random symbols
// 0..3 with lengths uniform in [shortest, longest]; label = 4 x_1 + x_T (16 classes). The pair
// is additive in the logits (log p(a, b) = u_a(x_1) + w_b(x_T) suffices), so a linear head on a
// bidirectional representation can learn it, while a left-to-right network that has forgotten
// x_1 can be right at most about a quarter of the time.
SequenceSet both_ends_set(arma::uword count, arma::uword shortest, arma::uword longest, Rng& rng) {
  SequenceSet set;
  set.kind = SequenceKind::symbols;
  for (arma::uword i = 0; i < count; ++i) {
    arma::uvec s(shortest + uniform_index(rng, longest - shortest + 1));
    for (auto& v : s) v = uniform_index(rng, 4);
    set.symbols.push_back(s);
    set.labels.push_back(static_cast<arma::sword>(4 * s(0) + s(s.n_elem - 1)));
  }
  return set;
}

}  // namespace

TEST_CASE("a small bidirectional GRU learns a label that depends on both ends", "[rnn-tasks]") {
  Rng rng = make_rng(41);
  const SequenceSet train = both_ends_set(400, 2, 8, rng);
  const SequenceSet valid = both_ends_set(100, 2, 8, rng);
  const SequenceSet test = both_ends_set(200, 2, 8, rng);
  RnnTaskOptions o;
  o.cell = CellType::gru;
  o.hidden = 8;
  o.embedding = 4;
  o.bidirectional = true;
  o.batch = 16;
  o.epochs = 30;
  o.learning_rate = 1e-2;
  o.patience = 5;
  RnnTaskModel model(Task::classify, letters("abcd"), 16, o);
  FitOptions fit;
  fit.seed = 3;
  model.fit(train, &valid, fit, nullptr);
  const TaskMetrics m = model.evaluate(test);
  INFO("test accuracy " << m.accuracy() << ", label NLL " << m.nll_nats() << " nats after "
                        << model.last_fit().epochs << " epochs");
  CHECK(m.accuracy() > 0.95);
  CHECK(m.nll_nats() < 0.2);
  CHECK_THAT(model.evaluate(valid).objective(),
             WithinRel(model.last_fit().best_valid_objective, 1e-6));

  SECTION("the same seed trains the same parameters") {
    RnnTaskModel again(Task::classify, letters("abcd"), 16, o);
    again.fit(train, &valid, fit, nullptr);
    CHECK(arma::all(again.network().params().values() == model.network().params().values()));
  }
}

TEST_CASE("task models compute what the PyTorch modules they were converted from compute",
          "[rnn-tasks]") {
  // tests/fixtures/rnn/make_golden_tasks.py: torch SeqlabTaskModels (packed batches, so each
  // sequence's reverse direction starts at its own last step), converted by seqlab_torch.py.
  const std::string name = GENERATE(as<std::string>{}, "lstm_bi", "gru_bi", "rnn_relu");
  CAPTURE(name);
  const RnnTaskModel model = load_task_model(test::fixture("rnn/golden_task_" + name + ".h5"));
  std::ifstream in(test::fixture("rnn/golden_task_" + name + ".txt"));
  REQUIRE(in.good());
  std::string kind_text, line;
  REQUIRE(std::getline(in, kind_text));
  SequenceSet set;
  set.kind = parse_sequence_kind(kind_text);
  REQUIRE(set.kind == model.kind());
  std::vector<arma::vec> expected;
  while (std::getline(in, line)) {
    const auto tab = line.find('\t');
    REQUIRE(tab != std::string::npos);
    const std::string steps = line.substr(0, tab);
    std::istringstream numbers(line.substr(tab + 1));
    std::vector<double> outputs;
    for (double v; numbers >> v;) outputs.push_back(v);
    expected.emplace_back(outputs);
    if (set.kind == SequenceKind::symbols) {
      arma::uvec s(steps.size());
      for (std::size_t t = 0; t < steps.size(); ++t) {
        const auto index = model.alphabet().find(std::string(1, steps[t]));
        REQUIRE(index.has_value());
        s(t) = *index;
      }
      set.symbols.push_back(s);
      continue;
    }
    std::vector<std::vector<double>> frames;
    std::istringstream by_step(steps);
    for (std::string step; std::getline(by_step, step, ';');) {
      std::istringstream by_value(step);
      frames.emplace_back();
      for (std::string v; std::getline(by_value, v, ',');) frames.back().push_back(std::stod(v));
    }
    arma::mat f(model.dimension(), frames.size());
    for (std::size_t t = 0; t < frames.size(); ++t) {
      REQUIRE(frames[t].size() == model.dimension());
      f.col(t) = arma::vec(frames[t]);
    }
    set.frames.push_back(f);
  }
  REQUIRE(set.size() == 5);
  const arma::mat got = model.predict(set);  // one padded minibatch of the 5 sequences
  for (std::size_t i = 0; i < set.size(); ++i) {
    CAPTURE(i);
    // Both sides compute in float64; only the order of sums differs.
    CHECK_THAT(arma::mat(got.col(i)), test::IsNear(expected[i], 1e-10, 1e-10));
  }
}

// ---- functional tasks ([slow]) ------------------------------------------------------------------
// Seeded, single-threaded; each prints what it reached (WARN) so the numbers can be reported.
// Thresholds, with what one run reached in brackets (release build, one core):
//   adding, T = 100, 10000 training sequences, H = 32, 20 epochs of 313 updates (Adam 2e-3,
//     clip 1): LSTM test MSE < 0.01 [1.7e-4], Elman > 0.1 [0.172]; the baseline (the test
//     targets' variance) within 0.02 of 1/6 [0.173]. About 60 s.
//   copy, 8 symbols, K = 10, delay 10, 20000 sequences, LSTM H = 128, 12 epochs (Adam 5e-3):
//     NLL per copied symbol < 0.05 nats [0.008] against log 8 = 2.08; the first, random half
//     within 0.05 of log 8 [2.090]. About 140 s.
//   both ends, lengths 30..60, 16 classes, Elman H = 16: bidirectional accuracy > 0.98 [1.0],
//     unidirectional < 0.4 [0.251: x_T alone gives 1/4]. A few seconds.
// Each threshold sits several times away from the value reached, so rounding-level changes
// (BLAS kernels, compilers) cannot flip it, while a network that does not learn misses it by far.

namespace {

SequenceDataset synthetic(const std::string& generator,
                          const std::vector<std::pair<std::string, std::string>>& settings,
                          std::uint64_t seed) {
  Options options;
  for (const auto& [key, value] : settings) options.set(key, value);
  return make_synthetic_dataset(generator, generator, options, seed);
}

}  // namespace

TEST_CASE("adding problem, T = 100: an LSTM learns it, an Elman RNN of the same size does not",
          "[rnn-tasks][slow][.]") {
  const SequenceDataset adding = synthetic(
      "adding",
      {{"length", "100"}, {"sequences", "10000"}, {"valid_sequences", "500"},
       {"test_sequences", "1000"}},
      2026);
  const auto train = [&](CellType cell) {
    RnnTaskOptions o;
    o.cell = cell;
    o.hidden = 32;
    o.batch = 32;
    o.epochs = 20;
    o.learning_rate = 2e-3;
    o.clip = 1.0;
    o.patience = 5;
    RnnTaskModel model(Task::regress, SequenceKind::vectors, 2, 1, o);
    FitOptions fit;
    fit.seed = 7;
    fit.threads = 1;
    FitObserver observer;
    observer.on_message = [](const std::string& m) { std::printf("%s\n", m.c_str()); };
    model.fit(adding.train, &adding.valid, fit, &observer);
    return model.evaluate(adding.test);
  };
  const TaskMetrics lstm = train(CellType::lstm);
  const TaskMetrics elman = train(CellType::elman);
  WARN("adding T=100, test MSE: lstm " << lstm.mse() << ", elman " << elman.mse()
                                       << ", baseline (variance of the test targets) "
                                       << lstm.baseline_mse());
  CHECK(lstm.mse() < 0.01);
  CHECK(elman.mse() > 0.1);
  CHECK_THAT(lstm.baseline_mse(), WithinAbs(1.0 / 6.0, 0.02));
}

TEST_CASE("copy after a delay: an LSTM predicts the copied half", "[rnn-tasks][slow][.]") {
  const arma::uword symbols = 8, length = 10, delay = 10;
  const SequenceDataset copy = synthetic(
      "copy",
      {{"symbols", std::to_string(symbols)}, {"length", std::to_string(length)},
       {"delay", std::to_string(delay)}, {"sequences", "20000"}, {"valid_sequences", "200"},
       {"test_sequences", "500"}},
      2026);
  RnnOptions o;
  o.cell = CellType::lstm;
  o.hidden = 128;
  o.embedding = 16;
  o.window = 2 * length + delay + 1;  // one whole sequence per window
  o.batch = 32;
  o.epochs = 12;
  o.learning_rate = 5e-3;
  o.clip = 1.0;
  o.patience = 5;
  RnnModel model(copy.alphabet, o);
  FitOptions fit;
  fit.seed = 7;
  fit.threads = 1;
  FitObserver observer;
  observer.on_message = [](const std::string& m) {
    if (m.empty() || m[0] != '\r') std::printf("%s\n", m.c_str());
  };
  model.fit(copy.train, &copy.valid, fit, &observer);
  // Steps K + D + 1 .. 2K + D are the copy; the first K are fresh uniform draws.
  double copied = 0.0, fresh = 0.0;
  for (const arma::uvec& x : copy.test.symbols) {
    const arma::vec lp = model.step_log_probs(x);
    fresh -= arma::accu(lp.head(length));
    copied -= arma::accu(lp.tail(length));
  }
  const double n = static_cast<double>(copy.test.size() * length);
  copied /= n;
  fresh /= n;
  WARN("copy task (8 symbols, K = 10, delay 10), test NLL per symbol: copied half " << copied
       << " nats, first half " << fresh << " nats, log 8 = " << std::log(8.0));
  CHECK(copied < 0.05);
  CHECK_THAT(fresh, WithinAbs(std::log(8.0), 0.05));
}

TEST_CASE("a bidirectional Elman network classifies by both ends of long sequences; a "
          "unidirectional one cannot",
          "[rnn-tasks][slow][.]") {
  Rng rng = make_rng(2026);
  const SequenceSet train = both_ends_set(3000, 30, 60, rng);
  const SequenceSet valid = both_ends_set(300, 30, 60, rng);
  const SequenceSet test = both_ends_set(1000, 30, 60, rng);
  const auto train_model = [&](bool bidirectional) {
    RnnTaskOptions o;
    o.cell = CellType::elman;
    o.hidden = 16;
    o.embedding = 4;
    o.bidirectional = bidirectional;
    o.batch = 32;
    o.epochs = 15;
    o.learning_rate = 3e-3;
    o.clip = 1.0;
    o.patience = 4;
    RnnTaskModel model(Task::classify, letters("abcd"), 16, o);
    FitOptions fit;
    fit.seed = 5;
    fit.threads = 1;
    model.fit(train, &valid, fit, nullptr);
    return model.evaluate(test);
  };
  const TaskMetrics bi = train_model(true);
  const TaskMetrics uni = train_model(false);
  WARN("label = 4 x_1 + x_T (16 classes), lengths 30..60, test accuracy: bidirectional elman "
       << bi.accuracy() << " (label NLL " << bi.nll_nats() << " nats), unidirectional elman "
       << uni.accuracy() << " (label NLL " << uni.nll_nats() << " nats)");
  CHECK(bi.accuracy() > 0.98);
  // Left to right, x_1 is 30 or more tanh steps back: about a quarter right (x_T alone).
  CHECK(uni.accuracy() < 0.4);
}
