#pragma once
/// @file plot.hpp
/// Small self-contained raster graphics for reports: an RGB canvas with antialiased lines, text in
/// a built-in 5 x 7 font and pasted images; line plots (linear or log10 y axis), grouped bar
/// charts and side-by-side image panels with captions, all written as PNG through write_png.
///
/// @code
/// xrestore::plot_series admm{.label = "PnP-ADMM", .x = iterations, .y = psnr_values};
/// xrestore::write_line_plot("psnr.png", {admm}, {.title = "PSNR", .x_label = "iteration"});
/// xrestore::write_panel("panel.png", {{"blurred", y}, {"restored", x}});
/// @endcode
///
/// Coordinates are pixels, x to the right and y down, (0, 0) the top-left pixel; the centre of a
/// pixel has integer coordinates. Text uses the font of detail/bitmap_font.hpp: printable ASCII
/// only; each non-ASCII character (a UTF-8 sequence) shows as one '?', and control characters
/// (newlines included) as a box.

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/report/detail/bitmap_font.hpp"
#include "xrestore/io/image.hpp"

#include <algorithm>
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <filesystem>
#include <limits>
#include <optional>
#include <ostream>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace xrestore {

/// A colour: red, green and blue components in [0, 1].
struct rgb {
    float r;
    float g;
    float b;
    friend bool operator==(const rgb&, const rgb&) = default;
};

/// Prints "rgb(r, g, b)".
inline std::ostream& operator<<(std::ostream& out, const rgb& c) {
    return out << "rgb(" << c.r << ", " << c.g << ", " << c.b << ")";
}

/// Colour `index` of the default series palette, the colour-blind-safe set of Okabe and Ito
/// without its yellow (too faint on white): blue, vermillion, bluish green, reddish purple,
/// orange, sky blue, black; it repeats after seven.
inline rgb palette_color(std::size_t index) {
    static constexpr std::array<rgb, 7> colours = {{
        {0.0f / 255, 114.0f / 255, 178.0f / 255},
        {213.0f / 255, 94.0f / 255, 0.0f / 255},
        {0.0f / 255, 158.0f / 255, 115.0f / 255},
        {204.0f / 255, 121.0f / 255, 167.0f / 255},
        {230.0f / 255, 159.0f / 255, 0.0f / 255},
        {86.0f / 255, 180.0f / 255, 233.0f / 255},
        {0.0f, 0.0f, 0.0f},
    }};
    return colours[index % colours.size()];
}

class canvas;

namespace detail {

inline bool is_unit_colour(const rgb& c) {
    auto unit = [](float v) { return v >= 0.0f && v <= 1.0f; }; // false for NaN
    return unit(c.r) && unit(c.g) && unit(c.b);
}

inline void check_colour(const rgb& c, std::string_view where, std::string_view argument) {
    require(is_unit_colour(c), where, argument, "a colour with components in [0, 1]", c);
}

inline void check_text_scale(int scale, std::string_view where, std::string_view argument) {
    require(scale >= 1 && scale <= 64, where, argument, "in [1, 64]", scale);
}

/// `v` rounded down to a long, clamped to [lo, hi] first (NaN gives lo).
inline long clamp_to_long(double v, long lo, long hi) {
    if (!(v > static_cast<double>(lo))) {
        return lo;
    }
    if (v >= static_cast<double>(hi)) {
        return hi;
    }
    return static_cast<long>(std::floor(v));
}

/// The characters the font shows for `text`: ASCII bytes as they are, each non-ASCII character
/// (a byte >= 0x80 and the continuation bytes 0x80..0xBF right after it) as one '?'.
inline std::string displayed_characters(std::string_view text) {
    std::string shown;
    shown.reserve(text.size());
    bool in_sequence = false;
    for (char ch : text) {
        const auto byte = static_cast<unsigned char>(ch);
        if (byte < 0x80) {
            shown += ch;
            in_sequence = false;
        } else if ((byte & 0xC0u) == 0x80u && in_sequence) {
            continue; // continuation of the character already shown as '?'
        } else {
            shown += '?';
            in_sequence = true;
        }
    }
    return shown;
}

/// Clip the segment a + t (b - a), t in [0, 1], to the rectangle [x0, x1] x [y0, y1]
/// (Liang-Barsky). False when nothing is left; otherwise [t0, t1] is the part kept.
inline bool clip_segment(double ax, double ay, double bx, double by, double x0, double y0,
                         double x1, double y1, double& t0, double& t1) {
    t0 = 0.0;
    t1 = 1.0;
    const double dx = bx - ax;
    const double dy = by - ay;
    // keep the t with p t <= q
    auto edge = [&](double p, double q) {
        if (p == 0.0) {
            return q >= 0.0;
        }
        const double r = q / p;
        if (p < 0.0) {
            if (r > t1) {
                return false;
            }
            t0 = std::max(t0, r);
        } else {
            if (r < t0) {
                return false;
            }
            t1 = std::min(t1, r);
        }
        return true;
    };
    return edge(-dx, ax - x0) && edge(dx, x1 - ax) && edge(-dy, ay - y0) && edge(dy, y1 - ay);
}

/// How a stroke ends: a half disc beyond each end point, or cut square at the end points.
enum class stroke_cap { round, butt };

/// Ink coverage in [0, 1] of strokes over the rectangle [x0, x1) x [y0, y1), combined by maximum
/// (so the joints of a polyline are not inked twice), then composited onto a canvas in one pass.
/// A pixel whose centre lies within thickness/2 - 1/2 of a stroke is fully covered; coverage
/// falls linearly to 0 at thickness/2 + 1/2.
class stroke_mask {
public:
    stroke_mask(long x0, long y0, long x1, long y1)
        : x0_(x0), y0_(y0), width_(std::max(0L, x1 - x0)), height_(std::max(0L, y1 - y0)),
          cover_(static_cast<std::size_t>(width_ * height_), 0.0f) {}

    long left() const noexcept { return x0_; }
    long top() const noexcept { return y0_; }
    long right() const noexcept { return x0_ + width_; }
    long bottom() const noexcept { return y0_ + height_; }

    /// Coverage of pixel (x, y); 0 outside the rectangle.
    float at(long x, long y) const noexcept {
        if (x < x0_ || y < y0_ || x >= right() || y >= bottom()) {
            return 0.0f;
        }
        return cover_[index(x, y)];
    }

    /// A segment of width `thickness` between the points a and b (a disc when a == b and the
    /// caps are round; nothing when a == b and the caps are butt).
    void add_segment(double ax, double ay, double bx, double by, double thickness,
                     stroke_cap cap = stroke_cap::round) {
        const double reach = thickness / 2.0 + 0.5; // coverage is 0 beyond this distance
        if (width_ == 0 || height_ == 0 || std::max(ay, by) + reach < static_cast<double>(y0_) ||
            std::min(ay, by) - reach > static_cast<double>(bottom() - 1) ||
            std::max(ax, bx) + reach < static_cast<double>(x0_) ||
            std::min(ax, bx) - reach > static_cast<double>(right() - 1)) {
            return;
        }
        const double dx = bx - ax;
        const double dy = by - ay;
        const double length2 = dx * dx + dy * dy;
        const double length = std::sqrt(length2);
        if (length2 == 0.0 && cap == stroke_cap::butt) {
            return;
        }
        const long row0 = clamp_to_long(std::ceil(std::min(ay, by) - reach), y0_, bottom() - 1);
        const long row1 = clamp_to_long(std::floor(std::max(ay, by) + reach), y0_, bottom() - 1);
        for (long py = row0; py <= row1; ++py) {
            const auto row = static_cast<double>(py);
            // only the part of the segment within `reach` rows of this one can ink it
            double t_lo = 0.0;
            double t_hi = 1.0;
            if (dy != 0.0) {
                double t1 = (row - reach - ay) / dy;
                double t2 = (row + reach - ay) / dy;
                if (t1 > t2) {
                    std::swap(t1, t2);
                }
                t_lo = std::max(0.0, t1);
                t_hi = std::min(1.0, t2);
                if (t_lo > t_hi) {
                    continue;
                }
            } else if (std::abs(row - ay) > reach) {
                continue;
            }
            const double xa = std::min(ax + t_lo * dx, ax + t_hi * dx);
            const double xb = std::max(ax + t_lo * dx, ax + t_hi * dx);
            if (xb + reach < static_cast<double>(x0_) ||
                xa - reach > static_cast<double>(right() - 1)) {
                continue;
            }
            const long col0 = clamp_to_long(std::ceil(xa - reach), x0_, right() - 1);
            const long col1 = clamp_to_long(std::floor(xb + reach), x0_, right() - 1);
            for (long px = col0; px <= col1; ++px) {
                const double qx = static_cast<double>(px) - ax;
                const double qy = row - ay;
                double coverage = 0.0;
                if (length2 == 0.0) {
                    coverage = reach - std::hypot(qx, qy);
                } else if (cap == stroke_cap::round) {
                    // distance to the nearest point of the segment
                    const double t = std::clamp((qx * dx + qy * dy) / length2, 0.0, 1.0);
                    coverage = reach - std::hypot(qx - t * dx, qy - t * dy);
                } else {
                    // distance across the segment, and how far beyond an end point along it
                    const double t = (qx * dx + qy * dy) / length2;
                    const double across = std::abs(qx * dy - qy * dx) / length;
                    const double beyond = std::max(-t, t - 1.0) * length;
                    coverage =
                        std::clamp(reach - across, 0.0, 1.0) * std::clamp(0.5 - beyond, 0.0, 1.0);
                }
                if (coverage > 0.0) {
                    float& c = cover_[index(px, py)];
                    c = std::max(c, static_cast<float>(std::min(coverage, 1.0)));
                }
            }
        }
    }

