#pragma once
/// @file patches.hpp
/// Training data for a blind Gaussian denoiser, as tools/train_denoiser.py draws it: batches of
/// random P x P crops of photos, each turned by one of the 8 symmetries of the square (k quarter
/// turns, then a horizontal flip or not), with noise y = x + sigma n, sigma ~ U[sigma_min,
/// sigma_max] per crop and n standard normal. Batch t depends only on (seed, t): it is drawn from
/// a generator seeded with both, so a run resumed at iteration t sees the batches an
/// uninterrupted run would. K photos are held out of training (evenly spaced in file-name order,
/// independent of the seed) and give fixed evaluation crops: their centre E x E crops with noise
/// of each evaluation sigma, drawn once from `eval_seed`.
///
/// @code
/// auto data = xrestore::train::patch_sampler::from_folder("photos/", {.patch = 96, .holdout = 3});
/// xrestore::train::patch_batch b = data.batch(t);   // b.noisy, b.clean: N x C x P x P
/// const xrestore::train::held_out_set& h = data.held_out();
/// @endcode
#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/image.hpp"
#include "xrestore/train/parameter.hpp"
#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <random>
#include <string>
#include <utility>
#include <vector>
#include <xtensor/xbuilder.hpp>
#include <xtensor/xtensor.hpp>

