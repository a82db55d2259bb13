// tests/unit/test_rnn_cells.cpp: the recurrent cells and the flat parameter buffer.
//
// What is checked and against what:
//   * every cell's backward against central finite differences of its own forward (double), on
//     parameters, inputs and the initial state (delay history included), with and without
//     padding, for delays D = 2 and 3 in windows shorter and longer than D;
//   * every cell's forward against a naive column-by-column implementation of the documented
//     formula written here (independent of the GEMM/time-major code; for delays a per-stream
//     list of past states), and against closed forms where the weights are zero;
//   * leaky units with tau = 1 against the Elman cell, and delay cells with W_hd = 0 against
//     the cells without a delay, bit for bit;
//   * windows carrying their state (and delay history) against one long window;
//   * the Jordan cell against hand-computed numbers;
//   * the parameter buffer's views against the flat vector they alias.
//
// Gradient-check settings: double precision; the outputs projected to a scalar
// L = sum over real columns of r . h_t with a fixed random r (seeded); fourth-order central
// differences (L at p +- h and p +- 2h) with h = 1e-4 * max(1, |p|), test_support's shared
// driver; pass when |g - fd| / max(|g|, |fd|, 1e-8) < 1e-6 at every index. Sizes D = 3, H = 4,
// B = 3, S = 5.
// Why not the two-point difference with h = 1e-6: its rounding noise (about eps |L| / h, here
// 4e-10 absolute) already exceeds 1e-6 relative on the legitimately small gradients (~1e-4) some
// indices have; the four-point stencil cuts the noise to ~1e-11 at a truncation error of O(h^4).
#include <cmath>
#include <functional>
#include <string>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/models/rnn/cell.hpp"
#include "seqlab/models/rnn/elman.hpp"
#include "seqlab/models/rnn/gru.hpp"
#include "seqlab/models/rnn/jordan.hpp"
#include "seqlab/models/rnn/leaky.hpp"
#include "seqlab/models/rnn/lstm.hpp"
#include "seqlab/models/rnn/parameters.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::rnn;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

constexpr arma::uword kInput = 3, kHidden = 4, kStreams = 3, kSteps = 5;
constexpr arma::uword kColumns = kStreams * kSteps;

arma::mat gaussian(arma::uword rows, arma::uword cols, Rng& rng, double scale = 1.0) {
  arma::mat m(rows, cols);
  for (double& v : m) v = scale * standard_normal(rng);
  return m;
}

// Mask patterns (1 x N, time-major) for S = `steps`: 0 none (null pointer), 1 ragged prefixes
// (lengths S, S-2, 1), 2 holes and an empty row (row 1 = 1 1 0 1 0 ... with steps 2 and 4
// padded, row 2 all padding).
arma::mat mask_pattern(int pattern, arma::uword steps = kSteps) {
  arma::mat rows(kStreams, steps, arma::fill::ones);  // B x S: the same memory as 1 x N
  if (pattern == 1) {
    rows(1, arma::span(steps >= 2 ? steps - 2 : 0, steps - 1)).zeros();
    if (steps > 1) rows(2, arma::span(1, steps - 1)).zeros();
  } else if (pattern == 2) {
    for (arma::uword t : {2u, 4u})
      if (t < steps) rows(1, t) = 0.0;
    rows.row(2).zeros();
  }
  return arma::reshape(rows, 1, kStreams * steps);
}

bool real_column(const arma::mat* mask, arma::uword col) {
  return mask == nullptr || (*mask)(col) != 0.0;
}

// L = sum over real columns of r . out: the scalar the gradient checks differentiate.
double projected(const arma::mat& out, const arma::mat& r, const arma::mat* mask) {
  double total = 0.0;
  for (arma::uword col = 0; col < out.n_cols; ++col)
    if (real_column(mask, col)) total += arma::dot(out.col(col), r.col(col));
  return total;
}

void require_close(const std::string& what, const test::GradientCheck& r) {
  INFO(what << ": worst relative error " << r.worst << " at index " << r.index << " (analytic "
            << r.analytic << ", finite difference " << r.numeric << ")");
  CHECK(r.worst < 1e-6);
}

// The history blocks a cell carries: D - 1 for a cell with a delay line, else 0.
template <class Cell>
arma::uword history_blocks(const Cell& cell) {
  if constexpr (requires { cell.delay(); })
    return cell.delay() == 0 ? 0 : cell.delay() - 1;
  else
    return 0;
}

// A cell with its parameters, random weights (all blocks, biases included) and a random window
// of `steps` steps; a random carried state, delay history included.
template <class Cell>
struct Fixture {
  Cell cell;
  ParameterSet<double> params;
  arma::mat x, r;
  RecurrentState<double> s0;

  Fixture(Cell c, std::uint64_t seed, arma::uword steps = kSteps) : cell(std::move(c)) {
    Rng rng = make_rng(seed);
    cell.register_parameters(params, "rnn.");
    params.allocate();
    cell.init(params, rng);
    params.values() = arma::vectorise(gaussian(params.size(), 1, rng, 0.6));
    x = gaussian(kInput, kStreams * steps, rng);
    r = gaussian(kHidden, kStreams * steps, rng);
    s0.h = gaussian(kHidden, kStreams, rng, 0.5);
    if (Cell::has_cell_state) s0.c = gaussian(kHidden, kStreams, rng, 0.5);
    if (history_blocks(cell) > 0)
      s0.history = gaussian(kHidden, history_blocks(cell) * kStreams, rng, 0.5);
  }

  double loss(const arma::mat* mask) {
    arma::mat out;
    cell.forward(params, x, s0, mask, out);
    return projected(out, r, mask);
  }
};

