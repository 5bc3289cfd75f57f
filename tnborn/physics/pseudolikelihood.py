"""Maximum pseudo-likelihood fit of couplings and fields to Boltzmann data
(:func:`fit_couplings`; the method is described in :mod:`tnborn.physics.learn`)."""

from __future__ import annotations

import time
import warnings

import torch

from ..checks import as_tensor, check_beta, check_count, check_positive, check_real
from ..supports import Discrete
from .terms import CHUNK_ELEMENTS, MAX_LEAST_SQUARES_COLUMNS, Terms, fit_result

__all__ = ["fit_couplings"]

#: Largest number of parameters Newton's method solves for with a dense Cholesky
#: factorization; larger problems use preconditioned conjugate gradients.
_DENSE_NEWTON_MAX = 3000


def fit_couplings(data, pairs=None, *, triples=None, plaquettes=None, weights=None,
                  beta: float | None = None, l2: float = 0.0, tol: float = 1e-10,
                  max_iter: int = 50) -> dict:
    """Maximum pseudo-likelihood fit of couplings and fields to Boltzmann data.

    For configurations drawn from p(x) ∝ exp(-beta E(x)) with E of the given terms, the
    pseudo-likelihood prod_k prod_i p(s_i | rest) needs no partition function and its
    maximiser is a consistent estimate of beta J, beta h (and beta K of 3- and 4-spin
    terms). Newton's method on the convex negative log pseudo-likelihood, float64,
    backtracking line search; the Hessian is solved by Cholesky up to 3000 parameters and
    by Jacobi-preconditioned conjugate gradients beyond. When each site has few terms
    (a lattice) the data are compressed to counts of local patterns first.

    Args:
        data: 0/1 configurations ``(N, n)`` (any integer, bool or integral float tensor or
            array), e.g. :func:`tnborn.datasets.ising_samples`.
        pairs, triples, plaquettes: the interaction graph, as for
            :func:`learn_hamiltonian` (``pairs=None`` is every pair, limited to
            :data:`MAX_LEAST_SQUARES_COLUMNS` coefficients).
        weights: optional non-negative weight of each configuration ``(N,)`` (e.g. exact
            probabilities of all 2^n configurations); None counts each once.
        beta: if given, return J, h, K (the fit divided by beta); otherwise the
            dimensionless couplings.
        l2: ridge penalty ``l2/2 * ||theta||^2`` added to the mean negative log
            pseudo-likelihood (>= 0; use > 0 when the data leave a maximum at infinity,
            e.g. a spin that never flips).
        tol: Newton stops once a full step changes no coefficient by more than ``tol``.
        max_iter: Newton steps per order at most (RuntimeWarning if not converged).

    Returns:
        The dict of :func:`learn_hamiltonian`, with ``method`` ``"pseudolikelihood"``,
        ``objective`` (mean negative log pseudo-likelihood per configuration,
        -sum_i ln p(s_i | rest) in nats, without the penalty) and
        ``objective_by_order`` (the same for the nested fits that stop at each order
        present: fields only, then pairs, triples, plaquettes), ``converged``,
        ``iterations`` (Newton steps over all orders), ``timing`` ``{"fit": seconds}``;
        ``constant``, ``residual_rms``, ``residual_by_order`` are None.

    Raises:
        ValueError: data not of shape (N, n) or not 0/1, bad terms (shape, out of range,
            self-pairs, repeats), bad weights, a spin constant over the data with
            ``l2 = 0``, or a singular Hessian.
        TypeError: data or terms of a non-numeric or non-integer type.
    """
    start = time.perf_counter()
    x = _check_data(data)
    num, n = x.shape
    l2 = check_real(l2, "l2")
    if l2 < 0:
        raise ValueError(f"l2 must be >= 0, got {l2}")
    tol = check_positive(tol, "tol")
    max_iter = check_count(max_iter, "max_iter")
    if beta is not None:
        beta = check_beta(beta)
    w = _check_weights(weights, num)
    terms = Terms(n, pairs, triples, plaquettes)
    if terms.all_pairs and terms.total > MAX_LEAST_SQUARES_COLUMNS:
        raise terms.too_many(terms.total, least_squares=False)
    if l2 == 0:
        present = x if w is None else x[w > 0]
        frozen = torch.nonzero((present == present[:1]).all(0)).flatten()
        if frozen.numel():
            raise ValueError(f"site {int(frozen[0])} takes the same value in every "
                             "configuration, so its field has no finite pseudo-likelihood "
                             "maximum: pass l2 > 0 or more varied data")
    problem = _PseudoLikelihood(terms, x, w)
    theta = torch.zeros(terms.total, dtype=torch.float64)
    objective_by_order, iterations, converged = {}, 0, True
    for order, end in terms.levels:
        active = torch.zeros(terms.total, dtype=torch.bool)
        active[:end] = True
        theta, steps, done = _newton(problem, theta, active, l2, tol, max_iter)
        iterations += steps
        converged = converged and done
        if not done:
            warnings.warn(f"the pseudo-likelihood fit up to {order} did not converge in "
                          f"{max_iter} Newton steps", RuntimeWarning, stacklevel=2)
        objective_by_order[order] = problem.value(theta)
    timing = {"fit": time.perf_counter() - start}
    return fit_result(terms, theta, beta, method="pseudolikelihood", num=num, timing=timing,
                   objective=objective_by_order[terms.levels[-1][0]],
                   objective_by_order=objective_by_order, converged=converged,
                   iterations=iterations)


