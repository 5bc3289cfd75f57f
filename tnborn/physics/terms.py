"""The terms of a fitted Hamiltonian (fields, pairs, triples, 4-spin plaquettes) on an
interaction graph, shared by the least-squares fit (:mod:`tnborn.physics.learn`) and the
pseudo-likelihood fit (:mod:`tnborn.physics.pseudolikelihood`), and the one result dict
both return.
"""

from __future__ import annotations

import torch

from .graphs import _first_occurrences, check_terms

#: Most coefficients (columns of the design, the constant included) a least-squares fit
#: or an all-pairs pseudo-likelihood fit takes: the normal matrix is columns^2 float64
#: (512 MiB at this limit). The all-pairs default reaches it at about 127 sites.
MAX_LEAST_SQUARES_COLUMNS = 8192
#: Largest site count for which the dense (n, n) ``couplings`` matrix is returned.
DENSE_COUPLINGS_MAX_SITES = 1024
#: float64 elements of one working chunk (64 MiB)
CHUNK_ELEMENTS = 2 ** 23
ORDERS = ("fields", "pairs", "triples", "plaquettes")


class Terms:
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
            pairs = bonds_of(pairs, n)
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


def bonds_of(graph, n: int) -> torch.Tensor:
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


def fit_result(terms: Terms, theta, beta, *, method, num, timing, constant=None,
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

