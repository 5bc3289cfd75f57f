"""Chain contractions of an MPS with configurations and with itself.

All chain contractions carry a log scale: the running vector is normalized at every
site and the log of its norm is accumulated, so amplitudes of 784-site states
(|psi|^2 far below 1e-300) stay finite in log space.
"""

from __future__ import annotations

import torch

from ..backend import contract, tiny


def log_abs_amplitudes(tensors: list[torch.Tensor], x: torch.Tensor) -> torch.Tensor:
    """ln |psi(x)| for a batch of configurations.

    ``x``: LongTensor ``(B, n)``. Per site the ``(B, D)`` left vectors multiply the site
    tensor viewed as ``(D, d*D')`` in one matmul, then the sampled slice is selected::

        v (B, D) @ A (D, d*D') -> (B, d, D') -> pick x_k -> normalize, add ln|v|
    """
    batch = x.shape[0]
    rows = torch.arange(batch, device=x.device)
    first = tensors[0]
    v = first[0, x[:, 0], :]
    log_scale = torch.zeros(batch, dtype=v.real.dtype, device=v.device)
    floor = tiny(v.dtype)
    for k in range(len(tensors)):
        if k:
            a = tensors[k]
            dl, d, dr = a.shape
            v = (v @ a.reshape(dl, d * dr)).reshape(batch, d, dr)[rows, x[:, k]]
        norm = torch.linalg.vector_norm(v, dim=1)
        log_scale += torch.log(norm)
        v = v / norm.clamp_min(floor)[:, None]
    return log_scale


def log_norm(tensors: list[torch.Tensor]) -> torch.Tensor:
    """ln Z = ln sum_x |psi(x)|^2 by the transfer-matrix contraction (any gauge), a 0-d
    real tensor, differentiable with respect to the tensors (-inf for a zero state).

    ::

        E' = sum_p  A[p]^H E A[p]        (E: D x D, normalized every site)
    """
    env = None
    log_z = torch.zeros((), dtype=tensors[0].real.dtype, device=tensors[0].device)
    for a in tensors:
        if env is None:
            env = contract("lpr,lps->rs", a.conj(), a)
        else:
            env = contract("lpr,lm,mps->rs", a.conj(), env, a)
        scale = torch.linalg.norm(env)
        if scale == 0:
            return torch.full_like(log_z, float("-inf"))
        env = env / scale
        log_z = log_z + torch.log(scale)
    return log_z + torch.log(env.reshape(()).real)
