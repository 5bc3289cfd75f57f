"""Mixture conditionals of the continuous autoregressive networks (CAN): the density of
one site given the sites before it, from the network's ``3 K`` outputs for that site.

Families (K components, weights pi = softmax of the first K outputs)::

    "vonmises" (Circle):   sum_k pi_k exp(kappa_k cos(theta - mu_k)) / (2 pi I_0(kappa_k))
    "beta"     (Circle):   sum_k pi_k Beta(theta / 2pi; a_k, b_k) / (2 pi)
               (Interval): sum_k pi_k Beta((x - lo) / w; a_k, b_k) / w,   w = hi - lo
    "gaussian" (Real):     sum_k pi_k N(x; mu_k, sigma_k^2)

with mu_k the raw output (von Mises: an angle, so any real), kappa and sigma =
softplus(raw) + :data:`MIN_SHAPE`, and the Beta shapes a, b = 1 + softplus(raw) >= 1:
a bounded density (a shape below 1 would put an integrable spike at an end, with mass
within float resolution of it, beyond the reach of any evaluation). The von Mises
mixture is periodic (its density is continuous across theta = 0 = 2 pi); the Beta
mixture on theta / 2pi (Wang's CAN) is not: its density vanishes at the ends unless a
shape there is 1.

The network reads each site through :meth:`Mixture.encode`: (cos theta, sin theta) on
the circle (2 inputs per site), 2 (x - lo) / w - 1 on an interval, x on the line.
Exact draws: a component by its weight, then the component (von Mises by Best and
Fisher's rejection method, Beta from two Gamma draws, normal), all from the given
``torch.Generator``.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from ..checks import check_int
from ..circular import von_mises, wrap_to_circle
from ..supports import Circle, Interval, Real, Support, check_support

#: the smallest concentration / shape / scale a network output can give
MIN_SHAPE = 1e-4
FAMILIES = {"vonmises": (Circle,), "beta": (Circle, Interval), "gaussian": (Real,)}


class Mixture:
    """K-component mixture conditionals of one ``family`` on ``support``."""

    def __init__(self, support: Support, family: str, components: int):
        self.support = check_support(support)
        if family not in FAMILIES:
            raise ValueError(f"family must be one of {', '.join(FAMILIES)}, got {family!r}")
        if not isinstance(support, FAMILIES[family]):
            allowed = ", ".join(kind.__name__ + "()" for kind in FAMILIES[family])
            raise ValueError(f"the {family} family lives on {allowed}, not on {support}")
        self.family = family
        self.components = check_int(components, "components", 1)
        self.width = 2 if isinstance(support, Circle) else 1
        self.out_features = 3 * self.components

    # ------------------------------------------------------------------ inputs
    def encode(self, x: torch.Tensor) -> torch.Tensor:
        """Network inputs of values ``(...)``: ``(..., width)``."""
        if isinstance(self.support, Circle):
            return torch.stack([torch.cos(x), torch.sin(x)], -1)
        if isinstance(self.support, Interval):
            lo, hi = self.support.lo, self.support.hi
            return (2 * (x - lo) / (hi - lo) - 1)[..., None]
        return x[..., None]

    # ------------------------------------------------------------------ density
    def _split(self, out: torch.Tensor):
        """(log weights, location or first Beta shape, scale, concentration or second
        Beta shape), each ``(..., K)``."""
        k = self.components
        log_w = torch.log_softmax(out[..., :k], -1)
        first = out[..., k:2 * k]
        if self.family == "beta":
            return log_w, 1 + F.softplus(first), 1 + F.softplus(out[..., 2 * k:])
        return log_w, first, F.softplus(out[..., 2 * k:]) + MIN_SHAPE

    def log_density(self, out: torch.Tensor, x: torch.Tensor) -> torch.Tensor:
        """ln density of values ``x`` ``(...)`` under the mixtures of outputs
        ``(..., 3K)``: ``(...)``."""
        log_w, first, second = self._split(out)
        x = x[..., None]
        if self.family == "vonmises":
            kappa = second
            log_i0 = torch.log(torch.special.i0e(kappa)) + kappa
            terms = kappa * torch.cos(x - first) - log_i0 - math.log(2 * math.pi)
        elif self.family == "gaussian":
            z = (x - first) / second
            terms = -0.5 * z * z - torch.log(second) - 0.5 * math.log(2 * math.pi)
        else:
            a, b = first, second
            lo, width = self._interval()
            y = ((x - lo) / width).clamp(0.0, 1.0)
            terms = (torch.xlogy(a - 1, y) + torch.xlogy(b - 1, 1 - y)
                     - (torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b))
                     - math.log(width))
        return torch.logsumexp(log_w + terms, -1)

    # ------------------------------------------------------------------ draws
    def draw(self, out: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """One value per row of outputs ``(B, 3K)``: ``(B,)``."""
        log_w, first, second = self._split(out)
        batch = out.shape[0]
        u = torch.rand(batch, 1, generator=generator, device=out.device, dtype=out.dtype)
        pick = (torch.exp(log_w).cumsum(-1)[:, :-1] < u).sum(-1, keepdim=True)
        first, second = first.gather(1, pick)[:, 0], second.gather(1, pick)[:, 0]
        if self.family == "vonmises":
            return von_mises(first, second, generator)
        if self.family == "gaussian":
            noise = torch.randn(batch, generator=generator, device=out.device,
                                dtype=out.dtype)
            return first + second * noise
        ga = torch._standard_gamma(first.contiguous(), generator=generator)
        gb = torch._standard_gamma(second.contiguous(), generator=generator)
        y = ga / (ga + gb)
        lo, width = self._interval()
        value = lo + width * y
        if isinstance(self.support, Circle):  # y = 1 is theta = 2 pi = 0
            return wrap_to_circle(value)
        return value.clamp(self.support.lo, self.support.hi)

    def _interval(self) -> tuple[float, float]:
        if isinstance(self.support, Circle):
            return 0.0, 2 * math.pi
        return self.support.lo, self.support.hi - self.support.lo

    def config(self) -> dict:
        return {"support": self.support.config(), "family": self.family,
                "components": self.components}
