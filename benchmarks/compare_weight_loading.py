#!/usr/bin/python3
"""Compare loading U-Net weights in xrestore (bench_unet --load) with torch.load.

    /usr/bin/python3 benchmarks/compare_weight_loading.py [--bench build/benchmarks/bench_unet] \
        [--rounds 5] [--write-readme benchmarks/README.md]

Without --bench it configures and builds bench_unet in Release (--build-dir, default
build-bench-unet/ in the repository). The weights are the chans-64 fastMRI U-Net of
compare_unet_pytorch.py (random_unet(3, 3, 64, 4, seed=164) of tools/dev/make_unet_golden.py,
about 124 MB of float32), saved with torch.save(model.state_dict()) and as safetensors (with the
safetensors package when it is installed, else written here: the 8-byte header length, the JSON
header, the raw little-endian data) into a temporary folder. Every measurement runs in a fresh
process, the file in the page cache (a first, untimed round reads it):
  - xrestore: bench_unet --load=FILE, i.e. mapped_weights then unet::from_mapped_weights, what
    load_unet_denoiser and the CLI do (after stopping OpenBLAS's idle threads, as the CLI does
    first): file -> a network ready to run;
  - PyTorch: torch.load(FILE, map_location="cpu") of the .pth, after `import torch`: file -> a
    state_dict of tensors (still to be put in a module);
  - safetensors: safetensors.torch.load_file(FILE), when the package is installed.
Each row gives the best wall time over the rounds (the sides alternate, so they see the same
background load), the user and system CPU time of that run, and the process's peak resident memory
(VmHWM) and its growth while loading (VmHWM - VmRSS before loading). --write-readme puts the table
between <!-- load-table-begin --> and <!-- load-table-end -->.
"""

import argparse
import json
import os
import resource
import struct
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
sys.path.insert(0, os.path.join(ROOT, "tools", "dev"))

from bench_support import machine, write_between_markers  # noqa: E402

BEGIN = "<!-- load-table-begin -->"
END = "<!-- load-table-end -->"
C64_SEED = 164  # compare_unet_pytorch.py's chans-64 weights


def status_kb(field):
    with open("/proc/self/status", encoding="ascii") as f:
        for line in f:
            if line.startswith(field + ":"):
                return int(line.split()[1])
    return -1


def child(kind, path):
    """One load in this fresh process; prints the fields bench_unet --load prints."""
    import torch  # noqa: F401  (imported before the clock starts, as a user's program has it)

    if kind == "safetensors":
        from safetensors.torch import load_file
        load = load_file
    else:
        def load(p):
            return torch.load(p, map_location="cpu")
    before = status_kb("VmRSS")
    r0 = resource.getrusage(resource.RUSAGE_SELF)
    start = time.perf_counter()
    sd = load(path)
    ms = (time.perf_counter() - start) * 1e3
    r1 = resource.getrusage(resource.RUSAGE_SELF)
    assert len(sd) > 0
    print(f"load_ms {ms} user_ms {(r1.ru_utime - r0.ru_utime) * 1e3} sys_ms "
          f"{(r1.ru_stime - r0.ru_stime) * 1e3} rss_before_kb {before} vm_hwm_kb "
          f"{status_kb('VmHWM')}")


def fields(command):
    result = subprocess.run(command, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"{' '.join(command)} failed ({result.returncode}):\n{result.stderr}")
    words = result.stdout.split()
    return {words[i]: float(words[i + 1]) for i in range(0, len(words) - 1, 2)}


