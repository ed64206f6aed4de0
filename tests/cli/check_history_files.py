#!/usr/bin/env python3
"""Read back the per-iteration histories the CLI writes (standard library only).

  check_history_files.py restore HISTORY.csv SUMMARY.json OUT.npy REF.npy
      restore --history with --ref and --json: the CSV's columns, one row per iteration
      (iterations from the JSON), non-decreasing seconds, an objective on every row, and the
      last row's PSNR equal to the PSNR of OUT against REF computed here from the .npy files
      (and to the JSON's).
  check_history_files.py compare DIR RUNS
      compare's results.csv and history.csv: RUNS runs; per run as many history rows as
      iterations, best_psnr = the maximum of the run's PSNR column and best_iteration where it
      is first reached, the final PSNR = the last row's, seconds per iteration from the seconds
      column; results.md names the SSIM variant and links a PNG plot per case.
"""
import ast
import csv
import json
import math
import struct
import sys
from pathlib import Path

HISTORY_COLUMNS = ["iteration", "seconds", "objective", "change", "mse", "psnr", "ssim"]


def fail(message):
    print(f"check_history_files: FAIL: {message}")
    sys.exit(1)


def read_npy_float32(path):
    """The float32 values of a little-endian C-order .npy file."""
    data = Path(path).read_bytes()
    if data[:6] != b"\x93NUMPY":
        fail(f"{path} is not a .npy file")
    major = data[6]
    header_length = struct.unpack("<H" if major == 1 else "<I",
                                  data[8:10] if major == 1 else data[8:12])[0]
    start = (10 if major == 1 else 12) + header_length
    header = ast.literal_eval(data[(10 if major == 1 else 12):start].decode("latin1"))
    if header["descr"] != "<f4" or header["fortran_order"]:
        fail(f"{path}: expected little-endian float32 in C order, got {header}")
    count = math.prod(header["shape"])
    return struct.unpack(f"<{count}f", data[start:start + 4 * count])


def number(text):
    return float(text) if text != "" else math.nan


def close(a, b, tolerance):
    return abs(a - b) <= tolerance * max(1.0, abs(a), abs(b))


def check_rows(rows, label, expect_objective, expect_quality):
    for i, row in enumerate(rows, start=1):
        if int(row["iteration"]) != i:
            fail(f"{label}: row {i} has iteration {row['iteration']}")
        if i > 1 and number(row["seconds"]) < number(rows[i - 2]["seconds"]):
            fail(f"{label}: seconds decrease at iteration {i}")
        if (row["objective"] != "") != expect_objective:
            fail(f"{label}: iteration {i} objective '{row['objective']}'")
        for column in ("mse", "psnr", "ssim"):
            if (row[column] != "") != expect_quality:
                fail(f"{label}: iteration {i} {column} '{row[column]}'")
        if row["change"] == "":
            fail(f"{label}: iteration {i} has no relative change")


def check_restore(history, summary_path, out_path, ref_path):
    with open(history, newline="") as f:
        reader = csv.DictReader(f)
        if reader.fieldnames != HISTORY_COLUMNS:
            fail(f"{history}: columns {reader.fieldnames}, expected {HISTORY_COLUMNS}")
        rows = list(reader)
    summary = json.loads(Path(summary_path).read_text())
    if len(rows) != summary["iterations"] or not rows:
        fail(f"{history}: {len(rows)} rows for {summary['iterations']} iterations")
    check_rows(rows, history, True, True)
    out = read_npy_float32(out_path)
    ref = read_npy_float32(ref_path)
    if len(out) != len(ref):
        fail(f"{out_path} has {len(out)} values, {ref_path} {len(ref)}")
    mse = sum((min(max(o, 0.0), 1.0) - r) ** 2 for o, r in zip(out, ref)) / len(ref)
    psnr = 10.0 * math.log10(1.0 / mse)
    last = number(rows[-1]["psnr"])
    if not close(psnr, last, 1e-6) or not close(psnr, summary["psnr"], 1e-6):
        fail(f"PSNR of {out_path}: {psnr} here, {last} in the history, "
             f"{summary['psnr']} in the summary")
    print(f"check_history_files: OK ({len(rows)} iterations, PSNR {psnr:.4f} dB)")


