// tests/unit/test_rnn_model.cpp: the whole recurrent network and RnnModel: finite-difference
// gradients of the full training loss (embedding, two stacked layers, residual, dropout, masks,
// reset flags, a state carried in from an earlier window (delay histories included), every head,
// every cell), the prediction convention against a hand-written Elman network, scoring
// invariants, model-file round trips, learning a periodic sequence, greedy sampling, and
// one-line errors for bad options and bad files.
//
// Gradient checks: double precision, the loss scale * nll_sum of ONE window (the carried state
// is held fixed, as truncated BPTT treats it), four-point central differences
// (L at p +- h and p +- 2h) with h = 1e-4 * max(1, |p|); pass when
// |g - fd| / max(|g|, |fd|, 1e-8) < 1e-6 at every index. The two-point rule with h = 1e-6 would
// leave rounding noise of ~1e-10 absolute, too much for the small (~1e-4) gradients of some
// entries at 1e-6 relative; the four-point rule's truncation error at h = 1e-4 is ~1e-16.
#include <H5Cpp.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <functional>
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/io/hdf5.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/rnn/network.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::rnn;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

constexpr arma::uword kStreams = 3, kSteps = 5, kHidden = 4;

struct GradientCase {
  std::string label;
  CellType cell;
  SequenceKind kind;
  GruVariant variant = GruVariant::cho;
  bool train_tau = false;
  arma::uword delay = 0;
};

NetworkConfig gradient_config(const GradientCase& c) {
  NetworkConfig config;
  config.kind = c.kind;
  config.input_size = c.kind == SequenceKind::symbols ? 5 : 3;
  config.embedding = 3;
  config.cell = c.cell;
  config.hidden = kHidden;
  config.layers = 2;
  config.residual = true;
  config.dropout = 0.25;
  config.gru_variant = c.variant;
  config.leaky.tau = arma::vec{2.5};
  config.leaky.train_tau = c.train_tau;
  config.delay = c.delay;
  return config;
}

// Targets of one window in the layout the network takes: B x S symbols, or d x (S*B) frames.
struct Targets {
  arma::umat symbols;
  arma::mat frames;
};

Targets random_targets(const NetworkConfig& config, Rng& rng) {
  Targets t;
  if (config.kind == SequenceKind::symbols) {
    t.symbols.set_size(kStreams, kSteps);
    for (auto& s : t.symbols) s = uniform_index(rng, config.input_size);
  } else {
    t.frames.set_size(config.input_size, kStreams * kSteps);
    for (auto& x : t.frames)
      x = config.kind == SequenceKind::binary_frames ? (uniform01(rng) < 0.5 ? 1.0 : 0.0)
                                                      : standard_normal(rng);
  }
  return t;
}

HeadLoss run_window(Network<double>& net, const Targets& t, const arma::mat* mask,
                    const arma::uvec* reset, NetworkState<double>& state, Rng* dropout) {
  return net.config().kind == SequenceKind::symbols
             ? net.forward(t.symbols, mask, reset, state, dropout)
             : net.forward(t.frames, mask, reset, state, dropout);
}

}  // namespace

TEST_CASE("the whole network's loss gradient matches finite differences", "[rnn-model]") {
  const GradientCase c = GENERATE(
      GradientCase{"elman", CellType::elman, SequenceKind::symbols},
      GradientCase{"leaky, trained tau", CellType::leaky, SequenceKind::symbols,
                   GruVariant::cho, true},
      GradientCase{"lstm", CellType::lstm, SequenceKind::symbols},
      GradientCase{"gru cho", CellType::gru, SequenceKind::symbols},
      GradientCase{"gru pytorch, binary frames", CellType::gru, SequenceKind::binary_frames,
                   GruVariant::pytorch},
      GradientCase{"lstm, real vectors", CellType::lstm, SequenceKind::vectors},
      GradientCase{"jordan", CellType::jordan, SequenceKind::symbols},
      GradientCase{"jordan, binary frames", CellType::jordan, SequenceKind::binary_frames},
      GradientCase{"elman, delay 3", CellType::elman, SequenceKind::symbols, GruVariant::cho,
                   false, 3},
      GradientCase{"elman, delay 7 (longer than the window)", CellType::elman,
                   SequenceKind::symbols, GruVariant::cho, false, 7},
      GradientCase{"leaky, trained tau, delay 2, real vectors", CellType::leaky,
                   SequenceKind::vectors, GruVariant::cho, true, 2});
  CAPTURE(c.label);
  const NetworkConfig config = gradient_config(c);
  Network<double> net(config);
  Rng rng = make_rng(7);
  net.init(rng);
  // Away from the initial values' structure (zero biases, unit forget bias, zero delay weights).
  for (auto& v : net.params().values()) v += 0.3 * standard_normal(rng);

  // Window 1 only produces the carried state; window 2 is the one differentiated.
  NetworkState<double> carried = net.initial_state(kStreams);
  const Targets first = random_targets(config, rng);
  run_window(net, first, nullptr, nullptr, carried, nullptr);
  if (c.delay > 0) {
    REQUIRE(carried.layers[1].history.n_cols == (c.delay - 1) * kStreams);
    REQUIRE(arma::abs(carried.layers[1].history).max() > 0.0);
  }
  const Targets second = random_targets(config, rng);
  // Stream 0 runs through, stream 1 ends after 2 steps, stream 2 starts a new sequence.
  arma::mat mask(kStreams, kSteps, arma::fill::ones);
  mask(1, 2) = mask(1, 3) = mask(1, 4) = 0.0;
  const arma::uvec reset{0, 0, 1};

  const auto loss = [&](Network<double>& n, bool with_backward) {
    NetworkState<double> state = carried;
    Rng dropout = make_rng(99);  // the same dropout masks at every evaluation
    const HeadLoss l = run_window(n, second, &mask, &reset, state, &dropout);
    const double scale = 1.0 / static_cast<double>(l.count);
    if (with_backward) n.backward(scale);
    return scale * l.nll_sum;
  };
  net.params().zero_gradients();
  loss(net, true);
  const arma::vec analytic = net.params().gradients();
  REQUIRE(arma::abs(analytic).max() > 0.0);

  arma::vec& p = net.params().values();
  const test::GradientCheck r = test::fourth_order_gradient_check(
      p.memptr(), p.n_elem, analytic.memptr(), [&] { return loss(net, false); });
  std::string block;
  for (const auto& b : net.params().blocks())
    if (r.index >= b.offset && r.index < b.offset + b.size()) block = b.name;
  INFO("worst relative error " << r.worst << " at index " << r.index << " (" << block
                               << "): analytic " << r.analytic << ", finite difference "
                               << r.numeric);
  CHECK(r.worst < 1e-6);
}