def write_safetensors(path, state_dict):
    """safetensors by hand: header length, JSON header (sorted names, as the package writes),
    then the data."""
    header, blobs, offset = {}, [], 0
    for name in sorted(state_dict):
        data = state_dict[name].contiguous().numpy().astype("<f4").tobytes()
        header[name] = {"dtype": "F32", "shape": list(state_dict[name].shape),
                        "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for blob in blobs:
            f.write(blob)


def build(build_dir):
    subprocess.run(["cmake", "-S", ROOT, "-B", build_dir, "-G", "Ninja",
                    "-DCMAKE_BUILD_TYPE=Release", "-DXRESTORE_BUILD_BENCHMARKS=ON"], check=True,
                   stdout=subprocess.DEVNULL)
    subprocess.run(["cmake", "--build", build_dir, "--target", "bench_unet"], check=True)
    return os.path.join(build_dir, "benchmarks", "bench_unet")


def main():
    if len(sys.argv) > 1 and sys.argv[1] == "--child":
        child(sys.argv[2], sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--bench", help="path of a built bench_unet (else build it, Release)")
    parser.add_argument("--build-dir", default=os.path.join(ROOT, "build-bench-unet"))
    parser.add_argument("--rounds", type=int, default=5, help="alternating runs of every side")
    parser.add_argument("--note", default="", help="a line printed under the table")
    parser.add_argument("--write-readme", metavar="README", help="update the table in this file")
    args = parser.parse_args()

    import torch
    import make_unet_golden as golden
    try:
        import safetensors.torch as st
    except ImportError:
        st = None

    bench = os.path.abspath(args.bench) if args.bench else build(args.build_dir)
    me = os.path.abspath(__file__)
    load_start = os.getloadavg()[0]
    with tempfile.TemporaryDirectory() as directory:
        sd = golden.random_unet(3, 3, 64, 4, seed=C64_SEED).state_dict()
        pth = os.path.join(directory, "c64_p4.pth")
        safe = os.path.join(directory, "c64_p4.safetensors")
        torch.save(sd, pth)
        if st is not None:
            st.save_file({k: v.contiguous() for k, v in sd.items()}, safe)
        else:
            write_safetensors(safe, sd)
        megabytes = os.path.getsize(pth) / 2**20
        cases = [("xrestore", ".pth", [bench, f"--load={pth}"]),
                 ("torch.load", ".pth", [sys.executable, me, "--child", "torch", pth]),
                 ("xrestore", ".safetensors", [bench, f"--load={safe}"]),
                 ("xrestore, direct 3x3", ".pth", [bench, f"--load={pth}", "--conv3x3=direct"])]
        if st is not None:
            cases.append(("safetensors.torch.load_file", ".safetensors",
                          [sys.executable, me, "--child", "safetensors", safe]))
        best = {}
        for r in range(args.rounds + 1):  # round 0 puts the files in the page cache
            for side, kind, command in cases:
                got = fields(command)
                if r > 0 and ((side, kind) not in best or
                              got["load_ms"] < best[(side, kind)]["load_ms"]):
                    best[(side, kind)] = got
                print(f"  round {r}/{args.rounds} {side} {kind}: {got['load_ms']:.1f} ms, peak "
                      f"{got['vm_hwm_kb'] / 1024:.0f} MB", file=sys.stderr)

    lines = ["| loader | file | wall (ms) | user (ms) | sys (ms) | peak MB | increment MB | "
             "increment / weights |", "|---|---|---:|---:|---:|---:|---:|---:|"]
    for side, kind, _ in cases:
        b = best[(side, kind)]
        increment = (b["vm_hwm_kb"] - b["rss_before_kb"]) / 1024
        lines.append(f"| {side} | {kind} | {b['load_ms']:.0f} | {b['user_ms']:.0f} | "
                     f"{b['sys_ms']:.0f} | {b['vm_hwm_kb'] / 1024:.0f} | {increment:.0f} | "
                     f"{increment / megabytes:.2f} |")
    cpu, cores = machine()
    text = "\n".join(lines)
    package = "the safetensors package is not installed" if st is None else "safetensors installed"
    text += (f"\n\n{cpu}, {cores} cores, torch {torch.__version__} ({package}); the chans-64 "
             f"U-Net, a {megabytes * 2**20 / 1e6:.0f} MB ({megabytes:.0f} MiB) .pth, MB in the "
             f"table = MiB; best wall time of {args.rounds} rounds, "
             f"each side in a fresh process, the file in the page cache, the sides alternating; "
             f"load average {load_start:.1f} at the start, {os.getloadavg()[0]:.1f} at the end. "
             f"xrestore: file -> ready-to-run network (mapped_weights + "
             f"unet::from_mapped_weights: CRC-32 of every .pth entry, every value checked finite, "
             f"packed for the forward pass: the 3x3 layers of 16 or more inputs transformed for "
             f"Winograd, F(4x4, 3x3) up to 256 x 256 channels (4 times their size), F(2x2, 3x3) "
             f"above (16/9); 'direct 3x3' packs them for the direct method, at their size); "
             f"PyTorch: file -> state_dict. Increment = VmHWM - "
             f"VmRSS before loading.")
    if args.note:
        text += " " + args.note
    print(text)
    if args.write_readme:
        write_between_markers(args.write_readme, BEGIN, END, text)


if __name__ == "__main__":
    main()
