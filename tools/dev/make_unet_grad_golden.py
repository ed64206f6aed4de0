#!/usr/bin/python3
"""PyTorch autograd references for the native U-Net backward pass: whole-network loss gradients.

Run with Debian's Python (torch 1.13, numpy); the `python3` on PATH has no torch:

    /usr/bin/python3 tools/dev/make_unet_grad_golden.py               # regenerate the files
    /usr/bin/python3 tools/dev/make_unet_grad_golden.py --self-check  # re-check the stored files

Writes tests/data/train/unet_grad_<case>.safetensors, one per case of CASES (deterministic:
weights, inputs and targets are seeded; rerunning gives the same bytes). Each file holds, all
float32, in this order:
  weight.<name>   every tensor of model.state_dict() (the names nn::unet::from_state_dict reads)
  grad.<name>     d loss / d weight.<name>, same shape, for EVERY parameter
  input           N x in_chans x H x W: the network's input x (raw) or the noisy y (residual)
  target          N x out_chans x H x W: the target t (raw) or the clean image (residual)
  grad.input      d loss / d input, same shape as input
and string metadata (__metadata__): "loss" (the float64 loss, 17 significant digits), "call"
("raw" or "residual"), "loss_kind" ("mse"), the configuration ("in_chans", "out_chans",
"chans", "num_pool_layers"), the seeds, "std_clamp", "reference", "torch_version", and
"torch_f32_max_rel_err": the largest, over tensors, of ||g_f32 - g_ref|| / ||g_ref|| for the same
gradients computed by torch in float32 (a guide to what a float32 native backward can reach).

The losses (mean over all N x C x H x W elements):
  raw       L = mean((U(x) - t)^2)
  residual  L = mean((D(y) - clean)^2), D(y) = y - s * U((y - m_c) / s), the training call of
            models/TRAINING.md (m_c: per sample and channel mean over H x W; s: per sample
            unbiased std of all C x H x W values, clamped below at 1e-4); d loss / d input
            flows through m_c and s as well.
The network is in training mode as the U-Net is trained (instance norm without affine and
without running statistics, dropout probability 0: the same function as eval mode).

Reference precision: the float32 weights, input and target are cast to float64 and the loss
and every gradient are computed by torch autograd in float64, then rounded to float32; the
stored references are therefore exact to float32 rounding for the stored float32 data. Before
writing, each case's float64 gradient is checked against a central difference of the float64
loss along a random direction in (weights, input) space.
"""

import argparse
import copy
import json
import os
import struct
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from make_unet_golden import random_unet, smooth_noisy_input, uniform_input  # noqa: E402
from unet_torch import STD_CLAMP, call  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "train")

# name: (in_chans, out_chans, chans, num_pool_layers, call, input shape, weight seed, data seed)
CASES = {
    "c8_p2_1to1_1x1x37x45": (1, 1, 8, 2, "raw", (1, 1, 37, 45), 201, 211),
    "c8_p3_3to3_2x3x33x35": (3, 3, 8, 3, "raw", (2, 3, 33, 35), 202, 212),
    "c16_p2_1to3_2x1x33x35": (1, 3, 16, 2, "raw", (2, 1, 33, 35), 203, 213),
    "c16_p2_3to3_1x3x37x45_residual": (3, 3, 16, 2, "residual", (1, 3, 37, 45), 204, 214),
}
RESIDUAL_SIGMA = 0.1  # noise of the residual case: y = clean + sigma * randn


def make_data(cin, cout, call_mode, shape, seed):
    """(input, target) in float32: uniform x and uniform t (raw); noisy y and clean (residual)."""
    if call_mode == "raw":
        x = uniform_input(shape, seed)
        t = uniform_input((shape[0], cout) + tuple(shape[2:]), seed + 1000)
        return x, t
    assert cin == cout
    noisy = smooth_noisy_input(shape, seed, sigma=RESIDUAL_SIGMA)  # clean + sigma * noise
    clean = smooth_noisy_input(shape, seed, sigma=0.0)             # the same clean image
    return noisy, clean


