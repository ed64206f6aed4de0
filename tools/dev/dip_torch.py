#!/usr/bin/python3
"""Deep Image Prior's skip encoder-decoder in PyTorch: the twin of the native
include/xrestore/train/skip_net.hpp, with the same state_dict names.

Used by tools/dev/make_dip_golden.py (gradient fixtures for the native network). Run with
Debian's Python (torch 1.13); import it with tools/dev/ on sys.path:

    import dip_torch
    net = dip_torch.SkipNet(in_chans=32, out_chans=3)          # the study's defaults
    x = net(z)                                                  # 1 x 3 x H x W in (0, 1)

Per scale i (written from the Deep Image Prior paper's description of its "skip" network):
  skip.{i}   1x1 conv to skip[i] channels, BatchNorm2d, LeakyReLU(0.2)   (absent if skip[i] == 0)
  down.{i}   3x3 conv stride 2 (conv0), BatchNorm2d (bn0), LeakyReLU, 3x3 conv (conv1), bn1, LeakyReLU
  then the next scale on down.{i}'s output, 2x upsampling (bilinear, align_corners=False, or
  nearest), concatenation [skip | upsampled], and
  up.{i}     BatchNorm2d (bn_in), 3x3 conv (conv0), bn0, LeakyReLU, 1x1 conv (conv1), bn1, LeakyReLU
and last out.conv (1x1) and a sigmoid. Every conv has a bias and reflection padding of k // 2
(Conv2d(padding_mode="reflect"), the same as ReflectionPad2d before an unpadded Conv2d).
BatchNorm2d in training mode (batch statistics). H and W must be multiples of 2^scales.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

SLOPE = 0.2


def conv(cin, cout, k, stride=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=True,
                     padding_mode="reflect" if k > 1 else "zeros")


class Skip(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = conv(cin, cout, 1)
        self.bn = nn.BatchNorm2d(cout)

    def forward(self, x):
        return F.leaky_relu(self.bn(self.conv(x)), SLOPE)


class Down(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv0 = conv(cin, cout, 3, stride=2)
        self.bn0 = nn.BatchNorm2d(cout)
        self.conv1 = conv(cout, cout, 3)
        self.bn1 = nn.BatchNorm2d(cout)

    def forward(self, x):
        x = F.leaky_relu(self.bn0(self.conv0(x)), SLOPE)
        return F.leaky_relu(self.bn1(self.conv1(x)), SLOPE)


class Up(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.bn_in = nn.BatchNorm2d(cin)
        self.conv0 = conv(cin, cout, 3)
        self.bn0 = nn.BatchNorm2d(cout)
        self.conv1 = conv(cout, cout, 1)
        self.bn1 = nn.BatchNorm2d(cout)

    def forward(self, x):
        x = F.leaky_relu(self.bn0(self.conv0(self.bn_in(x))), SLOPE)
        return F.leaky_relu(self.bn1(self.conv1(x)), SLOPE)


class Head(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.conv = conv(cin, cout, 1)

    def forward(self, x):
        return self.conv(x)


class SkipNet(nn.Module):
    def __init__(self, in_chans=32, out_chans=3, down=(16, 32, 64, 128, 128),
                 up=(16, 32, 64, 128, 128), skip=(4, 4, 4, 4, 4), upsampling="bilinear",
                 sigmoid=True):
        super().__init__()
        assert len(down) == len(up) == len(skip) >= 1
        self.scales = len(down)
        self.upsampling = upsampling
        self.sigmoid = sigmoid
        self.skip_chans = list(skip)
        self.skip = nn.ModuleList()
        self.down = nn.ModuleList()
        self.up = nn.ModuleList()
        cin = in_chans
        for i in range(self.scales):
            below = up[i + 1] if i + 1 < self.scales else down[i]
            self.skip.append(Skip(cin, skip[i]) if skip[i] > 0 else nn.Identity())
            self.down.append(Down(cin, down[i]))
            self.up.append(Up(skip[i] + below, up[i]))
            cin = down[i]
        self.out = Head(up[0], out_chans)

    def scale(self, i, x):
        s = self.skip[i](x) if self.skip_chans[i] > 0 else None
        d = self.down[i](x)
        if i + 1 < self.scales:
            d = self.scale(i + 1, d)
        if self.upsampling == "bilinear":
            u = F.interpolate(d, scale_factor=2, mode="bilinear", align_corners=False)
        else:
            u = F.interpolate(d, scale_factor=2, mode="nearest")
        c = torch.cat([s, u], dim=1) if s is not None else u
        return self.up[i](c)

    def forward(self, z):
        m = 2 ** self.scales
        assert z.shape[2] % m == 0 and z.shape[3] % m == 0, "H and W: multiples of 2^scales"
        y = self.out(self.scale(0, z))
        return torch.sigmoid(y) if self.sigmoid else y


# ---- the counter-based generator of train/deep_image_prior.hpp --------------------------------

import math  # noqa: E402

import numpy as np  # noqa: E402

GOLDEN = 0x9E3779B97F4A7C15
MASK64 = (1 << 64) - 1
STREAM_INPUT, STREAM_HOLDOUT, STREAM_NOISE = 0, 1, 2


def splitmix64(x):
    """SplitMix64's finaliser on a numpy uint64 array (wrapping arithmetic)."""
    with np.errstate(over="ignore"):
        z = x + np.uint64(GOLDEN)
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return z ^ (z >> np.uint64(31))


