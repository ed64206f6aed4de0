#include <boost/test/unit_test.hpp>

#include <xrestore/io/pth.hpp>
#include <xrestore/io/safetensors.hpp>

#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <limits>
#include <random>
#include <string>
#include <string_view>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_safetensors)

using namespace xrestore;
using namespace xrestore::test;
namespace fs = std::filesystem;

namespace {

const fs::path fixtures = fs::path(XRESTORE_TEST_DIR) / "data" / "weights";

std::span<const unsigned char> as_bytes(const std::string& s) {
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

std::uint32_t bits(float v) {
    return std::bit_cast<std::uint32_t>(v);
}

const nlohmann::ordered_json& expected() {
    static const nlohmann::ordered_json j =
        nlohmann::ordered_json::parse(slurp(fixtures / "expected.json"));
    return j;
}

/// Every tensor of `sd` is, in order, what tools/dev/make_weights_fixtures.py described: names,
/// shapes, dtypes and the float32 bit pattern of every value.
void check_matches(const state_dict& sd, const nlohmann::ordered_json& want) {
    BOOST_TEST_REQUIRE(sd.size() == want.size());
    std::size_t i = 0;
    for (const auto& [name, spec] : want.items()) {
        const auto& [got_name, t] = sd.entries()[i++];
        BOOST_TEST_CONTEXT("tensor " << name) {
            BOOST_TEST(got_name == name);
            BOOST_TEST(t.shape == spec["shape"].get<std::vector<std::size_t>>(),
                       boost::test_tools::per_element());
            BOOST_TEST(to_string(t.stored_as) == spec["dtype"].get<std::string>());
            const auto want_bits = spec["bits"].get<std::vector<std::uint32_t>>();
            BOOST_TEST_REQUIRE(t.values.size() == want_bits.size());
            for (std::size_t k = 0; k < want_bits.size(); ++k) {
                BOOST_TEST(bits(t.values[k]) == want_bits[k]);
            }
        }
    }
}

/// Two state_dicts hold the same tensors in the same order, bit for bit.
void check_identical(const state_dict& a, const state_dict& b) {
    BOOST_TEST_REQUIRE(a.size() == b.size());
    for (std::size_t i = 0; i < a.size(); ++i) {
        const auto& [name_a, ta] = a.entries()[i];
        const auto& [name_b, tb] = b.entries()[i];
        BOOST_TEST_CONTEXT("tensor " << name_a) {
            BOOST_TEST(name_a == name_b);
            BOOST_TEST(ta.shape == tb.shape, boost::test_tools::per_element());
            BOOST_TEST((ta.stored_as == tb.stored_as));
            BOOST_TEST_REQUIRE(ta.values.size() == tb.values.size());
            for (std::size_t k = 0; k < ta.values.size(); ++k) {
                BOOST_TEST(bits(ta.values[k]) == bits(tb.values[k]));
            }
        }
    }
}

/// A safetensors image: the 8-byte length of `header`, `header`, `data`.
std::string make_safetensors(const std::string& header, const std::string& data) {
    std::string out;
    for (std::size_t k = 0; k < 8; ++k) {
        out += static_cast<char>((header.size() >> (8 * k)) & 0xFFU);
    }
    return out + header + data;
}

std::string st_error(const std::string& bytes) {
    return io_error_message([&] { (void)parse_safetensors(as_bytes(bytes), "bad.safetensors"); });
}

/// Error of a file whose header is {"w": {"dtype": <dtype>, "shape": <shape>, "data_offsets":
/// <offsets>}} over 16 bytes of data.
std::string entry_error(const std::string& dtype, const std::string& shape,
                        const std::string& offsets) {
    return st_error(make_safetensors(R"({"w":{"dtype":)" + dtype + R"(,"shape":)" + shape +
                                         R"(,"data_offsets":)" + offsets + "}}",
                                     std::string(16, '\0')));
}

weight_tensor tensor_of(std::vector<std::size_t> shape, std::vector<float> values) {
    weight_tensor t;
    t.shape = std::move(shape);
    t.values = std::move(values);
    return t;
}

/// write `sd` as `as`, read it back
state_dict round_trip(const state_dict& sd, weight_dtype as) {
    scratch_dir dir("xrestore_test_safetensors_");
    write_safetensors(dir / "w.safetensors", sd, as);
    return read_safetensors(dir / "w.safetensors");
}

/// float32 -> float16 -> float32 through a file
float through_half(float v) {
    state_dict sd;
    sd.insert("v", tensor_of({}, {v}));
    return round_trip(sd, weight_dtype::float16).at("v").values[0];
}
float through_bfloat16(float v) {
    state_dict sd;
    sd.insert("v", tensor_of({}, {v}));
    return round_trip(sd, weight_dtype::bfloat16).at("v").values[0];
}

} // namespace

// ---- files written by tools/dev/make_weights_fixtures.py --------------------------------------

BOOST_AUTO_TEST_CASE(python_written_file_exact) {
    const state_dict sd = read_safetensors(fixtures / "small.safetensors");
    check_matches(sd, expected()["small.safetensors"]);
    BOOST_TEST(sd.metadata.size() == 2u);
    BOOST_TEST(sd.metadata.at("format") == "pt");
    BOOST_TEST(sd.metadata.at("source") == "small.pth");
    BOOST_TEST(sd.at("scale").values == std::vector<float>{0.125f},
               boost::test_tools::per_element());
    BOOST_TEST((sd.at("empty").shape == std::vector<std::size_t>{0, 3}));

    const state_dict half = read_safetensors(fixtures / "small_half.safetensors");
    check_matches(half, expected()["small_half.safetensors"]);
    BOOST_TEST((half.at("half.weight").stored_as == weight_dtype::float16));
    BOOST_TEST(half.at("half.weight").values[0] == 65504.0f);
    BOOST_TEST((half.at("bf16.weight").stored_as == weight_dtype::bfloat16));
    BOOST_TEST(half.at("bf16.weight").values[1] == -std::numeric_limits<float>::infinity());
}

BOOST_AUTO_TEST_CASE(same_weights_from_pth_and_safetensors) {
    // the script saved the same tensors with torch.save and as safetensors
    check_identical(read_pth(fixtures / "small.pth"),
                    read_safetensors(fixtures / "small.safetensors"));
    check_identical(read_pth(fixtures / "small_half.pth"),
                    read_safetensors(fixtures / "small_half.safetensors"));
    // and what we write from the .pth reads back the same
    check_identical(round_trip(read_pth(fixtures / "small.pth"), weight_dtype::float32),
                    read_pth(fixtures / "small.pth"));
}

// ---- writing -----------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(float32_round_trip_is_bit_exact) {
    std::mt19937 rng(5);
    std::normal_distribution<float> normal;
    state_dict sd;
    std::vector<float> w(2 * 3 * 3 * 3);
    for (auto& v : w) {
        v = normal(rng);
    }
    w[0] = -0.0f;
    w[1] = std::numeric_limits<float>::infinity();
    w[2] = std::numeric_limits<float>::denorm_min();
    w[3] = std::numeric_limits<float>::max();
    w[4] = std::bit_cast<float>(0x7FC12345U); // a NaN with a payload
    // names not in alphabetical order: the file keeps the state_dict's order
    sd.insert("z.weight", tensor_of({2, 3, 3, 3}, w));
    sd.insert("a.bias", tensor_of({2}, {1.5f, -2.25f}));
    sd.insert("m.scale", tensor_of({}, {0.125f}));
    sd.insert("m.empty", tensor_of({0, 4}, {}));
    sd.metadata["format"] = "pt";
    sd.metadata["note"] = "quotes \" and \\ and unicode \xc3\xa9";
    scratch_dir dir("xrestore_test_safetensors_");
    write_safetensors(dir / "w.safetensors", sd);
    const state_dict back = read_safetensors(dir / "w.safetensors");
    check_identical(back, sd);
    BOOST_TEST((back.metadata == sd.metadata));
    BOOST_TEST(std::isnan(back.at("z.weight").values[4]));
    // the layout: header length, then a JSON header padded with spaces to a multiple of 8
    const std::string bytes = slurp(dir / "w.safetensors");
    std::size_t n = 0;
    for (std::size_t k = 0; k < 8; ++k) {
        n |= static_cast<std::size_t>(static_cast<unsigned char>(bytes[k])) << (8 * k);
    }
    BOOST_TEST(n % 8 == 0u);
    BOOST_TEST(bytes[8] == '{');
    BOOST_TEST(bytes.size() == 8 + n + (54 + 2 + 1) * 4);
    const auto header = nlohmann::json::parse(bytes.substr(8, n));
    BOOST_TEST((header["z.weight"]["dtype"] == "F32"));
    BOOST_TEST((header["z.weight"]["data_offsets"] == nlohmann::json({0, 216})));
    BOOST_TEST((header["a.bias"]["data_offsets"] == nlohmann::json({216, 224})));
    BOOST_TEST((header["m.empty"]["data_offsets"] == nlohmann::json({228, 228})));
    BOOST_TEST((header["__metadata__"]["format"] == "pt"));
}

