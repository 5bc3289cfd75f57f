"""Free energies and observables from a trained model: variational, importance-sampled,
and by neural MCMC (a Metropolized independent sampler with the model as proposal).

Importance sampling with x ~ q and weights w = exp(-beta E(x)) / q(x):
Z ~ mean(w), F_IS = -ln mean(w) / beta (logsumexp), self-normalized Boltzmann averages
<O> ~ sum w O / sum w, effective sample size ESS / N = (sum w)^2 / (N sum w^2).
All free energies here are totals; the ``*_per_site`` entries divide by the site count.
A density target (:mod:`tnborn.physics.validation`, e.g. the dual Ising model) takes no
beta: beta = 1, E = -ln pi, F = -ln Z. A target's ``observables(x, generator)`` are
averaged the same way (``observables`` in both results).

Bias of F_IS. ln mean(w) is biased low at finite N (Jensen): to second order
E[ln mean w] - ln Z ~ -Var(w) / (2 N E[w]^2) = -(N / ESS - 1) / (2 N) with
ESS = (sum w)^2 / sum w^2, so E[F_IS] - F ~ +(1 / (ESS/N) - 1) / (2 N beta) > 0 (F_IS
lies above F on average, like F_variational but far less). ``free_energy`` reports it as
``F_importance_bias``; it equals beta F_importance_err^2 / 2, and like the error bar it
is trustworthy only when the weights are (the rule below).

Reliability (``reliable``, ``warnings``, ``diagnostics`` in both results):

* ``free_energy``: the importance-sampled entries (F_importance, energy, entropy,
  magnetization and their errors) are unreliable when ESS / N < 1e-2
  (:data:`tnborn.estimate.MIN_ESS_FRACTION`) or ESS < 50 samples
  (:data:`tnborn.estimate.MIN_ESS`). F_variational is an unbiased estimate of the upper
  bound F_q whatever q is, its error bar always holds;
* ``neural_mcmc``: unreliable when the acceptance rate is below
  :data:`MIN_ACCEPTANCE` (1e-2) or the run has fewer than :data:`MIN_STEPS_PER_TAU` (50)
  steps per integrated autocorrelation time (the largest of energy's, |m|'s and the
  target's observables'), too
  short for tau_int and the error bars built on it.

Neither can see a mode that q never proposes: a model that misses half the
configurations can look reliable by every rule.
"""

from __future__ import annotations

import math

import torch

from ..base import GenerativeModel
from ..checks import check_count
from ..distributed import resolve_collective
from ..estimate import (MIN_ESS, MIN_ESS_FRACTION, ess_warnings, importance_ess,
                        log_mean_weight)
from .validation import resolve_target

#: neural MCMC acceptance rate below which its estimates are reported unreliable.
MIN_ACCEPTANCE = 1e-2
#: steps per chain per integrated autocorrelation time below which neural MCMC
#: estimates (and tau_int itself) are reported unreliable.
MIN_STEPS_PER_TAU = 50.0


def _draw(model, energy_of, num, batch_size, generator):
    """Samples in batches: configurations, ln q, energies (float64)."""
    xs, log_qs, energies = [], [], []
    with torch.no_grad():
        for first in range(0, num, batch_size):
            x, log_q = model.sample_and_log_prob(min(batch_size, num - first),
                                                 generator=generator)
            xs.append(x)
            log_qs.append(log_q.to(torch.float64))
            energies.append(energy_of(x).to(torch.float64))
    return torch.cat(xs), torch.cat(log_qs), torch.cat(energies)


def _abs_magnetization(hamiltonian, x: torch.Tensor) -> torch.Tensor | None:
    """|m| per configuration: the target's own ``magnetization`` (the XY models:
    |mean (cos, sin)|), else |mean of the spins 2x - 1| of binary spins; None for a
    continuous target without one."""
    if hasattr(hamiltonian, "magnetization"):
        return hamiltonian.magnetization(x).to(torch.float64)
    if not x.dtype.is_floating_point:
        return ((2 * x - 1).to(torch.float64).mean(-1)).abs()
    return None


def _observables(target, x: torch.Tensor, generator) -> dict:
    """The target's per-sample ``observables(x, generator)`` (float64), {} without them."""
    if not hasattr(target, "observables"):
        return {}
    with torch.no_grad():
        return {name: value.to(torch.float64)
                for name, value in target.observables(x, generator).items()}


def _weighted_mean_and_error(values, weights):
    """Self-normalized weighted mean and its delta-method standard error."""
    mean = (weights * values).sum()
    error = torch.sqrt(((weights * (values - mean)) ** 2).sum())
    return float(mean), float(error)


