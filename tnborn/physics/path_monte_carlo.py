"""Monte Carlo of the double-well path (:class:`tnborn.physics.DoubleWellPath`) on many
chains at once (``(chains, n_tau)`` tensors, seeded by a ``torch.Generator``).

One sweep is

* Metropolis on every site, one parity class at a time (sites that are not neighbours
  move together): x_i -> x_i + step (2u - 1), accepted with min(1, exp(-dS)), dS from the
  site's two kinetic links and its potential;
* then one HMC trajectory of the whole path: momenta p ~ N(0, 1), ``leapfrog`` steps of
  size eps on H = S_E + p^2 / 2, accepted with min(1, exp(-dH)); it moves the slow
  long-wavelength modes (and kinks) that single-site updates barely touch.

During the burn-in each chain's Metropolis step and HMC eps are tuned every 10 sweeps
towards acceptances of 0.5 and 0.7 (multiplied by exp(acceptance - target)); they are
then frozen, so the measured chain is a proper Markov chain. Observables per path: x^2
and |x| (site means), the kink count (sign changes around the loop of the path smoothed
by a periodic moving average of ``smooth`` sites) and the correlator
C(t) = (1 / n) sum_i x_i x_{i+t}. Error bars: binning over ceil(10 tau_int) sweeps
(:func:`tnborn.physics.xy_monte_carlo.binned_estimate`).
"""

from __future__ import annotations

import math

import torch

from ..checks import check_count, check_int, check_positive, check_seed
from .paths import DoubleWellPath
from .xy_monte_carlo import binned_estimate

__all__ = ["PathChains", "ActionChains", "path_monte_carlo", "action_monte_carlo", "kink_count",
           "path_correlator"]


def kink_count(x: torch.Tensor, smooth: int = 4) -> torch.Tensor:
    """Sign changes around the loop of paths ``(..., n)`` after a periodic moving average
    of ``smooth`` sites: ``(...)`` float64."""
    smooth = check_count(smooth, "smooth")
    smoothed = sum(torch.roll(x, -k, -1) for k in range(smooth)) / smooth
    sign = torch.sign(smoothed)
    return (sign * torch.roll(sign, -1, -1) < 0).sum(-1).to(torch.float64)


def path_correlator(x: torch.Tensor) -> torch.Tensor:
    """C(t) = (1 / n) sum_i x_i x_{i+t} of paths ``(..., n)``: ``(..., n)``."""
    spectrum = torch.fft.rfft(x, dim=-1)
    return torch.fft.irfft(spectrum.abs() ** 2, n=x.shape[-1], dim=-1) / x.shape[-1]


