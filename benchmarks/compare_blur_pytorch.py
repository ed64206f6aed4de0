#!/usr/bin/python3
"""Compare xrestore's blur (bench_blur) with PyTorch CPU conv2d on the same cases, in one run.

    /usr/bin/python3 benchmarks/compare_blur_pytorch.py build/benchmarks/bench_blur \
        [--threads 2] [--rounds 2] [--write-readme benchmarks/README.md]

For every kernel (box 7, 13, 17; motion 15 at 0.785 rad; Gaussian sigma 2, size 13) and RGB
N x N image (N = 256, 512, 1024) it times
  - xrestore: bench_blur's blur_apply/<kernel>/<N> and blur_adjoint/<kernel>/<N> (Google
    Benchmark, real time, median of repetitions), OMP_NUM_THREADS = threads;
  - PyTorch: the reference study's conv2d_block, nn.Conv2d(3, 3, p, groups=3, bias=False,
    padding=p//2) under torch.no_grad(), and nn.ConvTranspose2d with the same weights and padding
    for the adjoint; torch.set_num_threads(threads); median of repeats after warm-up.
Both sides run `rounds` times, alternating, and the best median of each case is kept (the machine
may be shared); --save-json / --merge-json carry the best times over several invocations. It prints a markdown table whose ratio is pytorch_time / xrestore_time (> 1 means
xrestore is faster) and, with --write-readme, puts it between the markers
<!-- blur-table-begin --> and <!-- blur-table-end --> of that file.
"""

import argparse
import json
import platform

import torch

from bench_support import write_between_markers
from blur_cases import KERNELS, SIZES, best, median_time, run_xrestore

BEGIN = "<!-- blur-table-begin -->"
END = "<!-- blur-table-end -->"


def run_pytorch(threads, repeats):
    torch.set_num_threads(threads)
    generator = torch.Generator().manual_seed(7)
    times = {}
    with torch.no_grad():
        for name, kernel in KERNELS.items():
            p = kernel.shape[0]
            weight = torch.from_numpy(kernel).reshape(1, 1, p, p).repeat(3, 1, 1, 1)
            conv2d_block = torch.nn.Conv2d(3, 3, p, groups=3, bias=False, padding=p // 2)
            conv2d_block.weight.copy_(weight)
            transpose = torch.nn.ConvTranspose2d(3, 3, p, groups=3, bias=False, padding=p // 2)
            transpose.weight.copy_(weight)
            for n in SIZES:
                x = torch.rand(1, 3, n, n, generator=generator)
                times[("apply", name, n)] = median_time(lambda: conv2d_block(x), repeats)
                times[("adjoint", name, n)] = median_time(lambda: transpose(x), repeats)
    return times


def table(xr, pt):
    lines = [
        "| kernel | N | xrestore apply (ms) | PyTorch conv2d (ms) | ratio | "
        "xrestore adjoint (ms) | PyTorch conv_transpose2d (ms) | ratio |",
        "|---|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for name in KERNELS:
        for n in SIZES:
            row = [name, str(n)]
            for kind in ("apply", "adjoint"):
                x = xr.get((kind, name, n))
                p = pt.get((kind, name, n))
                if x is None or p is None:
                    row += ["-", "-", "-"]
                    continue
                row += [f"{x:.3f}", f"{p:.3f}", f"{p / x:.1f}"]
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def write_readme(path, text):
    write_between_markers(path, BEGIN, END, text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench_blur", help="path of the bench_blur binary")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=2, help="alternating runs of both sides")
    parser.add_argument("--repeats", type=int, default=7, help="PyTorch timed calls at least")
    parser.add_argument("--min-time", type=float, default=0.2, help="Google Benchmark min time")
    parser.add_argument("--repetitions", type=int, default=5, help="Google Benchmark repetitions")
    parser.add_argument("--note", default="", help="a line printed under the table")
    parser.add_argument("--write-readme", metavar="README", help="update the table in this file")
    parser.add_argument("--save-json", metavar="JSON", help="save this run's best times")
    parser.add_argument("--merge-json", metavar="JSON", nargs="*", default=[],
                        help="earlier --save-json files of the same build: keep the best of all")
    args = parser.parse_args()

    xr, pt = {}, {}
    merged_rounds = 0
    for path in args.merge_json:
        with open(path, encoding="utf-8") as f:
            saved = json.load(f)
        xr = best(xr, {tuple(json.loads(k)): v for k, v in saved["xrestore"].items()})
        pt = best(pt, {tuple(json.loads(k)): v for k, v in saved["pytorch"].items()})
        merged_rounds += saved["rounds"]
    for _ in range(args.rounds):
        times, _ = run_xrestore(args.bench_blur, args.threads, args.min_time,
                                      args.repetitions)
        xr = best(xr, times)
        pt = best(pt, run_pytorch(args.threads, args.repeats))

    if args.save_json:
        with open(args.save_json, "w", encoding="utf-8") as f:
            json.dump({"rounds": args.rounds + merged_rounds,
                       "xrestore": {json.dumps(list(k)): v for k, v in xr.items()},
                       "pytorch": {json.dumps(list(k)): v for k, v in pt.items()}}, f, indent=1)

    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            cpu = next(l.split(":", 1)[1].strip() for l in f if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    text = table(xr, pt)
    text += (
        f"\n\n{cpu}, {args.threads} threads on both sides, PyTorch {torch.__version__}, "
        f"best of {args.rounds + merged_rounds} rounds of "
        "medians; ratio = PyTorch time / xrestore time (> 1: xrestore faster)."
    )
    if args.note:
        text += " " + args.note
    print(text)
    if args.write_readme:
        write_readme(args.write_readme, text)
        print(f"\nupdated {args.write_readme}")


if __name__ == "__main__":
    main()
