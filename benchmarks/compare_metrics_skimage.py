#!/usr/bin/python3
"""Time xrestore's metrics against scikit-image in one run and write the table into
benchmarks/README.md (between <!-- metrics-table-begin --> and <!-- metrics-table-end -->).

Usage (Debian's python: scikit-image 0.19, scipy, numpy):

    /usr/bin/python3 benchmarks/compare_metrics_skimage.py BUILD/benchmarks/bench_metrics \
        [--repeats 7] [--no-readme]

The bench binary (Google Benchmark, benchmarks/bench_metrics.cpp) runs twice, with
OMP_NUM_THREADS=1 and with all cores; then the peers run on float32 C x H x W arrays of the same
sizes in this process, each the median of --repeats calls after one warm-up; both sides
alternate for --rounds rounds and each case keeps its best median (shared machines are noisy):
  SSIM    skimage.metrics.structural_similarity(channel_axis=0, data_range=1, ...) on float32
          (skimage's fastest path; float64 doubles its time)
  PSNR    skimage.metrics.peak_signal_noise_ratio(data_range=1)
  MS-SSIM, GMSD: no skimage 0.19 function; the numpy/scipy references of
          tools/dev/make_metrics_golden.py (what the golden values come from).
The ratio is peer time / xrestore time (higher is faster).
"""

import argparse
import datetime
import json
import os
import platform
import subprocess
import sys
import textwrap
import time

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
README = os.path.join(HERE, "README.md")
BEGIN = "<!-- metrics-table-begin -->"
END = "<!-- metrics-table-end -->"
SIZES = (256, 512)

sys.path.insert(0, os.path.join(ROOT, "tools", "dev"))
import make_metrics_golden as ref  # noqa: E402  (the numpy references)


