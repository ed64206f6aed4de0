#pragma once
/// @file kernel_file.hpp
/// Read a blur kernel (PSF) from a file: a `.npy` array (kh x kw, or 1 x kh x kw, or
/// 1 x 1 x kh x kw as a PyTorch depthwise weight) or an image file (PNG, JPEG... through
/// read_image; a colour PSF becomes the mean of its channels). Values are returned as stored,
/// not normalised: pass the result through normalized_kernel for a PSF that sums to 1.
///
/// @code
/// xrestore::matrix k = xrestore::normalized_kernel(xrestore::read_kernel_file("psf.png"));
/// xrestore::convolution blur(k, {3, 256, 256});
/// @endcode

#include "xrestore/core/error.hpp"
#include "xrestore/core/tensor.hpp"
#include "xrestore/io/image.hpp"
#include "xrestore/io/npy.hpp"

#include <xtensor/xview.hpp>

#include <algorithm>
#include <filesystem>
#include <string>

namespace xrestore {

/// The kernel stored in `path` (.npy by extension, any other name as an image). Throws io_error
/// for unreadable files, shape_error for arrays that are not one kh x kw plane or are empty, and
/// value_error for NaN or infinite entries.
inline matrix read_kernel_file(const std::filesystem::path& path) {
    const std::string file = path.string();
    matrix k;
    if (detail::lower_extension(path) == ".npy") {
        npy_array a = read_npy_any(path);
        // drop leading extents of 1: 1 x kh x kw and 1 x 1 x kh x kw are single planes
        while (a.shape.size() > 2 && a.shape.front() == 1) {
            a.shape.erase(a.shape.begin());
        }
        if (a.shape.size() != 2) {
            throw shape_error(detail::concat("read_kernel_file: '", file,
                                             "' must hold one kh x kw plane, got shape ",
                                             shape_string(a.shape)));
        }
        k.resize({a.shape[0], a.shape[1]});
        std::copy(a.data.begin(), a.data.end(), k.begin());
    } else {
        const image x = read_image(path);
        const std::size_t channels = x.shape()[0];
        k.resize({x.shape()[1], x.shape()[2]});
        k.fill(0.0f);
        // a colour PSF: k = mean over channels
        for (std::size_t c = 0; c < channels; ++c) {
            k += xt::view(x, c, xt::all(), xt::all());
        }
        k /= static_cast<float>(channels);
    }
    if (k.size() == 0) {
        throw shape_error(detail::concat("read_kernel_file: '", file,
                                         "' must hold a non-empty kernel, got shape ",
                                         shape_string(k.shape())));
    }
    check_finite(k, "read_kernel_file", file);
    return k;
}

} // namespace xrestore
