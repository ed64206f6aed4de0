#!/usr/bin/python3
"""Golden values for BRISQUE (include/xrestore/metrics/brisque.hpp).

Run with Debian's Python (python3-opencv 4.6 with the contrib `quality` module, numpy, PIL):

    /usr/bin/python3 tools/dev/make_brisque_golden.py

The reference is OpenCV's cv::quality::QualityBRISQUE (cv2.quality.QualityBRISQUE_compute and
_computeFeatures) with the LIVE model bundled in data/iqa/. OpenCV works on 8-bit BGR images, so
every test image is stored as uint8 (the C++ test divides by 255 in float32 and xrestore rounds
back to the same 8-bit values) and handed to cv2 with its channels reversed.

The numpy function brisque_features below reproduces OpenCV's float32 arithmetic step by step
(8-bit grey, the 7 x 7 Gaussian with OpenCV's FMA order, the bicubic half-size resize, the MSCN
map, the AGGD fits) and must give OpenCV's 36 features exactly on every unmasked case; the
script stops otherwise. It also gives the masked values (the fits restricted to the pixels a
mask selects), which OpenCV does not compute. The score of the numpy SVM must agree with
OpenCV's to 1e-5 relative (OpenCV's float exp is its own approximation).

Writes tests/golden/brisque.json and a few small arrays in tests/golden/brisque/*.npy.
"""

import ctypes
import json
import math
import os
import sys

import numpy as np
from PIL import Image

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden")
OUT = os.path.join(GOLDEN, "brisque")
MODEL = os.path.join(ROOT, "data", "iqa", "brisque_model_live.yml")
RANGE = os.path.join(ROOT, "data", "iqa", "brisque_range_live.yml")

f32 = np.float32
f64 = np.float64

# OpenCV calls the C library's tgamma; Python's math.gamma is its own approximation and can
# differ in the last bit, which could move the fitted shape to the neighbouring grid point.
_libm = ctypes.CDLL("libm.so.6")
_libm.tgamma.restype = ctypes.c_double
_libm.tgamma.argtypes = [ctypes.c_double]
tgamma = _libm.tgamma


# --------------------------------------------------------------------------------------------
# float32 helpers
# --------------------------------------------------------------------------------------------

def fma32(a, b, c):
    """Correctly rounded float32 fused multiply-add of float32 arrays: a * b is exact in double;
    the double sum t (with its exact error err) rounds to float32 correctly unless t lies
    exactly half-way between two floats, where err decides the side."""
    a, b, c = (np.asarray(v, dtype=f32) for v in (a, b, c))
    p = a.astype(f64) * b.astype(f64)
    cd = c.astype(f64)
    t = p + cd
    bb = t - p
    err = (p - (t - bb)) + (cd - bb)  # t + err == p + c exactly
    r = t.astype(f32)
    other = np.where(r.astype(f64) > t, np.nextafter(r, f32(-np.inf)),
                     np.nextafter(r, f32(np.inf)))
    midpoint = (r.astype(f64) + other.astype(f64)) / 2.0 == t
    r = np.where(midpoint & (err > 0), np.maximum(r, other), r)
    r = np.where(midpoint & (err < 0), np.minimum(r, other), r)
    return r.astype(f32)


def gaussian_kernel():
    """OpenCV's getGaussianKernel(7, 7/6) (computed in double), rounded to float32."""
    sigma = 7.0 / 6.0
    x = np.arange(7, dtype=f64) - 3.0
    g = np.exp(-(x * x) / (2.0 * sigma * sigma))
    return (g / g.sum()).astype(f32)


