#!/usr/bin/python3
"""Compare PnP-ADMM with the shipped U-Net denoiser: the xrestore CLI vs the same loop in PyTorch.

    /usr/bin/python3 benchmarks/compare_pnp_pytorch.py [--build build] [--iters 20] \
        [--threads 2] [--wait-load 1.0] [--write-readme benchmarks/README.md]

The algorithm is the reference study's PnP-ADMM (include/xrestore/solvers/pnp.hpp, admm.hpp):
x = u = v = 0, then per outer iteration
    x = CG solve of (A^T A + eta I) x = A^T y + eta (v - u)   (warm-started from the previous x,
        stop when ||r_k|| / ||b|| < 1e-6 with r_k the recursively updated residual, at most 100
        iterations: xrestore::conjugate_gradient, dot products accumulated in float64)
    v = D(x + u),   u = u + (x - v),   eta = 1e-4,
with D the shipped U-Net models/denoiser_unet_c32.pth (fastMRI layout, chans 32, 4 pool layers)
called as models/MODEL.md says: D(y) = y - s U((y - m_c) / s). Two cases on the 3 x 256 x 256
photo data/images/butterfly_set5.png, both without noise:
  blur     13 x 13 box (all taps 1/169), zero boundary: A = conv2d(groups=3, padding=6),
           A^T = conv_transpose2d with the same weights;
  inpaint  60 % of the pixels missing, one random mask per channel: A = A^T = the mask.
`xrestore degrade` writes y (and the mask) as .npy; the PyTorch side loads those very arrays.

Timing: each side runs iters + 1 outer iterations and is timed over iterations 2 .. iters + 1,
so the first iteration (the cold CG solve from x = 0, the U-Net's first forward, which allocates
its workspace, page faults of fresh buffers) is a warm-up on both sides, loading is excluded, and
both sides time exactly the same iterations of the same run.
  - xrestore: `xrestore restore ... --solver pnp-admm --denoiser unet:WEIGHTS --ref GT --history
    H.csv --json`, OMP_NUM_THREADS = OPENBLAS_NUM_THREADS = threads; the CSV's `seconds` column
    is the wall time after each iteration, so the timed span is seconds[iters + 1] - seconds[1].
    It includes the CLI's per-iteration monitor (MSE, PSNR and SSIM against the reference, a few
    ms), which the PyTorch loop does not do. The CG iteration count of each outer iteration comes
    from the JSON summary's `cg_iterations` (n/a with a CLI that does not report it).
  - PyTorch: the loop above written plainly with torch tensors (the Unet module of
    tools/dev/unet_torch.py, or of tools/dev/make_unet_golden.py where that does not exist),
    torch.set_num_threads(threads), float32, under torch.inference_mode() (--mode no_grad for
    the other), perf_counter after each outer iteration. It also counts the CG iterations and
    splits each outer iteration's time between the x-update (CG) and the rest (mostly D).
The two sides alternate case by case, `rounds` times, keeping the best time of each. Both final
PSNRs (x clipped to [0,1], as the solver returns it) are printed as a check that the two compute
the same thing, with the largest per-iteration PSNR difference. It prints a markdown table (ratio
= xrestore iterations/s / PyTorch iterations/s: above 1, xrestore is faster), the machine and
torch's version, and with --write-readme puts them between <!-- pnp-table-begin --> and
<!-- pnp-table-end -->.
"""

import argparse
import csv
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
import torch.nn.functional as F  # noqa: E402

from bench_support import machine, write_between_markers

BEGIN = "<!-- pnp-table-begin -->"
END = "<!-- pnp-table-end -->"
PHOTO = os.path.join(ROOT, "data", "images", "butterfly_set5.png")
WEIGHTS = os.path.join(ROOT, "models", "denoiser_unet_c32.pth")
CHANS = 32
POOLS = 4
ETA = 1e-4
CG_TOL = 1e-6
CG_MAX_ITER = 100
BOX = 13
MISSING = 0.6
STD_CLAMP = 1e-4
CASES = ("blur", "inpaint")
CASE_LABEL = {"blur": "deblurring, box 13 x 13, zero boundary",
              "inpaint": "inpainting, 60 % missing (per-channel mask)"}


def unet_class():
    """The PyTorch fastMRI Unet: from tools/dev/unet_torch.py if present, else make_unet_golden."""
    for name in ("unet_torch", "make_unet_golden"):
        try:
            module = __import__(name)
        except ImportError:
            continue
        if hasattr(module, "Unet"):
            return module.Unet, name
    sys.exit("no PyTorch Unet found in tools/dev/unet_torch.py or tools/dev/make_unet_golden.py")