BOOST_AUTO_TEST_CASE(float16_round_trip_rounds_to_nearest_even) {
    const float one = 1.0f;
    const float eps11 = std::ldexp(1.0f, -11);                    // half of float16's epsilon at 1
    BOOST_TEST(through_half(one + eps11) == one);                 // tie -> even
    BOOST_TEST(through_half(one + 3 * eps11) == one + 4 * eps11); // tie -> even
    BOOST_TEST(through_half(std::nextafter(one + eps11, 2.0f)) == one + 2 * eps11); // above tie
    BOOST_TEST(through_half(0.1f) == 0.0999755859375f);
    BOOST_TEST(through_half(65504.0f) == 65504.0f);
    BOOST_TEST(through_half(65519.99f) == 65504.0f);
    BOOST_TEST(through_half(std::ldexp(1.0f, -25)) == 0.0f); // tie with 0 -> 0
    BOOST_TEST(through_half(std::nextafter(std::ldexp(1.0f, -25), 1.0f)) == std::ldexp(1.0f, -24));
    BOOST_TEST(through_half(std::ldexp(1.5f, -24)) == std::ldexp(1.0f, -23)); // subnormal tie
    BOOST_TEST(through_half(std::ldexp(2.5f, -24)) == std::ldexp(1.0f, -23));
    BOOST_TEST(through_half(std::ldexp(1023.5f, -24)) == std::ldexp(1.0f, -14)); // to a normal
    BOOST_TEST(std::signbit(through_half(-0.0f)));
    BOOST_TEST(through_half(-std::numeric_limits<float>::infinity()) ==
               -std::numeric_limits<float>::infinity());
    BOOST_TEST(std::isnan(through_half(std::numeric_limits<float>::quiet_NaN())));
    // a whole tensor: every value equal to its rounded self, stored_as float16, 2 bytes each
    std::mt19937 rng(7);
    std::normal_distribution<float> normal;
    std::vector<float> values(100);
    for (auto& v : values) {
        v = normal(rng);
    }
    state_dict sd;
    sd.insert("w", tensor_of({10, 10}, values));
    const state_dict back = round_trip(sd, weight_dtype::float16);
    BOOST_TEST((back.at("w").stored_as == weight_dtype::float16));
    for (std::size_t i = 0; i < values.size(); ++i) {
        BOOST_TEST(back.at("w").values[i] ==
                   detail::half_to_float(detail::float_to_half(values[i])));
        BOOST_TEST(std::abs(back.at("w").values[i] - values[i]) <=
                   std::abs(values[i]) * std::ldexp(1.0f, -11));
    }
    // a finite value beyond float16 is refused, naming the tensor
    state_dict big;
    big.insert("layer.weight", tensor_of({2}, {1.0f, 65520.0f}));
    scratch_dir dir("xrestore_test_safetensors_");
    try {
        write_safetensors(dir / "big.safetensors", big, weight_dtype::float16);
        BOOST_FAIL("expected a value_error");
    } catch (const value_error& e) {
        BOOST_TEST(contains(e.what(), "tensor 'layer.weight' value 65520 at index 1"));
        BOOST_TEST(contains(e.what(), "float16"));
    }
}