    /// The dashes of the segment a-b: `dash` pixels inked, `gap` pixels not, with a at
    /// position `phase` of the pattern. Returns the pattern position at b, so that a polyline's
    /// pattern runs on from one segment to the next.
    double add_dashed_segment(double ax, double ay, double bx, double by, double thickness,
                              double dash, double gap, double phase) {
        const double period = dash + gap;
        const double length = std::hypot(bx - ax, by - ay);
        const double start = std::fmod(phase, period);
        const double end_phase = std::fmod(start + length, period);
        // only the part near the rectangle is dashed (a far-off segment would take forever)
        const double margin = thickness / 2.0 + 2.0;
        double t0 = 0.0;
        double t1 = 1.0;
        if (length == 0.0 || !clip_segment(ax, ay, bx, by, static_cast<double>(x0_) - margin,
                                           static_cast<double>(y0_) - margin,
                                           static_cast<double>(right() - 1) + margin,
                                           static_cast<double>(bottom() - 1) + margin, t0, t1)) {
            return end_phase;
        }
        const double ux = (bx - ax) / length;
        const double uy = (by - ay) / length;
        // positions along the pattern: the kept part covers [from, to]; dash k is
        // [k period, k period + dash]
        const double from = start + t0 * length;
        const double to = start + t1 * length;
        const auto k0 = static_cast<long long>(std::floor(from / period));
        const auto k1 = static_cast<long long>(std::floor(to / period));
        for (long long k = k0; k <= k1; ++k) {
            const double on = std::max(static_cast<double>(k) * period, from);
            const double off = std::min(static_cast<double>(k) * period + dash, to);
            if (off > on) {
                const double s0 = on - start;
                const double s1 = off - start;
                add_segment(ax + s0 * ux, ay + s0 * uy, ax + s1 * ux, ay + s1 * uy, thickness,
                            stroke_cap::butt);
            }
        }
        return end_phase;
    }

    /// A polyline through (xs[i], ys[i]); a point with a non-finite coordinate breaks it, and a
    /// point with no finite neighbour is drawn as a dot. Dashes are 4 t + 2 pixels long with
    /// gaps of 3 t (t the thickness) when `dashed`.
    void add_polyline(std::span<const double> xs, std::span<const double> ys, double thickness,
                      bool dashed) {
        const double dash = 4.0 * thickness + 2.0;
        const double gap = 3.0 * thickness;
        // segments are clipped to a little more than the rectangle first
        const double margin = thickness / 2.0 + 2.0;
        const double cx0 = static_cast<double>(x0_) - margin;
        const double cy0 = static_cast<double>(y0_) - margin;
        const double cx1 = static_cast<double>(right() - 1) + margin;
        const double cy1 = static_cast<double>(bottom() - 1) + margin;
        double phase = 0.0;
        std::size_t run = 0; // finite points in the current piece
        double px = 0.0;
        double py = 0.0;
        const std::size_t n = std::min(xs.size(), ys.size());
        for (std::size_t i = 0; i <= n; ++i) {
            const bool finite = i < n && std::isfinite(xs[i]) && std::isfinite(ys[i]);
            if (!finite) {
                if (run == 1) {
                    add_segment(px, py, px, py, thickness, stroke_cap::round);
                }
                run = 0;
                phase = 0.0;
                continue;
            }
            const double qx = xs[i];
            const double qy = ys[i];
            if (run > 0) {
                if (dashed) {
                    phase = add_dashed_segment(px, py, qx, qy, thickness, dash, gap, phase);
                } else {
                    double t0 = 0.0;
                    double t1 = 1.0;
                    if (clip_segment(px, py, qx, qy, cx0, cy0, cx1, cy1, t0, t1)) {
                        add_segment(px + t0 * (qx - px), py + t0 * (qy - py), px + t1 * (qx - px),
                                    py + t1 * (qy - py), thickness, stroke_cap::round);
                    }
                }
            }
            px = qx;
            py = qy;
            ++run;
        }
    }

    /// Coverage 1 over [x0, x1) x [y0, y1) (clipped to the rectangle).
    void fill(long x0, long y0, long x1, long y1) {
        for (long y = std::max(y0, y0_); y < std::min(y1, bottom()); ++y) {
            for (long x = std::max(x0, x0_); x < std::min(x1, right()); ++x) {
                cover_[index(x, y)] = 1.0f;
            }
        }
    }

    /// Sum of the coverage over [x0, x1) x [y0, y1).
    double ink(long x0, long y0, long x1, long y1) const {
        double sum = 0.0;
        for (long y = std::max(y0, y0_); y < std::min(y1, bottom()); ++y) {
            for (long x = std::max(x0, x0_); x < std::min(x1, right()); ++x) {
                sum += static_cast<double>(cover_[index(x, y)]);
            }
        }
        return sum;
    }

    /// This mask becomes the pixel-wise maximum of itself and `other` (same rectangle).
    void merge(const stroke_mask& other) {
        for (long y = y0_; y < bottom(); ++y) {
            for (long x = x0_; x < right(); ++x) {
                float& c = cover_[index(x, y)];
                c = std::max(c, other.at(x, y));
            }
        }
    }

private:
    std::size_t index(long x, long y) const noexcept {
        return static_cast<std::size_t>((y - y0_) * width_ + (x - x0_));
    }

    long x0_;
    long y0_;
    long width_;
    long height_;
    std::vector<float> cover_;
};

/// Blend colour `c` into `target` with each pixel's coverage in `mask` as its opacity.
inline void composite(canvas& target, const stroke_mask& mask, const rgb& c);

} // namespace detail

/// An RGB raster: a 3 x H x W image, filled with the background colour (white by default) on
/// creation. Drawing outside the canvas is clipped silently; colours must have components in
/// [0, 1] (value_error otherwise).
class canvas {
public:
    /// A width x height canvas (each >= 1, at most 2^28 pixels) filled with `background`.
    canvas(std::size_t width, std::size_t height, rgb background = {1, 1, 1}) {
        constexpr const char* where = "canvas";
        require(width >= 1, where, "width", ">= 1", width);
        require(height >= 1, where, "height", ">= 1", height);
        require(width <= detail::max_image_pixels / height, where, "width * height",
                detail::concat("at most ", detail::max_image_pixels, " pixels"),
                detail::concat(width, " x ", height));
        detail::check_colour(background, where, "background");
        pixels_ = image({3, height, width});
        fill_rect(0, 0, static_cast<long>(width), static_cast<long>(height), background);
    }

    std::size_t width() const noexcept { return pixels_.shape()[2]; }
    std::size_t height() const noexcept { return pixels_.shape()[1]; }

    /// The colour of pixel (x, y); value_error outside the canvas.
    rgb pixel(std::size_t x, std::size_t y) const {
        if (x >= width() || y >= height()) {
            throw value_error(detail::concat("canvas::pixel: (x, y) must lie on the ", width(),
                                             " x ", height(), " canvas, got (", x, ", ", y, ")"));
        }
        return {pixels_(0, y, x), pixels_(1, y, x), pixels_(2, y, x)};
    }

    /// Set pixel (x, y) to `c`; nothing happens outside the canvas.
    void set_pixel(long x, long y, rgb c) {
        detail::check_colour(c, "canvas::set_pixel", "c");
        put(x, y, c);
    }

    /// Mix `c` into pixel (x, y) with opacity alpha in [0, 1]: p = alpha c + (1 - alpha) p.
    void blend_pixel(long x, long y, rgb c, double alpha) {
        detail::check_colour(c, "canvas::blend_pixel", "c");
        require(alpha >= 0.0 && alpha <= 1.0, "canvas::blend_pixel", "alpha", "in [0, 1]", alpha);
        blend(x, y, c, static_cast<float>(alpha));
    }

    /// Fill the half-open rectangle [x0, x1) x [y0, y1) with `c`: x1 and y1 are excluded, and
    /// nothing is drawn when x1 <= x0 or y1 <= y0.
    void fill_rect(long x0, long y0, long x1, long y1, rgb c) {
        detail::check_colour(c, "canvas::fill_rect", "c");
        fill(x0, y0, x1, y1, c);
    }

    /// The 1-pixel outline of the half-open rectangle [x0, x1) x [y0, y1): its first and last
    /// rows and columns.
    void draw_rect(long x0, long y0, long x1, long y1, rgb c) {
        detail::check_colour(c, "canvas::draw_rect", "c");
        if (x1 <= x0 || y1 <= y0) {
            return;
        }
        fill(x0, y0, x1, y0 + 1, c);
        fill(x0, y1 - 1, x1, y1, c);
        fill(x0, y0, x0 + 1, y1, c);
        fill(x1 - 1, y0, x1, y1, c);
    }

