#!/usr/bin/env python3
"""Golden values for NIQE (include/xrestore/metrics/niqe.hpp): tests/golden/niqe.json.

    /usr/bin/python3 tools/dev/make_niqe_golden.py              # numpy, scipy, PIL
    /work/venv-pyiqa/bin/python tools/dev/make_niqe_golden.py   # the same, plus the pyiqa check

NIQE (Mittal, Soundararajan & Bovik, "Making a completely blind image quality analyzer", IEEE
SPL 2013) is computed by `niqe_reference` below, a numpy transcription of the authors' MATLAB
release (computequality.m, computefeature.m, estimateaggdparam.m) with the pristine model of
data/iqa (mu_prisparam, cov_prisparam, the 7x7 window), all in float64:

  * grey image (as BasicSR's calculate_niqe with convert_to='y', which ships these parameter
    files): RGB -> Y = 16 + 65.481 R + 128.553 G + 24.966 B for R, G, B in [0, 1], written here
    as (65481 R + 128553 G + 24966 B) / 1000 + 16 so that every product is exact; one channel ->
    255 x; then rounded to the nearest integer (numpy.round: halves to even). BasicSR computes
    the same Y through float32 intermediates, which can move a value lying within about 1e-5 of
    a half-integer to the other side; `basicsr_style_grey` counts such pixels for every case
    (none in these images);
  * crop to the top-left floor(H/96) x floor(W/96) blocks of 96 x 96;
  * two scales; at each: mu = the window correlated with the image, replicate boundary
    (imfilter 'replicate'), sigma = sqrt(|window * im^2 - mu^2|), MSCN = (im - mu) / (sigma + 1);
    per block (96 x 96, then 48 x 48, blocks ordered column-major as blkproc + reshape), the
    18 features of computefeature.m: the AGGD fit (alpha, (beta_l + beta_r) / 2) of the MSCN
    values, and for the products with the circularly shifted block (circshift by (0,1), (1,0),
    (1,1), (1,-1)) alpha, (beta_r - beta_l) Gamma(2/alpha) / Gamma(1/alpha), beta_l, beta_r;
    the AGGD fit picks alpha on the grid 0.2 : 0.001 : 10 (as 0.2 + 0.001 k) minimising
    (r(alpha) - rhatnorm)^2, the first index when every entry is NaN (MATLAB's min);
  * the second scale is MATLAB's imresize(im, 0.5) of the cropped grey image (bicubic, a = -0.5,
    antialiased: kernel 0.5 cubic(0.5 x), 8 taps after dropping the all-zero columns, symmetric
    padding), `matlab_imresize_half`, rows first, in float64 (BasicSR's port and pyiqa's run it
    in float32 on im / 255);
  * mu_d = nanmean of the 36 features over the blocks, cov_d = the sample covariance (N - 1) of
    the blocks without NaN features (nancov); NIQE = sqrt((mu_p - mu_d)' pinv((cov_p + cov_d) /
    2) (mu_p - mu_d)) with numpy.linalg.pinv (rcond 1e-15). Fewer than 2 blocks without NaN
    features raise ValueError here (and value_error in xrestore): a covariance needs two.

niqe_masked(x, mask) keeps the blocks of which the 1 x H x W mask selects (nonzero) at least
half of the 96 x 96 pixels, at both scales (the MSCN maps are still computed on the whole
cropped image).

Cross-check: pyiqa 0.1.16 (pip install --no-deps pyiqa into a venv over Debian's torch 1.13) runs
offline once its unused imports (torchvision, huggingface_hub) are stubbed and its
calculate_niqe is given the model arrays of data/iqa directly (its NIQE class would download a
.mat); with color_space='ycbcr' it is the BasicSR algorithm, with the imresize in float32 and its
own float32 7x7 window (1.9e-9 from the file's). Recorded per case: "pyiqa" as is, and
"pyiqa_file_window" with its window replaced by the float64 window of data/iqa. On the images
without flat areas the latter agrees with niqe_reference to 2e-6 relative or better (the float32
resize), pyiqa as is to about 1e-5. Where the MSCN is rounding noise (flat areas: "mscn_noise",
the count of |MSCN| < 1e-10 at full scale) the values depend on each implementation's order of
arithmetic, since the signs of that noise enter the AGGD fits: pyiqa differs by 4e-2 on the text
crop (mostly white) and 2e-4 on the blurred crop. No MATLAB was available.
Cases (tests/golden/niqe.json): crops of the bundled photos of data/images, read as PNG (PIL
here, xrestore::read_image in the test; the JSON records the uint8 sum so the test confirms the
same samples), grey and RGB, even and odd sizes; and three deterministic variants stored as
uint8 .npy under tests/golden/niqe/ (Gaussian noise, a Gaussian blur, a black corner that makes
a block's features NaN). Masked values for rectangle masks (given in the JSON), and the 36
features of every block of one case.
"""

