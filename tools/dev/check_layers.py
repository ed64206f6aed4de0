#!/usr/bin/env python3
"""Check that the headers under include/xrestore follow the layer table of docs/ARCHITECTURE.md:
a header may include xrestore headers only from its own folder and the folders below it.

Usage: tools/dev/check_layers.py [--graph]   (--graph prints the folder-level include graph)
Exit status 0 when every include is allowed, 1 otherwise (each violation is printed)."""
import pathlib
import re
import sys

# folder -> the folders its headers may include (besides itself)
ALLOWED = {
    "core": set(),
    "backend": {"core"},
    "operators": {"core", "backend"},
    "prox": {"core", "backend", "operators"},
    "solvers": {"core", "backend", "operators", "prox"},
    "metrics": {"core", "backend"},
    "iqa": {"core", "backend", "io", "metrics"},
    "io": {"core"},
    "nn": {"core", "backend", "io"},
    "denoisers": {"core", "backend", "io", "nn", "operators", "prox"},
    "report": {"core", "io"},
    "train": {"core", "backend", "io", "nn", "operators"},
}
# the umbrella headers at the top level may include anything
UMBRELLAS = {"xrestore.hpp", "cuda.cuh"}
INCLUDE = re.compile(r'^\s*#\s*include\s+[<"]xrestore/([^">]+)[">]', re.M)


def main() -> int:
    root = pathlib.Path(__file__).resolve().parents[2] / "include" / "xrestore"
    graph: dict[str, set[str]] = {}
    bad = []
    for header in sorted(root.rglob("*")):
        if header.suffix not in (".hpp", ".cuh") or not header.is_file():
            continue
        relative = header.relative_to(root)
        if len(relative.parts) == 1:
            if relative.name not in UMBRELLAS:
                bad.append(f"{relative}: a header at the top level that is not an umbrella")
            continue
        folder = relative.parts[0]
        if folder not in ALLOWED:
            bad.append(f"{relative}: folder '{folder}' is not in the layer table")
            continue
        for target in INCLUDE.findall(header.read_text()):
            target_folder = pathlib.PurePosixPath(target).parts[0]
            if target_folder == folder:
                continue
            graph.setdefault(folder, set()).add(target_folder)
            if target_folder not in ALLOWED[folder]:
                bad.append(f"{relative}: includes xrestore/{target} ({folder} may include only "
                           f"{', '.join(sorted(ALLOWED[folder] | {folder}))})")
    if "--graph" in sys.argv:
        for folder in ALLOWED:
            print(f"{folder:10} -> {', '.join(sorted(graph.get(folder, set()))) or '(nothing)'}")
    for line in bad:
        print(f"check_layers: {line}")
    if not bad:
        print(f"check_layers: every include follows the layer table ({len(ALLOWED)} folders)")
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
