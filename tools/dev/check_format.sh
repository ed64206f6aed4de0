#!/usr/bin/env bash
# Fail when a tracked C++/CUDA file differs from what .clang-format produces.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")/../.."
if ! command -v clang-format >/dev/null; then
    echo "check_format: clang-format is not installed (tools/install_deps.sh installs it)" >&2
    exit 1
fi
bad=0
while IFS= read -r f; do
    if ! clang-format --dry-run -Werror "$f" >/dev/null 2>&1; then
        echo "check_format: not formatted: $f (run clang-format -i $f)"
        bad=1
    fi
done < <(git ls-files '*.hpp' '*.cpp' '*.cuh' '*.cu')
exit $bad
