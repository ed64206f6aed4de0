#pragma once
// The image-quality measures of `xrestore iqa` (and the extra rows of `xrestore metrics`): one
// table of every full-reference and no-reference measure the library has, each computed on the
// whole image or on a foreground mask, with the models the no-reference measures need found
// among the bundled files (data/iqa).

#include <xrestore/core/tensor.hpp>
#include <xrestore/metrics/brisque.hpp>
#include <xrestore/metrics/niqe.hpp>

#include <cstddef>
#include <map>
#include <optional>
#include <string>
#include <vector>

namespace xrestore::cli {

/// One measure of the table.
struct iqa_measure {
    std::string name;       ///< key in results.json ("psnr", "fsim", "brisque" ...)
    std::string label;      ///< column heading ("PSNR (dB)")
    bool full_reference;    ///< compares with the reference (false: the image alone)
    bool higher_is_better;  ///< direction of quality
    bool maskable;          ///< has a foreground version
    std::string definition; ///< one line for the report
};

/// The measures, in report order: PSNR, SSIM, MS-SSIM, GMSD, VIFp, FSIM(c), PSNR-HVS,
/// PSNR-HVS-M, then BRISQUE, NIQE, blur effect, noise sigma.
const std::vector<iqa_measure>& iqa_measures();

/// The models of the no-reference measures, read from the bundled data/iqa files.
struct iqa_models {
    brisque_model brisque;
    niqe_model niqe;
};

/// Loads the bundled models; io_error saying where they were looked for when missing.
iqa_models load_iqa_models(const std::string& command);

/// Every measure's value for `image` against `reference` (same shape); with a mask (1 x H x W),
/// the foreground versions (measures without one are left out). A measure that cannot be
/// computed for this image (too small, a mask selecting too little) is absent from `values`
/// and its reason is in `notes`.
struct iqa_values {
    std::map<std::string, double> values;
    std::map<std::string, std::string> notes;
};
iqa_values compute_iqa_measures(const image& reference, const image& image_, const iqa_models& m,
                                const image* mask = nullptr);

} // namespace xrestore::cli
