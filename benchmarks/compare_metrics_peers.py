#!/usr/bin/python3
"""Time xrestore's SSIM, MS-SSIM, GMSD and PSNR against the fastest other tools for the same
measures (scikit-image / numpy, piq, OpenCV's quality module) and write the table into
benchmarks/README.md (between <!-- metrics-peers-begin --> and <!-- metrics-peers-end -->).

Usage (Debian's python: numpy, scipy, scikit-image 0.19, OpenCV 4.6 with cv2.quality):

    /usr/bin/python3 benchmarks/compare_metrics_peers.py BUILD/benchmarks/bench_metrics \
        [--rounds 3] [--repeats 7] [--threads 2] [--no-readme | --write-readme README] \
        [--piq-python VENV/bin/python] [--cli BUILD/bin/xrestore]

The bench binary (Google Benchmark, benchmarks/bench_metrics.cpp) runs with OMP_NUM_THREADS=1
and with --threads; the peers run in subprocesses of their interpreters (this script with
--peer NAME, printing JSON) on the image pairs of compare_metrics_skimage.py (float32
3 x H x W, H = W = 256 and 512), written as .npy to a temporary folder that every peer and the
xrestore CLI read. Each case is the median of --repeats calls after one warm-up; the rounds
alternate xrestore and the peers and each case keeps its best median (shared machines are noisy).
  scikit-image / numpy  the peers of compare_metrics_skimage.py (one thread: they have no other)
  piq       piq.ssim (downsample=False; the uniform 7 x 7 row: kernel_size=7, kernel_sigma=1e4,
            a uniform window in float32), piq.multi_scale_ssim, piq.gmsd, piq.psnr on float32
            1 x 3 x H x W tensors in [0, 1], data_range=1.0, under torch.inference_mode(),
            torch.set_num_threads(1) and (--threads)
  OpenCV    cv2.quality.QualitySSIM_compute (Gaussian 11 x 11 only: the Gaussian row) and
            QualityGMSD_compute on H x W x 3 float32 images scaled to [0, 255] (their constants
            C1, C2 and T assume that range; layout and scale are set outside the timing), GMSD
            on the cv2.cvtColor luminance (inside the timing) and per channel,
            QualityPSNR_compute(maxPixelValue=1) and cv2.PSNR(R=1) on the [0, 1] image;
            cv2.setNumThreads(1) and (--threads), OpenCL off
Each peer also reports the value it computed; the xrestore values come from
`xrestore metrics --json` on the same .npy files (--cli; default BUILD/bin/xrestore, else
build-unity/bin/xrestore). The ratio is the fastest peer's time
/ xrestore's time at the same thread count (higher: xrestore faster).
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
README = os.path.join(HERE, "README.md")
BEGIN = "<!-- metrics-peers-begin -->"
END = "<!-- metrics-peers-end -->"
TAG = "peer-result "  # prefix of a peer's JSON line (some packages print on import)
METRICS = ("ssim_uniform", "ssim_gaussian", "ms_ssim", "gmsd", "psnr")
CLI_KEYS = {"ssim_uniform": "ssim_uniform7", "ssim_gaussian": "ssim", "ms_ssim": "ms_ssim",
            "gmsd": "gmsd", "psnr": "psnr"}

sys.path.insert(0, HERE)
import bench_support  # noqa: E402
from compare_iqa import (PeerUnavailable, median_ms, run_peer,  # noqa: E402  (no numpy at import)
                         wrap)

# Where a peer's definition differs from xrestore's (keyed by the note's short name).
NOTES = {
    "piq-cov": "piq.ssim has no sample-covariance option: it divides the window's variances "
               "by N (49), xrestore's default uniform SSIM (like scikit-image's) by N - 1 (48).",
    "cv-ssim": "QualitySSIM scores the whole image (GaussianBlur's reflected border) instead of "
               "dropping the 5-pixel margin that the 11 x 11 window overlaps (scikit-image, "
               "piq and xrestore); per-channel mean.",
    "std-n": "The standard deviation of the GMS map divides by N (piq, OpenCV's meanStdDev), "
             "GMSD.m and xrestore's by N - 1: a relative difference of about 1 / (2N), N = "
             "H x W / 4.",
    "cv-gmsd-rgb": "On a 3-channel image QualityGMSD scores each channel on its own (the "
                   "value is their mean); GMSD (and xrestore) scores the BT.601 luminance.",
    "piq-eps": "piq.psnr adds 1e-8 to the MSE.",
}


# ----------------------------------------------------------------------------- the peers
# Each returns {case: [(function name, callable returning the value, note or None), ...]}
# for the pairs {side: (x, y)} (x the reference); they run in the peer's own interpreter.


def peer_skimage(pairs, threads):
    import compare_metrics_skimage as base
    import numpy as np
    import skimage
    rows = {}
    for key, (name, fn) in base.peers().items():
        label = (f"{name.replace('skimage ', 'skimage.metrics.')} (scikit-image "
                 f"{skimage.__version__})" if name.startswith("skimage")
                 else f"make_metrics_golden.py reference (numpy {np.__version__})")
        for side, (x, y) in pairs.items():
            rows[f"{key}/{side}"] = [(label, lambda fn=fn, x=x, y=y: float(fn(x, y)), None)]
    return rows


def peer_piq(pairs, threads):
    import piq
    import torch
    torch.set_num_threads(threads)
    fns = {
        "ssim_uniform": ("piq.ssim(kernel_size=7, kernel_sigma=1e4, downsample=False)",
                         lambda a, b: piq.ssim(a, b, kernel_size=7, kernel_sigma=1e4,
                                               data_range=1.0, downsample=False), "piq-cov"),
        "ssim_gaussian": ("piq.ssim(downsample=False)",
                          lambda a, b: piq.ssim(a, b, data_range=1.0, downsample=False), None),
        "ms_ssim": ("piq.multi_scale_ssim",
                    lambda a, b: piq.multi_scale_ssim(a, b, data_range=1.0), None),
        "gmsd": ("piq.gmsd", lambda a, b: piq.gmsd(a, b, data_range=1.0), "std-n"),
        "psnr": ("piq.psnr", lambda a, b: piq.psnr(a, b, data_range=1.0), "piq-eps"),
    }
    version = f"(piq {piq.__version__}, torch {torch.__version__.split('+')[0]})"
    rows = {}
    for side, (x, y) in pairs.items():
        ref_t, dist_t = torch.from_numpy(x)[None], torch.from_numpy(y)[None]
        for key, (name, fn, note) in fns.items():
            def score(fn=fn, a=dist_t, b=ref_t):
                with torch.inference_mode():
                    return float(fn(a, b))
            rows[f"{key}/{side}"] = [(f"{name} {version}", score, note)]
    return rows


def peer_opencv(pairs, threads):
    import cv2
    import numpy as np
    cv2.setNumThreads(threads)
    cv2.ocl.setUseOpenCL(False)
    quality = cv2.quality
    version = f"(OpenCV {cv2.__version__})"
    rows = {}
    for side, (x, y) in pairs.items():
        x1, y1 = (np.ascontiguousarray(a.transpose(1, 2, 0)) for a in (x, y))  # H x W x 3
        x255, y255 = x1 * np.float32(255), y1 * np.float32(255)

        def ssim(a=x255, b=y255):
            return float(np.mean(quality.QualitySSIM_compute(a, b)[0][:3]))

        def gmsd_luminance(a=x255, b=y255):
            gray = [cv2.cvtColor(m, cv2.COLOR_RGB2GRAY) for m in (a, b)]
            return float(quality.QualityGMSD_compute(gray[0], gray[1])[0][0])

        def gmsd_channels(a=x255, b=y255):
            return float(np.mean(quality.QualityGMSD_compute(a, b)[0][:3]))

        def psnr_quality(a=x1, b=y1):
            # per-channel PSNRs -> the image's PSNR (the mean of the channels' MSEs)
            values = np.array(quality.QualityPSNR_compute(a, b, maxPixelValue=1.0)[0][:3])
            return float(-10 * np.log10(np.mean(10 ** (-values / 10))))

        def psnr_core(a=x1, b=y1):
            return float(cv2.PSNR(a, b, 1.0))
        rows[f"ssim_gaussian/{side}"] = [(f"cv2.quality.QualitySSIM_compute {version}", ssim,
                                          "cv-ssim")]
        rows[f"gmsd/{side}"] = [
            (f"cv2.cvtColor + cv2.quality.QualityGMSD_compute {version}", gmsd_luminance,
             "std-n"),
            (f"cv2.quality.QualityGMSD_compute per channel {version}", gmsd_channels,
             "cv-gmsd-rgb")]
        rows[f"psnr/{side}"] = [
            (f"cv2.quality.QualityPSNR_compute {version}", psnr_quality, None),
            (f"cv2.PSNR {version}", psnr_core, None)]
    return rows


PEERS = {"skimage": peer_skimage, "piq": peer_piq, "opencv": peer_opencv}
PEER_NAMES = {"skimage": "scikit-image / numpy", "piq": "piq", "opencv": "OpenCV"}


def peer_main(name, image_dir, repeats, threads):
    """In the peer's interpreter: time its cases, print one JSON line."""
    try:
        import numpy as np
        pairs = {}
        for file in sorted(os.listdir(image_dir)):
            if file.startswith("reference-"):
                side = int(file[len("reference-"):-len(".npy")])
                pairs[side] = (np.load(os.path.join(image_dir, file)),
                               np.load(os.path.join(image_dir, f"distorted-{side}.npy")))
        result = {}
        for case, candidates in PEERS[name](pairs, threads).items():
            result[case] = [{"name": label, "ms": median_ms(fn, repeats), "value": fn(),
                             "note": note} for label, fn, note in candidates]
    except ImportError as e:
        result = {"error": f"{e.name} not importable in {sys.executable}" if e.name else str(e)}
    except PeerUnavailable as e:
        result = {"error": str(e)}
    print(TAG + json.dumps(result))
    return 0


