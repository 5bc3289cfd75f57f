"""Argument checks shared across subpackages (clear errors instead of silent numbers)."""

from __future__ import annotations

import math
import numbers

import torch


def as_tensor(value, message: str) -> torch.Tensor:
    """``value`` itself if it is a tensor, else ``torch.as_tensor(value)``; TypeError
    with ``message`` when torch cannot read it as one."""
    if isinstance(value, torch.Tensor):
        return value
    try:
        return torch.as_tensor(value)
    except Exception:
        raise TypeError(message) from None


def check_int(value, name: str, minimum: int) -> int:
    """An integer >= ``minimum`` (ValueError otherwise)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value!r}")
    if value < minimum:
        raise ValueError(f"{name} must be an integer >= {minimum}, got {value}")
    return int(value)


def check_seed(seed) -> int:
    """An integer seed (TypeError otherwise)."""
    if isinstance(seed, bool) or not isinstance(seed, numbers.Integral):
        raise TypeError(f"seed must be an integer, got {seed!r}")
    return int(seed)


def check_real(value, name: str) -> float:
    """A finite real number (a Python number or a one-element real tensor), as a float."""
    if isinstance(value, torch.Tensor):
        if value.numel() != 1 or value.is_complex():
            raise TypeError(f"{name} must be a real number, got a tensor of shape "
                            f"{tuple(value.shape)} and dtype {value.dtype}")
        value = value.item()
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {value!r}")
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"{name} must be finite, got {value}")
    return value


def check_positive(value, name: str) -> float:
    """A finite real number > 0, as a float."""
    value = check_real(value, name)
    if value <= 0:
        raise ValueError(f"{name} must be > 0, got {value}")
    return value


def check_beta(beta) -> float:
    """An inverse temperature: a finite real number > 0."""
    return check_positive(beta, "beta")


def check_count(value, name: str) -> int:
    """A positive integer (TypeError for a non-integer, ValueError for one below 1)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        raise TypeError(f"{name} must be a positive integer, got {value!r}")
    if value <= 0:
        raise ValueError(f"{name} must be a positive integer, got {value}")
    return int(value)


def check_generator(generator, device) -> None:
    """None, or a torch.Generator on the device type of ``device``."""
    if generator is None:
        return
    if not isinstance(generator, torch.Generator):
        raise TypeError(f"generator must be a torch.Generator, got {type(generator).__name__}")
    if torch.device(generator.device).type != torch.device(device).type:
        raise ValueError(f"generator is on {generator.device} but the model is on {device}")


def check_bool(value, name: str) -> bool:
    """True or False (TypeError otherwise)."""
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}")
    return value


def check_local_dim(value) -> int:
    """Values per site: an integer >= 2 (TypeError for a non-integer)."""
    value = check_count(value, "local_dim")
    if value < 2:
        raise ValueError(f"local_dim must be >= 2, got {value}")
    return value


def check_increasing(values, name: str, *, minimum: int = 1,
                     allow_zero: bool = False) -> list[float]:
    """Finite, strictly increasing numbers > 0 (>= 0 with ``allow_zero``), at least
    ``minimum`` of them, as floats: TypeError / ValueError naming ``name``."""
    if isinstance(values, (str, bytes)):
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}")
    try:
        out = [float(v) for v in values]
    except (TypeError, ValueError):
        raise TypeError(f"{name} must be a sequence of numbers, got {values!r}") from None
    if len(out) < minimum:
        raise ValueError(f"need at least {minimum} {name}, got {len(out)}")
    if not all(math.isfinite(v) and (v >= 0 if allow_zero else v > 0) for v in out):
        raise ValueError(f"{name} must be finite and {'>=' if allow_zero else '>'} 0, "
                         f"got {out}")
    if any(b <= a for a, b in zip(out, out[1:])):
        raise ValueError(f"{name} must be strictly increasing, got {out}")
    return out
