#!/usr/bin/python3
"""Regenerate the weights fixtures of tests/test_pth.cpp and tests/test_safetensors.cpp.

Run with Debian's Python (torch 1.13, numpy 1.24):  /usr/bin/python3 tools/dev/make_weights_fixtures.py
Writes into tests/data/weights/ (a few KB in all, deterministic):
  small.pth            torch.save of a module's state_dict (so with _metadata, set by BUILD) plus a
                       transposed view, two views sharing one storage at offsets, a strided slice,
                       a 0-d tensor, an empty tensor and an nn.Parameter (_rebuild_parameter)
  small_half.pth       float16 and bfloat16 tensors (views included), with extreme values
  lightning.pth        a Lightning-style checkpoint: 'state_dict' (keys 'unet.*'), 'epoch': 3,
                       optimizer state with int keys, tuples, float and int64 tensors
  small_v2.pth         small.pth laid out as torch 2.x writes it: top folder 'small_v2', data
                       aligned to 64 bytes through extra-field padding, 'byteorder' = little,
                       '.format_version', '.storage_alignment', '.data/serialization_id'
  small_v2_big.pth     the same with byteorder 'big' (must be refused)
  small.safetensors    the same tensors as small.pth, written here with struct + json
  small_half.safetensors  the same tensors as small_half.pth (F16, BF16)
  expected.json        for each fixture and tensor: shape, dtype and the float32 bit pattern of
                       every value in row-major order
(ema_checkpoint.pth in the same folder, a training checkpoint with float64 tensors, an int64
buffer and wrapper prefixes, is written without torch by tests/test_checkpoints.cpp:
XRESTORE_WRITE_FIXTURES=1 build/tests/tests_io --run_test=test_checkpoints.)
"""
import json
import os
import struct
import zipfile
from collections import OrderedDict

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "data", "weights")


def path(name):
    return os.path.join(OUT, name)


def float_bits(t):
    """uint32 bit patterns of the float32 values of t (row-major)."""
    flat = t.detach().float().contiguous().reshape(-1)
    return [v & 0xFFFFFFFF for v in flat.view(torch.int32).tolist()]


def describe(sd):
    dtype = {torch.float32: "float32", torch.float16: "float16", torch.bfloat16: "bfloat16"}
    return OrderedDict(
        (k, {"shape": list(v.shape), "dtype": dtype[v.dtype], "bits": float_bits(v)})
        for k, v in sd.items())


def small_state_dict():
    torch.manual_seed(0)
    model = torch.nn.Sequential(OrderedDict(conv=torch.nn.Conv2d(3, 2, 3)))
    sd = model.state_dict()  # OrderedDict with _metadata: pickled with BUILD
    matrix = torch.randn(3, 4)
    sd["proj.weight_t"] = matrix.t()  # 4 x 3, stride (1, 4)
    base = torch.randn(12)
    sd["shared.a"] = base[2:8].view(2, 3)  # offset 2 into the shared storage
    sd["shared.b"] = base[5:]  # offset 5, overlapping shared.a
    grid = torch.randn(4, 5)
    sd["strided"] = grid[::2, 1:]  # 2 x 4, stride (10, 1), offset 1
    sd["scale"] = torch.tensor(0.125)  # 0-d
    sd["empty"] = torch.zeros(0, 3)
    sd["param"] = torch.nn.Parameter(torch.randn(3))  # saved through _rebuild_parameter
    return sd


def half_state_dict():
    torch.manual_seed(1)
    h = torch.randn(2, 3).half()
    h[0, 0] = 65504.0  # largest finite float16
    h[0, 1] = -0.0
    h[0, 2] = 2.0 ** -24  # smallest subnormal
    h[1, 0] = float("inf")
    b = torch.randn(6).bfloat16()
    b[0] = 3.0e38
    b[1] = float("-inf")
    b[2] = 1.0e-40  # a bfloat16 subnormal
    hbase = torch.randn(10).half()
    sd = OrderedDict()
    sd["half.weight"] = h
    sd["half.t"] = h.t()  # 3 x 2 view of the same storage
    sd["half.view"] = hbase[3:9].view(3, 2)
    sd["bf16.weight"] = b
    sd["bf16.view"] = b[1:5:2]
    return sd


