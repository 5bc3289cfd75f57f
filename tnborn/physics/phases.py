"""Phase structure from data (the talk "Building interactions with deep autoregressive
networks"): a model fitted to Ising samples at each temperature, read back as couplings
(H = -T ln p, :func:`tnborn.physics.learn_hamiltonian`), magnetization and Binder
cumulant; T_c from the crossing of the Binder cumulants of two sizes and from a fit of
the spontaneous magnetization.

With spins s = 2x - 1 and m = (1 / n) sum_i s_i of one configuration::

    U_L(T) = 1 - <m^4> / (3 <m^2>^2)          (-> 2/3 ordered, -> 0 disordered)
    M_s(T) = M_s(0) (1 - T / T_c)^b           (fitted to <|m|> below T_c)

U_L of two sizes cross near T_c (finite-size corrections shift the crossing by
O(L^-(1 + omega) / nu)); the crossing is the zero of U_small - U_large, interpolated
linearly between the two temperatures that bracket it, with its error from those four
U values (independent samples, first-order propagation).
"""

from __future__ import annotations

import math

import torch

from ..checks import as_tensor, check_increasing
from ..estimate import Estimate, jackknife_error

__all__ = ["binder_cumulant", "abs_magnetization", "binder_crossing", "fit_magnetization",
           "check_temperatures"]

BLOCKS = 20  # jackknife blocks of the Binder cumulant


def check_temperatures(temperatures, minimum: int = 2) -> list[float]:
    """Finite, positive, strictly increasing temperatures (at least ``minimum``)."""
    return check_increasing(temperatures, "temperatures", minimum=minimum)


def _spin_means(x) -> torch.Tensor:
    """m of each 0/1 configuration ``(N, n)``: ``(N,)`` float64."""
    x = as_tensor(x, "configurations must be a tensor or array")
    if x.ndim != 2 or x.shape[0] < BLOCKS:
        raise ValueError(f"configurations must have shape (N, n) with N >= {BLOCKS}, got "
                         f"{tuple(x.shape)}")
    if not bool(((x == 0) | (x == 1)).all()):
        raise ValueError("configurations must hold 0/1 values")
    return (2 * x.to(torch.float64) - 1).mean(-1)


def abs_magnetization(x) -> Estimate:
    """<|m|> of 0/1 configurations ``(N, n)`` treated as independent samples."""
    m = _spin_means(x).abs()
    return Estimate(float(m.mean()), float(m.std() / math.sqrt(m.numel())), "sampled",
                    m.numel())


def _binder(m2: torch.Tensor, m4: torch.Tensor) -> torch.Tensor:
    return 1 - m4 / (3 * m2 ** 2)


def binder_cumulant(x) -> Estimate:
    """U = 1 - <m^4> / (3 <m^2>^2) of 0/1 configurations ``(N, n)`` (independent
    samples); the error is the jackknife over :data:`BLOCKS` blocks."""
    m = _spin_means(x)
    size = m.numel() // BLOCKS
    m = m[:size * BLOCKS]
    m2, m4 = (m ** 2).reshape(BLOCKS, size).mean(1), (m ** 4).reshape(BLOCKS, size).mean(1)
    value = _binder(m2.mean(), m4.mean())
    left_out = _binder((m2.sum() - m2) / (BLOCKS - 1), (m4.sum() - m4) / (BLOCKS - 1))
    return Estimate(float(value), jackknife_error(left_out), "sampled", m.numel())