class PathChains:
    """``chains`` Markov chains of paths of ``path`` (module docstring), started at x = 0
    (plus noise); ``sweep()`` advances them all, ``x`` ``(chains, n_tau)`` is the state."""

    def __init__(self, path: DoubleWellPath, *, chains: int, seed: int, leapfrog: int = 10):
        if not isinstance(path, DoubleWellPath):
            raise TypeError(f"path must be a DoubleWellPath, got {type(path).__name__}")
        self.path = path
        n = path.n_tau
        self._start(n, chains, seed, leapfrog, math.sqrt(path.a / path.m))
        sites = torch.arange(n)
        last = [n - 1] if n % 2 else []  # with odd n, sites 0 and n - 1 are neighbours
        self._classes = [c for c in (sites[(sites % 2 == 0) & (sites != n - 1)] if last
                                     else sites[sites % 2 == 0], sites[sites % 2 == 1],
                                     torch.tensor(last, dtype=torch.long)) if len(c)]
        self._left = torch.roll(sites, 1)
        self._right = torch.roll(sites, -1)

    def _start(self, n: int, chains: int, seed: int, leapfrog: int, step: float) -> None:
        self.n_sites = n
        self.chains = check_count(chains, "chains")
        self.leapfrog = check_count(leapfrog, "leapfrog")
        self.generator = torch.Generator().manual_seed(check_seed(seed))
        self.x = 0.1 * torch.randn(self.chains, n, generator=self.generator, dtype=torch.float64)
        self.step = torch.full((self.chains, 1), step, dtype=torch.float64)
        self.eps = torch.full((self.chains, 1), 0.3 * step, dtype=torch.float64)
        self._tuning = []  # the acceptances since the last retuning

    def _uniform(self, shape) -> torch.Tensor:
        return torch.rand(shape, generator=self.generator, dtype=torch.float64)

    def _action(self, x: torch.Tensor) -> torch.Tensor:
        return self.path._action(x)

    def _gradient(self, x: torch.Tensor) -> torch.Tensor:
        return self.path._gradient(x)

    def _metropolis(self) -> torch.Tensor:
        """One sweep of site updates; the acceptance per chain ``(chains, 1)``."""
        accepted = torch.zeros(self.chains, 1, dtype=torch.float64)
        for sites in self._classes:
            old = self.x[:, sites]
            left, right = self.x[:, self._left[sites]], self.x[:, self._right[sites]]
            new = old + self.step * (2 * self._uniform(old.shape) - 1)
            d_action = (self.path._local_action(new, left, right)
                        - self.path._local_action(old, left, right))
            accept = torch.log(self._uniform(old.shape)) < -d_action
            self.x[:, sites] = torch.where(accept, new, old)
            accepted += accept.sum(1, keepdim=True)
        return accepted / self.n_sites

    def _hmc(self) -> torch.Tensor:
        """One HMC trajectory per chain; the acceptance ``(chains, 1)`` (0 or 1)."""
        x0 = self.x
        p = torch.randn(x0.shape, generator=self.generator, dtype=torch.float64)
        h0 = self._action(x0) + 0.5 * (p * p).sum(-1)
        x = x0.clone()
        p = p - 0.5 * self.eps * self._gradient(x)
        for k in range(self.leapfrog):
            x = x + self.eps * p
            if k < self.leapfrog - 1:
                p = p - self.eps * self._gradient(x)
        p = p - 0.5 * self.eps * self._gradient(x)
        h1 = self._action(x) + 0.5 * (p * p).sum(-1)
        d_h = torch.nan_to_num(h1 - h0, nan=math.inf)
        accept = (torch.log(self._uniform(d_h.shape)) < -d_h)[:, None]
        self.x = torch.where(accept, x, x0)
        return accept.to(torch.float64)

    def sweep(self, tune: bool = False) -> tuple[float, float]:
        """One Metropolis sweep and one HMC trajectory; the mean acceptances."""
        metropolis, hmc = self._metropolis(), self._hmc()
        if tune:
            self._tuning.append((metropolis, hmc))
            if len(self._tuning) == 10:
                m_rate = torch.stack([t[0] for t in self._tuning]).mean(0)
                h_rate = torch.stack([t[1] for t in self._tuning]).mean(0)
                self.step = self.step * torch.exp(m_rate - 0.5)
                self.eps = self.eps * torch.exp(h_rate - 0.7)
                self._tuning = []
        return float(metropolis.mean()), float(hmc.mean())


