#!/usr/bin/env python3
"""Which early-stopping rule works: `xrestore dip` runs of several seeds, side by side.

    python3 tools/dev/dip_stopping_table.py OUT_DIR [OUT_DIR ...]

Each OUT_DIR is a report folder of `xrestore dip` (same settings, different --seed). For every
task and every way of picking the DIP output without the ground truth (the last iterate, the
running average, the held-out rule, the running-variance rule, the held-out rule applied to the
running average) it prints the mean PSNR over the
runs and the mean and worst shortfall against the best raw iterate of the same run (sampled every
--eval-every iterations; it needs the ground truth, so it is the upper bound a rule can reach),
as a markdown table, with the best PSNR of the running average over the curve (curves.csv). A rule that did not fire (window longer than the run) counts as the last
iterate. Needs only the standard library.
"""

import csv
import json
import os
import statistics
import sys


def main():
    folders = sys.argv[1:]
    if not folders:
        sys.exit("usage: dip_stopping_table.py OUT_DIR [OUT_DIR ...]")
    runs = []
    best_average = []  # per run: task -> best PSNR of the running average on the curve
    for folder in folders:
        try:
            with open(os.path.join(folder, "results.json"), encoding="utf-8") as f:
                runs.append(json.load(f))
            best = {}
            with open(os.path.join(folder, "curves.csv"), encoding="utf-8", newline="") as f:
                for row in csv.DictReader(f):
                    best[row["task"]] = max(best.get(row["task"], -1e300),
                                            float(row["psnr_average"]))
            best_average.append(best)
        except (OSError, ValueError, KeyError) as e:
            sys.exit(f"dip_stopping_table: cannot read {folder}: {e}")
    settings = {(r["size"], r["iterations"]) for r in runs}
    if len(settings) != 1:
        sys.exit(f"dip_stopping_table: the runs differ in size or iterations: {settings}")
    size, iterations = settings.pop()
    seeds = [r["seed"] for r in runs]
    print(f"{len(runs)} runs (seeds {', '.join(map(str, seeds))}), {size} x {size}, "
          f"{iterations} iterations; PSNR in dB, mean over the runs; in brackets the mean / "
          f"worst shortfall against the best raw iterate\n")
    rules = [("last", "dip_last"), ("averaged", "dip_average"), ("held-out stop", "dip_heldout"),
             ("variance stop", "dip_variance"), ("averaged, held-out stop", "dip_average_heldout")]
    rules = [(name, key) for name, key in rules
             if all(key in t for r in runs for t in r["tasks"].values())]
    print("| task | best raw iterate | best average | " + " | ".join(name for name, _ in rules)
          + " |")
    print("|---" * (len(rules) + 3) + "|")
    tasks = [t for t in runs[0]["tasks"] if all(t in r["tasks"] for r in runs)]
    for task in tasks:
        best = [r["tasks"][task]["dip_best"]["psnr"] for r in runs]
        cells = [f"{statistics.mean(best):.2f}",
                 f"{statistics.mean(b[task] for b in best_average):.2f}"]
        for _, key in rules:
            values = []
            for r in runs:
                t = r["tasks"][task]
                picked = t[key]
                if "iteration" in picked and picked["iteration"] == 0:
                    picked = t["dip_last"]
                values.append(picked["psnr"])
            gaps = [b - v for b, v in zip(best, values)]
            cells.append(f"{statistics.mean(values):.2f} ({statistics.mean(gaps):+.2f} / "
                         f"{max(gaps):+.2f})")
        print(f"| {task} | " + " | ".join(cells) + " |")


if __name__ == "__main__":
    main()
