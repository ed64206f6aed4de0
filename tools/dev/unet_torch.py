#!/usr/bin/python3
"""The fastMRI U-Net in PyTorch and the denoiser call conventions, shared by the tools.

Used by tools/dev/make_unet_golden.py (fixtures for the native U-Net), tools/train_denoiser.py
(the training recipe of models/denoiser_unet_c32.pth) and the benchmarks. Run with Debian's
Python (torch 1.13); import it with tools/dev/ on sys.path:

    import unet_torch
    model = unet_torch.Unet(3, 3, chans=32, num_pool_layers=4)
    clean = unet_torch.call(model, noisy, "residual")

Modules (written from the fastMRI description, same state_dict keys as fastMRI's Unet):
  ConvBlock(in, out):  layers = Sequential(Conv2d(in, out, 3, padding=1, bias=False),
      InstanceNorm2d(out), LeakyReLU(0.2), Dropout2d(p), Conv2d(out, out, 3, padding=1,
      bias=False), InstanceNorm2d(out), LeakyReLU(0.2), Dropout2d(p))
  TransposeConvBlock(in, out): layers = Sequential(ConvTranspose2d(in, out, 2, stride=2,
      bias=False), InstanceNorm2d(out), LeakyReLU(0.2))
  Unet: down ConvBlocks with avg_pool2d(2) after each, bottleneck ConvBlock, then per level
      transpose-conv, reflect pad by 1 on the right / bottom where the skip is one larger,
      concat [up, skip] on channels, ConvBlock; the last level ends in a 1x1 Conv2d with bias.
InstanceNorm2d: affine=False, no running stats, biased variance, eps 1e-5.

Call conventions (call(model, y, mode)), statistics per sample of an N x C x H x W batch:
  raw         D(y) = U(y)
  normalised  D(y) = s * U((y - m_c) / s) + m_c
  residual    D(y) = y - s * U((y - m_c) / s)
with m_c the mean of channel c over H x W and s the unbiased (n - 1) standard deviation of all
C x H x W values, clamped below at STD_CLAMP = 1e-4. Nothing is clipped.
"""

import torch
import torch.nn as nn
import torch.nn.functional as F

STD_CLAMP = 1e-4
CALLS = ("raw", "normalised", "residual")


class ConvBlock(nn.Module):
    """Two (3x3 conv without bias, instance norm, leaky ReLU 0.2, dropout) layers."""

    def __init__(self, in_chans, out_chans, drop_prob=0.0):
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(in_chans, out_chans, kernel_size=3, padding=1, bias=False),
            nn.InstanceNorm2d(out_chans),
            nn.LeakyReLU(negative_slope=0.2, inplace=True),
            nn.Dropout2d(drop_prob),
            nn.Conv2d(out_chans, out_chans, kernel_size=3, padding=1, bias=False),
            nn.InstanceNorm2d(out_chans),
            nn.LeakyReLU(negative_slope=0.2, inplace=True),
            nn.Dropout2d(drop_prob),
        )

    def forward(self, x):
        return self.layers(x)


class TransposeConvBlock(nn.Module):
    """2x2 stride-2 transposed conv without bias, instance norm, leaky ReLU 0.2."""

    def __init__(self, in_chans, out_chans):
        super().__init__()
        self.layers = nn.Sequential(
            nn.ConvTranspose2d(in_chans, out_chans, kernel_size=2, stride=2, bias=False),
            nn.InstanceNorm2d(out_chans),
            nn.LeakyReLU(negative_slope=0.2, inplace=True),
        )

    def forward(self, x):
        return self.layers(x)


class Unet(nn.Module):
    """The fastMRI U-Net (Ronneberger et al. with instance norm), same state_dict keys."""

    def __init__(self, in_chans, out_chans, chans=32, num_pool_layers=4, drop_prob=0.0):
        super().__init__()
        self.in_chans, self.out_chans = in_chans, out_chans
        self.chans, self.num_pool_layers = chans, num_pool_layers

        self.down_sample_layers = nn.ModuleList([ConvBlock(in_chans, chans, drop_prob)])
        ch = chans
        for _ in range(num_pool_layers - 1):
            self.down_sample_layers.append(ConvBlock(ch, ch * 2, drop_prob))
            ch *= 2
        self.conv = ConvBlock(ch, ch * 2, drop_prob)

        self.up_conv = nn.ModuleList()
        self.up_transpose_conv = nn.ModuleList()
        for _ in range(num_pool_layers - 1):
            self.up_transpose_conv.append(TransposeConvBlock(ch * 2, ch))
            self.up_conv.append(ConvBlock(ch * 2, ch, drop_prob))
            ch //= 2
        self.up_transpose_conv.append(TransposeConvBlock(ch * 2, ch))
        self.up_conv.append(nn.Sequential(
            ConvBlock(ch * 2, ch, drop_prob),
            nn.Conv2d(ch, out_chans, kernel_size=1, stride=1),
        ))

    def forward(self, x):
        stack = []
        out = x
        for layer in self.down_sample_layers:
            out = layer(out)
            stack.append(out)
            out = F.avg_pool2d(out, kernel_size=2, stride=2, padding=0)
        out = self.conv(out)
        for transpose_conv, conv in zip(self.up_transpose_conv, self.up_conv):
            skip = stack.pop()
            out = transpose_conv(out)
            padding = [0, 0, 0, 0]  # F.pad order: left, right, top, bottom
            if out.shape[-1] != skip.shape[-1]:
                padding[1] = 1
            if out.shape[-2] != skip.shape[-2]:
                padding[3] = 1
            if sum(padding) != 0:
                out = F.pad(out, padding, "reflect")
            out = torch.cat([out, skip], dim=1)
            out = conv(out)
        return out


def call(model, y, mode):
    """Denoiser call conventions; y is N x C x H x W, statistics per sample."""
    if mode == "raw":
        return model(y)
    n = y.shape[0]
    mean = y.mean(dim=(2, 3), keepdim=True)                                  # m_c
    std = y.reshape(n, -1).std(dim=1).clamp(min=STD_CLAMP).view(n, 1, 1, 1)  # s, unbiased
    u = model((y - mean) / std)
    if mode == "normalised":
        return std * u + mean
    if mode == "residual":
        return y - std * u
    raise ValueError(mode)
