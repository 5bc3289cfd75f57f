"""Variational free-energy training of autoregressive models (Wu, Wang, Zhang, PRL 2019).

F_q = sum_x q(x) [E(x) + ln q(x) / beta] >= F = -ln Z / beta. Its gradient is estimated
with REINFORCE and the batch-mean baseline b::

    grad F_q ~ mean_b [(E(x_b) + ln q(x_b) / beta - b) grad ln q(x_b)],   x_b ~ q

Annealing uses beta_t = beta (1 - a^t) (``beta_anneal=a``). With ``z2=True`` the model is
made Z2-symmetric first (q_s(x) = (q(x) + q(1-x)) / 2 in log_prob and sample) and stays so.
"""

from __future__ import annotations

import math
import time

import torch
from tqdm.auto import tqdm

from ..arnn.base import AutoregressiveModel
from ..base import GenerativeModel, _check_count
from ..checks import check_beta
from .validation import check_hamiltonian_matches


def train_variational(model: GenerativeModel, hamiltonian, beta: float, *, steps: int = 1000,
                      batch_size: int = 1000, lr: float = 1e-3,
                      beta_anneal: float | None = None, z2: bool = False,
                      clip_grad: float | None = 1.0, progress: bool = True,
                      generator: torch.Generator | None = None,
                      log_every: int = 1) -> list[dict]:
    """Minimize the variational free energy of ``model`` for ``hamiltonian`` at ``beta``.

    Parameters
    ----------
    model : a differentiable GenerativeModel (MADE, PixelCNN, HAN, SKARNN, ...) over the
        same number of binary sites as the Hamiltonian.
    steps, batch_size, lr : Adam steps, samples per step, learning rate.
    beta_anneal : a in (0, 1): train at beta_t = beta (1 - a^t); None: no annealing.
    z2 : symmetrize the model under the global spin flip (kept after training).
    clip_grad : clip the gradient norm (None: no clipping).
    log_every : record every this many steps (and the last).

    Returns one dict per recorded step: ``step``, ``beta`` (beta_t), ``free_energy``
    (mean of E + ln q / beta_t over the batch, total, not per site), ``free_energy_std``
    (its batch standard deviation), ``energy`` (batch mean), ``seconds`` (cumulative).
    """
    beta = check_beta(beta)
    steps = _check_count(steps, "steps")
    batch_size = _check_count(batch_size, "batch_size")
    log_every = _check_count(log_every, "log_every")
    if beta_anneal is not None and not 0 < beta_anneal < 1:
        raise ValueError(f"beta_anneal must be in (0, 1) or None, got {beta_anneal!r}")
    if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
        raise ValueError(f"lr must be a positive finite number, got {lr!r}")
    check_hamiltonian_matches(model, hamiltonian)
    if z2:
        if not isinstance(model, AutoregressiveModel):
            raise TypeError("z2=True needs an autoregressive model (it symmetrizes q)")
        model.z2_symmetric = True
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    optimizer = torch.optim.Adam(parameters, lr=lr)
    history = []
    elapsed = 0.0
    bar = tqdm(total=steps, disable=not progress, unit="step", desc="variational", leave=False)
    try:
        for step in range(1, steps + 1):
            start = time.perf_counter()
            beta_t = beta * (1.0 - beta_anneal ** step) if beta_anneal else beta
            with torch.no_grad():
                x = model._sample(batch_size, generator)
                energy = hamiltonian.energy(x).to(model.dtype)
            log_q = model._log_prob(x)
            with torch.no_grad():
                local = energy + log_q / beta_t  # per-sample free energy
                advantage = local - local.mean()
            loss = (advantage * log_q).mean()
            optimizer.zero_grad()
            loss.backward()
            if clip_grad is not None:
                torch.nn.utils.clip_grad_norm_(parameters, clip_grad)
            optimizer.step()
            elapsed += time.perf_counter() - start
            bar.update(1)
            if step % log_every == 0 or step == steps:
                record = {"step": step, "beta": beta_t, "free_energy": float(local.mean()),
                          "free_energy_std": float(local.std()),
                          "energy": float(energy.mean()), "seconds": elapsed}
                bar.set_postfix(F=f"{record['free_energy'] / model.n_sites:.5f}")
                history.append(record)
    finally:
        bar.close()
    return history
