#pragma once
/// @file font.hpp
/// Text for reports: a TrueType or OpenType font file read through stb_truetype, its metrics at
/// a size in pixels per em, the pen positions of a line of UTF-8 text (advance widths and pair
/// kerning from the font) and its anti-aliased glyph coverage. Rendering is deterministic: the
/// same text, font file and position give the same coverage, run after run.
///
/// @code
/// const xrestore::report::font& f = xrestore::report::load_font(); // the default font file
/// const double w = f.text_width("PSNR (dB)", 16.0);                // pixels at 16 px per em
/// f.rasterise("PSNR (dB)", 16.0, 10.0, 30.0, [](long x, long y, float ink) { /* ... */ });
/// @endcode
///
/// Which file: the path given (an options field of the plots), else the environment variable
/// XRESTORE_REPORT_FONT, else the file CMake found at build time (the xrestore::report target
/// defines XRESTORE_REPORT_FONT; by default Debian's fonts-dejavu-core DejaVuSans.ttf). A missing
/// file, or one that is not a font, is an io_error naming the path and where it came from.

#include "xrestore/core/error.hpp"

#include <stb_truetype.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <string_view>
#include <system_error>
#include <utility>
#include <vector>

namespace xrestore::report {

/// The code points of UTF-8 text. Each byte that does not start a well-formed sequence (a stray
/// continuation byte, a truncated, overlong or surrogate sequence, a value above U+10FFFF)
/// becomes U+FFFD, the replacement character.
inline std::u32string decode_utf8(std::string_view text) {
    std::u32string out;
    out.reserve(text.size());
    std::size_t i = 0;
    while (i < text.size()) {
        const auto lead = static_cast<unsigned char>(text[i]);
        std::size_t length = 0;
        char32_t code = 0;
        char32_t least = 0; // smallest code point this length may carry (no overlong forms)
        if (lead < 0x80u) {
            out.push_back(lead);
            ++i;
            continue;
        }
        if ((lead & 0xE0u) == 0xC0u) {
            length = 2;
            code = lead & 0x1Fu;
            least = 0x80;
        } else if ((lead & 0xF0u) == 0xE0u) {
            length = 3;
            code = lead & 0x0Fu;
            least = 0x800;
        } else if ((lead & 0xF8u) == 0xF0u) {
            length = 4;
            code = lead & 0x07u;
            least = 0x10000;
        }
        bool ok = length > 0 && i + length <= text.size();
        for (std::size_t k = 1; ok && k < length; ++k) {
            const auto next = static_cast<unsigned char>(text[i + k]);
            ok = (next & 0xC0u) == 0x80u;
            code = (code << 6) | (next & 0x3Fu);
        }
        ok = ok && code >= least && code <= 0x10FFFF && !(code >= 0xD800 && code <= 0xDFFF);
        if (ok) {
            out.push_back(code);
            i += length;
        } else {
            out.push_back(0xFFFD);
            ++i;
        }
    }
    return out;
}

/// One glyph of a laid-out line: the font's glyph index and the pen's x position in pixels
/// from the start of the line (kerning with the glyph before already applied).
struct placed_glyph {
    int glyph = 0;
    double x = 0.0;
};

/// A line of text laid out at a size: its glyphs and the pen's travel (the advance width).
struct text_run {
    std::vector<placed_glyph> glyphs;
    double width = 0.0; ///< pen position after the last glyph, in pixels
};

/// Pixel rectangle [left, right) x [top, bottom); empty when right <= left or bottom <= top.
struct pixel_box {
    long left = 0;
    long top = 0;
    long right = 0;
    long bottom = 0;
    bool empty() const noexcept { return right <= left || bottom <= top; }
};

/// A font file in memory. Sizes are in pixels per em (CSS's font-size in px); y grows downwards
/// and the baseline of a line is at y = 0 of its glyphs. Control characters (below U+0020, and
/// U+007F) and characters the font lacks show as the font's missing-glyph box.
class font {
public:
    /// Read and check the font file at `path`; `origin` says where the path came from, for
    /// the error messages ("options.font", "XRESTORE_REPORT_FONT"...). io_error when the file
    /// cannot be read or is not a TrueType / OpenType font (collections: the first font).
    explicit font(const std::filesystem::path& path, std::string_view origin = "path")
        : path_(path) {
        constexpr const char* where = "font";
        const std::string described =
            xrestore::detail::concat("the font file '", path.string(), "' (", origin, ")");
        std::error_code ec;
        if (!std::filesystem::is_regular_file(path, ec)) {
            throw io_error(xrestore::detail::concat(
                where, ": ", described, " must be an existing font file, got ",
                std::filesystem::exists(path, ec) ? "something that is not a file" : "no file"));
        }
        std::ifstream in(path, std::ios::binary);
        bytes_.assign(std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>());
        if (!in && !in.eof()) {
            throw io_error(xrestore::detail::concat(where, ": ", described,
                                                    " must be readable, got a read error"));
        }
        const int offset = bytes_.size() >= 12 && looks_like_font()
                               ? stbtt_GetFontOffsetForIndex(bytes_.data(), 0)
                               : -1;
        if (offset < 0 || stbtt_InitFont(&info_, bytes_.data(), offset) == 0 ||
            stbtt_FindGlyphIndex(&info_, 'H') == 0) {
            throw io_error(xrestore::detail::concat(
                where, ": ", described,
                " must be a TrueType or OpenType font (with Latin letters), got ", bytes_.size(),
                " bytes that are not one"));
        }
        int ascent = 0;
        int descent = 0;
        int line_gap = 0;
        stbtt_GetFontVMetrics(&info_, &ascent, &descent, &line_gap);
        ascent_ = ascent;
        descent_ = -descent;
        line_gap_ = line_gap;
        int x0 = 0;
        int y0 = 0;
        int x1 = 0;
        int y1 = 0;
        cap_height_ = stbtt_GetCodepointBox(&info_, 'H', &x0, &y0, &x1, &y1) != 0
                          ? y1
                          : static_cast<int>(0.7 * ascent);
    }

