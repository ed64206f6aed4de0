#!/usr/bin/python3
"""Golden values for the xrestore image-quality metrics.

Run with Debian's Python (scikit-image 0.19, scipy, numpy, pywt):

    /usr/bin/python3 tools/dev/make_metrics_golden.py

Writes tests/golden/metrics/*.npy (the exact test arrays, small) and tests/golden/metrics.json
(every metric value). Test images are crops of the bundled photos (data/images) with four
degradations: Gaussian noise, box blur, uniform quantisation to 8 levels and inpainting (60 %
of the pixels set to zero, seeded). They are stored as uint8 (the C++ test divides by 255 in
float32, exactly as here) to keep the files small, plus one float32 array (unclipped noise).

References:
  * SSIM, PSNR, MSE, blur_effect, estimate_sigma: scikit-image itself, called on float64
    copies of the float32 arrays (skimage computes in the input's float type; xrestore
    accumulates in double, so float64 is the exact reference). skimage's float32 results for
    SSIM, PSNR and blur_effect are recorded too under "skimage_float32" (they differ by its
    float32 rounding, ~1e-6). Not for estimate_sigma: which db2 coefficients are exactly 0,
    and so left out of its median, depends on the precision, and on flat or quantised images
    skimage's float32 result differs from its float64 one by up to 25 %.
  * MS-SSIM, GMSD, masked metrics (GMSD too), total variation, Laplacian variance: the numpy functions
    below, written from the published definitions (MS-SSIM from skimage's own SSIM maps).
"""

import json
import os
import sys

import numpy as np
import scipy.ndimage as ndi
import scipy.signal
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "data", "images")
GOLDEN = os.path.join(ROOT, "tests", "golden")
OUT = os.path.join(GOLDEN, "metrics")

MS_SSIM_WEIGHTS = [0.0448, 0.2856, 0.3001, 0.2363, 0.1333]

# SSIM option sets exercised by the golden values (names used in metrics.json and the test).
SSIM_OPTIONS = {
    "uniform7": dict(gaussian_weights=False, win_size=7, use_sample_covariance=True),
    "gaussian": dict(gaussian_weights=True, sigma=1.5, use_sample_covariance=False),
    "box3": dict(gaussian_weights=False, win_size=3, use_sample_covariance=True),
    "box19_population": dict(gaussian_weights=False, win_size=19, use_sample_covariance=False),
    "gaussian_sigma2.5_sample": dict(gaussian_weights=True, sigma=2.5, use_sample_covariance=True),
    "gaussian_sigma0.8_k": dict(gaussian_weights=True, sigma=0.8, use_sample_covariance=False,
                                K1=0.02, K2=0.05),
}


# --------------------------------------------------------------------------------------------
# Reference implementations (numpy), also imported by benchmarks/compare_metrics_skimage.py.
# --------------------------------------------------------------------------------------------

def skimage_ssim(ref, img, data_range=1.0, **options):
    """skimage.metrics.structural_similarity over axis 0 (C x H x W)."""
    from skimage.metrics import structural_similarity
    options = dict(options)
    if not options.get("gaussian_weights", False):
        options.setdefault("win_size", 7)
    else:
        options.pop("win_size", None)  # skimage derives it from sigma
    return structural_similarity(ref, img, channel_axis=0, data_range=data_range, **options)


def ssim_components(x, y, data_range=1.0, sigma=1.5, k1=0.01, k2=0.03):
    """skimage 0.19's Gaussian SSIM for 2-D arrays (use_sample_covariance=False), returning the
    cropped means of the SSIM map and of the contrast-structure map cs = A2 / B2."""
    def filt(a):
        return ndi.gaussian_filter(a, sigma, truncate=3.5, mode="reflect")
    ux, uy = filt(x), filt(y)
    uxx, uyy, uxy = filt(x * x), filt(y * y), filt(x * y)
    vx = uxx - ux * ux
    vy = uyy - uy * uy
    vxy = uxy - ux * uy
    c1 = (k1 * data_range) ** 2
    c2 = (k2 * data_range) ** 2
    a1, a2 = 2 * ux * uy + c1, 2 * vxy + c2
    b1, b2 = ux ** 2 + uy ** 2 + c1, vx + vy + c2
    s = (a1 * a2) / (b1 * b2)
    cs = a2 / b2
    pad = int(3.5 * sigma + 0.5)
    crop = (slice(pad, -pad), slice(pad, -pad))
    return s[crop].mean(dtype=np.float64), cs[crop].mean(dtype=np.float64)


