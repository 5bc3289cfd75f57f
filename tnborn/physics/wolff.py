"""Wolff cluster updates of the periodic Ising model on a 2D or 3D box (zero field).

One update picks a random seed site, grows a cluster by adding each aligned neighbour
of a cluster site with probability ``p = 1 - exp(-2 beta J)`` (each bond tested once),
and flips the whole cluster. The growth is iterative with an explicit stack; spins are
flipped as they join the cluster, so "aligned with the seed's old value" already
excludes cluster members. The spins are a Python list of 0/1 and the random stream a
``random.Random``: one cluster is a sequential walk, which plain Python runs faster
than tensor ops of this size, and the stream is the same on every platform.

The lattice convention is that of :class:`tnborn.physics.Ising2D` and
:class:`tnborn.physics.Ising3D` (periodic, row-major; on a side of length 2 each pair
is bonded twice, which the neighbour lists reproduce by listing that neighbour twice).
"""

from __future__ import annotations

import math
import random

import numpy as np

__all__ = ["WolffChain"]

_MIN_PILOT_FLIPS = 100


def neighbour_table(shape: tuple[int, ...]) -> np.ndarray:
    """``(n, 2 dim)`` neighbours of every site of a periodic row-major box: along the
    last axis first, +1 then -1 (in 2D: right, left, down, up)."""
    index = np.arange(math.prod(shape)).reshape(shape)
    columns = []
    for axis in reversed(range(len(shape))):
        columns += [np.roll(index, -1, axis).ravel(), np.roll(index, 1, axis).ravel()]
    return np.stack(columns, 1)


class WolffChain:
    """One Wolff Markov chain of the periodic Ising model on ``shape`` at ``beta``
    (J > 0, both validated by the caller), started from random spins drawn from
    ``rng``."""

    def __init__(self, shape: tuple[int, ...], beta: float, J: float, rng: random.Random):
        self.n = math.prod(shape)
        self.table = neighbour_table(shape)
        self._nbrs = [tuple(int(j) for j in row) for row in self.table]
        self.p = -math.expm1(-2.0 * beta * J)
        self.rng = rng
        self.spins = [rng.getrandbits(1) for _ in range(self.n)]

    def update(self) -> int:
        """One cluster flip; returns the cluster size."""
        spins, nbrs, p = self.spins, self._nbrs, self.p
        rand = self.rng.random
        seed = self.rng.randrange(self.n)
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

    def burn_in(self, updates: int | None, thin: int | None) -> int:
        """Discard ``updates`` cluster flips (None: until 20 n spins have flipped, at
        least 100 flips); returns ``thin``, or when it is None ceil(n / <cluster size>)
        with the mean size over the second half of the burn-in (extended to at least 100
        flips for it), about n flipped spins per thinning step."""
        flips = flipped = 0
        sizes: list[int] = []
        while True:
            if updates is None:
                done = flipped >= 20 * self.n and flips >= _MIN_PILOT_FLIPS
            else:
                done = flips >= updates and (thin is not None or flips >= _MIN_PILOT_FLIPS)
            if done:
                break
            size = self.update()
            flips += 1
            flipped += size
            sizes.append(size)
        if thin is not None:
            return thin
        tail = sizes[len(sizes) // 2:]
        return max(1, math.ceil(self.n / (sum(tail) / len(tail))))

    def advance(self, updates: int) -> int:
        """``updates`` cluster flips; returns the number of spins flipped."""
        return sum(self.update() for _ in range(updates))
