// seqlab/report/report.cpp: index.html, report.md and table.tex of a results folder (see
// report.hpp). One model of rows and cells is built from the grouped runs; each format renders
// it with its own escaping.
#include "seqlab/report/report.hpp"

#include <toml++/toml.h>

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <map>
#include <set>
#include <sstream>
#include <system_error>
#include <tuple>

#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/core/version.hpp"
#include "seqlab/report/aggregate.hpp"

namespace seqlab::report {
namespace fs = std::filesystem;

// ---- escaping ---------------------------------------------------------------------------------

namespace {
std::string hex_escape(unsigned char c) {
  char buf[8];
  std::snprintf(buf, sizeof buf, "\\x%02X", c);
  return buf;
}
}  // namespace

std::string html_escape(const std::string& text) {
  std::string out;
  out.reserve(text.size());
  for (unsigned char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '"':
        out += "&quot;";
        break;
      case '\'':
        out += "&#39;";
        break;
      case '\t':
      case '\n':
      case '\r':
        out += static_cast<char>(c);
        break;
      default:
        if (c < 0x20 || c == 0x7f)
          out += hex_escape(c);
        else
          out += static_cast<char>(c);
    }
  }
  return out;
}

std::string latex_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '\\':
        out += "\\textbackslash{}";
        break;
      case '{':
        out += "\\{";
        break;
      case '}':
        out += "\\}";
        break;
      case '$':
        out += "\\$";
        break;
      case '&':
        out += "\\&";
        break;
      case '#':
        out += "\\#";
        break;
      case '_':
        out += "\\_";
        break;
      case '%':
        out += "\\%";
        break;
      case '^':
        out += "\\textasciicircum{}";
        break;
      case '~':
        out += "\\textasciitilde{}";
        break;
      case '<':
        out += "\\textless{}";
        break;
      case '>':
        out += "\\textgreater{}";
        break;
      default:
        out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
    }
  }
  return out;
}

std::string markdown_escape(const std::string& text) {
  std::string out;
  for (unsigned char c : text) {
    switch (c) {
      case '&':
        out += "&amp;";
        break;
      case '<':
        out += "&lt;";
        break;
      case '>':
        out += "&gt;";
        break;
      case '\\':
      case '`':
      case '*':
      case '_':
      case '[':
      case ']':
      case '|':
      case '#':
      case '~':
        out += '\\';
        out += static_cast<char>(c);
        break;
      default:
        out += (c < 0x20 || c == 0x7f) ? ' ' : static_cast<char>(c);
    }
  }
  return out;
}