    /// An antialiased line with round ends between the points (x0, y0) and (x1, y1), `thickness`
    /// pixels wide (finite, > 0).
    void draw_line(double x0, double y0, double x1, double y1, rgb c, double thickness = 1.0) {
        check_stroke("canvas::draw_line", {x0, y0, x1, y1}, c, thickness);
        detail::stroke_mask mask = mask_around(x0, y0, x1, y1, thickness);
        mask.add_segment(x0, y0, x1, y1, thickness, detail::stroke_cap::round);
        detail::composite(*this, mask, c);
    }

    /// A dashed line: `dash` pixels drawn (> 0), `gap` pixels skipped (>= 0), starting with a
    /// dash at (x0, y0); dashes have square ends.
    void draw_dashed_line(double x0, double y0, double x1, double y1, rgb c, double thickness = 1.0,
                          double dash = 6.0, double gap = 4.0) {
        constexpr const char* where = "canvas::draw_dashed_line";
        check_stroke(where, {x0, y0, x1, y1}, c, thickness);
        require(std::isfinite(dash) && dash > 0.0, where, "dash", "finite and > 0", dash);
        require(std::isfinite(gap) && gap >= 0.0, where, "gap", "finite and >= 0", gap);
        detail::stroke_mask mask = mask_around(x0, y0, x1, y1, thickness);
        mask.add_dashed_segment(x0, y0, x1, y1, thickness, dash, gap, 0.0);
        detail::composite(*this, mask, c);
    }

    /// A polyline through the points (xs[i], ys[i]); a point with a NaN or infinite coordinate
    /// breaks the line, and a point between two breaks shows as a dot. xs and ys must have the
    /// same length (shape_error). Dashed lines use dashes of 4 t + 2 and gaps of 3 t pixels for
    /// thickness t.
    void draw_polyline(std::span<const double> xs, std::span<const double> ys, rgb c,
                       double thickness = 1.0, bool dashed = false) {
        constexpr const char* where = "canvas::draw_polyline";
        if (xs.size() != ys.size()) {
            throw shape_error(detail::concat(where, ": xs and ys must have the same length, got ",
                                             xs.size(), " and ", ys.size()));
        }
        check_stroke(where, {0.0, 0.0, 0.0, 0.0}, c, thickness);
        // the mask covers the finite points' bounding box
        double x_lo = std::numeric_limits<double>::infinity();
        double x_hi = -x_lo;
        double y_lo = x_lo;
        double y_hi = -x_lo;
        for (std::size_t i = 0; i < xs.size(); ++i) {
            if (std::isfinite(xs[i]) && std::isfinite(ys[i])) {
                x_lo = std::min(x_lo, xs[i]);
                x_hi = std::max(x_hi, xs[i]);
                y_lo = std::min(y_lo, ys[i]);
                y_hi = std::max(y_hi, ys[i]);
            }
        }
        if (!(x_lo <= x_hi)) {
            return;
        }
        detail::stroke_mask mask = mask_around(x_lo, y_lo, x_hi, y_hi, thickness);
        mask.add_polyline(xs, ys, thickness, dashed);
        detail::composite(*this, mask, c);
    }

    /// Text in the built-in 5 x 7 font, `scale` pixels per font pixel (in [1, 64]), with (x, y)
    /// the top-left corner of the first glyph. Glyphs are 5 font pixels wide with one blank
    /// column between them; see text_width and text_height.
    void draw_text(long x, long y, std::string_view text, rgb c, int scale = 1) {
        detail::check_colour(c, "canvas::draw_text", "c");
        detail::check_text_scale(scale, "canvas::draw_text", "scale");
        const long s = scale;
        long pen = x;
        for (char ch : detail::displayed_characters(text)) {
            const auto& glyph = detail::font_glyph_of(ch);
            for (int row = 0; row < detail::font_glyph_height; ++row) {
                for (int column = 0; column < detail::font_glyph_width; ++column) {
                    if (detail::glyph_ink(glyph, column, row)) {
                        fill(pen + column * s, y + row * s, pen + (column + 1) * s,
                             y + (row + 1) * s, c);
                    }
                }
            }
            pen += detail::font_advance * s;
        }
    }

    /// Text rotated 90 degrees counter-clockwise (read from bottom to top, as a y-axis label).
    /// (x, y) is the top-left corner of its bounding box, which is text_height(scale) wide and
    /// text_width(text, scale) tall.
    void draw_text_vertical(long x, long y, std::string_view text, rgb c, int scale = 1) {
        detail::check_colour(c, "canvas::draw_text_vertical", "c");
        detail::check_text_scale(scale, "canvas::draw_text_vertical", "scale");
        const long s = scale;
        const long length = text_width(text, scale);
        long pen = 0; // position along the text, from its start
        for (char ch : detail::displayed_characters(text)) {
            const auto& glyph = detail::font_glyph_of(ch);
            for (int row = 0; row < detail::font_glyph_height; ++row) {
                for (int column = 0; column < detail::font_glyph_width; ++column) {
                    if (detail::glyph_ink(glyph, column, row)) {
                        // along the text u -> up from the bottom, down a glyph v -> right
                        const long u = pen + column * s;
                        const long v = row * s;
                        fill(x + v, y + length - u - s, x + v + s, y + length - u, c);
                    }
                }
            }
            pen += detail::font_advance * s;
        }
    }

    /// Width in pixels of `text` drawn at `scale`: 6 scale per character less the trailing
    /// blank column, 0 for no characters.
    static long text_width(std::string_view text, int scale = 1) {
        detail::check_text_scale(scale, "canvas::text_width", "scale");
        const auto n = static_cast<long>(detail::displayed_characters(text).size());
        return n == 0 ? 0 : (n * detail::font_advance - 1) * scale;
    }

    /// Height in pixels of a line of text at `scale`: 7 scale.
    static long text_height(int scale = 1) {
        detail::check_text_scale(scale, "canvas::text_height", "scale");
        return static_cast<long>(detail::font_glyph_height) * scale;
    }

    /// Paste an image of 1 (gray) or 3 (RGB) channels with its top-left pixel at (x, y); values
    /// are clipped to [0, 1], parts outside the canvas are dropped. shape_error for other channel
    /// counts, value_error for NaN or infinite values.
    void paste(const image& img, long x, long y) {
        constexpr const char* where = "canvas::paste";
        const std::size_t channels = img.shape()[0];
        if (channels != 1 && channels != 3) {
            throw shape_error(detail::concat(where, ": img must have 1 or 3 channels, got shape ",
                                             shape_string(img.shape())));
        }
        check_finite(img, where, "img");
        const auto h = static_cast<long>(img.shape()[1]);
        const auto w = static_cast<long>(img.shape()[2]);
        const long row0 = std::max(0L, -y);
        const long row1 = std::min(h, static_cast<long>(height()) - y);
        const long col0 = std::max(0L, -x);
        const long col1 = std::min(w, static_cast<long>(width()) - x);
        for (std::size_t c = 0; c < 3; ++c) {
            const std::size_t source = channels == 1 ? 0 : c;
            for (long r = row0; r < row1; ++r) {
                for (long q = col0; q < col1; ++q) {
                    pixels_(c, static_cast<std::size_t>(y + r), static_cast<std::size_t>(x + q)) =
                        std::clamp(
                            img(source, static_cast<std::size_t>(r), static_cast<std::size_t>(q)),
                            0.0f, 1.0f);
                }
            }
        }
    }

    /// The pixels, 3 x height x width.
    const image& pixels() const noexcept { return pixels_; }

    /// Write the canvas as an 8-bit RGB PNG (see xrestore::write_png).
    void write_png(const std::filesystem::path& path) const { xrestore::write_png(path, pixels_); }

private:
    void put(long x, long y, const rgb& c) {
        if (x < 0 || y < 0 || x >= static_cast<long>(width()) || y >= static_cast<long>(height())) {
            return;
        }
        const auto col = static_cast<std::size_t>(x);
        const auto row = static_cast<std::size_t>(y);
        pixels_(0, row, col) = c.r;
        pixels_(1, row, col) = c.g;
        pixels_(2, row, col) = c.b;
    }

    void blend(long x, long y, const rgb& c, float alpha) {
        if (x < 0 || y < 0 || x >= static_cast<long>(width()) || y >= static_cast<long>(height())) {
            return;
        }
        const auto col = static_cast<std::size_t>(x);
        const auto row = static_cast<std::size_t>(y);
        const std::array<float, 3> ink = {c.r, c.g, c.b};
        for (std::size_t k = 0; k < 3; ++k) {
            float& p = pixels_(k, row, col);
            p = alpha >= 1.0f ? ink[k] : alpha * ink[k] + (1.0f - alpha) * p;
        }
    }

