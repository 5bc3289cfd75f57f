"""Biazzo's autoregressive nets for the Sherrington-Kirkpatrick model (arXiv:2302.08347):
the exact form of :mod:`tnborn.arnn.pairwise` with the log partition functions of the
later spins replaced by a chain of log-sigmoid units per later spin.

The first layer is the couplings (fixed): xi_l = sum_{j<i} J_lj s_j for every later spin l.
Then, per site i and later spin l, one chain for rho^+ and one for rho^-::

    y_0 = logsigmoid(b_0 + w_0 xi_l),  y_t = logsigmoid(b_t + w_t y_{t-1})  (t = 1..k),
    r   = w_{k+1} y_k

    logit q(s_i = +1 | s_<i) = c_i + a_i xi_i + sum_{l>i} (r_il^+ + r_il^-)

``structure="rs"`` is the replica-symmetric net (k = 0), ``"1rsb"`` has k = 1 and
``"krsb"`` any k >= 1 (k + 1 log-sigmoid layers), after the paper's derivation of the SK
conditionals at k steps of replica-symmetry breaking. Every (i, l) pair has its own
weights: (2k + 3) n (n - 1) + 2n parameters.

``init="physics"`` starts the first layer at the approximation of independent later
spins, ln 2cosh(z) = z - logsigmoid(2z), which is exact when the later spins do not
interact with each other: w_0 = 2 beta, b_0 = 2 beta (h_l +- J_li), w_last = -+1,
c_i = 2 beta (h_i + sum_{l>i} J_li), a_i = 2 beta; the extra layers of k-RSB start at
w = 1, b = 0. ``init="random"`` draws every weight from Normal(0, 1/n), as the paper's
code does. Neither is the Boltzmann distribution in general: the net is trained, e.g. by
:func:`tnborn.physics.train_variational`.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..backend import resolve_real
from ..checks import check_beta, check_int
from ..pairwise import check_couplings
from .base import AutoregressiveModel, draw_from_logits
from .pairwise import check_embedded_couplings, past_fields

STRUCTURES = {"rs": 0, "1rsb": 1}
INITS = ("physics", "random")


class SKARNN(AutoregressiveModel):
    """Biazzo's RS / 1RSB / k-RSB autoregressive net for a pairwise model (see module).

    Parameters
    ----------
    couplings, fields : the symmetric (n, n) coupling matrix J (zero diagonal) and (n,)
        fields h (zeros when None) of E = -sum_{i<j} J_ij s_i s_j - sum_i h_i s_i; for a
        Hamiltonian ``H`` of :mod:`tnborn.physics`, ``H.couplings`` and ``H.fields``.
    beta : the inverse temperature of the physics initialization.
    structure : ``"rs"`` (k = 0), ``"1rsb"`` (k = 1) or ``"krsb"`` (with ``k`` >= 1).
    k : the number of extra log-sigmoid layers (only with ``"krsb"``).
    init : ``"physics"`` or ``"random"`` (see the module docstring).
    dtype, device, seed : as for every model (``seed``: the random init and the model's
        own stream).
    """

    def __init__(self, couplings, fields=None, *, beta: float, structure: str = "rs",
                 k: int | None = None, init: str = "physics", dtype=torch.float64,
                 device=None, seed: int | None = None):
        dtype, device = resolve_real(dtype, device)
        couplings, fields = check_couplings(couplings, fields)
        n = couplings.shape[0]
        super().__init__(n, 2)
        self.beta = check_beta(beta)
        self.structure, self.k = _check_structure(structure, k)
        if init not in INITS:
            raise ValueError(f"init must be one of {INITS}, got {init!r}")
        self.init = init
        generator = self._start_rng(seed)
        self.register_buffer("couplings", couplings.to(dtype=dtype, device=device))
        self.register_buffer("fields", fields.to(dtype=dtype, device=device))
        later = (torch.arange(n)[None, :] > torch.arange(n)[:, None]).to(dtype)  # (i, l)
        self.register_buffer("_later", later.to(device), persistent=False)
        layers = self.k + 1
        weights, biases, first, bias = _initial_values(couplings, fields, self.beta,
                                                       layers, init, generator)
        self.weights = torch.nn.Parameter(weights.to(dtype=dtype, device=device))
        self.biases = torch.nn.Parameter(biases.to(dtype=dtype, device=device))
        self.site_weight = torch.nn.Parameter(first.to(dtype=dtype, device=device))
        self.site_bias = torch.nn.Parameter(bias.to(dtype=dtype, device=device))

    # ------------------------------------------------------------------ network
    def _config(self) -> dict:
        return {"couplings": self.couplings.tolist(), "fields": self.fields.tolist(),
                "beta": self.beta, "structure": self.structure,
                "k": self.k if self.structure == "krsb" else None, "init": self.init,
                "dtype": str(self.couplings.dtype).replace("torch.", ""), "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"n_sites": self.n_sites, "support": self.support,
                "structure": self.structure, "k": self.k, "beta": self.beta}

    def check_hamiltonian(self, hamiltonian, beta) -> None:
        """ValueError unless ``hamiltonian`` has the couplings and fields of the first
        layer (any beta: the later layers are trained)."""
        check_embedded_couplings(self.couplings, self.fields, hamiltonian,
                                 "this SKARNN's first layer holds the couplings and fields "
                                 "it was built with")

    def _chains(self, xi: torch.Tensor, weights: torch.Tensor,
                biases: torch.Tensor) -> torch.Tensor:
        """sum over later spins of r^+ + r^-: ``xi (..., m)`` later fields, ``weights``
        ``(2, k + 2, ..., m)``, ``biases (2, k + 1, ..., m)`` (masked outside later
        spins) -> ``(...)``."""
        y = F.logsigmoid(biases[:, 0] + weights[:, 0] * xi)  # (2, ..., m)
        for t in range(1, self.k + 1):
            y = F.logsigmoid(biases[:, t] + weights[:, t] * y)
        return (weights[:, -1] * y).sum(0).sum(-1)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        spins = (2 * x - 1).to(self.couplings.dtype)
        xi = past_fields(spins, self.couplings)  # (B, i, l)
        own = torch.diagonal(xi, dim1=1, dim2=2)  # (B, i): the past's field on i
        mask = self._later
        rest = self._chains(xi * mask, self.weights[:, :, None] * mask,
                            self.biases[:, :, None] * mask)  # (B, i)
        up = self.site_bias + self.site_weight * own + rest
        return torch.stack([torch.zeros_like(up), up], dim=-1)

    def _draw_site(self, x: torch.Tensor, site: int, uniform: torch.Tensor) -> torch.Tensor:
        """One site's conditional from its own chains only (O(B n k) per site)."""
        spins = (2 * x[:, :site] - 1).to(self.couplings.dtype)
        xi = spins @ self.couplings[:, :site].T  # (B, n)
        later = slice(site + 1, self.n_sites)
        rest = self._chains(xi[:, later], self.weights[:, :, site, later][:, :, None],
                            self.biases[:, :, site, later][:, :, None])
        up = self.site_bias[site] + self.site_weight[site] * xi[:, site] + rest
        return draw_from_logits(torch.stack([torch.zeros_like(up), up], -1), uniform)


