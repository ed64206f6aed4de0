#include <boost/test/unit_test.hpp>

#include <xrestore/io/mapped_file.hpp>
#include <xrestore/io/pth.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/io/zip_archive.hpp>

#include "pth_writer.hpp"
#include "test_support.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <limits>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

BOOST_AUTO_TEST_SUITE(test_pth)

using namespace xrestore;
using namespace xrestore::test;
using namespace std::string_literals;
namespace fs = std::filesystem;

namespace {

const fs::path fixtures = fs::path(XRESTORE_TEST_DIR) / "data" / "weights";

std::span<const unsigned char> as_bytes(const std::string& s) {
    return {reinterpret_cast<const unsigned char*>(s.data()), s.size()};
}

bool contains(const std::string& text, std::string_view part) {
    return text.find(part) != std::string::npos;
}

const nlohmann::ordered_json& expected() {
    static const nlohmann::ordered_json j =
        nlohmann::ordered_json::parse(slurp(fixtures / "expected.json"));
    return j;
}

/// Every tensor of `sd` is, in order, what torch saved: names, shapes, dtypes and the float32 bit
/// pattern of every value (tools/dev/make_weights_fixtures.py wrote expected.json).
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
            const auto bits = spec["bits"].get<std::vector<std::uint32_t>>();
            BOOST_TEST_REQUIRE(t.values.size() == bits.size());
            for (std::size_t k = 0; k < bits.size(); ++k) {
                BOOST_TEST(std::bit_cast<std::uint32_t>(t.values[k]) == bits[k]);
            }
        }
    }
}

/// A state_dict pickle of float tensors in one storage '0' of `numel` floats: {name: tensor}.
struct tensor_spec {
    std::string name;
    std::int64_t offset;
    std::vector<std::int64_t> shape;
    std::vector<std::int64_t> stride;
};
std::string state_dict_pickle(const std::vector<tensor_spec>& specs, std::int64_t numel,
                              std::string_view type = "FloatStorage") {
    pickle_writer p;
    p.ordered_dict().op('(');
    for (const auto& s : specs) {
        p.str(s.name).tensor(type, "0", numel, s.offset, s.shape, s.stride);
    }
    return p.op('u').done();
}

/// floats 0, 1, 2, ... as little-endian float32 bytes
std::string float_bytes(std::size_t n) {
    std::string out;
    for (std::size_t i = 0; i < n; ++i) {
        append_le(out, std::bit_cast<std::uint32_t>(static_cast<float>(i)), 4);
    }
    return out;
}

/// A .pth image: archive/data.pkl, archive/data/0 = `storage`, archive/version.
std::string make_pth(const std::string& pickle, const std::string& storage, bool zip64 = false) {
    return make_zip(
        {{"archive/data.pkl", pickle}, {"archive/data/0", storage}, {"archive/version", "3\n"}},
        zip64);
}

std::string pth_error(const std::string& bytes) {
    return io_error_message([&] { (void)parse_pth(as_bytes(bytes), "hostile.pth"); });
}

/// The storages of small.pth, by entry name, and its pickle.
struct small_parts {
    std::string pickle;
    std::vector<zip_file> storages;
};
small_parts split_small() {
    const std::string bytes = slurp(fixtures / "small.pth");
    detail::zip_archive zip(as_bytes(bytes), "small.pth");
    small_parts parts;
    for (const auto& e : zip.entries()) {
        const auto content = zip.read(e);
        std::string data(content.begin(), content.end());
        if (e.name == "small/data.pkl") {
            parts.pickle = data;
        } else {
            parts.storages.push_back({e.name, data});
        }
    }
    return parts;
}
std::string small_with_pickle(const small_parts& parts, const std::string& pickle) {
    std::vector<zip_file> files{{"small/data.pkl", pickle}};
    files.insert(files.end(), parts.storages.begin(), parts.storages.end());
    return make_zip(files);
}

} // namespace

// ---- fixtures written by torch 1.13 (tools/dev/make_weights_fixtures.py) ---------------------

