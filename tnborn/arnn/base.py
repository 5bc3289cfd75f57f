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
import time

import torch

from ..base import GenerativeModel, _check_count
from ..checks import check_positive
from ..progress import TrainingBar


def draw_from_logits(logits: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Categorical draws ``(B,)`` from ``logits (B, d)`` and uniforms ``(B,)`` in [0, 1):
    the value v with cumulative probability P(< v) <= u < P(<= v)."""
    if logits.shape[-1] == 2:
        return (torch.sigmoid(logits[:, 0] - logits[:, 1]) < uniform).long()
    cumulative = torch.softmax(logits, -1).cumsum(-1)
    return (cumulative[:, :-1] < uniform[:, None] * cumulative[:, -1:]).sum(-1)


class AutoregressiveModel(GenerativeModel):
    """Base class of the autoregressive networks (MADE, PixelCNN, HAN, exact ARNNs)."""

    def __init__(self, n_sites: int, local_dim: int = 2, order=None):
        super().__init__()
        self.n_sites = _check_count(n_sites, "n_sites")
        self.local_dim = _check_count(local_dim, "local_dim")
        if self.local_dim < 2:
            raise ValueError(f"local_dim must be >= 2, got {local_dim}")
        if order is None:
            order = torch.arange(self.n_sites)
        order = torch.as_tensor(order, dtype=torch.long)
        if order.shape != (self.n_sites,) or not torch.equal(
                torch.sort(order).values, torch.arange(self.n_sites)):
            raise ValueError(f"order must be a permutation of 0..{self.n_sites - 1}")
        self.register_buffer("order", order, persistent=False)
        self.z2_symmetric = False

    # ----------------------------------------------------------------- kernels
    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _plain_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        """ln q(x) of the autoregressive factorization (no symmetrization), ``(B,)``."""
        logp = torch.log_softmax(self._logits(x), dim=-1)
        return logp.gather(-1, x[..., None])[..., 0].sum(-1)

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        logp = self._plain_log_prob(x)
        if not self.z2_symmetric:
            return logp
        return torch.logaddexp(logp, self._plain_log_prob(1 - x)) - math.log(2.0)

    def _site_log_conditionals(self, x: torch.Tensor) -> torch.Tensor:
        """ln q(x_s | sites before s in the order), ``(B, n_sites)`` (no symmetrization)."""
        logp = torch.log_softmax(self._logits(x), dim=-1)
        return logp.gather(-1, x[..., None])[..., 0]

    def is_prefix(self, known: torch.Tensor) -> bool:
        """Whether the sites of the bool mask ``known`` ``(n_sites,)`` come first in the
        site order (then their marginal is exact)."""
        return bool(known[self.order].long().cumprod(0).sum() == known.sum())

    def _marginal_log_prob(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        if not self.is_prefix(known):
            try:
                return super()._marginal_log_prob(x, known)
            except ValueError:
                raise ValueError("exact marginals of an autoregressive model need the "
                                 "sites to be a prefix of its site order (order starts "
                                 f"{self.order[:8].tolist()}...), or few enough other "
                                 "sites to enumerate") from None
        logp = (self._site_log_conditionals(x) * known).sum(1)
        if not self.z2_symmetric:
            return logp
        flipped = (self._site_log_conditionals(1 - x) * known).sum(1)
        return torch.logaddexp(logp, flipped) - math.log(2.0)

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

    def _sample(self, num: int, generator) -> torch.Tensor:
        x = torch.zeros(num, self.n_sites, dtype=torch.long, device=self.device)
        x = self._sample_from(x, torch.zeros(num, dtype=torch.long, device=self.device),
                              generator)
        if self.z2_symmetric:
            flip = torch.rand(num, generator=generator, device=self.device) < 0.5
            x = torch.where(flip[:, None], 1 - x, x)
        return x

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        in_order = known[:, self.order]
        prefix = in_order.long().cumprod(1).sum(1)  # length of the known prefix per row
        if (in_order.sum(1) != prefix).any():
            raise ValueError("conditional_sample of an autoregressive model is exact only "
                             "when the known sites are a prefix of its site order "
                             f"(order starts {self.order[:8].tolist()}...)")
        if not self.z2_symmetric:
            return self._sample_from(x.clone(), prefix, generator)
        flip = self._choose_z2_branch(x, known, generator)
        out = self._sample_from(torch.where(flip[:, None], 1 - x, x), prefix, generator)
        return torch.where(flip[:, None], 1 - out, out)

    def _choose_z2_branch(self, x, known, generator) -> torch.Tensor:
        """For each row, whether to sample from the flipped branch q(1 - x): chosen with
        probability proportional to that branch's marginal of the known prefix."""
        with torch.no_grad():
            logits = torch.log_softmax(self._logits(x), -1)
            flipped_logits = torch.log_softmax(self._logits(1 - x), -1)
            direct = (logits.gather(-1, x[..., None])[..., 0] * known).sum(1)
            flipped = (flipped_logits.gather(-1, (1 - x)[..., None])[..., 0] * known).sum(1)
        return torch.rand(x.shape[0], generator=generator, device=x.device,
                          dtype=direct.dtype) < torch.sigmoid(flipped - direct)

    # ---------------------------------------------------------------- training
    def _fit(self, data: torch.Tensor, *, epochs: int = 10, lr: float = 1e-3,
             batch_size: int = 100, test_data: torch.Tensor | None = None,
             progress: bool = True, weight_decay: float = 0.0,
             generator: torch.Generator | None = None,
             max_seconds: float | None = None) -> list[dict]:
        epochs = _check_count(epochs, "epochs")
        if max_seconds is not None:
            max_seconds = check_positive(max_seconds, "max_seconds")
        batch_size = _check_count(batch_size, "batch_size")
        if not (isinstance(lr, (int, float)) and math.isfinite(lr) and lr > 0):
            raise ValueError(f"lr must be a positive finite number, got {lr!r}")
        optimizer = torch.optim.Adam(self.parameters(), lr=lr, weight_decay=weight_decay)
        history = []
        elapsed = 0.0
        total = data.shape[0]
        batches = math.ceil(total / batch_size)
        bar = TrainingBar(updates=epochs * batches, max_seconds=max_seconds, unit="batch",
                          desc=f"{type(self).__name__} epochs", enabled=progress)
        try:
            for epoch in range(1, epochs + 1):
                start = time.perf_counter()
                self.train()
                perm = torch.randperm(total, generator=generator, device=data.device)
                out_of_time = False
                for first in range(0, total, batch_size):
                    batch = data[perm[first:first + batch_size]]
                    loss = -self._log_prob(batch).mean()
                    optimizer.zero_grad()
                    loss.backward()
                    optimizer.step()
                    if bar.advance(elapsed + time.perf_counter() - start):
                        out_of_time = first + batch_size < total
                        break
                elapsed += time.perf_counter() - start
                self.eval()
                record = {"step": epoch, "train_nll": self._mean_nll(data), "seconds": elapsed}
                if test_data is not None:
                    record["test_nll"] = self._mean_nll(test_data)
                if out_of_time:
                    record["partial"] = True
                bar.set_postfix(nll=f"{record['train_nll']:.4f}")
                history.append(record)
                if max_seconds is not None and elapsed >= max_seconds:
                    break
        finally:
            bar.close()
            self.eval()
        return history

    def _mean_nll(self, data: torch.Tensor, chunk: int = 4096) -> float:
        with torch.no_grad():
            total = sum(float(-self._log_prob(data[i:i + chunk]).sum())
                        for i in range(0, data.shape[0], chunk))
        return total / data.shape[0]

    def fit(self, data, *, epochs: int = 10, lr: float = 1e-3, batch_size: int = 100,
            test_data=None, progress: bool = True, weight_decay: float = 0.0,
            generator: torch.Generator | None = None,
            max_seconds: float | None = None) -> list[dict]:
        """Maximum likelihood with Adam on minibatches of ``data`` ``(N, n_sites)``.

        ``max_seconds``: training-time budget; training stops after the minibatch that
        reaches it (an unfinished epoch is recorded with ``"partial": True``).

        Returns one dict per epoch: ``step``, ``train_nll``, ``test_nll`` (with
        ``test_data``), ``seconds`` (cumulative training time, evaluation excluded).
        """
        return super().fit(data, epochs=epochs, lr=lr, batch_size=batch_size,
                           test_data=test_data, progress=progress, weight_decay=weight_decay,
                           generator=generator, max_seconds=max_seconds)

    # ------------------------------------------------------------------ saving
    def _config(self) -> dict:
        config = dict(self._constructor_config())
        config["z2_symmetric"] = bool(self.z2_symmetric)
        return config

    def _constructor_config(self) -> dict:
        """Keyword arguments that rebuild this model (plain Python values)."""
        raise NotImplementedError

    def _state(self) -> dict:
        return {"parameters": dict(self.state_dict())}

    @classmethod
    def _from_saved(cls, config: dict, state: dict) -> "AutoregressiveModel":
        config = dict(config)
        z2 = config.pop("z2_symmetric", False)
        model = cls(**config)
        params = state["parameters"]
        for name, value in params.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point() \
                    and not torch.isfinite(value).all():
                raise ValueError(f"parameter {name} has non-finite entries")
        try:
            model.load_state_dict(params)
        except RuntimeError as exc:
            raise ValueError(f"saved parameters do not fit a {cls.__name__}: "
                             f"{str(exc).splitlines()[0]}") from None
        model.z2_symmetric = bool(z2)
        return model
