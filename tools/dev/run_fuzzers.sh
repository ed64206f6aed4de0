#!/usr/bin/env bash
# Build the libFuzzer targets in fuzz/ (clang, ASan + UBSan) and run each for a fixed time on a
# seed corpus made from the test fixtures. See fuzz/README.md.
#
# Usage: tools/dev/run_fuzzers.sh [SECONDS] [TARGET...]
#   SECONDS   time per target (-max_total_time), default 60
#   TARGET    pth, safetensors, image (default: all three)
# Environment:
#   FUZZ_JOBS=N          targets run at once (default: number of cores, at most 2)
#   FUZZ_DIR=DIR         work directory (default: build/fuzz); corpora persist there between runs
#   FUZZ_FRESH=1         start from the seeds only (empty the saved corpora first)
#   FUZZ_KEEP_GOING=1    fork mode: keep fuzzing after a crash/timeout/OOM and collect them all
#   FUZZ_EXTRA_SEEDS_<TARGET>=DIR  more seed files (e.g. FUZZ_EXTRA_SEEDS_image=~/pics)
#   FUZZ_REGRESSION_SEEDS=1  add tests/data/fuzz_regressions/<target>_* to the seeds
#   FUZZ_ARGS="..."      extra libFuzzer flags for every target
#   CXX=clang++-14       the compiler (default: clang++-14, else clang++)
# Prints a line per target (seconds, executions, corpus size, result) and exits 1 if any target
# found a crash, a timeout (> 10 s on one input), a leak or an out-of-memory (> 2048 MB); the
# reproducers are in $FUZZ_DIR/artifacts/<target>/. Minimise one with
#   $FUZZ_DIR/bin/fuzz_<target> -minimize_crash=1 -runs=20000 -exact_artifact_path=small.bin FILE
# and reproduce it with $FUZZ_DIR/bin/fuzz_<target> FILE. tests/data is only read.
set -euo pipefail
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
seconds=${1:-60}
[[ $# -gt 0 ]] && shift
targets=("$@")
[[ ${#targets[@]} -eq 0 ]] && targets=(pth safetensors image)
work=${FUZZ_DIR:-$root/build/fuzz}
jobs=${FUZZ_JOBS:-$(($(nproc) < 2 ? $(nproc) : 2))}

if [[ -z "${CXX:-}" ]]; then
    CXX=$(command -v clang++-14 || command -v clang++ || true)
fi
if [[ -z "$CXX" ]] || ! "$CXX" --version | grep -q clang; then
    echo "run_fuzzers: needs clang++ with libFuzzer (apt-get install clang-14)" >&2
    exit 2
fi
for t in "${targets[@]}"; do
    [[ -f "$root/fuzz/fuzz_$t.cpp" ]] || { echo "run_fuzzers: no target '$t'" >&2; exit 2; }
done

# Compile flags: what the CMake targets get (include/, stb, OpenBLAS's cblas.h, xtensor, xtl and
# nlohmann-json live in /usr/include), plus the fuzzing and sanitizer instrumentation.
pkg_cflags=$(pkg-config --cflags openblas stb 2>/dev/null || echo "-I/usr/include/stb")
pkg_libs=$(pkg-config --libs openblas 2>/dev/null || echo "-lopenblas")
# shellcheck disable=SC2054
cxxflags=(-std=c++20 -O1 -g -fno-omit-frame-pointer
          -fsanitize=fuzzer,address,undefined -fno-sanitize-recover=undefined
          -I"$root/include")
# shellcheck disable=SC2206
cxxflags+=($pkg_cflags)
# shellcheck disable=SC2206
libs=($pkg_libs)

mkdir -p "$work/bin" "$work/logs"
build_target() {
    local t=$1 extra=()
    # fuzz_image compiles stb_image itself so that the decoder is instrumented too
    [[ $t == image ]] && extra=(-DXRESTORE_FUZZ_STB_IMPL)
    "$CXX" "${cxxflags[@]}" "${extra[@]}" "$root/fuzz/fuzz_$t.cpp" -o "$work/bin/fuzz_$t" \
        "${libs[@]}" >"$work/logs/build_$t.log" 2>&1
}
echo "== building ${targets[*]} with $("$CXX" --version | head -1)"
pids=()
for t in "${targets[@]}"; do
    build_target "$t" &
    pids+=($!)
done
failed=0
for i in "${!pids[@]}"; do
    if ! wait "${pids[$i]}"; then
        echo "run_fuzzers: building fuzz_${targets[$i]} failed:" >&2
        cat "$work/logs/build_${targets[$i]}.log" >&2
        failed=1
    fi
done
[[ $failed -eq 0 ]] || exit 2

# Seeds: fixtures up to 256 KB (copied; tests/data is never written), plus generated images.
copy_seeds() { # DEST FILE...
    local dest=$1 f
    shift
    for f in "$@"; do
        [[ -f $f && $(stat -c %s "$f") -le 262144 ]] && cp "$f" "$dest/"
    done
    return 0
}
make_image_seeds() { # DEST: small images in every format stb_image reads
    local dest=$1 gen="$work/bin/make_image_seeds"
    if [[ ! -x $gen || $0 -nt $gen ]]; then
        cat >"$work/make_image_seeds.cpp" <<'EOF'
// Writes small images in the formats stb_image decodes (fuzzing seeds); not instrumented.
#include <stb_image_write.h>
#include <cstdint>
#include <cstdio>
#include <string>
#include <vector>
static std::string dir;
static void put(const std::string& name, const std::vector<unsigned char>& b) {
    FILE* f = std::fopen((dir + "/" + name).c_str(), "wb");
    std::fwrite(b.data(), 1, b.size(), f);
    std::fclose(f);
}
static void be16(std::vector<unsigned char>& b, unsigned v) { b.push_back(v >> 8); b.push_back(v & 255); }
static void be32(std::vector<unsigned char>& b, unsigned v) { be16(b, v >> 16); be16(b, v & 0xFFFF); }
static void le16(std::vector<unsigned char>& b, unsigned v) { b.push_back(v & 255); b.push_back(v >> 8); }
static void le32(std::vector<unsigned char>& b, unsigned v) { le16(b, v & 0xFFFF); le16(b, v >> 16); }
int main(int, char** argv) {
    dir = argv[1];
    const int w = 8, h = 6;
    std::vector<unsigned char> px(w * h * 8); // enough for 4 channels of 16 bits
    for (int i = 0; i < w * h * 8; ++i) px[i] = static_cast<unsigned char>((i * 37) ^ (i >> 3));
    std::vector<float> fx(w * h * 3);
    for (int i = 0; i < w * h * 3; ++i) fx[i] = 0.01f * static_cast<float>(i % 97);
    std::vector<float> fwide(16 * 2 * 3, 0.5f);
    for (int n = 1; n <= 4; ++n) {
        const std::string c = std::to_string(n);
        stbi_write_png((dir + "/gen_" + c + ".png").c_str(), w, h, n, px.data(), w * n);
        stbi_write_bmp((dir + "/gen_" + c + ".bmp").c_str(), w, h, n, px.data());
        stbi_write_tga_with_rle = 1;
        stbi_write_tga((dir + "/gen_rle_" + c + ".tga").c_str(), w, h, n, px.data());
        stbi_write_tga_with_rle = 0;
        stbi_write_tga((dir + "/gen_raw_" + c + ".tga").c_str(), w, h, n, px.data());
        stbi_write_jpg((dir + "/gen_q50_" + c + ".jpg").c_str(), w, h, n, px.data(), 50);
        stbi_write_jpg((dir + "/gen_q95_" + c + ".jpg").c_str(), w, h, n, px.data(), 95);
    }
    stbi_write_hdr((dir + "/gen_flat.hdr").c_str(), w, h, 3, fx.data());
    stbi_write_hdr((dir + "/gen_rle.hdr").c_str(), 16, 2, 3, fwide.data());
    // PNM: 8-bit gray and RGB, 16-bit gray
    for (int n : {1, 3}) {
        std::string head = (n == 1 ? "P5\n" : "P6\n") + std::to_string(w) + " " + std::to_string(h) + "\n255\n";
        std::vector<unsigned char> b(head.begin(), head.end());
        b.insert(b.end(), px.begin(), px.begin() + w * h * n);
        put(n == 1 ? "gen.pgm" : "gen.ppm", b);
    }
    {
        std::string head = "P5\n# comment\n" + std::to_string(w) + " " + std::to_string(h) + "\n65535\n";
        std::vector<unsigned char> b(head.begin(), head.end());
        b.insert(b.end(), px.begin(), px.begin() + w * h * 2);
        put("gen16.pgm", b);
    }
    // GIF: 4-colour palette, LZW with a CLEAR code every two pixels (code width stays 3 bits)
    for (int interlace = 0; interlace < 2; ++interlace) {
        std::vector<unsigned char> b = {'G', 'I', 'F', '8', '9', 'a'};
        le16(b, w); le16(b, h);
        b.insert(b.end(), {0x81, 0, 0}); // global table of 4 colours
        b.insert(b.end(), {0, 0, 0, 255, 0, 0, 0, 255, 0, 255, 255, 255});
        b.insert(b.end(), {0x21, 0xF9, 4, 1, 0, 0, 3, 0}); // transparent index 3
        b.push_back(0x2C); le16(b, 0); le16(b, 0); le16(b, w); le16(b, h);
        b.push_back(interlace ? 0x40 : 0);
        b.push_back(2); // LZW minimum code size
        std::vector<unsigned char> data;
        unsigned acc = 0, bits = 0;
        auto code = [&](unsigned c) { acc |= c << bits; bits += 3; while (bits >= 8) { data.push_back(acc & 255); acc >>= 8; bits -= 8; } };
        for (int i = 0; i < w * h; ++i) { if (i % 2 == 0) code(4); code(px[i] & 3); }
        code(5);
        if (bits) data.push_back(acc & 255);
        for (size_t at = 0; at < data.size(); at += 255) {
            const size_t n = std::min<size_t>(255, data.size() - at);
            b.push_back(static_cast<unsigned char>(n));
            b.insert(b.end(), data.begin() + at, data.begin() + at + n);
        }
        b.push_back(0); b.push_back(0x3B);
        put(interlace ? "gen_interlaced.gif" : "gen.gif", b);
    }
    // PSD: RGB 8-bit raw, RGB 8-bit PackBits, RGBA 16-bit raw
    for (int kind = 0; kind < 3; ++kind) {
        const int channels = kind == 2 ? 4 : 3, depth = kind == 2 ? 16 : 8;
        std::vector<unsigned char> b = {'8', 'B', 'P', 'S', 0, 1, 0, 0, 0, 0, 0, 0};
        be16(b, channels); be32(b, h); be32(b, w); be16(b, depth); be16(b, 3);
        be32(b, 0); be32(b, 0); be32(b, 0);
        be16(b, kind == 1 ? 1 : 0);
        if (kind == 1) { // per row: a literal run of w bytes
            for (int r = 0; r < channels * h; ++r) be16(b, w + 1);
            for (int r = 0; r < channels * h; ++r) { b.push_back(w - 1); b.insert(b.end(), px.begin() + r * w % (w * h), px.begin() + r * w % (w * h) + w); }
        } else {
            b.insert(b.end(), px.begin(), px.begin() + w * h * channels * depth / 8);
        }
        put("gen_" + std::to_string(kind) + ".psd", b);
    }
    // BMP: 8-bit palettised and 32-bit with BI_BITFIELDS (BITMAPV4 header)
    {
        std::vector<unsigned char> b = {'B', 'M'};
        const unsigned row = (w + 3) / 4 * 4, offset = 14 + 40 + 256 * 4;
        le32(b, offset + row * h); le32(b, 0); le32(b, offset);
        le32(b, 40); le32(b, w); le32(b, h); le16(b, 1); le16(b, 8); le32(b, 0); le32(b, row * h);
        le32(b, 2835); le32(b, 2835); le32(b, 256); le32(b, 0);
        for (int i = 0; i < 256; ++i) { b.push_back(i); b.push_back(255 - i); b.push_back(i / 2); b.push_back(0); }
        for (int y = 0; y < h; ++y) for (unsigned x = 0; x < row; ++x) b.push_back(px[(y * w + x) % (w * h)]);
        put("gen_pal8.bmp", b);
    }
    {
        std::vector<unsigned char> b = {'B', 'M'};
        const unsigned offset = 14 + 108;
        le32(b, offset + 4 * w * h); le32(b, 0); le32(b, offset);
        le32(b, 108); le32(b, w); le32(b, -h); le16(b, 1); le16(b, 32); le32(b, 3); le32(b, 4 * w * h);
        le32(b, 2835); le32(b, 2835); le32(b, 0); le32(b, 0);
        le32(b, 0x00FF0000); le32(b, 0x0000FF00); le32(b, 0x000000FF); le32(b, 0xFF000000);
        le32(b, 0x73524742); for (int i = 0; i < 12; ++i) le32(b, 0);
        b.insert(b.end(), px.begin(), px.begin() + 4 * w * h);
        put("gen_bitfields.bmp", b);
    }
    return 0;
}
EOF
        # shellcheck disable=SC2086
        "$CXX" -std=c++17 -O1 $pkg_cflags "$work/make_image_seeds.cpp" -o "$gen" -lstb -lm
    fi
    "$gen" "$dest"
}

make_safetensors_seeds() { # DEST: headers with every dtype, metadata, empty and scalar tensors
    command -v python3 >/dev/null || { echo "run_fuzzers: no python3, fewer safetensors seeds" >&2; return 0; }
    python3 - "$1" <<'EOF'
import json, struct, sys

def write(path, tensors, metadata=None, pad=True):
    header, data = {}, b''
    if metadata is not None:
        header['__metadata__'] = metadata
    for name, dtype, shape, raw in tensors:
        header[name] = {'dtype': dtype, 'shape': shape,
                        'data_offsets': [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(',', ':')).encode()
    if pad:
        text += b' ' * (-len(text) % 8)
    with open(sys.argv[1] + '/' + path, 'wb') as f:
        f.write(struct.pack('<Q', len(text)) + text + data)

f32 = struct.pack('<6f', 0.5, -1.0, 2.0, float('inf'), 0.0, -0.0)
f16 = struct.pack('<4e', 1.0, -2.0, 65504.0, 6e-08)
bf16 = struct.pack('<3H', 0x3F80, 0xFF80, 0x7FC1)
write('dtypes.safetensors', [('a', 'F32', [2, 3], f32), ('b', 'F16', [4], f16),
                             ('c', 'BF16', [3, 1], bf16), ('empty', 'F32', [0, 5], b''),
                             ('scalar', 'F32', [], f32[:4])], {'format': 'pt', 'k': 'v'})
# the data in another order than the names
write('order.safetensors', [('z', 'F32', [2], f32[:8]), ('a', 'BF16', [1, 1, 1, 3], bf16),
                            ('m', 'F16', [2, 2], f16[:8])], pad=False)
# a header with many entries (a quadratic parse shows on these)
write('many.safetensors', [('t%d' % i, 'F32', [0], b'') for i in range(2000)] +
      [('w', 'F32', [1], f32[:4])], {'format': 'pt'})
EOF
}

make_pth_seeds() { # DEST: .pth files with the layouts, opcodes and zip forms fixtures lack
    command -v python3 >/dev/null || { echo "run_fuzzers: no python3, fewer pth seeds" >&2; return 0; }
    python3 - "$1" <<'EOF'
# Writes .pth seeds (fuzzing): the tensor layouts, pickle opcodes and zip variants the fixtures
# lack. Only the standard library; a hand-written pickle and zip writer, as the fuzzed reader
# sees them.
import struct, sys, zlib

out = sys.argv[1]

def X(s):
    b = s.encode()
    return b'X' + struct.pack('<I', len(b)) + b

def I(v):
    if 0 <= v < 256:
        return b'K' + bytes([v])
    if 0 <= v < 65536:
        return b'M' + struct.pack('<H', v)
    if -2**31 <= v < 2**31:
        return b'J' + struct.pack('<i', v)
    return b'\x8a\x08' + struct.pack('<q', v)

def tup(items):
    return b'(' + b''.join(items) + b't'

ODICT = b'ccollections\nOrderedDict\n)R'

def tensor(stype, key, numel, offset, size, stride, param=False):
    t = (b'ctorch._utils\n_rebuild_tensor_v2\n(' +
         tup([X('storage'), b'ctorch\n' + stype.encode() + b'\n', X(key), X('cpu'), I(numel)]) +
         b'Q' + I(offset) + tup([I(s) for s in size]) + tup([I(s) for s in stride]) + b'\x89' +
         ODICT + b'tR')
    if param:
        t = b'ctorch._utils\n_rebuild_parameter\n(' + t + b'\x88' + ODICT + b'tR'
    return t

def state_dict(items):
    return ODICT + b'(' + b''.join(X(k) + v for k, v in items) + b'u}b'

def pickle(body):
    return b'\x80\x02' + body + b'.'

def zip_bytes(entries, zip64=False):
    out, central = b'', b''
    for name, data in entries:
        n = name.encode()
        crc = zlib.crc32(data) & 0xFFFFFFFF
        offset = len(out)
        out += struct.pack('<IHHHHHIIIHH', 0x04034b50, 45 if zip64 else 20, 0, 0, 0, 0, crc,
                           len(data), len(data), len(n), 0) + n + data
        if zip64:
            extra = struct.pack('<HHQQQ', 1, 24, len(data), len(data), offset)
            sizes, off = (0xFFFFFFFF, 0xFFFFFFFF), 0xFFFFFFFF
        else:
            extra, sizes, off = b'', (len(data), len(data)), offset
        central += struct.pack('<IHHHHHHIIIHHHHHII', 0x02014b50, 45, 20, 0, 0, 0, 0, crc,
                               sizes[0], sizes[1], len(n), len(extra), 0, 0, 0, 0, off) + n + extra
    cd_offset = len(out)
    out += central
    count = len(entries)
    if zip64:
        record = len(out)
        out += struct.pack('<IQHHIIQQQQ', 0x06064b50, 44, 45, 45, 0, 0, count, count,
                           len(central), cd_offset)
        out += struct.pack('<IIQI', 0x07064b50, 0, record, 1)
        out += struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF,
                           0xFFFFFFFF, 0)
    else:
        out += struct.pack('<IHHHHIIH', 0x06054b50, 0, 0, count, count, len(central),
                           cd_offset, 0)
    return out

def archive(top, pkl, storages, zip64=False):
    entries = [(top + '/data.pkl', pkl), (top + '/byteorder', b'little')]
    entries += [(top + '/data/' + k, v) for k, v in storages.items()]
    entries += [(top + '/version', b'3\n')]
    return zip_bytes(entries, zip64)

def floats(n, fmt='<f', scale=0.25):
    return b''.join(struct.pack(fmt, (i % 7 - 3) * scale) for i in range(n))

storages = {'0': floats(12), '1': floats(6, '<e'), '2': struct.pack('<6H', *range(0x3f80, 0x3f86)),
            '3': struct.pack('<4q', 1, 2, 3, 4), '4': floats(1)}
layouts = state_dict([
    ('contiguous', tensor('FloatStorage', '0', 12, 0, [3, 4], [4, 1])),
    ('transposed', tensor('FloatStorage', '0', 12, 0, [4, 3], [1, 4])),
    ('offset', tensor('FloatStorage', '0', 12, 5, [2, 3], [3, 1])),
    ('broadcast', tensor('FloatStorage', '4', 1, 0, [3, 5], [0, 0])),
    ('scalar', tensor('FloatStorage', '4', 1, 0, [], [])),
    ('empty', tensor('FloatStorage', '0', 12, 12, [0, 4], [4, 1])),
    ('half', tensor('HalfStorage', '1', 6, 0, [2, 3], [3, 1], param=True)),
    ('bfloat16', tensor('BFloat16Storage', '2', 6, 1, [5], [1])),
])
seeds = {
    'layouts.pth': archive('layouts', pickle(layouts), storages),
    'zip64.pth': archive('zip64', pickle(layouts), storages, zip64=True),
    'long.pth': archive('long', pickle(state_dict([
        ('ints', tensor('LongStorage', '3', 4, 0, [4], [1]))])), storages),
}
# a checkpoint: the weights under "state_dict" beside ints, floats, lists, None and bools
checkpoint = (b'}(' + X('epoch') + I(3) + X('lr') + b'G' + struct.pack('>d', 1e-3) +
              X('flags') + b']q\x00(\x88\x89Ne' + X('big') + I(2**40) + X('neg') + I(-5) +
              X('state_dict') + state_dict([('w', tensor('FloatStorage', '0', 12, 0, [12], [1]))]) +
              b'u')
seeds['checkpoint.pth'] = archive('checkpoint', pickle(checkpoint), storages)
# protocol 4 framing: FRAME, SHORT_BINUNICODE, MEMOIZE, STACK_GLOBAL, BINUNICODE8, BINGET
def sg(module, name):
    return (b'\x8c' + bytes([len(module)]) + module.encode() + b'\x94' + b'\x8c' +
            bytes([len(name)]) + name.encode() + b'\x94\x93\x94')
body = (sg('collections', 'OrderedDict') + b')R\x94(' + b'\x8d' + struct.pack('<Q', 6) + b'weight' +
        sg('torch._utils', '_rebuild_tensor_v2') + b'(' + b'(' + b'\x8c\x07storage\x94' +
        sg('torch', 'FloatStorage') + b'\x8c\x010\x94\x8c\x03cpu\x94K\x0ct\x94Q' +
        b'K\x00K\x03K\x04\x86\x94K\x04K\x01\x86\x94\x89h\x02)Rt\x94R\x94u.')
seeds['protocol4.pth'] = archive('protocol4', b'\x80\x04\x95' + struct.pack('<Q', len(body)) + body,
                                 storages)
for name, data in seeds.items():
    with open(out + '/' + name, 'wb') as f:
        f.write(data)
EOF
}

prepare() { # TARGET: fills $work/seeds/TARGET (afresh) and makes $work/corpus/TARGET
    local t=$1 seeds="$work/seeds/$1"
    rm -rf "$seeds"
    mkdir -p "$seeds" "$work/corpus/$t" "$work/artifacts/$t"
    [[ ${FUZZ_FRESH:-0} == 1 ]] && find "$work/corpus/$t" -type f -delete
    case $t in
    pth)
        copy_seeds "$seeds" "$root"/tests/data/weights/*.pth "$root"/tests/data/unet/*.pth
        # weights sidecars (inputs starting with '{')
        copy_seeds "$seeds" "$root"/models/*.json
        make_pth_seeds "$seeds"
        ;;
    safetensors)
        copy_seeds "$seeds" "$root"/tests/data/weights/*.safetensors
        make_safetensors_seeds "$seeds"
        ;;
    image)
        copy_seeds "$seeds" "$root"/tests/data/*.png "$root"/tests/data/*.bmp "$root"/data/images/*.png
        make_image_seeds "$seeds"
        ;;
    esac
    local extra_var="FUZZ_EXTRA_SEEDS_$t"
    if [[ -n "${!extra_var:-}" ]]; then
        copy_seeds "$seeds" "${!extra_var}"/*
    fi
    # FUZZ_REGRESSION_SEEDS=1: the saved reproducers are seeds too (a target stops at once on
    # one that still fails)
    if [[ ${FUZZ_REGRESSION_SEEDS:-0} == 1 ]]; then
        copy_seeds "$seeds" "$root"/tests/data/fuzz_regressions/"${t}"_*
        if [[ $t == pth ]]; then # the pth target reads sidecars too
            copy_seeds "$seeds" "$root"/tests/data/fuzz_regressions/sidecar_*
        fi
    fi
}

run_target() { # TARGET
    local t=$1 max_len dict=() mode=()
    case $t in
    pth) max_len=262144; dict=(-dict="$root/fuzz/pth.dict") ;;
    # 1 MiB: room for headers of about 20,000 entries, where a parse that is not linear shows
    safetensors) max_len=1048576; dict=(-dict="$root/fuzz/safetensors.dict") ;;
    image) max_len=32768; dict=(-dict="$root/fuzz/image.dict") ;;
    esac
    if [[ ${FUZZ_KEEP_GOING:-0} == 1 ]]; then
        mode=(-fork=1 -ignore_crashes=1 -ignore_timeouts=1 -ignore_ooms=1)
    fi
    # shellcheck disable=SC2086
    ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:allocator_may_return_null=0} \
    UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1} \
    "$work/bin/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=2048 \
        -malloc_limit_mb=2048 -max_len="$max_len" -print_final_stats=1 "${dict[@]}" \
        "${mode[@]}" -artifact_prefix="$work/artifacts/$t/" ${FUZZ_ARGS:-} \
        "$work/corpus/$t" "$work/seeds/$t" >"$work/logs/$t.log" 2>&1
}

for t in "${targets[@]}"; do
    prepare "$t"
done
echo "== fuzzing ${targets[*]} for ${seconds} s each, $jobs at a time (logs in $work/logs)"
for t in "${targets[@]}"; do
    while [[ $(jobs -rp | wc -l) -ge $jobs ]]; do
        wait -n || true
    done
    (
        date +%s >"$work/logs/$t.start"
        touch -d "@$(cat "$work/logs/$t.start")" "$work/logs/$t.start"
        rc=0
        run_target "$t" || rc=$?
        echo "$rc" >"$work/logs/$t.rc"
        date +%s >"$work/logs/$t.end"
    ) &
done
wait || true

found=0
printf '%-12s %8s %12s %8s  %s\n' target seconds executions corpus result
for t in "${targets[@]}"; do
    log="$work/logs/$t.log"
    rc=$(cat "$work/logs/$t.rc" 2>/dev/null || echo 1)
    execs=$({ grep -ho 'stat::number_of_executed_units: [0-9]*' "$log" || true; } |
        awk '{s += $2} END {print s + 0}')
    if [[ $execs -eq 0 ]]; then # fork mode prints no final stats
        execs=$({ grep -o '^#[0-9]*' "$log" || true; } | tail -1 | tr -d '#')
    fi
    secs=$(( $(cat "$work/logs/$t.end") - $(cat "$work/logs/$t.start") ))
    corpus=$(find "$work/corpus/$t" -type f | wc -l)
    artifacts=$(find "$work/artifacts/$t" -type f -newer "$work/logs/$t.start" | sort)
    if [[ -n "$artifacts" || $rc -ne 0 ]]; then
        found=1
        result="FOUND (rc $rc): $(echo "$artifacts" | head -5 | tr '\n' ' ')"
        summary=$(grep -m1 -E '^(==[0-9]+==ERROR|SUMMARY|==FUZZ==|.*runtime error:|ALARM|==[0-9]+== ERROR: libFuzzer)' "$log" || true)
        [[ -n "$summary" ]] && result+=$'\n'"             $summary"
    else
        result=ok
    fi
    printf '%-12s %8s %12s %8s  %s\n' "$t" "$secs" "${execs:-?}" "$corpus" "$result"
done
exit $found
