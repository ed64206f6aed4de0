#!/usr/bin/python3
"""PyTorch autograd references for the native Deep Image Prior network (train/skip_net.hpp):
output and loss gradients of the skip encoder-decoder.

Run with Debian's Python (torch 1.13, numpy); the `python3` on PATH has no torch:

    /usr/bin/python3 tools/dev/make_dip_golden.py               # regenerate the files
    /usr/bin/python3 tools/dev/make_dip_golden.py --self-check  # re-check the stored files

Writes tests/data/train/dip_skip_<case>.safetensors, one per case of CASES (deterministic:
weights, inputs and targets are seeded). Each file holds, all float32:
  weight.<name>   every parameter of tools/dev/dip_torch.py's SkipNet (the native names)
  grad.<name>     d loss / d weight.<name>, same shape
  input           N x in_chans x H x W: the network's input z
  output          N x out_chans x H x W: f(z)
  target          N x out_chans x H x W: t
  grad.input      d loss / d input
and string metadata: "loss" (float64, 17 digits), the configuration ("in_chans", "out_chans",
"down", "up", "skip" as comma lists, "upsampling", "sigmoid"), seeds, "torch_version" and
"torch_f32_max_rel_err" (the largest ||g_f32 - g_ref|| / ||g_ref|| of torch's own float32
gradients: what a float32 backward can reach), "zero_gradients" (the biases whose exact gradient
is 0 because a batch norm follows: their references are rounding noise) and
"torch_f32_zero_gradient_ratio" (torch's float32 norm of those, over the largest gradient norm). The loss is L = mean((f(z) - t)^2); batch norm in
training mode (batch statistics), as Deep Image Prior runs it.

Also writes tests/data/train/dip_run_<name>.safetensors for each of RUNS: a short run of the whole
Deep Image Prior loop by the twin (dip_torch.dip_run: counter-generated z, input noise and
held-out mask, Adam, rollback, averaging) on a photo crop with an inpainting mask, from stored
initial weights: weight.<name> (initial), truth, mask, y, the last output x and the average
x_avg, and per iteration loss, fit_psnr, heldout, rolled_back (float32); metadata holds the
settings and the losses in full precision ("loss_series").

The references are float64 autograd on the float32 data (weights perturbed from PyTorch's
initialisation so batch-norm affine parameters are not all 1 and 0), rounded to float32; each
case's float64 gradient is checked against a central difference along a random direction first.
"""

import argparse
import copy
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from dip_torch import SkipNet, dip_run  # noqa: E402
from make_unet_grad_golden import read_safetensors, rel_err, unit, write_safetensors  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
OUT = os.path.join(ROOT, "tests", "data", "train")

# name: (in, out, down, up, skip, upsampling, sigmoid, input shape, weight seed, data seed)
CASES = {
    "s3_bilinear_4to3_1x4x16x24": (4, 3, (4, 6, 8), (5, 6, 8), (2, 0, 3), "bilinear", True,
                                   (1, 4, 16, 24), 301, 311),
    "s2_nearest_3to1_2x3x8x12_linear": (3, 1, (3, 5), (4, 5), (1, 2), "nearest", False,
                                        (2, 3, 8, 12), 302, 312),
}


def make_net(spec):
    cin, cout, down, up, skip, ups, sig, _, wseed, _ = spec
    torch.manual_seed(wseed)
    net = SkipNet(cin, cout, down, up, skip, ups, sig)
    g = torch.Generator().manual_seed(wseed + 7)
    with torch.no_grad():
        for name, p in net.named_parameters():
            if ".bn" in name:  # batch norm affine: away from 1 and 0
                p.add_(0.3 * torch.randn(p.shape, generator=g))
    return net.float().train()


def make_data(spec):
    cin, cout, _, _, _, _, _, shape, _, dseed = spec
    g = torch.Generator().manual_seed(dseed)
    z = torch.rand(shape, generator=g, dtype=torch.float32)
    t = torch.rand((shape[0], cout) + tuple(shape[2:]), generator=g, dtype=torch.float32)
    return z, t


def loss_and_grads(net, z, t, dtype):
    m = copy.deepcopy(net).to(dtype).train()
    zi = z.to(dtype).clone().requires_grad_(True)
    out = m(zi)
    loss = ((out - t.to(dtype)) ** 2).mean()
    names = [n for n, _ in m.named_parameters()]
    grads = torch.autograd.grad(loss, [p for _, p in m.named_parameters()] + [zi])
    return loss.detach(), out.detach(), dict(zip(names, grads[:-1])), grads[-1]


