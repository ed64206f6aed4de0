#!/usr/bin/env bash
# On a machine with a GPU (through the device tool, with .gpu carried; see tools/dev/gpu_bundle.sh):
# the whole GPU check in one call, in this order, each stage only while time is left:
#   tests      every GPU test binary
#   bench      the GPU benchmark with the PyTorch CUDA comparison (benchmarks/compare_cuda_pytorch.py)
#   memcheck, initcheck, racecheck, synccheck
#              compute-sanitizer on every GPU test binary
# What comes back in $OUT (or out/gpu without the device tool) stays within the device tool's
# limit of 8 files: summary.txt (one line per step, with exit codes and times), bench.txt (the
# table), bench_cuda.json, logs.tar.xz (every log in full).
#   tools/dev/gpu_run.sh [--budget SECONDS] [--stages tests,bench,memcheck,...]
#                        [--only test_cuda_unet,...] [--filter BOOST_TEST_FILTER]
#                        [-- bench options, e.g. --sizes 512]
# --budget (default 480) bounds the whole run: a stage that would start with too little time
# left is skipped and says so. --only keeps those test binaries; --filter runs a Boost.Test
# subset of them (--run_test) in every stage.
# Exit status 0 only when every stage that ran passed and none was skipped for time.
set -uo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
out=${OUT:-$root/out/gpu}
budget=480
stages=tests,bench,memcheck,initcheck,racecheck,synccheck
filter=
only=
bench_args=()
while [[ $# -gt 0 ]]; do
    case "$1" in
    --budget) budget=$2; shift 2 ;;
    --stages) stages=$2; shift 2 ;;
    --filter) filter=$2; shift 2 ;;
    --only) only=$2; shift 2 ;;
    --) shift; bench_args=("$@"); break ;;
    *) echo "gpu_run.sh: unknown option $1" >&2; exit 2 ;;
    esac
done
if ! [[ "$budget" =~ ^[0-9]+$ ]]; then
    echo "gpu_run.sh: --budget takes seconds, got '$budget'" >&2
    exit 2
fi
for stage in ${stages//,/ }; do
    case "$stage" in
    tests | bench | memcheck | initcheck | racecheck | synccheck) ;;
    *) echo "gpu_run.sh: unknown stage '$stage'" >&2; exit 2 ;;
    esac
done
if [[ ! -f "$root/.gpu/bundle.tar.xz" ]]; then
    echo "gpu_run.sh: $root/.gpu/bundle.tar.xz is missing: run tools/dev/gpu_bundle.sh first" >&2
    exit 2
fi
mkdir -p "$out"
start=$SECONDS
logs=$(mktemp -d)
summary="$out/summary.txt"
: >"$summary"
say() { echo "[$((SECONDS - start)) s] $*" | tee -a "$summary"; }
left() { echo $((budget - (SECONDS - start))); }
status=0

bundle=$(mktemp -d)
trap 'rm -rf "$bundle" "$logs"' EXIT
tar -C "$bundle" -xJf "$root/.gpu/bundle.tar.xz"
# cuDNN from the machine's PyTorch wheels (or a system install): every lib/ folder of the wheels
# under the `nvidia` namespace package, cuDNN's first (NVRTC and the rest for what cuDNN may load
# at run time; a namespace package has no __file__, so its __path__ is searched). These and the
# bundle's libraries go to the bundle's binaries only (through run_bundled), never to python3:
# an older libstdc++ of the bundle would shadow the one PyTorch needs.
cudnn=$(python3 - <<'PY' 2>/dev/null || true
import glob, os
import nvidia
folders = []
for base in nvidia.__path__:
    for folder in sorted(glob.glob(os.path.join(base, "**", "lib"), recursive=True)):
        if glob.glob(os.path.join(folder, "*.so*")) and folder not in folders:
            folders.append(folder)
folders.sort(key=lambda f: "cudnn" not in f)
print(":".join(folders))
PY
)
bundle_path="$bundle/lib${cudnn:+:$cudnn}${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
# The bundle's C++ runtime only where the machine's is older: a newer one runs our binaries too,
# and is what the wheels' libraries (cuDNN) were built against.
newest() { grep -ao "GLIBCXX_3\.4\.[0-9]*" "$1" 2>/dev/null | sort -uV | tail -n 1; }
for system_lib in /usr/lib/x86_64-linux-gnu/libstdc++.so.6 /lib64/libstdc++.so.6; do
    [[ -f "$system_lib" ]] || continue
    ours=$(newest "$bundle/lib/libstdc++.so.6")
    theirs=$(newest "$system_lib")
    if [[ -n "$theirs" && "$(printf '%s\n%s\n' "$ours" "$theirs" | sort -V | tail -n 1)" == "$theirs" ]]; then
        rm -f "$bundle/lib/libstdc++.so.6" "$bundle/lib/libgcc_s.so.1"
    fi
    break