namespace xrestore::train {

/// How patches and held-out crops are drawn.
struct patch_options {
    std::size_t patch = 96;        ///< side P of the square training crops, >= 1
    std::size_t batch = 8;         ///< crops per batch, >= 1
    std::size_t channels = 3;      ///< 3: RGB (gray replicated), 1: luminance
    double sigma_min = 0.0;        ///< noise level range, 0 <= min <= max <= 1
    double sigma_max = 0.2;        ///<
    std::size_t holdout = 0;       ///< photos kept out of training, < photo count
    std::size_t eval_size = 256;   ///< side of the held-out centre crops (at most)
    std::size_t size_multiple = 1; ///< P and the evaluation side are multiples of it
    std::vector<double> eval_sigmas{0.05, 0.1, 0.2}; ///< noise levels of the held-out crops
    std::uint64_t seed = 0;                          ///< seed of the crops, turns, levels, noise
    std::uint64_t eval_seed = 0;                     ///< seed of the held-out noise only
};

/// One batch: the clean crops, their noisy versions and each crop's noise level.
struct patch_batch {
    tensor4<float> clean;
    tensor4<float> noisy;
    std::vector<double> sigmas;
};

/// The held-out photos' fixed evaluation crops: clean (K x C x E x E) and, for each evaluation
/// sigma, the same crops with noise (unclipped, as the network gets them).
struct held_out_set {
    std::vector<std::string> names;
    std::vector<double> sigmas;
    tensor4<float> clean;
    std::vector<tensor4<float>> noisy; ///< one per sigma
    [[nodiscard]] bool empty() const { return names.empty(); }
};

namespace detail {

/// `photo` (C x H x W) with `channels` channels: gray replicated or RGB as luminance (ITU-R 601
/// weights, as PIL's "L"), an alpha channel dropped.
inline image with_channels(const image& photo, std::size_t channels, const std::string& name) {
    const std::size_t c = photo.shape()[0];
    const std::size_t h = photo.shape()[1];
    const std::size_t w = photo.shape()[2];
    const std::size_t colour = (c == 2 || c == 1) ? 1 : 3; // gray(+alpha) or RGB(+alpha)
    require(c >= 1 && c <= 4, "patch_sampler", "the channels of photo '" + name + "'", "1 to 4", c);
    image out = xt::zeros<float>({channels, h, w});
    for (std::size_t y = 0; y < h; ++y) {
        for (std::size_t x = 0; x < w; ++x) {
            if (channels == colour) {
                for (std::size_t k = 0; k < channels; ++k) {
                    out(k, y, x) = photo(k, y, x);
                }
            } else if (channels == 3) {
                out(0, y, x) = out(1, y, x) = out(2, y, x) = photo(0, y, x);
            } else { // L = 0.299 R + 0.587 G + 0.114 B
                out(0, y, x) =
                    0.299F * photo(0, y, x) + 0.587F * photo(1, y, x) + 0.114F * photo(2, y, x);
            }
        }
    }
    return out;
}

/// The source pixel (row, column) of output pixel (i, j) of a P x P crop turned by `turns`
/// quarter turns counter-clockwise (torch.rot90 over dims (H, W)) and then, if `flip`, mirrored
/// left-right (torch.flip over W).
inline std::pair<std::size_t, std::size_t> dihedral_source(std::size_t i, std::size_t j,
                                                           std::size_t p, int turns, bool flip) {
    const std::size_t jj = flip ? p - 1 - j : j; // flip after the turns
    switch (turns) {
    case 1:
        return {jj, p - 1 - i};
    case 2:
        return {p - 1 - i, p - 1 - jj};
    case 3:
        return {p - 1 - jj, i};
    default:
        return {i, jj};
    }
}

/// The generator of batch t: seeded with the run's seed and t (a counter-based stream).
inline std::mt19937_64 batch_generator(std::uint64_t seed, std::uint64_t t) {
    std::seed_seq seq{static_cast<std::uint32_t>(seed), static_cast<std::uint32_t>(seed >> 32U),
                      static_cast<std::uint32_t>(t), static_cast<std::uint32_t>(t >> 32U)};
    return std::mt19937_64(seq);
}

} // namespace detail

/// Seeded training batches and fixed held-out crops from a set of photos (see the file comment).
class patch_sampler {
public:
    /// From decoded photos (C x H x W in [0, 1]) and their names (used in errors and to order
    /// the held-out choice). Throws value_error for bad options, a photo smaller than the patch
    /// or no photo left to train on.
    patch_sampler(std::vector<image> photos, std::vector<std::string> names, patch_options o)
        : o_(std::move(o)) {
        constexpr const char* where = "patch_sampler";
        require(o_.patch >= 1, where, "patch", ">= 1", o_.patch);
        require(o_.batch >= 1, where, "batch", ">= 1", o_.batch);
        require(o_.channels == 1 || o_.channels == 3, where, "channels", "1 or 3", o_.channels);
        require(o_.size_multiple >= 1 && o_.patch % o_.size_multiple == 0, where, "patch",
                "a multiple of " + std::to_string(o_.size_multiple), o_.patch);
        require(std::isfinite(o_.sigma_min) && o_.sigma_min >= 0.0, where, "sigma_min",
                "finite and >= 0", o_.sigma_min);
        require(std::isfinite(o_.sigma_max) && o_.sigma_max >= o_.sigma_min && o_.sigma_max <= 1.0,
                where, "sigma_max", "in [sigma_min, 1]", o_.sigma_max);
        require(photos.size() == names.size(), where, "names", "one per photo", names.size());
        require(o_.holdout < photos.size(), where, "holdout",
                "below the number of photos (" + std::to_string(photos.size()) + ")", o_.holdout);
        std::vector<std::size_t> order(photos.size());
        for (std::size_t k = 0; k < order.size(); ++k) {
            order[k] = k;
        }
        std::stable_sort(order.begin(), order.end(),
                         [&](std::size_t a, std::size_t b) { return names[a] < names[b]; });
        std::vector<bool> held(photos.size(), false);
        const std::size_t n = photos.size();
        for (std::size_t k = 0; k < o_.holdout; ++k) { // evenly spaced: floor((2k + 1) n / 2K)
            held[order[(2 * k + 1) * n / (2 * o_.holdout)]] = true;
        }
        std::vector<image> eval_photos;
        for (std::size_t k : order) {
            image photo = detail::with_channels(photos[k], o_.channels, names[k]);
            if (held[k]) {
                held_.names.push_back(names[k]);
                eval_photos.push_back(std::move(photo));
                continue;
            }
            require(std::min(photo.shape()[1], photo.shape()[2]) >= o_.patch, where,
                    "the photo '" + names[k] + "'",
                    "at least the patch (" + std::to_string(o_.patch) + ") on each side",
                    shape_string(photo.shape()));
            train_names_.push_back(names[k]);
            photos_.push_back(std::move(photo));
        }
        make_held_out(eval_photos);
    }

    /// The image files of `folder` (.png, .jpg, .jpeg, .bmp, .tga, .ppm, .pgm; not recursive),
    /// in file-name order. io_error for a missing folder, value_error for one without photos.
    static patch_sampler from_folder(const std::filesystem::path& folder, patch_options o) {
        if (!std::filesystem::is_directory(folder)) {
            throw io_error(xrestore::detail::describe("patch_sampler",
                                                      "the folder '" + folder.string() + "'",
                                                      "an existing folder", "none"));
        }
        std::vector<std::filesystem::path> files;
        for (const auto& entry : std::filesystem::directory_iterator(folder)) {
            std::string ext = entry.path().extension().string();
            std::transform(ext.begin(), ext.end(), ext.begin(),
                           [](unsigned char ch) { return static_cast<char>(std::tolower(ch)); });
            if (entry.is_regular_file() &&
                (ext == ".png" || ext == ".jpg" || ext == ".jpeg" || ext == ".bmp" ||
                 ext == ".tga" || ext == ".ppm" || ext == ".pgm")) {
                files.push_back(entry.path());
            }
        }
        std::sort(files.begin(), files.end());
        if (files.empty()) {
            throw value_error(xrestore::detail::describe(
                "patch_sampler", "the folder '" + folder.string() + "'",
                "one with photos (.png, .jpg, .bmp, .tga, .ppm, .pgm)", "none"));
        }
        std::vector<image> photos;
        std::vector<std::string> names;
        for (const auto& f : files) {
            photos.push_back(read_image(f));
            names.push_back(f.filename().string());
        }
        return patch_sampler(std::move(photos), std::move(names), std::move(o));
    }

