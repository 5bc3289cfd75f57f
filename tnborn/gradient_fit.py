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
from .fitloop import FitLoop


def minibatch_pass(loss_of, data: torch.Tensor, order: torch.Tensor | None, batch_size: int,
                   optimizer, loop: FitLoop) -> bool:
    """One pass of optimizer steps on ``loss_of(batch)`` over the minibatches of ``data``
    in ``order`` (None: the data as they are); True when the time budget cut it short."""
    total = data.shape[0]
    for first in range(0, total, batch_size):
        rows = slice(first, first + batch_size) if order is None \
            else order[first:first + batch_size]
        loss = loss_of(data[rows])
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
        if loop.tick():
            return first + batch_size < total
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
