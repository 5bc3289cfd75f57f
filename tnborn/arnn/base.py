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
from ..checks import check_count, check_local_dim
from ..mle_fit import MinibatchMLE
from ..supports import Discrete, check_support


def draw_from_logits(logits: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Categorical draws ``(B,)`` from ``logits (B, d)`` and uniforms ``(B,)`` in [0, 1):
    the value v with cumulative probability P(< v) <= u < P(<= v)."""
    if logits.shape[-1] == 2:
        return (torch.sigmoid(logits[:, 0] - logits[:, 1]) < uniform).long()
    cumulative = torch.softmax(logits, -1).cumsum(-1)
    return (cumulative[:, :-1] < uniform[:, None] * cumulative[:, -1:]).sum(-1)


class AutoregressiveModel(MinibatchMLE, GenerativeModel):
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
