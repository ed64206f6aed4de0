// The solver table (see solver_table.hpp). Each entry starts from its options struct as
// default-constructed (or with the fields that make the variant, e.g. the regulariser of
// cg-tikhonov-grad), binds its parameters to fields of it, and calls the library's solver. The
// CG solvers record their objective (record_objective: one more A per iteration, x unchanged), so
// that every solver that has an objective reports it in the histories.

#include "solver_table.hpp"

#include <xrestore/operators/combinators.hpp>
#include <xrestore/prox/tv.hpp>
#include <xrestore/solvers/admm.hpp>
#include <xrestore/solvers/fista.hpp>
#include <xrestore/solvers/gradient_descent.hpp>
#include <xrestore/solvers/pnp.hpp>
#include <xrestore/solvers/red.hpp>
#include <xrestore/solvers/richardson_lucy.hpp>
#include <xrestore/solvers/tikhonov.hpp>
#include <xrestore/solvers/tv.hpp>

#include <cstdio>
#include <type_traits>
#include <utility>
#include <variant>

namespace xrestore::cli {

namespace {

/// Binds parameter keys to fields of a solver's options: lists each (key, what it sets, the
/// field's value as it stands, which is the default) and, given values, sets the field.
class parameter_binder {
public:
    explicit parameter_binder(const solver_settings* given = nullptr) : given_(given) {}

    template <class T>
    void operator()(std::string_view key, T& field, std::string_view sets) {
        static_assert(std::is_same_v<T, int> || std::is_same_v<T, double>);
        listed_.push_back({std::string(key), std::string(sets), static_cast<double>(field),
                           std::is_same_v<T, int>});
        if (given_ != nullptr) {
            if (const auto it = given_->find(key); it != given_->end()) {
                field = static_cast<T>(it->second);
            }
        }
    }

