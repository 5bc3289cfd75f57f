"""The common interface of every generative model in tnborn.

A model is a normalized distribution over configurations ``x`` of ``n_sites`` sites that
share one :mod:`support <tnborn.supports>`: integers ``0 .. k-1`` (``Discrete(k)``, ln p)
or reals (``Circle``, ``Real``, ``Interval``, ln density), shape ``(..., n_sites)``.
Public methods validate their arguments and raise :class:`ValueError` /
:class:`TypeError` with a clear message, then call private kernels (``_log_prob``,
``_sample``, ...) that subclasses implement. Behaviour that differs between model
families is asked of the model through its capabilities (``exact_sampling``,
``has_bonds``, ``has_rsample``, ``supports_z2``, ``log_z_is_exact``,
``marginal_is_exact``, ``conditional_is_exact``), never by testing its class.

Random draws come from the ``generator`` a caller passes, otherwise from the model's own
stream: seeded by the constructor's ``seed`` (or by one draw from torch's global RNG when
the seed is None), so a seeded model trains and samples reproducibly end to end.

Saving writes the ``state_dict`` and the constructor's plain configuration (read back
with ``torch.load(weights_only=True)``, so a model file can never run code) atomically: a
failed save leaves no partial file behind.
"""

from __future__ import annotations

import importlib
import numbers
import os
import tempfile
from pathlib import Path

import torch

from .backend import seeded_generator
from .checks import check_count, check_generator, check_seed
from .distributed import resolve_collective
from .enumeration import MAX_CONFIGURATIONS, all_configurations, count_configurations
from .supports import Discrete, Support, support_from_config

FILE_FORMAT = "tnborn-model"
FILE_VERSION = 2

_MODEL_CLASSES: dict[str, type["GenerativeModel"]] = {}
# the packages of the built-in models, imported by `load` so their classes are registered
_MODEL_PACKAGES = ("tnborn.mps", "tnborn.ttn", "tnborn.arnn", "tnborn.independent",
                   "tnborn.flows")


