"""Learning a Hamiltonian back: couplings from a model's ln p, or from Boltzmann data.

With spins s = 2x - 1, a distribution of Boltzmann form with a Hamiltonian of fields,
pairs, triples and 4-spin plaquettes,

    ln p(x) = sum_i (beta h_i) s_i + sum_{(i,j)} (beta J_ij) s_i s_j
              + sum_{(i,j,k)} (beta K_ijk) s_i s_j s_k
              + sum_{(i,j,k,l)} (beta K_ijkl) s_i s_j s_k s_l - ln Z,

is linear in the dimensionless couplings on a chosen interaction graph. Two fits recover
them:

* :func:`learn_hamiltonian` (a model): least squares of the model's ln p over
  configurations (the model's own samples by default, which weight the fit where the
  model is trained). The design is restricted to the given graph (one column per term)
  and its normal equations are accumulated in row chunks (beyond 128 MiB the design
  is never held whole).
* :func:`fit_couplings` (data only): maximum pseudo-likelihood. Each spin's conditional
  given the rest is p(s_i | rest) = exp(s_i H_i) / (2 cosh H_i), H_i the local field of
  the terms that contain i, so the negative log pseudo-likelihood
  -sum_i ln p(s_i | rest) is a convex function of the couplings, minimised by Newton's
  method in float64. On a lattice the configurations are first compressed to counts of
  each site's local patterns, so a Newton step costs the same for 10^3 or 10^6 samples.

Both return the same dict (see :func:`learn_hamiltonian`); sites follow
:mod:`tnborn.physics.graphs` (row-major lattices).
"""

from __future__ import annotations

import math
import time

import torch

from ..base import GenerativeModel
from ..checks import check_beta, check_count
from ..supports import Discrete
from .terms import CHUNK_ELEMENTS, MAX_LEAST_SQUARES_COLUMNS, Terms, fit_result

__all__ = ["learn_hamiltonian", "MAX_LEAST_SQUARES_COLUMNS"]


def learn_hamiltonian(model: GenerativeModel, *, pairs=None, triples=None, plaquettes=None,
                      beta: float | None = None, num: int = 20_000, configurations=None,
                      batch_size: int = 10_000,
                      generator: torch.Generator | None = None) -> dict:
    """Fit fields, couplings (and optional 3- and 4-spin terms) to ln p of a binary model.

    Least squares of ``model.log_prob`` over configurations on the design of one column
    per term of the interaction graph (plus a constant, an estimate of -ln Z). The
    normal equations are accumulated in chunks (memory columns^2, not rows x columns)
    and solved by Cholesky with one step of iterative refinement.

    Args:
        model: a :class:`~tnborn.base.GenerativeModel` on ``Discrete(2)``.
        pairs: the pair terms: None or ``"all"`` (every pair: the dense fit, n(n-1)/2
            columns, ValueError beyond :data:`MAX_LEAST_SQUARES_COLUMNS`), a LongTensor
            ``(P, 2)`` of site pairs (e.g. :func:`~tnborn.physics.lattice_pairs`), or
            an object with a ``bonds()`` method such as
            :class:`~tnborn.physics.Ising2D` (repeated bonds count once).
        triples: optional LongTensor ``(T, 3)`` of 3-spin terms (e.g.
            :func:`~tnborn.physics.lattice_triples`).
        plaquettes: optional LongTensor ``(Q, 4)`` of 4-spin terms (e.g.
            :func:`~tnborn.physics.lattice_plaquettes`).
        beta: if given, return J, h, K (the fit divided by beta); otherwise the
            dimensionless beta J, beta h, beta K.
        num: number of model samples to fit on (ignored when ``configurations`` is given).
        configurations: 0/1 configurations ``(N, n)`` to fit on instead of model samples
            (all 2^n of a small system make the fit exact).
        batch_size: samples and log-probabilities are computed this many at a time.
        generator: random stream for the model's samples.

    Returns:
        A dict (the same keys as :func:`fit_couplings`):

        * ``fields`` (n,); ``pairs`` (P, 2) and ``pair_couplings`` (P,);
          ``triples`` / ``triple_couplings`` and ``plaquettes`` /
          ``plaquette_couplings`` (empty when not fitted); ``couplings``: the dense
          symmetric (n, n) matrix of the pair couplings with zero diagonal (None when
          n > 1024). All float64 on the CPU.
        * ``constant``: the fitted constant (about -ln Z, never divided by beta).
        * ``residual_rms``: root-mean-square residual of ln p (nats) of the full fit;
          ``residual_by_order``: the same for the nested fits that stop at each order
          present, ``{"fields": ..., "pairs": ..., "triples": ..., "plaquettes": ...}``
          (e.g. a large ``"pairs"`` and a zero ``"plaquettes"`` entry: ln p has 4-spin
          terms).
        * ``method`` ``"least_squares"``; ``objective`` and ``objective_by_order``
          None; ``converged`` True; ``iterations`` None; ``num`` (configurations),
          ``n_sites``, ``dimensionless`` (beta is None), ``timing`` (seconds:
          ``sample``, ``log_prob``, ``fit``).

    Raises:
        ValueError: a model that is not binary, bad terms (shape, sites out of range,
            self-pairs, repeats), too many columns, fewer configurations than columns, or
            configurations that do not determine every coefficient.
        TypeError: terms that are not integer tensors.
    """
    if model.support != Discrete(2):
        raise ValueError(f"learn_hamiltonian needs a binary model, {type(model).__name__} "
                         f"is on {model.support}")
    if beta is not None:
        beta = check_beta(beta)
    batch_size = check_count(batch_size, "batch_size")
    n = model.n_sites
    terms = Terms(n, pairs, triples, plaquettes)
    columns = 1 + terms.total
    if columns > MAX_LEAST_SQUARES_COLUMNS:
        raise terms.too_many(columns, least_squares=True)
    timing = {"sample": 0.0, "log_prob": 0.0, "fit": 0.0}
    with torch.no_grad():
        start = time.perf_counter()
        if configurations is None:
            num = check_count(num, "num")
            x = torch.cat([model.sample(min(batch_size, num - first), generator=generator)
                           for first in range(0, num, batch_size)])
        else:
            x = model.validate_configurations(configurations, "configurations").reshape(-1, n)
        timing["sample"] = time.perf_counter() - start
        start = time.perf_counter()
        log_p = torch.cat([model.log_prob(x[i:i + batch_size], validate=False).to(torch.float64)
                           for i in range(0, x.shape[0], batch_size)])
        timing["log_prob"] = time.perf_counter() - start
    if x.shape[0] < columns:
        raise ValueError(f"need at least {columns} configurations to fit {columns} "
                         f"coefficients, got {x.shape[0]}")
    if not torch.isfinite(log_p).all():
        raise ValueError(f"{type(model).__name__}.log_prob is not finite on some "
                         "configurations (zero probability): ln p has no finite fit")
    start = time.perf_counter()
    theta, constant, residual_rms, by_order = _least_squares(terms, x, log_p)
    timing["fit"] = time.perf_counter() - start
    return fit_result(terms, theta, beta, method="least_squares", num=x.shape[0],
                   timing=timing, constant=constant, residual_rms=residual_rms,
                   residual_by_order=by_order)


