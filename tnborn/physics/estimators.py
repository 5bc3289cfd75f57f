"""Free energies and observables from a trained model: variational, importance-sampled,
and by neural MCMC (a Metropolized independent sampler with the model as proposal).

Importance sampling with x ~ q and weights w = exp(-beta E(x)) / q(x):
Z ~ mean(w), F_IS = -ln mean(w) / beta (logsumexp), self-normalized Boltzmann averages
<O> ~ sum w O / sum w, effective sample size ESS / N = (sum w)^2 / (N sum w^2).
All free energies here are totals; the ``*_per_site`` entries divide by the site count.
"""

from __future__ import annotations

import math

import torch

from ..base import GenerativeModel
from ..checks import check_beta, check_count
from .validation import check_hamiltonian_matches


def _draw(model, hamiltonian, num, batch_size, generator):
    """Samples in batches: configurations, ln q, energies (float64)."""
    xs, log_qs, energies = [], [], []
    with torch.no_grad():
        for first in range(0, num, batch_size):
            x, log_q = model.sample_and_log_prob(min(batch_size, num - first),
                                                 generator=generator)
            xs.append(x)
            log_qs.append(log_q.to(torch.float64))
            energies.append(hamiltonian.energy(x).to(torch.float64))
    return torch.cat(xs), torch.cat(log_qs), torch.cat(energies)


def _abs_magnetization(x: torch.Tensor) -> torch.Tensor:
    return ((2 * x - 1).to(torch.float64).mean(-1)).abs()


def _weighted_mean_and_error(values, weights):
    """Self-normalized weighted mean and its delta-method standard error."""
    mean = (weights * values).sum()
    error = torch.sqrt(((weights * (values - mean)) ** 2).sum())
    return float(mean), float(error)


def free_energy(model: GenerativeModel, hamiltonian, beta: float, *, num: int = 100_000,
                batch_size: int = 10_000, generator: torch.Generator | None = None) -> dict:
    """Estimate the free energy and observables of ``hamiltonian`` at ``beta``.

    Returns a dict (free energies are totals; ``*_per_site`` divide by n):

    * ``F_variational`` = mean of E + ln q / beta (an upper bound on F), ``_err``;
    * ``F_importance`` = -ln mean(exp(-beta E) / q) / beta, ``_err`` (delta method);
    * ``ess``: effective sample size as a fraction of ``num``;
    * ``energy``, ``entropy`` (= beta (E - F_IS)), ``magnetization`` (mean |sum s| / n):
      Boltzmann averages by self-normalized importance weights, each with ``_err``;
    * ``energy_variational``: E averaged over the model's own samples.
    """
    beta = check_beta(beta)
    num = check_count(num, "num")
    batch_size = check_count(batch_size, "batch_size")
    check_hamiltonian_matches(model, hamiltonian, beta)
    x, log_q, energy = _draw(model, hamiltonian, num, batch_size, generator)
    n = model.n_sites
    local = energy + log_q / beta
    log_w = -beta * energy - log_q
    log_mean_w = torch.logsumexp(log_w, 0) - math.log(num)
    weights = torch.softmax(log_w, 0)
    ess = float(1.0 / (num * (weights ** 2).sum()))
    f_is = float(-log_mean_w / beta)
    # delta method: var(ln mean w) ~ var(w) / (N mean(w)^2) = (N sum p^2 - 1) / N
    f_is_err = math.sqrt(max(num * float((weights ** 2).sum()) - 1.0, 0.0) / num) / beta
    e_mean, e_err = _weighted_mean_and_error(energy, weights)
    m_mean, m_err = _weighted_mean_and_error(_abs_magnetization(x), weights)
    f_var = float(local.mean())
    f_var_err = float(local.std() / math.sqrt(num))
    return {
        "F_variational": f_var, "F_variational_err": f_var_err,
        "F_variational_per_site": f_var / n,
        "F_importance": f_is, "F_importance_err": f_is_err, "F_importance_per_site": f_is / n,
        "ess": ess,
        "energy": e_mean, "energy_err": e_err,
        "entropy": beta * (e_mean - f_is),
        "entropy_err": beta * math.hypot(e_err, f_is_err),
        "magnetization": m_mean, "magnetization_err": m_err,
        "energy_variational": float(energy.mean()),
        "num": num, "n_sites": n,
    }