BOOST_AUTO_TEST_CASE(small_state_dict_matches_torch) {
    const state_dict sd = read_pth(fixtures / "small.pth");
    check_matches(sd, expected()["small.pth"]);
    // conv.weight 2 x 3 x 3 x 3 and its bias from a module's state_dict (pickled with BUILD)
    BOOST_TEST((sd.at("conv.weight").shape == std::vector<std::size_t>{2, 3, 3, 3}));
    BOOST_TEST(sd.at("conv.bias").numel() == 2u);
    // the transposed view: 4 x 3 with strides (1, 4), element (i, j) = matrix(j, i)
    BOOST_TEST((sd.at("proj.weight_t").shape == std::vector<std::size_t>{4, 3}));
    // two views sharing a storage: shared.a = base[2:8] as 2 x 3, shared.b = base[5:]
    const auto& a = sd.at("shared.a").values;
    const auto& b = sd.at("shared.b").values;
    BOOST_TEST_REQUIRE(b.size() == 7u);
    for (std::size_t k = 0; k < 3; ++k) {
        BOOST_TEST(a[3 + k] == b[k]); // base[5 + k]
    }
    // grid[::2, 1:]: 2 x 4 with strides (10, 1) and offset 1
    BOOST_TEST((sd.at("strided").shape == std::vector<std::size_t>{2, 4}));
    // a 0-d tensor, an empty one and an nn.Parameter
    BOOST_TEST(sd.at("scale").shape.empty());
    BOOST_TEST(sd.at("scale").values == std::vector<float>{0.125f},
               boost::test_tools::per_element());
    BOOST_TEST((sd.at("empty").shape == std::vector<std::size_t>{0, 3}));
    BOOST_TEST(sd.at("empty").values.empty());
    BOOST_TEST(sd.at("param").numel() == 3u);
    BOOST_TEST(sd.metadata.empty());
}

BOOST_AUTO_TEST_CASE(float16_and_bfloat16_converted_exactly) {
    const state_dict sd = read_pth(fixtures / "small_half.pth");
    check_matches(sd, expected()["small_half.pth"]);
    const auto& h = sd.at("half.weight");
    BOOST_TEST((h.stored_as == weight_dtype::float16));
    BOOST_TEST(h.values[0] == 65504.0f);
    BOOST_TEST(h.values[1] == 0.0f);
    BOOST_TEST(std::signbit(h.values[1]));
    BOOST_TEST(h.values[2] == std::ldexp(1.0f, -24));
    BOOST_TEST(h.values[3] == std::numeric_limits<float>::infinity());
    // half.t is the transpose of half.weight, sharing its storage
    const auto& ht = sd.at("half.t");
    for (std::size_t i = 0; i < 2; ++i) {
        for (std::size_t j = 0; j < 3; ++j) {
            BOOST_TEST(std::bit_cast<std::uint32_t>(ht.values[j * 2 + i]) ==
                       std::bit_cast<std::uint32_t>(h.values[i * 3 + j]));
        }
    }
    const auto& bf = sd.at("bf16.weight");
    BOOST_TEST((bf.stored_as == weight_dtype::bfloat16));
    BOOST_TEST(bf.values[0] == detail::bfloat16_to_float(0x7F62)); // 3e38 in bfloat16
    BOOST_TEST(bf.values[1] == -std::numeric_limits<float>::infinity());
    // bf16.view = b[1:5:2]: elements 1 and 3
    BOOST_TEST(sd.at("bf16.view").values[0] == bf.values[1]);
    BOOST_TEST(sd.at("bf16.view").values[1] == bf.values[3]);
}

BOOST_AUTO_TEST_CASE(lightning_checkpoint_state_dict_is_used) {
    // {'epoch': 3, 'state_dict': {...}, 'optimizer_states': [...int keys, int64 tensors...], ...}
    const state_dict sd = read_pth(fixtures / "lightning.pth");
    check_matches(sd, expected()["lightning.pth"]);
    BOOST_TEST(sd.entries().front().first == "unet.0.weight");
    BOOST_TEST((sd.at("unet.0.weight").shape == std::vector<std::size_t>{2, 1, 3, 3}));
    BOOST_TEST(sd.find("epoch") == nullptr);
}

BOOST_AUTO_TEST_CASE(torch2_layout_is_read) {
    // aligned records, byteorder 'little', .format_version, .storage_alignment, serialization_id
    check_matches(read_pth(fixtures / "small_v2.pth"), expected()["small.pth"]);
}

BOOST_AUTO_TEST_CASE(big_endian_file_is_refused) {
    const std::string message =
        io_error_message([] { (void)read_pth(fixtures / "small_v2_big.pth"); });
    BOOST_TEST(contains(message, "small_v2_big.pth"));
    BOOST_TEST(contains(message, "byteorder must be 'little', got 'big'"));
}

BOOST_AUTO_TEST_CASE(legacy_format_is_refused_with_the_way_out) {
    std::string legacy(reinterpret_cast<const char*>(detail::legacy_torch_magic.data()),
                       detail::legacy_torch_magic.size());
    legacy += ".\x80\x02}q\x00.";
    const std::string message = pth_error(legacy);
    BOOST_TEST(contains(message, "hostile.pth"));
    BOOST_TEST(contains(message, "legacy (pre-1.6"));
    BOOST_TEST(contains(message, "torch>=1.6"));
    BOOST_TEST(contains(message, "torch.save(sd, path)"));
    scratch_dir dir("xrestore_test_pth_");
    spill(dir / "old.pth", legacy);
    BOOST_TEST(contains(io_error_message([&] { (void)load_weights(dir / "old.pth"); }),
                        "torch.save(sd, path)"));
}

