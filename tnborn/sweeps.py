"""The sweep driver shared by the tensor-network Born machines (MPS and TTN).

Both learn by local updates (two sites / two nodes merged, gradient step on the NLL,
truncated SVD split) visited in a fixed schedule; this module holds their options, the
minibatch plan of a sweep and the loop that records one dict per sweep.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import torch

from .backend import real_dtype
from .base import _check_count
from .checks import check_positive
from .progress import TrainingBar


@dataclass
class UpdateOptions:
    """Hyper-parameters of one local update (two-site or two-node)."""

    lr: float
    max_step: float | None
    steps_per_bond: int
    max_bond: int
    cutoff: float
    normalized: bool = False


def capped_step(merged: torch.Tensor, grad_term: torch.Tensor,
                options: UpdateOptions) -> torch.Tensor:
    """One gradient step on the unit-norm merged tensor, renormalized.

    dNLL/dM* = M - conj(G) with ``grad_term`` G = sum_b w_b Psi'_b / psi_b; the step is
    2 lr (M - conj(G)), lengthened to 2 lr numel(M)^(1/4) when shorter if
    ``options.normalized`` (the original code's normalized gradient), and scaled down to
    norm ``max_step`` when longer (|M| = 1).
    """
    gradient = merged - grad_term.conj()
    scale = 2.0 * options.lr
    if options.normalized or options.max_step is not None:
        size = float(torch.linalg.norm(gradient))
        floor = merged.numel() ** 0.25
        if options.normalized and 0 < size < floor:
            scale *= floor / size
        if options.max_step is not None and scale * size > options.max_step:
            scale = options.max_step / size
    merged = merged - scale * gradient
    norm = torch.linalg.norm(merged)
    if not torch.isfinite(norm):
        raise FloatingPointError("training diverged: a merged tensor became non-finite; "
                                 "lower lr or keep the max_step cap")
    return merged / norm


def check_cutoff(cutoff) -> float:
    """A relative singular-value cutoff in [0, 1)."""
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not 0 <= cutoff < 1:
        raise ValueError(f"cutoff must be a number in [0, 1), got {cutoff!r}")
    return float(cutoff)


def update_options(*, lr, max_step, steps_per_bond, max_bond, cutoff,
                   normalized=False) -> UpdateOptions:
    """Validated :class:`UpdateOptions`: ValueError for a bad lr, max_step, step count,
    max_bond or cutoff; TypeError for a non-integer count or a non-bool ``normalized``.

    ``max_bond`` and ``cutoff`` come from the model's attributes, which a user may change
    between ``fit`` calls (for instance to anneal the bond dimension), so they are checked
    again here.
    """
    if not isinstance(normalized, bool):
        raise TypeError(f"normalized_steps must be True or False, got {normalized!r}")
    return UpdateOptions(lr=check_positive(lr, "lr"),
                         max_step=None if max_step is None else check_positive(max_step,
                                                                               "max_step"),
                         steps_per_bond=_check_count(steps_per_bond, "steps_per_bond"),
                         max_bond=_check_count(max_bond, "max_bond"),
                         cutoff=check_cutoff(cutoff), normalized=normalized)


def minibatches(inverse: torch.Tensor, weights: torch.Tensor, batch_size: int | None,
                generator) -> list[tuple[torch.Tensor | None, torch.Tensor]]:
    """(rows, weights) for the updates of one sweep, used in turn.

    ``inverse[i]`` is the distinct-configuration index of data row i. Full batch: one entry
    (None, weights). Otherwise a random permutation of the rows cut into batches, each
    reduced to its distinct rows with counts.
    """
    total = inverse.shape[0]
    if batch_size is None or batch_size >= total:
        return [(None, weights)]
    perm = torch.randperm(total, generator=generator, device=inverse.device)
    batches = []
    for start in range(0, total, batch_size):
        chunk = inverse[perm[start:start + batch_size]]
        rows, counts = torch.unique(chunk, return_counts=True)
        batches.append((rows, counts.to(weights.dtype) / chunk.shape[0]))
    return batches


def fit_by_sweeps(model, data: torch.Tensor, *, make_learner: Callable, schedule: Sequence,
                  sweeps: int, batch_size: int | None, test_data: torch.Tensor | None,
                  progress: bool, generator, largest_bond: Callable[[], int], desc: str,
                  after_update: Callable | None = None,
                  max_seconds: float | None = None) -> list[dict]:
    """Run ``sweeps`` passes of ``learner.update(*step, rows, weights)`` over ``schedule``.

    With ``max_seconds``, training stops after the first update that brings the
    training time to that budget; the unfinished sweep is recorded (``"partial": True``).

    Identical rows of ``data`` are merged with weights; ``make_learner(unique_rows)``
    builds the learner (with its cached environments). Returns one dict per sweep:
    ``step``, ``train_nll``, ``test_nll`` (with test data), ``seconds`` (cumulative
    training time, evaluation excluded), ``max_bond``.
    """
    sweeps = _check_count(sweeps, "sweeps")
    if max_seconds is not None:
        max_seconds = check_positive(max_seconds, "max_seconds")
    if batch_size is not None:
        batch_size = _check_count(batch_size, "batch_size")
    unique, inverse, counts = torch.unique(data, dim=0, return_inverse=True, return_counts=True)
    weights = counts.to(real_dtype(model.dtype)) / data.shape[0]
    learner = make_learner(unique)
    history = []
    elapsed = 0.0
    bar = TrainingBar(updates=sweeps * len(schedule), max_seconds=max_seconds, unit="update",
                      desc=desc, enabled=progress)
    try:
        for sweep in range(1, sweeps + 1):
            start = time.perf_counter()
            batches = minibatches(inverse, weights, batch_size, generator)
            out_of_time = False
            for index, step in enumerate(schedule):
                rows, batch_weights = batches[index % len(batches)]
                learner.update(*step, rows, batch_weights)
                if after_update is not None:
                    after_update(step)
                if bar.advance(elapsed + time.perf_counter() - start):
                    out_of_time = index + 1 < len(schedule)
                    break
            elapsed += time.perf_counter() - start
            with torch.no_grad():
                record = {"step": sweep,
                          "train_nll": float(-(weights * model._log_prob(unique)).sum()),
                          "seconds": elapsed, "max_bond": largest_bond()}
                if test_data is not None:
                    record["test_nll"] = float(-model._log_prob(test_data).mean())
            if out_of_time:
                record["partial"] = True
            bar.set_postfix(nll=f"{record['train_nll']:.4f}", D=record["max_bond"])
            history.append(record)
            if max_seconds is not None and elapsed >= max_seconds:
                break
    finally:
        bar.close()
    return history
