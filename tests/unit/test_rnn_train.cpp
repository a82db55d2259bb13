// tests/unit/test_rnn_train.cpp: the training side of the RNN engine: embedding, output heads
// (finite-difference gradients and closed-form log-densities), optimizers against hand-computed
// steps, clipping, schedules, reduce-on-plateau, early stopping, and weight initialisation.
//
// Gradient checks: double precision, central differences with h = 1e-6 * max(1, |x|) (the actual
// step (x+h) - (x-h) is used as the divisor), loss projected to a scalar, relative error
// |g - fd| / max(|g|, |fd|, 1e-8) < 1e-6 at every index; the worst index is reported on failure.
#include <cmath>
#include <functional>
#include <limits>
#include <numbers>
#include <vector>

#include "seqlab/core/error.hpp"
#include "seqlab/core/rng.hpp"
#include "seqlab/models/rnn/embedding.hpp"
#include "seqlab/models/rnn/heads.hpp"
#include "seqlab/models/rnn/init.hpp"
#include "seqlab/models/rnn/optimizer.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::rnn;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;
using seqlab::test::IsNear;

namespace {

constexpr double kInf = std::numeric_limits<double>::infinity();
constexpr double kGradTolerance = 1e-6;

struct GradientReport {
  double worst = 0.0;     // largest relative error
  arma::uword index = 0;  // where
  double analytic = 0.0;
  double numeric = 0.0;
};

// Central differences of loss() with respect to every element of x (x is restored).
GradientReport compare_gradient(arma::mat& x, const arma::mat& analytic,
                                const std::function<double()>& loss) {
  REQUIRE(analytic.n_rows == x.n_rows);
  REQUIRE(analytic.n_cols == x.n_cols);
  GradientReport report;
  for (arma::uword i = 0; i < x.n_elem; ++i) {
    const double saved = x(i);
    const double h = 1e-6 * std::max(1.0, std::abs(saved));
    const double up = saved + h;
    const double down = saved - h;
    x(i) = up;
    const double loss_up = loss();
    x(i) = down;
    const double loss_down = loss();
    x(i) = saved;
    const double numeric = (loss_up - loss_down) / (up - down);
    const double g = analytic(i);
    const double rel = std::abs(g - numeric) / std::max({std::abs(g), std::abs(numeric), 1e-8});
    if (!(rel <= report.worst)) report = {rel, i, g, numeric};
  }
  return report;
}

#define CHECK_GRADIENT(what, x, gradient, loss)                                           \
  do {                                                                                    \
    const GradientReport report_ = compare_gradient(x, gradient, loss);                   \
    INFO(what << ": worst element " << report_.index << ", analytic " << report_.analytic \
              << ", finite difference " << report_.numeric << ", relative error "         \
              << report_.worst);                                                          \
    CHECK(report_.worst < kGradTolerance);                                                \
  } while (false)

arma::mat gaussian_matrix(arma::uword rows, arma::uword cols, Rng& rng, double scale = 1.0) {
  arma::mat m(rows, cols);
  for (auto& x : m) x = scale * standard_normal(rng);
  return m;
}

// A 1 x (S*B) time-major mask where stream b has lengths[b] real steps.
arma::mat prefix_mask(arma::uword streams, arma::uword steps,
                      const std::vector<arma::uword>& lengths) {
  arma::mat mask(1, streams * steps, arma::fill::zeros);
  for (arma::uword b = 0; b < streams; ++b) {
    for (arma::uword t = 0; t < lengths[b]; ++t) mask(t * streams + b) = 1.0;
  }
  return mask;
}

double log_sum_exp_direct(const arma::vec& z) {
  double total = 0.0;
  for (double v : z) total += std::exp(v);
  return std::log(total);
}

}  // namespace

// ---- embedding -------------------------------------------------------------------------------

