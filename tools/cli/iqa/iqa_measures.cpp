// The measure table of `xrestore iqa` (iqa_measures.hpp).

#include "iqa/iqa_measures.hpp"

#include "bundled_files.hpp"

#include <xrestore/core/error.hpp>
#include <xrestore/metrics/blur_effect.hpp>
#include <xrestore/metrics/estimate_sigma.hpp>
#include <xrestore/metrics/fsim.hpp>
#include <xrestore/metrics/gmsd.hpp>
#include <xrestore/metrics/masked.hpp>
#include <xrestore/metrics/ms_ssim.hpp>
#include <xrestore/metrics/psnr.hpp>
#include <xrestore/metrics/psnr_hvs.hpp>
#include <xrestore/metrics/ssim.hpp>
#include <xrestore/metrics/vif.hpp>

#include <cmath>
#include <functional>

namespace xrestore::cli {

const std::vector<iqa_measure>& iqa_measures() {
    static const std::vector<iqa_measure> table{
        {"psnr", "PSNR (dB)", true, true, true, "10 log10(1 / MSE)"},
        {"ssim", "SSIM", true, true, true,
         "structural similarity, Gaussian window sigma 1.5 (scikit-image's gaussian_weights "
         "preset)"},
        {"ms_ssim", "MS-SSIM", true, true, false, "SSIM over five scales (Wang et al. 2003)"},
        {"gmsd", "GMSD", true, false, true,
         "gradient magnitude similarity deviation (Xue et al. 2014), lower is better"},
        {"vif_p", "VIFp", true, true, true,
         "visual information fidelity, pixel domain (Sheikh & Bovik 2006), as piq"},
        {"fsim", "FSIM(c)", true, true, true,
         "feature similarity, with chromatic term on RGB (Zhang et al. 2011), as piq"},
        {"psnr_hvs", "PSNR-HVS", true, true, true,
         "PSNR of DCT coefficients weighted by contrast sensitivity (Egiazarian et al. 2006)"},
        {"psnr_hvs_m", "PSNR-HVS-M", true, true, true,
         "PSNR-HVS with between-coefficient contrast masking (Ponomarenko et al. 2007)"},
        {"brisque", "BRISQUE", false, false, true,
         "no-reference natural-scene statistics + SVR on LIVE (Mittal et al. 2012), as OpenCV; "
         "lower is better"},
        {"niqe", "NIQE", false, false, true,
         "no-reference distance to a pristine-image model (Mittal et al. 2013), lower is better"},
        {"blur_effect", "blur", false, false, false,
         "no-reference blur effect (Crete et al. 2007, scikit-image), 0 sharp .. 1 blurred"},
        {"sigma_est", "noise sigma", false, false, false,
         "no-reference noise estimate (wavelet MAD, scikit-image estimate_sigma)"},
    };
    return table;
}

iqa_models load_iqa_models(const std::string& command) {
    auto find = [&](const std::string& relative) {
        const bundled_file f = find_bundled(bundle::data, relative);
        if (f.path.empty()) {
            throw io_error(command + ": " +
                           bundled_not_found(bundle::data, "the bundled file " + relative, f));
        }
        return f.path;
    };
    const std::string model = find("iqa/brisque_model_live.yml");
    const std::string range = find("iqa/brisque_range_live.yml");
    const std::string mu = find("iqa/niqe_mu_pris_param.txt");
    return {brisque_model::load(model, range),
            niqe_model::load(std::filesystem::path(mu).parent_path())};
}

iqa_values compute_iqa_measures(const image& reference, const image& image_, const iqa_models& m,
                                const image* mask) {
    iqa_values out;
    auto put = [&](const std::string& name, const std::function<double()>& f) {
        try {
            const double v = f();
            if (std::isfinite(v)) {
                out.values[name] = v;
            } else {
                out.notes[name] = "not finite";
            }
        } catch (const value_error& e) {
            out.notes[name] = e.what();
        } catch (const shape_error& e) {
            out.notes[name] = e.what();
        }
    };
    const image& r = reference;
    const image& x = image_;
    const niqe_options niqe_o{.model = &m.niqe};
    if (mask == nullptr) {
        put("psnr", [&] { return psnr(r, x); });
        put("ssim", [&] { return ssim(r, x, gaussian_ssim_options); });
        put("ms_ssim", [&] { return ms_ssim(r, x); });
        put("gmsd", [&] { return gmsd(r, x); });
        put("vif_p", [&] { return vif_p(r, x); });
        put("fsim", [&] { return fsim(r, x); });
        psnr_hvs_result hvs{};
        bool have_hvs = false;
        put("psnr_hvs", [&] {
            hvs = psnr_hvs_both(r, x);
            have_hvs = true;
            return hvs.psnr_hvs;
        });
        if (have_hvs) {
            out.values["psnr_hvs_m"] = hvs.psnr_hvs_m;
        }
        put("brisque", [&] { return brisque(x, m.brisque); });
        put("niqe", [&] { return niqe(x, niqe_o); });
        put("blur_effect", [&] { return blur_effect(x); });
        put("sigma_est", [&] { return estimate_sigma(x); });
    } else {
        const image& k = *mask;
        put("psnr", [&] { return psnr_masked(r, x, k); });
        put("ssim", [&] { return ssim_masked(r, x, k, gaussian_ssim_options); });
        put("gmsd", [&] { return gmsd_masked(r, x, k); });
        put("vif_p", [&] { return vif_p_masked(r, x, k); });
        put("fsim", [&] { return fsim_masked(r, x, k); });
        psnr_hvs_result hvs{};
        bool have_hvs = false;
        put("psnr_hvs", [&] {
            hvs = psnr_hvs_both_masked(r, x, k);
            have_hvs = true;
            return hvs.psnr_hvs;
        });
        if (have_hvs) {
            out.values["psnr_hvs_m"] = hvs.psnr_hvs_m;
        }
        put("brisque", [&] { return brisque_masked(x, k, m.brisque); });
        put("niqe", [&] { return niqe_masked(x, k, niqe_o); });
    }
    return out;
}

} // namespace xrestore::cli
