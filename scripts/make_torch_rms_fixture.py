"""Writes test/fixtures/torch_rms/cases.json: PyTorch's F.rms_norm in float64 on fixed inputs,
with the gradients of sum(y * w) for x and weight, for the RMSNormalization test.

Needs torch (any CPU build with F.rms_norm, 2.4 or later); not run by npm test:
    python3 scripts/make_torch_rms_fixture.py
Inputs are drawn in float32 and widened, so the package's float32 layer sees the same values.
F.rms_norm normalizes trailing dimensions; other axes are moved to the end and back.
"""
import json
import os

import torch
import torch.nn.functional as F

# [shape, the normalized axes] as Keras's RMSNormalization takes them (contiguous, sorted).
CASES = [
    ([6, 10], [1]),
    ([3, 4, 5], [2]),
    ([3, 4, 5], [1, 2]),
    ([2, 3, 4, 5], [1]),
    ([2, 3, 4, 5], [2, 3]),
]
EPS = 1e-6


def rms_norm_on_axes(x, weight, axes):
    rest = [a for a in range(x.dim()) if a not in axes]
    order = rest + axes
    moved = x.permute(order)
    y = F.rms_norm(moved, [x.shape[a] for a in axes], weight, EPS)
    return y.permute([order.index(a) for a in range(x.dim())])


def main():
    gen = torch.Generator().manual_seed(2026)
    out = {"torch": torch.__version__, "epsilon": EPS, "cases": []}
    for shape, axes in CASES:
        x = (torch.randn(shape, generator=gen) * 1.5 + 0.5).float().double().requires_grad_(True)
        weight = (torch.rand([shape[a] for a in axes], generator=gen) + 0.5).float().double().requires_grad_(True)
        w = (torch.rand(shape, generator=gen) * 2 - 1).float().double()
        y = rms_norm_on_axes(x, weight, axes)
        (y * w).sum().backward()
        out["cases"].append({
            "shape": shape, "axes": axes,
            "x": x.detach().flatten().tolist(), "weight": weight.detach().flatten().tolist(),
            "w": w.flatten().tolist(), "y": y.detach().flatten().tolist(),
            "dx": x.grad.flatten().tolist(), "dweight": weight.grad.flatten().tolist(),
        })
    target = os.path.join(os.path.dirname(__file__), "..", "test", "fixtures", "torch_rms", "cases.json")
    with open(target, "w") as f:
        json.dump(out, f)
    print(f"wrote {target} ({len(out['cases'])} cases, torch {torch.__version__})")


if __name__ == "__main__":
    main()
