"""The sweep driver shared by the tensor-network Born machines (MPS and TTN).

Both learn by local updates (two sites / two nodes merged, gradient step on the NLL,
truncated SVD split) visited in a fixed schedule; this module holds their options, the
minibatch plan of a sweep and the loop that records one dict per sweep.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import torch

from .backend import real_dtype
from .checks import check_bool, check_count, check_positive
from .distributed import SINGLE, Collective, tensors_fingerprint
from .fitloop import FitLoop
from .linalg import truncated_factors, truncated_svd


@dataclass
class UpdateOptions:
    """Hyper-parameters of one local update (two-site or two-node)."""

    #: the fixed step 2 lr of every update; None: a line search chooses each step
    lr: float | None
    max_step: float | None
    steps_per_bond: int
    max_bond: int
    cutoff: float
    normalized: bool = False
    #: the ranks of a data-parallel fit (their gradient terms are summed)
    collective: Collective = field(default=SINGLE, compare=False)
    #: broadcast rank 0's SVD split instead of trusting every rank's own (identical on
    #: identical machines) one
    broadcast_split: bool = False


def capped_step(merged: torch.Tensor, grad_term: torch.Tensor,
                options: UpdateOptions) -> torch.Tensor:
    """One gradient step on the unit-norm merged tensor, renormalized.

    dNLL/dM* = M - conj(G) with ``grad_term`` G = sum_b w_b Psi'_b / psi_b (this rank's
    samples; summed over the ranks of a data-parallel fit); the step is
    2 lr (M - conj(G)), lengthened to 2 lr numel(M)^(1/4) when shorter if
    ``options.normalized`` (the original code's normalized gradient), and scaled down to
    norm ``max_step`` when longer (|M| = 1).
    """
    gradient = merged - options.collective.sum(grad_term).conj()
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


def split_merged(matrix: torch.Tensor, options: UpdateOptions):
    """The truncated SVD ``(u, s, vh)`` of a merged tensor's matrix, s normalized to 1
    (in ``u``'s dtype); with ``options.broadcast_split`` rank 0's factors, broadcast."""
    u, s, vh = truncated_svd(matrix, options.max_bond, options.cutoff)
    s = (s / torch.linalg.norm(s)).to(u.dtype)
    if options.broadcast_split:
        u, s, vh = options.collective.broadcast([u, s, vh])
    return u, s, vh


def split_toward(matrix: torch.Tensor, options: UpdateOptions, isometry: str):
    """The truncated split ``(left, right)`` of a merged tensor's matrix with the
    isometry on side ``isometry`` ("left" or "right", :func:`~tnborn.linalg.truncated_factors`)
    and the other factor normalized to 1 (the new centre); with
    ``options.broadcast_split`` rank 0's factors, broadcast."""
    left, right, _ = truncated_factors(matrix, options.max_bond, options.cutoff, isometry)
    if isometry == "left":
        right = right / torch.linalg.norm(right)
    else:
        left = left / torch.linalg.norm(left)
    if options.broadcast_split:
        left, right = options.collective.broadcast([left, right])
    return left, right


def check_cutoff(cutoff) -> float:
    """A relative singular-value cutoff in [0, 1)."""
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) or not 0 <= cutoff < 1:
        raise ValueError(f"cutoff must be a number in [0, 1), got {cutoff!r}")
    return float(cutoff)


def update_options(*, lr, max_step, steps_per_bond, max_bond, cutoff,
                   normalized=False, broadcast_split=False) -> UpdateOptions:
    """Validated :class:`UpdateOptions`: ValueError for a bad lr, max_step, step count,
    max_bond or cutoff; TypeError for a non-integer count or a non-bool ``normalized``.

    ``max_bond`` and ``cutoff`` come from the model's attributes, which a user may change
    between ``fit`` calls (for instance to anneal the bond dimension), so they are checked
    again here.
    """
    if not isinstance(normalized, bool):
        raise TypeError(f"normalized_steps must be True or False, got {normalized!r}")
    return UpdateOptions(lr=None if lr == "line_search" else check_positive(lr, "lr"),
                         max_step=None if max_step is None else check_positive(max_step,
                                                                               "max_step"),
                         steps_per_bond=check_count(steps_per_bond, "steps_per_bond"),
                         max_bond=check_count(max_bond, "max_bond"),
                         cutoff=check_cutoff(cutoff), normalized=normalized,
                         broadcast_split=check_bool(broadcast_split, "broadcast_split"))


def minibatches(inverse: torch.Tensor, counts: torch.Tensor, batch_size: int | None,
                generator) -> list[tuple[torch.Tensor | None, torch.Tensor, int]]:
    """(rows, counts, size) for the updates of one sweep, used in turn.

    ``inverse[i]`` is the distinct-configuration index of data row i and ``counts`` the
    number of rows of each distinct one. Full batch: one entry (None, counts, N).
    Otherwise a random permutation of the rows cut into batches of ``batch_size`` rows,
    each reduced to its distinct rows with their counts in the batch.
    """
    total = inverse.shape[0]
    if batch_size is None or batch_size >= total:
        return [(None, counts, total)]
    perm = torch.randperm(total, generator=generator, device=inverse.device)
    batches = []
    for start in range(0, total, batch_size):
        chunk = inverse[perm[start:start + batch_size]]
        rows, chunk_counts = torch.unique(chunk, return_counts=True)
        batches.append((rows, chunk_counts, chunk.shape[0]))
    return batches


def _check_identical(tensors, collective: Collective, sweep: int) -> None:
    """RuntimeError on every rank when the ranks' tensors are not bitwise equal."""
    prints = collective.gather(tensors_fingerprint(tensors))
    if any(p != prints[0] for p in prints):
        raise RuntimeError(
            f"after sweep {sweep} the ranks' tensors differ: their SVD splits of the same "
            "merged tensors disagreed (ranks on machines with other LAPACK builds or "
            "thread counts); train with broadcast_split=True to use rank 0's split")


def _update_weights(batches, updates: int, collective: Collective, dtype) -> list:
    """(rows, weights) of each of ``updates`` updates: batch ``i % len(batches)`` with its
    counts over the rows of that update's batches on every rank."""
    sizes = collective.gather([size for _, _, size in batches])
    out = []
    for i in range(updates):
        rows, counts, _ = batches[i % len(batches)]
        total = sum(shard[i % len(shard)] for shard in sizes)
        out.append((rows, counts.to(dtype) / total))
    return out


def fit_by_sweeps(model, data: torch.Tensor, *, make_learner: Callable, schedule: Sequence,
                  start_center: int, center_after: Callable, sweeps: int, options: UpdateOptions,
                  batch_size: int | None, test_data: torch.Tensor | None, progress: bool,
                  generator, max_seconds: float | None, checkpoint, checkpoint_every,
                  resume, desc: str, val_data=None, patience=None, tol=None,
                  clock: str = "wall", collective: Collective = SINGLE) -> list[dict]:
    """Run ``sweeps`` passes of ``learner.update(*step, rows, weights)`` over ``schedule``,
    each ended by ``learner.settle()`` (checks the learner has left pending).

    The learner works on a plain list of the model's tensors, canonical at
    ``start_center`` (the model is brought there unless resuming); ``center_after(step)``
    is the centre after an update. The model's parameters are replaced by the list after
    every sweep (and when training stops for any reason), so the model is always
    canonical and normalized at its centre. Identical rows of ``data`` are merged with
    weights; ``make_learner(tensors, unique_rows)`` builds the learner with its cached
    environments. With ``max_seconds``, training stops after the first update that brings
    the training time to that budget; the unfinished sweep is recorded
    (``"partial": True``). With ``tol``, training stops after the first full sweep that
    lowers the training NLL by less than ``tol`` nats (``stopped_by: "converged"``).
    Checkpoints, resumption and model selection on ``val_data``: :mod:`tnborn.fitloop`.

    With an active ``collective`` (:mod:`tnborn.distributed`) ``data``, ``test_data``
    and ``val_data`` are this rank's shards: the ranks must agree on the model, its
    tensors and the options (ValueError on every rank otherwise); weights are counts
    over every rank's rows and the NLLs are means over every rank's rows. Every rank
    splits the (identical) merged tensors itself unless ``options.broadcast_split``;
    after every sweep the ranks then compare fingerprints of their tensors and stop
    with a RuntimeError on every rank if they differ.

    Returns one dict per sweep: ``step``, ``train_nll``, ``test_nll`` (with test data),
    ``seconds`` (cumulative training time, evaluation excluded), ``max_bond``.
    """
    if batch_size is not None:
        batch_size = check_count(batch_size, "batch_size")
    if tol is not None:
        tol = check_positive(tol, "tol")
    rng = model.random_stream(generator)
    plan = {"method": "sweep", "lr": options.lr, "batch_size": batch_size,
            "max_step": options.max_step, "steps_per_bond": options.steps_per_bond,
            "normalized_steps": options.normalized, "max_bond": options.max_bond,
            "cutoff": options.cutoff}
    options.collective = collective
    collective.check_same_model(model, model._plain_tensors(), options=plan, sweeps=sweeps,
                                max_seconds=max_seconds, resume=resume is not None)
    dtype = real_dtype(model.dtype)
    with FitLoop(model, kind="sweep", total=sweeps, updates_per_pass=len(schedule),
                 unit="sweeps", desc=desc, progress=progress, max_seconds=max_seconds,
                 checkpoint=checkpoint, checkpoint_every=checkpoint_every, resume=resume,
                 options=plan, data={"train": data, "test": test_data}, rng=rng,
                 val_data=val_data, patience=patience, clock=clock,
                 collective=collective) as loop:
        if resume is None:
            model.canonicalize_(start_center)
        unique, inverse, counts = torch.unique(data, dim=0, return_inverse=True,
                                               return_counts=True)
        rows_in_all = collective.total(data.shape[0])[0]
        weights = counts.to(dtype) / rows_in_all
        tensors = model._plain_tensors()
        center = model.center
        learner = make_learner(tensors, unique)
        try:
            for sweep in loop.passes():
                batches = _update_weights(
                    minibatches(inverse, counts, batch_size, collective.step_stream(rng, sweep)),
                    len(schedule), collective, dtype)
                out_of_time = False
                for index, step in enumerate(schedule):
                    rows, batch_weights = batches[index]
                    learner.update(*step, rows, batch_weights)
                    center = center_after(step)
                    if loop.tick():
                        out_of_time = index + 1 < len(schedule)
                        break
                learner.settle()
                seconds = loop.end_pass()
                model._replace_tensors(tensors, center, canonical=True)
                if collective.active and not options.broadcast_split:
                    _check_identical(tensors, collective, sweep)
                with torch.no_grad():
                    train_nll = collective.total(-(weights * model._log_prob(unique)).sum())
                    record = {"step": sweep, "train_nll": train_nll[0],
                              "seconds": seconds, "max_bond": max(model.bond_dims)}
                    if test_data is not None:
                        record["test_nll"] = collective.mean(
                            -model._log_prob(test_data).mean(), test_data.shape[0])
                gain = loop.history[-1]["train_nll"] - record["train_nll"] \
                    if loop.history else float("inf")
                loop.finish(sweep, record, partial=out_of_time,
                            converged=tol is not None and gain < tol)
        finally:
            model._replace_tensors(tensors, center, canonical=True)
    loop.restore_best()
    return loop.history
