"""Gradient steps on a merged tensor, of fixed length or chosen by a line search, and its split.

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
step takes the best t of a geometric grid (:data:`GRID`: ratio sqrt 2 around t = 1, 2
elsewhere; of near ties the shortest; lengths beyond ``max_step`` are cut to it); phi
never rises (t = 0 is kept when no grid point lowers it), and several steps per bond end
as soon as one gains less than :data:`STEP_GAIN` nats.
"""

from __future__ import annotations

import math

import torch

from .backend import tiny
from .sweeps import capped_step

#: the step lengths t tried, t = 0 first: 2^-10 .. 2^3, ratio sqrt 2 from 2^-1.5 to 2^1.5
#: (where nearly every best step lies: t = 1 is the fixed point), 2 elsewhere
GRID = (0.0,) + tuple(2.0 ** x for x in (*range(-10, -1), -1.5, -1, -0.5, 0, 0.5, 1, 1.5,
                                         2, 3))
#: a further step on the same merged tensor is taken only after a gain of at least this
STEP_GAIN = 1e-6
#: phi values closer than TIE * (1 + |phi|) count as equal
TIE = 1e-10


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


def step_and_split(merged: torch.Tensor, problem, options, split,
                   product=lambda factors: factors[0] @ factors[1]):
    """``options.steps_per_bond`` steps on the unit-norm ``merged``, then ``split`` of the
    result: returns ``split(stepped)``, the factors of the truncated tensor
    ``product(factors)`` (reshaped like ``merged``).

    Fixed steps (:func:`~tnborn.sweeps.capped_step`) when ``options.lr`` is set, else
    :func:`line_search_steps`; then a line-searched step whose truncated split would leave
    a local NLL above that of ``merged`` is dropped and ``split(merged)`` returned (the
    bond holds the rank of ``merged``, so its split is exact): the line search's promise,
    no update raises the NLL of its batch, holds through the truncation too. A split that
    truncated nothing needs no such check.
    """
    if options.lr is not None:
        for _ in range(options.steps_per_bond):
            psi = _nonzero(problem.amplitudes(merged))
            merged = capped_step(merged, problem.grad_term(psi), options)
        return split(merged)
    stepped, before = line_search_steps(merged, problem, options)
    factors = split(stepped)
    if stepped is merged or _full_rank(factors):
        return factors
    truncated = product(factors).reshape(merged.shape)
    if _local_nll(problem, truncated, options.collective) > _tie_bound(before):
        return split(merged)
    return factors


def _full_rank(factors) -> bool:
    """Whether a split ``left (m, r), ..., right (r, n)`` kept every singular value of its
    m x n matrix (r = min(m, n)): then its product is the stepped tensor to rounding, whose
    NLL the line search has already lowered, and the truncation check is skipped."""
    return factors[0].shape[-1] == min(factors[0].shape[0], factors[-1].shape[-1])


def _log_abs(psi: torch.Tensor) -> torch.Tensor:
    """ln |psi| (no underflow of |psi|^2; -inf where psi = 0)."""
    return torch.log(psi.abs())


def _local_nll(problem, tensor: torch.Tensor, collective) -> float:
    """phi(tensor) of the local problem, summed over ``collective``: the exact local NLL
    of the network with ``tensor`` in place of the merged one (any norm)."""
    local = collective.sum(-2 * (_log_abs(problem.amplitudes(tensor)) @ problem.weights))
    return float(local) + 2 * math.log(float(torch.linalg.vector_norm(tensor)))


def _tie_bound(phi: float) -> float:
    """The largest value that counts as equal to ``phi`` (:data:`TIE`)."""
    return phi + TIE * (1 + abs(phi))


def _shortest_best(phi: list[float]) -> int:
    """Index of the first (shortest) grid point within :data:`TIE` of the lowest phi:
    so that sums differing by rounding alone (one process or several ranks) pick the
    same step, and a flat line keeps t = 0."""
    bound = _tie_bound(min(phi))
    return next(i for i, value in enumerate(phi) if value <= bound)


def line_search_steps(merged: torch.Tensor, problem, options):
    """Up to ``options.steps_per_bond`` line-searched steps on the unit-norm ``merged``;
    returns the new unit-norm tensor (``merged`` itself if no step was taken) and
    phi(merged) (None if no step was tried).

    ``options.max_step`` caps |M(t) - M| as in the fixed step; the gradient terms and
    the phi values are summed over ``options.collective``. The grid's few scalars are
    handled in Python: on small bonds the torch calls, not the flops, cost the time.
    """
    collective = options.collective
    weights = problem.weights
    psi = problem.amplitudes(merged)
    start = None
    for step in range(options.steps_per_bond):
        psi = _nonzero(psi)
        direction = collective.sum(problem.grad_term(psi)).conj() - merged  # H - M
        largest = float(direction.abs().amax())
        if not math.isfinite(largest):
            raise FloatingPointError("training diverged: a merged tensor became non-finite")
        if largest == 0:
            break
        direction.div_(largest)  # scaled first: H can be huge where a psi is tiny
        length = float(torch.linalg.vector_norm(direction))
        direction.div_(length)
        distance = largest * length  # |H - M|
        # positions u = t |H - M| along the unit direction e
        u = [t * distance for t in GRID]
        if options.max_step is not None:
            u = [min(value, options.max_step) for value in u]
        e = problem.amplitudes(direction)
        overlap = float(torch.vdot(merged.flatten(), direction.flatten()).real)
        line = torch.addr(psi.expand(len(u), -1), psi.new_tensor(u), e)
        local = -2 * (_log_abs(line) @ weights)
        norms = [1 + 2 * overlap * value + value * value for value in u]  # |M + u e|^2
        phi = [a + math.log(b) for a, b in zip(collective.sum(local).tolist(), norms)]
        if start is None:
            start = phi[0]
        best = _shortest_best(phi)
        if best == 0:
            break
        norm = math.sqrt(norms[best])
        merged = torch.add(merged, direction, alpha=u[best]).div_(norm)
        if phi[0] - phi[best] < STEP_GAIN or step + 1 == options.steps_per_bond:
            break
        psi = torch.add(psi, e, alpha=u[best]).div_(norm)
    return merged, start
