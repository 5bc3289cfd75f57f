"""The sets a model's sites take values in, and the checks of configurations on them.

* :class:`Discrete` ``(k)``: integers ``0 .. k-1`` (LongTensor configurations);
* :class:`Circle`: angles in ``[0, 2 pi)``;
* :class:`Real`: the real line;
* :class:`Interval` ``(lo, hi)``: the closed interval ``[lo, hi]``.

``log_prob`` of a model is ln p(x) on a discrete support and the log density with
respect to Lebesgue measure (per site: d theta on the circle, dx on the line or the
interval) on a continuous one, in nats. Every site of a model shares one support.
"""

from __future__ import annotations

import math
import numbers

import torch

from .checks import as_tensor

TWO_PI = 2.0 * math.pi


class Support:
    """Base class: what configurations of a model may hold."""

    #: whether configurations are integers (ln p) or reals (ln density)
    is_discrete: bool = False

    def validate(self, x, n_sites: int, *, device=None, dtype=None,
                 name: str = "x") -> torch.Tensor:
        """``x`` as a tensor of shape ``(..., n_sites)`` on ``device``: a LongTensor for a
        discrete support, a floating tensor of ``dtype`` for a continuous one.
        TypeError/ValueError naming the problem otherwise."""
        x = as_tensor(x, f"{name} must be a tensor or array, got {type(x).__name__}")
        if x.ndim == 0:
            raise ValueError(f"{name} must have shape (..., {n_sites}), got a scalar")
        if x.shape[-1] != n_sites:
            raise ValueError(f"{name} must have {n_sites} sites in its last axis, "
                             f"got shape {tuple(x.shape)}")
        if x.numel() == 0:
            raise ValueError(f"{name} is empty (shape {tuple(x.shape)})")
        x = self._check_values(x, name, dtype)
        return x.to(device) if device is not None else x

    def _check_values(self, x: torch.Tensor, name: str, dtype) -> torch.Tensor:
        raise NotImplementedError

    def config(self) -> dict:
        """Plain data that :func:`support_from_config` turns back into this support."""
        raise NotImplementedError

    def __eq__(self, other) -> bool:
        return type(self) is type(other) and self.config() == other.config()

    def __hash__(self) -> int:
        return hash(tuple(sorted(self.config().items())))


class Discrete(Support):
    """Integers ``0 .. k-1`` at every site (k >= 2)."""

    is_discrete = True

    def __init__(self, k: int):
        if isinstance(k, bool) or not isinstance(k, numbers.Integral) or k < 2:
            raise ValueError(f"a discrete support needs k >= 2 values, got {k!r}")
        self.k = int(k)

    def _check_values(self, x: torch.Tensor, name: str, dtype) -> torch.Tensor:
        top = self.k - 1
        if x.dtype == torch.bool:
            x = x.long()
        elif x.is_complex():
            raise ValueError(f"{name} must hold integers 0..{top}, got complex values")
        elif x.is_floating_point():
            if torch.isnan(x).any():
                raise ValueError(f"{name} contains NaN")
            if not torch.isfinite(x).all():
                raise ValueError(f"{name} contains infinite values")
            if (x != torch.round(x)).any():
                raise ValueError(f"{name} must hold integers 0..{top}, got non-integer "
                                 f"values (first: {_first_bad(x, x != torch.round(x))})")
        elif x.dtype not in (torch.int64, torch.int32, torch.int16, torch.int8, torch.uint8):
            raise TypeError(f"{name} has unsupported dtype {x.dtype}")
        x = x.long()
        bad = (x < 0) | (x > top)
        if bad.any():
            raise ValueError(f"{name} has values in [{int(x.min())}, {int(x.max())}], "
                             f"outside 0..{top} (first: {_first_bad(x, bad)})")
        return x

    def config(self) -> dict:
        return {"kind": "discrete", "k": self.k}

    def __repr__(self) -> str:
        return f"Discrete({self.k})"


class _Continuous(Support):
    """A support of real values: floating tensors, finite, inside the domain."""

    def _check_values(self, x: torch.Tensor, name: str, dtype) -> torch.Tensor:
        if x.is_complex():
            raise TypeError(f"{name} must hold real numbers on {self}, got complex values")
        if not x.is_floating_point():
            raise TypeError(f"{name} must be a floating tensor of values on {self}, got "
                            f"dtype {x.dtype}")
        finite = torch.isfinite(x)
        if not finite.all():
            raise ValueError(f"{name} has non-finite values (first: {_first_bad(x, ~finite)})")
        outside = ~self._inside(x)
        if outside.any():
            raise ValueError(f"{name} has values outside {self.domain} "
                             f"(first: {_first_bad(x, outside)})")
        return x.to(dtype) if dtype is not None else x

    def _inside(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones_like(x, dtype=torch.bool)

    @property
    def domain(self) -> str:
        raise NotImplementedError


class Circle(_Continuous):
    """Angles in ``[0, 2 pi)``; densities are per radian."""

    domain = "[0, 2pi)"

    def _inside(self, x):
        return (x >= 0) & (x < TWO_PI)

    def config(self) -> dict:
        return {"kind": "circle"}

    def __repr__(self) -> str:
        return "Circle()"


class Real(_Continuous):
    """The real line."""

    domain = "(-inf, inf)"

    def config(self) -> dict:
        return {"kind": "real"}

    def __repr__(self) -> str:
        return "Real()"


class Interval(_Continuous):
    """The closed interval ``[lo, hi]`` (lo < hi, both finite)."""

    def __init__(self, lo: float, hi: float):
        values = []
        for value, label in ((lo, "lo"), (hi, "hi")):
            if isinstance(value, bool) or not isinstance(value, numbers.Real) \
                    or not math.isfinite(value):
                raise ValueError(f"Interval {label} must be a finite number, got {value!r}")
            values.append(float(value))
        if not values[0] < values[1]:
            raise ValueError(f"Interval needs lo < hi, got lo={lo!r}, hi={hi!r}")
        self.lo, self.hi = values

    @property
    def domain(self) -> str:
        return f"[{self.lo:g}, {self.hi:g}]"

    def _inside(self, x):
        return (x >= self.lo) & (x <= self.hi)

    def config(self) -> dict:
        return {"kind": "interval", "lo": self.lo, "hi": self.hi}

    def __repr__(self) -> str:
        return f"Interval({self.lo:g}, {self.hi:g})"


def support_from_config(config) -> Support:
    """The support described by :meth:`Support.config` (ValueError for anything else)."""
    if not isinstance(config, dict):
        raise ValueError(f"a support config must be a dict, got {config!r}")
    kind = config.get("kind")
    if kind == "discrete":
        return Discrete(config.get("k"))
    if kind == "circle":
        return Circle()
    if kind == "real":
        return Real()
    if kind == "interval":
        return Interval(config.get("lo"), config.get("hi"))
    raise ValueError(f"unknown support kind {kind!r}")


def check_support(support) -> Support:
    """``support`` if it is a :class:`Support` (TypeError otherwise)."""
    if not isinstance(support, Support):
        raise TypeError(f"support must be Discrete(k), Circle(), Real() or "
                        f"Interval(lo, hi), got {support!r}")
    return support


def _first_bad(x: torch.Tensor, bad: torch.Tensor) -> str:
    """``value at index (i, j, ...)`` of the first True entry of ``bad``."""
    index = tuple(int(i) for i in torch.nonzero(bad)[0])
    return f"{x[index].item()!r} at index {index}"
