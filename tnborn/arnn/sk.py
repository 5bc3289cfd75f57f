"""An ARNN built from a pairwise Hamiltonian (after Biazzo, arXiv:2302.08347).

For E(s) = -sum_{i<j} J_ij s_i s_j - sum_i h_i s_i, the exact conditional of spin i is

    logit q(s_i = +1 | s_<i) = 2 beta (h_i + xi_i) + rho_i^+(xi) - rho_i^-(xi),
    xi_l = sum_{j<i} J_lj s_j   (the field of the past on every later spin l),

where rho_i^{+-} is the log partition function of the spins after i in the fields
xi_l +- J_li + h_l. The first term is exact and parameter-free; rho is approximated by
one hidden layer of log-cosh units per site::

    rho_i^{+-} ~ sum_{k>i} a_ik ln cosh( beta (sum_{l>i} W_ikl (xi_l +- J_li) + c_ik) )

Initialized at W = identity, c_ik = h_k, a = 1 this is the approximation of independent
later spins; training (``tnborn.physics.train_variational``) corrects it.
"""

from __future__ import annotations

import math

import torch

from ..backend import resolve_real
from ..checks import check_beta
from ..pairwise import check_couplings
from .base import AutoregressiveModel


def _log_cosh(z: torch.Tensor) -> torch.Tensor:
    return torch.logaddexp(z, -z) - math.log(2.0)


class SKARNN(AutoregressiveModel):
    """Trainable ARNN for pairwise (e.g. Sherrington-Kirkpatrick) Hamiltonians.

    ``couplings``: the symmetric (n, n) matrix J with zero diagonal (for a Hamiltonian
    ``H`` of :mod:`tnborn.physics`: ``H.couplings``), ``fields``: the (n,) vector h
    (zeros by default); ``beta``: inverse temperature the model describes; ``seed``: of
    the model's random stream (its parameters start at a fixed point).
    Parameters: W (n, n, n), c (n, n), a (n, n); O(n^3) in all.
    """

    def __init__(self, couplings, fields=None, *, beta: float, dtype=torch.float64,
                 device=None, seed: int | None = None):
        dtype, device = resolve_real(dtype, device)
        couplings, fields = check_couplings(couplings, fields)
        couplings = couplings.to(dtype=dtype, device=device)
        fields = fields.to(dtype=dtype, device=device)
        n = couplings.shape[0]
        super().__init__(n, 2)
        self.beta = check_beta(beta)
        self._start_rng(seed)
        self.register_buffer("couplings", couplings)
        self.register_buffer("fields", fields)
        later = torch.arange(n, device=device)[None, :] > torch.arange(n, device=device)[:, None]
        self.register_buffer("_later", later.to(dtype), persistent=False)  # (i, k): k > i
        eye = torch.eye(n, dtype=dtype, device=device)
        self.weight = torch.nn.Parameter(eye.expand(n, n, n).clone())
        self.bias = torch.nn.Parameter(fields.expand(n, n).clone())
        self.scale = torch.nn.Parameter(torch.ones(n, n, dtype=dtype, device=device))

    def _config(self) -> dict:
        return {"couplings": self.couplings.tolist(), "fields": self.fields.tolist(),
                "beta": self.beta, "dtype": str(self.couplings.dtype).replace("torch.", ""),
                "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"n_sites": self.n_sites, "support": self.support, "beta": self.beta}

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        spins = (2 * x - 1).to(self.couplings.dtype)  # (B, n)
        contributions = spins[:, :, None] * self.couplings.T[None]  # (B, j, l): s_j J_lj
        past_field = torch.cumsum(contributions, dim=1) - contributions  # (B, i, l)
        local = torch.diagonal(past_field, dim1=1, dim2=2)  # (B, i): sum_{j<i} J_ij s_j
        weight = self.weight * self._later[:, None, :]  # only later spins l > i feed unit k
        hidden = torch.einsum("ikl,bil->bik", weight, past_field) + self.bias
        shift = torch.einsum("ikl,li->ik", weight, self.couplings)  # sum_l W_ikl J_li
        rho = (_log_cosh(self.beta * (hidden + shift)) - _log_cosh(self.beta * (hidden - shift)))
        up = 2 * self.beta * (self.fields + local) + (self.scale * self._later * rho).sum(-1)
        return torch.stack([torch.zeros_like(up), up], dim=-1)
