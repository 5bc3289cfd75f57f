"""What every flow shares: a standard normal base z, an invertible map x = f(z) with its
log-Jacobian, and the :class:`tnborn.GenerativeModel` methods that follow from them::

    ln q(x) = ln N(f^{-1}(x); 0, I) + log |det d f^{-1} / dx|
    x = f(z), z ~ N(0, I)                   (rsample: differentiable in the parameters)

A subclass defines ``forward(z) -> (x, log_det)`` and ``inverse(x) -> (z, log_det)`` on
``(B, n_sites)`` and its ``_config``; only the joint density is tractable.

Z2 symmetry: with ``z2_symmetric`` set, the model is the mixture
q_s(x) = (q(x) + q(-x)) / 2 (its samples are f(z) with a fair random sign), the global
flip of a real support; the dual Ising model is symmetric under it.
"""

from __future__ import annotations

import math

import torch

from ..base import GenerativeModel
from ..mle_fit import MinibatchMLE
from ..supports import Real


class Flow(MinibatchMLE, GenerativeModel):
    """A normalizing flow on :class:`tnborn.supports.Real` (see the module docstring)."""

    support = Real()
    z2_symmetric = False

    @property
    def has_rsample(self) -> bool:
        return True

    @property
    def supports_z2(self) -> bool:
        return True

    def _marginal_is_exact(self, mask: torch.Tensor) -> bool:
        return bool(mask.all())  # only the joint

    def _conditional_is_exact(self, known: torch.Tensor) -> bool:
        return bool(known.all())

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def _base_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (z * z).sum(-1) - 0.5 * z.shape[-1] * math.log(2 * math.pi)

    def _plain_log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z, log_det = self.inverse(x.to(self.dtype))
        return self._base_log_prob(z) + log_det

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        if not self.z2_symmetric:
            return self._plain_log_prob(x)
        return torch.logaddexp(self._plain_log_prob(x), self._plain_log_prob(-x)) \
            - math.log(2.0)

    def _marginal_log_prob(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self._log_prob(x)

    def _base_sample(self, num: int, generator) -> torch.Tensor:
        return torch.randn(num, self.n_sites, generator=generator, device=self.device,
                           dtype=self.dtype)

    def _random_signs(self, x: torch.Tensor, generator) -> torch.Tensor:
        flip = torch.rand(x.shape[0], generator=generator, device=x.device) < 0.5
        return torch.where(flip[:, None], -x, x)

    def _rsample(self, num: int, generator) -> torch.Tensor:
        x = self.forward(self._base_sample(num, generator))[0]
        return self._random_signs(x, generator) if self.z2_symmetric else x

    def _rsample_and_log_prob(self, num: int, generator):
        z = self._base_sample(num, generator)
        x, log_det = self.forward(z)
        log_q = self._base_log_prob(z) - log_det
        if not self.z2_symmetric:
            return x, log_q
        # q_s(x) = q_s(-x) = (q(f(z)) + q(-f(z))) / 2, whatever the sign drawn
        log_q = torch.logaddexp(log_q, self._plain_log_prob(-x)) - math.log(2.0)
        return self._random_signs(x, generator), log_q

    def _sample(self, num: int, generator) -> torch.Tensor:
        with torch.no_grad():
            return self._rsample(num, generator)

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        return x.clone()  # every site known (the only exact case)

    # ------------------------------------------------------------------ saving
    def get_extra_state(self) -> dict:
        return {"z2_symmetric": bool(self.z2_symmetric)}

    def set_extra_state(self, state) -> None:
        if not isinstance(state, dict) or not isinstance(state.get("z2_symmetric"), bool):
            raise ValueError(f"bad flow extra state {state!r}")
        self.z2_symmetric = state["z2_symmetric"]
