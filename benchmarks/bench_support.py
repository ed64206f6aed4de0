"""Shared by the benchmark scripts: the machine's description and the README tables."""
import os
import subprocess
import sys


def write_between_markers(path, begin, end, text):
    """Put `text` between the lines `begin` and `end` of the file at `path` (exits if absent)."""
    with open(path, encoding="utf-8") as f:
        content = f.read()
    if begin not in content or end not in content:
        sys.exit(f"{path} lacks the markers {begin} / {end}")
    head, rest = content.split(begin, 1)
    _, tail = rest.split(end, 1)
    with open(path, "w", encoding="utf-8") as f:
        f.write(head + begin + "\n" + text + "\n" + end + tail)


def machine():
    """(model name, core count) from lscpu, else /proc/cpuinfo and os.cpu_count()."""
    model, cores = None, None
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True, check=True).stdout
        fields = {}
        for line in text.splitlines():
            if ":" in line:
                key, value = line.split(":", 1)
                fields[key.strip()] = value.strip()
        model = fields.get("Model name")
        if fields.get("CPU(s)"):
            cores = int(fields["CPU(s)"])
    except (OSError, subprocess.CalledProcessError, ValueError):
        pass
    if model is None:
        model = "unknown CPU"
        try:
            with open("/proc/cpuinfo", encoding="ascii", errors="replace") as f:
                for line in f:
                    if line.startswith("model name"):
                        model = line.split(":", 1)[1].strip()
                        break
        except OSError:
            pass
    return model, cores or os.cpu_count()


def parse_fields(text, tag):
    """The key=value fields of the line of `text` that starts with `tag` (None if absent)."""
    for line in text.splitlines():
        words = line.split()
        if words and words[0] == tag:
            return dict(word.split("=", 1) for word in words[1:])
    return None


def run_fields(command, env, tag, script):
    """Run `command` and return the fields of its `tag` line; exits naming `script` with the
    command's output when it fails or prints no such line."""
    result = subprocess.run(command, env=env, capture_output=True, text=True, check=False)
    fields = parse_fields(result.stdout, tag)
    if result.returncode != 0 or fields is None:
        sys.exit(f"{script}: {' '.join(command)} failed (exit {result.returncode}):\n"
                 f"{result.stdout}{result.stderr}")
    return fields


DEBIAN_PYTHON = "/usr/bin/python3"


def torch_source(python):
    """Where an interpreter's torch comes from, for the tables."""
    if os.path.abspath(python) == DEBIAN_PYTHON:  # (a venv's python links there)
        return "Debian's python3-torch"
    return "PyPI, in a virtual environment" if "bin/python" in python else python