template <class Cell>
void check_cell_gradients(Cell cell, const std::string& label, arma::uword steps = kSteps) {
  const int pattern = GENERATE(0, 1, 2);
  CAPTURE(label, pattern, steps);
  Fixture<Cell> f(std::move(cell), 20261122, steps);
  const arma::mat mask_storage = mask_pattern(pattern, steps);
  const arma::mat* mask = pattern == 0 ? nullptr : &mask_storage;

  arma::mat out, d_x;
  RecurrentState<double> d_s0;
  f.params.zero_gradients();
  f.cell.forward(f.params, f.x, f.s0, mask, out);
  f.cell.backward(f.params, f.x, mask, f.r, &d_x, &d_s0);
  const arma::vec d_params = f.params.gradients();

  const auto loss = [&] { return f.loss(mask); };
  require_close(label + " parameters",
                test::fourth_order_gradient_check(f.params.values().memptr(), f.params.size(),
                                        d_params.memptr(), loss));
  require_close(label + " inputs",
                test::fourth_order_gradient_check(f.x.memptr(), f.x.n_elem, d_x.memptr(), loss));
  require_close(label + " h0",
                test::fourth_order_gradient_check(f.s0.h.memptr(), f.s0.h.n_elem, d_s0.h.memptr(), loss));
  if (Cell::has_cell_state) {
    REQUIRE(d_s0.c.n_elem == f.s0.c.n_elem);
    require_close(label + " c0",
                  test::fourth_order_gradient_check(f.s0.c.memptr(), f.s0.c.n_elem, d_s0.c.memptr(), loss));
  }
  if (history_blocks(f.cell) > 0) {
    REQUIRE(d_s0.history.n_rows == f.s0.history.n_rows);
    REQUIRE(d_s0.history.n_cols == f.s0.history.n_cols);
    // Not vacuous: part of the history reaches the loss in every window tested.
    CHECK(arma::abs(d_s0.history).max() > 1e-3);
    require_close(label + " history",
                  test::fourth_order_gradient_check(f.s0.history.memptr(), f.s0.history.n_elem,
                                          d_s0.history.memptr(), loss));
  } else {
    CHECK(d_s0.history.is_empty());
  }
  // Padded columns take no input, so their input gradient is exactly zero.
  for (arma::uword col = 0; col < f.x.n_cols; ++col)
    if (!real_column(mask, col)) CHECK(arma::all(d_x.col(col) == 0.0));
}

// ---- Naive reference forwards: one column at a time, straight from the documented formulas ----

arma::vec sigmoid(const arma::vec& v) { return 1.0 / (1.0 + arma::exp(-v)); }

using Step = std::function<void(const arma::vec& x, arma::vec& h, arma::vec& c)>;

// Runs `step` over the window in time order, skipping padded columns.
arma::mat run_reference(const arma::mat& x, const RecurrentState<double>& s0, const arma::mat* mask,
                        const Step& step) {
  arma::mat out(kHidden, x.n_cols);
  const arma::uword streams = s0.h.n_cols;
  for (arma::uword b = 0; b < streams; ++b) {
    arma::vec h = s0.h.col(b);
    arma::vec c = s0.c.is_empty() ? arma::vec() : arma::vec(s0.c.col(b));
    for (arma::uword t = 0; t * streams < x.n_cols; ++t) {
      const arma::uword col = t * streams + b;
      if (real_column(mask, col)) step(x.col(col), h, c);
      out.col(col) = h;
    }
  }
  return out;
}

// The delay cells' reference: each stream keeps the list of its own states in clock order (the
// history oldest first, then h0); a real step appends one computed from the newest state and the
// one D states back, a masked step changes nothing and outputs the newest state.
using DelayStep =
    std::function<arma::vec(const arma::vec& x, const arma::vec& h, const arma::vec& h_delayed)>;

arma::mat run_delay_reference(const arma::mat& x, const RecurrentState<double>& s0,
                              arma::uword delay, const arma::mat* mask, const DelayStep& step) {
  const arma::uword streams = s0.h.n_cols;
  arma::mat out(kHidden, x.n_cols);
  for (arma::uword b = 0; b < streams; ++b) {
    std::vector<arma::vec> past;
    for (arma::uword j = 0; j + 1 < delay; ++j) past.push_back(s0.history.col(j * streams + b));
    past.push_back(s0.h.col(b));
    for (arma::uword t = 0; t * streams < x.n_cols; ++t) {
      const arma::uword col = t * streams + b;
      if (real_column(mask, col))
        past.push_back(step(x.col(col), past.back(), past[past.size() - delay]));
      out.col(col) = past.back();
    }
  }
  return out;
}

arma::mat gate(const arma::mat& stacked, arma::uword g) {
  return stacked.rows(g * kHidden, (g + 1) * kHidden - 1);
}

}  // namespace

TEST_CASE("ParameterSet views alias one flat buffer", "[rnn]") {
  ParameterSet<double> set;
  CHECK(set.add("w", 2, 3) == 0);
  CHECK(set.add("b", 2, 1) == 1);
  CHECK(set.size() == 8);
  CHECK_THROWS_AS(set.add("w", 1, 1), std::invalid_argument);
  set.allocate();
  CHECK_THROWS_AS(set.add("late", 1, 1), std::logic_error);
  REQUIRE(set.values().n_elem == 8);
  CHECK(arma::all(set.values() == 0.0));

  SECTION("writes through a view land in the flat vector at the block's offset") {
    arma::mat w = set.value("w");
    w(1, 2) = 7.0;  // column-major: element 1 + 2 * 2 = 5 of the block
    set.value("b")(0, 0) = -3.0;
    set.gradient(1)(1, 0) = 0.25;
    CHECK(set.values()(5) == 7.0);
    CHECK(set.values()(6) == -3.0);
    CHECK(set.gradients()(7) == 0.25);
    CHECK(set.block(1).offset == 6);
    CHECK(set.blocks()[0].name == "w");
    CHECK(set.index_of("b") == 1);
    CHECK_THROWS_AS(set.value("nope"), std::out_of_range);
    // A strict alias refuses to change size rather than silently detaching.
    CHECK_THROWS(w.set_size(5, 5));
  }
  SECTION("writes into the flat vector show through a view") {
    set.values()(2) = 4.5;
    CHECK(set.value("w")(0, 1) == 4.5);
    set.gradients().fill(1.0);
    set.zero_gradients();
    CHECK(arma::all(arma::vectorise(set.gradient("w")) == 0.0));
  }
  SECTION("a copy owns its own buffer and its views point into it") {
    set.value("w")(0, 0) = 1.0;
    ParameterSet<double> copy = set;
    copy.value("w")(0, 0) = 2.0;
    CHECK(set.values()(0) == 1.0);
    CHECK(copy.values()(0) == 2.0);
    CHECK(copy.value_ptr(0) == copy.values().memptr());
    ParameterSet<double> moved = std::move(copy);
    moved.value("b")(1, 0) = 9.0;
    CHECK(moved.values()(7) == 9.0);
    CHECK(moved.value("w")(0, 0) == 2.0);
  }
  SECTION("conversion to float and back keeps blocks and values") {
    set.values() = arma::linspace<arma::vec>(-1.0, 1.0, 8);
    set.gradients().fill(5.0);
    const ParameterSet<float> single = set.converted<float>();
    REQUIRE(single.blocks().size() == 2);
    CHECK(single.block(1).name == "b");
    CHECK(single.values()(3) == static_cast<float>(set.values()(3)));
    CHECK(arma::all(single.gradients() == 0.0f));
    const ParameterSet<double> back = single.converted<double>();
    CHECK_THAT(back.values()(3), WithinAbs(set.values()(3), 1e-7));
    CHECK(back.value("b").n_rows == 2);
  }
}