class ActionChains(PathChains):
    """The chains of :class:`PathChains` for any action ``S(x)`` on paths ``(chains, n)``
    (a callable, e.g. :func:`tnborn.physics.interpolate_action`): Metropolis updates one
    site at a time (S is not assumed local: n evaluations of S per sweep) and HMC with
    the gradient of S by autograd; ``step`` is the initial Metropolis step."""

    def __init__(self, action, n_sites: int, *, chains: int, seed: int, leapfrog: int = 10,
                 step: float = 0.5):
        if not callable(action):
            raise TypeError(f"action must be a callable on paths, got {type(action).__name__}")
        self.action = action
        self._start(check_int(n_sites, "n_sites", 2), chains, seed, leapfrog,
                    check_positive(step, "step"))

    def _action(self, x: torch.Tensor) -> torch.Tensor:
        """S per chain; +inf for a trial path that left the finite numbers (rejected)."""
        finite = torch.isfinite(x).all(-1)
        with torch.no_grad():
            action = self.action(torch.where(finite[:, None], x, 0.0))
        return torch.where(finite, action.to(torch.float64).reshape(self.chains), math.inf)

    def _gradient(self, x: torch.Tensor) -> torch.Tensor:
        finite = torch.isfinite(x).all(-1, keepdim=True)
        with torch.enable_grad():
            x = torch.where(finite, x, 0.0).detach().requires_grad_(True)
            (gradient,) = torch.autograd.grad(self.action(x).sum(), x)
        return torch.where(finite, gradient.to(torch.float64), 0.0)

    def _metropolis(self) -> torch.Tensor:
        accepted = torch.zeros(self.chains, 1, dtype=torch.float64)
        current = self._action(self.x)
        for site in range(self.n_sites):
            new = self.x.clone()
            new[:, site] += self.step[:, 0] * (2 * self._uniform(self.chains) - 1)
            proposed = self._action(new)
            accept = torch.log(self._uniform(self.chains)) < current - proposed
            self.x = torch.where(accept[:, None], new, self.x)
            current = torch.where(accept, proposed, current)
            accepted[:, 0] += accept
        return accepted / self.n_sites


def path_monte_carlo(path: DoubleWellPath, *, chains: int = 32, sweeps: int = 2000,
                     burn_in: int = 300, seed: int, leapfrog: int = 10,
                     smooth: int = 4) -> dict:
    """Equilibrium averages of ``path`` from ``chains`` chains of ``sweeps`` sweeps after
    ``burn_in`` tuning sweeps (module docstring).

    Returns ``x2``, ``abs_x``, ``kinks`` (:class:`tnborn.Estimate` each, binning errors,
    ``diagnostics["tau_int"]`` in sweeps), ``correlator`` ``(n_tau,)`` with
    ``correlator_err`` (over the chain means), ``acceptance_metropolis``,
    ``acceptance_hmc``, ``sweeps``, ``chains``.
    """
    chain = PathChains(path, chains=chains, seed=seed, leapfrog=leapfrog)
    return _measure(chain, sweeps, burn_in, smooth)


def action_monte_carlo(action, n_sites: int, *, chains: int = 32, sweeps: int = 2000,
                       burn_in: int = 300, seed: int, leapfrog: int = 10, step: float = 0.5,
                       smooth: int = 4) -> dict:
    """:func:`path_monte_carlo` for any action ``S(x)`` on periodic paths of ``n_sites``
    (e.g. the predicted action of :func:`tnborn.physics.interpolate_action`), sampled
    by :class:`ActionChains`; the same observables and keys."""
    chain = ActionChains(action, n_sites, chains=chains, seed=seed, leapfrog=leapfrog,
                         step=step)
    return _measure(chain, sweeps, burn_in, smooth)


def _measure(chain: PathChains, sweeps: int, burn_in: int, smooth: int) -> dict:
    sweeps = check_count(sweeps, "sweeps")
    burn_in = check_int(burn_in, "burn_in", 0)
    for _ in range(burn_in):
        chain.sweep(tune=True)
    x2, abs_x, kinks, correlators, rates = [], [], [], [], []
    for _ in range(sweeps):
        rates.append(chain.sweep())
        x2.append((chain.x ** 2).mean(-1))
        abs_x.append(chain.x.abs().mean(-1))
        kinks.append(kink_count(chain.x, smooth))
        correlators.append(path_correlator(chain.x))
    per_chain = torch.stack(correlators).mean(0)  # (chains, n_tau)
    return {
        "x2": binned_estimate(torch.stack(x2)), "abs_x": binned_estimate(torch.stack(abs_x)),
        "kinks": binned_estimate(torch.stack(kinks)),
        "correlator": per_chain.mean(0),
        "correlator_err": per_chain.std(0) / math.sqrt(chain.chains),
        "acceptance_metropolis": sum(r[0] for r in rates) / sweeps,
        "acceptance_hmc": sum(r[1] for r in rates) / sweeps,
        "sweeps": sweeps, "chains": chain.chains,
    }
