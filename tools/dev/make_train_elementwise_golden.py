#!/usr/bin/python3
"""Golden values of PyTorch's element-wise, resampling and structural layers and losses for
tests/test_train_elementwise.cpp (the forward semantics of include/xrestore/train/).

Run with Debian's Python (it has torch):
    /usr/bin/python3 tools/dev/make_train_elementwise_golden.py
Writes tests/data/train/elem_*.npy (float32 unless said, ~10 KB in all), computed in float32:
  elem_x.npy                    2 x 3 x 7 x 9 input, standard normal, seed 14
  elem_w_up.npy, elem_w_pad.npy weights w of the backward checks (standard normal), dx = d<w, y>/dx
  elem_upsample_bilinear.npy    nn.Upsample(scale_factor=2, mode='bilinear') (align_corners=False)
  elem_upsample_bilinear_dx.npy its input gradient for w_up
  elem_upsample_nearest.npy     nn.Upsample(scale_factor=2)
  elem_avgpool.npy              F.avg_pool2d(x, 2) (odd sizes floored)
  elem_maxpool_ties_x.npy       x rounded to halves, so that most windows hold ties
  elem_maxpool_ties.npy         F.max_pool2d(ties_x, 2)
  elem_maxpool_ties_w.npy       weights of its backward, elem_maxpool_ties_dx.npy the gradient
  elem_reflect_pad.npy          F.pad(x, (1, 2, 3, 2), mode='reflect') (left, right, top, bottom)
  elem_reflect_pad_dx.npy       its input gradient for w_pad
  elem_ce_logits.npy            5 x 4 logits, standard normal times 80 (overflows a naive exp)
  elem_ce_labels.npy            int64 labels
  elem_ce_loss.npy              F.cross_entropy(logits, labels) (mean), shape (1,)
  elem_ce_grad.npy              its gradient with respect to the logits
"""

import os

import numpy as np
import torch
import torch.nn.functional as F

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "data", "train")


def save(name, t, dtype=np.float32):
    a = t.detach().numpy() if isinstance(t, torch.Tensor) else t
    np.save(os.path.join(OUT, "elem_" + name + ".npy"), np.ascontiguousarray(a, dtype=dtype))


def input_gradient(f, x, w):
    x = x.clone().requires_grad_(True)
    (f(x) * w).sum().backward()
    return x.grad


def main():
    os.makedirs(OUT, exist_ok=True)
    g = torch.Generator().manual_seed(14)
    x = torch.randn(2, 3, 7, 9, generator=g)
    save("x", x)

    up = torch.nn.Upsample(scale_factor=2, mode="bilinear", align_corners=False)
    w_up = torch.randn(2, 3, 14, 18, generator=g)
    save("w_up", w_up)
    save("upsample_bilinear", up(x))
    save("upsample_bilinear_dx", input_gradient(up, x, w_up))
    save("upsample_nearest", torch.nn.Upsample(scale_factor=2)(x))

    save("avgpool", F.avg_pool2d(x, 2))
    ties = torch.round(x * 2) / 2
    ties[0, 0, 0:2, 0:2] = 1.5  # a window of four equal values
    save("maxpool_ties_x", ties)
    save("maxpool_ties", F.max_pool2d(ties, 2))
    w_pool = torch.randn(2, 3, 3, 4, generator=g)
    save("maxpool_ties_w", w_pool)
    save("maxpool_ties_dx", input_gradient(lambda t: F.max_pool2d(t, 2), ties, w_pool))

    pads = (1, 2, 3, 2)
    w_pad = torch.randn(2, 3, 7 + 3 + 2, 9 + 1 + 2, generator=g)
    save("w_pad", w_pad)
    save("reflect_pad", F.pad(x, pads, mode="reflect"))
    save("reflect_pad_dx", input_gradient(lambda t: F.pad(t, pads, mode="reflect"), x, w_pad))

    logits = torch.randn(5, 4, generator=g) * 80
    labels = torch.tensor([0, 3, 1, 1, 2], dtype=torch.int64)
    save("ce_logits", logits)
    save("ce_labels", labels, dtype=np.int64)
    z = logits.clone().requires_grad_(True)
    loss = F.cross_entropy(z, labels)
    loss.backward()
    save("ce_loss", loss.reshape(1))
    save("ce_grad", z.grad)


if __name__ == "__main__":
    main()
