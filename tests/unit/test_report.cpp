// tests/unit/test_report.cpp: the pieces of the report that need no gnuplot: statistics over
// seeds, grouping and ranking, figure formats, file-name slugs and the escaping of every format.
#include <cmath>
#include <limits>

#include "seqlab/core/error.hpp"
#include "seqlab/report/aggregate.hpp"
#include "seqlab/report/figures.hpp"
#include "seqlab/report/report.hpp"
#include "test_support.hpp"

using namespace seqlab;
using namespace seqlab::report;
using Catch::Matchers::Contains;
using Catch::Matchers::WithinRel;

namespace {

RunResult run(const std::string& dataset, const std::string& label, const std::string& family,
              std::uint64_t seed, double test_bits) {
  RunResult r;
  r.dataset = dataset;
  r.label = label;
  r.family = family;
  r.seed = seed;
  r.run_id = label + std::to_string(seed);
  if (!std::isnan(test_bits)) {
    SplitMetrics m;
    m.bits_per_step = test_bits;
    m.nats_per_step = test_bits * std::log(2.0);
    r.test = m;
  }
  return r;
}

}  // namespace

TEST_CASE("statistics over seeds ignore NaN and use the sample standard deviation", "[report]") {
  const Stat s = stat_of({1.0, 2.0, NAN, 3.0});
  CHECK(s.n == 3);
  CHECK(s.mean == 2.0);
  CHECK(s.sd == 1.0);
  CHECK(s.min == 1.0);
  CHECK(s.max == 3.0);
  const Stat one = stat_of({5.0});
  CHECK(one.mean == 5.0);
  CHECK(std::isnan(one.sd));
  CHECK(stat_of({}).n == 0);
  CHECK(std::isnan(stat_of({NAN}).mean));
  CHECK(std::isinf(stat_of({1.0, std::numeric_limits<double>::infinity()}).mean));
}

TEST_CASE("runs are grouped by dataset and label and ranked by mean test bits", "[report]") {
  const std::vector<RunResult> runs = {
      run("b", "lstm", "RNN", 2, 1.2), run("b", "lstm", "RNN", 1, 1.0),
      run("b", "hmm", "HMM", 1, 1.5),  run("a", "markov", "n-gram", 1, 2.0),
      run("b", "new", "RNN", 1, NAN),  run("b", "gru", "RNN", 1, 0.9),
  };
  const std::vector<ModelGroup> groups = group_runs(runs);
  REQUIRE(groups.size() == 5);
  CHECK(groups[0].dataset == "a");
  CHECK(groups[0].rank == 1);
  CHECK(groups[1].label == "gru");
  CHECK(groups[1].rank == 1);
  CHECK(groups[2].label == "lstm");
  CHECK(groups[2].rank == 2);
  CHECK(groups[2].runs.size() == 2);
  CHECK(groups[2].runs[0]->seed == 1);  // by seed
  CHECK_THAT(groups[2].test_bits.mean, WithinRel(1.1, 1e-12));
  CHECK(groups[2].best->seed == 1);  // the lower test NLL
  CHECK(groups[3].label == "hmm");
  CHECK(groups[4].label == "new");  // unscored last
  CHECK(groups[4].rank == 4);
  CHECK(datasets_of(groups) == std::vector<std::string>{"a", "b"});
  CHECK(family_order(groups) == std::vector<std::string>{"n-gram", "HMM", "RNN"});
}

TEST_CASE("figure formats, slugs", "[report]") {
  CHECK(parse_figure_formats("pdf,png,pdf") ==
        std::vector<FigureFormat>{FigureFormat::pdf, FigureFormat::png});
  CHECK(parse_figure_formats("svg") == std::vector<FigureFormat>{FigureFormat::svg});
  CHECK_THROWS_WITH(parse_figure_formats("png,eps"), Contains("unknown format 'eps'"));
  CHECK_THROWS_WITH(parse_figure_formats(""), Contains("an empty format name"));
  CHECK(extension(FigureFormat::pdf) == "pdf");
  CHECK(slug("lstm h=128") == "lstm-h-128");
  CHECK(slug("../x/<y>") == "x-y");
  CHECK(slug("\xC3\xA9t\xC3\xA9") == "t");
  CHECK(slug("***") == "x");
}