    /// Batch t (t = 0, 1, ...): the same (seed, t), the same batch. Per crop, in this order: the
    /// photo (uniform), the top and left corner (uniform), the quarter turns (0-3), the flip
    /// (probability 1/2), the noise level; then the noise of the whole batch.
    [[nodiscard]] patch_batch batch(std::uint64_t t) const {
        std::mt19937_64 rng = detail::batch_generator(o_.seed, t);
        const std::size_t p = o_.patch;
        const std::size_t c = o_.channels;
        patch_batch b{xt::zeros<float>({o_.batch, c, p, p}), {}, {}};
        for (std::size_t s = 0; s < o_.batch; ++s) {
            const image& photo =
                photos_[std::uniform_int_distribution<std::size_t>(0, photos_.size() - 1)(rng)];
            const std::size_t top =
                std::uniform_int_distribution<std::size_t>(0, photo.shape()[1] - p)(rng);
            const std::size_t left =
                std::uniform_int_distribution<std::size_t>(0, photo.shape()[2] - p)(rng);
            const int turns = std::uniform_int_distribution<int>(0, 3)(rng);
            const bool flip = std::uniform_real_distribution<double>(0.0, 1.0)(rng) < 0.5;
            b.sigmas.push_back(
                std::uniform_real_distribution<double>(o_.sigma_min, o_.sigma_max)(rng));
            for (std::size_t k = 0; k < c; ++k) {
                for (std::size_t i = 0; i < p; ++i) {
                    for (std::size_t j = 0; j < p; ++j) {
                        const auto [r, q] = detail::dihedral_source(i, j, p, turns, flip);
                        b.clean(s, k, i, j) = photo(k, top + r, left + q);
                    }
                }
            }
        }
        b.noisy = b.clean;
        std::normal_distribution<double> normal(0.0, 1.0);
        for (std::size_t s = 0; s < o_.batch; ++s) {
            for (std::size_t i = 0; i < c * p * p; ++i) {
                float& v = b.noisy.data()[s * c * p * p + i];
                v = static_cast<float>(static_cast<double>(v) + b.sigmas[s] * normal(rng)); // x+sn
            }
        }
        return b;
    }

    [[nodiscard]] const held_out_set& held_out() const { return held_; }
    [[nodiscard]] const std::vector<std::string>& training_names() const { return train_names_; }
    [[nodiscard]] const patch_options& options() const { return o_; }

private:
    /// Centre crops of side E = min(eval_size, the smallest held-out side), rounded down to a
    /// multiple of size_multiple; noise per sigma drawn in turn from one generator of eval_seed.
    void make_held_out(const std::vector<image>& photos) {
        if (photos.empty()) {
            return;
        }
        std::size_t e = o_.eval_size;
        for (const image& photo : photos) {
            e = std::min({e, photo.shape()[1], photo.shape()[2]});
        }
        e -= e % o_.size_multiple;
        require(e >= 1, "patch_sampler", "the held-out photos' shorter side",
                "at least " + std::to_string(o_.size_multiple), e);
        const std::size_t c = o_.channels;
        held_.clean = xt::zeros<float>({photos.size(), c, e, e});
        for (std::size_t n = 0; n < photos.size(); ++n) {
            const std::size_t top = (photos[n].shape()[1] - e) / 2;
            const std::size_t left = (photos[n].shape()[2] - e) / 2;
            for (std::size_t k = 0; k < c; ++k) {
                for (std::size_t i = 0; i < e; ++i) {
                    for (std::size_t j = 0; j < e; ++j) {
                        held_.clean(n, k, i, j) = photos[n](k, top + i, left + j);
                    }
                }
            }
        }
        std::mt19937_64 rng(o_.eval_seed);
        std::normal_distribution<double> normal(0.0, 1.0);
        for (double sigma : o_.eval_sigmas) {
            require(std::isfinite(sigma) && sigma >= 0.0, "patch_sampler", "eval_sigmas",
                    "finite and >= 0", sigma);
            tensor4<float> noisy = held_.clean;
            for (float& v : noisy) {
                v = static_cast<float>(static_cast<double>(v) + sigma * normal(rng));
            }
            held_.sigmas.push_back(sigma);
            held_.noisy.push_back(std::move(noisy));
        }
    }

    patch_options o_;
    std::vector<image> photos_;
    std::vector<std::string> train_names_;
    held_out_set held_;
};

} // namespace xrestore::train
