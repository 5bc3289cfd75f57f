"""The classical XY model: unit planar spins (cos theta_i, sin theta_i), angles in
[0, 2 pi) (:class:`tnborn.supports.Circle`).

* :class:`XY2D`: E = -J sum_<ij> cos(theta_i - theta_j) - h sum_i cos theta_i on the
  L x L square lattice, sites row-major (index ``r * L + c``), the bond convention of
  :class:`tnborn.physics.Ising2D` (periodic: right and down bond of every site, 2 L^2
  bonds; L = 2 bonds each neighbouring pair twice);
* :class:`XYChain`: E = -J sum_i cos(theta_i - theta_{i+1}) on a ring (periodic) or an
  open chain, with its exact partition function from modified Bessel functions::

      ring:  Z = (2 pi)^n sum_{k in Z} I_k(beta J)^n
      open:  Z = (2 pi)^n I_0(beta J)^(n - 1)

  (Fourier-expand each bond factor exp(beta J cos d) = sum_k I_k(beta J) e^{i k d} and
  integrate the angles one by one.)

Energies are float64 on the device of the angles; ``magnetization`` is |(1/n) sum_i
(cos theta_i, sin theta_i)| per configuration.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special
import torch

from ..checks import check_beta, check_int, check_real
from ..supports import Circle
from .hamiltonians import check_lattice

__all__ = ["XY2D", "XYChain"]

_BESSEL_TOL = 1e-18  # relative size of the first Bessel term left out of the ring's sum


class _XYModel:
    """What the XY Hamiltonians share: the support, validation, the magnetization."""

    support = Circle()

    def angles(self, theta) -> torch.Tensor:
        """Validated float64 angles ``(..., n_sites)`` in [0, 2 pi)."""
        return self.support.validate(theta, self.n_sites, name="theta").to(torch.float64)

    def energy(self, theta) -> torch.Tensor:
        """Energies of angle configurations ``(..., n_sites)``: float64 ``(...,)``."""
        return self._energy(self.angles(theta))

    def magnetization(self, theta) -> torch.Tensor:
        """|m| = |(1/n) sum_i (cos theta_i, sin theta_i)| per configuration, ``(...,)``."""
        theta = self.angles(theta)
        return torch.hypot(torch.cos(theta).mean(-1), torch.sin(theta).mean(-1))

    def _energy(self, theta: torch.Tensor) -> torch.Tensor:  # pragma: no cover
        raise NotImplementedError


class XY2D(_XYModel):
    """The XY model on an L x L square lattice (L >= 2), periodic or open.

    E = -J sum_<ij> cos(theta_i - theta_j) - h sum_i cos theta_i (the field along the
    x axis). ``bond_differences(theta)`` gives the angle differences along x and y.
    """

    def __init__(self, L: int, *, J: float = 1.0, h: float = 0.0, periodic: bool = True):
        self.L, self.J, self.h, self.periodic = check_lattice(L, J, h, periodic)
        self.n_sites = self.L * self.L

    def bond_differences(self, theta) -> tuple[torch.Tensor, torch.Tensor]:
        """(theta_i - theta_{i + x}, theta_i - theta_{i + y}) of every bond, each
        ``(..., L, L)`` periodic or ``(..., L, L - 1)`` / ``(..., L - 1, L)`` open."""
        return _differences(self.angles(theta), self.L, self.periodic)

    def _energy(self, theta: torch.Tensor) -> torch.Tensor:
        dx, dy = _differences(theta, self.L, self.periodic)
        energy = -self.J * (torch.cos(dx).sum((-2, -1)) + torch.cos(dy).sum((-2, -1)))
        if self.h != 0.0:
            energy = energy - self.h * torch.cos(theta).sum(-1)
        return energy

    def __repr__(self) -> str:
        return f"XY2D(L={self.L}, J={self.J}, h={self.h}, periodic={self.periodic})"


class XYChain(_XYModel):
    """The XY model on a ring (``periodic``, n >= 2; on n = 2 the two sites are bonded
    twice) or an open chain, E = -J sum_i cos(theta_i - theta_{i+1}), with the exact
    ``exact_log_z(beta)`` and ``exact_energy(beta)``."""

    def __init__(self, n: int, *, J: float = 1.0, periodic: bool = True):
        self.n_sites = check_int(n, "n", 2)
        self.J = check_real(J, "J")
        if not isinstance(periodic, bool):
            raise TypeError(f"periodic must be a bool, got {periodic!r}")
        self.periodic = periodic

    def _energy(self, theta: torch.Tensor) -> torch.Tensor:
        following = torch.roll(theta, -1, -1) if self.periodic else theta[..., 1:]
        current = theta if self.periodic else theta[..., :-1]
        return -self.J * torch.cos(current - following).sum(-1)

    def exact_log_z(self, beta: float) -> float:
        """ln Z at inverse temperature ``beta`` (the Bessel sums of the module docstring;
        the ring's sum runs until its terms fall below 1e-18 of the largest)."""
        beta = check_beta(beta)
        n, x = self.n_sites, beta * self.J
        base = n * math.log(2 * math.pi)
        if not self.periodic:  # I_0 is even
            return base + (n - 1) * (math.log(float(scipy.special.ive(0, x))) + abs(x))
        k = _ring_orders(n, x)
        return base + n * abs(x) + math.log(float((scipy.special.ive(k, x) ** n).sum()))

    def exact_energy(self, beta: float) -> float:
        """<E> = -d ln Z / d beta (total, not per site), with I_k' = (I_{k-1} + I_{k+1}) / 2."""
        beta = check_beta(beta)
        n, x = self.n_sites, beta * self.J
        if not self.periodic:
            return -(n - 1) * self.J * float(scipy.special.ive(1, x) / scipy.special.ive(0, x))
        k = _ring_orders(n, x)
        scaled = scipy.special.ive(k, x)  # I_k(x) e^{-|x|}, signed for x < 0
        slope = (scipy.special.ive(k - 1, x) + scipy.special.ive(k + 1, x)) / 2
        return -self.J * n * float((scaled ** (n - 1) * slope).sum() / (scaled ** n).sum())

    def __repr__(self) -> str:
        return f"XYChain(n={self.n_sites}, J={self.J}, periodic={self.periodic})"


def _differences(theta: torch.Tensor, L: int, periodic: bool):
    g = theta.reshape(*theta.shape[:-1], L, L)
    if periodic:
        return g - torch.roll(g, -1, -1), g - torch.roll(g, -1, -2)
    return g[..., :, :-1] - g[..., :, 1:], g[..., :-1, :] - g[..., 1:, :]


def _ring_orders(n: int, x: float) -> np.ndarray:
    """Bessel orders -K .. K, K the first with (I_K(|x|) / I_0(|x|))^n below the
    tolerance (the terms fall monotonically in |k|)."""
    top = 1
    while (scipy.special.ive(top, abs(x)) / scipy.special.ive(0, abs(x))) ** n > _BESSEL_TOL:
        top += 1
    return np.arange(-top, top + 1)
