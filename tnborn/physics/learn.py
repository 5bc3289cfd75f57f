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
import warnings

import torch

from ..base import GenerativeModel
from ..checks import check_beta, check_count, check_positive, check_real
from ..supports import Discrete
from .graphs import _first_occurrences, check_terms

__all__ = ["learn_hamiltonian", "fit_couplings", "MAX_LEAST_SQUARES_COLUMNS"]

#: Most coefficients (columns of the design, the constant included) a least-squares fit
#: or an all-pairs pseudo-likelihood fit takes: the normal matrix is columns^2 float64
#: (512 MiB at this limit). The all-pairs default reaches it at about 127 sites.
MAX_LEAST_SQUARES_COLUMNS = 8192
#: Largest site count for which the dense (n, n) ``couplings`` matrix is returned.
DENSE_COUPLINGS_MAX_SITES = 1024
#: Largest number of parameters Newton's method solves for with a dense Cholesky
#: factorization; larger problems use preconditioned conjugate gradients.
_DENSE_NEWTON_MAX = 3000
#: float64 elements of one working chunk (64 MiB)
_CHUNK_ELEMENTS = 2 ** 23
ORDERS = ("fields", "pairs", "triples", "plaquettes")


# ---------------------------------------------------------------------- the terms
class _Terms:
    """Fields, pairs, triples and plaquettes of one fit (LongTensors on the CPU)."""

    def __init__(self, n: int, pairs, triples, plaquettes):
        self.n = n
        self.all_pairs = pairs is None or (isinstance(pairs, str) and pairs == "all")
        if self.all_pairs:
            rows, cols = torch.triu_indices(n, n, offset=1)
            pairs = torch.stack([rows, cols], 1)
        elif isinstance(pairs, str):
            raise ValueError(f"pairs must be None or 'all' (every pair), a LongTensor "
                             f"(P, 2) or an object with bonds(), got {pairs!r}")
        elif callable(getattr(pairs, "bonds", None)):
            # a Hamiltonian-like object: its bonds (which may repeat a pair) are the graph
            pairs = _bonds_of(pairs, n)
        else:
            pairs = check_terms(pairs, n, 2, "pairs")
        self.by_order = {
            "fields": torch.arange(n)[:, None],
            "pairs": pairs,
            "triples": (torch.zeros(0, 3, dtype=torch.long) if triples is None
                        else check_terms(triples, n, 3, "triples")),
            "plaquettes": (torch.zeros(0, 4, dtype=torch.long) if plaquettes is None
                           else check_terms(plaquettes, n, 4, "plaquettes")),
        }
        self.counts = {order: t.shape[0] for order, t in self.by_order.items()}
        self.total = sum(self.counts.values())
        # orders present, in order, with the end of each (fields first) in the
        # coefficient vector
        self.levels, end = [], 0
        for order in ORDERS:
            if self.counts[order] or order == "fields":
                end += self.counts[order]
                self.levels.append((order, end))

    def products(self, spins: torch.Tensor) -> torch.Tensor:
        """The spin product of every term, (total, rows), fields first, from site-major
        spins (n, rows) (row gathers of contiguous memory)."""
        out = []
        for terms in self.by_order.values():
            if terms.shape[0] == 0:
                continue
            t = terms.to(spins.device)
            product = spins[t[:, 0]]
            for j in range(1, t.shape[1]):
                product = product * spins[t[:, j]]
            out.append(product)
        return torch.cat(out, 0)

    def too_many(self, columns: int, least_squares: bool) -> ValueError:
        what, unit = (("least-squares fit", "columns") if least_squares
                      else ("pseudo-likelihood fit", "coefficients"))
        if self.all_pairs:
            return ValueError(
                f"the all-pairs {what} of {self.n} sites needs {columns:,} {unit} "
                f"(n(n-1)/2 = {self.counts['pairs']:,} pairs, {self.n} fields"
                f"{', a constant' if least_squares else ''}), more than "
                f"{MAX_LEAST_SQUARES_COLUMNS:,}: pass pairs= with a sparse interaction "
                "graph, e.g. tnborn.physics.lattice_pairs(L)")
        return ValueError(f"the {what} needs {columns:,} {unit}, more than "
                          f"{MAX_LEAST_SQUARES_COLUMNS:,}: use a smaller interaction graph")

    def result(self, theta: torch.Tensor, scale: float) -> dict:
        """Coefficients ``theta`` (total,) split by order, times ``scale``."""
        theta = theta * scale
        out, start = {}, 0
        for order in ORDERS:
            stop = start + self.counts[order]
            out[order] = theta[start:stop]
            start = stop
        n = self.n
        couplings = None
        if n <= DENSE_COUPLINGS_MAX_SITES:
            pairs = self.by_order["pairs"]
            couplings = torch.zeros(n, n, dtype=torch.float64)
            couplings[pairs[:, 0], pairs[:, 1]] = out["pairs"]
            couplings[pairs[:, 1], pairs[:, 0]] = out["pairs"]
        return {"couplings": couplings, "fields": out["fields"],
                "pairs": self.by_order["pairs"], "pair_couplings": out["pairs"],
                "triples": self.by_order["triples"], "triple_couplings": out["triples"],
                "plaquettes": self.by_order["plaquettes"],
                "plaquette_couplings": out["plaquettes"]}