TEST_CASE("embedding gathers columns on real steps and scatter-adds gradients",
          "[rnn][rnn-train]") {
  Rng rng = make_rng(11);
  const arma::uword vocab = 6, dim = 3, streams = 2, steps = 4;
  arma::mat table = gaussian_matrix(dim, vocab, rng);
  // B x S symbols, time-major in memory; stream 1 ends after 2 steps and its padding holds a
  // symbol outside the table, which must never be read.
  arma::umat symbols = {{1, 4, 1, 0}, {5, 1, 99, 99}};
  const arma::mat mask = prefix_mask(streams, steps, {4, 2});

  arma::mat out;
  embedding_forward(table, symbols, &mask, out);
  REQUIRE(out.n_rows == dim);
  REQUIRE(out.n_cols == streams * steps);

  SECTION("forward") {
    for (arma::uword t = 0; t < steps; ++t) {
      for (arma::uword b = 0; b < streams; ++b) {
        CAPTURE(t, b);
        const arma::uword column = t * streams + b;
        if (mask(column) == 0.0) {
          CHECK(arma::all(out.col(column) == 0.0));
        } else {
          CHECK(arma::all(out.col(column) == table.col(symbols(b, t))));
        }
      }
    }
  }

  SECTION("backward by hand: repeated symbol 1 collects three columns") {
    arma::mat d_out = gaussian_matrix(dim, streams * steps, rng);
    arma::mat d_table(dim, vocab, arma::fill::ones);  // accumulates on top of this
    embedding_backward(symbols, &mask, d_out, d_table);
    // Symbol 1 is at (b=0, t=0) -> column 0, (b=1, t=1) -> column 3, (b=0, t=2) -> column 4.
    const arma::vec expected1 = 1.0 + d_out.col(0) + d_out.col(3) + d_out.col(4);
    CHECK_THAT(arma::mat(d_table.col(1)), IsNear(expected1, 1e-15));
    CHECK_THAT(arma::mat(d_table.col(2)),
               IsNear(arma::vec(dim, arma::fill::ones), 0.0));                 // never used
    CHECK_THAT(arma::mat(d_table.col(0)), IsNear(1.0 + d_out.col(6), 1e-15));  // (b=0, t=3)
  }

  SECTION("finite differences of a random projection of the output") {
    const arma::mat projection = gaussian_matrix(dim, streams * steps, rng);
    arma::mat d_table(dim, vocab, arma::fill::zeros);
    embedding_backward(symbols, &mask, projection, d_table);
    arma::mat scratch;
    CHECK_GRADIENT("embedding table", table, d_table, [&] {
      embedding_forward(table, symbols, &mask, scratch);
      return arma::accu(projection % scratch);
    });
  }

  SECTION("an unmasked symbol outside the table is a programming error") {
    CHECK_THROWS_AS(embedding_forward(table, symbols, nullptr, out), std::invalid_argument);
  }
}

// ---- heads: forward values against direct formulas -------------------------------------------

TEST_CASE("softmax head scores log-softmax of W h + b, stably", "[rnn][rnn-train]") {
  Rng rng = make_rng(21);
  const arma::uword hidden_size = 4, classes = 5, steps = 6;
  const arma::mat weight = gaussian_matrix(classes, hidden_size, rng);
  const arma::mat bias = gaussian_matrix(classes, 1, rng);
  const arma::mat hidden = gaussian_matrix(hidden_size, steps, rng);
  const arma::umat targets = {{0, 4, 2, 2, 1, 3}};
  HeadWorkspace<double> ws;

  const HeadLoss loss = softmax_head_forward(weight, bias, hidden, targets, nullptr, ws);
  CHECK(loss.count == steps);
  double expected_nll = 0.0;
  for (arma::uword i = 0; i < steps; ++i) {
    CAPTURE(i);
    const arma::vec z = weight * hidden.col(i) + bias;
    CHECK_THAT(arma::accu(arma::exp(ws.out.col(i))), WithinAbs(1.0, 1e-12));
    const double direct = z(targets(i)) - log_sum_exp_direct(z);
    CHECK_THAT(ws.step_log_prob(i), WithinAbs(direct, 1e-12));
    expected_nll -= direct;
  }
  CHECK_THAT(loss.nll_sum, WithinRel(expected_nll, 1e-12));
  CHECK_THAT(loss.mean(), WithinRel(expected_nll / steps, 1e-12));

  SECTION("logits near 1000 stay finite (a naive exp would overflow)") {
    const arma::mat big_bias = bias + 1000.0;
    const arma::mat shifted_bias = big_bias + arma::vec{0.0, 5.0, 0.0, 0.0, 0.0};
    const HeadLoss shifted =
        softmax_head_forward(weight, shifted_bias, hidden, targets, nullptr, ws);
    REQUIRE(std::isfinite(shifted.nll_sum));
    // Adding the same constant to every logit changes nothing; the +5 on class 1 is checked
    // against the direct formula evaluated on logits with 1000 subtracted.
    for (arma::uword i = 0; i < steps; ++i) {
      arma::vec z = weight * hidden.col(i) + bias;
      z(1) += 5.0;
      CHECK_THAT(ws.step_log_prob(i), WithinAbs(z(targets(i)) - log_sum_exp_direct(z), 1e-10));
    }
  }

  SECTION("float agrees with double") {
    HeadWorkspace<float> wsf;
    const HeadLoss lf = softmax_head_forward(arma::fmat(arma::conv_to<arma::fmat>::from(weight)),
                                             arma::fmat(arma::conv_to<arma::fmat>::from(bias)),
                                             arma::fmat(arma::conv_to<arma::fmat>::from(hidden)),
                                             targets, nullptr, wsf);
    CHECK_THAT(lf.nll_sum, WithinRel(loss.nll_sum, 1e-5));
  }
}

