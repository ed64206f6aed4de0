#!/usr/bin/python3
"""Compare xrestore's U-Net forward pass (bench_unet) with the same network in PyTorch (CPU).

    /usr/bin/python3 benchmarks/compare_unet_pytorch.py [--bench build/benchmarks/bench_unet] \
        [--threads 2] [--rounds 3] [--repeats 3] [--write-readme benchmarks/README.md]

Without --bench it configures and builds bench_unet in Release (--build-dir, default
build-bench-unet/ in the repository). The networks are the fastMRI U-Net with 4 pool layers,
3 -> 3 channels: chans 32 is the shipped model models/denoiser_unet_c32.pth (or --c32),
chans 64 random weights with the same keys, made by tools/dev/make_unet_golden.py's random_unet (seed
164, the --full-c64 model) into a temporary folder. Inputs are 1 x 3 x N x N, N = 256 and 512,
uniform in [0, 1). In one run it measures
  - time: bench_unet's unet_forward/c<chans>/<N> (Google Benchmark, real time, median of
    repetitions after a warm-up forward), OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads; and
    PyTorch on the same weights, model.eval(), torch.set_num_threads(threads), median of repeats
    after a warm-up, once under torch.no_grad() and once under torch.inference_mode(). The two
    sides alternate case by case, `rounds` times, and the best median of each case is kept (the
    machine may be shared); --save-json / --merge-json carry the best over several invocations;
  - peak memory: each (side, chans, N) runs in a fresh process that loads the weights, makes the
    input, reads VmRSS, runs one forward and reads VmHWM (/proc/self/status): "peak" is VmHWM,
    the whole process (a Python process with torch imported starts far higher than a C++ one),
    "increment" is VmHWM - VmRSS just before the forward (the children's ru_maxrss is no use
    here: Linux carries the forking Python parent's high-water mark across exec). The table's
    PyTorch child runs under torch.no_grad(); an inference_mode child is printed to stderr;
  - agreement: both children's outputs for the same input; the run fails if max |xrestore -
    PyTorch| > --tolerance (1e-3), so the timings are of the same computation.
It prints a markdown table (ratio = xrestore time / PyTorch time: below 1, xrestore is faster;
the PyTorch time is the faster of no_grad and inference_mode), the machine and torch's version,
and with --write-readme puts them between <!-- unet-table-begin --> and <!-- unet-table-end -->.
"""

import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import tempfile
import time

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "dev"))

import torch  # noqa: E402

import make_unet_golden as golden  # noqa: E402  (the PyTorch Unet, random_unet, find_shipped)

from bench_support import machine, write_between_markers

BEGIN = "<!-- unet-table-begin -->"
END = "<!-- unet-table-end -->"
SIZES = (256, 512)
CHANS = (32, 64)
POOLS = 4
C64_SEED = 164  # tools/dev/make_unet_golden.py --full-c64
INPUT_SEED = 5


# ----------------------------------------------------------------------------- helpers
def status_kb(field):
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def load_model(weights, chans):
    model = golden.Unet(3, 3, chans, POOLS)
    model.load_state_dict(torch.load(weights, map_location="cpu"), strict=True)
    return model.eval()


def flops(chans, n, in_chans=3, out_chans=3, pools=POOLS):
    """The count of xrestore::nn::unet::flops: 2 per multiply-add of every convolution."""
    total = 0.0
    h = n
    sizes = []
    cin, ch = in_chans, chans
    for _ in range(pools):
        total += 2.0 * 9 * (cin * ch + ch * ch) * h * h
        sizes.append(h)
        cin = ch
        h //= 2
        ch *= 2
    ch //= 2  # the deepest encoder width
    total += 2.0 * 9 * (ch * 2 * ch + 2 * ch * 2 * ch) * h * h  # bottleneck ch -> 2 ch
    for i in range(pools):
        total += 2.0 * 4 * (2 * ch) * ch * h * h  # transposed 2x2, on the h x h input
        h = sizes[-1 - i]
        total += 2.0 * 9 * (2 * ch * ch + ch * ch) * h * h
        if i + 1 < pools:
            ch //= 2
    total += 2.0 * ch * out_chans * h * h
    return total