    void fill(long x0, long y0, long x1, long y1, const rgb& c) {
        x0 = std::max(x0, 0L);
        y0 = std::max(y0, 0L);
        x1 = std::min(x1, static_cast<long>(width()));
        y1 = std::min(y1, static_cast<long>(height()));
        for (long y = y0; y < y1; ++y) {
            for (long x = x0; x < x1; ++x) {
                put(x, y, c);
            }
        }
    }

    static void check_stroke(std::string_view where, std::array<double, 4> ends, const rgb& c,
                             double thickness) {
        static constexpr std::array<const char*, 4> names = {"x0", "y0", "x1", "y1"};
        for (std::size_t i = 0; i < ends.size(); ++i) {
            require(std::isfinite(ends[i]), where, names[i], "finite", ends[i]);
        }
        detail::check_colour(c, where, "c");
        require(std::isfinite(thickness) && thickness > 0.0, where, "thickness", "finite and > 0",
                thickness);
    }

    /// A mask over the part of the canvas that a stroke from a to b can ink.
    detail::stroke_mask mask_around(double ax, double ay, double bx, double by,
                                    double thickness) const {
        const double reach = thickness / 2.0 + 1.0;
        const long w = static_cast<long>(width());
        const long h = static_cast<long>(height());
        return detail::stroke_mask(detail::clamp_to_long(std::min(ax, bx) - reach, 0, w),
                                   detail::clamp_to_long(std::min(ay, by) - reach, 0, h),
                                   detail::clamp_to_long(std::max(ax, bx) + reach + 1.0, 0, w),
                                   detail::clamp_to_long(std::max(ay, by) + reach + 1.0, 0, h));
    }

    friend void detail::composite(canvas&, const detail::stroke_mask&, const rgb&);

    image pixels_;
};

namespace detail {

inline void composite(canvas& target, const stroke_mask& mask, const rgb& c) {
    for (long y = mask.top(); y < mask.bottom(); ++y) {
        for (long x = mask.left(); x < mask.right(); ++x) {
            const float alpha = mask.at(x, y);
            if (alpha > 0.0f) {
                target.blend(x, y, c, alpha);
            }
        }
    }
}

} // namespace detail

/// One line of a line plot.
struct plot_series {
    std::string label{};        ///< legend text (no legend entry when empty)
    std::vector<double> x{};    ///< abscissae
    std::vector<double> y{};    ///< ordinates, as many as x; NaN or infinite points break the line
    std::optional<rgb> color{}; ///< default: palette_color(index of the series)
    bool dashed = false;        ///< dashed instead of solid
};

/// Where the legend box goes inside the plot area.
enum class legend_position {
    automatic,    ///< top right, unless another corner hides fewer drawn pixels
    top_right,    ///< top-right corner
    top_left,     ///< top-left corner
    bottom_right, ///< bottom-right corner
    bottom_left,  ///< bottom-left corner
    none          ///< no legend
};

/// Options of render_line_plot.
struct plot_options {
    std::string title{};           ///< above the plot (none when empty)
    std::string x_label{};         ///< under the x axis
    std::string y_label{};         ///< left of the y axis, read bottom to top
    std::size_t width = 900;       ///< canvas width in pixels
    std::size_t height = 540;      ///< canvas height in pixels
    bool log_y = false;            ///< log10 y axis; every finite y must then be > 0
    std::optional<double> y_min{}; ///< axis limits; by default the data range plus 4% each side
    std::optional<double> y_max{};
    std::optional<double> x_min{};
    std::optional<double> x_max{};
    std::vector<double> x_markers{}; ///< x positions of vertical dashed grey lines (finite)
    legend_position legend = legend_position::automatic;
    int text_scale = 0;      ///< pixels per font pixel in [1, 16]; 0: 2 from 600 x 360 up, else 1
    double line_width = 2.0; ///< series line width in pixels (finite, > 0)
};

namespace detail {

/// The plot rectangle [left, right) x [top, bottom) in pixels; the frame is drawn just outside.
struct plot_area {
    long left = 0;
    long top = 0;
    long right = 0;
    long bottom = 0;
    long width() const noexcept { return right - left; }
    long height() const noexcept { return bottom - top; }
};

/// m * 10^e with a single rounding (3 x 10^-1 gives the double nearest 0.3).
inline double decimal_value(double m, int e) {
    return e >= 0 ? m * std::pow(10.0, e) : m / std::pow(10.0, -e);
}

/// Ticks at the multiples of a "nice" step, with the step.
struct tick_set {
    std::vector<double> values;
    double step = 1.0;
};

/// The ticks at multiples of the finest step m x 10^e (m in 1, 2, 5) that gives at most
/// max_ticks ticks; `covering`: from the last multiple <= lo to the first >= hi, else only the
/// multiples inside [lo, hi]. Expects finite lo < hi and max_ticks >= 2.
inline tick_set spaced_ticks(double lo, double hi, int max_ticks, bool covering) {
    constexpr std::array<int, 3> mantissas = {1, 2, 5};
    constexpr double slack = 1e-9; // in steps: 0.3 / 0.1 counts as 3
    if (!std::isfinite(hi - lo) || !(hi > lo)) {
        return {{lo, hi}, std::isfinite(hi - lo) && hi > lo ? hi - lo : 1.0};
    }
    const int first = static_cast<int>(std::floor(std::log10((hi - lo) / max_ticks))) - 1;
    for (int e = first; e < first + 40; ++e) {
        for (int m : mantissas) {
            const double step = decimal_value(m, e);
            const double k0 =
                covering ? std::floor(lo / step + slack) : std::ceil(lo / step - slack);
            const double k1 =
                covering ? std::ceil(hi / step - slack) : std::floor(hi / step + slack);
            if (k1 - k0 + 1.0 > static_cast<double>(max_ticks)) {
                continue;
            }
            tick_set ticks;
            ticks.step = step;
            const auto count = static_cast<int>(k1 - k0) + 1;
            for (int i = 0; i < count; ++i) {
                ticks.values.push_back(decimal_value((k0 + i) * m, e));
            }
            return ticks;
        }
    }
    return {{lo, hi}, hi - lo};
}

/// "Nice" tick values: multiples of the finest step 1, 2 or 5 x 10^k for which the ticks from
/// the last multiple <= lo to the first multiple >= hi number at most max_ticks, so they cover
/// [lo, hi]. A single value (lo == hi, or a range narrower than 1e-12 of its magnitude) is
/// widened to v -+ 0.1 |v| (-1..1 for 0) first. value_error for non-finite or lo > hi, and for
/// max_ticks < 2.
inline std::vector<double> nice_ticks(double lo, double hi, int max_ticks) {
    constexpr const char* where = "nice_ticks";
    require(std::isfinite(lo), where, "lo", "finite", lo);
    require(std::isfinite(hi), where, "hi", "finite", hi);
    if (!(lo <= hi)) {
        throw value_error(concat(where, ": lo must be <= hi, got ", lo, " and ", hi));
    }
    require(max_ticks >= 2, where, "max_ticks", ">= 2", max_ticks);
    const double magnitude = std::max(std::abs(lo), std::abs(hi));
    if (hi - lo <= 1e-12 * magnitude) {
        const double v = (lo + hi) / 2.0;
        const double d = v != 0.0 ? 0.1 * std::abs(v) : 1.0;
        lo = v - d;
        hi = v + d;
    }
    return spaced_ticks(lo, hi, max_ticks, true).values;
}

/// A compact label for tick value v on an axis with tick spacing `step` (finite, > 0): as many
/// decimals as the step needs, trailing zeros dropped ("0.5", "300", "0.02", "1.25"); values
/// below 0.01 or from 1e5 up in scientific notation ("1e-3", "2.5e-3", "1e5"); "0" for values
/// within 1e-6 steps of zero.
inline std::string tick_label(double v, double step) {
    constexpr const char* where = "tick_label";
    require(std::isfinite(v), where, "v", "finite", v);
    require(std::isfinite(step) && step > 0.0, where, "step", "finite and > 0", step);
    if (std::abs(v) < step * 1e-6) {
        return "0";
    }
    auto strip = [](std::string text) {
        if (text.find('.') != std::string::npos) {
            text.erase(text.find_last_not_of('0') + 1);
            if (text.back() == '.') {
                text.pop_back();
            }
        }
        return text == "-0" ? std::string("0") : text;
    };
    auto fixed = [](double value, int decimals) {
        std::array<char, 64> buffer{};
        std::snprintf(buffer.data(), buffer.size(), "%.*f", decimals, value);
        return std::string(buffer.data());
    };
    // the decimals the step needs: 1 for 0.2, 2 for 0.25, -2 for 500
    int step_decimals = -static_cast<int>(std::floor(std::log10(step) + 1e-9));
    for (; step_decimals < 12; ++step_decimals) {
        const double scaled = step * std::pow(10.0, step_decimals);
        if (std::abs(scaled - std::round(scaled)) <= 1e-6 * scaled) {
            break;
        }
    }
    const double magnitude = std::abs(v);
    if (magnitude >= 1e5 || magnitude < 1e-2) {
        // v = mantissa x 10^e with as many mantissa decimals as the step resolves
        int e = static_cast<int>(std::floor(std::log10(magnitude) + 1e-9));
        int digits = std::clamp(step_decimals + e, 0, 6);
        std::string mantissa = fixed(v / decimal_value(1.0, e), digits);
        if (std::abs(std::stod(mantissa)) >= 10.0) { // 9.99 rounded up to 10
            ++e;
            digits = std::max(0, digits - 1);
            mantissa = fixed(v / decimal_value(1.0, e), digits);
        }
        return strip(mantissa) + "e" + std::to_string(e);
    }
    return strip(fixed(v, std::clamp(step_decimals, 0, 9)));
}

/// Labelled ticks, their labels, and unlabelled grid lines of one axis.
struct axis_ticks {
    std::vector<double> major;
    std::vector<std::string> labels;
    std::vector<double> minor;
};

/// At most max_ticks nice ticks inside [lo, hi].
inline axis_ticks linear_axis_ticks(double lo, double hi, int max_ticks) {
    const tick_set t = spaced_ticks(lo, hi, max_ticks, false);
    axis_ticks ticks;
    ticks.major = t.values;
    for (double v : t.values) {
        ticks.labels.push_back(tick_label(v, t.step));
    }
    return ticks;
}

/// Log axis ticks inside [lo, hi] (0 < lo < hi): the powers of 10 (every n-th when there are more
/// than max_ticks), plus 2 and 5 x 10^k when the range spans under two decades, minor grid lines
/// at 2..9 x 10^k for up to 12 decades; plain nice ticks when that labels fewer than two values.
inline axis_ticks log_axis_ticks(double lo, double hi, int max_ticks) {
    const double a = std::log10(lo);
    const double b = std::log10(hi);
    const auto k0 = static_cast<int>(std::ceil(a - 1e-9));
    const auto k1 = static_cast<int>(std::floor(b + 1e-9));
    const auto inside = [&](double v) { return v >= lo * (1 - 1e-9) && v <= hi * (1 + 1e-9); };
    int stride = 1;
    while ((k1 - k0 + stride) / stride > max_ticks) {
        ++stride;
    }
    struct labelled {
        double value;
        double step;
    };
    std::vector<labelled> major;
    axis_ticks ticks;
    for (int k = k0; k <= k1; ++k) {
        const double v = decimal_value(1.0, k);
        if (((k % stride) + stride) % stride == 0) {
            major.push_back({v, v});
        } else {
            ticks.minor.push_back(v);
        }
    }
    const double decades = b - a;
    for (int k = static_cast<int>(std::floor(a)); decades <= 12 && k <= k1; ++k) {
        for (int m = 2; m <= 9; ++m) {
            const double v = decimal_value(m, k);
            if (!inside(v)) {
                continue;
            }
            if (decades < 2 && (m == 2 || m == 5)) {
                major.push_back({v, decimal_value(1.0, k)});
            } else {
                ticks.minor.push_back(v);
            }
        }
    }
    if (major.size() < 2) {
        return linear_axis_ticks(lo, hi, max_ticks);
    }
    std::sort(major.begin(), major.end(),
              [](const labelled& p, const labelled& q) { return p.value < q.value; });
    for (const labelled& t : major) {
        ticks.major.push_back(t.value);
        ticks.labels.push_back(tick_label(t.value, t.step));
    }
    return ticks;
}

/// Where a line plot's parts go and what its axes show; computed by layout_line_plot.
struct line_plot_layout {
    plot_area area; ///< the data rectangle
    int text_scale = 1;
    double x_lo = 0.0; ///< x axis limits
    double x_hi = 1.0;
    double y_lo = 0.0; ///< y axis limits (data values, also on a log axis)
    double y_hi = 1.0;
    bool log_y = false;
    axis_ticks x_ticks;
    axis_ticks y_ticks;