TEST_CASE("the network predicts x_t from x_<t with a start input, like a hand-written Elman "
          "network", "[rnn-model]") {
  NetworkConfig config;
  config.kind = SequenceKind::symbols;
  config.input_size = 4;
  config.embedding = 3;
  config.cell = CellType::elman;
  config.hidden = 5;
  config.layers = 1;
  Network<double> net(config);
  Rng rng = make_rng(3);
  net.init(rng);
  for (auto& v : net.params().values()) v += 0.2 * standard_normal(rng);
  const arma::umat x{{2, 0, 3, 3, 1, 0, 2}};

  NetworkState<double> state = net.initial_state(1);
  net.forward(x, nullptr, nullptr, state, nullptr);
  const arma::rowvec got = net.step_log_probs();

  const auto& p = net.params();
  const arma::mat table = p.value("embedding"), w_ih = p.value("l0.weight_ih"),
                  w_hh = p.value("l0.weight_hh"), b = p.value("l0.bias"),
                  w = p.value("head.weight"), c = p.value("head.bias");
  arma::vec h(5, arma::fill::zeros);
  for (arma::uword t = 0; t < x.n_elem; ++t) {
    const arma::uword input = t == 0 ? 4 : x(t - 1);  // column 4 = the start input
    h = arma::tanh(w_ih * table.col(input) + w_hh * h + b);
    const arma::vec z = w * h + c;
    const double expected = z(x(t)) - std::log(arma::accu(arma::exp(z)));
    CAPTURE(t);
    CHECK_THAT(got(t), WithinRel(expected, 1e-12));
  }
}

namespace {

RnnOptions small_options(CellType cell, arma::uword delay = 0) {
  RnnOptions o;
  o.cell = cell;
  o.hidden = 6;
  o.layers = 2;
  o.embedding = 4;
  o.residual = true;
  if (cell == CellType::gru) o.gru_variant = GruVariant::pytorch;
  if (cell == CellType::leaky) o.tau = 3.0;
  if (cell == CellType::jordan) o.activation = Activation::relu;
  if (delay > 0) o.delay = delay;
  return o;
}

// A cell type, and a delay for rnn and leaky (0 = none).
struct ModelCase {
  CellType cell;
  arma::uword delay = 0;
};

std::string label(const ModelCase& c) {
  return model_type_name(c.cell) + (c.delay ? " delay " + std::to_string(c.delay) : "");
}

Alphabet letters(const std::string& chars) {
  std::vector<std::string> symbols;
  for (char ch : chars) symbols.emplace_back(1, ch);
  return Alphabet(symbols);
}

arma::uvec random_symbols(arma::uword n, arma::uword v, Rng& rng) {
  arma::uvec x(n);
  for (auto& s : x) s = uniform_index(rng, v);
  return x;
}

}  // namespace

namespace {

// Sets every delay weight of `model` to fixed nonzero values (they start at 0, which would hide
// a delay line that is never fed) and returns how far that moved the step log-probabilities of x.
double open_delay_path(RnnModel& model, const arma::uvec& x) {
  const arma::vec before = model.step_log_probs(x);
  arma::vec values = model.network().params().values();
  for (const auto& block : model.network().params().blocks())
    if (block.name.find("weight_hd") != std::string::npos)
      for (arma::uword i = 0; i < block.size(); ++i)
        values(block.offset + i) = 0.4 * std::sin(double(i) + 1.0);
  model.set_parameters(values);
  return arma::abs(model.step_log_probs(x) - before).max();
}

}  // namespace