TEST_CASE("cell backward matches finite differences", "[rnn]") {
  SECTION("elman tanh") { check_cell_gradients(ElmanCell<double>(kInput, kHidden), "elman"); }
  SECTION("elman relu") {
    check_cell_gradients(ElmanCell<double>(kInput, kHidden, Activation::relu), "elman relu");
  }
  SECTION("leaky, fixed tau per unit") {
    LeakyOptions options;
    options.tau = arma::vec{1.0, 2.0, 3.5, 10.0};
    check_cell_gradients(LeakyCell<double>(kInput, kHidden, options), "leaky fixed");
  }
  SECTION("leaky, trained tau") {
    LeakyOptions options;
    options.tau = arma::vec{1.5};
    options.train_tau = true;
    check_cell_gradients(LeakyCell<double>(kInput, kHidden, options), "leaky trained");
  }
  SECTION("lstm") { check_cell_gradients(LstmCell<double>(kInput, kHidden), "lstm"); }
  SECTION("gru cho") {
    check_cell_gradients(GruCell<double>(kInput, kHidden, GruVariant::cho), "gru cho");
  }
  SECTION("gru pytorch") {
    check_cell_gradients(GruCell<double>(kInput, kHidden, GruVariant::pytorch), "gru pytorch");
  }
  SECTION("elman with a delay, windows shorter and longer than D") {
    const arma::uword delay = GENERATE(as<arma::uword>{}, 2, 3);
    const arma::uword steps = GENERATE(as<arma::uword>{}, 2, 5);
    check_cell_gradients(ElmanCell<double>(kInput, kHidden, Activation::tanh, delay),
                         "elman delay " + std::to_string(delay), steps);
  }
  SECTION("elman relu with a delay of 3") {
    check_cell_gradients(ElmanCell<double>(kInput, kHidden, Activation::relu, 3),
                         "elman relu delay 3");
  }
  SECTION("leaky with a delay, fixed and trained tau") {
    const arma::uword delay = GENERATE(as<arma::uword>{}, 2, 3);
    const arma::uword steps = GENERATE(as<arma::uword>{}, 2, 5);
    const bool trained = GENERATE(false, true);
    LeakyOptions options;
    options.tau = trained ? arma::vec{1.5} : arma::vec{1.0, 2.0, 3.5, 10.0};
    options.train_tau = trained;
    options.delay = delay;
    check_cell_gradients(LeakyCell<double>(kInput, kHidden, options),
                         std::string("leaky delay ") + std::to_string(delay) +
                             (trained ? " trained tau" : " fixed tau"),
                         steps);
  }
  SECTION("jordan tanh") {
    check_cell_gradients(JordanCell<double>(kInput, kHidden), "jordan");
  }
  SECTION("jordan relu") {
    check_cell_gradients(JordanCell<double>(kInput, kHidden, Activation::relu), "jordan relu");
  }
}

