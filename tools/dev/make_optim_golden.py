#!/usr/bin/python3
"""Golden trajectories of PyTorch's optimisers, schedulers and gradient clipping for
tests/test_train_optim.cpp.

Run with Debian's Python (it has torch):  /usr/bin/python3 tools/dev/make_optim_golden.py
Writes tests/data/train/ (JSON, float64 values printed with 17 significant digits):
  optim_adam.json       torch.optim.Adam and torch.optim.AdamW, 20 steps on three small
                        parameters from given gradients (one case with a StepLR learning rate)
  optim_sgd.json        torch.optim.SGD: plain, momentum, nesterov, weight decay
  optim_schedules.json  StepLR, CosineAnnealingLR and LinearLR warm-up followed by
                        CosineAnnealingLR (SequentialLR), the learning rate of steps 0..N-1
  optim_clip.json       torch.nn.utils.clip_grad_norm_: total norm and clipped gradients
Everything runs in float64, so the C++ double path must agree to rounding.
"""

import json
import warnings
import math
import os

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "..", "..", "tests", "data", "train")
STEPS = 20
SHAPES = [(3,), (2, 3), (1,)]
NAMES = ["a.weight", "b.weight", "b.bias"]


def flat(t):
    return [float(v) for v in t.detach().reshape(-1).tolist()]


def parameters_and_gradients(seed):
    g = torch.Generator().manual_seed(seed)
    initial = [torch.randn(s, generator=g, dtype=torch.float64) for s in SHAPES]
    gradients = [[torch.randn(s, generator=g, dtype=torch.float64) for s in SHAPES]
                 for _ in range(STEPS)]
    return initial, gradients


def trajectory(make_optimiser, seed, schedule=None):
    initial, gradients = parameters_and_gradients(seed)
    params = [torch.nn.Parameter(p.clone()) for p in initial]
    opt = make_optimiser(params)
    sched = schedule(opt) if schedule else None
    values, lrs = [], []
    for step in range(STEPS):
        lrs.append(opt.param_groups[0]["lr"])
        for p, grad in zip(params, gradients[step]):
            p.grad = grad.clone()
        opt.step()
        if sched:
            sched.step()
        values.append([flat(p) for p in params])
    return {
        "names": NAMES,
        "shapes": [list(s) for s in SHAPES],
        "initial": [flat(p) for p in initial],
        "gradients": [[flat(g) for g in step] for step in gradients],
        "lrs": lrs,
        "values": values,
    }


def adam_cases():
    cases = []

    def add(name, seed, cls, schedule=None, **options):
        case = trajectory(lambda ps: cls(ps, **options), seed, schedule)
        betas = options.get("betas", (0.9, 0.999))
        case.update(name=name, decoupled=cls is torch.optim.AdamW, beta1=betas[0],
                    beta2=betas[1], eps=options.get("eps", 1e-8),
                    weight_decay=options.get("weight_decay", 0.0 if cls is torch.optim.Adam
                                             else 1e-2))
        cases.append(case)

    add("adam", 1, torch.optim.Adam, lr=1e-2)
    add("adam_weight_decay", 2, torch.optim.Adam, lr=3e-2, betas=(0.8, 0.99), eps=1e-6,
        weight_decay=0.1)
    add("adam_step_lr", 3, torch.optim.Adam,
        lambda opt: torch.optim.lr_scheduler.StepLR(opt, step_size=5, gamma=0.5), lr=5e-2)
    add("adamw", 4, torch.optim.AdamW, lr=1e-2)
    add("adamw_strong", 5, torch.optim.AdamW, lr=5e-2, betas=(0.5, 0.9), eps=1e-4,
        weight_decay=0.3)
    return cases


def sgd_cases():
    cases = []

    def add(name, seed, **options):
        case = trajectory(lambda ps: torch.optim.SGD(ps, **options), seed)
        case.update(name=name, momentum=options.get("momentum", 0.0),
                    nesterov=options.get("nesterov", False),
                    weight_decay=options.get("weight_decay", 0.0))
        cases.append(case)

    add("sgd", 11, lr=0.1)
    add("sgd_weight_decay", 12, lr=0.05, weight_decay=0.2)
    add("sgd_momentum", 13, lr=0.05, momentum=0.9)
    add("sgd_nesterov", 14, lr=0.05, momentum=0.8, nesterov=True)
    add("sgd_nesterov_weight_decay", 15, lr=0.02, momentum=0.9, nesterov=True,
        weight_decay=0.05)
    return cases


