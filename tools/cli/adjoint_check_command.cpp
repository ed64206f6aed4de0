// xrestore adjoint-check --op ... [--shape C H W | --image IMG]: the relative adjoint error
// |<Ax,y> - <x,A^T y>| / (|Ax| |y|) of an operator on random x, y (the worst of --trials pairs),
// and pass or FAIL (exit status 2) by require_adjoint's size-independent rule on the same pairs
// (operators/adjoint_check.hpp: a wrong adjoint's error shrinks like 1/sqrt(size) as well).

#include "command.hpp"
#include "memory_budget.hpp"
#include "operator_flags.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/operators/adjoint_check.hpp>

#include <cstdint>
#include <cstdio>
#include <memory>
#include <string>
#include <variant>
#include <vector>

namespace xrestore::cli {

namespace {

struct adjoint_args {
    std::vector<std::size_t> shape{3, 37, 45};
    std::string image_path;
    operator_flags op;
    std::uint64_t trials = 3;
    double max_memory = 0.0;
};

int run_adjoint_check(const adjoint_args& a) {
    shape3 shape{};
    memory_plan memory("adjoint-check", a.max_memory);
    if (!a.image_path.empty()) {
        shape = memory.input("--image", a.image_path);
    } else {
        require(a.shape.size() == 3, "adjoint-check", "--shape", "three extents C H W",
                a.shape.size());
        shape = {a.shape[0], a.shape[1], a.shape[2]};
        require(shape[0] > 0 && shape[1] > 0 && shape[2] > 0, "adjoint-check", "--shape",
                "three positive extents", shape_string(shape));
    }
    require(a.trials >= 1 && a.trials <= 1000000, "adjoint-check", "--trials", "in [1, 1000000]",
            a.trials);
    // x, y, A x, A^T y and the operator's own buffers (the gradient's range is twice x)
    memory.add("the random pair and their images under A and A^T (about 8 images)",
               image_bytes(shape, 8));
    memory.check();
    const auto op = make_operator(a.op, shape);
    // pair t is adjoint_check(A, seed + t), the pairs this command always drew
    const adjoint_check_options options{.trials = static_cast<int>(a.trials), .seed = a.op.seed};
    const auto m = std::visit([&](const auto& A) { return measure_adjoint(A, options); }, op);
    std::printf("adjoint-check: op %s, shape %s, %llu trials: relative error %.3e (%s)\n",
                a.op.op.c_str(), shape_string(shape).c_str(),
                static_cast<unsigned long long>(a.trials), m.worst_check,
                m.passed ? "pass" : "FAIL");
    if (!m.passed) {
        std::fprintf(stderr,
                     "adjoint-check: |<Ax,y> - <x,A^T y>| / max(|Ax|, |A^T y|) over the pairs is "
                     "%.3e, above the tolerance %.0e (a correct adjoint: float rounding, 1e-6 or "
                     "less at any size)\n",
                     m.relative_error, m.tolerance);
    }
    return m.passed ? 0 : 2;
}

} // namespace

command adjoint_check_command() {
    auto a = std::make_shared<adjoint_args>();
    command c{"adjoint-check", "relative error |<Ax,y> - <x,A^T y>| / (|Ax| |y|) on random x, y"};
    c.add("--shape", a->shape, "domain shape C H W").expected(3).show_default();
    c.add("--image", a->image_path, "take the domain shape from an image");
    c.add("--trials", a->trials, "random pairs tried (worst reported)").at_least(1).show_default();
    add_operator_flags(c, a->op);
    add_memory_flag(c, a->max_memory);
    c.run = [a] { return run_adjoint_check(*a); };
    return c;
}

} // namespace xrestore::cli
