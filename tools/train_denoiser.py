#!/usr/bin/python3
"""Train a blind Gaussian denoiser in the fastMRI U-Net layout, as models/denoiser_unet_c32.pth.

The recipe of models/MODEL.md, on the CPU: random patches of photos, Gaussian noise of a random
level per patch, and the residual call convention the native loader uses by default for a model
with this sidecar,

    D(y) = y - s * U((y - m_c) / s)

(m_c: mean of channel c of y over H x W; s: unbiased standard deviation of all C x H x W values
of y, clamped below at 1e-4), trained with the MSE of D(y) against the clean patch. Run with
Debian's Python (torch 1.13, PIL; scikit-image adds SSIM to the report if present):

    /usr/bin/python3 tools/train_denoiser.py --out /tmp/c32 --minutes 60          # as shipped
    /usr/bin/python3 tools/train_denoiser.py --out /tmp/smoke --chans 8 --pools 2 \\
        --iters 30 --patch 64                                                      # smoke test

It writes OUT.pth (torch.save(model.state_dict()), zip format, the key names of fastMRI's Unet)
and OUT.json, the sidecar the native loader reads: the keys of models/denoiser_unet_c32.json
plus a "training" object (budget, iterations, time, data, held-out PSNRs, versions, seed).
Then `xrestore denoise IN OUT.png --weights OUT.pth --sigma 0.1` runs it. See models/TRAINING.md.

Held-out evaluation: every photo named by --holdout is left out of training; at the end (and
every --eval-every iterations) the script reports PSNR of the noisy and the denoised
256 x 256 centre crops at sigma 0.05, 0.1 and 0.2. The noise is drawn from a generator seeded
with --eval-seed only, so runs with different training seeds are scored on the same noise. As
in `xrestore denoise --sigma`, the network gets the unclipped noisy image and both the noisy and
the denoised image are clipped to [0, 1] before their PSNR is taken.

Reproducibility: with --iters, a run is determined by --seed, --threads and the data (the same
bytes of OUT.pth on the same machine and torch build). With --minutes the number of iterations
and the learning-rate schedule follow the clock, so two runs differ.
"""

import argparse
import collections
import glob
import hashlib
import json
import math
import os
import platform
import sys
import time

# torch's OpenMP threads spin while they wait; on a shared or busy machine that costs ~10x.
os.environ.setdefault("OMP_WAIT_POLICY", "passive")

