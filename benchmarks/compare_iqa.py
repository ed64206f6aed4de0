#!/usr/bin/python3
"""Time xrestore's BRISQUE, NIQE, FSIM, VIFp and PSNR-HVS(-M) against their reference
implementations in one run and write the table into benchmarks/README.md (between
<!-- iqa-table-begin --> and <!-- iqa-table-end -->).

Usage (Debian's python: numpy, scipy, PIL, OpenCV 4.6 with cv2.quality):

    /usr/bin/python3 benchmarks/compare_iqa.py BUILD/benchmarks/bench_iqa \
        [--repeats 7] [--rounds 3] [--no-readme] [--piq-python /work/venv-torch/bin/python] \
        [--hvs-python /work/venv-hvs/bin/python] [--pyiqa-python /work/venv-pyiqa/bin/python]

The image pair: data/images/squirrel.png (535 x 426) on a 512 x 512 canvas (columns cut, rows
mirrored, as bench_iqa.cpp does it) as the reference, and that plus Gaussian noise of sigma
0.05 (numpy default_rng(0)), clipped to [0, 1], as the distorted image; both float32
3 x 512 x 512, written as .npy to a temporary folder that bench_iqa (XRESTORE_IQA_BENCH_DIR) and
every peer read, so all score the same pixels. BRISQUE and NIQE score the distorted image.

The bench binary (Google Benchmark, benchmarks/bench_iqa.cpp) runs with OMP_NUM_THREADS=1 and
with --threads (2); each peer runs in a subprocess of its interpreter (this script with --peer
NAME, printing JSON), on --threads threads (torch.set_num_threads, cv2.setNumThreads,
OMP/OpenBLAS variables), each case the median of --repeats calls after one warm-up:
  BRISQUE  OpenCV cv2.quality.QualityBRISQUE (model loaded once) on the 8-bit BGR image
           (converted outside the timing)
  NIQE     niqe_reference of tools/dev/make_niqe_golden.py (numpy/scipy, the golden values'
           source) and, when --pyiqa-python runs, pyiqa's calculate_niqe (as the golden script
           calls it: unused imports stubbed, the model of data/iqa) on a float32 tensor
  FSIMc    piq.fsim(distorted, reference, data_range=1.0), CPU float32, under torch.no_grad()
  VIFp     piq.vif_p(distorted, reference, data_range=1.0), likewise
  PSNR-HVS and PSNR-HVS-M: psnr_hvsm's bt601ycbcr(precision='float') of both images and
           psnr_hvs_hvsm on the Y planes (both values), its numpy and its C++ backends
A peer whose interpreter or package is missing is reported as not measured. The rounds
alternate the two sides and each case keeps its best median (shared machines are noisy).
The ratio is reference time / xrestore time with --threads threads (higher: xrestore faster).
"""

import argparse
import datetime
import json
import os
import subprocess
import sys
import tempfile
import textwrap
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
README = os.path.join(HERE, "README.md")
BEGIN = "<!-- iqa-table-begin -->"
END = "<!-- iqa-table-end -->"
SIDE = 512
IQA = os.path.join(ROOT, "data", "iqa")
TAG = "peer-result "  # prefix of a peer's JSON line (some packages print on import)

sys.path.insert(0, HERE)
sys.path.insert(0, os.path.join(ROOT, "tools", "dev"))
import bench_support  # noqa: E402


def run_bench(binary, threads, image_dir):
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), XRESTORE_IQA_BENCH_DIR=image_dir)
    out = subprocess.run([binary, "--benchmark_format=json", "--benchmark_repetitions=5",
                          "--benchmark_report_aggregates_only=true"],
                         check=True, capture_output=True, text=True, env=env).stdout
    times, values = {}, {}
    for b in json.loads(out)["benchmarks"]:
        if b.get("aggregate_name") != "median":
            continue
        name = b["run_name"].replace("/real_time", "")  # e.g. fsim
        scale = {"ns": 1e-6, "us": 1e-3, "ms": 1.0, "s": 1e3}[b["time_unit"]]
        times[name] = b["real_time"] * scale  # milliseconds
        values[name] = [b[k] for k in ("value", "value_m") if k in b]
    return times, values


