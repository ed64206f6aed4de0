#!/usr/bin/python3
"""PyTorch golden values for the convolution and normalisation layers of include/xrestore/train/.

Run with Debian's Python (torch 1.13); the `python3` on PATH has no torch:

    /usr/bin/python3 tools/dev/make_train_layer_golden.py     # rewrites the two files below

Writes (deterministic: torch.manual_seed; rerunning gives the same bytes):
  tests/data/train/conv_layers.json  Conv2d (kernel 1/3/5, stride 1/2, padding k // 2 of mode
                                     zeros/reflect, with and without bias) and ConvTranspose2d
                                     (2x2 stride 2, with and without bias)
  tests/data/train/norm_layers.json  InstanceNorm2d (no affine, affine) and BatchNorm2d
                                     (two training steps, then eval)

Each file is {"doc": ..., "cases": {name: case}}; every array is {"shape": [...], "data": [...]}
row-major float64 (Python's shortest round-trip repr, so the values are exact). Everything runs
in float64. A case holds its options, the input "x", the parameters ("weight", "bias") and the
output "y". Cases with "dy" also hold PyTorch's gradients of L = sum(dy * y): "dx", "dweight",
"dbias". The batch-norm case holds two training steps (x1 -> y1, x2 -> y2, gradients of the
second), the buffers after them (running_mean, running_var, num_batches_tracked) and an eval
forward (x3 -> y3, with gradients dy3 -> dx3, dweight3, dbias3).
"""

import json
import os

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "train")


def arr(t):
    t = t.detach().to(torch.float64).contiguous()
    return {"shape": list(t.shape), "data": [float(v) for v in t.reshape(-1).tolist()]}


def with_gradients(case, module, x, dy, suffix=""):
    """Forward `x` through `module`, store y and the gradients of sum(dy * y)."""
    x = x.clone().requires_grad_(True)
    module.zero_grad()
    y = module(x)
    (dy * y).sum().backward()
    case["x" + suffix] = arr(x)
    case["y" + suffix] = arr(y)
    case["dy" + suffix] = arr(dy)
    case["dx" + suffix] = arr(x.grad)
    if getattr(module, "weight", None) is not None:
        case["dweight" + suffix] = arr(module.weight.grad)
    if getattr(module, "bias", None) is not None:
        case["dbias" + suffix] = arr(module.bias.grad)


def conv_cases():
    torch.manual_seed(1)
    x = torch.randn(2, 3, 5, 7, dtype=torch.float64)
    cases = {}
    # name: kernel, stride, padding mode, bias, gradients
    plan = [
        ("conv2d_k3_s1_zeros_bias", 3, 1, "zeros", True, False),
        ("conv2d_k3_s1_zeros_nobias", 3, 1, "zeros", False, False),
        ("conv2d_k3_s1_reflect_bias", 3, 1, "reflect", True, False),
        ("conv2d_k3_s2_reflect_bias", 3, 2, "reflect", True, True),
        ("conv2d_k3_s2_zeros_nobias", 3, 2, "zeros", False, False),
        ("conv2d_k1_s1_zeros_bias", 1, 1, "zeros", True, False),
        ("conv2d_k5_s2_zeros_bias", 5, 2, "zeros", True, False),
        ("conv2d_k5_s1_reflect_nobias", 5, 1, "reflect", False, False),
    ]
    for name, k, s, mode, bias, grads in plan:
        conv = torch.nn.Conv2d(3, 2, k, stride=s, padding=k // 2, padding_mode=mode, bias=bias)
        conv = conv.double()
        case = {"kernel_size": k, "stride": s, "padding_mode": mode, "bias_on": bias,
                "weight": arr(conv.weight)}
        if bias:
            case["bias"] = arr(conv.bias)
        if grads:
            dy = torch.randn(conv(x).shape, dtype=torch.float64)
            with_gradients(case, conv, x, dy)
        else:
            case["x"] = arr(x)
            case["y"] = arr(conv(x))
        cases[name] = case
    for name, bias, grads in [("conv_transpose2d_bias", True, True),
                              ("conv_transpose2d_nobias", False, False)]:
        up = torch.nn.ConvTranspose2d(3, 2, 2, stride=2, bias=bias).double()
        case = {"bias_on": bias, "weight": arr(up.weight)}
        if bias:
            case["bias"] = arr(up.bias)
        if grads:
            dy = torch.randn(up(x).shape, dtype=torch.float64)
            with_gradients(case, up, x, dy)
        else:
            case["x"] = arr(x)
            case["y"] = arr(up(x))
        cases[name] = case
    return cases


def norm_cases():
    torch.manual_seed(2)
    shift = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64).reshape(1, 3, 1, 1)
    scale = torch.tensor([1.0, 3.0, 0.5], dtype=torch.float64).reshape(1, 3, 1, 1)

    def sample():
        return torch.randn(2, 3, 5, 7, dtype=torch.float64) * scale + shift

    cases = {}
    x = sample()
    plain = torch.nn.InstanceNorm2d(3).double()
    cases["instance_norm_plain"] = {"eps": plain.eps, "affine": False, "x": arr(x),
                                    "y": arr(plain(x))}
    affine = torch.nn.InstanceNorm2d(3, eps=1e-3, affine=True).double()
    with torch.no_grad():
        affine.weight.copy_(torch.randn(3))
        affine.bias.copy_(torch.randn(3))
    case = {"eps": affine.eps, "affine": True, "weight": arr(affine.weight),
            "bias": arr(affine.bias)}
    with_gradients(case, affine, x, torch.randn(x.shape, dtype=torch.float64))
    cases["instance_norm_affine"] = case

    bn = torch.nn.BatchNorm2d(3).double()
    with torch.no_grad():
        bn.weight.copy_(torch.randn(3))
        bn.bias.copy_(torch.randn(3))
    case = {"eps": bn.eps, "momentum": bn.momentum, "affine": True, "weight": arr(bn.weight),
            "bias": arr(bn.bias)}
    bn.train()
    x1 = sample()
    case["x1"] = arr(x1)
    case["y1"] = arr(bn(x1))
    x2 = sample()
    with_gradients(case, bn, x2, torch.randn(x2.shape, dtype=torch.float64), "2")
    case["running_mean"] = arr(bn.running_mean)
    case["running_var"] = arr(bn.running_var)
    case["num_batches_tracked"] = int(bn.num_batches_tracked)
    bn.eval()
    x3 = sample()
    with_gradients(case, bn, x3, torch.randn(x3.shape, dtype=torch.float64), "3")
    cases["batch_norm_affine"] = case
    return cases


def write(name, doc, cases):
    os.makedirs(OUT, exist_ok=True)
    with open(os.path.join(OUT, name), "w") as f:
        json.dump({"doc": doc, "cases": cases}, f, separators=(",", ":"))
        f.write("\n")


def main():
    doc = ("PyTorch 1.13 float64 golden values, made by tools/dev/make_train_layer_golden.py; "
           "see its docstring for the layout.")
    write("conv_layers.json", doc, conv_cases())
    write("norm_layers.json", doc, norm_cases())


if __name__ == "__main__":
    main()
