"""The local problem of a two-site MPS update: amplitudes and gradient term of the merged
tensor for a batch of configurations (see :mod:`tnborn.local_steps`)::

        x_k  x_k+1
         |    |
    L_b ---M---- R_b        M: (D_l, d*d, D_r),  psi_b = L_b M[:, p_b, :] R_b

with p_b = (x_k, x_k+1) the pair value of configuration b. Two kernels give the same
numbers to rounding:

- :class:`GroupedPairProblem`: the batch sorted by p, one (B_p x D_l) @ (D_l x D_r)
  product per value: B D_l D_r work, not the d^2 times more of contracting every p for
  every configuration;
- :class:`DensePairProblem`: R_b placed in the slot p_b of a zero ``(B, d^2 D_r)`` row,
  so that psi and the gradient term take one product each over all p: d^2 times the
  flops in a few torch calls, faster where the bonds are small and the calls, not the
  flops, cost the time.
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


class DensePairProblem:
    """``left (B, D_l)``, ``right (B, D_r)``, ``weights (B,)`` and the pair values
    ``pairs (B,)`` of ``d2`` possible ones, in any order::

        slots_b = e_{p_b} (x) R_b   (d2 * D_r,),   psi_b = L_b M slots_b
    """

    def __init__(self, left: torch.Tensor, right: torch.Tensor, weights: torch.Tensor,
                 pairs: torch.Tensor, d2: int):
        self.left, self.weights = left, weights
        batch, dr = right.shape
        slots = torch.zeros(batch, d2, dr, dtype=right.dtype, device=right.device)
        self.slots = slots.scatter_(1, pairs.view(batch, 1, 1).expand(batch, 1, dr),
                                    right.unsqueeze(1)).view(batch, d2 * dr)
        self.shape = (left.shape[1], d2, dr)

    def amplitudes(self, merged: torch.Tensor) -> torch.Tensor:
        return (self.left @ merged.reshape(self.shape[0], -1)).mul_(self.slots).sum(-1)

    def grad_term(self, psi: torch.Tensor) -> torch.Tensor:
        return ((self.left * (self.weights / psi)[:, None]).mT @ self.slots).view(self.shape)
