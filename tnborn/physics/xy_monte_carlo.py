"""Monte Carlo reference for the periodic 2D XY model: Wolff cluster updates with a
random reflection axis, plus Metropolis sweeps, on many chains at once (torch tensors
``(chains, L*L)``, seeded by a ``torch.Generator``).

Wolff (Wolff 1989). Pick a unit vector r = (cos phi, sin phi) and a seed site; every
spin's projection is sigma_i = cos(theta_i - phi). Grow the cluster from the seed: a
cluster site i adds each neighbour j not yet in it with probability
p_ij = 1 - exp(min(0, -2 beta J sigma_i sigma_j)) (every bond tested once, from the side
that joined first). Reflect the cluster, theta -> pi + 2 phi - theta (the spin component
along r changes sign). With a field h the reflection changes the field energy by
dE = -h sum_cluster (cos theta' - cos theta); the reflected cluster is then accepted
with probability min(1, exp(-beta dE)), which keeps detailed balance. The growth runs on
all chains together, one layer of the cluster per step (each frontier site tests its
four bonds; a site reached by several bonds joins once).

Metropolis: checkerboard sweeps (even L; a sequential sweep for odd L) with proposals
theta + delta (u - 1/2), ``delta`` = min(2 pi, 2 pi / sqrt(beta (4 |J| + |h|))) so the
acceptance stays near one half at low temperature.

Error bars: each observable's measurements ``(steps, chains)`` give tau_int
(:func:`tnborn.physics.integrated_autocorrelation_time`) and a binning error: bins of
``ceil(10 tau_int)`` steps per chain, the standard error of the bin means. A run with
fewer than :data:`MIN_BINS` bins per chain is reported unreliable.
"""

from __future__ import annotations

import math

import torch

from ..checks import check_beta, check_int, check_real, check_seed
from ..circular import wrap_to_circle
from ..estimate import Estimate
from .estimators import integrated_autocorrelation_time
from .xy import XY2D
from .xy_observables import helicity_per_site, vortices_per_site

__all__ = ["xy_monte_carlo", "XYChains"]

#: bins of length ceil(10 tau_int) per chain below which a Monte Carlo error bar is
#: reported unreliable.
MIN_BINS = 4


