"""Mutual information between two groups of continuous variables from samples, by the
Gaussian (second-moment) estimator::

    I_G(A:B) = (ln det S_AA + ln det S_BB - ln det S) / 2

with S the (optionally importance-weighted) covariance of the samples. It is the exact
mutual information of a Gaussian and, for any distribution, the MI of the Gaussian with
the same covariance: it sees linear dependence only, and is neither an upper nor a lower
bound in general. Its standard error is the jackknife over ``blocks`` contiguous blocks
of samples. Used on the latent variables of a NeuralRG, scale against scale.
"""

from __future__ import annotations

import torch

from ..base import site_mask
from ..checks import as_tensor, check_count
from ..estimate import Estimate, jackknife_error


def _covariance(x: torch.Tensor, w: torch.Tensor) -> torch.Tensor:
    w = w / w.sum()
    centred = x - w @ x
    return (centred * w[:, None]).T @ centred


def _information(x: torch.Tensor, w: torch.Tensor, part: torch.Tensor) -> float:
    s = _covariance(x, w)
    logdet = lambda m: torch.linalg.slogdet(m)[1]  # noqa: E731
    return float(0.5 * (logdet(s[part][:, part]) + logdet(s[~part][:, ~part]) - logdet(s)))


def gaussian_mutual_information(samples, part, *, weights=None, blocks: int = 20) -> Estimate:
    """I_G(A:B) in nats (module docstring) of ``samples`` ``(N, n)`` between the columns
    in ``part`` (a bool mask ``(n,)`` or a list of column indices: A) and the others (B).

    ``weights`` ``(N,)``: non-negative importance weights (self-normalized), e.g. to
    turn a flow's samples into target averages. Returns a sampled
    :class:`tnborn.Estimate` with the jackknife standard error over ``blocks`` blocks.
    """
    x = as_tensor(samples, "samples must be a tensor or array").to(torch.float64)
    if x.ndim != 2 or x.shape[1] < 2:
        raise ValueError(f"samples must have shape (N, n) with n >= 2, got {tuple(x.shape)}")
    if not bool(torch.isfinite(x).all()):
        raise ValueError("samples contain non-finite values")
    num, n = x.shape
    blocks = check_count(blocks, "blocks")
    if num < max(2 * blocks, n + 2):
        raise ValueError(f"{num} samples are too few for a covariance of {n} variables in "
                         f"{blocks} jackknife blocks")
    mask = site_mask(part, n)
    if bool(mask.all()):
        raise ValueError("part must hold some but not all of the variables")
    w = torch.ones(num, dtype=torch.float64) if weights is None else \
        as_tensor(weights, "weights must be a tensor or array").to(torch.float64)
    if w.shape != (num,) or not bool(torch.isfinite(w).all()) or bool((w < 0).any()) \
            or float(w.sum()) <= 0:
        raise ValueError(f"weights must be {num} finite non-negative numbers, not all zero")
    value = _information(x, w, mask)
    edges = torch.linspace(0, num, blocks + 1).long()
    leave_out = []
    for b in range(blocks):
        keep = torch.ones(num, dtype=torch.bool)
        keep[edges[b]:edges[b + 1]] = False
        leave_out.append(_information(x[keep], w[keep], mask))
    leave_out = torch.tensor(leave_out, dtype=torch.float64)
    stderr = jackknife_error(leave_out)
    return Estimate(value, stderr, method="sampled", num=num,
                    diagnostics={"estimator": "gaussian", "blocks": blocks})
