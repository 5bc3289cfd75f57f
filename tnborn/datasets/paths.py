"""Equilibrium paths of the double well in imaginary time from the Metropolis + HMC
chains of :mod:`tnborn.physics.path_monte_carlo`."""

from __future__ import annotations

import torch

from ..checks import as_tensor, check_int
from ..supports import Real
from ._chains import collect, pilot_thinning

__all__ = ["double_well_paths", "path_symmetry_copies"]


def double_well_paths(n_tau: int, beta: float, num: int, *, seed: int, lam: float = 4.0,
                      v: float = 1.4, m: float = 1.0, omega: float = 0.0,
                      chains: int | None = None, burn_in: int = 300,
                      thin: int | None = None) -> torch.Tensor:
    """``num`` periodic paths ``(num, n_tau)`` (float64) of
    :class:`tnborn.physics.DoubleWellPath` ``(n_tau, beta, lam, v, m, omega)``.

    ``chains`` chains (default min(num, 32)) tuned over ``burn_in`` sweeps, then a path
    every ``thin`` sweeps; the default ``thin`` is ceil(2 tau_int) of the slower of x^2
    and the kink count over 200 pilot sweeps (at least 1). Rows are interleaved across
    chains (row k from chain k mod chains); seeded by ``seed``.
    """
    from ..physics.path_monte_carlo import PathChains, kink_count
    from ..physics.paths import DoubleWellPath

    path = DoubleWellPath(n_tau, beta, lam=lam, v=v, m=m, omega=omega)
    num = check_int(num, "num", 1)
    chains = min(num, 32) if chains is None else check_int(chains, "chains", 1)
    state = PathChains(path, chains=chains, seed=seed)
    for _ in range(check_int(burn_in, "burn_in", 0)):
        state.sweep(tune=True)
    if thin is None:
        x2, kinks = [], []
        for _ in range(200):
            state.sweep()
            x2.append((state.x ** 2).mean(-1))
            kinks.append(kink_count(state.x))
        thin = pilot_thinning([x2, kinks])
    thin = check_int(thin, "thin", 1)
    return collect(state.sweep, lambda: state.x, num, chains, thin)


def path_symmetry_copies(paths, copies: int, *, generator: torch.Generator) -> torch.Tensor:
    """``copies`` images of every path ``(N, n)`` under random exact symmetries of the
    periodic double-well action: a cyclic time shift, time reversal (probability 1/2)
    and x -> -x (probability 1/2). Returns ``(copies * N, n)``: data augmentation for a
    model that should learn the symmetric action."""
    x = as_tensor(paths, "paths must be a tensor or array")
    if x.ndim != 2:
        raise ValueError(f"paths must have shape (N, n), got {tuple(x.shape)}")
    x = Real().validate(x, x.shape[1], name="paths")
    copies = check_int(copies, "copies", 1)
    num, n = x.shape
    x = x.repeat(copies, 1)
    shifts = torch.randint(0, n, (copies * num, 1), generator=generator)
    x = torch.gather(x, 1, (torch.arange(n) + shifts) % n)
    reverse = torch.rand(copies * num, generator=generator) < 0.5
    x[reverse] = x[reverse].flip(1)
    signs = torch.where(torch.rand(copies * num, 1, generator=generator) < 0.5, -1.0, 1.0)
    return x * signs.to(x.dtype)
