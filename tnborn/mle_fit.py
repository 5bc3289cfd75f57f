"""Maximum likelihood with Adam on minibatches, for any model whose ``_log_prob`` is
differentiable in its parameters (the autoregressive networks, the flows): the
``fit`` they share, on :class:`tnborn.fitloop.FitLoop` (budgets, checkpoints, model
selection on validation data)."""

from __future__ import annotations

import math

import torch

from .checks import check_count, check_positive
from .fitloop import FitLoop
from .gradient_fit import minibatch_pass


class MinibatchMLE:
    """Mixin of a :class:`tnborn.GenerativeModel`: ``fit`` by minibatch Adam on the NLL."""

    def fit(self, data, *, epochs: int = 10, lr: float = 1e-3, batch_size: int = 100,
            test_data=None, progress: bool = True, weight_decay: float = 0.0,
            generator: torch.Generator | None = None, max_seconds: float | None = None,
            checkpoint=None, checkpoint_every=1, resume=None, val_data=None,
            patience: int | None = None, clock: str = "wall") -> list[dict]:
        """Maximum likelihood with Adam on minibatches of ``data`` ``(N, n_sites)``, drawn
        in a fresh random order each epoch (``generator``; None: the model's own stream).

        ``max_seconds``: training-time budget; training stops after the minibatch that
        reaches it (an unfinished epoch is recorded with ``"partial": True``).
        ``checkpoint``, ``checkpoint_every``, ``resume``; ``val_data``, ``patience``
        (record ``val_nll`` each epoch, end at the best-validation state, stop early);
        ``clock`` (``"wall"`` or ``"cpu"`` seconds for ``max_seconds``): see
        :mod:`tnborn.fitloop`.

        Returns one dict per epoch: ``step``, ``train_nll``, ``test_nll`` (with
        ``test_data``), ``val_nll`` (with ``val_data``), ``seconds`` and ``cpu_seconds``
        (cumulative training time, evaluation excluded); the last also ``stopped_by``.
        """
        return super().fit(data, epochs=epochs, lr=lr, batch_size=batch_size,
                           test_data=test_data, progress=progress, weight_decay=weight_decay,
                           generator=generator, max_seconds=max_seconds,
                           checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                           resume=resume, val_data=val_data, patience=patience, clock=clock)

    def _fit(self, data: torch.Tensor, *, epochs, lr, batch_size, test_data, progress,
             weight_decay, generator, max_seconds, checkpoint, checkpoint_every,
             resume, val_data, patience, clock) -> list[dict]:
        batch_size = check_count(batch_size, "batch_size")
        lr = check_positive(lr, "lr")
        weight_decay = float(weight_decay)
        if not (math.isfinite(weight_decay) and weight_decay >= 0):
            raise ValueError(f"weight_decay must be a finite number >= 0, got {weight_decay}")
        rng = self.random_stream(generator)
        total = data.shape[0]
        batches = math.ceil(total / batch_size)
        plan = {"method": "mle", "lr": lr, "batch_size": batch_size,
                "weight_decay": weight_decay}
        with FitLoop(self, kind="mle", total=epochs, updates_per_pass=batches,
                     unit="epochs", desc=f"{type(self).__name__} epochs", progress=progress,
                     max_seconds=max_seconds, checkpoint=checkpoint,
                     checkpoint_every=checkpoint_every, resume=resume, options=plan,
                     data={"train": data, "test": test_data}, rng=rng, val_data=val_data,
                     patience=patience, clock=clock) as loop:
            optimizer = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)
            if loop.extras:
                optimizer.load_state_dict(loop.extras["optimizer"])
            try:
                for epoch in loop.passes():
                    self.train()
                    perm = torch.randperm(total, generator=rng, device=data.device)
                    out_of_time = minibatch_pass(lambda batch: self._batch_loss(batch, rng),
                                                 data, perm, batch_size, optimizer, loop)
                    seconds = loop.end_pass()
                    self.eval()
                    record = {"step": epoch, "train_nll": self._mean_nll(data),
                              "seconds": seconds}
                    if test_data is not None:
                        record["test_nll"] = self._mean_nll(test_data)
                    loop.finish(epoch, record, partial=out_of_time,
                                extras=lambda: {"optimizer": optimizer.state_dict()})
            finally:
                self.eval()
        loop.restore_best()
        return loop.history

    def _batch_loss(self, batch: torch.Tensor, generator: torch.Generator) -> torch.Tensor:
        """The minibatch loss whose gradient the optimizer follows: the mean NLL (a model
        whose likelihood gradient is intractable overrides it with a surrogate)."""
        return -self._log_prob(batch).mean()

    def _mean_nll(self, data: torch.Tensor, chunk: int = 4096) -> float:
        with torch.no_grad():
            total = sum(float(-self._log_prob(data[i:i + chunk]).sum())
                        for i in range(0, data.shape[0], chunk))
        return total / data.shape[0]

