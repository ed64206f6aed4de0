#pragma once
/// @file plot.hpp
/// Raster graphics for reports (the optional xrestore::report module, not in the umbrella
/// header): an RGB canvas with antialiased lines, text in a TrueType font (report/font.hpp) and
/// pasted images; line plots (linear or log10 y axis), grouped bar charts and side-by-side image
/// panels with captions, all written as PNG through write_png.
///
/// @code
/// using namespace xrestore::report;
/// write_line_plot("psnr.png", {{.label = "PnP-ADMM", .x = its, .y = psnr}}, {.title = "PSNR"});
/// write_panel("panel.png", {{"blurred", y}, {"restored", x}});
/// @endcode
///
/// Coordinates are pixels, x to the right and y down, (0, 0) the top-left pixel; pixel (x, y)
/// covers the square [x, x + 1) x [y, y + 1), so its centre is (x + 1/2, y + 1/2) for text and
/// (x, y) for strokes. Text sizes are in pixels per em; by default a plot's tick labels are 17 px
/// (capital letters 12 px tall) on the default 900 x 540 canvas, and scale with the canvas.

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/image.hpp"
#include "xrestore/report/font.hpp"

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

namespace xrestore::report {

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

using xrestore::detail::concat;
using xrestore::detail::describe;
using xrestore::detail::max_image_pixels;

inline bool is_unit_colour(const rgb& c) {
    auto unit = [](float v) { return v >= 0.0f && v <= 1.0f; }; // false for NaN
    return unit(c.r) && unit(c.g) && unit(c.b);
}

inline void check_colour(const rgb& c, std::string_view where, std::string_view argument) {
    require(is_unit_colour(c), where, argument, "a colour with components in [0, 1]", c);
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

    /// Pixel (x, y) becomes covered at least `coverage` (nothing outside the rectangle).
    void cover(long x, long y, float coverage) noexcept {
        if (x >= x0_ && y >= y0_ && x < right() && y < bottom()) {
            float& c = cover_[index(x, y)];
            c = std::max(c, coverage);
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

    /// One line of UTF-8 text in `face` at `size` pixels per em (finite, in (0, 1000]), its pen
    /// starting at (x, baseline) and moving right: glyphs advance by the font's advance widths
    /// and pair kerning, antialiased, blended into the canvas with their coverage as opacity.
    /// See font::text_width for the width, font::ink_box for the pixels it can touch.
    void draw_text(double x, double baseline, std::string_view text, rgb c, const font& face,
                   double size) {
        check_text("canvas::draw_text", x, baseline, c, size);
        const pixel_box box = face.ink_box(text, size, x, baseline);
        detail::stroke_mask mask(std::max(box.left, 0L), std::max(box.top, 0L),
                                 std::min(box.right, static_cast<long>(width())),
                                 std::min(box.bottom, static_cast<long>(height())));
        face.rasterise(text, size, x, baseline,
                       [&](long px, long py, float coverage) { mask.cover(px, py, coverage); });
        detail::composite(*this, mask, c);
    }

    /// The text of draw_text turned 90 degrees counter-clockwise (read from bottom to top, as a
    /// y-axis label): the pen starts at (x, y) and moves up, the baseline is the column at x and
    /// the tops of the letters face left. The coverage is draw_text's turned exactly: for whole
    /// x and y, pixel (x + v, y - 1 - u) gets what draw_text with its pen at (0, 0) gives (u, v).
    void draw_text_vertical(double x, double y, std::string_view text, rgb c, const font& face,
                            double size) {
        check_text("canvas::draw_text_vertical", x, y, c, size);
        // level coordinates (u along the text, v down it): screen = (x0 + v, y0 - 1 - u)
        const double x0 = std::floor(x);
        const double y0 = std::ceil(y);
        const double u0 = y0 - y;
        const double v0 = x - x0;
        const pixel_box level = face.ink_box(text, size, u0, v0);
        if (level.empty()) {
            return;
        }
        const auto cx = static_cast<long>(x0);
        const auto cy = static_cast<long>(y0);
        // the turned box, clipped to the canvas
        detail::stroke_mask mask(std::max(cx + level.top, 0L), std::max(cy - level.right, 0L),
                                 std::min(cx + level.bottom, static_cast<long>(width())),
                                 std::min(cy - level.left, static_cast<long>(height())));
        face.rasterise(text, size, u0, v0, [&](long u, long v, float coverage) {
            mask.cover(cx + v, cy - 1 - u, coverage);
        });
        detail::composite(*this, mask, c);
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

    static void check_text(std::string_view where, double x, double y, const rgb& c, double size) {
        require(std::isfinite(x), where, "x", "finite", x);
        require(std::isfinite(y), where, "y", "finite", y);
        detail::check_colour(c, where, "c");
        require(std::isfinite(size) && size > 0.0 && size <= 1000.0, where, "size",
                "finite, in (0, 1000]", size);
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
    above,        ///< in rows above the plot area, under the title (never hides data)
    none          ///< no legend
};

/// Options of render_line_plot.
struct plot_options {
    std::string title{};      ///< above the plot (none when empty)
    std::string x_label{};    ///< under the x axis
    std::string y_label{};    ///< left of the y axis, read bottom to top
    std::size_t width = 900;  ///< canvas width in pixels
    std::size_t height = 540; ///< canvas height in pixels
    /// log10 y axis; y values <= 0 are left out (like NaN) and counted in a note beside the x
    /// label ("2 values <= 0 not shown on the log axis")
    bool log_y = false;
    std::optional<double> y_min{}; ///< axis limits; by default the data range plus 4% each side
    std::optional<double> y_max{};
    std::optional<double> x_min{};
    std::optional<double> x_max{};
    std::vector<double> x_markers{}; ///< x positions of vertical dashed grey lines (finite)
    legend_position legend = legend_position::automatic;
    /// Tick labels, axis labels and legend in pixels per em (the title 1.2 times larger): 0 (the
    /// default) for 17 px on a 900 x 540 canvas, in proportion to the canvas's smaller ratio to
    /// that (at least 8), else in [4, 200].
    double font_size = 0.0;
    double line_width = 2.0; ///< series line width in pixels (finite, > 0)
    /// The font file; empty: $XRESTORE_REPORT_FONT, else the build's default (see load_font).
    std::filesystem::path font{};
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

/// The text of a chart: its font, sizes, and the spacing that follows from the text size.
struct chart_text {
    const font* face = nullptr;
    double size = 17.0;       ///< tick labels, axis labels and legend, pixels per em
    double title_size = 20.4; ///< 1.2 size
    long pad = 10;            ///< margin at the canvas's border and between blocks: 0.6 size
    long tick = 6;            ///< length of a tick mark: 0.35 size
    long gap = 4;             ///< between a tick mark and its label: 0.25 size
    long cap = 12;            ///< height of a capital letter at size, rounded
    long depth = 4;           ///< depth of the descenders at size, rounded up
    long title_cap = 15;      ///< the same at title_size
    long title_depth = 5;
    long pitch = 20;        ///< baseline-to-baseline distance of stacked lines at size, rounded
    long legend_pitch = 23; ///< between the rows of a legend: 1.35 size
    long swatch = 31;       ///< length of a legend's colour swatch: 1.8 size
    long swatch_gap = 9;    ///< between a swatch and its label: 0.5 size

    double width(std::string_view text) const { return face->text_width(text, size); }
};

/// The chart text for options.font and options.font_size on a width x height canvas.
inline chart_text chart_text_for(const std::filesystem::path& font_file, double font_size,
                                 std::size_t width, std::size_t height, std::string_view where) {
    require(font_size == 0.0 || (font_size >= 4.0 && font_size <= 200.0), where,
            "options.font_size", "0 (automatic) or in [4, 200]", font_size);
    chart_text t;
    t.face = &load_font(font_file);
    const double ratio =
        std::min(static_cast<double>(width) / 900.0, static_cast<double>(height) / 540.0);
    t.size = font_size > 0.0 ? font_size : std::max(8.0, 17.0 * ratio);
    t.title_size = 1.2 * t.size;
    t.pad = std::lround(0.6 * t.size);
    t.tick = std::max(2L, std::lround(0.35 * t.size));
    t.gap = std::max(1L, std::lround(0.25 * t.size));
    t.cap = std::lround(t.face->cap_height(t.size));
    t.depth = static_cast<long>(std::ceil(t.face->descent(t.size)));
    t.title_cap = std::lround(t.face->cap_height(t.title_size));
    t.title_depth = static_cast<long>(std::ceil(t.face->descent(t.title_size)));
    t.pitch = std::lround(t.face->line_height(t.size));
    t.legend_pitch = std::lround(1.35 * t.size);
    t.swatch = std::lround(1.8 * t.size);
    t.swatch_gap = std::lround(0.5 * t.size);
    return t;
}

/// `text` broken at spaces into lines no wider than `max_width` at `size`, first fit, from
/// the start. A word wider than that stays whole on its own line.
inline std::vector<std::string> first_fit_lines(const font& face, double size,
                                                std::string_view text, double max_width) {
    std::vector<std::string> lines;
    std::string line;
    std::size_t start = 0;
    while (start <= text.size()) {
        const std::size_t end = std::min(text.find(' ', start), text.size());
        const std::string_view word = text.substr(start, end - start);
        if (!word.empty()) {
            std::string longer = line;
            longer += line.empty() ? "" : " ";
            longer += word;
            if (line.empty() || face.text_width(longer, size) <= max_width) {
                line = std::move(longer);
            } else {
                lines.push_back(line);
                line = std::string(word);
            }
        }
        start = end + 1;
    }
    if (!line.empty() || lines.empty()) {
        lines.push_back(line);
    }
    return lines;
}

/// `text` broken at spaces into as few lines as fit `max_width` at `size`, and those lines as
/// even as can be: the narrowest width that still gives that many lines first fit ("Tikhonov" /
/// "20.90 dB" rather than "Tikhonov 20.90" / "dB"). A word wider than max_width stays whole.
inline std::vector<std::string> wrap_words(const font& face, double size, std::string_view text,
                                           double max_width) {
    std::vector<std::string> lines = first_fit_lines(face, size, text, max_width);
    if (lines.size() < 2) {
        return lines;
    }
    // first fit gives no fewer lines at a narrower width: bisect for the narrowest in [lo, hi]
    double lo = 0.0;
    double hi = max_width;
    for (int step = 0; step < 30 && hi - lo > 0.25; ++step) {
        const double mid = (lo + hi) / 2;
        if (first_fit_lines(face, size, text, mid).size() <= lines.size()) {
            hi = mid;
        } else {
            lo = mid;
        }
    }
    return first_fit_lines(face, size, text, hi);
}

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
    chart_text text;
    double x_lo = 0.0; ///< x axis limits
    double x_hi = 1.0;
    double y_lo = 0.0; ///< y axis limits (data values, also on a log axis)
    double y_hi = 1.0;
    bool log_y = false;
    axis_ticks x_ticks;
    axis_ticks y_ticks;
    std::size_t left_out = 0; ///< finite y values <= 0 not drawn on a log axis
    std::string x_label;      ///< the x label, with the note on left-out values

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

/// How far the y label (vertical, tops of the letters to the left) reaches left and right of its
/// baseline column: its ink above and below the baseline when level.
inline std::pair<long, long> y_label_reach(std::string_view y_label, const chart_text& t) {
    const pixel_box box = t.face->ink_box(y_label, t.size, 0.0, 0.0);
    return box.empty() ? std::pair{0L, 0L}
                       : std::pair{std::max(0L, -box.top), std::max(0L, box.bottom)};
}

/// The left edge of the plot area: the y label, the widest y tick label, the tick marks.
inline long plot_area_left(std::string_view y_label, const std::vector<std::string>& tick_labels,
                           const chart_text& t) {
    double widest = 0.0;
    for (const std::string& label : tick_labels) {
        widest = std::max(widest, t.width(label));
    }
    const auto [above, below] = y_label_reach(y_label, t);
    const long label = y_label.empty() ? 0 : above + below + t.pad;
    return t.pad + label + static_cast<long>(std::ceil(widest)) + t.gap + t.tick + 1;
}

/// How many y ticks fit the plot area's height: 2 to 10, at least 2.8 size apart.
inline int most_y_ticks(const plot_area& area, const chart_text& t) {
    return static_cast<int>(std::clamp(
        static_cast<long>(static_cast<double>(area.height()) / (2.8 * t.size)), 2L, 10L));
}

/// The top of a legend above the plot area: under the title.
inline long legend_top(std::string_view title, const chart_text& t) {
    return t.pad + (title.empty() ? 0 : t.title_cap + t.title_depth + t.pad);
}

/// The entries of a legend above the plot area, in lines across the canvas (its width less the
/// margins): each entry a swatch and its label, entries 1.2 size apart.
inline std::vector<std::vector<std::size_t>> legend_lines(const std::vector<std::string>& labels,
                                                          const chart_text& t,
                                                          std::size_t canvas_width) {
    const double available = static_cast<double>(canvas_width) - 2.0 * static_cast<double>(t.pad);
    const double spacing = 1.2 * t.size;
    std::vector<std::vector<std::size_t>> lines;
    double used = 0.0;
    for (std::size_t i = 0; i < labels.size(); ++i) {
        const double entry = static_cast<double>(t.swatch + t.swatch_gap) + t.width(labels[i]);
        if (lines.empty() || used + spacing + entry > available) {
            lines.emplace_back();
            used = entry;
        } else {
            used += spacing + entry;
        }
        lines.back().push_back(i);
    }
    return lines;
}

/// Height of a legend above the plot area (0 for no entries).
inline long legend_height(const std::vector<std::string>& labels, const chart_text& t,
                          std::size_t canvas_width) {
    const auto n = static_cast<long>(legend_lines(labels, t, canvas_width).size());
    return n == 0 ? 0 : t.cap + t.depth + (n - 1) * t.legend_pitch;
}

/// The top edge of the plot area: the title, a legend above the plot area when it has a
/// height, then room for half the top y tick label.
inline long plot_area_top(std::string_view title, const chart_text& t, long legend_height = 0) {
    return legend_top(title, t) + (legend_height > 0 ? legend_height + t.pad : 0) + t.cap / 2;
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

    // data ranges over the points that are drawn (both coordinates finite, y > 0 on a log axis)
    line_plot_layout layout;
    double x_lo = std::numeric_limits<double>::infinity();
    double x_hi = -x_lo;
    double y_lo = x_lo;
    double y_hi = -x_lo;
    for (const plot_series& s : series) {
        for (std::size_t j = 0; j < s.x.size(); ++j) {
            if (options.log_y && std::isfinite(s.y[j]) && !(s.y[j] > 0.0)) {
                ++layout.left_out;
                continue;
            }
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

    layout.log_y = options.log_y;
    layout.x_label = options.x_label;
    if (layout.left_out > 0) {
        const std::string note =
            concat(has_data ? "" : "all ", layout.left_out,
                   layout.left_out == 1 ? " value" : " values", " <= 0 not shown on the log axis");
        layout.x_label = layout.x_label.empty() ? note : concat(layout.x_label, " (", note, ")");
    }
    const auto [xl, xh] = axis_limits(options.x_min, options.x_max, x_lo, x_hi, has_data, false,
                                      where, "options.x_min", "options.x_max");
    const auto [yl, yh] = axis_limits(options.y_min, options.y_max, y_lo, y_hi, has_data,
                                      options.log_y, where, "options.y_min", "options.y_max");
    layout.x_lo = xl;
    layout.x_hi = xh;
    layout.y_lo = options.log_y ? std::pow(10.0, yl) : yl;
    layout.y_hi = options.log_y ? std::pow(10.0, yh) : yh;

    layout.text =
        chart_text_for(options.font, options.font_size, options.width, options.height, where);
    const chart_text& t = layout.text;
    const auto width = static_cast<long>(options.width);
    const auto height = static_cast<long>(options.height);

    // top: title; bottom: tick marks, tick labels, x label
    plot_area& area = layout.area;
    std::vector<std::string> legend_labels;
    for (const plot_series& one : series) {
        if (!one.label.empty()) {
            legend_labels.push_back(one.label);
        }
    }
    area.top = plot_area_top(options.title, t,
                             options.legend == legend_position::above
                                 ? legend_height(legend_labels, t, options.width)
                                 : 0);
    area.bottom = height - (1 + t.tick + t.gap + t.cap + t.depth + t.pad +
                            (layout.x_label.empty() ? 0 : 2 * t.gap + t.cap + t.depth));
    if (area.height() < 16) {
        throw value_error(concat(where, ": options.height must leave room for the plot, got ",
                                 options.height, " (font size ", t.size, ")"));
    }
    const int max_y_ticks = most_y_ticks(area, t);
    layout.y_ticks = options.log_y ? log_axis_ticks(layout.y_lo, layout.y_hi, max_y_ticks)
                                   : linear_axis_ticks(layout.y_lo, layout.y_hi, max_y_ticks);
    area.left = plot_area_left(options.y_label, layout.y_ticks.labels, t);
    // x ticks: as many as fit with their labels 2.5 em apart; the right margin grows until the
    // last label fits on the canvas
    long right_margin = 3 * t.pad;
    for (int pass = 0; pass < 3; ++pass) {
        area.right = width - right_margin;
        if (area.width() < 16) {
            throw value_error(concat(where, ": options.width must leave room for the plot, got ",
                                     options.width, " (font size ", t.size, ")"));
        }
        for (int n = 12; n >= 2; --n) {
            layout.x_ticks = linear_axis_ticks(layout.x_lo, layout.x_hi, n);
            double widest = 0.0;
            for (const std::string& label : layout.x_ticks.labels) {
                widest = std::max(widest, t.width(label));
            }
            const auto count = layout.x_ticks.major.size();
            const double spacing = count < 2 ? 1e300
                                             : layout.x_pixel(layout.x_ticks.major[1]) -
                                                   layout.x_pixel(layout.x_ticks.major[0]);
            if (spacing >= widest + 2.5 * t.size) {
                break;
            }
        }
        if (layout.x_ticks.major.empty()) {
            break;
        }
        const long last = std::lround(layout.x_pixel(layout.x_ticks.major.back())) +
                          static_cast<long>(std::ceil(t.width(layout.x_ticks.labels.back()) / 2)) +
                          2;
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

/// One legend entry with its swatch's left end at `left` and its label's baseline at
/// `baseline`: a line through the middle of the capitals, or a block as tall as they are.
inline void draw_legend_entry(canvas& out, const legend_entry& row, long left, long baseline,
                              const chart_text& t, double line_width) {
    if (row.block) {
        out.fill_rect(left, baseline - t.cap, left + t.swatch, baseline, row.colour);
    } else {
        // on a half row, so that even widths stay crisp
        const double mid =
            std::round(static_cast<double>(baseline) - t.face->cap_height(t.size) / 2) - 0.5;
        stroke_mask mask(left - 2, baseline - t.cap - t.depth, left + t.swatch + 2,
                         baseline + t.depth);
        const std::array<double, 2> xs = {static_cast<double>(left),
                                          static_cast<double>(left + t.swatch - 1)};
        const std::array<double, 2> ys = {mid, mid};
        mask.add_polyline(xs, ys, line_width, row.dashed);
        composite(out, mask, row.colour);
    }
    out.draw_text(static_cast<double>(left + t.swatch + t.swatch_gap),
                  static_cast<double>(baseline), row.label, {0, 0, 0}, *t.face, t.size);
}

/// The legend: with `above`, in lines centred over the plot area from `top` down (see
/// legend_lines); else a box inside `area`, in the corner `where` says, `automatic` taking the
/// first of top right, top left, bottom right, bottom left that hides the least of `occupied`.
/// Rows of the box are one legend pitch apart.
inline void draw_legend(canvas& out, const plot_area& area, const std::vector<legend_entry>& rows,
                        legend_position where, const stroke_mask& occupied, const chart_text& t,
                        double line_width, long top) {
    if (where == legend_position::none || rows.empty()) {
        return;
    }
    if (where == legend_position::above) {
        std::vector<std::string> labels;
        for (const legend_entry& row : rows) {
            labels.push_back(row.label);
        }
        const double spacing = 1.2 * t.size;
        const auto lines = legend_lines(labels, t, out.width());
        for (std::size_t l = 0; l < lines.size(); ++l) {
            double total = -spacing;
            for (std::size_t i : lines[l]) {
                total +=
                    spacing + static_cast<double>(t.swatch + t.swatch_gap) + t.width(labels[i]);
            }
            const double centre =
                static_cast<double>(area.left) + static_cast<double>(area.width()) / 2;
            double x = std::clamp(
                centre - total / 2, static_cast<double>(t.pad),
                std::max(static_cast<double>(t.pad),
                         static_cast<double>(out.width()) - static_cast<double>(t.pad) - total));
            const long baseline = top + t.cap + static_cast<long>(l) * t.legend_pitch;
            for (std::size_t i : lines[l]) {
                draw_legend_entry(out, rows[i], std::lround(x), baseline, t, line_width);
                x += static_cast<double>(t.swatch + t.swatch_gap) + t.width(labels[i]) + spacing;
            }
        }
        return;
    }
    const long inner = std::lround(0.5 * t.size);
    const long margin = std::lround(0.5 * t.size);
    double label_width = 0.0;
    for (const legend_entry& row : rows) {
        label_width = std::max(label_width, t.width(row.label));
    }
    const auto n = static_cast<long>(rows.size());
    const long box_w =
        2 * inner + t.swatch + t.swatch_gap + static_cast<long>(std::ceil(label_width));
    const long box_h = 2 * inner + (n - 1) * t.legend_pitch + t.cap + t.depth;
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
        draw_legend_entry(out, rows[static_cast<std::size_t>(i)], x0 + inner,
                          y0 + inner + t.cap + i * t.legend_pitch, t, line_width);
    }
}

inline constexpr rgb plot_ink = {0.0f, 0.0f, 0.0f};
inline constexpr rgb plot_grid = {0.87f, 0.87f, 0.87f};
inline constexpr rgb plot_minor_grid = {0.94f, 0.94f, 0.94f};
inline constexpr rgb plot_marker = {0.45f, 0.45f, 0.45f};

/// `text` at `size` centred on column `centre` (a pixel centre is at x + 1/2), kept on the
/// canvas when it fits.
inline void draw_centred_text(canvas& out, double centre, long baseline, std::string_view text,
                              const chart_text& t, double size) {
    const double w = t.face->text_width(text, size);
    const double x =
        std::clamp(centre - w / 2, 0.0, std::max(0.0, static_cast<double>(out.width()) - w));
    out.draw_text(x, static_cast<double>(baseline), text, plot_ink, *t.face, size);
}

/// The parts line plots and bar charts share: the frame just outside `area`, the title centred
/// above it and the vertical y label left of it.
inline void draw_frame_and_titles(canvas& out, const plot_area& area, std::string_view title,
                                  std::string_view y_label, const chart_text& t) {
    out.draw_rect(area.left - 1, area.top - 1, area.right + 1, area.bottom + 1, plot_ink);
    if (!title.empty()) {
        draw_centred_text(out,
                          static_cast<double>(area.left) + static_cast<double>(area.width()) / 2,
                          t.pad + t.title_cap, title, t, t.title_size);
    }
    if (!y_label.empty()) {
        // centred on the plot area, read from bottom to top
        const double h = t.width(y_label);
        const double start = std::max(h, static_cast<double>(area.top) +
                                             (static_cast<double>(area.height()) + h) / 2);
        out.draw_text_vertical(static_cast<double>(t.pad + y_label_reach(y_label, t).first),
                               std::round(start), y_label, plot_ink, *t.face, t.size);
    }
}

/// A y tick at `row` with its label right-aligned left of it, its capitals centred on the row.
inline void draw_y_tick(canvas& out, const plot_area& area, long row, std::string_view label,
                        const chart_text& t) {
    out.fill_rect(area.left - 1 - t.tick, row, area.left - 1, row + 1, plot_ink);
    const double right = static_cast<double>(area.left - 1 - t.tick - t.gap);
    const double baseline =
        std::floor(static_cast<double>(row) + 1.0 + t.face->cap_height(t.size) / 2);
    out.draw_text(right - t.width(label), baseline, label, plot_ink, *t.face, t.size);
}

/// An x tick mark at `column`, `length` pixels long under the plot area.
inline void draw_x_tick_mark(canvas& out, const plot_area& area, long column, long length) {
    out.fill_rect(column, area.bottom + 1, column + 1, area.bottom + 1 + length, plot_ink);
}

/// The baseline of the first line of x tick labels.
inline long x_tick_label_baseline(const plot_area& area, const chart_text& t) {
    return area.bottom + 1 + t.tick + t.gap + t.cap;
}

/// An x tick at `column` with its label centred under it (kept on the canvas).
inline void draw_x_tick(canvas& out, const plot_area& area, long column, std::string_view label,
                        const chart_text& t) {
    draw_x_tick_mark(out, area, column, t.tick);
    draw_centred_text(out, static_cast<double>(column) + 0.5, x_tick_label_baseline(area, t), label,
                      t, t.size);
}

} // namespace detail

/// A line plot: a framed plot area with light grid lines, tick marks and labels on both axes,
/// axis labels (the y label vertical), the title on top, dashed grey lines at options.x_markers
/// and a legend (a colour swatch and label per series with a label) in a box inside the plot
/// area, or above it for legend_position::above.
/// Series are drawn in order, options.line_width pixels wide, clipped to the plot area; NaN or
/// infinite points break a line, and so do y values <= 0 on a log axis, which the x label's note
/// counts (an all-zero series gives an empty plot that says so; a constant one a range around its
/// value). Throws shape_error for a series whose x and y differ in length, value_error for no
/// points at all, bad limits (non-finite, min >= max, <= 0 on the log axis), a canvas too small
/// for its labels, or a colour outside [0, 1]; each message names the series by index and label.
inline canvas render_line_plot(const std::vector<plot_series>& series,
                               const plot_options& options = {}) {
    const detail::line_plot_layout layout = detail::layout_line_plot(series, options);
    const detail::plot_area& area = layout.area;
    const detail::chart_text& t = layout.text;
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
    const double marker_width = std::max(1.0, t.size / 11.0);
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
            const bool finite =
                std::isfinite(s.x[j]) && std::isfinite(s.y[j]) && (!layout.log_y || s.y[j] > 0.0);
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
    detail::draw_frame_and_titles(out, area, options.title, options.y_label, t);
    for (std::size_t k = 0; k < layout.y_ticks.major.size(); ++k) {
        detail::draw_y_tick(out, area, row_of(layout.y_ticks.major[k]), layout.y_ticks.labels[k],
                            t);
    }
    for (std::size_t k = 0; k < layout.x_ticks.major.size(); ++k) {
        detail::draw_x_tick(out, area, column_of(layout.x_ticks.major[k]), layout.x_ticks.labels[k],
                            t);
    }
    if (!layout.x_label.empty()) {
        // under the tick labels, centred on the plot area
        const long baseline = detail::x_tick_label_baseline(area, t) + t.depth + 2 * t.gap + t.cap;
        detail::draw_centred_text(
            out, static_cast<double>(area.left) + static_cast<double>(area.width()) / 2, baseline,
            layout.x_label, t, t.size);
    }
    detail::draw_legend(out, area, legend, options.legend, occupied, t, options.line_width,
                        detail::legend_top(options.title, t));
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
    legend_position legend = legend_position::above; ///< by default over the chart, off the bars
    double font_size = 0.0;                          ///< as plot_options::font_size
    std::filesystem::path font{};                    ///< as plot_options::font
};

namespace detail {

/// Where a bar chart's parts go; computed by layout_bar_chart.
struct bar_chart_layout {
    plot_area area; ///< the data rectangle
    chart_text text;
    std::size_t series = 0; ///< bars per group
    double lo = 0.0;        ///< y axis limits
    double hi = 1.0;
    axis_ticks y_ticks;
    double slot = 1.0;                            ///< pixels per group
    std::vector<std::vector<std::string>> labels; ///< the lines of each group's label
    bool upright = false;                         ///< labels turned to read upwards
};

/// The layout of a bar chart: checks the groups and options (see render_bar_chart), then fixes
/// the y axis, the plot rectangle and how the group labels are set.
inline bar_chart_layout layout_bar_chart(const std::vector<bar_group>& groups,
                                         const bar_options& options) {
    constexpr const char* where = "render_bar_chart";
    bar_chart_layout layout;
    check_plot_size(options.width, options.height, where);
    if (groups.empty()) {
        throw value_error(concat(where, ": groups must hold at least one group, got none"));
    }
    layout.series =
        options.series_labels.empty() ? groups.front().values.size() : options.series_labels.size();
    const std::size_t n = layout.series;
    if (n == 0) {
        throw value_error(concat(where, ": group 0 (\"", groups.front().label,
                                 "\") must hold at least one value, got none"));
    }
    double v_lo = 0.0;
    double v_hi = 0.0;
    for (std::size_t g = 0; g < groups.size(); ++g) {
        if (groups[g].values.size() != n) {
            throw shape_error(concat(where, ": group ", g, " (\"", groups[g].label,
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
    double& lo = layout.lo;
    double& hi = layout.hi;
    lo = options.y_min.value_or(v_lo < 0.0 ? v_lo - 0.05 * span : 0.0);
    hi = options.y_max.value_or(v_hi > 0.0 ? v_hi + 0.05 * span : 0.0);
    if (!(lo < hi)) {
        if (options.y_min && options.y_max) {
            throw value_error(
                concat(where, ": options.y_min must be < options.y_max, got ", lo, " and ", hi));
        }
        if (options.y_min) {
            hi = lo + span;
        } else {
            lo = hi - span;
        }
    }

    layout.text =
        chart_text_for(options.font, options.font_size, options.width, options.height, where);
    const chart_text& t = layout.text;
    const auto width = static_cast<long>(options.width);
    const auto height = static_cast<long>(options.height);
    const long below_labels = 1 + t.tick + t.gap + t.pad; // tick marks, gaps, margin
    plot_area& area = layout.area;
    area.top = plot_area_top(options.title, t,
                             options.legend == legend_position::above
                                 ? legend_height(options.series_labels, t, options.width)
                                 : 0);
    // first as if the group labels took one line, to choose the y ticks
    area.bottom = height - (below_labels + t.cap + t.depth);
    auto check_height = [&] {
        if (area.height() < 16) {
            throw value_error(concat(where, ": options.height must leave room for the ",
                                     "chart, got ", options.height, " (font size ", t.size, ")"));
        }
    };
    check_height();
    const int max_y_ticks = most_y_ticks(area, t);
    layout.y_ticks = linear_axis_ticks(lo, hi, max_y_ticks);
    area.left = plot_area_left(options.y_label, layout.y_ticks.labels, t);
    area.right = width - 3 * t.pad;
    if (area.width() < 16) {
        throw value_error(concat(where, ": options.width must leave room for the chart, ", "got ",
                                 options.width, " (font size ", t.size, ")"));
    }
    // group labels: one line each, else wrapped at spaces, else turned upright
    layout.slot = static_cast<double>(area.width()) / static_cast<double>(groups.size());
    const double room = layout.slot - 0.4 * t.size;
    std::vector<std::vector<std::string>>& label_lines = layout.labels;
    bool fits = true;
    bool too_wide = false; // a line of a wrapped label
    double longest = 0.0;
    for (const bar_group& group : groups) {
        longest = std::max(longest, t.width(group.label));
        fits = fits && t.width(group.label) <= room;
    }
    for (const bar_group& group : groups) {
        label_lines.push_back(fits ? std::vector<std::string>{group.label}
                                   : wrap_words(*t.face, t.size, group.label, room));
        for (const std::string& line : label_lines.back()) {
            too_wide = too_wide || t.width(line) > room;
        }
    }
    layout.upright = !fits && too_wide; // a word wider than its slot
    std::size_t most_lines = 1;
    for (const auto& lines : label_lines) {
        most_lines = std::max(most_lines, lines.size());
    }
    const long label_height = layout.upright
                                  ? static_cast<long>(std::ceil(longest))
                                  : t.cap + t.depth + static_cast<long>(most_lines - 1) * t.pitch;
    area.bottom = height - (below_labels + label_height);
    check_height();
    return layout;
}

} // namespace detail

/// A grouped bar chart: one cluster of bars per group, one bar per series in palette_color
/// order, rising from 0 (or the nearest axis limit) to the value; y grid, ticks and labels,
/// the group labels under the clusters, the title and a legend of options.series_labels. Group
/// labels keep the font size: each stays on one line when all fit their slots, else they are
/// wrapped at spaces, else (a word wider than its slot) all are turned to read upwards. The
/// number of series is series_labels.size() when given, else that of the first group. Throws
/// value_error for no groups or no series and bad limits, shape_error for a group with another
/// number of values (naming the group).
inline canvas render_bar_chart(const std::vector<bar_group>& groups,
                               const bar_options& options = {}) {
    const detail::bar_chart_layout layout = detail::layout_bar_chart(groups, options);
    const detail::plot_area& area = layout.area;
    const detail::chart_text& t = layout.text;
    const std::size_t n = layout.series;
    const double lo = layout.lo;
    const double hi = layout.hi;
    const double slot = layout.slot;
    const detail::axis_ticks& y_ticks = layout.y_ticks;
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

    detail::draw_frame_and_titles(out, area, options.title, options.y_label, t);
    for (std::size_t k = 0; k < y_ticks.major.size(); ++k) {
        detail::draw_y_tick(out, area, row_of(y_ticks.major[k]), y_ticks.labels[k], t);
    }
    const long first_baseline = detail::x_tick_label_baseline(area, t);
    for (std::size_t g = 0; g < groups.size(); ++g) {
        const double centre =
            static_cast<double>(area.left) + (static_cast<double>(g) + 0.5) * slot;
        const long column = std::lround(centre - 0.5);
        detail::draw_x_tick_mark(out, area, column, t.tick);
        if (layout.upright) {
            // read upwards, ending just under the tick, the capitals centred on it
            const double w = t.width(groups[g].label);
            out.draw_text_vertical(
                std::round(static_cast<double>(column) + 0.5 + t.face->cap_height(t.size) / 2),
                static_cast<double>(area.bottom + 1 + t.tick + t.gap) + std::ceil(w),
                groups[g].label, detail::plot_ink, *t.face, t.size);
            continue;
        }
        for (std::size_t l = 0; l < layout.labels[g].size(); ++l) {
            detail::draw_centred_text(out, static_cast<double>(column) + 0.5,
                                      first_baseline + static_cast<long>(l) * t.pitch,
                                      layout.labels[g][l], t, t.size);
        }
    }
    std::vector<detail::legend_entry> legend;
    for (std::size_t k = 0; k < options.series_labels.size(); ++k) {
        legend.push_back({options.series_labels[k], palette_color(k), false, true});
    }
    detail::draw_legend(out, area, legend, options.legend, occupied, t, 2.0,
                        detail::legend_top(options.title, t));
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

/// Options of render_panel.
struct panel_options {
    std::size_t gap = 8;          ///< pixels between the images and around them (at most 4096)
    double font_size = 16.0;      ///< captions, pixels per em, in [4, 200]
    std::filesystem::path font{}; ///< as plot_options::font
};

/// Images side by side on white, options.gap pixels apart and from the border, each with its
/// caption centred under it. No resampling: images keep their sizes and are top-aligned. A
/// caption's lines ('\n' separates them) are wrapped at spaces to the width of the image or
/// 8 em, whichever is more. Each column is as wide as its image, or as its widest caption line
/// plus 1 em when that line is wider than the image (the image centred in it). Captions start
/// 0.4 em (rounded) below the tallest image, their baselines one line pitch apart. The canvas is
/// sum(column widths) + (n + 1) gap wide and gap + max(image heights) + caption block + gap
/// tall, the caption block round(0.4 em) + cap + depth + (L - 1) pitch for at most L lines
/// (0 when every caption is empty), with cap = round(font::cap_height), depth =
/// ceil(font::descent) and pitch = round(font::line_height). Throws value_error for no items,
/// gap > 4096 or a font size outside [4, 200], shape_error for a picture without 1 or 3 channels
/// or without pixels, value_error for non-finite pixels, io_error for the font (see load_font).
inline canvas render_panel(const std::vector<panel_item>& items,
                           const panel_options& options = {}) {
    constexpr const char* where = "render_panel";
    if (items.empty()) {
        throw value_error(detail::concat(where, ": items must hold at least one image, got none"));
    }
    require(options.gap <= 4096, where, "options.gap", "<= 4096", options.gap);
    require(options.font_size >= 4.0 && options.font_size <= 200.0, where, "options.font_size",
            "in [4, 200]", options.font_size);
    const font& face = load_font(options.font);
    const double size = options.font_size;
    const long em = std::lround(size);
    const long cap = std::lround(face.cap_height(size));
    const long depth = static_cast<long>(std::ceil(face.descent(size)));
    const long pitch = std::lround(face.line_height(size));
    const long caption_gap = std::lround(0.4 * size);
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
        const auto image_width = static_cast<long>(picture.shape()[2]);
        const double wrap = static_cast<double>(std::max(image_width, 8 * em));
        std::string_view rest = items[i].caption;
        while (!rest.empty()) {
            const std::size_t cut = rest.find('\n');
            for (std::string& line : detail::wrap_words(face, size, rest.substr(0, cut), wrap)) {
                captions[i].push_back(std::move(line));
            }
            rest = cut == std::string_view::npos ? std::string_view{} : rest.substr(cut + 1);
        }
        double widest = 0.0;
        for (const std::string& line : captions[i]) {
            widest = std::max(widest, face.text_width(line, size));
        }
        columns[i] = widest <= static_cast<double>(image_width)
                         ? image_width
                         : static_cast<long>(std::ceil(widest)) + em;
        tallest = std::max(tallest, static_cast<long>(picture.shape()[1]));
        most_lines = std::max(most_lines, captions[i].size());
    }
    const auto g = static_cast<long>(options.gap);
    const auto lines = static_cast<long>(most_lines);
    const long caption_h = lines == 0 ? 0 : caption_gap + cap + depth + (lines - 1) * pitch;
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
            const double line_w = face.text_width(captions[i][l], size);
            out.draw_text(
                static_cast<double>(x) + (static_cast<double>(columns[i]) - line_w) / 2,
                static_cast<double>(g + tallest + caption_gap + cap + static_cast<long>(l) * pitch),
                captions[i][l], detail::plot_ink, face, size);
        }
        x += columns[i] + g;
    }
    return out;
}

/// render_panel written as a PNG.
inline void write_panel(const std::filesystem::path& path, const std::vector<panel_item>& items,
                        const panel_options& options = {}) {
    render_panel(items, options).write_png(path);
}

} // namespace xrestore::report
