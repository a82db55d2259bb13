// tests/unit/test_experiment_plan.cpp: experiment files -> plans: the grid is the product of the
// listed values, budgets reach the models that take them (a model's own value wins), run ids
// hash the fully defaulted settings (order, spelling and defaults written out do not matter;
// every setting does), and problems are reported at file:line:column.
#include <set>

#include "seqlab/core/error.hpp"
#include "seqlab/experiment/plan.hpp"
#include "test_support.hpp"

using namespace seqlab;
using Catch::Matchers::Contains;
using Catch::Matchers::Equals;
using Catch::Matchers::StartsWith;

namespace {

ExperimentPlan plan_of(const std::string& text) {
  return parse_experiment_text(text, "exp.toml", PlanOverrides{});
}

std::string error_of(const std::string& text) {
  try {
    (void)plan_of(text);
  } catch (const UserError& e) {
    return e.what();
  }
  return "";
}

const std::string kCasino = "[[datasets]]\nname = \"casino\"\n";

}  // namespace

TEST_CASE("a grid is the product of its lists, times datasets and seeds", "[experiment]") {
  const ExperimentPlan p = plan_of("[experiment]\nseeds = [3, 4]\n" + kCasino +
                                   "[[datasets]]\nname = \"brackets\"\n"
                                   "[[models]]\nmodel = \"markov\"\norder = [1, 2, 3]\n"
                                   "smoothing = [\"kn\", \"add\"]\n");
  REQUIRE(p.runs.size() == 3 * 2 * 2 * 2);
  std::set<std::string> ids;
  for (const auto& run : p.runs) ids.insert(run.id);
  CHECK(ids.size() == p.runs.size());
  // First axis slowest, then datasets, then seeds.
  CHECK(p.runs[0].label == "markov order=1 smoothing=kn");
  CHECK(p.runs[0].seed == 3);
  CHECK(p.runs[1].seed == 4);
  CHECK(p.runs[2].dataset == 1);
  CHECK(p.runs[4].label == "markov order=1 smoothing=add");
  CHECK(p.runs[8].label == "markov order=2 smoothing=kn");
  CHECK(p.runs[4].options.real("alpha") == 1.0);  // add-alpha takes its default
  CHECK(p.runs[0].options.values.count("alpha") == 0);
  CHECK(p.name == "exp");
}

TEST_CASE("budgets reach the models that take them; a model's own value wins", "[experiment]") {
  const ExperimentPlan p = plan_of("[budget]\nepochs = 2\nmax-iter = 7\n" + kCasino +
                                   "[[models]]\nmodel = \"hmm\"\n"
                                   "[[models]]\nmodel = \"lstm\"\nepochs = 5\nhidden = 4\n"
                                   "[[models]]\nmodel = \"gru\"\nhidden = 4\n");
  REQUIRE(p.runs.size() == 3);
  CHECK(p.runs[0].options.integer("max-iter") == 7);
  CHECK(p.runs[0].options.values.count("epochs") == 0);
  CHECK(p.runs[1].options.integer("epochs") == 5);
  CHECK(p.runs[2].options.integer("epochs") == 2);
  CHECK(p.runs[2].parameters > 0);
}

TEST_CASE("the plan counts a model's parameters where the data does not decide them",
          "[experiment]") {
  const ExperimentPlan p = plan_of(kCasino + "[[models]]\nmodel = \"hmm\"\nstates = 3\n"
                                             "[[models]]\nmodel = \"markov\"\norder = 2\n");
  REQUIRE(p.runs.size() == 2);
  // 3 states, 6 symbols: initial 2 + transitions 3 x 2 + emissions 3 x 5 free parameters.
  CHECK(p.runs[0].parameters == 2 + 6 + 15);
  // An n-gram model stores the n-grams training sees: unknown before it runs.
  CHECK(p.runs[1].parameters == 0);
}

