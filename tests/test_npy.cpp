#include <boost/test/unit_test.hpp>

#include <xrestore/io/npy.hpp>

#include "test_support.hpp"

#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <random>
#include <string>
#include <string_view>

BOOST_AUTO_TEST_SUITE(test_npy)

using namespace xrestore;
using namespace xrestore::test;
namespace fs = std::filesystem;

namespace {

const fs::path fixtures = fs::path(XRESTORE_TEST_DIR) / "data";

/// A .npy file image: magic, version, header length, the header padded with spaces and a newline
/// to a multiple of 64 bytes, then `data`.
std::string make_npy(const std::string& dict, const std::string& data, int major = 1) {
    const std::size_t preamble = major == 1 ? 10 : 12;
    std::string header = dict;
    header.append((64 - (preamble + header.size() + 1) % 64) % 64, ' ');
    header += '\n';
    std::string bytes = "\x93NUMPY";
    bytes += static_cast<char>(major);
    bytes += '\0';
    for (std::size_t k = 0; k < preamble - 8; ++k) {
        bytes += static_cast<char>((header.size() >> (8 * k)) & 0xFF);
    }
    return bytes + header + data;
}

template <class T>
std::string raw_bytes(std::initializer_list<T> values) {
    std::string bytes;
    for (T v : values) {
        char b[sizeof(T)];
        std::memcpy(b, &v, sizeof(T));
        bytes.append(b, sizeof(T));
    }
    return bytes;
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

} // namespace

// write_npy was checked once by hand against numpy 1.24 (Debian): a 2 x 3 x 4 random tensor
// written here loads with np.load as dtype float32, shape (2, 3, 4), the same values bit for bit,
// and np.lib.format.read_magic / read_array_header_1_0 accept the header.
BOOST_AUTO_TEST_CASE(round_trip_every_rank) {
    scratch_dir dir("xrestore_test_npy_");
    std::mt19937_64 rng(3);
    std::normal_distribution<float> normal;
    // explicit std::array shapes: tensor<1> a({7}) would be the one-element tensor [7]
    tensor<1> a(std::array<std::size_t, 1>{7});
    tensor<2> b(std::array<std::size_t, 2>{3, 5});
    tensor<3> c({2, 3, 4});
    tensor<4> d({2, 1, 3, 2});
    for (auto& v : a)
        v = normal(rng);
    for (auto& v : b)
        v = normal(rng);
    for (auto& v : c)
        v = normal(rng);
    for (auto& v : d)
        v = normal(rng);
    c(1, 2, 3) = std::numeric_limits<float>::infinity();
    c(0, 0, 0) = -0.0f;
    write_npy(dir / "a.npy", a);
    write_npy(dir / "b.npy", b);
    write_npy(dir / "c.npy", c);
    write_npy(dir / "d.npy", d);
    BOOST_TEST(read_npy<1>(dir / "a.npy") == a);
    BOOST_TEST(read_npy<2>(dir / "b.npy") == b);
    BOOST_TEST(read_npy<3>(dir / "c.npy") == c);
    BOOST_TEST(read_npy<4>(dir / "d.npy") == d);
    BOOST_TEST(std::signbit(read_npy<3>(dir / "c.npy")(0, 0, 0)));
    // an expression is evaluated and cast to float32 first
    write_npy(dir / "e.npy", 2.0 * xt::ones<double>({2, 2}));
    BOOST_TEST(read_npy<2>(dir / "e.npy") == tensor<2>(xt::full_like(tensor<2>({2, 2}), 2.0f)));
    // the header is padded so that the data starts on a 64-byte boundary, as numpy writes it
    const std::string bytes = slurp(dir / "c.npy");
    const std::size_t header_len =
        static_cast<unsigned char>(bytes[8]) |
        (static_cast<std::size_t>(static_cast<unsigned char>(bytes[9])) << 8);
    BOOST_TEST((10 + header_len) % 64 == 0u);
    BOOST_TEST(bytes[10 + header_len - 1] == '\n');
    BOOST_TEST(contains(bytes.substr(10, header_len), "'shape': (2, 3, 4)"));
    BOOST_TEST(bytes.size() == 10 + header_len + 24 * sizeof(float));
    // rank 1 writes numpy's one-element tuple "(7,)"
    BOOST_TEST(contains(slurp(dir / "a.npy"), "'shape': (7,)"));
}

// Fixtures written by numpy 1.24 (tests/data/make_fixtures.py).
BOOST_AUTO_TEST_CASE(numpy_float64_rank2) {
    const tensor<2> x = read_npy<2>(fixtures / "f64_3x4.npy");
    BOOST_TEST((shape_of<2>(x) == std::array<std::size_t, 2>{3, 4}));
    const double expected[3][4] = {{0.1, -2.5, 1e-3, 3.0},
                                   {1e10, -0.0, 7.25, 1.0 / 3.0},
                                   {3.141592653589793, 2.718281828459045, -1e-8, 42.0}};
    for (std::size_t i = 0; i < 3; ++i) {
        for (std::size_t j = 0; j < 4; ++j) {
            BOOST_TEST(x(i, j) == static_cast<float>(expected[i][j])); // float64 -> float32
        }
    }
    // rank 2 read as an image gets one channel
    const tensor<3> image = read_npy<3>(fixtures / "f64_3x4.npy");
    BOOST_TEST((shape_of<3>(image) == shape3{1, 3, 4}));
    BOOST_TEST(image(0, 1, 2) == 7.25f);
}

BOOST_AUTO_TEST_CASE(numpy_uint8_rank3) {
    const tensor<3> x = read_npy<3>(fixtures / "u8_2x3x4.npy");
    BOOST_TEST((shape_of<3>(x) == shape3{2, 3, 4}));
    // np.arange(24) * 11 % 256, row-major
    for (std::size_t k = 0; k < 24; ++k) {
        BOOST_TEST(x.data()[k] == static_cast<float>((k * 11) % 256));
    }
    BOOST_TEST(x(1, 2, 3) == 253.0f); // 23 * 11
    BOOST_TEST(x(0, 2, 1) == 99.0f);  // flat index 9
    BOOST_TEST(x(1, 1, 3) == 209.0f); // flat index 19
}

BOOST_AUTO_TEST_CASE(numpy_int16_rank1_and_version_2) {
    const npy_array a = read_npy_any(fixtures / "i2_5.npy");
    BOOST_TEST(a.shape == std::vector<std::size_t>{5}, boost::test_tools::per_element());
    const float expected[5] = {-32768.0f, -1.0f, 0.0f, 1.0f, 32767.0f};
    BOOST_TEST(a.data == expected, boost::test_tools::per_element());

    // format version 2.0 (4-byte header length)
    const std::string bytes = slurp(fixtures / "f32_v2_1x2x2.npy");
    BOOST_REQUIRE(bytes.size() > 8u);
    BOOST_TEST(static_cast<int>(bytes[6]) == 2);
    const tensor<3> v2 = read_npy<3>(fixtures / "f32_v2_1x2x2.npy");
    BOOST_TEST((shape_of<3>(v2) == shape3{1, 2, 2}));
    BOOST_TEST(v2(0, 0, 0) == 1.5f);
    BOOST_TEST(v2(0, 0, 1) == -2.0f);
    BOOST_TEST(v2(0, 1, 0) == 0.25f);
    BOOST_TEST(v2(0, 1, 1) == 8.0f);
}

BOOST_AUTO_TEST_CASE(fortran_order_and_big_endian_are_refused) {
    const std::string fortran =
        io_error_message([] { (void)read_npy<2>(fixtures / "f32_fortran_2x3.npy"); });
    BOOST_TEST(contains(fortran, "C order"));
    BOOST_TEST(contains(fortran, "f32_fortran_2x3.npy"));
    const std::string big =
        io_error_message([] { (void)read_npy<2>(fixtures / "f32_bigendian_2x3.npy"); });
    BOOST_TEST(contains(big, ">f4"));
}

BOOST_AUTO_TEST_CASE(truncated_and_padded_data_are_refused) {
    scratch_dir dir("xrestore_test_npy_");
    tensor<2> x = xt::ones<float>({4, 4});
    write_npy(dir / "x.npy", x);
    const std::string bytes = slurp(dir / "x.npy");
    for (std::size_t cut : {std::size_t{1}, std::size_t{4}, std::size_t{63}, std::size_t{64}}) {
        spill(dir / "cut.npy", bytes.substr(0, bytes.size() - cut));
        const std::string message = io_error_message([&] { (void)read_npy<2>(dir / "cut.npy"); });
        BOOST_TEST(contains(message, "data bytes"));
        BOOST_TEST(contains(message, "4 x 4"));
    }
    spill(dir / "long.npy", bytes + "xx");
    BOOST_CHECK_THROW((void)read_npy<2>(dir / "long.npy"), io_error);
    // cut inside the header and inside the preamble
    for (std::size_t keep : {std::size_t{0}, std::size_t{5}, std::size_t{9}, std::size_t{40}}) {
        spill(dir / "short.npy", bytes.substr(0, keep));
        BOOST_CHECK_THROW((void)read_npy<2>(dir / "short.npy"), io_error);
    }
}

BOOST_AUTO_TEST_CASE(header_length_beyond_file_is_refused) {
    scratch_dir dir("xrestore_test_npy_");
    std::string v1 = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                              raw_bytes<float>({1.0f}));
    BOOST_TEST(read_npy<1>([&] {
                   spill(dir / "ok.npy", v1);
                   return dir / "ok.npy";
               }())(0) == 1.0f);
    v1[8] = '\xFF';
    v1[9] = '\xFF';
    spill(dir / "v1.npy", v1);
    BOOST_TEST(contains(io_error_message([&] { (void)read_npy<1>(dir / "v1.npy"); }),
                        "truncated in its header"));
    std::string v2 = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (1,), }",
                              raw_bytes<float>({1.0f}), 2);
    for (int k = 8; k < 12; ++k) {
        v2[static_cast<std::size_t>(k)] = '\xFF';
    }
    spill(dir / "v2.npy", v2);
    BOOST_CHECK_THROW((void)read_npy<1>(dir / "v2.npy"), io_error);
}