TEST_CASE("cell forward matches a column-by-column reference", "[rnn]") {
  const int pattern = GENERATE(0, 2);
  CAPTURE(pattern);
  const arma::mat mask_storage = mask_pattern(pattern);
  const arma::mat* mask = pattern == 0 ? nullptr : &mask_storage;
  arma::mat out;

  SECTION("elman") {
    Fixture<ElmanCell<double>> f(ElmanCell<double>(kInput, kHidden), 7);
    const arma::mat w = f.params.value("rnn.weight_ih"), u = f.params.value("rnn.weight_hh");
    const arma::vec b = arma::vectorise(f.params.value("rnn.bias"));
    f.cell.forward(f.params, f.x, f.s0, mask, out);
    const arma::mat expected = run_reference(f.x, f.s0, mask, [&](auto& x, auto& h, auto&) {
      h = arma::tanh(w * x + u * h + b);
    });
    CHECK_THAT(out, test::IsNear(expected, 1e-12, 1e-14));
  }
  SECTION("leaky with trained tau") {
    LeakyOptions options;
    options.tau = arma::vec{1.5, 2.0, 4.0, 8.0};
    options.train_tau = true;
    Fixture<LeakyCell<double>> f(LeakyCell<double>(kInput, kHidden, options), 8);
    const arma::mat w = f.params.value("rnn.weight_ih"), u = f.params.value("rnn.weight_hh");
    const arma::vec b = arma::vectorise(f.params.value("rnn.bias"));
    const arma::vec rho = arma::vectorise(f.params.value("rnn.tau_rho"));
    const arma::vec a = 1.0 / (1.0 + arma::log(1.0 + arma::exp(rho)));
    CHECK_THAT(arma::mat(f.cell.tau(f.params)), test::IsNear(arma::mat(1.0 / a), 1e-12));
    f.cell.forward(f.params, f.x, f.s0, mask, out);
    const arma::mat expected = run_reference(f.x, f.s0, mask, [&](auto& x, auto& h, auto&) {
      h = (1.0 - a) % h + a % arma::tanh(w * x + u * h + b);
    });
    CHECK_THAT(out, test::IsNear(expected, 1e-12, 1e-14));
  }
  SECTION("lstm") {
    Fixture<LstmCell<double>> f(LstmCell<double>(kInput, kHidden), 9);
    const arma::mat w = f.params.value("rnn.weight_ih"), u = f.params.value("rnn.weight_hh");
    const arma::vec b = arma::vectorise(f.params.value("rnn.bias_ih")) +
                        arma::vectorise(f.params.value("rnn.bias_hh"));
    f.cell.forward(f.params, f.x, f.s0, mask, out);
    const arma::mat expected = run_reference(f.x, f.s0, mask, [&](auto& x, auto& h, auto& c) {
      const arma::vec z = w * x + u * h + b;
      const arma::vec i = sigmoid(gate(z, 0)), fg = sigmoid(gate(z, 1));
      const arma::vec g = arma::tanh(gate(z, 2)), o = sigmoid(gate(z, 3));
      c = fg % c + i % g;
      h = o % arma::tanh(c);
    });
    CHECK_THAT(out, test::IsNear(expected, 1e-12, 1e-14));
    RecurrentState<double> last;
    f.cell.final_state(last);
    CHECK(arma::all(arma::vectorise(last.h == out.cols(kColumns - kStreams, kColumns - 1))));
    CHECK(last.c.n_cols == kStreams);
  }
  SECTION("gru, both variants") {
    const GruVariant variant = GENERATE(GruVariant::cho, GruVariant::pytorch);
    CAPTURE(to_string(variant));
    Fixture<GruCell<double>> f(GruCell<double>(kInput, kHidden, variant), 10);
    const arma::mat w = f.params.value("rnn.weight_ih"), u = f.params.value("rnn.weight_hh");
    const arma::vec bi = arma::vectorise(f.params.value("rnn.bias_ih"));
    const arma::vec bh = arma::vectorise(f.params.value("rnn.bias_hh"));
    f.cell.forward(f.params, f.x, f.s0, mask, out);
    const arma::mat expected = run_reference(f.x, f.s0, mask, [&](auto& x, auto& h, auto&) {
      const arma::vec r = sigmoid(gate(w, 0) * x + gate(bi, 0) + gate(u, 0) * h + gate(bh, 0));
      const arma::vec z = sigmoid(gate(w, 1) * x + gate(bi, 1) + gate(u, 1) * h + gate(bh, 1));
      const arma::vec n =
          variant == GruVariant::cho
              ? arma::vec(arma::tanh(gate(w, 2) * x + gate(bi, 2) + gate(u, 2) * (r % h) +
                                     gate(bh, 2)))
              : arma::vec(arma::tanh(gate(w, 2) * x + gate(bi, 2) +
                                     r % (gate(u, 2) * h + gate(bh, 2))));
      h = (1.0 - z) % n + z % h;
    });
    CHECK_THAT(out, test::IsNear(expected, 1e-12, 1e-14));
  }
  SECTION("elman with a delay") {
    const arma::uword delay = GENERATE(as<arma::uword>{}, 2, 3, 7);
    CAPTURE(delay);
    Fixture<ElmanCell<double>> f(ElmanCell<double>(kInput, kHidden, Activation::tanh, delay), 14);
    const arma::mat w = f.params.value("rnn.weight_ih"), u = f.params.value("rnn.weight_hh");
    const arma::mat u_d = f.params.value("rnn.weight_hd");
    const arma::vec b = arma::vectorise(f.params.value("rnn.bias"));
    f.cell.forward(f.params, f.x, f.s0, mask, out);
    const arma::mat expected =
        run_delay_reference(f.x, f.s0, delay, mask, [&](auto& x, auto& h, auto& h_delayed) {
          return arma::vec(arma::tanh(w * x + u * h + u_d * h_delayed + b));
        });
    CHECK_THAT(out, test::IsNear(expected, 1e-12, 1e-14));
  }
  SECTION("leaky with a delay") {
    LeakyOptions options;
    options.tau = arma::vec{1.0, 2.0, 4.0, 8.0};
    options.delay = 3;
    Fixture<LeakyCell<double>> f(LeakyCell<double>(kInput, kHidden, options), 15);
    const arma::mat w = f.params.value("rnn.weight_ih"), u = f.params.value("rnn.weight_hh");
    const arma::mat u_d = f.params.value("rnn.weight_hd");
    const arma::vec b = arma::vectorise(f.params.value("rnn.bias"));
    const arma::vec a = 1.0 / options.tau;
    f.cell.forward(f.params, f.x, f.s0, mask, out);
    const arma::mat expected =
        run_delay_reference(f.x, f.s0, 3, mask, [&](auto& x, auto& h, auto& h_delayed) {
          return arma::vec((1.0 - a) % h + a % arma::tanh(w * x + u * h + u_d * h_delayed + b));
        });
    CHECK_THAT(out, test::IsNear(expected, 1e-12, 1e-14));
  }
  SECTION("jordan") {
    const Activation f_hidden = GENERATE(Activation::tanh, Activation::relu);
    CAPTURE(to_string(f_hidden));
    Fixture<JordanCell<double>> f(JordanCell<double>(kInput, kHidden, f_hidden), 16);
    const arma::mat w = f.params.value("rnn.weight_ih"), u = f.params.value("rnn.weight_hh");
    const arma::mat v = f.params.value("rnn.weight_hy");
    const arma::vec b = arma::vectorise(f.params.value("rnn.bias_ih")) +
                        arma::vectorise(f.params.value("rnn.bias_hh"));
    const arma::vec c = arma::vectorise(f.params.value("rnn.bias_hy"));
    f.cell.forward(f.params, f.x, f.s0, mask, out);
    // The carried state is the output: `h` of the reference holds y.
    const arma::mat expected = run_reference(f.x, f.s0, mask, [&](auto& x, auto& y, auto&) {
      const arma::vec z = w * x + u * y + b;
      const arma::vec hidden = f_hidden == Activation::tanh
                                   ? arma::vec(arma::tanh(z))
                                   : arma::vec(arma::clamp(z, 0.0, arma::datum::inf));
      y = arma::tanh(v * hidden + c);
    });
    CHECK_THAT(out, test::IsNear(expected, 1e-12, 1e-14));
  }
}

TEMPLATE_TEST_CASE("leaky cell with tau = 1 is the Elman cell bit for bit", "[rnn]", float,
                   double) {
  using T = TestType;
  const Activation activation = GENERATE(Activation::tanh, Activation::relu);
  CAPTURE(to_string(activation));
  ElmanCell<T> elman(kInput, kHidden, activation);
  LeakyOptions options;
  options.activation = activation;
  options.tau = arma::vec{1.0};
  LeakyCell<T> leaky(kInput, kHidden, options);
  ParameterSet<T> pe, pl;
  elman.register_parameters(pe, "");
  leaky.register_parameters(pl, "");
  pe.allocate();
  pl.allocate();
  Rng rng = make_rng(99);
  elman.init(pe, rng);
  pe.value("bias") = arma::conv_to<arma::Mat<T>>::from(gaussian(kHidden, 1, rng, 0.3));
  REQUIRE(pl.size() == pe.size());
  pl.values() = pe.values();

  const arma::Mat<T> x = arma::conv_to<arma::Mat<T>>::from(gaussian(kInput, kColumns, rng));
  const arma::Mat<T> d_out = arma::conv_to<arma::Mat<T>>::from(gaussian(kHidden, kColumns, rng));
  RecurrentState<T> s0;
  s0.h = arma::conv_to<arma::Mat<T>>::from(gaussian(kHidden, kStreams, rng, 0.5));
  const arma::Mat<T> mask = arma::conv_to<arma::Mat<T>>::from(mask_pattern(1));

  arma::Mat<T> out_e, out_l, dx_e, dx_l;
  RecurrentState<T> ds_e, ds_l;
  elman.forward(pe, x, s0, &mask, out_e);
  leaky.forward(pl, x, s0, &mask, out_l);
  CHECK(arma::all(arma::vectorise(out_e == out_l)));
  elman.backward(pe, x, &mask, d_out, &dx_e, &ds_e);
  leaky.backward(pl, x, &mask, d_out, &dx_l, &ds_l);
  CHECK(arma::all(pe.gradients() == pl.gradients()));
  CHECK(arma::all(arma::vectorise(dx_e == dx_l)));
  CHECK(arma::all(arma::vectorise(ds_e.h == ds_l.h)));
  // Not vacuous: the gradients are nonzero.
  CHECK(arma::norm(arma::conv_to<arma::vec>::from(pe.gradients())) > 0.1);
}

