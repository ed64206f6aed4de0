#pragma once
// One subcommand of the xrestore program, as data: its name, one-line help, flags (each bound to
// a variable of the command's arguments) and run. Each command builds its `command` in its own
// <name>_command.cpp; xrestore.cpp lists them in order and declares their flags to CLI11. The
// commands do not include CLI11: it costs about 5 s of compile CPU in every translation unit
// that includes it, so it is compiled once, in xrestore.cpp.

#include <functional>
#include <optional>
#include <string>
#include <utility>
#include <vector>

namespace CLI {
class App;
class Option;
} // namespace CLI

namespace xrestore::cli {

/// The exit status of `restore` and `compare` when a solver diverged (1: any other failure).
constexpr int diverged_status = 3;

struct flag;

/// Declares `f` on `app` with CLI11, for a variable of type T (bool: a flag without a value).
/// Defined and instantiated for the bound types in xrestore.cpp.
template <class T>
CLI::Option* declare_flag(CLI::App& app, const flag& f);

/// An option ("--noise"), a flag without value (bound to a bool) or a positional argument
/// ("IN") of a subcommand, bound to a variable; the setters mirror CLI11's option modifiers.
struct flag {
    std::string name{};
    std::string help{};
    void* target = nullptr;                                    ///< the bound variable
    CLI::Option* (*declare)(CLI::App&, const flag&) = nullptr; ///< declare_flag<its type>
    bool is_required = false;
    bool default_shown = false;
    int values = 0;                     ///< values of a list option (0: CLI11's default)
    std::vector<std::string> allowed{}; ///< the values allowed (empty: any)
    /// A check of the value: "" if valid, else the error; `check_name` describes it in --help.
    std::function<std::string(std::string&)> check{};
    std::string check_name{};
    std::string excluded{}; ///< a flag declared before this one that must not be given with it
    /// Numbers: the range allowed, inclusive (checked besides the checks every number gets: a
    /// finite value, and no sign for an unsigned variable).
    std::optional<double> minimum{};
    std::optional<double> maximum{};

    flag& required() {
        is_required = true;
        return *this;
    }
    /// Show the variable's initial value as the default in --help.
    flag& show_default() {
        default_shown = true;
        return *this;
    }
    flag& expected(int n) {
        values = n;
        return *this;
    }
    flag& one_of(std::vector<std::string> values_allowed) {
        allowed = std::move(values_allowed);
        return *this;
    }
    flag& validated(std::function<std::string(std::string&)> f, std::string name) {
        check = std::move(f);
        check_name = std::move(name);
        return *this;
    }
    flag& excludes(std::string other) {
        excluded = std::move(other);
        return *this;
    }
    /// A number >= `lo`.
    flag& at_least(double lo) {
        minimum = lo;
        return *this;
    }
    /// A number in [lo, hi].
    flag& in_range(double lo, double hi) {
        minimum = lo;
        maximum = hi;
        return *this;
    }
};

/// A subcommand: what xrestore.cpp declares to CLI11, and what runs it once the command line is
/// parsed (its exit status).
struct command {
    std::string name{};
    std::string help{};
    std::vector<flag> flags{};
    std::function<int()> run{};
    std::string footer{}; ///< printed after the flags in the subcommand's --help (empty: none)

    /// Binds an option or positional argument `name` to `value` (a bool: a flag without value).
    template <class T>
    flag& add(std::string flag_name, T& value, std::string flag_help) {
        return flags.emplace_back(flag{.name = std::move(flag_name),
                                       .help = std::move(flag_help),
                                       .target = &value,
                                       .declare = &declare_flag<T>});
    }
};

command degrade_command();
command adjoint_check_command();
command metrics_command();
command restore_command();
command dip_command();
command compare_command();
command denoise_command();
command convert_command();
command study_command();
command train_denoiser_command();
command iqa_command();

} // namespace xrestore::cli