def average_pool2(a):
    """2 x 2 average pooling of an H x W array, dropping a last odd row/column."""
    h, w = (a.shape[0] // 2) * 2, (a.shape[1] // 2) * 2
    return (((a[0:h:2, 0:w:2] + a[0:h:2, 1:w:2]) + a[1:h:2, 0:w:2]) + a[1:h:2, 1:w:2]) * 0.25


def ms_ssim_reference(ref, img, data_range=1.0, weights=MS_SSIM_WEIGHTS, sigma=1.5):
    """MS-SSIM (Wang, Simoncelli & Bovik 2003) as in Wang's msssim.m: per channel,
    max(ssim_M, 0)^w_M * prod_{j<M} max(cs_j, 0)^w_j, 2 x 2 average pooling between scales;
    then the mean over channels."""
    values = []
    for c in range(ref.shape[0]):
        x = ref[c].astype(np.float64)
        y = img[c].astype(np.float64)
        value = 1.0
        for j, w in enumerate(weights):
            s, cs = ssim_components(x, y, data_range, sigma)
            m = s if j == len(weights) - 1 else cs
            value *= max(m, 0.0) ** w
            x, y = average_pool2(x), average_pool2(y)
        values.append(value)
    return float(np.mean(values))


def luminance(x, weights=(0.299, 0.587, 0.114)):
    """H x W luminance of a C x H x W array (1 or 3 channels), float64."""
    x = x.astype(np.float64)
    if x.shape[0] == 1:
        return x[0]
    return weights[0] * x[0] + weights[1] * x[1] + weights[2] * x[2]


def gms_map_reference(ref, img, data_range=1.0, c=170.0):
    """Gradient magnitude similarity map of Xue et al. 2014 (GMSD.m), images rescaled to
    [0, 255]: conv2(Y, ones(2)/4, 'same') sampled at (1:2:end, 1:2:end), Prewitt / 3 with zero
    padding, GMS = (2 m1 m2 + c) / (m1^2 + m2^2 + c)."""
    def down(y):
        h, w = y.shape
        full = scipy.signal.convolve2d(y, np.full((2, 2), 0.25), mode="full")
        same = full[1:h + 1, 1:w + 1]  # MATLAB conv2 'same' keeps full(floor(2/2)+1 : ...)
        return same[::2, ::2]
    hx = np.array([[1.0, 0.0, -1.0]] * 3) / 3.0
    hy = hx.T

    def magnitude(d):
        gx = scipy.signal.convolve2d(d, hx, mode="same")
        gy = scipy.signal.convolve2d(d, hy, mode="same")
        return np.sqrt(gx ** 2 + gy ** 2)
    scale = 255.0 / data_range
    m1 = magnitude(down(scale * luminance(ref)))
    m2 = magnitude(down(scale * luminance(img)))
    return (2 * m1 * m2 + c) / (m1 ** 2 + m2 ** 2 + c)


def gmsd_reference(ref, img, data_range=1.0, c=170.0):
    """GMSD = std2 of the GMS map (N - 1 normalisation)."""
    return float(np.std(gms_map_reference(ref, img, data_range, c), ddof=1))


def gmsd_masked_reference(ref, img, mask, data_range=1.0, c=170.0):
    """GMSD over the GMS map entries whose 2 x 2 block (the pixels inside the image) the
    1 x H x W mask selects at least half of."""
    q = gms_map_reference(ref, img, data_range, c)
    h, w = mask.shape[1:]
    selected = np.zeros((h + h % 2, w + w % 2))
    inside = np.zeros_like(selected)
    selected[:h, :w] = mask[0] != 0
    inside[:h, :w] = 1.0

    def blocks(a):
        return a.reshape(a.shape[0] // 2, 2, a.shape[1] // 2, 2).sum(axis=(1, 3))
    keep = 2 * blocks(selected) >= blocks(inside)
    return float(np.std(q[keep], ddof=1))


def total_variation_reference(x):
    """sum_c sum sqrt(dx^2 + dy^2), forward differences, Neumann (0 at the last row/col)."""
    x = x.astype(np.float64)
    dx = np.diff(x, axis=2, append=x[:, :, -1:])
    dy = np.diff(x, axis=1, append=x[:, -1:, :])
    return float(np.sqrt(dx ** 2 + dy ** 2).sum())


def laplacian_variance_reference(x):
    """Population variance of the valid 3 x 3 Laplacian of the BT.601 luminance."""
    k = np.array([[0.0, 1.0, 0.0], [1.0, -4.0, 1.0], [0.0, 1.0, 0.0]])
    return float(scipy.signal.convolve2d(luminance(x), k, mode="valid").var())


def masked_reference(ref, img, mask, data_range, options):
    """mse/psnr/ssim means over the entries a (1 or C) x H x W mask selects; the SSIM over
    skimage's full map restricted to the cropped interior."""
    from skimage.metrics import structural_similarity
    sel = np.broadcast_to(mask != 0, ref.shape)
    d = ref.astype(np.float64) - img.astype(np.float64)
    mse = float((d[sel] ** 2).mean())
    # PSNR of equal selections is +infinity: stored as null (JSON has no infinity)
    psnr = float(10 * np.log10(data_range ** 2 / mse)) if mse > 0 else None
    out = {"mse": mse, "psnr": psnr}
    for name, opts in options.items():
        opts = dict(opts)
        if not opts.get("gaussian_weights", False):
            win = opts.get("win_size", 7)
        else:
            win = 2 * int(3.5 * opts.get("sigma", 1.5) + 0.5) + 1
            opts.pop("win_size", None)
        _, s = structural_similarity(ref, img, channel_axis=0, data_range=data_range,
                                     full=True, **opts)
        pad = (win - 1) // 2
        crop = (slice(None), slice(pad, -pad), slice(pad, -pad))
        out["ssim_" + name] = float(s[crop][sel[crop]].mean(dtype=np.float64))
    return out


# --------------------------------------------------------------------------------------------
# Test data
# --------------------------------------------------------------------------------------------

def load_u8(name):
    a = np.asarray(Image.open(os.path.join(DATA, name)))
    if a.ndim == 2:
        a = a[None]
    else:
        a = np.moveaxis(a[..., :3], -1, 0)
    return np.ascontiguousarray(a)


def to_float(u8):
    """The exact float32 array the C++ test builds: float32(k) / 255 (correctly rounded)."""
    return u8.astype(np.float32) / np.float32(255)


def to_u8(x):
    return np.clip(np.round(np.asarray(x, np.float64) * 255.0), 0, 255).astype(np.uint8)


def degrade(ref_u8, rng):
    """noise / blur / quantisation / inpainting versions (uint8) and the inpainting mask."""
    x = ref_u8.astype(np.float64) / 255.0
    noise = to_u8(x + 0.1 * rng.standard_normal(x.shape))
    blur = to_u8(ndi.uniform_filter(x, size=(1, 5, 5), mode="reflect"))
    quant = to_u8(np.round(x * 7.0) / 7.0)  # 8 levels
    mask = (rng.random((1,) + x.shape[1:]) >= 0.6).astype(np.uint8)  # 40 % observed
    inpaint = (ref_u8 * mask).astype(np.uint8)
    return {"noise": noise, "blur": blur, "quant": quant, "inpaint": inpaint}, mask


def main():
    import warnings
    from skimage.measure import blur_effect
    from skimage.metrics import mean_squared_error, peak_signal_noise_ratio
    from skimage.restoration import estimate_sigma
    warnings.simplefilter("ignore")

    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20240611)
    butterfly = load_u8("butterfly_set5.png")
    camera = load_u8("cameraman.png")
    sets = {
        "butterfly96": butterfly[:, 80:176, 80:176],
        "cameraman77x61": camera[:, 100:177, 200:261],
        "cameraman184x177": camera[:, 40:224, 150:327],
    }
    arrays = {}  # key -> (file, divisor)
    masks = {}

    def save(key, a, divisor):
        path = os.path.join(OUT, key + ".npy")
        np.save(path, np.ascontiguousarray(a))
        arrays[key] = {"file": "metrics/" + key + ".npy", "divisor": divisor}

    pairs = []
    for set_name, ref_u8 in sets.items():
        ref_u8 = np.ascontiguousarray(ref_u8)
        save(set_name + "_ref", ref_u8, 255)
        degraded, mask = degrade(ref_u8, rng)
        if set_name == "cameraman184x177":  # MS-SSIM set: keep it small
            degraded.pop("quant")
        for kind, u8 in degraded.items():
            save(set_name + "_" + kind, u8, 255)
            pairs.append((set_name, kind))
        if set_name != "cameraman184x177":
            save(set_name + "_mask", mask, 1)
            masks[set_name] = [set_name + "_mask"]
        if set_name == "butterfly96":  # a per-channel mask as well
            cmask = (rng.random(ref_u8.shape) >= 0.5).astype(np.uint8)
            save(set_name + "_channel_mask", cmask, 1)
            masks[set_name].append(set_name + "_channel_mask")
    # One float32 pair: unclipped, unquantised noise (values outside [0, 1]).
    ref = to_float(sets["cameraman77x61"])
    noisy = (ref + np.float32(0.05) * rng.standard_normal(ref.shape).astype(np.float32))
    save("cameraman77x61_float_noise", noisy.astype(np.float32), 1)
    pairs.append(("cameraman77x61", "float_noise"))

    def load(key):
        a = np.load(os.path.join(GOLDEN, arrays[key]["file"]))
        return a.astype(np.float32) / np.float32(arrays[key]["divisor"])

    cases = []
    worst_f32 = {}
    for set_name, kind in pairs:
        ref32 = load(set_name + "_ref")
        img32 = load(set_name + "_" + kind)
        ref64, img64 = ref32.astype(np.float64), img32.astype(np.float64)
        case = {
            "reference": set_name + "_ref",
            "image": set_name + "_" + kind,
            "mse": float(mean_squared_error(ref64, img64)),
            "psnr": float(peak_signal_noise_ratio(ref64, img64, data_range=1.0)),
            "ssim": {},
            "gmsd": gmsd_reference(ref64, img64),
            # images scaled in float32 (x * 255.0f in the test), then data_range 255
            "gmsd_range255": gmsd_reference((ref32 * np.float32(255)).astype(np.float64),
                                            (img32 * np.float32(255)).astype(np.float64),
                                            data_range=255.0),
            "skimage_float32": {},
        }
        for name, opts in SSIM_OPTIONS.items():
            case["ssim"][name] = float(skimage_ssim(ref64, img64, **opts))
            f32 = float(skimage_ssim(ref32, img32, **opts))
            case["skimage_float32"]["ssim_" + name] = f32
            rel = abs(f32 - case["ssim"][name]) / abs(case["ssim"][name])
            worst_f32[name] = max(worst_f32.get(name, 0.0), rel)
        case["ssim"]["data_range_2"] = float(skimage_ssim(ref64, img64, data_range=2.0))
        # The SSIM map (skimage full=True) of the study preset: sum and samples.
        from skimage.metrics import structural_similarity
        _, smap = structural_similarity(ref64, img64, channel_axis=0, data_range=1.0, full=True,
                                        gaussian_weights=True, sigma=1.5,
                                        use_sample_covariance=False)
        c, h, w = smap.shape
        spots = [(0, 0, 0), (c - 1, h - 1, w - 1), (0, 0, w - 1), (c - 1, h - 1, 0),
                 (0, 2, 3), (c // 2, h // 2, w // 2), (c - 1, 5, w - 6), (0, h - 3, 1)]
        case["ssim_map_gaussian"] = {"sum": float(smap.sum(dtype=np.float64)),
                                     "samples": [[a, b, d, float(smap[a, b, d])]
                                                 for a, b, d in spots]}
        # Numpy MS-SSIM reproduces skimage's SSIM at the finest scale.
        for ch in range(ref64.shape[0]):
            s, _ = ssim_components(ref64[ch], img64[ch])
            sk = skimage_ssim(ref64[ch:ch + 1], img64[ch:ch + 1], **SSIM_OPTIONS["gaussian"])
            assert abs(s - sk) <= 1e-12 * abs(sk), (s, sk)
        if min(ref64.shape[1:]) >= 176:
            case["ms_ssim"] = ms_ssim_reference(ref64, img64)
        case["ms_ssim_3scales"] = ms_ssim_reference(ref64, img64, weights=[0.2, 0.3, 0.5])
        case["masked"] = []
        for key in masks.get(set_name, []):
            mask = np.load(os.path.join(GOLDEN, arrays[key]["file"])).astype(np.float32)
            for invert in (False, True):
                m = (1.0 - mask) if invert else mask
                entry = {"mask": key, "invert": invert}
                entry.update(masked_reference(ref64, img64, m, 1.0,
                                              {k: SSIM_OPTIONS[k] for k in ("uniform7",
                                                                            "gaussian")}))
                cases_mask_f32 = masked_reference(ref32, img32, m, 1.0,
                                                  {"gaussian": SSIM_OPTIONS["gaussian"]})
                entry["skimage_float32_ssim_gaussian"] = cases_mask_f32["ssim_gaussian"]
                if m.shape[0] == 1:  # GMSD compares the luminance: one mask for all channels
                    entry["gmsd"] = gmsd_masked_reference(ref64, img64, m)
                case["masked"].append(entry)
        case["skimage_float32"]["psnr"] = float(
            peak_signal_noise_ratio(ref32, img32, data_range=1.0))
        cases.append(case)

    no_reference = []
    for key in arrays:
        if "mask" in key:
            continue
        x32 = load(key)
        x64 = x32.astype(np.float64)
        gray = x64[0] if x64.shape[0] == 1 else np.moveaxis(x64, 0, -1)
        axis = None if x64.shape[0] == 1 else -1
        entry = {
            "image": key,
            "blur_effect": float(blur_effect(gray, h_size=11, channel_axis=axis)),
            "blur_effect_h5": float(blur_effect(gray, h_size=5, channel_axis=axis)),
            "blur_effect_h60": float(blur_effect(gray, h_size=60, channel_axis=axis)),
            "estimate_sigma": float(estimate_sigma(x64, channel_axis=0, average_sigmas=True)),
            "total_variation": total_variation_reference(x64),
            "laplacian_variance": laplacian_variance_reference(x64),
            "skimage_float32": {
                "blur_effect": float(blur_effect(x32[0] if x32.shape[0] == 1
                                                 else np.moveaxis(x32, 0, -1),
                                                 h_size=11, channel_axis=axis)),
            },
        }
        no_reference.append(entry)

    import pywt
    import scipy
    import skimage
    golden = {
        "generator": "tools/dev/make_metrics_golden.py",
        "versions": {"skimage": skimage.__version__, "numpy": np.__version__,
                     "scipy": scipy.__version__, "pywt": pywt.__version__},
        "ms_ssim_weights": MS_SSIM_WEIGHTS,
        "ssim_options": SSIM_OPTIONS,
        "arrays": arrays,
        "cases": cases,
        "no_reference": no_reference,
    }
    with open(os.path.join(GOLDEN, "metrics.json"), "w") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    total = sum(os.path.getsize(os.path.join(OUT, n)) for n in os.listdir(OUT))
    print(f"wrote {len(cases)} cases, {len(no_reference)} no-reference entries, "
          f"{len(arrays)} arrays ({total / 1024:.0f} KiB)")
    print("skimage float32 vs float64 SSIM, worst relative difference:",
          {k: f"{v:.1e}" for k, v in worst_f32.items()})
    return 0


if __name__ == "__main__":
    sys.exit(main())
