"""Device/dtype defaults and cached einsum expressions.

Every contraction in tnborn is an einsum on torch tensors, so the same code runs on CPU
and GPU. Repeated contractions with the same shapes reuse one
``opt_einsum.contract_expression`` (path search is done once per shape signature).
"""

from __future__ import annotations

import functools

import opt_einsum
import torch

from .checks import check_seed

DEFAULT_DTYPE = torch.float64

_SUPPORTED_DTYPES = (torch.float32, torch.float64, torch.complex64, torch.complex128)


def resolve(dtype=None, device=None) -> tuple[torch.dtype, torch.device]:
    """Validate a (dtype, device) pair; defaults are float64 on the CPU. The dtype may
    also be given by name ("float64" or "torch.float64")."""
    dtype = DEFAULT_DTYPE if dtype is None else dtype
    if isinstance(dtype, str):
        dtype = getattr(torch, dtype.removeprefix("torch."), dtype)
    if dtype not in _SUPPORTED_DTYPES:
        raise ValueError(f"dtype must be one of {[str(d) for d in _SUPPORTED_DTYPES]}, "
                         f"got {dtype}")
    return dtype, check_device(device)


def check_device(device=None) -> torch.device:
    """``device`` (None: the CPU) as a torch.device that this machine has; ValueError for
    a malformed name or a device that is not available (no CUDA, index too large)."""
    try:
        device = torch.device("cpu" if device is None else device)
    except (RuntimeError, TypeError) as exc:
        raise ValueError(f"invalid device {device!r}: {exc}") from None
    if device.type == "cuda":
        if not torch.cuda.is_available():
            raise ValueError(f"device {str(device)!r} is not available: this torch build "
                             "or machine has no CUDA GPU (torch.cuda.is_available() is False)")
        if device.index is not None and device.index >= torch.cuda.device_count():
            raise ValueError(f"device {str(device)!r} is not available: there are "
                             f"{torch.cuda.device_count()} CUDA devices")
    elif device.type == "mps" and not torch.backends.mps.is_available():
        raise ValueError(f"device {str(device)!r} is not available on this machine")
    elif device.type not in ("cpu", "cuda", "mps"):
        raise ValueError(f"device {str(device)!r} is not supported (use cpu or cuda)")
    return device


def resolve_real(dtype=None, device=None) -> tuple[torch.dtype, torch.device]:
    """:func:`resolve` for models that need a real floating dtype (float32 / float64)."""
    dtype, device = resolve(dtype, device)
    if dtype.is_complex:
        raise ValueError(f"dtype must be torch.float32 or torch.float64, got {dtype}")
    return dtype, device


def seeded_generator(seed=None) -> torch.Generator:
    """A CPU generator for initial parameters. ``seed=None`` draws the seed from torch's
    global generator, so ``torch.manual_seed`` still makes the result reproducible."""
    seed = int(torch.randint(0, 2 ** 62, (1,))) if seed is None else check_seed(seed)
    return torch.Generator().manual_seed(seed)


def tiny(dtype: torch.dtype) -> float:
    """Smallest positive normal number of the real type of ``dtype``."""
    return torch.finfo(dtype).tiny


def draw_categorical(weights: torch.Tensor, uniform: torch.Tensor) -> torch.Tensor:
    """Categorical draw per row of non-negative ``weights (B, m)`` from ``uniform (B, 1)``
    in [0, 1); returns LongTensor ``(B,)``. Rows need not be normalized.

    The draw is the value v with P(< v) <= u P < P(<= v): a value of weight zero is never
    drawn (not even at u = 0). A row of zeros draws the last value (callers that allow
    such rows check the weight of the drawn value)."""
    cumulative = weights.cumsum(-1)
    drawn = torch.searchsorted(cumulative, uniform * cumulative[:, -1:], right=True)
    return drawn.clamp_(max=weights.shape[-1] - 1).view(-1)


def real_dtype(dtype: torch.dtype) -> torch.dtype:
    """The real dtype matching ``dtype`` (complex128 -> float64)."""
    return torch.empty((), dtype=dtype).real.dtype


@functools.lru_cache(maxsize=512)
def _expression(equation: str, shapes: tuple[tuple[int, ...], ...]):
    return opt_einsum.contract_expression(equation, *shapes)


def contract(equation: str, *tensors: torch.Tensor) -> torch.Tensor:
    """``einsum(equation, *tensors)`` through a cached opt_einsum expression."""
    shapes = tuple(tuple(t.shape) for t in tensors)
    return _expression(equation, shapes)(*tensors, backend="torch")