def loss_at(net, z, t, direction, h):
    m = copy.deepcopy(net).double().train()
    with torch.no_grad():
        for n, p in m.named_parameters():
            p.add_(h * direction[n])
        out = m(z.double() + h * direction["input"])
        return float(((out - t.double()) ** 2).mean())


def check_directional(net, z, t, grads, grad_input, seed):
    g = torch.Generator().manual_seed(seed)
    direction = {n: torch.randn(p.shape, generator=g, dtype=torch.float64)
                 for n, p in net.named_parameters()}
    direction["input"] = torch.randn(z.shape, generator=g, dtype=torch.float64)
    direction = unit(direction)
    gradient = unit(dict(grads, input=grad_input))
    direction = unit({n: direction[n] + gradient[n] for n in direction})
    analytic = sum(float((grads[n] * direction[n]).sum()) for n in grads)
    analytic += float((grad_input * direction["input"]).sum())
    # small: along this direction one LeakyReLU input of the first case crosses its kink
    # between h = 1e-7 and 1e-6 (a 1 % error at 1e-6, 1e-9 at 1e-7)
    h = 1e-7
    numeric = (loss_at(net, z, t, direction, h) - loss_at(net, z, t, direction, -h)) / (2 * h)
    return abs(numeric - analytic) / max(abs(analytic), 1e-30)


def make_case(name, spec):
    net = make_net(spec)
    z, t = make_data(spec)
    loss, out, grads, grad_input = loss_and_grads(net, z, t, torch.float64)
    _, _, grads32, grad_input32 = loss_and_grads(net, z, t, torch.float32)
    # conv biases right before a batch norm (and bn_in's bias, followed by a conv and a batch
    # norm) have an exactly zero gradient: the norm removes any constant per channel. Their
    # float64 references are rounding noise (~1e-17), so they are listed and compared against
    # the scale of the other gradients instead of relatively.
    scale = max(float(g.norm()) for g in grads.values())
    vanishing = [n for n in grads if float(grads[n].norm()) < 1e-12 * scale]
    f32_err = max([rel_err(grads32[n], grads[n]) for n in grads if n not in vanishing]
                  + [rel_err(grad_input32, grad_input)])
    f32_zero = max([float(grads32[n].double().norm()) / scale for n in vanishing] + [0.0])
    rel = check_directional(net, z, t, grads, grad_input, spec[-1])
    print(f"{name:34s} loss {float(loss):.6e}  params {sum(g.numel() for g in grads.values()):6d}"
          f"  torch f32 max rel err {f32_err:.1e} ({len(vanishing)} zero gradients, f32 at"
          f" {f32_zero:.1e} of the largest)  central diff rel err {rel:.1e}")
    assert rel < 1e-5, f"{name}: autograd and central difference disagree ({rel:.2e})"
    assert all(".bias" in n for n in vanishing), f"{name}: an unexpected zero gradient"
    params = dict(net.named_parameters())
    tensors = [("weight." + n, params[n].detach().numpy()) for n in params]
    tensors += [("grad." + n, grads[n].float().numpy()) for n in params]
    tensors += [("input", z.numpy()), ("output", out.float().numpy()), ("target", t.numpy()),
                ("grad.input", grad_input.float().numpy())]
    cin, cout, down, up, skip, ups, sig, _, wseed, dseed = spec
    metadata = {
        "loss": repr(float(loss)), "loss_kind": "mse", "in_chans": str(cin),
        "out_chans": str(cout), "down": ",".join(map(str, down)), "up": ",".join(map(str, up)),
        "skip": ",".join(map(str, skip)), "upsampling": ups, "sigmoid": str(int(sig)),
        "weight_seed": str(wseed), "data_seed": str(dseed), "torch_version": torch.__version__,
        "torch_f32_max_rel_err": f"{f32_err:.3e}",
        "zero_gradients": ",".join(vanishing),
        "torch_f32_zero_gradient_ratio": f"{f32_zero:.3e}",
        "reference": "float64 torch autograd of the float32 weights, input and target; "
                     "stored as float32",
        "mode": "training (batch norm with batch statistics)",
    }
    return tensors, metadata


def self_check(folder):
    for name, spec in CASES.items():
        tensors, metadata = read_safetensors(os.path.join(folder, f"dip_skip_{name}.safetensors"))
        net = make_net(spec)
        sd = {n[len("weight."):]: torch.from_numpy(v.copy())
              for n, v in tensors.items() if n.startswith("weight.")}
        missing, unexpected = net.load_state_dict(sd, strict=False)
        assert not unexpected and all("running" in m or "num_batches" in m for m in missing)
        z, t = torch.from_numpy(tensors["input"].copy()), torch.from_numpy(tensors["target"].copy())
        loss, _, grads, grad_input = loss_and_grads(net, z, t, torch.float64)
        worst = max([rel_err(torch.from_numpy(tensors["grad." + n].copy()), g)
                     for n, g in grads.items()]
                    + [rel_err(torch.from_numpy(tensors["grad.input"].copy()), grad_input)])
        dloss = abs(float(loss) - float(metadata["loss"]))
        print(f"{name:34s} |loss - stored| {dloss:.1e}  max rel err of stored grads {worst:.1e}")
        assert dloss == 0.0 and worst < 1e-6, name
    print("self-check passed")