BOOST_AUTO_TEST_CASE(bfloat16_round_trip_rounds_to_nearest_even) {
    const float eps8 = std::ldexp(1.0f, -8);
    BOOST_TEST(through_bfloat16(1.0f + eps8) == 1.0f);
    BOOST_TEST(through_bfloat16(1.0f + 3 * eps8) == 1.0f + 4 * eps8);
    BOOST_TEST(through_bfloat16(std::nextafter(1.0f + eps8, 2.0f)) == 1.0f + 2 * eps8);
    BOOST_TEST(through_bfloat16(3.0e38f) == detail::bfloat16_to_float(0x7F62));
    BOOST_TEST(through_bfloat16(1.0e-40f) == detail::bfloat16_to_float(0x0001)); // subnormal
    BOOST_TEST(std::isnan(through_bfloat16(std::numeric_limits<float>::quiet_NaN())));
    state_dict big;
    big.insert("w", tensor_of({1}, {std::numeric_limits<float>::max()}));
    scratch_dir dir("xrestore_test_safetensors_");
    BOOST_CHECK_THROW(write_safetensors(dir / "big.safetensors", big, weight_dtype::bfloat16),
                      value_error);
    state_dict sd;
    sd.insert("w", tensor_of({3}, {0.1f, -7.0f, 1e-3f}));
    const state_dict back = round_trip(sd, weight_dtype::bfloat16);
    BOOST_TEST((back.at("w").stored_as == weight_dtype::bfloat16));
    BOOST_TEST(back.at("w").values[0] == 0.10009765625f);
    BOOST_TEST(back.at("w").values[1] == -7.0f);
}

