"""Mixed-canonical form of an open-boundary MPS.

Site tensors have legs (left bond, physical, right bond)::

        p
        |
    l --A-- r        A: (D_left, d, D_right),  D_left of site 0 = D_right of site n-1 = 1

Left-isometric:  sum_{l,p} conj(A[l,p,r]) A[l,p,r'] = delta(r, r')
Right-isometric: sum_{p,r} A[l,p,r] conj(A[l',p,r]) = delta(l, l')

With the centre at site c, sites < c are left-isometric and sites > c right-isometric,
so Z = ||A_c||^2. Moving the centre is a QR decomposition; functions here act in place
on a Python list of tensors.
"""

from __future__ import annotations

import math

import torch

from ..backend import contract


def move_center_right(tensors: list[torch.Tensor], k: int) -> torch.Tensor:
    """Make site ``k`` left-isometric (QR) and absorb R into site ``k+1``.

    Returns the R factor's Frobenius norm before it is absorbed (the norm stays in the
    state; callers that normalize divide site ``k+1`` by it).
    """
    a = tensors[k]
    dl, d, dr = a.shape
    q, r = torch.linalg.qr(a.reshape(dl * d, dr))
    tensors[k] = q.reshape(dl, d, -1)
    tensors[k + 1] = contract("ab,bpc->apc", r, tensors[k + 1])
    return torch.linalg.norm(r)


def move_center_left(tensors: list[torch.Tensor], k: int) -> torch.Tensor:
    """Make site ``k`` right-isometric (QR of its conjugate transpose), absorb into ``k-1``."""
    a = tensors[k]
    dl, d, dr = a.shape
    q, r = torch.linalg.qr(a.reshape(dl, d * dr).mH)
    tensors[k] = q.mH.reshape(-1, d, dr)
    tensors[k - 1] = contract("apb,bc->apc", tensors[k - 1], r.mH)
    return torch.linalg.norm(r)


def shift_center(tensors: list[torch.Tensor], start: int, stop: int) -> None:
    """Move the orthogonality centre of a canonical MPS from ``start`` to ``stop``."""
    for k in range(start, stop):
        move_center_right(tensors, k)
    for k in range(start, stop, -1):
        move_center_left(tensors, k)


def canonicalize_from_scratch(tensors: list[torch.Tensor], center: int) -> float:
    """Bring arbitrary tensors into mixed-canonical form at ``center`` and normalize.

    Every QR factor is rescaled to unit norm as it is absorbed, so no intermediate
    under- or overflows however many sites there are. Returns ln Z of the input state.
    """
    log_z = 0.0
    n = len(tensors)
    for k in range(center):
        log_z += _absorb_norm(tensors, k + 1, move_center_right(tensors, k))
    for k in range(n - 1, center, -1):
        log_z += _absorb_norm(tensors, k - 1, move_center_left(tensors, k))
    return log_z + _absorb_norm(tensors, center, torch.linalg.norm(tensors[center]))


def _absorb_norm(tensors: list[torch.Tensor], k: int, norm: torch.Tensor) -> float:
    """Divide site ``k`` by ``norm``; return ln(norm^2). Raise ValueError if the norm is
    zero or not finite (the state cannot be normalized)."""
    value = float(norm)
    if not (value > 0 and math.isfinite(value)):
        raise ValueError("the MPS cannot be normalized: its norm is zero or not finite")
    tensors[k] = tensors[k] / norm
    return 2.0 * math.log(value)


def isometry_error(tensors: list[torch.Tensor], center: int) -> float:
    """Largest entry of |A^H A - I| over the sites left of ``center`` (left isometries)
    and of |A A^H - I| right of it (right isometries)."""
    worst = 0.0
    for k, a in enumerate(tensors):
        if k == center:
            continue
        dl, d, dr = a.shape
        m = a.reshape(dl * d, dr) if k < center else a.reshape(dl, d * dr).mH
        gram = m.mH @ m
        eye = torch.eye(gram.shape[0], dtype=gram.dtype, device=gram.device)
        worst = max(worst, float((gram - eye).abs().max()))
    return worst