import hashlib
import json
import os
import sys

import numpy as np
from PIL import Image
from scipy.special import gamma

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DATA = os.path.join(ROOT, "data")
GOLDEN = os.path.join(ROOT, "tests", "golden")
OUT = os.path.join(GOLDEN, "niqe")
BLOCK = 96


def load_model():
    iqa = os.path.join(DATA, "iqa")
    mu = np.loadtxt(os.path.join(iqa, "niqe_mu_pris_param.txt"), dtype=np.float64)
    cov = np.loadtxt(os.path.join(iqa, "niqe_cov_pris_param.txt"), dtype=np.float64)
    window = np.loadtxt(os.path.join(iqa, "niqe_gaussian_window_7x7.txt"), dtype=np.float64)
    assert mu.shape == (36,) and cov.shape == (36, 36) and window.shape == (7, 7)
    return mu, cov, window


# ----------------------------------------------------------------------------- the reference


def grey_image(x):
    """C x H x W float32 in [0, 1] -> H x W float64 grey levels (integers in [0, 255])."""
    x = x.astype(np.float64)
    if x.shape[0] == 3:
        y = (65481.0 * x[0] + 128553.0 * x[1] + 24966.0 * x[2]) / 1000.0 + 16.0
    else:
        y = 255.0 * x[0]
    return np.round(y)


def basicsr_style_grey(x):
    """The Y of BasicSR's to_y_channel on uint8 BGR samples (float32 steps), rounded."""
    u8 = np.rint(x.astype(np.float64) * 255.0).astype(np.uint8)
    if u8.shape[0] != 3:
        return np.round(u8[0].astype(np.float32) / np.float32(255.0) * np.float32(255.0))
    bgr = (u8[::-1].transpose(1, 2, 0).astype(np.float32) / np.float32(255.0))
    y = (np.dot(bgr, [24.966, 128.553, 65.481]) + 16.0) / 255.0
    return np.round(y.astype(np.float32) * np.float32(255.0)).astype(np.float64)


def correlate_replicate(im, window):
    """imfilter(im, window, 'replicate'): correlation, edge pixels repeated."""
    r = window.shape[0] // 2
    padded = np.pad(im, r, mode="edge")
    h, w = im.shape
    out = np.zeros_like(im)
    for i in range(window.shape[0]):
        for j in range(window.shape[1]):
            out += window[i, j] * padded[i:i + h, j:j + w]
    return out


def mscn(im, window):
    mu = correlate_replicate(im, window)
    sigma = np.sqrt(np.abs(correlate_replicate(im * im, window) - mu * mu))
    return (im - mu) / (sigma + 1.0)


def cubic(x):
    """MATLAB imresize's cubic kernel (a = -0.5)."""
    ax = np.abs(x)
    return ((1.5 * ax ** 3 - 2.5 * ax ** 2 + 1.0) * (ax <= 1)
            + (-0.5 * ax ** 3 + 2.5 * ax ** 2 - 4.0 * ax + 2.0) * ((ax > 1) & (ax <= 2)))