TEST_CASE("lstm with zero weights follows the closed form", "[rnn]") {
  LstmCell<double> cell(2, kHidden);
  ParameterSet<double> params;
  cell.register_parameters(params, "");
  params.allocate();  // every weight 0
  Rng rng = make_rng(5);
  RecurrentState<double> s0{gaussian(kHidden, 2, rng), gaussian(kHidden, 2, rng)};
  const arma::mat x = gaussian(2, 2 * 4, rng);  // B = 2, S = 4
  arma::mat out;
  const auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };

  SECTION("only the input-gate bias on: g = 0, so c decays by f = 1/2 and h = tanh(c) / 2") {
    params.value("bias_ih").rows(0, kHidden - 1).fill(1.7);
    cell.forward(params, x, s0, nullptr, out);
    for (arma::uword t = 0; t < 4; ++t)
      for (arma::uword b = 0; b < 2; ++b)
        for (arma::uword j = 0; j < kHidden; ++j) {
          const double c = std::pow(0.5, double(t + 1)) * s0.c(j, b);
          CHECK_THAT(out(j, t * 2 + b), WithinRel(0.5 * std::tanh(c), 1e-14) ||
                                            WithinAbs(0.5 * std::tanh(c), 1e-15));
        }
  }
  SECTION("biases split over bias_ih and bias_hh, gate order i, f, g, o") {
    const double bi = 0.3, bf = -0.4, bg = 0.9, bo = 1.2;
    arma::mat b_ih = params.value("bias_ih"), b_hh = params.value("bias_hh");
    const double gates[4] = {bi, bf, bg, bo};
    for (arma::uword g = 0; g < 4; ++g) {
      b_ih.rows(g * kHidden, (g + 1) * kHidden - 1).fill(0.25 * gates[g]);
      b_hh.rows(g * kHidden, (g + 1) * kHidden - 1).fill(0.75 * gates[g]);
    }
    cell.forward(params, x, s0, nullptr, out);
    for (arma::uword b = 0; b < 2; ++b)
      for (arma::uword j = 0; j < kHidden; ++j) {
        double c = s0.c(j, b);
        for (arma::uword t = 0; t < 4; ++t) {
          c = sig(bf) * c + sig(bi) * std::tanh(bg);
          CHECK_THAT(out(j, t * 2 + b), WithinRel(sig(bo) * std::tanh(c), 1e-14));
        }
      }
  }
}

TEST_CASE("gru with zero weights follows the closed form", "[rnn]") {
  const GruVariant variant = GENERATE(GruVariant::cho, GruVariant::pytorch);
  CAPTURE(to_string(variant));
  GruCell<double> cell(2, kHidden, variant);
  ParameterSet<double> params;
  cell.register_parameters(params, "");
  params.allocate();
  const double b_ir = 0.2, b_iz = -0.3, b_in = 0.5, b_hr = 0.4, b_hz = 0.1, b_hn = -0.7;
  arma::mat b_ih = params.value("bias_ih"), b_hh = params.value("bias_hh");
  b_ih.rows(0, kHidden - 1).fill(b_ir);
  b_ih.rows(kHidden, 2 * kHidden - 1).fill(b_iz);
  b_ih.rows(2 * kHidden, 3 * kHidden - 1).fill(b_in);
  b_hh.rows(0, kHidden - 1).fill(b_hr);
  b_hh.rows(kHidden, 2 * kHidden - 1).fill(b_hz);
  b_hh.rows(2 * kHidden, 3 * kHidden - 1).fill(b_hn);
  Rng rng = make_rng(6);
  RecurrentState<double> s0{gaussian(kHidden, 2, rng), {}};
  const arma::mat x = gaussian(2, 2 * 5, rng);  // B = 2, S = 5
  arma::mat mask(2, 5, arma::fill::ones);       // stream 1 pauses at step 2
  mask(1, 2) = 0.0;
  arma::mat out;
  cell.forward(params, x, s0, &mask, out);

  const auto sig = [](double v) { return 1.0 / (1.0 + std::exp(-v)); };
  const double r = sig(b_ir + b_hr), z = sig(b_iz + b_hz);
  // With W_hn = 0 the cho candidate sees b_hn in full; the pytorch one sees it through r.
  const double n =
      variant == GruVariant::cho ? std::tanh(b_in + b_hn) : std::tanh(b_in + r * b_hn);
  for (arma::uword b = 0; b < 2; ++b)
    for (arma::uword t = 0; t < 5; ++t) {
      const double real_steps = double(t + 1) - ((b == 1 && t >= 2) ? 1.0 : 0.0);
      for (arma::uword j = 0; j < kHidden; ++j) {
        const double expected = n + std::pow(z, real_steps) * (s0.h(j, b) - n);
        CHECK_THAT(out(j, t * 2 + b), WithinRel(expected, 1e-13) || WithinAbs(expected, 1e-15));
      }
    }
}

TEST_CASE("carrying the final state across windows equals one long window", "[rnn]") {
  const int which = GENERATE(0, 1, 2, 3, 4);
  CAPTURE(which);
  Rng rng = make_rng(11);
  const arma::mat x = gaussian(kInput, 2 * kColumns, rng);
  const arma::mat first = x.cols(0, kColumns - 1), second = x.cols(kColumns, 2 * kColumns - 1);
  const auto run = [&](auto cell) {
    ParameterSet<double> params;
    cell.register_parameters(params, "");
    params.allocate();
    cell.init(params, rng);
    RecurrentState<double> s0{gaussian(kHidden, kStreams, rng), {}};
    if (decltype(cell)::has_cell_state) s0.c = gaussian(kHidden, kStreams, rng);
    arma::mat whole, part1, part2;
    cell.forward(params, x, s0, nullptr, whole);
    cell.forward(params, first, s0, nullptr, part1);
    RecurrentState<double> carried;
    cell.final_state(carried);
    cell.forward(params, second, carried, nullptr, part2);
    CHECK_THAT(arma::mat(arma::join_rows(part1, part2)), test::IsNear(whole, 1e-13, 1e-15));
  };
  if (which == 0) run(ElmanCell<double>(kInput, kHidden));
  if (which == 1)
    run(LeakyCell<double>(kInput, kHidden, LeakyOptions{Activation::tanh, {3.0}, false}));
  if (which == 2) run(LstmCell<double>(kInput, kHidden));
  if (which == 3) run(GruCell<double>(kInput, kHidden, GruVariant::pytorch));
  if (which == 4) run(JordanCell<double>(kInput, kHidden, Activation::relu));
}

