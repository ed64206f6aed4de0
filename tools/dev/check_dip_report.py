#!/usr/bin/env python3
"""Check a report written by `xrestore dip` against its own results.json and files.

    python3 tools/dev/check_dip_report.py OUT_DIR [--same-as OTHER_DIR]

Every task of results.json must have its table row in report.md, and every number printed in
that row (PSNR / SSIM, the stopping rules' iterations, the best iteration) must equal the JSON
value rounded as printed; every image the report names must exist; curves.csv must have a row
per sampled iteration of each task, its best PSNR must be the JSON's "dip_best", its SSIMs lie in
[-1, 1] and its row at the last iteration hold the JSON's "dip_last" and "dip_average"; each task's
<task>_measurement.npy must be a float32 (3, h, w) array of the size its header declares. Exits 1
with the first difference, else prints "check_dip_report: OK ...". --same-as also checks that
every task of OUT_DIR has exactly the same numbers (all but run times) and the same measurement
file, byte for byte, in OTHER_DIR, a run with the same settings (it may have more tasks). Needs only the standard library.
"""

import csv
import json
import math
import os
import re
import sys


def fail(message):
    print(f"check_dip_report: {message}", file=sys.stderr)
    sys.exit(1)


def quality(q):
    return f"{q['psnr']:.2f} dB / {q['ssim']:.3f}"


def rule(q):
    if q["iteration"] == 0:
        return "not reached (window longer than the run)"
    return f"{quality(q)} ({q['iteration']})"


def without_times(value):
    if isinstance(value, dict):
        return {k: without_times(v) for k, v in value.items() if "seconds" not in k}
    return value


def check_measurement(path, task_id):
    """The .npy header declares little-endian float32, C order, three channels; the file holds
    exactly that many values."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError as e:
        fail(f"{task_id}: cannot read its measurement: {e}")
    if data[:6] != b"\x93NUMPY" or len(data) < 10:
        fail(f"{path} is not a .npy file")
    header_length = int.from_bytes(data[8:10], "little")
    header = data[10:10 + header_length].decode("latin1")
    match = re.search(r"'shape': \((\d+), (\d+), (\d+)\)", header)
    if "'descr': '<f4'" not in header or "'fortran_order': False" not in header or not match:
        fail(f"{path}: header {header.strip()!r} is not a C-order float32 (c, h, w) array")
    c, h, w = (int(g) for g in match.groups())
    if c != 3 or len(data) != 10 + header_length + 4 * c * h * w:
        fail(f"{path}: shape ({c}, {h}, {w}) and {len(data)} bytes do not match")


def main():
    args = sys.argv[1:]
    other = None
    if len(args) == 3 and args[1] == "--same-as":
        other = args[2]
        args = args[:1]
    if len(args) != 1:
        fail("usage: check_dip_report.py OUT_DIR [--same-as OTHER_DIR]")
    folder = args[0]
    try:
        with open(os.path.join(folder, "results.json"), encoding="utf-8") as f:
            results = json.load(f)
        with open(os.path.join(folder, "report.md"), encoding="utf-8") as f:
            report = f.read()
    except OSError as e:
        fail(f"cannot read the report: {e}")
    rows = {}
    for line in report.splitlines():
        if line.startswith("| ") and not line.startswith("| task") and "---" not in line:
            cells = [c.strip() for c in line.strip("|").split("|")]
            rows[cells[0]] = cells
    numbers = 0
    for task_id, t in results["tasks"].items():
        row = rows.get(t["title"])
        if row is None:
            fail(f"no table row for task {task_id} ('{t['title']}')")
        expected = [t["title"], quality(t["input"]), quality(t["dip_last"]),
                    quality(t["dip_average"]), rule(t["dip_heldout"]), rule(t["dip_variance"]),
                    rule(t["dip_average_heldout"]),
                    f"{t['dip_best']['psnr']:.2f} dB ({t['dip_best']['iteration']})",
                    quality(t["pnp_admm"]), quality(t["tv"])]
        if row != expected:
            for got, want in zip(row, expected):
                if got != want:
                    fail(f"task {task_id}: the report says '{got}', results.json gives '{want}'")
            fail(f"task {task_id}: row {row} != {expected}")
        numbers += len(re.findall(r"-?\d+\.\d+|\(\d+\)", " ".join(expected[1:])))
        for value in (t["dip_last"]["psnr"], t["pnp_admm"]["psnr"], t["tv"]["psnr"]):
            if not math.isfinite(value):
                fail(f"task {task_id}: a non-finite PSNR")
    images = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    for image in images:
        if not os.path.isfile(os.path.join(folder, image)):
            fail(f"the report shows {image}, which is not in {folder}")
    curve_rows = 0
    best = {}
    with open(os.path.join(folder, "curves.csv"), encoding="utf-8", newline="") as f:
        for row in csv.DictReader(f):
            curve_rows += 1
            task_id = row["task"]
            p = float(row["psnr"])
            if task_id not in best or p > best[task_id][0]:
                best[task_id] = (p, int(float(row["iteration"])))
            for column in ("ssim", "ssim_average"):
                if not -1.0 <= float(row[column]) <= 1.0:
                    fail(f"{task_id}: curves.csv has {column} {row[column]} outside [-1, 1]")
            t = results["tasks"].get(task_id)
            if t is not None and int(float(row["iteration"])) == results["iterations"]:
                # the last row is the returned output and its average
                for column, key, value in (("psnr", "dip_last", "psnr"),
                                           ("ssim", "dip_last", "ssim"),
                                           ("psnr_average", "dip_average", "psnr"),
                                           ("ssim_average", "dip_average", "ssim")):
                    got, want = float(row[column]), t[key][value]
                    if abs(got - want) > 1e-9 * max(1.0, abs(want)):
                        fail(f"{task_id}: curves.csv's last {column} {got} is not "
                             f"results.json's {key} {value} {want}")
    for task_id, t in results["tasks"].items():
        check_measurement(os.path.join(folder, f"{task_id}_measurement.npy"), task_id)
        if task_id not in best:
            fail(f"curves.csv has no rows for {task_id}")
        p, it = best[task_id]
        if abs(p - t["dip_best"]["psnr"]) > 1e-9 * max(1.0, abs(p)) or it != t["dip_best"]["iteration"]:
            fail(f"{task_id}: curves.csv's best PSNR {p} at {it} differs from results.json's "
                 f"{t['dip_best']}")
    if other is not None:
        try:
            with open(os.path.join(other, "results.json"), encoding="utf-8") as f:
                reference = json.load(f)
        except OSError as e:
            fail(f"cannot read the other report: {e}")
        for task_id, t in results["tasks"].items():
            if task_id not in reference["tasks"]:
                fail(f"task {task_id} is not in {other}")
            if without_times(t) != without_times(reference["tasks"][task_id]):
                fail(f"task {task_id}: the two runs differ")
            name = f"{task_id}_measurement.npy"
            with open(os.path.join(folder, name), "rb") as a, \
                    open(os.path.join(other, name), "rb") as b:
                if a.read() != b.read():
                    fail(f"task {task_id}: the two runs measured different data ({name})")
        print(f"check_dip_report: the two runs agree on every number of "
              f"{len(results['tasks'])} tasks")
    print(f"check_dip_report: OK: {len(results['tasks'])} tasks, {numbers} numbers checked "
          f"against results.json, {len(images)} images, {curve_rows} curve rows")


if __name__ == "__main__":
    main()