def imresize_contributions(n_in, scale):
    """Weights and 0-based input indices of MATLAB's imresize along one axis (bicubic with
    antialiasing for scale < 1), symmetric padding, all-zero columns removed."""
    n_out = int(np.ceil(n_in * scale))
    width = 4.0 / scale
    x = np.arange(1, n_out + 1, dtype=np.float64)
    u = x / scale + 0.5 * (1.0 - 1.0 / scale)
    left = np.floor(u - width / 2.0)
    taps = int(np.ceil(width)) + 2
    idx = left[:, None] + np.arange(taps)[None, :]
    weights = scale * cubic(scale * (u[:, None] - idx))
    weights = weights / weights.sum(axis=1, keepdims=True)
    aux = np.concatenate([np.arange(1, n_in + 1), np.arange(n_in, 0, -1)])
    idx = aux[np.mod(idx.astype(np.int64) - 1, aux.size)] - 1
    keep = np.any(weights != 0, axis=0)
    return weights[:, keep], idx[:, keep]


def matlab_imresize_half(im):
    """imresize(im, 0.5) of a double image: rows (dimension 1) first, then columns."""
    wr, ir = imresize_contributions(im.shape[0], 0.5)
    rows = np.einsum("ok,okw->ow", wr, im[ir, :])
    wc, ic = imresize_contributions(im.shape[1], 0.5)
    return np.einsum("ok,hok->ho", wc, rows[:, ic])


GAM = 0.2 + 0.001 * np.arange(9801)
R_GAM = gamma(2.0 / GAM) ** 2 / (gamma(1.0 / GAM) * gamma(3.0 / GAM))


def aggd_fit(v):
    """estimateaggdparam.m: alpha, beta_l, beta_r of an asymmetric generalised Gaussian."""
    with np.errstate(invalid="ignore", divide="ignore"):
        left_std = np.sqrt(np.mean(v[v < 0] ** 2)) if np.any(v < 0) else np.nan
        right_std = np.sqrt(np.mean(v[v > 0] ** 2)) if np.any(v > 0) else np.nan
        gammahat = left_std / right_std
        rhat = np.mean(np.abs(v)) ** 2 / np.mean(v ** 2)
        rhatnorm = rhat * (gammahat ** 3 + 1) * (gammahat + 1) / (gammahat ** 2 + 1) ** 2
    d = (R_GAM - rhatnorm) ** 2
    position = 0 if np.all(np.isnan(d)) else int(np.nanargmin(d))
    alpha = GAM[position]
    ratio = np.sqrt(gamma(1.0 / alpha) / gamma(3.0 / alpha))
    return alpha, left_std * ratio, right_std * ratio


def block_features(block):
    """computefeature.m: the 18 features of one MSCN block."""
    alpha, bl, br = aggd_fit(block.ravel())
    feat = [alpha, (bl + br) / 2.0]
    for shift in ((0, 1), (1, 0), (1, 1), (1, -1)):
        pair = block * np.roll(block, shift, axis=(0, 1))
        alpha, bl, br = aggd_fit(pair.ravel())
        mean = (br - bl) * (gamma(2.0 / alpha) / gamma(1.0 / alpha))
        feat += [alpha, mean, bl, br]
    return feat


def niqe_features(x, model, mask=None):
    """36 features per kept block (rows: blocks in column-major order), and their indices."""
    _, _, window = model
    im = grey_image(x)
    nh, nw = im.shape[0] // BLOCK, im.shape[1] // BLOCK
    im = im[:nh * BLOCK, :nw * BLOCK]
    blocks = [(bi, bj) for bj in range(nw) for bi in range(nh)]
    if mask is not None:
        m = mask[:nh * BLOCK, :nw * BLOCK] != 0
        blocks = [(bi, bj) for bi, bj in blocks
                  if 2 * m[bi * BLOCK:(bi + 1) * BLOCK, bj * BLOCK:(bj + 1) * BLOCK].sum()
                  >= BLOCK * BLOCK]
    feats = []
    for scale in (1, 2):
        s = mscn(im, window)
        b = BLOCK // scale
        feats.append(np.array([block_features(s[bi * b:(bi + 1) * b, bj * b:(bj + 1) * b])
                               for bi, bj in blocks]).reshape(len(blocks), 18))
        im = matlab_imresize_half(im)
    return np.concatenate(feats, axis=1), blocks