TEST_CASE("backward accumulates parameter gradients and can be repeated", "[rnn]") {
  Fixture<LstmCell<double>> f(LstmCell<double>(kInput, kHidden), 12);
  const arma::mat mask = mask_pattern(1);
  arma::mat out;
  f.params.zero_gradients();
  f.cell.forward(f.params, f.x, f.s0, &mask, out);
  f.cell.backward(f.params, f.x, &mask, f.r, nullptr, nullptr);
  const arma::vec once = f.params.gradients();
  f.cell.backward(f.params, f.x, &mask, f.r, nullptr, nullptr);
  CHECK_THAT(arma::mat(f.params.gradients()), test::IsNear(arma::mat(2.0 * once), 1e-14));
}

TEST_CASE("cell initialisation", "[rnn]") {
  Rng rng = make_rng(13);
  const arma::uword H = 6, D = 5;
  SECTION("lstm: orthogonal gate blocks, Glorot input blocks, forget bias 1 in bias_ih") {
    LstmCell<float> cell(D, H);
    ParameterSet<float> params;
    cell.register_parameters(params, "l0.");
    params.allocate();
    cell.init(params, rng);
    const arma::mat w_hh = arma::conv_to<arma::mat>::from(params.value("l0.weight_hh"));
    const arma::mat w_ih = arma::conv_to<arma::mat>::from(params.value("l0.weight_ih"));
    const double limit = std::sqrt(6.0 / double(D + H));
    for (arma::uword g = 0; g < 4; ++g) {
      const arma::mat q = w_hh.rows(g * H, (g + 1) * H - 1);
      CHECK_THAT(arma::mat(q.t() * q), test::IsNear(arma::eye(H, H), 0.0, 1e-6));
      CHECK(arma::abs(w_ih.rows(g * H, (g + 1) * H - 1)).max() <= limit);
    }
    // Independent draws per gate block.
    CHECK(arma::abs(w_hh.rows(0, H - 1) - w_hh.rows(H, 2 * H - 1)).max() > 0.1);
    const arma::fvec b_ih = arma::vectorise(params.value("l0.bias_ih"));
    CHECK(arma::all(b_ih.subvec(H, 2 * H - 1) == 1.0f));
    CHECK(arma::accu(arma::abs(b_ih)) == float(H));
    CHECK(arma::all(arma::vectorise(params.value("l0.bias_hh")) == 0.0f));
    CHECK(params.blocks()[0].name == "l0.weight_ih");
  }
  SECTION("leaky with trained tau starts at the given tau") {
    LeakyCell<double> cell(D, H,
                           LeakyOptions{Activation::tanh, arma::linspace(1.01, 50.0, H), true});
    ParameterSet<double> params;
    cell.register_parameters(params, "");
    params.allocate();
    cell.init(params, rng);
    CHECK_THAT(arma::mat(cell.tau(params)),
               test::IsNear(arma::mat(arma::linspace(1.01, 50.0, H)), 1e-12));
  }
  SECTION("jordan: orthogonal recurrent block, Glorot input and output layers, zero biases") {
    JordanCell<double> cell(D, H);
    ParameterSet<double> params;
    cell.register_parameters(params, "l1.");
    params.allocate();
    cell.init(params, rng);
    const arma::mat u = params.value("l1.weight_hh");
    CHECK_THAT(arma::mat(u.t() * u), test::IsNear(arma::eye(H, H), 0.0, 1e-12));
    const arma::mat w_ih = params.value("l1.weight_ih"), w_hy = params.value("l1.weight_hy");
    CHECK(arma::abs(w_ih).max() <= std::sqrt(6.0 / double(D + H)));
    CHECK(arma::abs(w_hy).max() <= std::sqrt(6.0 / double(H + H)));
    // Glorot, not orthogonal: far from orthonormal columns.
    CHECK(arma::abs(w_hy.t() * w_hy - arma::eye(H, H)).max() > 0.1);
    for (const char* bias : {"l1.bias_ih", "l1.bias_hh", "l1.bias_hy"})
      CHECK(arma::all(arma::vectorise(params.value(bias)) == 0.0));
    std::vector<std::string> names;
    for (const auto& block : params.blocks()) names.push_back(block.name);
    CHECK(names == std::vector<std::string>{"l1.weight_ih", "l1.weight_hh", "l1.bias_ih",
                                            "l1.bias_hh", "l1.weight_hy", "l1.bias_hy"});
  }
  SECTION("a delay block starts at 0 and leaves the other blocks' draws alone") {
    ElmanCell<float> plain(D, H), delayed(D, H, Activation::tanh, 4);
    ParameterSet<float> pp, pd;
    plain.register_parameters(pp, "");
    delayed.register_parameters(pd, "");
    pp.allocate();
    pd.allocate();
    Rng a = make_rng(77), b = make_rng(77);
    plain.init(pp, a);
    delayed.init(pd, b);
    REQUIRE(pd.blocks().back().name == "weight_hd");
    CHECK(arma::all(arma::vectorise(pd.value("weight_hd")) == 0.0f));
    CHECK(arma::all(pp.values() == pd.values().head(pp.size())));
    CHECK(uniform01(a) == uniform01(b));  // the same number of draws taken
  }
  SECTION("gru: three orthogonal blocks, zero biases") {
    GruCell<double> cell(D, H);
    ParameterSet<double> params;
    cell.register_parameters(params, "");
    params.allocate();
    cell.init(params, rng);
    const arma::mat w_hh = params.value("weight_hh");
    for (arma::uword g = 0; g < 3; ++g) {
      const arma::mat q = w_hh.rows(g * H, (g + 1) * H - 1);
      CHECK_THAT(arma::mat(q * q.t()), test::IsNear(arma::eye(H, H), 0.0, 1e-12));
    }
    CHECK(arma::all(arma::vectorise(params.value("bias_ih")) == 0.0));
  }
}

