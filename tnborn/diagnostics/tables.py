"""Exact distributions of small systems as tables, and the KL divergence between them.

A table lists ln p of every configuration in lexicographic order (site 0 most
significant, as :func:`tnborn.enumeration.all_configurations`), shape ``(d ** n,)``.
"""

from __future__ import annotations

import math

import torch

from ..base import GenerativeModel
from ..checks import as_tensor
from ..enumeration import MAX_CONFIGURATIONS, all_configurations, count_configurations

_CHUNK = 2 ** 16


def log_prob_table(model: GenerativeModel) -> torch.Tensor:
    """ln p(x) of every configuration of a model, float64 ``(d ** n,)`` on the CPU.

    ValueError for a continuous support or more than :data:`MAX_CONFIGURATIONS`
    configurations.
    """
    if not model.support.is_discrete:
        raise ValueError(f"a table of all configurations needs a discrete support, "
                         f"{type(model).__name__} is on {model.support}")
    total = count_configurations(model.n_sites, model.local_dim)
    if total > MAX_CONFIGURATIONS:
        raise ValueError(f"exact enumeration of {model.local_dim}^{model.n_sites} "
                         f"configurations is too large (limit {MAX_CONFIGURATIONS}); "
                         "use a sampled estimate (num=...)")
    x = all_configurations(model.n_sites, model.local_dim, model.device)
    with torch.no_grad():
        parts = [model.log_prob(x[i:i + _CHUNK], validate=False)
                 for i in range(0, total, _CHUNK)]
    return torch.cat(parts).real.to(device="cpu", dtype=torch.float64)


def split_table(log_p: torch.Tensor, n_sites: int, local_dim: int,
                mask: torch.Tensor) -> torch.Tensor:
    """A log table of all configurations as a matrix ``(d ** |A|, d ** |B|)``: rows are
    the configurations of the sites A where ``mask`` is True, columns those of the rest."""
    a_sites = torch.nonzero(mask.cpu()).flatten().tolist()
    b_sites = torch.nonzero(~mask.cpu()).flatten().tolist()
    table = log_p.reshape((local_dim,) * n_sites).permute(a_sites + b_sites)
    return table.reshape(local_dim ** len(a_sites), local_dim ** len(b_sites))


def as_log_table(p, name: str) -> torch.Tensor:
    """A model or a table of probabilities (any shape, d ** n entries) as a log table."""
    if isinstance(p, GenerativeModel):
        return log_prob_table(p)
    p = as_tensor(p, f"{name} must be a GenerativeModel or a table of probabilities, got "
                     f"{type(p).__name__}")
    if p.is_complex() or not (p.is_floating_point() or p.dtype in (torch.int64, torch.int32)):
        raise TypeError(f"{name} must hold real probabilities, got dtype {p.dtype}")
    p = p.detach().to(device="cpu", dtype=torch.float64).reshape(-1)
    if p.numel() < 2:
        raise ValueError(f"{name} must list the probabilities of every configuration")
    if not torch.isfinite(p).all():
        raise ValueError(f"{name} has non-finite entries")
    if (p < 0).any():
        raise ValueError(f"{name} has negative probabilities")
    total = float(p.sum())
    if abs(total - 1.0) > 1e-8:
        raise ValueError(f"{name} must sum to 1, sums to {total!r}")
    return torch.log(p)


def kl_divergence(p, q) -> float:
    """KL(p || q) = sum_x p(x) ln(p(x) / q(x)) in nats, exact by enumeration.

    ``p``, ``q``: models over the same sites and alphabet, or tables of probabilities of
    every configuration in lexicographic order (site 0 most significant). Infinite when
    q vanishes where p does not.
    """
    log_p, log_q = as_log_table(p, "p"), as_log_table(q, "q")
    if log_p.shape != log_q.shape:
        raise ValueError(f"p and q list {log_p.numel()} and {log_q.numel()} "
                         "configurations; they must describe the same system")
    support = log_p > -math.inf
    if bool((log_q[support] == -math.inf).any()):
        return math.inf
    terms = torch.exp(log_p[support]) * (log_p[support] - log_q[support])
    return max(float(terms.sum()), 0.0)
