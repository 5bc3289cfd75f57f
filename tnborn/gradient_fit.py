"""Maximum likelihood with a torch optimizer on every tensor of a Born machine
(``fit(method="gradient")``), as TorchMPS and TensorKrowch train.

The loss is the exactly normalized NLL, -mean ln |psi(x)|^2 + ln Z, with ln Z contracted
from the tensors as they stand (autograd through both terms); the bond dimensions stay
as they are. Adam steps on full batches or on the minibatches of a fresh permutation per
pass; the tensors are brought back into canonical form at the end.
"""

from __future__ import annotations

import math

import torch

from .checks import check_count, check_positive
from .distributed import SINGLE, Collective
from .fitloop import FitLoop


def minibatch_pass(loss_of, data: torch.Tensor, order: torch.Tensor | None, batch_size: int,
                   optimizer, loop: FitLoop, collective: Collective = SINGLE) -> bool:
    """One pass of optimizer steps on ``loss_of(batch)`` (a mean over the batch) over the
    minibatches of ``data`` in ``order`` (None: the data as they are); True when the time
    budget cut it short.

    Data-parallel (an active ``collective``): ``data`` is this rank's shard; every rank
    takes the next ``batch_size`` rows of its own order per step (a shard that runs out
    starts again from its beginning) for as many steps as the largest shard needs; the
    loss is weighted by the batch's share of the step's rows over all ranks and the
    gradients are summed over the ranks, so each step follows the mean over the global
    minibatch.
    """
    total = data.shape[0]
    starts = list(range(0, total, batch_size))
    if collective.active:
        steps = max(collective.gather(len(starts)))
        starts = [(i * batch_size) % total for i in range(steps)]
        sizes = collective.gather([min(batch_size, total - first) for first in starts])
        step_rows = [sum(shard[i] for shard in sizes) for i in range(steps)]
    for i, first in enumerate(starts):
        rows = slice(first, first + batch_size) if order is None \
            else order[first:first + batch_size]
        batch = data[rows]
        loss = loss_of(batch)
        if collective.active:
            loss = loss * (batch.shape[0] / step_rows[i])
        optimizer.zero_grad()
        loss.backward()
        collective.sum_gradients(p for group in optimizer.param_groups
                                 for p in group["params"])
        optimizer.step()
        if loop.tick():
            return i + 1 < len(starts)
    return False


def fit_by_gradient(model, data: torch.Tensor, *, sweeps: int, lr: float,
                    batch_size: int | None, test_data, progress: bool, generator,
                    max_seconds, checkpoint, checkpoint_every, resume, val_data=None,
                    patience=None, clock: str = "wall") -> list[dict]:
    """Adam on ``model.parameters()``; returns one record per pass over ``data``
    (``step``, ``train_nll``, ``test_nll``, ``seconds``, ``max_bond``)."""
    lr = check_positive(lr, "lr")
    total = data.shape[0]
    batch_size = total if batch_size is None else min(check_count(batch_size, "batch_size"),
                                                      total)
    batches = math.ceil(total / batch_size)
    rng = model.random_stream(generator)
    plan = {"method": "gradient", "lr": lr, "batch_size": batch_size}
    with FitLoop(model, kind="gradient", total=sweeps, updates_per_pass=batches,
                 unit="sweeps", desc=f"{type(model).__name__} gradient", progress=progress,
                 max_seconds=max_seconds, checkpoint=checkpoint,
                 checkpoint_every=checkpoint_every, resume=resume, options=plan,
                 data={"train": data, "test": test_data}, rng=rng, val_data=val_data,
                 patience=patience, clock=clock) as loop:
        optimizer = torch.optim.Adam(model.parameters(), lr=lr)
        if loop.extras:
            optimizer.load_state_dict(loop.extras["optimizer"])
        try:
            for step in loop.passes():
                order = torch.randperm(total, generator=rng, device=data.device) \
                    if batches > 1 else None
                out_of_time = minibatch_pass(
                    lambda batch: -model.log_prob(batch, validate=False).mean(), data, order,
                    batch_size, optimizer, loop)
                seconds = loop.end_pass()
                record = {"step": step, "train_nll": model.nll(data), "seconds": seconds,
                          "max_bond": max(model.bond_dims)}
                if test_data is not None:
                    record["test_nll"] = model.nll(test_data)
                if not math.isfinite(record["train_nll"]):
                    raise FloatingPointError("gradient training diverged (non-finite NLL); "
                                             "lower lr")
                loop.finish(step, record, partial=out_of_time,
                            extras=lambda: {"optimizer": optimizer.state_dict()})
        finally:
            optimizer.zero_grad(set_to_none=True)
    loop.restore_best()
    model.canonicalize_()
    return loop.history
