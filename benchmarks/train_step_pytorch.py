#!/usr/bin/python3
"""Time one PyTorch CPU training iteration of the fastMRI U-Net denoiser (the reference side of
the native training benchmark).

    /usr/bin/python3 benchmarks/train_step_pytorch.py [--iters 20] [--warmup 3] [--threads 2]
    /usr/bin/python3 benchmarks/train_step_pytorch.py --python .venv/bin/python   # another torch

One iteration is what the training recipe of models/TRAINING.md does per batch, on data made
beforehand (not timed): zero the gradients, the residual call D(y) = y - s * U((y - m_c) / s)
(tools/dev/unet_torch.py's Unet and call), loss = MSE(D(y), clean), backward, Adam step. The
defaults are the shipped recipe: batch 8 of 3 x 96 x 96 patches, chans 32, 4 pool layers,
Adam(lr 1e-3), torch.set_num_threads(2) (and OMP_NUM_THREADS = MKL_NUM_THREADS = 2).

The measurement runs in a fresh child process of the interpreter given by --python (default
/usr/bin/python3, Debian's torch, when it exists; else this interpreter), so any torch
installation can be timed and the peak memory is that of the training alone. This script itself
needs only the standard library. The child runs --warmup iterations, then --iters timed ones
(time.perf_counter around each), and reads /proc/self/status. It prints, and this script
relays, one line (parse it with parse_result):

    train_step_pytorch median_ms=... min_ms=... mean_ms=... peak_rss_mb=... rss_before_mb=...
        increment_mb=... iters=N warmup=W batch=8 channels=3 patch=96 chans=32 pools=4
        call=residual threads=2 loss_first=... loss_last=... torch=<version> python=<path>

(one line, space-separated key=value): median_ms is the median time of one iteration;
peak_rss_mb is VmHWM, the peak resident memory of the whole child process (Python and torch
included); rss_before_mb is VmRSS once the model, optimiser and batch exist, before the first
iteration; increment_mb = peak_rss_mb - rss_before_mb.
"""

import argparse
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TAG = "train_step_pytorch"
DEBIAN_PYTHON = "/usr/bin/python3"


def parse_result(text):
    """The key=value fields of the result line in `text`, as a dict of strings (None if absent)."""
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == TAG:
            return dict(word.split("=", 1) for word in words[1:])
    return None


def status_mb(field):
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def child(args):
    """The measurement, in the child process: needs torch."""
    import statistics
    import time

    import torch
    sys.path.insert(0, os.path.join(ROOT, "tools", "dev"))
    from unet_torch import Unet, call

    torch.set_num_threads(args.threads)
    torch.manual_seed(args.seed)
    model = Unet(args.channels, args.channels, args.chans, args.pools).train()
    optimiser = torch.optim.Adam(model.parameters(), lr=args.lr)

    # one fixed batch: smooth-ish clean patches in [0, 1] and per-patch noise levels in [0, 0.2]
    g = torch.Generator().manual_seed(args.seed + 1)
    shape = (args.batch, args.channels, args.patch, args.patch)
    clean = torch.nn.functional.avg_pool2d(torch.rand(shape, generator=g), 3, 1, 1)
    sigma = 0.2 * torch.rand(args.batch, 1, 1, 1, generator=g)
    noisy = clean + sigma * torch.randn(shape, generator=g)

    def step():
        optimiser.zero_grad(set_to_none=True)
        loss = torch.nn.functional.mse_loss(call(model, noisy, args.call), clean)
        loss.backward()
        optimiser.step()
        return float(loss)

    rss_before = status_mb("VmRSS")
    losses = [step() for _ in range(args.warmup)]
    times = []
    for _ in range(args.iters):
        start = time.perf_counter()
        losses.append(step())
        times.append((time.perf_counter() - start) * 1e3)
    peak = status_mb("VmHWM")
    fields = {
        "median_ms": f"{statistics.median(times):.3f}", "min_ms": f"{min(times):.3f}",
        "mean_ms": f"{statistics.fmean(times):.3f}", "peak_rss_mb": f"{peak:.1f}",
        "rss_before_mb": f"{rss_before:.1f}", "increment_mb": f"{peak - rss_before:.1f}",
        "iters": args.iters, "warmup": args.warmup, "batch": args.batch,
        "channels": args.channels, "patch": args.patch, "chans": args.chans, "pools": args.pools,
        "call": args.call, "threads": torch.get_num_threads(),
        "loss_first": f"{losses[0]:.6g}", "loss_last": f"{losses[-1]:.6g}",
        "torch": torch.__version__, "python": sys.executable,
    }
    print(TAG + " " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--python", default=None,
                        help="interpreter whose torch is timed (default /usr/bin/python3 if it "
                             "exists, else this one)")
    parser.add_argument("--iters", type=int, default=20, help="timed iterations (default 20)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed iterations first (3)")
    parser.add_argument("--threads", type=int, default=2, help="torch CPU threads (2)")
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--channels", type=int, default=3, help="image channels, in = out (3)")
    parser.add_argument("--patch", type=int, default=96)
    parser.add_argument("--chans", type=int, default=32)
    parser.add_argument("--pools", type=int, default=4)
    parser.add_argument("--call", choices=("raw", "normalised", "residual"), default="residual")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.iters < 1 or args.warmup < 0 or args.threads < 1:
        parser.error("--iters and --threads must be at least 1, --warmup at least 0")
    if args.patch % (1 << args.pools) != 0:
        parser.error(f"--patch must be divisible by 2^pools = {1 << args.pools}")
    if args.child:
        child(args)
        return

    python = args.python or (DEBIAN_PYTHON if os.path.exists(DEBIAN_PYTHON) else sys.executable)
    command = [python, os.path.abspath(__file__), "--child"]
    for key in ("iters", "warmup", "threads", "batch", "channels", "patch", "chans", "pools",
                "call", "lr", "seed"):
        command += [f"--{key}", str(getattr(args, key))]
    threads = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, MKL_NUM_THREADS=threads,
               OPENBLAS_NUM_THREADS=threads)
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0 or parse_result(result.stdout) is None:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stdout}"
                 f"{result.stderr}")
    sys.stderr.write(result.stderr)
    print(next(line for line in result.stdout.splitlines() if line.startswith(TAG + " ")))


if __name__ == "__main__":
    main()
