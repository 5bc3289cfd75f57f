"""Conversion between tnborn site tensors ``(D_left, d, D_right)`` and quimb MPS."""

from __future__ import annotations

import numpy as np
import torch


def tensors_to_quimb(tensors: list[torch.Tensor]):
    """A ``quimb.tensor.MatrixProductState`` with quimb's default 'lrp' leg order."""
    import quimb.tensor as qtn

    arrays = []
    last = len(tensors) - 1
    for k, t in enumerate(tensors):
        a = t.detach().cpu().resolve_conj().numpy().transpose(0, 2, 1)  # (l, r, p)
        if k == 0:
            a = a[0]
        elif k == last:
            a = a[:, 0]
        arrays.append(np.ascontiguousarray(a))
    return qtn.MatrixProductState(arrays, shape="lrp")


def tensors_from_quimb(mps) -> list[torch.Tensor]:
    """Site tensors ``(D_left, d, D_right)`` read by index names, whatever quimb's order."""
    import quimb.tensor as qtn

    n = mps.L
    out = []
    for k in range(n):
        t = mps[k]
        left = qtn.bonds(mps[k - 1], t) if k > 0 else ()
        right = qtn.bonds(t, mps[k + 1]) if k < n - 1 else ()
        site = mps.site_ind(k)
        if len(left) > 1 or len(right) > 1 or site not in t.inds:
            raise ValueError(f"site {k} of the quimb MPS is not a simple chain tensor")
        order = tuple(left) + (site,) + tuple(right)
        data = np.asarray(t.transpose(*order).data)
        if k == 0:
            data = data[None]
        if k == n - 1:
            data = data[..., None]
        out.append(torch.from_numpy(np.ascontiguousarray(data)))
    return out
