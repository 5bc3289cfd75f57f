"""Biazzo's learnable autoregressive nets for the Curie-Weiss model (arXiv:2302.08347).

For E = -(J/N) sum_{i<j} s_i s_j - h sum_i s_i the exact conditional of spin i depends on
the past only through m = s_0 + .. + s_{i-1}. With r = N - 1 - i later spins, k of them
up (M_k = 2k - r), a = beta J / (2N), b = beta h::

    logit q(s_i = +1 | m) = 4 a m + 2 b + LSE_k(c_k + 2a M_k (m + 1)) - LSE_k(c_k + 2a M_k (m - 1))
    c_k = ln C(r, k) + a M_k^2 + b M_k                         (LSE: log-sum-exp over k)

so the net of site i is

    logit = w0_i m + b0_i + u_i LSE_k(b+_ik + w+_ik m) + v_i LSE_k(b-_ik + w-_ik m)

with 4 (r + 1) + 4 parameters (O(N^2) in all); ``init="physics"`` sets them to the exact
values above (w0 = 4a, b0 = 2b, w+- = 2a M_k, b+- = c_k +- 2a M_k, u = 1, v = -1), so the
net starts at the Boltzmann distribution; ``init="random"`` draws them from
Normal(0, 1/N), as the paper's code does.

The large-N net (``large_n=True``) keeps O(N) parameters: the limit N -> infinity of the
sum over later spins is dominated by the magnetization's sign, so
logit = w m + b + c_i sign(m), with one w and b shared by all sites and one c_i per site;
its physics initialization is the mean-field local term (w = 4a, b = 2b, c = 0), not the
Boltzmann distribution.
"""

from __future__ import annotations

import math

import torch

from ..backend import resolve_real
from ..checks import check_beta, check_bool, check_count, check_real
from ..pairwise import target_couplings
from .base import AutoregressiveModel, draw_from_logits

INITS = ("physics", "random")


class CWARNN(AutoregressiveModel):
    """Learnable Curie-Weiss autoregressive net (see the module docstring).

    Parameters
    ----------
    n : number of spins.
    beta, J, h : the Curie-Weiss model of the physics initialization.
    large_n : the O(N) large-N net instead of the O(N^2) one.
    init : ``"physics"`` (exact for the O(N^2) net) or ``"random"``.
    dtype, device, seed : as for every model.
    """

    def __init__(self, n: int, *, beta: float, J: float = 1.0, h: float = 0.0,
                 large_n: bool = False, init: str = "physics", dtype=torch.float64,
                 device=None, seed: int | None = None):
        n = check_count(n, "n")
        super().__init__(n, 2)
        self.beta = check_beta(beta)
        self.J, self.h = check_real(J, "J"), check_real(h, "h")
        self.large_n = check_bool(large_n, "large_n")
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.init = init
        dtype, device = resolve_real(dtype, device)
        generator = self._start_rng(seed)
        values = _large_n_values(n, self.beta, self.J, self.h) if large_n else \
            _exact_values(n, self.beta, self.J, self.h)
        if init == "random":
            values = {name: torch.randn(v.shape, generator=generator, dtype=torch.float64) / n
                      for name, v in values.items()}
        for name, value in values.items():
            setattr(self, name, torch.nn.Parameter(value.to(dtype=dtype, device=device)))
        if not large_n:  # k <= r_i: the terms that exist at each site
            k = torch.arange(n)
            valid = k[None, :] <= (n - 1 - torch.arange(n))[:, None]
            self.register_buffer("_absent", torch.where(valid, 0.0, -math.inf).to(
                dtype=dtype, device=device), persistent=False)

    # ------------------------------------------------------------------ network
    def _config(self) -> dict:
        return {"n": self.n_sites, "beta": self.beta, "J": self.J, "h": self.h,
                "large_n": self.large_n, "init": self.init,
                "dtype": str(self._float_dtype()).replace("torch.", ""), "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"n": self.n_sites, "beta": self.beta, "J": self.J, "h": self.h,
                "large_n": self.large_n}

    def check_hamiltonian(self, hamiltonian, beta) -> None:
        """ValueError unless ``hamiltonian`` is a Curie-Weiss model (its J, h and beta may
        differ from the initialization's: the net is trained)."""
        check_curie_weiss_target(hamiltonian, "a CWARNN")

    def _site_logits(self, m: torch.Tensor, sites) -> torch.Tensor:
        """logit of s = +1 at ``sites`` (an int or a slice) given past magnetizations
        ``m`` ``(B,)`` or ``(B, |sites|)``."""
        if self.large_n:
            return self.shared_weight * m + self.shared_bias + self.site_sign[sites] * \
                torch.sign(m)
        absent = self._absent[sites]
        plus = torch.logsumexp(self.plus_bias[sites] + absent + self.plus_weight[sites]
                               * m[..., None], -1)
        minus = torch.logsumexp(self.minus_bias[sites] + absent + self.minus_weight[sites]
                                * m[..., None], -1)
        return (self.site_weight[sites] * m + self.site_bias[sites]
                + self.plus_scale[sites] * plus + self.minus_scale[sites] * minus)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        spins = (2 * x - 1).to(self._float_dtype())
        m = torch.cumsum(spins, 1) - spins  # (B, i): magnetization of the past
        up = self._site_logits(m, slice(None))
        return torch.stack([torch.zeros_like(up), up], dim=-1)

    def _draw_site(self, x: torch.Tensor, site: int, uniform: torch.Tensor) -> torch.Tensor:
        m = (2 * x[:, :site] - 1).sum(1).to(self._float_dtype())
        up = self._site_logits(m, site)
        return draw_from_logits(torch.stack([torch.zeros_like(up), up], -1), uniform)