# ----------------------------------------------------------------------------- helpers
def wait_for_load(limit, poll, longest):
    """Wait until the 1-minute load average is below `limit` (polling), at most `longest` s."""
    start = time.monotonic()
    while True:
        load = os.getloadavg()[0]
        if load < limit:
            return load
        if time.monotonic() - start >= longest:
            print(f"load average still {load:.2f} after {longest:.0f} s; measuring anyway",
                  file=sys.stderr)
            return load
        print(f"load average {load:.2f} >= {limit}; waiting {poll:.0f} s", file=sys.stderr)
        time.sleep(poll)


def find_or_build(build_dir):
    """build_dir/bin/xrestore, configured (Release) and built there when it does not exist."""
    binary = os.path.join(build_dir, "bin", "xrestore")
    if os.path.exists(binary):
        return binary
    print(f"{binary} not found: building xrestore_cli (Release) in {build_dir}", file=sys.stderr)
    subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release"], check=True, stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "--target", "xrestore_cli"], check=True)
    return binary


def run(command, env=None):
    result = subprocess.run(command, env=env, capture_output=True, text=True)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    return result.stdout


def load_truth():
    """The photo as a float32 3 x H x W array in [0,1] (8-bit values / 255)."""
    from PIL import Image

    with Image.open(PHOTO) as image:
        rgb = np.asarray(image.convert("RGB"), dtype=np.float32) / np.float32(255.0)
    return np.ascontiguousarray(rgb.transpose(2, 0, 1))


def psnr(truth, x):
    """PSNR (peak 1) of x clipped to [0,1], in float64."""
    diff = np.clip(np.asarray(x, dtype=np.float64), 0.0, 1.0) - np.asarray(truth, np.float64)
    return 10.0 * math.log10(1.0 / max(float(np.mean(diff * diff)), 1e-30))


# ----------------------------------------------------------------------------- the problem
def degrade(binary, case, directory, seed, env):
    """Write y (and the mask) with `xrestore degrade`; return their paths."""
    y = os.path.join(directory, f"y_{case}.npy")
    if case == "blur":
        run([binary, "degrade", PHOTO, y, "--op", "blur", "--kernel", f"box:{BOX}",
             "--boundary", "zero"], env)
        return {"y": y}
    mask = os.path.join(directory, "mask.npy")
    run([binary, "degrade", PHOTO, y, "--op", "inpaint", "--missing", str(MISSING), "--seed",
         str(seed), "--mask-out", mask], env)
    return {"y": y, "mask": mask}


def operator_flags(case, files):
    if case == "blur":
        return ["--op", "blur", "--kernel", f"box:{BOX}", "--boundary", "zero"]
    return ["--op", "inpaint", "--mask", files["mask"]]


# ----------------------------------------------------------------------------- xrestore
def run_xrestore(binary, case, files, iters, weights, directory, env):
    """One restore run of iters + 1 iterations; the time of iterations 2 .. iters + 1."""
    out = os.path.join(directory, f"xr_{case}.npy")
    history = os.path.join(directory, f"xr_{case}.csv")
    command = [binary, "restore", files["y"], out, *operator_flags(case, files),
               "--solver", "pnp-admm", "--denoiser", f"unet:{weights}", "--iters",
               str(iters + 1), "--ref", PHOTO, "--history", history, "--json"]
    start = time.perf_counter()
    summary = json.loads(run(command, env))
    process_s = time.perf_counter() - start
    with open(history, newline="", encoding="ascii") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != iters + 1 or summary["iterations"] != iters + 1:
        sys.exit(f"xrestore {case}: expected {iters + 1} iterations, got {len(rows)} rows, "
                 f"{summary['iterations']} iterations ({summary['stop']})")
    seconds = [float(r["seconds"]) for r in rows]
    cg_iterations = summary.get("cg_iterations")  # per outer iteration, where the CLI reports it
    return {"timed_s": seconds[-1] - seconds[0], "first_s": seconds[0],
            "cg_iterations": [int(k) for k in cg_iterations] if cg_iterations else None,
            "run_s": float(summary["seconds"]), "process_s": process_s,
            "psnr_cli": float(summary["psnr"]), "psnr_history": [float(r["psnr"]) for r in rows],
            "x": np.load(out)}