def _check_structure(structure, k) -> tuple[str, int]:
    if structure in STRUCTURES:
        if k is not None and k != STRUCTURES[structure]:
            raise ValueError(f"structure {structure!r} has k = {STRUCTURES[structure]}; "
                             "use structure='krsb' for another k")
        return structure, STRUCTURES[structure]
    if structure == "krsb":
        if k is None:
            raise ValueError("structure 'krsb' needs k (the number of extra layers, >= 1)")
        return structure, check_int(k, "k", 1)
    raise ValueError(f"structure must be 'rs', '1rsb' or 'krsb', got {structure!r}")


def _initial_values(couplings, fields, beta, layers, init, generator):
    """(weights (2, layers + 1, n, n), biases (2, layers, n, n), site weights (n,),
    site biases (n,)) of the physics or random initialization, float64 on the CPU."""
    n = couplings.shape[0]
    later = (torch.arange(n)[None, :] > torch.arange(n)[:, None]).double()
    if init == "random":
        def draw(*shape):
            return torch.randn(*shape, generator=generator, dtype=torch.float64) / n
        return (draw(2, layers + 1, n, n) * later, draw(2, layers, n, n) * later,
                draw(n), draw(n))
    own = couplings.T  # [i, l] = J_li
    weights = torch.ones(2, layers + 1, n, n, dtype=torch.float64)
    weights[:, 0] = 2 * beta
    weights[0, -1], weights[1, -1] = -1.0, 1.0
    biases = torch.zeros(2, layers, n, n, dtype=torch.float64)
    biases[0, 0] = 2 * beta * (fields[None, :] + own)
    biases[1, 0] = 2 * beta * (fields[None, :] - own)
    site_bias = 2 * beta * (fields + (own * later).sum(1))
    return (weights * later, biases * later,
            torch.full((n,), 2 * beta, dtype=torch.float64), site_bias)
