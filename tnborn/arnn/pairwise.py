"""The exact autoregressive form of the Boltzmann distribution of a pairwise binary model
(Biazzo, arXiv:2302.08347).

For E(s) = -sum_{i<j} J_ij s_i s_j - sum_i h_i s_i and spins s = 2x - 1, the conditional
of spin i given the earlier ones is a logistic function of their fields on the later
spins::

    logit q(s_i = +1 | s_<i) = 2 beta (h_i + xi_i) + rho_i^+ - rho_i^-

    xi_l    = sum_{j<i} J_lj s_j                          (first layer: the couplings)
    rho_i^+- = ln sum_{s_>i} exp( beta sum_{l>i} (h_l + xi_l +- J_li) s_l
                                  + beta sum_{i<l<m} J_lm s_l s_m )

rho_i^+- is the log partition function of the later spins in the fields of the past
(plus or minus spin i's own coupling). :class:`BoltzmannARNN` computes it by enumerating
the 2^(n-1-i) configurations of the later spins, so it is the Boltzmann distribution to
rounding for small n; the trainable nets of :mod:`tnborn.arnn.sk` and
:mod:`tnborn.arnn.cwarnn` replace the sum by a few layers.
"""

from __future__ import annotations

import torch

from ..backend import resolve_real
from ..checks import check_beta
from ..pairwise import check_couplings, target_couplings
from .base import AutoregressiveModel, draw_from_logits

#: most spins whose later configurations BoltzmannARNN enumerates
MAX_EXACT_SITES = 20
# entries of one (batch, later configurations) block of the enumeration
_BLOCK = 2 ** 21


def past_fields(spins: torch.Tensor, couplings: torch.Tensor) -> torch.Tensor:
    """xi[b, i, l] = sum_{j<i} J_lj s_j: the field of the spins before i on every spin l,
    ``(B, n, n)``, from spins ``(B, n)`` (one cumulative sum)::

        s_j J_lj  --cumsum over j-->  fields of s_0..s_i on l  --shift by one-->  xi
    """
    contributions = spins[:, :, None] * couplings.T[None]  # (B, j, l): s_j J_lj
    return torch.cumsum(contributions, dim=1) - contributions


def spin_configurations(count: int, dtype, device) -> torch.Tensor:
    """All 2^count configurations of ``count`` spins +-1, ``(2^count, count)``."""
    codes = torch.arange(2 ** count, device=device)
    bits = (codes[:, None] >> torch.arange(count - 1, -1, -1, device=device)) & 1
    return (2 * bits - 1).to(dtype)


def check_embedded_couplings(couplings, fields, hamiltonian, described: str) -> None:
    """ValueError unless ``hamiltonian`` has these dense couplings and fields (1e-12)."""
    theirs, their_fields = target_couplings(hamiltonian, described)
    if theirs.shape != couplings.shape or \
            float((theirs - couplings.double().cpu()).abs().max()) > 1e-12:
        raise ValueError(f"{described}; {hamiltonian!r} has other couplings")
    if float((their_fields - fields.double().cpu()).abs().max()) > 1e-12:
        raise ValueError(f"{described}; {hamiltonian!r} has other fields")


class BoltzmannARNN(AutoregressiveModel):
    """exp(-beta E) / Z of a pairwise binary model in exact autoregressive form, by
    enumeration of the later spins (at most :data:`MAX_EXACT_SITES` sites).

    ``couplings``: symmetric (n, n) J with zero diagonal; ``fields``: (n,) h (zeros when
    None); ``beta``: inverse temperature. It has no trainable parameters: it is the
    reference the trainable pairwise nets approximate, and it refuses any other
    Hamiltonian or beta (:meth:`check_hamiltonian`). Cost per configuration: about
    2^n n operations (all sites); sampling draws each site once.
    """

    def __init__(self, couplings, fields=None, *, beta: float, dtype=torch.float64,
                 device=None, seed: int | None = None):
        dtype, device = resolve_real(dtype, device)
        couplings, fields = check_couplings(couplings, fields)
        n = couplings.shape[0]
        if n > MAX_EXACT_SITES:
            raise ValueError(f"BoltzmannARNN enumerates the later spins of every site: at "
                             f"most {MAX_EXACT_SITES} sites, got {n}")
        super().__init__(n, 2)
        self.beta = check_beta(beta)
        self._start_rng(seed)
        self.register_buffer("couplings", couplings.to(dtype=dtype, device=device))
        self.register_buffer("fields", fields.to(dtype=dtype, device=device))

    def _config(self) -> dict:
        return {"couplings": self.couplings.tolist(), "fields": self.fields.tolist(),
                "beta": self.beta, "dtype": str(self.couplings.dtype).replace("torch.", ""),
                "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"n_sites": self.n_sites, "support": self.support, "beta": self.beta,
                "exact": "enumeration of later spins"}

    def check_hamiltonian(self, hamiltonian, beta) -> None:
        described = (f"this BoltzmannARNN is the Boltzmann distribution of its own "
                     f"couplings and fields at beta={self.beta:g}")
        if beta is not None and abs(float(beta) - self.beta) > 1e-12 * self.beta:
            raise ValueError(f"{described}, not at beta={float(beta):g}")
        check_embedded_couplings(self.couplings, self.fields, hamiltonian, described)

    # ----------------------------------------------------------------- kernels
    def _site_logit(self, spins: torch.Tensor, i: int) -> torch.Tensor:
        """logit q(s_i = +1 | s_<i), ``(B,)``, from spins ``(B, n)`` (those from i on are
        ignored)."""
        n, beta = self.n_sites, self.beta
        J, h = self.couplings, self.fields
        past = spins[:, :i]
        xi = past @ J[:, :i].T  # (B, n): fields of the past on every spin
        logit = 2 * beta * (h[i] + xi[:, i])
        later = n - 1 - i
        if later == 0:
            return logit
        S = spin_configurations(later, J.dtype, J.device)  # (2^later, later)
        J_later = J[i + 1:, i + 1:]
        constant = beta * (S @ h[i + 1:] + 0.5 * ((S @ J_later) * S).sum(-1))
        own = beta * (S @ J[i + 1:, i])
        rows = max(1, _BLOCK // S.shape[0])
        out = []
        for start in range(0, spins.shape[0], rows):
            base = beta * xi[start:start + rows, i + 1:] @ S.T + constant
            out.append(torch.logsumexp(base + own, -1) - torch.logsumexp(base - own, -1))
        return logit + torch.cat(out)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        spins = (2 * x - 1).to(self.couplings.dtype)
        up = torch.stack([self._site_logit(spins, i) for i in range(self.n_sites)], -1)
        return torch.stack([torch.zeros_like(up), up], dim=-1)

    def _draw_site(self, x: torch.Tensor, site: int, uniform: torch.Tensor) -> torch.Tensor:
        up = self._site_logit((2 * x - 1).to(self.couplings.dtype), site)
        return draw_from_logits(torch.stack([torch.zeros_like(up), up], -1), uniform)

    def _reference_tensor(self) -> torch.Tensor:
        return self.couplings

    def _float_dtype(self) -> torch.dtype:
        return self.couplings.dtype
