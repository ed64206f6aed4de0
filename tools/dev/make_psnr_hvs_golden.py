#!/usr/bin/python3
"""Golden values for PSNR-HVS and PSNR-HVS-M (include/xrestore/metrics/psnr_hvs.hpp).

Run with Debian's Python (numpy only):

    /usr/bin/python3 tools/dev/make_psnr_hvs_golden.py

and, for the cross-check against the PyPI package psnr_hvsm (optional; CI reads the JSON):

    /usr/bin/python3 -m venv --system-site-packages /work/venv-hvs
    /work/venv-hvs/bin/pip install psnr_hvsm
    /work/venv-hvs/bin/python tools/dev/make_psnr_hvs_golden.py

Writes tests/golden/psnr_hvs.json. The values come from psnr_hvs_reference below, a numpy
version written from the definition of the authors' MATLAB psnrhvsm.m (Ponomarenko 2007):

  * the images are brought to [0, 255] (times 255 / data_range) and reduced to one plane:
    one channel is taken as it is; three channels give, by choice, the BT.601 YCbCr Y
    (16 + 65.481 R + 128.553 G + 24.966 B for R, G, B in [0, 1]; the default, as MATLAB's
    rgb2ycbcr and psnr_hvsm's colour path, without their 8-bit rounding), the full-range luma
    255 (0.299 R + 0.587 G + 0.114 B), or the mean of the channels;
  * 8 x 8 blocks with corners at (step i, step j) while the block fits (rows and columns past
    the last whole block are not used); each block's orthonormal DCT-II (MATLAB dct2);
  * PSNR-HVS: S2 = sum over blocks and coefficients of (|A - B| CSF)^2;
  * PSNR-HVS-M: the masking level of a block, m(z) = sqrt(E * P) / 32 with E the sum of the
    squared AC coefficients weighted by the masking table and P the ratio of the 4 x 4
    sub-blocks' vari() to the block's (vari(z) = var(z, ddof=1) * numel(z); P = 0 for a flat
    block), is M = max(m(A), m(B)); every AC difference is lowered by M / MaskCof(k, l),
    to 0 at most; the DC difference is kept whole; S1 = sum of (u CSF)^2;
  * value = 10 log10(255^2 / (S / (64 * blocks))), and 100000 when S == 0 (psnrhvsm.m's value
    for identical, or for -M visually indistinguishable, images).

The masked values keep only the blocks whose 64 pixels the mask selects (nonzero) at least 32
of. Test arrays: those of tests/golden/metrics.json (uint8 / 255 in float32, as the C++ test
loads them), plus crops to sizes that are not multiples of 8. (PSNR-HVS-M's 100000 for a
difference the masking hides completely is out of reach in floating point: the DC differences
of blocks with equal sums are rounding residues, not 0, so S1 stays positive.)

Cross-check (psnr_hvsm 0.3.0 from PyPI, numpy and C++ backends): it requires sizes that are
multiples of 8, so it gets the arrays cut to whole blocks, which by the definition give the
same values; its images are on [0, 1] with peak 1 and its RGB path is bt601ycbcr(...,
precision='float') followed by psnr_hvs_hvsm. On every golden case (default luminance, step
8, not identical: it returns 100 there instead of 100000) the numpy reference agrees with both
backends to 1e-15 relative (the script records the worst difference in the JSON and stops
above 1e-12).
"""

import json
import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
GOLDEN = os.path.join(ROOT, "tests", "golden")