# ----------------------------------------------------------------------------- PyTorch
def dot(a, b):
    """<a, b> accumulated in float64, as xrestore::dot."""
    return torch.dot(a.reshape(-1).double(), b.reshape(-1).double()).item()


def cg(apply_c, b, x, tol=CG_TOL, max_iter=CG_MAX_ITER):
    """xrestore::conjugate_gradient from x (updated in place); returns (x, iterations)."""
    b_norm = math.sqrt(dot(b, b))
    if b_norm == 0.0:
        return torch.zeros_like(b), 0
    r = b - apply_c(x)
    rr = dot(r, r)
    if rr == 0.0 or math.sqrt(rr) / b_norm < tol:
        return x, 0
    d = r.clone()
    for k in range(1, max_iter + 1):
        z = apply_c(d)
        dz = dot(d, z)  # <d, C d>
        alpha = rr / dz if dz != 0.0 else math.inf
        if not math.isfinite(alpha):
            return x, k - 1  # breakdown
        x.add_(d, alpha=alpha)   # x += alpha d
        r.sub_(z, alpha=alpha)   # r -= alpha C d
        rr_next = dot(r, r)
        if rr_next == 0.0 or math.sqrt(rr_next) / b_norm < tol:
            return x, k
        if k == max_iter:
            break
        d.mul_(rr_next / rr).add_(r)  # d = r + beta d
        rr = rr_next
    return x, max_iter


