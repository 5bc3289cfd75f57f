"""Common base of the tensor-network Born machines (MPS and TTN).

p(x) = |psi(x)|^2 / Z, where psi is a network of tensors registered as parameters in
``self.tensors`` (a ``torch.nn.ParameterList``), so ``parameters()``, ``state_dict()``,
``load_state_dict()``, ``.to()`` and ``copy.deepcopy`` work as for any torch module.

The network is normally kept in canonical form (every tensor an isometry towards the
centre tensor ``tensors[center]``) and normalized, and the model remembers the torch
version counters of its tensors at the moment it made them so. While they are
unchanged Z = ||tensors[center]||^2 costs nothing; once any tensor is changed in place
(an optimizer step, ``mul_``) or replaced, Z is contracted from the tensors as they are
(and cached until the next change). Writes through ``tensor.data`` bypass version
counters: call ``canonicalize_`` after them.

Reading methods (``log_prob``, ``sample``, marginals, entanglement) work on canonical
copies and never change ``tensors`` or ``center``. In-place operations end in ``_``.
Two-site sweeps change bond dimensions, so they replace the parameters: build a torch
optimizer after them, not before.
"""

from __future__ import annotations

from typing import NamedTuple

import torch

from .base import GenerativeModel
from .checks import check_bool

TENSOR_DTYPES = {str(d): d for d in (torch.float32, torch.float64, torch.complex64,
                                     torch.complex128)}

#: relative tolerance of the isometry check that lets loaded tensors keep the fast path
CANONICAL_TOLERANCE = {torch.float64: 1e-10, torch.complex128: 1e-10,
                       torch.float32: 1e-4, torch.complex64: 1e-4}


class Bond(NamedTuple):
    """One bond (cut) of a tensor network: ``index`` in ``model.bonds`` and ``sites``,
    the sorted sites on one side of it (MPS bond k: sites ``0..k``; TTN edge: the sites
    below it)."""

    index: int
    sites: tuple[int, ...]


def check_network_tensor(t, k: int, first, legs: str) -> None:
    """Tensor ``k`` of a network: a finite 3-leg torch tensor (legs named in ``legs``) of a
    supported dtype, on the dtype/device of tensor 0 (``first``). TypeError/ValueError."""
    if not isinstance(t, torch.Tensor):
        raise TypeError(f"tensor {k} is a {type(t).__name__}, not a torch.Tensor")
    if t.ndim != 3:
        raise ValueError(f"tensor {k} must have shape {legs}, got {tuple(t.shape)}")
    if str(t.dtype) not in TENSOR_DTYPES:
        raise ValueError(f"tensor {k} has unsupported dtype {t.dtype}")
    if isinstance(first, torch.Tensor) and (t.dtype != first.dtype or t.device != first.device):
        raise ValueError(f"tensor {k} has dtype/device {t.dtype}/{t.device}, "
                         f"tensor 0 has {first.dtype}/{first.device}")
    if not torch.isfinite(t).all():
        raise ValueError(f"tensor {k} has non-finite entries")