BOOST_AUTO_TEST_CASE(not_a_zip_file) {
    BOOST_TEST(contains(pth_error("GIF89a\x01\x00\x01\x00"), "not a PyTorch zip file"));
    BOOST_TEST(contains(pth_error(""), "not a PyTorch zip file"));
    BOOST_TEST(contains(pth_error(std::string("\x80\x02}q\x00.", 6)), "not a PyTorch zip file"));
    // a zip, but not torch's: no folder, no data.pkl
    BOOST_TEST(contains(pth_error(make_zip({{"readme.txt", "hi"}})), "must be inside a folder"));
    BOOST_TEST(contains(pth_error(make_zip({{"a/readme.txt", "hi"}})), "no 'a/data.pkl'"));
    BOOST_TEST(contains(pth_error(make_zip({})), "the archive is empty"));
}

BOOST_AUTO_TEST_CASE(missing_file_and_directory) {
    const fs::path missing = fixtures / "no_such_file.pth";
    const std::string message = io_error_message([&] { (void)read_pth(missing); });
    BOOST_TEST(contains(message, missing.string()));
    BOOST_TEST(contains(message, "no such file"));
    BOOST_TEST(contains(io_error_message([&] { (void)read_pth(fixtures); }), "directory"));
    BOOST_TEST(contains(io_error_message([&] { (void)load_weights(missing); }), "no such file"));
}

BOOST_AUTO_TEST_CASE(the_shipped_denoiser_weights) {
    // the project's model (models/, written by xrestore train-denoiser in PyTorch's zip format):
    // 24 tensors, 7,756,739 float32 values, and its JSON sidecar in the metadata; values checked
    // with torch.load
    const fs::path model = fs::path(XRESTORE_TEST_DIR) / ".." / "models" / "denoiser_unet_c32.pth";
    BOOST_TEST_REQUIRE(fs::exists(model), model << " is missing from the repository");
    const state_dict sd = load_weights(model);
    BOOST_TEST(sd.size() == 24u);
    std::size_t total = 0;
    for (const auto& [name, t] : sd.entries()) {
        total += t.values.size();
    }
    BOOST_TEST(total == 7'756'739u);
    const auto& bias = sd.at("up_conv.3.1.bias").values;
    BOOST_TEST_REQUIRE(bias.size() == 3u);
    BOOST_TEST(std::bit_cast<std::uint32_t>(bias[0]) == 3122641152U);
    BOOST_TEST(std::bit_cast<std::uint32_t>(bias[1]) == 3154619503U);
    BOOST_TEST(std::bit_cast<std::uint32_t>(bias[2]) == 3148352758U);
    const auto& w = sd.at("conv.layers.4.weight");
    BOOST_TEST((w.shape == std::vector<std::size_t>{512, 512, 3, 3}));
    BOOST_TEST(std::bit_cast<std::uint32_t>(w.values.back()) == 3155695930U);
    BOOST_TEST(sd.metadata.at("call") == "residual");
    BOOST_TEST(sd.metadata.at("chans") == "32");
    BOOST_TEST(sd.metadata.at("trained_sigma_range") == "[0.0,0.2]");
}

// ---- load_weights: dispatch on content and the JSON sidecar -----------------------------------

BOOST_AUTO_TEST_CASE(load_weights_dispatches_on_content) {
    scratch_dir dir("xrestore_test_pth_");
    // names say nothing: the content decides
    fs::copy_file(fixtures / "small.pth", dir / "weights.bin");
    fs::copy_file(fixtures / "small.safetensors", dir / "other.bin");
    check_matches(load_weights(dir / "weights.bin"), expected()["small.pth"]);
    const state_dict st = load_weights(dir / "other.bin");
    check_matches(st, expected()["small.pth"]);
    BOOST_TEST(st.metadata.at("format") == "pt");
    spill(dir / "junk.pth", "hello, world");
    const std::string message = io_error_message([&] { (void)load_weights(dir / "junk.pth"); });
    BOOST_TEST(contains(message, "junk.pth"));
    BOOST_TEST(contains(message, "PyTorch zip .pth"));
    BOOST_TEST(contains(message, "safetensors"));
    BOOST_TEST(contains(message, "68 65 6c 6c 6f")); // the first bytes it got
}

