#define BOOST_TEST_MODULE plot
#include <boost/test/unit_test.hpp>

#include "test_support.hpp"

#include <xrestore/io/image.hpp>
#include <xrestore/report/plot.hpp>

#include <cmath>
#include <cstddef>
#include <limits>
#include <string>
#include <vector>

using namespace xrestore;

namespace {

bool same_colour(const canvas& c, long x, long y, rgb colour) {
    return c.pixel(static_cast<std::size_t>(x), static_cast<std::size_t>(y)) == colour;
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

} // namespace

BOOST_AUTO_TEST_CASE(nice_ticks_cover_the_range_with_round_steps) {
    using detail::nice_ticks;
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
    using detail::tick_label;
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

BOOST_AUTO_TEST_CASE(text_inks_exactly_the_glyph_cells) {
    const rgb ink{0.1f, 0.2f, 0.3f};
    const rgb white{1, 1, 1};
    BOOST_TEST(canvas::text_width("1") == 5);
    BOOST_TEST(canvas::text_width("10", 2) == 22); // (2 * 6 - 1) * 2
    BOOST_TEST(canvas::text_width("") == 0);
    BOOST_TEST(canvas::text_height(3) == 21);
    for (int scale : {1, 2}) {
        canvas c(20, 20);
        c.draw_text(3, 4, "1", ink, scale);
        const auto& glyph = detail::font_glyph_of('1');
        for (long y = 0; y < 20; ++y) {
            for (long x = 0; x < 20; ++x) {
                const long column = (x - 3) >= 0 ? (x - 3) / scale : -1;
                const long row = (y - 4) >= 0 ? (y - 4) / scale : -1;
                const bool in_glyph = column >= 0 && column < 5 && row >= 0 && row < 7;
                const bool inked = in_glyph && detail::glyph_ink(glyph, static_cast<int>(column),
                                                                 static_cast<int>(row));
                BOOST_TEST(same_colour(c, x, y, inked ? ink : white),
                           "scale " << scale << " pixel (" << x << ", " << y << ")");
            }
        }
    }
    // the font table itself: '1' is a vertical stroke with a flag and a foot
    BOOST_TEST(detail::font_glyph_of('1').cells == "..#.."
                                                   ".##.."
                                                   "..#.."
                                                   "..#.."
                                                   "..#.."
                                                   "..#.."
                                                   ".###.");
}

BOOST_AUTO_TEST_CASE(vertical_text_is_rotated_counter_clockwise) {
    const rgb ink{0, 0, 0};
    canvas flat(40, 40);
    canvas upright(40, 40);
    flat.draw_text(0, 0, "Fy", ink, 2);
    upright.draw_text_vertical(0, 0, "Fy", ink, 2);
    const long w = canvas::text_width("Fy", 2);
    const long h = canvas::text_height(2);
    for (long u = 0; u < w; ++u) {
        for (long v = 0; v < h; ++v) {
            // horizontal (u, v) -> vertical (v, w - 1 - u)
            BOOST_TEST(
                flat.pixel(static_cast<std::size_t>(u), static_cast<std::size_t>(v)) ==
                upright.pixel(static_cast<std::size_t>(v), static_cast<std::size_t>(w - 1 - u)));
        }
    }
}

BOOST_AUTO_TEST_CASE(unknown_characters) {
    // each non-ASCII character (UTF-8 sequence) is one '?', a control character a box
    BOOST_TEST(detail::displayed_characters("a\xCF\x83 b") == "a? b");
    BOOST_TEST(canvas::text_width("\xCF\x83") == canvas::text_width("?"));
    canvas a(10, 10);
    canvas b(10, 10);
    a.draw_text(1, 1, "\xC3\xA9", {0, 0, 0});
    b.draw_text(1, 1, "?", {0, 0, 0});
    BOOST_TEST(test::max_abs_difference(a.pixels(), b.pixels()) == 0.0);
    canvas box(10, 10);
    box.draw_text(0, 0, "\t", {0, 0, 0});
    BOOST_TEST(same_colour(box, 0, 0, {0, 0, 0}));
    BOOST_TEST(same_colour(box, 4, 6, {0, 0, 0}));
    BOOST_TEST(same_colour(box, 2, 3, {1, 1, 1}));
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
    BOOST_CHECK_THROW(c.draw_text(0, 0, "x", {0, 0, 0}, 0), value_error);
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
    const auto layout = detail::layout_line_plot(series, options);
    const auto& area = layout.area;
    BOOST_TEST(layout.text_scale == 2);
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
    const auto layout = detail::layout_line_plot(series, options);
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
    const auto layout = detail::layout_line_plot(wide, {.log_y = true});
    BOOST_TEST(layout.y_ticks.labels == (std::vector<std::string>{"1e-3", "0.01", "0.1", "1"}),
               boost::test_tools::per_element());
    BOOST_TEST(layout.y_ticks.minor.size() > 10u); // 2..9 x 10^k grid lines
    BOOST_TEST(layout.y_pixel(1e-2) < layout.y_pixel(1e-3));
    // under two decades: 2 and 5 x 10^k labelled too
    const std::vector<plot_series> narrow = {{.label = "mse", .x = {0, 1}, .y = {0.015, 0.6}}};
    const auto small = detail::layout_line_plot(narrow, {.log_y = true});
    BOOST_TEST(small.y_ticks.labels ==
                   (std::vector<std::string>{"0.02", "0.05", "0.1", "0.2", "0.5"}),
               boost::test_tools::per_element());
}

BOOST_AUTO_TEST_CASE(bad_series_are_rejected_by_name) {
    const std::vector<plot_series> negative = {
        {.label = "PSNR", .x = {0, 1, 2}, .y = {3, 2, 1}},
        {.label = "MSE", .x = {0, 1, 2, 3}, .y = {1, 0.1, 0, 0.01}}};
    const std::string log_message =
        message_of<value_error>([&] { render_line_plot(negative, {.log_y = true}); });
    BOOST_TEST(contains(log_message, "render_line_plot"));
    BOOST_TEST(contains(log_message, "series 1 (\"MSE\")"));
    BOOST_TEST(contains(log_message, "index 2"));
    BOOST_CHECK_NO_THROW(render_line_plot(negative, {.width = 300, .height = 200}));

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
    const canvas panel = render_panel({{"a", a}, {"b", b}}, gap, 1);
    // columns as wide as the images (the captions are narrower), gap apart and from the border
    BOOST_TEST(panel.width() == 30u + 16u + 3u * gap);
    // gap, tallest image, 3 px + one 7-pixel caption line, gap
    BOOST_TEST(panel.height() == gap + 20u + 3u + 7u + gap);
    BOOST_TEST(same_colour(panel, 6 + 7, 6 + 5, {1, 0, 0}));
    BOOST_TEST(same_colour(panel, 6, 6, {0, 0, 0}));
    BOOST_TEST(same_colour(panel, 6 + 30 + 6, 6, {0.25f, 0.25f, 0.25f})); // gray -> RGB
    BOOST_TEST(same_colour(panel, 6 + 30 + 6, 6 + 12, {1, 1, 1}));        // top-aligned
    BOOST_TEST(same_colour(panel, 0, 0, {1, 1, 1}));
    // a caption wider than its image widens the column, the image centred in it
    const canvas wide = render_panel({{"a long caption", b}}, gap, 1);
    BOOST_TEST(wide.width() ==
               static_cast<std::size_t>(canvas::text_width("a long caption")) + 2 * gap);
    const canvas two_lines = render_panel({{"one\ntwo", b}}, gap, 2);
    BOOST_TEST(two_lines.height() == gap + 12u + 6u + 14u + 4u + 14u + gap);
    BOOST_CHECK_THROW(render_panel({}), value_error);
    BOOST_CHECK_THROW(render_panel({{"rgba", xt::zeros<float>({4, 5, 5})}}), shape_error);

    test::scratch_dir dir("xrestore_test_plot_");
    write_panel(dir / "panel.png", {{"a", a}, {"b", b}}, gap, 1);
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
