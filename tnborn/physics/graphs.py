"""Interaction graphs for coupling fits: lattice neighbour pairs, plaquettes, triples.

Sites of an L x L lattice are row-major (index ``r * L + c``), as in
:class:`tnborn.physics.Ising2D`. Every helper returns a LongTensor of distinct site
tuples with distinct sites in each (on small periodic lattices, where two bond
directions land on the same pair, the repeat is dropped and the first kept), in a
fixed order: the kinds in the order asked for, each kind site by site.

:func:`check_terms` validates a caller's own terms the same way (integer tensor of
shape ``(T, k)``, sites in range, no repeated site in a term, no term given twice).
"""

from __future__ import annotations

import torch

from ..checks import as_tensor, check_bool, check_int

__all__ = ["lattice_pairs", "lattice_plaquettes", "lattice_triples", "check_terms"]

_NEIGHBOURS = {
    # (dr, dc) of each bond direction, one per bond (the opposite direction is the
    # same bond seen from the other end)
    "nearest": ((0, 1), (1, 0)),
    "next_nearest": ((1, 1), (1, -1)),
}


def _grid(L: int):
    return torch.meshgrid(torch.arange(L), torch.arange(L), indexing="ij")


def _bonds(L: int, dr: int, dc: int, periodic: bool) -> torch.Tensor:
    r, c = _grid(L)
    r2, c2 = r + dr, c + dc
    if periodic:
        r2, c2 = r2 % L, c2 % L
        keep = torch.ones_like(r, dtype=torch.bool)
    else:
        keep = (r2 >= 0) & (r2 < L) & (c2 >= 0) & (c2 < L)
    return torch.stack([(r * L + c)[keep], (r2 * L + c2)[keep]], -1)


def _first_occurrences(terms: torch.Tensor) -> torch.Tensor:
    """Drop the terms with a repeated site and the repeats of a site set (in any
    order), keeping the first occurrence of each and the order."""
    if terms.shape[0] == 0:
        return terms
    ordered = terms.sort(dim=1).values
    distinct = (ordered[:, 1:] != ordered[:, :-1]).all(1)
    seen, keep = set(), []
    for index, key in enumerate(map(tuple, ordered.tolist())):
        if distinct[index] and key not in seen:
            seen.add(key)
            keep.append(index)
    return terms[torch.tensor(keep, dtype=torch.long)]


def lattice_pairs(L: int, neighbours=("nearest", "next_nearest"), *,
                  periodic: bool = True) -> torch.Tensor:
    """Site pairs of the L x L square lattice, LongTensor ``(P, 2)``.

    Args:
        L: linear size, an integer >= 2 (n = L^2 sites, row-major).
        neighbours: a kind or a sequence of kinds: ``"nearest"`` (right and down
            neighbour of every site, 2 L^2 pairs when periodic and L >= 3) and
            ``"next_nearest"`` (the two diagonal neighbours down-right and down-left,
            2 L^2 pairs when periodic and L >= 3).
        periodic: wrap around (default) or keep only the pairs inside the lattice.

    The pairs come kind by kind in the order of ``neighbours``, each kind by direction
    and site. A pair that a periodic lattice with L = 2 produces twice is listed once.
    """
    L = check_int(L, "L", 2)
    periodic = check_bool(periodic, "periodic")
    if isinstance(neighbours, str):
        neighbours = (neighbours,)
    try:
        kinds = list(neighbours)
    except TypeError:
        raise TypeError(f"neighbours must be a kind or a sequence of kinds, got "
                        f"{neighbours!r}") from None
    if not kinds:
        raise ValueError("neighbours is empty: give 'nearest' and/or 'next_nearest'")
    for kind in kinds:
        if kind not in _NEIGHBOURS:
            raise ValueError(f"unknown neighbour kind {kind!r}; choose from "
                             f"{sorted(_NEIGHBOURS)}")
    if len(set(kinds)) != len(kinds):
        raise ValueError(f"neighbours lists a kind twice: {kinds}")
    pairs = torch.cat([_bonds(L, dr, dc, periodic) for kind in kinds
                       for dr, dc in _NEIGHBOURS[kind]])
    return _first_occurrences(pairs)