    /// Column of x: x_lo -> left, x_hi -> right - 1 (pixel centres).
    double x_pixel(double x) const {
        return static_cast<double>(area.left) +
               (x - x_lo) / (x_hi - x_lo) * static_cast<double>(area.width() - 1);
    }
    /// Row of y: y_lo -> bottom - 1, y_hi -> top (log10 scale when log_y).
    double y_pixel(double y) const {
        const double w =
            log_y ? (std::log10(y) - std::log10(y_lo)) / (std::log10(y_hi) - std::log10(y_lo))
                  : (y - y_lo) / (y_hi - y_lo);
        return static_cast<double>(area.bottom - 1) - w * static_cast<double>(area.height() - 1);
    }
};

/// "series 2 ("PnP-ADMM")"
inline std::string series_name(std::size_t index, std::string_view label) {
    return concat("series ", index, " (\"", label, "\")");
}

/// Text scale: the requested one, or 2 from 600 x 360 up and 1 below for 0.
inline int plot_text_scale(int requested, std::size_t width, std::size_t height,
                           std::string_view where) {
    require(requested >= 0 && requested <= 16, where, "options.text_scale", "in [0, 16]",
            requested);
    if (requested > 0) {
        return requested;
    }
    return width >= 600 && height >= 360 ? 2 : 1;
}

inline void check_plot_size(std::size_t width, std::size_t height, std::string_view where) {
    require(width >= 64 && width <= 8192, where, "options.width", "in [64, 8192]", width);
    require(height >= 64 && height <= 8192, where, "options.height", "in [64, 8192]", height);
}

/// Axis limits in the axis's own units (log10 of the values when `log`): the given ones, the
/// others from the data range [data_lo, data_hi] (already in axis units) widened by 4% of its
/// span each side; a single value is widened to v -+ 0.1 |v| (-+ 0.5 decade on a log axis).
inline std::pair<double, double> axis_limits(std::optional<double> given_lo,
                                             std::optional<double> given_hi, double data_lo,
                                             double data_hi, bool has_data, bool log,
                                             std::string_view where, std::string_view lo_name,
                                             std::string_view hi_name) {
    for (auto [given, name] : {std::pair{given_lo, lo_name}, std::pair{given_hi, hi_name}}) {
        if (given) {
            require(std::isfinite(*given), where, name, "finite", *given);
            require(!log || *given > 0.0, where, name, "> 0 on a log axis", *given);
        }
    }
    if (!has_data) {
        data_lo = 0.0;
        data_hi = 1.0;
    } else if (data_hi - data_lo <= 1e-12 * std::max(std::abs(data_lo), std::abs(data_hi))) {
        const double v = (data_lo + data_hi) / 2.0;
        const double d = log ? 0.5 : (v != 0.0 ? 0.1 * std::abs(v) : 1.0);
        data_lo = v - d;
        data_hi = v + d;
    }
    const double margin = 0.04 * (data_hi - data_lo);
    const double span = data_hi - data_lo + 2.0 * margin;
    double lo = given_lo ? (log ? std::log10(*given_lo) : *given_lo) : data_lo - margin;
    double hi = given_hi ? (log ? std::log10(*given_hi) : *given_hi) : data_hi + margin;
    if (given_lo && given_hi) {
        if (!(lo < hi)) {
            throw value_error(concat(where, ": ", lo_name, " must be < ", hi_name, ", got ",
                                     *given_lo, " and ", *given_hi));
        }
    } else if (!(lo < hi)) {
        // one limit given beyond the data: keep the data's span on the free side
        if (given_lo) {
            hi = lo + span;
        } else {
            lo = hi - span;
        }
    }
    if (!std::isfinite(lo) || !std::isfinite(hi) || (log && (lo < -300.0 || hi > 300.0))) {
        throw value_error(concat(where, ": the axis from ", lo_name, " to ", hi_name,
                                 " must stay within the range of double, got ", log ? "10^" : "",
                                 lo, " to ", log ? "10^" : "", hi));
    }
    return {lo, hi};
}

/// The layout of a line plot: checks the series and options (see render_line_plot), then fixes
/// the axis limits, the ticks and the plot rectangle.
inline line_plot_layout layout_line_plot(const std::vector<plot_series>& series,
                                         const plot_options& options) {
    constexpr const char* where = "render_line_plot";
    check_plot_size(options.width, options.height, where);
    require(std::isfinite(options.line_width) && options.line_width > 0.0, where,
            "options.line_width", "finite and > 0", options.line_width);
    std::size_t points = 0;
    for (std::size_t i = 0; i < series.size(); ++i) {
        const plot_series& s = series[i];
        if (s.x.size() != s.y.size()) {
            throw shape_error(concat(where, ": ", series_name(i, s.label),
                                     " must have as many x as y values, got ", s.x.size(),
                                     " x and ", s.y.size(), " y values"));
        }
        if (s.color) {
            check_colour(*s.color, where, concat(series_name(i, s.label), ".color"));
        }
        for (std::size_t j = 0; options.log_y && j < s.y.size(); ++j) {
            if (std::isfinite(s.y[j]) && !(s.y[j] > 0.0)) {
                throw value_error(
                    describe(where, concat("y of ", series_name(i, s.label), " at index ", j),
                             "> 0 on a log axis (options.log_y)", s.y[j]));
            }
        }
        points += s.x.size();
    }
    if (points == 0) {
        throw value_error(concat(where, ": series must hold at least one point, got ",
                                 series.size(), " series with no points"));
    }
    for (std::size_t i = 0; i < options.x_markers.size(); ++i) {
        if (!std::isfinite(options.x_markers[i])) {
            throw value_error(describe(where, concat("options.x_markers[", i, "]"), "finite",
                                       options.x_markers[i]));
        }
    }

    // data ranges over the points that are drawn (both coordinates finite)
    double x_lo = std::numeric_limits<double>::infinity();
    double x_hi = -x_lo;
    double y_lo = x_lo;
    double y_hi = -x_lo;
    for (const plot_series& s : series) {
        for (std::size_t j = 0; j < s.x.size(); ++j) {
            if (std::isfinite(s.x[j]) && std::isfinite(s.y[j])) {
                const double y = options.log_y ? std::log10(s.y[j]) : s.y[j];
                x_lo = std::min(x_lo, s.x[j]);
                x_hi = std::max(x_hi, s.x[j]);
                y_lo = std::min(y_lo, y);
                y_hi = std::max(y_hi, y);
            }
        }
    }
    const bool has_data = x_lo <= x_hi;

    line_plot_layout layout;
    layout.log_y = options.log_y;
    const auto [xl, xh] = axis_limits(options.x_min, options.x_max, x_lo, x_hi, has_data, false,
                                      where, "options.x_min", "options.x_max");
    const auto [yl, yh] = axis_limits(options.y_min, options.y_max, y_lo, y_hi, has_data,
                                      options.log_y, where, "options.y_min", "options.y_max");
    layout.x_lo = xl;
    layout.x_hi = xh;
    layout.y_lo = options.log_y ? std::pow(10.0, yl) : yl;
    layout.y_hi = options.log_y ? std::pow(10.0, yh) : yh;

    const int s = plot_text_scale(options.text_scale, options.width, options.height, where);
    layout.text_scale = s;
    const long text_h = canvas::text_height(s);
    const long pad = 5L * s;
    const long tick = 3L * s;
    const long label_gap = 2L * s;
    const auto width = static_cast<long>(options.width);
    const auto height = static_cast<long>(options.height);

    plot_area& area = layout.area;
    area.top = pad + (options.title.empty() ? 0 : text_h + pad) + text_h / 2;
    area.bottom = height - (1 + tick + label_gap + text_h + pad +
                            (options.x_label.empty() ? 0 : text_h + pad));
    if (area.height() < 16) {
        throw value_error(concat(where, ": options.height must leave room for the plot, got ",
                                 options.height, " (text scale ", s, ")"));
    }
    const int max_y_ticks = static_cast<int>(std::clamp(area.height() / (4 * text_h), 2L, 10L));
    layout.y_ticks = options.log_y ? log_axis_ticks(layout.y_lo, layout.y_hi, max_y_ticks)
                                   : linear_axis_ticks(layout.y_lo, layout.y_hi, max_y_ticks);
    long y_label_width = 0;
    for (const std::string& label : layout.y_ticks.labels) {
        y_label_width = std::max(y_label_width, canvas::text_width(label, s));
    }
    area.left =
        pad + (options.y_label.empty() ? 0 : text_h + pad) + y_label_width + label_gap + tick + 1;
    // x ticks: as many as fit with their labels apart; the right margin grows until the last
    // label fits on the canvas
    long right_margin = 3 * pad;
    for (int pass = 0; pass < 3; ++pass) {
        area.right = width - right_margin;
        if (area.width() < 16) {
            throw value_error(concat(where, ": options.width must leave room for the plot, got ",
                                     options.width, " (text scale ", s, ")"));
        }
        for (int n = 12; n >= 2; --n) {
            layout.x_ticks = linear_axis_ticks(layout.x_lo, layout.x_hi, n);
            long widest = 0;
            for (const std::string& label : layout.x_ticks.labels) {
                widest = std::max(widest, canvas::text_width(label, s));
            }
            const auto count = layout.x_ticks.major.size();
            const double spacing = count < 2 ? 1e300
                                             : layout.x_pixel(layout.x_ticks.major[1]) -
                                                   layout.x_pixel(layout.x_ticks.major[0]);
            if (spacing >= static_cast<double>(widest + 3 * text_h)) {
                break;
            }
        }
        if (layout.x_ticks.major.empty()) {
            break;
        }
        const long last = std::lround(layout.x_pixel(layout.x_ticks.major.back())) +
                          canvas::text_width(layout.x_ticks.labels.back(), s) / 2 + 2;
        if (last <= width) {
            break;
        }
        right_margin += last - width;
    }
    return layout;
}

/// One legend row.
struct legend_entry {
    std::string label;
    rgb colour;
    bool dashed = false; ///< dashed line swatch
    bool block = false;  ///< a filled block instead of a line (bar charts)
};

/// The legend box: inside `area`, in the corner `where` says; `automatic` takes the first of
/// top right, top left, bottom right, bottom left that hides the least of `occupied`.
inline void draw_legend(canvas& out, const plot_area& area, const std::vector<legend_entry>& rows,
                        legend_position where, const stroke_mask& occupied, int scale,
                        double line_width) {
    if (where == legend_position::none || rows.empty()) {
        return;
    }
    const long s = scale;
    const long text_h = canvas::text_height(scale);
    const long inner = 3 * s;
    const long row_gap = 3 * s;
    const long swatch = 10 * s;
    const long swatch_gap = 3 * s;
    const long margin = 4 * s;
    long label_width = 0;
    for (const legend_entry& row : rows) {
        label_width = std::max(label_width, canvas::text_width(row.label, scale));
    }
    const auto n = static_cast<long>(rows.size());
    const long box_w = 2 * inner + swatch + swatch_gap + label_width;
    const long box_h = 2 * inner + n * text_h + (n - 1) * row_gap;
    const std::array<std::pair<legend_position, std::pair<long, long>>, 4> corners = {{
        {legend_position::top_right, {area.right - margin - box_w, area.top + margin}},
        {legend_position::top_left, {area.left + margin, area.top + margin}},
        {legend_position::bottom_right,
         {area.right - margin - box_w, area.bottom - margin - box_h}},
        {legend_position::bottom_left, {area.left + margin, area.bottom - margin - box_h}},
    }};
    std::pair<long, long> at = corners[0].second;
    if (where == legend_position::automatic) {
        double least = std::numeric_limits<double>::infinity();
        for (const auto& [position, corner] : corners) {
            const double ink = occupied.ink(corner.first - 2, corner.second - 2,
                                            corner.first + box_w + 2, corner.second + box_h + 2);
            if (ink < least) {
                least = ink;
                at = corner;
            }
        }
    } else {
        for (const auto& [position, corner] : corners) {
            if (position == where) {
                at = corner;
            }
        }
    }
    const auto [x0, y0] = at;
    out.fill_rect(x0, y0, x0 + box_w, y0 + box_h, {1, 1, 1});
    out.draw_rect(x0, y0, x0 + box_w, y0 + box_h, {0.6f, 0.6f, 0.6f});
    for (long i = 0; i < n; ++i) {
        const legend_entry& row = rows[static_cast<std::size_t>(i)];
        const long top = y0 + inner + i * (text_h + row_gap);
        const long left = x0 + inner;
        if (row.block) {
            out.fill_rect(left, top, left + swatch, top + text_h, row.colour);
        } else {
            const double mid = static_cast<double>(top) + static_cast<double>(text_h - 1) / 2.0;
            stroke_mask mask(left - 2, top, left + swatch + 2, top + text_h);
            const std::array<double, 2> xs = {static_cast<double>(left),
                                              static_cast<double>(left + swatch - 1)};
            const std::array<double, 2> ys = {mid, mid};
            mask.add_polyline(xs, ys, line_width, row.dashed);
            composite(out, mask, row.colour);
        }
        out.draw_text(left + swatch + swatch_gap, top, row.label, {0, 0, 0}, scale);
    }
}

inline constexpr rgb plot_ink = {0.0f, 0.0f, 0.0f};
inline constexpr rgb plot_grid = {0.87f, 0.87f, 0.87f};
inline constexpr rgb plot_minor_grid = {0.94f, 0.94f, 0.94f};
inline constexpr rgb plot_marker = {0.45f, 0.45f, 0.45f};

/// The parts line plots and bar charts share: the frame just outside `area`, the title centred
/// above it and the vertical y label left of it.
inline void draw_frame_and_titles(canvas& out, const plot_area& area, std::string_view title,
                                  std::string_view y_label, int scale) {
    const long pad = 5L * scale;
    const auto width = static_cast<long>(out.width());
    out.draw_rect(area.left - 1, area.top - 1, area.right + 1, area.bottom + 1, plot_ink);
    if (!title.empty()) {
        const long w = canvas::text_width(title, scale);
        const long x = std::clamp(area.left + (area.width() - w) / 2, 0L, std::max(0L, width - w));
        out.draw_text(x, pad, title, plot_ink, scale);
    }
    if (!y_label.empty()) {
        const long h = canvas::text_width(y_label, scale);
        out.draw_text_vertical(pad, std::max(0L, area.top + (area.height() - h) / 2), y_label,
                               plot_ink, scale);
    }
}

/// A y tick at `row` with its label right-aligned left of it.
inline void draw_y_tick(canvas& out, const plot_area& area, long row, std::string_view label,
                        int scale) {
    const long tick = 3L * scale;
    const long label_gap = 2L * scale;
    out.fill_rect(area.left - 1 - tick, row, area.left - 1, row + 1, plot_ink);
    const long w = canvas::text_width(label, scale);
    out.draw_text(area.left - 1 - tick - label_gap - w, row - canvas::text_height(scale) / 2, label,
                  plot_ink, scale);
}

/// An x tick at `column` with its label centred under it (kept on the canvas).
inline void draw_x_tick(canvas& out, const plot_area& area, long column, std::string_view label,
                        int tick_scale, int label_scale) {
    const long tick = 3L * tick_scale;
    const long label_gap = 2L * tick_scale;
    out.fill_rect(column, area.bottom + 1, column + 1, area.bottom + 1 + tick, plot_ink);
    const long w = canvas::text_width(label, label_scale);
    const long x = std::clamp(column - w / 2, 0L, std::max(0L, static_cast<long>(out.width()) - w));
    out.draw_text(x, area.bottom + 1 + tick + label_gap, label, plot_ink, label_scale);
}

} // namespace detail

