#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <xrestore/io/image.hpp>
#include <xrestore/report/font.hpp>
#include <xrestore/report/plot.hpp>

#include <stb_truetype.h>

#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstdlib>
#include <limits>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_plot)

using namespace xrestore;
using namespace xrestore::report;

namespace {

bool same_colour(const canvas& c, long x, long y, rgb colour) {
    return c.pixel(static_cast<std::size_t>(x), static_cast<std::size_t>(y)) == colour;
}

bool white(const canvas& c, long x, long y) {
    return same_colour(c, x, y, {1, 1, 1});
}

/// The message of the exception of type E that f throws (fails the test otherwise).
template <class E, class F>
std::string message_of(F&& f) {
    try {
        f();
    } catch (const E& e) {
        return e.what();
    }
    BOOST_FAIL("expected an exception of the given type");
    return {};
}

bool contains(const std::string& text, const std::string& part) {
    return text.find(part) != std::string::npos;
}

/// The default font file read straight through stb_truetype, apart from report::font, to
/// compute what the text should look like.
struct reference_font {
    std::string bytes = test::slurp(load_font().path());
    stbtt_fontinfo info{};
    reference_font() {
        BOOST_TEST_REQUIRE(
            stbtt_InitFont(&info, reinterpret_cast<const unsigned char*>(bytes.data()), 0) != 0);
    }
    double scale(double size) const {
        return static_cast<double>(
            stbtt_ScaleForMappingEmToPixels(&info, static_cast<float>(size)));
    }
    /// Sum of the advance widths and pair kernings of ASCII `text`, in pixels.
    double advance(const std::string& text, double size) const {
        int units = 0;
        for (std::size_t i = 0; i < text.size(); ++i) {
            int advance = 0;
            int bearing = 0;
            stbtt_GetCodepointHMetrics(&info, text[i], &advance, &bearing);
            units += advance;
            if (i + 1 < text.size()) {
                units += stbtt_GetCodepointKernAdvance(&info, text[i], text[i + 1]);
            }
        }
        return units * scale(size);
    }
    /// The pen position of character i of ASCII `text`: the advances of the characters before
    /// it and the kerning of each with its successor.
    double pen(const std::string& text, std::size_t i, double size) const {
        return advance(text.substr(0, i + 1), size) - advance(text.substr(i, 1), size);
    }
    /// The outline box of ASCII `text` with its pen at (x, baseline): [x0, x1] x [y0, y1].
    std::array<double, 4> outline_box(const std::string& text, double size, double x,
                                      double baseline) const {
        std::array<double, 4> box = {1e300, 1e300, -1e300, -1e300};
        for (std::size_t i = 0; i < text.size(); ++i) {
            const double pen = x + this->pen(text, i, size);
            int x0 = 0;
            int y0 = 0;
            int x1 = 0;
            int y1 = 0;
            if (stbtt_GetCodepointBox(&info, text[i], &x0, &y0, &x1, &y1) == 0) {
                continue;
            }
            box[0] = std::min(box[0], pen + x0 * scale(size));
            box[2] = std::max(box[2], pen + x1 * scale(size));
            box[1] = std::min(box[1], baseline - y1 * scale(size)); // font y points up
            box[3] = std::max(box[3], baseline - y0 * scale(size));
        }
        return box;
    }
};

/// The smallest rectangle [x0, x1) x [y0, y1) holding every pixel that is not white.
std::array<long, 4> ink_bounds(const canvas& c) {
    std::array<long, 4> box = {std::numeric_limits<long>::max(), std::numeric_limits<long>::max(),
                               -1, -1};
    for (long y = 0; y < static_cast<long>(c.height()); ++y) {
        for (long x = 0; x < static_cast<long>(c.width()); ++x) {
            if (!white(c, x, y)) {
                box = {std::min(box[0], x), std::min(box[1], y), std::max(box[2], x + 1),
                       std::max(box[3], y + 1)};
            }
        }
    }
    return box;
}

} // namespace

BOOST_AUTO_TEST_CASE(nice_ticks_cover_the_range_with_round_steps) {
    using report::detail::nice_ticks;
    BOOST_TEST(nice_ticks(0.0, 1.0, 6) == (std::vector<double>{0.0, 0.2, 0.4, 0.6, 0.8, 1.0}),
               boost::test_tools::per_element());
    // step 0.01 would need 9 ticks (0.01..0.09): 0.02 covers [0.013, 0.087] with 6
    BOOST_TEST(nice_ticks(0.013, 0.087, 6) ==
                   (std::vector<double>{0.0, 0.02, 0.04, 0.06, 0.08, 0.1}),
               boost::test_tools::per_element());
    BOOST_TEST(nice_ticks(0.013, 0.087, 10) ==
                   (std::vector<double>{0.01, 0.02, 0.03, 0.04, 0.05, 0.06, 0.07, 0.08, 0.09}),
               boost::test_tools::per_element());
    // step 50 would need 7 ticks
    BOOST_TEST(nice_ticks(0.0, 300.0, 6) == (std::vector<double>{0.0, 100.0, 200.0, 300.0}),
               boost::test_tools::per_element());
    BOOST_TEST(nice_ticks(0.0, 300.0, 7) ==
                   (std::vector<double>{0.0, 50.0, 100.0, 150.0, 200.0, 250.0, 300.0}),
               boost::test_tools::per_element());
    // step 2 would need 7 ticks (-8..4)
    BOOST_TEST(nice_ticks(-7.0, 3.0, 6) == (std::vector<double>{-10.0, -5.0, 0.0, 5.0}),
               boost::test_tools::per_element());
    // a single value is widened to v -+ 0.1 |v|, 0 to -1..1
    BOOST_TEST(nice_ticks(5.0, 5.0, 6) == (std::vector<double>{4.5, 5.0, 5.5}),
               boost::test_tools::per_element());
    BOOST_TEST(nice_ticks(0.0, 0.0, 6) == (std::vector<double>{-1.0, -0.5, 0.0, 0.5, 1.0}),
               boost::test_tools::per_element());
    BOOST_CHECK_THROW(nice_ticks(1.0, 0.0, 6), value_error);
    BOOST_CHECK_THROW(nice_ticks(0.0, std::nan(""), 6), value_error);
    BOOST_CHECK_THROW(nice_ticks(0.0, 1.0, 1), value_error);
}