TEST_CASE("log_likelihood sums step_log_probs and does not depend on the scoring window",
          "[rnn-model]") {
  const ModelCase c = GENERATE(ModelCase{CellType::elman}, ModelCase{CellType::leaky},
                               ModelCase{CellType::lstm}, ModelCase{CellType::gru},
                               ModelCase{CellType::jordan}, ModelCase{CellType::elman, 3},
                               ModelCase{CellType::leaky, 6});
  CAPTURE(label(c));
  RnnModel model(letters("abcde"), small_options(c.cell, c.delay));
  model.initialize(11);
  Rng rng = make_rng(5);
  const arma::uvec x = random_symbols(37, 5, rng);
  model.set_scoring_window(100);
  if (c.delay > 0) CHECK(open_delay_path(model, x) > 1e-3);
  const arma::vec steps = model.step_log_probs(x);
  REQUIRE(steps.n_elem == 37);
  CHECK(arma::all(steps < 0.0));
  CHECK_THAT(model.log_likelihood(x), WithinRel(arma::accu(steps), 1e-12));
  // Windows of 1 and 4 steps are shorter than the delay of 6: every delayed state of their
  // first steps comes from the carried history.
  for (arma::uword k : {1u, 4u, 36u, 37u}) {
    CAPTURE(k);
    model.set_scoring_window(k);
    CHECK_THAT(arma::mat(model.step_log_probs(x)), test::IsNear(steps, 1e-10, 1e-12));
  }
  CHECK(model.log_likelihood(arma::uvec()) == 0.0);
}

TEST_CASE("a network with a delay starts as the network without it", "[rnn-model]") {
  const CellType cell = GENERATE(CellType::elman, CellType::leaky);
  CAPTURE(model_type_name(cell));
  RnnModel plain(letters("abcd"), small_options(cell));
  RnnModel delayed(letters("abcd"), small_options(cell, 3));
  plain.initialize(5);
  delayed.initialize(5);
  CHECK(delayed.num_parameters() == plain.num_parameters() + 2 * 6 * 6);  // L H^2
  Rng rng = make_rng(6);
  const arma::uvec x = random_symbols(40, 4, rng);
  CHECK(delayed.log_likelihood(x) == plain.log_likelihood(x));
  CHECK(open_delay_path(delayed, x) > 1e-3);
}

TEST_CASE("scoring a set as parallel streams equals scoring each sequence alone",
          "[rnn-model]") {
  const CellType cell = GENERATE(CellType::elman, CellType::lstm, CellType::gru, CellType::jordan);
  const arma::uword delay = cell == CellType::elman ? 3 : 0;
  CAPTURE(model_type_name(cell));
  RnnModel model(letters("abcde"), small_options(cell, delay));
  model.initialize(21);
  if (delay > 0) {
    Rng r = make_rng(1);
    open_delay_path(model, random_symbols(20, 5, r));
  }
  model.set_scoring_window(7);  // windows shorter than most sequences: the state is carried
  Rng rng = make_rng(6);
  // 70 sequences (two batches of streams) of ragged lengths, empty ones among them.
  std::vector<arma::uvec> sequences;
  for (int i = 0; i < 70; ++i) sequences.push_back(random_symbols(i % 9 == 0 ? 0 : 1 + (i * 7) % 23, 5, rng));
  const SequenceSet set = test::symbol_set(sequences);
  const arma::vec batched = model.log_likelihoods(set);
  REQUIRE(batched.n_elem == 70);
  for (std::size_t i = 0; i < sequences.size(); ++i) {
    CAPTURE(i, sequences[i].n_elem);
    CHECK_THAT(batched(i), WithinRel(model.log_likelihood(sequences[i]), 1e-12) ||
                               WithinAbs(model.log_likelihood(sequences[i]), 1e-13));
  }
  SequenceSet bad = set;
  bad.symbols[40](0) = 9;
  CHECK_THROWS_WITH(model.log_likelihoods(bad), Contains("symbol index 9 at step 0 of sequence 40"));
}

