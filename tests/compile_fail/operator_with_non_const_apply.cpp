// An operator whose apply is not const: explain_linear_operator says so in plain words (the
// concept alone reports only that "op.apply(x)" is invalid).
// expect: xrestore::linear_operator: apply must be a const member function
#include <xrestore/xrestore.hpp>

struct non_const_apply {
    using domain_type = xrestore::image;
    using range_type = xrestore::image;
    xrestore::image apply(const xrestore::image& x) { return x; }
    xrestore::image adjoint(const xrestore::image& y) const { return y; }
    xrestore::shape3 domain_shape() const { return {1, 4, 4}; }
    xrestore::shape3 range_shape() const { return {1, 4, 4}; }
};
static_assert(xrestore::explain_linear_operator<non_const_apply>());

int main() {
    return 0;
}