TEST_CASE("Bernoulli head scores sum_j x_j log p_j + (1 - x_j) log(1 - p_j)", "[rnn][rnn-train]") {
  Rng rng = make_rng(31);
  const arma::uword hidden_size = 3, units = 4, steps = 5;
  const arma::mat weight = gaussian_matrix(units, hidden_size, rng);
  const arma::mat bias = gaussian_matrix(units, 1, rng);
  const arma::mat hidden = gaussian_matrix(hidden_size, steps, rng);
  arma::mat targets(units, steps);
  for (auto& x : targets) x = uniform01(rng) < 0.5 ? 0.0 : 1.0;
  HeadWorkspace<double> ws;

  const HeadLoss loss = bernoulli_head_forward(weight, bias, hidden, targets, nullptr, ws);
  double expected_nll = 0.0;
  for (arma::uword i = 0; i < steps; ++i) {
    const arma::vec logits = weight * hidden.col(i) + bias;
    double direct = 0.0;
    for (arma::uword j = 0; j < units; ++j) {
      const double p = 1.0 / (1.0 + std::exp(-logits(j)));
      direct += targets(j, i) == 1.0 ? std::log(p) : std::log(1.0 - p);
    }
    CAPTURE(i);
    CHECK_THAT(ws.step_log_prob(i), WithinAbs(direct, 1e-12));
    expected_nll -= direct;
  }
  CHECK(loss.count == steps);
  CHECK_THAT(loss.nll_sum, WithinRel(expected_nll, 1e-12));

  SECTION("saturated logits: log p is exact where 1 - sigmoid(100) rounds to 0") {
    const arma::mat w = arma::zeros(2, 1);
    const arma::vec b = {100.0, -100.0};
    const arma::mat h = arma::zeros(1, 2);
    const arma::mat x = {{1.0, 0.0}, {1.0, 0.0}};  // step 0: both on, step 1: both off
    bernoulli_head_forward(w, b, h, x, nullptr, ws);
    // Step 0: log sigmoid(100) + log sigmoid(-100) = -log1p(e^-100) - 100 - log1p(e^-100).
    CHECK_THAT(ws.step_log_prob(0), WithinRel(-100.0 - 2.0 * std::log1p(std::exp(-100.0)), 1e-15));
    CHECK_THAT(ws.step_log_prob(1), WithinRel(-100.0 - 2.0 * std::log1p(std::exp(-100.0)), 1e-15));
  }
}

TEST_CASE("Gaussian head scores the closed-form diagonal normal density", "[rnn][rnn-train]") {
  Rng rng = make_rng(41);
  const arma::uword hidden_size = 3, dim = 2, steps = 4;
  const arma::mat weight = gaussian_matrix(2 * dim, hidden_size, rng, 0.5);
  const arma::mat bias = gaussian_matrix(2 * dim, 1, rng, 0.5);
  const arma::mat hidden = gaussian_matrix(hidden_size, steps, rng);
  const arma::mat targets = gaussian_matrix(dim, steps, rng);
  HeadWorkspace<double> ws;

  const HeadLoss loss = gaussian_head_forward(weight, bias, hidden, targets, nullptr, ws);
  double expected_nll = 0.0;
  for (arma::uword i = 0; i < steps; ++i) {
    const arma::vec out = weight * hidden.col(i) + bias;
    double density = 1.0;
    for (arma::uword j = 0; j < dim; ++j) {
      const double variance = std::exp(out(dim + j));
      const double r = targets(j, i) - out(j);
      density *= std::exp(-r * r / (2.0 * variance)) / std::sqrt(2.0 * std::numbers::pi * variance);
    }
    CAPTURE(i);
    CHECK_THAT(ws.step_log_prob(i), WithinRel(std::log(density), 1e-12));
    expected_nll -= std::log(density);
  }
  CHECK_THAT(loss.nll_sum, WithinRel(expected_nll, 1e-12));

  SECTION("standard normal at 0 in one dimension is -0.5 log(2 pi)") {
    const arma::mat w = arma::zeros(2, 1);
    const arma::mat b = arma::zeros(2, 1);
    gaussian_head_forward(w, b, arma::mat(arma::zeros(1, 1)), arma::mat(arma::zeros(1, 1)), nullptr,
                          ws);
    CHECK_THAT(ws.step_log_prob(0), WithinAbs(-0.91893853320467274178, 1e-15));
  }
}

// ---- heads: gradients ------------------------------------------------------------------------

