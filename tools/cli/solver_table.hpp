#pragma once
// The solvers of `restore` and `compare`, in one table: each entry has its name, a one-line help,
// the parameters it reads (flag --KEY of restore, key KEY of a compare grid entry) with what each
// sets and its default, and its run. Defaults are those of the solver's options struct (read off
// a default-constructed struct, never retyped), so adding a solver is one entry in
// solver_table.cpp: restore's flags, compare's grid keys and the help follow from the table.

#include "denoiser_choice.hpp"
#include "operator_flags.hpp"

#include <xrestore/core/tensor.hpp>
#include <xrestore/solvers/monitor.hpp>

#include <functional>
#include <map>
#include <string>
#include <string_view>
#include <vector>

namespace xrestore::cli {

/// The parameter values given on the command line or in a grid entry, by key; a key not given
/// keeps the solver's default.
using solver_settings = std::map<std::string, double, std::less<>>;

/// A parameter a solver reads: its key, what it sets (e.g. "weight of TV"), its default, and
/// whether it takes whole numbers.
struct solver_parameter {
    std::string key;
    std::string sets;
    double default_value = 0.0;
    bool integer = false;
};

/// What every solver of the table calls after each iteration with (iteration, x, the solver's
/// record of it: seconds, objective, relative change).
using iteration_monitor = std::function<void(int, const image&, const iteration_record&)>;

/// One solver of the table.
struct solver_entry {
    std::string name;
    std::string help; ///< one line: the problem and the method
    bool uses_denoiser = false;
    std::vector<solver_parameter> parameters; ///< what it reads, in the order of its help
    /// Runs it on y = A x + n with the given values (the others at their defaults).
    std::function<solver_result<image>(const solver_settings& given, const image_operator& A,
                                       const image& y, const iteration_monitor& monitor,
                                       const cli_denoiser& denoiser)>
        run;

    /// The parameter `key`, or nullptr when this solver does not read it.
    const solver_parameter* parameter(std::string_view key) const;
    /// The value of `key` for this run: the given one, else the default.
    double value(const solver_settings& given, std::string_view key) const;
};

/// Every solver, in the order of the help.
const std::vector<solver_entry>& solver_table();

/// The solver `name`, or nullptr.
const solver_entry* find_solver(std::string_view name);

/// The names of solver_table(), in order.
std::vector<std::string> solver_names();

/// Every parameter key the table's solvers read, once each (first-seen order), with what the
/// first solver reading it says it sets (`sets`, default of that solver, integer).
std::vector<solver_parameter> solver_keys();

/// The --solver help: one line per solver with its help and its parameters' defaults.
std::string solver_help();

/// The help of the flag for `key`: what it sets for each solver that reads it.
std::string parameter_help(std::string_view key);

/// The flag for a key: "--" + key with '_' as '-'.
std::string flag_of(std::string_view key);

} // namespace xrestore::cli
