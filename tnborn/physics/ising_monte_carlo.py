"""Monte Carlo reference for the periodic Ising model in 2D and 3D (zero field): Wolff
chains (:class:`tnborn.physics.wolff.WolffChain`) and their observables with errors.

A *sweep* is ceil(n / <cluster size>) cluster flips (the mean size measured over the
burn-in), about n flipped spins; every chain is measured once per sweep. Per site, with
e = E / n and m = (1 / n) sum_i s_i:

* ``energy`` <e> and ``abs_magnetization`` <|m|>: binning errors
  (:func:`tnborn.physics.xy_monte_carlo.binned_estimate`);
* ``specific_heat`` C / n = beta^2 n (<e^2> - <e>^2), ``susceptibility``
  chi / n = beta n (<m^2> - <|m|>^2) (the finite-lattice form with |m|) and the Binder
  cumulant U = 1 - <m^4> / (3 <m^2>^2): jackknife over bins of ceil(10 tau_int) sweeps
  (the largest tau_int of e, |m| and m^2), each bin of each chain one block.

Chains are seeded by ``random.Random(f"{seed}:{chain}")``: the same numbers on every
platform.
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch

from ..checks import check_beta, check_int, check_positive, check_seed
from ..estimate import Estimate, jackknife_error
from .estimators import integrated_autocorrelation_time
from .ising3d import box_shape
from .wolff import WolffChain
from .xy_monte_carlo import MIN_BINS, binned_estimate

__all__ = ["ising_monte_carlo"]


def _measure(chain: WolffChain, plus: np.ndarray, J: float) -> tuple[float, float]:
    """(E / n, m) of the chain's spins; ``plus``: the +1 neighbour of every site along
    every axis ``(n, dim)``."""
    s = 2 * np.asarray(chain.spins, dtype=np.float64) - 1
    energy = -J * float((s[:, None] * s[plus]).sum())
    return energy / chain.n, float(s.mean())


def _jackknife(columns: dict, statistic, length: int) -> tuple[float, float, int]:
    """(value, jackknife error, blocks) of ``statistic(means)`` where ``means`` maps each
    name of ``columns`` ((steps, chains) tensors) to its mean; one block per bin of
    ``length`` steps of each chain (None error below 2 blocks)."""
    steps = next(iter(columns.values())).shape[0]
    bins = steps // length
    value = statistic({k: float(v.mean()) for k, v in columns.items()})
    if bins < 1:
        return value, math.nan, 0
    sums = {k: v[:bins * length].reshape(bins, length, -1).sum(1).reshape(-1)
            for k, v in columns.items()}
    blocks = next(iter(sums.values())).numel()
    if blocks < 2:
        return value, math.nan, blocks
    size = bins * length * next(iter(columns.values())).shape[1]
    total = {k: float(v.sum()) for k, v in sums.items()}
    left_out = np.array([statistic({k: (total[k] - float(sums[k][b])) / (size - length)
                                    for k in columns}) for b in range(blocks)])
    return value, jackknife_error(left_out), blocks


def _derived(columns: dict, statistic, length: int, bins: int) -> Estimate:
    value, error, blocks = _jackknife(columns, statistic, length)
    warnings = () if bins >= MIN_BINS else (
        f"only {bins} bins of 10 tau_int = {length} sweeps per chain: the error bar is "
        "rough",)
    num = next(iter(columns.values())).numel()
    return Estimate(value, error, "sampled", num, reliable=not warnings,
                    warnings=warnings, diagnostics={"bin_length": length, "blocks": blocks})


def ising_monte_carlo(L, beta, *, dim: int = 3, sweeps: int = 2000, seed: int,
                      J: float = 1.0, chains: int = 4, burn_in: int | None = None) -> dict:
    """Observables per site of the periodic Ising model on an L^dim box (or ``dim``
    sides) at ``beta`` by Wolff Monte Carlo (module docstring).

    Args:
        L: side (>= 2) or ``dim`` sides.
        beta: inverse temperature, finite and > 0; J: coupling, finite and > 0.
        dim: 2 or 3.
        sweeps: measured sweeps per chain (>= 2); chains: independent chains (>= 1).
        burn_in: cluster flips discarded per chain before the first sweep (None: until
            20 n spins have flipped, at least 100 flips).

    Returns:
        A dict: ``energy``, ``abs_magnetization``, ``specific_heat``, ``susceptibility``,
        ``binder`` (:class:`tnborn.Estimate`); ``tau_int`` ({e, abs_m, m2}: in sweeps);
        ``updates_per_sweep``, ``mean_cluster_size``, ``shape``, ``n_sites``, ``beta``,
        ``J``, ``sweeps``, ``chains``, ``seed``.
    """
    shape = box_shape(L, dim)
    beta, J = check_beta(beta), check_positive(J, "J")
    sweeps, chains = check_int(sweeps, "sweeps", 2), check_int(chains, "chains", 1)
    seed = check_seed(seed)
    if burn_in is not None:
        burn_in = check_int(burn_in, "burn_in", 0)
    e = np.empty((sweeps, chains))
    m = np.empty((sweeps, chains))
    updates, flipped = [], 0
    for c in range(chains):
        chain = WolffChain(shape, beta, J, random.Random(f"{seed}:{c}"))
        thin = chain.burn_in(burn_in, None)
        plus = chain.table[:, 0::2]
        updates.append(thin)
        for t in range(sweeps):
            flipped += chain.advance(thin)
            e[t, c], m[t, c] = _measure(chain, plus, J)
    n = chain.n
    series = {"e": torch.from_numpy(e), "abs_m": torch.from_numpy(np.abs(m)),
              "m2": torch.from_numpy(m * m)}
    tau = {k: integrated_autocorrelation_time(v) for k, v in series.items()}
    length = max(1, math.ceil(10 * max(tau.values())))
    bins = sweeps // length
    columns = {**series, "e2": series["e"] ** 2, "m4": series["m2"] ** 2}
    specific_heat = _derived({k: columns[k] for k in ("e", "e2")},
                             lambda v: beta ** 2 * n * (v["e2"] - v["e"] ** 2), length, bins)
    susceptibility = _derived({k: columns[k] for k in ("abs_m", "m2")},
                              lambda v: beta * n * (v["m2"] - v["abs_m"] ** 2), length, bins)
    binder = _derived({k: columns[k] for k in ("m2", "m4")},
                      lambda v: 1 - v["m4"] / (3 * v["m2"] ** 2), length, bins)
    return {"energy": binned_estimate(series["e"]),
            "abs_magnetization": binned_estimate(series["abs_m"]),
            "specific_heat": specific_heat, "susceptibility": susceptibility,
            "binder": binder, "tau_int": tau, "updates_per_sweep": updates,
            "mean_cluster_size": flipped / (sum(updates) * sweeps), "shape": shape,
            "n_sites": n, "beta": beta, "J": J, "sweeps": sweeps, "chains": chains,
            "seed": seed}
