"""The affine coupling bijector of RealNVP (Dinh, Sohl-Dickstein, Bengio 2017), the
building block of every flow here.

With a 0/1 mask m over the last axis (n values), the masked values stay and the others
are scaled and shifted by functions of them::

    y = m * z + (1 - m) * (z * exp(s(m * z)) + t(m * z))
    log |det dy/dz| = sum_i (1 - m_i) s_i(m * z)
    s = s_max tanh(raw_s / s_max)          (the scale clamped to |s| <= s_max)

s and t come from one MLP (n -> hidden -> hidden -> 2n, tanh) whose last layer starts at
zero, so a new coupling is the identity. It acts on the last axis of any batch shape.
"""

from __future__ import annotations

import math

import torch


class AffineCoupling(torch.nn.Module):
    """One affine coupling on ``n`` values with the 0/1 ``mask`` ``(n,)`` (1: kept)."""

    def __init__(self, mask: torch.Tensor, *, hidden: int, scale_limit: float,
                 generator: torch.Generator, dtype, device):
        super().__init__()
        n = int(mask.numel())
        self.n, self.scale_limit = n, scale_limit
        self.register_buffer("mask", mask.to(device=device, dtype=dtype), persistent=False)
        layers = [torch.nn.Linear(n, hidden), torch.nn.Tanh(),
                  torch.nn.Linear(hidden, hidden), torch.nn.Tanh(),
                  torch.nn.Linear(hidden, 2 * n)]
        with torch.no_grad():
            for layer in layers[::2]:  # the last layer is then zeroed
                bound = 1.0 / math.sqrt(layer.in_features)
                for p in (layer.weight, layer.bias):
                    p.copy_((torch.rand(p.shape, generator=generator, dtype=torch.float64)
                             * 2 - 1) * bound)
            layers[-1].weight.zero_()
            layers[-1].bias.zero_()
        self.net = torch.nn.Sequential(*layers).to(device=device, dtype=dtype)

    def _scale_shift(self, kept: torch.Tensor):
        raw = self.net(kept)
        free = 1 - self.mask
        s = self.scale_limit * torch.tanh(raw[..., :self.n] / self.scale_limit)
        return s * free, raw[..., self.n:] * free

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """y and log |det dy/dz| (``z.shape[:-1]``) of values ``z`` ``(..., n)``."""
        s, t = self._scale_shift(z * self.mask)
        return z * self.mask + (1 - self.mask) * (z * torch.exp(s) + t), s.sum(-1)

    def inverse(self, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z and log |det dz/dy| of values ``y`` ``(..., n)``."""
        s, t = self._scale_shift(y * self.mask)
        return y * self.mask + (1 - self.mask) * (y - t) * torch.exp(-s), -s.sum(-1)


def chain_forward(maps, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Apply the bijectors ``maps`` (each ``m(z) -> (y, log_det)``) in order to ``z``
    ``(..., n)``: the result and the summed log |det| ``z.shape[:-1]``."""
    log_det = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
    for bijector in maps:
        z, step = bijector(z)
        log_det = log_det + step
    return z, log_det


def chain_inverse(maps, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Undo :func:`chain_forward`: the inverses of ``maps`` in reverse order."""
    log_det = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
    for bijector in reversed(list(maps)):
        x, step = bijector.inverse(x)
        log_det = log_det + step
    return x, log_det
