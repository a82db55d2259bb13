// tools/seqlab/cmd_report.cpp: `seqlab report RESULTS_DIR` (the HTML/Markdown/LaTeX report of a
// results folder) and `seqlab plot RESULTS` (its figures alone, or the learning curve of one
// model file that carries a training history). Both read their input only.
#include <algorithm>
#include <filesystem>
#include <iostream>
#include <system_error>

#include "cli_common.hpp"
#include "commands.hpp"
#include "seqlab/core/error.hpp"
#include "seqlab/io/model_file.hpp"
#include "seqlab/io/results_file.hpp"
#include "seqlab/report/figures.hpp"
#include "seqlab/report/report.hpp"

namespace seqlab::cli {
namespace fs = std::filesystem;

namespace {

void print_warnings(const std::vector<std::string>& warnings, bool quiet) {
  if (quiet) return;
  for (const std::string& w : warnings) std::cerr << "seqlab: warning: " << w << "\n";
}

// The runs of a results folder; a folder without any is an error here (nothing to show).
Summary runs_of(const std::string& command, const fs::path& dir) {
  Summary summary = read_results_folder(dir);
  if (summary.runs.empty())
    user_error(command + ": " + dir.string() + ": no readable run files in runs/" +
               (summary.warnings.empty() ? std::string()
                                         : " (" + std::to_string(summary.warnings.size()) +
                                               " skipped: " + summary.warnings.front() + ")"));
  return summary;
}

void make_directory(const std::string& command, const fs::path& dir) {
  std::error_code ec;
  if (fs::exists(dir, ec) && !fs::is_directory(dir, ec))
    user_error(command + ": --out " + dir.string() + " is a file, expected a directory");
  fs::create_directories(dir, ec);
  if (ec) user_error(command + ": cannot create --out " + dir.string() + " (" + ec.message() + ")");
}

// A RunResult holding what a model file says of its training: its history, unit and type.
RunResult run_of_model_file(const fs::path& path) {
  check_model_file_loads(path.string());
  const auto model = load_model(path);
  RunResult r;
  r.label = model->type();
  r.model_type = model->type();
  r.dataset = path.stem().string();
  r.unit = model->kind() == SequenceKind::symbols ? "symbol" : "frame";
  r.history = load_history(path);
  if (r.history.empty())
    input_error(path,
                "holds no training history (no history/ group, or an empty one): there is "
                "no learning curve to draw");
  return r;
}

}  // namespace

int report_command(const std::vector<std::string>& args) {
  const std::string cmd = "report";
  CommonOptions common;
  std::string results, out, title, formats = "png,svg,pdf";
  po::options_description desc("Options");
  desc.add_options()("results", po::value(&results)->value_name("RESULTS_DIR"),
                     "the results folder (runs/*.h5, and config.toml when there is one)")(
      "out,o", po::value(&out)->value_name("DIR"),
      "the report's folder, created if missing (default RESULTS_DIR/report)")(
      "title", po::value(&title)->value_name("TEXT"),
      "the report's title (default: Results: <folder name>)")(
      "format", po::value(&formats)->default_value(formats)->value_name("LIST"),
      "figure files besides the PNG the page shows: png, svg, pdf, separated by commas");
  add_common_options(desc, common, 0);
  po::positional_options_description positional;
  positional.add("results", 1);
  po::variables_map vm;
  if (!parse_command_line(cmd, "RESULTS_DIR [--out DIR] [--title TEXT] [--format png,svg,pdf]",
                          args, desc, &positional, vm))
    return 0;
  if (results.empty()) user_error(cmd + ": give the results folder (see 'seqlab report --help')");
  report::ReportOptions options;
  options.title = title;
  options.formats = report::parse_figure_formats(formats);
  const fs::path out_dir = out.empty() ? fs::path(results) / "report" : fs::path(out);
  const Summary summary = runs_of(cmd, results);
  report::require_gnuplot();
  make_directory(cmd, out_dir);
  const report::ReportFiles files = report::write_report(summary, results, out_dir, options);
  print_warnings(files.warnings, common.quiet);
  if (!common.quiet)
    std::cout << files.html.string() << "\n"
              << files.markdown.string() << "\n"
              << files.latex.string() << "\n"
              << files.figures.size() << " figures in " << out_dir.string() << "\n";
  return 0;
}

int plot_command(const std::vector<std::string>& args) {
  const std::string cmd = "plot";
  CommonOptions common;
  std::string input, out, formats = "png";
  po::options_description desc("Options");
  desc.add_options()(
      "results", po::value(&input)->value_name("RESULTS"),
      "a results folder, one run file of it, or a model file with a training history")(
      "out,o", po::value(&out)->value_name("DIR"),
      "where the figures go, created if missing (default: RESULTS/figures for a folder, the file's "
      "own folder for a file)")("format",
                                po::value(&formats)->default_value(formats)->value_name("LIST"),
                                "png, svg, pdf, separated by commas");
  add_common_options(desc, common, 0);
  po::positional_options_description positional;
  positional.add("results", 1);
  po::variables_map vm;
  if (!parse_command_line(cmd, "RESULTS [--format png,svg,pdf] [--out DIR]", args, desc,
                          &positional, vm))
    return 0;
  if (input.empty())
    user_error(cmd +
               ": give a results folder, a run file or a model file (see 'seqlab plot --help')");
  report::FigureOptions options;
  options.formats = report::parse_figure_formats(formats);
  const fs::path path = input;
  std::error_code ec;
  if (!fs::exists(path, ec)) user_error(cmd + ": " + input + ": no such file or folder");

  std::vector<report::Figure> figures;
  fs::path out_dir;
  if (fs::is_directory(path, ec)) {
    const Summary summary = runs_of(cmd, path);
    out_dir = out.empty() ? path / "figures" : fs::path(out);
    report::require_gnuplot();
    make_directory(cmd, out_dir);
    for (const RunResult& r : summary.runs)
      options.pdf_date = std::max(options.pdf_date, r.environment.date);
    figures = report::draw_figures(summary.runs, out_dir, options);
    print_warnings(summary.warnings, common.quiet);
  } else {
    require_readable_file(path, "results or model file");
    out_dir = out.empty() ? path.parent_path() : fs::path(out);
    if (out_dir.empty()) out_dir = ".";
    if (is_run_file(path)) {
      const RunResult run = read_run_file(path);
      options.pdf_date = run.environment.date;
      report::require_gnuplot();
      make_directory(cmd, out_dir);
      figures = report::draw_figures({run}, out_dir, options);
    } else {
      const RunResult run = run_of_model_file(path);
      report::require_gnuplot();
      make_directory(cmd, out_dir);
      figures = report::draw_learning_curves({run}, out_dir, options);
    }
  }
  if (!common.quiet)
    for (const report::Figure& f : figures)
      for (report::FigureFormat format : options.formats)
        std::cout << (out_dir / (f.stem + "." + report::extension(format))).string() << "\n";
  return 0;
}

}  // namespace seqlab::cli
