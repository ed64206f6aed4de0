// libFuzzer target: xrestore::parse_pth (zip reader + restricted unpickler + tensor gathering),
// then xrestore::nn::unet::from_state_dict on every state_dict it accepts, then one forward pass
// of the net it builds on a small input its depth accepts (when the net is small). Every input
// also takes the loading path of mapped_weights (float32 tensors viewed in place, the net built
// by from_mapped_weights, the packers checking the 3x3 weights as they read them), with a 3x3
// method chosen by the input's size, and must get the same answers: the same error or success
// from both readings, the same tensors bit for bit, both nets built or both refused, the same
// outputs bit for bit. An input that
// starts with '{' is a weights sidecar instead (the JSON beside a .pth that load_weights reads):
// it goes to xrestore::detail::parse_weights_sidecar.
//
// Contract checked: on any input each call returns or throws a type derived from xrestore::error.
// Any other exception is printed and turned into an abort, which libFuzzer reports as a crash;
// sanitizer reports, hangs and memory blow-ups are caught by libFuzzer itself.
//
// The input is a whole .pth file. A custom mutator keeps mutated archives readable: half of the
// time it unpacks a valid archive, mutates one entry (data.pkl most often) and packs it again
// with correct sizes, offsets and CRC-32s; otherwise it mutates the raw bytes and then fixes
// whatever CRC-32s it can, so mutations are not all stopped by the CRC check.
//
// Build: see tools/dev/run_fuzzers.sh.

#include <xrestore/core/error.hpp>
#include <xrestore/io/pth.hpp>
#include <xrestore/io/weights.hpp>
#include <xrestore/io/zip_archive.hpp>
#include <xrestore/nn/unet.hpp>

#include "fuzz_support.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <map>
#include <optional>
#include <random>
#include <span>
#include <string>
#include <string_view>
#include <typeinfo>
#include <utility>
#include <vector>

extern "C" size_t LLVMFuzzerMutate(uint8_t* data, size_t size, size_t max_size);