BOOST_AUTO_TEST_CASE(absurd_shapes_are_refused_without_allocating) {
    // Each declares far more data than the file holds (up to 4 * 10^27 bytes): the reader must
    // answer io_error before allocating, not std::bad_alloc / std::length_error.
    scratch_dir dir("xrestore_test_npy_");
    const std::string data = raw_bytes<float>({1.0f, 2.0f, 3.0f, 4.0f});
    for (const char* shape :
         {"(1000000000, 1000000000, 1000000000)", "(4294967296, 4294967296, 4294967296)",
          "(1099511627776, 1048576)", "(99999999999999999999999999,)", "(2, 2, 1, 0, 5)"}) {
        BOOST_TEST_CONTEXT(shape) {
            spill(dir / "absurd.npy",
                  make_npy(std::string("{'descr': '<f4', 'fortran_order': False, 'shape': ") +
                               shape + ", }",
                           data));
            BOOST_CHECK_THROW((void)read_npy_any(dir / "absurd.npy"), io_error);
        }
    }
}

BOOST_AUTO_TEST_CASE(rank_mismatch_is_a_shape_error) {
    BOOST_CHECK_THROW((void)read_npy<2>(fixtures / "u8_2x3x4.npy"), shape_error);
    BOOST_CHECK_THROW((void)read_npy<4>(fixtures / "u8_2x3x4.npy"), shape_error);
    BOOST_CHECK_THROW((void)read_npy<3>(fixtures / "i2_5.npy"), shape_error);
    try {
        (void)read_npy<2>(fixtures / "u8_2x3x4.npy");
    } catch (const shape_error& e) {
        BOOST_TEST(contains(e.what(), "rank 2"));
        BOOST_TEST(contains(e.what(), "2 x 3 x 4"));
    }
}