def check_curie_weiss_target(hamiltonian, what: str) -> None:
    """ValueError unless ``hamiltonian`` has equal couplings between all pairs and equal
    fields: a net that reads the past through its total magnetization needs that."""
    described = f"{what} reads the past through its total magnetization"
    couplings, fields = target_couplings(hamiltonian, described)
    off = couplings[~torch.eye(couplings.shape[0], dtype=torch.bool)]
    if off.numel() and float((off - off[0]).abs().max()) > 1e-12:
        raise ValueError(f"{described}, so it needs equal couplings between all pairs; "
                         f"{hamiltonian!r} has others")
    if float((fields - fields[0]).abs().max()) > 1e-12:
        raise ValueError(f"{described}, so it needs equal fields on all spins; "
                         f"{hamiltonian!r} has others")


def _exact_values(n: int, beta: float, J: float, h: float) -> dict:
    """The parameters at which the O(N^2) net is the Boltzmann distribution."""
    a, b = beta * J / (2 * n), beta * h
    later = torch.arange(n - 1, -1, -1, dtype=torch.float64)  # r_i
    k = torch.arange(n, dtype=torch.float64)
    magnetization = 2 * k[None, :] - later[:, None]  # M_k at each site
    valid = k[None, :] <= later[:, None]
    log_binom = torch.where(valid, torch.lgamma(later[:, None] + 1) - torch.lgamma(k + 1)
                            - torch.lgamma((later[:, None] - k).clamp_min(0) + 1), 0.0)
    c = torch.where(valid, log_binom + a * magnetization ** 2 + b * magnetization, 0.0)
    slope = torch.where(valid, 2 * a * magnetization, 0.0)
    return {"site_weight": torch.full((n,), 4 * a, dtype=torch.float64),
            "site_bias": torch.full((n,), 2 * b, dtype=torch.float64),
            "plus_weight": slope, "plus_bias": c + slope,
            "minus_weight": slope.clone(), "minus_bias": c - slope,
            "plus_scale": torch.ones(n, dtype=torch.float64),
            "minus_scale": -torch.ones(n, dtype=torch.float64)}


def _large_n_values(n: int, beta: float, J: float, h: float) -> dict:
    """The large-N net at the mean-field local term."""
    return {"shared_weight": torch.tensor(2 * beta * J / n, dtype=torch.float64),
            "shared_bias": torch.tensor(2 * beta * h, dtype=torch.float64),
            "site_sign": torch.zeros(n, dtype=torch.float64)}
