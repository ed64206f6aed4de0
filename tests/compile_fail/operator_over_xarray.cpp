// An operator over xt::xarray (rank not fixed, so not a vector type): explain_linear_operator
// says what a vector type is (the concept alone reports an incomplete vector_space<...>).
// expect: xrestore::linear_operator: domain_type and range_type must be vector types
#include <xrestore/xrestore.hpp>

#include <xtensor/xarray.hpp>

struct xarray_operator {
    using domain_type = xt::xarray<float>;
    using range_type = xt::xarray<float>;
    domain_type apply(const domain_type& x) const { return x; }
    domain_type adjoint(const domain_type& y) const { return y; }
    std::vector<std::size_t> domain_shape() const { return {1, 4, 4}; }
    std::vector<std::size_t> range_shape() const { return {1, 4, 4}; }
};
static_assert(xrestore::explain_linear_operator<xarray_operator>());

int main() {
    return 0;
}
