"""Topology of a binary tree over the sites 0..n-1: layouts, validation, traversal orders.

A tree is given as nested pairs of site indices, e.g. ``((0, 1), (2, (3, 4)))``. Its
internal nodes are numbered in post-order (first subtree, second subtree, node), so the
root is the last node, ``n_sites - 2``; a tree over n sites has n - 1 internal nodes::

              root                  node v: children (c1, c2) and a parent leg
             /    \\                 (the root's parent leg has dimension 1)
           A        B
          / \\      / \\             a child is a site (a physical leg) or a node
         0   1    2   v
                     / \\
                    3   4

Edges (bond cuts of the state) are the parent legs of the non-root nodes, except that
the legs A-root and root-B of the two top subtrees cut the sites the same way: they are
one edge, the *root edge*. Every edge is named by the sorted tuple of the sites below it;
the root edge by the sites of the first top subtree A.
"""

from __future__ import annotations

import numbers
from typing import NamedTuple


class Child(NamedTuple):
    """One child leg of a node: a site (``is_site``) or an internal node, by index."""

    is_site: bool
    index: int


def binary_tree(n_sites: int):
    """Balanced binary tree over sites ``0..n-1``: ``[lo, hi)`` split at the middle."""

    def split(lo, hi):
        if hi - lo == 1:
            return lo
        mid = (lo + hi) // 2
        return (split(lo, mid), split(mid, hi))

    return split(0, n_sites)


def grid_tree(height: int, width: int):
    """Tree over an ``height x width`` image (site ``r * width + c``).

    Each block is split in half across its longer side (rows on a tie), so the lowest
    subtrees hold neighbouring pixels: 1x2 pairs, then 2x2 squares, 2x4 blocks, ...
    """

    def split(r0, r1, c0, c1):
        if r1 - r0 == 1 and c1 - c0 == 1:
            return r0 * width + c0
        if r1 - r0 >= c1 - c0:
            mid = (r0 + r1) // 2
            return (split(r0, mid, c0, c1), split(mid, r1, c0, c1))
        mid = (c0 + c1) // 2
        return (split(r0, r1, c0, mid), split(r0, r1, mid, c1))

    return split(0, height, 0, width)


def _is_site(obj) -> bool:
    return isinstance(obj, numbers.Integral) and not isinstance(obj, bool)


def layout_tree(layout, n_sites: int):
    """The tree of a layout and the layout's plain name: ``"binary"`` -> ("binary"),
    ``(H, W)`` -> ((H, W)), an explicit tree -> ("tree").

    A pair of two integers is always read as ``(H, W)``; any other pair is an explicit
    tree (nested 2-tuples or 2-lists of site indices). Raises ValueError.
    """
    if isinstance(layout, str):
        if layout != "binary":
            raise ValueError(f"layout must be 'binary', (H, W) or a tree of nested pairs, "
                             f"got {layout!r}")
        return binary_tree(n_sites), layout
    if isinstance(layout, (tuple, list)) and len(layout) == 2 \
            and all(_is_site(v) for v in layout):
        height, width = (int(v) for v in layout)
        if height < 1 or width < 1 or height * width != n_sites:
            raise ValueError(f"layout (H, W) = ({height}, {width}) holds {height * width} "
                             f"sites, but n_sites = {n_sites} (a pair of two integers is "
                             "read as an image shape)")
        return grid_tree(height, width), (height, width)
    if isinstance(layout, (tuple, list)):
        return layout, "tree"
    raise ValueError(f"layout must be 'binary', (H, W) or a tree of nested pairs, "
                     f"got {type(layout).__name__}")


