"""The neural renormalization group (Li and Wang, PRL 121, 260601 (2018)): a flow on an
L x L lattice built like a MERA, from small bijectors on 2x2 blocks.

In the inference direction x -> z, scale k (k = 0 .. depth-1) acts on the sites whose
row and column are multiples of 2^k, an l x l lattice (l = L / 2^k): a disentangler on
the 2x2 blocks offset by one site (periodic), then a decimator on the 2x2 blocks at the
origin; the top-left variable of each decimator block goes on to scale k+1, the other
three are the latent variables of scale k. ``forward`` (z -> x, generation) undoes it
all in reverse. Every small bijector is a 4-variable RealNVP
(:mod:`tnborn.flows.coupling`) shared by all the blocks of its layer.
"""

from __future__ import annotations

import numbers

import torch

from ..backend import resolve_real
from ..checks import check_count, check_positive
from .base import Flow
from .coupling import AffineCoupling, chain_forward, chain_inverse

#: the block positions (row, column offsets) in the order top-left, top-right,
#: bottom-left, bottom-right
_BLOCK_ROWS = (0, 0, 1, 1)
_BLOCK_COLUMNS = (0, 1, 0, 1)
#: the checkerboard mask of a 2x2 block (1: kept), alternated with its complement
_CHECKERBOARD = (1.0, 0.0, 0.0, 1.0)


def block_sites(L: int, step: int, offset: int) -> torch.Tensor:
    """The sites ``(n_blocks, 4)`` (row-major index r*L + c; per block in the order
    top-left, top-right, bottom-left, bottom-right) of the 2x2 blocks of the active
    lattice of spacing ``step`` (l = L / step sites a side) whose top-left corners are
    at active coordinates (2a + offset, 2b + offset), wrapped periodically."""
    l = L // step
    corners = torch.arange(0, l, 2) + offset
    a, b = (t.reshape(-1, 1) for t in torch.meshgrid(corners, corners, indexing="ij"))
    rows = (a + torch.tensor(_BLOCK_ROWS)) % l * step
    columns = (b + torch.tensor(_BLOCK_COLUMNS)) % l * step
    return rows * L + columns


class BlockLayer(torch.nn.Module):
    """One layer of NeuralRG: a 4-variable RealNVP (``couplings`` affine couplings with
    checkerboard masks (1,0,0,1), (0,1,1,0), ...) applied to every 2x2 block ``sites``
    ``(n_blocks, 4)`` at once, with weights shared by all blocks. ``kind`` names its
    role ("disentangler" or "decimator")."""

    def __init__(self, kind: str, sites: torch.Tensor, *, couplings: int, hidden: int,
                 scale_limit: float, generator: torch.Generator, dtype, device):
        super().__init__()
        self.kind = kind
        self.register_buffer("sites", sites.to(device), persistent=False)
        checkerboard = torch.tensor(_CHECKERBOARD, dtype=torch.float64)
        self.couplings = torch.nn.ModuleList(
            AffineCoupling(checkerboard if k % 2 == 0 else 1 - checkerboard, hidden=hidden,
                           scale_limit=scale_limit, generator=generator, dtype=dtype,
                           device=device)
            for k in range(couplings))

    def _scatter(self, values: torch.Tensor, blocks: torch.Tensor) -> torch.Tensor:
        """``values`` ``(B, n_sites)`` with the block sites replaced by ``blocks``
        ``(B, n_blocks, 4)`` (a new tensor: autograd-safe)."""
        out = values.clone()
        out[:, self.sites] = blocks
        return out

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The layer's map on ``z`` ``(B, n_sites)`` (generative direction) and its
        log |det| ``(B,)``."""
        blocks, log_det = chain_forward(self.couplings, z[:, self.sites])
        return self._scatter(z, blocks), log_det.sum(-1)

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The inverse map on ``x`` ``(B, n_sites)`` (inference direction) and its
        log |det| ``(B,)``."""
        blocks, log_det = chain_inverse(self.couplings, x[:, self.sites])
        return self._scatter(x, blocks), log_det.sum(-1)

    def extra_repr(self) -> str:
        return f"{self.kind}, blocks={self.sites.shape[0]}"


def _check_side(L) -> int:
    """The lattice side: a power of two >= 2 (TypeError / ValueError otherwise)."""
    if isinstance(L, bool) or not isinstance(L, numbers.Integral):
        raise TypeError(f"L must be an integer power of two >= 2, got {L!r}")
    L = int(L)
    if L < 2 or L & (L - 1):
        raise ValueError(f"L must be a power of two >= 2, got {L}")
    return L


