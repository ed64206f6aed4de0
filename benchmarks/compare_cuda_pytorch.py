#!/usr/bin/python3
"""The CUDA backend against PyTorch CUDA on the same GPU: run bench_cuda, time the same workloads
in PyTorch, print one table (and optionally put it in benchmarks/README.md).

    python3 benchmarks/compare_cuda_pytorch.py [--bench build/benchmarks/bench_cuda]
        [--sizes 256,512,1024,2048] [--pnp-sizes 512,1024] [--pnp-iters 100]
        [--write-readme benchmarks/README.md]

Workloads (3 x N x N images tiled from the bundled butterfly, as bench_cuda makes them):
  blur9 gauss reflect  Gaussian 9 x 9 (sigma 1.6), reflect boundary, apply + adjoint; PyTorch:
                       F.pad(reflect) + depthwise conv2d, the adjoint by autograd (what a PyTorch
                       user runs)
  blur17 box zero      box 17 x 17, zero boundary: conv2d + conv_transpose2d (groups = 3)
  ssim                 scikit-image's Gaussian preset (11 x 11 window, sigma 1.5, valid region)
  unet                 the shipped U-Net as a residual denoiser, one call, float32 convolutions
                       (PyTorch: cudnn.benchmark on, cudnn.allow_tf32 off)
  unet tf32            the same with TF32 tensor cores allowed (PyTorch's default for
                       convolutions; xrestore: unet_options::allow_tf32)
  pnp_admm             --pnp-iters PnP-ADMM iterations (box 13 x 13 zero blur, eta 1e-4, CG
                       tol 1e-6, the U-Net): the loop of compare_pnp_pytorch.py on CUDA tensors,
                       at the --pnp-sizes only (float32 convolutions on both sides)
Device times are CUDA-event times, median of --reps runs after a warm-up. PyTorch's columns are
left empty (with the reason) when torch or its CUDA runtime is not there. ratio = PyTorch ms /
xrestore ms: above 1, xrestore is faster.
"""
import argparse
import datetime
import json
import os
import statistics
import subprocess
import sys
import tempfile

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "dev"))
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))

from bench_support import write_between_markers  # noqa: E402

BEGIN = "<!-- gpu-table-begin -->"
END = "<!-- gpu-table-end -->"
WEIGHTS = os.path.join(ROOT, "models", "denoiser_unet_c32.pth")


def host_cpu():
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def torch_or_reason():
    try:
        import torch
    except ImportError as e:
        return None, f"no torch ({e})"
    if not torch.cuda.is_available():
        return None, f"torch {torch.__version__} sees no CUDA device"
    return torch, None


def test_image(torch, inputs, n):
    """The 3 x n x n input bench_cuda used (its --dump-inputs file), on the GPU."""
    import numpy as np
    return torch.from_numpy(np.load(os.path.join(inputs, f"input_{n}.npy"))).unsqueeze(0).cuda()


def cuda_ms(torch, reps, f):
    f()
    torch.cuda.synchronize()
    samples = []
    for _ in range(reps):
        start = torch.cuda.Event(enable_timing=True)
        stop = torch.cuda.Event(enable_timing=True)
        start.record()
        f()
        stop.record()
        stop.synchronize()
        samples.append(start.elapsed_time(stop))
    return statistics.median(samples)


def gaussian_window(torch, size, sigma):
    r = torch.arange(size, dtype=torch.float64) - (size - 1) / 2
    g = torch.exp(-r * r / (2 * sigma * sigma))
    return (g / g.sum()).float()


def inference(torch, f):
    with torch.inference_mode():
        return f()


def report(times, n):
    print(f"pytorch {n}: " + ", ".join(f"{k[0]} {v:.3f} ms" for k, v in times.items()
                                       if k[1] == n), flush=True)


