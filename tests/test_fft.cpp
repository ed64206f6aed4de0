#include <boost/test/unit_test.hpp>

#include <xrestore/core/fft.hpp>

#include <algorithm>
#include <cmath>
#include <complex>
#include <numbers>
#include <random>
#include <string>
#include <vector>

BOOST_AUTO_TEST_SUITE(test_fft)

using namespace xrestore;

namespace {

using cld = std::complex<long double>;

/// The DFT by its definition, in long double: X_k = sum_j x_j e^{-+2 pi i jk/n} (/ n if inverse),
/// with the phase jk reduced mod n in integers and looked up in a table of the n roots of unity.
template <class T>
std::vector<cld> naive_dft(const std::vector<std::complex<T>>& x, bool inverse) {
    const std::size_t n = x.size();
    const long double sign = inverse ? 1.0L : -1.0L;
    std::vector<cld> roots(n);
    for (std::size_t m = 0; m < n; ++m) {
        const long double angle = sign * 2.0L * std::numbers::pi_v<long double> *
                                  static_cast<long double>(m) / static_cast<long double>(n);
        roots[m] = cld(std::cos(angle), std::sin(angle));
    }
    std::vector<cld> out(n);
    for (std::size_t k = 0; k < n; ++k) {
        cld sum = 0;
        for (std::size_t j = 0; j < n; ++j) {
            sum += cld(x[j].real(), x[j].imag()) * roots[(j * k) % n];
        }
        out[k] = inverse ? sum / static_cast<long double>(n) : sum;
    }
    return out;
}

/// The 2-D DFT by its definition (rows x cols, row-major).
template <class T>
std::vector<cld> naive_dft2(const std::vector<std::complex<T>>& x, std::size_t rows,
                            std::size_t cols) {
    std::vector<cld> out(rows * cols);
    for (std::size_t k = 0; k < rows; ++k) {
        for (std::size_t l = 0; l < cols; ++l) {
            cld sum = 0;
            for (std::size_t r = 0; r < rows; ++r) {
                for (std::size_t c = 0; c < cols; ++c) {
                    const long double angle =
                        -2.0L * std::numbers::pi_v<long double> *
                        (static_cast<long double>((r * k) % rows) / static_cast<long double>(rows) +
                         static_cast<long double>((c * l) % cols) / static_cast<long double>(cols));
                    const auto v = x[r * cols + c];
                    sum += cld(v.real(), v.imag()) * cld(std::cos(angle), std::sin(angle));
                }
            }
            out[k * cols + l] = sum;
        }
    }
    return out;
}

template <class T>
std::vector<std::complex<T>> random_signal(std::size_t n, unsigned seed) {
    std::mt19937_64 rng(seed);
    std::normal_distribution<double> normal;
    std::vector<std::complex<T>> x(n);
    for (auto& v : x) {
        v = std::complex<T>(static_cast<T>(normal(rng)), static_cast<T>(normal(rng)));
    }
    return x;
}

/// max_k |a_k - b_k| / max_k |b_k|
template <class T>
double relative_max_error(const std::vector<std::complex<T>>& a, const std::vector<cld>& b) {
    long double err = 0;
    long double scale = 0;
    for (std::size_t k = 0; k < a.size(); ++k) {
        err = std::max(err, std::abs(cld(a[k].real(), a[k].imag()) - b[k]));
        scale = std::max(scale, std::abs(b[k]));
    }
    return static_cast<double>(err / std::max(scale, 1e-300L));
}

const std::vector<std::size_t> lengths = {1,  2,  3,  4,  5,   7,   8,   12,  13,  16,
                                          17, 30, 31, 64, 100, 127, 128, 243, 256, 1009};

} // namespace

BOOST_AUTO_TEST_CASE(double_matches_the_definition_for_every_length) {
    for (std::size_t n : lengths) {
        const auto x = random_signal<double>(n, 7 + static_cast<unsigned>(n));
        auto forward = x;
        fft(forward);
        BOOST_TEST_CONTEXT("n = " << n) {
            BOOST_TEST(relative_max_error(forward, naive_dft(x, false)) < 1e-12);
        }
        auto inverse = x;
        fft(inverse, fft_direction::inverse);
        BOOST_TEST_CONTEXT("inverse, n = " << n) {
            BOOST_TEST(relative_max_error(inverse, naive_dft(x, true)) < 1e-12);
        }
    }
}