# ----------------------------------------------------------------------------- child (memory)
def child_peak(weights, chans, n, input_path, output_path, mode, threads):
    """One forward in this fresh process; prints VmRSS before it and VmHWM after it."""
    torch.set_num_threads(threads)
    model = load_model(weights, chans)
    x = torch.from_numpy(np.load(input_path))
    assert tuple(x.shape) == (1, 3, n, n), x.shape
    context = torch.inference_mode() if mode == "inference_mode" else torch.no_grad()
    before = status_kb("VmRSS")
    start = time.perf_counter()
    with context:
        y = model(x)
    ms = (time.perf_counter() - start) * 1e3
    peak = status_kb("VmHWM")
    np.save(output_path, y.numpy())
    print(f"rss_before_kb {before} vm_hwm_kb {peak} ms {ms}")


def run_child(command, env):
    """Run a child process; return its stdout, exit on failure."""
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def parse_peak(text):
    words = text.split()
    values = {words[i]: float(words[i + 1]) for i in range(0, len(words) - 1, 2)}
    return {"rss_before_mb": values["rss_before_kb"] / 1024.0,
            "peak_mb": values["vm_hwm_kb"] / 1024.0,
            "increment_mb": (values["vm_hwm_kb"] - values["rss_before_kb"]) / 1024.0,
            "ms": values["ms"]}


def measure_memory(bench, weights, inputs, env, threads, directory, tolerance):
    """Fresh processes per (side, chans, N); returns memory per case and the output check."""
    memory, check = {}, {}
    for chans in CHANS:
        for n in SIZES:
            xr_out = os.path.join(directory, f"xr_c{chans}_{n}.npy")
            pt_out = os.path.join(directory, f"pt_c{chans}_{n}.npy")
            text = run_child([bench, f"--peak_memory={weights[chans]}", f"--size={n}",
                              f"--input={inputs[n]}", f"--output={xr_out}"], env)
            memory[("xrestore", chans, n)] = parse_peak(text)
            for mode in ("no_grad", "inference_mode"):
                out = pt_out if mode == "no_grad" else pt_out.replace(".npy", "_im.npy")
                text = run_child([sys.executable, os.path.abspath(__file__), "--child-peak",
                                  weights[chans], str(chans), str(n), inputs[n], out, mode,
                                  str(threads)], env)
                memory[(f"pytorch_{mode}", chans, n)] = parse_peak(text)
            a, b = np.load(xr_out), np.load(pt_out)
            diff = float(np.abs(a.astype(np.float64) - b.astype(np.float64)).max())
            check[(chans, n)] = {"max_abs_diff": diff, "max_abs_out": float(np.abs(b).max())}
            print(f"  c{chans} {n}: max |xrestore - PyTorch| = {diff:.2e} "
                  f"(max |out| {check[(chans, n)]['max_abs_out']:.3f})", file=sys.stderr)
            if not diff <= tolerance:
                sys.exit(f"outputs differ: c{chans} {n}x{n}: {diff:.3e} > {tolerance}")
    return memory, check


# ----------------------------------------------------------------------------- timings
def run_xrestore(bench, weights, env, min_time, repetitions, case_filter):
    env = dict(env, XRESTORE_UNET_C32=weights[32], XRESTORE_UNET_C64=weights[64])
    command = [bench, "--benchmark_format=json", f"--benchmark_min_time={min_time}",
               f"--benchmark_repetitions={repetitions}", "--benchmark_report_aggregates_only=true",
               f"--benchmark_filter={case_filter}"]
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    times, gflop = {}, {}
    for entry in json.loads(result.stdout)["benchmarks"]:
        if repetitions > 1 and entry.get("aggregate_name") != "median":
            continue
        c, n = entry["run_name"].split("/")[1:3]  # unet_forward/c<chans>/<N>/real_time
        key = (int(c[1:]), int(n))
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[entry["time_unit"]]
        times[key] = entry["real_time"] * scale
        gflop[key] = entry["gflop"]
    return times, gflop


def median_time(function, repeats):
    """Median wall time (ms) of `repeats` calls after one warm-up call."""
    function()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        function()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e3


def run_pytorch(model, chans, n, input_path, repeats):
    x = torch.from_numpy(np.load(input_path))
    times = {}
    with torch.no_grad():
        times[("no_grad", chans, n)] = median_time(lambda: model(x), repeats)
    with torch.inference_mode():
        times[("inference_mode", chans, n)] = median_time(lambda: model(x), repeats)
    return times