def image_pair():
    """The reference and the distorted image, float32 3 x 512 x 512 in [0, 1]."""
    import numpy as np
    from PIL import Image
    photo = np.asarray(Image.open(os.path.join(ROOT, "data", "images", "squirrel.png")))
    photo = photo.transpose(2, 0, 1).astype(np.float32) / np.float32(255)
    _, h, w = photo.shape

    def mirror(offset, n):  # canvas index -> photo index, edge repeated (bench_iqa.cpp's)
        k = (np.arange(SIDE) - offset) % (2 * n)
        return np.where(k < n, k, 2 * n - 1 - k)

    top, left = int((SIDE - h) / 2), int((SIDE - w) / 2)  # C++'s division: toward zero
    x = np.ascontiguousarray(photo[:, mirror(top, h)][:, :, mirror(left, w)])
    rng = np.random.default_rng(0)
    y = np.clip(x + np.float32(0.05) * rng.standard_normal(x.shape, dtype=np.float32), 0, 1)
    return x, y.astype(np.float32)


def wrap(text):
    return textwrap.fill(text, 100, break_on_hyphens=False, break_long_words=False)


def median_ms(fn, repeats):
    import numpy as np
    fn()  # warm-up
    times = []
    for _ in range(repeats):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return 1e3 * float(np.median(times))


# ----------------------------------------------------------------------------- the peers
# Each returns {row: (reference name, function returning a list of values)} for the images
# x (reference) and y (distorted); they run in the peer's own interpreter.


class PeerUnavailable(Exception):
    """A peer that cannot run here (the reason is the message)."""


def peer_opencv(x, y, threads):
    import cv2
    import numpy as np
    cv2.setNumThreads(threads)
    model = cv2.quality.QualityBRISQUE_create(os.path.join(IQA, "brisque_model_live.yml"),
                                              os.path.join(IQA, "brisque_range_live.yml"))
    u8 = np.floor(np.clip(y, 0, 1) * 255 + 0.5).astype(np.uint8)
    bgr = np.ascontiguousarray(u8[::-1].transpose(1, 2, 0))
    return {"brisque": (f"OpenCV {cv2.__version__} QualityBRISQUE",
                        lambda: [float(model.compute(bgr)[0])])}


def peer_numpy_niqe(x, y, threads):
    import numpy as np
    import make_niqe_golden as ref
    model = ref.load_model()
    return {"niqe": (f"numpy {np.__version__} reference (make_niqe_golden.py)",
                     lambda: [ref.niqe_reference(y, model)])}


def peer_pyiqa(x, y, threads):
    import importlib.util
    if importlib.util.find_spec("pyiqa") is None:
        raise PeerUnavailable(f"pyiqa not installed for {sys.executable}")
    import torch
    import make_niqe_golden as ref
    torch.set_num_threads(threads)
    niqe_arch = ref.load_pyiqa()  # stubs the imports NIQE does not use
    if niqe_arch is None:
        raise PeerUnavailable("pyiqa.archs.niqe_arch does not import")
    import pyiqa
    mu, cov, _ = ref.load_model()
    mu, cov = torch.from_numpy(mu), torch.from_numpy(cov)
    t = torch.from_numpy(y)[None]

    def score():
        with torch.no_grad():
            return [float(niqe_arch.calculate_niqe(t, 0, True, "ycbcr", mu, cov))]
    return {"niqe": (f"pyiqa {pyiqa.__version__} calculate_niqe (torch {torch.__version__})",
                     score)}


def peer_piq(x, y, threads):
    import piq
    import torch
    torch.set_num_threads(threads)
    ref_t, dist_t = torch.from_numpy(x)[None], torch.from_numpy(y)[None]

    def measure(fn):
        def score():
            with torch.no_grad():
                return [float(fn(dist_t, ref_t, data_range=1.0))]
        return score
    suffix = f"(piq {piq.__version__}, torch {torch.__version__.split('+')[0]})"
    return {"fsim": (f"piq.fsim {suffix}", measure(piq.fsim)),
            "vif_p": (f"piq.vif_p {suffix}", measure(piq.vif_p))}


