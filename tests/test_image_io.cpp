#include <boost/test/unit_test.hpp>

#include <xrestore/io/image.hpp>

#include <xtensor/xbuilder.hpp>
#include <xtensor/xmath.hpp>
#include <xtensor/xview.hpp>

#include "test_support.hpp"

#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <limits>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_image_io)

using namespace xrestore;
using namespace xrestore::test;
namespace fs = std::filesystem;

namespace {

const fs::path data_dir = XRESTORE_DATA_DIR;
const fs::path fixtures = fs::path(XRESTORE_TEST_DIR) / "data";

float u8(int v) {
    return static_cast<float>(v) / 255.0f;
}
float u16(int v) {
    return static_cast<float>(v) / 65535.0f;
}

/// `png` with its IHDR patched to declare width x height (CRC fixed up).
std::string with_declared_size(std::string bytes, std::uint32_t width, std::uint32_t height) {
    for (int k = 0; k < 4; ++k) {
        bytes[16 + k] = static_cast<char>(width >> (24 - 8 * k));
        bytes[20 + k] = static_cast<char>(height >> (24 - 8 * k));
    }
    const auto* type = reinterpret_cast<const unsigned char*>(bytes.data() + 12);
    const std::uint32_t crc = detail::png_crc32(std::span<const unsigned char>(type, 17));
    for (int k = 0; k < 4; ++k) {
        bytes[29 + k] = static_cast<char>(crc >> (24 - 8 * k));
    }
    return bytes;
}

} // namespace

// Reference pixels from Debian's Pillow 9.4:
//   /usr/bin/python3 -c "from PIL import Image; import numpy as np;
//     b = np.asarray(Image.open('data/images/butterfly_set5.png')); print(b[r, c])"
// butterfly (mode RGB, 256 x 256): [0,0] = (42,30,22), [255,255] = (148,103,74),
// [100,37] = (51,40,22), [128,200] = (226,208,103), [17,250] = (57,44,37); mean per channel
// (152.99002075, 119.24125671, 72.80422974).
BOOST_AUTO_TEST_CASE(butterfly_matches_pillow) {
    const image x = read_image(data_dir / "images" / "butterfly_set5.png");
    BOOST_TEST((shape_of<3>(x) == shape3{3, 256, 256}));
    const int expected[5][5] = {{0, 0, 42, 30, 22},
                                {255, 255, 148, 103, 74},
                                {100, 37, 51, 40, 22},
                                {128, 200, 226, 208, 103},
                                {17, 250, 57, 44, 37}};
    for (const auto& e : expected) {
        for (int c = 0; c < 3; ++c) {
            BOOST_TEST(x(c, e[0], e[1]) == u8(e[2 + c]));
        }
    }
    const double means[3] = {152.99002075, 119.24125671, 72.80422974};
    for (std::size_t c = 0; c < 3; ++c) {
        double sum = 0.0;
        for (std::size_t i = 0; i < 256; ++i) {
            for (std::size_t j = 0; j < 256; ++j) {
                sum += std::round(x(c, i, j) * 255.0);
            }
        }
        BOOST_TEST(sum / (256.0 * 256.0) == means[c], boost::test_tools::tolerance(1e-9));
    }
}

// cameraman (Pillow mode L, 512 x 512): [0,0] = 200, [511,511] = 149, [256,100] = 23,
// [37,400] = 196, [500,3] = 23; mean 129.06072616577148 (same command as above).
BOOST_AUTO_TEST_CASE(cameraman_matches_pillow) {
    const image x = read_image(data_dir / "images" / "cameraman.png");
    BOOST_TEST((shape_of<3>(x) == shape3{1, 512, 512}));
    BOOST_TEST(x(0, 0, 0) == u8(200));
    BOOST_TEST(x(0, 511, 511) == u8(149));
    BOOST_TEST(x(0, 256, 100) == u8(23));
    BOOST_TEST(x(0, 37, 400) == u8(196));
    BOOST_TEST(x(0, 500, 3) == u8(23));
    double sum = 0.0;
    for (float v : x) {
        sum += std::round(v * 255.0);
    }
    BOOST_TEST(sum / (512.0 * 512.0) == 129.06072616577148, boost::test_tools::tolerance(1e-12));
}

// cat_chelsea (Pillow mode RGB, W 451 x H 300, with an ICC profile that is ignored):
// [0,0] = (143,120,104), [299,450] = (162,138,128), [150,225] = (190,150,124).
BOOST_AUTO_TEST_CASE(non_square_image_keeps_height_and_width_apart) {
    const image x = read_image(data_dir / "images" / "cat_chelsea.png");
    BOOST_TEST((shape_of<3>(x) == shape3{3, 300, 451}));
    const int expected[3][5] = {
        {0, 0, 143, 120, 104}, {299, 450, 162, 138, 128}, {150, 225, 190, 150, 124}};
    for (const auto& e : expected) {
        for (int c = 0; c < 3; ++c) {
            BOOST_TEST(x(c, e[0], e[1]) == u8(e[2 + c]));
        }
    }
}

