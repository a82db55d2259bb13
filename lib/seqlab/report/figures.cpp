// seqlab/report/figures.cpp: gnuplot scripts for the report's figures (see figures.hpp).
//
// Each figure is one gnuplot script: settings, then the data as inline datablocks ($name << EOD,
// numbers only, so no text ever needs quoting inside data), then one plot command. Every piece
// of text (titles, labels, tick labels) goes through gp_quoted(), a gnuplot double-quoted string
// with its escapes; the terminal runs without enhanced text, so '^', '_' and '@' in model names
// print as they are.
#include "seqlab/report/figures.hpp"

#include <fcntl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <cctype>
#include <cerrno>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <map>
#include <set>
#include <sstream>

#include "seqlab/core/atomic_file.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/report/aggregate.hpp"

namespace seqlab::report {
namespace fs = std::filesystem;

namespace {

// Colour-blind-safe (Okabe & Ito), dark enough on white; cycled with dash patterns beyond.
const std::vector<std::string> kColours = {"#0072B2", "#D55E00", "#009E73", "#CC79A7",
                                           "#E69F00", "#56B4E9", "#000000"};

// Every figure colours a family the same way (its place in the report's family order); the
// models of one family differ by dash pattern and point shape.
std::string colour(std::size_t family) { return kColours[family % kColours.size()]; }
int dash(std::size_t k) { return 1 + static_cast<int>(k % 5); }
int point_type(std::size_t k) {
  constexpr int kPoints[] = {7, 5, 9, 11, 13};  // filled circle, square, triangles, pentagon
  return kPoints[k % 5];
}
std::size_t family_index(const std::vector<std::string>& families, const std::string& family) {
  return static_cast<std::size_t>(std::find(families.begin(), families.end(), family) -
                                  families.begin());
}

// A gnuplot double-quoted string: backslash and quote escaped, line breaks and other control
// characters turned into spaces (a title is one line unless the caller asks for "\n").
std::string gp_quoted(const std::string& text) {
  std::string out = "\"";
  for (unsigned char c : text) {
    if (c == '\\' || c == '"') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c == 0x7f) {
      out += ' ';
    } else {
      out += static_cast<char>(c);
    }
  }
  return out + "\"";
}

// A tick label: gnuplot reads it as a printf format (of the tick's value), so '%' is doubled.
std::string tic_label(const std::string& text) {
  std::string doubled;
  for (char c : text) doubled += c == '%' ? std::string("%%") : std::string(1, c);
  return gp_quoted(doubled);
}

// Two lines of title: the second (smaller print is not available without enhanced text) says
// what the marks mean.
std::string title_lines(const std::string& first, const std::string& second) {
  return gp_quoted(first).substr(0, gp_quoted(first).size() - 1) + "\\n" +
         gp_quoted(second).substr(1);
}

std::string number(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.10g", x);
  return buf;
}

std::string fixed4(double x) {
  char buf[40];
  std::snprintf(buf, sizeof buf, "%.4f", x);
  return buf;
}

// How a symbol of the stretch reads on an axis: blanks and control characters made visible,
// long tokens cut.
std::string visible(const std::string& symbol) {
  if (symbol == " ") return "\xE2\x90\xA3";   // U+2423 OPEN BOX
  if (symbol == "\n") return "\xE2\x86\xB5";  // U+21B5 DOWNWARDS ARROW WITH CORNER LEFTWARDS
  if (symbol == "\t") return "\xE2\x87\xA5";  // U+21E5 RIGHTWARDS ARROW TO BAR
  std::string out;
  std::size_t chars = 0;
  for (std::size_t i = 0; i < symbol.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(symbol[i]);
    if ((c & 0xC0) != 0x80 && ++chars > 8) return out + "\xE2\x80\xA6";  // ellipsis
    out += (c < 0x20 || c == 0x7f) ? '?' : static_cast<char>(c);
  }
  return out;
}

struct Size {
  double width = 6.4;  // inches
  double height = 3.6;
};

std::string terminal(FigureFormat format, Size size) {
  // Bitmap and SVG figures at 120 pixels per inch with 11-point text read well on screen;
  // PDFs are sized in inches for print, with text at 8.5 points. PS scales every point size.
  const auto px = [](double inches) {
    return std::to_string(static_cast<int>(inches * 120.0 + 0.5));
  };
  switch (format) {
    case FigureFormat::png:
      return "set terminal pngcairo noenhanced size " + px(size.width) + "," + px(size.height) +
             " font 'DejaVu Sans,11' linewidth 1.2 background rgb 'white'\nPS = 1";
    case FigureFormat::svg:
      return "set terminal svg noenhanced size " + px(size.width) + "," + px(size.height) +
             " font 'DejaVu Sans,11' linewidth 1.2 background rgb 'white'\nPS = 1";
    case FigureFormat::pdf:
      // Four fifths of the screen size, so that the text is large next to the plot as a
      // printed page needs; cairo draws PDF points larger, hence the smaller PS.
      return "set terminal pdfcairo noenhanced size " + number(0.8 * size.width) + "in," +
             number(0.8 * size.height) + "in font 'DejaVu Sans,8.5' linewidth 1.0\n" + "PS = 0.6";
  }
  return {};
}

std::string shell_quoted(const std::string& s) {
  std::string out = "'";
  for (char c : s) out += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return out + "'";
}

// Ignores SIGPIPE while alive: a gnuplot that dies early must give an error, not kill seqlab.
class IgnoreSigpipe {
 public:
  IgnoreSigpipe() {
    struct sigaction ignore {};
    ignore.sa_handler = SIG_IGN;
    sigemptyset(&ignore.sa_mask);
    ::sigaction(SIGPIPE, &ignore, &previous_);
  }
  ~IgnoreSigpipe() { ::sigaction(SIGPIPE, &previous_, nullptr); }
  IgnoreSigpipe(const IgnoreSigpipe&) = delete;
  IgnoreSigpipe& operator=(const IgnoreSigpipe&) = delete;

