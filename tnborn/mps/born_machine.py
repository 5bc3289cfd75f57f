"""The MPS Born machine: p(x) = |psi(x)|^2 / Z on an open-boundary matrix product state.

::

        x_0     x_1            x_{n-1}
         |       |              |
    1 --A_0-----A_1--- ... ----A_{n-1}-- 1        A_k: (D_{k-1}, d, D_k)

The tensors are registered parameters (``model.tensors``, a ParameterList); the state is
kept in mixed-canonical form and normalized (Z = 1) with the orthogonality centre at site
``model.center`` (see :mod:`tnborn.born` for what happens when tensors are changed from
outside). Bond k joins sites k and k+1.
"""

from __future__ import annotations

import torch

from ..backend import resolve
from ..base import GenerativeModel
from ..born import TENSOR_DTYPES, Bond, TensorNetworkBornMachine, check_network_tensor
from ..checks import check_count, check_local_dim
from ..linalg import truncated_svd
from ..supports import Discrete
from ..sweeps import check_cutoff, fit_by_sweeps, update_options
from . import canonical, contraction, marginals, sampling
from .two_site import TwoSiteLearner


class MPSBornMachine(TensorNetworkBornMachine):
    """Born machine on a matrix product state, learned by two-site updates.

    Parameters
    ----------
    n_sites, local_dim : number of sites (>= 2) and values per site.
    max_bond : largest bond dimension the SVD split may keep.
    cutoff : singular values below ``cutoff * s_max`` are discarded at each split. The
        default 0 keeps up to ``max_bond`` of them: tiny Schmidt values still carry rare
        training samples, and cutting them early stops bonds from growing (MNIST, D=50,
        6 sweeps: NLL 59.3 with cutoff 0, 64.0 with 1e-13, 67.1 with 1e-7). Use a
        positive cutoff to let bonds shrink where the data need less.
    init_bond : bond dimension of the random initial state (entries uniform in [0, 1),
        real and imaginary parts alike for complex dtypes).
    dtype, device : float64 on the CPU by default; complex dtypes are supported.
    seed : seed of the initial tensors and of the model's own random stream (minibatch
        order, samples); None: drawn from torch's global RNG.
    """

    default_lr = {"sweep": "line_search", "gradient": 0.02}

    def __init__(self, n_sites: int, local_dim: int = 2, *, max_bond: int = 64,
                 cutoff: float = 0.0, init_bond: int = 2, dtype=torch.float64,
                 device=None, seed: int | None = None):
        super().__init__()
        self.n_sites = check_count(n_sites, "n_sites")
        if self.n_sites < 2:
            raise ValueError(f"an MPS Born machine needs n_sites >= 2, got {n_sites}")
        self.support = Discrete(check_local_dim(local_dim))
        self.max_bond = check_count(max_bond, "max_bond")
        self.cutoff = check_cutoff(cutoff)
        self.init_bond = check_count(init_bond, "init_bond")
        dtype, device = resolve(dtype, device)
        generator = self._start_rng(seed)
        d = self.local_dim
        dims = [1] + [min(self.init_bond, d ** min(k, self.n_sites - k))
                      for k in range(1, self.n_sites)] + [1]
        tensors = []
        for k in range(self.n_sites):
            shape = (dims[k], d, dims[k + 1])
            t = torch.rand(shape, generator=generator, dtype=torch.float64)
            if dtype.is_complex:
                t = torch.complex(t, torch.rand(shape, generator=generator, dtype=torch.float64))
            tensors.append(t.to(dtype=dtype, device=device))
        canonical.canonicalize_from_scratch(tensors, 0)
        self._init_network(tensors, 0)

    # ------------------------------------------------------------ construction
    @classmethod
    def from_tensors(cls, tensors, *, max_bond: int | None = None, cutoff: float = 0.0,
                     center: int = 0, seed: int | None = None) -> "MPSBornMachine":
        """Build from site tensors ``(D_left, d, D_right)`` (normalized on the way in).

        The tensors are copied and brought into canonical form at ``center``; p(x) is
        unchanged. ``max_bond`` defaults to max(64, the largest given bond).
        """
        tensors = _validate_tensors(tensors)
        model = cls.__new__(cls)
        GenerativeModel.__init__(model)
        model.n_sites = len(tensors)
        model.support = Discrete(tensors[0].shape[1])
        largest = max(t.shape[2] for t in tensors)
        model.max_bond = check_count(max(64, largest) if max_bond is None else max_bond,
                                     "max_bond")
        model.cutoff = check_cutoff(cutoff)
        model.init_bond = largest
        model._start_rng(seed)
        center = model._center_index(center)
        tensors = [t.detach().clone() for t in tensors]
        canonical.canonicalize_from_scratch(tensors, center)
        model._init_network(tensors, center)
        return model

    @classmethod
    def from_quimb(cls, mps, **kwargs) -> "MPSBornMachine":
        """Build from a ``quimb.tensor.MatrixProductState`` (any leg order)."""
        from .quimb_io import tensors_from_quimb

        return cls.from_tensors(tensors_from_quimb(mps), **kwargs)

    def to_quimb(self):
        """The normalized state as a ``quimb.tensor.MatrixProductState``."""
        from .quimb_io import tensors_to_quimb

        return tensors_to_quimb(self._canonical_copy(self.center))

    # --------------------------------------------------------------- properties
    @property
    def bonds(self) -> list[Bond]:
        """Bond k joins sites k and k+1 (it cuts sites ``0..k`` from the rest)."""
        return [Bond(k, tuple(range(k + 1))) for k in range(self.n_sites - 1)]

    @property
    def bond_dims(self) -> list[int]:
        """Bond dimensions D_0 .. D_{n-2}, aligned with :attr:`bonds`."""
        return [t.shape[2] for t in list(self.tensors)[:-1]]

    def _center_index(self, center) -> int:
        if center is None:
            return 0
        if isinstance(center, bool) or not isinstance(center, int) \
                or not 0 <= center < self.n_sites:
            raise ValueError(f"center must be an int in 0..{self.n_sites - 1}, got {center!r}")
        return center

    # ------------------------------------------------------------ entanglement
    def bond_spectra(self) -> list[torch.Tensor]:
        """Schmidt coefficients (normalized singular values) at every bond, left to right."""
        with torch.no_grad():
            tensors = list(self._canonical_copy(0))
            spectra = []
            for k in range(self.n_sites - 1):
                a = tensors[k]
                dl, d, dr = a.shape
                u, s, vh = truncated_svd(a.reshape(dl * d, dr), max_bond=dr, cutoff=0.0)
                tensors[k] = u.reshape(dl, d, -1)
                tensors[k + 1] = torch.einsum("a,ab,bpc->apc", s.to(vh.dtype), vh,
                                              tensors[k + 1])
                spectra.append(s / torch.linalg.norm(s))
        return spectra

    def chain_marginals(self, x) -> tuple[torch.Tensor, torch.Tensor]:
        """Exact ln p of every prefix and every suffix of ``x`` ``(B, n_sites)`` in two
        passes: ``prefix[:, k] = ln p(x_0..x_k)``, ``suffix[:, k] = ln p(x_k..x_{n-1})``."""
        x = self.validate_configurations(x).reshape(-1, self.n_sites)
        with torch.no_grad():
            left = self._canonical_copy(0)
            prefix = marginals.prefix_log_weights(left, x)
            right = self._canonical_copy(self.n_sites - 1)
            suffix = marginals.prefix_log_weights(marginals.reversed_chain(right),
                                                  x.flip(1)).flip(1)
        return prefix, suffix

    # ------------------------------------------------------------------ kernels
    def _check_network(self, tensors) -> None:
        _validate_tensors(tensors)
        if len(tensors) != self.n_sites or tensors[0].shape[1] != self.local_dim:
            raise ValueError(f"the tensors describe {len(tensors)} sites with "
                             f"{tensors[0].shape[1]} values, the model {self.n_sites} with "
                             f"{self.local_dim}")

    def _contracted_log_z(self, tensors):
        return contraction.log_norm(tensors)

    def _log_abs_amplitudes(self, tensors, x):
        return contraction.log_abs_amplitudes(tensors, x)

    def _shift_center(self, tensors, start, stop) -> None:
        canonical.shift_center(tensors, start, stop)

    def _canonicalize_from_scratch(self, tensors, center) -> None:
        canonical.canonicalize_from_scratch(tensors, center)

    def _isometry_error(self, tensors, center) -> float:
        return canonical.isometry_error(tensors, center)

    def _marginal_log_prob(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        sites = torch.nonzero(known).flatten()
        first, last = int(sites[0]), int(sites[-1])
        segment = slice(first, last + 1)
        if self.tensors[first].shape[0] <= self.tensors[last].shape[2]:
            tensors = self._canonical_copy(first)
            return marginals.segment_log_weight(tensors[segment], x[:, segment],
                                                known[segment])
        tensors = self._canonical_copy(last)
        return marginals.segment_log_weight(marginals.reversed_chain(tensors[segment]),
                                            x[:, segment].flip(1), known[segment].flip(0))

    def _sample(self, num: int, generator) -> torch.Tensor:
        return sampling.zipper_sample(self._canonical_copy(0), num, generator)

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        return sampling.conditional_sample(self._canonical_copy(0), x, known, generator)

    def _fit_sweeps(self, data: torch.Tensor, *, lr, max_step, steps_per_bond,
                    normalized_steps, broadcast_split, **loop_options) -> list[dict]:
        """Two-site learning; see :meth:`fit`."""
        options = update_options(lr=lr, max_step=max_step, steps_per_bond=steps_per_bond,
                                 max_bond=self.max_bond, cutoff=self.cutoff,
                                 normalized=normalized_steps,
                                 broadcast_split=broadcast_split)
        n = self.n_sites
        schedule = [(k, True) for k in range(n - 1)] + [(k, False) for k in range(n - 2, -1, -1)]
        return fit_by_sweeps(
            self, data, make_learner=lambda tensors, rows: TwoSiteLearner(tensors, rows,
                                                                          options),
            schedule=schedule, start_center=0,
            center_after=lambda step: step[0] + 1 if step[1] else step[0],
            options=options, desc="MPS sweeps", **loop_options)

    # ------------------------------------------------------------------ saving
    def _config(self) -> dict:
        return {"n_sites": self.n_sites, "local_dim": self.local_dim,
                "max_bond": self.max_bond, "cutoff": self.cutoff, "init_bond": self.init_bond,
                "dtype": str(self.dtype).replace("torch.", ""), "seed": self.seed}

    @classmethod
    def _from_version_1(cls, config: dict, state: dict) -> "MPSBornMachine":
        """A model from a file of tnborn 0.1 (tensors as a list, the centre in config)."""
        if config.get("dtype") not in TENSOR_DTYPES:
            raise ValueError(f"unknown dtype {config.get('dtype')!r}")
        model = cls.from_tensors(state["tensors"], max_bond=config["max_bond"],
                                 cutoff=config["cutoff"], center=config["center"])
        if model.n_sites != config["n_sites"] or model.local_dim != config["local_dim"]:
            raise ValueError("tensors do not match the saved n_sites / local_dim")
        return model


def _validate_tensors(tensors) -> list[torch.Tensor]:
    """Check a list of MPS site tensors ``(D_left, d, D_right)``; raise ValueError."""
    if isinstance(tensors, torch.Tensor) or not hasattr(tensors, "__len__"):
        raise TypeError("tensors must be a list of 3-D torch tensors")
    tensors = list(tensors)
    if len(tensors) < 2:
        raise ValueError(f"an MPS needs at least 2 site tensors, got {len(tensors)}")
    first = tensors[0]
    for k, t in enumerate(tensors):
        check_network_tensor(t, k, first, "(D_left, d, D_right)")
    if first.shape[0] != 1 or tensors[-1].shape[2] != 1:
        raise ValueError("the outer bonds must have dimension 1 "
                         f"(got {first.shape[0]} and {tensors[-1].shape[2]})")
    for k, t in enumerate(tensors):
        if t.shape[1] != first.shape[1] or t.shape[1] < 2:
            raise ValueError(f"tensor {k} has local dimension {t.shape[1]}, "
                             f"expected {first.shape[1]} (>= 2)")
        if k and tensors[k - 1].shape[2] != t.shape[0]:
            raise ValueError(f"bond {k - 1}: tensor {k - 1} has right dimension "
                             f"{tensors[k - 1].shape[2]} but tensor {k} has left dimension "
                             f"{t.shape[0]}")
    return tensors
