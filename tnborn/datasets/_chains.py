"""Drawing data from batched Markov chains (the XY and path data sets): thin by the
measured autocorrelation, then collect one state per chain every ``thin`` sweeps."""

from __future__ import annotations

import math

import torch


def pilot_thinning(series: list) -> int:
    """ceil(2 tau_int) of the slowest of the pilot ``series`` (each a list of per-sweep
    ``(chains,)`` measurements; a series of fewer than 2 counts as tau_int = 1)."""
    from ..physics.estimators import integrated_autocorrelation_time
    taus = [integrated_autocorrelation_time(torch.stack(s)) for s in series if len(s) >= 2]
    return max(1, math.ceil(2 * max(taus, default=1.0)))


def collect(sweep, state, num: int, chains: int, thin: int) -> torch.Tensor:
    """``num`` rows ``(num, n)``: ``thin`` calls of ``sweep()`` then a copy of ``state()``
    ``(chains, n)``, repeated; rows interleaved across chains (row k from chain k mod
    chains)."""
    drawn = []
    for _ in range(math.ceil(num / chains)):
        for _ in range(thin):
            sweep()
        drawn.append(state().clone())
    return torch.stack(drawn).reshape(-1, drawn[0].shape[-1])[:num]
