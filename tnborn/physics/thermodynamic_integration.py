"""Free energy and entropy per site from the energy per site by thermodynamic
integration from beta = 0.

For a model of n binary spins in zero field, ln Z(0) = n ln 2 and
d ln Z / d beta = -<E>, so per site

    ln Z(beta) / n = ln 2 - int_0^beta e(b) db,    f = -ln Z / (n beta),
    s = ln Z / n + beta e                           (S / n, in units of k_B).

The integral is that of the cubic spline (not-a-knot) through the grid values e_k,
a linear functional of them: int_0^beta_j = sum_k W_jk e_k. Errors:

* statistical: the e_k are independent runs with standard errors sigma_k, so
  var(ln Z / n) = sum_k W_jk^2 sigma_k^2, and var(s) adds the beta_j e_j term in the
  same sum (it is correlated with the integral through e_j);
* discretization: |spline - trapezoid| at each beta, a conservative bound for the
  spline's own error (the trapezoid's error is the larger), given as
  ``diagnostics["integration_error"]`` beside the statistical standard error.
"""

from __future__ import annotations

import math

import numpy as np

from ..checks import check_increasing
from ..estimate import Estimate

__all__ = ["thermodynamic_integration"]


def check_betas(betas) -> list[float]:
    """A strictly increasing list of finite inverse temperatures >= 0."""
    return check_increasing(betas, "betas", allow_zero=True)


def _weights(betas: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(W_spline, W_trapezoid): ``(grid, grid)`` matrices of int_0^beta_j of the
    interpolant of the unit vector e_k."""
    from scipy.interpolate import CubicSpline
    count = betas.size
    spline = np.zeros((count, count))
    for k in range(count):
        curve = CubicSpline(betas, np.eye(count)[k])
        spline[:, k] = [curve.integrate(betas[0], b) for b in betas]
    steps = np.diff(betas)
    trapezoid = np.zeros((count, count))
    for j in range(1, count):
        trapezoid[j] = trapezoid[j - 1]
        trapezoid[j, j - 1] += steps[j - 1] / 2
        trapezoid[j, j] += steps[j - 1] / 2
    return spline, trapezoid


def thermodynamic_integration(betas, energies) -> dict:
    """ln Z / n, f and s per site at each positive beta of the grid (module docstring).

    Args:
        betas: strictly increasing inverse temperatures >= 0, at least 4 with the
            point beta = 0 (prepended with e = 0 when absent, exact in zero field).
        energies: the energy per site at each beta, :class:`tnborn.Estimate` (sampled,
            e.g. :func:`tnborn.physics.ising_monte_carlo`, or exact): their standard
            errors propagate.

    The start e(0) = 0 and ln Z(0) / n = ln 2 hold for binary spins in zero field only:
    give the energies of a model with h = 0.

    Returns:
        A dict: ``betas`` (the positive ones), ``log_z_per_site``,
        ``free_energy_per_site``, ``entropy_per_site`` (lists of
        :class:`tnborn.Estimate`, each with ``diagnostics["integration_error"]``;
        never ``"exact"``, even from exact energies: the spline is an approximation;
        ``num`` is the inputs' total sample count, at least 1).
    """
    energies = list(energies) if isinstance(energies, (list, tuple)) else None
    if energies is None or not all(isinstance(e, Estimate) for e in energies):
        raise TypeError("energies must be a list of Estimates (one per beta)")
    grid = np.asarray(check_betas(betas), dtype=np.float64)
    if grid.size != len(energies):
        raise ValueError(f"need one energy per beta, got {len(energies)} energies for "
                         f"{grid.size} betas")
    values = np.array([e.value for e in energies])
    errors = np.array([e.stderr for e in energies])
    if not np.isfinite(values).all() or not np.isfinite(errors).all():
        raise ValueError("the energies and their standard errors must be finite")
    num = max(1, sum(e.num or 0 for e in energies))
    unreliable = [f"{b:g}" for b, e in zip(grid, energies) if not e.reliable]
    warnings = (f"the energies at beta = {', '.join(unreliable)} are unreliable",) \
        if unreliable else ()
    if grid[0] != 0.0:
        grid, values, errors = (np.concatenate([[0.0], grid]), np.concatenate([[0.0], values]),
                                np.concatenate([[0.0], errors]))
    if grid.size < 4:
        raise ValueError(f"the spline needs at least 4 grid points with beta = 0, got "
                         f"{grid.size}")
    spline, trapezoid = _weights(grid)
    integral, bound = spline @ values, np.abs((spline - trapezoid) @ values)
    log_z = math.log(2) - integral
    entropy_weights = -spline + np.diag(grid)
    var_log_z = (spline ** 2) @ errors ** 2
    var_entropy = (entropy_weights ** 2) @ errors ** 2
    out = {"betas": [], "log_z_per_site": [], "free_energy_per_site": [],
           "entropy_per_site": []}

    def estimate(value, variance, bias):
        return Estimate(float(value), math.sqrt(variance), "sampled", num,
                        reliable=not warnings, warnings=warnings,
                        diagnostics={"integration_error": float(bias)})

    for j in range(1, grid.size):
        b = grid[j]
        out["betas"].append(float(b))
        out["log_z_per_site"].append(estimate(log_z[j], var_log_z[j], bound[j]))
        out["free_energy_per_site"].append(estimate(-log_z[j] / b, var_log_z[j] / b ** 2,
                                                    bound[j] / b))
        out["entropy_per_site"].append(estimate(log_z[j] + b * values[j], var_entropy[j],
                                                bound[j]))
    return out