namespace {

using xrestore_fuzz::contract_violation;
using xrestore_fuzz::fail;

/// The state_dict of the mapped loading path (xrestore::mapped_weights, what load_unet_denoiser
/// and the CLI use): the same bytes read with float32 tensors viewed in place. Releasing does
/// nothing here (the bytes are libFuzzer's buffer, not a mapped file).
struct borrowed_weights {
    xrestore::state_dict sd;
    xrestore::state_dict& dict() { return sd; }
    void release(xrestore::weight_tensor&) const {}
    void release(std::span<const float>) const {}
};

/// Build the net from both readings with the same 3x3 method (from_state_dict and
/// from_mapped_weights: both must accept or both refuse), then run both once on a small input
/// their depth accepts, (2 << p) + a rows and (1 << p) + b columns, a and b in 0..3 taken from
/// `salt` (the file size; odd sizes exercise the padding): the outputs must agree bit for bit.
void run_unet(const xrestore::state_dict& sd, borrowed_weights& borrowed, unsigned salt) {
    static constexpr std::array<xrestore::nn::conv3x3_method, 4> methods{
        xrestore::nn::conv3x3_method::automatic, xrestore::nn::conv3x3_method::direct,
        xrestore::nn::conv3x3_method::winograd_2x2, xrestore::nn::conv3x3_method::winograd_4x4};
    const auto method = methods[(salt >> 4) & 3U];
    std::optional<xrestore::nn::unet> copied;
    std::optional<xrestore::nn::unet> mapped;
    std::string copied_error = "none";
    std::string mapped_error = "none";
    try {
        copied.emplace(xrestore::nn::unet::from_state_dict(sd, method));
    } catch (const xrestore::error& e) {
        copied_error = e.what();
    }
    try {
        mapped.emplace(xrestore::nn::unet::from_mapped_weights(borrowed, method));
    } catch (const xrestore::error& e) {
        mapped_error = e.what();
    }
    if (copied.has_value() != mapped.has_value()) {
        fail("from_state_dict and from_mapped_weights disagree: error '" + copied_error +
             "' against '" + mapped_error + "'");
    }
    if (!copied) {
        return;
    }
    const auto& cfg = copied->config();
    if (cfg.in_chans != mapped->config().in_chans || cfg.out_chans != mapped->config().out_chans ||
        cfg.chans != mapped->config().chans ||
        cfg.num_pool_layers != mapped->config().num_pool_layers) {
        fail("from_state_dict and from_mapped_weights built different configurations");
    }
    // forward only on nets whose cost stays small (a hostile file may declare a wide one)
    std::size_t weights = 0;
    for (const auto& [name, t] : sd.entries()) {
        weights += t.values.size();
    }
    if (weights > (std::size_t{1} << 20) || cfg.num_pool_layers > 6 || cfg.in_chans > 64) {
        return;
    }
    const std::size_t h = (std::size_t{2} << cfg.num_pool_layers) + (salt & 3U);
    const std::size_t w = (std::size_t{1} << cfg.num_pool_layers) + ((salt >> 2) & 3U);
    xrestore::tensor<4> x = xt::zeros<float>({std::size_t{1}, cfg.in_chans, h, w});
    for (std::size_t i = 0; i < x.size(); ++i) {
        x.data()[i] = static_cast<float>(i % 7) * 0.125F;
    }
    const xrestore::tensor<4> y = copied->forward(x);
    if (y.shape()[0] != 1 || y.shape()[1] != cfg.out_chans || y.shape()[2] != h ||
        y.shape()[3] != w) {
        fail("unet forward returned a wrong shape");
    }
    const xrestore::tensor<4> z = mapped->forward(x);
    if (z.shape() != y.shape() || std::memcmp(y.data(), z.data(), y.size() * sizeof(float)) != 0) {
        fail("the nets built from the copied and the borrowed readings give different outputs");
    }
    for (std::size_t i = 0; i < y.size(); ++i) {
        if (!std::isfinite(y.data()[i])) {
            // finite weights and input: a non-finite output is worth a look, not a contract
            // violation (large weights may overflow), so only say it
            static bool said = false;
            if (!said) {
                std::fprintf(stderr, "==FUZZ== note: unet output has a non-finite value\n");
                said = true;
            }
            break;
        }
    }
}

// ---- zip helpers for the custom mutator (harness code, not under test) ----

void put16(std::vector<uint8_t>& out, uint32_t v) {
    out.push_back(static_cast<uint8_t>(v));
    out.push_back(static_cast<uint8_t>(v >> 8));
}
void put32(std::vector<uint8_t>& out, uint32_t v) {
    put16(out, v & 0xFFFFU);
    put16(out, v >> 16);
}
uint32_t get(const uint8_t* p, std::size_t width) {
    uint32_t v = 0;
    for (std::size_t k = 0; k < width; ++k) {
        v |= static_cast<uint32_t>(p[k]) << (8 * k);
    }
    return v;
}
void set32(uint8_t* p, uint32_t v) {
    for (std::size_t k = 0; k < 4; ++k) {
        p[k] = static_cast<uint8_t>(v >> (8 * k));
    }
}

/// A STORED zip of `entries` (no ZIP64, no extras), as torch would write it modulo alignment.
std::vector<uint8_t>
pack_zip(const std::vector<std::pair<std::string, std::vector<uint8_t>>>& entries) {
    std::vector<uint8_t> out;
    std::vector<uint8_t> central;
    for (const auto& [name, data] : entries) {
        const auto offset = static_cast<uint32_t>(out.size());
        const uint32_t crc = xrestore::detail::crc32(std::span<const uint8_t>(data));
        const auto size = static_cast<uint32_t>(data.size());
        put32(out, 0x04034b50U);
        put16(out, 20);
        put16(out, 0);
        put16(out, 0);
        put16(out, 0);
        put16(out, 0);
        put32(out, crc);
        put32(out, size);
        put32(out, size);
        put16(out, static_cast<uint32_t>(name.size()));
        put16(out, 0);
        out.insert(out.end(), name.begin(), name.end());
        out.insert(out.end(), data.begin(), data.end());
        put32(central, 0x02014b50U);
        put16(central, 20);
        put16(central, 20);
        put16(central, 0);
        put16(central, 0);
        put16(central, 0);
        put16(central, 0);
        put32(central, crc);
        put32(central, size);
        put32(central, size);
        put16(central, static_cast<uint32_t>(name.size()));
        put16(central, 0);
        put16(central, 0);
        put16(central, 0);
        put16(central, 0);
        put32(central, 0);
        put32(central, offset);
        central.insert(central.end(), name.begin(), name.end());
    }
    const auto cd_offset = static_cast<uint32_t>(out.size());
    out.insert(out.end(), central.begin(), central.end());
    put32(out, 0x06054b50U);
    put16(out, 0);
    put16(out, 0);
    put16(out, static_cast<uint32_t>(entries.size()));
    put16(out, static_cast<uint32_t>(entries.size()));
    put32(out, static_cast<uint32_t>(central.size()));
    put32(out, cd_offset);
    put16(out, 0);
    return out;
}

/// Structure-aware mutation: unpack, mutate one entry's bytes, repack. False if `data` is not
/// an archive the reader accepts or the result would not fit in max_size.
bool mutate_entry(uint8_t* data, std::size_t& size, std::size_t max_size, std::minstd_rand& rng) {
    std::vector<std::pair<std::string, std::vector<uint8_t>>> entries;
    try {
        const xrestore::detail::zip_archive zip(std::span<const uint8_t>(data, size), "mutator");
        for (const auto& e : zip.entries()) {
            const auto bytes = zip.read(e);
            entries.emplace_back(e.name, std::vector<uint8_t>(bytes.begin(), bytes.end()));
        }
    } catch (const xrestore::error&) {
        return false;
    }
    if (entries.empty()) {
        return false;
    }
    // data.pkl half of the time, otherwise any entry
    std::size_t pick = rng() % entries.size();
    if (rng() % 2 == 0) {
        for (std::size_t i = 0; i < entries.size(); ++i) {
            const std::string& n = entries[i].first;
            if (n.size() >= 8 && n.compare(n.size() - 8, 8, "data.pkl") == 0) {
                pick = i;
            }
        }
    }
    std::vector<uint8_t>& bytes = entries[pick].second;
    const std::size_t length = bytes.size();
    const std::size_t cap = length + 64 + length / 4;
    bytes.resize(cap);
    bytes.resize(LLVMFuzzerMutate(bytes.data(), length, cap));
    const std::vector<uint8_t> packed = pack_zip(entries);
    if (packed.size() > max_size) {
        return false;
    }
    std::memcpy(data, packed.data(), packed.size());
    size = packed.size();
    return true;
}

/// After a raw mutation: recompute the CRC-32 of every entry whose central header, local header
/// and data can still be found (no ZIP64), in both headers.
void fix_crcs(uint8_t* data, std::size_t size) {
    if (size < 22) {
        return;
    }
    const std::size_t lowest = size - 22 > 65535 ? size - 22 - 65535 : 0;
    std::size_t eocd = size;
    for (std::size_t at = size - 22 + 1; at-- > lowest;) {
        if (get(data + at, 4) == 0x06054b50U) {
            eocd = at;
            break;
        }
    }
    if (eocd == size) {
        return;
    }
    const uint64_t count = get(data + eocd + 10, 2);
    uint64_t at = get(data + eocd + 16, 4);
    for (uint64_t i = 0; i < count; ++i) {
        if (at + 46 > size || get(data + at, 4) != 0x02014b50U) {
            return;
        }
        const uint64_t csize = get(data + at + 20, 4);
        const uint64_t local = get(data + at + 42, 4);
        if (local + 30 <= size && get(data + local, 4) == 0x04034b50U) {
            const uint64_t begin =
                local + 30 + get(data + local + 26, 2) + get(data + local + 28, 2);
            if (begin <= size && csize <= size - begin) {
                const uint32_t crc = xrestore::detail::crc32(
                    std::span<const uint8_t>(data + begin, static_cast<std::size_t>(csize)));
                set32(data + at + 16, crc);
                set32(data + local + 14, crc);
            }
        }
        at += 46 + get(data + at + 28, 2) + get(data + at + 30, 2) + get(data + at + 32, 2);
    }
}

} // namespace

