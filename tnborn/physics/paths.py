"""A particle in a double well in imaginary time (0+1D field theory, arXiv:2405.10493):
the lattice Euclidean action of periodic paths x_0 .. x_{n-1} (x_n = x_0), a = beta / n::

    S_E[x] = sum_i [ m (x_{i+1} - x_i)^2 / (2a) + a V(x_i) ]
    V(x)   = lam / 4 (x^2 - v^2)^2 + m omega^2 x^2 / 2

and its split at fixed n into S = K / beta + beta U with K = (n m / 2) sum (x_{i+1} - x_i)^2
and U = (1 / n) sum V(x_i) (the talk's notation, U its V). ``omega`` adds a mass term:
with lam = 0 the path is the discretized harmonic oscillator, a Gaussian with precision
M = (m / a) (2 I - P - P^T) + a m omega^2 I (P the cyclic shift), so
<x^2> = tr(M^{-1}) / n exactly (:meth:`DoubleWellPath.exact_x2`).

Paths are a density target: ``log_density(x) = -S_E[x]``.
"""

from __future__ import annotations

import torch

from ..checks import check_beta, check_int, check_positive, check_real
from ..supports import Real

__all__ = ["DoubleWellPath"]


class DoubleWellPath:
    """The periodic path of the module docstring: ``n_tau`` time slices at ``beta``."""

    support = Real()

    def __init__(self, n_tau: int, beta: float, *, lam: float = 4.0, v: float = 1.4,
                 m: float = 1.0, omega: float = 0.0):
        self.n_sites = self.n_tau = check_int(n_tau, "n_tau", 2)
        self.beta = check_beta(beta)
        self.lam = check_real(lam, "lam")
        if self.lam < 0:
            raise ValueError(f"lam must be >= 0, got {self.lam}")
        self.v = check_real(v, "v")
        self.m = check_positive(m, "m")
        self.omega = check_real(omega, "omega")
        if self.lam == 0 and self.omega == 0:
            raise ValueError("lam = 0 needs a mass term omega != 0 (else the path is free "
                             "and has no normalizable density)")
        self.a = self.beta / self.n_tau

    def _paths(self, x) -> torch.Tensor:
        return self.support.validate(x, self.n_tau, name="paths").to(torch.float64)

    def potential(self, x) -> torch.Tensor:
        """V(x) elementwise (no validation of shape)."""
        return self.lam / 4 * (x * x - self.v ** 2) ** 2 + 0.5 * self.m * self.omega ** 2 * x * x

    def kinetic_part(self, x) -> torch.Tensor:
        """K = (n m / 2) sum_i (x_{i+1} - x_i)^2 of paths ``(..., n_tau)``: ``(...)``."""
        return self._kinetic(self._paths(x))

    def _kinetic(self, x: torch.Tensor) -> torch.Tensor:
        return 0.5 * self.n_tau * self.m * ((torch.roll(x, -1, -1) - x) ** 2).sum(-1)

    def potential_part(self, x) -> torch.Tensor:
        """U = (1 / n) sum_i V(x_i) of paths ``(..., n_tau)``: ``(...)``."""
        return self.potential(self._paths(x)).mean(-1)

    def action(self, x) -> torch.Tensor:
        """S_E = K / beta + beta U of paths ``(..., n_tau)``: ``(...)``, differentiable."""
        return self._action(self._paths(x))

    def _action(self, x: torch.Tensor) -> torch.Tensor:
        """S_E of float64 paths without checks (the samplers' trial paths may overflow)."""
        return self._kinetic(x) / self.beta + self.beta * self.potential(x).mean(-1)

    def log_density(self, x) -> torch.Tensor:
        """-S_E: the paths' unnormalized log density."""
        return -self.action(x)

    def _local_action(self, x: torch.Tensor, left: torch.Tensor, right: torch.Tensor):
        """The terms of S_E that hold site values ``x`` with neighbours ``left``, ``right``."""
        return (self.m / (2 * self.a) * ((x - left) ** 2 + (right - x) ** 2)
                + self.a * self.potential(x))

    def _gradient(self, x: torch.Tensor) -> torch.Tensor:
        """dS_E / dx of paths ``(chains, n_tau)``."""
        laplacian = 2 * x - torch.roll(x, 1, -1) - torch.roll(x, -1, -1)
        dv = self.lam * x * (x * x - self.v ** 2) + self.m * self.omega ** 2 * x
        return self.m / self.a * laplacian + self.a * dv

    def exact_x2(self) -> float:
        """<x^2> of the harmonic path (lam = 0), exact: tr(M^{-1}) / n."""
        if self.lam != 0:
            raise ValueError("exact_x2 is the harmonic-oscillator value: it needs lam = 0")
        n = self.n_tau
        shift = torch.roll(torch.eye(n, dtype=torch.float64), 1, 0)
        laplacian = 2 * torch.eye(n, dtype=torch.float64) - shift - shift.T
        precision = self.m / self.a * laplacian \
            + self.a * self.m * self.omega ** 2 * torch.eye(n, dtype=torch.float64)
        return float(torch.linalg.inv(precision).diagonal().mean())

    def __repr__(self) -> str:
        return (f"DoubleWellPath(n_tau={self.n_tau}, beta={self.beta:g}, lam={self.lam:g}, "
                f"v={self.v:g}, m={self.m:g}, omega={self.omega:g})")