/// A line plot: a framed plot area with light grid lines, tick marks and labels on both axes,
/// axis labels (the y label vertical), the title on top, dashed grey lines at options.x_markers
/// and a legend box inside the plot area (a colour swatch and label per series with a label).
/// Series are drawn in order, options.line_width pixels wide, clipped to the plot area; NaN or
/// infinite points break a line. Throws shape_error for a series whose x and y differ in length,
/// value_error for no points at all, a y <= 0 with log_y, bad limits (non-finite, min >= max,
/// <= 0 on the log axis), a canvas too small for its labels, or a colour outside [0, 1]; each
/// message names the series by index and label.
inline canvas render_line_plot(const std::vector<plot_series>& series,
                               const plot_options& options = {}) {
    const detail::line_plot_layout layout = detail::layout_line_plot(series, options);
    const detail::plot_area& area = layout.area;
    const int scale = layout.text_scale;
    canvas out(options.width, options.height);

    // grid
    auto row_of = [&](double y) { return std::lround(layout.y_pixel(y)); };
    auto column_of = [&](double x) { return std::lround(layout.x_pixel(x)); };
    for (double v : layout.y_ticks.minor) {
        out.fill_rect(area.left, row_of(v), area.right, row_of(v) + 1, detail::plot_minor_grid);
    }
    for (double v : layout.y_ticks.major) {
        out.fill_rect(area.left, row_of(v), area.right, row_of(v) + 1, detail::plot_grid);
    }
    for (double v : layout.x_ticks.major) {
        out.fill_rect(column_of(v), area.top, column_of(v) + 1, area.bottom, detail::plot_grid);
    }

    // markers, then the series; `occupied` remembers what they cover for the legend
    detail::stroke_mask occupied(area.left, area.top, area.right, area.bottom);
    const double marker_width = std::max(1.0, 0.75 * scale);
    for (double m : options.x_markers) {
        if (m < layout.x_lo || m > layout.x_hi) {
            continue;
        }
        detail::stroke_mask mask(area.left, area.top, area.right, area.bottom);
        const double x = layout.x_pixel(m);
        mask.add_dashed_segment(x, static_cast<double>(area.top), x,
                                static_cast<double>(area.bottom - 1), marker_width,
                                4.0 * marker_width + 2.0, 3.0 * marker_width, 0.0);
        detail::composite(out, mask, detail::plot_marker);
        occupied.merge(mask);
    }
    std::vector<detail::legend_entry> legend;
    for (std::size_t i = 0; i < series.size(); ++i) {
        const plot_series& s = series[i];
        const rgb colour = s.color.value_or(palette_color(i));
        std::vector<double> xs(s.x.size());
        std::vector<double> ys(s.y.size());
        for (std::size_t j = 0; j < s.x.size(); ++j) {
            const bool finite = std::isfinite(s.x[j]) && std::isfinite(s.y[j]);
            xs[j] = finite ? layout.x_pixel(s.x[j]) : std::nan("");
            ys[j] = finite ? layout.y_pixel(s.y[j]) : std::nan("");
        }
        detail::stroke_mask mask(area.left, area.top, area.right, area.bottom);
        mask.add_polyline(xs, ys, options.line_width, s.dashed);
        detail::composite(out, mask, colour);
        occupied.merge(mask);
        if (!s.label.empty()) {
            legend.push_back({s.label, colour, s.dashed, false});
        }
    }

    // frame, ticks, labels, legend
    detail::draw_frame_and_titles(out, area, options.title, options.y_label, scale);
    for (std::size_t k = 0; k < layout.y_ticks.major.size(); ++k) {
        detail::draw_y_tick(out, area, row_of(layout.y_ticks.major[k]), layout.y_ticks.labels[k],
                            scale);
    }
    for (std::size_t k = 0; k < layout.x_ticks.major.size(); ++k) {
        detail::draw_x_tick(out, area, column_of(layout.x_ticks.major[k]), layout.x_ticks.labels[k],
                            scale, scale);
    }
    if (!options.x_label.empty()) {
        const long text_h = canvas::text_height(scale);
        const long w = canvas::text_width(options.x_label, scale);
        const long y = area.bottom + 1 + 3L * scale + 2L * scale + text_h + 5L * scale;
        out.draw_text(std::max(0L, area.left + (area.width() - w) / 2), y, options.x_label,
                      detail::plot_ink, scale);
    }
    detail::draw_legend(out, area, legend, options.legend, occupied, scale, options.line_width);
    return out;
}