BOOST_AUTO_TEST_CASE(half_conversions_exhaustive) {
    // every float16 and bfloat16 value survives float32 and back; every midpoint between two
    // neighbours rounds to the even one, and anything off the midpoint to the nearer one
    for (std::uint32_t h = 0; h < 0x10000U; ++h) {
        const auto bits16 = static_cast<std::uint16_t>(h);
        const float f = detail::half_to_float(bits16);
        const float b = detail::bfloat16_to_float(bits16);
        if (std::isnan(f)) {
            BOOST_TEST(std::isnan(detail::half_to_float(detail::float_to_half(f))));
        } else if (detail::float_to_half(f) != bits16) {
            BOOST_TEST(detail::float_to_half(f) == bits16);
        }
        if (std::isnan(b)) {
            BOOST_TEST(std::isnan(detail::bfloat16_to_float(detail::float_to_bfloat16(b))));
        } else if (detail::float_to_bfloat16(b) != bits16) {
            BOOST_TEST(detail::float_to_bfloat16(b) == bits16);
        }
        const auto up = static_cast<std::uint16_t>(h + 1); // the neighbour away from zero
        const auto even = (h & 1U) == 0 ? bits16 : up;
        if ((h & 0x7FFFU) < 0x7C00U) { // finite float16
            float next = detail::half_to_float(up);
            if (std::isinf(next)) {
                next = std::copysign(65536.0f, f); // 65504 + one step: the midpoint is 65520
            }
            const float mid = (f + next) / 2; // exact: 12 significant bits
            if (detail::float_to_half(mid) != even ||
                detail::float_to_half(std::nextafter(mid, 0.0f)) != bits16 ||
                detail::float_to_half(std::nextafter(mid, 2 * next)) != up) {
                BOOST_ERROR("float16 rounding around " << f);
            }
        }
        if ((h & 0x7FFFU) < 0x7F7FU) { // finite bfloat16 with a finite neighbour
            const float next = detail::bfloat16_to_float(up);
            const float mid = b + (next - b) / 2; // exact: 9 significant bits, no overflow
            if (detail::float_to_bfloat16(mid) != even ||
                detail::float_to_bfloat16(std::nextafter(mid, 0.0f)) != bits16 ||
                detail::float_to_bfloat16(std::nextafter(mid, 2 * next)) != up) {
                BOOST_ERROR("bfloat16 rounding around " << b);
            }
        }
    }
    // the top of bfloat16: halfway past the largest finite value rounds to infinity
    BOOST_TEST(detail::float_to_bfloat16(std::numeric_limits<float>::max()) == 0x7F80U);
}

BOOST_AUTO_TEST_CASE(write_errors) {
    scratch_dir dir("xrestore_test_safetensors_");
    state_dict wrong;
    wrong.insert("w", tensor_of({2, 3}, {1, 2, 3}));
    try {
        write_safetensors(dir / "w.safetensors", wrong);
        BOOST_FAIL("expected a value_error");
    } catch (const value_error& e) {
        BOOST_TEST(contains(e.what(), "tensor 'w' must hold as many values as its shape [2 x 3]"));
    }
    state_dict reserved;
    reserved.insert("__metadata__", tensor_of({1}, {1}));
    BOOST_CHECK_THROW(write_safetensors(dir / "r.safetensors", reserved), value_error);
    state_dict fine;
    fine.insert("w", tensor_of({1}, {1}));
    const std::string message =
        io_error_message([&] { write_safetensors(dir / "no" / "such" / "dir.safetensors", fine); });
    BOOST_TEST(contains(message, "dir.safetensors"));
}

