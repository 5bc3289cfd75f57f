"""Canonical form of a tree tensor network with a movable centre node.

Node tensors have legs (first child, second child, parent)::

           p                 T: (D_c1, D_c2, D_p)
           |                 a child leg is a site (dimension d) or the parent leg
        ---T---              of a child node; the root's parent leg has dimension 1,
       /       \\             so the root is the matrix between the two top subtrees
     c1         c2

A node is an isometry towards leg ``k`` when, with ``k`` as the column index, its
reshaped matrix has orthonormal columns (e.g. towards the parent:
``sum_{c1,c2} conj(T[c1,c2,p]) T[c1,c2,p'] = delta(p, p')``). In canonical form with
centre c every node other than c is an isometry towards c, so Z = ||T_c||^2. Moving the
centre across an edge is a QR decomposition; functions here act in place on the list of
node tensors (post-order, see :class:`~tnborn.ttn.tree.Tree`).
"""

from __future__ import annotations

import math

import torch

from .tree import Tree

# permutation putting leg k last, and its inverse
LEG_LAST = {0: (1, 2, 0), 1: (0, 2, 1), 2: (0, 1, 2)}
LEG_BACK = {0: (2, 0, 1), 1: (0, 2, 1), 2: (0, 1, 2)}


def isometry_towards(t: torch.Tensor, leg: int) -> tuple[torch.Tensor, torch.Tensor]:
    """QR of node ``t`` with ``leg`` as the column index: ``t = q x_leg r``.

    Returns ``q`` (an isometry towards ``leg``, whose dimension becomes k) and ``r``
    ``(k, D_leg)``.
    """
    m = t.permute(LEG_LAST[leg])
    a, b, c = m.shape
    q, r = torch.linalg.qr(m.reshape(a * b, c))
    return q.reshape(a, b, -1).permute(LEG_BACK[leg]), r


def absorb(t: torch.Tensor, leg: int, r: torch.Tensor) -> torch.Tensor:
    """Contract matrix ``r (k, D_leg)`` into ``leg`` of node ``t``:
    ``t'[.., k, ..] = sum_e r[k, e] t[.., e, ..]``."""
    return torch.tensordot(t, r, dims=([leg], [1])).permute(LEG_BACK[leg])


def move_up(tree: Tree, tensors: list[torch.Tensor], u: int) -> torch.Tensor:
    """Move the centre from node ``u`` to its parent; returns the norm of the R factor."""
    tensors[u], r = isometry_towards(tensors[u], 2)
    v = tree.parent[u]
    tensors[v] = absorb(tensors[v], tree.slot[u], r)
    return torch.linalg.norm(r)


def move_down(tree: Tree, tensors: list[torch.Tensor], c: int) -> None:
    """Move the centre from the parent of node ``c`` down to ``c``."""
    v = tree.parent[c]
    tensors[v], r = isometry_towards(tensors[v], tree.slot[c])
    tensors[c] = absorb(tensors[c], 2, r)


def shift_center(tree: Tree, tensors: list[torch.Tensor], start: int, stop: int) -> None:
    """Move the centre of a canonical tree from node ``start`` to node ``stop``."""
    for node, upward in tree.path(start, stop):
        if upward:
            move_up(tree, tensors, node)
        else:
            move_down(tree, tensors, node)


def canonicalize_from_scratch(tree: Tree, tensors: list[torch.Tensor], center: int) -> float:
    """Bring arbitrary node tensors into canonical form at ``center`` and normalize.

    Nodes are made isometries towards their parents in post-order, each R factor
    rescaled to unit norm as it is absorbed (no under- or overflow however deep the
    tree); then the centre moves from the root to ``center``. Returns ln Z of the input.
    """
    log_z = 0.0
    for u in range(tree.root):
        log_z += _absorb_norm(tensors, tree.parent[u], move_up(tree, tensors, u))
    log_z += _absorb_norm(tensors, tree.root, torch.linalg.norm(tensors[tree.root]))
    shift_center(tree, tensors, tree.root, center)
    return log_z


def _absorb_norm(tensors: list[torch.Tensor], k: int, norm: torch.Tensor) -> float:
    """Divide node ``k`` by ``norm``; return ln(norm^2). Raise ValueError if the norm is
    zero or not finite (the state cannot be normalized)."""
    value = float(norm)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError("the tree tensor network cannot be normalized: its norm is zero "
                         "or not finite")
    tensors[k] = tensors[k] / norm
    return 2.0 * math.log(value)


def bond_spectra(tree: Tree, tensors: list[torch.Tensor], center: int) -> list[torch.Tensor]:
    """Normalized singular values at every edge of ``tree.edges`` (in that order).

    Works on a copy: the centre walks the tree depth-first; at a non-root edge u it sits
    on u, whose matrix ``(c1 c2 | p)`` then carries the Schmidt values of the cut
    (everything else is isometric towards it); at the root edge it is the root matrix.
    """
    tensors = list(tensors)
    shift_center(tree, tensors, center, tree.root)
    spectra = {}
    current = tree.root
    for u in reversed(range(tree.root + 1)):  # reversed post-order visits parents first
        if u != tree.root and tree.parent[u] == tree.root:
            continue
        shift_center(tree, tensors, current, u)
        current = u
        t = tensors[u]
        c1, c2, p = t.shape
        matrix = t.reshape(c1, c2) if u == tree.root else t.reshape(c1 * c2, p)
        s = torch.linalg.svdvals(matrix)
        spectra[u] = s / torch.linalg.norm(s)
    return [spectra[u] for u in tree.edges]


def isometry_error(tree: Tree, tensors: list[torch.Tensor], center: int) -> float:
    """Largest entry of |Q^H Q - I| over the nodes other than ``center``, each reshaped
    with its leg towards ``center`` as the column index (the isometry condition)."""
    worst = 0.0
    on_path = set()  # nodes whose subtree holds the centre: their leg towards it is a child
    v = center
    while v != -1:
        on_path.add(v)
        v = tree.parent[v]
    for v, t in enumerate(tensors):
        if v == center:
            continue
        leg = 2
        if v in on_path:
            leg = next(i for i, c in enumerate(tree.children[v])
                       if not c.is_site and c.index in on_path)
        m = t.permute(LEG_LAST[leg])
        m = m.reshape(-1, m.shape[2])
        gram = m.mH @ m
        eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
        worst = max(worst, float((gram - eye).abs().max()))
    return worst