namespace {

// Finite-difference check of one head over a masked window. forward(ws) returns the HeadLoss;
// backward(ws, scale, dH, dW, db) runs the head's backward. The loss checked is nll_sum / count.
template <class Forward, class Backward>
void check_head_gradients(arma::mat& weight, arma::mat& bias, arma::mat& hidden,
                          const arma::mat& mask, Forward forward, Backward backward, Rng& rng) {
  HeadWorkspace<double> ws;
  const HeadLoss loss = forward(ws);
  REQUIRE(loss.count == static_cast<arma::uword>(arma::accu(mask)));
  const double scale = 1.0 / static_cast<double>(loss.count);

  // Parameter gradients ACCUMULATE: start from random values and subtract them afterwards.
  // The input gradient is WRITTEN: start from +inf so a forgotten element shows.
  const arma::mat weight_start = gaussian_matrix(weight.n_rows, weight.n_cols, rng);
  const arma::mat bias_start = gaussian_matrix(bias.n_rows, 1, rng);
  arma::mat d_weight = weight_start, d_bias = bias_start;
  arma::mat d_hidden(hidden.n_rows, hidden.n_cols);
  d_hidden.fill(kInf);
  backward(ws, scale, d_hidden, d_weight, d_bias);
  d_weight -= weight_start;
  d_bias -= bias_start;
  REQUIRE(d_hidden.is_finite());

  for (arma::uword i = 0; i < mask.n_elem; ++i) {
    if (mask(i) == 0.0) {
      CAPTURE(i);
      CHECK(arma::all(d_hidden.col(i) == 0.0));
    }
  }
  const auto mean_loss = [&] {
    HeadWorkspace<double> scratch;
    return forward(scratch).nll_sum * scale;
  };
  CHECK_GRADIENT("weight", weight, d_weight, mean_loss);
  CHECK_GRADIENT("bias", bias, d_bias, mean_loss);
  CHECK_GRADIENT("hidden", hidden, d_hidden, mean_loss);
}

}  // namespace

TEST_CASE("head gradients match finite differences on a masked window", "[rnn][rnn-train]") {
  Rng rng = make_rng(51);
  const arma::uword hidden_size = 4, streams = 3, steps = 5, columns = streams * steps;
  // Stream 2 has 2 real steps, stream 1 has 4, stream 0 all 5.
  const arma::mat mask = prefix_mask(streams, steps, {5, 4, 2});
  arma::mat hidden = gaussian_matrix(hidden_size, columns, rng);

  SECTION("softmax") {
    const arma::uword classes = 5;
    arma::mat weight = gaussian_matrix(classes, hidden_size, rng);
    arma::mat bias = gaussian_matrix(classes, 1, rng);
    arma::umat targets(1, columns);
    for (arma::uword i = 0; i < columns; ++i) {
      targets(i) = mask(i) == 0.0 ? 1000 : uniform_index(rng, classes);  // padding never read
    }
    check_head_gradients(
        weight, bias, hidden, mask,
        [&](HeadWorkspace<double>& ws) {
          return softmax_head_forward(weight, bias, hidden, targets, &mask, ws);
        },
        [&](HeadWorkspace<double>& ws, double scale, arma::mat& dh, arma::mat& dw, arma::mat& db) {
          softmax_head_backward(weight, hidden, targets, &mask, scale, ws, dh, dw, db);
        },
        rng);
  }

  SECTION("bernoulli") {
    const arma::uword units = 3;
    arma::mat weight = gaussian_matrix(units, hidden_size, rng);
    arma::mat bias = gaussian_matrix(units, 1, rng);
    arma::mat targets(units, columns);
    for (arma::uword i = 0; i < columns; ++i) {
      for (arma::uword j = 0; j < units; ++j) {
        // NaN on padding: if any padding target were read the loss would be NaN.
        targets(j, i) = mask(i) == 0.0 ? arma::datum::nan : (uniform01(rng) < 0.5 ? 0.0 : 1.0);
      }
    }
    check_head_gradients(
        weight, bias, hidden, mask,
        [&](HeadWorkspace<double>& ws) {
          return bernoulli_head_forward(weight, bias, hidden, targets, &mask, ws);
        },
        [&](HeadWorkspace<double>& ws, double scale, arma::mat& dh, arma::mat& dw, arma::mat& db) {
          bernoulli_head_backward(weight, hidden, targets, &mask, scale, ws, dh, dw, db);
        },
        rng);
  }

  SECTION("gaussian") {
    const arma::uword dim = 2;
    arma::mat weight = gaussian_matrix(2 * dim, hidden_size, rng, 0.5);
    arma::mat bias = gaussian_matrix(2 * dim, 1, rng, 0.5);
    arma::mat targets = gaussian_matrix(dim, columns, rng);
    for (arma::uword i = 0; i < columns; ++i) {
      if (mask(i) == 0.0) targets.col(i).fill(arma::datum::nan);
    }
    check_head_gradients(
        weight, bias, hidden, mask,
        [&](HeadWorkspace<double>& ws) {
          return gaussian_head_forward(weight, bias, hidden, targets, &mask, ws);
        },
        [&](HeadWorkspace<double>& ws, double scale, arma::mat& dh, arma::mat& dw, arma::mat& db) {
          gaussian_head_backward(weight, hidden, targets, &mask, scale, ws, dh, dw, db);
        },
        rng);
  }
}

// ---- optimizers ------------------------------------------------------------------------------

