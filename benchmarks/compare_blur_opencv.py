#!/usr/bin/python3
"""Compare xrestore's blur (bench_blur) with the CPU filtering tools a user would pick instead:
OpenCV and scipy.ndimage, on the same cases, in one run.

    /usr/bin/python3 benchmarks/compare_blur_opencv.py build/benchmarks/bench_blur \
        [--threads 2] [--rounds 3] [--write-readme benchmarks/README.md]

For every kernel of bench_blur (box 7, 13, 17; motion 15 at 0.785 rad; Gaussian sigma 2, size
13) and RGB N x N image (N = 256, 512, 1024) it times, with zero boundary everywhere:
  - xrestore: bench_blur's blur_apply/<kernel>/<N> (y = K x on a 3 x N x N float32 image; Google
    Benchmark, real time, median of repetitions), OMP_NUM_THREADS = threads;
  - OpenCV (Debian's python3-opencv, cv2.setNumThreads(threads)) on the N x N x 3 float32 image,
    its own layout: cv2.filter2D with the full kernel (BORDER_CONSTANT); for the rank-one kernels
    also cv2.sepFilter2D with the two 1-D factors, and for the boxes cv2.boxFilter (a running
    sum: its cost does not grow with the box);
  - scipy.ndimage.correlate (mode "constant", one thread: scipy.ndimage has no threads) on the
    3 x N x N image with a 1 x p x p kernel, and scipy.ndimage.uniform_filter for the boxes.
All the kernels are symmetric under a half turn, so correlation (OpenCV, scipy) and convolution
(xrestore) give the same result, and the adjoint K^T costs what K does in every tool. The script
checks that every tool's output matches xrestore's operator (computed here with scipy in float64)
before timing. Both sides run `rounds` times, alternating, and the best median of each case is
kept. It prints a markdown table; ratio = the fastest other tool's time / xrestore's time (> 1:
xrestore faster). --write-readme puts it between <!-- blur-opencv-begin --> and
<!-- blur-opencv-end --> of that file.
"""

import argparse
import math
import os
import sys

import cv2
import numpy as np
import scipy
import scipy.ndimage as ndi

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_support import machine, write_between_markers  # noqa: E402
from blur_cases import KERNELS, SIZES, best, median_time, run_xrestore  # noqa: E402

BEGIN = "<!-- blur-opencv-begin -->"
END = "<!-- blur-opencv-end -->"


def rank_one_factors(kernel):
    """(column, row) 1-D factors when the kernel is an outer product, else None."""
    u, s, vt = np.linalg.svd(kernel.astype(np.float64))
    if s[1] > 1e-6 * s[0]:
        return None
    column = (u[:, 0] * math.sqrt(s[0])).astype(np.float32)
    row = (vt[0] * math.sqrt(s[0])).astype(np.float32)
    if column.sum() < 0:
        column, row = -column, -row
    return column, row


def tools_for(name, kernel):
    """(label, function of (chw, hwc) -> result in C x H x W) for every tool that does this job."""
    p = kernel.shape[0]
    tools = [
        ("cv2.filter2D", lambda chw, hwc: cv2.filter2D(
            hwc, -1, kernel, borderType=cv2.BORDER_CONSTANT)),
        ("ndimage.correlate", lambda chw, hwc: ndi.correlate(
            chw, kernel[None], mode="constant", cval=0.0)),
    ]
    factors = rank_one_factors(kernel)
    if factors is not None:
        column, row = factors
        tools.append(("cv2.sepFilter2D", lambda chw, hwc: cv2.sepFilter2D(
            hwc, -1, row, column, borderType=cv2.BORDER_CONSTANT)))
    if name.startswith("box"):
        tools.append(("cv2.boxFilter", lambda chw, hwc: cv2.boxFilter(
            hwc, -1, (p, p), normalize=True, borderType=cv2.BORDER_CONSTANT)))
        tools.append(("ndimage.uniform_filter", lambda chw, hwc: ndi.uniform_filter(
            chw, size=(1, p, p), mode="constant", cval=0.0)))
    return tools


