#!/usr/bin/python3
"""Compare Deep Image Prior iterations natively (bench_dip) with the same loop in PyTorch (the
twin tools/dev/dip_torch.py's dip_run), side by side in one run.

    /usr/bin/python3 benchmarks/compare_dip_pytorch.py [--bench build/benchmarks/bench_dip] \
        [--python /usr/bin/python3 --python .venv/bin/python] [--rounds 3] [--iters 10] \
        [--size 256] [--wide] [--threads 2] [--write-readme benchmarks/README.md]

One iteration is the study's denoising iteration: z + noise/30, the skip network forward
(input depth 32, 16/32/64/128/128 channels, skip 4; --wide: 128 everywhere), the MSE against
the noisy 3 x size x size image (A = identity), backward, Adam (lr 0.01), the running average
and the rollback bookkeeping. Each side runs in a fresh process: --warmup iterations untimed,
then --iters iterations timed as a whole (mean per iteration); the sides alternate, --rounds
times, and the best of each side is kept. Threads: OMP_NUM_THREADS = OPENBLAS_NUM_THREADS =
MKL_NUM_THREADS = --threads, and torch.set_num_threads. Peak memory is VmHWM of each process.

It prints a markdown table (ratio = xrestore time / PyTorch time: below 1, xrestore is faster)
and with --write-readme puts it between <!-- dip-table-begin --> and <!-- dip-table-end -->
(with --wide: <!-- dip-wide-table-begin --> and <!-- dip-wide-table-end -->).
"""

import argparse
import datetime
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)

import bench_support  # noqa: E402

TAG = "dip_pytorch"
DEBIAN_PYTHON = bench_support.DEBIAN_PYTHON


def status_mb(field):
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def child(args):
    """The PyTorch side, in a fresh interpreter that has torch."""
    import math
    import time

    import numpy as np
    import torch
    sys.path.insert(0, os.path.join(ROOT, "tools", "dev"))
    import dip_torch

    torch.set_num_threads(args.threads)
    s = args.size
    c = np.arange(3).reshape(3, 1, 1)
    r = np.arange(s).reshape(1, s, 1)
    q = np.arange(s).reshape(1, 1, s)
    clean = 0.5 + 0.3 * np.sin(0.05 * r * (c + 1)) * np.cos(0.07 * q)
    noise = dip_torch.counter_normal(args.seed + 77, 5, 3 * s * s).reshape(3, s, s)
    y = torch.from_numpy((clean + 25.0 / 255.0 * noise).astype(np.float32))
    wide = dict(down=(128,) * 5, up=(128,) * 5) if args.wide else {}
    torch.manual_seed(args.seed)
    net = dip_torch.SkipNet(32, 3, **wide).float().train()
    rss_before = status_mb("VmRSS")
    first, _, _ = dip_torch.dip_run(net, lambda f: f[0], (s, s), y, args.warmup, seed=args.seed)
    start = time.perf_counter()
    timed, _, _ = dip_torch.dip_run(net, lambda f: f[0], (s, s), y, args.iters, seed=args.seed)
    ms = (time.perf_counter() - start) * 1e3 / args.iters
    peak = status_mb("VmHWM")
    fields = {"mean_ms": f"{ms:.3f}", "peak_rss_mb": f"{peak:.1f}",
              "rss_before_mb": f"{rss_before:.1f}", "increment_mb": f"{peak - rss_before:.1f}",
              "iters": args.iters, "warmup": args.warmup, "size": s, "wide": int(args.wide),
              "threads": torch.get_num_threads(), "loss_first": f"{first[0]['loss']:.6g}",
              "loss_last": f"{timed[-1]['loss']:.6g}", "torch": torch.__version__,
              "python": sys.executable}
    assert math.isfinite(ms)
    print(TAG + " " + " ".join(f"{k}={v}" for k, v in fields.items()), flush=True)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default=os.path.join(ROOT, "build", "benchmarks", "bench_dip"))
    parser.add_argument("--python", action="append", default=None,
                        help="an interpreter whose torch is timed; repeat for several "
                             "(default /usr/bin/python3)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--size", type=int, default=256)
    parser.add_argument("--wide", action="store_true")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write-readme", default=None)
    parser.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.rounds < 1 or args.iters < 1 or args.threads < 1 or args.warmup < 1:
        parser.error("--rounds, --iters, --warmup and --threads must be at least 1")
    if args.size < 32 or args.size % 32 != 0:
        parser.error("--size must be a positive multiple of 32 (5 halvings)")
    if args.child:
        child(args)
        return
    if not os.access(args.bench, os.X_OK):
        parser.error(f"--bench {args.bench} is not an executable (build target bench_dip)")
    pythons = args.python or [DEBIAN_PYTHON]
    for p in pythons:
        if not os.access(p, os.X_OK):
            parser.error(f"--python {p} is not an executable")
    if args.write_readme and not os.access(args.write_readme, os.W_OK):
        parser.error(f"--write-readme {args.write_readme} is not a writable file")

    threads = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads)
    common = ["--iters", str(args.iters), "--warmup", str(args.warmup), "--size", str(args.size),
              "--seed", str(args.seed)]
    best = {}

    def keep(key, fields):
        if key not in best or float(fields["mean_ms"]) < float(best[key]["mean_ms"]):
            best[key] = fields

    for r in range(args.rounds):
        keep("xrestore", bench_support.run_fields(
            [args.bench] + common + ["--wide", str(int(args.wide))], env, "dip_native",
            "compare_dip_pytorch"))
        for p in pythons:
            command = [p, os.path.abspath(__file__), "--child", "--threads", threads] + common
            command += ["--wide"] if args.wide else []
            keep(p, bench_support.run_fields(command, env, TAG, "compare_dip_pytorch"))
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{k}: {float(v['mean_ms']):.0f} ms" for k, v in best.items()), file=sys.stderr)

    model, cores = bench_support.machine()
    native = best["xrestore"]
    variant = "128 channels at every scale" if args.wide else "16/32/64/128/128 channels"
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {model} ({cores} cores), "
        f"{args.threads} threads each, best of {args.rounds} alternating rounds of "
        f"{args.iters} iterations (after {args.warmup} warm-up ones). One iteration: Deep Image "
        f"Prior denoising of a 3 x {args.size} x {args.size} image, skip network ({variant}, "
        "input depth 32, skip 4), forward, MSE, backward, Adam, running average.",
        "",
        "| implementation | ms per iteration | iterations per second | ratio (xrestore / this) "
        "| peak memory MB (increment) |",
        "|---|---|---|---|---|",
        f"| xrestore (native) | {float(native['mean_ms']):.0f} | "
        f"{1e3 / float(native['mean_ms']):.2f} | 1 | {float(native['peak_rss_mb']):.0f} "
        f"({float(native['increment_mb']):.0f}) |",
    ]
    for p in pythons:
        f = best[p]
        ratio = float(native["mean_ms"]) / float(f["mean_ms"])
        lines.append(
            f"| PyTorch {f['torch']} ({bench_support.torch_source(p)}) | "
            f"{float(f['mean_ms']):.0f} | "
            f"{1e3 / float(f['mean_ms']):.2f} | {ratio:.2f} | {float(f['peak_rss_mb']):.0f} "
            f"({float(f['increment_mb']):.0f}) |")
    table = "\n".join(lines)
    print(table)
    if args.write_readme:
        name = "dip-wide-table" if args.wide else "dip-table"
        bench_support.write_between_markers(args.write_readme, f"<!-- {name}-begin -->",
                                            f"<!-- {name}-end -->", table)


if __name__ == "__main__":
    main()
