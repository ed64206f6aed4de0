#pragma once
// The grid file of `compare`: what it may hold (compare_grid_help(), the text of compare --help
// and the README), and the grid read and checked, every key at every level, before any run.

#include "operator_flags.hpp"
#include "solver_table.hpp"

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <string>
#include <vector>

namespace xrestore::cli {

/// An entry of "images": the file and its label in the tables.
struct grid_image {
    std::filesystem::path path;
    std::string name;
};

/// An entry of "degradations": the forward operator's settings, the noise and the label.
struct grid_degradation {
    std::string name;
    operator_flags flags;
    double noise = 0.0;
};

/// One solver run of the grid: an entry of "solvers" with its lists expanded.
struct grid_run {
    const solver_entry* solver = nullptr;
    solver_settings given; ///< the parameter values of the entry; the others keep defaults
    std::string denoiser_name;
    double denoiser_strength = 0.0;
    std::string denoiser_call; ///< a U-Net's call convention ("": the weights' own)
    std::string parameters;    ///< "key=value ..." of the entry's keys but "solver", for the tables
};

/// A grid file, read and checked.
struct compare_grid {
    std::uint64_t seed = 0;
    std::size_t crop = 0;
    std::vector<grid_image> images;
    std::vector<grid_degradation> degradations;
    std::vector<grid_run> runs;
};

/// Reads the grid file at `path`. Throws io_error when it cannot be read or is not JSON, and
/// value_error for a missing or empty list, an unknown key at any level (naming the key, where it
/// is and the keys allowed there), a value of the wrong type, an unknown solver, denoiser or
/// operator, or a parameter the entry's solver does not read.
compare_grid read_compare_grid(const std::filesystem::path& path);

/// The grid file format, for compare --help and the README.
std::string compare_grid_help();

} // namespace xrestore::cli