BOOST_AUTO_TEST_CASE(float_matches_the_definition_to_float_precision) {
    for (std::size_t n : lengths) {
        const auto x = random_signal<float>(n, 100 + static_cast<unsigned>(n));
        auto forward = x;
        fft(forward);
        BOOST_TEST_CONTEXT("n = " << n) {
            // a few ulps per butterfly level; Bluestein runs three transforms of length >= 2n
            BOOST_TEST(relative_max_error(forward, naive_dft(x, false)) < 5e-6);
        }
    }
}

BOOST_AUTO_TEST_CASE(inverse_of_forward_is_identity) {
    for (std::size_t n : {6u, 64u, 97u, 1000u}) {
        const auto x = random_signal<double>(n, 3);
        auto y = x;
        fft(y);
        fft(y, fft_direction::inverse);
        double err = 0;
        for (std::size_t k = 0; k < n; ++k) {
            err = std::max(err, std::abs(y[k] - x[k]));
        }
        BOOST_TEST_CONTEXT("n = " << n) {
            BOOST_TEST(err < 1e-12);
        }
    }
}

BOOST_AUTO_TEST_CASE(closed_forms_impulse_constant_and_cosine) {
    // delta_0 -> all ones; ones -> n delta_0; cos(2 pi 3 j / n) -> n/2 at k = 3 and n - 3
    for (std::size_t n : {8u, 15u}) {
        std::vector<std::complex<double>> delta(n, 0.0);
        delta[0] = 1.0;
        fft(delta);
        for (auto v : delta) {
            BOOST_TEST(std::abs(v - 1.0) < 1e-14);
        }
        std::vector<std::complex<double>> ones(n, 1.0);
        fft(ones);
        BOOST_TEST(std::abs(ones[0] - static_cast<double>(n)) < 1e-12);
        for (std::size_t k = 1; k < n; ++k) {
            BOOST_TEST(std::abs(ones[k]) < 1e-12);
        }
        std::vector<std::complex<double>> wave(n);
        for (std::size_t j = 0; j < n; ++j) {
            wave[j] = std::cos(2.0 * std::numbers::pi * 3.0 * static_cast<double>(j) /
                               static_cast<double>(n));
        }
        fft(wave);
        for (std::size_t k = 0; k < n; ++k) {
            const double expected = (k == 3 || k == n - 3) ? static_cast<double>(n) / 2.0 : 0.0;
            BOOST_TEST(std::abs(wave[k] - expected) < 1e-12);
        }
    }
}

BOOST_AUTO_TEST_CASE(parseval) {
    // sum |x|^2 = (1/n) sum |X|^2
    const std::size_t n = 300;
    const auto x = random_signal<double>(n, 11);
    auto spectrum = x;
    fft(spectrum);
    double energy = 0;
    double spectral = 0;
    for (std::size_t k = 0; k < n; ++k) {
        energy += std::norm(x[k]);
        spectral += std::norm(spectrum[k]);
    }
    BOOST_TEST(std::abs(energy - spectral / static_cast<double>(n)) < 1e-10 * energy);
}

BOOST_AUTO_TEST_CASE(two_dimensional_matches_the_definition) {
    for (auto [rows, cols] : std::vector<std::pair<std::size_t, std::size_t>>{
             {1, 1}, {1, 7}, {6, 1}, {8, 8}, {5, 12}, {13, 9}, {16, 10}}) {
        const auto x = random_signal<double>(rows * cols, 5);
        auto y = x;
        fft2(y, rows, cols);
        BOOST_TEST_CONTEXT(rows << " x " << cols) {
            BOOST_TEST(relative_max_error(y, naive_dft2(x, rows, cols)) < 1e-12);
            fft2(y, rows, cols, fft_direction::inverse);
            double err = 0;
            for (std::size_t k = 0; k < y.size(); ++k) {
                err = std::max(err, std::abs(y[k] - x[k]));
            }
            BOOST_TEST(err < 1e-12);
        }
    }
    // float 2-D
    const auto xf = random_signal<float>(12 * 20, 9);
    auto yf = xf;
    fft2_plan<float>(12, 20).forward(yf);
    BOOST_TEST(relative_max_error(yf, naive_dft2(xf, 12, 20)) < 5e-6);
}

