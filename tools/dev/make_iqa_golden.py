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
    }
    with open(os.path.join(GOLDEN, "iqa.json"), "w", encoding="utf-8") as f:
        json.dump(golden, f, indent=1)
        f.write("\n")
    print(f"wrote {len(cases)} cases; numpy VIFp against piq: worst relative difference "
          f"{worst:.1e}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