class TensorNetworkBornMachine(GenerativeModel):
    """Born machine on a tensor network, learned by local two-tensor updates (or by any
    torch optimizer on the differentiable ``log_prob``)."""

    has_bonds = True
    fit_unit = "sweeps"
    #: fit's step size when none is given, per method (set per network)
    default_lr: dict[str, float | str]

    # ------------------------------------------------------------ the network
    def _init_network(self, tensors: list[torch.Tensor], center: int) -> None:
        """Register ``tensors`` (canonical and normalized at ``center``) as parameters."""
        self.tensors = torch.nn.ParameterList(torch.nn.Parameter(t) for t in tensors)
        self._center = center
        self._mark_canonical()
        self.register_load_state_dict_post_hook(_after_load)

    def _reference_tensor(self) -> torch.Tensor:
        return self.tensors[0]

    @property
    def center(self) -> int:
        """Index in ``tensors`` of the orthogonality centre."""
        return self._center

    def _plain_tensors(self) -> list[torch.Tensor]:
        """The tensors detached from autograd (sharing storage), as a plain list."""
        return [p.detach() for p in self.tensors]

    def _replace_tensors(self, tensors: list[torch.Tensor], center: int,
                         canonical: bool) -> None:
        """Put ``tensors`` in place of the parameters (shapes may change), keeping each
        parameter's ``requires_grad``; ``canonical``: they are canonical and normalized
        at ``center``. Parameters are stored contiguous, as loaded ones are, so that a
        saved and reloaded model computes exactly as the one that was saved."""
        for k, t in enumerate(tensors):
            old = self.tensors[k]
            if not _same_storage(t, old):
                self.tensors[k] = torch.nn.Parameter(t.detach().contiguous(),
                                                     requires_grad=old.requires_grad)
        self._center = center
        if canonical:
            self._mark_canonical()
        else:
            self._forget_canonical()

    # ------------------------------------------------ canonical-form bookkeeping
    def _stamp(self):
        params = tuple(self.tensors)
        return params, tuple(p._version for p in params)

    def _same_stamp(self, stamp) -> bool:
        if stamp is None:
            return False
        params, versions = stamp
        now = tuple(self.tensors)
        return len(now) == len(params) and all(
            p is q and p._version == v for p, q, v in zip(now, params, versions))

    def _mark_canonical(self) -> None:
        self.__dict__["_canonical_stamp"] = self._stamp()
        self.__dict__["_caches"] = {}

    def _forget_canonical(self) -> None:
        self.__dict__["_canonical_stamp"] = None
        self.__dict__["_caches"] = {}

    def _is_canonical(self) -> bool:
        """Whether the tensors are still those made canonical and normalized at the
        centre (no tensor changed or replaced since)."""
        return self._same_stamp(self.__dict__.get("_canonical_stamp"))

    def _cached(self, key, compute):
        """``compute()`` cached for the tensors as they stand (recomputed after a change)."""
        caches = self.__dict__.setdefault("_caches", {})
        stamp, value = caches.get(key, (None, None))
        if not self._same_stamp(stamp):
            value = compute()
            caches[key] = (self._stamp(), value)
        return value

    def _checked_tensors(self) -> list[torch.Tensor]:
        """The plain tensors, validated as a network (ValueError naming the bad tensor or
        bond) when they may have been changed from outside."""
        tensors = self._plain_tensors()
        if not self._is_canonical():
            self._check_network(tensors)
        return tensors

    def _log_z(self) -> torch.Tensor:
        """ln Z of the tensors as they stand: differentiable when autograd needs it,
        2 ln ||centre|| while the canonical form holds, else contracted (and cached)."""
        if torch.is_grad_enabled() and any(p.requires_grad for p in self.tensors):
            if not self._is_canonical():
                self._check_network(self._plain_tensors())
            return self._contracted_log_z(list(self.tensors))
        if self._is_canonical():
            return 2.0 * torch.log(torch.linalg.norm(self.tensors[self._center].detach()))
        return self._cached("log_z", lambda: self._contracted_log_z(self._checked_tensors()))

    def _canonical_copy(self, center: int) -> list[torch.Tensor]:
        """Plain tensors of the same state, canonical and normalized at ``center``; the
        parameters are not touched (copies are cached until the tensors change)."""
        if self._is_canonical():
            tensors = self._plain_tensors()
            if center == self._center:
                return tensors

            def moved():
                self._shift_center(tensors, self._center, center)
                return tensors
            return self._cached(("canonical", center), moved)

        def rebuilt():
            tensors = self._checked_tensors()
            self._canonicalize_from_scratch(tensors, center)
            return tensors
        return self._cached(("canonical", center), rebuilt)

    def canonicalize_(self, center=None) -> "TensorNetworkBornMachine":
        """Bring the tensors into canonical form at ``center`` in place (QR moves; from
        scratch, normalizing, after outside changes); returns self. p(x) is unchanged."""
        center = self._center_index(center)
        if self._is_canonical() and center == self._center:
            return self
        tensors = self._canonical_copy(center)
        self._replace_tensors(tensors, center, canonical=True)
        return self

    def log_norm(self) -> float:
        """ln Z = ln sum_x |psi(x)|^2 of the tensors as they stand (0 to rounding while
        the model keeps them normalized)."""
        with torch.no_grad():
            return float(self._cached("log_z_contracted",
                                      lambda: self._contracted_log_z(self._checked_tensors())))

    # ------------------------------------------------------------ capabilities
    def _marginal_is_exact(self, mask: torch.Tensor) -> bool:
        return True

    def _conditional_is_exact(self, known: torch.Tensor) -> bool:
        return True

    @property
    def bond_dims(self) -> list[int]:
        """Dimension of every bond, aligned with :attr:`bonds`."""
        raise NotImplementedError

    def entanglement_entropy(self, alpha: float = 1.0) -> torch.Tensor:
        """Entanglement entropy (nats) at every bond, a Tensor aligned with :attr:`bonds`.

        ``alpha=1`` is von Neumann, otherwise Renyi ``S_alpha = ln(sum lambda^alpha) /
        (1 - alpha)`` (``inf`` allowed) with ``lambda = s^2`` the Schmidt spectrum.
        """
        from .linalg import check_alpha, spectrum_entropy

        alpha = check_alpha(alpha)
        return torch.stack([spectrum_entropy(s ** 2, alpha) for s in self.bond_spectra()])

    def bond_spectra(self) -> list[torch.Tensor]:
        """Schmidt coefficients (normalized singular values, decreasing) at every bond,
        aligned with :attr:`bonds`."""
        raise NotImplementedError

    # ------------------------------------------------------------------ kernels
    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        log_z = self._log_z()
        return 2.0 * self._log_abs_amplitudes(list(self.tensors), x) - log_z

    def _repr_fields(self) -> dict:
        dims = self.bond_dims
        return {"n_sites": self.n_sites, "support": self.support,
                "bonds": f"{len(dims)} (largest {max(dims)})", "max_bond": self.max_bond,
                "dtype": str(self.dtype).replace("torch.", "")}

    # ------------------------------------------------------------------- state
    def get_extra_state(self) -> dict:
        return {"center": int(self._center)}

    def set_extra_state(self, state) -> None:
        if not isinstance(state, dict) or not isinstance(state.get("center"), int):
            raise ValueError(f"bad tensor-network extra state {state!r}")
        center = state["center"]
        if not 0 <= center < len(self.tensors):
            raise ValueError(f"saved centre {center} is outside 0..{len(self.tensors) - 1}")
        self._center = center

    def _load_from_state_dict(self, state_dict, prefix, local_metadata, strict,
                              missing_keys, unexpected_keys, error_msgs):
        """Take the tensor shapes of the state being loaded (learning changes them), then
        load as usual; the post-load hook re-checks the canonical form."""
        for k in range(len(self.tensors)):
            value = state_dict.get(f"{prefix}tensors.{k}")
            if isinstance(value, torch.Tensor) and value.shape != self.tensors[k].shape:
                old = self.tensors[k]
                self.tensors[k] = torch.nn.Parameter(
                    torch.zeros(value.shape, dtype=old.dtype, device=old.device),
                    requires_grad=old.requires_grad)
        self._forget_canonical()
        super()._load_from_state_dict(state_dict, prefix, local_metadata, strict,
                                      missing_keys, unexpected_keys, error_msgs)

    def _apply(self, fn, recurse=True):
        canonical = self._is_canonical()
        out = super()._apply(fn, recurse)
        if canonical:
            self._mark_canonical()
        else:
            self._forget_canonical()
        return out

    # ------------------------------------------------------- network-specific
    def _center_index(self, center) -> int:
        raise NotImplementedError

    def _check_network(self, tensors: list[torch.Tensor]) -> None:
        raise NotImplementedError

    def _contracted_log_z(self, tensors: list[torch.Tensor]) -> torch.Tensor:
        raise NotImplementedError

    def _log_abs_amplitudes(self, tensors: list[torch.Tensor], x: torch.Tensor):
        raise NotImplementedError

    def _shift_center(self, tensors: list[torch.Tensor], start: int, stop: int) -> None:
        raise NotImplementedError

    def _canonicalize_from_scratch(self, tensors: list[torch.Tensor], center: int) -> None:
        raise NotImplementedError

    def _isometry_error(self, tensors: list[torch.Tensor], center: int) -> float:
        """Largest deviation from the isometry conditions towards ``center``."""
        raise NotImplementedError

    # ---------------------------------------------------------------- training
    def fit(self, data, *, method: str = "sweep", sweeps: int = 10, lr: float | None = None,
            batch_size: int | None = None, test_data=None, progress: bool = True,
            max_step: float | None = 0.5, steps_per_bond: int = 1,
            normalized_steps: bool = False, generator: torch.Generator | None = None,
            max_seconds: float | None = None, checkpoint=None, checkpoint_every=1,
            resume=None, val_data=None, patience: int | None = None,
            tol: float | None = None, clock: str = "wall", distributed: bool = False,
            process_group=None, broadcast_split: bool = False) -> list[dict]:
        """Learn ``data`` ``(N, n_sites)`` by maximum likelihood.

        ``method="sweep"`` (default): sweeps of two-tensor updates (two neighbouring
        sites of an MPS, two adjacent nodes of a TTN): merge, gradient step on the NLL,
        truncated SVD split, so bonds grow up to ``max_bond``. ``method="gradient"``:
        Adam on all tensors at their present bond dimensions, on the exactly normalized
        NLL (autograd through ``log_prob``); one "sweep" is one pass over the data in
        minibatches (one full-batch step when ``batch_size`` is None). The tensors are
        brought back into canonical form at the end.

        Parameters
        ----------
        sweeps : number of sweeps (each visits every bond; the MPS goes left to right and
            back, the TTN along an Euler tour of its edges), or of passes over the data.
        lr : step size: of the update on the normalized merged tensor (sweeps, the fixed
            step 2 lr), or Adam's (gradient); None: ``default_lr[method]`` of the
            network: ``"line_search"`` for sweeps, 0.02 for Adam. ``lr="line_search"``:
            each step takes the best length of a grid along the gradient, found from one
            extra amplitude evaluation (:mod:`tnborn.local_steps`), so the NLL of the
            update's batch never rises (with full batches, nor does the training NLL,
            but for the truncation of the split). A number: the fixed step (the earlier
            defaults were 0.2 for the MPS and 0.05 for the TTN).
        batch_size : None for full-batch updates; otherwise each update (each Adam step)
            uses the next minibatch of a fresh random permutation per sweep.
        test_data : configurations whose NLL is recorded after every sweep.
        progress : show a tqdm progress bar over the updates.
        max_step : (sweeps) cap ``|dM| <= max_step * |M|`` on each step, fixed or
            line-searched (None: no cap);
            it keeps one badly fitted sample (tiny psi, huge 1/psi) from replacing the
            tensor.
        steps_per_bond : (sweeps) gradient steps on each merged tensor before it is split.
        normalized_steps : (sweeps) lengthen every shorter step to 2 lr numel(M)^(1/4)
            along the gradient: the update of the original code of Han et al. (its
            "norm0.25" mode), with a small lr (their 5e-3, lowered to 1e-3). Near
            convergence these fixed-length steps still move where plain steps have
            shrunk; pass ``max_step=None`` to leave them uncapped.
        generator : draws of the minibatch order (None: the model's own stream).
        max_seconds : training-time budget: stop after the update that reaches it (the
            unfinished sweep is recorded with ``"partial": True``). None: no limit.
        checkpoint, checkpoint_every, resume : see :mod:`tnborn.fitloop`: write
            atomic checkpoints to ``checkpoint`` every ``checkpoint_every`` sweeps (an
            int) or seconds (``"30s"``), and continue a run from the checkpoint
            ``resume``.
        val_data, patience : record ``val_nll`` every sweep and end at the state with the
            lowest one; stop after ``patience`` sweeps without a new best.
        tol : (sweeps) stop after the first sweep that lowers the training NLL by less
            than ``tol`` nats, or raises it (minibatches, truncation); the last record's
            ``stopped_by`` is then ``"converged"``, so ``sweeps`` is only a ceiling:
            ``fit(data, sweeps=1000, tol=1e-3)``.
        clock : ``"wall"`` or ``"cpu"``: what ``max_seconds`` counts.
        distributed, process_group : (sweeps) data-parallel training on torch.distributed
            (the default group, or ``process_group``): ``data``, ``test_data`` and
            ``val_data`` are this rank's shards; every rank keeps only its shard's
            environments, the gradient terms and NLLs are summed over the ranks, so every
            rank steps the same merged tensor, and the tensors equal (to rounding) those
            of one process on the concatenated data. Each rank splits it by its own SVD
            (bitwise the same on identical machines; the ranks compare fingerprints of
            their tensors after every sweep and stop with a RuntimeError if they
            differ); ``broadcast_split=True`` broadcasts rank 0's split instead (for
            ranks on different machines, at four more collectives per update). With
            ``batch_size`` B each update uses the next B rows of every rank's shuffled
            shard (a global minibatch of about ranks x B rows, weighted by the global
            count); a sweep has as many batches as the largest shard needs, and a smaller
            shard cycles.

        Returns one dict per sweep: ``step``, ``train_nll``, ``test_nll`` (if test data),
        ``val_nll`` (if validation data), ``seconds`` and ``cpu_seconds`` (cumulative
        training time, evaluation excluded), ``max_bond``; the last one also
        ``stopped_by``.
        """
        if method not in self.default_lr:
            raise ValueError(f"method must be one of {sorted(self.default_lr)}, got {method!r}")
        check_bool(normalized_steps, "normalized_steps")
        check_bool(broadcast_split, "broadcast_split")
        if method == "gradient" and (steps_per_bond != 1 or normalized_steps
                                     or broadcast_split or tol is not None):
            raise ValueError("steps_per_bond, normalized_steps, broadcast_split and tol "
                             "belong to method='sweep'")
        if lr == "line_search" and method == "gradient":
            raise ValueError("lr='line_search' belongs to method='sweep'")
        lr = self.default_lr[method] if lr is None else lr
        return super().fit(data, method=method, sweeps=sweeps, lr=lr, batch_size=batch_size,
                           test_data=test_data, progress=progress, max_step=max_step,
                           steps_per_bond=steps_per_bond, normalized_steps=normalized_steps,
                           generator=generator, max_seconds=max_seconds,
                           checkpoint=checkpoint, checkpoint_every=checkpoint_every,
                           resume=resume, val_data=val_data, patience=patience, tol=tol,
                           clock=clock,
                           distributed=distributed, process_group=process_group,
                           broadcast_split=broadcast_split)

    def _distributed_refusal(self, options: dict) -> str | None:
        if options.get("method") != "sweep":
            return "only method='sweep' trains data-parallel"
        return None

    def _fit(self, data, *, method, **options) -> list[dict]:
        from .gradient_fit import fit_by_gradient

        if method == "gradient":
            for key in ("max_step", "steps_per_bond", "normalized_steps", "broadcast_split",
                        "tol"):
                options.pop(key)
            return fit_by_gradient(self, data, **options)
        return self._fit_sweeps(data, **options)

    def _fit_sweeps(self, data, **options) -> list[dict]:
        raise NotImplementedError


def _same_storage(a: torch.Tensor, b: torch.Tensor) -> bool:
    return (a.data_ptr() == b.data_ptr() and a.shape == b.shape and a.stride() == b.stride()
            and a.dtype == b.dtype and a.device == b.device)


def _after_load(model: TensorNetworkBornMachine, incompatible) -> None:
    """After ``load_state_dict``: ValueError unless the loaded tensors form a network
    (bond dimensions that match, finite entries); keep the fast path only if they pass
    the isometry check at the loaded centre (to :data:`CANONICAL_TOLERANCE`) and are
    normalized; otherwise Z is contracted when needed."""
    model._forget_canonical()
    tensors = model._plain_tensors()
    try:
        model._check_network(tensors)
    except (TypeError, ValueError) as exc:
        raise ValueError(f"the loaded tensors do not form a {type(model).__name__}: "
                         f"{exc}") from None
    tolerance = CANONICAL_TOLERANCE[tensors[0].dtype]
    with torch.no_grad():
        norm = float(torch.linalg.norm(tensors[model.center]))
        if abs(norm - 1.0) <= tolerance and \
                model._isometry_error(tensors, model.center) <= tolerance:
            model._mark_canonical()
