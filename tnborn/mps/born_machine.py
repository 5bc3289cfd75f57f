"""The MPS Born machine: p(x) = |psi(x)|^2 / Z on an open-boundary matrix product state.

::

        x_1     x_2            x_n
         |       |              |
    1 --A_1-----A_2--- ... ----A_n-- 1        A_k: (D_{k-1}, d, D_k)

The state is always kept in mixed-canonical form and normalized (Z = 1), with the
orthogonality centre at ``self.center``.
"""

from __future__ import annotations

import time

import torch
from tqdm.auto import tqdm

from ..backend import resolve, seeded_generator
from ..base import GenerativeModel, _check_count
from ..linalg import check_alpha, spectrum_entropy
from . import canonical, contraction, sampling
from .two_site import TwoSiteLearner, TwoSiteOptions

_DTYPES = {str(d): d for d in (torch.float32, torch.float64, torch.complex64, torch.complex128)}


class MPSBornMachine(GenerativeModel):
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
    seed : seed of the initial tensors (a fresh random state when None).
    """

    def __init__(self, n_sites: int, local_dim: int = 2, *, max_bond: int = 64,
                 cutoff: float = 0.0, init_bond: int = 2, dtype=torch.float64,
                 device=None, seed: int | None = None):
        super().__init__()
        self.n_sites = _check_count(n_sites, "n_sites")
        if self.n_sites < 2:
            raise ValueError(f"an MPS Born machine needs n_sites >= 2, got {n_sites}")
        self.local_dim = _check_count(local_dim, "local_dim")
        if self.local_dim < 2:
            raise ValueError(f"local_dim must be >= 2, got {local_dim}")
        self.max_bond = _check_count(max_bond, "max_bond")
        self.cutoff = _check_cutoff(cutoff)
        self.init_bond = _check_count(init_bond, "init_bond")
        dtype, device = resolve(dtype, device)
        generator = seeded_generator(seed)
        dims = [1] + [min(self.init_bond, self.local_dim ** min(k, self.n_sites - k))
                      for k in range(1, self.n_sites)] + [1]
        tensors = []
        for k in range(self.n_sites):
            shape = (dims[k], self.local_dim, dims[k + 1])
            t = torch.rand(shape, generator=generator, dtype=torch.float64)
            if dtype.is_complex:
                t = torch.complex(t, torch.rand(shape, generator=generator, dtype=torch.float64))
            tensors.append(t.to(dtype=dtype, device=device))
        self._set_tensors(tensors)

    # ------------------------------------------------------------ construction
    @classmethod
    def from_tensors(cls, tensors, *, max_bond: int | None = None, cutoff: float = 0.0,
                     center: int = 0) -> "MPSBornMachine":
        """Build from site tensors ``(D_left, d, D_right)`` (normalized on the way in).

        The tensors are copied and brought into canonical form; p(x) is unchanged.
        ``max_bond`` defaults to max(64, the largest given bond).
        """
        tensors = _validate_tensors(tensors)
        model = cls.__new__(cls)
        GenerativeModel.__init__(model)
        model.n_sites = len(tensors)
        model.local_dim = tensors[0].shape[1]
        largest = max(t.shape[2] for t in tensors)
        model.max_bond = _check_count(max(64, largest) if max_bond is None else max_bond,
                                      "max_bond")
        model.cutoff = _check_cutoff(cutoff)
        model.init_bond = largest
        model._set_tensors([t.clone() for t in tensors], center)
        return model

    @classmethod
    def from_quimb(cls, mps, **kwargs) -> "MPSBornMachine":
        """Build from a ``quimb.tensor.MatrixProductState`` (any leg order)."""
        from .quimb_io import tensors_from_quimb

        return cls.from_tensors(tensors_from_quimb(mps), **kwargs)

    def to_quimb(self):
        """The normalized state as a ``quimb.tensor.MatrixProductState``."""
        from .quimb_io import tensors_to_quimb

        return tensors_to_quimb(self.tensors)

    def _set_tensors(self, tensors: list[torch.Tensor], center: int = 0) -> None:
        if not 0 <= center < len(tensors):
            raise ValueError(f"center must be in 0..{len(tensors) - 1}, got {center}")
        canonical.canonicalize_from_scratch(tensors, center)
        self.tensors = tensors
        self.center = center

    # --------------------------------------------------------------- properties
    def _reference_tensor(self) -> torch.Tensor:
        return self.tensors[0]

    def _apply(self, fn, recurse=True):
        self.tensors = [fn(t) for t in self.tensors]
        return super()._apply(fn, recurse)

    @property
    def bond_dims(self) -> list[int]:
        """Bond dimensions D_1 .. D_{n-1}."""
        return [t.shape[2] for t in self.tensors[:-1]]

    @property
    def num_parameters(self) -> int:
        """Number of scalar entries in all site tensors (complex counts once)."""
        return sum(t.numel() for t in self.tensors)

    def canonicalize(self, center: int) -> "MPSBornMachine":
        """Move the orthogonality centre to site ``center`` (QR); returns self."""
        if isinstance(center, bool) or not isinstance(center, int) \
                or not 0 <= center < self.n_sites:
            raise ValueError(f"center must be an int in 0..{self.n_sites - 1}, got {center!r}")
        canonical.shift_center(self.tensors, self.center, center)
        self.center = center
        return self

    def log_norm(self) -> float:
        """ln Z of the state contracted as it stands (0 up to rounding: it is kept normalized)."""
        return contraction.log_norm(self.tensors)

    # ------------------------------------------------------------ entanglement
    def bond_spectra(self) -> list[torch.Tensor]:
        """Schmidt coefficients (normalized singular values) at every bond, left to right."""
        tensors = list(self.tensors)
        canonical.shift_center(tensors, self.center, 0)
        spectra = []
        for k in range(self.n_sites - 1):
            a = tensors[k]
            dl, d, dr = a.shape
            u, s, vh = torch.linalg.svd(a.reshape(dl * d, dr), full_matrices=False)
            tensors[k] = u.reshape(dl, d, -1)
            tensors[k + 1] = torch.einsum("a,ab,bpc->apc", s.to(vh.dtype), vh, tensors[k + 1])
            spectra.append(s / torch.linalg.norm(s))
        return spectra

    def entanglement_entropy(self, alpha: float = 1.0) -> torch.Tensor:
        """Entanglement entropy (nats) at every bond, shape ``(n_sites - 1,)``.

        Bond k cuts sites ``0..k`` from ``k+1..n-1``. ``alpha=1`` is von Neumann,
        otherwise Renyi ``S_alpha = ln(sum lambda^alpha) / (1 - alpha)`` with
        ``lambda = s^2`` the Schmidt spectrum.
        """
        alpha = check_alpha(alpha)
        return torch.stack([spectrum_entropy(s ** 2, alpha) for s in self.bond_spectra()])

    # ------------------------------------------------------------------ kernels
    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        log_z = 2.0 * torch.log(torch.linalg.norm(self.tensors[self.center]))
        return 2.0 * contraction.log_abs_amplitudes(self.tensors, x) - log_z

    def _sample(self, num: int, generator) -> torch.Tensor:
        self.canonicalize(0)
        return sampling.zipper_sample(self.tensors, num, generator)

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        self.canonicalize(0)
        return sampling.conditional_sample(self.tensors, x, known, generator)

    def _fit(self, data: torch.Tensor, *, sweeps: int = 10, lr: float = 0.2,
             batch_size: int | None = None, test_data: torch.Tensor | None = None,
             progress: bool = True, max_step: float | None = 0.5, steps_per_bond: int = 1,
             generator: torch.Generator | None = None) -> list[dict]:
        """Two-site learning; see :meth:`fit`."""
        sweeps = _check_count(sweeps, "sweeps")
        steps_per_bond = _check_count(steps_per_bond, "steps_per_bond")
        if not (isinstance(lr, (int, float)) and lr > 0 and lr == lr and lr != float("inf")):
            raise ValueError(f"lr must be a positive finite number, got {lr!r}")
        if max_step is not None and not (isinstance(max_step, (int, float)) and max_step > 0):
            raise ValueError(f"max_step must be a positive number or None, got {max_step!r}")
        if batch_size is not None:
            batch_size = _check_count(batch_size, "batch_size")
        options = TwoSiteOptions(lr=float(lr), max_step=max_step, steps_per_bond=steps_per_bond,
                                 max_bond=self.max_bond, cutoff=self.cutoff)
        unique, inverse, counts = torch.unique(data, dim=0, return_inverse=True,
                                               return_counts=True)
        weights = counts.to(self.tensors[0].real.dtype) / data.shape[0]
        self.canonicalize(0)
        learner = TwoSiteLearner(self.tensors, unique, options)
        n = self.n_sites
        history = []
        elapsed = 0.0
        bar = tqdm(total=sweeps * 2 * (n - 1), disable=not progress, unit="bond",
                   desc="MPS sweeps", leave=False)
        try:
            for sweep in range(1, sweeps + 1):
                start = time.perf_counter()
                batches = _minibatches(inverse, weights, batch_size, generator)
                order = [(k, True) for k in range(n - 1)] + [(k, False) for k in range(n - 2, -1, -1)]
                for step, (k, moving_right) in enumerate(order):
                    rows, batch_weights = batches[step % len(batches)]
                    learner.update(k, moving_right, rows, batch_weights)
                    bar.update(1)
                self.center = 0
                elapsed += time.perf_counter() - start
                record = {"step": sweep,
                          "train_nll": float(-(weights * self._log_prob(unique)).sum()),
                          "seconds": elapsed,
                          "max_bond": max(self.bond_dims)}
                if test_data is not None:
                    record["test_nll"] = float(-self._log_prob(test_data).mean())
                bar.set_postfix(nll=f"{record['train_nll']:.4f}", D=record["max_bond"])
                history.append(record)
        finally:
            bar.close()
        return history

    def fit(self, data, *, sweeps: int = 10, lr: float = 0.2, batch_size: int | None = None,
            test_data=None, progress: bool = True, max_step: float | None = 0.5,
            steps_per_bond: int = 1, generator: torch.Generator | None = None) -> list[dict]:
        """Learn ``data`` ``(N, n_sites)`` by two-site sweeps (left to right and back).

        Parameters
        ----------
        sweeps : number of full sweeps (each visits every bond in both directions).
        lr : gradient step size on the merged two-site tensor (||M|| = 1).
        batch_size : None for full-batch steps; otherwise each two-site update uses the
            next minibatch of a fresh random permutation per sweep (``generator``).
        test_data : configurations whose NLL is recorded after every sweep.
        progress : show a tqdm progress bar over the two-site updates.
        max_step : cap ``|dM| <= max_step * |M|`` on each step (None: no cap); it keeps
            one badly fitted sample (tiny psi, huge 1/psi) from replacing the tensor.
        steps_per_bond : gradient steps on each merged tensor before it is split.

        Returns one dict per sweep: ``step``, ``train_nll``, ``test_nll`` (if test data),
        ``seconds`` (cumulative training time, evaluation excluded), ``max_bond``.
        """
        return super().fit(data, sweeps=sweeps, lr=lr, batch_size=batch_size,
                           test_data=test_data, progress=progress, max_step=max_step,
                           steps_per_bond=steps_per_bond, generator=generator)

    # ------------------------------------------------------------------ saving
    def _config(self) -> dict:
        return {"n_sites": self.n_sites, "local_dim": self.local_dim,
                "max_bond": self.max_bond, "cutoff": self.cutoff,
                "dtype": str(self.dtype), "center": self.center}

    def _state(self) -> dict:
        return {"tensors": list(self.tensors)}

    @classmethod
    def _from_saved(cls, config: dict, state: dict) -> "MPSBornMachine":
        tensors = state["tensors"]
        if config.get("dtype") not in _DTYPES:
            raise ValueError(f"unknown dtype {config.get('dtype')!r}")
        model = cls.from_tensors(tensors, max_bond=config["max_bond"],
                                 cutoff=config["cutoff"], center=config["center"])
        if model.n_sites != config["n_sites"] or model.local_dim != config["local_dim"]:
            raise ValueError("tensors do not match the saved n_sites / local_dim")
        return model


def _minibatches(inverse, weights, batch_size, generator):
    """List of (rows, weights) per two-site update for one sweep.

    ``inverse[i]`` is the distinct-configuration index of data row i. Full batch: one entry
    (None, weights). Otherwise a random permutation of the rows cut into batches, each
    reduced to its distinct rows with counts.
    """
    total = inverse.shape[0]
    if batch_size is None or batch_size >= total:
        return [(None, weights)]
    perm = torch.randperm(total, generator=generator, device=inverse.device)
    batches = []
    for start in range(0, total, batch_size):
        chunk = inverse[perm[start:start + batch_size]]
        rows, counts = torch.unique(chunk, return_counts=True)
        batches.append((rows, counts.to(weights.dtype) / chunk.shape[0]))
    return batches


def _check_cutoff(cutoff) -> float:
    if isinstance(cutoff, bool) or not isinstance(cutoff, (int, float)) \
            or not 0 <= cutoff < 1:
        raise ValueError(f"cutoff must be a number in [0, 1), got {cutoff!r}")
    return float(cutoff)


def _validate_tensors(tensors) -> list[torch.Tensor]:
    """Check a list of MPS site tensors ``(D_left, d, D_right)``; raise ValueError."""
    if isinstance(tensors, torch.Tensor) or not hasattr(tensors, "__len__"):
        raise TypeError("tensors must be a list of 3-D torch tensors")
    tensors = list(tensors)
    if len(tensors) < 2:
        raise ValueError(f"an MPS needs at least 2 site tensors, got {len(tensors)}")
    for k, t in enumerate(tensors):
        if not isinstance(t, torch.Tensor):
            raise TypeError(f"tensor {k} is a {type(t).__name__}, not a torch.Tensor")
        if t.ndim != 3:
            raise ValueError(f"tensor {k} must have shape (D_left, d, D_right), "
                             f"got {tuple(t.shape)}")
        if str(t.dtype) not in _DTYPES:
            raise ValueError(f"tensor {k} has unsupported dtype {t.dtype}")
        if not torch.isfinite(t).all():
            raise ValueError(f"tensor {k} has non-finite entries")
    first = tensors[0]
    if first.shape[0] != 1 or tensors[-1].shape[2] != 1:
        raise ValueError("the outer bonds must have dimension 1 "
                         f"(got {first.shape[0]} and {tensors[-1].shape[2]})")
    for k, t in enumerate(tensors):
        if t.dtype != first.dtype or t.device != first.device:
            raise ValueError(f"tensor {k} has dtype/device {t.dtype}/{t.device}, "
                             f"tensor 0 has {first.dtype}/{first.device}")
        if t.shape[1] != first.shape[1] or t.shape[1] < 2:
            raise ValueError(f"tensor {k} has local dimension {t.shape[1]}, "
                             f"expected {first.shape[1]} (>= 2)")
        if k and tensors[k - 1].shape[2] != t.shape[0]:
            raise ValueError(f"bond {k - 1}: tensor {k - 1} has right dimension "
                             f"{tensors[k - 1].shape[2]} but tensor {k} has left dimension "
                             f"{t.shape[0]}")
    return tensors
