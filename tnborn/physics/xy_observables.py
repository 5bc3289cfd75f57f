"""Observables of XY angle configurations ``(B, L*L)`` (row-major L x L lattice), from
Monte Carlo samples or from a model's samples with importance weights.

* vortices: the winding number of a plaquette, w = (1/2pi) sum of its four angle
  differences taken around it, each wrapped to (-pi, pi]; the vortex density is the
  number of vortices and antivortices per site, (1/N) sum_p |w_p|;
* helicity modulus (spin stiffness against a twist along x), per site::

      Upsilon = (1/N) [ <sum_x J cos(d)> - beta <(sum_x J sin(d))^2> ],
      d = theta_i - theta_{i+x} over the x bonds

  (the <sum sin> term vanishes by symmetry), an average of one number per
  configuration, so importance weights apply to it as to any observable.

Each public function returns an :class:`tnborn.Estimate`: the plain mean over the batch
(independent samples, standard error std / sqrt(B)) or, given ``weights`` (any positive
importance weights, normalized here), the self-normalized weighted mean with its
delta-method standard error.
"""

from __future__ import annotations

import math

import torch

from ..checks import check_beta, check_int, check_real
from ..estimate import Estimate
from ..supports import Circle

__all__ = ["vortex_density", "helicity_modulus", "wrap_angle", "plaquette_windings"]


def wrap_angle(d: torch.Tensor) -> torch.Tensor:
    """Angles (any real) wrapped to (-pi, pi]."""
    return math.pi - torch.remainder(math.pi - d, 2 * math.pi)


def vortex_density(theta, L: int, *, periodic: bool = True, weights=None) -> Estimate:
    """Vortices and antivortices per site (module docstring) of angle configurations
    ``theta`` ``(B, L*L)``: plaquettes of the periodic lattice (L^2) or the open one
    ((L - 1)^2), divided by the L^2 sites."""
    theta, L = _check_angles(theta, L)
    return _average(vortices_per_site(theta, L, periodic), weights)


def helicity_modulus(theta, L: int, beta: float, *, J: float = 1.0,
                     weights=None) -> Estimate:
    """The helicity modulus per site (module docstring) of the periodic L x L XY model
    with coupling ``J`` at ``beta``, from angle configurations ``theta`` ``(B, L*L)``."""
    theta, L = _check_angles(theta, L)
    return _average(helicity_per_site(theta, L, check_beta(beta), check_real(J, "J")),
                    weights)


# ----------------------------------------------------- per-configuration kernels
def plaquette_windings(theta: torch.Tensor, L: int, periodic: bool = True) -> torch.Tensor:
    """The winding number w_p of every plaquette, ``(B, L, L)`` periodic or
    ``(B, L - 1, L - 1)`` open, plaquette (r, c) having (r, c) as its upper left corner
    (no validation)::

        (r, c) ---> (r, c+1)
          ^            |
          |            v          w = [d1 + d2 + d3 + d4] / 2pi, each d wrapped
        (r+1, c) <-- (r+1, c+1)
    """
    g = theta.reshape(-1, L, L)
    if periodic:
        right, down = torch.roll(g, -1, -1), torch.roll(g, -1, -2)
        corners = (g, right, torch.roll(right, -1, -2), down)
    else:
        corners = (g[:, :-1, :-1], g[:, :-1, 1:], g[:, 1:, 1:], g[:, 1:, :-1])
    total = sum(wrap_angle(corners[(k + 1) % 4] - corners[k]) for k in range(4))
    return torch.round(total / (2 * math.pi)).long()


def vortices_per_site(theta: torch.Tensor, L: int, periodic: bool = True) -> torch.Tensor:
    """(1/N) sum_p |w_p| of each configuration, ``(B,)`` (no validation)."""
    return plaquette_windings(theta, L, periodic).abs().sum((-2, -1)).double() / (L * L)


def helicity_per_site(theta: torch.Tensor, L: int, beta: float, J: float) -> torch.Tensor:
    """(1/N) [J sum_x cos(d) - beta (J sum_x sin(d))^2] of each configuration, ``(B,)``."""
    g = theta.reshape(-1, L, L)
    d = g - torch.roll(g, -1, -1)
    current = J * torch.sin(d).sum((-2, -1))
    return (J * torch.cos(d).sum((-2, -1)) - beta * current * current) / (L * L)


# ------------------------------------------------------------------- helpers
def _check_angles(theta, L) -> tuple[torch.Tensor, int]:
    L = check_int(L, "L", 2)
    theta = Circle().validate(theta, L * L, name="theta").to(torch.float64)
    return theta.reshape(-1, L * L), L


def _average(values: torch.Tensor, weights) -> Estimate:
    """The mean of per-configuration ``values`` ``(B,)`` as an Estimate, plain or
    self-normalized with ``weights``."""
    num = values.shape[0]
    if weights is None:
        error = float(values.std() / math.sqrt(num)) if num > 1 else math.nan
        return Estimate(float(values.mean()), error, "sampled", num)
    w = torch.as_tensor(weights, dtype=torch.float64, device=values.device).reshape(-1)
    if w.shape[0] != num:
        raise ValueError(f"weights must hold one number per configuration ({num}), got "
                         f"{w.shape[0]}")
    if not torch.isfinite(w).all() or (w < 0).any() or float(w.sum()) <= 0:
        raise ValueError("weights must be finite, >= 0 and not all zero")
    w = w / w.sum()
    mean = (w * values).sum()
    error = torch.sqrt(((w * (values - mean)) ** 2).sum())
    return Estimate(float(mean), float(error), "sampled", num)