// ---- malformed files ---------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(truncated_at_every_offset) {
    const std::string bytes = slurp(fixtures / "small.safetensors");
    BOOST_TEST_REQUIRE(bytes.size() > 500u);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        BOOST_CHECK_THROW((void)parse_safetensors(as_bytes(bytes.substr(0, n)), "cut"), io_error);
    }
    // and every byte replaced: a state_dict or an io_error, nothing else
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        for (char c : {'\0', '"', '9', '{', '\xff'}) {
            std::string copy = bytes;
            copy[i] = c;
            try {
                (void)parse_safetensors(as_bytes(copy), "flipped");
            } catch (const io_error&) {
            }
        }
    }
}

BOOST_AUTO_TEST_CASE(header_length_and_json_errors) {
    BOOST_TEST(contains(st_error("abc"), "too short"));
    // header longer than the file, longer than 100 MB
    std::string bytes = make_safetensors("{}", "");
    bytes[0] = 11;
    BOOST_TEST(contains(st_error(bytes), "header length 11 must be at most the 2 bytes after it"));
    bytes[0] = 0;
    bytes[4] = 1; // 2^32
    BOOST_TEST(contains(st_error(bytes), "header length must be at most 100000000 bytes"));
    BOOST_TEST(contains(st_error(make_safetensors(R"({"w": )", "")), "not valid JSON"));
    BOOST_TEST(contains(st_error(make_safetensors("[1, 2]", "")), "must be a JSON object"));
    BOOST_TEST(contains(st_error(make_safetensors(R"({"w": 3})", "")),
                        "tensor 'w' must be described by an object"));
    BOOST_TEST(contains(st_error(make_safetensors(R"({"w": {"dtype": "F32"}})", "")),
                        "tensor 'w' must have dtype, shape and data_offsets"));
    BOOST_TEST(contains(st_error(make_safetensors(R"({"__metadata__": {"a": 1}})", "")),
                        "__metadata__ value of 'a' must be a string"));
    BOOST_TEST(contains(st_error(make_safetensors(R"({"__metadata__": [1]})", "")),
                        "__metadata__ must be an object"));
    BOOST_TEST(
        contains(st_error(make_safetensors(std::string(100, '[') + std::string(100, ']'), "")),
                 "must be a JSON object"));
    BOOST_TEST(
        contains(st_error(make_safetensors(
                     "{\"a\":" + std::string(100000, '[') + std::string(100000, ']') + "}", "")),
                 "nested at most 8 levels"));
    // a name twice
    BOOST_TEST(contains(
        st_error(make_safetensors(R"({"w":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},)"
                                  R"("w":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}})",
                                  std::string(8, '\0'))),
        "names tensor 'w' twice"));
    // an empty file with an empty header is an empty state_dict
    BOOST_TEST(parse_safetensors(as_bytes(make_safetensors("{}      ", "")), "empty").empty());
}