def run_bench(binary, threads):
    env = dict(os.environ)
    if threads is not None:
        env["OMP_NUM_THREADS"] = str(threads)
    out = subprocess.run([binary, "--benchmark_format=json", "--benchmark_repetitions=5",
                          "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True, env=env).stdout
    times = {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"].replace("/real_time", "")  # e.g. ssim_uniform/512
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        times[name] = b["real_time"] * scale  # milliseconds
    return times


def image_pair(side):
    # the C++ bench's images: a smooth pattern and its noisy version, float32
    i = np.arange(side)[:, None] / side
    j = np.arange(side)[None, :] / side
    x = np.stack([0.5 + 0.25 * np.sin(9.0 * i + 3.0 * c) * np.cos(13.0 * j - 2.0 * i)
                  for c in range(3)]).astype(np.float32)
    rng = np.random.default_rng(42)
    y = (x + 0.05 * rng.standard_normal(x.shape)).astype(np.float32)
    return x, y


def wrap(text):
    return textwrap.fill(text, 100, break_on_hyphens=False, break_long_words=False)


def median_ms(fn, repeats):
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


def peers():
    from skimage.metrics import peak_signal_noise_ratio, structural_similarity
    return {
        "ssim_uniform": ("skimage structural_similarity",
                         lambda x, y: structural_similarity(x, y, channel_axis=0,
                                                            data_range=1.0)),
        "ssim_gaussian": ("skimage structural_similarity",
                          lambda x, y: structural_similarity(
                              x, y, channel_axis=0, data_range=1.0, gaussian_weights=True,
                              sigma=1.5, use_sample_covariance=False)),
        "ms_ssim": ("numpy reference",
                    lambda x, y: ref.ms_ssim_reference(x, y)),
        "gmsd": ("numpy reference",
                 lambda x, y: ref.gmsd_reference(x, y)),
        "psnr": ("skimage peak_signal_noise_ratio",
                 lambda x, y: peak_signal_noise_ratio(x, y, data_range=1.0)),
    }


LABELS = {"ssim_uniform": "SSIM, uniform 7 x 7", "ssim_gaussian": "SSIM, Gaussian (study)",
          "ms_ssim": "MS-SSIM (5 scales)", "gmsd": "GMSD", "psnr": "PSNR"}


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench", help="path to the bench_metrics binary")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate xrestore and the peers this many times, keep the best")
    parser.add_argument("--no-readme", action="store_true", help="only print the table")
    args = parser.parse_args()

    cores = os.cpu_count()
    import skimage
    one, many, peer_ms = {}, {}, {}
    # Shared machines are noisy: alternate the two sides for a few rounds and keep the best
    # median of each case.
    for _ in range(args.rounds):
        for name, ms in run_bench(args.bench, 1).items():
            one[name] = min(ms, one.get(name, float("inf")))
        for name, ms in run_bench(args.bench, None).items():
            many[name] = min(ms, many.get(name, float("inf")))
        for key, (_, fn) in peers().items():
            for side in SIZES:
                x, y = image_pair(side)
                ms = median_ms(lambda: fn(x, y), args.repeats)
                name = f"{key}/{side}"
                peer_ms[name] = min(ms, peer_ms.get(name, float("inf")))
    rows = []
    for key, (peer_name, _) in peers().items():
        for side in SIZES:
            name = f"{key}/{side}"
            rows.append((LABELS[key], f"3 x {side} x {side}", one[name], many[name],
                         peer_ms[name], peer_name))
    header = ("| metric | image | xrestore, 1 thread (ms) | xrestore, "
              f"{cores} threads (ms) | peer (ms) | ratio, 1 thread | ratio, {cores} threads "
              "| peer |\n|---|---|---:|---:|---:|---:|---:|---|\n")
    body = "".join(f"| {m} | {s} | {a:.2f} | {b:.2f} | {p:.2f} | {p / a:.1f}x | {p / b:.1f}x "
                   f"| {n} |\n" for m, s, a, b, p, n in rows)
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            cpu = next(line.split(":", 1)[1].strip() for line in f
                       if line.startswith("model name"))
    except (OSError, StopIteration):
        pass
    load = os.getloadavg()[0]
    intro = ("`bench_metrics` times SSIM (the default uniform 7 x 7 window and the Gaussian "
             "study preset), MS-SSIM, GMSD and PSNR on 3 x 256 x 256 and 3 x 512 x 512 float32 "
             "images; `compare_metrics_skimage.py` times scikit-image on the same sizes in the "
             "same run. MS-SSIM and GMSD have no scikit-image 0.19 function: their peers are the "
             "numpy/scipy references of tools/dev/make_metrics_golden.py, which the golden values "
             "come from. scikit-image and numpy run on one thread, so the 1-thread column is the "
             "like-for-like ratio.")
    note = (f"Measured {datetime.date.today().isoformat()} on {cpu} ({cores} cores, load "
            f"average {load:.1f} at the end: other jobs shared the machine), scikit-image "
            f"{skimage.__version__}, numpy {np.__version__}. xrestore: Google Benchmark median "
            "of 5 repetitions (wall time); peers: median of "
            f"{args.repeats} calls on float32 inputs; best of {args.rounds} alternating rounds. "
            "Ratio = peer time / xrestore time; the 2-thread column suffers most when other jobs "
            "share the cores. Reproduce with `/usr/bin/python3 "
            "benchmarks/compare_metrics_skimage.py BUILD/benchmarks/bench_metrics` (configure "
            "with -DXRESTORE_BUILD_BENCHMARKS=ON).")
    table = header + body
    print(table)
    print(note)
    if args.no_readme:
        return 0
    section = (f"{BEGIN}\n## Image-quality metrics vs scikit-image\n\n"
               f"{wrap(intro)}\n\n{table}\n{wrap(note)}\n{END}")
    if os.path.exists(README):
        with open(README) as f:
            text = f.read()
        if BEGIN in text and END in text:
            start = text.index(BEGIN)
            stop = text.index(END) + len(END)
            text = text[:start] + section + text[stop:]
        else:
            text = text.rstrip("\n") + "\n\n" + section + "\n"
    else:
        text = "# xrestore benchmarks\n\n" + section + "\n"
    with open(README, "w") as f:
        f.write(text)
    print(f"updated {os.path.relpath(README, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
