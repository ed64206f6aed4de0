#!/usr/bin/env bash
# Compile time of the umbrella header: a one-line translation unit, `#include <xrestore/xrestore.hpp>`,
# compiled RUNS times with the project's flags (C++20, -O2, OpenMP, -Wall -Wextra -Wpedantic, the
# include paths of stb and OpenBLAS from pkg-config); prints each run's CPU seconds of the compiler
# (user + system, so a busy machine distorts it less than wall time) and their median.
# Usage: tools/dev/measure_umbrella.sh [--runs N] [--header xrestore/io/image.hpp] [ROOT...]
#   ROOT    source trees to compare (default: this one); with several, the runs alternate between
#           them (ROOT1, ROOT2, ROOT1, ROOT2, ...) so that the machine's load falls on each alike
#   --header  measure another header instead of xrestore/xrestore.hpp (any include path works)
#   CXX, CXXFLAGS  the compiler (default c++) and extra flags
set -euo pipefail
runs=5
header=xrestore/xrestore.hpp
roots=()
while (($#)); do
    case "$1" in
    --runs) runs=$2; shift 2 ;;
    --header) header=$2; shift 2 ;;
    -h | --help) sed -n '2,10p' "$0"; exit 0 ;;
    *) roots+=("$(cd "$1" && pwd)"); shift ;;
    esac
done
((${#roots[@]})) || roots=("$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)")
cxx=${CXX:-c++}
# shellcheck disable=SC2206 # word splitting of the flags is intended
flags=(-std=gnu++20 -O2 -DNDEBUG -fopenmp -Wall -Wextra -Wpedantic $(pkg-config --cflags stb openblas)
    ${CXXFLAGS:-})
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
echo "#include <$header>" >"$work/unit.cpp"

# CPU seconds (user + system) of one compilation of the unit against the headers of root $1
cpu_seconds() {
    local TIMEFORMAT='%3U %3S' times
    times=$({ time "$cxx" "${flags[@]}" -I "$1/include" -c "$work/unit.cpp" -o "$work/unit.o" \
        2>"$work/errors" >/dev/null; } 2>&1) || {
        cat "$work/errors" >&2
        echo "measure_umbrella: compiling <$header> against $1/include failed" >&2
        exit 1
    }
    awk '{ printf "%.2f", $1 + $2 }' <<<"$times"
}

declare -A samples
for ((run = 0; run < runs; ++run)); do
    for root in "${roots[@]}"; do
        samples[$root]+="$(cpu_seconds "$root") "
    done
done
echo "measure_umbrella: #include <$header>, $("$cxx" --version | head -1), ${flags[*]}, $runs runs"
for root in "${roots[@]}"; do
    median=$(tr ' ' '\n' <<<"${samples[$root]}" | sed '/^$/d' | sort -n |
        awk '{ v[NR] = $1 } END { print (NR % 2) ? v[(NR + 1) / 2] : (v[NR / 2] + v[NR / 2 + 1]) / 2 }')
    echo "$root: median $median s CPU (runs: ${samples[$root]% })"
done
