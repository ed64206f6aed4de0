#pragma once
// The outputs of `xrestore study` (written by study_report.cpp): results.json (every number),
// results.csv and curves.csv, the images (PNG), side-by-side panels, plots (PNG, drawn by
// xrestore/report/plot.hpp) and report.md, whose numbers and interpretations are all generated
// from the results.

#include "study_results.hpp"

namespace xrestore::cli {

/// Write every output of the study into settings.out_dir.
void write_study(const study_results& r);

/// The short summary on stdout.
void print_study_summary(const study_results& r);

} // namespace xrestore::cli