def integrated_autocorrelation_time(series: torch.Tensor, window_factor: float = 5.0) -> float:
    """tau_int = 1 + 2 sum_t rho(t) of the columns of ``series`` (steps, chains), with the
    autocorrelation averaged over chains and Sokal's automatic window (the smallest W with
    W >= window_factor * tau(W)). Uncorrelated samples give 1; the error of a mean of N
    samples is sqrt(tau_int var / N)."""
    centred = series - series.mean(0)
    steps = series.shape[0]
    variance = (centred ** 2).mean()
    if variance == 0:
        return 1.0
    spectrum = torch.fft.rfft(centred, n=2 * steps, dim=0)
    autocov = torch.fft.irfft(spectrum.abs() ** 2, dim=0)[:steps].mean(1)
    rho = autocov / autocov[0]
    tau = 1.0
    for window in range(1, steps):
        tau = 1.0 + 2.0 * float(rho[1:window + 1].sum())
        if window >= window_factor * tau:
            break
    return max(tau, 1.0)


def neural_mcmc(model: GenerativeModel, hamiltonian, beta: float, *, steps: int = 1000,
                chains: int = 100, burn_in: int = 100,
                generator: torch.Generator | None = None) -> dict:
    """Metropolized independent sampling of exp(-beta E) with ``model`` as the proposal.

    Each step proposes x' ~ q for every chain and accepts with probability
    min(1, exp(-beta (E' - E)) q(x) / q(x')). Returns the acceptance rate, the integrated
    autocorrelation time of the energy (``tau_int``, in steps), and the energy and mean
    |magnetization| per spin with errors sqrt(tau_int var / (steps * chains)).
    """
    beta = check_beta(beta)
    steps = check_count(steps, "steps")
    chains = check_count(chains, "chains")
    if not isinstance(burn_in, int) or burn_in < 0:
        raise ValueError(f"burn_in must be a non-negative int, got {burn_in!r}")
    check_hamiltonian_matches(model, hamiltonian, beta)
    generator = model.random_stream(generator)
    with torch.no_grad():
        x, log_q = model.sample_and_log_prob(chains, generator=generator)
        log_q = log_q.to(torch.float64)
        energy = hamiltonian.energy(x).to(torch.float64)
        accepted = 0
        energies, magnetizations = [], []
        for step in range(burn_in + steps):
            proposal, log_q_new = model.sample_and_log_prob(chains, generator=generator)
            log_q_new = log_q_new.to(torch.float64)
            energy_new = hamiltonian.energy(proposal).to(torch.float64)
            log_ratio = -beta * (energy_new - energy) + log_q - log_q_new
            uniform = torch.rand(chains, generator=generator, device=x.device,
                                 dtype=torch.float64)
            accept = torch.log(uniform) < log_ratio
            x = torch.where(accept[:, None], proposal, x)
            log_q = torch.where(accept, log_q_new, log_q)
            energy = torch.where(accept, energy_new, energy)
            if step >= burn_in:
                accepted += int(accept.sum())
                energies.append(energy.clone())
                magnetizations.append(_abs_magnetization(x))
    energies = torch.stack(energies)  # (steps, chains)
    magnetizations = torch.stack(magnetizations)
    tau = integrated_autocorrelation_time(energies)
    tau_m = integrated_autocorrelation_time(magnetizations)
    total = steps * chains

    def error(series, tau_series):
        return float(math.sqrt(tau_series * float(series.var()) / total))

    return {
        "acceptance": accepted / total, "tau_int": tau, "tau_int_magnetization": tau_m,
        "energy": float(energies.mean()), "energy_err": error(energies, tau),
        "magnetization": float(magnetizations.mean()),
        "magnetization_err": error(magnetizations, tau_m),
        "steps": steps, "chains": chains,
    }
