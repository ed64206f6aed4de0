#!/usr/bin/python3
"""Deep Image Prior natively and in PyTorch, side by side on one whole run: the PSNR curves.

    /usr/bin/python3 tools/dev/dip_twin_curves.py --out DIR [--task inpaint50|denoise]
        [--size 128] [--iters 2000] [--every 100] [--seed 0] [--xrestore build/bin/xrestore]

The task is one of `xrestore dip`'s on the centre crop of the bundled butterfly: inpaint50 (half
of the pixels missing under a mask shared by the channels, drawn from the counter generator both
sides share) or denoise (Gaussian noise of sigma 25/255; the twin reads the noisy image the
native run drew from its <task>_measurement.npy), with 5 % of the measurements held out as in
the CLI's default. The PyTorch twin
(tools/dev/dip_torch.py: SkipNet and dip_run) starts from torch's initialisation with --seed;
those weights are written to DIR/initial.safetensors and given to `xrestore dip
--init-weights`, so both runs start equal and see the same z, input noise and masks. Both
record the PSNR of the output and of the running average (clipped to [0, 1]) every --every
iterations. Prints the two curves and their largest difference, and writes DIR/curves.json.
Needs Debian's torch and numpy (and PIL for the photo).
"""

import argparse
import json
import math
import os
import subprocess
import sys
import time

import numpy as np
import torch

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(os.path.dirname(HERE))
sys.path.insert(0, HERE)
import dip_torch  # noqa: E402
from make_dip_golden import photo_crop  # noqa: E402
from make_unet_grad_golden import write_safetensors  # noqa: E402


def psnr(truth, x):
    mse = float(((x.clamp(0, 1).double() - truth.double()) ** 2).mean())
    return 10 * math.log10(1 / mse)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", required=True)
    parser.add_argument("--task", choices=["inpaint50", "denoise"], default="inpaint50")
    parser.add_argument("--size", type=int, default=128)
    parser.add_argument("--iters", type=int, default=2000)
    parser.add_argument("--every", type=int, default=100)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--xrestore", default=os.path.join(ROOT, "build", "bin", "xrestore"))
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)
    torch.set_num_threads(args.threads)
    n = args.size
    truth = photo_crop(n)
    torch.manual_seed(args.seed)
    net = dip_torch.SkipNet(32, 3).float().train()
    initial = os.path.join(args.out, "initial.safetensors")
    write_safetensors(initial, [(k, v.detach().numpy()) for k, v in net.named_parameters()],
                      {"what": "initial weights of tools/dev/dip_twin_curves.py"})

    env = dict(os.environ, OMP_NUM_THREADS=str(args.threads))
    start = time.time()
    native_dir = os.path.join(args.out, "native")
    subprocess.run([args.xrestore, "dip", "--tasks", args.task, "--size", str(n), "--iters",
                    str(args.iters), "--eval-every", str(args.every), "--seed", str(args.seed),
                    "--init-weights", initial, "--pnp-iters", "1", "--tv-iters", "1",
                    "--out", native_dir], check=True, env=env)
    native_seconds = time.time() - start
    y = torch.from_numpy(np.load(os.path.join(native_dir, f"{args.task}_measurement.npy")))
    if args.task == "inpaint50":
        u = dip_torch.counter_uniform(args.seed + 2, 7, n * n)
        keep = torch.from_numpy((u >= 0.5).astype(np.float32).reshape(1, n, n)).expand(3, n, n)
        if not torch.equal(keep * truth, y):
            sys.exit("dip_twin_curves: the native measurement is not the mask the twin draws")

        def forward(f):
            return keep * f[0]
    else:
        def forward(f):
            return f[0]
    native = {}
    with open(os.path.join(native_dir, "curves.csv"), encoding="utf-8") as f:
        next(f)
        for line in f:
            cells = line.strip().split(",")
            native[int(float(cells[1]))] = (float(cells[2]), float(cells[3]))

    twin = {}

    def monitor(it, x, x_avg):
        if it % args.every == 0:
            twin[it] = (psnr(truth, x), psnr(truth, x_avg))

    start = time.time()
    dip_torch.dip_run(net, forward, (n, n), y, args.iters, holdout=0.05,
                      seed=args.seed, monitor=monitor)
    twin_seconds = time.time() - start
    rows = []
    worst = worst_avg = 0.0
    for it in sorted(twin):
        a, b = native[it], twin[it]
        worst = max(worst, abs(a[0] - b[0]))
        worst_avg = max(worst_avg, abs(a[1] - b[1]))
        rows.append({"iteration": it, "native": a[0], "twin": b[0], "native_average": a[1],
                     "twin_average": b[1]})
        print(f"{it:6d}  output {a[0]:6.2f} / {b[0]:6.2f} dB   average {a[1]:6.2f} / "
              f"{b[1]:6.2f} dB")
    summary = {"task": args.task, "size": n, "iterations": args.iters, "seed": args.seed, "rows": rows,
               "max_abs_difference_output_db": worst, "max_abs_difference_average_db": worst_avg,
               "native_seconds": native_seconds, "twin_seconds": twin_seconds,
               "torch": torch.__version__}
    with open(os.path.join(args.out, "curves.json"), "w", encoding="utf-8") as f:
        json.dump(summary, f, indent=1)
    print(f"largest difference: output {worst:.2f} dB, average {worst_avg:.2f} dB; native "
          f"{native_seconds:.0f} s (with the PnP/TV stubs), PyTorch {twin_seconds:.0f} s")


if __name__ == "__main__":
    main()