def _key(seed, stream):
    return splitmix64(np.array([(seed * GOLDEN + stream) & MASK64], dtype=np.uint64))[0]


def counter_uniform(seed, stream, n):
    """U[0, 1) values 0..n-1 of (seed, stream), float64, as counter_rng::uniform."""
    with np.errstate(over="ignore"):
        bits = splitmix64(_key(seed, stream) + np.arange(n, dtype=np.uint64))
    return (bits >> np.uint64(11)).astype(np.float64) * 2.0 ** -53


def counter_normal(seed, stream, n):
    """N(0, 1) values 0..n-1 of (seed, stream), float64, as counter_rng::normal: Box-Muller
    pairs, value 2k = r cos(t) and 2k + 1 = r sin(t) from the words 2k and 2k + 1."""
    k = np.arange((n + 1) // 2, dtype=np.uint64)
    key = _key(seed, stream)
    with np.errstate(over="ignore"):
        a = splitmix64(key + np.uint64(2) * k)
        b = splitmix64(key + np.uint64(2) * k + np.uint64(1))
    u1 = ((a >> np.uint64(11)) + np.uint64(1)).astype(np.float64) * 2.0 ** -53
    u2 = (b >> np.uint64(11)).astype(np.float64) * 2.0 ** -53
    r = np.sqrt(-2.0 * np.log(u1))
    t = 2.0 * math.pi * u2
    out = np.empty(2 * len(k))
    out[0::2] = r * np.cos(t)
    out[1::2] = r * np.sin(t)
    return out[:n]


def dip_input(depth, h, w, input_scale, seed):
    """z of deep_image_prior: 1 x depth x h x w, input_scale * U[0, 1), float32."""
    u = counter_uniform(seed, STREAM_INPUT, depth * h * w)
    return torch.from_numpy((input_scale * u).astype(np.float32).reshape(1, depth, h, w))


def dip_fit_mask(shape, holdout, seed):
    """1 where a measurement is fitted, 0 where held out (U[0, 1) < holdout), float32."""
    u = counter_uniform(seed, STREAM_HOLDOUT, int(np.prod(shape)))
    return torch.from_numpy((u >= holdout).astype(np.float32).reshape(shape))


def dip_run(net, forward_op, image_hw, y, iterations, lr=0.01, input_scale=0.1,
            input_noise=1.0 / 30, average=0.99, rollback_db=5.0, holdout=0.0, seed=0,
            monitor=None):
    """The loop of deep_image_prior (train/deep_image_prior.hpp) in PyTorch, float32, from the
    network's current weights. forward_op: a differentiable function of the 1 x C x H x W image
    (H x W = image_hw) giving y's shape (the operator A). Returns (records, x, x_avg): one
    record per iteration (loss, fit_psnr, heldout, rolled_back) and the last output and the
    running average, C x H x W. monitor(iteration, x, x_avg), if given, sees every iteration
    (1-based) after the running average is updated."""
    h, w = image_hw
    z = dip_input(net.down[0].conv0.in_channels, h, w, input_scale, seed)
    fit_mask = dip_fit_mask(tuple(y.shape), holdout, seed)
    m = float(y.numel())
    fitted = float(fit_mask.double().sum())
    held = m - fitted
    opt = torch.optim.Adam(net.parameters(), lr=lr)
    accepted = [p.detach().clone() for p in net.parameters()]
    accepted_psnr = -math.inf
    records, x_avg, x = [], None, None
    for t in range(iterations):
        if input_noise > 0:
            n = counter_normal(seed, STREAM_NOISE + t, z.numel()).reshape(tuple(z.shape))
            zt = (z.double() + input_noise * torch.from_numpy(n)).float()
        else:
            zt = z
        f = net(zt)
        d = forward_op(f) - y
        kept = d * fit_mask
        fit2 = float((kept.detach().double() ** 2).sum())
        held2 = float(((d - kept).detach().double() ** 2).sum())
        loss = (kept ** 2).sum() / m
        rec = {"loss": fit2 / m, "fit_psnr": 10 * math.log10(1 / max(fit2 / fitted, 1e-300)),
               "heldout": held2 / held if holdout > 0 else math.nan, "rolled_back": False}
        x = f.detach()[0].clone()
        x_avg = x.clone() if t == 0 else average * x_avg + (1 - average) * x
        if monitor is not None:
            monitor(t + 1, x, x_avg)
        if rec["fit_psnr"] < accepted_psnr - rollback_db:
            with torch.no_grad():
                for p, a in zip(net.parameters(), accepted):
                    p.copy_(a)
            rec["rolled_back"] = True
        else:
            accepted = [p.detach().clone() for p in net.parameters()]
            accepted_psnr = rec["fit_psnr"]
            opt.zero_grad()
            loss.backward()
            opt.step()
        records.append(rec)
    return records, x, x_avg