def binder_crossing(temperatures, small: list[Estimate], large: list[Estimate]) -> Estimate:
    """T where U_small - U_large changes sign (module docstring); ``small`` and ``large``
    hold the Binder cumulant at each temperature. ValueError when the curves do not
    cross exactly once in the range."""
    temperatures = check_temperatures(temperatures)
    if len(small) != len(temperatures) or len(large) != len(temperatures):
        raise ValueError(f"need one Binder cumulant per temperature ({len(temperatures)}), "
                         f"got {len(small)} and {len(large)}")
    gaps = [float(a) - float(b) for a, b in zip(small, large)]
    changes = [k for k in range(len(gaps) - 1) if (gaps[k] > 0) != (gaps[k + 1] > 0)]
    if len(changes) != 1:
        raise ValueError(f"the Binder cumulants cross {len(changes)} times between "
                         f"T = {temperatures[0]:g} and {temperatures[-1]:g} (gaps "
                         f"{[round(g, 4) for g in gaps]}): no single crossing")
    k = changes[0]
    (t_1, t_2), (d_1, d_2) = temperatures[k:k + 2], gaps[k:k + 2]
    crossing = t_1 + d_1 * (t_2 - t_1) / (d_1 - d_2)
    # d T / d d_1 = -d_2 (t_2 - t_1) / (d_1 - d_2)^2, d T / d d_2 = d_1 (t_2 - t_1) / (...)^2
    scale = (t_2 - t_1) / (d_1 - d_2) ** 2
    var_1 = small[k].stderr ** 2 + large[k].stderr ** 2
    var_2 = small[k + 1].stderr ** 2 + large[k + 1].stderr ** 2
    error = scale * math.sqrt(d_2 ** 2 * var_1 + d_1 ** 2 * var_2)
    num = sum(e.num for e in (small[k], small[k + 1], large[k], large[k + 1]))
    return Estimate(crossing, error, "sampled", num,
                    diagnostics={"bracket": [t_1, t_2], "gaps": [d_1, d_2]})


def fit_magnetization(temperatures, magnetizations: list[Estimate], *,
                      exponent: float | None = None) -> dict:
    """Weighted least squares of M_s(T) = M_s(0) (1 - T / T_c)^b to ``magnetizations``
    (:class:`~tnborn.Estimate` of <|m|> at each of ``temperatures``, all below T_c);
    ``exponent``: fix b (None: fit it). Returns ``m0``, ``tc``, ``exponent`` (Estimates
    with the standard errors of the covariance, scaled by the reduced chi^2 when it
    exceeds 1), ``chi2``, ``dof``."""
    from scipy.optimize import curve_fit

    temperatures = check_temperatures(temperatures, 3 if exponent is None else 2)
    if len(magnetizations) != len(temperatures):
        raise ValueError(f"need one magnetization per temperature ({len(temperatures)}), "
                         f"got {len(magnetizations)}")
    t = torch.tensor(temperatures, dtype=torch.float64).numpy()
    m = torch.tensor([float(e) for e in magnetizations], dtype=torch.float64).numpy()
    sigma = torch.tensor([max(e.stderr, 1e-12) for e in magnetizations],
                         dtype=torch.float64).numpy()

    def model(temperature, m0, tc, b=exponent):
        return m0 * (1 - temperature / tc) ** b

    start = [float(m[0]), 1.05 * temperatures[-1]] + ([0.125] if exponent is None else [])
    params, covariance = curve_fit(model, t, m, p0=start, sigma=sigma, absolute_sigma=True,
                                   bounds=([0, temperatures[-1]] + ([0] if exponent is None
                                                                    else []), math.inf),
                                   maxfev=20_000)
    chi2 = float((((m - model(t, *params)) / sigma) ** 2).sum())
    dof = len(temperatures) - len(params)
    inflation = max(1.0, chi2 / dof) if dof > 0 else 1.0
    errors = [math.sqrt(max(float(covariance[k, k]), 0.0) * inflation)
              for k in range(len(params))]
    num = sum(e.num for e in magnetizations)
    fitted = [Estimate(float(p), e, "sampled", num) for p, e in zip(params, errors)]
    return {"m0": fitted[0], "tc": fitted[1],
            "exponent": fitted[2] if exponent is None else Estimate(exponent),
            "chi2": chi2, "dof": dof}