def lightning_checkpoint():
    torch.manual_seed(2)

    class Wrapper(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.unet = torch.nn.Sequential(torch.nn.Conv2d(1, 2, 3), torch.nn.ReLU(),
                                            torch.nn.Conv2d(2, 1, 1))

    sd = Wrapper().state_dict()
    return OrderedDict([
        ("epoch", 3),
        ("global_step", 120),
        ("pytorch-lightning_version", "1.9.0"),
        ("state_dict", sd),
        ("loops", None),
        ("optimizer_states", [{
            "state": {0: {"step": torch.tensor(3.0), "exp_avg": torch.zeros(2),
                          "count": torch.tensor([1, 2], dtype=torch.int64)}},
            "param_groups": [{"lr": 1e-3, "betas": (0.9, 0.999), "eps": 1e-8,
                              "weight_decay": 0, "amsgrad": False, "params": [0, 1, 2, 3]}],
        }]),
        ("lr_schedulers", []),
        ("hyper_parameters", {"chans": 2, "name": "unet", "sigma": 0.1}),
    ]), sd


def write_safetensors(filename, sd, metadata):
    """The safetensors layout written by hand: 8-byte header length, JSON header padded with
    spaces to a multiple of 8, data in the state_dict's order."""
    code = {torch.float32: "F32", torch.float16: "F16", torch.bfloat16: "BF16"}
    header = OrderedDict([("__metadata__", metadata)])
    data = b""
    for name, t in sd.items():
        t = t.detach().contiguous()
        raw = t.view(torch.int16).numpy().tobytes() if t.dtype == torch.bfloat16 \
            else t.numpy().tobytes()
        header[name] = {"dtype": code[t.dtype], "shape": list(t.shape),
                        "data_offsets": [len(data), len(data) + len(raw)]}
        data += raw
    text = json.dumps(header, separators=(",", ":")).encode()
    text += b" " * ((8 - len(text) % 8) % 8)
    with open(path(filename), "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + data)


def rewrite_as_torch2(source, filename, byteorder):
    """The zip layout of torch 2.x: data.pkl, .format_version, .storage_alignment, byteorder,
    data/<key> aligned to 64 bytes through a padding extra field, version,
    .data/serialization_id; every entry STORED."""
    top = os.path.splitext(filename)[0]
    with zipfile.ZipFile(path(source)) as z:
        old_top = z.namelist()[0].split("/")[0]
        storages = sorted((n for n in z.namelist() if n.startswith(old_top + "/data/")),
                          key=lambda n: int(n.rsplit("/", 1)[1]))
        records = [("data.pkl", z.read(old_top + "/data.pkl")),
                   (".format_version", b"1"),
                   (".storage_alignment", b"64"),
                   ("byteorder", byteorder.encode())]
        records += [(n[len(old_top) + 1:], z.read(n)) for n in storages]
        records += [("version", b"3\n"), (".data/serialization_id", b"0123456789012345678901")]
    with open(path(filename), "wb") as f, zipfile.ZipFile(f, "w", zipfile.ZIP_STORED) as z:
        for name, payload in records:
            info = zipfile.ZipInfo(top + "/" + name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            start = f.tell() + 30 + len(info.filename.encode()) + 4
            pad = (64 - start % 64) % 64
            info.extra = struct.pack("<HH", 0x4246, pad) + b"Z" * pad  # 'FB' as torch writes
            z.writestr(info, payload)
    with zipfile.ZipFile(path(filename)) as z:  # check the alignment
        for info in z.infolist():
            with open(path(filename), "rb") as f:
                f.seek(info.header_offset + 26)
                n, m = struct.unpack("<HH", f.read(4))
            assert (info.header_offset + 30 + n + m) % 64 == 0, info.filename


def main():
    os.makedirs(OUT, exist_ok=True)
    expected = OrderedDict()

    small = small_state_dict()
    torch.save(small, path("small.pth"))
    expected["small.pth"] = describe(small)

    half = half_state_dict()
    torch.save(half, path("small_half.pth"))
    expected["small_half.pth"] = describe(half)

    checkpoint, inner = lightning_checkpoint()
    torch.save(checkpoint, path("lightning.pth"))
    expected["lightning.pth"] = describe(inner)

    rewrite_as_torch2("small.pth", "small_v2.pth", "little")
    rewrite_as_torch2("small.pth", "small_v2_big.pth", "big")
    expected["small_v2.pth"] = expected["small.pth"]

    write_safetensors("small.safetensors", small, {"format": "pt", "source": "small.pth"})
    expected["small.safetensors"] = expected["small.pth"]
    write_safetensors("small_half.safetensors", half, {"format": "pt"})
    expected["small_half.safetensors"] = expected["small_half.pth"]

    # a check of the fixtures themselves: torch reads back what was described
    for name in ("small.pth", "small_half.pth", "small_v2.pth"):
        loaded = torch.load(path(name))
        assert describe(loaded) == expected[name], name
    assert describe(torch.load(path("lightning.pth"))["state_dict"]) == expected["lightning.pth"]

    with open(path("expected.json"), "w") as f:
        json.dump(expected, f, indent=1)
        f.write("\n")


if __name__ == "__main__":
    main()