// Fixtures from tests/data/make_fixtures.py (the values are spelled out there).
BOOST_AUTO_TEST_CASE(sixteen_bit_gray_fixture_by_pillow) {
    const image x = read_image(fixtures / "gray16_4x5.png");
    BOOST_TEST((shape_of<3>(x) == shape3{1, 4, 5}));
    const int expected[4][5] = {{0, 1, 2, 255, 256},
                                {257, 1000, 4095, 4096, 12345},
                                {32767, 32768, 40000, 50000, 60000},
                                {65000, 65533, 65534, 65535, 7}};
    for (std::size_t i = 0; i < 4; ++i) {
        for (std::size_t j = 0; j < 5; ++j) {
            BOOST_TEST(x(0, i, j) == u16(expected[i][j]));
        }
    }
}

BOOST_AUTO_TEST_CASE(sixteen_bit_rgb_fixture_hand_encoded) {
    // numpy + zlib, rows with filters None and Sub; Pillow reads it back (as 8-bit high bytes)
    const image x = read_image(fixtures / "rgb16_2x3.png");
    BOOST_TEST((shape_of<3>(x) == shape3{3, 2, 3}));
    const int expected[2][3][3] = {{{0, 65535, 1}, {256, 257, 4660}, {43981, 65280, 255}},
                                   {{1, 2, 3}, {60000, 30000, 15000}, {65535, 0, 32768}}};
    for (std::size_t i = 0; i < 2; ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
            for (std::size_t c = 0; c < 3; ++c) {
                BOOST_TEST(x(c, i, j) == u16(expected[i][j][c]));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(alpha_is_dropped) {
    const image la = read_image(fixtures / "gray_alpha_2x3.png");
    BOOST_TEST((shape_of<3>(la) == shape3{1, 2, 3}));
    const int luma[2][3] = {{0, 128, 255}, {10, 20, 30}};
    for (std::size_t i = 0; i < 2; ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
            BOOST_TEST(la(0, i, j) == u8(luma[i][j]));
        }
    }
    const int rgb[2][3][3] = {{{255, 0, 0}, {0, 255, 0}, {0, 0, 255}},
                              {{1, 2, 3}, {100, 150, 200}, {7, 77, 177}}};
    // rgba_2x3.png and rgb_2x3.bmp hold the same colours (the PNG with alpha 255,128,0,4,250,17)
    for (const char* name : {"rgba_2x3.png", "rgb_2x3.bmp"}) {
        BOOST_TEST_CONTEXT(name) {
            const image x = read_image(fixtures / name);
            BOOST_TEST((shape_of<3>(x) == shape3{3, 2, 3}));
            for (std::size_t i = 0; i < 2; ++i) {
                for (std::size_t j = 0; j < 3; ++j) {
                    for (std::size_t c = 0; c < 3; ++c) {
                        BOOST_TEST(x(c, i, j) == u8(rgb[i][j][c]));
                    }
                }
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(palette_is_expanded_to_rgb) {
    // indices [[0, 1], [2, 1]] into the palette (12,34,56), (200,100,0), (255,255,255)
    const image x = read_image(fixtures / "palette_2x2.png");
    BOOST_TEST((shape_of<3>(x) == shape3{3, 2, 2}));
    const int palette[3][3] = {{12, 34, 56}, {200, 100, 0}, {255, 255, 255}};
    const int index[2][2] = {{0, 1}, {2, 1}};
    for (std::size_t i = 0; i < 2; ++i) {
        for (std::size_t j = 0; j < 2; ++j) {
            for (std::size_t c = 0; c < 3; ++c) {
                BOOST_TEST(x(c, i, j) == u8(palette[index[i][j]][c]));
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(eight_bit_round_trip) {
    scratch_dir dir("xrestore_test_image_io_");
    std::mt19937_64 rng(7);
    std::uniform_real_distribution<float> uniform(-0.2f, 1.2f); // some values get clipped
    for (std::size_t channels : {1u, 3u, 4u}) {
        image x({channels, 17, 23});
        for (auto& v : x) {
            v = uniform(rng);
        }
        x(0, 0, 0) = 0.5f;                        // floor(127.5 + 0.5) = 128
        x(0, 0, 1) = 1.0f;                        // 255
        x(0, 0, 2) = std::nextafter(0.0f, -1.0f); // clipped to 0
        const fs::path file = dir / numbered("x", channels, ".png");
        write_png(file, x);
        const image y = read_image(file);
        // read_image drops alpha: a 4-channel image comes back with its 3 colour channels
        const std::size_t back = channels == 4 ? 3 : channels;
        BOOST_TEST((shape_of<3>(y) == shape3{back, 17, 23}));
        for (std::size_t c = 0; c < back; ++c) {
            for (std::size_t i = 0; i < 17; ++i) {
                for (std::size_t j = 0; j < 23; ++j) {
                    const double v = std::clamp(static_cast<double>(x(c, i, j)), 0.0, 1.0);
                    const int q = static_cast<int>(std::floor(v * 255.0 + 0.5));
                    BOOST_TEST(y(c, i, j) == u8(q));
                    BOOST_TEST(std::abs(y(c, i, j) - v) <= 0.5 / 255.0 + 1e-7);
                }
            }
        }
        BOOST_TEST(y(0, 0, 0) == u8(128));
        BOOST_TEST(y(0, 0, 1) == 1.0f);
        BOOST_TEST(y(0, 0, 2) == 0.0f);
    }
    // what was read is written back bit for bit
    const image photo = read_image(data_dir / "images" / "butterfly_set5.png");
    write_png(dir / "copy.png", photo);
    BOOST_TEST(read_image(dir / "copy.png") == photo);
}

// The 16-bit encoder was checked once by hand against Debian's Python: a 3 x 37 x 41 random
// image (values in [-0.1, 1.1]) and a 1 x 5 x 7 ramp written with {.bit_depth = 16} pass
// Pillow's Image.open(f).verify(); every chunk CRC matches zlib.crc32; zlib.decompress of the
// IDAT data (which checks Adler-32) gives filter-0 rows whose big-endian samples equal
// floor(clip(v, 0, 1) * 65535 + 0.5) of the source (saved with write_npy, loaded with np.load);
// Pillow reads the gray file (mode I) with exactly those values; a 3 x 1800 x 1700 image (two
// IDAT chunks, many stored blocks) passed the same checks.
BOOST_AUTO_TEST_CASE(sixteen_bit_round_trip) {
    scratch_dir dir("xrestore_test_image_io_");
    std::mt19937_64 rng(11);
    std::uniform_real_distribution<float> uniform(-0.1f, 1.1f);
    for (std::size_t channels : {1u, 3u, 4u}) {
        // 200 x 180 x 4 x 2 bytes of samples span several 65535-byte stored deflate blocks
        image x({channels, 200, 180});
        for (auto& v : x) {
            v = uniform(rng);
        }
        const fs::path file = dir / numbered("x16_", channels, ".png");
        write_png(file, x, {.bit_depth = 16});
        const image y = read_image(file);
        const std::size_t back = channels == 4 ? 3 : channels;
        BOOST_TEST((shape_of<3>(y) == shape3{back, 200, 180}));
        std::size_t mismatches = 0;
        for (std::size_t c = 0; c < back; ++c) {
            for (std::size_t i = 0; i < 200; ++i) {
                for (std::size_t j = 0; j < 180; ++j) {
                    const double v = std::clamp(static_cast<double>(x(c, i, j)), 0.0, 1.0);
                    const int q = static_cast<int>(std::floor(v * 65535.0 + 0.5));
                    mismatches += y(c, i, j) != u16(q);
                }
            }
        }
        BOOST_TEST(mismatches == 0u);
    }
    // every 16-bit level survives: 1 x 256 x 256 holding 0..65535
    image ramp({1, 256, 256});
    for (std::size_t k = 0; k < 65536; ++k) {
        ramp.data()[k] = u16(static_cast<int>(k));
    }
    write_png(dir / "ramp16.png", ramp, {.bit_depth = 16});
    BOOST_TEST(read_image(dir / "ramp16.png") == ramp);
    // the written file is a byte-exact re-encoding of the Pillow-made fixture's samples
    const image fixture = read_image(fixtures / "gray16_4x5.png");
    write_png(dir / "again16.png", fixture, {.bit_depth = 16});
    BOOST_TEST(read_image(dir / "again16.png") == fixture);
}

BOOST_AUTO_TEST_CASE(png_signature_and_header_of_16_bit_files) {
    scratch_dir dir("xrestore_test_image_io_");
    image x = xt::zeros<float>({3, 2, 5});
    write_png(dir / "h.png", x, {.bit_depth = 16});
    const std::string bytes = slurp(dir / "h.png");
    BOOST_TEST(bytes.substr(0, 8) == std::string("\x89PNG\r\n\x1a\n", 8));
    BOOST_TEST(bytes.substr(12, 4) == "IHDR");
    BOOST_TEST(static_cast<int>(bytes[19]) == 5);  // width, big-endian
    BOOST_TEST(static_cast<int>(bytes[23]) == 2);  // height
    BOOST_TEST(static_cast<int>(bytes[24]) == 16); // bit depth
    BOOST_TEST(static_cast<int>(bytes[25]) == 2);  // colour type RGB
    BOOST_TEST(bytes.substr(bytes.size() - 8, 4) == "IEND");
    // IEND's CRC is the CRC-32 of "IEND": 0xAE426082
    BOOST_TEST(bytes.substr(bytes.size() - 4) == std::string("\xAE\x42\x60\x82", 4));
}

BOOST_AUTO_TEST_CASE(write_png_refuses_bad_input) {
    scratch_dir dir("xrestore_test_image_io_");
    image x = xt::zeros<float>({3, 8, 9});
    x(1, 4, 6) = std::numeric_limits<float>::quiet_NaN();
    x(2, 7, 8) = std::numeric_limits<float>::quiet_NaN();
    for (int depth : {8, 16}) {
        try {
            write_png(dir / "nan.png", x, {.bit_depth = depth});
            BOOST_FAIL("a NaN image was written");
        } catch (const value_error& e) {
            const std::string message = e.what();
            BOOST_TEST(message.find("channel 1, row 4, column 6") != std::string::npos);
        }
    }
    BOOST_TEST(!fs::exists(dir / "nan.png"));
    x(1, 4, 6) = std::numeric_limits<float>::infinity();
    x(2, 7, 8) = 0.0f;
    BOOST_CHECK_THROW(write_png(dir / "inf.png", x), value_error);
    image two = xt::zeros<float>({2, 4, 4});
    BOOST_CHECK_THROW(write_png(dir / "two.png", two), shape_error);
    image empty = xt::zeros<float>({1, 0, 4});
    BOOST_CHECK_THROW(write_png(dir / "empty.png", empty), shape_error);
    image ok = xt::zeros<float>({1, 4, 4});
    BOOST_CHECK_THROW(write_png(dir / "depth.png", ok, {.bit_depth = 12}), value_error);
    BOOST_CHECK_THROW(write_png(dir.path / "no_such_dir" / "x.png", ok), io_error);
}

BOOST_AUTO_TEST_CASE(bad_files_raise_io_error) {
    scratch_dir dir("xrestore_test_image_io_");
    const std::string png = slurp(data_dir / "images" / "cameraman.png");
    BOOST_REQUIRE(png.size() > 1000u);
    // truncated copies: in the signature, in IHDR, just after it, in the middle of IDAT, one
    // byte short of the end
    for (std::size_t n : {std::size_t{1}, std::size_t{7}, std::size_t{8}, std::size_t{20},
                          std::size_t{33}, std::size_t{100}, png.size() / 2, png.size() - 13}) {
        BOOST_TEST_CONTEXT("first " << n << " bytes") {
            const fs::path file = dir / numbered("trunc", n, ".png");
            spill(file, png.substr(0, n));
            const std::string message = io_error_message([&] { (void)read_image(file); });
            BOOST_TEST(message.find(file.string()) != std::string::npos);
        }
    }
    spill(dir / "empty.png", "");
    BOOST_TEST(io_error_message([&] { (void)read_image(dir / "empty.png"); }).find("empty") !=
               std::string::npos);
    spill(dir / "text.png", "this is not an image, just some text\n");
    BOOST_TEST(io_error_message([&] {
                   (void)read_image(dir / "text.png");
               }).find("is not a PNG, JPEG or BMP image") != std::string::npos);
    // Formats outside PNG/JPEG/BMP are refused before the decoder sees them.
    spill(dir / "image.pnm", "P6\n4 4\n255\n" + std::string(48, '\x80'));
    BOOST_TEST(io_error_message([&] {
                   (void)read_image(dir / "image.pnm");
               }).find("is not a PNG, JPEG or BMP image") != std::string::npos);
    // A JPEG Huffman table declaring more than 256 codes.
    std::string dht = "\xFF\xD8\xFF\xC4";
    dht += std::string("\x00\x13\x00", 3) + std::string(16, '\x20');
    BOOST_TEST(io_error_message([&] {
                   (void)read_image_from_memory(std::span<const unsigned char>(
                       reinterpret_cast<const unsigned char*>(dht.data()), dht.size()));
               }).find("corrupt JPEG Huffman table (512 codes)") != std::string::npos);
    BOOST_TEST(io_error_message([&] {
                   (void)read_image(dir / "missing.png");
               }).find("no such file") != std::string::npos);
    BOOST_TEST(io_error_message([&] { (void)read_image(dir.path); }).find("directory") !=
               std::string::npos);
    // a .npy is not an image either
    BOOST_CHECK_THROW((void)read_image(fixtures / "f64_3x4.npy"), io_error);
}

BOOST_AUTO_TEST_CASE(hostile_headers_raise_io_error) {
    // a valid 1 x 1 gray PNG whose IHDR is patched (CRC fixed up) to zero and absurd sizes
    image one = xt::zeros<float>({1, 1, 1});
    scratch_dir dir("xrestore_test_image_io_");
    write_png(dir / "one.png", one, {.bit_depth = 16});
    const std::string good = slurp(dir / "one.png");
    auto patched = [&](std::uint32_t width, std::uint32_t height) {
        return with_declared_size(good, width, height);
    };
    BOOST_TEST(read_image_from_memory(
                   std::span<const unsigned char>(
                       reinterpret_cast<const unsigned char*>(good.data()), good.size()))
                   .size() == 1u);
    for (auto [w, h] : {std::pair<std::uint32_t, std::uint32_t>{0, 1},
                        {1, 0},
                        {100000, 100000},
                        {1u << 24, 1u << 24},
                        {0x7FFFFFFF, 0x7FFFFFFF},
                        {0xFFFFFFFF, 1}}) {
        BOOST_TEST_CONTEXT(w << " x " << h) {
            const std::string bytes = patched(w, h);
            BOOST_CHECK_THROW(
                (void)read_image_from_memory(
                    std::span<const unsigned char>(
                        reinterpret_cast<const unsigned char*>(bytes.data()), bytes.size()),
                    "patched"),
                io_error);
        }
    }
    BOOST_CHECK_THROW((void)read_image_from_memory({}), io_error);

    // a 78-byte BMP patched to declare 8000 x 8000 pixels: stb would decode it (reading zeros past
    // the end) into a 256 MB buffer; the reader refuses it first (over 16384 pixels per byte)
    std::string bmp = slurp(fixtures / "rgb_2x3.bmp");
    BOOST_REQUIRE(bmp.size() == 78u);
    for (int k = 0; k < 4; ++k) {
        bmp[18 + k] = static_cast<char>((8000u >> (8 * k)) & 0xFFu);
        bmp[22 + k] = static_cast<char>((8000u >> (8 * k)) & 0xFFu);
    }
    const std::string message = io_error_message([&] {
        (void)read_image_from_memory(
            std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(bmp.data()),
                                           bmp.size()),
            "patched.bmp");
    });
    BOOST_TEST(message.find("8000 x 8000") != std::string::npos);
}

BOOST_AUTO_TEST_CASE(bad_png_headers_and_truncations_say_what_is_wrong) {
    // stb reported "unknown image type" for a PNG declaring 100000 x 100000 or 0 x 0 pixels (its
    // info call tries every other format after PNG), and an empty reason "()" for a PNG cut
    // right after its header
    image one = xt::zeros<float>({1, 1, 1});
    scratch_dir dir("xrestore_test_image_io_");
    write_png(dir / "one.png", one);
    const std::string good = slurp(dir / "one.png");
    auto patched = [&](std::uint32_t width, std::uint32_t height) {
        return with_declared_size(good, width, height);
    };
    auto message_of = [](const std::string& bytes) {
        return io_error_message([&] {
            (void)read_image_from_memory(
                std::span<const unsigned char>(reinterpret_cast<const unsigned char*>(bytes.data()),
                                               bytes.size()),
                "bad.png");
        });
    };
    std::string m = message_of(patched(100000, 100000));
    BOOST_TEST(m.find("'bad.png' declares 100000 x 100000 pixels, more than the 268435456 "
                      "accepted") != std::string::npos,
               m);
    m = message_of(patched(0, 0));
    BOOST_TEST(m.find("'bad.png' declares an empty image (0 x 0)") != std::string::npos, m);
    m = message_of(patched(0, 7));
    BOOST_TEST(m.find("declares an empty image (0 x 7)") != std::string::npos, m);

    const std::string png = slurp(data_dir / "images" / "cameraman.png");
    m = message_of(png.substr(0, 33)); // the signature and IHDR, nothing after them
    BOOST_TEST(m.find("'bad.png': it is truncated: it ends after 33 bytes, before any image "
                      "data (IDAT)") != std::string::npos,
               m);
    BOOST_TEST(m.find("()") == std::string::npos, m);
    m = message_of(png.substr(0, png.size() / 2)); // inside an IDAT chunk
    BOOST_TEST(m.find("is truncated: its IDAT chunk at byte") != std::string::npos, m);
    m = message_of(png.substr(0, png.size() - 12)); // IEND missing
    BOOST_TEST(m.find("is truncated: it ends after") != std::string::npos, m);
    BOOST_TEST(m.find("inside its image data, with no IEND chunk") != std::string::npos, m);
}

BOOST_AUTO_TEST_CASE(jpeg_huffman_tables_are_checked_wherever_the_decoder_finds_them) {
    // stb skips bytes that are not a marker and reads tables between scans: a DHT declaring 300
    // codes after a stray byte was passed to it (out-of-bounds writes in stbi__build_huffman,
    // found by the fuzzer: tests/data/fuzz_regressions/image_stb_jpeg_dht_after_garbage.bin)
    std::vector<unsigned char> jpeg;
    const image x = xt::linspace<float>(0.0f, 1.0f, 3 * 16 * 24).reshape({3, 16, 24});
    std::vector<unsigned char> rgb;
    for (std::size_t i = 0; i < 16; ++i) {
        for (std::size_t j = 0; j < 24; ++j) {
            for (std::size_t c = 0; c < 3; ++c) {
                rgb.push_back(static_cast<unsigned char>(std::lround(255.0f * x(c, i, j))));
            }
        }
    }
    BOOST_REQUIRE(stbi_write_jpg_to_func(
                      [](void* context, void* data, int size) {
                          auto* out = static_cast<std::vector<unsigned char>*>(context);
                          const auto* bytes = static_cast<const unsigned char*>(data);
                          out->insert(out->end(), bytes, bytes + size);
                      },
                      &jpeg, 24, 16, 3, rgb.data(), 95) != 0);
    auto read = [](const std::vector<unsigned char>& bytes) {
        return read_image_from_memory(std::span<const unsigned char>(bytes), "t.jpg");
    };
    const image y = read(jpeg); // a valid file passes the walk over its segments and scan
    BOOST_TEST(y.shape(0) == 3u);
    BOOST_TEST(y.shape(1) == 16u);
    BOOST_TEST(y.shape(2) == 24u);
    BOOST_TEST(static_cast<double>(xt::amax(xt::abs(y - x))()) < 0.05);

    // a stray byte, then a DHT whose counts add up to 255 + 45 = 300, after the file's first
    // segment (SOI, then APP0)
    const auto first = static_cast<std::ptrdiff_t>(4 + (jpeg[4] << 8 | jpeg[5]));
    std::vector<unsigned char> bad(jpeg.begin(), jpeg.begin() + first);
    bad.push_back(0x00);
    const std::vector<unsigned char> dht = {0xFF, 0xC4, 0x01, 0x3F, 0x00, 0xFF, 0x2D};
    bad.insert(bad.end(), dht.begin(), dht.end());
    bad.resize(bad.size() + 14 + 300, 0);
    bad.insert(bad.end(), jpeg.begin() + first, jpeg.end());
    std::string m = io_error_message([&] { (void)read(bad); });
    BOOST_TEST(m.find("'t.jpg' has a corrupt JPEG Huffman table (300 codes)") != std::string::npos,
               m);

    // the same table after the scan's data, as a progressive file sends them
    bad.assign(jpeg.begin(), jpeg.end() - 2); // without EOI
    bad.insert(bad.end(), dht.begin(), dht.end());
    bad.resize(bad.size() + 14 + 300, 0);
    bad.push_back(0xFF);
    bad.push_back(0xD9);
    m = io_error_message([&] { (void)read(bad); });
    BOOST_TEST(m.find("has a corrupt JPEG Huffman table (300 codes)") != std::string::npos, m);
}

/// A JPEG's segments in file order: marker, first byte, one past the last (a scan's entropy-coded
/// data included).
struct jpeg_segment {
    unsigned char marker;
    std::size_t begin;
    std::size_t end;
};

std::vector<jpeg_segment> jpeg_segments(const std::vector<unsigned char>& b) {
    std::vector<jpeg_segment> out;
    std::size_t i = 2;
    while (i + 4 <= b.size() && b[i] == 0xFF && b[i + 1] != 0xD9) {
        const std::size_t begin = i;
        i += 2 + (std::size_t{b[i + 2]} << 8 | b[i + 3]);
        if (b[begin + 1] == 0xDA) {
            while (i + 1 < b.size() &&
                   !(b[i] == 0xFF && b[i + 1] != 0 && !(b[i + 1] >= 0xD0 && b[i + 1] <= 0xD7))) {
                ++i;
            }
        }
        out.push_back({b[begin + 1], begin, i});
    }
    return out;
}

/// `b` without its segments of `marker` (only the first with `first_only`); with `before_end`,
/// they are put back just before EOI instead.
std::vector<unsigned char> move_segments(const std::vector<unsigned char>& b, unsigned char marker,
                                         bool first_only, bool before_end) {
    std::vector<unsigned char> out(b.begin(), b.begin() + 2);
    std::vector<unsigned char> moved;
    bool done = false;
    std::size_t last = 2;
    for (const jpeg_segment& s : jpeg_segments(b)) {
        auto& to = s.marker == marker && !done ? moved : out;
        to.insert(to.end(), b.begin() + static_cast<std::ptrdiff_t>(s.begin),
                  b.begin() + static_cast<std::ptrdiff_t>(s.end));
        done = done || (first_only && s.marker == marker);
        last = s.end;
    }
    BOOST_REQUIRE(!moved.empty());
    if (before_end) {
        out.insert(out.end(), moved.begin(), moved.end());
    }
    out.insert(out.end(), b.begin() + static_cast<std::ptrdiff_t>(last), b.end()); // EOI
    return out;
}

BOOST_AUTO_TEST_CASE(jpeg_tables_and_scans_are_checked_before_the_decoder_reads_them) {
    // stb_image 2.27 reads a quantisation or Huffman table that no segment defined, and the
    // pixels of a component that no scan decoded, from memory it never initialised: such files
    // decoded into whatever the heap held (found by the image fuzzer: a JPEG without DQT, and
    // one without a scan, gave different pixels after different earlier allocations).
    auto read = [](const std::vector<unsigned char>& bytes) {
        return read_image_from_memory(std::span<const unsigned char>(bytes), "t.jpg");
    };
    auto file = [](const std::string& name) {
        std::ifstream in(fixtures / name, std::ios::binary);
        return std::vector<unsigned char>(std::istreambuf_iterator<char>(in), {});
    };
    // valid files of the kinds stb_image_write cannot make (tests/data/make_fixtures.py): the
    // gradient R = 40 + 8 j, G = 60 + 6 i, B = 200 - 5 j at quality 95
    image gradient({3, 16, 24});
    for (std::size_t i = 0; i < 16; ++i) {
        for (std::size_t j = 0; j < 24; ++j) {
            gradient(0, i, j) = static_cast<float>(40 + 8 * j) / 255.0f;
            gradient(1, i, j) = static_cast<float>(60 + 6 * i) / 255.0f;
            gradient(2, i, j) = static_cast<float>(200 - 5 * j) / 255.0f;
        }
    }
    const std::vector<unsigned char> progressive = file("prog_rgb_16x24.jpg");
    const image p = read(progressive);
    BOOST_REQUIRE((shape_of<3>(p) == shape3{3, 16, 24}));
    BOOST_TEST(static_cast<double>(xt::amax(xt::abs(p - gradient))()) < 0.04);
    const image g = read(file("prog_gray_16x24.jpg"));
    BOOST_REQUIRE((shape_of<3>(g) == shape3{1, 16, 24}));
    BOOST_TEST(static_cast<double>(xt::amax(xt::abs(xt::view(g, 0) - xt::view(gradient, 0)))()) <
               0.01);
    const image o = read(file("opt_rgb422_16x24.jpg"));
    BOOST_REQUIRE((shape_of<3>(o) == shape3{3, 16, 24}));
    BOOST_TEST(static_cast<double>(xt::amax(xt::abs(o - gradient))()) < 0.05);

    // a baseline file (stb_image_write) without its tables or its scan
    const std::vector<unsigned char> baseline = encode_jpeg(gradient, 90);
    BOOST_REQUIRE(read(baseline).size() == gradient.size());
    std::string m =
        io_error_message([&] { (void)read(move_segments(baseline, 0xDB, false, false)); });
    BOOST_TEST(m.find("'t.jpg' is a corrupt JPEG: its scan at byte ") != std::string::npos, m);
    BOOST_TEST(m.find("dequantises component 1 with table 0, which no DQT segment before it "
                      "defines") != std::string::npos,
               m);
    // tables after the scan come too late for a sequential file
    m = io_error_message([&] { (void)read(move_segments(baseline, 0xDB, false, true)); });
    BOOST_TEST(m.find("which no DQT segment before it defines") != std::string::npos, m);
    m = io_error_message([&] { (void)read(move_segments(baseline, 0xC4, false, false)); });
    BOOST_TEST(m.find("decodes component 1 with Huffman table DC 0, which no DHT segment before "
                      "it defines") != std::string::npos,
               m);
    m = io_error_message([&] { (void)read(move_segments(baseline, 0xDA, true, false)); });
    BOOST_TEST(m.find("it ends with component 1 in no scan (its pixels would be uninitialised "
                      "memory)") != std::string::npos,
               m);

    // progressive: the first scan holds every component's first DC pass
    m = io_error_message([&] { (void)read(move_segments(progressive, 0xDA, true, false)); });
    BOOST_TEST(m.find("it ends with component 1 in no first DC scan") != std::string::npos, m);
    m = io_error_message([&] { (void)read(move_segments(progressive, 0xDB, false, false)); });
    BOOST_TEST(m.find("component 1 is dequantised with table 0, which no DQT segment defines") !=
                   std::string::npos,
               m);
    // a progressive file dequantises at the end of the image: tables sent after the scans are
    // in time, and give the same pixels
    const image late = read(move_segments(progressive, 0xDB, false, true));
    BOOST_TEST(static_cast<double>(xt::amax(xt::abs(late - p))()) == 0.0);
}

BOOST_AUTO_TEST_CASE(an_integer_npy_is_not_an_image) {
    // a uint8 .npy was read as values 0-255 where an image holds [0, 1]
    scratch_dir dir("xrestore_test_image_io_");
    auto npy = [&](const std::string& name, const std::string& descr, std::size_t item) {
        std::string header =
            "{'descr': '" + descr + "', 'fortran_order': False, 'shape': (1, 2, 2), }";
        header.append(63 - (10 + header.size()) % 64, ' ');
        header += '\n';
        std::string bytes = "\x93NUMPY\x01";
        bytes += '\0';
        bytes += static_cast<char>(header.size() & 0xFF);
        bytes += static_cast<char>(header.size() >> 8);
        bytes += header;
        bytes += std::string(4 * item, '\x01');
        spill(dir / name, bytes);
        return dir / name;
    };
    for (const auto& [descr, item] :
         {std::pair<std::string, std::size_t>{"|u1", 1}, {"|i1", 1}, {"<u2", 2}, {"<i4", 4}}) {
        BOOST_TEST_CONTEXT(descr) {
            const fs::path file = npy("int.npy", descr, item);
            const std::string m = io_error_message([&] { (void)load_array(file); });
            BOOST_TEST(m.find("load_array: '" + file.string() +
                              "' must hold float32 or float64 values in [0, 1], got integers "
                              "(dtype " +
                              descr + ")") != std::string::npos,
                       m);
            // read_npy reads them as they are (masks, kernels)
            BOOST_TEST(read_npy<3>(file)(0, 0, 0) == (item == 1   ? 1.0f
                                                      : item == 2 ? 257.0f
                                                                  : 16843009.0f));
        }
    }
    // bool is 0/1 already
    const image b = load_array(npy("bool.npy", "|b1", 1));
    BOOST_TEST(b(0, 1, 1) == 1.0f);
}

BOOST_AUTO_TEST_CASE(array_info_reads_the_shape_from_the_header_alone) {
    // what a command estimates its memory from, before decoding anything
    const array_info photo = read_array_info(data_dir / "images" / "butterfly_set5.png");
    BOOST_TEST((photo.shape == shape3{3, 256, 256}));
    BOOST_TEST(photo.file_bytes == fs::file_size(data_dir / "images" / "butterfly_set5.png"));
    BOOST_TEST(photo.decoder_bytes >= photo.file_bytes + 3u * 256u * 256u);
    const array_info gray = read_array_info(fixtures / "gray16_4x5.png");
    BOOST_TEST((gray.shape == shape_of<3>(read_image(fixtures / "gray16_4x5.png"))));
    BOOST_TEST(gray.shape[0] == 1u);
    // a .npy: its header only (rank 2 reads as 1 x H x W), even when the data is missing
    BOOST_TEST((read_array_info(fixtures / "f64_3x4.npy").shape == shape3{1, 3, 4}));
    scratch_dir dir("xrestore_test_image_io_");
    const std::string header_only = slurp(fixtures / "u8_2x3x4.npy").substr(0, 128);
    spill(dir / "cut.npy", header_only);
    BOOST_TEST((read_array_info(dir / "cut.npy").shape == shape3{2, 3, 4}));
    BOOST_CHECK_THROW((void)read_npy<3>(dir / "cut.npy"), io_error);
    // the header checks of read_image apply
    spill(dir / "text.png", "this is not an image");
    BOOST_CHECK_THROW((void)read_array_info(dir / "text.png"), io_error);
    BOOST_CHECK_THROW((void)read_array_info(dir / "missing.npy"), io_error);
}

BOOST_AUTO_TEST_CASE(load_and_save_array_by_extension) {
    scratch_dir dir("xrestore_test_image_io_");
    image x({2, 3, 4});
    for (std::size_t k = 0; k < x.size(); ++k) {
        x.data()[k] = 0.1f * static_cast<float>(k) - 0.7f; // negative and > 1 kept by .npy
    }
    save_array(dir / "x.npy", x);
    BOOST_TEST(load_array(dir / "x.npy") == x);
    save_array(dir / "X.NPY", x);
    BOOST_TEST(load_array(dir / "X.NPY") == x);

    const image photo = read_image(data_dir / "images" / "cameraman.png");
    save_array(dir / "photo.png", photo);
    BOOST_TEST(load_array(dir / "photo.png") == photo);

    // a rank-2 .npy reads as 1 x H x W
    const image f64 = load_array(fixtures / "f64_3x4.npy");
    BOOST_TEST((shape_of<3>(f64) == shape3{1, 3, 4}));
    BOOST_TEST(f64(0, 2, 3) == 42.0f);

    const std::string message = io_error_message([&] { save_array(dir / "x.tiff", x); });
    BOOST_TEST(message.find(".npy or .png") != std::string::npos);
    BOOST_CHECK_THROW(save_array(dir / "noextension", x), io_error);

    // an empty array is not an image
    write_npy(dir / "empty.npy", tensor<3>(shape3{0, 2, 2}));
    BOOST_CHECK_THROW((void)load_array(dir / "empty.npy"), io_error);
}

BOOST_AUTO_TEST_CASE(top_down_bmp_reads_in_file_order) {
    // 3 x 2, 24-bit, negative height (rows stored top first): red, green, blue over white.
    const std::string bmp(
        "\x42\x4D\x4E\x00\x00\x00\x00\x00\x00\x00\x36\x00\x00\x00\x28\x00\x00\x00\x03\x00\x00\x00"
        "\xFE\xFF\xFF\xFF\x01\x00\x18\x00\x00\x00\x00\x00\x18\x00\x00\x00\x13\x0B\x00\x00\x13\x0B"
        "\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\x00\xFF\x00\xFF\x00\xFF\x00\x00\x00\x00\x00"
        "\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\xFF\x00\x00\x00",
        78);
    const image x = read_image_from_memory(std::span<const unsigned char>(
        reinterpret_cast<const unsigned char*>(bmp.data()), bmp.size()));
    BOOST_TEST((shape_of<3>(x) == shape3{3, 2, 3}));
    BOOST_TEST(x(0, 0, 0) == 1.0F); // red at the top left
    BOOST_TEST(x(1, 0, 0) == 0.0F);
    BOOST_TEST(x(1, 0, 1) == 1.0F); // green
    BOOST_TEST(x(2, 0, 2) == 1.0F); // blue
    BOOST_TEST(x(0, 1, 1) == 1.0F); // white bottom row
    BOOST_TEST(x(2, 1, 2) == 1.0F);
}

BOOST_AUTO_TEST_SUITE_END() // test_image_io