BOOST_AUTO_TEST_CASE(tick_labels_are_compact) {
    using report::detail::tick_label;
    BOOST_TEST(tick_label(0.5, 0.1) == "0.5");
    BOOST_TEST(tick_label(1.0, 0.2) == "1");
    BOOST_TEST(tick_label(0.6, 0.2) == "0.6");
    BOOST_TEST(tick_label(300.0, 100.0) == "300");
    BOOST_TEST(tick_label(0.02, 0.02) == "0.02");
    BOOST_TEST(tick_label(1.25, 0.25) == "1.25");
    BOOST_TEST(tick_label(1.5, 0.25) == "1.5");
    BOOST_TEST(tick_label(1000.0, 500.0) == "1000");
    BOOST_TEST(tick_label(7.5e-3, 2.5e-3) == "7.5e-3");
    BOOST_TEST(tick_label(0.3, 0.1) == "0.3");
    BOOST_TEST(tick_label(-0.5, 0.5) == "-0.5");
    BOOST_TEST(tick_label(0.0, 0.1) == "0");
    BOOST_TEST(tick_label(1e-17, 0.1) == "0"); // rounding noise around 0
    BOOST_TEST(tick_label(1e-3, 1e-3) == "1e-3");
    BOOST_TEST(tick_label(2.5e-3, 5e-4) == "2.5e-3");
    BOOST_TEST(tick_label(-2e-4, 1e-4) == "-2e-4");
    BOOST_TEST(tick_label(1e5, 1e5) == "1e5");
    BOOST_TEST(tick_label(1.5e5, 5e4) == "1.5e5");
    BOOST_TEST(tick_label(25.0, 5.0) == "25");
    BOOST_CHECK_THROW(tick_label(1.0, 0.0), value_error);
}

BOOST_AUTO_TEST_CASE(text_inks_inside_the_box_of_its_glyph_outlines) {
    const reference_font reference;
    const font& face = load_font();
    const rgb ink{0.1f, 0.2f, 0.3f};
    for (const std::string text : {"H", "Typography (dB) 0.25", "AVATAR gjpqy"}) {
        for (const double size : {11.0, 17.0, 31.5}) {
            const double x = 7.25;
            const double baseline = 2.0 * size + 0.5;
            canvas c(static_cast<std::size_t>(face.text_width(text, size) + 3 * size),
                     static_cast<std::size_t>(3 * size));
            c.draw_text(x, baseline, text, ink, face, size);
            const auto box = reference.outline_box(text, size, x, baseline);
            const auto inked = ink_bounds(c);
            // each inked pixel touches the outline box; the outermost ones reach its edges
            BOOST_TEST(static_cast<double>(inked[0]) >= std::floor(box[0]) - 1e-9);
            BOOST_TEST(static_cast<double>(inked[1]) >= std::floor(box[1]) - 1e-9);
            BOOST_TEST(static_cast<double>(inked[2]) <= std::ceil(box[2]) + 1e-9);
            BOOST_TEST(static_cast<double>(inked[3]) <= std::ceil(box[3]) + 1e-9);
            BOOST_TEST(static_cast<double>(inked[0]) <= box[0] + 1.0, text << " at " << size);
            BOOST_TEST(static_cast<double>(inked[1]) <= box[1] + 1.0, text << " at " << size);
            BOOST_TEST(static_cast<double>(inked[2]) >= box[2] - 1.0, text << " at " << size);
            BOOST_TEST(static_cast<double>(inked[3]) >= box[3] - 1.0, text << " at " << size);
            // font::ink_box holds every inked pixel
            const pixel_box predicted = face.ink_box(text, size, x, baseline);
            BOOST_TEST(predicted.left <= inked[0]);
            BOOST_TEST(predicted.top <= inked[1]);
            BOOST_TEST(predicted.right >= inked[2]);
            BOOST_TEST(predicted.bottom >= inked[3]);
        }
    }
    // the capital H: two full-height stems, antialiased edges in between ink and paper
    canvas h(40, 40);
    h.draw_text(10.0, 30.0, "H", {0, 0, 0}, face, 17.0);
    const long cap = std::lround(face.cap_height(17.0));
    BOOST_TEST(cap >= 12); // readable: 12-pixel capitals at the plots' default size
    long partial = 0;
    long full = 0;
    for (long y = 30 - cap; y < 30; ++y) {
        for (long x = 0; x < 40; ++x) {
            const float v = h.pixel(static_cast<std::size_t>(x), static_cast<std::size_t>(y)).r;
            full += v == 0.0f ? 1 : 0;
            partial += v > 0.0f && v < 1.0f ? 1 : 0;
        }
    }
    BOOST_TEST(full >= 2 * (cap - 2));
    BOOST_TEST(partial > 0);
}

