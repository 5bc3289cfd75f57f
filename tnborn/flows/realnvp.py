"""RealNVP (Dinh, Sohl-Dickstein, Bengio 2017): affine coupling blocks on a standard
normal base, a :class:`tnborn.GenerativeModel` on :class:`tnborn.supports.Real`.

Block k with a 0/1 mask m_k (alternating: even sites, then odd sites, ...) keeps the
masked sites and moves the others by a scale and shift computed from them::

    y = m * z + (1 - m) * (z * exp(s(m * z)) + t(m * z))
    log |det dy/dz| = sum_i (1 - m_i) s_i(m * z)
    s = s_max tanh(raw_s / s_max)         (scale clamped to |s| <= s_max)

s and t are one MLP (n -> hidden -> hidden -> 2n, tanh). x = f(z) composes the blocks
(``forward``), ``inverse`` undoes them in reverse order, and
ln q(x) = ln N(f^{-1}(x); 0, I) + log |det d f^{-1} / dx|. ``rsample`` is differentiable
in the parameters (the reparametrization trick); ``fit`` is maximum likelihood.
"""

from __future__ import annotations

import math

import torch

from ..backend import resolve_real
from ..base import GenerativeModel
from ..checks import check_count, check_positive
from ..mle_fit import MinibatchMLE
from ..supports import Real


class RealNVP(MinibatchMLE, GenerativeModel):
    """RealNVP over ``n_sites`` reals (n_sites >= 2).

    Parameters
    ----------
    blocks : coupling blocks (masks alternate between even and odd sites).
    hidden : units of the two hidden layers of each block's MLP.
    scale_limit : s_max of the clamped scale.
    dtype, device, seed : as the other models; the last layer of every MLP starts at
        zero, so the untrained flow is the standard normal.
    """

    def __init__(self, n_sites: int, *, blocks: int = 4, hidden: int = 32,
                 scale_limit: float = 2.0, dtype=torch.float64, device=None,
                 seed: int | None = None):
        super().__init__()
        self.n_sites = check_count(n_sites, "n_sites")
        if self.n_sites < 2:
            raise ValueError(f"RealNVP needs at least 2 sites, got {self.n_sites}")
        self.support = Real()
        self.blocks = check_count(blocks, "blocks")
        self.hidden = check_count(hidden, "hidden")
        self.scale_limit = check_positive(scale_limit, "scale_limit")
        dtype, device = resolve_real(dtype, device)
        generator = self._start_rng(seed)
        n = self.n_sites
        parity = torch.arange(n) % 2
        self.register_buffer("masks", torch.stack([(parity == k % 2).to(dtype)
                                                   for k in range(self.blocks)]).to(device),
                             persistent=False)
        self.nets = torch.nn.ModuleList()
        for _ in range(self.blocks):
            layers = [torch.nn.Linear(n, self.hidden), torch.nn.Tanh(),
                      torch.nn.Linear(self.hidden, self.hidden), torch.nn.Tanh(),
                      torch.nn.Linear(self.hidden, 2 * n)]
            for layer in layers[::2]:
                bound = 1.0 / math.sqrt(layer.in_features)
                with torch.no_grad():
                    layer.weight.copy_((torch.rand(layer.weight.shape, generator=generator,
                                                   dtype=torch.float64) * 2 - 1) * bound)
                    layer.bias.copy_((torch.rand(layer.bias.shape, generator=generator,
                                                 dtype=torch.float64) * 2 - 1) * bound)
            with torch.no_grad():
                layers[-1].weight.zero_()
                layers[-1].bias.zero_()
            self.nets.append(torch.nn.Sequential(*layers).to(device=device, dtype=dtype))

    # ---------------------------------------------------------------- capabilities
    @property
    def has_rsample(self) -> bool:
        return True

    def _marginal_is_exact(self, mask: torch.Tensor) -> bool:
        return bool(mask.all())  # only the joint

    def _conditional_is_exact(self, known: torch.Tensor) -> bool:
        return bool(known.all())

    # ---------------------------------------------------------------- the maps
    def _scale_shift(self, k: int, kept: torch.Tensor):
        raw = self.nets[k](kept)
        s, t = raw[..., :self.n_sites], raw[..., self.n_sites:]
        free = 1 - self.masks[k]
        return self.scale_limit * torch.tanh(s / self.scale_limit) * free, t * free

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x = f(z) and log |det dx/dz| for base points ``z`` ``(B, n_sites)``."""
        log_det = torch.zeros(z.shape[:-1], dtype=z.dtype, device=z.device)
        x = z
        for k in range(self.blocks):
            m = self.masks[k]
            s, t = self._scale_shift(k, x * m)
            x = x * m + (1 - m) * (x * torch.exp(s) + t)
            log_det = log_det + s.sum(-1)
        return x, log_det

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = f^{-1}(x) and log |det dz/dx| for points ``x`` ``(B, n_sites)``."""
        log_det = torch.zeros(x.shape[:-1], dtype=x.dtype, device=x.device)
        z = x
        for k in reversed(range(self.blocks)):
            m = self.masks[k]
            s, t = self._scale_shift(k, z * m)
            z = z * m + (1 - m) * (z - t) * torch.exp(-s)
            log_det = log_det - s.sum(-1)
        return z, log_det

    # ---------------------------------------------------------------- kernels
    def _base_log_prob(self, z: torch.Tensor) -> torch.Tensor:
        return -0.5 * (z * z).sum(-1) - 0.5 * self.n_sites * math.log(2 * math.pi)

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        z, log_det = self.inverse(x.to(self.masks.dtype))
        return self._base_log_prob(z) + log_det

    def _marginal_log_prob(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        return self._log_prob(x)

    def _rsample(self, num: int, generator) -> torch.Tensor:
        z = torch.randn(num, self.n_sites, generator=generator, device=self.device,
                        dtype=self.masks.dtype)
        return self.forward(z)[0]

    def _sample(self, num: int, generator) -> torch.Tensor:
        with torch.no_grad():
            return self._rsample(num, generator)

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        return x.clone()  # every site known (the only exact case)

    # ---------------------------------------------------------------- saving
    def _config(self) -> dict:
        return {"n_sites": self.n_sites, "blocks": self.blocks, "hidden": self.hidden,
                "scale_limit": self.scale_limit,
                "dtype": str(self.masks.dtype).replace("torch.", ""), "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"n_sites": self.n_sites, "support": self.support, "blocks": self.blocks,
                "hidden": self.hidden}