    std::vector<solver_parameter> listed() && { return std::move(listed_); }

private:
    const solver_settings* given_;
    std::vector<solver_parameter> listed_;
};

/// A table entry from its options struct as it starts (`defaults`), `bind(options, binder)`
/// naming the parameters, and `run(A, y, options, monitor, denoiser)`.
template <class Options, class Bind, class Run>
solver_entry make_solver(std::string name, std::string help, bool uses_denoiser, Options defaults,
                         Bind bind, Run run) {
    Options listed = defaults;
    parameter_binder lister;
    bind(listed, lister);
    return {std::move(name), std::move(help), uses_denoiser, std::move(lister).listed(),
            [defaults, bind, run](const solver_settings& given, const image_operator& op,
                                  const image& y, const iteration_monitor& monitor,
                                  const cli_denoiser& denoiser) {
                Options options = defaults;
                parameter_binder binder(&given);
                bind(options, binder);
                return std::visit(
                    [&](const auto& A) { return run(A, y, options, monitor, denoiser); }, op);
            }};
}

/// admm-tv: ADMM with the TV prox as its v-update; the TV weight defaults to tv_primal_dual's,
/// which solves the same problem.
struct admm_tv_options {
    admm_options admm;
    double lambda = tv_options{}.lambda;
};

/// rl-tv: Richardson-Lucy with a TV term. richardson_lucy_options{}.tv_lambda is 0 (plain RL), so
/// this variant has its own default weight.
constexpr double rl_tv_default_lambda = 2e-3;

std::vector<solver_entry> build_table() {
    std::vector<solver_entry> t;
    auto cg_params = [](auto& o, parameter_binder& b) {
        b("iters", o.cg.max_iter, "CG iterations");
        b("tol", o.cg.tol, "CG stop on ||r|| / ||b||");
    };
    t.push_back(
        make_solver("least-squares", "min ||A x - y||^2 by CG on the normal equations", false,
                    least_squares_options{.record_objective = true}, cg_params,
                    [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
                       const cli_denoiser&) { return least_squares(A, y, o, m); }));
    auto tikhonov_params = [cg_params](std::string_view regulariser) {
        return [cg_params, regulariser](tikhonov_options& o, parameter_binder& b) {
            b("lambda", o.lambda, regulariser);
            cg_params(o, b);
        };
    };
    auto run_tikhonov = [](const auto& A, const image& y, const tikhonov_options& o,
                           const iteration_monitor& m,
                           const cli_denoiser&) { return tikhonov(A, y, o, m); };
    t.push_back(make_solver("cg-tikhonov", "min ||A x - y||^2 + lambda ||x||^2 by CG", false,
                            tikhonov_options{.record_objective = true},
                            tikhonov_params("weight of ||x||^2"), run_tikhonov));
    t.push_back(make_solver(
        "cg-tikhonov-grad", "min ||A x - y||^2 + lambda ||grad x||^2 by CG", false,
        tikhonov_options{.regularizer = tikhonov_regularizer::gradient, .record_objective = true},
        tikhonov_params("weight of ||grad x||^2"), run_tikhonov));
    t.push_back(make_solver(
        "landweber", "gradient descent on 1/2 ||A x - y||^2 (Landweber)", false,
        gradient_descent_options{},
        [](gradient_descent_options& o, parameter_binder& b) {
            b("iters", o.max_iter, "iterations");
            b("step", o.step, "gradient step (0: 1 / ||A||^2)");
        },
        [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
           const cli_denoiser&) { return gradient_descent(A, y, o, m); }));
    auto fista_params = [](std::string_view term) {
        return [term](fista_options& o, parameter_binder& b) {
            b("lambda", o.lambda, term);
            b("iters", o.max_iter, "iterations");
        };
    };
    t.push_back(
        make_solver("fista-haar", "min 1/2 ||A x - y||^2 + lambda ||W x||_1, W Haar, by FISTA",
                    false, fista_options{}, fista_params("weight of ||W x||_1"),
                    [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
                       const cli_denoiser&) { return fista(A, y, o, m); }));
    t.push_back(make_solver(
        "fista-l1", "min 1/2 ||A x - y||^2 + lambda ||x||_1 by FISTA", false, fista_options{},
        fista_params("weight of ||x||_1"),
        [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
           const cli_denoiser&) { return fista(A, y, identity(A.domain_shape()), o, m); }));
    t.push_back(make_solver(
        "tv", "min 1/2 ||A x - y||^2 + lambda TV(x) by primal-dual (Chambolle-Pock)", false,
        tv_options{},
        [](tv_options& o, parameter_binder& b) {
            b("lambda", o.lambda, "weight of TV");
            b("iters", o.max_iter, "iterations");
        },
        [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
           const cli_denoiser&) { return tv_primal_dual(A, y, o, m); }));
    t.push_back(make_solver(
        "tv-haar", "min 1/2 ||A x - y||^2 + lambda TV(x) + lambda_wavelet ||W x||_1 by primal-dual",
        false, tv_haar_options{},
        [](tv_haar_options& o, parameter_binder& b) {
            b("lambda", o.lambda_tv, "weight of TV");
            b("lambda_wavelet", o.lambda_wavelet, "weight of ||W x||_1, W Haar");
            b("iters", o.max_iter, "iterations");
        },
        [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
           const cli_denoiser&) { return tv_haar_primal_dual(A, y, o, m); }));
    auto continuation = [](auto& o, parameter_binder& b) {
        b("eta", o.eta, "ADMM penalty");
        b("eta_growth", o.eta_growth, "continuation: eta grows by this factor per iteration");
        b("eta_max", o.eta_max, "cap of the continuation");
        b("iters", o.max_iter, "iterations");
    };
    t.push_back(make_solver(
        "admm-tv", "min 1/2 ||A x - y||^2 + lambda TV(x) by ADMM with the TV prox", false,
        admm_tv_options{},
        [continuation](admm_tv_options& o, parameter_binder& b) {
            b("lambda", o.lambda, "weight of TV");
            continuation(o.admm, b);
        },
        [](const auto& A, const image& y, const admm_tv_options& o, const iteration_monitor& m,
           const cli_denoiser&) {
            const double mu = o.lambda;
            auto prox = [mu](const image& z, double step) { return tv_prox(z, mu * step); };
            return admm(A, y, prox, o.admm, m);
        }));
    t.push_back(make_solver(
        "pnp-admm", "plug-and-play ADMM: the denoiser in place of the prox (the study's)", true,
        pnp_admm_options{}, continuation,
        [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
           const cli_denoiser& d) { return pnp_admm(A, y, d, o, m); }));
    t.push_back(make_solver(
        "pnp-pgd", "plug-and-play proximal gradient: x = D(x - step A^T (A x - y))", true,
        pnp_pgd_options{},
        [](pnp_pgd_options& o, parameter_binder& b) {
            b("step", o.step, "gradient step");
            b("iters", o.max_iter, "iterations");
        },
        [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
           const cli_denoiser& d) { return pnp_pgd(A, y, d, o, m); }));
    t.push_back(make_solver(
        "pnp-hqs", "plug-and-play half-quadratic splitting", true, pnp_hqs_options{},
        [](pnp_hqs_options& o, parameter_binder& b) {
            b("mu", o.mu, "coupling weight");
            b("iters", o.max_iter, "iterations");
        },
        [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
           const cli_denoiser& d) { return pnp_hqs(A, y, d, o, m); }));
    t.push_back(make_solver(
        "red", "regularisation by denoising, gradient descent (the study's)", true, red_options{},
        [](red_options& o, parameter_binder& b) {
            b("lambda", o.lambda, "weight of the prior");
            b("step", o.step, "gradient step");
            b("iters", o.max_iter, "iterations");
        },
        [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
           const cli_denoiser& d) { return red_gradient_descent(A, y, d, o, m); }));
    t.push_back(make_solver(
        "red-fp", "regularisation by denoising, fixed point (CG)", true, red_fixed_point_options{},
        [](red_fixed_point_options& o, parameter_binder& b) {
            b("lambda", o.lambda, "weight of the prior");
            b("iters", o.max_iter, "iterations");
        },
        [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
           const cli_denoiser& d) { return red_fixed_point(A, y, d, o, m); }));
    t.push_back(make_solver(
        "rl", "Richardson-Lucy (Poisson noise)", false, richardson_lucy_options{},
        [](richardson_lucy_options& o, parameter_binder& b) {
            b("iters", o.max_iter, "iterations");
        },
        [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
           const cli_denoiser&) { return richardson_lucy(A, y, o, m); }));
    t.push_back(make_solver(
        "rl-tv", "Richardson-Lucy with a TV term (Dey et al.)", false,
        richardson_lucy_options{.tv_lambda = rl_tv_default_lambda},
        [](richardson_lucy_options& o, parameter_binder& b) {
            b("lambda", o.tv_lambda, "weight of TV, in [0, 0.25)");
            b("iters", o.max_iter, "iterations");
        },
        [](const auto& A, const image& y, const auto& o, const iteration_monitor& m,
           const cli_denoiser&) { return richardson_lucy(A, y, o, m); }));
    return t;
}

std::string number(double v) {
    char text[32];
    std::snprintf(text, sizeof text, "%g", v);
    return text;
}

} // namespace

const solver_parameter* solver_entry::parameter(std::string_view key) const {
    for (const auto& p : parameters) {
        if (p.key == key) {
            return &p;
        }
    }
    return nullptr;
}

double solver_entry::value(const solver_settings& given, std::string_view key) const {
    if (const auto it = given.find(key); it != given.end()) {
        return it->second;
    }
    const solver_parameter* p = parameter(key);
    return p != nullptr ? p->default_value : 0.0;
}

const std::vector<solver_entry>& solver_table() {
    static const std::vector<solver_entry> table = build_table();
    return table;
}

const solver_entry* find_solver(std::string_view name) {
    for (const auto& s : solver_table()) {
        if (s.name == name) {
            return &s;
        }
    }
    return nullptr;
}

std::vector<std::string> solver_names() {
    std::vector<std::string> names;
    for (const auto& s : solver_table()) {
        names.push_back(s.name);
    }
    return names;
}

std::vector<solver_parameter> solver_keys() {
    std::vector<solver_parameter> keys;
    for (const auto& s : solver_table()) {
        for (const auto& p : s.parameters) {
            bool seen = false;
            for (const auto& k : keys) {
                seen = seen || k.key == p.key;
            }
            if (!seen) {
                keys.push_back(p);
            }
        }
    }
    return keys;
}

std::string flag_of(std::string_view key) {
    std::string flag = "--" + std::string(key);
    for (char& c : flag) {
        c = c == '_' ? '-' : c;
    }
    return flag;
}

std::string solver_help() {
    std::string text = "solver (its parameters' defaults in brackets):";
    for (const auto& s : solver_table()) {
        text +=
            "\n  " + s.name + ": " + s.help + (s.uses_denoiser ? ", with --denoiser" : "") + " [";
        for (std::size_t i = 0; i < s.parameters.size(); ++i) {
            const solver_parameter& p = s.parameters[i];
            text += (i > 0 ? ", " : "") + flag_of(p.key) + " " + number(p.default_value);
        }
        text += "]";
    }
    return text;
}

std::string parameter_help(std::string_view key) {
    // one line per distinct meaning: "tv, admm-tv: weight of TV (default 0.001)"
    std::vector<std::pair<std::string, std::string>> lines; // (meaning, solvers)
    for (const auto& s : solver_table()) {
        if (const solver_parameter* p = s.parameter(key)) {
            const std::string meaning = p->sets + " (default " + number(p->default_value) + ")";
            auto it = lines.begin();
            while (it != lines.end() && it->first != meaning) {
                ++it;
            }
            if (it == lines.end()) {
                lines.emplace_back(meaning, s.name);
            } else {
                it->second += ", " + s.name;
            }
        }
    }
    std::string text;
    for (const auto& [meaning, solvers] : lines) {
        text += (text.empty() ? "" : "\n") + solvers + ": " + meaning;
    }
    return text;
}

} // namespace xrestore::cli
