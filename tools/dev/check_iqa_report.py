#!/usr/bin/env python3
"""Check a folder written by `xrestore iqa` against its own iqa_results.json, independently of
the program:

  * every member of the equal-PSNR set, read back from its .npy, has the target PSNR against
    reference.npy within the tolerance, and every member of both sets reached its target;
  * the foreground fraction equals the mean of foreground_mask.png;
  * every Kendall tau in the JSON is recomputed here from the JSON's values (tau-b, as
    scipy.stats.kendalltau) to 1e-12;
  * every value of every table row in report.md is the JSON's value, rounded as printed;
  * every image, panel and chart the report links exists.

With --same-as OTHER, the numbers of the two runs' sets, reference and foreground must agree
exactly (a deterministic run). Prints "check_iqa_report: OK ..." and exits 0, or lists every
problem and exits 1. Needs numpy only.

    tools/dev/check_iqa_report.py OUT [--same-as OTHER]
"""

import argparse
import json
import math
import os
import re
import struct
import sys
import zlib

import numpy as np


def read_png(path):
    """8-bit grey or RGB(A) PNG (non-interlaced) -> H x W x C float64 in [0, 1]."""
    with open(path, "rb") as f:
        data = f.read()
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError(f"{path}: not a PNG")
    pos, idat, header = 8, b"", None
    while pos < len(data):
        (length,) = struct.unpack(">I", data[pos:pos + 4])
        kind = data[pos + 4:pos + 8]
        body = data[pos + 8:pos + 8 + length]
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", body)
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    width, height, depth, colour, _, _, interlace = header
    if depth != 8 or interlace != 0:
        raise ValueError(f"{path}: only 8-bit non-interlaced PNGs are read here")
    channels = {0: 1, 2: 3, 4: 2, 6: 4}[colour]
    raw = zlib.decompress(idat)
    stride = width * channels
    out = np.zeros((height, stride), dtype=np.int64)
    prev = np.zeros(stride, dtype=np.int64)
    for y in range(height):
        line = raw[y * (stride + 1):(y + 1) * (stride + 1)]
        kind = line[0]
        cur = np.frombuffer(line[1:], dtype=np.uint8).astype(np.int64)
        if kind == 0:
            rec = cur
        elif kind == 2:
            rec = (cur + prev) % 256
        else:
            rec = np.zeros(stride, dtype=np.int64)
            for i in range(stride):
                a = rec[i - channels] if i >= channels else 0
                b = prev[i]
                c = prev[i - channels] if i >= channels else 0
                if kind == 1:
                    p = a
                elif kind == 3:
                    p = (a + b) // 2
                else:  # Paeth
                    pa, pb, pc = abs(b - c), abs(a - c), abs(a + b - 2 * c)
                    p = a if pa <= pb and pa <= pc else (b if pb <= pc else c)
                rec[i] = (cur[i] + p) % 256
        out[y] = rec
        prev = rec
    image = out.reshape(height, width, channels)[:, :, :1 if channels <= 2 else 3]
    return image.astype(np.float64) / 255.0


def kendall_tau(a, b):
    p = q = ta = tb = 0
    for i in range(len(a)):
        for j in range(i + 1, len(a)):
            da, db = a[i] - a[j], b[i] - b[j]
            if da == 0 and db == 0:
                continue
            if da == 0:
                ta += 1
            elif db == 0:
                tb += 1
            elif (da > 0) == (db > 0):
                p += 1
            else:
                q += 1
    denom = math.sqrt((p + q + tb) * (p + q + ta))
    return (p - q) / denom if denom > 0 else float("nan")


