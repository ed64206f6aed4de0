#!/usr/bin/env python3
"""Check the output folder of `xrestore study` (standard library only, for CI):

- every file the report links or names exists; PNGs are real PNGs of a plausible size;
- every number the report prints for a case or run is the one in results.json (rounded as printed);
- results.csv and curves.csv agree with results.json;
- the restorations are real: PnP-ADMM improves on its input in every noise-free case.

Usage: tools/dev/check_study_report.py DIR [--expect-full] [--same-as DIR2]
--expect-full adds the checks a full-size default run must pass (crop 256, 300-iteration curves);
--same-as checks that another run with the same settings gave the same numbers (all but times).
"""
import argparse
import csv
import json
import math
import re
import struct
import sys
from pathlib import Path


def fail(message):
    print(f"check_study_report: FAIL: {message}")
    sys.exit(1)


def png_size(path):
    data = path.read_bytes()
    if len(data) < 33 or data[:8] != b"\x89PNG\r\n\x1a\n" or data[12:16] != b"IHDR":
        fail(f"{path.name} is not a PNG file")
    return struct.unpack(">II", data[16:24])


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("dir", type=Path)
    parser.add_argument("--expect-full", action="store_true")
    parser.add_argument("--same-as", type=Path)
    args = parser.parse_args()
    folder = args.dir
    report = (folder / "report.md").read_text()
    results = json.loads((folder / "results.json").read_text())
    size = results["settings"]["size"]

    # Links and named files.
    linked = re.findall(r"!\[[^\]]*\]\(([^)]+)\)", report)
    if len(linked) < 15:
        fail(f"report.md links only {len(linked)} images")
    pngs = set(linked) | {run["image"] for run in results["runs"]} | {"truth.png"}
    for name in sorted(pngs):
        path = folder / name
        if not path.is_file():
            fail(f"{name} is linked or listed but missing")
        width, height = png_size(path)
        if name.startswith("plot_"):
            if width < 400 or height < 250:
                fail(f"plot {name} is only {width} x {height}")
        elif name.startswith(("panel_", "baselines_")):
            if height < size or width < 3 * size:
                fail(f"panel {name} is {width} x {height}, too small for {size} x {size} images")
        elif (width, height) != (size, size):
            fail(f"{name} is {width} x {height}, expected {size} x {size}")

    # Numbers: each case's input PSNR and each reported run's PSNR/SSIM/MSE as printed.
    def printed(value, fmt):
        return fmt % value

    checked = 0
    for case in results["cases"]:
        text = printed(case["input"]["psnr"], "%.2f dB")
        if text not in report:
            fail(f"input PSNR {text} of {case['id']} is not in report.md")
        checked += 1
    for run in results["runs"]:
        if run["method"] == "pnp_admm_long":
            continue  # reported through the curves table
        for key, fmt in (("psnr", "%.2f dB"), ("ssim", "%.4f")):
            text = printed(run["result"][key], fmt)
            if text not in report:
                fail(f"{key} {text} of {run['method']} on {run['case']} is not in report.md")
            checked += 1
    for curve in results["curves"]:
        if curve["method"] == "red":
            continue
        text = "%.3e" % curve["best_mse"]
        if text not in report or str(curve["best_iteration"]) not in report:
            fail(f"best MSE {text} of {curve['method']} on {curve['case']} is not in report.md")
        if len(curve["mse"]) != curve["iterations"]:
            fail(f"curve {curve['method']} {curve['case']}: {len(curve['mse'])} values")
        if not math.isclose(min(curve["mse"]), curve["best_mse"], rel_tol=1e-12):
            fail(f"curve {curve['method']} {curve['case']}: best_mse is not the minimum")
        checked += 1
    for part, seconds in results["timing"].items():
        if f"| {part} | {seconds:.1f} |" not in report:
            fail(f"timing of {part} is not in report.md")

    # Numbers the report derives (differences, ratios, percentages) are in the JSON too.
    derived = results.get("derived", {})
    for section in ("noise", "inpainting", "red", "curves", "baselines"):
        if not derived.get(section):
            fail(f"results.json has no derived numbers for {section}")
    noise = derived["noise"]
    if "%.2f dB" % noise["result_psnr_drop_db"] not in report:
        fail("the noise section's PSNR drop is not the one in results.json")
    if "%.2f dB" % derived["baselines"]["mean_gain_over_best_classical_db"] not in report:
        fail("the baselines' mean gain is not the one in results.json")

    # CSV files against the JSON.
    rows = list(csv.DictReader((folder / "results.csv").open()))
    by_key = {(r["case"], r["method"]): r for r in rows}
    for run in results["runs"]:
        row = by_key.get((run["case"], run["method"]))
        if row is None:
            fail(f"results.csv has no row for {run['method']} on {run['case']}")
        if not math.isclose(float(row["psnr"]), run["result"]["psnr"], rel_tol=1e-7):
            fail(f"results.csv PSNR of {run['method']} on {run['case']} differs from the JSON")
    curve_rows = list(csv.DictReader((folder / "curves.csv").open()))
    if len(curve_rows) != sum(c["iterations"] for c in results["curves"]):
        fail("curves.csv does not hold every curve value")

    # The restorations are real.
    runs = {(r["case"], r["method"]): r for r in results["runs"]}
    for case in results["cases"]:
        pnp = runs[(case["id"], "pnp_admm")]["result"]
        if case["noise"] == 0 and not pnp["psnr"] > case["input"]["psnr"] + 3:
            fail(f"PnP-ADMM does not improve {case['id']}: {pnp['psnr']:.2f} dB from "
                 f"{case['input']['psnr']:.2f} dB")
    if args.expect_full:
        if size != 256 or results["settings"]["curve_iters"] < 300:
            fail("not a full-size run")
        fixed = [c for c in results["curves"]
                 if c["method"] == "pnp_admm" and c["case"] in ("deblur_p13", "inpaint_60")]
        if any(c["iterations"] < 300 for c in fixed):
            fail("the fixed-eta curves are shorter than 300 iterations")
        for case in ("deblur_p7", "deblur_p13", "inpaint_40", "inpaint_60"):
            if runs[(case, "pnp_admm")]["result"]["psnr"] < 28:
                fail(f"PnP-ADMM on {case} below 28 dB")

    if args.same_as is not None:
        other = json.loads((args.same_as / "results.json").read_text())

        def strip_times(node):
            if isinstance(node, dict):
                return {k: strip_times(v) for k, v in node.items()
                        if k not in ("seconds", "timing", "seconds_total", "seconds_per_call")}
            if isinstance(node, list):
                return [strip_times(v) for v in node]
            return node

        a, b = strip_times(results), strip_times(other)
        a["settings"].pop("image", None), b["settings"].pop("image", None)
        if a != b:
            fail(f"the runs in {folder} and {args.same_as} differ (not deterministic)")
        print("check_study_report: the two runs agree on every number")

    print(f"check_study_report: OK: {len(pngs)} images, {checked} numbers checked against "
          f"results.json, {len(rows)} CSV rows, {len(curve_rows)} curve values")


if __name__ == "__main__":
    main()