def _check_data(data) -> torch.Tensor:
    if callable(getattr(data, "log_prob", None)) and callable(getattr(data, "sample", None)):
        raise TypeError("fit_couplings takes configurations, not a model: use "
                        "learn_hamiltonian(model) or fit_couplings(model.sample(num))")
    data = as_tensor(data, "data must be a tensor of 0/1 configurations (N, n), got "
                           f"{type(data).__name__}")
    if data.ndim != 2:
        raise ValueError(f"data must have shape (N, n), got {tuple(data.shape)}")
    if data.shape[0] < 2 or data.shape[1] < 1:
        raise ValueError(f"data needs at least 2 configurations of at least 1 site, "
                         f"got shape {tuple(data.shape)}")
    return Discrete(2).validate(data.detach(), data.shape[1], name="data").cpu()


def _check_weights(weights, num: int):
    if weights is None:
        return None
    weights = as_tensor(weights, f"weights must be a real tensor (N,), got "
                                 f"{type(weights).__name__}")
    if weights.dtype == torch.bool or weights.is_complex():
        raise TypeError(f"weights must be real, got dtype {weights.dtype}")
    weights = weights.detach().cpu().to(torch.float64)
    if weights.shape != (num,):
        raise ValueError(f"weights must have shape ({num},), got {tuple(weights.shape)}")
    if not torch.isfinite(weights).all() or (weights < 0).any():
        raise ValueError("weights must be finite and >= 0")
    if not (weights > 0).any():
        raise ValueError("weights are all zero")
    return weights