def free_energy(model: GenerativeModel, hamiltonian, beta: float | None = None, *,
                num: int = 100_000,
                batch_size: int = 10_000, generator: torch.Generator | None = None,
                distributed: bool = False, process_group=None) -> dict:
    """Estimate the free energy and observables of ``hamiltonian`` at ``beta`` (a density
    target: no beta, see the module docstring).

    Returns a dict (free energies are totals; ``*_per_site`` divide by n):

    * ``F_variational`` = mean of E + ln q / beta (an upper bound on F), ``_err``;
    * ``F_importance`` = -ln mean(exp(-beta E) / q) / beta, ``_err`` (delta method),
      ``F_importance_bias`` (``_per_site``): its expected excess over F to second order,
      (N / ESS - 1) / (2 N beta) >= 0 (see the module docstring);
    * ``ess``: effective sample size as a fraction of ``num``;
    * ``log_z_variational`` = -beta F_variational (a lower bound on ln Z) and
      ``log_z_importance`` = -beta F_importance, each with ``_err``;
    * ``energy``, ``entropy`` (= beta (E - F_IS)), ``magnetization`` (mean |sum s| / n;
      None for a continuous target without ``magnetization``): Boltzmann averages by
      self-normalized importance weights, each with ``_err`` (delta method; the
      entropy's includes the correlation of E and F_IS);
    * ``observables``: {name: {``mean``, ``err`` (importance-weighted), ``variational``
      (the plain mean over the model's samples)}} of the target's ``observables``;
    * ``energy_variational`` (``_err``): E averaged over the model's own samples;
    * ``reliable`` (bool) and ``warnings`` (list of sentences) for the importance-sampled
      entries (the rule in the module docstring); ``diagnostics``: ``ess``,
      ``ess_count`` (ESS in samples), ``max_weight`` (the largest normalized weight),
      ``min_ess_fraction``, ``min_ess``;
    * ``num``, ``n_sites``.

    ``distributed`` / ``process_group``: the ranks of a torch.distributed group draw the
    ``num`` samples in parts (each from its own stream,
    :func:`tnborn.distributed.rank_stream`) and every rank returns the estimate over all
    of them.
    """
    beta, energy_of = resolve_target(model, hamiltonian, beta)
    num = check_count(num, "num")
    if num < 2:
        raise ValueError(f"num must be at least 2 for error bars, got {num}")
    batch_size = check_count(batch_size, "batch_size")
    generator = model.random_stream(generator)
    collective = resolve_collective(distributed, process_group)
    x, log_q, energy = _draw(model, energy_of, collective.share(num), batch_size,
                             collective.step_stream(generator, 0))
    x, log_q, energy = (collective.gather_rows(t) for t in (x, log_q, energy))
    n = model.n_sites
    local = energy + log_q / beta
    log_w = -beta * energy - log_q
    log_mean_w, log_variance, ess, weights = log_mean_weight(log_w)
    f_is = -log_mean_w / beta
    f_is_err = math.sqrt(log_variance) / beta
    f_is_bias = log_variance / (2.0 * beta)
    e_mean, e_err = _weighted_mean_and_error(energy, weights)
    magnetization = _abs_magnetization(hamiltonian, x)
    m_mean, m_err = (None, None) if magnetization is None else \
        _weighted_mean_and_error(magnetization, weights)
    observables = {}
    for name, value in _observables(hamiltonian, x, generator).items():
        mean, err = _weighted_mean_and_error(value, weights)
        observables[name] = {"mean": mean, "err": err, "variational": float(value.mean())}
    # S = beta (E - F_IS): per-sample influences beta p_b (E_b - E) + (p_b - 1/N) of the
    # two correlated estimates (both move with the same weights)
    entropy_err = float(torch.sqrt(((beta * weights * (energy - e_mean)
                                     + weights - 1.0 / num) ** 2).sum()))
    f_var = float(local.mean())
    f_var_err = float(local.std() / math.sqrt(num))
    warnings = ess_warnings(ess, num, "the importance-sampled F, energy, entropy and "
                                      "magnetization")
    return {
        "F_variational": f_var, "F_variational_err": f_var_err,
        "F_variational_per_site": f_var / n,
        "F_importance": f_is, "F_importance_err": f_is_err, "F_importance_per_site": f_is / n,
        "F_importance_bias": f_is_bias, "F_importance_bias_per_site": f_is_bias / n,
        "log_z_variational": -beta * f_var, "log_z_variational_err": beta * f_var_err,
        "log_z_importance": -beta * f_is, "log_z_importance_err": beta * f_is_err,
        "ess": ess,
        "energy": e_mean, "energy_err": e_err,
        "entropy": beta * (e_mean - f_is),
        "entropy_err": entropy_err,
        "magnetization": m_mean, "magnetization_err": m_err,
        "observables": observables,
        "energy_variational": float(energy.mean()),
        "energy_variational_err": float(energy.std() / math.sqrt(num)),
        "reliable": not warnings, "warnings": warnings,
        "diagnostics": {"ess": ess, "ess_count": ess * num, "max_weight": float(weights.max()),
                        "min_ess_fraction": MIN_ESS_FRACTION, "min_ess": MIN_ESS},
        "num": num, "n_sites": n,
    }