TEST_CASE("a saved and loaded recurrent model scores bit-identically", "[rnn-model]") {
  const ModelCase c = GENERATE(ModelCase{CellType::elman}, ModelCase{CellType::leaky},
                               ModelCase{CellType::lstm}, ModelCase{CellType::gru},
                               ModelCase{CellType::jordan}, ModelCase{CellType::elman, 2},
                               ModelCase{CellType::leaky, 4});
  const CellType cell = c.cell;
  const SequenceKind kind =
      GENERATE(SequenceKind::symbols, SequenceKind::binary_frames, SequenceKind::vectors);
  CAPTURE(label(c), to_string(kind));
  const RnnOptions options = small_options(cell, c.delay);
  RnnModel model = kind == SequenceKind::symbols ? RnnModel(letters("xyz"), options)
                                                 : RnnModel(kind, 3, options);
  model.initialize(21);
  Rng rng = make_rng(8);
  // Every parameter away from its initial value (zero biases, zero delay weights), so that a
  // block the file loses cannot come back as its initial value.
  arma::vec values = model.network().params().values();
  for (auto& v : values) v += 0.2 * standard_normal(rng);
  model.set_parameters(values);
  test::ScratchDir dir;
  save_model(dir / "m.h5", model);
  const auto loaded = load_model(dir / "m.h5");
  REQUIRE(loaded->type() == model_type_name(cell));
  REQUIRE(loaded->kind() == kind);
  CHECK(loaded->num_parameters() == model.num_parameters());
  const auto& network = dynamic_cast<const RnnModel&>(*loaded);
  CHECK(network.options().delay.value_or(0) == c.delay);
  if (cell == CellType::lstm || cell == CellType::gru)
    CHECK_FALSE(network.options().activation.has_value());
  else
    CHECK(network.options().activation == options.activation.value_or(Activation::tanh));
  CHECK(arma::all(network.network().params().values() == values));
  if (kind == SequenceKind::symbols) {
    CHECK(loaded->alphabet() == model.alphabet());
    for (int i = 0; i < 3; ++i) {
      const arma::uvec x = random_symbols(25 + 10 * i, 3, rng);
      CHECK(loaded->log_likelihood(x) == model.log_likelihood(x));
    }
  } else {
    arma::mat x(3, 30);
    for (auto& v : x)
      v = kind == SequenceKind::binary_frames ? (uniform01(rng) < 0.3 ? 1.0 : 0.0)
                                              : standard_normal(rng);
    CHECK(loaded->log_likelihood(x) == model.log_likelihood(x));
    CHECK(arma::all(loaded->step_log_probs(x) == model.step_log_probs(x)));
  }
}

TEST_CASE("a trained leaky tau survives a round trip to rounding", "[rnn-model]") {
  RnnOptions options = small_options(CellType::leaky);
  options.train_tau = true;
  RnnModel model(letters("ab"), options);
  model.initialize(4);
  test::ScratchDir dir;
  save_model(dir / "leaky.h5", model);
  const auto loaded = load_model(dir / "leaky.h5");
  const arma::uvec x{0, 1, 1, 0, 1, 0, 0, 0, 1};
  // The file keeps tau itself; tau -> rho -> tau is exact only to a few ulps.
  CHECK_THAT(loaded->log_likelihood(x), WithinRel(model.log_likelihood(x), 1e-12));
}

TEST_CASE("a tiny LSTM learns a periodic sequence and replays it greedily", "[rnn-model]") {
  const Alphabet abc = letters("abc");
  arma::uvec periodic(600);
  for (arma::uword t = 0; t < periodic.n_elem; ++t) periodic(t) = t % 3;
  const SequenceSet train = test::symbol_set({periodic});
  RnnOptions options;
  options.cell = CellType::lstm;
  options.hidden = 12;
  options.embedding = 4;
  options.window = 20;
  options.batch = 4;  // 4 parts of 150 steps, each starting at 'a'
  options.epochs = 100;
  options.max_steps = 300;
  options.learning_rate = 1e-2;
  RnnModel model(abc, options);
  FitOptions fit;
  fit.seed = 5;
  fit.quiet = true;
  model.fit(train, nullptr, fit, nullptr);
  CHECK(model.last_fit().updates == 300);

  arma::uvec fresh(300);
  for (arma::uword t = 0; t < fresh.n_elem; ++t) fresh(t) = t % 3;
  const double nll = -model.log_likelihood(fresh) / 300.0;
  INFO("NLL " << nll << " nats/symbol after 300 updates");
  CHECK(nll < 0.05);

  model.set_temperature(0.0);
  Rng rng = make_rng(1);
  const arma::uvec drawn = model.sample_symbols(30, rng, arma::uvec());
  CHECK(abc.decode(drawn) == "abcabcabcabcabcabcabcabcabcabc");
  const arma::uvec continued = model.sample_symbols(7, rng, arma::uvec{0, 1});
  CHECK(abc.decode(continued) == "cabcabc");

  SECTION("the same seed trains the same parameters") {
    RnnModel again(abc, options);
    again.fit(train, nullptr, fit, nullptr);
    CHECK(arma::all(again.network().params().values() == model.network().params().values()));
  }
}

namespace {

// Uniformly random symbols over "abcd" (200 to train on, 100 to validate), and options with a
// large learning rate: a network overfits such data within a few epochs, so the valid NLL turns.
struct OverfittingSetup {
  SequenceSet train, valid;
  RnnOptions options;
};
OverfittingSetup overfitting_setup(std::uint64_t seed, CellType cell, arma::uword hidden,
                                   arma::uword epochs) {
  Rng rng = make_rng(seed);
  OverfittingSetup s;
  s.train = test::symbol_set({random_symbols(200, 4, rng)});
  s.valid = test::symbol_set({random_symbols(100, 4, rng)});
  s.options.cell = cell;
  s.options.hidden = hidden;
  s.options.window = 10;
  s.options.batch = 4;
  s.options.epochs = epochs;
  s.options.learning_rate = 3e-2;
  return s;
}

}  // namespace