def check_compare(folder, runs):
    folder = Path(folder)
    with open(folder / "results.csv", newline="") as f:
        results = list(csv.DictReader(f))
    with open(folder / "history.csv", newline="") as f:
        reader = csv.DictReader(f)
        expected = ["run", "image", "degradation", "solver", "parameters"] + HISTORY_COLUMNS
        if reader.fieldnames != expected:
            fail(f"history.csv: columns {reader.fieldnames}, expected {expected}")
        history = list(reader)
    if len(results) != runs:
        fail(f"results.csv has {len(results)} runs, expected {runs}")
    for r in results:
        rows = [h for h in history if h["run"] == r["run"]]
        label = f"run {r['run']} ({r['solver']} {r['parameters']})"
        if len(rows) != int(r["iterations"]):
            fail(f"{label}: {len(rows)} history rows for {r['iterations']} iterations")
        for h in rows:
            for key in ("image", "degradation", "solver", "parameters"):
                if h[key] != r[key]:
                    fail(f"{label}: history {key} '{h[key]}', results '{r[key]}'")
        if not rows:
            if r["best_psnr"] != "" or r["best_iteration"] != "":
                fail(f"{label}: a best iteration without any iteration")
            continue
        has_objective = r["solver"] not in ("pnp-admm", "pnp-pgd", "pnp-hqs", "admm-tv")
        check_rows(rows, label, has_objective, True)
        psnrs = [number(h["psnr"]) for h in rows]
        best = max(psnrs)
        if number(r["best_psnr"]) != best:
            fail(f"{label}: best_psnr {r['best_psnr']}, the history's maximum {best}")
        if int(r["best_iteration"]) != psnrs.index(best) + 1:
            fail(f"{label}: best_iteration {r['best_iteration']}, first maximum at "
                 f"{psnrs.index(best) + 1}")
        if r["stop"] != "diverged" and not close(number(r["psnr"]), psnrs[-1], 1e-9):
            fail(f"{label}: final PSNR {r['psnr']}, last history row {psnrs[-1]}")
        seconds = [number(h["seconds"]) for h in rows]
        per_iteration = seconds[0] if len(seconds) == 1 else \
            (seconds[-1] - seconds[0]) / (len(seconds) - 1)
        if not close(number(r["seconds_per_iteration"]), per_iteration, 1e-9):
            fail(f"{label}: seconds_per_iteration {r['seconds_per_iteration']}, "
                 f"from the history {per_iteration}")
    md = (folder / "results.md").read_text()
    if "gaussian_weights=True, sigma=1.5, use_sample_covariance=False" not in md:
        fail("results.md does not name the SSIM variant")
    cases = {(r["image"], r["degradation"]) for r in results}
    plots = [line for line in md.splitlines() if line.startswith("![")]
    if len(plots) != len(cases):
        fail(f"results.md links {len(plots)} plots for {len(cases)} cases")
    for line in plots:
        name = line[line.rindex("(") + 1:-1]
        data = (folder / name).read_bytes()
        if data[:8] != b"\x89PNG\r\n\x1a\n" or len(data) < 1000:
            fail(f"{name} is not a PNG plot")
    print(f"check_history_files: OK ({runs} runs, {len(history)} history rows, "
          f"{len(plots)} plots)")


def main():
    if len(sys.argv) == 6 and sys.argv[1] == "restore":
        check_restore(*sys.argv[2:])
    elif len(sys.argv) == 4 and sys.argv[1] == "compare":
        check_compare(sys.argv[2], int(sys.argv[3]))
    else:
        fail(__doc__)


if __name__ == "__main__":
    main()
