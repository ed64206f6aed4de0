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