def peer_psnr_hvsm(x, y, threads):
    from importlib.metadata import version

    import numpy as np
    import psnr_hvsm

    def measure(backend):
        fns = psnr_hvsm.BACKENDS[backend]

        def score():
            planes = [fns["bt601ycbcr"](np.moveaxis(255.0 * a.astype(np.float64), 0, 2),
                                        precision="float")[0] for a in (x, y)]
            return [float(v) for v in fns["psnr_hvs_hvsm"](planes[0], planes[1])]
        return score
    name = f"psnr_hvsm {version('psnr_hvsm')}"
    rows = {"psnr_hvs_both": (f"{name}, numpy backend", measure("numpy"))}
    if "cpp" in psnr_hvsm.BACKENDS:
        rows["psnr_hvs_both/cpp"] = (f"{name}, C++ backend", measure("cpp"))
    return rows


PEERS = {"opencv": peer_opencv, "numpy-niqe": peer_numpy_niqe, "pyiqa": peer_pyiqa,
         "piq": peer_piq, "psnr_hvsm": peer_psnr_hvsm}
# The rows each peer gives (so a peer that cannot run still has its rows, marked), in order.
PEER_ROWS = {"opencv": ["brisque"], "numpy-niqe": ["niqe"], "pyiqa": ["niqe"],
             "piq": ["fsim", "vif_p"], "psnr_hvsm": ["psnr_hvs_both", "psnr_hvs_both/cpp"]}
PEER_NAMES = {"opencv": "OpenCV QualityBRISQUE", "numpy-niqe": "numpy reference",
              "pyiqa": "pyiqa calculate_niqe", "piq": "piq", "psnr_hvsm": "psnr_hvsm"}
LABELS = {"brisque": "BRISQUE", "niqe": "NIQE", "fsim": "FSIMc", "vif_p": "VIFp",
          "psnr_hvs_both": "PSNR-HVS and PSNR-HVS-M"}


def peer_main(name, image_dir, repeats, threads):
    """In the peer's interpreter: time its rows, print one JSON line."""
    try:
        import numpy as np
        x = np.load(os.path.join(image_dir, "reference.npy"))
        y = np.load(os.path.join(image_dir, "distorted.npy"))
        rows = PEERS[name](x, y, threads)
        result = {row: {"name": label, "ms": median_ms(fn, repeats), "value": fn()}
                  for row, (label, fn) in rows.items()}
    except ImportError as e:
        result = {"error": f"{e.name} not importable in {sys.executable}" if e.name else str(e)}
    except PeerUnavailable as e:
        result = {"error": str(e)}
    print(TAG + json.dumps(result))
    return 0


def run_peer(python, name, image_dir, repeats, threads, script=None):
    """What peer `name` of `script` (this file by default; it must take --peer, --images,
    --repeats and --threads and print one TAG line of JSON) reports from a subprocess of
    `python`, or {"error": reason}."""
    if not (os.path.isfile(python) and os.access(python, os.X_OK)):
        return {"error": f"no interpreter {python}"}
    env = dict(os.environ, OMP_NUM_THREADS=str(threads), OPENBLAS_NUM_THREADS=str(threads),
               MKL_NUM_THREADS=str(threads))
    result = subprocess.run([python, os.path.abspath(script or __file__), "--peer", name,
                             "--images", image_dir, "--repeats", str(repeats), "--threads",
                             str(threads)],
                            capture_output=True, text=True, env=env, check=False)
    for line in result.stdout.splitlines():
        if line.startswith(TAG):
            return json.loads(line[len(TAG):])
    lines = (result.stderr or result.stdout).strip().splitlines()
    return {"error": f"{python} failed (exit {result.returncode}): "
                     f"{lines[-1] if lines else 'no output'}"}