BOOST_AUTO_TEST_CASE(text_width_is_the_sum_of_advances_and_kerning) {
    const reference_font reference;
    const font& face = load_font();
    double previous = -1.0;
    for (const std::string text : {"", "A", "AV", "AVA", "AVAT", "AVATA", "AVATAR", "AVATAR 2"}) {
        const double width = face.text_width(text, 17.0);
        BOOST_TEST(width == reference.advance(text, 17.0), boost::test_tools::tolerance(1e-9));
        BOOST_TEST(width > previous, "\"" << text << "\" is wider than its prefix");
        previous = width;
    }
    // the font kerns A and V closer than their advances
    BOOST_TEST(face.text_width("AV", 17.0) <
               face.text_width("A", 17.0) + face.text_width("V", 17.0) - 0.5);
    // proportional to the size
    BOOST_TEST(face.text_width("PSNR (dB)", 34.0) == 2.0 * face.text_width("PSNR (dB)", 17.0),
               boost::test_tools::tolerance(1e-6));
    // the pen positions of the layout are the advance sums of the prefixes
    const text_run run = face.layout("AVATAR", 17.0);
    BOOST_TEST_REQUIRE(run.glyphs.size() == 6u);
    for (std::size_t i = 0; i < 6; ++i) {
        BOOST_TEST(run.glyphs[i].x == reference.pen("AVATAR", i, 17.0),
                   boost::test_tools::tolerance(1e-9));
    }
}

BOOST_AUTO_TEST_CASE(vertical_text_is_rotated_counter_clockwise) {
    const font& face = load_font();
    const rgb ink{0, 0, 0};
    const std::string text = "Fy (dB)";
    const double size = 17.0;
    const auto w = static_cast<long>(std::ceil(face.text_width(text, size))) + 4;
    canvas flat(static_cast<std::size_t>(w), 40);
    canvas upright(40, static_cast<std::size_t>(w));
    const long baseline = 25;
    flat.draw_text(0.0, static_cast<double>(baseline), text, ink, face, size);
    upright.draw_text_vertical(static_cast<double>(baseline), static_cast<double>(w), text, ink,
                               face, size);
    long inked = 0;
    for (long u = 0; u < w; ++u) {
        for (long v = 0; v < 40; ++v) {
            // level pixel (u, v) -> turned (v, w - 1 - u)
            const rgb level = flat.pixel(static_cast<std::size_t>(u), static_cast<std::size_t>(v));
            BOOST_TEST(level == upright.pixel(static_cast<std::size_t>(v),
                                              static_cast<std::size_t>(w - 1 - u)));
            inked += level.r < 1.0f ? 1 : 0;
        }
    }
    BOOST_TEST(inked > 100);
}

BOOST_AUTO_TEST_CASE(utf8_text_and_missing_glyphs) {
    BOOST_TEST((decode_utf8("a\xCF\x83 b") == std::u32string{U'a', 0x3C3, U' ', U'b'}));
    // malformed: a stray continuation byte, an overlong '/', a truncated sequence, a surrogate
    BOOST_TEST((decode_utf8("\x80") == std::u32string{0xFFFD}));
    BOOST_TEST((decode_utf8("\xC0\xAF") == std::u32string{0xFFFD, 0xFFFD}));
    BOOST_TEST((decode_utf8("x\xE2\x82") == std::u32string{U'x', 0xFFFD, 0xFFFD}));
    BOOST_TEST((decode_utf8("\xED\xA0\x80") == std::u32string{0xFFFD, 0xFFFD, 0xFFFD}));
    BOOST_TEST((decode_utf8("\xE2\x82\xAC\xF0\x9F\x98\x80") == std::u32string{0x20AC, 0x1F600}));
    const font& face = load_font();
    // a character the font has draws its own glyph (sigma), as wide as its advance
    const text_run sigma = face.layout("\xCF\x83", 17.0);
    BOOST_TEST_REQUIRE(sigma.glyphs.size() == 1u);
    BOOST_TEST(sigma.glyphs[0].glyph == face.glyph_of(0x3C3));
    BOOST_TEST(sigma.glyphs[0].glyph != 0);
    BOOST_TEST(sigma.width > 0.0);
    // control characters and characters the font lacks draw the missing-glyph box
    BOOST_TEST(face.glyph_of(U'\t') == 0);
    BOOST_TEST(face.glyph_of(0x10FFFD) == 0);
    canvas tab(30, 30);
    canvas lacking(30, 30);
    tab.draw_text(2.0, 22.0, "\t", {0, 0, 0}, face, 17.0);
    lacking.draw_text(2.0, 22.0, "\xF4\x8F\xBF\xBD", {0, 0, 0}, face, 17.0); // U+10FFFD
    BOOST_TEST(test::max_abs_difference(tab.pixels(), lacking.pixels()) == 0.0);
    BOOST_TEST(ink_bounds(tab)[2] > 0); // the box shows
}