def _bonds_of(graph, n: int) -> torch.Tensor:
    sites = getattr(graph, "n_sites", n)
    if sites != n:
        raise ValueError(f"pairs={graph!r} has {sites} sites, the fit {n}")
    try:
        bonds = torch.as_tensor(graph.bonds())
    except (TypeError, ValueError, RuntimeError) as exc:
        raise TypeError(f"{type(graph).__name__}.bonds() must return a (P, 2) integer "
                        f"tensor ({exc})") from None
    if bonds.ndim == 2 and bonds.shape[1] == 2 and not (
            bonds.is_floating_point() or bonds.dtype == torch.bool):
        bonds = _first_occurrences(bonds.long())
    return check_terms(bonds, n, 2, f"{type(graph).__name__}.bonds()")


def _result(terms: _Terms, theta, beta, *, method, num, timing, constant=None,
            residual_rms=None, residual_by_order=None, objective=None,
            objective_by_order=None, converged=True, iterations=None) -> dict:
    scale = 1.0 / beta if beta is not None else 1.0
    out = terms.result(theta.cpu(), scale)
    out.update({"method": method, "constant": constant, "residual_rms": residual_rms,
                "residual_by_order": residual_by_order, "objective": objective,
                "objective_by_order": objective_by_order, "converged": converged,
                "iterations": iterations, "num": num, "n_sites": terms.n,
                "dimensionless": beta is None, "timing": timing})
    return out


# ---------------------------------------------------------------------- least squares
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
    terms = _Terms(n, pairs, triples, plaquettes)
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
    return _result(terms, theta, beta, method="least_squares", num=x.shape[0],
                   timing=timing, constant=constant, residual_rms=residual_rms,
                   residual_by_order=by_order)


def _least_squares(terms: _Terms, x: torch.Tensor, y: torch.Tensor):
    """Solve min ||y - D theta|| with D = [1, products]; nested fits per order."""
    device = x.device
    columns = 1 + terms.total
    rows = max(1, _CHUNK_ELEMENTS // columns)
    spins = (2 * x - 1).to(torch.float64)

    def make(first):
        s = spins[first:first + rows].T.contiguous()  # (n, rows)
        design = torch.cat([torch.ones(1, s.shape[1], dtype=torch.float64, device=device),
                            terms.products(s)], 0)  # transposed design (columns, rows)
        return design, y[first:first + rows]

    starts = range(0, x.shape[0], rows)
    # a design of up to 128 MiB is built once, a larger one again in each pass
    kept = [make(first) for first in starts] if x.shape[0] * columns <= 2 * _CHUNK_ELEMENTS \
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


# ---------------------------------------------------------------------- pseudo-likelihood
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
    terms = _Terms(n, pairs, triples, plaquettes)
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
    return _result(terms, theta, beta, method="pseudolikelihood", num=num, timing=timing,
                   objective=objective_by_order[terms.levels[-1][0]],
                   objective_by_order=objective_by_order, converged=converged,
                   iterations=iterations)


def _check_data(data) -> torch.Tensor:
    if callable(getattr(data, "log_prob", None)) and callable(getattr(data, "sample", None)):
        raise TypeError("fit_couplings takes configurations, not a model: use "
                        "learn_hamiltonian(model) or fit_couplings(model.sample(num))")
    if not isinstance(data, torch.Tensor):
        try:
            data = torch.as_tensor(data)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"data must be a tensor of 0/1 configurations (N, n), got "
                            f"{type(data).__name__}") from None
    if data.ndim != 2:
        raise ValueError(f"data must have shape (N, n), got {tuple(data.shape)}")
    if data.shape[0] < 2 or data.shape[1] < 1:
        raise ValueError(f"data needs at least 2 configurations of at least 1 site, "
                         f"got shape {tuple(data.shape)}")
    return Discrete(2).validate(data.detach(), data.shape[1], name="data").cpu()


def _check_weights(weights, num: int):
    if weights is None:
        return None
    if not isinstance(weights, torch.Tensor):
        try:
            weights = torch.as_tensor(weights)
        except (TypeError, ValueError, RuntimeError):
            raise TypeError(f"weights must be a real tensor (N,), got "
                            f"{type(weights).__name__}") from None
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

    def __init__(self, terms: _Terms, x: torch.Tensor, weights):
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
        self.table = (m <= 16 and 2 ** m <= x.shape[0] and n * 2 ** m <= _CHUNK_ELEMENTS
                      and 2 ** m * m * m <= _CHUNK_ELEMENTS)
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
