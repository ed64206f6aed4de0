#!/usr/bin/env python3
"""Run the README's "from Python, through files" recipe as written, against this build.

Usage: run_readme_recipe.py README XRESTORE MODEL WORKDIR
The recipe is the ```python block between <!-- python-recipe-begin --> and
<!-- python-recipe-end -->. Its `XRESTORE = ...` and `MODEL = ...` lines are pointed at this
build's program and model, nothing else is changed; it runs in a fresh WORKDIR and must exit 0
and print "denoise: A dB -> B dB" and "deblur: A dB -> B dB" with B at least 2 dB above A.
The recipe runs with the first of $XRESTORE_PYTHON, this interpreter and /usr/bin/python3 that
has numpy; with none, the test is skipped (exit 77).
"""
import os
import re
import shutil
import subprocess
import sys

SKIP = 77


def fail(message):
    print(f"run_readme_recipe: FAILED: {message}")
    sys.exit(1)


def recipe_of(readme):
    text = open(readme, encoding="utf-8").read()
    block = re.search(r"<!-- python-recipe-begin -->\s*```python\n(.*?)```\s*<!-- python-recipe-end -->",
                      text, re.S)
    if block is None:
        fail(f"no ```python block between the python-recipe markers in {readme}")
    return block.group(1)


def pointed(recipe, xrestore, model):
    for name, value in (("XRESTORE", xrestore), ("MODEL", model)):
        recipe, count = re.subn(rf"^{name} = \"[^\"]*\"", f"{name} = {value!r}", recipe, flags=re.M)
        if count != 1:
            fail(f"the recipe must set {name} = \"...\" on one line, found {count}")
    return recipe


def python_with_numpy():
    candidates = [os.environ.get("XRESTORE_PYTHON"), sys.executable, "/usr/bin/python3"]
    for python in candidates:
        if python and shutil.which(python) and subprocess.run(
                [python, "-c", "import numpy"], capture_output=True).returncode == 0:
            return python
    return None


def main():
    if len(sys.argv) != 5:
        fail(__doc__)
    readme, xrestore, model, work = sys.argv[1:]
    recipe = pointed(recipe_of(readme), xrestore, model)
    python = python_with_numpy()
    if python is None:
        print("run_readme_recipe: skipped: no Python interpreter with numpy (apt-get install "
              "python3-numpy, or set XRESTORE_PYTHON)")
        sys.exit(SKIP)
    shutil.rmtree(work, ignore_errors=True)
    os.makedirs(work)
    with open(os.path.join(work, "recipe.py"), "w", encoding="utf-8") as f:
        f.write(recipe)
    run = subprocess.run([python, "recipe.py"], cwd=work, capture_output=True, text=True)
    print(run.stdout + run.stderr)
    if run.returncode != 0:
        fail(f"the recipe exited with {run.returncode}")
    for step in ("denoise", "deblur"):
        found = re.search(rf"^{step}: ([0-9.]+) dB -> ([0-9.]+) dB$", run.stdout, re.M)
        if found is None:
            fail(f"the recipe printed no '{step}: A dB -> B dB' line")
        before, after = float(found.group(1)), float(found.group(2))
        if after < before + 2.0:
            fail(f"{step}: {before} dB -> {after} dB is not an improvement of 2 dB")
        for name in ("denoised.npy", "restored.npy"):
            if not os.path.isfile(os.path.join(work, name)):
                fail(f"the recipe wrote no {name}")
    print("run_readme_recipe: OK")


if __name__ == "__main__":
    main()
