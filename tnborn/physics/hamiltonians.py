"""Classical spin Hamiltonians on binary configurations.

Configurations are integer tensors with values 0/1 and shape ``(..., n_sites)``; the
spins are ``s = 2 x - 1``. Every Hamiltonian here is pairwise::

    E(s) = - sum_{i<j} J_ij s_i s_j - sum_i h_i s_i

and exposes its dense ``couplings`` (symmetric, zero diagonal) and ``fields`` so generic
code (exact enumeration, pairwise ARNNs, coupling diagnostics) can use any of them. The
lattice and mean-field models compute ``energy`` with a specialised kernel (rolls on the
lattice, the total magnetization for Curie-Weiss) and build the dense couplings only
when asked for them. Energies are float64 on the device of ``x``.
"""

from __future__ import annotations

import math

import torch

from ..base import validate_configurations
from ..checks import check_int, check_real, check_seed
from ..pairwise import check_couplings

__all__ = ["PairwiseHamiltonian", "Ising2D", "CurieWeiss", "SherringtonKirkpatrick"]


def check_lattice(L, J, h, periodic) -> tuple[int, float, float, bool]:
    """The arguments of a square-lattice model: side L >= 2, real J and h, a bool."""
    if not isinstance(periodic, bool):
        raise TypeError(f"periodic must be a bool, got {periodic!r}")
    return check_int(L, "L", 2), check_real(J, "J"), check_real(h, "h"), periodic


# ---------------------------------------------------------------------- base class
class PairwiseHamiltonian:
    """E(s) = -sum_{i<j} J_ij s_i s_j - sum_i h_i s_i with s = 2x - 1.

    Args:
        couplings: symmetric (n, n) real matrix with zero diagonal; ``J_ij`` is the
            coupling of the pair (i, j) (each pair counted once in the energy).
        fields: (n,) real vector ``h`` (zeros by default).

    Attributes:
        n_sites: number of spins n.
        couplings: float64 (n, n) tensor (CPU).
        fields: float64 (n,) tensor (CPU).

    Raises:
        ValueError: couplings not square, not symmetric (to 1e-12), nonzero diagonal,
            non-finite entries, or fields of the wrong shape.
    """

    def __init__(self, couplings, fields=None):
        couplings, fields = check_couplings(couplings, fields)
        self._init(couplings.shape[0], couplings, fields)

    # subclasses call this instead of __init__ and may leave the dense couplings unset
    def _init(self, n_sites: int, couplings=None, fields=None) -> None:
        self.n_sites = int(n_sites)
        self._couplings = couplings
        self._fields = fields
        self._device_cache: dict = {}

    # ------------------------------------------------------------------ dense form
    @property
    def couplings(self) -> torch.Tensor:
        """Dense symmetric (n, n) float64 coupling matrix with zero diagonal."""
        if self._couplings is None:
            self._couplings = self._build_couplings()
        return self._couplings

    @property
    def fields(self) -> torch.Tensor:
        """(n,) float64 external fields h_i."""
        if self._fields is None:
            self._fields = self._build_fields()
        return self._fields

    def _build_couplings(self) -> torch.Tensor:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _build_fields(self) -> torch.Tensor:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _dense_on(self, device: torch.device) -> tuple[torch.Tensor, torch.Tensor]:
        if device.type == "cpu":
            return self.couplings, self.fields
        key = str(device)
        if key not in self._device_cache:
            self._device_cache[key] = (self.couplings.to(device), self.fields.to(device))
        return self._device_cache[key]

    # ------------------------------------------------------------------ public API
    def spins(self, x) -> torch.Tensor:
        """Validate 0/1 configurations (..., n) and return spins ``2x - 1`` as float64."""
        x = validate_configurations(x, self.n_sites, 2)
        return (2 * x - 1).to(torch.float64)

    def energy(self, x) -> torch.Tensor:
        """Energies of 0/1 configurations ``x`` (..., n): float64 tensor of shape (...,)."""
        return self._energy(self.spins(x))

    def magnetization(self, x) -> torch.Tensor:
        """|m| = |(1/n) sum_i s_i| per configuration, float64 ``(...,)``."""
        return self.spins(x).mean(-1).abs()

    def local_fields(self, x) -> torch.Tensor:
        """Local fields ``sum_j J_ij s_j + h_i`` for configurations (..., n) -> (..., n).

        Flipping spin i changes the energy by ``2 s_i * local_fields_i``.
        """
        s = self.spins(x)
        J, h = self._dense_on(s.device)
        return s @ J + h

    def _energy(self, s: torch.Tensor) -> torch.Tensor:
        """Energy of float64 spins (..., n) (no validation)."""
        J, h = self._dense_on(s.device)
        return -0.5 * ((s @ J) * s).sum(-1) - s @ h

    def __repr__(self) -> str:
        return f"{type(self).__name__}(n_sites={self.n_sites})"