def loss_and_grads(model, x, t, call_mode, dtype):
    """L and d L / d (every parameter, input), computed in `dtype` on copies of the model."""
    m = copy.deepcopy(model).to(dtype).train()
    xi = x.to(dtype).clone().requires_grad_(True)
    out = call(m, xi, call_mode)
    loss = ((out - t.to(dtype)) ** 2).mean()
    params = [p for _, p in m.named_parameters()]
    grads = torch.autograd.grad(loss, params + [xi])
    names = [n for n, _ in m.named_parameters()]
    return loss.detach(), dict(zip(names, grads[:-1])), grads[-1]


def loss_at(model, x, t, call_mode, direction, h):
    """The float64 loss at (weights, input) + h * direction."""
    m = copy.deepcopy(model).double()
    with torch.no_grad():
        for n, p in m.named_parameters():
            p.add_(h * direction[n])
        out = call(m, x.double() + h * direction["input"], call_mode)
        return float(((out - t.double()) ** 2).mean())


def unit(tensors):
    """The dict of tensors scaled to unit Euclidean norm over all of them."""
    norm = sum(float((d ** 2).sum()) for d in tensors.values()) ** 0.5
    return {n: d / norm for n, d in tensors.items()}


def check_directional(model, x, t, call_mode, grads, grad_input, seed):
    """Central difference of the float64 loss along a unit direction (half random, half the
    gradient's) vs <grad, direction>; returns (analytic, numeric, relative difference)."""
    g = torch.Generator().manual_seed(seed)
    direction = {n: torch.randn(p.shape, generator=g, dtype=torch.float64)
                 for n, p in model.named_parameters()}
    direction["input"] = torch.randn(x.shape, generator=g, dtype=torch.float64)
    direction = unit(direction)
    # half random, half along the gradient, so that the derivative is not a cancellation
    gradient = unit(dict(grads, input=grad_input))
    direction = unit({n: direction[n] + gradient[n] for n in direction})
    analytic = sum(float((grads[n] * direction[n]).sum()) for n in grads)
    analytic += float((grad_input * direction["input"]).sum())
    h = 1e-6  # small: the leaky ReLU kinks make larger steps inaccurate
    numeric = (loss_at(model, x, t, call_mode, direction, h)
               - loss_at(model, x, t, call_mode, direction, -h)) / (2 * h)
    rel = abs(numeric - analytic) / max(abs(analytic), 1e-30)
    return analytic, numeric, rel


def rel_err(a, b):
    return float((a.double() - b.double()).norm() / max(float(b.double().norm()), 1e-300))


# ---- safetensors (the format of include/xrestore/io/safetensors.hpp), float32 only -----------

def write_safetensors(path, tensors, metadata):
    """tensors: list of (name, float32 numpy array) in data order; metadata: str -> str."""
    header = {"__metadata__": metadata}
    offset = 0
    blobs = []
    for name, array in tensors:
        data = np.ascontiguousarray(array, dtype="<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(array.shape),
                        "data_offsets": [offset, offset + len(data)]}
        offset += len(data)
        blobs.append(data)
    text = json.dumps(header, separators=(",", ":")).encode("utf-8")
    text += b" " * (-len(text) % 8)  # pad the header to 8 bytes with spaces (allowed by the format)
    tmp = path + ".part"
    with open(tmp, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)
    os.replace(tmp, path)


def read_safetensors(path):
    with open(path, "rb") as f:
        raw = f.read()
    (n,) = struct.unpack("<Q", raw[:8])
    header = json.loads(raw[8:8 + n])
    metadata = header.pop("__metadata__", {})
    data = raw[8 + n:]
    tensors = {}
    for name, info in header.items():
        begin, end = info["data_offsets"]
        assert info["dtype"] == "F32", name
        tensors[name] = np.frombuffer(data[begin:end], dtype="<f4").reshape(info["shape"])
    return tensors, metadata


# ---- the cases -----------------------------------------------------------------------------------

