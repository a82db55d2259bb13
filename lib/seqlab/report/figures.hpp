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
                     // "hmm-posterior", "rnn-activations"
  std::string dataset;
  std::string label;    // the model (per-model figures), else empty
  std::string caption;  // one sentence: what is drawn, what bands and bars mean
};

struct FigureOptions {
  std::vector<FigureFormat> formats = {FigureFormat::png};
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

// Text made safe for a file name: letters, digits, '.', '-' and '_' kept, every other run of
// bytes one '-', no leading '.' or '-'; never empty ("x").
std::string slug(const std::string& text);

}  // namespace seqlab::report