TEST_CASE("early stopping keeps the epoch with the best valid NLL", "[rnn-model]") {
  const auto [train, valid, setup_options] = overfitting_setup(12, CellType::gru, 16, 30);
  RnnOptions options = setup_options;
  options.patience = 2;
  RnnModel model(letters("abcd"), options);
  FitOptions fit;
  fit.quiet = true;
  std::vector<std::string> lines;
  FitObserver observer;
  observer.on_message = [&](const std::string& m) { lines.push_back(m); };
  model.fit(train, &valid, fit, &observer);
  const RnnFitReport& r = model.last_fit();
  CHECK(r.epochs < 30);
  CHECK(r.epochs == r.best_epoch + 1 + 2);  // stopped 2 epochs after the best
  // The restored parameters are the best epoch's: their float64 score equals the float32 one
  // fit() recorded up to float rounding (1e-5 relative; a different epoch would differ by far
  // more on this overfitting setup).
  CHECK_THAT(evaluate(model, valid).nats_per_symbol(), WithinRel(r.best_valid_nll, 1e-5));
  // One line per epoch (plus the header and the stop / restore notes), none of them multi-line.
  std::size_t epoch_lines = 0;
  for (const auto& line : lines) {
    CHECK(line.find('\n') == std::string::npos);
    if (line.find("valid NLL") != std::string::npos && line.find("ETA") != std::string::npos)
      ++epoch_lines;
  }
  CHECK(epoch_lines == r.epochs);
}

TEST_CASE("valid_every scores every K-th epoch and the last, and does not change training",
          "[rnn-model]") {
  const auto [train, valid, options] = overfitting_setup(13, CellType::lstm, 8, 7);
  FitOptions fit;
  fit.quiet = true;
  const auto train_with = [&](std::uint64_t every, std::uint64_t patience,
                              std::vector<std::string>* valid_lines) {
    RnnOptions o = options;
    o.valid_every = every;
    o.patience = patience;
    RnnModel model(letters("abcd"), o);
    FitObserver observer;
    observer.on_message = [&](const std::string& m) {
      if (valid_lines && m.find("valid NLL") != std::string::npos &&
          m.find("ETA") != std::string::npos)
        valid_lines->push_back(m);
    };
    model.fit(train, &valid, fit, &observer);
    return model;
  };

  SECTION("without early stopping the parameters do not depend on how often valid is scored") {
    std::vector<std::string> lines;
    const RnnModel every_epoch = train_with(1, 0, nullptr);
    const RnnModel every_third = train_with(3, 0, &lines);
    CHECK(arma::approx_equal(every_epoch.network().params().values(),
                            every_third.network().params().values(), "absdiff", 0.0));
    // Epochs 3, 6 and the last (7) are scored.
    REQUIRE(lines.size() == 3);
    CHECK(lines[0].find("epoch 3/7") != std::string::npos);
    CHECK(lines[1].find("epoch 6/7") != std::string::npos);
    CHECK(lines[2].find("epoch 7/7") != std::string::npos);
  }

  SECTION("the kept epoch is the best checked one and patience counts checks") {
    std::vector<std::string> lines;
    const RnnModel model = train_with(2, 1, &lines);
    const RnnFitReport& r = model.last_fit();
    CAPTURE(r.epochs, r.best_epoch);
    // The checks the log shows: epochs 2, 4, 6 and 7 (1-based) until training stops.
    std::vector<arma::uword> checked;
    std::vector<double> nll;
    for (const std::string& line : lines) {
      unsigned epoch = 0;
      REQUIRE(std::sscanf(line.c_str(), "lstm: epoch %u/", &epoch) == 1);
      checked.push_back(epoch);
      nll.push_back(std::stod(line.substr(line.find("valid NLL ") + 10)));
    }
    const std::vector<arma::uword> all_checks{2, 4, 6, 7};
    REQUIRE(!checked.empty());
    CHECK(checked == std::vector<arma::uword>(all_checks.begin(),
                                              all_checks.begin() + checked.size()));
    const std::size_t best = static_cast<std::size_t>(
        std::min_element(nll.begin(), nll.end()) - nll.begin());
    CHECK(r.best_epoch + 1 == checked[best]);  // an epoch number, not a check index
    CHECK_THAT(nll[best], WithinAbs(r.best_valid_nll, 5e-5));  // the log rounds to 4 decimals
    // Patience 1: training ends at the first check after the best that does not improve, or at
    // the last epoch.
    CHECK((r.epochs == 7 || best + 2 == checked.size()));
    CHECK(r.epochs == checked.back());
    CHECK_THAT(evaluate(model, valid).nats_per_symbol(), WithinRel(r.best_valid_nll, 1e-5));
  }
}