BOOST_AUTO_TEST_CASE(malformed_files_are_refused) {
    scratch_dir dir("xrestore_test_npy_");
    const std::string f4 = raw_bytes<float>({1.0f, 2.0f});
    auto refuses = [&](const std::string& bytes, std::string_view expected) {
        spill(dir / "bad.npy", bytes);
        const std::string message = io_error_message([&] { (void)read_npy_any(dir / "bad.npy"); });
        BOOST_TEST(contains(message, expected), message);
    };
    refuses("", "bad magic");
    refuses("PK\x03\x04 this is a zip", "bad magic");
    std::string version = make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2,), }", f4);
    version[6] = 9;
    refuses(version, "version 9");
    refuses(make_npy("{'fortran_order': False, 'shape': (2,), }", f4), "'descr'");
    refuses(make_npy("{'descr': '<f4', 'shape': (2,), }", f4), "'fortran_order'");
    refuses(make_npy("{'descr': '<f4', 'fortran_order': False, }", f4), "'shape'");
    refuses(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, x), }", f4),
            "malformed shape");
    refuses(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (-2,), }", f4),
            "malformed shape");
    refuses(make_npy("{'descr': '<f4', 'fortran_order': False, 'shape': (2, }", f4),
            "unterminated");
    refuses(make_npy("{'descr': '<c8', 'fortran_order': False, 'shape': (1,), }", f4), "<c8");
    refuses(make_npy("{'descr': [('a', '<f4')], 'fortran_order': False, 'shape': (2,), }", f4),
            "dtype");
    refuses(make_npy("{'descr': '<f4', 'fortran_order': True, 'shape': (2,), }", f4), "C order");
    BOOST_TEST(contains(io_error_message([&] { (void)read_npy_any(dir / "missing.npy"); }),
                        "no such file"));
    BOOST_TEST(contains(io_error_message([&] { (void)read_npy_any(dir.path); }), "directory"));
    BOOST_CHECK_THROW(write_npy(dir.path / "no_such_dir" / "x.npy", tensor<1>({1})), io_error);
}

