"""Gradient steps on a merged tensor: of fixed length, or chosen by a line search.

A local problem holds the environments of one update and gives the amplitudes
``amplitudes(M) -> psi (B,)`` of its configurations, their ``weights (B,)`` and the
gradient term ``grad_term(psi) -> G`` (the shape of M); :class:`MatrixProblem` is the
plain one (a TTN edge, one pair value of an MPS bond).

Line search: with the environments of a two-site (two-node) update fixed and the network canonical
around the merged tensor M, Z = |M|^2 and the local NLL of M is exactly

    phi(M) = -sum_b w_b ln |psi_b(M)|^2 + ln |M|^2,      psi_b(M) linear in M,

(w_b: weights summing to 1 over every rank). The fixed-step update moves M along the line

    M(t) = (1 - t) M + t H,     H = conj(G),   G = sum_b w_b Psi'_b / psi_b(M),

with t = 2 lr (t = 1 is the fixed point M = H of the stationarity condition). On that line

    psi_b(t) = (1 - t) a_b + t h_b,          a_b = psi_b(M),  h_b = psi_b(H),
    |M(t)|^2 = (1 - t)^2 + 2 t (1 - t) Re<M, H> + t^2 |H|^2      (|M| = 1),

so one amplitude evaluation of H (the cost of one gradient) gives phi at every t. The
step takes the best t of a geometric grid (:data:`GRID`, ratio sqrt 2); phi never rises
(t = 0 is kept when no grid point lowers it), and several steps per bond end as soon as
one gains less than :data:`STEP_GAIN` nats.
"""

from __future__ import annotations

import math

import torch

from .backend import tiny
from .sweeps import capped_step

#: the step lengths t tried besides t = 0: 2^(-10) .. 2^3 with ratio sqrt(2)
GRID = torch.cat([torch.zeros(1, dtype=torch.float64),
                  2.0 ** torch.arange(-10.0, 3.25, 0.5, dtype=torch.float64)])
#: a further step on the same merged tensor is taken only after a gain of at least this
STEP_GAIN = 1e-6


class MatrixProblem:
    """psi_b = L_b M R_b for a matrix ``M (m, k)``::

        L_b (m) --- M --- (k) R_b

    ``left (B, m)``, ``right (B, k)``, ``weights (B,)``.
    """

    def __init__(self, left: torch.Tensor, right: torch.Tensor, weights: torch.Tensor):
        self.left, self.right, self.weights = left, right, weights

    def amplitudes(self, merged: torch.Tensor) -> torch.Tensor:
        return ((self.left @ merged) * self.right).sum(-1)

    def grad_term(self, psi: torch.Tensor) -> torch.Tensor:
        return (self.left * (self.weights / psi)[:, None]).mT @ self.right


def _nonzero(psi: torch.Tensor) -> torch.Tensor:
    return torch.where(psi == 0, tiny(psi.real.dtype), psi)


def take_steps(merged: torch.Tensor, problem, options) -> torch.Tensor:
    """``options.steps_per_bond`` steps on the unit-norm ``merged``: fixed ones
    (:func:`~tnborn.sweeps.capped_step`) when ``options.lr`` is set, else
    :func:`line_search_steps`. Returns the new unit-norm tensor."""
    if options.lr is None:
        return line_search_steps(merged, problem, options)
    for _ in range(options.steps_per_bond):
        psi = _nonzero(problem.amplitudes(merged))
        merged = capped_step(merged, problem.grad_term(psi), options)
    return merged


def _log_abs_sq(psi: torch.Tensor) -> torch.Tensor:
    return torch.log(psi.abs().square() if psi.is_complex() else psi.square())


def line_search_steps(merged: torch.Tensor, problem, options) -> torch.Tensor:
    """Up to ``options.steps_per_bond`` line-searched steps on the unit-norm ``merged``.

    ``options.max_step`` caps |M(t) - M| as in the fixed step; the gradient terms and
    the phi values are summed over ``options.collective``.
    """
    collective = options.collective
    weights = problem.weights
    grid = GRID.to(weights.dtype)
    log_floor = 2 * math.log(tiny(weights.dtype))
    psi = problem.amplitudes(merged)
    for step in range(options.steps_per_bond):
        psi = _nonzero(psi)
        direction = collective.sum(problem.grad_term(psi)).conj() - merged  # H - M
        largest = float(direction.abs().amax())
        if not math.isfinite(largest):
            raise FloatingPointError("training diverged: a merged tensor became non-finite")
        if largest == 0:
            break
        direction = direction / largest  # scaled first: H can be huge where a psi is tiny
        length = float(torch.linalg.norm(direction))
        direction = direction / length
        distance = largest * length  # |H - M|
        # positions u = t |H - M| along the unit direction e
        u = grid * distance
        if options.max_step is not None:
            u = u.clamp(max=options.max_step)
        e = problem.amplitudes(direction)
        overlap = float(torch.vdot(merged.flatten(), direction.flatten()).real)
        line = torch.addr(psi.expand(u.numel(), -1), u.to(psi.dtype), e)
        local = -(_log_abs_sq(line).clamp_min(log_floor) @ weights)
        norms = 1 + 2 * overlap * u + u.square()  # |M + u e|^2
        phi = collective.sum(local).cpu() + torch.log(norms).cpu()
        best = int(torch.argmin(phi))
        if best == 0:
            break
        ub, norm = float(u[best]), math.sqrt(float(norms[best]))
        merged = torch.add(merged, direction, alpha=ub).div_(norm)
        if float(phi[0] - phi[best]) < STEP_GAIN or step + 1 == options.steps_per_bond:
            break
        psi = torch.add(psi, e, alpha=ub).div_(norm)
    return merged