def as_chw(result):
    return result if result.shape[0] == 3 else np.ascontiguousarray(result.transpose(2, 0, 1))


def check_tools():
    """Every tool computes xrestore's operator (zero boundary) on a small odd-sized image."""
    rng = np.random.default_rng(3)
    chw = rng.random((3, 41, 37), dtype=np.float32)
    hwc = np.ascontiguousarray(chw.transpose(1, 2, 0))
    for name, kernel in KERNELS.items():
        reference = ndi.convolve(chw.astype(np.float64), kernel[None].astype(np.float64),
                                 mode="constant", cval=0.0)
        for label, function in tools_for(name, kernel):
            error = np.abs(as_chw(function(chw, hwc)) - reference).max()
            if error > 1e-5:
                sys.exit(f"compare_blur_opencv: {label} on {name} differs from the operator by "
                         f"{error:.2e}")


def run_others(threads, repeats):
    cv2.setNumThreads(threads)
    rng = np.random.default_rng(7)
    times = {}
    for name, kernel in KERNELS.items():
        for n in SIZES:
            chw = rng.random((3, n, n), dtype=np.float32)
            hwc = np.ascontiguousarray(chw.transpose(1, 2, 0))
            for label, function in tools_for(name, kernel):
                times[(label, name, n)] = median_time(lambda: function(chw, hwc), repeats)
    return times


def table(xr, others):
    labels = ["cv2.filter2D", "cv2.sepFilter2D", "cv2.boxFilter", "ndimage.correlate",
              "ndimage.uniform_filter"]
    lines = ["| kernel | N | xrestore (ms) | " + " | ".join(f"{l} (ms)" for l in labels) +
             " | fastest other / xrestore |",
             "|---|---:|---:|" + "---:|" * len(labels) + "---:|"]
    for name in KERNELS:
        for n in SIZES:
            x = xr.get(("apply", name, n))
            row = [name, str(n), f"{x:.3f}" if x else "-"]
            fastest = math.inf
            for label in labels:
                t = others.get((label, name, n))
                row.append("-" if t is None else f"{t:.3f}")
                if t is not None:
                    fastest = min(fastest, t)
            row.append(f"{fastest / x:.2f}" if x and fastest < math.inf else "-")
            lines.append("| " + " | ".join(row) + " |")
    return "\n".join(lines)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench_blur", help="path of the bench_blur binary")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of both sides")
    parser.add_argument("--repeats", type=int, default=7, help="timed calls per case at least")
    parser.add_argument("--min-time", type=float, default=0.2, help="Google Benchmark min time")
    parser.add_argument("--repetitions", type=int, default=5, help="Google Benchmark repetitions")
    parser.add_argument("--note", default="", help="a sentence printed under the table")
    parser.add_argument("--write-readme", metavar="README", help="update the table in this file")
    args = parser.parse_args()

    check_tools()
    load_start = os.getloadavg()[0]
    xr, others = {}, {}
    for _ in range(args.rounds):
        times, _ = run_xrestore(args.bench_blur, args.threads, args.min_time, args.repetitions)
        xr = best(xr, times)
        others = best(others, run_others(args.threads, args.repeats))
    cpu, cores = machine()
    text = table(xr, others)
    text += (f"\n\n{cpu}, {cores} cores; {args.threads} threads for xrestore and OpenCV "
             f"{cv2.__version__} (scipy {scipy.__version__}'s ndimage runs on one); float32, "
             f"zero boundary, 3 channels; best of {args.rounds} rounds of medians, the sides "
             f"alternating; load average {load_start:.1f} at the start, "
             f"{os.getloadavg()[0]:.1f} at the end. ratio = fastest other tool / xrestore "
             f"(> 1: xrestore faster).")
    if args.note:
        text += " " + args.note
    print(text)
    if args.write_readme:
        write_between_markers(args.write_readme, BEGIN, END, text)
        print(f"\nupdated {args.write_readme}")


if __name__ == "__main__":
    main()