# Contrast sensitivity weights and masking coefficients of psnrhvsm.m, row k = vertical
# frequency, column l = horizontal frequency.
CSF = np.array([
    [1.608443, 2.339554, 2.573509, 1.608443, 1.072295, 0.643377, 0.504610, 0.421887],
    [2.144591, 2.144591, 1.838221, 1.354478, 0.989811, 0.443708, 0.428918, 0.467911],
    [1.838221, 1.979622, 1.608443, 1.072295, 0.643377, 0.451493, 0.372972, 0.459555],
    [1.838221, 1.513829, 1.169777, 0.887417, 0.504610, 0.295806, 0.321689, 0.415082],
    [1.429727, 1.169777, 0.695543, 0.459555, 0.378457, 0.236102, 0.249855, 0.334222],
    [1.072295, 0.735288, 0.467911, 0.402111, 0.317717, 0.247453, 0.227744, 0.279729],
    [0.525206, 0.402111, 0.329937, 0.295806, 0.249855, 0.212687, 0.214459, 0.254803],
    [0.357432, 0.279729, 0.270896, 0.262603, 0.229778, 0.257351, 0.249855, 0.259950]])
MASK = np.array([
    [0.390625, 0.826446, 1.000000, 0.390625, 0.173611, 0.062500, 0.038447, 0.026874],
    [0.694444, 0.694444, 0.510204, 0.277008, 0.147929, 0.029727, 0.027778, 0.033058],
    [0.510204, 0.591716, 0.390625, 0.173611, 0.062500, 0.030779, 0.021004, 0.031888],
    [0.510204, 0.346021, 0.206612, 0.118906, 0.038447, 0.013212, 0.015625, 0.026015],
    [0.308642, 0.206612, 0.073046, 0.031888, 0.021626, 0.008417, 0.009426, 0.016866],
    [0.173611, 0.081633, 0.033058, 0.024414, 0.015242, 0.009246, 0.007831, 0.011815],
    [0.041649, 0.024414, 0.016437, 0.013212, 0.009426, 0.006830, 0.006944, 0.009803],
    [0.019290, 0.011815, 0.011080, 0.010412, 0.007972, 0.010000, 0.009426, 0.010203]])
IDENTICAL = 100000.0


def dct_matrix():
    """Orthonormal 8-point DCT-II: C[k, n] = a_k cos(pi (2n + 1) k / 16), a_0 = sqrt(1/8),
    a_k = sqrt(2/8); the 2-D transform of a block B is C B C^T (MATLAB dct2)."""
    k = np.arange(8)[:, None]
    n = np.arange(8)[None, :]
    c = np.sqrt(2.0 / 8.0) * np.cos(np.pi * (2 * n + 1) * k / 16.0)
    c[0, :] = np.sqrt(1.0 / 8.0)
    return c


def plane(x, data_range, colour):
    """C x H x W array on [0, data_range] -> H x W plane on [0, 255] (see the docstring)."""
    t = x.astype(np.float64) / data_range
    if t.shape[0] == 1:
        return 255.0 * t[0]
    r, g, b = t
    if colour == "ycbcr":
        return 16.0 + 65.481 * r + 128.553 * g + 24.966 * b
    if colour == "luma":
        return 255.0 * (0.299 * r + 0.587 * g + 0.114 * b)
    if colour == "channel_mean":
        return 255.0 * (r + g + b) / 3.0
    raise ValueError(colour)


def vari(z):
    """psnrhvsm.m's vari: the unbiased variance times the number of samples."""
    return np.var(z, ddof=1) * z.size


def masking_level(block, coefficients):
    """m(z) = sqrt(E * P) / 32: E the masking-weighted energy of the AC coefficients, P the
    share of the block's variation left inside its four 4 x 4 quarters (0 for a flat block)."""
    weights = MASK.copy()
    weights[0, 0] = 0.0  # the DC coefficient carries no masking
    energy = np.sum(coefficients ** 2 * weights)
    p = vari(block)
    if p != 0:
        p = (vari(block[:4, :4]) + vari(block[:4, 4:]) + vari(block[4:, 4:])
             + vari(block[4:, :4])) / p
    return np.sqrt(energy * p) / 32.0


def to_db(s, count):
    return IDENTICAL if s == 0 else 10.0 * np.log10(255.0 ** 2 / (s / count))