TEST_CASE("with average_decay the fitted model is the moving average of the updates",
          "[rnn-model]") {
  // Constant rate: the first k updates of a run capped at S >= k updates are the same for every
  // S, so runs capped at 1, 2 and 3 updates give p_1, p_2 and p_3.
  const auto [train, valid, setup_options] = overfitting_setup(14, CellType::lstm, 8, 10);
  FitOptions fit;
  fit.quiet = true;
  const auto fitted = [&](std::uint64_t updates, double decay, const SequenceSet* valid_split) {
    RnnOptions o = setup_options;
    o.max_steps = updates;
    o.average_decay = decay;
    o.patience = valid_split ? 5 : 0;
    RnnModel model(letters("abcd"), o);
    model.fit(train, valid_split, fit, nullptr);
    return model;
  };
  const auto values = [](const RnnModel& m) { return arma::vec(m.network().params().values()); };
  const arma::vec p1 = values(fitted(1, 0.0, nullptr));
  const arma::vec p2 = values(fitted(2, 0.0, nullptr));
  const arma::vec p3 = values(fitted(3, 0.0, nullptr));
  // Weights 0.25, 0.5, 1 for decay 0.5; float32 rounding of the average and of each p_i.
  const arma::vec expected = (0.25 * p1 + 0.5 * p2 + p3) / 1.75;
  REQUIRE(arma::abs(p3 - expected).max() > 1e-3);  // the average is not the last iterate

  SECTION("without a valid split") {
    CHECK(arma::approx_equal(values(fitted(3, 0.5, nullptr)), expected, "both", 1e-6, 1e-6));
    CHECK(arma::approx_equal(values(fitted(1, 0.9, nullptr)), p1, "absdiff", 0.0));
  }
  SECTION("the valid check scores the average, and early stopping keeps it") {
    const RnnModel model = fitted(3, 0.5, &valid);
    CHECK(arma::approx_equal(values(model), expected, "both", 1e-6, 1e-6));
    CHECK_THAT(evaluate(model, valid).nats_per_symbol(),
               WithinRel(model.last_fit().best_valid_nll, 1e-5));
  }
}

TEST_CASE("recurrent models reject bad options and bad data with one-line user errors",
          "[rnn-model]") {
  const auto one_line = [](const std::function<void()>& f, const std::string& expected) {
    try {
      f();
      FAIL("no error; expected: " << expected);
    } catch (const UserError& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find('\n') == std::string::npos);
      CHECK_THAT(what, Contains(expected));
    }
  };
  SECTION("training options out of range or without what they need") {
    RnnOptions o;
    o.reduce_on_plateau = true;
    o.lr_gamma = 1.0;
    one_line([&] { validate(o); }, "reduce-on-plateau needs lr_gamma below 1");
    o.lr_gamma = 0.5;
    RnnModel model(letters("ab"), o);
    const SequenceSet train = test::symbol_set({arma::uvec{0, 1, 0, 1, 1, 0}});
    one_line([&] { model.fit(train, nullptr, FitOptions{}, nullptr); },
             "reduce-on-plateau needs a valid split");
    o = RnnOptions{};
    o.clip_value = -1.0;
    one_line([&] { validate(o); }, "clip_value must be a finite number >= 0");
    o = RnnOptions{};
    o.max_seconds = std::nan("");
    one_line([&] { validate(o); }, "max_seconds must be a finite number >= 0");
    o = RnnOptions{};
    o.average_decay = 1.0;
    one_line([&] { validate(o); }, "average_decay must be in [0, 1)");
  }
  SECTION("options that belong to another cell") {
    RnnOptions o;
    o.cell = CellType::lstm;
    o.tau = 2.0;
    one_line([&] { validate(o); }, "tau applies to leaky models only, not lstm");
    o = RnnOptions{};
    o.cell = CellType::gru;
    o.activation = Activation::relu;
    one_line([&] { RnnModel(letters("ab"), o); }, "activation applies to rnn, leaky and jordan");
    o.cell = CellType::jordan;
    CHECK_NOTHROW(validate(o));
    o = RnnOptions{};
    o.cell = CellType::lstm;
    o.delay = 3;
    one_line([&] { validate(o); }, "delay applies to rnn and leaky models only, not lstm");
    o.cell = CellType::jordan;
    one_line([&] { validate(o); }, "delay applies to rnn and leaky models only, not jordan");
    o.cell = CellType::leaky;
    o.delay = 1;
    one_line([&] { validate(o); }, "delay must be between 2 and 100000 steps, got 1");
    o.delay = 100001;
    one_line([&] { RnnModel(letters("ab"), o); }, "delay must be between 2 and 100000");
    o = RnnOptions{};
    o.cell = CellType::elman;
    o.gru_variant = GruVariant::pytorch;
    one_line([&] { validate(o); }, "gru_variant applies to gru models only, not rnn");
    o = RnnOptions{};
    o.cell = CellType::leaky;
    o.tau = 0.5;
    one_line([&] { validate(o); }, "tau must be a finite number >= 1");
    o = RnnOptions{};
    o.dropout = 1.0;
    one_line([&] { validate(o); }, "dropout must be in [0, 1)");
  }
  SECTION("data the model does not score") {
    RnnModel model(letters("ab"), small_options(CellType::lstm));
    one_line([&] { model.log_likelihood(arma::uvec{0, 1, 2}); },
             "symbol index 2 at step 2 is outside the model's alphabet (2 symbols)");
    one_line([&] { model.log_likelihood(arma::mat(2, 3, arma::fill::zeros)); },
             "scores symbols, not frames");
    SequenceSet frames;
    frames.kind = SequenceKind::vectors;
    frames.frames.push_back(arma::mat(2, 5, arma::fill::zeros));
    one_line([&] { model.fit(frames, nullptr, FitOptions{}, nullptr); },
             "cannot fit on vectors data");
  }
}

