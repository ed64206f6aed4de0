#!/usr/bin/python3
"""Regenerate the tiny fixtures of tests/test_image_io.cpp and tests/test_npy.cpp.

Run with Debian's Python (PIL 9.4, numpy 1.24):  /usr/bin/python3 tests/data/make_fixtures.py
Every value is spelled out here so that the C++ tests can hard-code the same numbers.
"""
import os
import struct
import zlib

import numpy as np
from PIL import Image

HERE = os.path.dirname(os.path.abspath(__file__))


def path(name):
    return os.path.join(HERE, name)


# ---- images ---------------------------------------------------------------------------------

# 16-bit grayscale, H=4 x W=5, written by PIL (mode I;16 -> PNG bit depth 16, colour type 0).
GRAY16 = np.array([[0, 1, 2, 255, 256],
                   [257, 1000, 4095, 4096, 12345],
                   [32767, 32768, 40000, 50000, 60000],
                   [65000, 65533, 65534, 65535, 7]], dtype=np.uint16)
Image.fromarray(GRAY16).save(path("gray16_4x5.png"))

# 16-bit RGB, H=2 x W=3, hand-encoded (PIL cannot write 16-bit RGB): row 0 uses filter 0 (None),
# row 1 filter 1 (Sub), the zlib stream is real deflate (level 9).
RGB16 = np.array([[[0, 65535, 1], [256, 257, 4660], [43981, 65280, 255]],
                  [[1, 2, 3], [60000, 30000, 15000], [65535, 0, 32768]]], dtype=np.uint16)


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data +
            struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def encode_png16(array, colour_type, filters):
    height, width = array.shape[:2]
    rows = array.astype(">u2").reshape(height, -1).view(np.uint8).reshape(height, -1)
    bpp = 2 * (array.shape[2] if array.ndim == 3 else 1)
    raw = bytearray()
    for y, kind in zip(range(height), filters):
        row = rows[y].astype(np.int32)
        if kind == 1:  # Sub: x - a
            left = np.concatenate([np.zeros(bpp, np.int32), row[:-bpp]])
            row = (row - left) % 256
        raw.append(kind)
        raw += bytes(row.astype(np.uint8))
    ihdr = struct.pack(">IIBBBBB", width, height, 16, colour_type, 0, 0, 0)
    return (b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) +
            png_chunk(b"IDAT", zlib.compress(bytes(raw), 9)) + png_chunk(b"IEND", b""))


with open(path("rgb16_2x3.png"), "wb") as f:
    f.write(encode_png16(RGB16, 2, [0, 1]))

# 8-bit gray + alpha (PIL mode LA), H=2 x W=3: the reader keeps the gray channel only.
LUMA = np.array([[0, 128, 255], [10, 20, 30]], dtype=np.uint8)
ALPHA = np.array([[255, 0, 128], [1, 2, 3]], dtype=np.uint8)
Image.fromarray(np.stack([LUMA, ALPHA], axis=-1), mode="LA").save(path("gray_alpha_2x3.png"))

# 8-bit RGBA, H=2 x W=3: the reader keeps RGB.
RGBA = np.array([[[255, 0, 0, 255], [0, 255, 0, 128], [0, 0, 255, 0]],
                 [[1, 2, 3, 4], [100, 150, 200, 250], [7, 77, 177, 17]]], dtype=np.uint8)
Image.fromarray(RGBA, mode="RGBA").save(path("rgba_2x3.png"))

# Palette PNG (PIL mode P), H=2 x W=2, palette entries 0..2: the reader expands it to RGB.
PALETTE = [12, 34, 56, 200, 100, 0, 255, 255, 255]
indexed = Image.fromarray(np.array([[0, 1], [2, 1]], dtype=np.uint8), mode="P")
indexed.putpalette(PALETTE + [0] * (768 - len(PALETTE)))
indexed.save(path("palette_2x2.png"))

# 24-bit BMP, H=2 x W=3 (same RGB values as rgba_2x3.png without alpha).
Image.fromarray(RGBA[..., :3], mode="RGB").save(path("rgb_2x3.bmp"))

# ---- npy ------------------------------------------------------------------------------------

F64 = np.array([[0.1, -2.5, 1e-3, 3.0],
                [1e10, -0.0, 7.25, 1.0 / 3.0],
                [np.pi, np.e, -1e-8, 42.0]], dtype="<f8")
np.save(path("f64_3x4.npy"), F64)
np.save(path("u8_2x3x4.npy"), (np.arange(24) * 11 % 256).astype(np.uint8).reshape(2, 3, 4))
np.save(path("i2_5.npy"), np.array([-32768, -1, 0, 1, 32767], dtype="<i2"))
with open(path("f32_v2_1x2x2.npy"), "wb") as f:
    np.lib.format.write_array(f, np.array([[[1.5, -2.0], [0.25, 8.0]]], dtype="<f4"),
                              version=(2, 0))
np.save(path("f32_fortran_2x3.npy"), np.asfortranarray(np.arange(6, dtype="<f4").reshape(2, 3)))
np.save(path("f32_bigendian_2x3.npy"), np.arange(6, dtype=">f4").reshape(2, 3))

# JPEGs the stb-written test files cannot be: progressive (RGB 4:2:0 and grayscale) and an
# optimised 4:2:2 baseline, H=16 x W=24, quality 95, of a smooth gradient the tests spell out:
# R = 40 + 8 j, G = 60 + 6 i, B = 200 - 5 j (gray: the R plane).
JI, JJ = np.meshgrid(np.arange(16), np.arange(24), indexing="ij")
GRADIENT = np.stack([40 + 8 * JJ, 60 + 6 * JI, 200 - 5 * JJ], axis=-1).astype(np.uint8)
Image.fromarray(GRADIENT).save(path("prog_rgb_16x24.jpg"), quality=95, progressive=True)
Image.fromarray(GRADIENT[..., 0]).save(path("prog_gray_16x24.jpg"), quality=95,
                                          progressive=True)
Image.fromarray(GRADIENT).save(path("opt_rgb422_16x24.jpg"), quality=95, optimize=True,
                               subsampling=1)