# ---------------------------------------------------------------------- lattices
class LatticeIsing(PairwiseHamiltonian):
    """A nearest-neighbour model with one coupling ``J`` on every bond of ``bonds()``
    (repeats add up) and one field ``h``: the dense form of the lattice models."""

    def bonds(self) -> torch.Tensor:  # pragma: no cover - subclasses
        raise NotImplementedError

    def _build_couplings(self) -> torch.Tensor:
        n = self.n_sites
        b = self.bonds()
        J = torch.zeros(n, n, dtype=torch.float64)
        ones = torch.full((b.shape[0],), self.J, dtype=torch.float64)
        J.index_put_((b[:, 0], b[:, 1]), ones, accumulate=True)
        J.index_put_((b[:, 1], b[:, 0]), ones, accumulate=True)
        return J

    def _build_fields(self) -> torch.Tensor:
        return torch.full((self.n_sites,), self.h, dtype=torch.float64)


# ---------------------------------------------------------------------- 2D Ising
class Ising2D(LatticeIsing):
    """Nearest-neighbour Ising model on an L x L square lattice.

    E = -J sum_<ij> s_i s_j - h sum_i s_i, sites row-major (index ``r * L + c``).

    Periodic (default): every site bonds to its right and its down neighbour with
    wrap-around, 2 L^2 bonds in all. On L = 2 each neighbouring pair is then bonded twice
    (coupling 2J): the convention under which Kaufman's finite-lattice formula
    (:func:`tnborn.physics.ising2d_log_z`) is exact. Open: only bonds inside the lattice,
    2 L (L - 1) of them.

    ``energy`` works on (..., L, L) spins with shifts (O(L^2) per sample); the dense
    ``couplings`` (n^2 memory) are built only on first access.
    """

    def __init__(self, L: int, *, J: float = 1.0, h: float = 0.0, periodic: bool = True):
        self.L, self.J, self.h, self.periodic = check_lattice(L, J, h, periodic)
        self._init(self.L * self.L)

    def bonds(self) -> torch.Tensor:
        """LongTensor (n_bonds, 2) of the site pairs (i, j) of every bond (with repeats)."""
        L = self.L
        r, c = torch.meshgrid(torch.arange(L), torch.arange(L), indexing="ij")
        if self.periodic:
            right = torch.stack([r * L + c, r * L + (c + 1) % L], -1).reshape(-1, 2)
            down = torch.stack([r * L + c, ((r + 1) % L) * L + c], -1).reshape(-1, 2)
        else:
            right = torch.stack([r[:, :-1] * L + c[:, :-1], r[:, 1:] * L + c[:, 1:]],
                                -1).reshape(-1, 2)
            down = torch.stack([r[:-1] * L + c[:-1], r[1:] * L + c[1:]], -1).reshape(-1, 2)
        return torch.cat([right, down])

    def _energy(self, s: torch.Tensor) -> torch.Tensor:
        L = self.L
        g = s.reshape(*s.shape[:-1], L, L)
        if self.periodic:
            bond_sum = ((g * torch.roll(g, -1, dims=-1)).sum((-2, -1))
                        + (g * torch.roll(g, -1, dims=-2)).sum((-2, -1)))
        else:
            bond_sum = ((g[..., :, :-1] * g[..., :, 1:]).sum((-2, -1))
                        + (g[..., :-1, :] * g[..., 1:, :]).sum((-2, -1)))
        energy = -self.J * bond_sum
        if self.h != 0.0:
            energy = energy - self.h * s.sum(-1)
        return energy

    def local_fields(self, x) -> torch.Tensor:
        """``J * (sum of the neighbours' spins) + h`` per site, (..., n), with shifts."""
        s = self.spins(x)
        L = self.L
        g = s.reshape(*s.shape[:-1], L, L)
        if self.periodic:
            total = (torch.roll(g, 1, -1) + torch.roll(g, -1, -1)
                     + torch.roll(g, 1, -2) + torch.roll(g, -1, -2))
        else:
            total = torch.zeros_like(g)
            total[..., :, 1:] += g[..., :, :-1]
            total[..., :, :-1] += g[..., :, 1:]
            total[..., 1:, :] += g[..., :-1, :]
            total[..., :-1, :] += g[..., 1:, :]
        return (self.J * total + self.h).reshape(s.shape)

    def __repr__(self) -> str:
        return (f"Ising2D(L={self.L}, J={self.J}, h={self.h}, "
                f"periodic={self.periodic})")