TEST_CASE("Adam's first two steps match hand computation", "[rnn][rnn-train]") {
  OptimizerOptions options;
  options.kind = OptimizerKind::adam;  // beta1 0.9, beta2 0.999, epsilon 1e-8
  Optimizer<double> adam(options, 2);
  arma::vec p = {1.0, -2.0};
  const double lr = 0.1;

  adam.step(p, arma::vec{0.5, -1.0}, lr);
  // t = 1: m = 0.1 g, v = 0.001 g^2; m_hat = g, v_hat = g^2, so the step is lr g / (|g| + eps).
  CHECK_THAT(p(0), WithinRel(1.0 - 0.1 * 0.5 / (0.5 + 1e-8), 1e-15));
  CHECK_THAT(p(1), WithinRel(-2.0 + 0.1 * 1.0 / (1.0 + 1e-8), 1e-15));

  const double p0 = p(0), p1 = p(1);
  adam.step(p, arma::vec{0.1, 0.3}, lr);
  // t = 2: m = 0.9 m + 0.1 g, v = 0.999 v + 0.001 g^2; corrections 1 - 0.81 and 1 - 0.998001.
  const double m0 = 0.9 * 0.05 + 0.1 * 0.1, m1 = 0.9 * -0.1 + 0.1 * 0.3;      // 0.055, -0.06
  const double v0 = 0.999 * 0.00025 + 0.001 * 0.01;                           // 0.00025975
  const double v1 = 0.999 * 0.001 + 0.001 * 0.09;                             // 0.001089
  const double step0 = lr * (m0 / 0.19) / (std::sqrt(v0 / 0.001999) + 1e-8);  // 0.0803041
  const double step1 = lr * (m1 / 0.19) / (std::sqrt(v1 / 0.001999) + 1e-8);  // -0.0427849
  CHECK_THAT(p(0), WithinRel(p0 - step0, 1e-14));
  CHECK_THAT(p(1), WithinRel(p1 - step1, 1e-14));
  // The same two steps evaluated independently in Python (float64).
  CHECK_THAT(p(0), WithinAbs(0.8196959063846512, 1e-14));
  CHECK_THAT(p(1), WithinAbs(-1.857215142429226, 1e-14));
  CHECK(adam.steps() == 2);

  SECTION("float follows double") {
    Optimizer<float> adam_f(options, 2);
    arma::fvec pf = {1.0f, -2.0f};
    adam_f.step(pf, arma::fvec{0.5f, -1.0f}, lr);
    adam_f.step(pf, arma::fvec{0.1f, 0.3f}, lr);
    CHECK_THAT(pf(0), WithinRel(p(0), 1e-6));
    CHECK_THAT(pf(1), WithinRel(p(1), 1e-6));
  }

  SECTION("exported state continues bit for bit") {
    Optimizer<double> copy(options, 2);
    copy.import_state(adam.export_state());
    arma::vec q = p;
    adam.step(p, arma::vec{-0.2, 0.7}, lr);
    copy.step(q, arma::vec{-0.2, 0.7}, lr);
    CHECK(arma::all(p == q));
    CHECK(copy.steps() == 3);

    Optimizer<double> wrong_size(options, 3);
    CHECK_THROWS_AS(wrong_size.import_state(adam.export_state()), UserError);
  }
}

TEST_CASE("SGD with momentum accumulates a velocity", "[rnn][rnn-train]") {
  OptimizerOptions options;
  options.kind = OptimizerKind::sgd;
  options.momentum = 0.9;
  const double lr = 0.1;
  const arma::vec g = {1.0};

  SECTION("heavy ball: v = 1, 1.9, 2.71") {
    Optimizer<double> sgd(options, 1);
    arma::vec p = {1.0};
    sgd.step(p, g, lr);
    CHECK_THAT(p(0), WithinAbs(0.9, 1e-15));
    sgd.step(p, g, lr);
    CHECK_THAT(p(0), WithinAbs(0.71, 1e-15));
    sgd.step(p, g, lr);
    CHECK_THAT(p(0), WithinAbs(0.439, 1e-15));
    CHECK_THAT(sgd.export_state().first(0), WithinAbs(2.71, 1e-15));
  }
  SECTION("Nesterov: p -= lr (g + mu v)") {
    options.nesterov = true;
    Optimizer<double> sgd(options, 1);
    arma::vec p = {1.0};
    sgd.step(p, g, lr);
    CHECK_THAT(p(0), WithinAbs(1.0 - 0.1 * (1.0 + 0.9 * 1.0), 1e-15));  // 0.81
    sgd.step(p, g, lr);
    CHECK_THAT(p(0), WithinAbs(0.81 - 0.1 * (1.0 + 0.9 * 1.9), 1e-15));  // 0.539
  }
  SECTION("plain SGD keeps no state") {
    options.momentum = 0.0;
    Optimizer<double> sgd(options, 1);
    arma::vec p = {1.0};
    sgd.step(p, arma::vec{2.0}, 0.25);
    CHECK(p(0) == 0.5);
    CHECK(sgd.export_state().first.is_empty());
  }
  SECTION("bad options are user errors naming the field") {
    options.momentum = 1.5;
    CHECK_THROWS_WITH(Optimizer<double>(options, 1),
                      Catch::Matchers::Contains("optimizer momentum"));
    CHECK_THROWS_AS(optimizer_kind_from_name("adagrad"), UserError);
    CHECK(optimizer_kind_from_name("rmsprop") == OptimizerKind::rmsprop);
  }
}

