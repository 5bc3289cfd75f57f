"""Exact sampling from a tree tensor network in canonical form with the centre at the root.

Sites are drawn depth-first (first subtree before second). Each leg carries, per sample,
an environment ``rho (B, D, D)``: the weight of a configuration of the subtree below the
leg with up vector ``a`` is ``a rho a^H`` (the root's parent leg has rho = 1). At node v
with the subtree environments E (identity: every node below is an isometry towards the
root, so an unconstrained subtree sums to the identity)::

                 rho_v                 first child:   rho_1 = sum T rho_v T^H E_2
                   |                                  (the second subtree summed out)
           a_1 ----T---- E_2           second child:  rho_2 = w rho_v w^H,  w = a_1 T
                                       (after the first subtree is drawn, a_1 its vector)

At a site the environment's diagonal is the conditional distribution of its value.
Conditional sampling (known values at any sites, per row) uses the same descent with
E built bottom-up from the known sites: a known site sums to the projector on its value,
an unknown one to the identity,

    E_v = sum T[c1,c2,p] conj(T[c1',c2',p']) E_c1[c1,c1'] E_c2[c2,c2'],

and a known site keeps its value instead of being drawn. Every environment is rescaled to
unit trace (only ratios matter). Cost: O(B D^4) per node.
"""

from __future__ import annotations

import torch

from ..backend import contract, draw_categorical, tiny
from .contraction import child_vector, leg_vector, normalize_rows, one_hot
from .tree import Child, Tree


def _unit_trace(env: torch.Tensor) -> torch.Tensor:
    trace = torch.diagonal(env, dim1=1, dim2=2).sum(-1).real
    return env / trace.clamp_min(tiny(env.dtype))[:, None, None]


def _identity(batch: int, dim: int, like: torch.Tensor) -> torch.Tensor:
    return torch.eye(dim, dtype=like.dtype, device=like.device).expand(batch, dim, dim)


def _subtree_environments(tree: Tree, tensors, x, known, local_dim):
    """Per-sample environments ``(B, D, D)`` of every site and node with a known site
    below it in some row (None elsewhere: the identity). Returns (sites, nodes)."""
    batch = x.shape[0]
    dtype = tensors[0].dtype
    sites: list[torch.Tensor | None] = [None] * tree.n_sites
    for s in torch.nonzero(known.any(0)).flatten().tolist():
        vector = one_hot(x[:, s], local_dim, dtype)
        projector = vector[:, :, None] * vector[:, None, :]
        sites[s] = torch.where(known[:, s, None, None], projector,
                               _identity(batch, local_dim, projector))
    nodes: list[torch.Tensor | None] = [None] * tree.n_nodes
    for v, pair in enumerate(tree.children):
        below = [_environment(c, sites, nodes) for c in pair]
        if below[0] is None and below[1] is None:
            continue
        t = tensors[v]
        e1, e2 = (e if e is not None else _identity(batch, t.shape[i], t)
                  for i, e in enumerate(below))
        nodes[v] = _unit_trace(contract("ijp,bik,bjl,klq->bpq", t, e1, e2, t.conj()))
    return sites, nodes


def _environment(child: Child, sites, nodes):
    return sites[child.index] if child.is_site else nodes[child.index]


def tree_sample(tree: Tree, tensors: list[torch.Tensor], num: int, local_dim: int,
                generator=None, x: torch.Tensor | None = None,
                known: torch.Tensor | None = None) -> torch.Tensor:
    """Exact samples, LongTensor ``(num, n)``; the centre must be at the root.

    Without ``x``/``known``: independent samples of p. With ``x`` ``(num, n)`` and a
    bool ``known`` of the same shape: sites where ``known`` is True keep their values,
    the rest are drawn from p(rest | known). Raises ValueError when the known values of
    some row have probability zero.
    """
    first = tensors[0]
    device, dtype = first.device, first.dtype
    uniform = torch.rand(tree.n_sites, num, 1, generator=generator, dtype=first.real.dtype,
                         device=device)
    if known is None:
        site_envs, node_envs = [None] * tree.n_sites, [None] * tree.n_nodes
        out = torch.empty(num, tree.n_sites, dtype=torch.long, device=device)
    else:
        site_envs, node_envs = _subtree_environments(tree, tensors, x, known, local_dim)
        out = x.clone()
    rows = torch.arange(num, device=device)
    site_vectors = torch.zeros(num, tree.n_sites, local_dim, dtype=dtype, device=device)
    impossible = torch.zeros(num, dtype=torch.bool, device=device)
    rho: list[torch.Tensor | None] = [None] * tree.n_nodes
    rho[tree.root] = torch.ones(num, 1, 1, dtype=dtype, device=device)
    up: list[torch.Tensor | None] = [None] * tree.n_nodes

    def descend(child: Child, env: torch.Tensor) -> None:
        """Hand environment ``env`` to a child node, or draw the site."""
        env = _unit_trace(env)
        if not child.is_site:
            rho[child.index] = env
            return
        s = child.index
        weights = torch.diagonal(env, dim1=1, dim2=2).real.clamp_min(0)
        value = draw_categorical(weights, uniform[s])
        if known is not None:
            value = torch.where(known[:, s], x[:, s], value)
        impossible.logical_or_(weights[rows, value] <= 0)
        out[:, s] = value
        site_vectors[rows, s, value] = 1

    for kind, v in tree.events:
        t = tensors[v]
        c1, c2, dp = t.shape
        first_child, second_child = tree.children[v]
        if kind == "enter":
            env = _environment(second_child, site_envs, node_envs)
            if env is None:
                env1 = contract("ijp,bpq,kjq->bik", t, rho[v], t.conj())
            else:
                env1 = contract("ijp,bpq,bjl,klq->bik", t, rho[v], env, t.conj())
            descend(first_child, env1)
        elif kind == "mid":
            a1 = child_vector(first_child, site_vectors, up)
            w = (a1 @ t.reshape(c1, c2 * dp)).view(num, c2, dp)
            descend(second_child, w @ rho[v] @ w.mH)
        else:
            rho[v] = None
            if v != tree.root:
                a1 = child_vector(first_child, site_vectors, up)
                a2 = child_vector(second_child, site_vectors, up)
                up[v] = normalize_rows(leg_vector(t, 2, a1, a2))[0]
            for child in (first_child, second_child):
                if not child.is_site:
                    up[child.index] = None
    if impossible.any():
        bad = torch.nonzero(impossible).flatten()[:5].tolist()
        raise ValueError(f"the known values of rows {bad} have probability zero under "
                         "the model; their conditional distribution is undefined")
    return out