def best(a, b):
    return {key: min(a.get(key, math.inf), b.get(key, math.inf)) for key in set(a) | set(b)}


# ----------------------------------------------------------------------------- report
def table(xr, pt, memory):
    lines = ["| chans | N | xrestore (ms) | PyTorch no_grad (ms) | PyTorch inference_mode (ms) | "
             "ratio | xrestore GFLOP/s | PyTorch GFLOP/s | peak MB xrestore | peak MB PyTorch | "
             "increment MB xrestore | increment MB PyTorch |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for chans in CHANS:
        for n in SIZES:
            x = xr.get((chans, n))
            ng, im = pt.get(("no_grad", chans, n)), pt.get(("inference_mode", chans, n))
            if x is None or ng is None or im is None:
                continue
            p = min(ng, im)
            f = flops(chans, n) * 1e-9
            mx, mp = memory[("xrestore", chans, n)], memory[("pytorch_no_grad", chans, n)]
            lines.append(
                f"| {chans} | {n} | {x:.1f} | {ng:.1f} | {im:.1f} | {x / p:.2f} | "
                f"{f / (x * 1e-3):.1f} | {f / (p * 1e-3):.1f} | {mx['peak_mb']:.0f} | "
                f"{mp['peak_mb']:.0f} | {mx['increment_mb']:.0f} | {mp['increment_mb']:.0f} |")
    return "\n".join(lines)


def write_readme(path, text):
    write_between_markers(path, BEGIN, END, text)


def build(build_dir):
    subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release", "-DXRESTORE_BUILD_BENCHMARKS=ON"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "--target", "bench_unet"], check=True)
    return os.path.join(build_dir, "benchmarks", "bench_unet")


def save_json(path, rounds, xr, pt, memory, check):
    def keyed(d):
        return {json.dumps(list(k)): v for k, v in d.items()}

    with open(path, "w", encoding="utf-8") as f:
        json.dump({"rounds": rounds, "xrestore": keyed(xr), "pytorch": keyed(pt),
                   "memory": keyed(memory), "check": keyed(check)}, f, indent=1)


def load_json(path):
    def unkeyed(d):
        return {tuple(json.loads(k)): v for k, v in d.items()}

    with open(path, encoding="utf-8") as f:
        saved = json.load(f)
    return (saved["rounds"], unkeyed(saved["xrestore"]), unkeyed(saved["pytorch"]),
            unkeyed(saved["memory"]), unkeyed(saved["check"]))


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child-peak":
        weights, chans, n, input_path, output_path, mode, threads = sys.argv[2:9]
        child_peak(weights, int(chans), int(n), input_path, output_path, mode, int(threads))
        return

    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", help="path of a built bench_unet (else build it, Release)")
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench-unet"))
    parser.add_argument("--c32", help="chans-32 weights (default: the shipped model)")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=3, help="alternating runs of both sides")
    parser.add_argument("--repeats", type=int, default=3,
                        help="PyTorch timed calls per case and mode (after a warm-up)")
    parser.add_argument("--min-time", type=float, default=0.5, help="Google Benchmark min time")
    parser.add_argument("--repetitions", type=int, default=3, help="Google Benchmark repetitions")
    parser.add_argument("--tolerance", type=float, default=1e-3,
                        help="largest allowed max |xrestore - PyTorch| on the outputs")
    parser.add_argument("--note", default="", help="a line printed under the table")
    parser.add_argument("--write-readme", metavar="README", help="update the table in this file")
    parser.add_argument("--save-json", metavar="JSON", help="save this run's best times")
    parser.add_argument("--merge-json", metavar="JSON", nargs="*", default=[],
                        help="earlier --save-json files of the same build: keep the best of all")
    args = parser.parse_args()

    threads = args.threads
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    torch.set_num_threads(threads)
    bench = os.path.abspath(args.bench) if args.bench else build(args.build_dir)

    c32 = args.c32 or golden.find_shipped()
    if c32 is None:
        sys.exit("no chans-32 weights: pass --c32 PATH (the shipped model was not found)")
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as directory:
        c64 = os.path.join(directory, "c64_p4.pth")
        torch.save(golden.random_unet(3, 3, 64, POOLS, seed=C64_SEED).state_dict(), c64)
        weights = {32: os.path.abspath(c32), 64: c64}
        inputs = {}
        for n in SIZES:
            inputs[n] = os.path.join(directory, f"in_{n}.npy")
            np.save(inputs[n], golden.uniform_input((1, 3, n, n), INPUT_SEED).numpy())

        print("memory and agreement (fresh process per case)...", file=sys.stderr)
        memory, check = measure_memory(bench, weights, inputs, env, threads, directory,
                                       args.tolerance)

        # Both sides alternate case by case, so that they see the same background load.
        models = {c: load_model(weights[c], c) for c in CHANS}
        xr, pt = {}, {}
        for r in range(args.rounds):
            for chans in CHANS:
                for n in SIZES:
                    times, gflop = run_xrestore(bench, weights, env, args.min_time,
                                                args.repetitions, f"^unet_forward/c{chans}/{n}/")
                    if abs(gflop[(chans, n)] - flops(chans, n) * 1e-9) > 1e-6 * gflop[(chans, n)]:
                        sys.exit(f"flop counts differ for c{chans}/{n}: bench_unet "
                                 f"{gflop[(chans, n)]} vs script {flops(chans, n) * 1e-9}")
                    p = run_pytorch(models[chans], chans, n, inputs[n], args.repeats)
                    xr, pt = best(xr, times), best(pt, p)
                    print(f"  round {r + 1}/{args.rounds} c{chans}/{n}: xrestore "
                          f"{times[(chans, n)]:.1f} ms, PyTorch no_grad "
                          f"{p[('no_grad', chans, n)]:.1f} ms, inference_mode "
                          f"{p[('inference_mode', chans, n)]:.1f} ms, load "
                          f"{os.getloadavg()[0]:.1f}", file=sys.stderr)

    rounds = args.rounds
    if args.save_json:
        save_json(args.save_json, rounds, xr, pt, memory, check)
    for path in args.merge_json:
        r, x, p, m, c = load_json(path)
        rounds += r
        xr, pt = best(xr, x), best(pt, p)
        for key, value in m.items():  # memory: keep the lower peak of each case
            if key not in memory or value["peak_mb"] < memory[key]["peak_mb"]:
                memory[key] = value
        for key, value in c.items():
            check[key] = max(check.get(key, value), value, key=lambda v: v["max_abs_diff"])

    cpu, cores = machine()
    load = os.getloadavg()
    text = table(xr, pt, memory)
    diffs = ", ".join(f"c{c}/{n} {v['max_abs_diff']:.1e}" for (c, n), v in sorted(check.items()))
    text += (f"\n\n{cpu}, {cores} cores, {threads} threads on each side (OMP_NUM_THREADS = "
             f"OPENBLAS_NUM_THREADS = {threads}, torch.set_num_threads({threads})), torch "
             f"{torch.__version__}; best of {rounds} rounds of medians, the two sides alternating "
             f"case by case (xrestore {args.repetitions} Google Benchmark repetitions, PyTorch "
             f"{args.repeats} calls per mode, each after a warm-up forward); load average "
             f"{load_start:.1f} at the start, {load[0]:.1f} at the end. ratio = xrestore time / "
             f"faster PyTorch time (< 1: xrestore faster); GFLOP/s = unet::flops / time (PyTorch "
             f"at its faster mode). Peak = VmHWM of a fresh process that loads the weights and "
             f"runs one forward (PyTorch under no_grad), increment = VmHWM - VmRSS just before "
             f"that forward. Max |xrestore - PyTorch| on the outputs: {diffs}.")
    if args.note:
        text += " " + args.note
    print(text)

    print("\nper-process memory (MB): side, chans, N, RSS before, VmHWM, increment; "
          "cold forward ms", file=sys.stderr)
    for key in sorted(memory, key=lambda k: (k[1], k[2], k[0])):
        m = memory[key]
        print(f"  {key[0]:24s} c{key[1]} {key[2]}: {m['rss_before_mb']:7.1f} {m['peak_mb']:7.1f} "
              f"{m['increment_mb']:7.1f}; {m['ms']:8.1f}", file=sys.stderr)
    if args.write_readme:
        write_readme(args.write_readme, text)


if __name__ == "__main__":
    main()