# ---------------------------------------------------------------------- Curie-Weiss
class CurieWeiss(PairwiseHamiltonian):
    """Fully connected ferromagnet: E = -(J/n) sum_{i<j} s_i s_j - h sum_i s_i.

    With M = sum_i s_i this is E = -(J/(2n)) (M^2 - n) - h M, which ``energy`` uses
    (O(n) per sample). Dense couplings J_ij = J/n (i != j) are built on first access.
    """

    def __init__(self, n: int, *, J: float = 1.0, h: float = 0.0):
        n = check_int(n, "n", 1)
        self.J = check_real(J, "J")
        self.h = check_real(h, "h")
        self._init(n)

    def energy_of_magnetization(self, M) -> torch.Tensor:
        """E as a function of the total magnetization M = sum s (tensor or number)."""
        M = torch.as_tensor(M, dtype=torch.float64)
        n = self.n_sites
        return -(self.J / (2 * n)) * (M * M - n) - self.h * M

    def _build_couplings(self) -> torch.Tensor:
        n = self.n_sites
        J = torch.full((n, n), self.J / n, dtype=torch.float64)
        J.fill_diagonal_(0.0)
        return J

    def _build_fields(self) -> torch.Tensor:
        return torch.full((self.n_sites,), self.h, dtype=torch.float64)

    def _energy(self, s: torch.Tensor) -> torch.Tensor:
        return self.energy_of_magnetization(s.sum(-1))

    def __repr__(self) -> str:
        return f"CurieWeiss(n={self.n_sites}, J={self.J}, h={self.h})"


# ---------------------------------------------------------------------- SK spin glass
class SherringtonKirkpatrick(PairwiseHamiltonian):
    """Sherrington-Kirkpatrick spin glass with Gaussian couplings.

    J_ij ~ Normal(0, J^2 / n) i.i.d. for i < j, drawn with
    ``torch.Generator().manual_seed(seed)`` (same seed, same couplings), symmetric with
    zero diagonal; uniform field h.
    """

    def __init__(self, n: int, *, seed: int, J: float = 1.0, h: float = 0.0):
        n = check_int(n, "n", 1)
        self.seed = check_seed(seed)
        self.J = check_real(J, "J")
        self.h = check_real(h, "h")
        generator = torch.Generator().manual_seed(self.seed)
        gauss = torch.randn(n, n, generator=generator, dtype=torch.float64)
        upper = torch.triu(gauss, diagonal=1) * (self.J / math.sqrt(n))
        couplings = upper + upper.T
        fields = torch.full((n,), self.h, dtype=torch.float64)
        self._init(n, couplings, fields)

    def __repr__(self) -> str:
        return f"SherringtonKirkpatrick(n={self.n_sites}, seed={self.seed}, J={self.J}, h={self.h})"
