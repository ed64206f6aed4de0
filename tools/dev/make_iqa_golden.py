#!/usr/bin/env python3
"""Golden values for the image-quality measures whose reference lives on PyPI (piq).

Run once, in a virtual environment with torch and piq (CI installs neither; it reads the JSON
this writes):

    python3 -m venv .venv && .venv/bin/pip install torch piq
    .venv/bin/python tools/dev/make_iqa_golden.py

It reuses the test arrays of tools/dev/make_metrics_golden.py (tests/golden/metrics/*.npy, as
listed in tests/golden/metrics.json: crops of the bundled photos with Gaussian noise, box blur,
quantisation and inpainting), adds a contrast-stretched pair (tests/golden/iqa/*.npy), and
writes tests/golden/iqa.json:

  * VIFp (pixel-domain visual information fidelity, Sheikh & Bovik 2006): piq.vif_p on float64
    tensors, for the default sigma_n_sq = 2 and for 0.5, and with data_range 255 on the images
    times 255. piq's argument order is vif_p(distorted, reference).
  * The same VIFp from the numpy function vif_p_reference below, written from the published
    definition and the order of piq's special cases; it must agree with piq to 1e-10 relative,
    and it also gives the masked values (the pooling restricted to the windows whose centre
    pixel the mask selects), which piq does not compute.

  * FSIM and FSIMc (Zhang, Zhang, Mou & Zhang 2011): piq.fsim on float64 tensors, under "fsim":
    the same pairs (grey: FSIM; RGB: FSIMc and FSIM), a channel swap (negative chromatic
    similarities), data range 255, and images large enough for piq's average pooling by
    round(min(H, W) / 256) (2 and 3, odd sizes, a 640 side that rounds 2.5 to 2): crops of
    data/images/cameraman.png (read with PIL; 2x nearest-neighbour upsampling for the largest),
    one crop per channel for RGB, distorted by integer formulas the C++ test repeats (see
    derive_u8 and distort_u8). FSIM is symmetric in its two arguments (piq: fsim(x, y), x the
    distorted image). The numpy function fsim_reference is a port of piq.fsim that must agree
    with it to 1e-10 relative; it also gives the masked values (the pooling restricted to the
    map entries whose pooling block the mask selects at least half of).

Images are stored as uint8 (divided by 255 in float32, as the C++ test does).
"""

import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden")
OUT = os.path.join(GOLDEN, "iqa")
EPS = 1e-8


def gaussian_1d(size):
    """Normalised 1-D Gaussian of `size` taps, sigma = size / 5 (the 2-D kernel is its outer
    product)."""
    coords = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    g = np.exp(-coords ** 2 / (2.0 * (size / 5.0) ** 2))
    return g / g.sum()


def valid_filter(a, g):
    """2-D 'valid' correlation of a with the separable kernel g x g."""
    n = len(g)
    rows = sum(g[k] * a[k:a.shape[0] - n + 1 + k, :] for k in range(n))
    return sum(g[k] * rows[:, k:a.shape[1] - n + 1 + k] for k in range(n))


def luminance(x, data_range):
    """C x H x W in [0, data_range] -> H x W luminance in [0, 255] (BT.601 for RGB)."""
    x = x.astype(np.float64) * (255.0 / data_range)
    if x.shape[0] == 3:
        return 0.299 * x[0] + 0.587 * x[1] + 0.114 * x[2]
    return x[0]


