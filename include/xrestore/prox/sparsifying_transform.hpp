#pragma once
/// @file sparsifying_transform.hpp
/// What an L1 prior ||W x||_1 needs of its transform W, and the soft thresholding of W's
/// coefficients over the penalised bands. W is any linear operator on the solver's vectors whose
/// coefficients form a dense array; the Haar transform (haar_transform_t of the vector type) is
/// the one transform with bands: with wavelet_bands::details its final low-pass block is not
/// penalised.
///
/// @code
/// static_assert(xrestore::sparsifying_transform<xrestore::haar_wavelet, xrestore::image>);
/// double n = xrestore::detail::soft_threshold_bands(c, t, w, xrestore::wavelet_bands::all);
/// // c = soft(c, t) over the penalised coefficients, n = their L1 norm afterwards
/// @endcode
///
/// W^T soft_threshold(W x, lambda) is the proximal map of lambda ||W x||_1 exactly when W is
/// orthonormal (W^T W = W W^T = I: the Haar transform, a permutation, a sign flip, the identity).

#include "xrestore/core/error.hpp"
#include "xrestore/core/linear_operator.hpp"
#include "xrestore/core/vector_space.hpp"
#include "xrestore/operators/haar.hpp"
#include "xrestore/prox/haar_l1.hpp"
#include "xrestore/prox/soft_threshold.hpp"
#include "xrestore/prox/wavelet_bands.hpp"

#include <concepts>
#include <string_view>

namespace xrestore {

/// A transform W of vectors X for an L1 prior: a linear operator on X whose coefficients are a
/// dense array (soft thresholding is element-wise on them).
template <class W, class X>
concept sparsifying_transform =
    linear_operator<W> && std::same_as<domain_t<W>, X> && dense_vector<range_t<W>>;

/// The Haar transform of its domain's vectors (basic_haar_wavelet of its array type: haar_wavelet
/// on images, cuda::haar_wavelet on device images): the transform whose coefficients have wavelet
/// bands.
template <class W>
concept haar_transform = linear_operator<W> && requires {
    typename haar_transform_for<domain_t<W>>::type;
} && std::same_as<W, haar_transform_t<domain_t<W>>>;

namespace detail {

/// Throw value_error naming `where` unless bands is all, or details for a Haar transform.
template <class W>
void require_bands_of([[maybe_unused]] wavelet_bands bands,
                      [[maybe_unused]] std::string_view where) {
    if constexpr (!haar_transform<W>) {
        require(bands == wavelet_bands::all, where, "options.bands",
                "wavelet_bands::all for a transform other than the Haar transform",
                "wavelet_bands::details");
    }
}

/// c <- soft_threshold(c, t) over the penalised coefficients of W; returns their L1 norm
/// afterwards (the Haar transform's bands; every coefficient of any other transform).
template <class W>
double soft_threshold_bands(range_t<W>& c, double t, [[maybe_unused]] const W& w,
                            [[maybe_unused]] wavelet_bands bands) {
    if constexpr (haar_transform<W>) {
        soft_threshold_coefficients(c, t, w, bands);
        return coefficient_l1_norm(c, w, bands);
    } else {
        soft_threshold_into(c, t, c);
        return l1_norm(c);
    }
}

/// The L1 norm of W's coefficients c over the penalised bands.
template <class W>
double bands_l1_norm(const range_t<W>& c, [[maybe_unused]] const W& w,
                     [[maybe_unused]] wavelet_bands bands) {
    if constexpr (haar_transform<W>) {
        return coefficient_l1_norm(c, w, bands);
    } else {
        return l1_norm(c);
    }
}

/// c <- 0 on the coefficients of W that are not penalised (the Haar low-pass block with
/// wavelet_bands::details; none otherwise).
template <class W>
void zero_unpenalised_bands([[maybe_unused]] range_t<W>& c, [[maybe_unused]] const W& w,
                            [[maybe_unused]] wavelet_bands bands) {
    if constexpr (haar_transform<W>) {
        if (bands == wavelet_bands::details) {
            zero_lowpass_block(c, w);
        }
    }
}

} // namespace detail

} // namespace xrestore