namespace {
// Replaces dataset `name` of group `group` in a model file with `value` (a vector is written as a
// vector, a matrix as a matrix), for tests of corrupt files.
void replace_dataset(H5::Group& root, const std::string& group, const std::string& name,
                     const arma::mat& value) {
  H5::Group g = root.openGroup(group);
  g.unlink(name);
  // Raw HDF5 rather than h5::write_mat: seqlab's writers refuse the non-finite values that
  // forged files need. A column is stored 1-D, a matrix 2-D in the file's row-major layout.
  const hsize_t dims[2] = {value.n_rows, value.n_cols};
  const H5::DataSpace space(value.n_cols == 1 ? 1 : 2, dims);
  const arma::mat row_major = value.t();
  g.createDataSet(name, H5::PredType::IEEE_F64LE, space)
      .write(row_major.memptr(), H5::PredType::NATIVE_DOUBLE);
}
}  // namespace

TEST_CASE("corrupt or mismatched recurrent model files give one-line user errors",
          "[rnn-model]") {
  RnnModel model(letters("abc"), small_options(CellType::lstm));
  model.initialize(2);
  test::ScratchDir dir;
  const auto path = dir / "lstm.h5";
  save_model(path, model);
  const auto check_load = [&](const std::string& expected) {
    try {
      load_model(path);
      FAIL("loaded without error; expected: " << expected);
    } catch (const UserError& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find('\n') == std::string::npos);
      CHECK_THAT(what, Contains("lstm.h5"));
      CHECK_THAT(what, Contains(expected));
    }
  };
  h5::quiet_errors();
  const auto edit = [&](const std::function<void(H5::Group&)>& change) {
    H5::H5File file(path.string(), H5F_ACC_RDWR);
    H5::Group root = file.openGroup("/");
    change(root);
  };
  SECTION("a weight of the wrong shape") {
    edit([](H5::Group& root) {
      replace_dataset(root, "rnn", "weight_hh_l1", arma::mat(24, 5, arma::fill::zeros));
    });
    check_load("/rnn/weight_hh_l1: is 24 x 5, expected 24 x 6");
  }
  SECTION("a missing bias") {
    edit([](H5::Group& root) { root.openGroup("rnn").unlink("bias_ih_l0"); });
    check_load("bias_ih_l0");
  }
  SECTION("an embedding without the start row") {
    edit([](H5::Group& root) {
      replace_dataset(root, "embedding", "weight", arma::mat(3, 4, arma::fill::zeros));
    });
    check_load("/embedding/weight: is 3 x 4, expected 4 x 4");
  }
  SECTION("a head for another alphabet") {
    edit([](H5::Group& root) {
      replace_dataset(root, "head", "bias", arma::vec(5, arma::fill::zeros));
    });
    check_load("/head/bias: has 5 elements, expected 3");
  }
  SECTION("a non-finite weight") {
    edit([](H5::Group& root) {
      arma::mat w(3, 6, arma::fill::zeros);
      w(1, 1) = arma::datum::nan;
      replace_dataset(root, "head", "weight", w);
    });
    check_load("/head/weight: holds a non-finite value");
  }
  SECTION("a zero hidden size") {
    edit([](H5::Group& root) { h5::write_int_attribute(root, "hidden", 0); });
    check_load("attribute 'hidden' is 0, expected a positive size");
  }
}