def _squares(L: int, periodic: bool) -> torch.Tensor:
    """Corners (top-left, top-right, bottom-right, bottom-left) of each elementary
    square, one square per top-left site."""
    r, c = _grid(L)
    if not periodic:
        r, c = r[:-1, :-1], c[:-1, :-1]
    r1, c1 = (r + 1) % L, (c + 1) % L
    return torch.stack([r * L + c, r * L + c1, r1 * L + c1, r1 * L + c], -1).reshape(-1, 4)


def lattice_plaquettes(L: int, *, periodic: bool = True) -> torch.Tensor:
    """The 4 corner sites of every elementary square, LongTensor ``(Q, 4)``: L^2
    squares when periodic (L >= 3), (L - 1)^2 when open. Corners in the order top-left,
    top-right, bottom-right, bottom-left; squares by their top-left site.

    On a periodic lattice with L = 2 all squares have the same 4 sites: one plaquette.
    """
    L = check_int(L, "L", 2)
    periodic = check_bool(periodic, "periodic")
    return _first_occurrences(_squares(L, periodic))


def lattice_triples(L: int, *, periodic: bool = True) -> torch.Tensor:
    """Every 3 of the 4 corners of every elementary square, LongTensor ``(T, 3)``: 4
    triples per square (each leaves out one corner, in corner order), 4 L^2 when
    periodic (L >= 3). A triple shared by two squares (only on tiny periodic lattices)
    is listed once."""
    L = check_int(L, "L", 2)
    periodic = check_bool(periodic, "periodic")
    squares = _squares(L, periodic)
    leave_out = torch.tensor([[1, 2, 3], [0, 2, 3], [0, 1, 3], [0, 1, 2]])
    return _first_occurrences(squares[:, leave_out].reshape(-1, 3))


def check_terms(terms, n_sites: int, order: int, name: str) -> torch.Tensor:
    """Validate interaction terms of ``order`` sites each: an integer tensor (or nested
    sequence) of shape ``(T, order)`` with sites in ``0 .. n_sites-1``, distinct sites in
    every term and no term (as a set of sites) given twice. Returns a LongTensor on the
    CPU. TypeError for a non-integer input, ValueError for a bad shape or bad sites."""
    tensor = as_tensor(terms, f"{name} must be an integer tensor of shape (count, {order}), "
                              f"got {type(terms).__name__}").detach().cpu()
    if tensor.numel() == 0 and tuple(tensor.shape) in ((0,), (0, order)):
        return torch.zeros(0, order, dtype=torch.long)
    if tensor.dtype == torch.bool or tensor.is_floating_point() or tensor.is_complex():
        raise TypeError(f"{name} must hold integer site indices, got dtype {tensor.dtype}")
    if tensor.ndim != 2 or tensor.shape[1] != order:
        raise ValueError(f"{name} must have shape (count, {order}), got "
                         f"{tuple(tensor.shape)}")
    tensor = tensor.long()
    low, high = int(tensor.min()), int(tensor.max())
    if low < 0 or high >= n_sites:
        bad = int(torch.nonzero((tensor < 0) | (tensor >= n_sites))[0, 0])
        raise ValueError(f"{name} has sites outside 0..{n_sites - 1}: row {bad} is "
                         f"{tensor[bad].tolist()}")
    ordered = tensor.sort(dim=1).values
    repeated = (ordered[:, 1:] == ordered[:, :-1]).any(1)
    if repeated.any():
        bad = int(torch.nonzero(repeated)[0, 0])
        kind = "a self-pair" if order == 2 else "a repeated site"
        raise ValueError(f"{name} row {bad} is {kind}: {tensor[bad].tolist()}")
    unique, inverse, counts = torch.unique(ordered, dim=0, return_inverse=True,
                                           return_counts=True)
    if (counts > 1).any():
        rows = torch.nonzero(counts[inverse] > 1).flatten()[:2].tolist()
        raise ValueError(f"{name} lists the same sites twice: rows {rows[0]} and {rows[1]} "
                         f"are {tensor[rows[0]].tolist()} and {tensor[rows[1]].tolist()}")
    return tensor