def psnr_hvs_reference(reference, distorted, data_range=1.0, colour="ycbcr", step=8,
                       mask=None):
    """(PSNR-HVS, PSNR-HVS-M) of two C x H x W arrays; mask (H x W, nonzero = selected) keeps
    the blocks it selects at least half of. None when no block is kept."""
    a_plane = plane(reference, data_range, colour)
    b_plane = plane(distorted, data_range, colour)
    c = dct_matrix()
    h, w = a_plane.shape
    s_hvs = s_hvs_m = 0.0
    blocks = 0
    for y in range(0, h - 7, step):
        for x in range(0, w - 7, step):
            if mask is not None and 2 * np.count_nonzero(mask[y:y + 8, x:x + 8]) < 64:
                continue
            a = a_plane[y:y + 8, x:x + 8]
            b = b_plane[y:y + 8, x:x + 8]
            a_dct = c @ a @ c.T
            b_dct = c @ b @ c.T
            level = max(masking_level(a, a_dct), masking_level(b, b_dct))
            u = np.abs(a_dct - b_dct)
            s_hvs += np.sum((u * CSF) ** 2)
            threshold = level / MASK
            masked = np.where(u < threshold, 0.0, u - threshold)
            masked[0, 0] = u[0, 0]  # the DC difference is not masked
            s_hvs_m += np.sum((masked * CSF) ** 2)
            blocks += 1
    if blocks == 0:
        return None
    return to_db(s_hvs, 64 * blocks), to_db(s_hvs_m, 64 * blocks)


def package_values(reference, distorted, backend):
    """psnr_hvsm's (PSNR-HVS, PSNR-HVS-M) for the default luminance, on the whole blocks."""
    import psnr_hvsm
    h, w = reference.shape[1] // 8 * 8, reference.shape[2] // 8 * 8
    planes = []
    for x in (reference, distorted):
        x = x[:, :h, :w].astype(np.float64)
        if x.shape[0] == 3:
            y, _, _ = psnr_hvsm.bt601ycbcr_np(np.moveaxis(255.0 * x, 0, 2), precision="float")
        else:
            y = x[0]
        planes.append(np.ascontiguousarray(y))
    hvs, hvs_m = psnr_hvsm.BACKENDS[backend]["psnr_hvs_hvsm"](planes[0], planes[1])
    return float(hvs), float(hvs_m)