class GenerativeModel(torch.nn.Module):
    """Base class: a normalized distribution p(x) over ``n_sites`` sites.

    Subclasses set ``n_sites`` and ``support`` and implement

    * ``_log_prob(x)``: validated ``(B, n_sites)`` -> ``(B,)``
    * ``_sample(num, generator)`` -> ``(num, n_sites)`` (``generator`` is never None)
    * ``_conditional_sample(x, known, generator)`` with validated ``(B, n_sites)`` inputs
    * ``_fit(data, **options)`` -> list of per-sweep/epoch dicts
    * ``_config()``: the constructor's keyword arguments as plain Python values.
    """

    n_sites: int
    support: Support
    #: the keyword of ``fit`` that counts training passes ("sweeps" or "epochs"), or
    #: None for a model fitted in one closed-form step
    fit_unit: str | None = "epochs"

    #: samples are exact and independent (False: a Markov chain)
    exact_sampling: bool = True
    #: a tensor network with ``bonds``, ``bond_dims`` and ``entanglement_entropy``
    has_bonds: bool = False
    #: ``log_prob`` is normalized exactly; False where it subtracts an estimated ln Z,
    #: which such a model makes with ``log_z("ais", chains=, steps=, generator=,
    #: base_data=)`` (an :class:`tnborn.Estimate`, kept for ``log_prob`` until the
    #: parameters change)
    log_z_is_exact: bool = True

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _MODEL_CLASSES[cls.__name__] = cls

    # ------------------------------------------------------------ capabilities
    @property
    def local_dim(self) -> int:
        """Values per site of a discrete support (AttributeError for a continuous one)."""
        if not self.support.is_discrete:
            raise AttributeError(f"{type(self).__name__} has the continuous support "
                                 f"{self.support}: it has no local_dim")
        return self.support.k

    @property
    def has_rsample(self) -> bool:
        """Whether :meth:`rsample` draws differentiable (reparametrized) samples."""
        return False

    @property
    def supports_z2(self) -> bool:
        """Whether the model can be made symmetric under the global flip x -> 1 - x
        (``z2_symmetric = True``)."""
        return False

    def marginal_is_exact(self, sites) -> bool:
        """Whether :meth:`marginal_log_prob` of ``sites`` (indices or a bool mask) is exact
        without enumerating the other sites."""
        mask = site_mask(sites, self.n_sites, self.device)
        return bool(mask.all()) or self._marginal_is_exact(mask)

    def conditional_is_exact(self, known) -> bool:
        """Whether :meth:`conditional_sample` with ``known`` (bool ``(n_sites,)`` or
        ``(..., n_sites)``) samples exactly from p(rest | known)."""
        known = torch.as_tensor(known, device=self.device)
        if known.dtype != torch.bool or known.ndim == 0 or known.shape[-1] != self.n_sites:
            raise ValueError(f"known must be a bool mask (..., {self.n_sites}), got "
                             f"{known.dtype} of shape {tuple(known.shape)}")
        return self._conditional_is_exact(known.reshape(-1, self.n_sites))

    def check_hamiltonian(self, hamiltonian, beta) -> None:
        """ValueError when the model embeds a Hamiltonian (a heat-bath level, couplings in
        a first layer) other than ``hamiltonian`` at ``beta``; models that embed none
        accept any target. The physics functions call it before training or estimating."""

    def _marginal_is_exact(self, mask: torch.Tensor) -> bool:
        return False

    def _conditional_is_exact(self, known: torch.Tensor) -> bool:
        return False

    # ------------------------------------------------------------------ devices
    @property
    def device(self) -> torch.device:
        return self._reference_tensor().device

    @property
    def dtype(self) -> torch.dtype:
        return self._reference_tensor().dtype

    def _reference_tensor(self) -> torch.Tensor:
        for p in self.parameters():
            return p
        for b in self.buffers():
            return b
        raise NotImplementedError(f"{type(self).__name__} must define _reference_tensor")

    @property
    def num_parameters(self) -> int:
        """Number of scalar parameters (a complex entry counts once)."""
        return sum(p.numel() for p in self.parameters())

    # ------------------------------------------------------------ random streams
    def _start_rng(self, seed) -> torch.Generator:
        """Start the model's own CPU stream from ``seed`` (None: one draw from torch's
        global RNG) and return it; constructors draw their initial parameters from it."""
        self.seed = None if seed is None else check_seed(seed)
        stream = seeded_generator(self.seed)
        self.__dict__["_streams"] = {"cpu": stream}
        return stream

    def random_stream(self, generator: torch.Generator | None = None) -> torch.Generator:
        """The generator the model's random draws use: ``generator`` if given (checked
        against the model's device), else the model's own stream on its device (a stream
        on another device is seeded by a draw from the CPU one)."""
        device = self.device
        check_generator(generator, device)
        if generator is not None:
            return generator
        streams = self.__dict__.get("_streams")
        if streams is None:
            self._start_rng(self.__dict__.get("seed"))
            streams = self.__dict__["_streams"]
        key = str(device)
        if key not in streams:
            seed = int(torch.randint(0, 2 ** 62, (1,), generator=streams["cpu"]))
            streams[key] = torch.Generator(device).manual_seed(seed)
        return streams[key]

    # --------------------------------------------------------------- validation
    def validate_configurations(self, x, name: str = "x") -> torch.Tensor:
        """Return ``x`` checked against the support, on the model's device, shape
        ``(..., n_sites)``: a LongTensor (discrete) or a floating tensor of the model's
        dtype (continuous). ValueError/TypeError naming the first bad value otherwise."""
        dtype = None if self.support.is_discrete else self.dtype
        return self.support.validate(x, self.n_sites, device=self.device, dtype=dtype,
                                     name=name)

    # ------------------------------------------------------------ public methods
    def log_prob(self, x, *, validate: bool = True) -> torch.Tensor:
        """ln p(x) (discrete) or the ln density (continuous), normalized; shape
        ``x.shape[:-1]``. ``validate=False`` skips the checks of ``x`` (for configurations
        the caller knows are valid, e.g. the model's own samples)."""
        if validate:
            x = self.validate_configurations(x)
        batch_shape = x.shape[:-1]
        return self._log_prob(x.reshape(-1, self.n_sites)).reshape(batch_shape)

    def nll(self, x) -> float:
        """Mean negative log-likelihood (or log density) over a batch, in nats."""
        with torch.no_grad():
            return float(-self.log_prob(x).mean())

    def sample(self, num: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``num`` samples, ``(num, n_sites)`` (exact and independent when
        ``exact_sampling``)."""
        num = check_count(num, "num")
        with torch.no_grad():
            return self._sample(num, self.random_stream(generator))

    def sample_and_log_prob(self, num: int, *, generator: torch.Generator | None = None):
        """``(x, log_q)``: ``num`` samples and their ``log_prob`` (differentiable with
        respect to the parameters when grad mode is on; the samples are not)."""
        x = self.sample(num, generator=generator)
        return x, self.log_prob(x, validate=False)

    def rsample(self, num: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """``num`` reparametrized samples, differentiable with respect to the parameters
        (only when ``has_rsample``; TypeError otherwise)."""
        if not self.has_rsample:
            raise TypeError(f"{type(self).__name__} on {self.support} has no reparametrized "
                            "sampler (has_rsample is False); use sample()")
        return self._rsample(check_count(num, "num"), self.random_stream(generator))

    def rsample_and_log_prob(self, num: int, *, generator: torch.Generator | None = None):
        """``(x, log_q)``: ``num`` reparametrized samples and their ``log_prob``, both
        differentiable with respect to the parameters (only when ``has_rsample``)."""
        if not self.has_rsample:
            raise TypeError(f"{type(self).__name__} on {self.support} has no reparametrized "
                            "sampler (has_rsample is False); use sample_and_log_prob()")
        return self._rsample_and_log_prob(check_count(num, "num"), self.random_stream(generator))

    def conditional_sample(self, x, known, *, generator: torch.Generator | None = None):
        """Keep ``x`` where ``known`` is True, sample the rest from p(rest | known).

        ``x``: configurations ``(..., n_sites)`` (values at unknown sites are ignored but
        must still lie in the support); ``known``: bool tensor of the same shape, or of
        shape ``(n_sites,)`` to use one mask for every row. ValueError unless
        ``conditional_is_exact(known)``.
        """
        x = self.validate_configurations(x)
        known = _validate_mask(known, x.shape, self.device)
        rng = self.random_stream(generator)
        flat_known = known.expand(x.shape).reshape(-1, self.n_sites)
        if not self._conditional_is_exact(flat_known):
            raise ValueError(self._inexact_conditional_message())
        batch_shape = x.shape[:-1]
        with torch.no_grad():
            out = self._conditional_sample(x.reshape(-1, self.n_sites), flat_known, rng)
        return out.reshape(*batch_shape, self.n_sites)

    def _exact_marginal_hint(self) -> str:
        """Where this model's marginals are exact, for error messages ("; ..." or "")."""
        return ""

    def _inexact_conditional_message(self) -> str:
        return (f"{type(self).__name__} cannot sample exactly from p(rest | known) for "
                "these known sites")

    def marginal_log_prob(self, x, sites, *, validate: bool = True) -> torch.Tensor:
        """ln p(x_S) of the sites ``S`` (the other sites summed out), ``x.shape[:-1]``.

        ``x``: configurations ``(..., n_sites)``; values outside ``S`` are ignored (but must
        lie in the support). ``sites``: site indices or a bool mask ``(n_sites,)``.
        Exact contraction where ``marginal_is_exact(sites)``; otherwise the summed sites
        of a discrete model are enumerated (ValueError when there are too many).
        """
        if validate:
            x = self.validate_configurations(x)
        known = site_mask(sites, self.n_sites, self.device)
        batch_shape = x.shape[:-1]
        flat = x.reshape(-1, self.n_sites)
        with torch.no_grad():
            if bool(known.all()):
                out = self._log_prob(flat)
            elif self._marginal_is_exact(known):
                out = self._marginal_log_prob(flat, known)
            else:
                out = self._enumerated_marginal(flat, known)
        return out.reshape(batch_shape)

    def conditional_log_prob(self, x, given, *, validate: bool = True) -> torch.Tensor:
        """ln p(x_rest | x_given), ``x.shape[:-1]``, for ``given`` (site indices or a bool
        mask) whose marginal is exact: ln p(x) - ln p(x_given)."""
        if validate:
            x = self.validate_configurations(x)
        mask = site_mask(given, self.n_sites, self.device)
        if not self.marginal_is_exact(mask):
            raise ValueError(f"the marginal of these sites is not exact for "
                             f"{type(self).__name__}, so neither is the conditional")
        with torch.no_grad():
            return self._conditional_log_prob(x.reshape(-1, self.n_sites), mask).reshape(
                x.shape[:-1])

    def _conditional_log_prob(self, x: torch.Tensor, given: torch.Tensor) -> torch.Tensor:
        return self._log_prob(x) - self.marginal_log_prob(x, given, validate=False)

    def fit(self, data, *, distributed: bool = False, process_group=None,
            **options) -> list[dict]:
        """Train on ``data`` ``(N, n_sites)``; returns one dict per sweep/epoch.

        ``distributed=True`` (the default process group) or ``process_group=group``: a
        data-parallel fit in which ``data`` (and ``test_data``, ``val_data``) are this
        rank's shard (:mod:`tnborn.distributed`); bad input on any rank is a ValueError
        on every rank."""
        collective = resolve_collective(distributed, process_group)
        refusal = self._distributed_refusal(options) if collective.active else None
        data, options = collective.checked(lambda: self._validated_fit_data(data, options),
                                           refusal)
        if not collective.active:
            return self._fit(data, **options)
        collective.shard_sizes(data.shape[0])
        return self._fit(data, collective=collective, **options)

    def _validated_fit_data(self, data, options: dict) -> tuple[torch.Tensor, dict]:
        data = self.validate_configurations(data, "data").reshape(-1, self.n_sites)
        options = dict(options)
        for name in ("test_data", "val_data"):
            if options.get(name) is not None:
                options[name] = self.validate_configurations(options[name], name).reshape(
                    -1, self.n_sites)
        return data, options

    def _distributed_refusal(self, options: dict) -> str | None:
        """Why this fit cannot run data-parallel (None: it can)."""
        return f"{type(self).__name__} has no data-parallel fit"

    # --------------------------------------------------------------- state dicts
    def load_state_dict(self, state_dict, strict: bool = True, assign: bool = False):
        """``torch.nn.Module.load_state_dict``, refusing non-finite parameters
        (ValueError naming the entry)."""
        for name, value in state_dict.items():
            if isinstance(value, torch.Tensor) and (value.is_floating_point()
                                                    or value.is_complex()) \
                    and not torch.isfinite(value).all():
                raise ValueError(f"state entry {name} has non-finite values")
        return super().load_state_dict(state_dict, strict=strict, assign=assign)

    def __repr__(self) -> str:
        fields = ", ".join(f"{key}={value}" for key, value in self._repr_fields().items())
        return f"{type(self).__name__}({fields}, parameters={self.num_parameters:,})"

    def _repr_fields(self) -> dict:
        """The model's sizes for ``repr`` (name -> value)."""
        return {"n_sites": self.n_sites, "support": self.support}

    # ------------------------------------------------------------------- saving
    def save(self, path) -> None:
        """Write the model to ``path`` atomically (state_dict + plain config only)."""
        atomic_save({"format": FILE_FORMAT, "version": FILE_VERSION,
                     "class": type(self).__name__, "config": self._config(),
                     "state": to_cpu(self.state_dict())}, path)

    @classmethod
    def load(cls, path, *, device=None) -> "GenerativeModel":
        """Restore a model written by :meth:`save` (``cls`` must match the file)."""
        model = load(path, device=device)
        if cls is not GenerativeModel and not isinstance(model, cls):
            raise ValueError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    @classmethod
    def from_config(cls, config: dict, state_dict: dict) -> "GenerativeModel":
        """A model built from :meth:`_config` keywords with ``state_dict`` loaded; a
        ``support`` keyword saved as its config is turned back into the support."""
        if isinstance(config.get("support"), dict):
            config = {**config, "support": support_from_config(config["support"])}
        model = cls(**config)
        model.load_state_dict(state_dict)
        return model

    # ---------------------------------------------------------------- kernels
    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _sample(self, num: int, generator) -> torch.Tensor:
        raise NotImplementedError

    def _rsample(self, num: int, generator) -> torch.Tensor:
        raise NotImplementedError

    def _rsample_and_log_prob(self, num: int, generator):
        x = self._rsample(num, generator)
        return x, self._log_prob(x)

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        raise NotImplementedError

    def _marginal_log_prob(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _enumerated_marginal(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """ln p(x_S), ``known`` the bool mask ``(n_sites,)`` of S (neither empty nor
        full): enumerate the summed sites of a discrete model, in chunks."""
        if not self.support.is_discrete:
            raise ValueError(f"the marginal of {type(self).__name__} over these sites is not "
                             "exact, and a continuous support cannot be enumerated")
        hidden = torch.nonzero(~known).flatten()
        count = count_configurations(hidden.numel(), self.local_dim)
        if count > MAX_CONFIGURATIONS:
            raise ValueError(f"the marginal of {type(self).__name__} sums over "
                             f"{hidden.numel()} sites by enumeration, too many "
                             f"({self.local_dim}^{hidden.numel()} configurations)"
                             f"{self._exact_marginal_hint()}")
        filler = all_configurations(hidden.numel(), self.local_dim, x.device)
        rows_per_chunk = max(1, MAX_CONFIGURATIONS // 16 // count)
        out = []
        for start in range(0, x.shape[0], rows_per_chunk):
            rows = x[start:start + rows_per_chunk]
            full = rows[:, None, :].repeat(1, count, 1)
            full[:, :, hidden] = filler
            logp = self._log_prob(full.reshape(-1, self.n_sites)).reshape(rows.shape[0], count)
            out.append(torch.logsumexp(logp, dim=1))
        return torch.cat(out)

    def _fit(self, data: torch.Tensor, **options) -> list[dict]:
        raise NotImplementedError

    def _config(self) -> dict:
        raise NotImplementedError


def load(path, *, device=None) -> GenerativeModel:
    """Restore any tnborn model from a file written by ``model.save(path)``.

    The file is read with ``torch.load(weights_only=True)``; a missing, corrupt or
    foreign file raises ValueError (FileNotFoundError if it does not exist).
    """
    path = Path(path)
    payload = read_payload(path, FILE_FORMAT, "model")
    if payload.get("version") not in (1, FILE_VERSION):
        raise ValueError(f"{path} has unsupported tnborn file version {payload.get('version')!r}")
    name = payload.get("class")
    for package in _MODEL_PACKAGES:
        importlib.import_module(package)
    if name not in _MODEL_CLASSES:
        raise ValueError(f"{path} holds an unknown model class {name!r}")
    config, state = payload.get("config"), payload.get("state")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise ValueError(f"{path} is missing its config or state")
    cls = _MODEL_CLASSES[name]
    try:
        if payload["version"] == 1:
            model = cls._from_version_1(config, state)
        else:
            model = cls.from_config(config, state)
    except (KeyError, TypeError, IndexError, RuntimeError) as exc:
        raise ValueError(f"{path} holds an inconsistent {name}: "
                         f"{str(exc).splitlines()[0] if str(exc) else type(exc).__name__}"
                         ) from None
    return model.to(device) if device is not None else model


def read_payload(path: Path, file_format: str, what: str) -> dict:
    """The dict saved at ``path`` (``torch.load(weights_only=True)``) with the header
    ``format == file_format``; FileNotFoundError / ValueError otherwise."""
    if not path.is_file():
        raise FileNotFoundError(f"no {what} file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt input
        raise ValueError(f"{path} is not a readable tnborn {what} file ({exc.__class__.__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'corrupt data'})") from None
    if not isinstance(payload, dict) or payload.get("format") != file_format:
        raise ValueError(f"{path} is not a tnborn {what} file (no '{file_format}' header)")
    return payload


def atomic_save(payload, path) -> None:
    """``torch.save(payload)`` to ``path`` through a temporary file and a rename, so that
    ``path`` is either the old file or the complete new one."""
    path = Path(path)
    directory = path.parent if str(path.parent) else Path(".")
    if not directory.is_dir():
        raise ValueError(f"cannot save to {path}: directory {directory} does not exist")
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            torch.save(payload, handle)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


# ---------------------------------------------------------------------- helpers
def validate_configurations(x, n_sites: int, local_dim: int, *, device=None,
                            name: str = "x") -> torch.Tensor:
    """Check discrete configurations with values ``0 .. local_dim-1``; returns a
    LongTensor ``(..., n_sites)`` (see :meth:`tnborn.supports.Support.validate`)."""
    return Discrete(local_dim).validate(x, n_sites, device=device, name=name)


def _validate_mask(known, shape, device) -> torch.Tensor:
    known = torch.as_tensor(known, device=device)
    if known.dtype != torch.bool:
        raise TypeError(f"known must be a bool tensor, got dtype {known.dtype}")
    if known.shape != shape and known.shape != shape[-1:]:
        raise ValueError(f"known must have shape {tuple(shape)} or ({shape[-1]},), "
                         f"got {tuple(known.shape)}")
    return known


def site_mask(sites, n_sites: int, device=None) -> torch.Tensor:
    """A non-empty set of sites as a bool mask ``(n_sites,)``: from a bool mask or from
    distinct site indices in ``0 .. n_sites-1``. TypeError/ValueError otherwise."""
    if isinstance(sites, torch.Tensor) and sites.dtype == torch.bool:
        if sites.shape != (n_sites,):
            raise ValueError(f"a site mask must have shape ({n_sites},), "
                             f"got {tuple(sites.shape)}")
        mask = sites.to(device)
    else:
        if isinstance(sites, torch.Tensor):
            sites = sites.flatten().tolist()
        try:
            indices = list(sites)
        except TypeError:
            raise TypeError(f"sites must be site indices or a bool mask, got {sites!r}") from None
        for s in indices:
            if isinstance(s, bool) or not isinstance(s, numbers.Integral):
                raise TypeError(f"site indices must be integers, got {s!r}")
            if not 0 <= s < n_sites:
                raise ValueError(f"site {s} is outside 0..{n_sites - 1}")
        if len(set(indices)) != len(indices):
            raise ValueError(f"sites contain repeated indices: {sorted(indices)}")
        mask = torch.zeros(n_sites, dtype=torch.bool, device=device)
        mask[indices] = True
    if not bool(mask.any()):
        raise ValueError("the set of sites is empty")
    return mask


def to_cpu(state):
    """Tensors (in dicts, lists and tuples) detached and copied to the CPU."""
    if isinstance(state, torch.Tensor):
        return state.detach().cpu().clone()
    if isinstance(state, dict):
        return {k: to_cpu(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [to_cpu(v) for v in state]
    return state