def torch_times(torch, inputs, sizes, pnp_sizes, reps, pnp_iters):
    import torch.nn.functional as F
    import compare_pnp_pytorch as pnp
    unet_class, _ = pnp.unet_class()
    times = {}
    torch.backends.cudnn.benchmark = True
    torch.backends.cuda.matmul.allow_tf32 = False
    # no_grad around it all (the blur's adjoint needs autograd inside, which inference tensors
    # would refuse); the network and the PnP-ADMM loop in inference mode, as a user runs them
    with torch.no_grad():
        model = unet_class(3, 3, pnp.CHANS, pnp.POOLS)
        model.load_state_dict(torch.load(WEIGHTS, map_location="cpu"), strict=True)
        model = model.cuda().eval()
        for n in sizes:
            x = test_image(torch, inputs, n)
            g = gaussian_window(torch, 9, 1.6)
            k9 = torch.outer(g, g).expand(3, 1, 9, 9).contiguous().cuda()
            k17 = torch.full((3, 1, 17, 17), 1.0 / 289, device="cuda")

            def blur9():
                with torch.enable_grad():
                    v = x.detach().requires_grad_(True)
                    y = F.conv2d(F.pad(v, (4, 4, 4, 4), mode="reflect"), k9, groups=3)
                    (grad,) = torch.autograd.grad(y, v, y)  # A^T (A x)
                return grad

            def blur17():
                y = F.conv2d(x, k17, padding=8, groups=3)
                return F.conv_transpose2d(y, k17, padding=8, groups=3)

            w = gaussian_window(torch, 11, 1.5)
            k11 = torch.outer(w, w).expand(3, 1, 11, 11).contiguous().cuda()
            other = torch.flip(x, dims=(3,))

            def ssim():
                # scikit-image, gaussian_weights=True, sigma 1.5, use_sample_covariance=False
                c1, c2 = (0.01) ** 2, (0.03) ** 2
                f = lambda t: F.conv2d(t, k11, groups=3)  # noqa: E731  (valid region)
                mx, my = f(x), f(other)
                sxx = f(x * x) - mx * mx
                syy = f(other * other) - my * my
                sxy = f(x * other) - mx * my
                s = ((2 * mx * my + c1) * (2 * sxy + c2)) / \
                    ((mx * mx + my * my + c1) * (sxx + syy + c2))
                return s.double().mean().item()

            times[("blur9 gauss reflect", n)] = cuda_ms(torch, reps, blur9)
            times[("blur17 box zero", n)] = cuda_ms(torch, reps, blur17)
            times[("ssim", n)] = cuda_ms(torch, reps, ssim)
            # cuDNN autotuned (what a user after speed sets); float32 convolutions as ours by
            # default, then with TF32 tensor cores (PyTorch's own default for convolutions)
            torch.backends.cudnn.allow_tf32 = False
            times[("unet", n)] = cuda_ms(torch, max(3, reps // 10),
                                         lambda: inference(torch, lambda: pnp.denoise(model, x)))
            torch.backends.cudnn.allow_tf32 = True
            times[("unet tf32", n)] = cuda_ms(
                torch, max(3, reps // 10), lambda: inference(torch, lambda: pnp.denoise(model, x)))
            torch.backends.cudnn.allow_tf32 = False

            if n not in pnp_sizes:
                report(times, n)
                continue
            kernel = torch.full((3, 1, 13, 13), 1.0 / 169, device="cuda")
            forward = lambda v: F.conv2d(v, kernel, padding=6, groups=3)  # noqa: E731
            adjoint = lambda v: F.conv_transpose2d(v, kernel, padding=6, groups=3)  # noqa: E731
            y = forward(x)

            def pnp_admm():
                aty = adjoint(y)
                xk = torch.zeros_like(aty)
                u = torch.zeros_like(aty)
                v = torch.zeros_like(aty)
                normal = lambda t: adjoint(forward(t)).add_(t, alpha=pnp.ETA)  # noqa: E731
                for _ in range(pnp_iters):
                    xk, _ = pnp.cg(normal, aty + pnp.ETA * (v - u), xk)
                    v = pnp.denoise(model, xk + u)
                    u = u + (xk - v)
                return xk

            times[("pnp_admm", n)] = cuda_ms(torch, 1, lambda: inference(torch, pnp_admm))
            report(times, n)
    return times


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", default=os.path.join(ROOT, "build", "benchmarks", "bench_cuda"))
    parser.add_argument("--sizes", default="256,512,1024,2048")
    parser.add_argument("--pnp-sizes", default="512,1024",
                        help="the sizes (among --sizes) at which PnP-ADMM runs")
    parser.add_argument("--pnp-iters", type=int, default=100)
    parser.add_argument("--reps", type=int, default=50)
    parser.add_argument("--json", default="bench_cuda.json")
    parser.add_argument("--write-readme", metavar="README")
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    pnp_sizes = [int(s) for s in args.pnp_sizes.split(",")]
    if not set(pnp_sizes) <= set(sizes):
        parser.error(f"--pnp-sizes {args.pnp_sizes} must be among --sizes {args.sizes}")

    inputs = tempfile.mkdtemp(prefix="bench_cuda_")
    run = subprocess.run([args.bench, "--sizes", args.sizes, "--pnp-sizes", args.pnp_sizes,
                          "--pnp-iters", str(args.pnp_iters),
                          "--reps", str(args.reps), "--json", args.json, "--dump-inputs", inputs])
    if run.returncode == 77:
        sys.exit("bench_cuda found no usable CUDA device: nothing to compare")
    if run.returncode != 0:
        sys.exit(f"bench_cuda failed ({run.returncode})")
    with open(args.json, encoding="utf-8") as f:
        ours = json.load(f)

    torch, reason = torch_or_reason()
    theirs = {}
    if torch is not None:
        try:
            theirs = torch_times(torch, inputs, sizes, pnp_sizes, args.reps, args.pnp_iters)
        except Exception as e:  # report, keep xrestore's numbers
            reason = f"PyTorch run failed: {e}"
    lines = ["| workload | size | xrestore CUDA ms | PyTorch CUDA ms | PyTorch / xrestore | "
             "xrestore CPU ms | CPU / CUDA | note |", "|---|---|---|---|---|---|---|---|"]
    for r in ours["rows"]:
        key = (r["name"], r["size"])
        torch_ms = theirs.get(key)
        lines.append(f"| {r['name']} | 3 x {r['size']} x {r['size']} | {r['device_ms']:.3f} | "
                     + (f"{torch_ms:.3f} | {torch_ms / r['device_ms']:.2f}x" if torch_ms
                        else "n/a | n/a")
                     + f" | {r['cpu_ms']:.1f} | {r['cpu_ms'] / r['device_ms']:.1f}x"
                     + f" | {r['note']} |")
    device = ours.get("device", "the GPU")
    torch_text = (f" PyTorch: {reason}." if reason else
                  f" PyTorch {torch.__version__} (CUDA {torch.version.cuda}, cuDNN "
                  f"{torch.backends.cudnn.version()}).")
    text = (f"Measured {datetime.date.today().isoformat()} on {device}, host CPU {host_cpu()} "
            f"({os.cpu_count()} logical cores).{torch_text}\n\n" + "\n".join(lines))
    print(text)
    if args.write_readme:
        write_between_markers(args.write_readme, BEGIN, END, text)


if __name__ == "__main__":
    main()
