"""Exact partition functions and thermodynamics (natural logs, float64).

* :func:`exact_log_z`, :func:`exact_observables`: brute-force enumeration of all 2^n
  configurations of any Hamiltonian with ``n_sites`` and ``energy(x)`` (n <= 24), in
  chunks with a running (rescaled) log-sum-exp.
* :func:`ising2d_log_z`: Kaufman's (1949) closed form for the finite periodic L x L
  Ising model, evaluated in log space (any L).
* :func:`curie_weiss_log_z`, :func:`curie_weiss_magnetization_distribution`: the
  Curie-Weiss model through its magnetization, O(n) for any n.

Free energies are totals, F = -ln Z / beta, unless a name says ``_per_site``.
"""

from __future__ import annotations

import math

import torch

from ..checks import check_beta, check_int, check_real
from ..enumeration import binary_chunks

__all__ = [
    "exact_log_z",
    "exact_observables",
    "ising2d_log_z",
    "curie_weiss_log_z",
    "curie_weiss_magnetization_distribution",
]

MAX_ENUMERATION_SITES = 24
_CHUNK = 2**18


# ---------------------------------------------------------------------- enumeration
def _check_hamiltonian(hamiltonian) -> int:
    n = getattr(hamiltonian, "n_sites", None)
    if not callable(getattr(hamiltonian, "energy", None)) or n is None:
        raise TypeError("hamiltonian must have an integer n_sites and an energy(x) method, "
                        f"got {type(hamiltonian).__name__}")
    n = check_int(n, "hamiltonian.n_sites", 1)
    if n > MAX_ENUMERATION_SITES:
        raise ValueError(f"exact enumeration supports at most {MAX_ENUMERATION_SITES} sites "
                         f"(2^{MAX_ENUMERATION_SITES} configurations), got n_sites={n}")
    return n


def _enumerate(hamiltonian, beta: float, with_observables: bool):
    """One pass over all configurations with a running max for the log weights.

    Returns ln Z and, when asked, the Boltzmann averages of E, |M| and M^2.
    """
    n = _check_hamiltonian(hamiltonian)
    shift = -math.inf               # running max of -beta E
    s0 = 0.0                        # sum exp(-beta E - shift)
    sums = [0.0, 0.0, 0.0]          # the same, weighted by E, |M|, M^2
    for x in binary_chunks(n, _CHUNK):
        energy = hamiltonian.energy(x).to(torch.float64).cpu()
        if energy.shape != x.shape[:-1]:
            raise ValueError(f"hamiltonian.energy returned shape {tuple(energy.shape)} for "
                             f"input of shape {tuple(x.shape)}")
        if not torch.isfinite(energy).all():
            raise ValueError("hamiltonian.energy returned non-finite energies")
        logw = -beta * energy
        chunk_max = logw.max().item()
        if chunk_max > shift:
            scale = math.exp(shift - chunk_max)
            s0 *= scale
            sums = [v * scale for v in sums]
            shift = chunk_max
        w = torch.exp(logw - shift)
        s0 += w.sum().item()
        if with_observables:
            M = (2 * x - 1).sum(-1).to(torch.float64)
            sums[0] += (w * energy).sum().item()
            sums[1] += (w * M.abs()).sum().item()
            sums[2] += (w * M * M).sum().item()
    log_z = shift + math.log(s0)
    return n, log_z, [v / s0 for v in sums]


def exact_log_z(hamiltonian, beta) -> float:
    """ln Z = ln sum_x exp(-beta E(x)) by enumerating all 2^n configurations.

    Args:
        hamiltonian: any object with ``n_sites`` (<= 24) and ``energy(x)`` taking 0/1
            configurations (B, n) and returning (B,) energies.
        beta: inverse temperature, a finite number > 0.

    Returns:
        ln Z as a Python float (float64 throughout; chunks of 2^18 configurations).
    """
    beta = check_beta(beta)
    return _enumerate(hamiltonian, beta, with_observables=False)[1]


