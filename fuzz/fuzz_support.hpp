#pragma once
// What the fuzz targets share: how they report a broken contract, and the check that a weights
// file read copied (load_weights) and borrowed (mapped_weights, float32 tensors viewed in place)
// gives the same answer.

#include <xrestore/core/error.hpp>
#include <xrestore/io/state_dict.hpp>

#include <cstddef>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <optional>
#include <span>
#include <string>
#include <utility>

namespace xrestore_fuzz {

/// An exception that is not an xrestore::error escaped: print it, abort (libFuzzer: a crash).
[[noreturn]] inline void contract_violation(const char* what, const char* type) {
    std::fprintf(stderr, "\n==FUZZ== contract violation: uncaught non-xrestore exception %s: %s\n",
                 type, what);
    std::fflush(stderr);
    std::abort();
}

/// A checked property failed: print it, abort.
[[noreturn]] inline void fail(const std::string& what) {
    std::fprintf(stderr, "\n==FUZZ== %s\n", what.c_str());
    std::fflush(stderr);
    std::abort();
}

/// The copied and the borrowed readings hold the same entries in the same order (names, shapes,
/// types, values bit for bit wherever they are held), metadata and notes; the copied one views
/// nothing.
inline void compare_readings(const xrestore::state_dict& copied,
                             const xrestore::state_dict& borrowed) {
    if (copied.size() != borrowed.size() || copied.metadata != borrowed.metadata ||
        copied.notes != borrowed.notes) {
        fail("the borrowed reading differs from the copied one in its entries, metadata or notes");
    }
    for (std::size_t k = 0; k < copied.size(); ++k) {
        const auto& [name, t] = copied.entries()[k];
        const auto& [other_name, u] = borrowed.entries()[k];
        const std::span<const float> a = t.floats();
        const std::span<const float> b = u.floats();
        if (name != other_name || t.shape != u.shape || t.stored_as != u.stored_as ||
            t.integers != u.integers || a.size() != b.size() ||
            (!a.empty() && std::memcmp(a.data(), b.data(), a.size_bytes()) != 0)) {
            fail("entry " + std::to_string(k) + " ('" + name +
                 "') differs between the copied and the borrowed reading");
        }
        if (!t.mapped.empty()) {
            fail("the copied reading of tensor '" + name + "' views the input");
        }
    }
}

/// Read one input both ways (`copied()` and `borrowed()` return a state_dict or throw an
/// xrestore::error): both must fail with the same message, or both succeed with the same
/// readings (compare_readings). The two readings, or nothing when both failed.
template <class Copied, class Borrowed>
std::optional<std::pair<xrestore::state_dict, xrestore::state_dict>>
read_both(const Copied& copied, const Borrowed& borrowed) {
    std::optional<xrestore::state_dict> a;
    std::optional<xrestore::state_dict> b;
    std::string a_error = "none";
    std::string b_error = "none";
    try {
        a.emplace(copied());
    } catch (const xrestore::error& e) {
        a_error = e.what();
    }
    try {
        b.emplace(borrowed());
    } catch (const xrestore::error& e) {
        b_error = e.what();
    }
    if (a.has_value() != b.has_value() || a_error != b_error) {
        fail("the copied and the borrowed readings disagree: error '" + a_error + "' against '" +
             b_error + "'");
    }
    if (!a) {
        return std::nullopt;
    }
    compare_readings(*a, *b);
    return std::pair{std::move(*a), std::move(*b)};
}

} // namespace xrestore_fuzz