TEST_CASE("text from results is escaped for HTML, LaTeX and Markdown", "[report]") {
  CHECK(html_escape("<b>&\"'</b>") == "&lt;b&gt;&amp;&quot;&#39;&lt;/b&gt;");
  CHECK(html_escape("a\tb\nc\x01") == "a\tb\nc\\x01");
  CHECK(html_escape("\xC3\xA9") == "\xC3\xA9");
  CHECK(latex_escape("100% of $x_1^2$ & {#~\\} <>") ==
        "100\\% of \\$x\\_1\\textasciicircum{}2\\$ \\& \\{\\#\\textasciitilde{}\\textbackslash{}\\}"
        " \\textless{}\\textgreater{}");
  CHECK(markdown_escape("a|b *c* _d_ `e` [f] <g> & #h ~i\nj") ==
        "a\\|b \\*c\\* \\_d\\_ \\`e\\` \\[f\\] &lt;g&gt; &amp; \\#h \\~i j");
}

TEST_CASE("a sweep is found where generated datasets differ in one numeric option", "[report]") {
  const auto made = [](const std::string& dataset, const std::string& identity,
                       const std::string& label, std::uint64_t seed) {
    RunResult r = run(dataset, label, "RNN", seed, 1.0);
    r.settings = {{"dataset", identity}, {"model", label}};
    return r;
  };
  const std::string copy = "generator:copy seed:1 ";
  std::vector<RunResult> runs;
  for (const char* label : {"gru", "rnn"})
    for (std::uint64_t seed : {1, 2}) {
      runs.push_back(made("copy D=50", copy + "delay=50 length=5 symbols=8", label, seed));
      runs.push_back(made("copy D=5", copy + "delay=5 length=5 symbols=8", label, seed));
      runs.push_back(made("copy D=20", copy + "delay=20 length=5 symbols=8", label, seed));
      runs.push_back(made("casino", "registry:casino", label, seed));
    }
  SECTION("three delays, in increasing order; the registry dataset is not part of it") {
    const auto sweep = find_sweep(group_runs(runs));
    REQUIRE(sweep);
    CHECK(sweep->generator == "copy");
    CHECK(sweep->option == "delay");
    REQUIRE(sweep->points.size() == 3);
    CHECK(sweep->points[0] == std::make_pair(5.0, std::string("copy D=5")));
    CHECK(sweep->points[1] == std::make_pair(20.0, std::string("copy D=20")));
    CHECK(sweep->points[2] == std::make_pair(50.0, std::string("copy D=50")));
  }
  SECTION("the largest family wins: two lengths at one delay lose to three delays") {
    runs.push_back(made("copy L=9", copy + "delay=5 length=9 symbols=8", "gru", 1));
    const auto sweep = find_sweep(group_runs(runs));
    REQUIRE(sweep);
    CHECK(sweep->option == "delay");
    CHECK(sweep->points.size() == 3);
  }
  SECTION("datasets that differ in two options, or in the generator's seed, are no sweep") {
    std::vector<RunResult> two = {
        made("a", copy + "delay=5 length=5 symbols=8", "gru", 1),
        made("b", copy + "delay=20 length=9 symbols=8", "gru", 1),
        made("c", "generator:copy seed:2 delay=50 length=5 symbols=8", "gru", 1)};
    CHECK_FALSE(find_sweep(group_runs(two)));
  }
  SECTION("one generated dataset is no sweep") {
    std::vector<RunResult> one = {made("a", copy + "delay=5 length=5 symbols=8", "gru", 1)};
    CHECK_FALSE(find_sweep(group_runs(one)));
  }
}