def fmt_values(values):
    return ", ".join(f"{v:.4f}" for v in values)


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("bench", nargs="?", help="path to the bench_iqa binary")
    parser.add_argument("--repeats", type=int, default=7)
    parser.add_argument("--rounds", type=int, default=3,
                        help="alternate xrestore and the peers this many times, keep the best")
    parser.add_argument("--threads", type=int, default=2,
                        help="threads of xrestore's second column and of every peer")
    parser.add_argument("--python", default=sys.executable,
                        help="interpreter of the OpenCV and numpy peers")
    parser.add_argument("--piq-python", default="/work/venv-torch/bin/python")
    parser.add_argument("--hvs-python", default="/work/venv-hvs/bin/python")
    parser.add_argument("--pyiqa-python", default="/work/venv-pyiqa/bin/python")
    parser.add_argument("--no-readme", action="store_true", help="only print the table")
    parser.add_argument("--peer", choices=sorted(PEERS), help=argparse.SUPPRESS)
    parser.add_argument("--images", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.peer:
        return peer_main(args.peer, args.images, args.repeats, args.threads)
    if args.bench is None:
        parser.error("the path to bench_iqa is required")

    import numpy as np
    pythons = {"opencv": args.python, "numpy-niqe": args.python, "pyiqa": args.pyiqa_python,
               "piq": args.piq_python, "psnr_hvsm": args.hvs_python}
    one, many, values, peer = {}, {}, {}, {}
    with tempfile.TemporaryDirectory(prefix="xrestore-iqa-") as image_dir:
        x, y = image_pair()
        np.save(os.path.join(image_dir, "reference.npy"), x)
        np.save(os.path.join(image_dir, "distorted.npy"), y)
        # Shared machines are noisy: alternate the two sides for a few rounds and keep the best
        # median of each case.
        for _ in range(args.rounds):
            for name, ms in run_bench(args.bench, 1, image_dir)[0].items():
                one[name] = min(ms, one.get(name, float("inf")))
            times, values = run_bench(args.bench, args.threads, image_dir)
            for name, ms in times.items():
                many[name] = min(ms, many.get(name, float("inf")))
            for key in PEERS:
                result = run_peer(pythons[key], key, image_dir, args.repeats, args.threads)
                if "error" in result:
                    peer.setdefault(key, {"error": result["error"]})
                    continue
                if "error" in peer.get(key, {}):
                    del peer[key]
                for row, entry in result.items():
                    best = peer.setdefault(key, {}).get(row)
                    if best is None or entry["ms"] < best["ms"]:
                        peer[key][row] = entry

    header = (f"| measure | xrestore, 1 thread (ms) | xrestore, {args.threads} threads (ms) "
              "| reference | reference (ms) | ratio | value: xrestore / reference |\n"
              "|---|---:|---:|---|---:|---:|---|\n")
    body, missing = "", []
    for key, rows in PEER_ROWS.items():
        for row in rows:
            case = row.split("/")[0]
            a, b = one[case], many[case]
            entry = peer.get(key, {}).get(row)
            if entry is None:
                reason = peer.get(key, {}).get("error", "no result")
                if row == rows[0]:
                    missing.append(f"{PEER_NAMES[key]}: {reason}")
                if "/" not in row:  # (a second variant of a row is not repeated)
                    body += (f"| {LABELS[case]} | {a:.2f} | {b:.2f} | {PEER_NAMES[key]} "
                             f"| not measured ({reason}) | | |\n")
                continue
            p = entry["ms"]
            body += (f"| {LABELS[case]} | {a:.2f} | {b:.2f} | {entry['name']} | {p:.2f} "
                     f"| {p / b:.1f}x | {fmt_values(values[case])} / "
                     f"{fmt_values(entry['value'])} |\n")
    table = header + body
    cpu, cores = bench_support.machine()
    load = os.getloadavg()[0]
    note = (f"Measured {datetime.date.today().isoformat()} on {cpu} ({cores} cores, load "
            f"average {load:.1f} at the end), {args.threads} threads for the peers. xrestore: "
            "Google Benchmark median of 5 repetitions (wall time); references: median of "
            f"{args.repeats} calls after a warm-up; best of {args.rounds} alternating rounds. "
            f"Ratio = reference time / xrestore time on {args.threads} threads (> 1: xrestore "
            "faster). Reproduce with `/usr/bin/python3 benchmarks/compare_iqa.py "
            "BUILD/benchmarks/bench_iqa`.")
    print(table)
    print(wrap(note))
    for line in missing:
        print(f"not measured: {line}")
    if args.no_readme:
        return 0
    bench_support.write_between_markers(README, BEGIN, END, f"{table}\n{wrap(note)}")
    print(f"updated {os.path.relpath(README, ROOT)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