TEST_CASE("RMSProp divides by the root of a running mean square", "[rnn][rnn-train]") {
  OptimizerOptions options;
  options.kind = OptimizerKind::rmsprop;  // decay 0.9, epsilon 1e-8
  Optimizer<double> rms(options, 2);
  arma::vec p = {0.0, 0.0};
  rms.step(p, arma::vec{2.0, -0.5}, 0.01);
  // s = 0.1 g^2 = (0.4, 0.025); step = lr g / (sqrt(s) + eps).
  CHECK_THAT(p(0), WithinRel(-0.01 * 2.0 / (std::sqrt(0.4) + 1e-8), 1e-15));
  CHECK_THAT(p(1), WithinRel(0.01 * 0.5 / (std::sqrt(0.025) + 1e-8), 1e-15));
  CHECK_THAT(p(0), WithinAbs(-0.0316227766, 1e-9));
  CHECK_THAT(rms.export_state().second(1), WithinRel(0.025, 1e-15));
}

// ---- clipping --------------------------------------------------------------------------------

TEST_CASE("gradient clipping by global norm and by element", "[rnn][rnn-train]") {
  SECTION("norm 5 clipped to 1 keeps the direction") {
    arma::vec g = {3.0, 4.0};
    CHECK(clip_by_global_norm(g, 1.0) == 5.0);
    CHECK_THAT(arma::mat(g), IsNear(arma::vec{0.6, 0.8}, 1e-15));
  }
  SECTION("below the threshold nothing changes") {
    arma::vec g = {3.0, 4.0};
    CHECK(clip_by_global_norm(g, 10.0) == 5.0);
    CHECK(arma::all(g == arma::vec{3.0, 4.0}));
  }
  SECTION("by element clamps each entry and reports the norm before") {
    arma::fvec g = {3.0f, -4.0f, 0.5f};
    CHECK_THAT(clip_by_value(g, 1.0), WithinRel(std::sqrt(25.25), 1e-7));
    CHECK(g(0) == 1.0f);
    CHECK(g(1) == -1.0f);
    CHECK(g(2) == 0.5f);
  }
  SECTION("a non-finite gradient is reported and left alone") {
    arma::vec g = {1.0, arma::datum::nan};
    CHECK(std::isnan(clip_by_global_norm(g, 1.0)));
    CHECK(g(0) == 1.0);
  }
  SECTION("huge float elements do not overflow the norm") {
    arma::fvec g = {3e30f, 4e30f};
    CHECK_THAT(global_norm(g), WithinRel(5e30, 1e-6));
  }
}

// ---- schedules -------------------------------------------------------------------------------

TEST_CASE("learning-rate schedules follow their closed forms", "[rnn][rnn-train]") {
  ScheduleOptions o;
  o.base_rate = 1.0;

  SECTION("constant with a warmup of 4") {
    o.warmup = 4;
    validate(o);
    CHECK(scheduled_rate(o, 0) == 0.25);
    CHECK(scheduled_rate(o, 2) == 0.75);
    CHECK(scheduled_rate(o, 3) == 1.0);
    CHECK(scheduled_rate(o, 100) == 1.0);
  }
  SECTION("step decay halves every 3 steps") {
    o.kind = ScheduleKind::step;
    o.step_size = 3;
    o.gamma = 0.5;
    validate(o);
    const auto s = GENERATE(table<std::uint64_t, double>(
        {{0, 1.0}, {2, 1.0}, {3, 0.5}, {5, 0.5}, {6, 0.25}, {7, 0.25}, {9, 0.125}}));
    CAPTURE(std::get<0>(s));
    CHECK_THAT(scheduled_rate(o, std::get<0>(s)), WithinRel(std::get<1>(s), 1e-15));
  }
  SECTION("cosine from 1 to 0.1 over 12 steps") {
    o.kind = ScheduleKind::cosine;
    o.total = 12;
    o.min_rate = 0.1;
    validate(o);
    // 0.1 + 0.9 (1 + cos(pi s / 12)) / 2 at s = 0, 4, 6, 8, 12 and after.
    const auto s = GENERATE(table<std::uint64_t, double>(
        {{0, 1.0}, {4, 0.775}, {6, 0.55}, {8, 0.325}, {12, 0.1}, {20, 0.1}}));
    CAPTURE(std::get<0>(s));
    CHECK_THAT(scheduled_rate(o, std::get<0>(s)), WithinAbs(std::get<1>(s), 1e-15));
  }
  SECTION("cosine with a warmup of 2 starts its curve after the warmup") {
    o.kind = ScheduleKind::cosine;
    o.warmup = 2;
    o.total = 14;
    validate(o);
    CHECK(scheduled_rate(o, 0) == 0.5);
    CHECK(scheduled_rate(o, 1) == 1.0);
    CHECK(scheduled_rate(o, 2) == 1.0);
    CHECK_THAT(scheduled_rate(o, 8), WithinAbs(0.5, 1e-15));  // halfway, min_rate 0
    CHECK(scheduled_rate(o, 14) == 0.0);
  }
  SECTION("invalid schedules are user errors naming the field") {
    o.kind = ScheduleKind::cosine;
    o.total = 0;
    CHECK_THROWS_WITH(validate(o), Catch::Matchers::Contains("schedule total"));
    o.kind = ScheduleKind::step;
    o.gamma = 1.5;
    CHECK_THROWS_WITH(validate(o), Catch::Matchers::Contains("schedule gamma"));
    CHECK_THROWS_AS(schedule_kind_from_name("linear"), UserError);
  }
}

