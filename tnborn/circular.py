"""Draws on the circle shared by the models with angle sites."""

from __future__ import annotations

import math

import torch

__all__ = ["von_mises", "wrap_to_circle"]

#: concentrations at or below this give exactly uniform angles
UNIFORM_BELOW = 1e-300


def wrap_to_circle(x: torch.Tensor) -> torch.Tensor:
    """Angles (any real) in [0, 2 pi): ``remainder``, with the value that rounds up to
    2 pi itself (a tiny negative angle) sent to 0."""
    wrapped = torch.remainder(x, 2 * math.pi)
    return torch.where(wrapped >= 2 * math.pi, torch.zeros_like(wrapped), wrapped)


def von_mises(loc: torch.Tensor, kappa: torch.Tensor, generator) -> torch.Tensor:
    """Exact von Mises draws in [0, 2 pi), one per entry of ``loc`` and ``kappa`` (same
    shape), by the rejection method of Best and Fisher (1979), with rho written so that
    it is accurate at small kappa; every uniform comes from ``generator``."""
    dtype, device, shape = loc.dtype, loc.device, tuple(loc.shape)
    root = torch.sqrt(1 + 4 * kappa * kappa)
    tau = 1 + root
    rho = 2 * kappa * tau / ((root + 1) * (tau + torch.sqrt(2 * tau)))
    r = (1 + rho * rho) / (2 * rho.clamp_min(1e-300))
    out = torch.empty(shape, dtype=dtype, device=device)
    pending = torch.ones(shape, dtype=torch.bool, device=device)
    while pending.any():
        u = torch.rand((3,) + shape, generator=generator, dtype=dtype, device=device)
        z = torch.cos(math.pi * u[0])
        f = (1 + r * z) / (r + z)
        c = kappa * (r - f)
        accept = ((c * (2 - c) - u[1] > 0) | (torch.log(c / u[1]) + 1 - c >= 0)) & pending
        angle = torch.sign(u[2] - 0.5) * torch.acos(f.clamp(-1.0, 1.0))
        uniform = 2 * math.pi * u[2] - math.pi  # kappa = 0: exactly uniform
        angle = torch.where(kappa > UNIFORM_BELOW, angle, uniform)
        out = torch.where(accept, angle, out)
        pending &= ~accept
    return wrap_to_circle(out + loc)
