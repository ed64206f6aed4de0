#!/usr/bin/python3
"""Golden outputs of PyTorch's depthwise conv2d / conv_transpose2d for tests/test_convolution.cpp.

Run with Debian's Python (it has torch):  /usr/bin/python3 tools/dev/make_conv_golden.py
Writes tests/golden/conv_*.npy (float32, ~260 KB in all):
  conv_input.npy                 3 x 37 x 45 image, uniform [0,1), seed 1234
  conv_kernel_<name>.npy         box7, box13 (1/p^2), rand5x9, rand4x6, rand17x17 (uniform, sum 1)
  conv_zero_<name>.npy           F.conv2d(x, w, groups=3, padding=p//2 (odd) or 'same' (even))
  conv_adjoint_zero_<name>.npy   F.conv_transpose2d(x, w, groups=3, padding=p//2) (odd kernels)
  conv_<mode>_<name>.npy         F.pad(x, same-padding amounts, mode) then F.conv2d(padding=0),
                                 mode in circular, reflect, replicate
Everything is computed in float64 and stored as float32, so the files carry the exact values to
float rounding. PyTorch's 'same' padding puts (k-1)//2 before and k//2 after, which is what
xrestore::convolution does for every kernel size.
"""

import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "golden")
CHANNELS, HEIGHT, WIDTH = 3, 37, 45


def save(name, array):
    np.save(os.path.join(OUT, name + ".npy"), np.ascontiguousarray(array, dtype=np.float32))


def depthwise_weight(kernel):
    # (kh, kw) -> (C, 1, kh, kw), the weight of nn.Conv2d(C, C, k, groups=C)
    return kernel.reshape(1, 1, *kernel.shape).repeat(CHANNELS, 1, 1, 1)


def same_pads(kh, kw):
    # F.pad order: (left, right, top, bottom); PyTorch 'same': (k-1)//2 before, k//2 after
    return ((kw - 1) // 2, kw // 2, (kh - 1) // 2, kh // 2)


def main():
    os.makedirs(OUT, exist_ok=True)
    generator = torch.Generator().manual_seed(1234)
    x = torch.rand(1, CHANNELS, HEIGHT, WIDTH, generator=generator, dtype=torch.float32)
    save("conv_input", x[0].numpy())
    x = x.double()

    kernels = {}
    for p in (7, 13):
        kernels[f"box{p}"] = torch.full((p, p), 1.0 / (p * p), dtype=torch.float32)
    for kh, kw in ((5, 9), (4, 6), (17, 17)):
        k = torch.rand(kh, kw, generator=generator, dtype=torch.float32)
        kernels[f"rand{kh}x{kw}"] = (k / k.sum()).float()
    for name, k in kernels.items():
        save("conv_kernel_" + name, k.numpy())

    with torch.no_grad():
        for name, k in kernels.items():
            kh, kw = k.shape
            w = depthwise_weight(k.double())
            odd = kh % 2 == 1 and kw % 2 == 1
            if name != "rand17x17":
                padding = (kh // 2, kw // 2) if odd else "same"
                save("conv_zero_" + name, F.conv2d(x, w, groups=CHANNELS, padding=padding)[0])
            if name in ("box13", "rand5x9"):
                y = F.conv_transpose2d(x, w, groups=CHANNELS, padding=(kh // 2, kw // 2))
                save("conv_adjoint_zero_" + name, y[0])
            modes = {
                "rand5x9": ("circular", "reflect", "replicate"),
                "rand4x6": ("circular", "reflect", "replicate"),
                "rand17x17": ("reflect",),
            }.get(name, ())
            for mode in modes:
                padded = F.pad(x, same_pads(kh, kw), mode=mode)
                save(f"conv_{mode}_{name}", F.conv2d(padded, w, groups=CHANNELS)[0])

    total = sum(
        os.path.getsize(os.path.join(OUT, f))
        for f in os.listdir(OUT)
        if f.startswith("conv_") and f.endswith(".npy")
    )
    print(f"wrote tests/golden/conv_*.npy, {total / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
