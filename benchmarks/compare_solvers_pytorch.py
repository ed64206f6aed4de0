#!/usr/bin/python3
"""Compare xrestore's solver loops (bench_solvers) with the same loops written in PyTorch (CPU).

    /usr/bin/python3 benchmarks/compare_solvers_pytorch.py build/benchmarks/bench_solvers \
        [--threads 2] [--rounds 1] [--repeats 3] [--write-readme benchmarks/README.md]

bench_solvers --dump_dir writes the problem (the 3 x 256 x 256 butterfly, its box-13 zero-boundary
blur with sigma 0.01 noise, the 60 % inpainting mask and data, the kernels); this script loads it
so both sides solve exactly the same problem, and runs
  - xrestore: bench_solvers (Google Benchmark, real time, median of repetitions),
    OMP_NUM_THREADS = threads;
  - PyTorch: each solver written out plainly with torch tensors (A = conv2d(groups=3,
    padding=p//2), A^T = conv_transpose2d, the Gaussian denoiser = F.pad(mode='reflect') +
    depthwise conv2d), the same iteration counts, steps and start points as the xrestore
    solver; torch.set_num_threads(threads), torch.no_grad(), median of repeats after a warm-up.
Both sides alternate `rounds` times and the best median of each case is kept (the machine may be
shared). It prints a markdown table (ratio = PyTorch time / xrestore time, > 1 means xrestore is
faster) with both final PSNRs as a check that the twins compute the same thing, and with
--write-readme puts it between <!-- solvers-table-begin --> and <!-- solvers-table-end -->.
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
import torch
import torch.nn.functional as F

from bench_support import write_between_markers

BEGIN = "<!-- solvers-table-begin -->"
END = "<!-- solvers-table-end -->"


# ----------------------------------------------------------------------------- the problem
class Problem:
    def __init__(self, directory, params):
        def load(name):
            return torch.from_numpy(np.load(os.path.join(directory, name + ".npy")))[None]

        self.truth = load("truth")
        self.y_blur = load("y_blur")
        self.y_rl = load("y_rl")
        self.mask = load("mask")
        self.y_inpaint = load("y_inpaint")
        box = np.load(os.path.join(directory, "box13.npy"))
        gauss = np.load(os.path.join(directory, "gaussian.npy"))
        self.box = torch.from_numpy(box).reshape(1, 1, *box.shape).repeat(3, 1, 1, 1)
        self.gauss = torch.from_numpy(gauss).reshape(1, 1, *gauss.shape).repeat(3, 1, 1, 1)
        self.p = params

    # A x and A^T y: the study's conv2d / conv_transpose2d, zero boundary
    def blur(self, x):
        return F.conv2d(x, self.box, padding=self.box.shape[-1] // 2, groups=3)

    def blur_t(self, y):
        return F.conv_transpose2d(y, self.box, padding=self.box.shape[-1] // 2, groups=3)

    # the Gaussian denoiser: reflect padding + depthwise convolution
    def denoise(self, z):
        r = self.gauss.shape[-1] // 2
        return F.conv2d(F.pad(z, (r, r, r, r), mode="reflect"), self.gauss, groups=3)


def psnr(truth, x):
    mse = torch.mean((x.double() - truth.double()) ** 2).item()
    return 10.0 * math.log10(1.0 / mse)


def dot(a, b):
    return torch.sum(a * b).item()


# ----------------------------------------------------------------------------- the twins
def cg(apply_c, b, x, iterations):
    """xrestore::conjugate_gradient with tol 0: r = b - C x, then `iterations` steps (stopping
    early only on the same exact-zero / breakdown conditions)."""
    r = b - apply_c(x)
    rr = dot(r, r)
    if rr == 0.0:
        return x
    d = r.clone()
    for k in range(1, iterations + 1):
        z = apply_c(d)
        dz = dot(d, z)
        if dz == 0.0 or not math.isfinite(dz):
            return x
        alpha = rr / dz  # alpha = <r, r> / <d, C d>
        x = x + alpha * d
        r = r - alpha * z
        rr_next = dot(r, r)
        if rr_next == 0.0 or k == iterations:
            return x
        d = r + (rr_next / rr) * d  # d = r + beta d
        rr = rr_next
    return x


def twin_cg(P):
    eta = P.p["eta"]
    b = P.blur_t(P.y_blur)
    return cg(lambda v: P.blur_t(P.blur(v)) + eta * v, b, torch.zeros_like(b), P.p["iterations"])


def twin_landweber(P):
    s = P.p["step"]
    x = P.blur_t(P.y_blur)  # x_0 = A^T y
    r = P.blur(x) - P.y_blur
    for _ in range(P.p["iterations"]):
        x = x - s * P.blur_t(r)  # x = x - s A^T (A x - y)
        r = P.blur(x) - P.y_blur
    return x


def soft(v, t):
    return torch.sign(v) * torch.clamp(v.abs() - t, min=0.0)


def haar(x, levels):
    """Orthonormal multi-level 2-D Haar: returns (low-pass, [details per level])."""
    details = []
    a = x
    for _ in range(levels):
        a00, a01 = a[..., 0::2, 0::2], a[..., 0::2, 1::2]
        a10, a11 = a[..., 1::2, 0::2], a[..., 1::2, 1::2]
        details.append(torch.stack([(a00 - a01 + a10 - a11), (a00 + a01 - a10 - a11),
                                    (a00 - a01 - a10 + a11)]) * 0.5)
        a = (a00 + a01 + a10 + a11) * 0.5
    return a, details


def haar_inverse(a, details):
    for d in reversed(details):
        h, v, g = d[0], d[1], d[2]
        out = torch.empty(*a.shape[:-2], a.shape[-2] * 2, a.shape[-1] * 2, dtype=a.dtype)
        out[..., 0::2, 0::2] = (a + h + v + g) * 0.5
        out[..., 0::2, 1::2] = (a - h + v - g) * 0.5
        out[..., 1::2, 0::2] = (a + h - v - g) * 0.5
        out[..., 1::2, 1::2] = (a - h - v + g) * 0.5
        a = out
    return a


def fista(P, prox):
    s = P.p["step"]
    t = 1.0
    x = P.blur_t(P.y_blur)  # x_0 = A^T y
    z = x
    ax = P.blur(x)
    az = ax
    for _ in range(P.p["iterations"]):
        v = z - s * P.blur_t(az - P.y_blur)  # v = z - s A^T (A z - y)
        x_next = prox(v, s * P.p["fista_lambda"])
        ax_next = P.blur(x_next)
        t_next = 0.5 * (1.0 + math.sqrt(1.0 + 4.0 * t * t))
        beta = (t - 1.0) / t_next
        t = t_next
        z = x_next + beta * (x_next - x)  # z = x_k + beta (x_k - x_{k-1}), A z likewise
        az = ax_next + beta * (ax_next - ax)
        x, ax = x_next, ax_next
    return x


def twin_fista_l1_pixel(P):
    return fista(P, soft)


def twin_fista_haar(P):
    def prox(v, t):
        a, details = haar(v, 3)
        return haar_inverse(soft(a, t), [soft(d, t) for d in details])

    return fista(P, prox)


def grad(x):
    g = torch.zeros(2, *x.shape, dtype=x.dtype)
    g[0, ..., :-1, :] = x[..., 1:, :] - x[..., :-1, :]
    g[1, ..., :, :-1] = x[..., :, 1:] - x[..., :, :-1]
    return g


def grad_t(p):
    # D^T p = -div p
    out = torch.zeros(p.shape[1:], dtype=p.dtype)
    out[..., :-1, :] -= p[0, ..., :-1, :]
    out[..., 1:, :] += p[0, ..., :-1, :]
    out[..., :, :-1] -= p[1, ..., :, :-1]
    out[..., :, 1:] += p[1, ..., :, :-1]
    return out


def twin_tv_primal_dual(P):
    tau, sigma, lam = P.p["tv_tau"], P.p["tv_sigma"], P.p["tv_lambda"]
    y = P.y_blur
    x = P.blur_t(y)
    ax, dx = P.blur(x), grad(x)
    ax_bar, dx_bar = ax, dx
    q = torch.zeros_like(y)
    p = torch.zeros_like(dx)
    for _ in range(P.p["iterations"]):
        q = (q + sigma * (ax_bar - y)) / (1.0 + sigma)
        p = p + sigma * dx_bar
        p = p / torch.clamp(torch.sqrt(p[0] ** 2 + p[1] ** 2) / lam, min=1.0)  # |p_ij| <= lam
        x = x - tau * (P.blur_t(q) + grad_t(p))
        ax_next, dx_next = P.blur(x), grad(x)
        ax_bar, dx_bar = 2.0 * ax_next - ax, 2.0 * dx_next - dx  # K x_bar = 2 K x_new - K x
        ax, dx = ax_next, dx_next
    return x


def pnp_admm(P, forward, adjoint, y):
    eta = P.p["eta"]
    aty = adjoint(y)
    x = torch.zeros_like(aty)
    u = torch.zeros_like(aty)
    v = torch.zeros_like(aty)
    for _ in range(P.p["iterations"]):
        # x = (A^T A + eta I)^{-1} (A^T y + eta (v - u)), CG warm-started from x
        x = cg(lambda w: adjoint(forward(w)) + eta * w, aty + eta * (v - u), x, P.p["inner_cg"])
        v = P.denoise(x + u)
        u = u + (x - v)
    return torch.clamp(x, 0.0, 1.0)


def twin_pnp_admm(P):
    return pnp_admm(P, P.blur, P.blur_t, P.y_blur)


def twin_pnp_admm_inpainting(P):
    masked = lambda w: P.mask * w
    return pnp_admm(P, masked, masked, P.y_inpaint)


def twin_red_gradient_descent(P):
    lam, s = P.p["red_lambda"], P.p["step"]
    x = P.blur_t(P.y_blur)
    for _ in range(P.p["iterations"]):
        # x = x - s (A^T (A x - y) + lambda (x - D(x)))
        x = x - s * (P.blur_t(P.blur(x) - P.y_blur) + lam * (x - P.denoise(x)))
    return torch.clamp(x, 0.0, 1.0)


def twin_richardson_lucy(P):
    y = P.y_rl
    n = P.blur_t(torch.ones_like(y))  # A^T 1
    x = torch.full_like(n, y.double().sum().item() / n.double().sum().item())
    ax = P.blur(x)
    observed = n > 0
    for _ in range(P.p["iterations"]):
        ratio = torch.where(y > 0, y / torch.clamp(ax, min=1e-12), torch.zeros_like(y))
        c = P.blur_t(ratio)
        x = torch.where(observed, torch.clamp(x * c / n, min=0.0), x)  # x = x A^T(y/Ax) / A^T 1
        ax = P.blur(x)
    return x


TWINS = {
    "cg": ("CG on A^T A + eta I", twin_cg),
    "landweber": ("Landweber (gradient_descent)", twin_landweber),
    "fista_l1_pixel": ("FISTA, pixel L1", twin_fista_l1_pixel),
    "fista_haar": ("FISTA, Haar L1 (3 levels)", twin_fista_haar),
    "tv_primal_dual": ("TV primal-dual (Chambolle-Pock)", twin_tv_primal_dual),
    "pnp_admm": ("PnP-ADMM, Gaussian denoiser, CG 10", twin_pnp_admm),
    "red_gradient_descent": ("RED gradient descent, Gaussian denoiser", twin_red_gradient_descent),
    "richardson_lucy": ("Richardson-Lucy", twin_richardson_lucy),
    "pnp_admm_inpainting": ("PnP-ADMM, 60 % inpainting, CG 10", twin_pnp_admm_inpainting),
}


# ----------------------------------------------------------------------------- the runs
def dump_problem(binary, directory):
    out = subprocess.run([binary, f"--dump_dir={directory}"], check=True, capture_output=True,
                         text=True).stdout.split()
    params = {out[i]: float(out[i + 1]) for i in range(0, len(out), 2)}
    params["iterations"] = int(params["iterations"])
    params["inner_cg"] = int(params["inner_cg"])
    return params


def run_xrestore(binary, threads, min_time, repetitions):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads))
    command = [binary, "--benchmark_format=json", f"--benchmark_min_time={min_time}",
               f"--benchmark_repetitions={repetitions}", "--benchmark_report_aggregates_only=true"]
    result = subprocess.run(command, env=env, check=True, capture_output=True, text=True)
    times, psnrs = {}, {}
    for entry in json.loads(result.stdout)["benchmarks"]:
        if repetitions > 1 and entry.get("aggregate_name") != "median":
            continue
        name = entry["run_name"].split("/")[1]  # solver/<name>/<iterations>
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[entry["time_unit"]]
        times[name] = entry["real_time"] * scale
        psnrs[name] = entry["psnr"]
    return times, psnrs


def median_time(function, repeats):
    """Median wall time (ms) of `repeats` calls after a warm-up call, and the warm-up's output."""
    output = function()
    samples = []
    for _ in range(repeats):
        t = time.perf_counter()
        function()
        samples.append(time.perf_counter() - t)
    return statistics.median(samples) * 1e3, output