def cli_values(cli, image_dir, side):
    """{metric: value} of `xrestore metrics --json` on the pair, or {"error": reason}."""
    if not (os.path.isfile(cli) and os.access(cli, os.X_OK)):
        return {"error": f"no xrestore CLI at {cli}"}
    result = subprocess.run([cli, "metrics", "--ref",
                             os.path.join(image_dir, f"reference-{side}.npy"), "--img",
                             os.path.join(image_dir, f"distorted-{side}.npy"), "--json"],
                            capture_output=True, text=True, check=False)
    if result.returncode != 0:
        return {"error": f"{cli} metrics failed (exit {result.returncode})"}
    out = json.loads(result.stdout)
    return {key: out.get(cli_key) for key, cli_key in CLI_KEYS.items()}


def fastest(entries):
    """The fastest candidate of a list (None if empty)."""
    return min(entries, key=lambda e: e["ms"]) if entries else None


def fmt_value(v):
    return "n/a" if v is None else f"{v:.6g}"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench", nargs="?", help="path to the bench_metrics binary")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate xrestore and the peers this many times, keep the best")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads of the second columns (xrestore, piq, OpenCV)")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter of the scikit-image and OpenCV peers")
    parser.add_argument("--piq-python", default=os.environ.get("PIQ_PYTHON", sys.executable))
    parser.add_argument("--cli", help="xrestore CLI giving xrestore's values (`metrics "
                        "--json`; default: BUILD/bin/xrestore next to the bench binary, else "
                        "build-unity/bin/xrestore)")
    group = parser.add_mutually_exclusive_group()
    group.add_argument("--no-readme", action="store_true", help="only print the tables")
    group.add_argument("--write-readme", metavar="README", default=README,
                       help="file whose markers receive the tables (default: %(default)s)")
    parser.add_argument("--peer", choices=sorted(PEERS), help=argparse.SUPPRESS)
    parser.add_argument("--images", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        return peer_main(args.peer, args.images, args.repeats, args.threads)
    if args.bench is None:
        parser.error("the path to bench_metrics is required")
    if args.cli is None:
        build = os.path.dirname(os.path.dirname(os.path.abspath(args.bench)))
        args.cli = os.path.join(build, "bin", "xrestore")
        if not os.path.isfile(args.cli):
            args.cli = os.path.join(ROOT, "build-unity", "bin", "xrestore")

    import numpy as np

    import compare_metrics_skimage as base
    pythons = {"skimage": args.python, "piq": args.piq_python, "opencv": args.python}
    # (peer, threads) runs; scikit-image and numpy have no threads: one run serves both columns
    runs = [("skimage", 1), ("piq", 1), ("piq", args.threads), ("opencv", 1),
            ("opencv", args.threads)]
    one, many, values, errors = {}, {}, {}, {}
    peer = {}  # (peer, threads) -> case -> {function name: best entry}
    with tempfile.TemporaryDirectory(prefix="xrestore-metrics-") as image_dir:
        for side in base.SIZES:
            x, y = base.image_pair(side)
            np.save(os.path.join(image_dir, f"reference-{side}.npy"), x)
            np.save(os.path.join(image_dir, f"distorted-{side}.npy"), y)
            values[side] = cli_values(args.cli, image_dir, side)
        for _ in range(args.rounds):
            for name, ms in base.run_bench(args.bench, 1).items():
                one[name] = min(ms, one.get(name, float("inf")))
            for name, ms in base.run_bench(args.bench, args.threads).items():
                many[name] = min(ms, many.get(name, float("inf")))
            for key, threads in runs:
                result = run_peer(pythons[key], key, image_dir, args.repeats, threads, __file__)
                if "error" in result:
                    errors.setdefault(key, result["error"])
                    continue
                for case, entries in result.items():
                    best = peer.setdefault((key, threads), {}).setdefault(case, {})
                    for e in entries:
                        if e["name"] not in best or e["ms"] < best[e["name"]]["ms"]:
                            best[e["name"]] = e

    def entries(key, threads, case):
        return list(peer.get((key, threads), {}).get(case, {}).values())

    notes = []  # the note keys in order of first use

    def mark(note):
        if note is None:
            return ""
        if note not in notes:
            notes.append(note)
        return f" ({notes.index(note) + 1})"

    t = args.threads
    header = (f"| metric | image | xrestore, 1 / {t} threads (ms) | scikit-image / numpy (ms) "
              f"| piq, 1 / {t} threads (ms) | OpenCV, 1 / {t} threads (ms) "
              f"| fastest peer / xrestore, 1 thread | fastest peer / xrestore, {t} threads |\n"
              "|---|---|---:|---:|---:|---:|---|---|\n")
    body = ""
    for key in METRICS:
        for side in base.SIZES:
            case = f"{key}/{side}"
            a, b = one[case], many[case]
            cells, best = [], {1: None, t: None}
            for name in PEERS:
                times = []
                for threads in ((1,) if name == "skimage" else (1, t)):
                    e = fastest(entries(name, threads, case))
                    times.append("—" if e is None else f"{e['ms']:.2f}")
                    for col in ((1, t) if name == "skimage" else (threads,)):
                        if e is not None and (best[col] is None or e["ms"] < best[col][1]["ms"]):
                            best[col] = (name, e)
                cells.append(" / ".join(times))
            ratios = []
            for col, xr in ((1, a), (t, b)):
                if best[col] is None:
                    ratios.append("—")
                    continue
                name, e = best[col]
                ratios.append(f"{e['ms'] / xr:.1f}x, {PEER_NAMES[name]}{mark(e['note'])}")
            body += (f"| {base.LABELS[key]} | 3 x {side} x {side} | {a:.2f} / {b:.2f} | "
                     + " | ".join(cells) + " | " + " | ".join(ratios) + " |\n")
    times_table = header + body

    # The values: each tool's function and value on the larger pair (the other on stdout).
    def values_table(side):
        text = (f"| metric (3 x {side} x {side}) | xrestore | scikit-image / numpy | piq "
                "| OpenCV |\n|---|---:|---|---|---|\n")
        for key in METRICS:
            case = f"{key}/{side}"
            xr = values[side].get(key)
            cells = []
            for name in PEERS:
                found = entries(name, 1, case)
                cells.append("; ".join(f"{fmt_value(e['value'])} `{e['name'].split(' (')[0]}`"
                                         f"{mark(e['note'])}" for e in found) or "—")
            text += f"| {base.LABELS[key]} | {fmt_value(xr)} | " + " | ".join(cells) + " |\n"
        return text
    big = max(base.SIZES)
    tables = {side: values_table(side) for side in base.SIZES}
    footnotes = "\n\n".join(wrap(f"({i + 1}) {NOTES[n]}") for i, n in enumerate(notes))

    cpu, cores = bench_support.machine()
    load = os.getloadavg()[0]
    versions = sorted({e["name"].split(" (", 1)[1].rstrip(")")
                       for per in peer.values() for case in per.values() for e in case.values()
                       if " (" in e["name"]})
    xr_source = (f"`{os.path.relpath(args.cli, ROOT)} metrics --json` on the same .npy pairs"
                 if "error" not in values[big] else f"not computed: {values[big]['error']}")
    note = (f"Measured {datetime.date.today().isoformat()} on {cpu} ({cores} cores, load "
            f"average {load:.1f} at the end); {', '.join(versions)}. xrestore: Google Benchmark "
            "median of 5 repetitions (wall time); peers: median of "
            f"{args.repeats} calls after a warm-up; best of {args.rounds} alternating rounds. "
            "Each peer cell is the fastest of its functions; the ratio is the fastest peer's "
            "time / xrestore's time at the same thread count (> 1: xrestore faster), "
            "scikit-image and numpy (one thread) counting in both columns; — : the tool has no "
            "such measure (OpenCV: no uniform-window SSIM, no MS-SSIM). xrestore's values: "
            f"{xr_source}. Reproduce with `/usr/bin/python3 benchmarks/compare_metrics_peers.py "
            "BUILD/benchmarks/bench_metrics`.")
    missing = [f"{PEER_NAMES[k]}: {reason}" for k, reason in errors.items()]
    if missing:
        note += " Not measured: " + "; ".join(missing) + "."
    section = f"{times_table}\n{tables[big]}\n{footnotes}\n\n{wrap(note)}"
    print(times_table)
    for side in base.SIZES:
        print(tables[side])
    print(footnotes + "\n")
    print(wrap(note))
    for line in missing:
        print(f"not measured: {line}")
    if args.no_readme:
        return 0
    bench_support.write_between_markers(args.write_readme, BEGIN, END, section)
    print(f"updated {os.path.relpath(args.write_readme, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