def gaussian_blur(x):
    """cv::GaussianBlur(x, 7 x 7, 7/6, BORDER_REPLICATE) on float32, in OpenCV's (AVX2) order:
    rows s = k0 x[-3]; s = fma(k_i, x[i - 3], s) for i = 1..6; columns, with the symmetric
    kernel: s = k_c y[0]; s = fma(y[-i] + y[i], k_{c+i}, s) for i = 1..3."""
    k = gaussian_kernel()
    h, w = x.shape
    p = np.pad(x, ((0, 0), (3, 3)), mode="edge")
    s = p[:, 0:w] * k[0]
    for i in range(1, 7):
        s = fma32(p[:, i:i + w], k[i], s)
    q = np.pad(s, ((3, 3), (0, 0)), mode="edge")
    t = q[3:3 + h] * k[3]
    for i in range(1, 4):
        t = fma32(q[3 - i:3 - i + h] + q[3 + i:3 + i + h], k[3 + i], t)
    return t


def cubic_coefficients(x):
    """OpenCV's interpolateCubic (A = -0.75) in float32, each operation rounded."""
    x = f32(x)
    a = f32(-0.75)
    x1 = f32(x + f32(1))
    c0 = f32(f32(f32(f32(f32(f32(a * x1) - f32(5 * a)) * x1) + f32(8 * a)) * x1) - f32(4 * a))
    c1 = f32(f32(f32(f32(f32(f32(a + f32(2)) * x) - f32(a + f32(3))) * x) * x) + f32(1))
    y = f32(f32(1) - x)
    c2 = f32(f32(f32(f32(f32(f32(a + f32(2)) * y) - f32(a + f32(3))) * y) * y) + f32(1))
    c3 = f32(f32(f32(f32(1) - c0) - c1) - c2)
    return np.array([c0, c1, c2, c3], dtype=f32)


def cubic_table(n_src, n_dst):
    """Source indices (clamped to the image) and weights of the 4 taps of each output."""
    scale = 1.0 / (n_dst / n_src)
    index, weight = [], []
    for d in range(n_dst):
        fx = f32((d + 0.5) * scale - 0.5)
        sx = int(math.floor(fx))
        fx = f32(fx - f32(sx))
        index.append([min(max(sx + j - 1, 0), n_src - 1) for j in range(4)])
        weight.append(cubic_coefficients(fx))
    return np.array(index), np.array(weight, dtype=f32)