TEST_CASE("reduce-on-plateau cuts the rate after patience + 1 bad epochs", "[rnn][rnn-train]") {
  PlateauOptions options;
  options.factor = 0.5;
  options.patience = 2;
  options.min_rate = 0.2;
  ReduceOnPlateau plateau(1.0, options);

  // value, cut expected by this call, rate afterwards
  struct Epoch {
    double value;
    bool cut;
    double rate;
  };
  const std::vector<Epoch> script = {
      {5.0, false, 1.0},  {4.0, false, 1.0},                      // improving
      {4.5, false, 1.0},  {4.2, false, 1.0},  {4.1, true, 0.5},   // 3 bad -> cut
      {3.9, false, 0.5},                                          // new best
      {4.0, false, 0.5},  {3.9, false, 0.5},  {4.0, true, 0.25},  // equal is not better
      {4.0, false, 0.25}, {4.0, false, 0.25}, {4.0, true, 0.2},   // floor at min_rate
      {4.0, false, 0.2},  {4.0, false, 0.2},  {arma::datum::nan, false, 0.2},  // at the floor
  };
  for (std::size_t e = 0; e < script.size(); ++e) {
    CAPTURE(e, script[e].value);
    CHECK(plateau.observe(script[e].value) == script[e].cut);
    CHECK(plateau.rate() == script[e].rate);
  }
  CHECK(plateau.best() == 3.9);
  CHECK(plateau.reductions() == 3);

  SECTION("min_delta: an improvement smaller than it counts as bad") {
    options.min_delta = 0.05;
    options.patience = 0;
    ReduceOnPlateau strict(1.0, options);
    CHECK_FALSE(strict.observe(4.0));
    CHECK(strict.observe(3.97));  // not better than 4.0 - 0.05: patience 0 cuts at once
    CHECK(strict.rate() == 0.5);
    CHECK(strict.best() == 4.0);
  }
}

TEST_CASE("early stopping keeps the best parameters and restores them", "[rnn][rnn-train]") {
  EarlyStopping<float> stopper(2);
  const std::vector<double> valid = {3.0, 2.5, 2.6, 2.4, 2.45, 2.5};
  const std::vector<bool> improved = {true, true, false, true, false, false};
  const std::vector<bool> stop = {false, false, false, false, false, true};
  arma::fvec params(3);
  for (std::size_t e = 0; e < valid.size(); ++e) {
    CAPTURE(e);
    params.fill(static_cast<float>(e));  // parameters of epoch e
    CHECK(stopper.observe(valid[e], params) == improved[e]);
    CHECK(stopper.should_stop() == stop[e]);
  }
  CHECK(stopper.best() == 2.4);
  CHECK(stopper.best_epoch() == 3);
  stopper.restore(params);
  CHECK(arma::all(params == 3.0f));

  SECTION("NaN never improves, and restoring without a best is an error") {
    EarlyStopping<double> diverged(1);
    arma::vec p(2, arma::fill::ones);
    CHECK_FALSE(diverged.observe(arma::datum::nan, p));
    CHECK(diverged.should_stop());
    CHECK_FALSE(diverged.has_best());
    CHECK_THROWS_AS(diverged.restore(p), std::logic_error);
  }
  SECTION("patience 0 is a user error") { CHECK_THROWS_AS(EarlyStopping<double>(0), UserError); }
}

