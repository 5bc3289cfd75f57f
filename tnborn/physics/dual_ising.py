"""The continuous dual of the 2D Ising model (Hubbard-Stratonovich), the target of the
neural renormalization group (Li and Wang 2018).

With K = beta * adjacency (so s^T K s / 2 = beta sum_<ij> s_i s_j, the bonds of
:class:`tnborn.physics.Ising2D`) and A = K + alpha I positive definite::

    pi(x) = exp(-x^T A^{-1} x / 2) prod_i cosh(x_i),     x in R^N
    Z_x   = int pi(x) dx = 2^{-N} (2 pi)^{N/2} det(A)^{1/2} exp(alpha N / 2) Z_Ising
    pi(s | x) = prod_i 1 / (1 + exp(-2 s_i x_i))
    E[s_i | x] = tanh(x_i),  E[E_Ising(s) | x] = -t^T C t / 2,  t = tanh(x)

(C the couplings, zero on the diagonal, so the spins given x being independent makes the
conditional energy exact). Ising averages follow from x ~ pi: <O(s)> = E_x E[O(s) | x].

Derivation (docs/theory.md): the Gaussian integral
exp(s^T A s / 2) = (2 pi)^{-N/2} det(A)^{-1/2} int exp(-x^T A^{-1} x / 2 + x . s) dx, summed
over the spins: sum_s exp(x . s) = 2^N prod_i cosh(x_i), and s^T A s = s^T K s + alpha N
because s_i^2 = 1. The joint exp(-x^T A^{-1} x / 2 + x . s) gives the factorized spins
given x. The default alpha = 1 - lambda_min(K) puts the spectrum of A in
[1, 1 + lambda_max(K) - lambda_min(K)] (condition number 1 + 8 beta on the periodic
lattice).
"""

from __future__ import annotations

import math

import torch

from ..checks import check_beta, check_real
from ..supports import Real
from .exact import exact_log_z, ising2d_log_z
from .hamiltonians import Ising2D, PairwiseHamiltonian

__all__ = ["DualIsing"]


class DualIsing:
    """pi(x) of the module docstring for the L x L Ising model at ``beta`` (periodic or
    open, J = 1): a target with ``log_density(x)`` (unnormalized), the exact
    ``log_z()``, ``spins_given(x)``, ``sample_spins(x, generator)`` and the per-sample
    Ising ``observables(x, generator)``; ``ising`` is the Ising Hamiltonian it is the
    dual of. :meth:`of` builds the dual of any zero-field pairwise Hamiltonian."""

    support = Real()

    def __init__(self, L: int, beta: float, *, alpha: float | None = None,
                 periodic: bool = True):
        self._set_up(Ising2D(L, periodic=periodic), beta, alpha)
        self.L, self.periodic = self.ising.L, periodic

    @classmethod
    def of(cls, hamiltonian: PairwiseHamiltonian, beta: float, *,
           alpha: float | None = None) -> "DualIsing":
        """The dual of a pairwise Hamiltonian without fields (ln Z by enumeration)."""
        if not isinstance(hamiltonian, PairwiseHamiltonian):
            raise TypeError(f"the dual needs a PairwiseHamiltonian, got "
                            f"{type(hamiltonian).__name__}")
        if bool((hamiltonian.fields != 0).any()):
            raise ValueError("the Hubbard-Stratonovich dual here needs zero fields")
        dual = cls.__new__(cls)
        dual._set_up(hamiltonian, beta, alpha)
        dual.L, dual.periodic = None, None
        return dual

    def _set_up(self, hamiltonian, beta, alpha) -> None:
        self.ising, self.beta = hamiltonian, check_beta(beta)
        self.n_sites = hamiltonian.n_sites
        K = self.beta * hamiltonian.couplings
        eigenvalues = torch.linalg.eigvalsh(K)
        low = float(eigenvalues[0])
        self.alpha = 1.0 - low if alpha is None else check_real(alpha, "alpha")
        if not self.alpha + low > 0:
            raise ValueError(f"alpha = {self.alpha:g} leaves A = K + alpha I not positive "
                             f"definite (the smallest eigenvalue of K is {low:g}; alpha must "
                             f"exceed {-low:g})")
        self.A = K + self.alpha * torch.eye(self.n_sites, dtype=torch.float64)
        self.precision = torch.linalg.inv(self.A)  # A^{-1}
        self._log_det = float(torch.linalg.slogdet(self.A)[1])

    def _points(self, x) -> torch.Tensor:
        return self.support.validate(x, self.n_sites, name="x").to(torch.float64)

    def log_density(self, x) -> torch.Tensor:
        """ln pi(x) (unnormalized) of points ``(..., N)``: ``(...)``, float64, differentiable
        in ``x``."""
        x = self._points(x)
        quadratic = ((x @ self.precision.to(x.device)) * x).sum(-1)
        log_cosh = (x.abs() + torch.log1p(torch.exp(-2 * x.abs())) - math.log(2.0)).sum(-1)
        return -0.5 * quadratic + log_cosh

    def log_z(self) -> float:
        """ln Z_x, exact: the Ising ln Z (Kaufman when periodic, enumeration when open)
        plus the constant of the module docstring."""
        n = self.n_sites
        log_z_ising = ising2d_log_z(self.L, self.beta) if self.periodic \
            else exact_log_z(self.ising, self.beta)  # open lattices and `of`: enumeration
        return (-n * math.log(2.0) + 0.5 * n * math.log(2 * math.pi) + 0.5 * self._log_det
                + 0.5 * self.alpha * n + log_z_ising)

    def spins_given(self, x) -> torch.Tensor:
        """P(s_i = +1 | x) = 1 / (1 + exp(-2 x_i)) of points ``(..., N)``."""
        return torch.sigmoid(2 * self._points(x))

    def sample_spins(self, x, generator: torch.Generator | None = None) -> torch.Tensor:
        """Ising configurations (0/1, spin 2x - 1) drawn from pi(s | x), one per point."""
        p = self.spins_given(x)
        u = torch.rand(p.shape, generator=generator, dtype=p.dtype, device=p.device)
        return (u < p).long()

    def observables(self, x, generator: torch.Generator | None = None) -> dict:
        """Per-point estimators of Ising observables, ``(...)`` each: ``ising_energy``
        E[E_Ising(s) | x] (exact given x, no draw) and ``ising_abs_magnetization`` |sum s| / N
        of one draw s ~ pi(s | x). Their pi-averages are the Ising <E> and <|m|>."""
        x = self._points(x)
        # the Ising energy is bilinear without fields: its value at the mean spins tanh x
        energy = self.ising._energy(torch.tanh(x))
        spins = 2.0 * self.sample_spins(x, generator).to(torch.float64) - 1.0
        return {"ising_energy": energy, "ising_abs_magnetization": spins.mean(-1).abs()}

    def __repr__(self) -> str:
        return (f"DualIsing({self.ising!r}, beta={self.beta}, alpha={self.alpha:g})")
