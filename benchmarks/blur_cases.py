"""The blur benchmark's cases, shared by compare_blur_pytorch.py and compare_blur_opencv.py
(no torch needed): the kernels of bench_blur, running bench_blur, timing a call, keeping the best
times of several rounds."""

import json
import math
import os
import statistics
import subprocess
import time

import numpy as np

SIZES = (256, 512, 1024)


def box_kernel(p):
    return np.full((p, p), 1.0 / (p * p), dtype=np.float32)


def motion_kernel(size, angle):
    # the same formula as xrestore::motion_kernel (a rotated, bilinearly sampled line)
    c = (size - 1) / 2.0
    i, j = np.mgrid[0:size, 0:size].astype(np.float64)
    x, y = j - c, i - c
    along = x * math.cos(angle) - y * math.sin(angle)
    across = x * math.sin(angle) + y * math.cos(angle)
    w = np.maximum(0.0, 1.0 - np.abs(across)) * np.clip(c + 1.0 - np.abs(along), 0.0, 1.0)
    w[w < 1e-6 * w.max()] = 0.0
    return (w / w.sum()).astype(np.float32)


def gaussian_kernel(sigma, size):
    u = np.arange(size) - (size - 1) / 2.0
    g = np.exp(-u * u / (2.0 * sigma * sigma))
    g /= g.sum()
    return np.outer(g, g).astype(np.float32)


KERNELS = {
    "box7": box_kernel(7),
    "box13": box_kernel(13),
    "box17": box_kernel(17),
    "motion15": motion_kernel(15, 0.785),
    "gaussian13": gaussian_kernel(2.0, 13),
}


def run_xrestore(binary, threads, min_time, repetitions):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    command = [
        binary,
        "--benchmark_format=json",
        f"--benchmark_min_time={min_time}",
        f"--benchmark_repetitions={repetitions}",
        "--benchmark_report_aggregates_only=true",
    ]
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    report = json.loads(result.stdout)
    times = {}
    for entry in report["benchmarks"]:
        if entry.get("aggregate_name") != "median":
            continue
        # "blur_apply/box13/512/real_time" -> ("apply", "box13", 512)
        parts = entry["run_name"].split("/")
        kind = parts[0].replace("blur_", "")
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[entry["time_unit"]]
        times[(kind, parts[1], int(parts[2]))] = entry["real_time"] * scale
    return times, report.get("context", {})


def median_time(function, repeats, budget=2.0):
    """Median wall time (ms) of `repeats` calls after a warm-up call; slow cases (over 0.5 s a
    call) take 3 calls, so the whole comparison stays within minutes."""
    t = time.perf_counter()
    function()
    if time.perf_counter() - t > 0.5:
        repeats = 3
    else:
        function()
    samples = []
    start = time.perf_counter()
    while len(samples) < repeats or (time.perf_counter() - start < 0.3 and len(samples) < 50):
        t = time.perf_counter()
        function()
        samples.append(time.perf_counter() - t)
        if time.perf_counter() - start > budget and len(samples) >= 3:
            break
    return statistics.median(samples) * 1e3


def best(a, b):
    return {key: min(a.get(key, math.inf), b.get(key, math.inf)) for key in set(a) | set(b)}
