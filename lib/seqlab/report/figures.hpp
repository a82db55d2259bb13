// seqlab/report/figures.hpp: the report's figures, drawn by gnuplot (run as a child process
// through a pipe; the Debian package gnuplot-nox). Every figure labels its axes with units (bits
// per symbol or per frame), says in its title what its bands and bars are, and keeps the key
// outside the plot area so that it never covers data.
//
// THE FIGURES (per dataset, then per model; a "model" is one label on one dataset, its runs
// differ by seed; report/aggregate.hpp):
//   comparison-<dataset>        test NLL (bits per step) of every model: the mean over seeds with
//                               bars from the minimum to the maximum, grouped and coloured by
//                               family, the dataset's floor (generating process) as a dashed line
//                               where known
//   learning-epochs-<dataset>   valid NLL (bits per step) against epochs (EM iterations for
//                               HMMs): one line per model, the mean over seeds at each epoch with
//                               a min..max band; where a model recorded no valid NLL its train
//                               NLL is drawn instead and its key entry says so
//   learning-seconds-<dataset>  the same against wall-clock seconds since training began (the
//                               mean over seeds of the time each epoch ended)
//   hmm-transition-<model>      heatmap of the transition matrix P(next = j | now = i)
//   hmm-posterior-<model>       state posteriors P(state_t = i | x) over the stretch of test data
//                               (states x steps, the symbols along the x axis)
//   rnn-activations-<model>     the top layer's hidden state over the same stretch
//   sweep-<generator>-<option>  where the datasets were made by one synthetic generator and
//                               differ in one numeric option only (the copy task at delays 5,
//                               20, 50): test NLL above each dataset's floor (bits per step)
//                               against that option, one line per model, mean over seeds with
//                               min..max bars; the test NLL itself where a floor is unknown
// The per-model figures show the group's best run (lowest test NLL). HMM learning curves use the
// records of the restart that ended with the lowest train NLL (the one fit() keeps).
//
// FILES. <dir>/<stem>.<format> for each requested format: png (pngcairo), svg, pdf (pdfcairo).
// Each is written atomically (gnuplot draws into a temp file that is renamed when gnuplot
// succeeded). Output is deterministic for the same runs: the PDF's creation date is set to
// FigureOptions::pdf_date when given.
#pragma once

#include <filesystem>
#include <optional>
#include <string>
#include <vector>

#include "seqlab/io/results_file.hpp"
#include "seqlab/report/aggregate.hpp"

