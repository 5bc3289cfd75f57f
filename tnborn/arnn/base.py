"""Common machinery of the autoregressive networks.

An autoregressive model factorizes q(x) = prod_t q(x_{o_t} | x_{o_1} .. x_{o_{t-1}}) along
a site order ``o`` (a permutation of the sites; the identity unless a model says
otherwise). Normalization is exact by construction: every conditional is a softmax.

Subclasses implement ``_logits(x)``: for configurations ``(B, n_sites)`` the logits
``(B, n_sites, local_dim)`` of every conditional at once (teacher forcing), where the
logits at site ``o_t`` may depend only on the sites ``o_1 .. o_{t-1}``.

Z2 symmetry (binary alphabets): with ``z2_symmetric`` set, the model is the mixture
q_s(x) = (q(x) + q(1 - x)) / 2 in ``log_prob``, ``sample`` and ``conditional_sample``.
"""

from __future__ import annotations

import math

import torch

from ..base import GenerativeModel
from ..checks import check_count, check_local_dim, check_positive
from ..fitloop import FitLoop
from ..gradient_fit import minibatch_pass
from ..supports import Discrete, check_support


def draw_from_logits(logits: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Categorical draws ``(B,)`` from ``logits (B, d)`` and uniforms ``(B,)`` in [0, 1):
    the value v with cumulative probability P(< v) <= u < P(<= v)."""
    if logits.shape[-1] == 2:
        return (torch.sigmoid(logits[:, 0] - logits[:, 1]) < uniform).long()
    cumulative = torch.softmax(logits, -1).cumsum(-1)
    return (cumulative[:, :-1] < uniform[:, None] * cumulative[:, -1:]).sum(-1)


class AutoregressiveModel(GenerativeModel):
    """Base class of the autoregressive networks (MADE, PixelCNN, HAN, exact ARNNs)."""

    def __init__(self, n_sites: int, local_dim: int = 2, order=None, *, support=None):
        super().__init__()
        self.n_sites = check_count(n_sites, "n_sites")
        self.support = Discrete(check_local_dim(local_dim)) if support is None \
            else check_support(support)
        if order is None:
            order = torch.arange(self.n_sites)
        order = torch.as_tensor(order, dtype=torch.long)
        if order.shape != (self.n_sites,) or not torch.equal(
                torch.sort(order).values, torch.arange(self.n_sites)):
            raise ValueError(f"order must be a permutation of 0..{self.n_sites - 1}")
        self.register_buffer("order", order, persistent=False)
        self.z2_symmetric = False

    # ------------------------------------------------------------ capabilities
    @property
    def supports_z2(self) -> bool:
        return self.support == Discrete(2)

    def _marginal_is_exact(self, mask: torch.Tensor) -> bool:
        return self._is_prefix(mask[None])

    def _conditional_is_exact(self, known: torch.Tensor) -> bool:
        return self._is_prefix(known)

    def _is_prefix(self, known: torch.Tensor) -> bool:
        """Whether in every row of the bool mask ``known`` ``(B, n_sites)`` the known
        sites come first in the site order."""
        in_order = known[:, self.order]
        return bool((in_order.long().cumprod(1).sum(1) == in_order.sum(1)).all())

    def _order_start(self) -> str:
        return f"order starts {self.order[:8].tolist()}..."

    def _exact_marginal_hint(self) -> str:
        return (f"; the marginal of an autoregressive net is exact when the sites are a "
                f"prefix of its site order ({self._order_start()})")

    def _inexact_conditional_message(self) -> str:
        return (f"conditional_sample of {type(self).__name__} is exact only when the known "
                f"sites are a prefix of its site order ({self._order_start()})")

    # ----------------------------------------------------------------- kernels
    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _site_log_conditionals(self, x: torch.Tensor) -> torch.Tensor:
        """ln q(x_s | sites before s in the order), ``(B, n_sites)`` (no symmetrization)."""
        logp = torch.log_softmax(self._logits(x), dim=-1)
        return logp.gather(-1, x[..., None])[..., 0]

    def _plain_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """ln q(x) of the autoregressive factorization (no symmetrization), ``(B,)``."""
        return self._site_log_conditionals(x).sum(-1)

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        logp = self._plain_log_prob(x)
        if not self.z2_symmetric:
            return logp
        return torch.logaddexp(logp, self._plain_log_prob(1 - x)) - math.log(2.0)

    def _marginal_log_prob(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        logp = (self._site_log_conditionals(x) * known).sum(1)
        if not self.z2_symmetric:
            return logp
        flipped = (self._site_log_conditionals(1 - x) * known).sum(1)
        return torch.logaddexp(logp, flipped) - math.log(2.0)

    def _conditional_log_prob(self, x: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
        """One pass for a plain net: the conditionals of the sites after the prefix."""
        if self.z2_symmetric:
            return super()._conditional_log_prob(x, given)
        return (self._site_log_conditionals(x) * ~given).sum(1)

    def _encode_values(self, values: torch.Tensor) -> torch.Tensor:
        """A network's inputs ``(B, width)`` of one site's values ``(B,)``: the spin
        2x - 1 (binary) or a one-hot code."""
        if self.local_dim == 2:
            return (2 * values - 1)[:, None]
        return torch.nn.functional.one_hot(values, self.local_dim)

    def _draw(self, outputs: torch.Tensor, uniform: torch.Tensor, generator) -> torch.Tensor:
        """One site's values ``(B,)`` from a network's outputs for it ``(B, d)`` (logits)
        and uniforms ``(B,)``."""
        return draw_from_logits(outputs, uniform)

    def _draw_site(self, x: torch.Tensor, site: int, uniform: torch.Tensor) -> torch.Tensor:
        """Values of ``site`` drawn from its conditional given the rest of ``x``."""
        return draw_from_logits(self._logits(x)[:, site], uniform)

    def _sample_from(self, x: torch.Tensor, start: torch.Tensor, generator) -> torch.Tensor:
        """Sample order positions ``>= start[b]`` of each row; earlier ones are kept."""
        batch = x.shape[0]
        uniform = torch.rand(batch, self.n_sites, generator=generator, device=x.device,
                             dtype=torch.float64)
        with torch.no_grad():
            for t in range(int(start.min()), self.n_sites):
                site = int(self.order[t])
                drawn = self._draw_site(x, site, uniform[:, t].to(self._float_dtype()))
                x[:, site] = torch.where(start <= t, drawn, x[:, site])
        return x

    def _float_dtype(self) -> torch.dtype:
        for p in self.parameters():
            return p.dtype
        return torch.float64

    def _blank(self, num: int) -> torch.Tensor:
        """Zero configurations ``(num, n_sites)`` to sample into."""
        return torch.zeros(num, self.n_sites, dtype=torch.long, device=self.device)

    def _sample(self, num: int, generator) -> torch.Tensor:
        x = self._blank(num)
        x = self._sample_from(x, torch.zeros(num, dtype=torch.long, device=self.device),
                              generator)
        if self.z2_symmetric:
            flip = torch.rand(num, generator=generator, device=self.device) < 0.5
            x = torch.where(flip[:, None], 1 - x, x)
        return x

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        prefix = known[:, self.order].long().cumprod(1).sum(1)  # known prefix per row
        if not self.z2_symmetric:
            return self._sample_from(x.clone(), prefix, generator)
        flip = self._choose_z2_branch(x, known, generator)
        out = self._sample_from(torch.where(flip[:, None], 1 - x, x), prefix, generator)
        return torch.where(flip[:, None], 1 - out, out)

    def _choose_z2_branch(self, x, known, generator) -> torch.Tensor:
        """For each row, whether to sample from the flipped branch q(1 - x): chosen with
        probability proportional to that branch's marginal of the known prefix."""
        direct = (self._site_log_conditionals(x) * known).sum(1)
        flipped = (self._site_log_conditionals(1 - x) * known).sum(1)
        return torch.rand(x.shape[0], generator=generator, device=x.device,
                          dtype=direct.dtype) < torch.sigmoid(flipped - direct)

    # ---------------------------------------------------------------- training
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
                    out_of_time = minibatch_pass(lambda batch: -self._log_prob(batch).mean(),
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

    def _mean_nll(self, data: torch.Tensor, chunk: int = 4096) -> float:
        with torch.no_grad():
            total = sum(float(-self._log_prob(data[i:i + chunk]).sum())
                        for i in range(0, data.shape[0], chunk))
        return total / data.shape[0]

    # ------------------------------------------------------------------ saving
    def get_extra_state(self) -> dict:
        return {"z2_symmetric": bool(self.z2_symmetric)}

    def set_extra_state(self, state) -> None:
        if not isinstance(state, dict) or not isinstance(state.get("z2_symmetric"), bool):
            raise ValueError(f"bad autoregressive-model extra state {state!r}")
        self.z2_symmetric = state["z2_symmetric"]

    @classmethod
    def _from_version_1(cls, config: dict, state: dict) -> "AutoregressiveModel":
        """A model from a file of tnborn 0.1 (z2 flag in the config)."""
        config = dict(config)
        z2 = bool(config.pop("z2_symmetric", False))
        return cls.from_config(config, {**state["parameters"],
                                        "_extra_state": {"z2_symmetric": z2}})
