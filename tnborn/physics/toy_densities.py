"""Two-dimensional toy densities for flows and variational training (the hands-on
targets): unnormalized ``log_density(x)`` on points ``(..., 2)`` with exact ``log_z()``.

Ring, radius r and width w::

    pi(x) = exp(-(|x| - r)^2 / (2 w^2))
    Z = 2 pi [w^2 exp(-r^2 / (2 w^2)) + r w sqrt(2 pi) Phi(r / w)]     (closed form)

Double well along x_1, a Gaussian along x_2, depth lam, minima at x_1 = +-a::

    pi(x) = exp(-lam (x_1^2 - a^2)^2 - x_2^2 / 2)
    Z = sqrt(2 pi) int exp(-lam (u^2 - a^2)^2) du                  (adaptive quadrature)
"""

from __future__ import annotations

import math

import torch
from scipy.integrate import quad

from ..checks import check_positive
from ..supports import Real

__all__ = ["RingDensity", "DoubleWellDensity"]


class _Toy2D:
    support = Real()
    n_sites = 2

    def _points(self, x) -> torch.Tensor:
        return self.support.validate(x, 2, name="x").to(torch.float64)


class RingDensity(_Toy2D):
    """pi(x) of a ring of ``radius`` r and ``width`` w (module docstring)."""

    def __init__(self, radius: float = 2.0, width: float = 0.25):
        self.radius = check_positive(radius, "radius")
        self.width = check_positive(width, "width")

    def log_density(self, x) -> torch.Tensor:
        """ln pi(x) of points ``(..., 2)``: ``(...)``, differentiable in ``x``."""
        x = self._points(x)
        return -0.5 * ((x.norm(dim=-1) - self.radius) / self.width) ** 2

    def log_z(self) -> float:
        r, w = self.radius, self.width
        phi = 0.5 * (1.0 + math.erf(r / (w * math.sqrt(2.0))))
        return math.log(2 * math.pi * (w * w * math.exp(-0.5 * (r / w) ** 2)
                                       + r * w * math.sqrt(2 * math.pi) * phi))

    def __repr__(self) -> str:
        return f"RingDensity(radius={self.radius:g}, width={self.width:g})"


class DoubleWellDensity(_Toy2D):
    """pi(x) of the double well of depth ``lam`` with minima at x_1 = +-``a``."""

    def __init__(self, a: float = 1.5, lam: float = 1.0):
        self.a = check_positive(a, "a")
        self.lam = check_positive(lam, "lam")

    def log_density(self, x) -> torch.Tensor:
        """ln pi(x) of points ``(..., 2)``: ``(...)``, differentiable in ``x``."""
        x = self._points(x)
        return -self.lam * (x[..., 0] ** 2 - self.a ** 2) ** 2 - 0.5 * x[..., 1] ** 2

    def log_z(self) -> float:
        reach = self.a + 10.0 / self.lam ** 0.25  # the integrand is < e^-100 beyond
        value, _ = quad(lambda u: math.exp(-self.lam * (u * u - self.a ** 2) ** 2),
                        -reach, reach, points=[-self.a, self.a], epsabs=0, epsrel=1e-13,
                        limit=200)
        return 0.5 * math.log(2 * math.pi) + math.log(value)

    def __repr__(self) -> str:
        return f"DoubleWellDensity(a={self.a:g}, lam={self.lam:g})"
