// tests/unit/test_model_registry.cpp: the model registry: option defaults, the "does not apply"
// rule (by model type and by another option's value), ranges and types with the option named as
// the front end spells it, canonical value texts, and factories that build the same models as
// the model classes built by hand.
#include <set>

#include "seqlab/core/error.hpp"
#include "seqlab/data/synthetic.hpp"
#include "seqlab/models/hmm/hmm.hpp"
#include "seqlab/models/markov/markov_chain.hpp"
#include "seqlab/models/model_registry.hpp"
#include "seqlab/models/rnn/rnn_model.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;

namespace {

// Spells options as TOML keys and throws the message as it is.
OptionSpelling plain_spelling() {
  OptionSpelling s;
  s.name = [](const std::string& option) { return option; };
  s.fail = [](const std::string&, const std::string& message) { throw UserError(message); };
  return s;
}

std::string resolve_error(const std::string& model, const OptionValues& given) {
  try {
    (void)resolve_options(model, given, plain_spelling());
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

SequenceDataset casino() {
  Options o;
  o.set("sequences", "4");
  return make_synthetic_dataset("casino", "casino", o, 7);
}

}  // namespace

TEST_CASE("the model registry lists each type once, with a family, and every option once",
          "[registry][models]") {
  std::set<std::string> names;
  for (const auto& t : model_types()) {
    CAPTURE(t.name);
    CHECK(names.insert(t.name).second);
    CHECK_FALSE(t.family.empty());
    CHECK(model_family(t.name) == t.family);
  }
  CHECK(names == std::set<std::string>{"markov", "hmm", "rnn", "leaky", "jordan", "lstm", "gru",
                                       "rbm", "bm", "crbm", "hopfield"});
  std::set<std::string> options;
  for (const auto& o : model_options()) {
    CAPTURE(o.name);
    CHECK(options.insert(o.name).second);
    CHECK_FALSE(o.models.empty());
    for (const auto& m : o.models) CHECK(find_model_type(m) != nullptr);
    if (o.when) CHECK(find_option(o.when->option) != nullptr);
  }
  CHECK(file_model_types().size() == model_types().size());
}

TEST_CASE("resolve_options fills every default of the type and nothing of other types",
          "[registry][models]") {
  SECTION("hmm with the categorical default emission") {
    const ResolvedOptions r = resolve_options("hmm", {}, plain_spelling());
    CHECK(r.integer("states") == 8);
    CHECK(r.text("emission") == "categorical");
    CHECK(r.integer("chunk") == 0);  // applies: emission categorical
    CHECK(r.real("max-time") == 0.0);  // the time budget of every iterative model
    CHECK(r.values.count("mixtures") == 0);       // gmm only
    CHECK(r.values.count("variance-floor") == 0); // gaussian kinds only
    CHECK(r.values.count("hidden") == 0);
    CHECK(r.given.empty());
  }
  SECTION("hmm gmm takes mixtures and the variance floor, not chunk") {
    const ResolvedOptions r =
        resolve_options("hmm", {{"emission", std::string("gmm")}}, plain_spelling());
    CHECK(r.integer("mixtures") == 2);
    CHECK(r.real("variance-floor") == 1e-6);
    CHECK(r.values.count("chunk") == 0);
    CHECK(r.was_given("emission"));
  }
  SECTION("an integer for a real option is a real") {
    const ResolvedOptions r =
        resolve_options("lstm", {{"lr", std::int64_t{1}}}, plain_spelling());
    CHECK(r.real("lr") == 1.0);
    CHECK(r.values.count("tau") == 0);  // leaky only
    CHECK(r.values.count("lr-gamma") == 0);  // schedule constant
  }
}

TEST_CASE("resolve_options names the option and the rule it breaks", "[registry][models]") {
  CHECK_THAT(resolve_error("transformer", {}),
             Equals("unknown model 'transformer' (expected: markov, hmm, rnn, leaky, jordan, "
                    "lstm, gru, rbm, bm, crbm or hopfield)"));
  CHECK_THAT(resolve_error("lstm", {{"tau", 3.0}}),
             Equals("tau applies to model leaky only (got model lstm)"));
  CHECK_THAT(resolve_error("hmm", {{"mixtures", std::int64_t{3}}}),
             Equals("mixtures applies to emission gmm only (got emission categorical)"));
  CHECK_THAT(resolve_error("markov", {{"alpha", 0.5}}),
             Equals("alpha applies to smoothing add only (got smoothing kn)"));
  CHECK_THAT(resolve_error("markov", {{"max-time", 5.0}}),
             Equals("max-time applies to model hmm, rnn, leaky, jordan, lstm, gru, rbm, bm or "
                    "crbm only (got model markov)"));
  CHECK_THAT(resolve_error("hmm", {{"states", std::int64_t{0}}}),
             Equals("states must be between 1 and 100000, got 0"));
  CHECK_THAT(resolve_error("rnn", {{"delay", std::int64_t{1}}}),
             Equals("delay must be between 2 and 100000 steps, got 1"));
  CHECK(resolve_error("rnn", {{"delay", std::int64_t{0}}}).empty());  // 0 = no delay line
  CHECK_THAT(resolve_error("lstm", {{"dropout", 1.0}}),
             Equals("dropout must be in [0, 1), got 1"));
  CHECK_THAT(resolve_error("hmm", {{"tol", std::numeric_limits<double>::infinity()}}),
             Equals("tol must be a number in [0, 1e+300], got inf"));
  CHECK_THAT(resolve_error("lstm", {{"hidden", 2.5}}), Equals("hidden must be an integer, got 2.5"));
  CHECK_THAT(resolve_error("lstm", {{"optimizer", std::string("adamw")}}),
             Equals("optimizer must be adam, sgd or rmsprop, got 'adamw'"));
  CHECK_THAT(resolve_error("lstm", {{"optimizer", std::int64_t{3}}}),
             Contains("optimizer must be a string"));
  CHECK_THAT(resolve_error("lstm", {{"residual", true}}),
             Equals("residual needs layers 2 or more"));
  CHECK_THAT(resolve_error("lstm", {{"schedule", std::string("plateau")}, {"lr-gamma", 1.0}}),
             Equals("schedule plateau needs lr-gamma below 1 (the factor of each cut)"));
  CHECK_THAT(resolve_error("lstm", {{"no-such-option", 1.0}}),
             Equals("unknown option no-such-option"));
}

TEST_CASE("option texts are canonical and parse back", "[registry][models]") {
  CHECK(option_text(OptionValue{std::int64_t{-3}}) == "-3");
  CHECK(option_text(OptionValue{0.1}) == "0.1");
  CHECK(option_text(OptionValue{1e-6}) == "1e-06");
  CHECK(option_text(OptionValue{std::string("gmm")}) == "gmm");
  CHECK(option_text(OptionValue{true}) == "true");
  const OptionSpelling s = plain_spelling();
  const OptionSpec& lr = *find_option("lr");
  CHECK(std::get<double>(parse_option_text(lr, "0.002", s)) == 0.002);
  CHECK_THROWS_WITH(parse_option_text(lr, "fast", s), "lr must be a number, got 'fast'");
  const OptionSpec& hidden = *find_option("hidden");
  CHECK(std::get<std::int64_t>(parse_option_text(hidden, "+64", s)) == 64);
  CHECK_THROWS_WITH(parse_option_text(hidden, "64k", s), "hidden must be an integer, got '64k'");
  CHECK_THROWS_WITH(parse_option_text(*find_option("residual"), "yes", s),
                    "residual must be true or false, got 'yes'");
}

TEST_CASE("build_model makes the model the options describe", "[registry][models]") {
  const SequenceDataset data = casino();
  const OptionSpelling s = plain_spelling();
  SECTION("markov") {
    auto m = build_model(resolve_options("markov", {{"order", std::int64_t{2}}}, s), data, s);
    MarkovOptions mo;
    mo.order = 2;
    CHECK(m->type() == "markov");
    CHECK(m->num_parameters() == MarkovChain(data.alphabet, mo).num_parameters());
  }
  SECTION("hmm") {
    auto m = build_model(resolve_options("hmm", {{"states", std::int64_t{3}}}, s), data, s);
    // N - 1 initial, N (N - 1) transition, N (M - 1) emission probabilities.
    CHECK(m->num_parameters() == 2 + 6 + 3 * (data.alphabet.size() - 1));
  }
  SECTION("lstm") {
    auto m = build_model(resolve_options("lstm", {{"hidden", std::int64_t{16}},
                                                  {"embedding", std::int64_t{4}}}, s),
                         data, s);
    RnnOptions ro;
    ro.cell = rnn::CellType::lstm;
    ro.hidden = 16;
    ro.embedding = 4;
    CHECK(m->type() == "lstm");
    CHECK(m->num_parameters() == RnnModel(data.alphabet, ro).num_parameters());
  }
  SECTION("hmm with a time budget") {
    // Fitting 300 iterations of 3 restarts takes far longer than 1e-9 s: the budget stops the
    // first restart after one iteration, so it must have reached the model.
    auto m = build_model(resolve_options("hmm", {{"max-iter", std::int64_t{300}},
                                                 {"tol", 0.0},
                                                 {"restarts", std::int64_t{3}},
                                                 {"max-time", 1e-9}}, s),
                         data, s);
    FitOptions quiet;
    quiet.quiet = true;
    m->fit(data.train, nullptr, quiet, nullptr);
    const auto& hmm = dynamic_cast<const CategoricalHmm&>(*m);
    REQUIRE(hmm.last_fit().restarts.size() == 1);
    CHECK(hmm.last_fit().restarts[0].iterations == 1);
    CHECK(hmm.last_fit().restarts_skipped == 2);
  }
  SECTION("an emission for another kind of data") {
    CHECK_THROWS_WITH(
        build_model(resolve_options("hmm", {{"emission", std::string("gaussian")}}, s), data, s),
        Contains("emission gaussian models vectors, but dataset 'casino' holds symbols"));
  }
}
