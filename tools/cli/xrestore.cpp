// xrestore: the command-line program. Subcommands, one file each (see command.hpp):
//   degrade        apply a forward operator (blur, inpainting mask, downsampling) and add noise
//   adjoint-check  print the relative adjoint error of an operator on random inputs
//   metrics        full-reference and no-reference quality metrics
//   restore        restore a degraded image with any solver of the solver table
//   compare        run a grid of images x degradations x solvers, write CSV and markdown
//   denoise        run a U-Net denoiser on an image
//   convert        rewrite a weights file as safetensors
//   study          the plug-and-play restoration study on a photo, with a report (study/)
// This file is the only one that includes CLI11: it declares every command's flags to it.
#include "command.hpp"
#include "memory_budget.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/core/heap_reuse.hpp>
#include <xrestore/nn/gemm.hpp>

#include <CLI/CLI.hpp>

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <exception>
#include <map>
#include <new>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

namespace xrestore::cli {

namespace {

template <class T>
struct unwrapped {
    using type = T;
};
template <class T>
struct unwrapped<std::optional<T>> {
    using type = T;
};
template <class T>
struct unwrapped<std::vector<T>> {
    using type = T;
};

std::string number_text(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

/// The checks every number gets, by the type it is parsed into: an unsigned integer has no
/// sign (CLI11 would wrap -2 to 18446744073709551614), a real is finite (nan, inf), and a
/// flag's own range holds. "" when `text` passes (CLI11 then converts it), else the error.
template <class Number>
std::string check_number(const std::string& text, const flag& f) {
    if constexpr (std::is_unsigned_v<Number>) {
        const auto first = text.find_first_not_of(" \t");
        if (first != std::string::npos && text[first] == '-') {
            return "must be a non-negative integer, got " + text;
        }
    }
    double v = 0.0;
    try {
        std::size_t used = 0;
        v = std::stod(text, &used);
        if (used != text.size()) {
            return {}; // not a number: CLI11's conversion says so
        }
    } catch (const std::exception&) {
        return {};
    }
    if (!std::isfinite(v)) {
        return "must be a finite number, got " + text;
    }
    if ((f.minimum && v < *f.minimum) || (f.maximum && v > *f.maximum)) {
        return "must be " +
               (f.maximum ? "in [" + number_text(f.minimum.value_or(-HUGE_VAL)) + ", " +
                                number_text(*f.maximum) + "]"
                          : ">= " + number_text(*f.minimum)) +
               ", got " + text;
    }
    return {};
}

} // namespace

template <class T>
CLI::Option* declare_flag(CLI::App& app, const flag& f) {
    T& value = *static_cast<T*>(f.target);
    CLI::Option* option = nullptr;
    if constexpr (std::is_same_v<T, bool>) {
        option = app.add_flag(f.name, value, f.help);
    } else {
        option = app.add_option(f.name, value, f.help);
    }
    if (f.values > 0) {
        option->expected(f.values);
    }
    if (!f.allowed.empty()) {
        option->check(CLI::IsMember(f.allowed));
    }
    if (f.check) {
        option->check(CLI::Validator(f.check, f.check_name));
    }
    using number = typename unwrapped<T>::type;
    if constexpr (std::is_arithmetic_v<number> && !std::is_same_v<number, bool>) {
        const flag copy = f;
        option->check(CLI::Validator(
            [copy](std::string& text) { return check_number<number>(text, copy); }, ""));
    }
    if (f.is_required) {
        option->required();
    }
    if (f.default_shown) {
        option->capture_default_str();
    }
    return option;
}

// The types commands bind flags to (std::size_t and std::uint64_t are each one of the two
// unsigned types).
template CLI::Option* declare_flag<bool>(CLI::App&, const flag&);
template CLI::Option* declare_flag<int>(CLI::App&, const flag&);
template CLI::Option* declare_flag<unsigned long>(CLI::App&, const flag&);
template CLI::Option* declare_flag<unsigned long long>(CLI::App&, const flag&);
template CLI::Option* declare_flag<double>(CLI::App&, const flag&);
template CLI::Option* declare_flag<std::string>(CLI::App&, const flag&);
template CLI::Option* declare_flag<std::optional<int>>(CLI::App&, const flag&);
template CLI::Option* declare_flag<std::optional<double>>(CLI::App&, const flag&);
template CLI::Option* declare_flag<std::vector<std::size_t>>(CLI::App&, const flag&);

namespace {

/// Declares `c` and its flags on `app`; returns the subcommand.
CLI::App* declare(CLI::App& app, const command& c) {
    CLI::App* sub = app.add_subcommand(c.name, c.help);
    if (!c.footer.empty()) {
        sub->footer(c.footer);
    }
    std::map<std::string, CLI::Option*> declared;
    for (const flag& f : c.flags) {
        CLI::Option* option = f.declare(*sub, f);
        if (!f.excluded.empty()) {
            option->excludes(declared.at(f.excluded));
        }
        declared[f.name] = option;
    }
    return sub;
}

} // namespace

} // namespace xrestore::cli

int main(int argc, char** argv) {
    namespace cli = xrestore::cli;
    // on a processor Debian's OpenBLAS does not know, start again with its fast kernels chosen
    xrestore::nn::restart_with_fast_blas_kernels(argv);
    // solver and training loops free and reallocate the same arrays every iteration
    xrestore::reuse_freed_heap_memory();
    // OpenBLAS's idle workers would spin beside the first work (loading weights) for 0.1 s, and
    // be woken after every network layer: all products run on xrestore's own threads
    xrestore::nn::stop_idle_blas_threads();
    xrestore::nn::use_single_threaded_blas();
    CLI::App app{"xrestore: image restoration as an inverse problem, y = A x + n"};
    app.require_subcommand(1);
    app.set_version_flag("--version", "xrestore 0.1.0");

    const std::vector<cli::command> commands{cli::degrade_command(),
                                             cli::adjoint_check_command(),
                                             cli::metrics_command(),
                                             cli::restore_command(),
                                             cli::compare_command(),
                                             cli::denoise_command(),
                                             cli::convert_command(),
                                             cli::study_command(),
                                             cli::train_denoiser_command(),
                                             cli::dip_command(),
                                             cli::iqa_command()};
    std::vector<CLI::App*> declared;
    for (const cli::command& c : commands) {
        declared.push_back(cli::declare(app, c));
    }

    try {
        app.parse(argc, argv);
    } catch (const CLI::ParseError& e) {
        return app.exit(e);
    }
    try {
        for (std::size_t i = 0; i < commands.size(); ++i) {
            if (*declared[i]) {
                return commands[i].run();
            }
        }
        return 1;
    } catch (const xrestore::error& e) {
        std::fprintf(stderr, "xrestore: error: %s\n", e.what());
        return 1;
    } catch (const std::bad_alloc&) {
        // the estimate passed (or was raised with --max-memory), and memory ran out anyway
        const std::string doing = cli::current_activity();
        std::fprintf(stderr,
                     "xrestore: error: out of memory%s%s; the input is too large for the memory "
                     "available here\n",
                     doing.empty() ? "" : " while ", doing.c_str());
        return 1;
    } catch (const std::exception& e) {
        std::fprintf(stderr, "xrestore: unexpected error: %s\n", e.what());
        return 1;
    }
}