BOOST_AUTO_TEST_CASE(a_missing_or_bad_font_file_is_a_clear_error) {
    test::scratch_dir dir("xrestore_test_plot_font_");
    const std::vector<plot_series> fine = {{.label = "a", .x = {0, 1}, .y = {1, 2}}};
    const std::string missing = (dir / "no_such_font.ttf").string();
    const std::string message =
        test::io_error_message([&] { render_line_plot(fine, {.font = missing}); });
    BOOST_TEST(contains(message, "font: the font file '" + missing + "' (options.font)"));
    BOOST_TEST(contains(message, "must be an existing font file, got no file"));
    // a directory, an empty file, an image: not fonts
    BOOST_TEST(contains(test::io_error_message([&] { font f(dir.path); }),
                        "got something that is not a file"));
    test::spill(dir / "empty.ttf", "");
    const std::string empty = test::io_error_message([&] {
        render_bar_chart({{"a", {1.0}}}, {.font = dir / "empty.ttf"});
    });
    BOOST_TEST(contains(empty, "empty.ttf' (options.font) must be a TrueType or OpenType font"));
    BOOST_TEST(contains(empty, "got 0 bytes that are not one"));
    const std::string png = std::string(XRESTORE_DATA_DIR) + "/images/butterfly_set5.png";
    BOOST_TEST(contains(test::io_error_message([&] {
                            render_panel({{"x", xt::zeros<float>({1, 4, 4})}}, {.font = png});
                        }),
                        "butterfly_set5.png' (options.font) must be a TrueType or OpenType font"));
    // the environment variable overrides the build's default, and is named in the message
    ::setenv(font_environment_variable, missing.c_str(), 1);
    const std::string from_environment = test::io_error_message([&] { render_line_plot(fine); });
    ::unsetenv(font_environment_variable);
    BOOST_TEST(contains(from_environment, missing));
    BOOST_TEST(contains(from_environment, "the environment variable XRESTORE_REPORT_FONT"));
    BOOST_CHECK_NO_THROW(render_line_plot(fine)); // back to the build's default
    BOOST_TEST(font_path().first == std::filesystem::path(XRESTORE_REPORT_FONT));
    BOOST_TEST(font_path(png).second == "options.font");
}

BOOST_AUTO_TEST_CASE(the_same_plot_gives_the_same_png_bytes) {
    test::scratch_dir dir("xrestore_test_plot_bytes_");
    const std::vector<plot_series> series = {
        {.label = "PnP-ADMM", .x = {1, 2, 3, 4}, .y = {0.1, 0.02, 0.015, 0.017}},
        {.label = "RED (\xCE\xBB 0.1)",
         .x = {1, 2, 3, 4},
         .y = {0.2, 0.05, 0.03, 0.025},
         .dashed = true}};
    const plot_options options{.title = "MSE against iteration",
                               .x_label = "iteration",
                               .y_label = "MSE (log scale)",
                               .log_y = true,
                               .x_markers = {2.5}};
    write_line_plot(dir / "a.png", series, options);
    write_line_plot(dir / "b.png", series, options);
    const std::string a = test::slurp(dir / "a.png");
    BOOST_TEST(a.size() > 1000u);
    BOOST_TEST((a == test::slurp(dir / "b.png")));
    const std::vector<bar_group> groups = {{"p=7", {28.1, 38.0}}, {"40% missing", {28.3, 35.8}}};
    write_bar_chart(dir / "c.png", groups, {.title = "PSNR", .series_labels = {"TV", "PnP"}});
    write_bar_chart(dir / "d.png", groups, {.title = "PSNR", .series_labels = {"TV", "PnP"}});
    BOOST_TEST((test::slurp(dir / "c.png") == test::slurp(dir / "d.png")));
    // and another size is another picture
    plot_options larger = options;
    larger.font_size = 20.0;
    write_line_plot(dir / "e.png", series, larger);
    BOOST_TEST((a != test::slurp(dir / "e.png")));
}

BOOST_AUTO_TEST_CASE(canvas_drawing_basics) {
    canvas c(10, 8, {0.5f, 0.5f, 0.5f});
    BOOST_TEST(c.width() == 10u);
    BOOST_TEST(c.height() == 8u);
    BOOST_TEST(c.pixels().shape()[0] == 3u);
    BOOST_TEST(same_colour(c, 9, 7, {0.5f, 0.5f, 0.5f}));
    // half-open rectangles, clipped at the border
    c.fill_rect(2, 3, 5, 4, {1, 0, 0});
    BOOST_TEST(same_colour(c, 2, 3, {1, 0, 0}));
    BOOST_TEST(same_colour(c, 4, 3, {1, 0, 0}));
    BOOST_TEST(same_colour(c, 5, 3, {0.5f, 0.5f, 0.5f}));
    BOOST_TEST(same_colour(c, 2, 4, {0.5f, 0.5f, 0.5f}));
    c.fill_rect(-5, -5, 1, 1, {0, 1, 0});
    BOOST_TEST(same_colour(c, 0, 0, {0, 1, 0}));
    c.set_pixel(-1, 3, {0, 0, 1}); // clipped silently
    c.set_pixel(10, 3, {0, 0, 1});
    c.set_pixel(9, 7, {0, 0, 1});
    BOOST_TEST(same_colour(c, 9, 7, {0, 0, 1}));
    c.blend_pixel(9, 7, {1, 1, 1}, 0.5);
    BOOST_TEST(same_colour(c, 9, 7, {0.5f, 0.5f, 1.0f}));
    BOOST_CHECK_THROW(c.set_pixel(0, 0, {1.5f, 0, 0}), value_error);
    BOOST_CHECK_THROW(c.set_pixel(0, 0, {std::nanf(""), 0, 0}), value_error);
    BOOST_CHECK_THROW(c.pixel(10, 0), value_error);
    BOOST_CHECK_THROW(canvas(0, 5), value_error);
    BOOST_CHECK_THROW(c.draw_text(0, 0, "x", {0, 0, 0}, load_font(), 0.0), value_error);
    BOOST_CHECK_THROW(c.draw_text(std::nan(""), 0, "x", {0, 0, 0}, load_font(), 10.0), value_error);
    BOOST_CHECK_THROW(c.draw_line(0, 0, 5, 5, {0, 0, 0}, 0.0), value_error);
}

