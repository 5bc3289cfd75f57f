"""The exact autoregressive network of the Curie-Weiss model (Biazzo, arXiv:2302.08347).

For H = -(J/N) sum_{i<j} s_i s_j - h sum_i s_i the energy depends on the spins only
through M = sum_i s_i: E(M) = -(J/(2N)) (M^2 - N) - h M. The marginal of the first i
spins is a sum over the number k of up spins among the r = N - i that follow::

    q(s_1..s_i) ∝ sum_k C(r, k) exp(a (m + 2k - r)^2 + b (m + 2k - r)),   m = s_1 + .. + s_i

with a = beta J / (2N), b = beta h. Each conditional is a ratio of two such sums and
depends on the past only through the partial magnetization m. The network keeps one
pair (a_i, b_i) per site (O(N) parameters); at a_i = beta J/(2N), b_i = beta h it is the
Boltzmann distribution exactly, and training can move the parameters from there.
"""

from __future__ import annotations

import torch

from ..backend import resolve_real
from ..checks import check_beta, check_count, check_real
from .base import AutoregressiveModel
from .cwarnn import check_curie_weiss_target


class CurieWeissARNN(AutoregressiveModel):
    """Exact ARNN of the Curie-Weiss model at inverse temperature ``beta``.

    Sites are binary (x = 1 is spin up). ``quadratic`` (a_i) and ``linear`` (b_i) are the
    per-site parameters, initialized to their exact values beta J / (2 N) and beta h.
    """

    def __init__(self, n: int, *, J: float = 1.0, h: float = 0.0, beta: float = 1.0,
                 dtype=torch.float64, device=None, seed: int | None = None):
        super().__init__(check_count(n, "n"), 2)
        self.J = check_real(J, "J")
        self.h = check_real(h, "h")
        self.beta = check_beta(beta)
        dtype, device = resolve_real(dtype, device)
        self._start_rng(seed)
        n = self.n_sites
        self.quadratic = torch.nn.Parameter(
            torch.full((n,), self.beta * self.J / (2 * n), dtype=dtype, device=device))
        self.linear = torch.nn.Parameter(
            torch.full((n,), self.beta * self.h, dtype=dtype, device=device))
        remaining = torch.arange(n - 1, -1, -1, dtype=dtype, device=device)  # r_i = n-1-i
        k = torch.arange(n, dtype=dtype, device=device)
        log_binom = (torch.lgamma(remaining[:, None] + 1) - torch.lgamma(k[None] + 1)
                     - torch.lgamma((remaining[:, None] - k[None]).clamp_min(0) + 1))
        valid = k[None] <= remaining[:, None]
        # (n, n): ln C(r_i, k) for k <= r_i, -inf beyond; offsets 2k - r_i
        self.register_buffer("_log_binom", torch.where(valid, log_binom, -torch.inf),
                             persistent=False)
        self.register_buffer("_offsets", 2 * k[None] - remaining[:, None], persistent=False)

    def _config(self) -> dict:
        return {"n": self.n_sites, "J": self.J, "h": self.h, "beta": self.beta,
                "dtype": str(self.quadratic.dtype).replace("torch.", ""), "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"n": self.n_sites, "J": self.J, "h": self.h, "beta": self.beta}

    def check_hamiltonian(self, hamiltonian, beta) -> None:
        """ValueError unless ``hamiltonian`` is a Curie-Weiss model (the per-site
        parameters can then be trained to its J, h and beta)."""
        check_curie_weiss_target(hamiltonian, "a CurieWeissARNN")

    def _up_logit_table(self) -> torch.Tensor:
        """Logit of s_i = +1 for every site i and every count u of up spins before it:
        ``(n, n)`` with entry [i, u] for the partial magnetization m = 2u - i (u <= i)."""
        up_before = torch.arange(self.n_sites, dtype=self.quadratic.dtype,
                                 device=self.quadratic.device)
        partial = 2 * up_before[None, :] - up_before[:, None]  # (i, u)

        def log_weight(m):  # ln sum_k C(r_i, k) exp(a_i M^2 + b_i M),  M = m + 2k - r_i
            total = m[..., None] + self._offsets[:, None, :]
            exponent = (self._log_binom[:, None, :] + self.quadratic[:, None, None] * total ** 2
                        + self.linear[:, None, None] * total)
            return torch.logsumexp(exponent, dim=-1)

        return log_weight(partial + 1) - log_weight(partial - 1)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        up_before = torch.cumsum(x, dim=1) - x  # (B, n)
        table = self._up_logit_table()
        up = table[torch.arange(self.n_sites, device=x.device), up_before]
        return torch.stack([torch.zeros_like(up), up], dim=-1)

    def _sample_from(self, x, start, generator):
        """Sequential sampling by table look-up: O(1) per site and sample."""
        batch = x.shape[0]
        uniform = torch.rand(batch, self.n_sites, generator=generator, device=x.device,
                             dtype=torch.float64)
        first = int(start.min())
        with torch.no_grad():
            p_up = torch.sigmoid(self._up_logit_table()).to(torch.float64)
            up_before = x[:, :first].sum(1)
            for i in range(first, self.n_sites):
                drawn = (uniform[:, i] < p_up[i, up_before]).long()
                x[:, i] = torch.where(start <= i, drawn, x[:, i])
                up_before = up_before + x[:, i]
        return x