def vif_p_reference(reference, distorted, data_range=1.0, sigma_n_sq=2.0, mask=None):
    """VIFp of C x H x W arrays; mask (H x W, nonzero = selected) restricts the pooling to the
    windows whose centre pixel it selects, at every scale."""
    r = luminance(reference, data_range)
    d = luminance(distorted, data_range)
    offset, stride = 0, 1  # position in the original image of pixel 0 of this scale, step
    num = den = 0.0
    for scale in range(4):
        size = 2 ** (4 - scale) + 1
        g = gaussian_1d(size)
        half = (size - 1) // 2
        if scale > 0:
            r = valid_filter(r, g)[::2, ::2]
            d = valid_filter(d, g)[::2, ::2]
            offset += stride * half
            stride *= 2
        mu_r, mu_d = valid_filter(r, g), valid_filter(d, g)
        s_rr = np.maximum(valid_filter(r * r, g) - mu_r * mu_r, 0.0)
        s_dd = np.maximum(valid_filter(d * d, g) - mu_d * mu_d, 0.0)
        s_rd = valid_filter(r * d, g) - mu_r * mu_d
        gain = s_rd / (s_rr + EPS)
        s_v = s_dd - gain * s_rd
        flat_r = s_rr < EPS
        gain = np.where(flat_r, 0.0, gain)
        s_v = np.where(flat_r, s_dd, s_v)
        s_rr = np.where(flat_r, 0.0, s_rr)
        flat_d = s_dd < EPS
        gain = np.where(flat_d, 0.0, gain)
        s_v = np.where(flat_d, 0.0, s_v)
        s_v = np.where(gain >= 0, s_v, s_dd)
        gain = np.maximum(gain, 0.0)
        s_v = np.where(s_v > EPS, s_v, EPS)
        num_map = np.log10(1.0 + gain * gain * s_rr / (s_v + sigma_n_sq))
        den_map = np.log10(1.0 + s_rr / sigma_n_sq)
        if mask is not None:
            h, w = num_map.shape
            rows = offset + stride * (np.arange(h) + half)
            cols = offset + stride * (np.arange(w) + half)
            keep = mask[np.ix_(rows, cols)] != 0
            num_map, den_map = num_map[keep], den_map[keep]
        num += float(num_map.sum())
        den += float(den_map.sum())
    return (num + EPS) / (den + EPS)


# ---------------------------------------------------------------------------------------------
# FSIM

FSIM_SCALES = 4
FSIM_ORIENTATIONS = 4
# Sources of the large FSIM cases: bundled photos, read as uint8 by PIL; the sums let the C++
# test confirm that its PNG reader gives the same samples.
FSIM_SOURCES = {"cameraman": "cameraman.png"}
# name: (source, upsampling factor, (height, width), one (row, column) offset per channel)
FSIM_DERIVED = {
    "cam512": ("cameraman", 1, (512, 512), [(0, 0)]),  # pooled by 2 to 256 x 256
    "cam451x397": ("cameraman", 1, (451, 397), [(31, 57)]),  # pooled by 2 to 225 x 198
    "cam128x64": ("cameraman", 1, (128, 64), [(200, 220)]),  # no pooling, powers of two
    "rgb401x423": ("cameraman", 1, (401, 423), [(0, 0), (60, 45), (111, 89)]),  # 200 x 211
    "rgb700x650": ("cameraman", 2, (700, 650), [(100, 200), (300, 150), (250, 330)]),  # by 3
    "cam640x700": ("cameraman", 2, (640, 700), [(10, 20)]),  # round(2.5) = 2: 320 x 350
    "cam3x2": ("cameraman", 1, (3, 2), [(250, 250)]),  # the smallest sizes
    "rgb2x5": ("cameraman", 1, (2, 5), [(100, 100), (200, 300), (300, 200)]),
}


def derive_u8(sources, name):
    """C x H x W uint8 crop of a (possibly upsampled) bundled photo, one offset per channel."""
    source, factor, (h, w), offsets = FSIM_DERIVED[name]
    base = sources[source]
    if factor > 1:
        base = np.repeat(np.repeat(base, factor, axis=0), factor, axis=1)
    return np.stack([base[r:r + h, c:c + w] for r, c in offsets])