def schedule_lrs(make, steps, base_lr):
    opt = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=base_lr)
    sched = make(opt)
    lrs = []
    for _ in range(steps):
        lrs.append(opt.param_groups[0]["lr"])
        opt.step()
        sched.step()
    return lrs


def schedules():
    S = torch.optim.lr_scheduler
    out = []
    out.append({"kind": "step", "base_lr": 0.1, "step_size": 3, "gamma": 0.5,
                "lrs": schedule_lrs(lambda o: S.StepLR(o, step_size=3, gamma=0.5), 20, 0.1)})
    out.append({"kind": "step", "base_lr": 2e-3, "step_size": 7, "gamma": 0.9,
                "lrs": schedule_lrs(lambda o: S.StepLR(o, step_size=7, gamma=0.9), 30, 2e-3)})
    # plain cosine (no warm-up) over steps 0..T, where CosineAnnealingLR is defined
    out.append({"kind": "cosine", "base_lr": 1e-3, "warmup_steps": 0, "total_steps": 15,
                "min_lr": 1e-5,
                "lrs": schedule_lrs(lambda o: S.CosineAnnealingLR(o, T_max=15, eta_min=1e-5),
                                    16, 1e-3)})
    out.append({"kind": "cosine", "base_lr": 0.5, "warmup_steps": 0, "total_steps": 8,
                "min_lr": 0.0,
                "lrs": schedule_lrs(lambda o: S.CosineAnnealingLR(o, T_max=8), 9, 0.5)})
    # linear warm-up lr (t+1)/W for t < W (LinearLR from 1/W over W-1 steps), then cosine
    for base, warm, total, low in [(2e-3, 5, 25, 1e-4), (0.1, 1, 10, 0.0), (1e-2, 4, 12, 1e-3)]:
        def make(o, base=base, warm=warm, total=total, low=low):
            first = (S.LinearLR(o, start_factor=1.0 / warm, end_factor=1.0,
                                total_iters=warm - 1) if warm > 1
                     else S.ConstantLR(o, factor=1.0, total_iters=0))
            second = S.CosineAnnealingLR(o, T_max=total - warm, eta_min=low)
            return S.SequentialLR(o, [first, second], milestones=[warm])
        out.append({"kind": "cosine", "base_lr": base, "warmup_steps": warm,
                    "total_steps": total, "min_lr": low,
                    "lrs": schedule_lrs(make, total + 1, base)})
    return out


def clip_cases():
    cases = []
    for seed, max_norm in [(21, 1.0), (22, 100.0), (23, 0.05), (24, 2.5)]:
        g = torch.Generator().manual_seed(seed)
        params = [torch.nn.Parameter(torch.zeros(s, dtype=torch.float64)) for s in SHAPES]
        grads = [torch.randn(s, generator=g, dtype=torch.float64) for s in SHAPES]
        for p, grad in zip(params, grads):
            p.grad = grad.clone()
        norm = torch.nn.utils.clip_grad_norm_(params, max_norm)
        cases.append({"shapes": [list(s) for s in SHAPES], "max_norm": max_norm,
                      "gradients": [flat(x) for x in grads], "norm": float(norm),
                      "clipped": [flat(p.grad) for p in params]})
    return cases


def write(name, data):
    with open(os.path.join(OUT, name), "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")


def main():
    warnings.simplefilter("ignore", UserWarning)  # SequentialLR calls step(0)
    os.makedirs(OUT, exist_ok=True)
    # a check of the warm-up + cosine formula the C++ implements, before writing
    for s in schedules():
        if s["kind"] == "cosine":
            b, w, t, m = s["base_lr"], s["warmup_steps"], s["total_steps"], s["min_lr"]
            for k, lr in enumerate(s["lrs"]):
                want = (b * (k + 1) / w if k < w else
                        m + (b - m) * (1 + math.cos(math.pi * (k - w) / (t - w))) / 2)
                assert abs(lr - want) <= 1e-12 * b, (s, k, lr, want)
    write("optim_adam.json", adam_cases())
    write("optim_sgd.json", sgd_cases())
    write("optim_schedules.json", schedules())
    write("optim_clip.json", clip_cases())


if __name__ == "__main__":
    main()
