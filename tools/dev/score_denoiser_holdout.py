#!/usr/bin/python3
"""Score denoiser weights on the held-out protocol of models/TRAINING.md, side by side.

    /usr/bin/python3 tools/dev/score_denoiser_holdout.py W.pth [W2.pth ...] [--eval-size 256]
        [--eval-seed 0] [--images ../shared/data/color] [--holdout a.png b.png c.png] [--json F]

Each W.pth (fastMRI U-Net state_dict, or a train-denoiser checkpoint; residual call as
TRAINING.md defines it) is scored
exactly as tools/train_denoiser.py scores its held-out photos at the end of a run: the
--eval-size centre crop of each held-out photo (default flower_dahlia, china_palace,
grace_hopper), Gaussian noise at sigma 0.05 / 0.1 / 0.2 from a generator seeded with
--eval-seed (the same noise for every model), the unclipped noisy crop into the network, PSNR
and SSIM (scikit-image, Gaussian window 1.5) after clipping to [0, 1]. So a natively trained
model (`xrestore train-denoiser`) and a PyTorch-trained one are compared on the same crops and
the same noise. Prints a markdown table (mean over the photos); --json writes every number.
Needs Debian's torch (and scikit-image for SSIM).
"""

import argparse
import json
import os
import sys

import torch

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
sys.path.insert(0, os.path.join(ROOT, "tools"))
sys.path.insert(0, os.path.join(ROOT, "tools", "dev"))

import train_denoiser as td  # noqa: E402
import unet_torch  # noqa: E402


def load_model(path):
    state = torch.load(path, map_location="cpu", weights_only=True)
    # a training checkpoint (xrestore train-denoiser's W_checkpoint.pth) also holds the Adam
    # state ("adam.*") and the trainer's record ("train.*"): keep the network's tensors
    state = {k: v for k, v in state.items() if not k.startswith(("adam.", "train."))}
    chans = state["down_sample_layers.0.layers.0.weight"].shape[0]
    in_chans = state["down_sample_layers.0.layers.0.weight"].shape[1]
    pools = sum(1 for k in state if k.startswith("down_sample_layers.")
                and k.endswith(".layers.0.weight"))
    out_chans = state["up_conv.%d.1.weight" % (pools - 1)].shape[0]
    model = unet_torch.Unet(in_chans, out_chans, chans, pools)
    model.load_state_dict(state)
    return model.eval()


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("weights", nargs="+")
    parser.add_argument("--images", default=os.path.join(ROOT, "..", "shared", "data", "color"))
    parser.add_argument("--holdout", nargs="+", default=td.DEFAULT_HOLDOUT)
    parser.add_argument("--eval-size", type=int, default=256)
    parser.add_argument("--eval-seed", type=int, default=0)
    parser.add_argument("--json", default=None)
    a = parser.parse_args()
    for w in a.weights:
        if not os.path.isfile(w):
            parser.error(f"{w}: no such file")
    crops = []
    for name in a.holdout:
        path = name if os.path.isfile(name) else os.path.join(a.images, name)
        if not os.path.isfile(path):
            parser.error(f"--holdout {name}: not found in {a.images}")
        image = td.load_image(path, 3)
        if min(image.shape[1:]) < a.eval_size:
            parser.error(f"{name} is smaller than --eval-size {a.eval_size}")
        crops.append(td.centre_crop(image, a.eval_size))
    held = td.HeldOut(list(a.holdout), crops, a.eval_seed)
    torch.set_num_threads(2)
    results = {}
    for w in a.weights:
        results[w] = held.evaluate(load_model(w))
    sigmas = list(next(iter(results.values())).keys())
    header = "| sigma | noisy | " + " | ".join(os.path.basename(w) for w in a.weights) + " |"
    print(header)
    print("|---" * (2 + len(a.weights)) + "|")
    for s in sigmas:
        first = results[a.weights[0]][s]
        cells = [f"{first['psnr_noisy']:.2f} dB / {first.get('ssim_noisy', float('nan')):.3f}"]
        for w in a.weights:
            r = results[w][s]
            cells.append(f"{r['psnr']:.2f} dB / {r.get('ssim', float('nan')):.3f}")
        print(f"| {s} | " + " | ".join(cells) + " |")
    if a.json:
        with open(a.json + ".part", "w", encoding="utf-8") as f:
            json.dump(results, f, indent=1)
        os.replace(a.json + ".part", a.json)


if __name__ == "__main__":
    main()
