"""The common interface of every generative model in tnborn.

A model is a normalized distribution over configurations ``x`` (integer tensors with
values ``0 .. local_dim-1`` and shape ``(..., n_sites)``). Public methods validate their
arguments and raise :class:`ValueError` / :class:`TypeError` with a clear message, then
call private kernels (``_log_prob``, ``_sample``, ...) that subclasses implement.

Saving writes tensors and plain configuration only (read back with
``torch.load(weights_only=True)``, so a model file can never run code) and is atomic:
a failed save leaves no partial file behind.
"""

from __future__ import annotations

import numbers
import os
import tempfile
from pathlib import Path

import torch

from .enumeration import MAX_CONFIGURATIONS, all_configurations, count_configurations

FILE_FORMAT = "tnborn-model"
FILE_VERSION = 1

_MODEL_CLASSES: dict[str, type["GenerativeModel"]] = {}


class GenerativeModel(torch.nn.Module):
    """Base class: an exactly normalized distribution p(x) over ``n_sites`` sites.

    Subclasses set ``n_sites`` and ``local_dim`` and implement

    * ``_log_prob(x)``: ``x`` validated LongTensor ``(B, n_sites)`` -> ``(B,)``
    * ``_sample(num, generator)`` -> LongTensor ``(num, n_sites)``
    * ``_conditional_sample(x, known, generator)`` with validated ``(B, n_sites)`` inputs
    * ``_fit(data, **options)`` -> list of per-epoch dicts
    * ``_config()`` (plain Python values), ``_state()`` (dict of tensors or lists of
      tensors) and ``_from_saved(config, state)`` for save/load.
    """

    n_sites: int
    local_dim: int

    def __init_subclass__(cls, **kwargs):
        super().__init_subclass__(**kwargs)
        _MODEL_CLASSES[cls.__name__] = cls

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

    # --------------------------------------------------------------- validation
    def validate_configurations(self, x, name: str = "x") -> torch.Tensor:
        """Return ``x`` as a LongTensor on the model's device, shape ``(..., n_sites)``.

        Accepts integer or bool tensors / arrays, and float ones whose values are all
        whole numbers. Raises ValueError for NaN, non-integer values, a wrong number of
        sites, values outside ``0 .. local_dim-1`` or an empty batch.
        """
        return validate_configurations(
            x, self.n_sites, self.local_dim, device=self.device, name=name
        )

    # ------------------------------------------------------------ public methods
    def log_prob(self, x) -> torch.Tensor:
        """Exact normalized ln p(x); shape ``x.shape[:-1]``."""
        x = self.validate_configurations(x)
        batch_shape = x.shape[:-1]
        return self._log_prob(x.reshape(-1, self.n_sites)).reshape(batch_shape)

    def nll(self, x) -> float:
        """Mean negative log-likelihood over a batch, in nats."""
        with torch.no_grad():
            return float(-self.log_prob(x).mean())

    def sample(self, num: int, *, generator: torch.Generator | None = None) -> torch.Tensor:
        """Draw ``num`` independent exact samples, LongTensor ``(num, n_sites)``."""
        num = _check_count(num, "num")
        _check_generator(generator, self.device)
        return self._sample(num, generator)

    def conditional_sample(self, x, known, *, generator: torch.Generator | None = None):
        """Keep ``x`` where ``known`` is True, sample the rest from p(rest | known).

        ``x``: configurations ``(..., n_sites)`` (values at unknown sites are ignored but
        must still lie in the alphabet); ``known``: bool tensor of the same shape, or of
        shape ``(n_sites,)`` to use one mask for every row.
        """
        x = self.validate_configurations(x)
        known = _validate_mask(known, x.shape, self.device)
        _check_generator(generator, self.device)
        batch_shape = x.shape[:-1]
        flat_x = x.reshape(-1, self.n_sites)
        flat_known = known.expand(x.shape).reshape(-1, self.n_sites)
        out = self._conditional_sample(flat_x, flat_known, generator)
        return out.reshape(*batch_shape, self.n_sites)

    def marginal_log_prob(self, x, sites) -> torch.Tensor:
        """Exact ln p(x_S) of the sites ``S`` (the other sites summed out), ``x.shape[:-1]``.

        ``x``: configurations ``(..., n_sites)``; values outside ``S`` are ignored (but must
        lie in the alphabet). ``sites``: site indices or a bool mask ``(n_sites,)``.
        MPS and TTN contract the summed sites exactly at any size; autoregressive nets
        need ``S`` to be a prefix of their site order; other cases enumerate the summed
        sites (ValueError when there are too many).
        """
        x = self.validate_configurations(x)
        known = site_mask(sites, self.n_sites, self.device)
        batch_shape = x.shape[:-1]
        flat = x.reshape(-1, self.n_sites)
        with torch.no_grad():
            if bool(known.all()):
                out = self._log_prob(flat)
            else:
                out = self._marginal_log_prob(flat, known)
        return out.reshape(batch_shape)

    def fit(self, data, **options) -> list[dict]:
        """Train on ``data`` ``(N, n_sites)``; returns one dict per sweep/epoch."""
        data = self.validate_configurations(data, "data").reshape(-1, self.n_sites)
        test = options.get("test_data")
        if test is not None:
            options["test_data"] = self.validate_configurations(test, "test_data").reshape(
                -1, self.n_sites
            )
        return self._fit(data, **options)

    # ------------------------------------------------------------------- saving
    def save(self, path) -> None:
        """Write the model to ``path`` atomically (tensors + plain config only)."""
        payload = {
            "format": FILE_FORMAT,
            "version": FILE_VERSION,
            "class": type(self).__name__,
            "config": self._config(),
            "state": _to_cpu(self._state()),
        }
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

    @classmethod
    def load(cls, path, *, device=None) -> "GenerativeModel":
        """Restore a model written by :meth:`save` (``cls`` must match the file)."""
        model = load(path, device=device)
        if cls is not GenerativeModel and not isinstance(model, cls):
            raise ValueError(f"{path} holds a {type(model).__name__}, not a {cls.__name__}")
        return model

    # ---------------------------------------------------------------- kernels
    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def _sample(self, num: int, generator) -> torch.Tensor:
        raise NotImplementedError

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        raise NotImplementedError

    def _marginal_log_prob(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        """ln p(x_S), ``known`` the bool mask ``(n_sites,)`` of S (neither empty nor
        full): enumerate the summed sites, in chunks."""
        hidden = torch.nonzero(~known).flatten()
        count = count_configurations(hidden.numel(), self.local_dim)
        if count > MAX_CONFIGURATIONS:
            raise ValueError(f"the marginal of {type(self).__name__} sums over "
                             f"{hidden.numel()} sites by enumeration, too many "
                             f"({self.local_dim}^{hidden.numel()} configurations)")
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

    def _state(self) -> dict:
        raise NotImplementedError

    @classmethod
    def _from_saved(cls, config: dict, state: dict) -> "GenerativeModel":
        raise NotImplementedError


def load(path, *, device=None) -> GenerativeModel:
    """Restore any tnborn model from a file written by ``model.save(path)``.

    The file is read with ``torch.load(weights_only=True)``; a missing, corrupt or
    foreign file raises ValueError (FileNotFoundError if it does not exist).
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"no model file at {path}")
    try:
        payload = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises many types for corrupt input
        raise ValueError(f"{path} is not a readable tnborn model file ({exc.__class__.__name__}: "
                         f"{str(exc).splitlines()[0] if str(exc) else 'corrupt data'})") from None
    if not isinstance(payload, dict) or payload.get("format") != FILE_FORMAT:
        raise ValueError(f"{path} is not a tnborn model file (no '{FILE_FORMAT}' header)")
    if payload.get("version") != FILE_VERSION:
        raise ValueError(f"{path} has unsupported tnborn file version {payload.get('version')!r}")
    name = payload.get("class")
    if name not in _MODEL_CLASSES:
        raise ValueError(f"{path} holds an unknown model class {name!r}")
    config, state = payload.get("config"), payload.get("state")
    if not isinstance(config, dict) or not isinstance(state, dict):
        raise ValueError(f"{path} is missing its config or state")
    try:
        model = _MODEL_CLASSES[name]._from_saved(config, state)
    except (KeyError, TypeError, IndexError) as exc:
        raise ValueError(f"{path} holds an inconsistent {name}: {exc}") from None
    return model.to(device) if device is not None else model


# ---------------------------------------------------------------------- helpers
def validate_configurations(x, n_sites: int, local_dim: int, *, device=None,
                            name: str = "x") -> torch.Tensor:
    """Check and convert configurations; see :meth:`GenerativeModel.validate_configurations`."""
    if not isinstance(x, torch.Tensor):
        try:
            x = torch.as_tensor(x)
        except Exception:
            raise TypeError(f"{name} must be a tensor or array of integers, "
                            f"got {type(x).__name__}") from None
    if x.dtype == torch.bool:
        x = x.long()
    elif x.is_complex():
        raise ValueError(f"{name} must hold integers 0..{local_dim - 1}, got complex values")
    elif x.is_floating_point():
        if torch.isnan(x).any():
            raise ValueError(f"{name} contains NaN")
        if not torch.isfinite(x).all():
            raise ValueError(f"{name} contains infinite values")
        if (x != torch.round(x)).any():
            raise ValueError(f"{name} must hold integers 0..{local_dim - 1}, "
                             "got non-integer values")
        x = x.long()
    elif x.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
        raise TypeError(f"{name} has unsupported dtype {x.dtype}")
    if x.ndim == 0:
        raise ValueError(f"{name} must have shape (..., {n_sites}), got a scalar")
    if x.shape[-1] != n_sites:
        raise ValueError(f"{name} must have {n_sites} sites in its last axis, "
                         f"got shape {tuple(x.shape)}")
    if x.numel() == 0:
        raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
    x = x.long()
    lo, hi = int(x.min()), int(x.max())
    if lo < 0 or hi >= local_dim:
        raise ValueError(f"{name} has values in [{lo}, {hi}], outside 0..{local_dim - 1}")
    return x.to(device) if device is not None else x


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


def _check_count(num, name: str) -> int:
    if isinstance(num, bool) or not isinstance(num, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {num!r}")
    if num <= 0:
        raise ValueError(f"{name} must be a positive integer, got {num}")
    return int(num)


def _check_generator(generator, device) -> None:
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if torch.device(generator.device).type != torch.device(device).type:
        raise ValueError(f"generator is on {generator.device} but the model is on {device}")


def _to_cpu(state):
    if isinstance(state, torch.Tensor):
        return state.detach().cpu().clone()
    if isinstance(state, dict):
        return {k: _to_cpu(v) for k, v in state.items()}
    if isinstance(state, (list, tuple)):
        return [_to_cpu(v) for v in state]
    return state