class NeuralRG(Flow):
    """The neural renormalization group flow on an ``L`` x ``L`` lattice (see the module
    docstring); ``n_sites = L * L``, site index r*L + c (row-major).

    One scale on its active l x l lattice (here l = 4, inference direction x -> z)::

        disentangler: blocks offset      decimator: blocks at the     kept for the
        by (1, 1), wrapped periodically  origin                       next scale
            d c c d                          A A B B                      * z * z
            b a a b                          A A B B                      z z z z
            b a a b                          C C D D                      * z * z
            d c c d                          C C D D                      z z z z

    Each letter marks the four sites of one block; every block of a layer goes through
    the same small bijector. After the decimator, the top-left site of each block (*)
    is active at the next scale (an l/2 x l/2 lattice at twice the spacing), the other
    three (z) are the latent variables of this scale and stay in place. The
    disentangler is skipped where l = 2 (its blocks would be the decimator's).

    Parameters
    ----------
    L : lattice side, a power of two >= 2.
    depth : number of scales, 1 .. log2 L (default log2 L: one site, site 0, is left at
        the top). The sites still active after the last decimator have scale ``depth``.
    couplings : affine couplings of each small bijector (masks alternate (1,0,0,1),
        (0,1,1,0), ... over the block order top-left, top-right, bottom-left,
        bottom-right).
    hidden : units of the two hidden layers of each coupling's MLP.
    scale_limit : s_max of the clamped scale.
    dtype, device, seed : as the other models; the last layer of every MLP starts at
        zero, so the untrained flow is the standard normal.

    Attributes
    ----------
    layers : the :class:`BlockLayer` s in the inference order (per scale: disentangler,
        then decimator).
    scales : LongTensor ``(n_sites,)``, the scale of each latent position of z.
    """

    def __init__(self, L: int, *, depth: int | None = None, couplings: int = 4,
                 hidden: int = 16, scale_limit: float = 2.0, dtype=torch.float64,
                 device=None, seed: int | None = None):
        super().__init__()
        self.L = _check_side(L)
        levels = self.L.bit_length() - 1
        self.depth = levels if depth is None else check_count(depth, "depth")
        if self.depth > levels:
            raise ValueError(f"depth must be in 1..{levels} (log2 L) for L={self.L}, "
                             f"got {self.depth}")
        self.n_sites = self.L * self.L
        self.couplings = check_count(couplings, "couplings")
        self.hidden = check_count(hidden, "hidden")
        self.scale_limit = check_positive(scale_limit, "scale_limit")
        dtype, device = resolve_real(dtype, device)
        generator = self._start_rng(seed)
        options = {"couplings": self.couplings, "hidden": self.hidden,
                   "scale_limit": self.scale_limit, "generator": generator,
                   "dtype": dtype, "device": device}
        self.layers = torch.nn.ModuleList(
            BlockLayer(kind, block_sites(self.L, 2 ** k, offset), **options)
            for k, kind, offset in self._plan())
        self.register_buffer("scales", self._latent_scales().to(device), persistent=False)

    def _plan(self) -> list[tuple[int, str, int]]:
        """(scale, kind, block offset) of every layer, in the inference order."""
        plan = []
        for k in range(self.depth):
            if self.L // 2 ** k > 2:
                plan.append((k, "disentangler", 1))
            plan.append((k, "decimator", 0))
        return plan

    def _latent_scales(self) -> torch.Tensor:
        """The scale of each site of z, LongTensor ``(n_sites,)``."""
        scales = torch.full((self.n_sites,), self.depth, dtype=torch.long)
        for k in range(self.depth):
            scales[block_sites(self.L, 2 ** k, 0)[:, 1:]] = k
        return scales

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x = f(z) and log |det dx/dz| ``(B,)`` for latent points ``z``
        ``(B, n_sites)`` (generation: from the top scale down to the lattice)."""
        return chain_forward(list(self.layers)[::-1], z)  # layers are in inference order

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = f^{-1}(x) and log |det dz/dx| ``(B,)`` for lattice configurations ``x``
        ``(B, n_sites)`` (inference: from the lattice up to the top scale)."""
        return chain_inverse(list(self.layers)[::-1], x)

    def latents(self, x) -> list[torch.Tensor]:
        """The renormalized collective variables of ``x`` ``(B, n_sites)``: a list of
        ``depth + 1`` tensors, element k = ``z[:, scales == k]`` ``(B, count_k)`` (in
        site order) with z = ``inverse(x)``; at full depth count_k = 3 (L / 2^(k+1))^2
        for k < depth and 1 for k = depth."""
        x = self.validate_configurations(x).reshape(-1, self.n_sites)
        z, _ = self.inverse(x)
        return [z[:, self.scales == k] for k in range(self.depth + 1)]

    def _config(self) -> dict:
        return {"L": self.L, "depth": self.depth, "couplings": self.couplings,
                "hidden": self.hidden, "scale_limit": self.scale_limit,
                "dtype": str(self.dtype).replace("torch.", ""), "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"n_sites": self.n_sites, "support": self.support, "L": self.L,
                "depth": self.depth, "couplings": self.couplings, "hidden": self.hidden}