    font(const font&) = delete;
    font& operator=(const font&) = delete;

    /// The file the font was read from.
    const std::filesystem::path& path() const noexcept { return path_; }

    /// Pixels per font unit at `size` pixels per em.
    double scale(double size) const {
        return static_cast<double>(
            stbtt_ScaleForMappingEmToPixels(&info_, static_cast<float>(size)));
    }
    /// Height of the tallest glyphs above the baseline (the font's ascender), in pixels.
    double ascent(double size) const { return ascent_ * scale(size); }
    /// Depth of the lowest glyphs below the baseline (the font's descender, positive).
    double descent(double size) const { return descent_ * scale(size); }
    /// Baseline-to-baseline distance of stacked lines: ascent + descent + the font's line gap.
    double line_height(double size) const { return (ascent_ + descent_ + line_gap_) * scale(size); }
    /// Height of a capital letter ('H') above the baseline.
    double cap_height(double size) const { return cap_height_ * scale(size); }

    /// The glyph shown for code point `c` (0, the missing-glyph box, for control characters and
    /// characters the font lacks).
    int glyph_of(char32_t c) const {
        if (c < 0x20 || c == 0x7F) {
            return 0;
        }
        return stbtt_FindGlyphIndex(&info_, static_cast<int>(c));
    }

    /// The glyphs of one line of UTF-8 text and their pen positions at `size`: each glyph
    /// advances the pen by its advance width, plus the kerning of the pair it forms with the
    /// next glyph.
    text_run layout(std::string_view text, double size) const {
        const double k = scale(size);
        text_run run;
        int previous = -1;
        int pen = 0; // in font units: exact sums
        for (char32_t c : decode_utf8(text)) {
            const int g = glyph_of(c);
            if (previous >= 0) {
                pen += stbtt_GetGlyphKernAdvance(&info_, previous, g);
            }
            run.glyphs.push_back({g, pen * k});
            int advance = 0;
            int bearing = 0;
            stbtt_GetGlyphHMetrics(&info_, g, &advance, &bearing);
            pen += advance;
            previous = g;
        }
        run.width = pen * k;
        return run;
    }

    /// Width in pixels of `text` at `size`: the pen's travel over the line (advances + kerning).
    double text_width(std::string_view text, double size) const { return layout(text, size).width; }

    /// The pixels that `text` at `size`, its pen starting at (x, baseline), can ink: the union of
    /// the glyphs' bitmap boxes (empty for no ink, e.g. only spaces).
    pixel_box ink_box(std::string_view text, double size, double x, double baseline) const {
        pixel_box box{0, 0, 0, 0};
        bool any = false;
        for_each_glyph(
            text, size, x, baseline,
            [&](int, long gx, long gy, float, float, int x0, int y0, int x1, int y1) {
                if (x1 <= x0 || y1 <= y0) {
                    return;
                }
                const pixel_box g{gx + x0, gy + y0, gx + x1, gy + y1};
                box = any ? pixel_box{std::min(box.left, g.left), std::min(box.top, g.top),
                                      std::max(box.right, g.right), std::max(box.bottom, g.bottom)}
                          : g;
                any = true;
            });
        return box;
    }