/// render_line_plot written as a PNG.
inline void write_line_plot(const std::filesystem::path& path,
                            const std::vector<plot_series>& series,
                            const plot_options& options = {}) {
    render_line_plot(series, options).write_png(path);
}

/// One category of a bar chart: its label and one value per series (NaN or infinite: no bar).
struct bar_group {
    std::string label{};
    std::vector<double> values{};
};

/// Options of render_bar_chart.
struct bar_options {
    std::string title{};                      ///< above the chart
    std::string y_label{};                    ///< left of the y axis, read bottom to top
    std::vector<std::string> series_labels{}; ///< legend text per series (no legend when empty)
    std::size_t width = 900;                  ///< canvas width in pixels
    std::size_t height = 540;                 ///< canvas height in pixels
    std::optional<double> y_min{}; ///< default min(0, smallest value), less 5% when below 0
    std::optional<double> y_max{}; ///< default max(0, largest value), plus 5% when above 0
    legend_position legend = legend_position::automatic;
    int text_scale = 0; ///< pixels per font pixel in [1, 16]; 0: 2 from 600 x 360 up, else 1
};

/// A grouped bar chart: one cluster of bars per group, one bar per series in palette_color
/// order, rising from 0 (or the nearest axis limit) to the value; y grid, ticks and labels,
/// the group labels under the clusters, the title and a legend of options.series_labels. The
/// number of series is series_labels.size() when given, else that of the first group. Throws
/// value_error for no groups or no series and bad limits, shape_error for a group with another
/// number of values (naming the group).
inline canvas render_bar_chart(const std::vector<bar_group>& groups,
                               const bar_options& options = {}) {
    constexpr const char* where = "render_bar_chart";
    detail::check_plot_size(options.width, options.height, where);
    if (groups.empty()) {
        throw value_error(detail::concat(where, ": groups must hold at least one group, got none"));
    }
    const std::size_t n =
        options.series_labels.empty() ? groups.front().values.size() : options.series_labels.size();
    if (n == 0) {
        throw value_error(detail::concat(where, ": group 0 (\"", groups.front().label,
                                         "\") must hold at least one value, got none"));
    }
    double v_lo = 0.0;
    double v_hi = 0.0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        if (groups[g].values.size() != n) {
            throw shape_error(detail::concat(where, ": group ", g, " (\"", groups[g].label,
                                             "\") must hold ", n, " values (one per series), got ",
                                             groups[g].values.size()));
        }
        for (double v : groups[g].values) {
            if (std::isfinite(v)) {
                v_lo = std::min(v_lo, v);
                v_hi = std::max(v_hi, v);
            }
        }
    }
    for (auto [given, name] :
         {std::pair{options.y_min, "options.y_min"}, std::pair{options.y_max, "options.y_max"}}) {
        if (given) {
            require(std::isfinite(*given), where, name, "finite", *given);
        }
    }
    if (v_hi - v_lo <= 0.0) {
        v_hi = 1.0; // all zero
    }
    const double span = v_hi - v_lo;
    double lo = options.y_min.value_or(v_lo < 0.0 ? v_lo - 0.05 * span : 0.0);
    double hi = options.y_max.value_or(v_hi > 0.0 ? v_hi + 0.05 * span : 0.0);
    if (!(lo < hi)) {
        if (options.y_min && options.y_max) {
            throw value_error(detail::concat(where, ": options.y_min must be < options.y_max, got ",
                                             lo, " and ", hi));
        }
        if (options.y_min) {
            hi = lo + span;
        } else {
            lo = hi - span;
        }
    }

    const int s = detail::plot_text_scale(options.text_scale, options.width, options.height, where);
    const long text_h = canvas::text_height(s);
    const long pad = 5L * s;
    const long tick = 3L * s;
    const long label_gap = 2L * s;
    const auto width = static_cast<long>(options.width);
    const auto height = static_cast<long>(options.height);
    detail::plot_area area;
    area.top = pad + (options.title.empty() ? 0 : text_h + pad) + text_h / 2;
    area.bottom = height - (1 + tick + label_gap + text_h + pad);
    if (area.height() < 16) {
        throw value_error(detail::concat(where, ": options.height must leave room for the chart, ",
                                         "got ", options.height, " (text scale ", s, ")"));
    }
    const int max_y_ticks = static_cast<int>(std::clamp(area.height() / (4 * text_h), 2L, 10L));
    const detail::axis_ticks y_ticks = detail::linear_axis_ticks(lo, hi, max_y_ticks);
    long y_label_width = 0;
    for (const std::string& label : y_ticks.labels) {
        y_label_width = std::max(y_label_width, canvas::text_width(label, s));
    }
    area.left =
        pad + (options.y_label.empty() ? 0 : text_h + pad) + y_label_width + label_gap + tick + 1;
    area.right = width - 3 * pad;
    if (area.width() < 16) {
        throw value_error(detail::concat(where, ": options.width must leave room for the chart, ",
                                         "got ", options.width, " (text scale ", s, ")"));
    }

    // value -> row edge: hi -> top, lo -> bottom
    auto edge_of = [&](double v) {
        return static_cast<double>(area.top) +
               (hi - v) / (hi - lo) * static_cast<double>(area.height());
    };
    auto row_of = [&](double v) {
        return std::clamp(static_cast<long>(std::floor(edge_of(v))), area.top, area.bottom - 1);
    };
    canvas out(options.width, options.height);
    for (double v : y_ticks.major) {
        out.fill_rect(area.left, row_of(v), area.right, row_of(v) + 1, detail::plot_grid);
    }

    // bars: each group's slot holds a cluster 80% as wide, split evenly among the series
    detail::stroke_mask occupied(area.left, area.top, area.right, area.bottom);
    const double slot = static_cast<double>(area.width()) / static_cast<double>(groups.size());
    const double bar = 0.8 * slot / static_cast<double>(n);
    const long base = std::lround(edge_of(std::clamp(0.0, lo, hi)));
    for (std::size_t g = 0; g < groups.size(); ++g) {
        for (std::size_t k = 0; k < n; ++k) {
            const double v = groups[g].values[k];
            if (!std::isfinite(v)) {
                continue;
            }
            const double x0 = static_cast<double>(area.left) +
                              (static_cast<double>(g) + 0.1) * slot + static_cast<double>(k) * bar;
            const long left = std::lround(x0);
            long right = std::lround(x0 + bar);
            if (right - left >= 6 && k + 1 < n) {
                --right; // a white line between neighbouring bars
            }
            const long end = std::lround(edge_of(std::clamp(v, lo, hi)));
            const long top = std::clamp(std::min(base, end), area.top, area.bottom);
            const long bottom = std::clamp(std::max(base, end), area.top, area.bottom);
            out.fill_rect(left, top, right, bottom, palette_color(k));
            occupied.fill(left, top, right, bottom);
        }
    }

    detail::draw_frame_and_titles(out, area, options.title, options.y_label, s);
    for (std::size_t k = 0; k < y_ticks.major.size(); ++k) {
        detail::draw_y_tick(out, area, row_of(y_ticks.major[k]), y_ticks.labels[k], s);
    }
    // group labels at the full text scale when they fit their slots, else smaller
    int label_scale = s;
    for (const bar_group& group : groups) {
        while (label_scale > 1 &&
               static_cast<double>(canvas::text_width(group.label, label_scale)) > slot - 4.0) {
            --label_scale;
        }
    }
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const double centre =
            static_cast<double>(area.left) + (static_cast<double>(g) + 0.5) * slot;
        detail::draw_x_tick(out, area, std::lround(centre - 0.5), groups[g].label, s, label_scale);
    }
    std::vector<detail::legend_entry> legend;
    for (std::size_t k = 0; k < options.series_labels.size(); ++k) {
        legend.push_back({options.series_labels[k], palette_color(k), false, true});
    }
    detail::draw_legend(out, area, legend, options.legend, occupied, s, 2.0);
    return out;
}