class TorchProblem:
    def __init__(self, case, files):
        self.y = torch.from_numpy(np.load(files["y"])).unsqueeze(0).contiguous()
        if case == "blur":
            self.kernel = torch.full((3, 1, BOX, BOX), 1.0 / (BOX * BOX), dtype=torch.float32)
            self.forward = lambda v: F.conv2d(v, self.kernel, padding=BOX // 2, groups=3)
            self.adjoint = lambda v: F.conv_transpose2d(v, self.kernel, padding=BOX // 2,
                                                        groups=3)
        else:
            self.mask = torch.from_numpy(np.load(files["mask"])).unsqueeze(0).contiguous()
            self.forward = lambda v: v * self.mask
            self.adjoint = self.forward

    def normal(self, v):
        """(A^T A + eta I) v"""
        return self.adjoint(self.forward(v)).add_(v, alpha=ETA)


def denoise(model, y):
    """D(y) = y - s U((y - m_c) / s); m_c and s from float64 sums, as xrestore's unet_denoiser."""
    yd = y.double()
    mean = yd.mean(dim=(2, 3), keepdim=True)
    s = max(yd.std().item(), STD_CLAMP)  # unbiased, all C x H x W values
    u = model(((yd - mean) / s).float())
    return (yd - s * u.double()).float()


def run_pytorch(model, problem, iters, mode):
    """iters + 1 outer iterations; the time of iterations 2 .. iters + 1 and what it went to."""
    context = torch.inference_mode() if mode == "inference_mode" else torch.no_grad()
    with context:
        aty = problem.adjoint(problem.y)  # A^T y
        x = torch.zeros_like(aty)
        u = torch.zeros_like(aty)
        v = torch.zeros_like(aty)
        marks, cg_seconds, cg_iterations, iterates = [], [], [], []
        start = time.perf_counter()
        for _ in range(iters + 1):
            t0 = time.perf_counter()
            b = aty + ETA * (v - u)
            x, k = cg(problem.normal, b, x)
            t1 = time.perf_counter()
            v = denoise(model, x + u)
            u = u + (x - v)
            marks.append(time.perf_counter())
            cg_seconds.append(t1 - t0)
            cg_iterations.append(k)
            iterates.append(x.clone())
    timed = marks[-1] - marks[0]
    return {"timed_s": timed, "first_s": marks[0] - start,
            "cg_s": sum(cg_seconds[1:]), "other_s": timed - sum(cg_seconds[1:]),
            "cg_iterations": cg_iterations, "iterates": [t[0].numpy() for t in iterates]}


def component_ms(model, problem, x, mode, repeats):
    """Median ms of one A, one A^T and one D call on x (after a warm-up call each)."""
    context = torch.inference_mode() if mode == "inference_mode" else torch.no_grad()
    x = torch.from_numpy(x).unsqueeze(0).contiguous()
    times = {}
    with context:
        for name, function in (("A", problem.forward), ("At", problem.adjoint),
                               ("D", lambda v: denoise(model, v))):
            function(x)
            samples = []
            for _ in range(repeats):
                t = time.perf_counter()
                function(x)
                samples.append(time.perf_counter() - t)
            times[name] = statistics.median(samples) * 1e3
    return times


# ----------------------------------------------------------------------------- report
def table(results, iters):
    lines = ["| case | outer iterations | xrestore (it/s) | PyTorch (it/s) | ratio | "
             "mean CG iterations, xrestore | mean CG iterations, PyTorch | "
             "PyTorch ms/it in CG | PyTorch ms/it in the rest (D, updates) | "
             "PSNR xrestore (dB) | PSNR PyTorch (dB) |",
             "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for case in CASES:
        if case not in results:
            continue
        r = results[case]
        xr_rate = iters / r["xr"]["timed_s"]
        pt_rate = iters / r["pt"]["timed_s"]
        cg_its = r["pt"]["cg_iterations"][1:]
        xr_its = r["xr"]["cg_iterations"]
        xr_cg = f"{sum(xr_its[1:]) / len(xr_its[1:]):.1f}" if xr_its else "n/a"
        lines.append(
            f"| {CASE_LABEL[case]} | {iters} | {xr_rate:.3f} | {pt_rate:.3f} | "
            f"{xr_rate / pt_rate:.2f} | {xr_cg} | {sum(cg_its) / len(cg_its):.1f} | "
            f"{r['pt']['cg_s'] / iters * 1e3:.0f} | {r['pt']['other_s'] / iters * 1e3:.0f} | "
            f"{r['psnr_xr']:.2f} | {r['psnr_pt']:.2f} |")
    return "\n".join(lines)


def write_readme(path, text):
    write_between_markers(path, BEGIN, END, text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--build", default=os.path.join(ROOT, "build"),
                        help="build folder holding bin/xrestore (built there, Release, if absent)")
    parser.add_argument("--xrestore", help="path of a built xrestore CLI (overrides --build)")
    parser.add_argument("--weights", default=WEIGHTS, help="chans-32 U-Net weights (.pth)")
    parser.add_argument("--iters", type=int, default=20,
                        help="timed outer iterations (after one warm-up iteration)")
    parser.add_argument("--cases", default=",".join(CASES), help="blur, inpaint or both")
    parser.add_argument("--seed", type=int, default=0, help="seed of the inpainting mask")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="alternating runs of both sides")
    parser.add_argument("--mode", choices=("inference_mode", "no_grad"), default="inference_mode",
                        help="PyTorch's autograd-free mode")
    parser.add_argument("--component-repeats", type=int, default=5,
                        help="calls per PyTorch component timing (A, A^T, D)")
    parser.add_argument("--wait-load", type=float, metavar="LOAD",
                        help="first wait until the 1-minute load average is below LOAD")
    parser.add_argument("--wait-poll", type=float, default=60.0, help="seconds between polls")
    parser.add_argument("--wait-max", type=float, default=1800.0, help="longest wait, seconds")
    parser.add_argument("--note", default="", help="a line printed under the table")
    parser.add_argument("--write-readme", metavar="README", help="update the table in this file")
    args = parser.parse_args()
    cases = [c for c in args.cases.split(",") if c]
    if not cases or any(c not in CASES for c in cases) or args.iters < 1 or args.rounds < 1:
        parser.error("--cases takes blur and/or inpaint; --iters and --rounds must be >= 1")

    threads = args.threads
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    torch.set_num_threads(threads)
    binary = os.path.abspath(args.xrestore) if args.xrestore else find_or_build(
        os.path.abspath(args.build))
    weights = os.path.abspath(args.weights)

    Unet, unet_source = unet_class()
    model = Unet(3, 3, CHANS, POOLS)
    model.load_state_dict(torch.load(weights, map_location="cpu"), strict=True)
    model.eval()
    truth = load_truth()

    load_start = wait_for_load(args.wait_load, args.wait_poll, args.wait_max) \
        if args.wait_load is not None else os.getloadavg()[0]
    results = {}
    with tempfile.TemporaryDirectory() as directory:
        for r in range(args.rounds):
            for case in cases:
                files = degrade(binary, case, directory, args.seed, env)
                xr = run_xrestore(binary, case, files, args.iters, weights, directory, env)
                problem = TorchProblem(case, files)
                pt = run_pytorch(model, problem, args.iters, args.mode)
                parts = component_ms(model, problem, pt["iterates"][-1], args.mode,
                                     args.component_repeats)
                psnr_xr, psnr_pt = psnr(truth, xr["x"]), psnr(truth, pt["iterates"][-1])
                trajectory = max(abs(a - psnr(truth, b))
                                 for a, b in zip(xr["psnr_history"], pt["iterates"]))
                its = pt["cg_iterations"]
                xr_its = xr["cg_iterations"] if xr["cg_iterations"] else "not reported"
                print(f"  round {r + 1}/{args.rounds} {case}: xrestore {xr['timed_s']:.2f} s, "
                      f"PyTorch {pt['timed_s']:.2f} s for {args.iters} iterations (PyTorch CG "
                      f"{pt['cg_s']:.2f} s, rest {pt['other_s']:.2f} s); first iteration "
                      f"xrestore {xr['first_s']:.2f} s, PyTorch {pt['first_s']:.2f} s; "
                      f"xrestore process {xr['process_s']:.2f} s; CG iterations xrestore {xr_its}, "
                      f"PyTorch {its}; PSNR "
                      f"xrestore {psnr_xr:.3f} (CLI {xr['psnr_cli']:.3f}), PyTorch "
                      f"{psnr_pt:.3f}, largest per-iteration PSNR difference {trajectory:.3f} dB;"
                      f" PyTorch per call: A {parts['A']:.2f} ms, A^T {parts['At']:.2f} ms, D "
                      f"{parts['D']:.1f} ms; load {os.getloadavg()[0]:.1f}", file=sys.stderr)
                entry = {"xr": xr, "pt": pt, "psnr_xr": psnr_xr, "psnr_pt": psnr_pt,
                         "trajectory": trajectory, "parts": parts}
                old = results.get(case)
                if old is None:
                    results[case] = entry
                else:  # keep the best time of each side
                    old["parts"] = {k: min(v, parts[k]) for k, v in old["parts"].items()}
                    if xr["timed_s"] < old["xr"]["timed_s"]:
                        old["xr"] = xr
                    if pt["timed_s"] < old["pt"]["timed_s"]:
                        old["pt"] = pt
                    old["trajectory"] = max(old["trajectory"], trajectory)

    cpu, cores = machine()
    load = os.getloadavg()
    text = table(results, args.iters)
    trajectories = ", ".join(f"{case} {results[case]['trajectory']:.2f} dB" for case in cases)
    cg_note = "" if all(results[c]["xr"]["cg_iterations"] for c in cases) else \
        "This xrestore CLI does not report CG iteration counts (n/a). "
    parts = []
    if "blur" in results:
        p = results["blur"]["parts"]
        parts.append(f"conv2d (A) {p['A']:.1f} ms, conv_transpose2d (A^T) {p['At']:.1f} ms")
    p = min((results[c]["parts"] for c in cases), key=lambda q: q["D"])
    parts.append(f"D {p['D']:.0f} ms")
    text += (f"\n\n{cpu}, {cores} cores, {threads} threads on each side (OMP_NUM_THREADS = "
             f"OPENBLAS_NUM_THREADS = {threads}, torch.set_num_threads({threads})), torch "
             f"{torch.__version__} (float32, torch.{args.mode}(), Unet from tools/dev/{unet_source}.py"
             f"); models/denoiser_unet_c32.pth, residual call. Each side runs {args.iters + 1} "
             f"outer iterations and is timed over iterations 2 to {args.iters + 1} (the first is "
             f"the warm-up); xrestore from the CLI's --history `seconds` column, which includes "
             f"its per-iteration MSE/PSNR/SSIM monitor; best of {args.rounds} rounds, the two "
             f"sides alternating. ratio = xrestore it/s / PyTorch it/s (> 1: xrestore faster). "
             f"{cg_note}Both sides run the same CG (tol 1e-6 relative to ||b||, at most 100 "
             f"iterations, warm start); mean CG iterations over the timed outer iterations. "
             f"PSNR of the "
             f"returned x (clipped to [0,1]) after all {args.iters + 1} iterations; largest "
             f"per-iteration PSNR difference between the sides: {trajectories}. PyTorch per call "
             f"(median of {args.component_repeats}): {', '.join(parts)}. Load average "
             f"{load_start:.1f} at the start, {load[0]:.1f} at the end (the run's own {threads} "
             f"threads count for about {threads}). Measured "
             f"{time.strftime('%Y-%m-%d')}.")
    if args.note:
        text += " " + args.note
    print(text)
    if args.write_readme:
        write_readme(args.write_readme, text)


if __name__ == "__main__":
    main()