TEST_CASE("run ids hash the fully defaulted settings", "[experiment]") {
  const auto id = [](const std::string& models, const std::string& experiment = "") {
    return plan_of(experiment + kCasino + "[[models]]\n" + models).runs.at(0).id;
  };
  const std::string plain = id("model = \"hmm\"\n");
  CHECK(plain.size() == 16);
  CHECK(id("states = 8\nmodel = \"hmm\"\ntol = 1e-4\n") == plain);  // defaults written out
  CHECK(id("model = \"hmm\"\nlabel = \"another name\"\n") == plain);  // labels are names only
  CHECK(id("model = \"hmm\"\nstates = 9\n") != plain);
  CHECK(id("model = \"hmm\"\ntol = 1e-5\n") != plain);
  CHECK(id("model = \"hmm\"\n", "[experiment]\nseed = 2\n") != plain);
  CHECK(id("model = \"hmm\"\n", "[experiment]\nthreads = 2\n") != plain);
  const ExperimentPlan p = plan_of(kCasino + "[[models]]\nmodel = \"hmm\"\n");
  CHECK_THAT(p.runs[0].settings, Contains("model = \"hmm\"\n"));
  CHECK_THAT(p.runs[0].settings, Contains("\"states\" = 8\n"));
  CHECK_THAT(p.runs[0].settings, Contains("dataset = \"registry:casino\"\n"));
}

TEST_CASE("experiment files are checked at file:line:column", "[experiment]") {
  CHECK_THAT(error_of(kCasino + "[[models]]\nmodel = \"hmm\"\nstates = \"many\"\n"),
             Equals("exp.toml:5:1: states must be an integer, got many"));
  CHECK_THAT(error_of(kCasino + "[[models]]\nmodel = \"lstm\"\nhidden = [8, 16.5]\n"),
             Equals("exp.toml:5:14: hidden must be an integer, got 16.5"));
  CHECK_THAT(error_of("[experiment]\nfigures = [\"comparisn\"]\n" + kCasino +
                      "[[models]]\nmodel = \"hmm\"\n"),
             StartsWith("exp.toml:2:12: unknown figure 'comparisn' (did you mean 'comparison'?)"));
  CHECK_THAT(error_of("[experiment]\nname = \"../x\"\n" + kCasino + "[[models]]\nmodel = \"hmm\"\n"),
             StartsWith("exp.toml:2:8: name must be letters"));
  CHECK_THAT(error_of(kCasino + "[[models]]\nmodel = \"hmm\"\n[[models]]\n"),
             StartsWith("exp.toml:5:1: a [[models]] table needs model"));
}

TEST_CASE("a list of model types is a grid axis; optional datasets may be missing",
          "[experiment]") {
  SECTION("model types") {
    const ExperimentPlan p =
        plan_of(kCasino + "[[models]]\nmodel = [\"rnn\", \"gru\"]\nhidden = [4, 8]\n");
    REQUIRE(p.runs.size() == 4);
    CHECK(p.runs[0].label == "rnn hidden=4");
    CHECK(p.runs[1].label == "rnn hidden=8");
    CHECK(p.runs[2].label == "gru hidden=4");
    CHECK(p.runs[2].options.model == "gru");
    CHECK_THAT(error_of(kCasino + "[[models]]\nmodel = [\"rnn\", \"gru\"]\ndelay = 2\n"),
               Equals("exp.toml:5:1: delay applies to model rnn or leaky only (got model gru)"));
  }
  SECTION("an optional dataset that is not there is left out with a note") {
    const ExperimentPlan p =
        plan_of(kCasino + "[[datasets]]\nname = \"no-such-set\"\noptional = true\n"
                          "[[models]]\nmodel = \"markov\"\n"
                          "[[models]]\nmodel = \"hmm\"\ndatasets = [\"no-such-set\"]\n");
    REQUIRE(p.runs.size() == 1);
    CHECK(p.runs[0].dataset == 0);
    REQUIRE(p.notes.size() == 1);
    CHECK_THAT(p.notes[0], StartsWith("dataset 'no-such-set' (optional) left out: unknown dataset"));
    CHECK_FALSE(p.datasets[1].available);
  }
  SECTION("a dataset that is not optional must be there") {
    CHECK_THAT(error_of("[[datasets]]\nname = \"no-such-set\"\n[[models]]\nmodel = \"hmm\"\n"),
               StartsWith("exp.toml:2:1: unknown dataset 'no-such-set'"));
  }
}