def niqe_reference(x, model, mask=None):
    mu_p, cov_p, _ = model
    feats, _ = niqe_features(x, model, mask)
    complete = feats[~np.isnan(feats).any(axis=1)]
    if complete.shape[0] < 2:
        raise ValueError("fewer than 2 blocks without NaN features")
    mu_d = np.nanmean(feats, axis=0)
    cov_d = np.cov(complete, rowvar=False)
    d = mu_p - mu_d
    return float(np.sqrt(d @ np.linalg.pinv((cov_p + cov_d) / 2.0) @ d))


# ----------------------------------------------------------------------------- pyiqa check


def load_pyiqa():
    """pyiqa.archs.niqe_arch, with its imports that NIQE does not use stubbed, or None."""
    import types

    class Stub(types.ModuleType):
        __path__ = []

        def __getattr__(self, attr):
            if attr.startswith("__"):
                raise AttributeError(attr)
            return Stub(self.__name__ + "." + attr)

        def __call__(self, *args, **kwargs):
            return Stub(self.__name__ + "()")

    for _ in range(20):
        try:
            import pyiqa.archs.niqe_arch as niqe_arch
            return niqe_arch
        except ModuleNotFoundError as e:
            if e.name is None or e.name.split(".")[0] not in ("torchvision", "huggingface_hub"):
                print(f"pyiqa unavailable: {e}")
                return None
            parts = e.name.split(".")
            for i in range(1, len(parts) + 1):
                sys.modules.setdefault(".".join(parts[:i]), Stub(".".join(parts[:i])))
            for k in [k for k in sys.modules if k.startswith("pyiqa")]:
                del sys.modules[k]
    return None


def pyiqa_niqe(niqe_arch, x, model, file_window=False):
    """pyiqa's calculate_niqe (Y of YCbCr) on float64; with file_window, its MSCN window (a
    float32 fspecial) replaced by the float64 window of data/iqa."""
    import torch
    import pyiqa.archs.func_util as func_util
    mu_p, cov_p, window = model
    original = func_util.fspecial
    if file_window:
        func_util.fspecial = lambda *args, **kwargs: torch.from_numpy(window)[None, None]
    try:
        t = torch.from_numpy(x.astype(np.float64))[None]
        return float(niqe_arch.calculate_niqe(t, 0, True, "ycbcr", torch.from_numpy(mu_p),
                                              torch.from_numpy(cov_p)))
    finally:
        func_util.fspecial = original


# ----------------------------------------------------------------------------- cases


def read_png(name):
    a = np.asarray(Image.open(os.path.join(DATA, "images", name)))
    return a[None] if a.ndim == 2 else a.transpose(2, 0, 1)  # C x H x W uint8


def gaussian_blur(u8, sigma):
    from scipy.ndimage import gaussian_filter
    out = np.stack([gaussian_filter(c.astype(np.float64), sigma, mode="reflect") for c in u8])
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)