BOOST_AUTO_TEST_CASE(lines_are_antialiased_to_their_thickness) {
    const rgb red{1, 0, 0};
    canvas c(30, 12);
    c.draw_line(3.0, 5.0, 25.0, 5.0, red, 2.0);
    // the centre row fully, the rows either side half (coverage 1 - 1/2 at distance 1)
    for (long x = 3; x <= 25; ++x) {
        BOOST_TEST(same_colour(c, x, 5, red));
        BOOST_TEST(c.pixel(static_cast<std::size_t>(x), 4).g == 0.5f);
        BOOST_TEST(c.pixel(static_cast<std::size_t>(x), 6).g == 0.5f);
        BOOST_TEST(same_colour(c, x, 3, {1, 1, 1}));
        BOOST_TEST(same_colour(c, x, 7, {1, 1, 1}));
    }
    // round end: one pixel beyond the end point half covered, two beyond blank
    BOOST_TEST(c.pixel(26, 5).g == 0.5f);
    BOOST_TEST(same_colour(c, 27, 5, {1, 1, 1}));

    canvas dashes(40, 5);
    dashes.draw_dashed_line(0.0, 2.0, 39.0, 2.0, {0, 0, 0}, 1.0, 6.0, 4.0);
    // dash [0, 6], gap to 10, dash [10, 16]; half coverage at the cut ends
    BOOST_TEST(same_colour(dashes, 3, 2, {0, 0, 0}));
    BOOST_TEST(same_colour(dashes, 8, 2, {1, 1, 1}));
    BOOST_TEST(same_colour(dashes, 13, 2, {0, 0, 0}));
    BOOST_TEST(dashes.pixel(6, 2).r == 0.5f);
}

BOOST_AUTO_TEST_CASE(a_flat_series_inks_the_middle_row_of_the_plot_only) {
    const rgb red{1, 0, 0};
    const std::vector<plot_series> series = {{.label = "flat",
                                              .x = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10},
                                              .y = std::vector<double>(11, 1.0),
                                              .color = red}};
    const plot_options options{.title = "flat",
                               .x_label = "iteration",
                               .y_label = "value",
                               .y_min = 0.0,
                               .y_max = 2.0,
                               .x_min = 0.0,
                               .x_max = 10.0};
    const canvas c = render_line_plot(series, options);
    BOOST_TEST(c.width() == 900u);
    BOOST_TEST(c.height() == 540u);
    const auto layout = report::detail::layout_line_plot(series, options);
    const auto& area = layout.area;
    BOOST_TEST(layout.text.size == 17.0); // 12-pixel capitals on the default canvas
    BOOST_TEST(layout.text.cap >= 12);
    BOOST_TEST(area.left > 0);
    BOOST_TEST(area.right < 900);
    BOOST_TEST(area.top > 0);
    BOOST_TEST(area.bottom < 540);
    BOOST_TEST(layout.x_pixel(0.0) == static_cast<double>(area.left));
    BOOST_TEST(layout.x_pixel(10.0) == static_cast<double>(area.right - 1));
    // y = 1 lies halfway between the bottom row (y = 0) and the top row (y = 2); with a 2-pixel
    // line both rows nearest to it are fully red
    const double middle = layout.y_pixel(1.0);
    BOOST_TEST(middle ==
               (static_cast<double>(area.top) + static_cast<double>(area.bottom - 1)) / 2);
    const auto row_lo = static_cast<long>(std::floor(middle));
    const auto row_hi = static_cast<long>(std::ceil(middle));
    long red_in_row = 0;
    for (long x = area.left; x < area.right; ++x) {
        red_in_row += same_colour(c, x, row_lo, red) && same_colour(c, x, row_hi, red) ? 1 : 0;
    }
    BOOST_TEST(red_in_row == area.width());
    // nothing reddish outside the plot area, nor more than 1.5 pixels away from the line
    // inside it (apart from the legend's swatch, in the top-right corner)
    long stray = 0;
    for (long y = 0; y < 540; ++y) {
        for (long x = 0; x < 900; ++x) {
            const rgb p = c.pixel(static_cast<std::size_t>(x), static_cast<std::size_t>(y));
            const bool reddish = p.r > 0.9f && p.g < 0.9f && p.b < 0.9f;
            const bool inside =
                x >= area.left && x < area.right && y >= area.top && y < area.bottom;
            const bool near_line = std::abs(static_cast<double>(y) - middle) <= 1.5;
            const bool legend = y < area.top + 60 && x > area.right - 200;
            if (reddish && (!inside || (!near_line && !legend))) {
                ++stray;
            }
        }
    }
    BOOST_TEST(stray == 0);
    // the legend swatch is there
    long legend_red = 0;
    for (long y = area.top; y < area.top + 60; ++y) {
        for (long x = area.right - 200; x < area.right; ++x) {
            legend_red += same_colour(c, x, y, red) ? 1 : 0;
        }
    }
    BOOST_TEST(legend_red > 20);
}

BOOST_AUTO_TEST_CASE(non_finite_points_break_the_line) {
    const rgb red{1, 0, 0};
    const double nan = std::numeric_limits<double>::quiet_NaN();
    const std::vector<plot_series> series = {
        {.label = "", .x = {0, 1, 2, 3, 4}, .y = {1, 1, nan, 1, 1}, .color = red}};
    const plot_options options{.y_min = 0.0, .y_max = 2.0, .x_min = 0.0, .x_max = 4.0};
    const canvas c = render_line_plot(series, options);
    const auto layout = report::detail::layout_line_plot(series, options);
    const long row = std::lround(std::floor(layout.y_pixel(1.0)));
    // ink from x = 0 to 1 and from 3 to 4, none in between (past the round ends)
    BOOST_TEST(same_colour(c, std::lround(layout.x_pixel(0.5)), row, red));
    BOOST_TEST(same_colour(c, std::lround(layout.x_pixel(3.5)), row, red));
    BOOST_TEST(!same_colour(c, std::lround(layout.x_pixel(2.0)), row, red));
    BOOST_TEST(c.pixel(static_cast<std::size_t>(std::lround(layout.x_pixel(2.0))),
                       static_cast<std::size_t>(row))
                   .g > 0.5f);
}

