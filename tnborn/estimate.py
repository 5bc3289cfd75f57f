"""One result type for quantities that are computed exactly or estimated from samples."""

from __future__ import annotations

import math
from dataclasses import dataclass

METHODS = ("exact", "sampled")


@dataclass(frozen=True)
class Estimate:
    """A value with its standard error.

    ``method`` is ``"exact"`` (enumeration or contraction: ``stderr == 0.0`` and ``num``
    is None) or ``"sampled"`` (a mean over ``num`` samples, ``stderr`` its standard
    error). ``float(estimate)`` is the value; format specs apply to it
    (``f"{estimate:.3f}"``); ``str`` shows ``value +- stderr``.
    """

    value: float
    stderr: float = 0.0
    method: str = "exact"
    num: int | None = None

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f"method must be one of {METHODS}, got {self.method!r}")
        object.__setattr__(self, "value", float(self.value))
        object.__setattr__(self, "stderr", float(self.stderr))
        if not self.stderr >= 0 and not math.isnan(self.stderr):
            raise ValueError(f"stderr must be >= 0, got {self.stderr}")
        if self.method == "exact" and (self.stderr != 0.0 or self.num is not None):
            raise ValueError("an exact value has stderr 0.0 and num None")
        if self.method == "sampled" and (self.num is None or self.num < 1):
            raise ValueError("a sampled estimate needs its sample count num >= 1")

    @classmethod
    def exact(cls, value) -> "Estimate":
        return cls(float(value))

    @classmethod
    def sampled(cls, value, stderr, num: int) -> "Estimate":
        return cls(float(value), float(stderr), "sampled", int(num))

    def __float__(self) -> float:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec) if spec else str(self)

    def __str__(self) -> str:
        if self.method == "exact":
            return f"{self.value:.6g} (exact)"
        return f"{self.value:.6g} +- {self.stderr:.2g} ({self.num} samples)"

    def as_dict(self) -> dict:
        """Plain data (for JSON)."""
        return {"value": self.value, "stderr": self.stderr, "method": self.method,
                "num": self.num}
