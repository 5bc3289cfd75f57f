"""The nearest-neighbour Ising model on a three-dimensional box.

Sites of an L1 x L2 x L3 box are numbered row-major, ``(a * L2 + b) * L3 + c`` for the
site at (a, b, c); the spins of a configuration ``(..., n)`` reshape to
``(..., L1, L2, L3)``. Every site bonds to its +1 neighbour along each axis::

          (a, b, c+1)
         /
    (a, b, c) --- (a, b+1, c)        3 bonds per site (periodic): 3 n in all
        |
    (a+1, b, c)

Periodic (default) with wrap-around; on a side of length 2 each neighbouring pair is
then bonded twice (coupling 2J), the convention of :class:`tnborn.physics.Ising2D`.
Open: only bonds inside the box.
"""

from __future__ import annotations

import torch

from ..checks import check_int, check_real
from .hamiltonians import LatticeIsing

__all__ = ["Ising3D", "box_shape", "box_bonds"]


def box_shape(L, dim: int) -> tuple[int, ...]:
    """``L`` (one side, or ``dim`` sides) as a tuple of ``dim`` integer sides >= 2;
    ``dim`` 2 or 3 (ValueError otherwise)."""
    if dim not in (2, 3):
        raise ValueError(f"dim must be 2 or 3, got {dim!r}")
    if isinstance(L, (tuple, list)):
        if len(L) != dim:
            raise ValueError(f"a {dim}D box needs {dim} sides, got {len(L)}: {tuple(L)}")
        return tuple(check_int(side, "side", 2) for side in L)
    return (check_int(L, "L", 2),) * dim


def box_bonds(shape: tuple[int, ...], periodic: bool) -> torch.Tensor:
    """LongTensor (n_bonds, 2): the (site, +1 neighbour) pairs along every axis of a
    row-major box, axis by axis (periodic: with wrap-around and the repeats on sides of
    length 2; open: bonds inside the box)."""
    index = torch.arange(int(torch.tensor(shape).prod())).reshape(shape)
    pairs = []
    for axis in range(len(shape)):
        if periodic:
            pairs.append(torch.stack([index, index.roll(-1, axis)], -1).reshape(-1, 2))
        else:
            ahead = index.narrow(axis, 1, shape[axis] - 1)
            behind = index.narrow(axis, 0, shape[axis] - 1)
            pairs.append(torch.stack([behind, ahead], -1).reshape(-1, 2))
    return torch.cat(pairs)


class Ising3D(LatticeIsing):
    """E = -J sum_<ij> s_i s_j - h sum_i s_i on an L1 x L2 x L3 box (module docstring).

    Args:
        L: the side of a cube, or three sides ``(L1, L2, L3)``, each >= 2.
        J, h: coupling and field (real).
        periodic: wrap-around bonds (default) or an open box.

    Attributes:
        shape: the three sides; n_sites = L1 L2 L3.

    ``energy`` uses shifts along the three axes (O(n) per sample); the dense
    ``couplings`` are built only on first access.
    """

    def __init__(self, L, *, J: float = 1.0, h: float = 0.0, periodic: bool = True):
        if not isinstance(periodic, bool):
            raise TypeError(f"periodic must be a bool, got {periodic!r}")
        self.shape = box_shape(L, 3)
        self.J, self.h, self.periodic = check_real(J, "J"), check_real(h, "h"), periodic
        self._init(self.shape[0] * self.shape[1] * self.shape[2])

    def bonds(self) -> torch.Tensor:
        """LongTensor (n_bonds, 2) of the site pairs of every bond (with repeats)."""
        return box_bonds(self.shape, self.periodic)

    def _neighbour_sum(self, g: torch.Tensor) -> torch.Tensor:
        """Sum of the +1 neighbours' spins along every axis, ``(..., L1, L2, L3)``."""
        total = torch.zeros_like(g)
        for axis in (-3, -2, -1):
            if self.periodic:
                total = total + torch.roll(g, -1, axis)
            else:
                size = g.shape[axis]
                total.narrow(axis, 0, size - 1).add_(g.narrow(axis, 1, size - 1))
        return total

    def _energy(self, s: torch.Tensor) -> torch.Tensor:
        g = s.reshape(*s.shape[:-1], *self.shape)
        energy = -self.J * (g * self._neighbour_sum(g)).sum((-3, -2, -1))
        if self.h != 0.0:
            energy = energy - self.h * s.sum(-1)
        return energy

    def local_fields(self, x) -> torch.Tensor:
        """``J * (sum of the neighbours' spins) + h`` per site, (..., n), with shifts."""
        s = self.spins(x)
        g = s.reshape(*s.shape[:-1], *self.shape)
        total = torch.zeros_like(g)
        for axis in (-3, -2, -1):
            if self.periodic:
                total = total + torch.roll(g, -1, axis) + torch.roll(g, 1, axis)
            else:
                size = g.shape[axis]
                total.narrow(axis, 0, size - 1).add_(g.narrow(axis, 1, size - 1))
                total.narrow(axis, 1, size - 1).add_(g.narrow(axis, 0, size - 1))
        return (self.J * total + self.h).reshape(s.shape)

    def __repr__(self) -> str:
        return (f"Ising3D(L={self.shape}, J={self.J}, h={self.h}, "
                f"periodic={self.periodic})")
