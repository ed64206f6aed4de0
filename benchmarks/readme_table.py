"""Shared by the benchmark scripts: replace the text between two marker comments of a README."""
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
