"""RealNVP (Dinh, Sohl-Dickstein, Bengio 2017): a stack of affine couplings
(:mod:`tnborn.flows.coupling`) over all sites on a standard normal base, a
:class:`tnborn.flows.Flow` on :class:`tnborn.supports.Real`.

The masks alternate: block 0 keeps one half of the sites and moves the other, block 1
the reverse, and so on::

    z --[keep A]--[keep B]--[keep A]-- ... --> x = f(z)

with A the even sites (``mask="alternating"``) or, on an L x L lattice (n_sites = L^2,
row-major), the black squares r + c even (``mask="checkerboard"``: every site's lattice
neighbours are in the other half)::

    alternating  A B A B      checkerboard  A B A B
                 A B A B                    B A B A

``fit`` is maximum likelihood; ``rsample`` is differentiable (the reparametrization
trick).
"""

from __future__ import annotations

import math

import torch

from ..backend import resolve_real
from ..checks import check_count, check_positive
from .base import Flow
from .coupling import AffineCoupling, chain_forward, chain_inverse


class RealNVP(Flow):
    """RealNVP over ``n_sites`` reals (n_sites >= 2).

    Parameters
    ----------
    blocks : coupling blocks (their masks alternate between the two halves).
    mask : ``"alternating"`` (even / odd site index) or ``"checkerboard"`` (n_sites must
        be a square).
    hidden : units of the two hidden layers of each block's MLP.
    scale_limit : s_max of the clamped scale.
    dtype, device, seed : as the other models; the last layer of every MLP starts at
        zero, so the untrained flow is the standard normal.
    """

    def __init__(self, n_sites: int, *, blocks: int = 4, hidden: int = 32,
                 scale_limit: float = 2.0, mask: str = "alternating", dtype=torch.float64,
                 device=None, seed: int | None = None):
        super().__init__()
        self.n_sites = check_count(n_sites, "n_sites")
        if self.n_sites < 2:
            raise ValueError(f"RealNVP needs at least 2 sites, got {self.n_sites}")
        self.blocks = check_count(blocks, "blocks")
        self.hidden = check_count(hidden, "hidden")
        self.scale_limit = check_positive(scale_limit, "scale_limit")
        dtype, device = resolve_real(dtype, device)
        generator = self._start_rng(seed)
        parity = self._half(mask)
        self.mask = mask
        self.couplings = torch.nn.ModuleList(
            AffineCoupling((parity == k % 2).to(torch.float64), hidden=self.hidden,
                           scale_limit=self.scale_limit, generator=generator, dtype=dtype,
                           device=device)
            for k in range(self.blocks))

    def _half(self, mask: str) -> torch.Tensor:
        """The parity (0 / 1) of every site under the mask's two halves."""
        index = torch.arange(self.n_sites)
        if mask == "alternating":
            return index % 2
        if mask == "checkerboard":
            side = math.isqrt(self.n_sites)
            if side * side != self.n_sites:
                raise ValueError(f"a checkerboard mask needs a square number of sites, got "
                                 f"{self.n_sites}")
            return (index // side + index % side) % 2
        raise ValueError(f"mask must be 'alternating' or 'checkerboard', got {mask!r}")

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x = f(z) and log |det dx/dz| for base points ``z`` ``(B, n_sites)``."""
        return chain_forward(self.couplings, z)

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = f^{-1}(x) and log |det dz/dx| for points ``x`` ``(B, n_sites)``."""
        return chain_inverse(self.couplings, x)

    def _config(self) -> dict:
        return {"n_sites": self.n_sites, "blocks": self.blocks, "hidden": self.hidden,
                "scale_limit": self.scale_limit, "mask": self.mask,
                "dtype": str(self.dtype).replace("torch.", ""), "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"n_sites": self.n_sites, "support": self.support, "blocks": self.blocks,
                "hidden": self.hidden, "mask": self.mask}