# ---- a short run of the whole loop (tools/dev/dip_torch.py's dip_run) -----------------------------

# name: (in, down, up, skip, crop side, iterations, holdout, missing fraction, weight seed, seed)
RUNS = {
    "inpaint_s2_32x32": (4, (8, 8), (8, 8), (2, 2), 32, 40, 0.1, 0.5, 401, 5),
}


def photo_crop(side):
    """The centre side x side crop of data/images/butterfly_set5.png in [0, 1], 3 x side x side."""
    from PIL import Image
    import numpy as np
    img = np.asarray(Image.open(os.path.join(ROOT, "data", "images", "butterfly_set5.png"))
                     .convert("RGB"), dtype=np.float32) / 255.0
    h, w, _ = img.shape
    top, left = (h - side) // 2, (w - side) // 2
    return torch.from_numpy(img[top:top + side, left:left + side].transpose(2, 0, 1).copy())


def make_run(name, spec):
    cin, down, up, skip, side, iters, holdout, missing, wseed, seed = spec
    torch.manual_seed(wseed)
    net = SkipNet(cin, 3, down, up, skip).float().train()
    initial = {n: p.detach().clone() for n, p in net.named_parameters()}
    truth = photo_crop(side)
    g = torch.Generator().manual_seed(seed + 1000)
    mask = (torch.rand(truth.shape, generator=g) >= missing).float()
    y = mask * truth
    records, x, x_avg = dip_run(net, lambda f: mask * f[0], (side, side), y, iters,
                                holdout=holdout, seed=seed)
    rolled = sum(r["rolled_back"] for r in records)
    print(f"{name:34s} loss {records[0]['loss']:.4e} -> {records[-1]['loss']:.4e}, fit PSNR "
          f"{records[-1]['fit_psnr']:.2f} dB, held-out {records[-1]['heldout']:.4e}, "
          f"{rolled} rollbacks")
    series = lambda key: torch.tensor([float(r[key]) for r in records], dtype=torch.float64)
    tensors = [("weight." + n, initial[n].numpy()) for n in initial]
    tensors += [("truth", truth.numpy()), ("mask", mask.numpy()), ("y", y.numpy()),
                ("x", x.numpy()), ("x_avg", x_avg.numpy())]
    tensors += [(k, series(k).float().numpy()) for k in ("loss", "fit_psnr", "heldout")]
    tensors += [("rolled_back", series("rolled_back").float().numpy())]
    metadata = {
        "in_chans": str(cin), "out_chans": "3", "down": ",".join(map(str, down)),
        "up": ",".join(map(str, up)), "skip": ",".join(map(str, skip)),
        "upsampling": "bilinear", "sigmoid": "1", "iterations": str(iters),
        "holdout": repr(holdout), "lr": "0.01", "input_scale": "0.1",
        "input_noise": repr(1.0 / 30), "average": "0.99", "rollback_db": "5.0",
        "seed": str(seed), "weight_seed": str(wseed), "missing": repr(missing),
        "loss_series": " ".join(repr(float(r["loss"])) for r in records),
        "operator": "inpainting with the stored mask (A f = mask * f)",
        "torch_version": torch.__version__,
    }
    return tensors, metadata


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--self-check", action="store_true",
                        help="recompute the stored files' losses and gradients and compare")
    args = parser.parse_args()
    torch.set_num_threads(1)
    if args.self_check:
        self_check(OUT)
        return
    os.makedirs(OUT, exist_ok=True)
    total = 0
    for name, spec in CASES.items():
        tensors, metadata = make_case(name, spec)
        path = os.path.join(OUT, f"dip_skip_{name}.safetensors")
        write_safetensors(path, tensors, metadata)
        total += os.path.getsize(path)
    for name, spec in RUNS.items():
        tensors, metadata = make_run(name, spec)
        path = os.path.join(OUT, f"dip_run_{name}.safetensors")
        write_safetensors(path, tensors, metadata)
        total += os.path.getsize(path)
    print(f"wrote {len(CASES) + len(RUNS)} files, {total / 1e3:.1f} kB, to {OUT}")


if __name__ == "__main__":
    main()