done
cat >"$bundle/run_bundled" <<EOF
#!/usr/bin/env bash
export LD_LIBRARY_PATH="$bundle_path"
exec "\$@"
EOF
cat >"$bundle/bench_cuda" <<EOF
#!/usr/bin/env bash
exec "$bundle/run_bundled" "$bundle/bin/bench_cuda" "\$@"
EOF
chmod +x "$bundle/run_bundled" "$bundle/bench_cuda"
# the binaries name data/, models/ and tests/ by the absolute path of the tree they were built in
source_root=$(cat "$bundle/source_root")
if [[ "$source_root" != "$root" ]]; then
    mkdir -p "$source_root"
    for d in data models tests; do
        ln -sfn "$root/$d" "$source_root/$d"
    done
fi
{
    nvidia-smi -L
    nvidia-smi --query-gpu=name,driver_version,memory.total,clocks.max.sm --format=csv
    echo "wheel libraries: ${cudnn:-none (cuDNN from the system)}"
    python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "cudnn", torch.backends.cudnn.version())' 2>&1
} >"$logs/device.txt" 2>&1
say "device: $(head -n 1 "$logs/device.txt")"
say "bundle: $(cd "$bundle/bin" && echo *)"
missing=$("$bundle/run_bundled" ldd "$bundle"/bin/* 2>&1 | grep "not found" | sort -u | tr '\n' ' ')
[[ -n "$missing" ]] && say "MISSING LIBRARIES: $missing"

tests=()
for t in "$bundle"/bin/test_cuda_*; do
    if [[ -z "$only" || ",$only," == *",$(basename "$t"),"* ]]; then
        tests+=("$t")
    fi
done
if [[ ${#tests[@]} -eq 0 ]]; then
    say "no test binary matches --only $only"
    exit 2
fi
boost_args=(--log_level=test_suite --report_level=short)
[[ -n "$filter" ]] && boost_args+=("--run_test=$filter")

# run NAME SECONDS COMMAND...: log to $logs/NAME.log, one summary line, status 1 on failure
run() {
    local name=$1 limit=$2
    shift 2
    local t0=$SECONDS rc
    timeout -k 10 "$limit" "$@" >"$logs/$name.log" 2>&1
    rc=$?
    local verdict=passed
    if [[ $rc -eq 124 || $rc -eq 137 ]]; then
        verdict="TIMED OUT after $limit s"
    elif [[ $rc -ne 0 ]]; then
        verdict="FAILED (exit $rc)"
    fi
    [[ $rc -ne 0 ]] && status=1
    say "$name: $verdict in $((SECONDS - t0)) s: $(grep -E 'ERROR SUMMARY|failure|error:|Leaked|SKIPPED|No errors|passed|Test module' "$logs/$name.log" | tail -n 3 | tr '\n' ' ')"
    return $rc
}

sanitizer=$(command -v compute-sanitizer || true)
for candidate in /usr/local/cuda/bin/compute-sanitizer /usr/local/cuda-*/bin/compute-sanitizer; do
    [[ -z "$sanitizer" && -x "$candidate" ]] && sanitizer=$candidate
done
for stage in ${stages//,/ }; do
    if [[ $(left) -lt 30 ]]; then
        say "$stage: SKIPPED, $(left) s of the budget left"
        status=1
        continue
    fi
    case "$stage" in
    tests)
        for t in "${tests[@]}"; do
            run "$(basename "$t")" $(($(left) > 120 ? 120 : $(left))) \
                "$bundle/run_bundled" "$t" "${boost_args[@]}"
        done
        ;;
    bench)
        # most of what is left, keeping a share for the sanitizers behind it
        limit=$(($(left) * 2 / 3))
        if ! (cd "$logs" && run bench "$limit" env PYTHONUNBUFFERED=1 python3 \
            "$root/benchmarks/compare_cuda_pytorch.py" --bench "$bundle/bench_cuda" \
            --json "$logs/bench_cuda.json" "${bench_args[@]}"); then
            status=1
        fi
        cp "$logs/bench.log" "$out/bench.txt"
        [[ -f "$logs/bench_cuda.json" ]] && cp "$logs/bench_cuda.json" "$out/"
        ;;
    *)
        if [[ -z "$sanitizer" ]]; then
            say "$stage: compute-sanitizer not found"
            status=1
            continue
        fi
        extra=()
        [[ "$stage" == memcheck ]] && extra=(--leak-check full)
        # the time left shared among the binaries still to run under this tool
        remaining=${#tests[@]}
        for t in "${tests[@]}"; do
            share=$(($(left) / (remaining > 0 ? remaining : 1)))
            remaining=$((remaining - 1))
            if [[ $share -lt 15 ]]; then
                say "$stage $(basename "$t"): SKIPPED, $(left) s left"
                status=1
                continue
            fi
            run "$stage.$(basename "$t")" "$share" "$bundle/run_bundled" "$sanitizer" \
                --tool "$stage" "${extra[@]}" --error-exitcode 99 --print-limit 20 \
                "$t" "${boost_args[@]}"
        done
        ;;
    esac
done
say "done: exit $status"
cp "$logs/device.txt" "$out/" 2>/dev/null
cp "$summary" "$logs/"
tar -C "$logs" -cJf "$out/logs.tar.xz" .
exit $status