TEST_CASE("cells reject bad options with a user error", "[rnn]") {
  using Catch::Matchers::Contains;
  CHECK_THROWS_WITH(LeakyCell<float>(2, 3, LeakyOptions{Activation::tanh, {0.5}, false}),
                    Contains("tau of unit 0") && Contains(">= 1"));
  CHECK_THROWS_AS(LeakyCell<float>(2, 3, LeakyOptions{Activation::tanh, {1.0, 2.0}, false}),
                  UserError);
  CHECK_THROWS_WITH(LeakyCell<float>(2, 3, LeakyOptions{Activation::tanh, {1.0}, true}),
                    Contains("start above 1"));
  CHECK_THROWS_WITH(parse_activation("sigmoid", "model.activation"),
                    Contains("model.activation") && Contains("tanh or relu"));
  CHECK_THROWS_AS(parse_gru_variant("keras", "model.gru"), UserError);
  CHECK(parse_gru_variant("pytorch", "k") == GruVariant::pytorch);
  CHECK_THROWS_AS(ElmanCell<double>(0, 3), UserError);
  CHECK_THROWS_AS(JordanCell<double>(3, 0), UserError);
  CHECK_THROWS_WITH(ElmanCell<double>(2, 3, Activation::tanh, 1), Contains("0 (none) or >= 2"));
  LeakyOptions options;
  options.delay = 1;
  CHECK_THROWS_AS(LeakyCell<float>(2, 3, options), UserError);
}

TEST_CASE("cells reject a carried history that does not fit their delay line", "[rnn]") {
  using Catch::Matchers::Contains;
  ParameterSet<double> params;
  ElmanCell<double> delayed(kInput, kHidden, Activation::tanh, 3);
  JordanCell<double> jordan(kInput, kHidden);
  delayed.register_parameters(params, "e.");
  jordan.register_parameters(params, "j.");
  params.allocate();
  const arma::mat x(kInput, kColumns, arma::fill::ones);
  RecurrentState<double> s0;
  s0.h.zeros(kHidden, kStreams);
  arma::mat out;
  // Delay 3 carries 2 blocks of B columns.
  CHECK_THROWS_WITH(delayed.forward(params, x, s0, nullptr, out),
                    Contains("initial history must be 4 x 6"));
  s0.history.zeros(kHidden, kStreams);
  CHECK_THROWS_AS(delayed.forward(params, x, s0, nullptr, out), std::invalid_argument);
  CHECK_THROWS_AS(jordan.forward(params, x, s0, nullptr, out), std::invalid_argument);
  s0.history.zeros(kHidden, 2 * kStreams);
  CHECK_NOTHROW(delayed.forward(params, x, s0, nullptr, out));
}

// ---- time-delay connections ------------------------------------------------------------------

namespace {

// `plain` and `delayed` are the same cell type and options but for the delay. Gives the delayed
// cell the plain cell's parameter values, leaves W_hd at its initial 0, and requires the two to
// agree bit for bit in forward and backward, while the delay history holds nonzero values.
template <class Cell>
void check_zero_delay_weights_change_nothing(Cell plain, Cell delayed) {
  using T = typename Cell::value_type;
  const auto to_t = [](const arma::mat& m) { return arma::conv_to<arma::Mat<T>>::from(m); };
  ParameterSet<T> pp, pd;
  plain.register_parameters(pp, "");
  delayed.register_parameters(pd, "");
  pp.allocate();
  pd.allocate();
  Rng rng = make_rng(31);
  plain.init(pp, rng);
  delayed.init(pd, rng);
  pp.value("bias") = to_t(gaussian(kHidden, 1, rng, 0.3));
  REQUIRE(pd.size() == pp.size() + kHidden * kHidden);
  for (const auto& block : pp.blocks()) pd.value(block.name) = pp.value(block.name);
  REQUIRE(arma::all(arma::vectorise(pd.value("weight_hd")) == T(0)));

  const arma::Mat<T> x = to_t(gaussian(kInput, kColumns, rng));
  const arma::Mat<T> d_out = to_t(gaussian(kHidden, kColumns, rng));
  const arma::Mat<T> mask = to_t(mask_pattern(2));
  RecurrentState<T> s_plain, s_delayed;
  s_plain.h = to_t(gaussian(kHidden, kStreams, rng, 0.5));
  s_delayed.h = s_plain.h;
  s_delayed.history = to_t(gaussian(kHidden, (delayed.delay() - 1) * kStreams, rng, 0.5));

  arma::Mat<T> out_p, out_d, dx_p, dx_d;
  RecurrentState<T> ds_p, ds_d, last_p, last_d;
  plain.forward(pp, x, s_plain, &mask, out_p);
  delayed.forward(pd, x, s_delayed, &mask, out_d);
  CHECK(arma::all(arma::vectorise(out_p == out_d)));
  plain.final_state(last_p);
  delayed.final_state(last_d);
  CHECK(arma::all(arma::vectorise(last_p.h == last_d.h)));
  plain.backward(pp, x, &mask, d_out, &dx_p, &ds_p);
  delayed.backward(pd, x, &mask, d_out, &dx_d, &ds_d);
  for (const auto& block : pp.blocks()) {
    CAPTURE(block.name);
    CHECK(arma::all(arma::vectorise(pp.gradient(block.name) == pd.gradient(block.name))));
  }
  CHECK(arma::all(arma::vectorise(dx_p == dx_d)));
  CHECK(arma::all(arma::vectorise(ds_p.h == ds_d.h)));
  // Not vacuous: gradients flow, and W_hd would move away from 0 in training.
  CHECK(arma::abs(arma::conv_to<arma::vec>::from(pp.gradients())).max() > 0.1);
  CHECK(arma::abs(arma::vectorise(pd.gradient("weight_hd"))).max() > T(1e-3));
}

}  // namespace

TEMPLATE_TEST_CASE("a delay cell with W_hd = 0 is the cell without a delay, bit for bit", "[rnn]",
                   float, double) {
  using T = TestType;
  const arma::uword delay = GENERATE(as<arma::uword>{}, 2, 3);
  CAPTURE(delay);
  SECTION("elman") {
    check_zero_delay_weights_change_nothing(ElmanCell<T>(kInput, kHidden, Activation::tanh),
                                            ElmanCell<T>(kInput, kHidden, Activation::tanh, delay));
  }
  SECTION("leaky with trained tau") {
    LeakyOptions options{Activation::relu, arma::vec{1.5, 2.0, 3.0, 6.0}, true};
    const LeakyCell<T> plain(kInput, kHidden, options);
    options.delay = delay;
    check_zero_delay_weights_change_nothing(plain, LeakyCell<T>(kInput, kHidden, options));
  }
}