class XYChains:
    """Markov chains ``(chains, L*L)`` of the periodic XY model at ``beta``, started
    from uniform random angles; :meth:`sweep` advances them all."""

    def __init__(self, L: int, beta: float, *, chains: int, generator: torch.Generator,
                 J: float = 1.0, h: float = 0.0, wolff: int = 1):
        self.model = XY2D(L, J=J, h=h)
        self.L, self.beta, self.J, self.h = self.model.L, check_beta(beta), self.model.J, \
            self.model.h
        self.chains = check_int(chains, "chains", 1)
        self.wolff = check_int(wolff, "wolff", 0)
        self.generator = generator
        n = self.L * self.L
        self.theta = wrap_to_circle(2 * math.pi * torch.rand(
            self.chains, n, generator=generator, dtype=torch.float64))
        index = torch.arange(n).reshape(self.L, self.L)
        self.neighbours = torch.stack([torch.roll(index, s, d).reshape(-1)
                                       for d in (1, 0) for s in (-1, 1)])  # (4, n)
        # site j's neighbour in direction k is i where neighbours[k, i] == j
        self.inverse_neighbours = torch.argsort(self.neighbours, dim=1)
        self.delta = min(2 * math.pi, 2 * math.pi / math.sqrt(
            max(self.beta * (4 * abs(self.J) + abs(self.h)), 1e-12)))
        colour = (index // self.L + index % self.L) % 2
        self.colours = [colour.reshape(-1) == c for c in (0, 1)] if self.L % 2 == 0 \
            else [torch.arange(n) == i for i in range(n)]
        self.accepted = self.proposed = 0
        self.cluster_sizes: list[float] = []

    def sweep(self) -> None:
        """One Metropolis sweep, then ``wolff`` cluster updates."""
        for mask in self.colours:
            self._metropolis(mask)
        for _ in range(self.wolff):
            self._wolff()

    # ---------------------------------------------------------------- updates
    def _local_field(self) -> tuple[torch.Tensor, torch.Tensor]:
        """(sum of J (cos, sin) of the neighbours) + (h, 0) per site, ``(chains, n)``."""
        c, s = torch.cos(self.theta), torch.sin(self.theta)
        fx = self.J * c[:, self.neighbours].sum(1) + self.h
        fy = self.J * s[:, self.neighbours].sum(1)
        return fx, fy

    def _metropolis(self, mask: torch.Tensor) -> None:
        fx, fy = self._local_field()
        shape = (self.chains, int(mask.sum()))
        u = torch.rand((2,) + shape, generator=self.generator, dtype=torch.float64)
        old = self.theta[:, mask]
        new = wrap_to_circle(old + self.delta * (u[0] - 0.5))
        fx, fy = fx[:, mask], fy[:, mask]
        d_energy = -(fx * (torch.cos(new) - torch.cos(old))
                     + fy * (torch.sin(new) - torch.sin(old)))
        accept = u[1] < torch.exp(-self.beta * d_energy.clamp_min(0.0))
        self.theta[:, mask] = torch.where(accept, new, old)
        self.accepted += int(accept.sum())
        self.proposed += accept.numel()

    def _wolff(self) -> None:
        chains, n = self.theta.shape
        rows = torch.arange(chains)
        phi = 2 * math.pi * torch.rand(chains, 1, generator=self.generator,
                                       dtype=torch.float64)
        sigma = torch.cos(self.theta - phi)
        seed = torch.randint(n, (chains,), generator=self.generator)
        # each directed bond i -> j is tested at most once (when i joins): draw all
        # outcomes up front, then grow the cluster layer by layer with gathers
        coupling = sigma[None] * sigma[:, self.neighbours].transpose(0, 1)  # (4, chains, n)
        p = -torch.expm1((-2 * self.beta * self.J * coupling).clamp(max=0.0))
        open_bond = torch.rand(p.shape, generator=self.generator, dtype=torch.float64) < p
        cluster = torch.zeros(chains, n, dtype=torch.bool)
        cluster[rows, seed] = True
        frontier = cluster.clone()
        while frontier.any():
            joined = torch.zeros_like(cluster)
            for direction, back in enumerate(self.inverse_neighbours):
                joined |= (frontier & open_bond[direction])[:, back]
            frontier = joined & ~cluster
            cluster |= frontier
        reflected = wrap_to_circle(math.pi + 2 * phi - self.theta)
        if self.h != 0.0:
            d_energy = -self.h * ((torch.cos(reflected) - torch.cos(self.theta))
                                  * cluster).sum(1)
            u = torch.rand(chains, generator=self.generator, dtype=torch.float64)
            cluster &= (u < torch.exp(-self.beta * d_energy.clamp_min(0.0)))[:, None]
        self.theta = torch.where(cluster, reflected, self.theta)
        self.cluster_sizes.append(float(cluster.sum(1).double().mean()))


def xy_monte_carlo(L: int, beta: float, *, sweeps: int = 2000, seed: int,
                   J: float = 1.0, h: float = 0.0, chains: int = 16,
                   burn_in: int | None = None, wolff: int = 1) -> dict:
    """Energy, magnetization, helicity modulus and vortex density per site of the
    periodic L x L XY model at ``beta`` by Monte Carlo (module docstring).

    ``sweeps`` measured sweeps per chain after ``burn_in`` (default sweeps // 5); a sweep
    is one Metropolis sweep and ``wolff`` cluster updates. Returns ``energy``,
    ``magnetization`` (<|m|>), ``helicity`` and ``vortex_density`` as
    :class:`tnborn.Estimate` (binning errors; ``diagnostics`` holds ``tau_int`` and the
    number of bins per chain), ``acceptance`` (Metropolis), ``mean_cluster_size``,
    ``theta`` (the chains' final angles ``(chains, L*L)``), ``L``, ``beta``, ``J``,
    ``h``, ``sweeps``, ``chains``.
    """
    sweeps = check_int(sweeps, "sweeps", 2)
    burn_in = sweeps // 5 if burn_in is None else check_int(burn_in, "burn_in", 0)
    generator = torch.Generator().manual_seed(check_seed(seed))
    state = XYChains(L, beta, chains=chains, generator=generator, J=check_real(J, "J"),
                     h=check_real(h, "h"), wolff=wolff)
    for _ in range(burn_in):
        state.sweep()
    state.accepted = state.proposed = 0
    state.cluster_sizes.clear()
    series = {name: [] for name in ("energy", "magnetization", "helicity",
                                    "vortex_density")}
    n = state.L * state.L
    for _ in range(sweeps):
        state.sweep()
        theta = state.theta
        series["energy"].append(state.model._energy(theta) / n)
        series["magnetization"].append(torch.hypot(torch.cos(theta).mean(1),
                                                   torch.sin(theta).mean(1)))
        series["helicity"].append(helicity_per_site(theta, state.L, state.beta, state.J))
        series["vortex_density"].append(vortices_per_site(theta, state.L))
    results = {name: binned_estimate(torch.stack(values)) for name, values in series.items()}
    results.update(acceptance=state.accepted / max(state.proposed, 1),
                   mean_cluster_size=(sum(state.cluster_sizes) / len(state.cluster_sizes)
                                      if state.cluster_sizes else 0.0),
                   theta=state.theta.clone(), L=state.L, beta=state.beta, J=state.J,
                   h=state.h, sweeps=sweeps, chains=state.chains)
    return results


def binned_estimate(series: torch.Tensor) -> Estimate:
    """The mean of Markov-chain measurements ``(steps, chains)`` with its binning error:
    bins of ceil(10 tau_int) steps per chain (``diagnostics``: ``tau_int``, ``bins``);
    unreliable with fewer than :data:`MIN_BINS` bins per chain."""
    steps, chains = series.shape
    tau = integrated_autocorrelation_time(series)
    length = max(1, math.ceil(10 * tau))
    bins = steps // length
    diagnostics = {"tau_int": tau, "bins": bins, "min_bins": MIN_BINS}
    if bins < 2:
        return Estimate(float(series.mean()), math.nan, "sampled", series.numel(),
                        reliable=False, warnings=(
                            f"{steps} steps hold fewer than 2 bins of 10 tau_int = "
                            f"{length} steps: no error bar",), diagnostics=diagnostics)
    means = series[:bins * length].reshape(bins, length, chains).mean(1)
    error = float(means.std() / math.sqrt(means.numel()))
    warnings = () if bins >= MIN_BINS else (
        f"only {bins} bins of 10 tau_int = {length} steps per chain: the error bar is "
        "rough",)
    return Estimate(float(series.mean()), error, "sampled", series.numel(),
                    reliable=not warnings, warnings=warnings, diagnostics=diagnostics)