def main():
    with open(os.path.join(GOLDEN, "metrics.json"), encoding="utf-8") as f:
        arrays = json.load(f)["arrays"]

    def load(key):
        entry = arrays[key]
        a = np.load(os.path.join(GOLDEN, entry["file"]))
        return a.astype(np.float32) / np.float32(entry["divisor"])

    try:
        import psnr_hvsm
        backends = [b for b in ("numpy", "cpp") if b in psnr_hvsm.BACKENDS]
        version = getattr(psnr_hvsm, "__version__", None)
        if version is None:
            from importlib.metadata import version as dist_version
            version = dist_version("psnr_hvsm")
    except ImportError:
        backends, version = [], None
        print("psnr_hvsm not installed: no cross-check")

    sets = {
        "butterfly96": ["noise", "blur", "quant", "inpaint"],
        "cameraman77x61": ["noise", "blur", "quant", "inpaint", "float_noise"],
        "cameraman184x177": ["noise", "blur", "inpaint"],
    }
    masks = {"butterfly96": "butterfly96_mask", "cameraman77x61": "cameraman77x61_mask"}
    # Crops (rows r0:r1, columns c0:c1) to sizes that are not multiples of 8, for some images.
    crops = {
        ("butterfly96", "noise"): [3, 94, 5, 90],
        ("butterfly96", "quant"): [0, 47, 9, 96],
        ("cameraman184x177", "noise"): [1, 180, 2, 177],
        ("cameraman77x61", "blur"): [4, 12, 0, 61],  # a single row of blocks
    }
    # Rectangles (rows r0:r1, columns c0:c1, not block-aligned) a mask selects.
    rects = {"butterfly96": [5, 60, 13, 70], "cameraman77x61": [10, 77, 3, 30]}
    variants = {
        "default": {},
        "luma": {"colour": "luma"},
        "channel_mean": {"colour": "channel_mean"},
        "step_4": {"step": 4},
        "step_3_luma": {"step": 3, "colour": "luma"},
    }

    cases = []
    worst = 0.0
    compared = 0
    pairs = [(s, s + "_ref", s + "_" + k, None) for s, ks in sets.items() for k in ks]
    pairs += [(s, s + "_ref", s + "_" + k, crop) for (s, k), crop in crops.items()]
    pairs.append(("butterfly96", "butterfly96_ref", "butterfly96_ref", None))
    pairs.append(("cameraman77x61", "cameraman77x61_ref", "cameraman77x61_ref", None))
    for set_name, ref_key, img_key, crop in pairs:
        ref, img = load(ref_key), load(img_key)
        mask = load(masks[set_name])[0] if set_name in masks else None
        if crop is not None:
            r0, r1, c0, c1 = crop
            ref, img = ref[:, r0:r1, c0:c1], img[:, r0:r1, c0:c1]
            mask = None if mask is None else mask[r0:r1, c0:c1]
        case = {"reference": ref_key, "image": img_key, "crop": crop, "values": {}}
        for name, options in variants.items():
            if name in ("luma", "channel_mean") and ref.shape[0] == 1:
                continue  # one channel is its own luminance
            hvs, hvs_m = psnr_hvs_reference(ref, img, **options)
            case["values"][name] = {"psnr_hvs": hvs, "psnr_hvs_m": hvs_m}
        # data range 255: the float32 arrays times 255, as the C++ test makes them
        hvs, hvs_m = psnr_hvs_reference(ref * np.float32(255), img * np.float32(255),
                                        data_range=255.0)
        case["values"]["data_range_255"] = {"psnr_hvs": hvs, "psnr_hvs_m": hvs_m}
        if ref_key != img_key:
            want = case["values"]["default"]
            for backend in backends:
                got = package_values(ref, img, backend)
                for g, v in zip(got, (want["psnr_hvs"], want["psnr_hvs_m"])):
                    rel = abs(g - v) / abs(v)
                    worst = max(worst, rel)
                    compared += 1
                    if rel > 1e-12:
                        sys.exit(f"{img_key} {crop} ({backend}): psnr_hvsm {got} against the "
                                 f"numpy reference {want}")
        if mask is not None and crop is None:
            rect = np.zeros_like(mask)
            r0, r1, c0, c1 = rects[set_name]
            rect[r0:r1, c0:c1] = 1
            case["masked"] = []
            for mask_name, m in (("mask", mask), ("inverted", 1 - mask), ("rect", rect),
                                 ("all ones", np.ones_like(mask))):
                for name in ("default", "step_4"):
                    values = psnr_hvs_reference(ref, img, mask=m, **variants[name])
                    if values is None:
                        continue  # the random 40 % mask may select no block
                    case["masked"].append({"mask": mask_name, "options": name,
                                           "psnr_hvs": values[0], "psnr_hvs_m": values[1]})
        cases.append(case)

    golden = {
        "generator": "tools/dev/make_psnr_hvs_golden.py",
        "versions": {"numpy": np.__version__, "psnr_hvsm": version},
        "cross_check": {"package": "psnr_hvsm", "backends": backends, "values": compared,
                        "worst_relative_difference": worst},
        "identical_value": IDENTICAL,
        "rects": rects,
        "cases": cases,
    }
    with open(os.path.join(GOLDEN, "psnr_hvs.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases; {compared} values compared with psnr_hvsm {backends}: "
          f"worst relative difference {worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