BOOST_AUTO_TEST_CASE(float64_beyond_float_range_becomes_infinite) {
    scratch_dir dir("xrestore_test_npy_");
    spill(dir / "big.npy",
          make_npy("{'descr': '<f8', 'fortran_order': False, 'shape': (5,), }",
                   raw_bytes<double>({1e300, -1e300, std::numeric_limits<double>::quiet_NaN(),
                                      3.4028234663852886e38, -1e-300})));
    const tensor<1> x = read_npy<1>(dir / "big.npy");
    BOOST_TEST(x(0) == std::numeric_limits<float>::infinity());
    BOOST_TEST(x(1) == -std::numeric_limits<float>::infinity());
    BOOST_TEST(std::isnan(x(2)));
    BOOST_TEST(x(3) == std::numeric_limits<float>::max());
    BOOST_TEST(x(4) == -0.0f);
}

BOOST_AUTO_TEST_CASE(integer_dtypes_convert_exactly) {
    scratch_dir dir("xrestore_test_npy_");
    spill(dir / "i8.npy", make_npy("{'descr': '<i8', 'fortran_order': False, 'shape': (3,), }",
                                   raw_bytes<std::int64_t>({-5, 0, 1 << 20})));
    spill(dir / "u2.npy", make_npy("{'descr': '<u2', 'fortran_order': False, 'shape': (2,), }",
                                   raw_bytes<std::uint16_t>({0, 65535})));
    spill(dir / "b1.npy", make_npy("{'descr': '|b1', 'fortran_order': False, 'shape': (2,), }",
                                   raw_bytes<std::uint8_t>({1, 0})));
    const tensor<1> i8 = read_npy<1>(dir / "i8.npy");
    BOOST_TEST(i8(0) == -5.0f);
    BOOST_TEST(i8(2) == 1048576.0f);
    const tensor<1> u2 = read_npy<1>(dir / "u2.npy");
    BOOST_TEST(u2(1) == 65535.0f);
    const tensor<1> b1 = read_npy<1>(dir / "b1.npy");
    BOOST_TEST(b1(0) == 1.0f);
    BOOST_TEST(b1(1) == 0.0f);
}

BOOST_AUTO_TEST_SUITE_END() // test_npy
