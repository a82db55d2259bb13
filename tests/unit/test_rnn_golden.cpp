// tests/unit/test_rnn_golden.cpp: seqlab's recurrent models against PyTorch. Each fixture pair
// tests/fixtures/rnn/golden_<cell>_<precision>.{h5,txt} holds a tiny torch.nn model (embedding ->
// 2-layer nn.RNN / nn.LSTM / nn.GRU -> nn.Linear) converted to a seqlab model file, and the
// per-step log-probabilities PyTorch computed for a 12-symbol sequence under seqlab's prediction
// convention (tests/fixtures/rnn/make_golden.py is the recipe and documents the .txt layout).
// seqlab scores in double precision, so it must reproduce PyTorch's float64 numbers to rounding
// and its float32 numbers to float32 accuracy.
#include <fstream>
#include <iomanip>
#include <string>

#include "seqlab/core/error.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::WithinAbs;
using Catch::Matchers::WithinRel;

namespace {

struct GoldenCase {
  std::string text;           // the scored sequence, one character per symbol
  std::vector<double> torch;  // log p(x_t | x_<t) from PyTorch, one per character
};

GoldenCase read_golden(const std::filesystem::path& path) {
  std::ifstream in(path);
  REQUIRE(in.good());
  GoldenCase golden;
  REQUIRE(std::getline(in, golden.text));
  std::string line;
  while (std::getline(in, line))
    if (!line.empty()) golden.torch.push_back(std::stod(line));
  REQUIRE(golden.torch.size() == golden.text.size());
  return golden;
}

arma::uvec encode(const Alphabet& alphabet, const std::string& text) {
  arma::uvec symbols(text.size());
  for (std::size_t t = 0; t < text.size(); ++t) {
    const auto index = alphabet.find(std::string(1, text[t]));
    REQUIRE(index.has_value());
    symbols(t) = *index;
  }
  return symbols;
}

}  // namespace

TEST_CASE("recurrent models score like the PyTorch modules they were converted from",
          "[rnn-golden]") {
  const std::string cell = GENERATE(as<std::string>{}, "rnn", "rnn_relu", "lstm", "gru");
  const std::string precision = GENERATE(as<std::string>{}, "f64", "f32");
  // f64: both sides compute the same expressions in double; only summation order differs.
  // f32: PyTorch rounded every operation to float32 (about 6e-8 relative each).
  const double tolerance = precision == "f64" ? 1e-10 : 1e-5;
  const std::string stem = "rnn/golden_" + cell + "_" + precision;
  CAPTURE(stem, tolerance);

  const GoldenCase golden = read_golden(test::fixture(stem + ".txt"));
  const auto model = load_model(test::fixture(stem + ".h5"));
  const std::string expected_type = cell == "rnn_relu" ? "rnn" : cell;
  CHECK(model->type() == expected_type);
  REQUIRE(model->kind() == SequenceKind::symbols);
  REQUIRE(model->alphabet().size() == 5);

  const arma::uvec symbols = encode(model->alphabet(), golden.text);
  const arma::vec seqlab = model->step_log_probs(symbols);
  REQUIRE(seqlab.n_elem == golden.torch.size());

  double torch_total = 0.0;
  for (arma::uword t = 0; t < seqlab.n_elem; ++t) {
    INFO("step " << t << " symbol '" << golden.text[t] << "': seqlab " << std::setprecision(17)
                 << seqlab(t) << ", PyTorch " << golden.torch[t]);
    CHECK_THAT(seqlab(t), WithinRel(golden.torch[t], tolerance) ||
                              WithinAbs(golden.torch[t], tolerance));
    torch_total += golden.torch[t];
  }

  SECTION("scoring in short windows carries the state exactly") {
    auto* rnn_model = dynamic_cast<RnnModel*>(model.get());
    REQUIRE(rnn_model != nullptr);
    const arma::uword window = GENERATE(1, 5, 12);  // 12 windows; 5 + 5 + 2; one window
    CAPTURE(window);
    rnn_model->set_scoring_window(window);
    const arma::vec windowed = rnn_model->step_log_probs(symbols);
    REQUIRE(windowed.n_elem == golden.torch.size());
    for (arma::uword t = 0; t < windowed.n_elem; ++t) {
      INFO("step " << t << ": seqlab " << std::setprecision(17) << windowed(t) << ", PyTorch "
                   << golden.torch[t]);
      CHECK_THAT(windowed(t), WithinRel(golden.torch[t], tolerance) ||
                                  WithinAbs(golden.torch[t], tolerance));
    }
  }

  SECTION("the sequence log-likelihood is the sum of the same steps") {
    const double total = model->log_likelihood(symbols);
    CHECK_THAT(total, WithinRel(torch_total, tolerance) || WithinAbs(torch_total, tolerance));
  }

  SECTION("the model file holds the torch model's parameter count") {
    // embedding (V+1) E + per layer G H (D + H + 2) + head V (H + 1); V 5, E 3, H 4, L 2.
    const std::uint64_t gates = cell == "lstm" ? 4 : cell == "gru" ? 3 : 1;
    const std::uint64_t torch_count =
        6 * 3 + gates * 4 * (3 + 4 + 2) + gates * 4 * (4 + 4 + 2) + 5 * (4 + 1);
    // seqlab's Elman cell keeps one bias where nn.RNN keeps two that only act as their sum.
    const std::uint64_t merged_biases = cell == "rnn" || cell == "rnn_relu" ? 2 * 4 : 0;
    CHECK(model->num_parameters() == torch_count - merged_biases);
  }
}
