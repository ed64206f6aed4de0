// libFuzzer target: xrestore::parse_safetensors (8-byte length, JSON header through nlohmann,
// offsets and dtype checks, float16/bfloat16 decoding).
//
// Contract checked: on any input it returns or throws a type derived from xrestore::error. Any
// other exception (a nlohmann::json exception escaping, std::length_error, std::bad_alloc...) is
// printed and turned into an abort, which libFuzzer reports as a crash; sanitizer reports, hangs
// and memory blow-ups are caught by libFuzzer itself. A returned state_dict is checked too: every
// tensor must hold exactly as many values as its shape says.
//
// Build: see tools/dev/run_fuzzers.sh.

#include <xrestore/core/error.hpp>
#include <xrestore/io/safetensors.hpp>

#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <span>
#include <typeinfo>

namespace {

[[noreturn]] void contract_violation(const char* what, const char* type) {
    std::fprintf(stderr, "\n==FUZZ== contract violation: uncaught non-xrestore exception %s: %s\n",
                 type, what);
    std::fflush(stderr);
    std::abort();
}

void check(const xrestore::state_dict& sd) {
    for (const auto& [name, t] : sd.entries()) {
        std::size_t n = 1;
        for (std::size_t e : t.shape) {
            n *= e; // no overflow: the reader checked the byte count
        }
        if (n != t.values.size()) {
            std::fprintf(stderr, "==FUZZ== tensor '%s' holds %zu values for %zu elements\n",
                         name.c_str(), t.values.size(), n);
            std::abort();
        }
    }
}

} // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
    try {
        check(xrestore::parse_safetensors(std::span<const unsigned char>(data, size),
                                          "fuzz.safetensors"));
    } catch (const xrestore::error&) {
    } catch (const std::exception& e) {
        contract_violation(e.what(), typeid(e).name());
    } catch (...) {
        contract_violation("(not a std::exception)", "unknown");
    }
    return 0;
}
