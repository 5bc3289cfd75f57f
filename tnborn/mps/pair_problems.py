"""The local problem of a two-site MPS update: amplitudes and gradient term of the merged
tensor for a batch of configurations (see :mod:`tnborn.local_steps`)::

        x_k  x_k+1
         |    |
    L_b ---M---- R_b        M: (D_l, d*d, D_r),  psi_b = L_b M[:, p_b, :] R_b

with p_b = (x_k, x_k+1) the pair value of configuration b. The batch is sorted by p and
takes one (B_p x D_l) @ (D_l x D_r) product per value: B D_l D_r work, not the d^2 times
more of contracting every p for every configuration.
"""

from __future__ import annotations

import torch

from ..local_steps import MatrixProblem


class GroupedPairProblem:
    """Configurations sorted by pair value: ``left (B, D_l)``, ``right (B, D_r)`` and
    ``weights (B,)`` in that order, ``counts[p]`` of them with pair value p."""

    def __init__(self, left: torch.Tensor, right: torch.Tensor, weights: torch.Tensor,
                 counts: list[int]):
        self.weights = weights
        self.counts = counts
        self.groups = [(p, MatrixProblem(lp, rp, wp)) for p, (lp, rp, wp) in enumerate(
            zip(left.split(counts), right.split(counts), weights.split(counts))) if counts[p]]
        self.shape = (left.shape[1], len(counts), right.shape[1])

    def amplitudes(self, merged: torch.Tensor) -> torch.Tensor:
        return torch.cat([group.amplitudes(merged[:, p, :]) for p, group in self.groups])

    def grad_term(self, psi: torch.Tensor) -> torch.Tensor:
        """G[:, p, :] = sum_b w_b L_b^T R_b / psi_b over the configurations of value p."""
        grad_term = torch.zeros(self.shape, dtype=psi.dtype, device=psi.device)
        sizes = [self.counts[p] for p, _ in self.groups]
        for (p, group), psi_p in zip(self.groups, psi.split(sizes)):
            grad_term[:, p, :] = group.grad_term(psi_p)
        return grad_term
