"""Variational free-energy training (Wu, Wang, Zhang, PRL 2019; for flows, probability
density distillation as in Li and Wang, PRL 2018).

F_q = E_q[E(x) + ln q(x) / beta] >= F = -ln Z / beta. For a density target pi
(:mod:`tnborn.physics.validation`) beta = 1 and E = -ln pi: F_q = E_q[ln q - ln pi] >= -ln Z.
Two gradient estimators:

* REINFORCE with the batch-mean baseline b (any model; the only one for discrete spins)::

    grad F_q ~ mean_b [(E(x_b) + ln q(x_b) / beta - b) grad ln q(x_b)],   x_b ~ q

* the reparametrization trick (models with ``has_rsample``: the flows), x_b = f(z_b)
  differentiable in the parameters, so the gradient of the batch mean of
  E(x_b) + ln q(x_b) / beta itself is unbiased (the energy must be differentiable in x).

``estimator="auto"`` takes the second when the model has it.

Annealing uses beta_t = beta (1 - a^t) (``beta_anneal=a``). With ``z2=True`` the model is
made Z2-symmetric first (q_s(x) = (q(x) + q(1-x)) / 2 in log_prob and sample) and stays so.

Reliability: a run whose last step trained at beta_t < beta (1 - :data:`BETA_RTOL`)
(``beta_reached`` False in its history) did not reach the target temperature: its model
is the one of a hotter system. With ``beta_anneal=a`` that needs
t >= ln(BETA_RTOL) / ln(a) steps (:func:`steps_to_reach_beta`; a = 0.99: 688 steps).
"""

from __future__ import annotations

import math

import torch

from ..base import GenerativeModel
from ..checks import check_count, check_positive
from ..distributed import Collective, resolve_collective
from ..fitloop import FitLoop
from .validation import resolve_target

#: relative shortfall of the last step's annealed beta_t below the target beta beyond
#: which a run did not reach its target (``beta_reached`` False).
BETA_RTOL = 1e-3


def steps_to_reach_beta(beta_anneal: float | None) -> int:
    """Steps after which beta (1 - a^t) is within :data:`BETA_RTOL` of beta (1 without
    annealing)."""
    if beta_anneal is None:
        return 1
    if isinstance(beta_anneal, bool) or not (isinstance(beta_anneal, (int, float))
                                             and 0 < beta_anneal < 1):
        raise ValueError(f"beta_anneal must be in (0, 1) or None, got {beta_anneal!r}")
    return max(1, math.ceil(math.log(BETA_RTOL) / math.log(beta_anneal) - 1e-9))


#: the gradient estimators of :func:`train_variational`
ESTIMATORS = ("auto", "reinforce", "reparametrized")


def _choose_estimator(model, estimator: str) -> str:
    if estimator not in ESTIMATORS:
        raise ValueError(f"estimator must be one of {ESTIMATORS}, got {estimator!r}")
    if estimator == "auto":
        return "reparametrized" if model.has_rsample else "reinforce"
    if estimator == "reparametrized" and not model.has_rsample:
        raise TypeError(f"the reparametrized estimator needs differentiable samples; "
                        f"{type(model).__name__} on {model.support} has none (has_rsample "
                        "is False): use estimator='reinforce'")
    return estimator