TEST_CASE("the parameter average is the bias-corrected exponential mean of the updates",
          "[rnn][rnn-train]") {
  const double decay = GENERATE(0.5, 0.9, 0.999);
  CAPTURE(decay);
  ParameterAverage<double> average(decay, 2);
  // Parameters after updates 1..4; weights decay^(k - i) over the sum of the weights.
  const std::vector<arma::vec> updates = {{1.0, -2.0}, {3.0, 0.0}, {-1.0, 4.0}, {0.5, 0.25}};
  for (std::size_t k = 0; k < updates.size(); ++k) {
    CAPTURE(k);
    average.add(updates[k]);
    arma::vec weighted(2, arma::fill::zeros);
    double total = 0.0;
    for (std::size_t i = 0; i <= k; ++i) {
      const double w = std::pow(decay, static_cast<double>(k - i));
      weighted += w * updates[i];
      total += w;
    }
    const arma::vec mean = average.mean();
    CHECK_THAT(mean(0), WithinAbs(weighted(0) / total, 1e-12));
    CHECK_THAT(mean(1), WithinAbs(weighted(1) / total, 1e-12));
  }
  CHECK(average.count() == 4);

  SECTION("the first mean is the first update exactly, whatever the decay") {
    ParameterAverage<float> first(decay, 3);
    const arma::fvec p = {0.1f, -7.25f, 3.0e-5f};
    first.add(p);
    CHECK(arma::all(first.mean() == p));
  }
  SECTION("misuse: decay outside (0, 1) is a user error; wrong size or no update a logic error") {
    CHECK_THROWS_AS(ParameterAverage<double>(1.0, 2), UserError);
    CHECK_THROWS_AS(ParameterAverage<double>(0.0, 2), UserError);
    ParameterAverage<double> empty(decay, 2);
    CHECK_THROWS_AS(empty.mean(), std::logic_error);
    CHECK_THROWS_AS(empty.add(arma::vec(3, arma::fill::zeros)), std::logic_error);
  }
}

// ---- initialisation --------------------------------------------------------------------------

TEST_CASE("orthogonal init is orthonormal, sign-fixed and seed-deterministic", "[rnn][rnn-train]") {
  const auto shape =
      GENERATE(std::pair<arma::uword, arma::uword>{5, 5}, std::pair<arma::uword, arma::uword>{7, 3},
               std::pair<arma::uword, arma::uword>{3, 7});
  const arma::uword rows = shape.first, cols = shape.second;
  CAPTURE(rows, cols);
  Rng rng = make_rng(61);
  const arma::mat q = random_orthogonal(rows, cols, rng);
  REQUIRE(q.n_rows == rows);
  REQUIRE(q.n_cols == cols);
  const arma::mat gram = rows >= cols ? arma::mat(q.t() * q) : arma::mat(q * q.t());
  CHECK_THAT(gram, IsNear(arma::eye(gram.n_rows, gram.n_cols), 0.0, 1e-12));

  SECTION(
      "Q is the sign-fixed QR factor of the seeded Gaussian draw: R = Q^T A has a positive "
      "diagonal and nothing below it") {
    Rng again = make_rng(61);
    const arma::uword tall_rows = std::max(rows, cols), tall_cols = std::min(rows, cols);
    arma::mat a(tall_rows, tall_cols);
    for (auto& x : a) x = standard_normal(again);  // column-major, as documented
    const arma::mat tall_q = rows >= cols ? q : arma::mat(q.t());
    const arma::mat r = tall_q.t() * a;
    for (arma::uword j = 0; j < tall_cols; ++j) {
      CAPTURE(j);
      CHECK(r(j, j) > 0.0);
      for (arma::uword i = j + 1; i < tall_cols; ++i) CHECK_THAT(r(i, j), WithinAbs(0.0, 1e-12));
    }
  }
  SECTION("same seed, same matrix; another seed, another matrix") {
    Rng same = make_rng(61), other = make_rng(62);
    CHECK(arma::all(arma::vectorise(random_orthogonal(rows, cols, same) == q)));
    CHECK(arma::any(arma::vectorise(random_orthogonal(rows, cols, other) != q)));
  }
  SECTION("init_orthogonal writes through a view into a flat float buffer") {
    arma::fvec buffer(rows * cols + 2);
    buffer.fill(7.0f);
    arma::fmat view(buffer.memptr() + 1, rows, cols, false, true);
    Rng same = make_rng(61);
    init_orthogonal(view, same, 2.0);
    CHECK(buffer(0) == 7.0f);
    CHECK(buffer(rows * cols + 1) == 7.0f);
    CHECK_THAT(arma::mat(arma::conv_to<arma::mat>::from(view)), IsNear(2.0 * q, 0.0, 1e-6));
  }
}

TEST_CASE("Xavier uniform draws within +-gain sqrt(6 / (fan_in + fan_out))", "[rnn][rnn-train]") {
  Rng rng = make_rng(71);
  arma::mat w(200, 300);
  init_xavier_uniform(w, rng);
  const double bound = std::sqrt(6.0 / 500.0);
  CHECK(arma::abs(w).max() <= bound);
  CHECK(arma::abs(w).max() > 0.99 * bound);
  // U(-a, a) has variance a^2 / 3 = 2 / (fan_in + fan_out); 60000 draws estimate it within ~1%.
  CHECK_THAT(arma::var(arma::vectorise(w)), WithinRel(2.0 / 500.0, 0.03));
  CHECK_THAT(arma::mean(arma::vectorise(w)), WithinAbs(0.0, 0.01 * bound));

  arma::fmat small(2, 3);
  Rng a = make_rng(5), b = make_rng(5);
  init_xavier_uniform(small, a, 3.0);
  arma::fmat again(2, 3);
  init_uniform(again, 3.0 * std::sqrt(6.0 / 5.0), b);
  CHECK(arma::all(arma::vectorise(small == again)));
}