BOOST_AUTO_TEST_CASE(load_weights_reads_the_json_sidecar) {
    scratch_dir dir("xrestore_test_pth_");
    fs::copy_file(fixtures / "small.pth", dir / "denoiser_unet_c32.pth");
    spill(dir / "denoiser_unet_c32.json",
          R"({"architecture": "fastmri_unet", "chans": 32, "sigma": 0.5, "range": [0.0, 1.0],
              "blind": true})");
    const state_dict sd = load_weights(dir / "denoiser_unet_c32.pth");
    check_matches(sd, expected()["small.pth"]);
    BOOST_TEST(sd.metadata.size() == 5u);
    BOOST_TEST(sd.metadata.at("architecture") == "fastmri_unet");
    BOOST_TEST(sd.metadata.at("chans") == "32");
    BOOST_TEST(sd.metadata.at("sigma") == "0.5");
    BOOST_TEST(sd.metadata.at("range") == "[0.0,1.0]");
    BOOST_TEST(sd.metadata.at("blind") == "true");
    // read_pth alone ignores it
    BOOST_TEST(read_pth(dir / "denoiser_unet_c32.pth").metadata.empty());

    spill(dir / "denoiser_unet_c32.json", R"({"chans": 32,)");
    std::string message =
        io_error_message([&] { (void)load_weights(dir / "denoiser_unet_c32.pth"); });
    BOOST_TEST(contains(message, "denoiser_unet_c32.json"));
    BOOST_TEST(contains(message, "not valid JSON"));
    spill(dir / "denoiser_unet_c32.json", "[1, 2]");
    message = io_error_message([&] { (void)load_weights(dir / "denoiser_unet_c32.pth"); });
    BOOST_TEST(contains(message, "must hold a JSON object"));
}

BOOST_AUTO_TEST_CASE(load_weights_bounds_the_nesting_of_the_sidecar) {
    // a sidecar nested 100,000 levels deep overflowed the stack (dump() recurses per level)
    scratch_dir dir("xrestore_test_pth_");
    fs::copy_file(fixtures / "small.pth", dir / "w.pth");
    spill(dir / "w.json", R"({"call":"residual","note":)" + std::string(100000, '[') +
                              std::string(100000, ']') + "}");
    const std::string message = io_error_message([&] { (void)load_weights(dir / "w.pth"); });
    BOOST_TEST(contains(message, "load_weights: sidecar '" + (dir / "w.json").string() +
                                     "' must nest JSON at most 64 levels deep, got 100001"));
    // 64 levels are read, the value kept as its JSON text
    spill(dir / "w.json",
          R"({"call":"residual","note":)" + std::string(63, '[') + std::string(63, ']') + "}");
    const state_dict sd = load_weights(dir / "w.pth");
    BOOST_TEST(sd.metadata.at("call") == "residual");
    BOOST_TEST(sd.metadata.at("note") == std::string(63, '[') + std::string(63, ']'));
}

BOOST_AUTO_TEST_CASE(load_weights_says_a_safetensors_file_is_truncated) {
    // cut inside its JSON header: was "must be a PyTorch zip .pth or a safetensors file"
    scratch_dir dir("xrestore_test_pth_");
    const std::string bytes = slurp(fixtures / "small.safetensors");
    spill(dir / "cut.safetensors", bytes.substr(0, 100));
    const std::string message =
        io_error_message([&] { (void)load_weights(dir / "cut.safetensors"); });
    BOOST_TEST(contains(message, "cut.safetensors': is truncated: header length"), message);
    BOOST_TEST(!contains(message, "PyTorch zip"), message);
}

BOOST_AUTO_TEST_CASE(files_are_read_mapped_with_the_errors_of_the_bytes) {
    // read_pth and load_weights map the file: the same tensors as parse_pth on its bytes, and a
    // file cut short says what parse_pth says of the cut bytes (never a crash)
    scratch_dir dir("xrestore_test_pth_");
    const std::string bytes = slurp(fixtures / "small.pth");
    {
        const detail::mapped_file file(fixtures / "small.pth", "test");
        BOOST_TEST(file.mapped());
        BOOST_TEST_REQUIRE(file.bytes().size() == bytes.size());
        BOOST_TEST(std::equal(file.bytes().begin(), file.bytes().end(), as_bytes(bytes).begin()));
        // dropped pages read back the same bytes
        file.release(file.bytes());
        BOOST_TEST(std::equal(file.bytes().begin(), file.bytes().end(), as_bytes(bytes).begin()));
        // bytes that are not the file's (a tensor decoded into its own memory) are left alone
        std::vector<unsigned char> own(3 * 4096 + 5, 7);
        file.release(own);
        file.release(std::span<const unsigned char>(own).subspan(4000));
        BOOST_TEST(std::all_of(own.begin(), own.end(), [](unsigned char c) { return c == 7; }));
    }
    check_matches(read_pth(fixtures / "small.pth"), expected()["small.pth"]);
    check_matches(load_weights(fixtures / "small.pth"), expected()["small.pth"]);
    for (std::size_t n :
         {std::size_t{0}, std::size_t{3}, std::size_t{100}, bytes.size() / 2, bytes.size() - 1}) {
        spill(dir / "cut.pth", bytes.substr(0, n));
        const std::string want = io_error_message(
            [&] { (void)parse_pth(as_bytes(bytes.substr(0, n)), (dir / "cut.pth").string()); });
        BOOST_TEST(io_error_message([&] { (void)read_pth(dir / "cut.pth"); }) == want);
        BOOST_TEST(!io_error_message([&] { (void)load_weights(dir / "cut.pth"); }).empty());
    }
    // an empty file is read, not mapped
    spill(dir / "empty.pth", "");
    const detail::mapped_file empty(dir / "empty.pth", "test");
    BOOST_TEST(!empty.mapped());
    BOOST_TEST(empty.bytes().empty());
}