    /// Anti-aliased coverage of `text` at `size` with its pen starting at (x, baseline): calls
    /// put(px, py, coverage) for each pixel a glyph covers, coverage in (0, 1] (the exact area
    /// stb_truetype's rasteriser finds, in steps of 1/255). Glyphs are placed with sub-pixel
    /// precision; where two glyphs touch the same pixel, put is called for each.
    template <class Put>
    void rasterise(std::string_view text, double size, double x, double baseline, Put&& put) const {
        const auto k = static_cast<float>(scale(size));
        std::vector<unsigned char> bitmap;
        for_each_glyph(
            text, size, x, baseline,
            [&](int g, long gx, long gy, float fx, float fy, int x0, int y0, int x1, int y1) {
                const int w = x1 - x0;
                const int h = y1 - y0;
                if (w <= 0 || h <= 0) {
                    return;
                }
                bitmap.assign(static_cast<std::size_t>(w) * static_cast<std::size_t>(h), 0);
                stbtt_MakeGlyphBitmapSubpixel(&info_, bitmap.data(), w, h, w, k, k, fx, fy, g);
                for (int r = 0; r < h; ++r) {
                    for (int q = 0; q < w; ++q) {
                        const unsigned char v = bitmap[static_cast<std::size_t>(r * w + q)];
                        if (v > 0) {
                            put(gx + x0 + q, gy + y0 + r, static_cast<float>(v) / 255.0f);
                        }
                    }
                }
            });
    }

private:
    /// The sfnt version tags stb_truetype reads: TrueType 1.0, 'true', OpenType CFF 'OTTO' and
    /// collections 'ttcf'.
    bool looks_like_font() const {
        const std::string_view tag(reinterpret_cast<const char*>(bytes_.data()), 4);
        return tag == std::string_view("\0\1\0\0", 4) || tag == "true" || tag == "OTTO" ||
               tag == "ttcf";
    }

    /// f(glyph, gx, gy, fx, fy, x0, y0, x1, y1) per glyph: the pen at whole pixel (gx, gy) plus the
    /// sub-pixel shift (fx, fy) in [0, 1), and the glyph's bitmap box relative to (gx, gy).
    template <class F>
    void for_each_glyph(std::string_view text, double size, double x, double baseline,
                        F&& f) const {
        const auto k = static_cast<float>(scale(size));
        const double row = std::floor(baseline);
        const auto fy = static_cast<float>(baseline - row);
        for (const placed_glyph& p : layout(text, size).glyphs) {
            const double pen = x + p.x;
            const double column = std::floor(pen);
            const auto fx = static_cast<float>(pen - column);
            int x0 = 0;
            int y0 = 0;
            int x1 = 0;
            int y1 = 0;
            stbtt_GetGlyphBitmapBoxSubpixel(&info_, p.glyph, k, k, fx, fy, &x0, &y0, &x1, &y1);
            f(p.glyph, static_cast<long>(column), static_cast<long>(row), fx, fy, x0, y0, x1, y1);
        }
    }

    std::filesystem::path path_;
    std::vector<unsigned char> bytes_;
    stbtt_fontinfo info_{};
    double ascent_ = 0.0;
    double descent_ = 0.0;
    double line_gap_ = 0.0;
    double cap_height_ = 0.0;
};

/// The environment variable that overrides the build's default font file at run time.
inline constexpr const char* font_environment_variable = "XRESTORE_REPORT_FONT";

/// The font file to use and where its path came from: `requested` when not empty
/// ("options.font"), else the environment variable XRESTORE_REPORT_FONT when set and not empty,
/// else the build's default (the XRESTORE_REPORT_FONT definition of the xrestore::report target).
/// io_error when none of the three gives a path.
inline std::pair<std::filesystem::path, std::string>
font_path(const std::filesystem::path& requested = {}) {
    if (!requested.empty()) {
        return {requested, "options.font"};
    }
    const char* from_environment = std::getenv(font_environment_variable);
    if (from_environment != nullptr && *from_environment != '\0') {
        return {from_environment,
                xrestore::detail::concat("the environment variable ", font_environment_variable)};
    }
#ifdef XRESTORE_REPORT_FONT
    return {XRESTORE_REPORT_FONT, "the build's default font"};
#else
    throw io_error(xrestore::detail::concat(
        "font: a font file must be given (options.font, the environment variable ",
        font_environment_variable, ", or CMake's XRESTORE_REPORT_FONT when building), got none: ",
        "this build found no font (install fonts-dejavu-core)"));
#endif
}

/// The font at font_path(requested), read once per path and kept for the program's life
/// (thread-safe). io_error as for font's constructor and font_path.
inline const font& load_font(const std::filesystem::path& requested = {}) {
    static std::mutex guard;
    static std::map<std::filesystem::path, std::unique_ptr<const font>> loaded;
    const auto [path, origin] = font_path(requested);
    const std::lock_guard<std::mutex> lock(guard);
    auto found = loaded.find(path);
    if (found == loaded.end()) {
        found = loaded.emplace(path, std::make_unique<const font>(path, origin)).first;
    }
    return *found->second;
}

} // namespace xrestore::report
