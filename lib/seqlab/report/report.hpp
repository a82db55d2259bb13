// seqlab/report/report.hpp: the report of a results folder, as `seqlab report` writes it:
//   index.html   one self-contained page (inline CSS; no scripts, fonts or anything fetched from
//                elsewhere) showing the figure files beside it
//   report.md    the same content as Markdown
//   table.tex    the results table as a LaTeX tabular (booktabs)
//   <figures>    every figure of report/figures.hpp as PNG (shown by the page), SVG and PDF
// Content: the results table (models ranked per dataset by mean test NLL; nats AND bits per
// step, perplexity for symbol data only, parameters, wall time, updates; mean +- sample standard
// deviation over seeds where there are several), the figures, samples drawn from each model, the
// experiment's config.toml verbatim, the environment of the runs (version, commit, compiler,
// BLAS, threads, dates), one row per run, and the files that were skipped. Every piece of text
// taken from the results is escaped for the format it goes into.
#pragma once

#include <filesystem>
#include <string>
#include <vector>

#include "seqlab/io/results_file.hpp"
#include "seqlab/report/figures.hpp"

namespace seqlab::report {

struct ReportOptions {
  std::string title;  // empty: "Results: <name of the results folder>"
  // Formats drawn besides PNG (which the page shows and is always drawn).
  std::vector<FigureFormat> formats = {FigureFormat::png, FigureFormat::svg, FigureFormat::pdf};
};

struct ReportFiles {
  std::filesystem::path html, markdown, latex;
  std::vector<Figure> figures;
  std::vector<std::string> warnings;  // the summary's skipped files
};

// Requires: `summary` with at least one run (else UserError naming `source`); `source` the
//   results folder it was read from (named in the report, and its config.toml is shown when it
//   has one); `out_dir` a directory or a path where one can be created (else UserError);
//   gnuplot (figures.hpp).
// Ensures: the files above in `out_dir`, each written atomically; files already there that the
//   report does not write are left alone.
ReportFiles write_report(const Summary& summary, const std::filesystem::path& source,
                         const std::filesystem::path& out_dir, const ReportOptions& options);

// The same from a results folder read with read_results_folder (which writes nothing into it).
ReportFiles write_report(const std::filesystem::path& results_dir,
                         const std::filesystem::path& out_dir, const ReportOptions& options);

// Escaping, exposed for tests. html_escape: & < > " ' as entities, C0 control characters other
// than tab, line feed and carriage return as the visible text "\xNN". latex_escape: the ten
// special characters of LaTeX, and < >, as commands that print them. markdown_escape: text safe
// inside a Markdown table cell or paragraph (backslash-escaped punctuation, '|' escaped, < > & as
// entities, line breaks as spaces).
std::string html_escape(const std::string& text);
std::string latex_escape(const std::string& text);
std::string markdown_escape(const std::string& text);

}  // namespace seqlab::report