def train_variational(model: GenerativeModel, hamiltonian, beta: float | None = None, *,
                      steps: int = 1000,
                      batch_size: int = 1000, lr: float = 1e-3,
                      beta_anneal: float | None = None, z2: bool = False,
                      clip_grad: float | None = 1.0, progress: bool = True,
                      generator: torch.Generator | None = None, log_every: int = 1,
                      checkpoint=None, checkpoint_every=100, resume=None,
                      estimator: str = "auto", distributed: bool = False,
                      process_group=None) -> list[dict]:
    """Minimize the variational free energy of ``model`` for ``hamiltonian`` at ``beta``
    (for a density target such as :class:`tnborn.physics.DualIsing`: no beta, and F_q is
    E_q[ln q - ln pi]).

    Parameters
    ----------
    model : a differentiable GenerativeModel (MADE, PixelCNN, HAN, SKARNN, the CANs, the
        flows, ...) over the target's sites and support.
    steps, batch_size, lr : Adam steps, samples per step, learning rate.
    beta_anneal : a in (0, 1): train at beta_t = beta (1 - a^t) (a density: at
        pi^(1 - a^t)); None: no annealing.
    z2 : symmetrize the model under the global spin flip (kept after training; the model
        must have ``supports_z2``).
    clip_grad : clip the gradient norm (None: no clipping).
    generator : the samples' random draws (None: the model's own stream).
    log_every : record every this many steps (and the last).
    checkpoint, checkpoint_every, resume : see :mod:`tnborn.fitloop` (the interval counts
        steps, or seconds with a unit: ``"30s"``).
    estimator : ``"auto"`` (reparametrized when ``model.has_rsample``, else REINFORCE),
        ``"reinforce"`` or ``"reparametrized"`` (TypeError for a model without rsample).
    distributed, process_group : data-parallel on torch.distributed
        (:mod:`tnborn.distributed`; every rank must call with the same model and
        options): each rank draws ``batch_size / ranks`` samples per step from its own
        stream (rank 0: ``generator``'s; rank r: seeded from its seed, the step and r),
        the REINFORCE baseline and the records are means over all ranks' samples and the
        gradients are summed, so the ranks take the same steps as one process with the
        whole batch would on those samples.

    Returns one dict per recorded step: ``step``, ``beta`` (beta_t), ``beta_target``
    (beta; 1 for a density), ``beta_reached`` (beta_t >= beta (1 - :data:`BETA_RTOL`): the
    last record says whether the run reached its target), ``free_energy`` (mean of
    E + ln q / beta_t over the batch, total, not per site), ``free_energy_std`` (its batch
    standard deviation), ``energy`` (batch mean; -ln pi for a density), ``seconds``
    (cumulative).
    """
    beta, energy_of = resolve_target(model, hamiltonian, beta)
    estimator = _choose_estimator(model, estimator)
    batch_size = check_count(batch_size, "batch_size")
    log_every = check_count(log_every, "log_every")
    if beta_anneal is not None and not (isinstance(beta_anneal, (int, float))
                                        and 0 < beta_anneal < 1):
        raise ValueError(f"beta_anneal must be in (0, 1) or None, got {beta_anneal!r}")
    lr = check_positive(lr, "lr")
    if clip_grad is not None:
        clip_grad = check_positive(clip_grad, "clip_grad")
    if z2:
        if not model.supports_z2:
            raise TypeError(f"z2=True needs a model that supports the global flip "
                            f"(supports_z2), not {type(model).__name__}")
        model.z2_symmetric = True
    parameters = [p for p in model.parameters() if p.requires_grad]
    if not parameters:
        raise ValueError(f"{type(model).__name__} has no trainable parameters")
    rng = model.random_stream(generator)
    plan = {"method": "variational", "beta": beta, "batch_size": batch_size, "lr": lr,
            "beta_anneal": beta_anneal, "z2": bool(z2), "clip_grad": clip_grad,
            "log_every": log_every, "hamiltonian": repr(hamiltonian), "estimator": estimator}
    collective = resolve_collective(distributed, process_group)
    collective.check_same_model(model, options=plan, steps=steps, resume=resume is not None)
    if batch_size % collective.world:
        raise ValueError(f"batch_size {batch_size} must be a multiple of the "
                         f"{collective.world} ranks")
    local_batch = batch_size // collective.world
    with FitLoop(model, kind="variational", total=steps, updates_per_pass=1, unit="steps",
                 desc="variational", progress=progress, max_seconds=None,
                 checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
                 options=plan, data={}, rng=rng, collective=collective) as loop:
        optimizer = torch.optim.Adam(parameters, lr=lr)
        if loop.extras:
            optimizer.load_state_dict(loop.extras["optimizer"])
        for step in loop.passes():
            beta_t = beta * (1.0 - beta_anneal ** step) if beta_anneal else beta
            stream = collective.step_stream(rng, step)
            share = 1.0 / collective.world  # this rank's part of the batch
            if estimator == "reparametrized":
                x, log_q = model.rsample_and_log_prob(local_batch, generator=stream)
                energy = energy_of(x).to(log_q.dtype)
                local = energy + log_q / beta_t  # per-sample free energy
                loss = local.mean() * share
                local, energy = local.detach(), energy.detach()
            else:
                x, log_q = model.sample_and_log_prob(local_batch, generator=stream)
                with torch.no_grad():
                    energy = energy_of(x).to(log_q.dtype)
                    local = energy + log_q / beta_t
                    advantage = local - _batch_mean(local, collective)
                loss = (advantage * log_q).mean() * share
            optimizer.zero_grad()
            loss.backward()
            collective.sum_gradients(parameters)
            if clip_grad is not None:
                torch.nn.utils.clip_grad_norm_(parameters, clip_grad)
            optimizer.step()
            loop.tick()
            seconds = loop.end_pass()
            record = None
            if step % log_every == 0 or step == steps:
                mean, std = _batch_mean_and_std(local, collective)
                record = {"step": step, "beta": beta_t, "beta_target": beta,
                          "beta_reached": bool(beta_t >= beta * (1.0 - BETA_RTOL)),
                          "free_energy": mean, "free_energy_std": std,
                          "energy": float(_batch_mean(energy, collective)),
                          "seconds": seconds}
                if not math.isfinite(record["free_energy"]):
                    raise FloatingPointError("variational training diverged (non-finite "
                                             "free energy); lower lr")
            loop.finish(step, record, extras=lambda: {"optimizer": optimizer.state_dict()})
    return loop.history


def _batch_mean(values: torch.Tensor, collective: Collective) -> torch.Tensor:
    """The mean over every rank's samples (this rank's alone in one process)."""
    if not collective.active:
        return values.mean()
    total, count = collective.total(values.sum(), values.numel())
    return torch.tensor(total / count, dtype=values.dtype)


def _batch_mean_and_std(values: torch.Tensor, collective: Collective) -> tuple[float, float]:
    """Mean and sample standard deviation over every rank's samples."""
    if not collective.active:
        return float(values.mean()), float(values.std())
    mean = _batch_mean(values, collective)
    squares, count = collective.total(((values - mean) ** 2).sum(), values.numel())
    return float(mean), math.sqrt(squares / (count - 1))
