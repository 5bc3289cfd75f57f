"""Every configuration of a small system, for exact sums over the alphabet."""

from __future__ import annotations

import torch

#: Largest number of configurations an exact sum enumerates (about 4 million).
MAX_CONFIGURATIONS = 2 ** 22


def count_configurations(n_sites: int, local_dim: int) -> int:
    """local_dim ** n_sites as a Python int."""
    return local_dim ** n_sites


def all_configurations(n_sites: int, local_dim: int, device=None) -> torch.Tensor:
    """Every configuration in lexicographic order (site 0 most significant), LongTensor
    ``(local_dim ** n_sites, n_sites)``. ValueError beyond :data:`MAX_CONFIGURATIONS`."""
    total = count_configurations(n_sites, local_dim)
    if total > MAX_CONFIGURATIONS:
        raise ValueError(f"enumerating {local_dim}^{n_sites} configurations is too many "
                         f"(limit {MAX_CONFIGURATIONS})")
    codes = torch.arange(total, device=device)
    powers = local_dim ** torch.arange(n_sites - 1, -1, -1, device=device)
    return (codes[:, None] // powers) % local_dim


def configuration_codes(x: torch.Tensor, local_dim: int) -> torch.Tensor:
    """Lexicographic index of each configuration ``(..., n)`` (matches
    :func:`all_configurations`)."""
    n = x.shape[-1]
    powers = local_dim ** torch.arange(n - 1, -1, -1, device=x.device)
    return (x * powers).sum(-1)


def binary_chunks(n_sites: int, chunk: int, device=None):
    """Every 0/1 configuration of ``n_sites`` sites in lexicographic order (site 0 most
    significant), as LongTensors ``(<= chunk, n_sites)`` one chunk at a time: for sums
    over more configurations than one tensor should hold."""
    shifts = torch.arange(n_sites - 1, -1, -1, device=device)
    total = 1 << n_sites
    for start in range(0, total, chunk):
        codes = torch.arange(start, min(start + chunk, total), device=device)
        yield (codes[:, None] >> shifts) & 1