BOOST_AUTO_TEST_CASE(entry_errors) {
    // 16 data bytes: [0, 16) holds 4 floats
    BOOST_CHECK_NO_THROW((void)parse_safetensors(
        as_bytes(make_safetensors(R"({"w":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]}})",
                                  std::string(16, '\0'))),
        "fine"));
    BOOST_TEST(contains(entry_error(R"("F32")", "[2, 2]", "[0, 20]"),
                        "tensor 'w' data_offsets [0, 20] must satisfy begin <= end <= 16"));
    BOOST_TEST(contains(entry_error(R"("F32")", "[0]", "[8, 4]"), "must satisfy begin <= end"));
    BOOST_TEST(contains(entry_error(R"("F32")", "[3]", "[0, 16]"),
                        "tensor 'w' of shape [3] and dtype F32 needs 12 bytes (3 x 4), but "
                        "data_offsets span 16 bytes"));
    BOOST_TEST(contains(entry_error(R"("U16")", "[2]", "[0, 4]"),
                        "tensor 'w' dtype must be F32, F16, BF16, F64, I64, I32, I16, I8, U8 or "
                        "BOOL, got \"U16\""));
    BOOST_TEST(contains(entry_error(R"("F8_E4M3")", "[2]", "[0, 2]"), "got \"F8_E4M3\""));
    // F64 and I64 are read (their own tests below); their sizes are checked as any other
    BOOST_TEST(contains(entry_error(R"("I64")", "[2]", "[0, 8]"),
                        "tensor 'w' of shape [2] and dtype I64 needs 16 bytes (2 x 8)"));
    BOOST_TEST(contains(entry_error("7", "[2]", "[0, 16]"), "got 7"));
    BOOST_TEST(
        contains(entry_error(R"("F32")", "[4611686018427387904, 4611686018427387904]", "[0, 16]"),
                 "needs more than 2^64 bytes"));
    BOOST_TEST(contains(entry_error(R"("F32")", "[1152921504606846976, 4]", "[0, 16]"),
                        "needs more than 2^64 bytes"));
    BOOST_TEST(contains(entry_error(R"("F32")", "[-4]", "[0, 16]"),
                        "shape extent must be a non-negative integer, got -4"));
    BOOST_TEST(contains(entry_error(R"("F32")", "[2.5]", "[0, 16]"), "non-negative integer"));
    BOOST_TEST(contains(entry_error(R"("F32")", "[1e30]", "[0, 16]"), "non-negative integer"));
    BOOST_TEST(contains(entry_error(R"("F32")", "4", "[0, 16]"), "shape must be an array"));
    BOOST_TEST(
        contains(entry_error(R"("F32")", "[4]", "[0]"), "data_offsets must be [begin, end]"));
    BOOST_TEST(contains(entry_error(R"("F32")", "[4]", R"(["0", 16])"), "non-negative integer"));
    BOOST_TEST(contains(entry_error(R"("F32")", "[4]", "[0, 18446744073709551616]"),
                        "non-negative integer"));
    // two tensors sharing bytes
    const std::string overlap =
        st_error(make_safetensors(R"({"a":{"dtype":"F32","shape":[3],"data_offsets":[0,12]},)"
                                  R"("b":{"dtype":"F32","shape":[2],"data_offsets":[8,16]}})",
                                  std::string(16, '\0')));
    BOOST_TEST(contains(overlap, "tensors 'a' [0, 12) and 'b' [8, 16) overlap"));
    BOOST_TEST(contains(overlap, "bad.safetensors"));
    // tensors are read in data order, whatever the header order
    const state_dict sd = parse_safetensors(
        as_bytes(make_safetensors(R"({"a":{"dtype":"F16","shape":[2],"data_offsets":[4,8]},)"
                                  R"("b":{"dtype":"BF16","shape":[2],"data_offsets":[0,4]}})",
                                  std::string("\x80\x3f\x00\xc0\x00\x3c\x00\x7c", 8))),
        "order");
    BOOST_TEST(sd.entries()[0].first == "b");
    BOOST_TEST(sd.at("b").values == (std::vector<float>{1.0f, -2.0f}),
               boost::test_tools::per_element());
    BOOST_TEST(sd.at("a").values ==
                   (std::vector<float>{1.0f, std::numeric_limits<float>::infinity()}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(mapped_file_cut_short_says_what_the_bytes_say) {
    // read_safetensors maps the file: a file cut short gives the error of its bytes
    scratch_dir dir("xrestore_test_safetensors_");
    const std::string bytes = slurp(fixtures / "small.safetensors");
    for (std::size_t n : {std::size_t{0}, std::size_t{7}, std::size_t{100}, bytes.size() - 1}) {
        spill(dir / "cut.safetensors", bytes.substr(0, n));
        const std::string want = io_error_message([&] {
            (void)parse_safetensors(as_bytes(bytes.substr(0, n)),
                                    (dir / "cut.safetensors").string());
        });
        BOOST_TEST(io_error_message([&] { (void)read_safetensors(dir / "cut.safetensors"); }) ==
                   want);
    }
}

BOOST_AUTO_TEST_CASE(missing_file) {
    const std::string message =
        io_error_message([] { (void)read_safetensors(fixtures / "absent.safetensors"); });
    BOOST_TEST(contains(message, "absent.safetensors"));
    BOOST_TEST(contains(message, "no such file"));
}

BOOST_AUTO_TEST_SUITE_END() // test_safetensors