def boltzmann_log_table(hamiltonian, beta, *, max_sites: int = 22) -> torch.Tensor:
    """ln p(x) = -beta E(x) - ln Z of every configuration, float64 ``(2^n,)`` in
    lexicographic order (site 0 most significant, as :func:`tnborn.enumeration.
    all_configurations`): the exact distribution as a table, e.g. the reference of a
    comparison study (:func:`tnborn.diagnostics.kl_divergence` takes it). At most
    ``max_sites`` sites (a 2^22 table is 32 MiB)."""
    beta = check_beta(beta)
    n = _check_hamiltonian(hamiltonian)
    if n > max_sites:
        raise ValueError(f"a table of all 2^{n} configurations is too large (at most "
                         f"{max_sites} sites)")
    log_w = torch.cat([-beta * hamiltonian.energy(x).to(torch.float64).cpu()
                       for x in binary_chunks(n, _CHUNK)])
    return log_w - torch.logsumexp(log_w, 0)


def exact_observables(hamiltonian, beta) -> dict:
    """Exact thermodynamics by enumeration (n <= 24).

    Returns a dict of Python floats:
        ``log_z``: ln Z;
        ``free_energy``: F = -ln Z / beta (total, not per site);
        ``energy``: <E>;
        ``entropy``: S = beta (<E> - F) (nats);
        ``abs_magnetization``: <|sum_i s_i|> / n;
        ``magnetization_sq``: <(sum_i s_i / n)^2>.
    """
    beta = check_beta(beta)
    n, log_z, (energy, abs_m, m_sq) = _enumerate(hamiltonian, beta, with_observables=True)
    free_energy = -log_z / beta
    return {
        "log_z": log_z,
        "free_energy": free_energy,
        "energy": energy,
        "entropy": beta * (energy - free_energy),
        "abs_magnetization": abs_m / n,
        "magnetization_sq": m_sq / (n * n),
    }


# ---------------------------------------------------------------------- Kaufman
def _log_2cosh(x: torch.Tensor) -> torch.Tensor:
    a = x.abs()
    return a + torch.log1p(torch.exp(-2 * a))


def _log_abs_2sinh(x: torch.Tensor) -> torch.Tensor:
    a = x.abs()
    return a + torch.log(-torch.expm1(-2 * a))  # -inf at x == 0


def ising2d_log_z(L: int, beta, J: float = 1.0) -> float:
    """Kaufman's exact ln Z of the periodic L x L Ising model (zero field).

    With K = beta J and N = L^2 (ALGORITHMS.md)::

        ln Z = ln(1/2) + (N/2) ln(2 sinh 2K) + ln(Z1 + Z2 + Z3 + Z4)
        Z1 = prod_{r<L} 2 cosh(L g_{2r+1} / 2),  Z2 = prod_{r<L} 2 sinh(L g_{2r+1} / 2)
        Z3 = prod_{r<L} 2 cosh(L g_{2r} / 2),    Z4 = prod_{r<L} 2 sinh(L g_{2r} / 2)
        cosh g_k = cosh 2K coth 2K - cos(pi k / L)  (k >= 1),  g_0 = 2K + ln tanh K

    g_0 changes sign at the critical point, so Z4 may be negative (or zero at K_c). The
    products are taken as (sign, log|.|) pairs and the four terms combined in log space;
    arccosh is evaluated as log1p of an exactly formed small argument. This is the
    energy convention of :class:`Ising2D` (periodic; on L = 2 each pair bonded twice).

    Args:
        L: linear size, an integer >= 2.
        beta: inverse temperature, finite and > 0.
        J: ferromagnetic coupling, finite and > 0.

    Returns:
        ln Z as a Python float; finite for large L (works in logs throughout).
    """
    L = check_int(L, "L", 2)
    beta = check_beta(beta)
    J = check_real(J, "J")
    if J <= 0:
        raise ValueError(f"ising2d_log_z needs a ferromagnetic coupling J > 0, got {J}")
    K = beta * J
    f64 = torch.float64
    two_k = torch.tensor(2 * K, dtype=f64)
    sinh2k = torch.sinh(two_k)
    # cosh 2K coth 2K = sinh 2K + 1 / sinh 2K = 2 + (sinh 2K - 1)^2 / sinh 2K
    c_minus_2 = (sinh2k - 1) ** 2 / sinh2k
    if not torch.isfinite(c_minus_2):  # very large K: cosh 2K coth 2K ~ sinh 2K
        c_minus_2 = torch.tensor(math.inf, dtype=f64)
    k = torch.arange(1, 2 * L, dtype=f64)
    # cosh g_k - 1 = (c - 2) + (1 - cos(pi k / L)) = (c - 2) + 2 sin^2(pi k / (2L))
    d = c_minus_2 + 2 * torch.sin(math.pi * k / (2 * L)) ** 2
    if torch.isinf(c_minus_2):
        # arccosh(c - cos) ~ ln(2 sinh 2K) for astronomically large K
        g_pos = torch.full_like(k, 2 * K)
    else:
        g_pos = torch.log1p(d + torch.sqrt(d * (d + 2)))  # arccosh(1 + d), k = 1..2L-1
    if K < 20:
        g0 = 2 * K + math.log(math.tanh(K))
    else:  # tanh K = 1 - 2 e^{-2K} / (1 + e^{-2K})
        g0 = 2 * K + math.log1p(-2 * math.exp(-2 * K) / (1 + math.exp(-2 * K)))
    g = torch.cat([torch.tensor([g0], dtype=f64), g_pos])  # g_0 .. g_{2L-1}
    odd = 0.5 * L * g[1::2]
    even = 0.5 * L * g[0::2]

    def signed(logs: torch.Tensor, signs: torch.Tensor) -> tuple[float, float]:
        sign = float(torch.prod(signs).item())
        return sign, float(logs.sum().item())

    terms = [
        (1.0, float(_log_2cosh(odd).sum().item())),
        signed(_log_abs_2sinh(odd), torch.sign(odd)),
        (1.0, float(_log_2cosh(even).sum().item())),
        signed(_log_abs_2sinh(even), torch.sign(even)),
    ]
    finite = [(s, v) for s, v in terms if s != 0.0 and v != -math.inf]
    top = max(v for _, v in finite)
    total = sum(s * math.exp(v - top) for s, v in finite)
    if not total > 0:  # cannot happen for a valid lattice (Z1 >= |Z2|, Z3 >= |Z4|)
        raise ArithmeticError(f"Kaufman sum is not positive (L={L}, beta={beta})")
    if K < 20:
        log_2sinh_2k = math.log(2 * math.sinh(2 * K))
    else:
        log_2sinh_2k = 2 * K + math.log1p(-math.exp(-4 * K))
    return math.log(0.5) + 0.5 * L * L * log_2sinh_2k + top + math.log(total)