def resize_half(x):
    """cv::resize(x, (W / 2, H / 2), INTER_CUBIC) on float32 (OpenCV's order: horizontal taps
    summed left to right; vertical taps b0 S0 + (b1 S1 + (b2 S2 + b3 S3)) on the first
    4 * floor(W' / 4) columns, left to right on the rest)."""
    h, w = x.shape
    h2, w2 = h // 2, w // 2
    ix, wx = cubic_table(w, w2)
    iy, wy = cubic_table(h, h2)
    t = x[:, ix[:, 0]] * wx[:, 0]
    for j in range(1, 4):
        t = t + x[:, ix[:, j]] * wx[:, j]
    rows = [t[iy[:, j], :] for j in range(4)]
    b = [wy[:, j][:, None] for j in range(4)]
    out = rows[0] * b[0] + rows[1] * b[1] + rows[2] * b[2] + rows[3] * b[3]
    vec = 4 * (w2 // 4)
    nested = rows[0] * b[0] + (rows[1] * b[1] + (rows[2] * b[2] + rows[3] * b[3]))
    out[:, :vec] = nested[:, :vec]
    return out


# --------------------------------------------------------------------------------------------
# BRISQUE
# --------------------------------------------------------------------------------------------

def grey_u8(x):
    """C x H x W uint8 (RGB or grey) -> H x W uint8 grey, cv::cvtColor(BGR2GRAY)'s fixed point."""
    if x.shape[0] == 1:
        return x[0]
    r, g, b = (x[i].astype(np.int64) for i in range(3))
    return ((b * 3735 + g * 19235 + r * 9798 + 16384) >> 15).astype(np.uint8)


def mscn(img):
    """MSCN map (float32) of a float32 H x W image, as OpenCV computes it (NaN where the local
    variance rounds below zero)."""
    mu = gaussian_blur(img)
    mu_sq = mu * mu
    sigma = gaussian_blur(img * img)
    with np.errstate(invalid="ignore"):
        sigma = np.sqrt(sigma - mu_sq) + f32(1.0 / 255.0)
    return (img - mu) / sigma


GAMMA_GRID = []


def gamma_grid():
    """The fit's grid gam = 0.2, 0.201, ... (accumulated in double) with r(gam)."""
    if not GAMMA_GRID:
        gam = 0.2
        while gam < 10:
            r = tgamma(2 / gam) * tgamma(2 / gam) / (tgamma(1 / gam) * tgamma(3 / gam))
            GAMMA_GRID.append((gam, r))
            gam += 0.001
    return GAMMA_GRID


def aggd_fit(values, total):
    """OpenCV's AGGDfit on the float32 values (NaN and 0 count in `total` only)."""
    v = values.astype(f64)
    pos = v[v > 0]
    neg = v[v < 0]
    possq = float(np.sum(pos * pos)) if pos.size else 0.0
    negsq = float(np.sum(neg * neg)) if neg.size else 0.0
    abssum = float(np.sum(pos)) - float(np.sum(neg))
    if neg.size == 0 or pos.size == 0:
        return math.nan, math.nan, math.nan  # OpenCV: 0 / 0, NaN features
    lsigma = math.sqrt(negsq / neg.size)
    rsigma = math.sqrt(possq / pos.size)
    gammahat = lsigma / rsigma
    rhat = (abssum / total) * (abssum / total) / ((negsq + possq) / total)
    rhatnorm = rhat * (gammahat ** 3 + 1) * (gammahat + 1) / (gammahat ** 2 + 1) ** 2
    best, prev = 0.0, 1e10
    for gam, r in gamma_grid():
        diff = abs(r - rhatnorm)
        if diff > prev:
            break
        prev, best = diff, gam
    return lsigma, rsigma, best


SHIFTS = [(0, 1), (1, 0), (1, 1), (-1, 1)]


def scale_features(s, keep):
    """The 18 features of one scale from the MSCN map s; keep (bool H x W or None) restricts
    the fits to the selected pixels (and the products to pairs whose in-image partner is
    selected too)."""
    h, w = s.shape
    if keep is None:
        keep = np.ones((h, w), dtype=bool)
    feats = []
    l, r, g = aggd_fit(s[keep], int(keep.sum()))
    feats += [f32(g), f32(f32(l * l + r * r) / f32(2))]
    for di, dj in SHIFTS:
        shifted = np.zeros_like(s)
        pair = np.ones((h, w), dtype=bool)
        i0, i1 = max(0, -di), min(h, h - di)
        j0, j1 = max(0, -dj), min(w, w - dj)
        shifted[i0:i1, j0:j1] = s[i0 + di:i1 + di, j0 + dj:j1 + dj]
        pair[i0:i1, j0:j1] = keep[i0 + di:i1 + di, j0 + dj:j1 + dj]
        prod = s * shifted
        sel = keep & pair
        l, r, g = aggd_fit(prod[sel], int(sel.sum()))
        if math.isnan(g):
            feats += [f32(math.nan)] * 4
            continue
        const = math.sqrt(tgamma(1 / g)) / math.sqrt(tgamma(3 / g))
        mean = (r - l) * (tgamma(2 / g) / tgamma(1 / g)) * const
        feats += [f32(g), f32(mean), f32(l * l), f32(r * r)]
    return feats


def brisque_features(x_u8, mask=None):
    """36 float32 BRISQUE features of a C x H x W uint8 image; mask: H x W, nonzero = selected
    (at the half scale: the mask resized like the image, entries >= 0.5)."""
    img = grey_u8(x_u8).astype(f32) * f32(1.0 / 255.0)
    feats = scale_features(mscn(img), None if mask is None else mask != 0)
    half_mask = None if mask is None else resize_half((mask != 0).astype(f32)) >= f32(0.5)
    feats += scale_features(mscn(resize_half(img)), half_mask)
    return np.array(feats, dtype=f32)


def read_yaml_matrix_list(text, key):
    """The numbers of the flow sequence after `key:` up to the closing bracket."""
    start = text.index("[", text.index(key))
    end = text.index("]", start)
    return np.array([float(v) for v in text[start + 1:end].replace("\n", " ").split(",")])


def load_model():
    with open(MODEL, encoding="utf-8") as f:
        text = f.read()
    n = int(text.split("sv_total:")[1].split()[0])
    gamma = float(text.split("gamma:")[1].split()[0])
    body = text.split("support_vectors:")[1].split("decision_functions:")[0]
    sv = []
    for chunk in body.split("- [")[1:]:
        sv.append([float(v) for v in chunk.split("]")[0].replace("\n", " ").split(",")])
    sv = np.array(sv, dtype=f32)
    assert sv.shape == (n, 36)
    rho = float(text.split("rho:")[1].split()[0])
    alpha = read_yaml_matrix_list(text, "alpha:")
    assert alpha.size == n
    with open(RANGE, encoding="utf-8") as f:
        rng = read_yaml_matrix_list(f.read(), "data:").astype(f32).reshape(2, 36)
    return sv, gamma, rho, alpha, rng


def scale_to_unit(feats, rng):
    """OpenCV's quality_utils::scale to [-1, 1] in float32."""
    lo, hi = rng[0], rng[1]
    return f32(-1) + (f32(2) * (feats - lo)) / (hi - lo)


def svm_score(feats, model, clamp=True):
    """OpenCV's EPS_SVR RBF prediction on the scaled features, clamped to [0, 100]; the kernel
    values are float32 of the correctly rounded exp (OpenCV uses its own float exp)."""
    sv, gamma, rho, alpha, rng = model
    scaled = scale_to_unit(feats, rng)
    d = (sv - scaled[None, :]).astype(f64)  # float32 differences, then double
    q = d * d
    s = np.zeros(sv.shape[0])
    for k in range(0, 36, 4):
        s = s + (q[:, k] + q[:, k + 1])
        s = s + (q[:, k + 2] + q[:, k + 3])
    kern = np.exp((s * -gamma).astype(f32).astype(f64)).astype(f32)
    total = -rho
    for k in range(sv.shape[0]):
        total += float(kern[k]) * alpha[k]
    if not clamp:
        return float(f32(total))
    return float(min(max(f32(total), f32(0)), f32(100)))


# --------------------------------------------------------------------------------------------
# Cases
# --------------------------------------------------------------------------------------------

def main():
    import cv2

    with open(os.path.join(GOLDEN, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    arrays = metrics["arrays"]

    def load_u8(key):
        a = np.load(os.path.join(GOLDEN, arrays[key]["file"]))
        assert a.dtype == np.uint8, key
        return a

    def to_cv(x):
        return x[0] if x.shape[0] == 1 else np.ascontiguousarray(x.transpose(1, 2, 0)[:, :, ::-1])

    model = load_model()
    svm = cv2.ml.SVM_load(MODEL)
    os.makedirs(OUT, exist_ok=True)
    images = {}
    for key, entry in arrays.items():
        if entry["divisor"] == 255 and "mask" not in key:
            images[key] = (arrays[key], load_u8(key))
    # larger and odd-sized images, read from the bundled PNGs (the C++ test reads them too)
    pngs = {"butterfly_set5": "images/butterfly_set5.png", "cat_chelsea": "images/cat_chelsea.png",
            "cameraman": "images/cameraman.png"}
    files = {}
    for name, rel in pngs.items():
        im = np.asarray(Image.open(os.path.join(ROOT, "data", rel)))
        files[name] = im.transpose(2, 0, 1) if im.ndim == 3 else im[None]
    crops = {
        "butterfly_set5_full": ("butterfly_set5", None),
        "cat_chelsea_crop201x300": ("cat_chelsea", (slice(40, 241), slice(0, 300))),
        "cameraman_crop128x133": ("cameraman", (slice(100, 228), slice(200, 333))),
    }
    for name, (src, window) in crops.items():
        x = files[src] if window is None else files[src][:, window[0], window[1]]
        entry = {"png": pngs[src]}
        if window is not None:
            entry["rows"] = [window[0].start, window[0].stop]
            entry["cols"] = [window[1].start, window[1].stop]
        images[name] = (entry, np.ascontiguousarray(x))
    # small odd sizes and a grey copy of an RGB crop
    bf = load_u8("butterfly96_ref")
    small = {"butterfly_odd35x47": bf[:, 10:45, 20:67], "butterfly_grey_odd49x50": grey_u8(bf)[None, 5:54, 3:53],
             "butterfly_tiny9x11": bf[:, 40:49, 30:41]}
    for name, x in small.items():
        path = f"brisque/{name}.npy"
        np.save(os.path.join(GOLDEN, path), np.ascontiguousarray(x))
        images[name] = ({"file": path, "divisor": 255}, np.ascontiguousarray(x))

    masks = {"butterfly96": "butterfly96_mask", "cameraman77x61": "cameraman77x61_mask"}
    cases = []
    worst = worst_rel = 0.0
    for name, (entry, x) in images.items():
        cv_feats = cv2.quality.QualityBRISQUE_computeFeatures(to_cv(x)).ravel()
        cv_score = float(cv2.quality.QualityBRISQUE_compute(to_cv(x), MODEL, RANGE)[0])
        ours = brisque_features(x)
        if not np.array_equal(ours, cv_feats.astype(f32), equal_nan=True):
            bad = np.nonzero(ours != cv_feats)[0]
            sys.exit(f"{name}: numpy features differ from OpenCV's at {bad}: {ours[bad]} "
                     f"against {cv_feats[bad]}")
        score = svm_score(ours, model)
        if math.isfinite(cv_score):
            diff = abs(score - cv_score)
            worst = max(worst, diff)
            worst_rel = max(worst_rel, diff / max(abs(cv_score), 1e-12))
            if diff > 2e-3:
                sys.exit(f"{name}: numpy score {score} against OpenCV {cv_score}")
        print(f"{name:28s} {str(x.shape):16s} OpenCV {cv_score:.6f} numpy {score:.6f}")
        case = {"image": name, "source": entry, "shape": list(x.shape), "score": cv_score,
                "score_rounded_exp": score,
                "unclamped": float(svm.predict(scale_to_unit(cv_feats.astype(f32),
                                                             model[4])[None])[1][0, 0]),
                "unclamped_rounded_exp": svm_score(ours, model, clamp=False),
                "features": [float(v) for v in cv_feats]}
        for prefix, mask_key in masks.items():
            if name.startswith(prefix + "_"):
                mask = np.load(os.path.join(GOLDEN, arrays[mask_key]["file"]))[0]
                masked = []
                for label, m in (("mask", mask), ("inverted", 1 - mask),
                                 ("all ones", np.ones_like(mask))):
                    feats = brisque_features(x, mask=m)
                    if not np.all(np.isfinite(feats)):  # too few pixels of either sign
                        masked.append({"mask": mask_key, "variant": label, "error": True})
                        continue
                    masked.append({"mask": mask_key, "variant": label,
                                   "score": svm_score(feats, model),
                                   "unclamped": svm_score(feats, model, clamp=False),
                                   "features": [float(v) for v in feats]})
                case["masked"] = masked
        cases.append(case)

    golden = {
        "generator": "tools/dev/make_brisque_golden.py",
        "versions": {"opencv": cv2.__version__, "numpy": np.__version__},
        "model": "data/iqa/brisque_model_live.yml",
        "range": "data/iqa/brisque_range_live.yml",
        "cases": cases,
    }
    with open(os.path.join(GOLDEN, "brisque.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases; numpy features identical to OpenCV's; score: worst "
          f"difference {worst:.1e} ({worst_rel:.1e} relative)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
