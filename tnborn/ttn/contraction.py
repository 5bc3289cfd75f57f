"""Contractions of a tree tensor network with configurations and with itself.

Amplitudes are contracted from the leaves up. Each node turns the (batch, D) vectors of
its two children into the vector on its parent leg::

    a1 (B, D_c1) @ T (D_c1, D_c2*D_p) -> (B, D_c2, D_p);  a2 (B, 1, D_c2) @ that -> (B, D_p)

Sites enter as one-hot vectors. Every node's vector is normalized and the log of its
norm accumulated, so amplitudes of 784-leaf trees (|psi|^2 far below 1e-300) stay
finite in log space.
"""

from __future__ import annotations

import torch

from ..backend import contract, tiny
from .canonical import LEG_LAST
from .tree import Child, Tree


def one_hot(x: torch.Tensor, local_dim: int, dtype: torch.dtype) -> torch.Tensor:
    """Configurations ``(B, n)`` as one-hot site vectors ``(B, n, d)``."""
    return torch.nn.functional.one_hot(x, local_dim).to(dtype)


def leg_vector(t: torch.Tensor, leg: int, a: torch.Tensor, b: torch.Tensor) -> torch.Tensor:
    """Contract the two legs of node ``t`` other than ``leg`` with per-sample vectors
    ``a``, ``b`` (in leg order); returns the ``(B, D_leg)`` vectors on ``leg``."""
    m = t.permute(LEG_LAST[leg])
    da, db, dc = m.shape
    w = (a @ m.reshape(da, db * dc)).view(-1, db, dc)
    return (b.unsqueeze(1) @ w).squeeze(1)


def normalize_rows(v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Rows of ``v`` scaled to unit norm, and the norms (clamped away from zero)."""
    norm = torch.linalg.vector_norm(v, dim=1).clamp_min(tiny(v.dtype))
    return v / norm[:, None], norm


def child_vector(child: Child, sites: torch.Tensor, nodes: list) -> torch.Tensor:
    """The ``(B, D)`` vector of one child leg: a site's one-hot slice of ``sites``
    ``(B, n, d)`` or a node's cached vector in ``nodes``."""
    return sites[:, child.index] if child.is_site else nodes[child.index]


def log_abs_amplitudes(tree: Tree, tensors: list[torch.Tensor],
                       sites: torch.Tensor) -> torch.Tensor:
    """ln |psi| ``(B,)`` of the state as it stands, contracting the tree with one-hot
    ``sites`` ``(B, n, d)`` from the leaves up (each node's vectors normalized per sample,
    their logarithms summed)."""
    vectors: list[torch.Tensor | None] = [None] * tree.n_nodes
    log_scale = torch.zeros(sites.shape[0], dtype=sites.real.dtype, device=sites.device)
    for v, (first, second) in enumerate(tree.children):
        a = child_vector(first, sites, vectors)
        b = child_vector(second, sites, vectors)
        vectors[v], norm = normalize_rows(leg_vector(tensors[v], 2, a, b))
        log_scale += torch.log(norm)
        for child in (first, second):
            if not child.is_site:
                vectors[child.index] = None
    return log_scale


def log_norm(tree: Tree, tensors: list[torch.Tensor]) -> torch.Tensor:
    """ln Z = ln sum_x |psi(x)|^2 by contracting the tree with its conjugate (any gauge),
    a 0-d real tensor, differentiable with respect to the tensors (-inf for a zero state).

    ::

        E_v[p, p'] = sum T[c1,c2,p] conj(T[c1',c2',p']) E_c1[c1,c1'] E_c2[c2,c2']

    with E = identity at the sites; every E is rescaled to unit norm on the way up.
    """
    envs: list[torch.Tensor | None] = [None] * tree.n_nodes
    log_z = torch.zeros((), dtype=tensors[0].real.dtype, device=tensors[0].device)
    for v, pair in enumerate(tree.children):
        t = tensors[v]
        c1, c2 = (torch.eye(t.shape[i], dtype=t.dtype, device=t.device) if child.is_site
                  else envs[child.index] for i, child in enumerate(pair))
        env = contract("ijp,ik,jl,klq->pq", t, c1, c2, t.conj())
        scale = torch.linalg.norm(env)
        if scale == 0:
            return torch.full_like(log_z, float("-inf"))
        envs[v] = env / scale
        log_z = log_z + torch.log(scale)
    return log_z + torch.log(envs[tree.root].reshape(()).real)