namespace {

// ---- numbers ------------------------------------------------------------------------------------

std::string fixed(double x, int decimals) {
  if (std::isnan(x)) return "";
  if (std::isinf(x)) return x > 0 ? "inf" : "-inf";
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.*f", decimals, x);
  return buf;
}

// "mean ± sd" over seeds, the mean alone for one seed; "" when there is nothing.
std::string stat_text(const Stat& s, int decimals, const std::string& pm) {
  if (s.n == 0) return "";
  std::string out = fixed(s.mean, decimals);
  if (s.n > 1 && std::isfinite(s.sd)) out += pm + fixed(s.sd, decimals);
  return out;
}

std::string count_text(const Stat& s, const std::string& pm) {
  if (s.n == 0 || !std::isfinite(s.mean)) return "";
  std::string out = with_commas(static_cast<std::uint64_t>(std::llround(s.mean)));
  if (s.n > 1 && s.sd > 0) out += pm + with_commas(static_cast<std::uint64_t>(std::llround(s.sd)));
  return out;
}

// Seconds to three significant digits (without an exponent), the spread to the same place.
std::string seconds_text(const Stat& s, const std::string& pm) {
  if (s.n == 0 || !std::isfinite(s.mean)) return "";
  const double m = std::abs(s.mean);
  const int decimals = m >= 100  ? 0
                       : m >= 10 ? 1
                       : m >= 1  ? 2
                       : m > 0   ? std::min(9, 2 - static_cast<int>(std::floor(std::log10(m))))
                                 : 2;
  std::string out = fixed(s.mean, decimals);
  if (s.n > 1 && std::isfinite(s.sd)) out += pm + fixed(s.sd, decimals);
  return out;
}
std::string seconds_text(double seconds) {
  Stat s;
  s.n = 1;
  s.mean = seconds;
  return seconds_text(s, "");
}

// ---- the content, format-neutral ----------------------------------------------------------------

struct Table {
  std::vector<std::string> header;
  std::vector<bool> numeric;
  std::vector<std::vector<std::string>> rows;
  std::vector<std::string> row_dataset;  // for group separators in LaTeX
};

// The results table; `pm` joins a mean and its spread.
Table results_table(const std::vector<ModelGroup>& groups, const std::string& pm) {
  Table t;
  t.header = {"Rank",       "Model",         "Family",         "Dataset",
              "Seeds",      "Parameters",    "Test nats/step", "Test bits/step",
              "Perplexity", "Wall time (s)", "Updates"};
  t.numeric = {true, false, false, false, true, true, true, true, true, true, true};
  // Where a likelihood is an estimate (an RBM's log Z by AIS), its standard error: a column of
  // its own, so that a reader never takes an estimate for an exact number.
  const bool estimates = std::any_of(groups.begin(), groups.end(), [](const ModelGroup& g) {
    return g.test_nats_stderr.max > 0.0;
  });
  if (estimates) {
    t.header.insert(t.header.begin() + 8, "NLL std. error (nats)");
    t.numeric.insert(t.numeric.begin() + 8, true);
  }
  for (const ModelGroup& g : groups) {
    t.rows.push_back({std::to_string(g.rank), g.label, g.family,
                      g.dataset + " (per " + g.unit + ")", std::to_string(g.runs.size()),
                      count_text(g.parameters, pm), stat_text(g.test_nats, 4, pm),
                      stat_text(g.test_bits, 4, pm),
                      g.unit == "symbol" ? stat_text(g.test_perplexity, 3, pm) : "",
                      seconds_text(g.wall_seconds, pm), count_text(g.updates, pm)});
    if (estimates)
      t.rows.back().insert(t.rows.back().begin() + 8,
                           g.test_nats_stderr.max > 0.0
                               ? fixed(g.test_nats_stderr.max, 4) + " (AIS)"
                               : std::isnan(g.test_nats_stderr.max) ? "" : "exact");
    t.row_dataset.push_back(g.dataset);
    // After a dataset's last model: the floor, where the generating process is known, so each
    // number above can be read against what no model can beat on average.
    const bool last = &g == &groups.back() || (&g + 1)->dataset != g.dataset;
    if (last && std::isfinite(g.floor_nats)) {
      t.rows.push_back({"", "floor: the generating process", "", g.dataset + " (per " + g.unit + ")",
                        "", "", fixed(g.floor_nats, 4), fixed(g.floor_nats / std::log(2.0), 4),
                        g.unit == "symbol" ? fixed(std::exp(g.floor_nats), 3) : "", "", ""});
      if (estimates) t.rows.back().insert(t.rows.back().begin() + 8, "exact");
      t.row_dataset.push_back(g.dataset);
    }
  }
  return t;
}

// The sequence-level task models: task metrics, never a likelihood.
Table task_table(const std::vector<ModelGroup>& groups, const std::string& pm) {
  Table t;
  t.header = {"Rank",          "Model",        "Dataset",        "Task",
              "Seeds",         "Parameters",   "Test MSE",       "Baseline MSE",
              "MSE / baseline", "Test accuracy", "Label NLL (bits/seq)", "Wall time (s)",
              "Updates"};
  t.numeric = {true, false, false, false, true, true, true, true, true, true, true, true, true};
  for (const ModelGroup& g : groups) {
    const bool regress = g.task == "regress";
    t.rows.push_back({std::to_string(g.rank), g.label, g.dataset, g.task,
                      std::to_string(g.runs.size()), count_text(g.parameters, pm),
                      regress ? stat_text(g.test_mse, 5, pm) : "",
                      regress ? stat_text(g.test_baseline_mse, 5, pm) : "",
                      regress ? stat_text(g.test_relative_mse, 4, pm) : "",
                      regress ? "" : stat_text(g.test_accuracy, 4, pm),
                      regress ? "" : stat_text(g.test_label_bits, 4, pm),
                      seconds_text(g.wall_seconds, pm), count_text(g.updates, pm)});
    t.row_dataset.push_back(g.dataset);
  }
  // Only regression (or only classification) tasks: the other task's columns would stay empty.
  for (std::size_t c = t.header.size(); c-- > 0;) {
    const bool empty = std::all_of(t.rows.begin(), t.rows.end(),
                                   [c](const std::vector<std::string>& row) { return row[c].empty(); });
    if (!empty) continue;
    t.header.erase(t.header.begin() + static_cast<std::ptrdiff_t>(c));
    t.numeric.erase(t.numeric.begin() + static_cast<std::ptrdiff_t>(c));
    for (auto& row : t.rows) row.erase(row.begin() + static_cast<std::ptrdiff_t>(c));
  }
  return t;
}

// A task run's test metric in a few words ("MSE 0.00123", "accuracy 0.9875"); "" otherwise.
std::string task_metric(const RunResult& r) {
  if (r.task.empty() || !r.task_test) return "";
  return r.task == "regress" ? "MSE " + fixed(r.task_test->mse, 5)
                             : "accuracy " + fixed(r.task_test->accuracy, 4);
}

std::string split_bits(const std::optional<SplitMetrics>& s) {
  return s ? fixed(s->bits_per_step, 4) : "";
}

Table runs_table(const Summary& summary) {
  Table t;
  t.header = {"Dataset",
              "Model",
              "Seed",
              "Run id",
              "Test bits/step",
              "Valid bits/step",
              "Train bits/step",
              "Test task metric",
              "Epochs",
              "Updates",
              "Wall time (s)",
              "File"};
  t.numeric = {false, false, true, false, true, true, true, false, true, true, true, false};
  for (std::size_t i = 0; i < summary.runs.size(); ++i) {
    const RunResult& r = summary.runs[i];
    t.rows.push_back({r.dataset, r.label, std::to_string(r.seed), r.run_id, split_bits(r.test),
                      split_bits(r.valid), split_bits(r.train), task_metric(r),
                      with_commas(r.epochs),
                      with_commas(r.updates), seconds_text(r.wall_seconds),
                      "runs/" + summary.files[i].filename().string()});
  }
  return t;
}

Table environment_table(const Summary& summary) {
  struct Seen {
    std::size_t runs = 0;
    std::string first, last;
  };
  using Key = std::tuple<std::string, std::string, std::string, std::string, std::string, unsigned,
                         std::string>;
  std::map<Key, Seen> seen;
  for (const RunResult& r : summary.runs) {
    const RunEnvironment& e = r.environment;
    Seen& s = seen[{e.version, e.commit, e.compiler, e.blas, e.blas_kernel, e.threads, e.host}];
    ++s.runs;
    if (s.first.empty() || e.date < s.first) s.first = e.date;
    if (s.last.empty() || e.date > s.last) s.last = e.date;
  }
  Table t;
  t.header = {"Runs",        "seqlab",  "Commit", "Compiler",   "BLAS",
              "BLAS kernel", "Threads", "Host",   "Dates (UTC)"};
  t.numeric = {true, false, false, false, false, false, true, false, false};
  for (const auto& [k, s] : seen)
    t.rows.push_back({std::to_string(s.runs), std::get<0>(k), std::get<1>(k), std::get<2>(k),
                      std::get<3>(k), std::get<4>(k), std::to_string(std::get<5>(k)),
                      std::get<6>(k), s.first == s.last ? s.first : s.first + " .. " + s.last});
  return t;
}

// A PNG's width and height in pixels (from its IHDR chunk); {0, 0} when unreadable.
std::pair<unsigned, unsigned> png_size(const fs::path& png) {
  std::ifstream in(png, std::ios::binary);
  unsigned char b[24] = {};
  if (!in.read(reinterpret_cast<char*>(b), sizeof b)) return {0, 0};
  if (b[0] != 0x89 || b[1] != 'P' || b[2] != 'N' || b[3] != 'G') return {0, 0};
  const auto be = [&](int at) {
    return (unsigned{b[at]} << 24) | (unsigned{b[at + 1]} << 16) | (unsigned{b[at + 2]} << 8) |
           unsigned{b[at + 3]};
  };
  return {be(16), be(20)};
}

std::string read_text(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

struct Context {
  std::string title;
  fs::path source;
  const Summary* summary = nullptr;
  std::vector<ModelGroup> groups;       // sequence models: scored by likelihood
  std::vector<ModelGroup> task_groups;  // sequence-level task models: task metrics
  std::vector<Figure> figures;
  std::vector<FigureFormat> formats;
  std::optional<std::string> config;  // config.toml of the results folder
  std::string units_sentence;
};

std::string overview(const Context& c) {
  std::set<std::string> datasets;
  for (const ModelGroup& g : c.groups) datasets.insert(g.dataset);
  for (const ModelGroup& g : c.task_groups) datasets.insert(g.dataset);
  const std::size_t runs = c.summary->runs.size();
  const std::size_t models = c.groups.size() + c.task_groups.size();
  return std::to_string(runs) + (runs == 1 ? " run" : " runs") + " of " +
         std::to_string(models) + (models == 1 ? " model" : " models") + " on " +
         std::to_string(datasets.size()) + (datasets.size() == 1 ? " dataset" : " datasets") +
         ", from the results folder " + c.source.string() + "; report by seqlab " +
         library_version() + ".";
}

const char* kResultsIntro =
    "Models are ranked per dataset by their mean test NLL. NLL is the negative log-likelihood per "
    "predicted step, the first step included: in nats (natural log) and in bits (log base 2); a "
    "step is a symbol, or a frame for frame data (where no perplexity is defined). ";

const char* kTaskIntro =
    "These networks learn one output per sequence (a class label, or a real target), so they are "
    "scored by task metrics on the test split, which are NOT likelihoods and not comparable with "
    "the NLLs above. MSE is the mean squared error per target value; the baseline is the MSE of "
    "always predicting the test targets' mean (their variance): what a model that learned "
    "nothing scores, so MSE / baseline near 1 means nothing learned and near 0 a solved task. "
    "Accuracy is the fraction of sequences whose most probable class is the label; label NLL is "
    "-log2 p(label | sequence) per sequence. Models are ranked by test MSE (or label NLL). ";

// The results' introduction, with a sentence on estimated likelihoods where there are any.
std::string results_intro(const std::vector<ModelGroup>& groups) {
  const bool estimates = std::any_of(groups.begin(), groups.end(), [](const ModelGroup& g) {
    return g.test_nats_stderr.max > 0.0;
  });
  return std::string(kResultsIntro) +
         (estimates ? "Where a model's normaliser is estimated (an RBM's log Z by annealed "
                      "importance sampling), its NLL is an estimate: the std. error column "
                      "gives the largest standard error over its seeds, in nats per step. "
                    : "");
}

std::string spread_sentence(const std::vector<ModelGroup>& groups) {
  std::size_t most = 0;
  for (const ModelGroup& g : groups) most = std::max(most, g.runs.size());
  return most > 1 ? "Where a model ran with several seeds, a cell reads mean \xC2\xB1 sample "
                    "standard deviation over its seeds."
                  : "Every model ran with one seed.";
}

// ---- HTML ---------------------------------------------------------------------------------------

const char* kCss = R"css(
:root { color-scheme: light; }
body { font-family: system-ui, -apple-system, "Segoe UI", "DejaVu Sans", "Helvetica Neue", Arial,
    sans-serif;
  color: #1d1d1f; background: #fff; margin: 0 auto; max-width: 76rem;
  padding: 1.5rem 2rem 4rem; line-height: 1.45; }
h1 { font-size: 1.7rem; margin: 0 0 .3rem; }
h2 { font-size: 1.3rem; margin: 2.2rem 0 .6rem; padding-bottom: .2rem;
  border-bottom: 1px solid #d0d0d7; }
h3 { font-size: 1.05rem; margin: 1.4rem 0 .4rem; }
p.meta { color: #555; margin-top: 0; }
nav { margin: .8rem 0 1.2rem; font-size: .95rem; }
nav a { margin-right: 1rem; }
a { color: #0b5cad; }
table { border-collapse: collapse; margin: .6rem 0 1rem; font-size: .9rem; }
th, td { padding: .3rem .6rem; border-bottom: 1px solid #e3e3e8; text-align: left;
  vertical-align: top; }
th { background: #f4f4f7; border-bottom: 2px solid #c8c8d0; font-weight: 600; }
td.num, th.num { text-align: right; font-variant-numeric: tabular-nums; white-space: nowrap; }
tr.first td { border-top: 2px solid #c8c8d0; }
.scroll { overflow-x: auto; }
figure { margin: 1.2rem 0 2rem; }
figure img { max-width: 100%; height: auto; border: 1px solid #ececf0; }
figcaption { font-size: .9rem; color: #333; margin-top: .3rem; max-width: 60rem; }
pre { background: #f6f6f8; border: 1px solid #e3e3e8; padding: .6rem .8rem; overflow-x: auto;
  white-space: pre-wrap; word-break: break-all; font-size: .85rem; max-height: 24rem; }
ul.warnings li { color: #8a4b00; }
)css";

std::string html_table(const Table& t, const std::string& id) {
  std::ostringstream s;
  s << "<div class=\"scroll\"><table id=\"" << id << "\">\n<thead><tr>";
  for (std::size_t c = 0; c < t.header.size(); ++c)
    s << "<th" << (t.numeric[c] ? " class=\"num\"" : "") << ">" << html_escape(t.header[c])
      << "</th>";
  s << "</tr></thead>\n<tbody>\n";
  for (std::size_t r = 0; r < t.rows.size(); ++r) {
    const bool first = !t.row_dataset.empty() && r > 0 && t.row_dataset[r] != t.row_dataset[r - 1];
    s << (first ? "<tr class=\"first\">" : "<tr>");
    for (std::size_t c = 0; c < t.rows[r].size(); ++c)
      s << "<td" << (t.numeric[c] ? " class=\"num\"" : "") << ">" << html_escape(t.rows[r][c])
        << "</td>";
    s << "</tr>\n";
  }
  s << "</tbody></table></div>\n";
  return s.str();
}

std::string html_figure(const Figure& f, const Context& c, const fs::path& out_dir) {
  std::ostringstream s;
  const std::string png = f.stem + ".png";
  const auto [w, h] = png_size(out_dir / png);
  s << "<figure id=\"fig-" << html_escape(f.stem) << "\"><img src=\"" << html_escape(png)
    << "\" alt=\"" << html_escape(f.caption) << "\"";
  if (w > 0 && h > 0) s << " width=\"" << w << "\" height=\"" << h << "\"";
  s << "><figcaption>" << html_escape(f.caption);
  std::string links;
  for (FigureFormat format : c.formats) {
    if (format == FigureFormat::png) continue;
    const std::string file = f.stem + "." + extension(format);
    links += std::string(links.empty() ? "" : ", ") + "<a href=\"" + html_escape(file) + "\">" +
             (format == FigureFormat::svg ? "SVG" : "PDF") + "</a>";
  }
  if (!links.empty()) s << " (" << links << ")";
  s << "</figcaption></figure>\n";
  return s.str();
}

std::string html_page(const Context& c, const fs::path& out_dir) {
  const Summary& summary = *c.summary;
  std::ostringstream s;
  s << "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n"
    << "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n"
    << "<title>" << html_escape(c.title) << "</title>\n<style>" << kCss
    << "</style>\n</head>\n<body>\n";
  s << "<header><h1>" << html_escape(c.title) << "</h1>\n<p class=\"meta\">"
    << html_escape(overview(c)) << "</p></header>\n";
  s << "<nav><a href=\"#results\">Results</a>";
  if (!c.task_groups.empty()) s << "<a href=\"#tasks\">Sequence-level tasks</a>";
  s << "<a href=\"#figures\">Figures</a>"
       "<a href=\"#samples\">Samples</a><a href=\"#configuration\">Configuration</a>"
       "<a href=\"#environment\">Environment</a><a href=\"#runs\">Runs</a>";
  if (!summary.warnings.empty()) s << "<a href=\"#skipped\">Skipped files</a>";
  s << "</nav>\n";

  s << "<section id=\"results\"><h2>Results</h2>\n";
  if (c.groups.empty())
    s << "<p>No run of these results is a sequence model scored by likelihood (see "
         "Sequence-level tasks).</p>\n";
  else
    s << "<p>" << html_escape(results_intro(c.groups)) << html_escape(spread_sentence(c.groups))
      << "</p>\n" << html_table(results_table(c.groups, " \xC2\xB1 "), "results-table");
  s << "</section>\n";
  if (!c.task_groups.empty())
    s << "<section id=\"tasks\"><h2>Sequence-level tasks</h2>\n<p>" << html_escape(kTaskIntro)
      << html_escape(spread_sentence(c.task_groups)) << "</p>\n"
      << html_table(task_table(c.task_groups, " \xC2\xB1 "), "task-table") << "</section>\n";

  s << "<section id=\"figures\"><h2>Figures</h2>\n";
  if (c.figures.empty()) s << "<p>No figures: the runs hold no scores or curves to draw.</p>\n";
  bool inside = false;
  for (const Figure& f : c.figures) {
    if (!f.label.empty() && !inside) {
      s << "<h3>Inside the models</h3>\n<p>Each figure shows one run of the model: the seed with "
           "the lowest test NLL.</p>\n";
      inside = true;
    }
    s << html_figure(f, c, out_dir);
  }
  s << "</section>\n";

  s << "<section id=\"samples\"><h2>Samples</h2>\n";
  bool any_sample = false;
  for (const ModelGroup& g : c.groups) {
    if (g.best->samples.empty()) continue;
    any_sample = true;
    s << "<h3>"
      << html_escape(g.label + " on " + g.dataset + " (seed " + std::to_string(g.best->seed) + ")")
      << "</h3>\n";
    for (const std::string& sample : g.best->samples)
      s << "<pre class=\"sample\">" << html_escape(sample) << "</pre>\n";
  }
  if (!any_sample) s << "<p>The runs stored no samples.</p>\n";
  s << "</section>\n";

  s << "<section id=\"configuration\"><h2>Configuration</h2>\n";
  if (c.config)
    s << "<p>config.toml of the results folder, verbatim:</p>\n<pre class=\"config\">"
      << html_escape(*c.config) << "</pre>\n";
  else
    s << "<p>The results folder holds no config.toml; each run's settings are in its run "
         "file.</p>\n";
  s << "</section>\n";

  s << "<section id=\"environment\"><h2>Environment</h2>\n"
    << html_table(environment_table(summary), "environment-table") << "</section>\n";
  s << "<section id=\"runs\"><h2>Runs</h2>\n"
    << html_table(runs_table(summary), "runs-table") << "</section>\n";
  if (!summary.warnings.empty()) {
    s << "<section id=\"skipped\"><h2>Skipped files</h2>\n<ul class=\"warnings\">\n";
    for (const std::string& w : summary.warnings) s << "<li>" << html_escape(w) << "</li>\n";
    s << "</ul></section>\n";
  }
  s << "</body>\n</html>\n";
  return s.str();
}

// ---- Markdown
// -------------------------------------------------------------------------------------

std::string markdown_table(const Table& t) {
  std::ostringstream s;
  s << "|";
  for (const std::string& h : t.header) s << " " << markdown_escape(h) << " |";
  s << "\n|";
  for (bool numeric : t.numeric) s << (numeric ? "---:|" : "---|");
  s << "\n";
  for (const auto& row : t.rows) {
    s << "|";
    for (const std::string& cell : row) s << " " << markdown_escape(cell) << " |";
    s << "\n";
  }
  return s.str();
}

// A code fence longer than any run of backticks in `text`.
std::string fence_for(const std::string& text) {
  std::size_t longest = 0, run = 0;
  for (char c : text) {
    run = c == '`' ? run + 1 : 0;
    longest = std::max(longest, run);
  }
  return std::string(std::max<std::size_t>(3, longest + 1), '`');
}

std::string fenced(const std::string& text, const std::string& info) {
  const std::string fence = fence_for(text);
  return fence + info + "\n" + text + (text.empty() || text.back() == '\n' ? "" : "\n") + fence +
         "\n";
}

std::string markdown_page(const Context& c) {
  const Summary& summary = *c.summary;
  std::ostringstream s;
  s << "# " << markdown_escape(c.title) << "\n\n" << markdown_escape(overview(c)) << "\n\n";
  s << "## Results\n\n"
    << (c.groups.empty()
            ? std::string("No run of these results is a sequence model scored by likelihood "
                          "(see Sequence-level tasks).\n")
            : markdown_escape(results_intro(c.groups)) + markdown_escape(spread_sentence(c.groups)) +
                  "\n\n" + markdown_table(results_table(c.groups, " \xC2\xB1 ")))
    << "\n";
  if (!c.task_groups.empty())
    s << "## Sequence-level tasks\n\n"
      << markdown_escape(kTaskIntro) << markdown_escape(spread_sentence(c.task_groups)) << "\n\n"
      << markdown_table(task_table(c.task_groups, " \xC2\xB1 ")) << "\n";
  s << "## Figures\n\n";
  for (const Figure& f : c.figures) {
    s << "![" << markdown_escape(f.caption) << "](" << f.stem << ".png)\n\n"
      << markdown_escape(f.caption);
    for (FigureFormat format : c.formats)
      if (format != FigureFormat::png)
        s << " [" << (format == FigureFormat::svg ? "SVG" : "PDF") << "](" << f.stem << "."
          << extension(format) << ")";
    s << "\n\n";
  }
  s << "## Samples\n\n";
  bool any_sample = false;
  for (const ModelGroup& g : c.groups) {
    if (g.best->samples.empty()) continue;
    any_sample = true;
    s << "### "
      << markdown_escape(g.label + " on " + g.dataset + " (seed " + std::to_string(g.best->seed) +
                         ")")
      << "\n\n";
    for (const std::string& sample : g.best->samples) s << fenced(sample, "text") << "\n";
  }
  if (!any_sample) s << "The runs stored no samples.\n\n";
  s << "## Configuration\n\n";
  if (c.config)
    s << "config.toml of the results folder, verbatim:\n\n" << fenced(*c.config, "toml") << "\n";
  else
    s << "The results folder holds no config.toml; each run's settings are in its run file.\n\n";
  s << "## Environment\n\n" << markdown_table(environment_table(summary)) << "\n";
  s << "## Runs\n\n" << markdown_table(runs_table(summary)) << "\n";
  if (!summary.warnings.empty()) {
    s << "## Skipped files\n\n";
    for (const std::string& w : summary.warnings) s << "- " << markdown_escape(w) << "\n";
    s << "\n";
  }
  return s.str();
}

// ---- LaTeX
// ----------------------------------------------------------------------------------------

std::string latex_table(const Context& c) {
  std::ostringstream s;
  s << "% Results table written by seqlab " << library_version() << " from "
    << latex_escape(c.source.string()) << ".\n"
    << "% Needs \\usepackage{booktabs}. Test NLL per predicted step (symbol, or frame for frame\n"
    << "% data) in nats and bits; perplexity for symbol data only. "
    << (spread_sentence(c.groups).find("several") != std::string::npos
            ? "Mean $\\pm$ sample standard\n% deviation over seeds where a model ran with several."
            : "One seed per model.")
    << "\n";
  s << "\\begin{tabular}{rllrrrrrr}\n\\toprule\n";
  s << " & & & & \\multicolumn{2}{c}{Test NLL per step} & & & \\\\\n\\cmidrule(lr){5-6}\n";
  s << "Rank & Model & Family & Parameters & nats & bits & Perplexity & Time (s) & Updates \\\\\n";
  std::string dataset;
  bool any_estimate = false;
  for (const ModelGroup& g : c.groups) {
    if (g.dataset != dataset) {
      dataset = g.dataset;
      s << "\\midrule\n\\multicolumn{9}{l}{\\textit{" << latex_escape(g.dataset) << "} (per "
        << g.unit << ")} \\\\\n";
    }
    const std::string pm = " $\\pm$ ";
    const bool estimated = g.test_nats_stderr.max > 0.0;
    any_estimate = any_estimate || estimated;
    s << g.rank << " & " << latex_escape(g.label) << (estimated ? "$^{a}$" : "") << " & "
      << latex_escape(g.family) << " & "
      << count_text(g.parameters, pm) << " & " << stat_text(g.test_nats, 4, pm) << " & "
      << stat_text(g.test_bits, 4, pm) << " & "
      << (g.unit == "symbol" ? stat_text(g.test_perplexity, 3, pm) : "--") << " & "
      << seconds_text(g.wall_seconds, pm) << " & " << count_text(g.updates, pm) << " \\\\\n";
    const bool last = &g == &c.groups.back() || (&g + 1)->dataset != g.dataset;
    if (last && std::isfinite(g.floor_nats))
      s << " & \\textit{floor: the generating process} & & & " << fixed(g.floor_nats, 4) << " & "
        << fixed(g.floor_nats / std::log(2.0), 4) << " & "
        << (g.unit == "symbol" ? fixed(std::exp(g.floor_nats), 3) : "--") << " & & \\\\\n";
  }
  s << "\\bottomrule\n\\end{tabular}\n";
  if (any_estimate) {
    double largest = 0.0;
    for (const ModelGroup& g : c.groups) largest = std::max(largest, g.test_nats_stderr.max);
    s << "\n{\\footnotesize $^{a}$ NLL estimated: log Z by annealed importance sampling, "
         "standard error at most " << fixed(largest, 4) << " nats per step.}\n";
  }
  if (c.task_groups.empty()) return s.str();
  // The task models: a table of their own, since a task metric is not a likelihood.
  s << "\n% Sequence-level tasks: test MSE per target value (baseline: predicting the mean\n"
    << "% target), or accuracy and label NLL in bits per sequence. Not likelihoods.\n";
  s << "\\begin{tabular}{rlllrrrrr}\n\\toprule\n";
  s << "Rank & Model & Task & Parameters & MSE & Baseline & MSE / baseline & Accuracy & "
       "Label bits \\\\\n";
  std::string task_dataset;
  for (const ModelGroup& g : c.task_groups) {
    if (g.dataset != task_dataset) {
      task_dataset = g.dataset;
      s << "\\midrule\n\\multicolumn{9}{l}{\\textit{" << latex_escape(g.dataset)
        << "}} \\\\\n";
    }
    const std::string pm = " $\\pm$ ";
    const bool regress = g.task == "regress";
    s << g.rank << " & " << latex_escape(g.label) << " & " << g.task << " & "
      << count_text(g.parameters, pm) << " & "
      << (regress ? stat_text(g.test_mse, 5, pm) : "--") << " & "
      << (regress ? stat_text(g.test_baseline_mse, 5, pm) : "--") << " & "
      << (regress ? stat_text(g.test_relative_mse, 4, pm) : "--") << " & "
      << (regress ? "--" : stat_text(g.test_accuracy, 4, pm)) << " & "
      << (regress ? "--" : stat_text(g.test_label_bits, 4, pm)) << " \\\\\n";
  }
  s << "\\bottomrule\n\\end{tabular}\n";
  return s.str();
}

std::string latest_date(const Summary& summary) {
  std::string date;
  for (const RunResult& r : summary.runs) date = std::max(date, r.environment.date);
  return date;
}

// The figure groups the experiment asked for ([experiment] figures of its config.toml; the plan
// checked the names when it ran); empty, meaning all, without a config or that key. The config
// is shown, not obeyed, beyond this: one that does not parse (edited by hand since) draws all.
std::vector<std::string> wanted_figures(const fs::path& file, const std::string& text) {
  if (text.empty()) return {};
  toml::table config;
  try {
    config = toml::parse(text, file.string());
  } catch (const toml::parse_error&) {
    return {};
  }
  std::vector<std::string> names;
  if (const toml::array* list = config["experiment"]["figures"].as_array())
    for (const toml::node& n : *list)
      if (const auto name = n.value<std::string>()) names.push_back(*name);
  return names;
}

}  // namespace

ReportFiles write_report(const Summary& summary, const fs::path& source, const fs::path& out_dir,
                         const ReportOptions& options) {
  if (summary.runs.empty()) user_error(source.string() + ": no run files in runs/ to report on");
  std::error_code ec;
  if (fs::exists(out_dir, ec) && !fs::is_directory(out_dir, ec))
    user_error(out_dir.string() + ": --out names a file, expected a directory for the report");
  fs::create_directories(out_dir, ec);
  if (ec)
    user_error(out_dir.string() + ": cannot create the report directory (" + ec.message() + ")");
  require_gnuplot();

  Context c;
  c.source = source;
  c.summary = &summary;
  c.title = options.title;
  if (c.title.empty()) {
    fs::path name = fs::absolute(source, ec).lexically_normal();
    if (!name.has_filename()) name = name.parent_path();
    c.title = "Results: " + name.filename().string();
  }
  const std::vector<ModelGroup> all_groups = group_runs(summary.runs);
  c.groups = sequence_groups(all_groups);
  c.task_groups = task_groups(all_groups);
  c.formats = {FigureFormat::png};
  for (FigureFormat f : options.formats)
    if (std::find(c.formats.begin(), c.formats.end(), f) == c.formats.end()) c.formats.push_back(f);
  const fs::path config = source / "config.toml";
  if (fs::is_regular_file(config, ec)) c.config = read_text(config);

  FigureOptions figure_options;
  figure_options.formats = c.formats;
  if (c.config) figure_options.groups = wanted_figures(config, *c.config);
  figure_options.pdf_date = latest_date(summary);
  c.figures = draw_figures(summary.runs, out_dir, figure_options);

  ReportFiles files;
  files.html = out_dir / "index.html";
  files.markdown = out_dir / "report.md";
  files.latex = out_dir / "table.tex";
  write_text_atomically(files.html, html_page(c, out_dir));
  write_text_atomically(files.markdown, markdown_page(c));
  write_text_atomically(files.latex, latex_table(c));
  files.figures = c.figures;
  files.warnings = summary.warnings;
  return files;
}

ReportFiles write_report(const fs::path& results_dir, const fs::path& out_dir,
                         const ReportOptions& options) {
  return write_report(read_results_folder(results_dir), results_dir, out_dir, options);
}

}  // namespace seqlab::report