def run_pytorch(P, threads, repeats):
    torch.set_num_threads(threads)
    times, psnrs = {}, {}
    with torch.no_grad():
        for name, (_, twin) in TWINS.items():
            times[name], output = median_time(lambda: twin(P), repeats)
            psnrs[name] = psnr(P.truth, output)
    return times, psnrs


def best(a, b):
    return {key: min(a.get(key, math.inf), b.get(key, math.inf)) for key in set(a) | set(b)}


def table(P, xr, pt, xr_psnr, pt_psnr):
    lines = ["| solver | iterations | xrestore (ms) | PyTorch (ms) | ratio | "
             "PSNR xrestore (dB) | PSNR PyTorch (dB) |",
             "|---|---:|---:|---:|---:|---:|---:|"]
    for name, (label, _) in TWINS.items():
        x, p = xr.get(name), pt.get(name)
        if x is None or p is None:
            continue
        lines.append(f"| {label} | {P.p['iterations']} | {x:.1f} | {p:.1f} | {p / x:.2f} | "
                     f"{xr_psnr[name]:.2f} | {pt_psnr[name]:.2f} |")
    return "\n".join(lines)


def write_readme(path, text):
    write_between_markers(path, BEGIN, END, text)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench_solvers", help="path of the bench_solvers binary")
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rounds", type=int, default=1, help="alternating runs of both sides")
    parser.add_argument("--repeats", type=int, default=3,
                        help="PyTorch timed calls per case (after a warm-up)")
    parser.add_argument("--min-time", type=float, default=0.5, help="Google Benchmark min time")
    parser.add_argument("--repetitions", type=int, default=3, help="Google Benchmark repetitions")
    parser.add_argument("--filter", default="", help="only the solvers whose name contains this")
    parser.add_argument("--note", default="", help="a line printed under the table")
    parser.add_argument("--write-readme", metavar="README", help="update the table in this file")
    args = parser.parse_args()

    if args.filter:
        for name in [n for n in TWINS if args.filter not in n]:
            del TWINS[name]
    with tempfile.TemporaryDirectory() as directory:
        params = dump_problem(args.bench_solvers, directory)
        P = Problem(directory, params)
    xr, pt, xr_psnr, pt_psnr = {}, {}, {}, {}
    for _ in range(args.rounds):
        times, xr_psnr = run_xrestore(args.bench_solvers, args.threads, args.min_time,
                                      args.repetitions)
        xr = best(xr, {k: v for k, v in times.items() if k in TWINS})
        times, pt_psnr = run_pytorch(P, args.threads, args.repeats)
        pt = best(pt, times)

    text = table(P, xr, pt, xr_psnr, pt_psnr)
    load = os.getloadavg()
    text += (f"\n\n{args.threads} threads on each side, torch {torch.__version__}; "
             f"load average {load[0]:.1f} at the end of the run.")
    if args.note:
        text += " " + args.note
    print(text)
    if args.write_readme:
        write_readme(args.write_readme, text)


if __name__ == "__main__":
    main()
