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

phi(0) of an update is the NLL of the network as the previous update left it, up to the
scale of the environments: ``scale`` (this rank's sum_b w_b ln c_b, with c_b the factor
the amplitudes psi_b lack because the environments' rows were renormalized) is summed
with the grid's values, so that the NLL  phi(0) - 2 scale  of one update can be compared
with another's (:class:`PendingSplit`).
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
    return psi if bool(psi.all()) else torch.where(psi == 0, tiny(psi.real.dtype), psi)


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
    stepped, before, _ = line_search_steps(merged, problem, options)
    factors = split(stepped)
    if not needs_check(stepped, merged, factors):
        return factors
    if truncated_nll(problem, factors, merged.shape, options.collective, product) \
            > tie_bound(before):
        return split(merged)
    return factors


def needs_check(stepped: torch.Tensor, merged: torch.Tensor, factors) -> bool:
    """Whether the split ``factors`` of ``stepped`` (the line search's result on
    ``merged``) must be checked: a step was taken and the split truncated it."""
    return stepped is not merged and not _full_rank(factors)


def truncated_nll(problem, factors, shape, collective,
                  product=lambda factors: factors[0] @ factors[1]) -> float:
    """phi of the truncated tensor ``product(factors)`` (reshaped to ``shape``) in the
    frame of ``problem``."""
    return _local_nll(problem, product(factors).reshape(shape), collective)


def total_log(logs: list) -> torch.Tensor | None:
    """The sum of per-sample log-scales ``(B,)`` (None entries count as zeros; None if all
    are): what a product of cached vectors lacks, from what each of them lacks."""
    present = [t for t in logs if t is not None]
    if not present:
        return None
    total = present[0]
    for t in present[1:]:
        total = total + t
    return total


class PendingSplit:
    """A line-searched update of a full-batch sweep whose truncated split is in the
    network but not yet checked. The next update's line search gives the NLL the split
    left, ``phi(0) - 2 scale`` (module docstring), at no cost; :meth:`fails` compares it
    with the NLL before the step. :meth:`check` does the same at once, from this update's
    own local problem (the end of a sweep, or a next update that tried no step).

    ``before``: phi(merged) in the frame of ``problem``; ``scale``: that frame's summed
    scale; ``undo()`` puts ``split(merged)`` in the network in place of the checked split
    ``factors``, whose tensor is ``product(factors)``.
    """

    def __init__(self, before: float, scale: float, problem, factors, shape, undo, product):
        self.before, self.scale, self.problem = before, scale, problem
        self.factors, self.shape, self.undo, self.product = factors, shape, undo, product

    def fails(self, nll_now: float) -> bool:
        """Whether the network's NLL ``nll_now`` lies above the NLL before the step."""
        return nll_now > tie_bound(self.before - 2 * self.scale)

    def check(self, collective) -> bool:
        """Whether the split raised the NLL, from this update's local problem."""
        return truncated_nll(self.problem, self.factors, self.shape, collective,
                             self.product) > tie_bound(self.before)


class DeferredChecks:
    """The updates of a learner's sweep: :meth:`update` for every one, :meth:`settle` at
    the end of the sweep. A full-batch line-searched update leaves the check of its
    truncated split to the next one (:class:`PendingSplit`); a minibatch or fixed-step
    update is :func:`step_and_split`, checked at once."""

    def __init__(self, options):
        self.options = options
        self.pending: PendingSplit | None = None

    def update(self, merged: torch.Tensor, problem, rows, weights, logs, split, commit,
               redo, product=lambda factors: factors[0] @ factors[1]) -> None:
        """Step(s) on ``merged``, then ``commit(split(stepped))``.

        ``rows``: the update's batch (None: every row); ``weights`` ``(B,)`` in row order;
        ``logs``: the per-row log-scales ``(B,)`` (or None) of the cached vectors in
        ``problem``, whose weighted sum puts this update's phi in the frame of every other.
        When the step shows that the previous update's split raised the NLL, that split is
        undone and ``redo()`` (the caller's update again, from the network as it is then)
        runs instead."""
        options = self.options
        if rows is not None or options.lr is not None:
            commit(step_and_split(merged, problem, options, split, product))
            return
        total = total_log(logs)
        stepped, before, scale = line_search_steps(
            merged, problem, options, None if total is None else total @ weights)
        if self.pending is not None:
            pending, self.pending = self.pending, None
            failed = pending.check(options.collective) if before is None \
                else pending.fails(before - 2 * scale)
            if failed:
                pending.undo()
                return redo()
        factors = split(stepped)
        if needs_check(stepped, merged, factors):
            self.pending = PendingSplit(before, scale, problem, factors, merged.shape,
                                        lambda: commit(split(merged)), product)
        commit(factors)

    def settle(self) -> None:
        """Check the last update's truncated split now."""
        if self.pending is not None:
            pending, self.pending = self.pending, None
            if pending.check(self.options.collective):
                pending.undo()


def _full_rank(factors) -> bool:
    """Whether a split ``left (m, r), ..., right (r, n)`` kept every singular value of its
    m x n matrix (r = min(m, n)): then its product is the stepped tensor to rounding, whose
    NLL the line search has already lowered, and the truncation check is skipped."""
    return factors[0].shape[-1] == min(factors[0].shape[0], factors[-1].shape[-1])


def _log_abs(psi: torch.Tensor) -> torch.Tensor:
    """ln |psi| (no underflow of |psi|^2; -inf where psi = 0)."""
    return psi.abs().log_()


def _local_nll(problem, tensor: torch.Tensor, collective) -> float:
    """phi(tensor) of the local problem, summed over ``collective``: the exact local NLL
    of the network with ``tensor`` in place of the merged one (any norm)."""
    local = collective.sum(_log_abs(problem.amplitudes(tensor)) @ problem.weights)
    return -2 * float(local) + 2 * math.log(float(torch.linalg.vector_norm(tensor)))


def tie_bound(phi: float) -> float:
    """The largest value that counts as equal to ``phi`` (:data:`TIE`)."""
    return phi + TIE * (1 + abs(phi))


def _shortest_best(phi: list[float]) -> int:
    """Index of the first (shortest) grid point within :data:`TIE` of the lowest phi:
    so that sums differing by rounding alone (one process or several ranks) pick the
    same step, and a flat line keeps t = 0."""
    bound = tie_bound(min(phi))
    return next(i for i, value in enumerate(phi) if value <= bound)


def line_search_steps(merged: torch.Tensor, problem, options, scale=None):
    """Up to ``options.steps_per_bond`` line-searched steps on the unit-norm ``merged``;
    returns the new unit-norm tensor (``merged`` itself if no step was taken),
    phi(merged) (None if no step was tried) and ``scale`` (a 0-d tensor of this rank's
    rows, or None for 0) summed over the ranks with the first step's phi values (0.0 if
    no step was tried).

    ``options.max_step`` caps |M(t) - M| as in the fixed step; the gradient terms and
    the phi values are summed over ``options.collective``. The grid's few scalars are
    handled in Python: on small bonds the torch calls, not the flops, cost the time.
    """
    collective = options.collective
    weights = problem.weights
    psi = problem.amplitudes(merged)
    start, scale_sum = None, 0.0
    for step in range(options.steps_per_bond):
        psi = _nonzero(psi)
        direction = collective.sum(problem.grad_term(psi)).conj() - merged  # H - M
        largest = float(torch.linalg.vector_norm(direction, math.inf))
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
        local = _log_abs(line) @ weights
        carry = start is None and scale is not None  # the scale rides with the first sum
        sums = collective.sum(torch.cat((local, scale.view(1))) if carry else local).tolist()
        if carry:
            scale_sum = sums.pop()
        norms = [1 + 2 * overlap * value + value * value for value in u]  # |M + u e|^2
        phi = [-2 * a + math.log(b) for a, b in zip(sums, norms)]
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
    return merged, start, scale_sum