TEST_CASE("delay cells carry their history across windows", "[rnn]") {
  const arma::uword delay = GENERATE(as<arma::uword>{}, 2, 3, 4);
  const bool leaky = GENERATE(false, true);
  CAPTURE(delay, leaky);
  constexpr arma::uword steps = 12;
  Rng rng = make_rng(41);
  const arma::mat x = gaussian(kInput, kStreams * steps, rng);
  // Stream 1 pauses at steps 3, 4 and 9; stream 2 at 7 and 8: the clocks of the streams drift
  // apart, and pauses straddle window boundaries.
  arma::mat rows(kStreams, steps, arma::fill::ones);
  rows(1, 3) = rows(1, 4) = rows(1, 9) = 0.0;
  rows(2, 7) = rows(2, 8) = 0.0;
  const arma::mat mask = arma::reshape(rows, 1, kStreams * steps);

  const auto run = [&](auto cell) {
    ParameterSet<double> params;
    cell.register_parameters(params, "");
    params.allocate();
    params.values() = arma::vectorise(gaussian(params.size(), 1, rng, 0.5));
    RecurrentState<double> s0;
    s0.h = gaussian(kHidden, kStreams, rng, 0.5);
    s0.history = gaussian(kHidden, (delay - 1) * kStreams, rng, 0.5);
    arma::mat whole;
    cell.forward(params, x, s0, &mask, whole);

    // Windows of `length` steps (the last one shorter), each starting from the state the one
    // before ended in; with `carry_history` false the history is zeroed at each window start.
    const auto windowed = [&](arma::uword length, bool carry_history) {
      arma::mat joined(kHidden, 0), part;
      RecurrentState<double> state = s0;
      for (arma::uword begin = 0; begin < steps; begin += length) {
        const arma::uword end = std::min(steps, begin + length);
        const arma::mat piece = x.cols(begin * kStreams, end * kStreams - 1);
        const arma::mat piece_mask = mask.cols(begin * kStreams, end * kStreams - 1);
        if (!carry_history && begin > 0) state.history.zeros();
        cell.forward(params, piece, state, &piece_mask, part);
        cell.final_state(state);
        joined = arma::join_rows(joined, part);
      }
      return joined;
    };
    for (arma::uword length : {1u, 2u, 5u, 12u}) {
      CAPTURE(length);
      CHECK_THAT(windowed(length, true), test::IsNear(whole, 1e-12, 1e-14));
    }
    // The check above fails when the history is not carried: windows shorter than D read
    // every delayed state of their first steps from it.
    CHECK(arma::abs(windowed(2, false) - whole).max() > 1e-3);
  };
  if (leaky) {
    LeakyOptions options;
    options.tau = arma::vec{1.0, 2.0, 3.0, 5.0};
    options.delay = delay;
    run(LeakyCell<double>(kInput, kHidden, options));
  } else {
    run(ElmanCell<double>(kInput, kHidden, Activation::tanh, delay));
  }
}

// ---- Jordan cell -----------------------------------------------------------------------------

TEST_CASE("jordan cell with a zero recurrent block is a feed-forward tanh layer", "[rnn]") {
  constexpr arma::uword D = 2, B = 2, S = 4;
  JordanCell<double> cell(D, kHidden);
  ParameterSet<double> params;
  cell.register_parameters(params, "");
  params.allocate();
  Rng rng = make_rng(17);
  params.values() = arma::vectorise(gaussian(params.size(), 1, rng, 0.7));
  params.value("weight_hh").zeros();
  const arma::mat w = params.value("weight_ih"), v = params.value("weight_hy");
  const arma::mat b_ih = params.value("bias_ih"), b_hh = params.value("bias_hh");
  const arma::mat b_y = params.value("bias_hy");
  RecurrentState<double> s0;
  s0.h = gaussian(kHidden, B, rng);
  const arma::mat x = gaussian(D, B * S, rng);
  arma::mat rows(B, S, arma::fill::ones);  // stream 1 starts with a pause and pauses at step 2
  rows(1, 0) = rows(1, 2) = 0.0;
  const arma::mat mask = arma::reshape(rows, 1, B * S);
  arma::mat out;
  cell.forward(params, x, s0, &mask, out);

  for (arma::uword b = 0; b < B; ++b) {
    std::vector<double> y(s0.h.colptr(b), s0.h.colptr(b) + kHidden);
    for (arma::uword t = 0; t < S; ++t) {
      const arma::uword col = t * B + b;
      CAPTURE(b, t);
      if (mask(col) != 0.0) {  // one layer of tanh units feeding one of tanh outputs
        std::vector<double> h(kHidden);
        for (arma::uword j = 0; j < kHidden; ++j) {
          double z = b_ih(j) + b_hh(j);
          for (arma::uword k = 0; k < D; ++k) z += w(j, k) * x(k, col);
          h[j] = std::tanh(z);
        }
        for (arma::uword i = 0; i < kHidden; ++i) {
          double z = b_y(i);
          for (arma::uword j = 0; j < kHidden; ++j) z += v(i, j) * h[j];
          y[i] = std::tanh(z);
        }
      }
      for (arma::uword i = 0; i < kHidden; ++i)
        CHECK_THAT(out(i, col), WithinRel(y[i], 1e-14) || WithinAbs(y[i], 1e-15));
    }
  }
}

TEST_CASE("jordan cell, two steps by hand", "[rnn]") {
  // D = 1, H = 2, one stream. The expected numbers evaluate jordan.hpp's equations with these
  // weights in Python (math.tanh), written out here as constants.
  JordanCell<double> cell(1, 2);
  ParameterSet<double> params;
  cell.register_parameters(params, "");
  params.allocate();
  params.value("weight_ih") = arma::vec{0.5, -1.0};
  params.value("bias_ih") = arma::vec{0.1, 0.0};
  params.value("bias_hh") = arma::vec{-0.2, 0.3};
  params.value("weight_hh") = arma::mat{{0.8, 0.0}, {0.0, -0.6}};
  params.value("weight_hy") = arma::mat{{1.5, 0.2}, {-0.7, 1.0}};
  params.value("bias_hy") = arma::vec{0.05, -0.1};
  RecurrentState<double> s0;
  s0.h = arma::vec{0.3, -0.4};
  const arma::mat x{{1.0, -2.0}};
  arma::mat out;
  cell.forward(params, x, s0, nullptr, out);
  // Step 1: h = tanh(0.64), tanh(-0.46) = 0.564899552846225, -0.43008421140197944.
  // Step 2: h = -0.510747280279733, 0.9916478159776212.
  const arma::mat expected{{0.6703246688899432, -0.4759935780838552},
                           {-0.7284954658977926, 0.8480509878342622}};
  for (arma::uword i = 0; i < expected.n_elem; ++i) {
    CAPTURE(i);
    CHECK_THAT(out(i), WithinRel(expected(i), 1e-14));
  }
  RecurrentState<double> last;
  cell.final_state(last);
  CHECK(arma::all(arma::vectorise(last.h == out.col(1))));
  CHECK(last.history.is_empty());
}
