"""Equilibrium samples of the periodic 2D XY model (angles in [0, 2 pi)) from the
Wolff + Metropolis chains of :mod:`tnborn.physics.xy_monte_carlo`."""

from __future__ import annotations

import torch

from ..checks import check_int, check_seed
from ._chains import collect, pilot_thinning

__all__ = ["xy_samples"]


def xy_samples(L: int, beta: float, num: int, *, seed: int, J: float = 1.0,
               h: float = 0.0, chains: int | None = None, burn_in: int = 200,
               thin: int | None = None) -> torch.Tensor:
    """``num`` angle configurations ``(num, L*L)`` (float64, row-major) of the periodic
    L x L XY model E = -J sum cos(theta_i - theta_j) - h sum cos theta_i at ``beta``.

    ``chains`` independent chains (default min(num, 64)) from uniform random angles,
    ``burn_in`` sweeps each (one Metropolis sweep and one Wolff update), then a
    configuration every ``thin`` sweeps; the default ``thin`` is ceil(2 tau_int) of the
    energy over the second half of the burn-in (at least 1). Configurations are
    interleaved across chains (row k comes from chain k mod chains). Seeded by
    ``torch.Generator().manual_seed(seed)``.
    """
    from ..physics.xy_monte_carlo import XYChains

    num = check_int(num, "num", 1)
    chains = min(num, 64) if chains is None else check_int(chains, "chains", 1)
    burn_in = check_int(burn_in, "burn_in", 0)
    generator = torch.Generator().manual_seed(check_seed(seed))
    state = XYChains(L, beta, chains=chains, generator=generator, J=J, h=h)
    energies = []
    for step in range(burn_in):
        state.sweep()
        if step >= burn_in // 2:
            energies.append(state.model._energy(state.theta))
    thin = pilot_thinning([energies]) if thin is None else check_int(thin, "thin", 1)
    return collect(state.sweep, lambda: state.theta, num, chains, thin)