BOOST_AUTO_TEST_CASE(log_axis_ticks_at_powers_of_ten) {
    const std::vector<plot_series> wide = {{.label = "mse", .x = {0, 1, 2}, .y = {1e-3, 1e-2, 1}}};
    const auto layout = report::detail::layout_line_plot(wide, {.log_y = true});
    BOOST_TEST(layout.y_ticks.labels == (std::vector<std::string>{"1e-3", "0.01", "0.1", "1"}),
               boost::test_tools::per_element());
    BOOST_TEST(layout.y_ticks.minor.size() > 10u); // 2..9 x 10^k grid lines
    BOOST_TEST(layout.y_pixel(1e-2) < layout.y_pixel(1e-3));
    // under two decades: 2 and 5 x 10^k labelled too
    const std::vector<plot_series> narrow = {{.label = "mse", .x = {0, 1}, .y = {0.015, 0.6}}};
    const auto small = report::detail::layout_line_plot(narrow, {.log_y = true});
    BOOST_TEST(small.y_ticks.labels ==
                   (std::vector<std::string>{"0.02", "0.05", "0.1", "0.2", "0.5"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(a_log_axis_leaves_out_values_at_or_below_zero_and_says_so) {
    // was a value_error: a study on a black image (MSE 0 at every iteration) lost its report to
    // the log-scale MSE plot
    const std::vector<plot_series> with_zero = {
        {.label = "PSNR", .x = {0, 1, 2}, .y = {3, 2, 1}},
        {.label = "MSE", .x = {0, 1, 2, 3}, .y = {1, 0.1, 0, 0.01}}};
    const auto layout =
        report::detail::layout_line_plot(with_zero, {.x_label = "iteration", .log_y = true});
    BOOST_TEST(layout.left_out == 1u);
    BOOST_TEST(layout.x_label == "iteration (1 value <= 0 not shown on the log axis)");
    BOOST_TEST(layout.y_lo < 0.01); // the range of the values drawn: 0.01 to 3
    BOOST_TEST(layout.y_lo > 0.001);
    BOOST_TEST(layout.y_hi > 3.0);
    BOOST_TEST(layout.y_hi < 10.0);
    const canvas drawn = render_line_plot(with_zero, {.x_label = "iteration", .log_y = true});
    BOOST_TEST(drawn.width() == 900u);
    BOOST_CHECK_NO_THROW(render_line_plot(with_zero, {.width = 300, .height = 200}));

    // every value zero: an empty plot on default limits whose note says so
    const std::vector<plot_series> zeros = {{.label = "MSE", .x = {1, 2, 3}, .y = {0, 0, 0}}};
    const auto empty = report::detail::layout_line_plot(zeros, {.log_y = true});
    BOOST_TEST(empty.left_out == 3u);
    BOOST_TEST(empty.x_label == "all 3 values <= 0 not shown on the log axis");
    BOOST_TEST(empty.y_lo > 0.0);
    BOOST_CHECK_NO_THROW(render_line_plot(zeros, {.log_y = true}));
    // nothing left out, no note
    const std::vector<plot_series> positive = {{.label = "MSE", .x = {1, 2}, .y = {1, 2}}};
    BOOST_TEST(
        report::detail::layout_line_plot(positive, {.x_label = "it", .log_y = true}).x_label ==
        "it");
}

BOOST_AUTO_TEST_CASE(a_constant_series_gets_a_range_around_its_value) {
    for (const double v : {0.0, 0.5, -2.0}) {
        BOOST_TEST_CONTEXT(v) {
            const std::vector<plot_series> flat = {{.label = "c", .x = {1, 2, 3}, .y = {v, v, v}}};
            const auto layout = report::detail::layout_line_plot(flat, {});
            BOOST_TEST(layout.y_lo < v);
            BOOST_TEST(layout.y_hi > v);
            BOOST_TEST(std::isfinite(layout.y_lo));
            BOOST_TEST(std::isfinite(layout.y_hi));
            BOOST_CHECK_NO_THROW(render_line_plot(flat));
        }
    }
    const std::vector<plot_series> flat = {{.label = "c", .x = {1, 2}, .y = {1e-3, 1e-3}}};
    const auto log = report::detail::layout_line_plot(flat, {.log_y = true});
    BOOST_TEST(log.y_lo < 1e-3);
    BOOST_TEST(log.y_hi > 1e-3);
    BOOST_TEST(log.y_lo > 0.0);
}

BOOST_AUTO_TEST_CASE(bad_series_are_rejected_by_name) {

    const std::vector<plot_series> mismatched = {{.label = "ADMM", .x = {0, 1, 2}, .y = {1, 2}}};
    const std::string shape_message =
        message_of<shape_error>([&] { render_line_plot(mismatched); });
    BOOST_TEST(contains(shape_message, "\"ADMM\""));
    BOOST_TEST(contains(shape_message, "3 x and 2 y"));

    BOOST_CHECK_THROW(render_line_plot({}), value_error);
    BOOST_CHECK_THROW(render_line_plot({{.label = "empty"}}), value_error);
    const std::vector<plot_series> fine = {{.label = "a", .x = {0, 1}, .y = {1, 2}}};
    BOOST_CHECK_THROW(render_line_plot(fine, {.y_min = 2.0, .y_max = 1.0}), value_error);
    BOOST_CHECK_THROW(render_line_plot(fine, {.log_y = true, .y_min = 0.0}), value_error);
    BOOST_CHECK_THROW(render_line_plot(fine, {.width = 10}), value_error);
    BOOST_CHECK_THROW(render_line_plot(fine, {.x_markers = {std::nan("")}}), value_error);
    const std::vector<plot_series> bad_colour = {
        {.label = "a", .x = {0, 1}, .y = {1, 2}, .color = rgb{2, 0, 0}}};
    BOOST_CHECK_THROW(render_line_plot(bad_colour), value_error);
    // only NaN points: drawn on default limits rather than refused
    const std::vector<plot_series> all_nan = {
        {.label = "diverged", .x = {0, 1}, .y = {std::nan(""), std::nan("")}}};
    BOOST_CHECK_NO_THROW(render_line_plot(all_nan));
}

BOOST_AUTO_TEST_CASE(panel_layout_and_png_round_trip) {
    image a = xt::zeros<float>({3, 20, 30});
    a(0, 5, 7) = 1.0f;
    image b = xt::full_like(xt::zeros<float>({1, 12, 16}), 0.25f);
    const std::size_t gap = 6;
    const font& face = load_font();
    const double size = 11.0;
    const canvas panel = render_panel({{"a", a}, {"b", b}}, {.gap = gap, .font_size = size});
    // columns as wide as the images (the captions are narrower), gap apart and from the border
    BOOST_TEST(face.text_width("b", size) < 16.0);
    BOOST_TEST(panel.width() == 30u + 16u + 3u * gap);
    // gap, tallest image, 0.4 em, one caption line (capitals and descenders), gap
    const auto caption_gap = static_cast<std::size_t>(std::lround(0.4 * size));
    const auto cap = static_cast<std::size_t>(std::lround(face.cap_height(size)));
    const auto depth = static_cast<std::size_t>(std::ceil(face.descent(size)));
    const auto pitch = static_cast<std::size_t>(std::lround(face.line_height(size)));
    BOOST_TEST(panel.height() == gap + 20u + caption_gap + cap + depth + gap);
    BOOST_TEST(same_colour(panel, 6 + 7, 6 + 5, {1, 0, 0}));
    BOOST_TEST(same_colour(panel, 6, 6, {0, 0, 0}));
    BOOST_TEST(same_colour(panel, 6 + 30 + 6, 6, {0.25f, 0.25f, 0.25f})); // gray -> RGB
    BOOST_TEST(same_colour(panel, 6 + 30 + 6, 6 + 12, {1, 1, 1}));        // top-aligned
    BOOST_TEST(same_colour(panel, 0, 0, {1, 1, 1}));
    // the captions are inked under the images
    long caption_ink = 0;
    for (long y = 6 + 20; y < static_cast<long>(panel.height()); ++y) {
        for (long x = 0; x < static_cast<long>(panel.width()); ++x) {
            caption_ink += white(panel, x, y) ? 0 : 1;
        }
    }
    BOOST_TEST(caption_ink > 10);
    // a caption wider than its image widens the column to its width plus 1 em, the image
    // centred in it; it is wrapped at spaces to 8 em first
    const canvas wide = render_panel({{"a long caption", b}}, {.gap = gap, .font_size = size});
    BOOST_TEST(face.text_width("a long caption", size) < 8 * size);
    BOOST_TEST(wide.width() ==
               static_cast<std::size_t>(std::ceil(face.text_width("a long caption", size))) + 11u +
                   2 * gap);
    const std::string sentence = "a caption that is much longer than eight em";
    const canvas wrapped = render_panel({{sentence, b}}, {.gap = gap, .font_size = size});
    const auto lines = report::detail::wrap_words(face, size, sentence, 8 * 11.0);
    BOOST_TEST(lines.size() > 1u);
    double widest = 0.0;
    for (const std::string& line : lines) {
        BOOST_TEST(face.text_width(line, size) <= 88.0);
        widest = std::max(widest, face.text_width(line, size));
    }
    BOOST_TEST(wrapped.width() == static_cast<std::size_t>(std::ceil(widest)) + 11u + 2 * gap);
    BOOST_TEST(wrapped.height() ==
               gap + 12u + caption_gap + cap + depth + (lines.size() - 1) * pitch + gap);
    // '\n' breaks a caption
    const canvas two_lines = render_panel({{"one\ntwo", b}}, {.gap = gap, .font_size = size});
    BOOST_TEST(two_lines.height() == gap + 12u + caption_gap + cap + depth + pitch + gap);
    BOOST_CHECK_THROW(render_panel({}), value_error);
    BOOST_CHECK_THROW(render_panel({{"rgba", xt::zeros<float>({4, 5, 5})}}), shape_error);
    BOOST_CHECK_THROW(render_panel({{"a", a}}, {.font_size = 2.0}), value_error);

    test::scratch_dir dir("xrestore_test_plot_");
    write_panel(dir / "panel.png", {{"a", a}, {"b", b}}, {.gap = gap, .font_size = size});
    const image back = read_image(dir / "panel.png");
    BOOST_TEST(back.shape()[0] == 3u);
    BOOST_TEST(test::max_abs_difference(back, panel.pixels()) <= 0.5 / 255 + 1e-6);

    const std::vector<plot_series> series = {{.label = "a", .x = {0, 1, 2}, .y = {1, 3, 2}}};
    const canvas plot = render_line_plot(series, {.title = "t"});
    plot.write_png(dir / "plot.png");
    BOOST_TEST(test::max_abs_difference(read_image(dir / "plot.png"), plot.pixels()) <=
               0.5 / 255 + 1e-6);
}

BOOST_AUTO_TEST_CASE(bar_heights_are_proportional_to_the_values) {
    const std::vector<bar_group> groups = {
        {"blur", {2.0}}, {"noise", {4.0}}, {"both", {8.0}}, {"none", {std::nan("")}}};
    const canvas c =
        render_bar_chart(groups, {.title = "PSNR", .y_label = "dB", .y_min = 0.0, .y_max = 10.0});
    const rgb blue = palette_color(0);
    // per column run of the series colour; the tallest run of each bar is its height
    std::vector<long> heights;
    long previous = 0;
    for (long x = 0; x < static_cast<long>(c.width()); ++x) {
        long run = 0;
        for (long y = 0; y < static_cast<long>(c.height()); ++y) {
            run += same_colour(c, x, y, blue) ? 1 : 0;
        }
        if (run > 0 && previous == 0) {
            heights.push_back(run);
        } else if (run > 0) {
            heights.back() = std::max(heights.back(), run);
        }
        previous = run;
    }
    BOOST_TEST_REQUIRE(heights.size() == 3u); // no bar for NaN, no legend without labels
    const double unit = static_cast<double>(heights[2]) / 8.0;
    BOOST_TEST(std::abs(static_cast<double>(heights[0]) - 2.0 * unit) <= 1.0);
    BOOST_TEST(std::abs(static_cast<double>(heights[1]) - 4.0 * unit) <= 1.0);
    BOOST_TEST(heights[2] > 300); // 80% of a ~450-pixel plot

    const std::vector<bar_group> uneven = {{"a", {1.0, 2.0}}, {"b", {1.0}}};
    const std::string message = message_of<shape_error>([&] { render_bar_chart(uneven, {}); });
    BOOST_TEST(contains(message, "group 1 (\"b\")"));
    BOOST_CHECK_THROW(render_bar_chart({}, {}), value_error);
    BOOST_CHECK_NO_THROW(
        render_bar_chart({{"a", {1.0, -2.0}}, {"b", {3.0, 0.5}}}, {.series_labels = {"x", "y"}}));
}

BOOST_AUTO_TEST_CASE(bar_labels_keep_their_size_wrapped_or_upright) {
    const font& face = load_font();
    // the study's seven cases fit their slots on one line at the full size
    std::vector<bar_group> study;
    for (const char* label :
         {"p=7", "p=13", "p=17", "p=13+noise", "40% missing", "60% missing", "80% missing"}) {
        study.push_back({label, {20.0, 30.0}});
    }
    const auto one_line = report::detail::layout_bar_chart(study, {});
    BOOST_TEST(one_line.text.size == 17.0);
    BOOST_TEST(!one_line.upright);
    for (std::size_t g = 0; g < study.size(); ++g) {
        BOOST_TEST(one_line.labels[g] == std::vector<std::string>{study[g].label},
                   boost::test_tools::per_element());
        BOOST_TEST(face.text_width(study[g].label, 17.0) < one_line.slot);
    }
    // on a narrower canvas labels with spaces wrap there instead of shrinking
    std::vector<bar_group> spaced = study;
    spaced[3].label = "p=13 + noise";
    const auto narrow = report::detail::layout_bar_chart(spaced, {.width = 600, .font_size = 17.0});
    BOOST_TEST(!narrow.upright);
    BOOST_TEST(narrow.labels[4] == (std::vector<std::string>{"40%", "missing"}),
               boost::test_tools::per_element());
    BOOST_TEST(narrow.area.bottom < one_line.area.bottom); // room for the second line
    for (const auto& lines : narrow.labels) {
        for (const std::string& line : lines) {
            BOOST_TEST(face.text_width(line, 17.0) <= narrow.slot);
        }
    }
    // a word wider than its slot (as "p=13+noise" here): every label turns to read upwards, at
    // the full size
    std::vector<bar_group> long_words = study;
    long_words[3].label = "deconvolution+noise";
    const auto upright = report::detail::layout_bar_chart(long_words, {.width = 600});
    BOOST_TEST(upright.upright);
    const canvas c = render_bar_chart(long_words, {.width = 600});
    // the turned label of group 3 runs down from the axis as far as its width
    const long column = upright.area.left + std::lround((3 + 0.5) * upright.slot);
    long lowest = 0;
    for (long y = upright.area.bottom + 1; y < static_cast<long>(c.height()); ++y) {
        for (long x = column - 12; x <= column + 12; ++x) {
            lowest = white(c, x, y) ? lowest : y;
        }
    }
    const double label_width = face.text_width("deconvolution+noise", upright.text.size);
    BOOST_TEST(static_cast<double>(lowest - upright.area.bottom) >= label_width);
    BOOST_TEST(static_cast<double>(lowest - upright.area.bottom) <=
               label_width + 3 * upright.text.size);
    // the legend goes above the bars by default, in one row here: its swatches sit between the
    // title and the plot area, none of the series colours inside the plot area's top rows
    const bar_options with_legend{.title = "PSNR", .series_labels = {"TV", "PnP-ADMM"}};
    const auto above = report::detail::layout_bar_chart(study, with_legend);
    BOOST_TEST(above.area.top > one_line.area.top + above.text.cap);
    const canvas chart = render_bar_chart(study, with_legend);
    for (std::size_t k = 0; k < 2; ++k) {
        long swatch = 0;
        for (long y = 0; y < above.area.top; ++y) {
            for (long x = 0; x < static_cast<long>(chart.width()); ++x) {
                swatch += same_colour(chart, x, y, palette_color(k)) ? 1 : 0;
            }
        }
        BOOST_TEST(swatch >= above.text.swatch * (above.text.cap - 1));
    }
}

BOOST_AUTO_TEST_SUITE_END() // test_plot
