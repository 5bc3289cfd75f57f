"""Maximum likelihood with Adam on minibatches, for any model whose ``_log_prob`` is
differentiable in its parameters (the autoregressive networks, the flows): the
``fit`` they share, on :class:`tnborn.fitloop.FitLoop` (budgets, checkpoints, model
selection on validation data)."""

from __future__ import annotations

import math

import torch

from .checks import check_count, check_positive
from .distributed import SINGLE, Collective
from .fitloop import FitLoop
from .gradient_fit import minibatch_pass


class MinibatchMLE:
    """Mixin of a :class:`tnborn.GenerativeModel`: ``fit`` by minibatch Adam on the NLL."""

    def fit(self, data, *, epochs: int = 10, lr: float = 1e-3, batch_size: int = 100,
            test_data=None, progress: bool = True, weight_decay: float = 0.0,
            generator: torch.Generator | None = None, max_seconds: float | None = None,
            checkpoint=None, checkpoint_every=1, resume=None, val_data=None,
            patience: int | None = None, clock: str = "wall",
            lr_decay: float = 1.0, record_every: int = 1, distributed: bool = False,
            process_group=None) -> list[dict]:
        """Maximum likelihood with Adam on minibatches of ``data`` ``(N, n_sites)``, drawn
        in a fresh random order each epoch (``generator``; None: the model's own stream).

        ``max_seconds``: training-time budget; training stops after the minibatch that
        reaches it (an unfinished epoch is recorded with ``"partial": True``).
        ``checkpoint``, ``checkpoint_every``, ``resume``; ``val_data``, ``patience``
        (record ``val_nll`` each epoch, end at the best-validation state, stop early);
        ``clock`` (``"wall"`` or ``"cpu"`` seconds for ``max_seconds``): see
        :mod:`tnborn.fitloop`. ``lr_decay``: the learning rate is multiplied by it after
        every epoch (1.0: constant; in (0, 1]). ``record_every``: record (NLLs, validation,
        model selection) every this many epochs and at the last one only, for a model
        whose NLL costs more than an epoch of training. ``distributed`` /
        ``process_group``: data-parallel on torch.distributed (:mod:`tnborn.distributed`):
        ``data``, ``test_data`` and ``val_data`` are this rank's shards, each step takes
        ``batch_size`` rows of every rank's shard (the global minibatch) and follows the
        gradient of their mean, summed over the ranks; the NLLs are means over every
        rank's rows.

        Returns one dict per epoch: ``step``, ``train_nll``, ``test_nll`` (with
        ``test_data``), ``val_nll`` (with ``val_data``), ``seconds`` and ``cpu_seconds``
        (cumulative training time, evaluation excluded); the last also ``stopped_by``.
        """
        return super().fit(data, epochs=epochs, lr=lr, batch_size=batch_size,
                           test_data=test_data, progress=progress, weight_decay=weight_decay,
                           generator=generator, max_seconds=max_seconds,
                           checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                           resume=resume, val_data=val_data, patience=patience, clock=clock,
                           lr_decay=lr_decay, record_every=record_every,
                           distributed=distributed, process_group=process_group)

    def _fit(self, data: torch.Tensor, *, epochs, lr, batch_size, test_data, progress,
             weight_decay, generator, max_seconds, checkpoint, checkpoint_every,
             resume, val_data, patience, clock, lr_decay, record_every,
             collective: Collective = SINGLE) -> list[dict]:
        batch_size = check_count(batch_size, "batch_size")
        record_every = check_count(record_every, "record_every")
        lr = check_positive(lr, "lr")
        lr_decay = float(lr_decay)
        if not 0 < lr_decay <= 1:
            raise ValueError(f"lr_decay must be in (0, 1], got {lr_decay}")
        weight_decay = float(weight_decay)
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay}")
        rng = self.random_stream(generator)
        total = data.shape[0]
        batches = math.ceil(total / batch_size)
        plan = {"method": "mle", "lr": lr, "batch_size": batch_size,
                "weight_decay": weight_decay}
        if lr_decay != 1.0:  # (checkpoints of constant-rate runs keep their old options)
            plan["lr_decay"] = lr_decay
        collective.check_same_model(self, options=plan, epochs=epochs, max_seconds=max_seconds,
                                    resume=resume is not None, record_every=record_every)
        with FitLoop(self, kind="mle", total=epochs, updates_per_pass=batches,
                     unit="epochs", desc=f"{type(self).__name__} epochs", progress=progress,
                     max_seconds=max_seconds, checkpoint=checkpoint,
                     checkpoint_every=checkpoint_every, resume=resume, options=plan,
                     data={"train": data, "test": test_data}, rng=rng, val_data=val_data,
                     patience=patience, clock=clock, collective=collective) as loop:
            optimizer = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)
            if loop.extras:
                optimizer.load_state_dict(loop.extras["optimizer"])
            try:
                for epoch in loop.passes():
                    self.train()
                    perm = torch.randperm(total, generator=collective.step_stream(rng, epoch),
                                          device=data.device)
                    out_of_time = minibatch_pass(lambda batch: self._batch_loss(batch, rng),
                                                 data, perm, batch_size, optimizer, loop,
                                                 collective)
                    for group in optimizer.param_groups:
                        group["lr"] *= lr_decay
                    seconds = loop.end_pass()
                    self.eval()
                    last = out_of_time or epoch == epochs or loop.budget_spent()
                    record = None
                    if last or epoch % record_every == 0:
                        self._after_pass(data, rng)
                        record = {"step": epoch, "seconds": seconds,
                                  "train_nll": collective.mean(self._mean_nll(data), len(data))}
                        if test_data is not None:
                            record["test_nll"] = collective.mean(self._mean_nll(test_data),
                                                                 len(test_data))
                    loop.finish(epoch, record, partial=out_of_time,
                                extras=lambda: {"optimizer": optimizer.state_dict()})
            finally:
                self.eval()
        loop.restore_best()
        return loop.history

    def _distributed_refusal(self, options: dict) -> str | None:
        return None

    def _batch_loss(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The minibatch loss whose gradient the optimizer follows: the mean NLL (a model
        whose likelihood gradient is intractable overrides it with a surrogate)."""
        return -self._log_prob(batch).mean()

    def _after_pass(self, data: torch.Tensor, generator: torch.Generator) -> None:
        """Work after an epoch's updates, before its NLLs are recorded (outside the
        training time): none here; a model whose ln Z is estimated re-estimates it."""

    def _mean_nll(self, data: torch.Tensor, chunk: int = 4096) -> float:
        with torch.no_grad():
            total = sum(float(-self._log_prob(data[i:i + chunk]).sum())
                        for i in range(0, data.shape[0], chunk))
        return total / data.shape[0]

