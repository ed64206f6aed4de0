#pragma once
/// @file test_support.hpp
/// Helpers shared by the tests: crops of the repository's images, the small deblurring problem,
/// image differences, Boost.Test printing of solver_stop, scratch files and io_error messages.
///
/// @code
/// using namespace xrestore::test;
/// const image truth = butterfly_crop(64);  // 3 x 64 x 64 at (96, 96)
/// scratch_dir dir("xrestore_test_npy_");   // removed at the end of the test
/// @endcode

#include <boost/test/unit_test.hpp>

#include <xrestore/core/error.hpp>
#include <xrestore/core/linear_operator.hpp>
#include <xrestore/core/noise.hpp>
#include <xrestore/core/tensor.hpp>
#include <xrestore/core/vector_space.hpp>
#include <xrestore/io/image.hpp>
#include <xrestore/operators/convolution.hpp>
#include <xrestore/operators/kernels.hpp>
#include <xrestore/solvers/monitor.hpp>

#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include <array>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <ostream>
#include <random>
#include <string>
#include <string_view>
#include <system_error>

namespace xrestore {
/// Boost.Test prints stop reasons by name.
inline std::ostream& operator<<(std::ostream& out, solver_stop stop) {
    return out << to_string(stop);
}
} // namespace xrestore

namespace xrestore::test {

/// A 3 x size x size crop of data/images/<name> at (top, left).
inline image crop(const std::string& name, std::size_t top, std::size_t left, std::size_t size) {
    const image full = read_image(std::string(XRESTORE_DATA_DIR) + "/images/" + name);
    return xt::eval(
        xt::view(full, xt::all(), xt::range(top, top + size), xt::range(left, left + size)));
}

/// A size x size RGB crop of butterfly_set5.png (256 x 256) at (top, left).
inline image butterfly_crop(std::size_t size, std::size_t top = 96, std::size_t left = 96) {
    return crop("butterfly_set5.png", top, left, size);
}

/// A tensor of uniform [0, 1) entries from a fixed seed.
template <std::size_t N>
tensor<N> uniform_tensor(const std::array<std::size_t, N>& shape, std::uint64_t seed) {
    tensor<N> out(shape);
    std::mt19937_64 rng(seed);
    std::uniform_real_distribution<float> uniform(0.0f, 1.0f);
    for (auto& v : out) {
        v = uniform(rng);
    }
    return out;
}

/// max |a - b|
inline double max_abs_difference(const image& a, const image& b) {
    return static_cast<double>(xt::amax(xt::abs(a - b))());
}

/// The small deblurring problem of the convergence tests: 1 x n x n cameraman crop at
/// (200, 220) (n = 48 by default), box 13 with zero boundary, sigma 0.01 (seed 3).
struct small_deblur {
    explicit small_deblur(std::size_t n = 48) : truth(crop("cameraman.png", 200, 220, n)) {}
    image truth;
    convolution a{box_kernel(13), shape_of<3>(truth), {.boundary = boundary::zero}};
    image y = add_gaussian_noise(a.apply(truth), 0.01, 3);
};

/// A user-defined operator: forwards apply and adjoint to `op` (a copy), nothing else, so a solver
/// cannot recognise it as one of the library's operators and takes its general path.
template <linear_operator Op>
struct opaque_operator {
    using domain_type = domain_t<Op>;
    using range_type = range_t<Op>;
    Op op;
    range_type apply(const domain_type& x) const { return op.apply(x); }
    domain_type adjoint(const range_type& y) const { return op.adjoint(y); }
    shape_t<domain_type> domain_shape() const { return op.domain_shape(); }
    shape_t<range_type> range_shape() const { return op.range_shape(); }
};

/// True when two arrays have the same shape and the same bits.
template <std::size_t N>
bool same_bits(const tensor<N>& a, const tensor<N>& b) {
    return a.shape() == b.shape() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

/// True when two solver results hold the same iterate, history and stop, bit for bit.
template <std::size_t N>
bool same_result(const solver_result<tensor<N>>& a, const solver_result<tensor<N>>& b) {
    return same_bits(a.x, b.x) && a.objective == b.objective && a.change == b.change &&
           a.iterations == b.iterations && a.stop == b.stop;
}

/// prefix + k + suffix (built step by step: GCC 12 warns falsely on "literal" + std::string).
inline std::string numbered(std::string prefix, std::size_t k, std::string_view suffix) {
    prefix += std::to_string(k);
    prefix += suffix;
    return prefix;
}

/// A fresh directory under the system temp folder named prefix<random>_<random>, removed at the
/// end of the test.
struct scratch_dir {
    std::filesystem::path path;
    explicit scratch_dir(const std::string& prefix) {
        std::random_device device;
        path = std::filesystem::temp_directory_path() /
               numbered(prefix, device(), numbered("_", device(), ""));
        std::filesystem::create_directories(path);
    }
    scratch_dir(const scratch_dir&) = delete;
    scratch_dir& operator=(const scratch_dir&) = delete;
    ~scratch_dir() {
        std::error_code ec;
        std::filesystem::remove_all(path, ec);
    }
    std::filesystem::path operator/(const std::string& name) const { return path / name; }
};

/// The bytes of a file.
inline std::string slurp(const std::filesystem::path& path) {
    std::ifstream in(path, std::ios::binary);
    return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

/// Write `bytes` to a file.
inline void spill(const std::filesystem::path& path, const std::string& bytes) {
    std::ofstream out(path, std::ios::binary);
    out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

/// The message of the io_error `f` throws (fails the test when it throws nothing or another type).
template <class F>
std::string io_error_message(F&& f) {
    try {
        f();
    } catch (const io_error& e) {
        return e.what();
    }
    BOOST_FAIL("expected an io_error");
    return {};
}

/// The message of the xrestore::error `f` throws (fails the test when it throws nothing).
template <class F>
std::string error_message(F&& f) {
    try {
        f();
    } catch (const xrestore::error& e) {
        return e.what();
    }
    BOOST_FAIL("expected an xrestore::error");
    return {};
}

/// Debian's Python with torch (/usr/bin/python3) for a test that compares against PyTorch; when
/// torch is missing the test exits 77, which its ctest (SKIP_RETURN_CODE 77) reports as skipped.
inline std::string python_with_torch_or_skip() {
    const std::string python = "/usr/bin/python3";
    if (std::system((python + " -c 'import torch' > /dev/null 2>&1").c_str()) != 0) {
        std::printf("skipped: %s with torch is not installed (tools/install_deps.sh "
                    "--with-python installs it)\n",
                    python.c_str());
        std::exit(77);
    }
    return python;
}

} // namespace xrestore::test
