"""One result type for quantities that are computed exactly or estimated from samples,
and the rules by which a sampled estimate says that it is unreliable.

Reliability rules (each estimator states which apply; a broken rule sets
``reliable=False`` and adds a sentence to ``warnings``):

* importance weights with an effective sample size fraction
  ESS / N = (sum w)^2 / (N sum w^2) below :data:`MIN_ESS_FRACTION`, or fewer than
  :data:`MIN_ESS` effective samples: the weighted averages rest on a few samples and
  their delta-method error bars do not hold (``free_energy``, sampled Renyi MI);
* see :mod:`tnborn.diagnostics.mutual_information` (inner ESS, negative MI),
  :mod:`tnborn.physics.estimators` (neural MCMC acceptance, run length) and
  :mod:`tnborn.physics.variational` (target beta reached).

An exact value is always reliable.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

METHODS = ("exact", "sampled")

#: ESS / N below which importance-weighted averages are reported unreliable.
MIN_ESS_FRACTION = 1e-2
#: effective samples below which importance-weighted averages are reported unreliable.
MIN_ESS = 50.0


@dataclass(frozen=True)
class Estimate:
    """A value with its standard error, and whether to trust it.

    ``method`` is ``"exact"`` (enumeration or contraction: ``stderr == 0.0`` and ``num``
    is None) or ``"sampled"`` (a mean over ``num`` samples, ``stderr`` its standard
    error). ``reliable`` is False when a diagnostic of the estimator broke one of its
    stated rules; ``warnings`` then says which (a tuple of sentences, empty exactly when
    reliable); ``diagnostics`` holds the figures the rules look at (effective sample
    sizes, ...). Exact values are always reliable. ``float(estimate)`` is the value;
    format specs apply to it (``f"{estimate:.3f}"``); ``str`` shows ``value +- stderr``,
    or for an unreliable estimate the value with the warning and no bare error bar.
    """

    value: float
    stderr: float = 0.0
    method: str = "exact"
    num: int | None = None
    reliable: bool = True
    warnings: tuple = ()
    diagnostics: dict = field(default_factory=dict, hash=False)

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
        if not isinstance(self.reliable, bool):
            raise TypeError(f"reliable must be a bool, got {self.reliable!r}")
        if isinstance(self.warnings, str):
            raise TypeError("warnings must be a sequence of sentences, not one string")
        warnings = tuple(self.warnings)
        if not all(isinstance(w, str) and w for w in warnings):
            raise TypeError(f"warnings must be non-empty strings, got {warnings!r}")
        object.__setattr__(self, "warnings", warnings)
        if self.reliable == bool(warnings):
            raise ValueError("an unreliable estimate says why (warnings), and only an "
                             "unreliable one has warnings")
        if self.method == "exact" and not self.reliable:
            raise ValueError("an exact value is always reliable")
        if not isinstance(self.diagnostics, dict):
            raise TypeError(f"diagnostics must be a dict, got {type(self.diagnostics).__name__}")
        object.__setattr__(self, "diagnostics", dict(self.diagnostics))

    @classmethod
    def exact(cls, value) -> "Estimate":
        return cls(float(value))

    @classmethod
    def sampled(cls, value, stderr, num: int, *, warnings=(),
                diagnostics: dict | None = None) -> "Estimate":
        """A sampled estimate; unreliable exactly when ``warnings`` is non-empty."""
        warnings = tuple(warnings)
        return cls(float(value), float(stderr), "sampled", int(num), not warnings, warnings,
                   dict(diagnostics or {}))

    def __float__(self) -> float:
        return self.value

    def __format__(self, spec: str) -> str:
        return format(self.value, spec) if spec else str(self)

    def __str__(self) -> str:
        if self.method == "exact":
            return f"{self.value:.6g} (exact)"
        if not self.reliable:
            return f"{self.value:.6g} ({unreliable_note(self.warnings)}; {self.num} samples)"
        return f"{self.value:.6g} +- {self.stderr:.2g} ({self.num} samples)"

    @classmethod
    def from_dict(cls, data: dict) -> "Estimate":
        """The estimate of :meth:`as_dict`'s plain data (warnings back to a tuple)."""
        return cls(**{**data, "warnings": tuple(data["warnings"])})

    def as_dict(self) -> dict:
        """Plain data (for JSON)."""
        return {"value": self.value, "stderr": self.stderr, "method": self.method,
                "num": self.num, "reliable": self.reliable, "warnings": list(self.warnings),
                "diagnostics": dict(self.diagnostics)}