TEST_CASE("jordan and delay model files with bad values give one-line user errors",
          "[rnn-model]") {
  test::ScratchDir dir;
  h5::quiet_errors();
  const auto saved = [&](const std::string& name, CellType cell, arma::uword delay) {
    RnnModel model(letters("abc"), small_options(cell, delay));
    model.initialize(3);
    save_model(dir / name, model);
    return dir / name;
  };
  const auto edit = [](const std::filesystem::path& path,
                       const std::function<void(H5::Group&)>& change) {
    H5::H5File file(path.string(), H5F_ACC_RDWR);
    H5::Group root = file.openGroup("/");
    change(root);
  };
  const auto check_load = [](const std::filesystem::path& path, const std::string& expected) {
    try {
      load_model(path);
      FAIL("loaded without error; expected: " << expected);
    } catch (const UserError& e) {
      const std::string what = e.what();
      INFO(what);
      CHECK(what.find('\n') == std::string::npos);
      CHECK_THAT(what, Contains(path.filename().string()));
      CHECK_THAT(what, Contains(expected));
    }
  };
  SECTION("a delay of 1") {
    const auto path = saved("rnn_delay.h5", CellType::elman, 3);
    edit(path, [](H5::Group& root) { h5::write_int_attribute(root, "delay", 1); });
    check_load(path, "attribute 'delay' is 1, expected 0 (none) or 2 to 100000 steps");
  }
  SECTION("a negative delay") {
    const auto path = saved("leaky_delay.h5", CellType::leaky, 2);
    edit(path, [](H5::Group& root) { h5::write_int_attribute(root, "delay", -2); });
    check_load(path, "attribute 'delay' is -2");
  }
  SECTION("a delay on a cell without one") {
    const auto path = saved("gru.h5", CellType::gru, 0);
    edit(path, [](H5::Group& root) { h5::write_int_attribute(root, "delay", 3); });
    check_load(path, "attribute 'delay' is 3, but only rnn and leaky models have a delay");
  }
  SECTION("a delay without its weights") {
    const auto path = saved("rnn_nohd.h5", CellType::elman, 0);
    edit(path, [](H5::Group& root) { h5::write_int_attribute(root, "delay", 4); });
    check_load(path, "weight_hd_l0");
  }
  SECTION("delay weights of the wrong shape") {
    const auto path = saved("rnn_shape.h5", CellType::elman, 2);
    edit(path, [](H5::Group& root) {
      replace_dataset(root, "rnn", "weight_hd_l1", arma::mat(6, 5, arma::fill::zeros));
    });
    check_load(path, "/rnn/weight_hd_l1: is 6 x 5, expected 6 x 6");
  }
  SECTION("a jordan output layer of the wrong shape") {
    const auto path = saved("jordan.h5", CellType::jordan, 0);
    edit(path, [](H5::Group& root) {
      replace_dataset(root, "rnn", "weight_hy_l1", arma::mat(5, 6, arma::fill::zeros));
    });
    check_load(path, "/rnn/weight_hy_l1: is 5 x 6, expected 6 x 6");
  }
  SECTION("a jordan file without its output bias") {
    const auto path = saved("jordan_nobias.h5", CellType::jordan, 0);
    edit(path, [](H5::Group& root) { root.openGroup("rnn").unlink("bias_hy_l0"); });
    check_load(path, "bias_hy_l0");
  }
  SECTION("a jordan file with an unknown activation") {
    const auto path = saved("jordan_act.h5", CellType::jordan, 0);
    edit(path, [](H5::Group& root) { h5::write_string_attribute(root, "activation", "gelu"); });
    check_load(path, "attribute 'activation': unknown activation 'gelu'");
  }
  SECTION("an unknown sequence kind") {
    const auto path = saved("kind.h5", CellType::gru, 0);
    edit(path, [](H5::Group& root) { h5::write_string_attribute(root, "kind", "images"); });
    check_load(path, "attribute 'kind' is 'images', expected symbols, vectors or binary_frames");
  }
  SECTION("a leaky time constant below 1") {
    const auto path = saved("leaky_tau.h5", CellType::leaky, 0);
    edit(path, [](H5::Group& root) {
      arma::vec tau(6, arma::fill::value(3.0));
      tau(4) = 0.5;
      replace_dataset(root, "rnn", "tau_l1", tau);
    });
    check_load(path, "/rnn/tau_l1: unit 4 has tau 0.500000, expected >= 1");
  }
}

TEST_CASE("jordan and delay networks train on a periodic sequence", "[rnn-model]") {
  const ModelCase c = GENERATE(ModelCase{CellType::jordan}, ModelCase{CellType::elman, 3},
                               ModelCase{CellType::leaky, 2});
  CAPTURE(label(c));
  arma::uvec periodic(400);
  // a c b b c, repeated: one symbol of context is ambiguous (b -> b or c), two are not.
  const arma::uword cycle[] = {0, 2, 1, 1, 2};
  for (arma::uword t = 0; t < periodic.n_elem; ++t) periodic(t) = cycle[t % 5];
  const SequenceSet train = test::symbol_set({periodic});
  RnnOptions options = small_options(c.cell, c.delay);
  options.window = 8;  // shorter than the period: the state carried across windows matters
  options.batch = 4;
  options.epochs = 100;
  options.max_steps = 250;
  options.learning_rate = 1e-2;
  RnnModel model(letters("abc"), options);
  FitOptions fit;
  fit.seed = 3;
  fit.quiet = true;
  model.fit(train, nullptr, fit, nullptr);
  const double nll = -model.log_likelihood(periodic) / double(periodic.n_elem);
  INFO("NLL " << nll << " nats/symbol after " << model.last_fit().updates << " updates");
  // Symbol frequencies alone give 1.05 nats; the cycle is deterministic.
  CHECK(nll < 0.3);
}