/// render_bar_chart written as a PNG.
inline void write_bar_chart(const std::filesystem::path& path, const std::vector<bar_group>& groups,
                            const bar_options& options = {}) {
    render_bar_chart(groups, options).write_png(path);
}

/// One image of a panel and the caption under it ('\n' separates caption lines).
struct panel_item {
    std::string caption{};
    image picture{}; ///< 1 (gray) or 3 (RGB) channels, values clipped to [0, 1]
};

/// Images side by side on white, `gap` pixels apart and `gap` pixels from the border, each with
/// its caption centred under it at `text_scale`. No resampling: images keep their sizes and are
/// top-aligned; each column is as wide as its image or its caption, whichever is wider (the
/// image centred in it); captions start 3 text_scale below the tallest image, one row of text
/// per line, 2 text_scale apart. The canvas is sum(column widths) + (n + 1) gap wide and
/// gap + max(image heights) + caption block + gap tall, the caption block
/// 3 s + L (7 s + 2 s) - 2 s for L lines at most and s = text_scale (0 when all are empty).
/// Throws value_error for no items, gap > 4096 or text_scale outside [1, 64], shape_error for a
/// picture without 1 or 3 channels or without pixels, value_error for non-finite pixels.
inline canvas render_panel(const std::vector<panel_item>& items, std::size_t gap = 8,
                           int text_scale = 2) {
    constexpr const char* where = "render_panel";
    if (items.empty()) {
        throw value_error(detail::concat(where, ": items must hold at least one image, got none"));
    }
    require(gap <= 4096, where, "gap", "<= 4096", gap);
    detail::check_text_scale(text_scale, where, "text_scale");
    const long s = text_scale;
    const long text_h = canvas::text_height(text_scale);
    const long line_gap = 2 * s;
    const long caption_gap = 3 * s;
    std::vector<std::vector<std::string>> captions(items.size());
    std::vector<long> columns(items.size());
    long tallest = 0;
    std::size_t most_lines = 0;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const image& picture = items[i].picture;
        const auto argument = detail::concat("items[", i, "].picture (\"", items[i].caption, "\")");
        if (picture.shape()[0] != 1 && picture.shape()[0] != 3) {
            throw shape_error(detail::concat(where, ": ", argument,
                                             " must have 1 or 3 channels, got shape ",
                                             shape_string(picture.shape())));
        }
        if (picture.shape()[1] == 0 || picture.shape()[2] == 0) {
            throw shape_error(detail::concat(where, ": ", argument,
                                             " must have at least one pixel, got shape ",
                                             shape_string(picture.shape())));
        }
        check_finite(picture, where, argument);
        std::string_view rest = items[i].caption;
        while (!rest.empty()) {
            const std::size_t cut = rest.find('\n');
            captions[i].emplace_back(rest.substr(0, cut));
            rest = cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 1);
        }
        columns[i] = static_cast<long>(picture.shape()[2]);
        for (const std::string& line : captions[i]) {
            columns[i] = std::max(columns[i], canvas::text_width(line, text_scale));
        }
        tallest = std::max(tallest, static_cast<long>(picture.shape()[1]));
        most_lines = std::max(most_lines, captions[i].size());
    }
    const auto g = static_cast<long>(gap);
    const auto lines = static_cast<long>(most_lines);
    const long caption_h = lines == 0 ? 0 : caption_gap + lines * (text_h + line_gap) - line_gap;
    long total_w = g;
    for (long w : columns) {
        total_w += w + g;
    }
    canvas out(static_cast<std::size_t>(total_w),
               static_cast<std::size_t>(g + tallest + caption_h + g));
    long x = g;
    for (std::size_t i = 0; i < items.size(); ++i) {
        const auto w = static_cast<long>(items[i].picture.shape()[2]);
        out.paste(items[i].picture, x + (columns[i] - w) / 2, g);
        for (std::size_t l = 0; l < captions[i].size(); ++l) {
            const long line_w = canvas::text_width(captions[i][l], text_scale);
            out.draw_text(x + (columns[i] - line_w) / 2,
                          g + tallest + caption_gap + static_cast<long>(l) * (text_h + line_gap),
                          captions[i][l], detail::plot_ink, text_scale);
        }
        x += columns[i] + g;
    }
    return out;
}

/// render_panel written as a PNG.
inline void write_panel(const std::filesystem::path& path, const std::vector<panel_item>& items,
                        std::size_t gap = 8, int text_scale = 2) {
    render_panel(items, gap, text_scale).write_png(path);
}

} // namespace xrestore