def integrated_autocorrelation_time(series: torch.Tensor, window_factor: float = 5.0) -> float:
    """tau_int = 1 + 2 sum_t rho(t) of the columns of ``series`` (steps, chains), with the
    autocorrelation averaged over chains and Sokal's automatic window (the smallest W with
    W >= window_factor * tau(W)). Uncorrelated samples give 1; the error of a mean of N
    samples is sqrt(tau_int var / N). The series are centred on their mean over all chains
    (they sample one distribution): centring each chain on its own mean biases tau low by
    about 2 W tau / steps (-20 % for an AR(1) series of tau 9 in chains of 300 steps).
    Checked on AR(1) series, tau = (1 + phi) / (1 - phi), to a few percent."""
    if not isinstance(series, torch.Tensor):
        raise TypeError(f"series must be a torch.Tensor, got {type(series).__name__}")
    if series.ndim not in (1, 2):
        raise ValueError(f"series must have shape (steps,) or (steps, chains), got "
                         f"{tuple(series.shape)}")
    if series.shape[0] < 2 or series.numel() == 0:
        raise ValueError(f"series needs at least 2 steps, got shape {tuple(series.shape)}")
    if not (isinstance(window_factor, (int, float)) and window_factor > 0):
        raise ValueError(f"window_factor must be a number > 0, got {window_factor!r}")
    series = series.to(torch.float64).reshape(series.shape[0], -1)
    centred = series - series.mean()
    steps = series.shape[0]
    if float((centred ** 2).mean()) == 0.0:
        return 1.0
    spectrum = torch.fft.rfft(centred, n=2 * steps, dim=0)
    autocov = torch.fft.irfft(spectrum.abs() ** 2, dim=0)[:steps].mean(1)
    taus = 1.0 + 2.0 * torch.cumsum(autocov[1:] / autocov[0], 0)  # tau(W), W = 1 .. steps-1
    windows = torch.arange(1, steps, dtype=torch.float64, device=taus.device)
    done = torch.nonzero(windows >= window_factor * taus)
    tau = float(taus[done[0, 0]]) if len(done) else float(taus[-1]) if len(taus) else 1.0
    return max(tau, 1.0)