// ---- zip ---------------------------------------------------------------------------------------

BOOST_AUTO_TEST_CASE(crc32_known_value) {
    BOOST_TEST(detail::crc32(as_bytes("123456789")) == 0xCBF43926U);
    BOOST_TEST(detail::crc32(as_bytes("")) == 0U);
    // the 8-byte and the byte-wise paths agree with zlib's value for a longer input
    BOOST_TEST(detail::crc32(as_bytes("The quick brown fox jumps over the lazy dog")) ==
               0x414FA339U);
}

BOOST_AUTO_TEST_CASE(crc32_carry_less_and_table_paths_agree) {
    // every length 0..300 and some long ones, at every alignment mod 16: the carry-less path
    // (a 16-byte multiple of 64 bytes or more) and the table for the rest give one value
    static constexpr detail::crc32_table table;
    std::string text(70'000, '\0');
    std::uint32_t state = 12345;
    for (char& c : text) {
        state = state * 1664525U + 1013904223U;
        c = static_cast<char>(state >> 24);
    }
    const std::span<const unsigned char> all = as_bytes(text);
    for (std::size_t offset = 0; offset < 16; ++offset) {
        for (std::size_t n : {std::size_t{0}, std::size_t{1}, std::size_t{15}, std::size_t{63},
                              std::size_t{64}, std::size_t{65}, std::size_t{127}, std::size_t{128},
                              std::size_t{300}, std::size_t{4096}, std::size_t{65'537}}) {
            BOOST_TEST(detail::crc32(all.subspan(offset, n)) == table(all.subspan(offset, n)),
                       "offset " << offset << ", length " << n);
        }
    }
    for (std::size_t n = 0; n <= 300; ++n) {
        BOOST_TEST(detail::crc32(all.first(n)) == table(all.first(n)), "length " << n);
    }
    // a register carried on from earlier bytes
    BOOST_TEST(table(all.subspan(100, 200), ~table(all.first(100))) == table(all.first(300)));
}

BOOST_AUTO_TEST_CASE(crc32_pieces_combine_into_the_whole) {
    // crc32_combine(crc(A), crc(B), |B|) == crc(A B) for every split of a buffer; and crc32 of
    // 4 MiB or more (one piece per thread, combined) equals the table's value for 1 to 4 threads
    static constexpr detail::crc32_table table;
    std::string text((std::size_t{9} << 20) + 77, '\0');
    std::uint32_t state = 987;
    for (char& c : text) {
        state = state * 1664525U + 1013904223U;
        c = static_cast<char>(state >> 24);
    }
    const std::span<const unsigned char> all = as_bytes(text);
    const std::span<const unsigned char> small = all.first(1000);
    for (std::size_t split = 0; split <= small.size(); split += 37) {
        BOOST_TEST(detail::crc32_combine(table(small.first(split)), table(small.subspan(split)),
                                         small.size() - split) == table(small),
                   "split " << split);
    }
    static_assert(detail::crc32_shift(0) == 0x80000000U); // x^0
    static_assert(detail::crc32_combine(0, 0, 5) == 0);
#if defined(_OPENMP)
    const int threads_before = omp_get_max_threads();
#endif
    for (std::size_t n : {(std::size_t{4} << 20) - 1, std::size_t{4} << 20,
                          (std::size_t{4} << 20) + 13, text.size()}) {
        const std::uint32_t want = table(all.first(n));
        for (int threads = 1; threads <= 4; ++threads) {
#if defined(_OPENMP)
            omp_set_num_threads(threads);
#endif
            BOOST_TEST(detail::crc32(all.first(n)) == want,
                       "length " << n << ", threads " << threads);
        }
    }
#if defined(_OPENMP)
    omp_set_num_threads(threads_before);
#endif
}

BOOST_AUTO_TEST_CASE(zip64_central_directory_and_end_records) {
    // every size and offset in ZIP64 extra fields and end records, as torch writes large files
    const std::string pickle = state_dict_pickle({{"w", 2, {2, 3}, {3, 1}}}, 8);
    for (bool zip64 : {false, true}) {
        const state_dict sd = parse_pth(as_bytes(make_pth(pickle, float_bytes(8), zip64)), "z");
        BOOST_TEST(sd.at("w").values == (std::vector<float>{2, 3, 4, 5, 6, 7}),
                   boost::test_tools::per_element());
    }
}

BOOST_AUTO_TEST_CASE(strides_offsets_and_broadcasts_are_gathered) {
    // storage 0..11; a transposed 3 x 2 view at offset 1, a stride-0 broadcast, a 3-d permute
    const std::string pickle = state_dict_pickle({{"t", 1, {3, 2}, {1, 3}},
                                                  {"b", 4, {2, 3}, {0, 1}},
                                                  {"p", 0, {2, 2, 3}, {1, 6, 2}},
                                                  {"s", 11, {}, {}}},
                                                 12);
    const state_dict sd = parse_pth(as_bytes(make_pth(pickle, float_bytes(12))), "strides");
    BOOST_TEST(sd.at("t").values == (std::vector<float>{1, 4, 2, 5, 3, 6}),
               boost::test_tools::per_element());
    BOOST_TEST(sd.at("b").values == (std::vector<float>{4, 5, 6, 4, 5, 6}),
               boost::test_tools::per_element());
    BOOST_TEST(sd.at("p").values == (std::vector<float>{0, 2, 4, 6, 8, 10, 1, 3, 5, 7, 9, 11}),
               boost::test_tools::per_element());
    BOOST_TEST(sd.at("s").values == std::vector<float>{11}, boost::test_tools::per_element());
}

// ---- malformed files: always io_error, never a crash ------------------------------------------

BOOST_AUTO_TEST_CASE(truncated_at_every_offset) {
    const std::string bytes = slurp(fixtures / "small.pth");
    BOOST_TEST_REQUIRE(bytes.size() > 1000u);
    for (std::size_t n = 0; n < bytes.size(); ++n) {
        BOOST_CHECK_THROW((void)parse_pth(as_bytes(bytes.substr(0, n)), "cut.pth"), io_error);
    }
    // the pickle cut at every byte, inside a well-formed zip
    const small_parts parts = split_small();
    BOOST_TEST_REQUIRE(parts.pickle.size() > 500u);
    for (std::size_t n = 0; n < parts.pickle.size(); ++n) {
        BOOST_CHECK_THROW(
            (void)parse_pth(as_bytes(small_with_pickle(parts, parts.pickle.substr(0, n))), "cut"),
            io_error);
    }
    check_matches(parse_pth(as_bytes(small_with_pickle(parts, parts.pickle)), "whole"),
                  expected()["small.pth"]);
}

BOOST_AUTO_TEST_CASE(every_byte_corrupted_loads_or_throws_io_error) {
    // each byte of the pickle replaced (CRC fixed up by the zip writer) and each byte of the file
    // flipped: the result is a state_dict or an io_error, nothing else
    const small_parts parts = split_small();
    std::size_t refused = 0;
    for (std::size_t i = 0; i < parts.pickle.size(); ++i) {
        for (unsigned char value : {0x00, 0x01, 0x7F, 0xFF}) {
            std::string pickle = parts.pickle;
            pickle[i] = static_cast<char>(value);
            try {
                (void)parse_pth(as_bytes(small_with_pickle(parts, pickle)), "flipped");
            } catch (const io_error&) {
                ++refused;
            }
        }
    }
    BOOST_TEST(refused > parts.pickle.size());
    const std::string bytes = slurp(fixtures / "small.pth");
    for (std::size_t i = 0; i < bytes.size(); ++i) {
        std::string copy = bytes;
        copy[i] = static_cast<char>(copy[i] ^ 0x41);
        try {
            (void)parse_pth(as_bytes(copy), "flipped");
        } catch (const io_error&) {
        }
    }
}

BOOST_AUTO_TEST_CASE(unknown_globals_are_refused) {
    // os.system('ls') as protocol 0/2 GLOBAL and as STACK_GLOBAL; eval; a REDUCE on a storage class
    const std::string calls[] = {
        "\x80\x02"
        "cposix\nsystem\nq\x00X\x02\x00\x00\x00lsq\x01\x85q\x02Rq\x03."s,
        "cos\nsystem\n(S'ls'\ntR."s,
        "\x80\x02"
        "cbuiltins\neval\nX\x01\x00\x00\x00"
        "1\x85R."s,
        "\x80\x04\x8c\x08"
        "builtins\x8c\x04"
        "exec\x93X\x01\x00\x00\x00"
        "1\x85R."s,
        "\x80\x02"
        "ctorch\nload\n."s,
    };
    const std::string names[] = {"posix.system", "os.system", "builtins.eval", "builtins.exec",
                                 "torch.load"};
    for (std::size_t k = 0; k < 5; ++k) {
        const std::string message = pth_error(make_pth(calls[k], ""));
        BOOST_TEST(contains(message, "refused global '" + names[k] + "'"), message);
        BOOST_TEST(contains(message, "archive/data.pkl"));
    }
    pickle_writer reduce_storage;
    reduce_storage.global("torch", "FloatStorage").op(')').op('R');
    BOOST_TEST(contains(pth_error(make_pth(reduce_storage.done(), "")), "REDUCE is only accepted"));
    // BUILD on anything but an OrderedDict
    pickle_writer build_list;
    build_list.op(']').op('}').op('b');
    BOOST_TEST(contains(pth_error(make_pth(build_list.done(), "")), "BUILD is only accepted"));
    // an unsupported opcode (INST)
    BOOST_TEST(
        contains(pth_error(make_pth("\x80\x02iposix\nsystem\n."s, "")), "unsupported opcode 0x69"));
}

BOOST_AUTO_TEST_CASE(storage_offsets_and_sizes_are_checked) {
    const std::string storage = float_bytes(4);
    // offset 3 + 2 elements reaches element 4 of a 4-element storage
    BOOST_TEST(contains(pth_error(make_pth(state_dict_pickle({{"w", 3, {2}, {1}}}, 4), storage)),
                        "tensor 'w' (storage offset 3, size [2], stride [1]) reaches past the 4"));
    BOOST_TEST(contains(pth_error(make_pth(state_dict_pickle({{"w", 9, {}, {}}}, 4), storage)),
                        "reaches past"));
    BOOST_TEST(
        contains(pth_error(make_pth(state_dict_pickle({{"w", 0, {2, 2}, {3, 1}}}, 4), storage)),
                 "reaches past"));
    BOOST_TEST(contains(pth_error(make_pth(state_dict_pickle({{"w", -1, {2}, {1}}}, 4), storage)),
                        "storage offset must be non-negative, got -1"));
    BOOST_TEST(contains(pth_error(make_pth(state_dict_pickle({{"w", 0, {-2}, {1}}}, 4), storage)),
                        "must be non-negative"));
    BOOST_TEST(contains(pth_error(make_pth(state_dict_pickle({{"w", 0, {2}, {-1}}}, 4), storage)),
                        "must be non-negative"));
    // a storage of 10 floats in a 16-byte entry
    BOOST_TEST(
        contains(pth_error(make_pth(state_dict_pickle({{"w", 0, {2}, {1}}}, 10), storage)),
                 "storage '0' declares 10 elements of 4 bytes, but its entry holds only 16"));
    BOOST_TEST(
        contains(pth_error(make_pth(state_dict_pickle({{"w", 0, {2}, {1}}}, 4, "HalfStorage"),
                                    float_bytes(1))),
                 "declares 4 elements of 2 bytes, but its entry holds only 4"));
    // the storage entry is missing
    BOOST_TEST(contains(
        pth_error(make_zip({{"archive/data.pkl", state_dict_pickle({{"w", 0, {2}, {1}}}, 4)}})),
        "storage entry 'archive/data/0' is missing"));
}

BOOST_AUTO_TEST_CASE(huge_declared_sizes) {
    const std::string storage = float_bytes(4);
    const std::int64_t big = std::int64_t{1} << 62;
    auto error = [&](std::vector<std::int64_t> shape, std::vector<std::int64_t> stride,
                     std::int64_t numel = 4) {
        return pth_error(make_pth(state_dict_pickle({{"w", 0, shape, stride}}, numel), storage));
    };
    BOOST_TEST(contains(error({big, 4}, {1, 1}), "more than 2^64 elements"));
    BOOST_TEST(contains(error({big}, {1}), "reaches past"));
    BOOST_TEST(contains(error({5}, {big}), "reaches past"));
    BOOST_TEST(contains(error({big}, {0}), "views repeating elements are accepted up to"));
    BOOST_TEST(contains(error({2}, {1}, big), "declares 4611686018427387904 elements"));
    BOOST_TEST(contains(error({2}, {1}, -1), "size must be non-negative"));
    // more dimensions than any tensor has
    BOOST_TEST(contains(error(std::vector<std::int64_t>(100, 1), std::vector<std::int64_t>(100, 1)),
                        "at most 64 dimensions"));
    // a string longer than the input
    pickle_writer p;
    p.out += "X\xff\xff\xff\x7f";
    BOOST_TEST(contains(pth_error(make_pth(p.done(), "")), "truncated"));
}

BOOST_AUTO_TEST_CASE(duplicate_keys_and_non_tensor_values) {
    const std::string storage = float_bytes(4);
    BOOST_TEST(contains(
        pth_error(make_pth(
            state_dict_pickle({{"w", 0, {2}, {1}}, {"b", 0, {1}, {1}}, {"w", 1, {2}, {1}}}, 4),
            storage)),
        "duplicate dict key a string ('w')"));
    pickle_writer p;
    p.ordered_dict().op('(').str("w").tensor("FloatStorage", "0", 4, 0, {2}, {1});
    p.str("epoch").integer(3).op('u');
    const std::string message = pth_error(make_pth(p.done(), storage));
    BOOST_TEST(contains(message, "value of 'epoch' must be a tensor, got an int (3)"));
    // int keys, a top-level list, a non-float tensor
    pickle_writer q;
    q.op('}').integer(7).tensor("FloatStorage", "0", 4, 0, {2}, {1}).op('s');
    BOOST_TEST(contains(pth_error(make_pth(q.done(), storage)), "keys must be strings"));
    pickle_writer r;
    r.op(']');
    BOOST_TEST(contains(pth_error(make_pth(r.done(), storage)), "must be a dict of tensors"));
    // an integer tensor is no error: it is kept exactly, as int64 (test_checkpoints.cpp has more)
    const state_dict longs = parse_pth(
        as_bytes(make_pth(state_dict_pickle({{"n", 0, {2}, {1}}}, 2, "LongStorage"), storage)),
        "longs");
    BOOST_TEST(longs.at("n").is_integer());
    BOOST_TEST(longs.at("n").integers ==
                   (std::vector<std::int64_t>{0x3F80000000000000, 0x4040000040000000}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(compressed_and_corrupt_entries) {
    const std::string pickle = state_dict_pickle({{"w", 0, {2}, {1}}}, 4);
    const std::string storage = float_bytes(4);
    std::string message =
        pth_error(make_zip({{"archive/data.pkl", pickle}, {"archive/data/0", storage, 8}}));
    BOOST_TEST(contains(message, "entry 'archive/data/0' must be STORED"));
    BOOST_TEST(contains(message, "DEFLATED"));
    message = pth_error(make_zip({{"archive/data.pkl", pickle, 8}, {"archive/data/0", storage}}));
    BOOST_TEST(contains(message, "entry 'archive/data.pkl' must be STORED"));
    message =
        pth_error(make_zip({{"archive/data.pkl", pickle}, {"archive/data/0", storage, 0, true}}));
    BOOST_TEST(contains(message, "entry 'archive/data/0' is corrupt: CRC-32"));
    message = pth_error(make_zip({{"archive/data.pkl", pickle, 0, true}}));
    BOOST_TEST(contains(message, "entry 'archive/data.pkl' is corrupt"));
    // an entry whose data runs past the end: the central directory says 4 GB - 2
    std::string bytes = make_pth(pickle, storage);
    const std::size_t cd = bytes.find("PK\x01\x02"s); // archive/data.pkl
    BOOST_TEST_REQUIRE(cd != std::string::npos);
    bytes[cd + 20] = bytes[cd + 24] = '\xfe';
    bytes[cd + 21] = bytes[cd + 25] = '\xff';
    bytes[cd + 22] = bytes[cd + 26] = '\xff';
    bytes[cd + 23] = bytes[cd + 27] = '\xff';
    BOOST_TEST(contains(pth_error(bytes), "must lie inside the file"));
    // twice the same entry name
    BOOST_TEST(
        contains(pth_error(make_zip({{"archive/data.pkl", pickle}, {"archive/data.pkl", pickle}})),
                 "appears twice"));
    // a central directory claiming more entries than it can hold
    bytes = make_pth(pickle, storage);
    bytes[bytes.size() - 14] = bytes[bytes.size() - 12] = '\x40'; // EOCD + 8, + 10
    BOOST_TEST(contains(pth_error(bytes), "too small for 64 entries"));
}

BOOST_AUTO_TEST_CASE(deep_nesting_is_an_error_not_a_stack_overflow) {
    // 100000 nested MARK + EMPTY_LIST: the MARK depth limit
    std::string marks("\x80\x02", 2);
    for (int k = 0; k < 100000; ++k) {
        marks += "(]";
    }
    BOOST_TEST(contains(pth_error(make_pth(marks + ".", "")), "MARKs deep"));
    // 60000 lists each appended into the one below: nested 60000 deep, built without recursion
    std::string lists("\x80\x02", 2);
    lists.append(60000, ']');
    lists.append(59999, 'a');
    BOOST_TEST(contains(pth_error(make_pth(lists + ".", "")), "must be a dict of tensors"));
    // a 1-tuple wrapped 100000 times; with a lower limit, more objects than accepted
    std::string tuples("\x80\x02)", 3);
    tuples.append(100000, '\x85');
    tuples += '.';
    BOOST_TEST(contains(pth_error(make_pth(tuples, "")), "must be a dict of tensors"));
    BOOST_TEST(contains(io_error_message([&] {
                            (void)detail::unpickle(as_bytes(tuples), "t", {.max_objects = 1000});
                        }),
                        "must create at most 1000 objects"));
    // more than 2^16 objects on the stack
    std::string wide("\x80\x02", 2);
    wide.append((1 << 16) + 1, 'N');
    BOOST_TEST(contains(pth_error(make_pth(wide + ".", "")), "stack must hold at most"));
    // a list that contains itself
    pickle_writer cycle;
    cycle.op(']').op('q').op('\x00').op('h').op('\x00').op('a');
    BOOST_TEST(contains(pth_error(make_pth(cycle.done(), "")), "must be a dict of tensors"));
}

BOOST_AUTO_TEST_SUITE_END() // test_pth