import numpy as np  # noqa: E402
import torch  # noqa: E402

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "dev"))
import unet_torch  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEFAULT_IMAGES = os.path.normpath(os.path.join(ROOT, "..", "shared", "data", "color"))
DEFAULT_HOLDOUT = ["flower_dahlia.png", "china_palace.png", "grace_hopper.png"]
IMAGE_EXTENSIONS = (".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".ppm", ".pgm")
EVAL_SIGMAS = (0.05, 0.1, 0.2)
EVAL_SIGMAS_TEXT = ", ".join(f"{v:g}" for v in EVAL_SIGMAS)
PROG = "train_denoiser"


class InputError(Exception):
    """A bad option or bad data: reported as one line and exit status 2."""


# ---- data --------------------------------------------------------------------------------------

def expand_images(specs):
    """Files from globs, directories (their image files, not recursive) and plain paths."""
    found = []
    for spec in specs:
        if os.path.isdir(spec):
            names = sorted(os.listdir(spec))
            found += [os.path.join(spec, n) for n in names
                      if n.lower().endswith(IMAGE_EXTENSIONS)
                      and os.path.isfile(os.path.join(spec, n))]
        elif os.path.isfile(spec):
            found.append(spec)
        else:
            found += sorted(p for p in glob.glob(spec) if os.path.isfile(p))
    unique, seen = [], set()
    for path in found:
        key = os.path.realpath(path)
        if key not in seen:
            seen.add(key)
            unique.append(path)
    return unique


def load_image(path, in_chans):
    """C x H x W float32 tensor in [0, 1]; RGB (or gray replicated) for 3, luminance for 1."""
    from PIL import Image
    try:
        with Image.open(path) as im:
            im.load()
            if im.mode in ("I;16", "I;16B", "I;16L", "I"):
                gray = np.asarray(im, dtype=np.float32) / np.float32(65535.0)
                arr = gray[..., None] if in_chans == 1 else np.repeat(gray[..., None], 3, axis=2)
            else:
                arr = np.asarray(im.convert("L" if in_chans == 1 else "RGB"), dtype=np.float32)
                arr = arr.reshape(arr.shape[0], arr.shape[1], -1) / np.float32(255.0)
    except (OSError, ValueError) as e:
        raise InputError(f"cannot read image '{path}': {e}") from e
    return torch.from_numpy(np.ascontiguousarray(np.clip(arr, 0.0, 1.0).transpose(2, 0, 1)))


def file_sha256(path):
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def display_path(path):
    """The path relative to the repository root where that is shorter, else absolute."""
    absolute = os.path.abspath(path)
    relative = os.path.relpath(absolute, ROOT)
    return relative if len(relative) < len(absolute) else absolute


def downscaled(image, scale):
    """image (C x H x W) resized by scale with a Lanczos filter (PIL), values kept in [0, 1]."""
    from PIL import Image
    c, h, w = image.shape
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    planes = []
    for ch in range(c):
        plane = Image.fromarray(image[ch].numpy(), mode="F").resize(size, Image.LANCZOS)
        planes.append(np.asarray(plane, dtype=np.float32))
    return torch.from_numpy(np.clip(np.stack(planes), 0.0, 1.0))


def sample_batch(images, batch, patch, sigma_max, generator):
    """(clean, noisy, sigmas): random crops, rot90 and horizontal flips, y = x + sigma n."""
    crops = []
    for _ in range(batch):
        image = images[int(torch.randint(len(images), (1,), generator=generator))]
        _, h, w = image.shape
        top = int(torch.randint(h - patch + 1, (1,), generator=generator))
        left = int(torch.randint(w - patch + 1, (1,), generator=generator))
        crop = image[:, top:top + patch, left:left + patch]
        quarter_turns = int(torch.randint(4, (1,), generator=generator))
        if quarter_turns:
            crop = torch.rot90(crop, quarter_turns, dims=(1, 2))
        if float(torch.rand(1, generator=generator)) < 0.5:
            crop = torch.flip(crop, dims=(2,))
        crops.append(crop)
    clean = torch.stack(crops).contiguous()
    sigmas = torch.rand(batch, generator=generator) * sigma_max
    noise = torch.randn(clean.shape, generator=generator)
    return clean, clean + sigmas.view(-1, 1, 1, 1) * noise, sigmas


# ---- held-out evaluation -----------------------------------------------------------------------

def centre_crop(image, size):
    _, h, w = image.shape
    top, left = (h - size) // 2, (w - size) // 2
    return image[:, top:top + size, left:left + size].contiguous()


def psnr(reference, estimate):
    mse = float(((reference.double() - estimate.double()) ** 2).mean())
    return float("inf") if mse == 0.0 else 10.0 * math.log10(1.0 / mse)


def ssim_or_none(reference, estimate):
    """SSIM as `xrestore denoise` reports it (Gaussian window 1.5, population covariance)."""
    try:
        from skimage.metrics import structural_similarity
    except ImportError:
        return None
    a = reference.numpy().astype(np.float64)
    b = estimate.numpy().astype(np.float64)
    return float(structural_similarity(a, b, data_range=1.0, channel_axis=0,
                                       gaussian_weights=True, sigma=1.5,
                                       use_sample_covariance=False))


class HeldOut:
    """Fixed noisy versions of the held-out centre crops; evaluate(model) scores a model."""

    def __init__(self, names, crops, seed):
        self.names = names
        self.clean = torch.stack(crops) if crops else None
        self.noisy = {}
        generator = torch.Generator().manual_seed(seed)
        for sigma in EVAL_SIGMAS:
            if self.clean is not None:
                noise = torch.randn(self.clean.shape, generator=generator)
                self.noisy[sigma] = self.clean + sigma * noise

    def evaluate(self, model):
        if self.clean is None:
            return None
        was_training = model.training
        model.eval()
        result = {}
        with torch.no_grad():
            for sigma in EVAL_SIGMAS:
                y = self.noisy[sigma]
                d = unet_torch.call(model, y, "residual").clamp(0.0, 1.0)
                y = y.clamp(0.0, 1.0)
                per_image = []
                for i, name in enumerate(self.names):
                    entry = {"image": name, "psnr_noisy": psnr(self.clean[i], y[i]),
                             "psnr": psnr(self.clean[i], d[i])}
                    s_noisy = ssim_or_none(self.clean[i], y[i])
                    s_out = ssim_or_none(self.clean[i], d[i])
                    if s_out is not None:
                        entry["ssim_noisy"], entry["ssim"] = s_noisy, s_out
                    per_image.append(entry)
                mean = {key: sum(e[key] for e in per_image) / len(per_image)
                        for key in per_image[0] if key != "image"}
                result[f"{sigma:g}"] = dict(mean, images=per_image)
        model.train(was_training)
        return result


def eval_line(scores):
    parts = []
    for sigma, s in scores.items():
        part = f"sigma {sigma}: {s['psnr_noisy']:.2f} -> {s['psnr']:.2f} dB"
        if "ssim" in s:
            part += f" (SSIM {s['ssim_noisy']:.3f} -> {s['ssim']:.3f})"
        parts.append(part)
    return "; ".join(parts)


# ---- options -----------------------------------------------------------------------------------

class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Keeps the epilog's layout and appends each option's default where it has one."""

    def _get_help_string(self, action):
        text = action.help or ""
        default = action.default
        if default in (None, False, argparse.SUPPRESS) or action.required or "default" in text:
            return text
        if isinstance(default, list):
            default = " ".join(str(v) for v in default)
        return f"{text} (default: {default})"


EPILOG = f"""\
outputs:
  OUT.pth   torch.save(model.state_dict()), zip format, the key names of fastMRI's Unet
  OUT.json  sidecar: the keys of models/denoiser_unet_c32.json (architecture, in_chans,
            out_chans, chans, num_pool_layers, call "residual", call_definition,
            trained_sigma_range, value_range) and "training" (command, iterations, minutes,
            s/iteration, patch, batch, schedule, seed, threads, data with sha256, held-out
            photos and PSNR/SSIM, torch/python/numpy versions)
  Both are written to OUT.*.part first and renamed at the end. Ctrl-C stops training early
  and still evaluates and writes what was trained.

held-out report: sigma {EVAL_SIGMAS_TEXT} on the --eval-size centre crops of the
  --holdout photos, noise from --eval-seed; the network gets the unclipped noisy crop, PSNR
  (and SSIM with scikit-image installed) is taken after clipping the noisy and the denoised
  crop to [0, 1], as `xrestore denoise --sigma` does.

reproducibility: with --iters, the same --seed, --threads, data and torch build give the
  same bytes of OUT.pth; with --minutes the iteration count follows the clock.
  OMP_WAIT_POLICY defaults to passive (torch's spinning OpenMP threads are ~10x slower on
  a busy machine); set it in the environment to override.

exit status: 0 done; 2 bad options or data (one line on stderr saying which); 1 other errors.

use the result:
  build/bin/xrestore denoise data/images/butterfly_set5.png out.png --weights OUT.pth \\
      --sigma 0.1 --json
  build/bin/xrestore study --weights OUT.pth --out study/

smoke test (well under a minute on 2 cores):
  /usr/bin/python3 tools/train_denoiser.py --out /tmp/smoke --chans 8 --pools 2 --iters 30 \\
      --patch 64 --force
"""


def parse_args(argv):
    parser = argparse.ArgumentParser(
        prog=PROG,
        description="Train a blind Gaussian denoiser (fastMRI U-Net, residual call\n"
                    "D(y) = y - s U((y - m_c)/s)) on random patches of photos, and write OUT.pth\n"
                    "and its OUT.json sidecar for the native loader (xrestore denoise, xrestore\n"
                    "study --weights, load_unet_denoiser). Exactly one of --iters and --minutes\n"
                    "sets the budget. Recipe, timings and results: models/TRAINING.md.",
        epilog=EPILOG, formatter_class=HelpFormatter)
    out = parser.add_argument_group("output")
    out.add_argument("--out", required=True, metavar="OUT",
                     help="output prefix: writes OUT.pth and OUT.json (a trailing .pth is "
                          "dropped); the folder must exist")
    out.add_argument("--force", action="store_true",
                     help="overwrite OUT.pth / OUT.json if they exist")

    data = parser.add_argument_group("data")
    data.add_argument("--images", nargs="+", default=[DEFAULT_IMAGES], metavar="GLOB|DIR|FILE",
                      help="training photos: glob patterns (quote them), folders (their "
                           ".png/.jpg/.jpeg/.bmp/.tif/.ppm/.pgm files) or files (default: "
                           "../shared/data/color from the repository root, here "
                           f"{DEFAULT_IMAGES})")
    data.add_argument("--holdout", nargs="*", default=DEFAULT_HOLDOUT, metavar="NAME",
                      help="file names (or paths) of photos kept out of training and used for "
                           "the held-out report; a name must match one of --images; give "
                           "--holdout with no names to train on everything and skip the report")
    data.add_argument("--scales", nargs="+", type=float, default=[1.0], metavar="S",
                      help="also train on each photo resized by these factors (Lanczos), e.g. "
                           "1 0.5; sizes smaller than --patch are skipped")

    model = parser.add_argument_group("model")
    model.add_argument("--chans", type=int, default=32,
                       help="channels of the first level (doubled at each pool layer)")
    model.add_argument("--pools", type=int, default=4,
                       help="number of pool layers (num_pool_layers); --patch must be "
                            "divisible by 2^pools and leave at least 2 x 2 at the bottom")
    model.add_argument("--in-chans", type=int, default=3, choices=(1, 3),
                       help="3 for RGB, 1 for gray (photos converted to luminance); the output "
                            "has as many channels")
    model.add_argument("--init-from", metavar="PTH",
                       help="start from these weights (a state_dict .pth of the same shape, "
                            "e.g. models/denoiser_unet_c32.pth) instead of a random init")
    model.add_argument("--init", choices=("default", "zero-last"), default="zero-last",
                       help="random init: PyTorch's default everywhere, or the same with the "
                            "last 1x1 conv set to zero so that D starts as the identity")

    train = parser.add_argument_group("training")
    budget = train.add_mutually_exclusive_group(required=True)
    budget.add_argument("--iters", type=int,
                        help="budget in iterations (reproducible given --seed and --threads)")
    budget.add_argument("--minutes", type=float,
                        help="budget in minutes of training (evaluation time not counted); the "
                             "learning rate follows the clock")
    train.add_argument("--patch", type=int, default=96, help="side of the square training crops")
    train.add_argument("--batch", type=int, default=8, help="patches per iteration")
    train.add_argument("--sigma-max", type=float, default=0.2,
                       help="noise level per patch drawn uniformly from [0, sigma-max] "
                            "(images in [0, 1])")
    train.add_argument("--lr", type=float, default=1e-3,
                       help="initial Adam learning rate (cosine decay over the budget)")
    train.add_argument("--lr-min", type=float, default=1e-5,
                       help="learning rate at the end of the budget")
    train.add_argument("--threads", type=int, default=2, help="torch CPU threads")
    train.add_argument("--seed", type=int, default=0,
                       help="seed of the initial weights, the crops, the augmentation and the "
                            "training noise")

    report = parser.add_argument_group("reporting")
    report.add_argument("--eval-every", type=int, default=0, metavar="N",
                        help="also report held-out PSNR every N iterations (0: only at the end)")
    report.add_argument("--eval-size", type=int, default=256,
                        help="side of the held-out centre crops")
    report.add_argument("--eval-seed", type=int, default=0,
                        help="seed of the held-out noise (independent of --seed)")
    report.add_argument("--log-every", type=int, default=25, metavar="N",
                        help="print the training loss every N iterations")
    return parser, parser.parse_args(argv)


def check_options(a):
    """Everything that can be checked before reading data; raises InputError."""
    def need(ok, text):
        if not ok:
            raise InputError(text)

    need(a.chans > 0, f"--chans must be > 0 (got {a.chans})")
    need(a.pools >= 1, f"--pools must be >= 1 (got {a.pools})")
    need(a.patch > 0, f"--patch must be > 0 (got {a.patch})")
    need(a.batch > 0, f"--batch must be > 0 (got {a.batch})")
    factor = 2 ** a.pools
    need(a.patch % factor == 0 and a.patch // factor >= 2,
         f"--patch {a.patch} does not fit --pools {a.pools}: the patch must be divisible by "
         f"2^{a.pools} = {factor} and at least {2 * factor} so that the bottom level is >= 2 x 2 "
         f"(use --patch {max(2 * factor, -(-a.patch // factor) * factor)} or fewer pools)")
    need(a.eval_size // factor >= 2,
         f"--eval-size {a.eval_size} is too small for --pools {a.pools}: need >= {2 * factor}")
    need(a.iters is None or a.iters >= 1, f"--iters must be >= 1 (got {a.iters})")
    need(a.minutes is None or (math.isfinite(a.minutes) and a.minutes > 0),
         f"--minutes must be > 0 (got {a.minutes})")
    need(math.isfinite(a.sigma_max) and 0 < a.sigma_max <= 1,
         f"--sigma-max must be in (0, 1] (got {a.sigma_max})")
    need(math.isfinite(a.lr) and a.lr > 0, f"--lr must be > 0 (got {a.lr})")
    need(math.isfinite(a.lr_min) and 0 <= a.lr_min <= a.lr,
         f"--lr-min must be in [0, --lr] (got {a.lr_min})")
    need(a.threads >= 1, f"--threads must be >= 1 (got {a.threads})")
    need(a.eval_every >= 0, f"--eval-every must be >= 0 (got {a.eval_every})")
    need(a.log_every >= 1, f"--log-every must be >= 1 (got {a.log_every})")
    need(all(math.isfinite(s) and 0 < s <= 1 for s in a.scales),
         f"--scales must be in (0, 1] (got {a.scales})")

    prefix = a.out[:-4] if a.out.endswith(".pth") else a.out
    need(prefix != "" and not prefix.endswith(os.sep), f"--out '{a.out}' names no file")
    folder = os.path.dirname(os.path.abspath(prefix))
    need(os.path.isdir(folder), f"--out: folder '{folder}' does not exist")
    for ext in (".pth", ".json"):
        need(a.force or not os.path.exists(prefix + ext),
             f"--out: '{prefix + ext}' exists (use --force to overwrite)")
    if a.init_from is not None:
        need(os.path.isfile(a.init_from), f"--init-from: no file '{a.init_from}'")
    return prefix


def load_data(a):
    """(training tensors, training records, held-out names, held-out crops, held-out records)."""
    paths = expand_images(a.images)
    if not paths:
        raise InputError("no images found in --images " + " ".join(repr(s) for s in a.images)
                         + f" (the default is ../shared/data/color beside the repository, "
                           f"{DEFAULT_IMAGES}); pass photos with --images GLOB|DIR|FILE")

    holdout_paths = []
    for name in a.holdout:
        matches = [p for p in paths if os.path.basename(p) == os.path.basename(name)
                   or os.path.realpath(p) == os.path.realpath(name)]
        if not matches and os.path.isfile(name):
            matches = [name]
        if not matches:
            raise InputError(f"held-out photo '{name}' is not among the {len(paths)} images "
                             f"of --images; name one of them, give a path, or pass --holdout "
                             f"with no names to skip the held-out report")
        holdout_paths.append(matches[0])
    held = {os.path.realpath(p) for p in holdout_paths}
    train_paths = [p for p in paths if os.path.realpath(p) not in held]
    if not train_paths:
        raise InputError(f"all {len(paths)} images of --images are held out; nothing to train on")

    images, records, too_small = [], [], []
    for path in train_paths:
        image = load_image(path, a.in_chans)
        _, h, w = image.shape
        if min(h, w) < a.patch:
            too_small.append(f"{display_path(path)} ({w} x {h})")
            continue
        used = []
        for scale in a.scales:
            scaled = image if scale == 1.0 else downscaled(image, scale)
            if min(scaled.shape[1:]) >= a.patch:
                images.append(scaled)
                used.append(scale)
        records.append({"path": display_path(path), "width": w, "height": h,
                        "scales": used, "sha256": file_sha256(path)})
    if too_small:
        listed = ", ".join(too_small[:4]) + (f" and {len(too_small) - 4} more"
                                             if len(too_small) > 4 else "")
        raise InputError(f"--patch {a.patch} is larger than the shorter side of "
                         f"{len(too_small)} training image(s): {listed}; use a smaller --patch "
                         f"or leave them out")
    if not images:
        raise InputError(f"no training photo is at least --patch {a.patch} at any of --scales "
                         f"{' '.join(f'{v:g}' for v in a.scales)}; add scale 1 or use a smaller "
                         f"--patch")

    names, crops = [], []
    for path in holdout_paths:
        image = load_image(path, a.in_chans)
        _, h, w = image.shape
        if min(h, w) < a.eval_size:
            raise InputError(f"held-out photo '{display_path(path)}' ({w} x {h}) is smaller "
                             f"than --eval-size {a.eval_size}")
        names.append(os.path.basename(path))
        crops.append(centre_crop(image, a.eval_size))
    holdout_records = [{"path": display_path(p), "sha256": file_sha256(p)} for p in holdout_paths]
    return images, records, names, crops, holdout_records


# ---- training ----------------------------------------------------------------------------------

def cosine_lr(a, progress):
    progress = min(max(progress, 0.0), 1.0)
    return a.lr_min + 0.5 * (a.lr - a.lr_min) * (1.0 + math.cos(math.pi * progress))


def build_model(a):
    torch.manual_seed(a.seed)
    model = unet_torch.Unet(a.in_chans, a.in_chans, chans=a.chans, num_pool_layers=a.pools)
    if a.init == "zero-last" and a.init_from is None:
        with torch.no_grad():
            model.up_conv[-1][1].weight.zero_()
            model.up_conv[-1][1].bias.zero_()
    if a.init_from is not None:
        try:
            state = torch.load(a.init_from, map_location="cpu")
        except Exception as e:  # torch raises several kinds for a bad file
            raise InputError(f"--init-from: cannot load '{a.init_from}': {e}") from e
        if isinstance(state, dict) and "state_dict" in state:
            state = state["state_dict"]
        try:
            model.load_state_dict(state, strict=True)
        except (RuntimeError, TypeError, AttributeError) as e:
            lines = [line.strip() for line in str(e).splitlines() if line.strip()] or ["?"]
            raise InputError(f"--init-from: '{a.init_from}' does not fit Unet(in_chans="
                             f"{a.in_chans}, chans={a.chans}, pools={a.pools}): "
                             f"{lines[1] if len(lines) > 1 else lines[0]}") from e
    return model


def sidecar(a, model, facts):
    return {
        "architecture": "fastmri_unet", "in_chans": a.in_chans, "out_chans": a.in_chans,
        "chans": a.chans, "num_pool_layers": a.pools, "call": "residual",
        "call_definition": "D(y) = y - s * U((y - m_c) / s); m_c per-channel mean over HxW; "
                           "s = unbiased std over CxHxW, clamped >= 1e-4",
        "trained_sigma_range": [0.0, a.sigma_max], "value_range": [0.0, 1.0],
        "training": facts,
    }


def save_outputs(prefix, model, meta):
    """OUT.pth and OUT.json, each written beside and then renamed over the target."""
    state = {k: v.detach().contiguous().float() for k, v in model.state_dict().items()}
    with open(prefix + ".pth.part", "wb") as f:  # a file object: the zip's folder is "archive"
        torch.save(state, f)
    os.replace(prefix + ".pth.part", prefix + ".pth")
    with open(prefix + ".json.part", "w") as f:
        json.dump(meta, f, indent=1)
        f.write("\n")
    os.replace(prefix + ".json.part", prefix + ".json")


def train(a, prefix):
    torch.set_num_threads(a.threads)
    images, records, names, crops, holdout_records = load_data(a)
    model = build_model(a)
    model.train()
    params = sum(p.numel() for p in model.parameters())
    heldout = HeldOut(names, crops, a.eval_seed)
    budget = f"{a.iters} iterations" if a.iters is not None else f"{a.minutes:g} minutes"
    print(f"{PROG}: Unet(in_chans={a.in_chans}, out_chans={a.in_chans}, chans={a.chans}, "
          f"num_pool_layers={a.pools}), {params:,} parameters; {len(records)} training photos "
          f"({len(images)} with scales), {len(names)} held out; patch {a.patch}, batch "
          f"{a.batch}, sigma U[0, {a.sigma_max:g}]; {budget}; {a.threads} threads; seed {a.seed}",
          flush=True)

    generator = torch.Generator().manual_seed(a.seed)
    optimiser = torch.optim.Adam(model.parameters(), lr=a.lr)
    history, window = [], []
    recent = collections.deque(maxlen=max(a.log_every, 25))  # for the final loss
    budget_s = None if a.minutes is None else 60.0 * a.minutes
    train_s, eval_s, it, interrupted = 0.0, 0.0, 0, False
    try:
        while True:
            progress = it / a.iters if a.iters is not None else train_s / budget_s
            if progress >= 1.0:
                break
            lr = cosine_lr(a, progress)
            t0 = time.perf_counter()
            for group in optimiser.param_groups:
                group["lr"] = lr
            clean, noisy, _ = sample_batch(images, a.batch, a.patch, a.sigma_max, generator)
            loss = torch.mean((unet_torch.call(model, noisy, "residual") - clean) ** 2)
            optimiser.zero_grad(set_to_none=True)
            loss.backward()
            optimiser.step()
            train_s += time.perf_counter() - t0
            it += 1
            value = float(loss)
            if not math.isfinite(value):
                raise RuntimeError(f"loss is {value} at iteration {it}; try a lower --lr")
            window.append(value)
            recent.append(value)
            if it % a.log_every == 0:
                mse = sum(window) / len(window)
                print(f"iter {it:6d}  lr {lr:.2e}  loss {mse:.3e} ({-10 * math.log10(mse):.2f} "
                      f"dB)  {train_s / it:.3f} s/iter  {train_s / 60:.1f} min", flush=True)
                window = []
            if a.eval_every and it % a.eval_every == 0 and heldout.clean is not None:
                t0 = time.perf_counter()
                scores = heldout.evaluate(model)
                eval_s += time.perf_counter() - t0
                history.append({"iteration": it,
                                "psnr": {k: v["psnr"] for k, v in scores.items()}})
                print(f"held-out at iter {it}: {eval_line(scores)}", flush=True)
    except KeyboardInterrupt:
        interrupted = True
        print(f"{PROG}: interrupted at iteration {it}; saving what was trained", flush=True)

    if it == 0:
        raise RuntimeError("no iteration finished; nothing to save")
    t0 = time.perf_counter()
    scores = heldout.evaluate(model)
    eval_s += time.perf_counter() - t0
    if scores is not None:
        print(f"held-out, final ({it} iterations, {a.eval_size} x {a.eval_size} centre crops of "
              f"{', '.join(names)}): {eval_line(scores)}", flush=True)

    facts = {
        "recipe": "tools/train_denoiser.py",
        "command": " ".join([os.path.basename(sys.argv[0])] + sys.argv[1:]),
        "iterations": it, "budget": {"iters": a.iters, "minutes": a.minutes},
        "interrupted": interrupted,
        "minutes": round(train_s / 60.0, 3), "eval_minutes": round(eval_s / 60.0, 3),
        "seconds_per_iteration": round(train_s / it, 4),
        "patch": a.patch, "batch": a.batch, "sigma_range": [0.0, a.sigma_max],
        "augmentation": "random crop, rot90 k in {0,1,2,3}, horizontal flip p 0.5",
        "loss": "MSE of D(y) against x, D the residual call",
        "optimiser": "Adam", "lr": a.lr, "lr_min": a.lr_min,
        "lr_schedule": "cosine over the " + ("iterations" if a.iters is not None
                                             else "training time"),
        "final_loss": sum(recent) / len(recent),
        "final_loss_over_iterations": len(recent),
        "seed": a.seed, "threads": a.threads, "init": a.init, "init_from": a.init_from,
        "parameters": params, "scales": a.scales,
        "data": records,
        "holdout": holdout_records,
        "holdout_eval": None if scores is None else {
            "crop": f"{a.eval_size}x{a.eval_size} centre", "noise_seed": a.eval_seed,
            "clipping": "network input unclipped; PSNR of noisy and denoised after clipping "
                        "to [0, 1]",
            "scores": scores, "history": history},
        "torch": torch.__version__, "python": platform.python_version(),
        "numpy": np.__version__,
        "created": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    save_outputs(prefix, model, sidecar(a, model, facts))
    print(f"{PROG}: wrote {prefix}.pth and {prefix}.json ({it} iterations, "
          f"{train_s / 60:.2f} min training, {train_s / it:.3f} s/iter)", flush=True)


def main(argv=None):
    parser, a = parse_args(argv)
    try:
        prefix = check_options(a)
        train(a, prefix)
    except InputError as e:
        parser.exit(2, f"{PROG}: error: {e}\n")
    except RuntimeError as e:
        parser.exit(1, f"{PROG}: error: {e}\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
