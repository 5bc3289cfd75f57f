"""Equilibrium samples of the periodic 2D and 3D Ising models by Wolff cluster Monte
Carlo (:class:`tnborn.physics.wolff.WolffChain`), and their images under lattice
translations."""

from __future__ import annotations

import random

import numpy as np
import torch

from ..checks import as_tensor, check_int, check_positive, check_seed
from ..physics.ising3d import box_shape
from ..physics.wolff import WolffChain

__all__ = ["ising_samples", "lattice_translation_copies"]


def ising_samples(L, beta, num: int, *, seed: int, J: float = 1.0,
                  burn_in: int | None = None, thin: int | None = None,
                  dim: int = 2) -> torch.Tensor:
    """Configurations of the periodic L x L (``dim=3``: L x L x L) Ising model at inverse
    temperature beta.

    Wolff cluster Monte Carlo (zero field), one Markov chain started from a random
    configuration, seeded with Python's ``random.Random(seed)`` (same seed, same samples
    on every platform).

    Args:
        L: linear size, an integer >= 2 (n = L^dim sites, row-major), or ``dim`` sides
            of a box.
        beta: inverse temperature, finite and > 0.
        num: number of samples, a positive integer.
        seed: integer seed.
        J: ferromagnetic coupling, finite and > 0 (bond probability 1 - exp(-2 beta J)).
        burn_in: cluster updates discarded before the first sample. Default: updates
            until 20 N spins have been flipped in all, at least 100 of them.
        thin: cluster updates between recorded samples. Default: ceil(N / <cluster
            size>), with the mean cluster size measured over the burn-in (extended to at
            least 100 updates when it is shorter), so each sample is about N flipped
            spins (roughly one sweep of single-spin updates, far more decorrelating)
            after the previous one.
        dim: 2 or 3.

    Returns:
        LongTensor (num, n) of 0/1 values (spin s = 2x - 1).

    Note:
        Consecutive samples remain correlated near the critical point; estimate errors
        with batch means, not as if samples were independent.
    """
    shape = box_shape(L, dim)
    beta = check_positive(beta, "beta")
    num = check_int(num, "num", 1)
    seed = check_seed(seed)
    J = check_positive(J, "J")
    if burn_in is not None:
        burn_in = check_int(burn_in, "burn_in", 0)
    if thin is not None:
        thin = check_int(thin, "thin", 1)

    chain = WolffChain(shape, beta, J, random.Random(int(seed)))
    thin = chain.burn_in(burn_in, thin)
    out = np.empty((num, chain.n), dtype=np.int64)
    for k in range(num):
        chain.advance(thin)
        out[k] = chain.spins
    return torch.from_numpy(out)


def lattice_translation_copies(x, L: int, copies: int, *,
                               generator: torch.Generator) -> torch.Tensor:
    """``copies`` images of every configuration ``(N, L*L)`` (row-major) under a random
    translation of the periodic lattice each: ``(copies * N, L*L)``, data augmentation
    by an exact symmetry of the periodic Ising model."""
    L = check_int(L, "L", 2)
    copies = check_int(copies, "copies", 1)
    x = as_tensor(x, "configurations must be a tensor or array")
    if x.ndim != 2 or x.shape[1] != L * L:
        raise ValueError(f"configurations must have shape (N, {L * L}), got {tuple(x.shape)}")
    images = x.reshape(-1, L, L).repeat(copies, 1, 1)
    count = images.shape[0]
    lines = torch.arange(L)
    rows = (lines + torch.randint(0, L, (count, 1), generator=generator)) % L
    cols = (lines + torch.randint(0, L, (count, 1), generator=generator)) % L
    shifted = images[torch.arange(count)[:, None, None], rows[:, :, None], cols[:, None, :]]
    return shifted.reshape(count, L * L)
