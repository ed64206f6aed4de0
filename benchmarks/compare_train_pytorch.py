#!/usr/bin/python3
"""Compare one native training iteration of the default denoiser (bench_train) with the same
iteration in PyTorch (train_step_pytorch.py), side by side in one run.

    /usr/bin/python3 benchmarks/compare_train_pytorch.py [--bench build/benchmarks/bench_train] \
        [--python /usr/bin/python3 --python .venv/bin/python] [--rounds 3] [--iters 10] \
        [--threads 2] [--write-readme benchmarks/README.md]

The iteration is the recipe of models/TRAINING.md: zero the gradients, the residual call
D(y) = y - s U((y - m_c) / s) of the fastMRI U-Net (chans 32, 4 pool layers), MSE against the
clean batch (8 patches of 3 x 96 x 96), backward, Adam step. Each side runs in a fresh process
(bench_train for xrestore, train_step_pytorch.py's child for each --python interpreter, Debian's
/usr/bin/python3 by default), --warmup untimed iterations then --iters timed ones; the sides
alternate, --rounds times, and the best median of each side is kept (the machine may be
shared). Threads: OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = MKL_NUM_THREADS = --threads, and
torch.set_num_threads. Peak memory is VmHWM of each process (a Python process with torch starts
far higher than a C++ one; "increment" is VmHWM minus VmRSS before the first iteration).

It prints a markdown table (ratio = xrestore time / PyTorch time: below 1, xrestore is faster)
with the machine, and with --write-readme puts it between <!-- train-table-begin --> and
<!-- train-table-end -->. Needs only the standard library; each --python needs torch.
"""

import argparse
import datetime
import os
import subprocess
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)

import bench_support  # noqa: E402
import train_step_pytorch  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default=os.path.join(HERE, "..", "build", "benchmarks",
                                                        "bench_train"))
    parser.add_argument("--python", action="append", default=None,
                        help="an interpreter whose torch is timed; repeat for several "
                             "(default /usr/bin/python3)")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--iters", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--write-readme", default=None)
    args = parser.parse_args()
    if args.rounds < 1 or args.iters < 1 or args.threads < 1 or args.warmup < 0:
        parser.error("--rounds, --iters and --threads must be at least 1, --warmup at least 0")
    if not os.access(args.bench, os.X_OK):
        parser.error(f"--bench {args.bench} is not an executable (build target bench_train)")
    pythons = args.python or [train_step_pytorch.DEBIAN_PYTHON]
    for p in pythons:
        if not os.access(p, os.X_OK):
            parser.error(f"--python {p} is not an executable")
    if args.write_readme and not os.access(args.write_readme, os.W_OK):
        parser.error(f"--write-readme {args.write_readme} is not a writable file")

    threads = str(args.threads)
    env = dict(os.environ, OMP_NUM_THREADS=threads, OPENBLAS_NUM_THREADS=threads,
               MKL_NUM_THREADS=threads)
    common = ["--iters", str(args.iters), "--warmup", str(args.warmup)]
    best = {}

    def keep(key, fields):
        if key not in best or float(fields["median_ms"]) < float(best[key]["median_ms"]):
            best[key] = fields

    for r in range(args.rounds):
        keep("xrestore", bench_support.run_fields([args.bench] + common, env, "train_step_native",
                                                 "compare_train_pytorch"))
        for p in pythons:
            command = [sys.executable, train_step_pytorch.__file__, "--python", p,
                       "--threads", threads] + common
            fields = bench_support.run_fields(command, env, train_step_pytorch.TAG,
                                              "compare_train_pytorch")
            keep(p, fields)
        print(f"round {r + 1}/{args.rounds}: " + ", ".join(
            f"{k}: {float(v['median_ms']):.0f} ms" for k, v in best.items()), file=sys.stderr)

    model, cores = bench_support.machine()
    native = best["xrestore"]
    lines = [
        f"Measured {datetime.date.today().isoformat()} on {model} ({cores} cores), "
        f"{args.threads} threads each, best median of {args.rounds} alternating rounds of "
        f"{args.iters} iterations (after {args.warmup} warm-up ones). One iteration: batch 8 of "
        "3 x 96 x 96, chans 32, 4 pool layers, residual call, MSE, backward, Adam.",
        "",
        "| implementation | ms per iteration | ratio (xrestore / this) | peak memory MB "
        "(increment) |",
        "|---|---|---|---|",
        f"| xrestore (native) | {float(native['median_ms']):.0f} | 1 | "
        f"{float(native['peak_rss_mb']):.0f} ({float(native['increment_mb']):.0f}) |",
    ]
    for p in pythons:
        f = best[p]
        ratio = float(native["median_ms"]) / float(f["median_ms"])
        lines.append(
            f"| PyTorch {f['torch']} ({bench_support.torch_source(p)}) | "
            f"{float(f['median_ms']):.0f} | {ratio:.2f} | "
            f"{float(f['peak_rss_mb']):.0f} ({float(f['increment_mb']):.0f}) |")
    table = "\n".join(lines)
    print(table)
    if args.write_readme:
        bench_support.write_between_markers(args.write_readme, "<!-- train-table-begin -->",
                                            "<!-- train-table-end -->", table)


if __name__ == "__main__":
    main()