def main():
    model = load_model()
    os.makedirs(OUT, exist_ok=True)
    rng = np.random.default_rng(20130301)

    png_cases = [
        ("cameraman192x288", "cameraman.png", (100, 292), (50, 338)),
        ("chelsea300x400", "cat_chelsea.png", (0, 300), (20, 420)),
        ("butterfly251x213", "butterfly_set5.png", (3, 254), (40, 253)),
        ("text257x556", "text_clean_opencv.png", (0, 257), (0, 556)),
        ("cameraman512", "cameraman.png", (0, 512), (0, 512)),
    ]
    cases = []
    u8_of = {}
    for name, png, rows, cols in png_cases:
        u8 = read_png(png)[:, rows[0]:rows[1], cols[0]:cols[1]]
        u8_of[name] = u8
        cases.append({"name": name, "png": "images/" + png, "rows": list(rows),
                      "cols": list(cols)})

    # Deterministic distortions, stored as uint8 .npy (each under 100 KB).
    cam = u8_of["cameraman192x288"]
    noisy = np.clip(np.rint(cam + rng.normal(0.0, 12.0, cam.shape)), 0, 255).astype(np.uint8)
    blurred = gaussian_blur(read_png("butterfly_set5.png")[:, 20:212, 30:200], 2.0)
    corner = cam.copy()
    corner[:, :110, :110] = 0  # block (0, 0) and its neighbourhood at both scales: MSCN = 0
    for name, u8 in (("cameraman192x288_noise12", noisy), ("butterfly192x170_blur2", blurred),
                     ("cameraman192x288_black_corner", corner)):
        np.save(os.path.join(OUT, name + ".npy"), u8)
        u8_of[name] = u8
        cases.append({"name": name, "npy": "niqe/" + name + ".npy"})

    masks = {  # rectangles [rows) x [cols) of ones on zeros; "invert" swaps them
        "chelsea300x400": [((0, 200), (48, 400), False), ((0, 200), (48, 400), True),
                           ((100, 300), (0, 250), False)],
        "text257x556": [((0, 150), (100, 556), False), ((0, 150), (100, 556), True)],
        "cameraman192x288_noise12": [((0, 192), (0, 150), False)],
    }

    niqe_arch = load_pyiqa()
    worst_pyiqa = 0.0
    grey_flips = 0
    for case in cases:
        u8 = u8_of[case["name"]]
        x = u8.astype(np.float32) / np.float32(255.0)  # what xrestore reads
        case["channels"] = int(u8.shape[0])
        case["height"], case["width"] = int(u8.shape[1]), int(u8.shape[2])
        case["uint8_sum"] = int(u8.astype(np.int64).sum())
        case["uint8_sha256"] = hashlib.sha256(np.ascontiguousarray(u8).tobytes()).hexdigest()
        grey_flips += int((grey_image(x) != basicsr_style_grey(x)).sum())
        value = niqe_reference(x, model)
        case["niqe"] = value
        feats, _ = niqe_features(x, model)
        case["blocks"] = int(feats.shape[0])
        case["blocks_with_nan"] = int(np.isnan(feats).any(axis=1).sum())
        case["mscn_noise"] = int((np.abs(mscn(grey_image(x), model[2])) < 1e-10).sum())
        case["pyiqa"] = case["pyiqa_file_window"] = None
        if niqe_arch is not None:
            case["pyiqa"] = pyiqa_niqe(niqe_arch, x, model)
            p = pyiqa_niqe(niqe_arch, x, model, file_window=True)
            case["pyiqa_file_window"] = p
            if case["mscn_noise"] <= 2:
                worst_pyiqa = max(worst_pyiqa, abs(p - value) / value)
        entries = []
        for rows, cols, invert in masks.get(case["name"], []):
            mask = np.zeros(u8.shape[1:], np.float32)
            mask[rows[0]:rows[1], cols[0]:cols[1]] = 1.0
            if invert:
                mask = 1.0 - mask
            kept = niqe_features(x, model, mask)[1]
            entries.append({"rows": list(rows), "cols": list(cols), "invert": invert,
                            "blocks": len(kept), "value": niqe_reference(x, model, mask)})
        if entries:
            case["masked"] = entries
        if case["name"] == "cameraman192x288":
            case["features"] = feats.tolist()  # 6 blocks x 36, column-major block order
        print(f"{case['name']}: niqe {value:.10f} blocks {case['blocks']} "
              f"(with NaN {case['blocks_with_nan']}) pyiqa {case['pyiqa']} "
              f"(file window {case['pyiqa_file_window']})")

    versions = {"numpy": np.__version__}
    if niqe_arch is not None:
        import pyiqa
        import torch
        versions.update({"pyiqa": pyiqa.__version__, "torch": torch.__version__})
    golden = {
        "generator": "tools/dev/make_niqe_golden.py",
        "versions": versions,
        "pyiqa_worst_relative_difference": worst_pyiqa if niqe_arch is not None else None,
        "cases": cases,
    }
    with open(os.path.join(GOLDEN, "niqe.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases; grey pixels rounded differently by BasicSR's float32 "
          f"path: {grey_flips}; numpy against pyiqa: worst relative difference "
          f"{worst_pyiqa:.1e} (with the window of data/iqa, images without flat areas)" if niqe_arch is not None else "; pyiqa not run")
    return 0


if __name__ == "__main__":
    sys.exit(main())