def fmt(value, name):
    digits = 2 if name in ("psnr", "psnr_hvs", "psnr_hvs_m", "brisque", "niqe") else 4
    return f"{value:.{digits}f}"


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("folder")
    parser.add_argument("--same-as")
    args = parser.parse_args()
    problems = []
    folder = args.folder
    with open(os.path.join(folder, "iqa_results.json")) as f:
        j = json.load(f)
    with open(os.path.join(folder, "report.md")) as f:
        report = f.read()
    measures = j["measures"]
    names = [m["name"] for m in measures]
    direction = {m["name"]: 1.0 if m["higher_is_better"] else -1.0 for m in measures}

    reference = np.load(os.path.join(folder, "reference.npy")).astype(np.float64)
    mask = read_png(os.path.join(folder, "foreground_mask.png"))
    if abs(mask.mean() - j["foreground"]["fraction"]) > 1e-12:
        problems.append(f"foreground fraction {j['foreground']['fraction']} but the mask's mean "
                        f"is {mask.mean()}")

    def check_tau(items, taus, where):
        for a in names:
            for b in names:
                pairs = [(direction[a] * v[a], direction[b] * v[b]) for v in items
                         if a in v and b in v]
                expect = kendall_tau([p[0] for p in pairs], [p[1] for p in pairs]) \
                    if len(pairs) >= 3 else float("nan")
                got = taus[a][b]
                if got is None:
                    if not math.isnan(expect):
                        problems.append(f"{where}: tau({a}, {b}) missing, expected {expect}")
                elif abs(got - expect) > 1e-12:
                    problems.append(f"{where}: tau({a}, {b}) = {got}, recomputed {expect}")

    # table rows of report.md: first cell -> list of rows (cells)
    rows = {}
    for line in report.splitlines():
        if line.startswith("| ") and not line.startswith("| image") and "---" not in line:
            cells = [c.strip() for c in line.strip().strip("|").split("|")]
            rows.setdefault(cells[0], []).append(cells)

    members_checked = 0
    for set_name, s in j["sets"].items():
        target, tolerance = s["target"], s["tolerance"]
        for m in s["members"]:
            members_checked += 1
            name = m["degradation"]
            if not m["reached"]:
                problems.append(f"{set_name} set: {name} did not reach its target")
            value = m["whole"].get(set_name)
            if value is None or abs(value - target) > tolerance:
                problems.append(f"{set_name} set: {name} has {set_name} {value}, target "
                                f"{target} +- {tolerance}")
            path = os.path.join(folder, m["file"])
            if not os.path.isfile(path):
                problems.append(f"missing {m['file']}")
                continue
            if set_name == "psnr":
                x = np.load(path[:-4] + ".npy").astype(np.float64)
                mse = np.mean((x - reference) ** 2)
                p = 10 * math.log10(1.0 / mse)
                if abs(p - target) > tolerance or abs(p - value) > 1e-9 * abs(value):
                    problems.append(f"psnr set: {name}.npy has PSNR {p:.6f} against "
                                    f"reference.npy, the JSON {value}, target {target}")
            # its rows in the report: the whole-image table, then the foreground table
            found = rows.get(name, [])
            whole_cols = [n for n in names]
            fg_cols = [mm["name"] for mm in measures if mm["foreground_version"]]
            tables = [(m["whole"], whole_cols, 2), (m["foreground"], fg_cols, 1)]
            # rows of this set: the set's tables come in set order, two per set
            index = list(j["sets"].keys()).index(set_name)
            mine = found[2 * index:2 * index + 2]
            if len(mine) != 2:
                problems.append(f"report.md: expected 2 rows for {name} in the {set_name} set, "
                                f"found {len(mine)}")
                continue
            for (values, cols, first), cells in zip(tables, mine):
                for k, col in enumerate(cols):
                    cell = cells[first + k]
                    expect = fmt(values[col], col) if col in values else "n/a"
                    if cell != expect:
                        problems.append(f"report.md: {set_name} set, {name}, {col}: '{cell}' "
                                        f"but the JSON gives {expect}")
        check_tau([m["whole"] for m in s["members"]], s["kendall_tau"], f"{set_name} set")

    if "study" in j:
        check_tau([it["whole"] for it in j["study"]["items"]], j["study"]["kendall_tau"], "study")

    for link in re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report):
        if not os.path.isfile(os.path.join(folder, link)):
            problems.append(f"report.md links {link}, which is missing")

    if args.same_as:
        with open(os.path.join(args.same_as, "iqa_results.json")) as f:
            other = json.load(f)
        for key in ("sets", "reference", "foreground", "shape"):
            if j.get(key) != other.get(key):
                problems.append(f"--same-as: '{key}' differs between the two runs")
        if not problems:
            print("check_iqa_report: the two runs agree on every number")

    if problems:
        for p in problems:
            print("check_iqa_report: " + p)
        return 1
    print(f"check_iqa_report: OK: {members_checked} set members, "
          f"{len(j.get('study', {}).get('items', []))} study images")
    return 0


if __name__ == "__main__":
    sys.exit(main())