namespace seqlab::report {

enum class FigureFormat { png, svg, pdf };

// "png", "svg" or "pdf".
std::string extension(FigureFormat format);

// Requires nothing. Ensures: the formats of a comma-separated list such as "png,svg,pdf", each
// once, in the order given; else a UserError naming the unknown or missing format and the
// accepted ones.
std::vector<FigureFormat> parse_figure_formats(const std::string& list);

// One drawn figure; its files are <dir>/<stem>.<extension> for every format drawn.
struct Figure {
  std::string stem;
  std::string kind;  // "comparison", "learning-epochs", "learning-seconds", "hmm-transition",
                     // "hmm-posterior", "rnn-activations", "sweep", "rbm-filters"
  std::string dataset;
  std::string label;    // the model (per-model figures), else empty
  std::string caption;  // one sentence: what is drawn, what bands and bars mean
};

struct FigureOptions {
  std::vector<FigureFormat> formats = {FigureFormat::png};
  // The figure groups to draw, by an experiment file's names: "learning-curves", "comparison",
  // "hmm", "rnn", "sweep", "energy". Empty: all of them.
  std::vector<std::string> groups;
  // "YYYY-MM-DDTHH:MM:SSZ" (as RunEnvironment::date): the creation date PDFs carry, so that the
  // same runs give byte-identical files. Empty: the time of drawing.
  std::string pdf_date;
};

// Requires nothing. Ensures: returns the path of the gnuplot program found on PATH, else a
// UserError saying that figures need gnuplot and naming the Debian package (gnuplot-nox).
std::filesystem::path require_gnuplot();

// Requires: `dir` an existing directory this process may write; gnuplot (require_gnuplot).
// Ensures: every figure described above that `runs` have data for, each in every format of
//   `options`, and their descriptions in a fixed order (per dataset: comparison, learning
//   curves; then per model: HMM transition, posterior, RNN activations). A gnuplot failure is a
//   UserError naming the file and gnuplot's first error line (no file left behind).
// Cost: one gnuplot process per file.
std::vector<Figure> draw_figures(const std::vector<RunResult>& runs,
                                 const std::filesystem::path& dir, const FigureOptions& options);

// The learning curves alone (what `seqlab plot` draws for a single model file's history).
std::vector<Figure> draw_learning_curves(const std::vector<RunResult>& runs,
                                         const std::filesystem::path& dir,
                                         const FigureOptions& options);

// Datasets made by one synthetic generator that differ in one numeric option only.
struct Sweep {
  std::string generator;  // "copy"
  std::string option;     // "delay"
  std::vector<std::pair<double, std::string>> points;  // (option value, dataset), increasing
};

// Requires: groups from group_runs (a run's "dataset" setting is its dataset identity,
//   "generator:NAME seed:S key=value ..." for generated data).
// Ensures: the option along which the most generated datasets (at least two, all else equal,
//   the generator's seed included) differ, with each one's value; nullopt where there is none.
// Cost: linear in the groups times the options.
std::optional<Sweep> find_sweep(const std::vector<ModelGroup>& groups);

// ---- single figures outside a results folder (seqlab capacity, seqlab recall) --------------------

// Requires nothing. Ensures: the format a figure file's extension names (.png, .svg or .pdf, in
// any case); else a UserError "<option>: '<path>' ...: expected a file name ending in .png, .svg
// or .pdf".
FigureFormat figure_format_of(const std::filesystem::path& path, const std::string& option);

// One line of a line figure: y against x, with a band from low to high where both are given
// (empty: no band).
struct Series {
  std::string label;
  std::vector<double> x, y, low, high;
};

// Requires: at least one series, each with x and y of one length >= 1 (and low, high of that
//   length or empty), alpha_c > 0; gnuplot (require_gnuplot); UserError otherwise.
// Ensures: `path` (its format from the extension, written atomically as every figure is): the
//   fraction of cues recalled against the load alpha = P/N, one line per series (a learning
//   rule: the mean over seeds, the band its minimum..maximum), a dashed vertical line at
//   alpha_c with its value, y from 0 to 1. `subtitle` is the title's second line (the units,
//   flips and seeds). Cost: one gnuplot process.
void draw_capacity_figure(const std::vector<Series>& rules, double alpha_c,
                          const std::string& subtitle, const std::filesystem::path& path);

// Requires: as draw_capacity_figure (bands ignored). Ensures: `path`: the energy of the network's
//   state against the number of unit flips of asynchronous recall, one line per cue, with
//   `subtitle` as the title's second line. Cost: one gnuplot process.
void draw_energy_figure(const std::vector<Series>& cues, const std::string& subtitle,
                        const std::filesystem::path& path);

// A horizontal reference line of a figure (a known value the points are held against).
struct ReferenceLine {
  std::string label;
  double y = 0.0;
  bool dashed = false;  // a grey dashed line (an estimate), else solid dark grey (a known value)
};

// Requires: at least one series, each with x and y of one length >= 1, every x > 0, low and high
//   of that length (the error bars) or empty; reference values finite; gnuplot; UserError
//   otherwise.
// Ensures: `path`: AIS estimates of log Z against the number of annealing steps (log scale), one
//   series per number of runs with error bars from low to high (series drawn 6 % apart along x
//   so that bars at the same steps stay visible), and each reference as a
//   horizontal line (the exact log Z by enumeration, the value stored in the model). `subtitle`
//   is the title's second line. Cost: one gnuplot process.
void draw_log_partition_figure(const std::vector<Series>& estimates,
                               const std::vector<ReferenceLine>& references,
                               const std::string& subtitle, const std::filesystem::path& path);

// Text made safe for a file name: letters, digits, '.', '-' and '_' kept, every other run of
// bytes one '-', no leading '.' or '-'; never empty ("x").
std::string slug(const std::string& text);

}  // namespace seqlab::report