def make_case(name, spec):
    cin, cout, chans, pools, call_mode, shape, wseed, dseed = spec
    model = random_unet(cin, cout, chans, pools, wseed).train()
    x, t = make_data(cin, cout, call_mode, shape, dseed)
    loss, grads, grad_input = loss_and_grads(model, x, t, call_mode, torch.float64)
    loss32, grads32, grad_input32 = loss_and_grads(model, x, t, call_mode, torch.float32)
    f32_err = max([rel_err(grads32[n], grads[n]) for n in grads]
                  + [rel_err(grad_input32, grad_input)])
    analytic, numeric, rel = check_directional(model, x, t, call_mode, grads, grad_input, dseed)
    print(f"{name:34s} loss {float(loss):.6e}  params {sum(g.numel() for g in grads.values()):7d}"
          f"  torch f32 max rel err {f32_err:.1e}  directional d/dh {analytic:.6e}"
          f" (central diff rel err {rel:.1e})")
    assert rel < 1e-5, f"{name}: autograd and central difference disagree ({rel:.2e})"
    assert all(float(g.norm()) > 0 for g in grads.values()), f"{name}: a zero gradient"

    state = model.state_dict()
    tensors = [("weight." + n, state[n].numpy()) for n in state]
    tensors += [("grad." + n, grads[n].float().numpy()) for n in state]
    tensors += [("input", x.numpy()), ("target", t.numpy()),
                ("grad.input", grad_input.float().numpy())]
    metadata = {
        "loss": repr(float(loss)), "loss_kind": "mse", "call": call_mode,
        "in_chans": str(cin), "out_chans": str(cout), "chans": str(chans),
        "num_pool_layers": str(pools), "weight_seed": str(wseed), "data_seed": str(dseed),
        "std_clamp": repr(STD_CLAMP), "torch_version": torch.__version__,
        "torch_f32_max_rel_err": f"{f32_err:.3e}", "torch_f32_loss": repr(float(loss32)),
        "reference": "float64 torch autograd of the float32 weights, input and target; "
                     "gradients stored as float32",
        "mode": "training (instance norm without affine or running statistics, no dropout)",
    }
    if call_mode == "residual":
        metadata["sigma"] = repr(RESIDUAL_SIGMA)
    return tensors, metadata


def self_check(folder):
    """Recompute every stored file's loss and gradients from its stored weights and data."""
    for name, spec in CASES.items():
        tensors, metadata = read_safetensors(os.path.join(folder, f"unet_grad_{name}.safetensors"))
        cin, cout, chans, pools, call_mode, _, wseed, _ = spec
        model = random_unet(cin, cout, chans, pools, wseed)
        sd = {n[len("weight."):]: torch.from_numpy(v.copy())
              for n, v in tensors.items() if n.startswith("weight.")}
        model.load_state_dict(sd, strict=True)
        x, t = torch.from_numpy(tensors["input"].copy()), torch.from_numpy(tensors["target"].copy())
        loss, grads, grad_input = loss_and_grads(model, x, t, call_mode, torch.float64)
        worst = max([rel_err(torch.from_numpy(tensors["grad." + n].copy()), g)
                     for n, g in grads.items()]
                    + [rel_err(torch.from_numpy(tensors["grad.input"].copy()), grad_input)])
        dloss = abs(float(loss) - float(metadata["loss"]))
        print(f"{name:34s} |loss - stored| {dloss:.1e}  max rel err of stored grads {worst:.1e}")
        assert dloss == 0.0 and worst < 1e-6, name
    print("self-check passed")


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--self-check", action="store_true",
                        help="recompute the stored files' losses and gradients and compare")
    args = parser.parse_args()
    torch.set_num_threads(max(1, min(2, os.cpu_count() or 1)))
    if args.self_check:
        self_check(OUT)
        return
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for name, spec in CASES.items():
        tensors, metadata = make_case(name, spec)
        path = os.path.join(OUT, f"unet_grad_{name}.safetensors")
        write_safetensors(path, tensors, metadata)
        total += os.path.getsize(path)
    print(f"wrote {len(CASES)} files, {total / 1e6:.2f} MB, to {OUT}")


if __name__ == "__main__":
    main()