BOOST_AUTO_TEST_CASE(many_vectors_match_one_at_a_time) {
    // transform_many on planar vectors, in place (vectors side by side, as the columns of an
    // n x count array) and written transposed (each vector a row of the output), against
    // transform() on each vector: lengths of radix 2 and of Bluestein, batches of 8 and a rest
    for (const std::size_t n : {1u, 8u, 12u, 13u, 64u}) {
        const fft_plan<double> plan(n);
        for (const std::size_t count : {1u, 5u, 8u, 19u}) {
            for (const auto direction : {fft_direction::forward, fft_direction::inverse}) {
                const auto x = random_signal<double>(n * count, static_cast<unsigned>(n + count));
                std::vector<double> re(n * count);
                std::vector<double> im(n * count);
                for (std::size_t k = 0; k < x.size(); ++k) { // element r of vector v at r count + v
                    re[k] = x[k].real();
                    im[k] = x[k].imag();
                }
                std::vector<double> tr(n * count);
                std::vector<double> ti(n * count);
                plan.transform_many({re.data(), im.data(), count, 1}, {tr.data(), ti.data(), 1, n},
                                    count, direction);
                plan.transform_many({re.data(), im.data(), count, 1},
                                    {re.data(), im.data(), count, 1}, count, direction);
                double err = 0;
                double scale = 0;
                for (std::size_t v = 0; v < count; ++v) {
                    std::vector<std::complex<double>> one(n);
                    for (std::size_t r = 0; r < n; ++r) {
                        one[r] = x[r * count + v];
                    }
                    plan.transform(one, direction);
                    for (std::size_t r = 0; r < n; ++r) {
                        const std::complex<double> in_place(re[r * count + v], im[r * count + v]);
                        const std::complex<double> transposed(tr[v * n + r], ti[v * n + r]);
                        err = std::max(
                            {err, std::abs(in_place - one[r]), std::abs(transposed - one[r])});
                        scale = std::max(scale, std::abs(one[r]));
                    }
                }
                BOOST_TEST_CONTEXT("n " << n << " count " << count << " inverse "
                                        << (direction == fft_direction::inverse)) {
                    BOOST_TEST(err <= 1e-14 * scale);
                }
            }
        }
    }
    // float, Bluestein length
    const fft_plan<float> plan(10);
    const auto x = random_signal<float>(30, 3);
    std::vector<float> re(30);
    std::vector<float> im(30);
    for (std::size_t k = 0; k < 30; ++k) {
        re[k] = x[k].real();
        im[k] = x[k].imag();
    }
    plan.transform_many({re.data(), im.data(), 3, 1}, {re.data(), im.data(), 3, 1}, 3,
                        fft_direction::forward);
    std::vector<std::complex<float>> got(10);
    std::vector<std::complex<float>> column(10);
    for (std::size_t r = 0; r < 10; ++r) {
        got[r] = {re[r * 3 + 2], im[r * 3 + 2]};
        column[r] = x[r * 3 + 2];
    }
    BOOST_TEST(relative_max_error(got, naive_dft(column, false)) < 5e-6);
}

BOOST_AUTO_TEST_CASE(a_plan_is_reusable) {
    const fft_plan<double> plan(45);
    for (unsigned seed = 0; seed < 3; ++seed) {
        auto x = random_signal<double>(45, seed);
        const auto reference = naive_dft(x, false);
        plan.transform(x, fft_direction::forward);
        BOOST_TEST(relative_max_error(x, reference) < 1e-12);
    }
    BOOST_TEST(plan.size() == 45u);
}

BOOST_AUTO_TEST_CASE(bad_sizes_throw) {
    BOOST_CHECK_THROW(fft_plan<double>(0), value_error);
    BOOST_CHECK_THROW(fft2_plan<float>(0, 4), value_error);
    BOOST_CHECK_THROW(fft2_plan<float>(4, 0), value_error);
    std::vector<std::complex<double>> empty;
    BOOST_CHECK_THROW(fft(empty), value_error);
    std::vector<std::complex<double>> data(10);
    BOOST_CHECK_THROW(fft2(data, 3, 3), shape_error);
    BOOST_CHECK_THROW(fft_plan<double>(9).transform(data, fft_direction::forward), shape_error);
    try {
        fft2(data, 3, 4);
        BOOST_FAIL("expected shape_error");
    } catch (const shape_error& e) {
        BOOST_TEST(std::string(e.what()) ==
                   "fft2_plan::transform: data must have 3 x 4 = 12 elements, got 10");
    }
}

BOOST_AUTO_TEST_SUITE_END() // test_fft