class Tree:
    """A validated binary tree over ``n_sites`` sites (None: as many as it has leaves)
    with precomputed traversals.

    Attributes (nodes in post-order, root last)
    ----------
    structure : the tree as nested tuples of ints.
    children : per node, its two ``Child`` legs (first, second).
    parent, slot : per node, its parent node and its leg (0 or 1) there; -1 for the root.
    leaves : per node, the sorted tuple of sites below it.
    depth : per node, its distance from the root.
    edges : the cut nodes in post-order (the root stands for the root edge).
    edge_names : their names (sorted site tuples), parallel to ``edges``.
    node_of_name : the node below which lie exactly the given sorted sites.
    sweep : the two-node learning order, see :meth:`_sweep_order`.
    events : the depth-first sampling order, see :meth:`_events`.
    """

    def __init__(self, structure, n_sites: int | None = None):
        self.n_sites, self.structure, self.children = _parse(structure, n_sites)
        n_nodes = len(self.children)
        self.n_nodes = n_nodes
        self.root = n_nodes - 1
        self.parent = [-1] * n_nodes
        self.slot = [-1] * n_nodes
        self.leaves: list[tuple[int, ...]] = []
        for v, pair in enumerate(self.children):
            below = []
            for i, child in enumerate(pair):
                if child.is_site:
                    below.append((child.index,))
                else:
                    self.parent[child.index], self.slot[child.index] = v, i
                    below.append(self.leaves[child.index])
            self.leaves.append(tuple(sorted(below[0] + below[1])))
        self.depth = [0] * n_nodes
        for v in range(n_nodes - 2, -1, -1):
            self.depth[v] = self.depth[self.parent[v]] + 1
        first = self.children[self.root][0]
        root_name = (first.index,) if first.is_site else self.leaves[first.index]
        self.edges = [v for v in range(n_nodes) if v == self.root
                      or self.parent[v] != self.root]
        self.edge_names = [root_name if v == self.root else self.leaves[v]
                           for v in self.edges]
        self.node_of_name = {leaves: v for v, leaves in enumerate(self.leaves)}
        self.sweep = self._sweep_order()
        self.events = self._events()

    def to_lists(self):
        """The structure as nested lists (plain data for saving)."""
        return _nested(self.structure, list)

    def node_children(self, v: int) -> list[int]:
        """The internal-node children of node ``v`` (0, 1 or 2 of them)."""
        return [c.index for c in self.children[v] if not c.is_site]

    # ---------------------------------------------------------------- traversals
    def path(self, start: int, stop: int) -> list[tuple[int, bool]]:
        """Centre moves from node ``start`` to node ``stop``: ``(u, True)`` moves from u
        up to its parent, ``(c, False)`` from c's parent down to c."""
        ups, downs = [], []
        a, b = start, stop
        while a != b:
            if self.depth[a] >= self.depth[b]:
                ups.append(a)
                a = self.parent[a]
            else:
                downs.append(b)
                b = self.parent[b]
        return [(u, True) for u in ups] + [(c, False) for c in reversed(downs)]

    def _sweep_order(self) -> list[tuple[int, int]]:
        """Two-node updates of one sweep: ``(cut, toward)`` pairs.

        ``cut`` is a non-root node u (the edge u-parent(u)) or the root (the root edge,
        updated by merging A, the root matrix and B); ``toward`` is the node that keeps
        the singular values, i.e. the new centre. The order is an Euler tour: root edge
        towards A, A's subtree depth-first and back, root edge towards B, B's subtree and
        back to B. Consecutive updates share a node, so each moves the centre by one
        edge; repeated visits of one edge in a row are merged into one update.
        """
        root = self.root
        order: list[tuple[int, int]] = []
        for top in self.node_children(root):
            order.append((root, top))
            stack: list[tuple[bool, int, int]] = [(False, top, -1)]
            while stack:
                emit, a, b = stack.pop()
                if emit:
                    order.append((a, b))
                    continue
                for child in reversed(self.node_children(a)):
                    stack += [(True, child, a), (False, child, -1), (True, child, child)]
        if not order:
            order.append((root, root))
        merged: list[tuple[int, int]] = []
        for cut, toward in order:
            if merged and merged[-1][0] == cut:
                merged[-1] = (cut, toward)
            else:
                merged.append((cut, toward))
        return merged

    def _events(self) -> list[tuple[str, int]]:
        """Depth-first sampling order: ``("enter", v)`` (sample the first subtree next),
        ``("mid", v)`` (first subtree done, sample the second), ``("exit", v)``."""
        events = []
        stack = [("enter", self.root)]
        while stack:
            kind, v = stack.pop()
            events.append((kind, v))
            first, second = self.children[v]
            if kind == "enter":
                stack.append(("mid", v))
                if not first.is_site:
                    stack.append(("enter", first.index))
            elif kind == "mid":
                stack.append(("exit", v))
                if not second.is_site:
                    stack.append(("enter", second.index))
        return events


def _parse(structure, n_sites: int | None):
    """Validate nested pairs over sites ``0..n_sites-1`` (None: as many sites as
    leaves); return (the tree as nested tuples, the children of each node)."""
    if _is_site(structure):
        raise ValueError("a tree must join at least two sites in a pair, "
                         f"got the single site {structure!r}")
    children: list[tuple[Child, Child]] = []
    done: list[tuple[Child, object]] = []
    sites = []
    stack = [(structure, False)]
    while stack:
        obj, complete = stack.pop()
        if complete:
            (second, t2), (first, t1) = done.pop(), done.pop()
            children.append((first, second))
            done.append((Child(False, len(children) - 1), (t1, t2)))
        elif _is_site(obj):
            sites.append(int(obj))
            done.append((Child(True, int(obj)), int(obj)))
        elif isinstance(obj, (tuple, list)) and len(obj) == 2:
            stack += [(obj, True), (obj[1], False), (obj[0], False)]
        else:
            raise ValueError("a tree must be nested pairs (2-tuples) of site indices, "
                             f"found {obj!r}")
    n_sites = len(sites) if n_sites is None else n_sites
    outside = sorted({s for s in sites if not 0 <= s < n_sites})
    if outside:
        raise ValueError(f"the tree holds sites {outside}, outside 0..{n_sites - 1}")
    seen = [0] * n_sites
    for s in sites:
        seen[s] += 1
    missing = [s for s in range(n_sites) if seen[s] == 0]
    repeated = [s for s in range(n_sites) if seen[s] > 1]
    if missing or repeated:
        parts = ([f"misses sites {missing}"] if missing else []) + \
                ([f"repeats sites {repeated}"] if repeated else [])
        raise ValueError(f"the tree must hold every site 0..{n_sites - 1} exactly once: "
                         f"it {' and '.join(parts)}")
    return n_sites, done[0][1], children


def _nested(structure, kind):
    """Nested pairs as nested ``kind`` (list or tuple); iterative, so deep trees work."""
    built: list = []
    stack = [(structure, False)]
    while stack:
        obj, complete = stack.pop()
        if complete:
            second, first = built.pop(), built.pop()
            built.append(kind((first, second)))
        elif _is_site(obj):
            built.append(int(obj))
        else:
            stack += [(obj, True), (obj[1], False), (obj[0], False)]
    return built[0]
