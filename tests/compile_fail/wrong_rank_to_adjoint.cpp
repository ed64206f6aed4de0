// An image passed to the adjoint of the gradient, whose range is a 2 x C x H x W field: a plain
// message naming the rank-4 tensor needed.
// expect: xrestore: an array of another rank cannot be passed where xrestore::tensor<4>
#include <xrestore/xrestore.hpp>

int main() {
    const xrestore::gradient d({1, 8, 8});
    const xrestore::image g = xt::zeros<float>({1, 8, 8});
    const xrestore::image x = d.adjoint(g);
    return static_cast<int>(x.size());
}