class _PseudoLikelihood:
    """Mean negative log pseudo-likelihood, its gradient and Hessian blocks.

    Every term t that contains site i contributes theta_t g_{i,t} to s_i H_i, with
    g_{i,t} = prod_{j in t} s_j, so -ln p(s_i | rest) = softplus(-2 u_i) with
    u_i = sum_t theta_t g_{i,t}. ``slots`` (n, m) lists the terms of each site (m the
    most terms of any site; padding points to a dummy coefficient and has g = 0) and
    ``positions`` (n, m, 4) the sites of each (the site itself first; padding: the
    constant spin n).

    With 2^m local patterns fewer than the data, the data become ``counts`` (n, 2^m) of
    each site's pattern of g (bit b of the code: g of slot b is +1) with the shared
    ``patterns`` (2^m, m). Otherwise g is streamed in chunks (n, m, rows) of
    configurations, from an int8 copy when it fits in 128 MiB.
    """

    def __init__(self, terms: Terms, x: torch.Tensor, weights):
        n = terms.n
        self.n, self.total = n, terms.total
        entries, offset = [], 0
        for order_terms in terms.by_order.values():
            count, width = order_terms.shape
            index = torch.arange(offset, offset + count)
            for j in range(width):
                sites = torch.cat([order_terms[:, j:j + 1], order_terms[:, :j],
                                   order_terms[:, j + 1:],
                                   torch.full((count, 4 - width), n, dtype=torch.long)], 1)
                entries.append(torch.cat([index[:, None], sites], 1))
            offset += count
        entries = torch.cat(entries)
        entries = entries[torch.sort(entries[:, 1], stable=True).indices]
        per_site = torch.bincount(entries[:, 1], minlength=n)
        self.m = m = int(per_site.max())
        first = torch.cumsum(per_site, 0) - per_site
        slot = torch.arange(entries.shape[0]) - first[entries[:, 1]]
        self.slots = torch.full((n, m), self.total, dtype=torch.long)
        self.slots[entries[:, 1], slot] = entries[:, 0]
        self.positions = torch.full((n, m, 4), n, dtype=torch.long)
        self.positions[entries[:, 1], slot] = entries[:, 1:]
        self.valid = self.slots < self.total
        # how many of the 4 positions any site's term in slot j really uses
        self.widths = [int((self.positions[:, j] < n).sum(1).max()) for j in range(m)]
        self.x, self.weights = x, weights
        self.num = float(x.shape[0]) if weights is None else float(weights.sum())
        self.table = (m <= 16 and 2 ** m <= x.shape[0] and n * 2 ** m <= CHUNK_ELEMENTS
                      and 2 ** m * m * m <= CHUNK_ELEMENTS)
        if self.table:
            self._compress()
        else:
            self.rows = max(1, 2 ** 20 // (n * m))
            self.cache = None
            if n * m * x.shape[0] <= 2 ** 27:
                self.cache = self._g(x, torch.int8)

    def _site_major(self, x: torch.Tensor, dtype) -> torch.Tensor:
        """Spins of x (rows, n) as (n + 1, rows) of ``dtype``, the last row +1."""
        s = (2 * x - 1).to(dtype).T
        return torch.cat([s, torch.ones(1, x.shape[0], dtype=dtype)]).contiguous()

    def _g(self, x: torch.Tensor, dtype=torch.float64) -> torch.Tensor:
        """g (n, m, rows) of configurations x (rows, n); padding slots 0."""
        s = self._site_major(x, dtype)
        n = self.n
        g = torch.zeros(n, self.m, x.shape[0], dtype=dtype)
        for j, width in enumerate(self.widths):
            product = g[:, j]
            product.copy_(s[:n])
            for k in range(1, width):
                product.mul_(s[self.positions[:, j, k]])
            product.mul_(self.valid[:, j:j + 1])
        return g

    def _compress(self) -> None:
        """Count each site's pattern code over the data, on 0/1 values: with y = 1 - x
        (1 where s = -1), g of a slot is +1 exactly when the XOR of y over its sites is
        0. Site-major uint8 copies make every gather a contiguous row copy, and chunks
        of about 2^20 values keep the work in cache."""
        m, n = self.m, self.n
        valid = self.valid.to(torch.uint8)
        site_offset = (torch.arange(n) * 2 ** m)[:, None]
        counts = torch.zeros(n * 2 ** m, dtype=torch.float64)
        rows = max(1, 2 ** 20 // n)
        for first in range(0, self.x.shape[0], rows):
            chunk = self.x[first:first + rows]
            size = chunk.shape[0]
            y = torch.cat([(1 - chunk).to(torch.uint8).T,
                           torch.zeros(1, size, dtype=torch.uint8)]).contiguous()
            # the code's bytes (m <= 16 slots), built in place in uint8
            code_bytes = [torch.zeros(n, size, dtype=torch.uint8) for _ in range((m + 7) // 8)]
            bit = torch.empty(n, size, dtype=torch.uint8)
            gathered = torch.empty(n, size, dtype=torch.uint8)
            for j, width in enumerate(self.widths):
                # valid ^ parity: 1 - parity on a real slot, 0 on padding (all zeros)
                torch.bitwise_xor(y[:n], valid[:, j:j + 1], out=bit)
                for k in range(1, width):
                    torch.index_select(y, 0, self.positions[:, j, k], out=gathered)
                    bit.bitwise_xor_(gathered)
                code_bytes[j // 8].bitwise_or_(bit.bitwise_left_shift_(j % 8))
            keys = site_offset + code_bytes[0].long()
            if len(code_bytes) > 1:
                keys += code_bytes[1].long() << 8
            w = None
            if self.weights is not None:
                w = self.weights[first:first + rows][None, :].expand(n, -1).flatten()
            counts += torch.bincount(keys.flatten(), weights=w, minlength=counts.numel()).to(
                torch.float64)
        self.counts = counts.reshape(n, 2 ** m)
        powers = 2 ** torch.arange(m)
        codes = torch.arange(2 ** m)
        self.patterns = (((codes[:, None] // powers) % 2) * 2 - 1).to(torch.float64)
        self.outer = (self.patterns[:, :, None] * self.patterns[:, None, :]).reshape(2 ** m, -1)

    def _chunks(self):
        """(g (n, m, rows) float64, weights (rows,) or None) over the data."""
        for first in range(0, self.x.shape[0], self.rows):
            last = first + self.rows
            if self.cache is not None:
                g = self.cache[:, :, first:last].to(torch.float64)
            else:
                g = self._g(self.x[first:last])
            yield g, None if self.weights is None else self.weights[first:last]

    def _coefficients(self, theta: torch.Tensor) -> torch.Tensor:
        return torch.cat([theta, theta.new_zeros(1)])[self.slots] * self.valid  # (n, m)

    def value(self, theta: torch.Tensor) -> float:
        coef = self._coefficients(theta)
        if self.table:
            u = coef @ self.patterns.T  # (n, 2^m)
            return float((self.counts * torch.nn.functional.softplus(-2 * u)).sum()) / self.num
        total = 0.0
        for g, w in self._chunks():
            loss = torch.nn.functional.softplus(-2 * torch.bmm(coef[:, None, :], g)[:, 0])
            total += float(loss.sum() if w is None else (loss @ w).sum())
        return total / self.num

    def derivatives(self, theta: torch.Tensor):
        """(value, gradient (total,), Hessian blocks (n, m, m)), all per configuration."""
        coef = self._coefficients(theta)
        n, m = self.n, self.m
        if self.table:
            u = coef @ self.patterns.T
            value = float((self.counts * torch.nn.functional.softplus(-2 * u)).sum())
            d = -2 * torch.sigmoid(-2 * u) * self.counts
            curvature = 4 * torch.sigmoid(2 * u) * torch.sigmoid(-2 * u) * self.counts
            grad_slots = d @ self.patterns
            blocks = (curvature @ self.outer).reshape(n, m, m)
        else:
            value = 0.0
            grad_slots = torch.zeros(n, m, dtype=torch.float64)
            blocks = torch.zeros(n, m, m, dtype=torch.float64)
            for g, w in self._chunks():
                u = torch.bmm(coef[:, None, :], g)[:, 0]  # (n, rows)
                loss = torch.nn.functional.softplus(-2 * u)
                d = -2 * torch.sigmoid(-2 * u)
                curvature = 4 * torch.sigmoid(2 * u) * torch.sigmoid(-2 * u)
                if w is not None:
                    loss, d, curvature = loss * w, d * w, curvature * w
                value += float(loss.sum())
                grad_slots += torch.bmm(g, d[:, :, None])[:, :, 0]
                blocks += torch.bmm(g * curvature[:, None, :], g.transpose(1, 2))
        blocks = blocks * (self.valid[:, :, None] & self.valid[:, None, :])
        grad = torch.zeros(self.total + 1, dtype=torch.float64)
        grad.index_add_(0, self.slots.flatten(), grad_slots.flatten())
        return value / self.num, grad[:-1] / self.num, blocks / self.num

    def hessian(self, blocks: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
        """The dense Hessian of the coefficients ``index`` (the others left out)."""
        size = index.numel()
        position = torch.full((self.total + 1,), size, dtype=torch.long)
        position[index] = torch.arange(size)
        local = position[self.slots]
        hessian = torch.zeros(size + 1, size + 1, dtype=torch.float64)
        hessian.index_put_((local[:, :, None].expand(-1, -1, self.m),
                            local[:, None, :].expand(-1, self.m, -1)), blocks,
                           accumulate=True)
        return hessian[:-1, :-1]

    def hessian_vector(self, blocks: torch.Tensor, v: torch.Tensor) -> torch.Tensor:
        local = torch.cat([v, v.new_zeros(1)])[self.slots]
        out = torch.zeros(self.total + 1, dtype=torch.float64)
        out.index_add_(0, self.slots.flatten(), torch.bmm(blocks, local[:, :, None]).flatten())
        return out[:-1]

    def hessian_diagonal(self, blocks: torch.Tensor) -> torch.Tensor:
        out = torch.zeros(self.total + 1, dtype=torch.float64)
        out.index_add_(0, self.slots.flatten(), torch.diagonal(blocks, 0, 1, 2).flatten())
        return out[:-1]


def _newton(problem: _PseudoLikelihood, theta, active, l2, tol, max_iter):
    """Minimise the penalised objective over the ``active`` coefficients (others fixed).

    Returns (theta, steps, converged)."""
    theta = theta.clone()
    theta[~active] = 0.0
    index = torch.nonzero(active).flatten()

    def penalised(t):
        return problem.value(t) + 0.5 * l2 * float(t @ t)

    for step_count in range(1, max_iter + 1):
        value, grad, blocks = problem.derivatives(theta)
        value += 0.5 * l2 * float(theta @ theta)
        grad = (grad + l2 * theta)[index]
        if index.numel() <= _DENSE_NEWTON_MAX:
            hessian = problem.hessian(blocks, index)
            hessian.diagonal().add_(l2)
            factor, info = torch.linalg.cholesky_ex(hessian)
            if int(info) != 0:
                raise ValueError("the pseudo-likelihood Hessian is singular: the data do not "
                                 "determine every coupling (pass l2 > 0 or more data)")
            direction = -torch.cholesky_solve(grad[:, None], factor)[:, 0]
        else:
            direction = -_conjugate_gradient(problem, blocks, index, l2, grad)
        decrement = -float(grad @ direction)
        t = 1.0
        if decrement > 1e-8:  # far from the minimum: backtrack
            trial = theta.clone()
            while t > 1e-12:
                trial[index] = theta[index] + t * direction
                if penalised(trial) <= value - 0.25 * t * decrement:
                    break
                t *= 0.5
        theta[index] += t * direction
        if t == 1.0 and float(direction.abs().max()) <= tol:
            return theta, step_count, True
    return theta, max_iter, False


def _conjugate_gradient(problem, blocks, index, l2, b, rtol=1e-13, max_iter=2000):
    """Solve H x = b on the active coefficients, Jacobi-preconditioned."""
    total = problem.total

    def matvec(v):
        full = torch.zeros(total, dtype=torch.float64)
        full[index] = v
        return problem.hessian_vector(blocks, full)[index] + l2 * v

    diagonal = problem.hessian_diagonal(blocks)[index] + l2
    if (diagonal <= 0).any():
        raise ValueError("the pseudo-likelihood Hessian is singular: the data do not "
                         "determine every coupling (pass l2 > 0 or more data)")
    inverse = 1.0 / diagonal
    x = torch.zeros_like(b)
    r = b.clone()
    z = inverse * r
    p = z.clone()
    rz = float(r @ z)
    target = rtol * float(b.norm())
    for _ in range(max_iter):
        if float(r.norm()) <= target:
            break
        hp = matvec(p)
        alpha = rz / float(p @ hp)
        x += alpha * p
        r -= alpha * hp
        z = inverse * r
        rz, previous = float(r @ z), rz
        p = z + (rz / previous) * p
    return x