 private:
  struct sigaction previous_ {};
};

// The line of gnuplot's error output that says what went wrong.
std::string gnuplot_reason(const std::string& errors) {
  std::istringstream in(errors);
  std::string line, first;
  while (std::getline(in, line)) {
    const auto begin = line.find_first_not_of(" \t");
    if (begin == std::string::npos) continue;
    line = line.substr(begin);
    if (line.rfind("gnuplot>", 0) == 0 || line == "^") continue;
    if (line.rfind("line ", 0) == 0 || line.find("error") != std::string::npos) return line;
    if (first.empty()) first = line;
  }
  return first.empty() ? "no message" : first;
}

// Runs gnuplot on `script`; `target` names the figure in messages.
void run_gnuplot(const std::string& script, const fs::path& target) {
  const fs::path gnuplot = require_gnuplot();
  std::string errors_template = (fs::temp_directory_path() / "seqlab-gnuplot-XXXXXX").string();
  const int fd = ::mkstemp(errors_template.data());
  if (fd < 0)
    input_error(target, std::string("cannot create a temp file for gnuplot's messages: ") +
                            std::strerror(errno));
  ::close(fd);
  const fs::path errors_path = errors_template;
  struct RemoveLater {
    fs::path path;
    ~RemoveLater() {
      std::error_code ec;
      fs::remove(path, ec);
    }
  } remove_later{errors_path};

  const std::string command = "exec " + shell_quoted(gnuplot.string()) + " >/dev/null 2>" +
                              shell_quoted(errors_path.string());
  int status = -1;
  {
    IgnoreSigpipe guard;
    std::fflush(nullptr);
    FILE* pipe = ::popen(command.c_str(), "w");
    if (pipe == nullptr)
      input_error(target, std::string("cannot start gnuplot: ") + std::strerror(errno));
    std::fwrite(script.data(), 1, script.size(), pipe);
    status = ::pclose(pipe);
  }
  std::ifstream in(errors_path, std::ios::binary);
  std::ostringstream errors;
  errors << in.rdbuf();
  if (status == -1) input_error(target, std::string("gnuplot: ") + std::strerror(errno));
  if (WIFSIGNALED(status))
    input_error(target, std::string("gnuplot was killed by ") + ::strsignal(WTERMSIG(status)));
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
    input_error(target, "gnuplot failed drawing it (" + gnuplot_reason(errors.str()) + ")");
}

// Rewrites the PDF's /CreationDate (D:YYYYMMDDHHMMSSZ) to `date` (YYYY-MM-DDTHH:MM:SSZ), in
// place and at the same length, so that no offset of the file's cross-reference table moves.
void set_pdf_date(const fs::path& pdf, const std::string& date, const fs::path& target) {
  if (date.size() != 20) return;
  std::string digits;
  for (char c : date)
    if (c >= '0' && c <= '9') digits += c;
  if (digits.size() != 14) return;
  std::ifstream in(pdf, std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  const std::string key = "/CreationDate (D:";
  const auto at = bytes.find(key);
  if (at == std::string::npos || at + key.size() + 15 > bytes.size()) return;
  const std::size_t begin = at + key.size();
  for (std::size_t i = 0; i < 14; ++i)
    if (bytes[begin + i] < '0' || bytes[begin + i] > '9') return;
  bytes.replace(begin, 14, digits);
  std::ofstream out(pdf, std::ios::binary | std::ios::trunc);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  out.close();
  if (!out) input_error(target, "cannot rewrite the PDF's creation date");
}

// Draws `body` (settings, datablocks, plot command) at `size` into every format of `options`.
void render(const std::string& body, Size size, const fs::path& dir, const std::string& stem,
            const FigureOptions& options) {
  for (FigureFormat format : options.formats) {
    const fs::path target = dir / (stem + "." + extension(format));
    write_atomically(target, [&](const fs::path& temp) {
      std::string script = terminal(format, size) + "\n";
      script += "set output " + gp_quoted(temp.string()) + "\n";
      script += "set encoding utf8\n";
      script += body;
      script += "unset output\n";
      run_gnuplot(script, target);
      if (!fs::exists(temp)) input_error(target, "gnuplot wrote no file");
      if (format == FigureFormat::pdf && !options.pdf_date.empty())
        set_pdf_date(temp, options.pdf_date, target);
    });
  }
}

// Picks stems that are distinct within one report.
class Stems {
 public:
  std::string make(const std::string& text) {
    std::string stem = slug(text);
    std::string candidate = stem;
    for (int i = 2; used_.count(candidate); ++i) candidate = stem + "-" + std::to_string(i);
    used_.insert(candidate);
    return candidate;
  }

 private:
  std::set<std::string> used_;
};

std::string common_unit(const std::vector<const ModelGroup*>& groups) {
  std::string unit;
  for (const ModelGroup* g : groups) {
    if (unit.empty()) unit = g->unit;
    if (unit != g->unit) return "step";
  }
  return unit.empty() ? "step" : unit;
}

// ---- learning curves ------------------------------------------------------------------------

// What a run's history records, by its unit: "NLL" (per symbol or frame), "label NLL" (per
// sequence, classification tasks) or "MSE" (regression tasks).
std::string objective_name(const std::string& unit) {
  return unit == "squared_error" ? "MSE" : unit == "sequence" ? "label NLL" : "NLL";
}
// The unit its values are drawn in: "bits per symbol", ..., or "squared error per target value".
std::string objective_unit(const std::string& unit) {
  return unit == "squared_error" ? "squared error per target value" : per_step("bits", unit);
}

// The records a learning curve uses for one run: HMMs with restarts keep the restart whose last
// record has the lowest train NLL (the parameters fit() keeps); everything else all records.
std::vector<EpochRecord> curve_records(const RunResult& run) {
  std::map<std::uint64_t, std::vector<EpochRecord>> by_restart;
  for (const EpochRecord& r : run.history) by_restart[r.restart].push_back(r);
  if (by_restart.size() <= 1) return run.history;
  const std::vector<EpochRecord>* best = nullptr;
  for (const auto& [restart, records] : by_restart) {
    const double last = records.back().train_nll;
    if (best == nullptr || (std::isnan(best->back().train_nll) && !std::isnan(last)) ||
        last < best->back().train_nll)
      best = &records;
  }
  return *best;
}

struct CurvePoint {
  double epoch = 0, seconds = 0, mean = 0, min = 0, max = 0;
  std::size_t n = 0;
};

struct Curve {
  std::string label, family;
  bool train_instead = false;  // no valid NLL recorded: the train NLL is drawn
  std::vector<CurvePoint> points;
};

Curve curve_of(const ModelGroup& g) {
  Curve c;
  c.label = g.label;
  c.family = g.family;
  bool all_valid = true;
  for (const RunResult* r : g.runs) {
    bool has_valid = false;
    for (const EpochRecord& e : curve_records(*r))
      has_valid = has_valid || std::isfinite(e.valid_nll);
    all_valid = all_valid && has_valid;
  }
  c.train_instead = !all_valid;
  std::map<std::uint64_t, std::vector<std::pair<double, double>>> by_epoch;  // (seconds, bits)
  for (const RunResult* r : g.runs)
    for (const EpochRecord& e : curve_records(*r)) {
      const double nats = c.train_instead ? e.train_nll : e.valid_nll;
      // A regression task's records hold its MSE, drawn as it is; everything else is in nats.
      const double scale = g.unit == "squared_error" ? 1.0 : 1.0 / std::log(2.0);
      if (std::isfinite(nats) && std::isfinite(e.seconds))
        by_epoch[e.epoch].emplace_back(e.seconds, nats * scale);
    }
  for (const auto& [epoch, values] : by_epoch) {
    CurvePoint p;
    p.epoch = static_cast<double>(epoch);
    std::vector<double> seconds, bits;
    for (const auto& [s, b] : values) {
      seconds.push_back(s);
      bits.push_back(b);
    }
    const Stat sb = stat_of(bits);
    p.seconds = stat_of(seconds).mean;
    p.mean = sb.mean;
    p.min = sb.min;
    p.max = sb.max;
    p.n = sb.n;
    c.points.push_back(p);
  }
  return c;
}

std::optional<Figure> learning_figure(const std::vector<const ModelGroup*>& groups,
                                      const std::vector<std::string>& families, bool by_seconds,
                                      const fs::path& dir, Stems& stems,
                                      const FigureOptions& options) {
  std::vector<Curve> curves;
  for (const ModelGroup* g : groups) {
    Curve c = curve_of(*g);
    if (!c.points.empty()) curves.push_back(std::move(c));
  }
  // Key order: by family, then label.
  std::stable_sort(curves.begin(), curves.end(), [&](const Curve& a, const Curve& b) {
    return std::make_pair(family_index(families, a.family), a.label) <
           std::make_pair(family_index(families, b.family), b.label);
  });
  if (curves.empty()) return std::nullopt;
  const std::string dataset = groups.front()->dataset;
  const std::string unit = common_unit(groups);
  bool any_train = false, any_valid = false, any_band = false, any_hmm = false;
  double min_seconds = INFINITY, max_seconds = 0.0;
  for (const Curve& c : curves) {
    (c.train_instead ? any_train : any_valid) = true;
    for (const CurvePoint& p : c.points) {
      any_band = any_band || p.n > 1;
      if (p.seconds > 0) min_seconds = std::min(min_seconds, p.seconds);
      max_seconds = std::max(max_seconds, p.seconds);
    }
  }
  for (const ModelGroup* g : groups) any_hmm = any_hmm || g->family == "HMM";
  const std::string what = objective_name(unit);
  const std::string measure =
      any_valid && !any_train   ? "valid " + what
      : any_train && !any_valid ? "train " + what + " (no valid " + what + " recorded)"
                                : "valid " + what + " (train " + what + " where marked)";
  std::ostringstream s;
  s << "set title "
    << title_lines(
           dataset + ": " + measure + " during training",
           any_band ? "lines: mean over seeds; bands: min..max over seeds" : "one seed per model")
    << "\n";
  if (by_seconds) {
    const bool log_x =
        max_seconds > 0 && std::isfinite(min_seconds) && max_seconds / min_seconds > 50;
    s << "set xlabel "
      << gp_quoted(std::string("wall-clock time since training began (seconds") +
                   (log_x ? ", log scale)" : ")"))
      << "\n";
    if (log_x) s << "set logscale x\n";
  } else {
    s << "set xlabel " << gp_quoted(any_hmm ? "epoch (EM iteration for HMMs)" : "epoch") << "\n";
  }
  s << "set ylabel "
    << gp_quoted((any_valid && !any_train ? "valid " + what : what) + " (" +
                 objective_unit(unit) + (unit == "squared_error" ? ", log scale" : "") + ")")
    << "\n";
  // An MSE falls by orders of magnitude when a task is learned: only a log scale shows both
  // the networks that learn and those that stay at the baseline.
  if (unit == "squared_error") s << "set logscale y\nset format y '%g'\n";
  s << "set key outside right top vertical Left reverse samplen 2.5\n"
       "set grid lc rgb '#e0e0e0'\n"
       "set border 3\nset tics nomirror out\n"
       "set style fill transparent solid 0.18 noborder\n"
       "set offsets graph 0.02, graph 0.02, graph 0.05, graph 0.05\n";
  std::string plots;
  std::map<std::string, std::size_t> seen_in_family;
  for (std::size_t i = 0; i < curves.size(); ++i) {
    const Curve& c = curves[i];
    const bool single = c.points.size() == 1;  // a point, not a line: drawn larger
    const std::string rgb = colour(family_index(families, c.family));
    const std::size_t k = seen_in_family[c.family]++;
    s << "$C" << i << " << EOD\n";
    for (const CurvePoint& p : c.points)
      s << number(by_seconds ? p.seconds : p.epoch) << " " << number(p.mean) << " " << number(p.min)
        << " " << number(p.max) << "\n";
    s << "EOD\n";
    const std::string name = c.label + (c.train_instead && any_valid ? " (train " + what + ")" : "");
    if (!plots.empty()) plots += ", \\\n  ";
    if (any_band)
      plots += "$C" + std::to_string(i) + " using 1:3:4 with filledcurves lc rgb '" + rgb +
               "' notitle, ";
    plots += "$C" + std::to_string(i) + " using 1:2 with linespoints lc rgb '" + rgb + "' dt " +
             std::to_string(dash(k)) + " lw 1.6 pt " + std::to_string(point_type(k)) + " ps " +
             (single ? "(PS * 0.9)" : "(PS * 0.5)") + " title " + gp_quoted(name);
  }
  s << "plot " << plots << "\n";
  Figure f;
  f.kind = by_seconds ? "learning-seconds" : "learning-epochs";
  f.stem = stems.make(f.kind + "-" + dataset);
  f.dataset = dataset;
  f.caption = dataset + ": " + measure + " in " + objective_unit(unit) + " against " +
              (by_seconds ? "wall-clock seconds"
               : any_hmm  ? "epochs (EM iterations for HMMs)"
                          : "epochs") +
              "; " +
              (any_band ? "lines are the mean over seeds, bands the minimum..maximum"
                        : "one seed per model") +
              ".";
  Size size{7.2, 3.8};
  render(s.str(), size, dir, f.stem, options);
  return f;
}

// ---- comparison -----------------------------------------------------------------------------

std::optional<Figure> comparison_figure(const std::vector<const ModelGroup*>& groups,
                                        const std::vector<std::string>& families,
                                        const fs::path& dir, Stems& stems,
                                        const FigureOptions& options) {
  // A dot plot with models down the y axis (their names read horizontally however long they
  // are), the best at the top of each family, families separated by dotted lines.
  const std::string dataset = groups.front()->dataset;
  const std::string unit = common_unit(groups);
  std::ostringstream data, tics, arrows;
  std::string plots;
  double y = 0.0, low = INFINITY, high = -INFINITY;
  std::size_t drawn = 0, most_seeds = 0;
  for (std::size_t fi = 0; fi < families.size(); ++fi) {
    std::vector<const ModelGroup*> members;
    for (const ModelGroup* g : groups)
      if (g->family == families[fi] && std::isfinite(g->test_bits.mean)) members.push_back(g);
    if (members.empty()) continue;  // groups come ranked: members are best first
    if (drawn > 0) {
      arrows << "set arrow from graph 0, first " << number(y + 0.5) << " to graph 1, first "
             << number(y + 0.5) << " nohead lc rgb '#c0c0c0' dt 3\n";
    }
    data << "$F" << fi << " << EOD\n";
    for (const ModelGroup* g : members) {
      y += 1.0;
      data << number(g->test_bits.mean) << " " << number(y) << " " << number(g->test_bits.min)
           << " " << number(g->test_bits.max) << "\n";
      tics << (tics.tellp() > 0 ? ", " : "") << tic_label(g->label) << " " << number(y);
      most_seeds = std::max(most_seeds, g->test_bits.n);
      low = std::min(low, g->test_bits.min);
      high = std::max(high, g->test_bits.max);
      ++drawn;
    }
    data << "EOD\n";
    if (!plots.empty()) plots += ", \\\n  ";
    plots += "$F" + std::to_string(fi) + " using 1:2:3:4 with xerrorbars lc rgb '" + colour(fi) +
             "' pt 7 ps (PS * 1.1) lw 1.6 title " + gp_quoted(families[fi]);
  }
  if (drawn == 0) return std::nullopt;
  double floor_nats = NAN;
  for (const ModelGroup* g : groups)
    if (std::isnan(floor_nats) && std::isfinite(g->floor_nats)) floor_nats = g->floor_nats;
  const double floor_bits = floor_nats / std::log(2.0);
  if (std::isfinite(floor_bits)) {
    low = std::min(low, floor_bits);
    high = std::max(high, floor_bits);
  }
  const double pad = std::max(0.08 * (high - low), 1e-3 * std::max(1.0, std::abs(high)));
  std::ostringstream s;
  s << "set title "
    << title_lines(dataset + ": test NLL per model",
                   most_seeds > 1 ? "points: mean over seeds; error bars: min..max over seeds"
                                  : "one seed per model")
    << "\n";
  s << "set xlabel " << gp_quoted("test NLL (" + per_step("bits", unit) + ")") << "\n";
  s << "set xrange [" << number(low - pad) << ":" << number(high + pad) << "]\n";
  s << "set yrange [" << number(y + 0.6) << ":0.4]\n";
  s << "set ytics (" << tics.str() << ") nomirror\n";
  s << "set xtics nomirror out\nset border 3\n";
  s << "set grid xtics lc rgb '#e0e0e0'\n";
  s << "set key below vertical maxcols 1 Left reverse height 1\n";
  s << arrows.str() << data.str();
  if (std::isfinite(floor_bits)) {
    s << "set arrow from " << number(floor_bits) << ", graph 0 to " << number(floor_bits)
      << ", graph 1 nohead dt 2 lw 1.6 lc rgb '#444444'\n";
    plots += ", \\\n  NaN with lines dt 2 lw 1.6 lc rgb '#444444' title " +
             gp_quoted("floor (generating process): " + fixed4(floor_bits));
  }
  s << "plot " << plots << "\n";
  Figure f;
  f.kind = "comparison";
  f.stem = stems.make("comparison-" + dataset);
  f.dataset = dataset;
  f.caption = dataset + ": test NLL in " + per_step("bits", unit) +
              " per model, grouped by family, the best of each family first; " +
              (most_seeds > 1 ? "points are the mean over seeds, error bars the minimum..maximum"
                              : "one seed per model") +
              (std::isfinite(floor_bits) ? "; the dashed line is the floor, the NLL of the "
                                           "process that generated the data"
                                         : "") +
              ".";
  const double height = std::clamp(2.4 + 0.34 * static_cast<double>(drawn), 3.6, 12.0);
  render(s.str(), Size{7.2, height}, dir, f.stem, options);
  return f;
}

// ---- per-model heatmaps -----------------------------------------------------------------------

std::string matrix_block(const std::string& name, const arma::mat& m) {
  std::ostringstream s;
  s << name << " << EOD\n";
  for (arma::uword i = 0; i < m.n_rows; ++i) {
    for (arma::uword j = 0; j < m.n_cols; ++j) s << (j ? " " : "") << number(m(i, j));
    s << "\n";
  }
  s << "EOD\n";
  return s.str();
}

// Integer tics 0..n-1 on an axis, every k-th so that at most `most` are labelled.
std::string index_tics(const std::string& axis, arma::uword n, arma::uword most) {
  const arma::uword step = std::max<arma::uword>(1, (n + most - 1) / most);
  return "set " + axis + "tics 0, " + std::to_string(step) + ", " +
         std::to_string(n == 0 ? 0 : n - 1) + " out nomirror\n";
}

// Tick labels for the stretch along x: the symbols, every k-th when there are many.
std::string stretch_tics(const std::vector<std::string>& stretch) {
  const std::size_t most = 100;
  const std::size_t step = std::max<std::size_t>(1, (stretch.size() + most - 1) / most);
  std::string s = "set xtics (";
  for (std::size_t t = 0; t < stretch.size(); t += step)
    s += (t ? ", " : "") + tic_label(visible(stretch[t])) + " " + std::to_string(t);
  s += std::string(") out nomirror font ',") + (stretch.size() <= 60 ? "10" : "8") + "'\n";
  return s;
}

std::string model_name(const ModelGroup& g) {
  return g.label + " on " + g.dataset + " (seed " + std::to_string(g.best->seed) + ")";
}

Figure transition_figure(const ModelGroup& g, const fs::path& dir, Stems& stems,
                         const FigureOptions& options) {
  const arma::mat& a = g.best->transition;
  const arma::uword n = a.n_rows;
  std::ostringstream s;
  s << "set title " << gp_quoted(model_name(g) + ": transition matrix") << "\n";
  s << "set xlabel " << gp_quoted("next state j") << "\nset ylabel " << gp_quoted("current state i")
    << "\n";
  s << "set cblabel " << gp_quoted("P(next = j | now = i)") << "\n";
  s << "set xrange [-0.5:" << number(n - 0.5) << "]\nset yrange [" << number(n - 0.5) << ":-0.5]\n";
  s << index_tics("x", n, 20) << index_tics("y", n, 20);
  s << "set cbrange [0:1]\nset cbtics 0.25\n";
  s << "set palette defined (0 '#ffffff', 0.5 '#6baed6', 1 '#08306b')\n";
  s << "set size ratio -1\nunset key\n";
  s << matrix_block("$A", a);
  s << "plot $A matrix with image";
  if (n <= 12)
    s << ", $A matrix using 1:2:(sprintf('%.2f', $3)):($3 > 0.55 ? 0xffffff : 0x000000) "
         "with labels tc rgb variable font ',11'";
  s << "\n";
  Figure f;
  f.kind = "hmm-transition";
  f.stem = stems.make("hmm-transition-" + g.dataset + "-" + g.label);
  f.dataset = g.dataset;
  f.label = g.label;
  f.caption = model_name(g) +
              ": the transition matrix, row i the distribution of the next "
              "state given state i.";
  const double side = std::clamp(2.5 + 0.3 * static_cast<double>(n), 4.8, 8.0);
  render(s.str(), Size{side + 1.4, side}, dir, f.stem, options);
  return f;
}

// An RBM's filters: with square frames (digits: 8 x 8) each hidden unit's weights as a small
// image, tiled (the first 64 units); otherwise the weight matrix as a heat map, units by visible
// units (the first 100 units). Blue negative, red positive, white 0, symmetric around 0.
Figure filters_figure(const ModelGroup& g, const fs::path& dir, Stems& stems,
                      const FigureOptions& options) {
  const arma::mat& w = g.best->filters;
  const arma::uword v = w.n_cols;
  const arma::uword side = static_cast<arma::uword>(std::llround(std::sqrt(static_cast<double>(v))));
  const bool tiles = side * side == v && side >= 3;
  const arma::uword shown = std::min<arma::uword>(w.n_rows, tiles ? 64 : 100);
  const double extent = std::max(1e-12, arma::abs(w.rows(0, shown - 1)).max());
  std::ostringstream s;
  s << "set title " << gp_quoted(model_name(g) + ": filters (hidden-unit weights)") << "\n";
  s << "set palette defined (-1 '#2166ac', 0 '#f7f7f7', 1 '#b2182b')\n";
  s << "set cbrange [" << number(-extent) << ":" << number(extent) << "]\n";
  s << "set cblabel " << gp_quoted("weight") << "\nunset key\n";
  Size size{7.2, 4.2};
  if (tiles) {
    // A grid of side x side images with one blank (NaN) row and column between them.
    const arma::uword columns =
        static_cast<arma::uword>(std::ceil(std::sqrt(static_cast<double>(shown))));
    const arma::uword rows = (shown + columns - 1) / columns;
    arma::mat canvas(rows * (side + 1) - 1, columns * (side + 1) - 1);
    canvas.fill(arma::datum::nan);
    for (arma::uword k = 0; k < shown; ++k) {
      const arma::uword r0 = (k / columns) * (side + 1), c0 = (k % columns) * (side + 1);
      for (arma::uword i = 0; i < side; ++i)
        for (arma::uword j = 0; j < side; ++j) canvas(r0 + i, c0 + j) = w(k, i * side + j);
    }
    s << "set xrange [-0.5:" << number(canvas.n_cols - 0.5) << "]\nset yrange ["
      << number(canvas.n_rows - 0.5) << ":-0.5]\n";
    s << "unset xtics\nunset ytics\nset border 0\nset size ratio -1\n";
    s << matrix_block("$W", canvas) << "plot $W matrix with image\n";
    size = Size{6.4, 5.6};
  } else {
    s << "set xlabel " << gp_quoted("visible unit") << "\nset ylabel "
      << gp_quoted("hidden unit") << "\n";
    s << "set xrange [-0.5:" << number(v - 0.5) << "]\nset yrange [" << number(shown - 0.5)
      << ":-0.5]\n";
    s << index_tics("x", v, 20) << index_tics("y", shown, 20);
    s << matrix_block("$W", w.rows(0, shown - 1)) << "plot $W matrix with image\n";
  }
  Figure f;
  f.kind = "rbm-filters";
  f.stem = stems.make("rbm-filters-" + g.dataset + "-" + g.label);
  f.dataset = g.dataset;
  f.label = g.label;
  f.caption = model_name(g) + ": " +
              (tiles ? "the weights of " + std::to_string(shown) + " hidden units, each drawn "
                       "as a " + std::to_string(side) + " x " + std::to_string(side) +
                       " image over the visible units"
                     : "the weights of " + std::to_string(shown) +
                           " hidden units (rows) to every visible unit (columns)") +
              (shown < w.n_rows ? " (the first " + std::to_string(shown) + " of " +
                                      std::to_string(w.n_rows) + ")"
                                : "") +
              "; blue negative, red positive, the scale symmetric around 0.";
  render(s.str(), size, dir, f.stem, options);
  return f;
}

std::string stretch_phrase(const ModelGroup& g, std::size_t steps) {
  return "the first " + std::to_string(steps) + " " + g.unit + "s of the first test sequence";
}

Figure strip_figure(const ModelGroup& g, bool posterior, const fs::path& dir, Stems& stems,
                    const FigureOptions& options) {
  const arma::mat& m = posterior ? g.best->posterior : g.best->activations;
  const std::vector<std::string>& stretch = g.best->stretch;
  const bool symbols = g.unit == "symbol";
  std::ostringstream s;
  s << "set title "
    << gp_quoted(model_name(g) + (posterior ? ": state posteriors" : ": top-layer hidden state"))
    << "\n";
  s << "set xlabel "
    << gp_quoted(std::string(symbols ? "test data (the symbol read at each step)"
                                     : "test data: frame (step)") +
                 ", " + stretch_phrase(g, stretch.size()))
    << "\n";
  s << "set ylabel " << gp_quoted(posterior ? "state i" : "hidden unit") << "\n";
  s << "set xrange [-0.5:" << number(m.n_cols - 0.5) << "]\nset yrange [" << number(m.n_rows - 0.5)
    << ":-0.5]\n";
  if (symbols)
    s << stretch_tics(stretch);
  else
    s << index_tics("x", m.n_cols, 25);
  s << index_tics("y", m.n_rows, 16);
  if (posterior) {
    s << "set cblabel " << gp_quoted("P(state_t = i | test sequence)") << "\n";
    s << "set cbrange [0:1]\nset cbtics 0.25\n";
    s << "set palette defined (0 '#ffffff', 0.5 '#6baed6', 1 '#08306b')\n";
  } else {
    const double limit = std::max(1e-12, arma::abs(m).max());
    s << "set cblabel " << gp_quoted("activation") << "\n";
    s << "set cbrange [" << number(-limit) << ":" << number(limit) << "]\n";
    s << "set palette defined (0 '#2166ac', 0.5 '#ffffff', 1 '#b2182b')\n";
  }
  s << "unset key\n";
  s << matrix_block("$M", m);
  s << "plot $M matrix with image\n";
  Figure f;
  f.kind = posterior ? "hmm-posterior" : "rnn-activations";
  f.stem = stems.make(f.kind + "-" + g.dataset + "-" + g.label);
  f.dataset = g.dataset;
  f.label = g.label;
  f.caption = model_name(g) +
              (posterior ? ": P(state | whole sequence) at each step of "
                         : ": the top layer's hidden state after each step of ") +
              stretch_phrase(g, stretch.size()) + (symbols ? ", symbols along the x axis." : ".");
  const double width = std::clamp(3.0 + 0.075 * static_cast<double>(m.n_cols), 7.2, 16.0);
  const double height = std::clamp(1.9 + 0.16 * static_cast<double>(m.n_rows), 2.8, 7.0);
  render(s.str(), Size{width, height}, dir, f.stem, options);
  return f;
}

std::vector<const ModelGroup*> of_dataset(const std::vector<ModelGroup>& groups,
                                          const std::string& dataset) {
  std::vector<const ModelGroup*> out;
  for (const ModelGroup& g : groups)
    if (g.dataset == dataset) out.push_back(&g);
  return out;
}

// ---- sweep: a generator option along the x axis ----------------------------------------------

// A dataset made by a synthetic generator, from its identity in the run settings
// ("generator:copy seed:1 delay=20 length=5 ..."); nullopt for any other dataset.
struct Generated {
  std::string generator;                     // with its seed: "copy seed:1"
  std::map<std::string, std::string> options;
};

std::optional<Generated> generated(const RunResult& run) {
  for (const auto& [key, value] : run.settings) {
    if (key != "dataset" || value.rfind("generator:", 0) != 0) continue;
    std::istringstream words(value.substr(10));
    Generated g;
    std::string seed, word;
    words >> g.generator >> seed;
    g.generator += " " + seed;
    while (words >> word) {
      const auto eq = word.find('=');
      if (eq == std::string::npos) return std::nullopt;
      g.options[word.substr(0, eq)] = word.substr(eq + 1);
    }
    return g;
  }
  return std::nullopt;
}

std::optional<double> as_number(const std::string& text) {
  char* end = nullptr;
  const double x = std::strtod(text.c_str(), &end);
  if (end == text.c_str() || *end != '\0' || !std::isfinite(x)) return std::nullopt;
  return x;
}

std::optional<Figure> sweep_figure(const std::vector<ModelGroup>& groups, const fs::path& dir,
                                   Stems& stems, const FigureOptions& options) {
  const auto sweep = find_sweep(groups);
  if (!sweep) return std::nullopt;
  // Task models (all of `groups` or none) are drawn by their task metric: regression as MSE over
  // the baseline MSE (1: nothing learned), classification as the error rate.
  const bool task = !groups.empty() && !groups.front().task.empty();
  const bool regress = task && groups.front().task == "regress";
  // Against the floor where every swept dataset has one: the gap is what the model misses.
  bool floors = !task;
  std::vector<const ModelGroup*> members;
  std::vector<std::string> labels;  // in the order of the first dataset's ranking
  for (const auto& [x, dataset] : sweep->points)
    for (const ModelGroup& g : groups)
      if (g.dataset == dataset) {
        members.push_back(&g);
        if (!std::isfinite(g.floor_nats)) floors = false;
        if (std::find(labels.begin(), labels.end(), g.label) == labels.end())
          labels.push_back(g.label);
      }
  const std::string unit = common_unit(members);
  std::ostringstream s;
  std::string plots;
  std::size_t most_seeds = 0;
  for (std::size_t i = 0; i < labels.size(); ++i) {
    s << "$S" << i << " << EOD\n";
    std::size_t drawn = 0;
    for (const auto& [x, dataset] : sweep->points)
      for (const ModelGroup* g : members) {
        if (g->dataset != dataset || g->label != labels[i]) continue;
        if (task) {
          const Stat& v = regress ? g->test_relative_mse : g->test_accuracy;
          if (!std::isfinite(v.mean)) continue;
          if (regress)
            s << number(x) << " " << number(v.mean) << " " << number(v.min) << " "
              << number(v.max) << "\n";
          else
            s << number(x) << " " << number(1.0 - v.mean) << " " << number(1.0 - v.max) << " "
              << number(1.0 - v.min) << "\n";
          most_seeds = std::max(most_seeds, v.n);
          ++drawn;
          continue;
        }
        if (!std::isfinite(g->test_bits.mean)) continue;
        // Per sequence: a longer delay adds easy blank steps, which would dilute a per-step
        // gap; the bits a model misses per sequence are what it failed to carry across.
        const RunResult& run = *g->runs.front();
        const double per_sequence =
            run.test && run.test->sequences > 0
                ? static_cast<double>(run.test->steps) / static_cast<double>(run.test->sequences)
                : NAN;
        const double shift = floors ? g->floor_nats / std::log(2.0) : 0.0;
        s << number(x) << " " << number((g->test_bits.mean - shift) * per_sequence) << " "
          << number((g->test_bits.min - shift) * per_sequence) << " "
          << number((g->test_bits.max - shift) * per_sequence) << "\n";
        most_seeds = std::max(most_seeds, g->test_bits.n);
        ++drawn;
      }
    s << "EOD\n";
    if (drawn == 0) continue;
    if (!plots.empty()) plots += ", \\\n  ";
    const std::string rgb = kColours[i % kColours.size()];
    plots += "$S" + std::to_string(i) + " using 1:2:3:4 with yerrorlines lc rgb '" + rgb +
             "' dt " + std::to_string(dash(i / kColours.size())) + " lw 1.6 pt " +
             std::to_string(point_type(i)) + " ps (PS * 0.8) title " + gp_quoted(labels[i]);
  }
  if (plots.empty()) return std::nullopt;
  const std::string measure = regress ? "test MSE / baseline MSE"
                              : task  ? "test error rate"
                              : floors ? "test NLL above the floor"
                                       : "test NLL";
  std::ostringstream head;
  head << "set title "
       << title_lines(sweep->generator + ": " + measure + " against " + sweep->option,
                      most_seeds > 1 ? "points: mean over seeds; bars: min..max over seeds"
                                     : "one seed per model")
       << "\n";
  head << "set xlabel " << gp_quoted(sweep->option + " (generator option)") << "\n";
  if (regress) head << "set logscale y\nset format y '%g'\n";
  head << "set ylabel "
       << gp_quoted(regress ? measure + " (log scale)"
                    : task  ? measure + " (1 - accuracy)"
                            : measure + " (bits per sequence)")
       << "\n";
  head << "set xtics (";
  for (std::size_t i = 0; i < sweep->points.size(); ++i)
    head << (i ? ", " : "") << number(sweep->points[i].first);
  head << ") nomirror out\n";
  head << "set key outside right top vertical Left reverse samplen 2.5\n"
          "set grid lc rgb '#e0e0e0'\nset border 3\nset ytics nomirror out\n"
          "set offsets graph 0.05, graph 0.05, graph 0.05, graph 0.05\n";
  if (floors || regress)
    head << "set arrow from graph 0, first " << (regress ? 1 : 0)
         << " to graph 1, first " << (regress ? 1 : 0) << " nohead dt 2 lw 1.2 lc rgb '#444444'\n";
  Figure f;
  f.kind = "sweep";
  f.stem = stems.make("sweep-" + sweep->generator + "-" + sweep->option);
  f.caption = sweep->generator + " data at " + sweep->option + " = ";
  for (std::size_t i = 0; i < sweep->points.size(); ++i)
    f.caption += (i ? ", " : "") + number(sweep->points[i].first);
  if (regress)
    f.caption += ": " + measure + " per model, a task metric and not a likelihood (1, the dashed "
                 "line, is what always predicting the mean target scores; 0 is a solved task); ";
  else if (task)
    f.caption += ": " + measure + " per model, a task metric and not a likelihood; ";
  else
    f.caption += ": " + measure + " in bits per test sequence (bits per " + unit +
                 " times the mean sequence length) per model" +
                 (floors ? " (0, the dashed line, is the generating process itself)" : "") + "; ";
  f.caption += std::string() +
               (most_seeds > 1 ? "points are the mean over seeds, bars the minimum..maximum"
                               : "one seed per model") +
               ".";
  render(head.str() + s.str() + "plot " + plots + "\n", Size{7.2, 3.8}, dir, f.stem, options);
  return f;
}

bool wanted(const FigureOptions& options, const std::string& group) {
  return options.groups.empty() ||
         std::find(options.groups.begin(), options.groups.end(), group) != options.groups.end();
}

}  // namespace

std::optional<Sweep> find_sweep(const std::vector<ModelGroup>& groups) {
  std::map<std::string, Generated> data;  // dataset -> how it was made
  for (const ModelGroup& g : groups)
    if (!data.count(g.dataset) && !g.runs.empty())
      if (auto made = generated(*g.runs.front())) data[g.dataset] = *made;
  std::optional<Sweep> best;
  std::set<std::string> keys;
  for (const auto& [dataset, made] : data)
    for (const auto& [key, value] : made.options) keys.insert(key);
  for (const std::string& key : keys) {
    // Datasets alike in everything but `key`, keyed by that everything.
    std::map<std::string, Sweep> families;
    for (const auto& [dataset, made] : data) {
      const auto it = made.options.find(key);
      if (it == made.options.end()) continue;
      const auto x = as_number(it->second);
      if (!x) continue;
      std::string rest = made.generator;
      for (const auto& [k, v] : made.options)
        if (k != key) rest += " " + k + "=" + v;
      Sweep& s = families[rest];
      s.generator = made.generator.substr(0, made.generator.find(' '));
      s.option = key;
      s.points.push_back({*x, dataset});
    }
    for (auto& [rest, s] : families) {
      std::sort(s.points.begin(), s.points.end());
      std::set<double> values;
      for (const auto& p : s.points) values.insert(p.first);
      if (values.size() < 2 || values.size() != s.points.size()) continue;
      if (!best || s.points.size() > best->points.size()) best = s;
    }
  }
  return best;
}

std::string extension(FigureFormat format) {
  switch (format) {
    case FigureFormat::png:
      return "png";
    case FigureFormat::svg:
      return "svg";
    case FigureFormat::pdf:
      return "pdf";
  }
  return "png";
}

std::vector<FigureFormat> parse_figure_formats(const std::string& list) {
  std::vector<FigureFormat> out;
  std::size_t begin = 0;
  while (begin <= list.size()) {
    const std::size_t end = std::min(list.find(',', begin), list.size());
    const std::string name = list.substr(begin, end - begin);
    FigureFormat f;
    if (name == "png")
      f = FigureFormat::png;
    else if (name == "svg")
      f = FigureFormat::svg;
    else if (name == "pdf")
      f = FigureFormat::pdf;
    else if (name.empty())
      user_error("--format: an empty format name in '" + list +
                 "' (accepted: png, svg, pdf, separated by commas)");
    else
      user_error("--format: unknown format '" + name +
                 "' (accepted: png, svg, pdf, separated by commas)");
    if (std::find(out.begin(), out.end(), f) == out.end()) out.push_back(f);
    begin = end + 1;
  }
  return out;
}

fs::path require_gnuplot() {
  const char* path = std::getenv("PATH");
  std::string dirs = path != nullptr ? path : "/usr/bin:/bin";
  std::size_t begin = 0;
  while (begin <= dirs.size()) {
    const std::size_t end = std::min(dirs.find(':', begin), dirs.size());
    const fs::path dir = dirs.substr(begin, end - begin).empty()
                             ? fs::path(".")
                             : fs::path(dirs.substr(begin, end - begin));
    const fs::path candidate = dir / "gnuplot";
    struct stat st {};
    if (::stat(candidate.c_str(), &st) == 0 && S_ISREG(st.st_mode) &&
        ::access(candidate.c_str(), X_OK) == 0)
      return candidate;
    begin = end + 1;
  }
  user_error(
      "figures need gnuplot, which is not on PATH (Debian package gnuplot-nox: "
      "apt-get install gnuplot-nox)");
}

std::string slug(const std::string& text) {
  std::string out;
  bool gap = false;
  for (unsigned char c : text) {
    const bool keep = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                      c == '.' || c == '_' || c == '-';
    if (keep) {
      if (gap && !out.empty()) out += '-';
      out += static_cast<char>(c);
      gap = false;
    } else {
      gap = true;
    }
  }
  while (!out.empty() && (out.front() == '.' || out.front() == '-')) out.erase(out.begin());
  return out.empty() ? "x" : out;
}

FigureFormat figure_format_of(const fs::path& path, const std::string& option) {
  std::string ext = path.extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  for (FigureFormat f : {FigureFormat::png, FigureFormat::svg, FigureFormat::pdf})
    if (ext == "." + extension(f)) return f;
  user_error(option + ": '" + printable(path.string()) +
             "' names no figure format: expected a file name ending in .png, .svg or .pdf");
}

namespace {

void require_series(const std::vector<Series>& series, const std::string& what) {
  if (series.empty()) user_error(what + ": nothing to draw");
  for (const Series& c : series) {
    const std::size_t n = c.x.size();
    if (n == 0 || c.y.size() != n || (!c.low.empty() && c.low.size() != n) ||
        c.low.size() != c.high.size())
      user_error(what + ": series '" + c.label + "' has columns of unequal or zero length");
  }
}

// Draws a figure of its own at `path` (no results folder): the format from the extension.
void render_single(const std::string& body, Size size, const fs::path& path) {
  FigureOptions options;
  options.formats = {figure_format_of(path, "figure")};
  const fs::path dir = path.parent_path().empty() ? fs::path(".") : path.parent_path();
  render(body, size, dir, path.stem().string(), options);
}

}  // namespace

void draw_capacity_figure(const std::vector<Series>& rules, double alpha_c,
                          const std::string& subtitle, const fs::path& path) {
  require_series(rules, "capacity figure");
  if (!(alpha_c > 0.0)) user_error("capacity figure: alpha_c must be > 0");
  require_gnuplot();
  std::ostringstream s;
  s << "set title " << title_lines("Hopfield network capacity: recall against load", subtitle)
    << "\n";
  s << "set xlabel " << gp_quoted("load alpha = stored patterns P / units N") << "\n";
  s << "set ylabel " << gp_quoted("fraction of cues recalled (overlap >= 0.95)") << "\n";
  s << "set yrange [0:1.05]\n"
       "set key outside right top vertical Left reverse samplen 2.5\n"
       "set grid lc rgb '#e0e0e0'\n"
       "set border 3\nset tics nomirror out\n"
       "set style fill transparent solid 0.18 noborder\n"
       "set offsets graph 0.02, graph 0.02, 0, 0\n";
  s << "set arrow 1 from " << number(alpha_c) << ", graph 0 to " << number(alpha_c)
    << ", graph 1 nohead dt 2 lw 1.2 lc rgb '#555555'\n";
  // Left of the line, halfway up: the Hebbian curve crosses it to the right, below 1.
  s << "set label 1 " << gp_quoted("alpha_c = " + number(alpha_c)) << " at " << number(alpha_c)
    << ", graph 0.5 offset -0.6, 0 right tc rgb '#555555'\n";
  std::string plots;
  for (std::size_t i = 0; i < rules.size(); ++i) {
    const Series& c = rules[i];
    const bool band = !c.low.empty();
    s << "$R" << i << " << EOD\n";
    for (std::size_t k = 0; k < c.x.size(); ++k)
      s << number(c.x[k]) << " " << number(c.y[k]) << " " << number(band ? c.low[k] : c.y[k]) << " "
        << number(band ? c.high[k] : c.y[k]) << "\n";
    s << "EOD\n";
    const std::string rgb = colour(i);
    if (!plots.empty()) plots += ", \\\n  ";
    if (band)
      plots += "$R" + std::to_string(i) + " using 1:3:4 with filledcurves lc rgb '" + rgb +
               "' notitle, ";
    plots += "$R" + std::to_string(i) + " using 1:2 with linespoints lc rgb '" + rgb + "' dt " +
             std::to_string(dash(i)) + " lw 1.6 pt " + std::to_string(point_type(i)) +
             " ps (PS * 0.5) title " + gp_quoted(c.label);
  }
  s << "plot " << plots << "\n";
  render_single(s.str(), Size{7.2, 4.0}, path);
}

void draw_energy_figure(const std::vector<Series>& cues, const std::string& subtitle,
                        const fs::path& path) {
  require_series(cues, "energy figure");
  require_gnuplot();
  std::ostringstream s;
  s << "set title " << title_lines("Hopfield network: energy during asynchronous recall", subtitle)
    << "\n";
  s << "set xlabel " << gp_quoted("unit flips (asynchronous updates that changed a unit)") << "\n";
  s << "set ylabel " << gp_quoted("energy E(x) = -x'Wx/2 - b'x") << "\n";
  s << "set xrange [0:*]\n";
  s << "set key outside right top vertical Left reverse samplen 2.5\n"
       "set grid lc rgb '#e0e0e0'\n"
       "set border 3\nset tics nomirror out\n"
       "set offsets graph 0.02, graph 0.02, graph 0.05, graph 0.05\n";
  std::string plots;
  for (std::size_t i = 0; i < cues.size(); ++i) {
    const Series& c = cues[i];
    s << "$E" << i << " << EOD\n";
    for (std::size_t k = 0; k < c.x.size(); ++k)
      s << number(c.x[k]) << " " << number(c.y[k]) << "\n";
    s << "EOD\n";
    if (!plots.empty()) plots += ", \\\n  ";
    plots += "$E" + std::to_string(i) + " using 1:2 with linespoints lc rgb '" + colour(i) +
             "' dt " + std::to_string(dash(i / kColours.size())) + " lw 1.6 pt " +
             std::to_string(point_type(i)) + " ps (PS * 0.5) title " + gp_quoted(c.label);
  }
  s << "plot " << plots << "\n";
  render_single(s.str(), Size{7.2, 4.0}, path);
}

void draw_log_partition_figure(const std::vector<Series>& estimates,
                               const std::vector<ReferenceLine>& references,
                               const std::string& subtitle, const fs::path& path) {
  require_series(estimates, "log Z figure");
  for (const Series& e : estimates)
    for (const double x : e.x)
      if (!(x > 0.0)) user_error("log Z figure: steps must be > 0 (a log scale)");
  for (const ReferenceLine& r : references)
    if (!std::isfinite(r.y)) user_error("log Z figure: reference '" + r.label + "' is not finite");
  require_gnuplot();
  std::ostringstream s;
  s << "set title " << title_lines("AIS estimates of log Z against the annealing schedule", subtitle)
    << "\n";
  s << "set xlabel " << gp_quoted("annealing steps (intermediate distributions)") << "\n";
  s << "set ylabel " << gp_quoted("log Z (nats)") << "\n";
  s << "set logscale x\n"
       "set key outside right top vertical Left reverse samplen 2.5\n"
       "set grid lc rgb '#e0e0e0'\n"
       "set border 3\nset tics nomirror out\n"
       "set offsets 0, 0, graph 0.08, graph 0.08\n";
  double x_min = estimates.front().x.front(), x_max = x_min;
  for (const Series& e : estimates)
    for (const double x : e.x) x_min = std::min(x_min, x), x_max = std::max(x_max, x);
  s << "set xrange [" << number(x_min / 1.6) << ":" << number(x_max * 1.6) << "]\n";
  std::string plots;
  for (std::size_t i = 0; i < estimates.size(); ++i) {
    const Series& e = estimates[i];
    const bool bars = !e.low.empty();
    // Series at the same steps are drawn a few per cent apart so that their bars do not hide
    // each other.
    const double dodge =
        std::pow(1.06, static_cast<double>(i) - 0.5 * static_cast<double>(estimates.size() - 1));
    s << "$A" << i << " << EOD\n";
    for (std::size_t k = 0; k < e.x.size(); ++k)
      s << number(e.x[k] * dodge) << " " << number(e.y[k]) << " " << number(bars ? e.low[k] : e.y[k])
        << " " << number(bars ? e.high[k] : e.y[k]) << "\n";
    s << "EOD\n";
    const std::string rgb = colour(i);
    if (!plots.empty()) plots += ", \\\n  ";
    if (bars)
      plots += "$A" + std::to_string(i) + " using 1:2:3:4 with yerrorbars lc rgb '" + rgb +
               "' pt " + std::to_string(point_type(i)) + " ps (PS * 0.6) lw 1.4 notitle, ";
    plots += "$A" + std::to_string(i) + " using 1:2 with lines lc rgb '" + rgb + "' dt " +
             std::to_string(dash(i)) + " lw 1.4 title " + gp_quoted(e.label);
  }
  // Reference lines: a constant plotted as a function, so that it spans the x range and has a
  // key entry of its own.
  for (std::size_t r = 0; r < references.size(); ++r)
    plots += ", \\\n  (" + number(references[r].y) + ") with lines lc rgb '" +
             (references[r].dashed ? std::string("#888888' dt 2") : std::string("#333333' dt 1")) +
             " lw 1.2 title " + gp_quoted(references[r].label);
  s << "plot " << plots << "\n";
  render_single(s.str(), Size{7.2, 4.0}, path);
}

std::vector<Figure> draw_learning_curves(const std::vector<RunResult>& runs, const fs::path& dir,
                                         const FigureOptions& options) {
  require_gnuplot();
  const std::vector<ModelGroup> all = group_runs(runs);
  const std::vector<std::string> families = family_order(all);
  std::vector<Figure> figures;
  Stems stems;
  // Sequence models and task models never share a figure: their curves measure different things.
  for (const auto& groups : {sequence_groups(all), task_groups(all)})
    for (const std::string& dataset : datasets_of(groups)) {
      const auto members = of_dataset(groups, dataset);
      for (bool by_seconds : {false, true})
        if (auto f = learning_figure(members, families, by_seconds, dir, stems, options))
          figures.push_back(*f);
    }
  return figures;
}

std::vector<Figure> draw_figures(const std::vector<RunResult>& runs, const fs::path& dir,
                                 const FigureOptions& options) {
  require_gnuplot();
  const std::vector<ModelGroup> groups = group_runs(runs);
  const std::vector<std::string> families = family_order(groups);
  std::vector<Figure> figures;
  Stems stems;
  // Sequence models and task models never share a figure: a task metric is not a likelihood.
  const std::vector<ModelGroup> sequence = sequence_groups(groups);
  const std::vector<ModelGroup> task = task_groups(groups);
  if (wanted(options, "sweep"))
    for (const auto* part : {&sequence, &task})
      if (auto f = sweep_figure(*part, dir, stems, options)) figures.push_back(*f);
  for (const std::string& dataset : datasets_of(sequence)) {
    const auto members = of_dataset(sequence, dataset);
    if (wanted(options, "comparison"))
      if (auto f = comparison_figure(members, families, dir, stems, options)) figures.push_back(*f);
    if (wanted(options, "learning-curves"))
      for (bool by_seconds : {false, true})
        if (auto f = learning_figure(members, families, by_seconds, dir, stems, options))
          figures.push_back(*f);
  }
  if (wanted(options, "learning-curves"))
    for (const std::string& dataset : datasets_of(task))
      if (auto f = learning_figure(of_dataset(task, dataset), families, false, dir, stems,
                                   options))
        figures.push_back(*f);
  for (const ModelGroup& g : groups) {
    const RunResult& best = *g.best;
    if (wanted(options, "hmm") && !best.transition.empty())
      figures.push_back(transition_figure(g, dir, stems, options));
    if (wanted(options, "hmm") && !best.posterior.empty())
      figures.push_back(strip_figure(g, true, dir, stems, options));
    if (wanted(options, "rnn") && !best.activations.empty())
      figures.push_back(strip_figure(g, false, dir, stems, options));
    if (wanted(options, "energy") && !best.filters.empty())
      figures.push_back(filters_figure(g, dir, stems, options));
  }
  return figures;
}

}  // namespace seqlab::report