def _least_squares(terms: Terms, x: torch.Tensor, y: torch.Tensor):
    """Solve min ||y - D theta|| with D = [1, products]; nested fits per order."""
    device = x.device
    columns = 1 + terms.total
    rows = max(1, CHUNK_ELEMENTS // columns)
    spins = (2 * x - 1).to(torch.float64)

    def make(first):
        s = spins[first:first + rows].T.contiguous()  # (n, rows)
        design = torch.cat([torch.ones(1, s.shape[1], dtype=torch.float64, device=device),
                            terms.products(s)], 0)  # transposed design (columns, rows)
        return design, y[first:first + rows]

    starts = range(0, x.shape[0], rows)
    # a design of up to 128 MiB is built once, a larger one again in each pass
    kept = [make(first) for first in starts] if x.shape[0] * columns <= 2 * CHUNK_ELEMENTS \
        else None

    def chunks():
        return iter(kept) if kept is not None else (make(first) for first in starts)

    gram = torch.zeros(columns, columns, dtype=torch.float64, device=device)
    moment = torch.zeros(columns, dtype=torch.float64, device=device)
    for design, target in chunks():
        gram.addmm_(design, design.T)
        moment.add_(design @ target)
    factor, info = torch.linalg.cholesky_ex(gram)
    if int(info) != 0:
        raise ValueError(f"the {x.shape[0]} configurations do not determine all {columns} "
                         "coefficients (the design is rank-deficient): use more, or more "
                         "varied, configurations")
    z = torch.linalg.solve_triangular(factor, moment[:, None], upper=False)
    # nested fits: the first c columns' solution uses the leading block of the factor
    ends = [1 + end for _, end in terms.levels]
    solutions = [torch.linalg.solve_triangular(factor[:c, :c].T, z[:c], upper=True)[:, 0]
                 for c in ends]
    squares = [0.0] * len(ends)
    correction = torch.zeros(columns, dtype=torch.float64, device=device)
    for design, target in chunks():
        for k, (c, solution) in enumerate(zip(ends, solutions)):
            residual = target - solution @ design[:c]
            squares[k] += float(residual @ residual)
        correction.add_(design @ residual)  # residual of the full fit
    # one step of iterative refinement against the rounding of the normal equations
    theta = solutions[-1] + torch.cholesky_solve(correction[:, None], factor)[:, 0]
    full = 0.0
    for design, target in chunks():
        residual = target - theta @ design
        full += float(residual @ residual)
    if full <= squares[-1]:
        squares[-1] = full
    else:  # refinement can only help; keep the plain solution if rounding says otherwise
        theta = solutions[-1]
    num = x.shape[0]
    by_order = {order: math.sqrt(sq / num) for (order, _), sq in zip(terms.levels, squares)}
    return theta[1:], float(theta[0]), math.sqrt(squares[-1] / num), by_order

