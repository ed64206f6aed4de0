#pragma once
/// @file json.hpp
/// Reading JSON that comes from files (weights sidecars, safetensors headers, compare grids) with
/// a bound on its nesting depth, checked by a cheap scan before anything is parsed: nlohmann's
/// parser is iterative, but dump(), comparisons and the code that walks the result recurse once
/// per level, so a file nested 100,000 levels deep would overflow the stack later.
///
/// @code
/// nlohmann::json grid = xrestore::read_json_file("grid.json", "compare: grid file");
/// nlohmann::json side = xrestore::parse_json(text, "load_weights: sidecar", "w.json", 8);
/// std::size_t depth = xrestore::json_depth(R"({"a": [1, [2]]})");          // 3
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/io/npy.hpp"

#include <nlohmann/json.hpp>

#include <algorithm>
#include <cstddef>
#include <filesystem>
#include <string>
#include <string_view>

namespace xrestore {

/// The deepest nesting parse_json and read_json_file accept by default: far more than any file
/// the project reads needs (a sidecar or a grid nests 2 to 4 levels).
inline constexpr std::size_t json_max_depth = 64;

/// Deepest nesting of [ and { in a JSON text, counted outside strings (escapes skipped); a
/// malformed text gives a number too, and the parser then says what is wrong with it.
inline std::size_t json_depth(std::string_view text) {
    std::size_t depth = 0;
    std::size_t deepest = 0;
    bool in_string = false;
    for (std::size_t i = 0; i < text.size(); ++i) {
        const char c = text[i];
        if (in_string) {
            if (c == '\\') {
                ++i;
            } else if (c == '"') {
                in_string = false;
            }
        } else if (c == '"') {
            in_string = true;
        } else if (c == '[' || c == '{') {
            deepest = std::max(deepest, ++depth);
        } else if ((c == ']' || c == '}') && depth > 0) {
            --depth;
        }
    }
    return deepest;
}

/// Parse `text`, the content of `source`, after checking that it nests at most `max_depth`
/// levels. `what` says who reads it and what it is ("compare: grid file"); io_error
/// "<what> '<source>' must nest JSON at most 64 levels deep, got 100001" for a deeper text, and
/// "<what> '<source>' is not valid JSON: ..." for a malformed one.
inline nlohmann::json parse_json(std::string_view text, std::string_view what,
                                 std::string_view source, std::size_t max_depth = json_max_depth) {
    const std::size_t depth = json_depth(text);
    if (depth > max_depth) {
        throw io_error(detail::concat(what, " '", source, "' must nest JSON at most ", max_depth,
                                      " levels deep, got ", depth));
    }
    try {
        return nlohmann::json::parse(text.begin(), text.end());
    } catch (const nlohmann::json::exception& e) {
        throw io_error(detail::concat(what, " '", source, "' is not valid JSON: ", e.what()));
    }
}

/// Read and parse the JSON file `path` (see parse_json); a missing or unreadable file throws
/// io_error naming it.
inline nlohmann::json read_json_file(const std::filesystem::path& path, std::string_view what,
                                     std::size_t max_depth = json_max_depth) {
    const std::string text = detail::read_whole_file(path, what);
    return parse_json(text, what, path.string(), max_depth);
}

} // namespace xrestore