def ising2d_energy(L: int, beta, J: float = 1.0) -> float:
    """<E> of the periodic L x L Ising model (zero field), -d ln Z / d beta of
    :func:`ising2d_log_z` by the fourth-order central difference with step h = 1e-3
    (truncation ~h^4, rounding ~1e-16 |ln Z| / h: about 1e-10 relative; against
    enumeration for L <= 4 within 4e-9 absolute)."""
    beta = check_beta(beta)
    h = min(1e-3, beta / 4)
    f = [ising2d_log_z(L, beta + k * h, J) for k in (-2, -1, 1, 2)]
    return -(f[0] - 8 * f[1] + 8 * f[2] - f[3]) / (12 * h)


# ---------------------------------------------------------------------- Curie-Weiss
def _curie_weiss_log_weights(n: int, beta: float, J: float, h: float) -> torch.Tensor:
    k = torch.arange(n + 1, dtype=torch.float64)
    log_binom = (math.lgamma(n + 1) - torch.lgamma(k + 1) - torch.lgamma(n - k + 1))
    M = 2 * k - n
    energy = -(J / (2 * n)) * (M * M - n) - h * M
    return log_binom - beta * energy


def _check_curie_weiss(n, beta, J, h):
    return (check_int(n, "n", 1), check_beta(beta), check_real(J, "J"),
            check_real(h, "h"))


def curie_weiss_log_z(n: int, beta, *, J: float = 1.0, h: float = 0.0) -> float:
    """Exact ln Z of the Curie-Weiss model for any n.

    ln Z = logsumexp_k [ln C(n, k) - beta E(M = 2k - n)], E(M) = -(J/(2n)) (M^2 - n) - h M,
    k = number of up spins (binomials via lgamma). Same energy as :class:`CurieWeiss`.
    """
    n, beta, J, h = _check_curie_weiss(n, beta, J, h)
    return float(torch.logsumexp(_curie_weiss_log_weights(n, beta, J, h), 0).item())


def curie_weiss_magnetization_distribution(n: int, beta, *, J: float = 1.0,
                                           h: float = 0.0) -> torch.Tensor:
    """Exact Boltzmann distribution of the number k of up spins (M = 2k - n).

    Returns:
        float64 tensor (n + 1,): P(k) for k = 0..n; sums to 1.
    """
    n, beta, J, h = _check_curie_weiss(n, beta, J, h)
    logw = _curie_weiss_log_weights(n, beta, J, h)
    return torch.exp(logw - torch.logsumexp(logw, 0))
