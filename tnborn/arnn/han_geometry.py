"""Index tables of the HAN hierarchy on the periodic square lattice and on 3D boxes.

Both return ``(levels, contexts, last, neighbours, order)``: ``levels`` a list of
LongTensors ``(cells, context + cross)`` (for each cell of the level the sites of its
boundary, then the sites it generates in their order; level 0 is one cell without
context), the context sizes, the last level's sites ``(m,)`` with their nearest
neighbours ``(m, 2 dim)``, and the model's site order (level by level, within a level
cross position by cross position, then cell by cell).

Box hierarchy (3D; sides L_a powers of two >= 2, row-major sites)::

    level 0: every site with a coordinate 0 (the three planes a = 0, b = 0, c = 0:
             the boundary of the whole periodic box);
    level k: cells of sides s = (s_1, s_2, s_3), halved from L along every axis
             whose side is still >= 4; a cell's boundary (an offset 0 or s_a on some
             axis, wrapping around) is known, and it generates its interior sites on
             the middle planes (offset s_a / 2 on some axis with s_a >= 4);
    last:    cells of sides 2: the one interior site, given its 2 dim neighbours.

On a periodic side of 2 a site's two neighbours along that axis are the same site,
listed twice: the heat bath then sees the doubled bond of :class:`~tnborn.physics.
Ising3D`.
"""

from __future__ import annotations

import itertools

import torch

from ..checks import check_int

__all__ = ["plane_geometry", "box_geometry", "check_plane_side", "check_box_sides"]


def check_plane_side(L) -> int:
    L = check_int(L, "L", 4)
    if L & (L - 1):
        raise ValueError(f"L must be a power of two >= 4, got {L}")
    return L


def check_box_sides(L) -> tuple[int, int, int]:
    """One side or three sides of a 3D box (:func:`tnborn.physics.ising3d.box_shape`),
    each a power of two >= 2."""
    from ..physics.ising3d import box_shape
    sides = box_shape(tuple(L) if isinstance(L, (tuple, list)) else (L,) * 3, 3)
    if any(side & (side - 1) for side in sides):
        raise ValueError(f"the sides of a 3D HAN must be powers of two >= 2, got {sides}")
    return sides


def _finish(levels, contexts, last, neighbours, n_sites: int):
    last = torch.tensor(last)
    order = [lv[:, c:].T.reshape(-1) for lv, c in zip(levels, contexts)] + [last]
    order = torch.cat(order)
    if not torch.equal(torch.sort(order).values, torch.arange(n_sites)):  # pragma: no cover
        raise AssertionError("HAN hierarchy does not cover the lattice exactly once")
    return levels, contexts, last, torch.tensor(neighbours), order


def plane_geometry(L: int):
    """The 2D hierarchy of :mod:`tnborn.arnn.han` (its module docstring)."""
    def site(r, c):
        return (r % L) * L + (c % L)

    levels = [torch.tensor([[site(0, c) for c in range(L)]
                            + [site(r, 0) for r in range(1, L)]])]
    contexts = [0]
    s = L
    while s >= 4:
        m = s // 2
        rows = []
        for R in range(0, L, s):
            for C in range(0, L, s):
                ring = ([site(R, C + j) for j in range(s)]
                        + [site(R + j, C + s) for j in range(s)]
                        + [site(R + s, C + s - j) for j in range(s)]
                        + [site(R + s - j, C) for j in range(s)])
                cross = ([site(R + m, C + j) for j in range(1, s)]
                         + [site(R + i, C + m) for i in range(1, s) if i != m])
                rows.append(ring + cross)
        levels.append(torch.tensor(rows))
        contexts.append(4 * s)
        s //= 2
    last, neighbours = [], []
    for R in range(0, L, 2):
        for C in range(0, L, 2):
            last.append(site(R + 1, C + 1))
            neighbours.append([site(R, C + 1), site(R + 2, C + 1),
                               site(R + 1, C), site(R + 1, C + 2)])
    return _finish(levels, contexts, last, neighbours, L * L)


def box_geometry(shape: tuple[int, int, int]):
    """The 3D box hierarchy of the module docstring (offsets in lexicographic order)."""
    L1, L2, L3 = shape

    def site(a, b, c):
        return ((a % L1) * L2 + b % L2) * L3 + c % L3

    levels = [torch.tensor([[site(*p) for p in itertools.product(
        range(L1), range(L2), range(L3)) if 0 in p]])]
    contexts = [0]
    sides = shape
    while max(sides) >= 4:
        offsets = list(itertools.product(*(range(s + 1) for s in sides)))
        ring = [o for o in offsets if any(x in (0, s) for x, s in zip(o, sides))]
        cross = [o for o in offsets if o not in ring
                 and any(s >= 4 and x == s // 2 for x, s in zip(o, sides))]
        rows = []
        for corner in itertools.product(*(range(0, L, s) for L, s in zip(shape, sides))):
            rows.append([site(*(c + x for c, x in zip(corner, o))) for o in ring + cross])
        levels.append(torch.tensor(rows))
        contexts.append(len(ring))
        sides = tuple(s // 2 if s >= 4 else s for s in sides)
    last, neighbours = [], []
    for a, b, c in itertools.product(range(0, L1, 2), range(0, L2, 2), range(0, L3, 2)):
        last.append(site(a + 1, b + 1, c + 1))
        neighbours.append([site(a, b + 1, c + 1), site(a + 2, b + 1, c + 1),
                           site(a + 1, b, c + 1), site(a + 1, b + 2, c + 1),
                           site(a + 1, b + 1, c), site(a + 1, b + 1, c + 2)])
    return _finish(levels, contexts, last, neighbours, L1 * L2 * L3)
