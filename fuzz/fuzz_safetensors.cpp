// libFuzzer target: xrestore::parse_safetensors (8-byte length, JSON header through nlohmann,
// offsets and dtype checks, float16/bfloat16 decoding).
//
// Contract checked: on any input it returns or throws a type derived from xrestore::error. Any
// other exception (a nlohmann::json exception escaping, std::length_error, std::bad_alloc...) is
// printed and turned into an abort, which libFuzzer reports as a crash; sanitizer reports, hangs
// and memory blow-ups are caught by libFuzzer itself. A returned state_dict is checked too: every
// tensor must hold exactly as many values as its shape says. Every input is also read as
// mapped_weights reads it (float32 tensors at aligned offsets viewed in place): both readings
// must give the same error or the same tensors, bit for bit.
//
// Build: see tools/dev/run_fuzzers.sh.

#include <xrestore/core/error.hpp>
#include <xrestore/io/safetensors.hpp>

#include "fuzz_support.hpp"

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <exception>
#include <optional>
#include <span>
#include <string>
#include <typeinfo>

namespace {

using xrestore_fuzz::contract_violation;
using xrestore_fuzz::fail;

void check(const xrestore::state_dict& sd) {
    for (const auto& [name, t] : sd.entries()) {
        std::size_t n = 1;
        for (std::size_t e : t.shape) {
            n *= e; // no overflow: the reader checked the byte count
        }
        const std::size_t held = t.is_integer() ? t.integers.size() : t.floats().size();
        if (n != held) {
            fail("tensor '" + name + "' holds " + std::to_string(held) + " values for " +
                 std::to_string(n) + " elements");
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        const std::span<const unsigned char> bytes(data, size);
        const auto readings = xrestore_fuzz::read_both(
            [&] { return xrestore::parse_safetensors(bytes, "fuzz.safetensors"); },
            [&] {
                return xrestore::detail::parse_safetensors_releasing(
                    bytes, "fuzz.safetensors", [](std::span<const unsigned char>) {}, true);
            });
        if (readings) {
            check(readings->first);
            check(readings->second);
        }
    } catch (const xrestore::error&) {
    } catch (const std::exception& e) {
        contract_violation(e.what(), typeid(e).name());
    } catch (...) {
        contract_violation("(not a std::exception)", "unknown");
    }
    return 0;
}