def neural_mcmc(model: GenerativeModel, hamiltonian, beta: float | None = None, *,
                steps: int = 1000,
                chains: int = 100, burn_in: int = 100,
                generator: torch.Generator | None = None, distributed: bool = False,
                process_group=None) -> dict:
    """Metropolized independent sampling of exp(-beta E) (a density target: of pi, no
    beta) with ``model`` as the proposal.

    Each step proposes x' ~ q for every chain and accepts with probability
    min(1, exp(-beta (E' - E)) q(x) / q(x')). Returns the acceptance rate, the integrated
    autocorrelation times of the energy (``tau_int``, in steps) and of |m|
    (``tau_int_magnetization``), the energy (total) and the mean |magnetization| per
    spin (None for a continuous target without ``magnetization``) with errors
    sqrt(tau_int var / (steps * chains)), ``observables`` ({name: {``mean``, ``err``,
    ``tau_int``}} of the target's ``observables`` along the chains), ``steps``,
    ``chains``, and
    ``reliable`` / ``warnings`` / ``diagnostics`` (``acceptance``, ``steps_per_tau``,
    ``proposal_ess``: ESS / N of the proposals' importance weights, ``proposal_max_weight``:
    the largest of them over their mean, w_max, whose slowest mode (1 - 1/w_max)^t bounds
    tau_int <= 2 w_max - 1 for any observable once w_max is seen; ``min_acceptance``,
    ``min_steps_per_tau``) by the rule of the module docstring.

    ``distributed`` / ``process_group``: the ranks of a torch.distributed group run the
    ``chains`` in parts (each from its own stream) and every rank returns the statistics
    of all of them.
    """
    beta, energy_of = resolve_target(model, hamiltonian, beta)
    steps = check_count(steps, "steps")
    chains = check_count(chains, "chains")
    if not isinstance(burn_in, int) or burn_in < 0:
        raise ValueError(f"burn_in must be a non-negative int, got {burn_in!r}")
    collective = resolve_collective(distributed, process_group)
    if chains < collective.world:
        raise ValueError(f"chains ({chains}) must be at least the number of ranks "
                         f"({collective.world})")
    all_chains, chains = chains, collective.share(chains)
    generator = collective.step_stream(model.random_stream(generator), 0)
    with torch.no_grad():
        x, log_q = model.sample_and_log_prob(chains, generator=generator)
        log_q = log_q.to(torch.float64)
        energy = energy_of(x).to(torch.float64)
        accepted = 0
        energies, magnetizations, proposal_log_w = [], [], []
        observed = {}
        for step in range(burn_in + steps):
            proposal, log_q_new = model.sample_and_log_prob(chains, generator=generator)
            log_q_new = log_q_new.to(torch.float64)
            energy_new = energy_of(proposal).to(torch.float64)
            log_ratio = -beta * (energy_new - energy) + log_q - log_q_new
            uniform = torch.rand(chains, generator=generator, device=x.device,
                                 dtype=torch.float64)
            accept = torch.log(uniform) < log_ratio
            x = torch.where(accept[:, None], proposal, x)
            log_q = torch.where(accept, log_q_new, log_q)
            energy = torch.where(accept, energy_new, energy)
            if step >= burn_in:
                proposal_log_w.append(-beta * energy_new - log_q_new)
                accepted += int(accept.sum())
                energies.append(energy.clone())
                magnetizations.append(_abs_magnetization(hamiltonian, x))
                for name, value in _observables(hamiltonian, x, generator).items():
                    observed.setdefault(name, []).append(value)
    chains = all_chains  # every rank's chains from here on
    energies = collective.gather_rows(torch.stack(energies), 1)  # (steps, chains)
    accepted = int(collective.total(accepted)[0])
    proposal_log_w = [collective.gather_rows(torch.stack(proposal_log_w), 1).reshape(-1)]
    observed = {name: list(collective.gather_rows(torch.stack(values), 1))
                for name, values in observed.items()}
    if magnetizations[0] is not None:
        magnetizations = list(collective.gather_rows(torch.stack(magnetizations), 1))
    tau = integrated_autocorrelation_time(energies)
    total = steps * chains

    def error(series, tau_series):
        return float(math.sqrt(tau_series * float(series.var()) / total))

    observables = {}
    for name, values in observed.items():
        series = torch.stack(values)
        tau_o = integrated_autocorrelation_time(series)
        observables[name] = {"mean": float(series.mean()), "err": error(series, tau_o),
                             "tau_int": tau_o}
    if magnetizations[0] is None:
        m_mean = m_err = tau_m = None
    else:
        magnetizations = torch.stack(magnetizations)
        tau_m = integrated_autocorrelation_time(magnetizations)
        m_mean, m_err = float(magnetizations.mean()), error(magnetizations, tau_m)

    acceptance = accepted / total
    slowest = max([tau] + ([] if tau_m is None else [tau_m])
                  + [o["tau_int"] for o in observables.values()])
    steps_per_tau = steps / slowest
    log_w = torch.cat(proposal_log_w)
    # the largest proposal weight relative to the mean: the independence sampler's slowest
    # mode decays as (1 - 1/w_max)^t, so 2 w_max - 1 bounds tau_int of any observable
    max_weight = float(torch.exp(log_w.max() - torch.logsumexp(log_w, 0) + math.log(total)))
    warnings = []
    if not acceptance >= MIN_ACCEPTANCE:
        warnings.append(f"acceptance {acceptance:.1e} < {MIN_ACCEPTANCE:g}: the chains "
                        "hardly move, the proposal is far from the Boltzmann distribution")
    if not steps_per_tau >= MIN_STEPS_PER_TAU:
        warnings.append(f"{steps} steps are only {steps_per_tau:.1f} autocorrelation times "
                        f"(< {MIN_STEPS_PER_TAU:g}): tau_int and the error bars are "
                        "unreliable, run longer")
    return {
        "acceptance": acceptance, "tau_int": tau, "tau_int_magnetization": tau_m,
        "energy": float(energies.mean()), "energy_err": error(energies, tau),
        "magnetization": m_mean, "magnetization_err": m_err, "observables": observables,
        "steps": steps, "chains": chains,
        "reliable": not warnings, "warnings": warnings,
        "diagnostics": {"acceptance": acceptance, "steps_per_tau": steps_per_tau,
                        "proposal_ess": importance_ess(log_w), "proposal_max_weight": max_weight,
                        "min_acceptance": MIN_ACCEPTANCE,
                        "min_steps_per_tau": MIN_STEPS_PER_TAU},
    }