def distort_u8(a, kind):
    """Deterministic integer distortions of a C x H x W uint8 array."""
    if kind == "none":
        return a
    if kind == "swap":  # RGB -> BGR
        return a[::-1].copy()
    if kind == "quant":
        return (a // 32) * 32 + 16
    if kind == "noise":  # a pseudo-random offset in [-14, 14] per sample
        c, i, j = np.meshgrid(np.arange(a.shape[0]), np.arange(a.shape[1]),
                              np.arange(a.shape[2]), indexing="ij")
        offset = (i * 7919 + j * 104729 + c * 1299709) % 65521 % 29 - 14
        return np.clip(a.astype(np.int64) + offset, 0, 255).astype(np.uint8)
    raise ValueError(kind)


def checker_mask(h, w):
    """1 where (i // 37 + j // 29) is even: blocks of odd size, so pooling blocks straddle."""
    i, j = np.meshgrid(np.arange(h), np.arange(w), indexing="ij")
    return (((i // 37) + (j // 29)) % 2 == 0).astype(np.float32)


def fsim_frequencies(n):
    """piq's frequency grid of one axis, in DFT order: the centred grid (k - n / 2) / n for even n,
    (k - (n - 1) / 2) / (n - 1) for odd n, moved by ifftshift."""
    k = np.arange(n, dtype=np.float64)
    centred = (k - n / 2) / n if n % 2 == 0 else (k - (n - 1) / 2) / (n - 1)
    return np.roll(centred, -(n // 2))


def fsim_filters(h, w):
    """The log-Gabor bank [orientation][scale], h x w each, in DFT order."""
    u = fsim_frequencies(h)[:, None]
    v = fsim_frequencies(w)[None, :]
    radius = np.sqrt(u ** 2 + v ** 2)
    theta = np.arctan2(-v, u)
    lowpass = 1.0 / (1.0 + (radius / 0.45) ** 30)  # Butterworth, cutoff 0.45, order 15
    radius[0, 0] = 1.0
    radial = []
    for s in range(FSIM_SCALES):
        centre = 1.0 / (6.0 * 2.0 ** s)  # wavelengths 6, 12, 24, 48
        g = np.exp(-np.log(radius / centre) ** 2 / (2.0 * np.log(0.55) ** 2)) * lowpass
        g[0, 0] = 0.0
        radial.append(g)
    theta_sigma = np.pi / (FSIM_ORIENTATIONS * 1.2)
    bank = []
    for o in range(FSIM_ORIENTATIONS):
        angle = o * np.pi / FSIM_ORIENTATIONS
        ds = np.sin(theta) * np.cos(angle) - np.cos(theta) * np.sin(angle)
        dc = np.cos(theta) * np.cos(angle) + np.sin(theta) * np.sin(angle)
        spread = np.exp(-np.arctan2(ds, dc) ** 2 / (2.0 * theta_sigma ** 2))
        bank.append([spread * g for g in radial])
    return bank


def phase_congruency(lum, bank, k=2.0):
    """Kovesi's phase congruency with piq's noise compensation, h x w."""
    eps = np.finfo(np.float64).eps
    h, w = lum.shape
    spectrum = np.fft.fft2(lum)
    energy_sum = np.zeros((h, w))
    amplitude_sum = np.zeros((h, w))
    for filters in bank:
        eo = [np.fft.ifft2(spectrum * f) for f in filters]
        sum_e = sum(r.real for r in eo)
        sum_o = sum(r.imag for r in eo)
        norm = np.sqrt(sum_e ** 2 + sum_o ** 2) + eps
        mean_e, mean_o = sum_e / norm, sum_o / norm
        energy = sum(r.real * mean_e + r.imag * mean_o - np.abs(r.real * mean_o - r.imag * mean_e)
                     for r in eo)
        amplitude_sum += sum(np.abs(r) for r in eo)
        # noise: the lower median of |eo|^2 at the finest scale, a Rayleigh model
        e2 = np.sort((np.abs(eo[0]) ** 2).ravel())
        noise_power = -e2[(e2.size - 1) // 2] / np.log(0.5) / (filters[0] ** 2).sum()
        spatial = [np.fft.ifft2(f).real * np.sqrt(h * w) for f in filters]
        sum_an2 = sum((f ** 2).sum() for f in spatial)
        sum_ai_aj = sum((spatial[s] * spatial[t]).sum()
                        for s in range(len(spatial)) for t in range(s + 1, len(spatial)))
        tau = np.sqrt((2.0 * noise_power * sum_an2 + 4.0 * noise_power * sum_ai_aj) / 2.0)
        threshold = (tau * np.sqrt(np.pi / 2.0) + k * np.sqrt((2.0 - np.pi / 2.0) * tau ** 2)) / 1.7
        energy_sum += np.maximum(energy - threshold, 0.0)
    return (energy_sum + eps) / (amplitude_sum + eps)


def scharr_magnitude(a):
    """|grad a| by the Scharr kernels / 16, zero padding."""
    kx = np.array([[-3.0, 0.0, 3.0], [-10.0, 0.0, 10.0], [-3.0, 0.0, 3.0]]) / 16.0
    h, w = a.shape
    p = np.pad(a, 1)
    gx = sum(kx[r, c] * p[r:r + h, c:c + w] for r in range(3) for c in range(3))
    gy = sum(kx[c, r] * p[r:r + h, c:c + w] for r in range(3) for c in range(3))
    return np.sqrt(gx ** 2 + gy ** 2)


def similarity(a, b, c):
    return (2.0 * a * b + c) / (a ** 2 + b ** 2 + c)


def fsim_reference(reference, distorted, data_range=1.0, chromatic=True, mask=None):
    """FSIM (one channel, or chromatic=False) or FSIMc of C x H x W arrays; mask (H x W,
    nonzero = selected) keeps the map entries whose pooling block it selects at least half of."""
    x = reference.astype(np.float64) / data_range * 255.0
    y = distorted.astype(np.float64) / data_range * 255.0
    c, height, width = x.shape
    f = max(1, round(min(height, width) / 256))  # Python's round: half to even
    h, w = height // f, width // f

    def pool(a):
        return a[:, :h * f, :w * f].reshape(a.shape[0], h, f, w, f).mean(axis=(2, 4))

    x, y = pool(x), pool(y)
    if c == 3:
        yiq = np.array([[0.299, 0.587, 0.114], [0.5959, -0.2746, -0.3213],
                        [0.2115, -0.5227, 0.3112]])
        x = np.tensordot(yiq, x, axes=1)
        y = np.tensordot(yiq, y, axes=1)
    bank = fsim_filters(h, w)
    pc_x, pc_y = phase_congruency(x[0], bank), phase_congruency(y[0], bank)
    pc_max = np.maximum(pc_x, pc_y)
    score = (similarity(scharr_magnitude(x[0]), scharr_magnitude(y[0]), 160.0)
             * similarity(pc_x, pc_y, 0.85) * pc_max)
    if chromatic and c == 3:
        chroma = similarity(x[1], y[1], 200.0) * similarity(x[2], y[2], 200.0)
        score = score * np.abs(chroma) ** 0.03  # piq: the modulus (MATLAB: the real part)
    if mask is not None:
        count = (mask != 0)[:h * f, :w * f].reshape(h, f, w, f).sum(axis=(1, 3))
        keep = 2 * count >= f * f
        score, pc_max = score[keep], pc_max[keep]
    return float(score.sum() / pc_max.sum())


def fsim_golden(piq, torch, load, arrays, metrics_cases):
    """The "fsim" section of iqa.json; exits when the numpy port and piq disagree."""
    from PIL import Image

    sources = {}
    source_info = {}
    for key, file in FSIM_SOURCES.items():
        u8 = np.asarray(Image.open(os.path.join(ROOT, "data", "images", file)))
        assert u8.dtype == np.uint8 and u8.ndim == 2, (file, u8.dtype, u8.shape)
        sources[key] = u8
        i, j = np.meshgrid(np.arange(u8.shape[0]), np.arange(u8.shape[1]), indexing="ij")
        weighted = int((u8.astype(np.int64) * ((i * 31 + j) % 997)).sum())
        source_info[key] = {"file": file, "shape": list(u8.shape),
                            "u8_sum": int(u8.sum(dtype=np.int64)), "u8_weighted_sum": weighted}

    def image(key, distortion):
        if key in FSIM_DERIVED:
            u8 = distort_u8(derive_u8(sources, key), distortion)
            return u8.astype(np.float32) / np.float32(255)
        a = load(key)
        if distortion == "none":
            return a
        u8 = distort_u8(np.rint(a * 255).astype(np.uint8), distortion)
        return u8.astype(np.float32) / np.float32(255)

    def piq_fsim(ref, img, data_range=1.0, chromatic=False):
        value = piq.fsim(torch.from_numpy(img.astype(np.float64))[None],
                         torch.from_numpy(ref.astype(np.float64))[None],
                         data_range=data_range, chromatic=chromatic)
        return float(value)

    small_masks = {"butterfly96": "butterfly96_mask", "cameraman77x61": "cameraman77x61_mask"}
    pairs = [(c["reference"], c["image"], "none") for c in metrics_cases]
    pairs += [("butterfly96_ref", "butterfly96_ref", "swap"),
              ("butterfly96_ref", "butterfly96_ref", "none"),  # identical: 1
              ("cameraman77x61_ref", "cameraman77x61_ref", "none"),
              ("cam512", "cam512", "noise"), ("cam512", "cam512", "quant"),
              ("cam451x397", "cam451x397", "noise"), ("cam128x64", "cam128x64", "noise"),
              ("rgb401x423", "rgb401x423", "noise"), ("rgb401x423", "rgb401x423", "swap"),
              ("rgb700x650", "rgb700x650", "noise"), ("cam640x700", "cam640x700", "quant"),
              ("cam3x2", "cam3x2", "noise"), ("rgb2x5", "rgb2x5", "noise")]
    large_masked = {("cam512", "noise"), ("rgb401x423", "noise"), ("rgb700x650", "noise")}
    cases = []
    worst = 0.0

    def agree(what, ours, theirs):
        nonlocal worst
        rel = abs(ours - theirs) / abs(theirs)
        worst = max(worst, rel)
        if rel > 1e-10:
            sys.exit(f"FSIM {what}: numpy {ours} against piq {theirs}")

    for ref_key, img_key, distortion in pairs:
        ref, img = image(ref_key, "none"), image(img_key, distortion)
        if min(img.min(), ref.min()) < 0 or max(img.max(), ref.max()) > 1:
            continue  # piq takes [0, data_range]
        rgb = ref.shape[0] == 3
        case = {"reference": ref_key, "image": img_key, "distortion": distortion,
                "shape": list(ref.shape)}
        variants = {"fsim": False, "fsimc": True} if rgb else {"fsim": False}
        for name, chromatic in variants.items():
            value = piq_fsim(ref, img, chromatic=chromatic)
            agree(f"{img_key} {distortion} {name}",
                  fsim_reference(ref, img, chromatic=chromatic), value)
            case[name] = value
        if ref_key.startswith("butterfly96"):
            r255, d255 = ref * np.float32(255), img * np.float32(255)
            value = piq_fsim(r255, d255, data_range=255.0, chromatic=True)
            agree(f"{img_key} {distortion} data_range 255",
                  fsim_reference(r255, d255, data_range=255.0), value)
            case["fsimc_data_range_255"] = value
        set_name = ref_key[:-len("_ref")] if ref_key.endswith("_ref") else ref_key
        masked = []
        if set_name in small_masks and ref_key != img_key:
            masks = [(small_masks[set_name], False), (small_masks[set_name], True),
                     ("all ones", False)]
        elif (ref_key, distortion) in large_masked:
            masks = [("checker", False), ("checker", True), ("all ones", False)]
        else:
            masks = []
        for mask_name, invert in masks:
            h, w = ref.shape[1:]
            if mask_name == "all ones":
                m = np.ones((h, w), np.float32)
            elif mask_name == "checker":
                m = checker_mask(h, w)
            else:
                m = load(mask_name)[0]
            if invert:
                m = 1.0 - m
            entry = {"mask": mask_name, "invert": invert}
            for name, chromatic in variants.items():
                entry[name] = fsim_reference(ref, img, chromatic=chromatic, mask=m)
            masked.append(entry)
        if masked:
            case["masked"] = masked
        cases.append(case)
    print(f"FSIM: {len(cases)} cases; numpy port against piq: worst relative difference "
          f"{worst:.1e}")
    return {"sources": source_info,
            "derived": {k: {"source": s, "upsample": f, "size": list(size),
                            "offsets": [list(o) for o in offs]}
                        for k, (s, f, size, offs) in FSIM_DERIVED.items()},
            "cases": cases}


def main():
    import piq
    import torch

    with open(os.path.join(GOLDEN, "metrics.json"), encoding="utf-8") as f:
        metrics = json.load(f)
    arrays = metrics["arrays"]

    def load(key):
        entry = arrays[key]
        a = np.load(os.path.join(GOLDEN, entry["file"]))
        return a.astype(np.float32) / np.float32(entry["divisor"])

    os.makedirs(OUT, exist_ok=True)
    # A contrast stretch by 1.2 around mid-grey: VIFp above 1 (more contrast than the reference).
    ref_u8 = np.load(os.path.join(GOLDEN, arrays["butterfly96_ref"]["file"]))
    stretched = np.clip(np.rint(127.5 + 1.2 * (ref_u8.astype(np.float64) - 127.5)), 0, 255)
    np.save(os.path.join(OUT, "butterfly96_contrast.npy"), stretched.astype(np.uint8))
    arrays = dict(arrays)
    arrays["butterfly96_contrast"] = {"file": "iqa/butterfly96_contrast.npy", "divisor": 255}

    pairs = [(c["reference"], c["image"]) for c in metrics["cases"]]
    pairs.append(("butterfly96_ref", "butterfly96_contrast"))
    pairs.append(("cameraman77x61_ref", "cameraman77x61_ref"))  # identical: exactly 1
    masks = {"butterfly96": "butterfly96_mask", "cameraman77x61": "cameraman77x61_mask"}
    cases = []
    worst = 0.0
    for ref_key, img_key in pairs:
        ref32, img32 = load(ref_key), load(img_key)
        if img32.min() < 0 or img32.max() > 1 or min(ref32.shape[1:]) < 41:
            continue  # piq takes [0, data_range] and at least 41 x 41
        ref64 = torch.from_numpy(ref32.astype(np.float64))[None]
        img64 = torch.from_numpy(img32.astype(np.float64))[None]
        case = {"reference": ref_key, "image": img_key, "vif_p": {}}
        variants = {"default": ({}, 1.0), "sigma_n_sq_0.5": ({"sigma_n_sq": 0.5}, 1.0),
                    "data_range_255": ({"data_range": 255.0}, 255.0)}
        for name, (options, scale) in variants.items():
            r = (ref32 * np.float32(scale)).astype(np.float64)
            d = (img32 * np.float32(scale)).astype(np.float64)
            piq_value = float(piq.vif_p(torch.from_numpy(d)[None], torch.from_numpy(r)[None],
                                        **options))
            ours = vif_p_reference(r, d, **options)
            rel = abs(ours - piq_value) / abs(piq_value)
            worst = max(worst, rel)
            if rel > 1e-10:
                sys.exit(f"{img_key} {name}: numpy {ours} against piq {piq_value}")
            case["vif_p"][name] = piq_value
        del ref64, img64
        set_name = ref_key[:-len("_ref")]
        if set_name in masks:
            mask = load(masks[set_name])[0]
            case["vif_p_masked"] = [
                {"mask": masks[set_name], "invert": False,
                 "value": vif_p_reference(ref32, img32, mask=mask)},
                {"mask": masks[set_name], "invert": True,
                 "value": vif_p_reference(ref32, img32, mask=1.0 - mask)},
                {"mask": "all ones", "invert": False,
                 "value": vif_p_reference(ref32, img32, mask=np.ones_like(mask))},
            ]
        cases.append(case)

    golden = {
        "generator": "tools/dev/make_iqa_golden.py",
        "versions": {"piq": piq.__version__, "torch": torch.__version__,
                     "numpy": np.__version__},
        "arrays": {k: v for k, v in arrays.items() if k.startswith("butterfly96_contrast")},
        "cases": cases,
        "fsim": fsim_golden(piq, torch, load, arrays, metrics["cases"]),
    }
    with open(os.path.join(GOLDEN, "iqa.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases; numpy VIFp against piq: worst relative difference "
          f"{worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
