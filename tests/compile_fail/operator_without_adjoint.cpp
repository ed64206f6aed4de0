// A type with apply() but no adjoint() is not a linear_operator: solvers must reject it at compile
// time with a message that names the concept.
// expect: satisfaction of [^ ]*linear_operator<Op>[^ ]* \[with Op = forward_only\]
#include <xrestore/xrestore.hpp>

struct forward_only {
    using domain_type = xrestore::image;
    using range_type = xrestore::image;
    xrestore::image apply(const xrestore::image& x) const { return x; }
    xrestore::shape3 domain_shape() const { return {1, 4, 4}; }
    xrestore::shape3 range_shape() const { return {1, 4, 4}; }
};

int main() {
    const forward_only op;
    return xrestore::adjoint_check(op, 1) < 1.0 ? 0 : 1;
}
