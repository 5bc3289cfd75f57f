"""Equilibrium samples of the periodic 2D Ising model by Wolff cluster Monte Carlo.

One Wolff update picks a random seed site, grows a cluster by adding each aligned
neighbour of a cluster site with probability ``p = 1 - exp(-2 beta J)`` (each bond
tested once), and flips the whole cluster. The growth is iterative with an explicit
stack; spins are flipped as they join the cluster, so "aligned with the seed's old
value" already excludes cluster members. The lattice and energy convention is that of
:class:`tnborn.physics.Ising2D` (periodic, row-major; on L = 2 each pair is bonded
twice, which the neighbour lists reproduce by listing that neighbour twice).
"""

from __future__ import annotations

import math
import random

import numpy as np
import torch

from ..checks import as_tensor, check_int, check_positive, check_seed

__all__ = ["ising_samples", "lattice_translation_copies"]

_MIN_PILOT_FLIPS = 100


def _neighbours(L: int) -> list[tuple[int, int, int, int]]:
    """Right, left, down and up neighbour of every site (periodic, row-major)."""
    return [(r * L + (c + 1) % L, r * L + (c - 1) % L,
             ((r + 1) % L) * L + c, ((r - 1) % L) * L + c)
            for r in range(L) for c in range(L)]


def _wolff_update(spins: list, nbrs: list, p: float, rng: random.Random) -> int:
    """One Wolff cluster flip on ``spins`` (a list of 0/1, modified in place).

    Returns the cluster size.
    """
    rand = rng.random
    seed = rng.randrange(len(spins))
    old = spins[seed]
    new = 1 - old
    spins[seed] = new
    stack = [seed]
    pop, push = stack.pop, stack.append
    size = 1
    while stack:
        for j in nbrs[pop()]:
            if spins[j] == old and rand() < p:
                spins[j] = new
                push(j)
                size += 1
    return size


def ising_samples(L: int, beta, num: int, *, seed: int, J: float = 1.0,
                  burn_in: int | None = None, thin: int | None = None) -> torch.Tensor:
    """Configurations of the periodic L x L Ising model at inverse temperature beta.

    Wolff cluster Monte Carlo (zero field), one Markov chain started from a random
    configuration, seeded with Python's ``random.Random(seed)`` (same seed, same samples
    on every platform).

    Args:
        L: linear size, an integer >= 2 (n = L^2 sites, row-major).
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

    Returns:
        LongTensor (num, L*L) of 0/1 values (spin s = 2x - 1).

    Note:
        Consecutive samples remain correlated near the critical point; estimate errors
        with batch means, not as if samples were independent.
    """
    L = check_int(L, "L", 2)
    beta = check_positive(beta, "beta")
    num = check_int(num, "num", 1)
    seed = check_seed(seed)
    J = check_positive(J, "J")
    if burn_in is not None:
        burn_in = check_int(burn_in, "burn_in", 0)
    if thin is not None:
        thin = check_int(thin, "thin", 1)

    n = L * L
    p = -math.expm1(-2.0 * beta * J)
    nbrs = _neighbours(L)
    rng = random.Random(int(seed))
    spins = [rng.getrandbits(1) for _ in range(n)]

    # burn-in (and the pilot run that measures the mean cluster size)
    flips = 0
    flipped = 0
    pilot_sizes: list[int] = []
    while True:
        if burn_in is None:
            done = flipped >= 20 * n and flips >= _MIN_PILOT_FLIPS
        else:
            done = flips >= burn_in and (thin is not None or flips >= _MIN_PILOT_FLIPS)
        if done:
            break
        size = _wolff_update(spins, nbrs, p, rng)
        flips += 1
        flipped += size
        pilot_sizes.append(size)
    if thin is None:
        tail = pilot_sizes[len(pilot_sizes) // 2:]
        mean_size = sum(tail) / len(tail)
        thin = max(1, math.ceil(n / mean_size))

    out = np.empty((num, n), dtype=np.int64)
    for k in range(num):
        for _ in range(thin):
            _wolff_update(spins, nbrs, p, rng)
        out[k] = spins
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