def unreliable_note(warnings) -> str:
    """``"UNRELIABLE: <the warnings>; no error bar"``: the text that stands for the error
    bar of an unreliable number."""
    return "UNRELIABLE: " + "; ".join(warnings) + "; no error bar"


def format_with_error(value: float, stderr: float, warnings=(), *, spec: str = ".6f",
                      err_spec: str = ".1e", brief: bool = False) -> str:
    """``"value +- stderr"``, or ``"value [UNRELIABLE: ...; no error bar]"`` when there are
    ``warnings`` (``brief``: ``"value [UNRELIABLE, see the warnings; no error bar]"``, for
    output that prints the warnings after): an unreliable number is never printed with a
    bare error bar."""
    if warnings:
        note = ("UNRELIABLE, see the warnings; no error bar" if brief
                else unreliable_note(warnings))
        return f"{value:{spec}} [{note}]"
    return f"{value:{spec}} +- {stderr:{err_spec}}"


def jackknife_error(left_out) -> float:
    """The jackknife standard error from the ``B`` leave-one-block-out values of a
    statistic (a tensor or array): sqrt((B - 1) / B sum (l_b - mean l)^2)."""
    blocks = len(left_out)
    spread = float(((left_out - left_out.mean()) ** 2).sum())
    return math.sqrt((blocks - 1) / blocks * spread)


def log_mean_weight(log_w):
    """ln mean(w) of importance weights given as logs ``(N,)``, with the delta-method
    variance of that logarithm and the ESS fraction:
    ``(log_mean_w, log_variance, ess_fraction, weights)``.

    var(ln mean w) ~ var(w) / (N mean(w)^2) = (N sum p^2 - 1) / N with p the
    self-normalized weights (``weights``, returned for weighted means); the bias of
    ln mean w is -1/2 of that variance (second order); ESS / N = 1 / (N sum p^2).
    """
    import torch

    num = log_w.shape[0]
    weights = torch.softmax(log_w, 0)
    sum_sq = float((weights ** 2).sum())
    log_mean = float(torch.logsumexp(log_w, 0)) - math.log(num)
    return log_mean, max(num * sum_sq - 1.0, 0.0) / num, 1.0 / (num * sum_sq), weights


def importance_ess(log_w) -> float:
    """ESS / N = (sum w)^2 / (N sum w^2) of importance weights given as logs, a 1-D
    tensor (1.0 when all weights are equal)."""
    import torch

    log_w = log_w.double()
    return float(torch.exp(2 * torch.logsumexp(log_w, 0) - torch.logsumexp(2 * log_w, 0))
                 / log_w.numel())


def ess_warnings(ess_fraction: float, num: int, what: str) -> list[str]:
    """The warnings of the importance-sampling rule: ESS / N below
    :data:`MIN_ESS_FRACTION` or fewer than :data:`MIN_ESS` effective samples."""
    out = []
    count = ess_fraction * num
    if not ess_fraction >= MIN_ESS_FRACTION:
        out.append(f"ESS fraction {ess_fraction:.1e} < {MIN_ESS_FRACTION:g}: a few heavy "
                   f"importance weights carry {what}")
    elif not count >= MIN_ESS:
        out.append(f"only {count:.1f} effective samples (< {MIN_ESS:g}) behind {what}")
    return out