extern "C" size_t LLVMFuzzerCustomMutator(uint8_t* data, size_t size, size_t max_size,
                                          unsigned int seed) {
    std::minstd_rand rng(seed);
    if (rng() % 2 == 0 && mutate_entry(data, size, max_size, rng)) {
        return size;
    }
    size = LLVMFuzzerMutate(data, size, max_size);
    if (rng() % 8 != 0) { // leave some CRC mismatches for the reader to find
        fix_crcs(data, size);
    }
    return size;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        if (size > 0 && data[0] == '{') {
            std::map<std::string, std::string> metadata;
            xrestore::detail::parse_weights_sidecar(
                std::string_view(reinterpret_cast<const char*>(data), size), "fuzz.json", metadata);
            return 0;
        }
        const std::span<const unsigned char> bytes(data, size);
        // the copied reading (load_weights) and the borrowed one (mapped_weights) must agree
        auto readings = xrestore_fuzz::read_both(
            [&] { return xrestore::parse_pth(bytes, "fuzz.pth"); },
            [&] {
                return xrestore::detail::parse_pth_releasing(
                    bytes, "fuzz.pth", [](std::span<const unsigned char>) {}, true);
            });
        if (!readings) {
            return 0;
        }
        const xrestore::state_dict& sd = readings->first;
        borrowed_weights borrowed{std::move(readings->second)};
        run_unet(sd, borrowed, static_cast<unsigned>(size));
    } catch (const xrestore::error&) {
    } catch (const std::exception& e) {
        contract_violation(e.what(), typeid(e).name());
    } catch (...) {
        contract_violation("(not a std::exception)", "unknown");
    }
    return 0;
}
