"""Validated couplings and fields of a pairwise binary model,
E(s) = -sum_{i<j} J_ij s_i s_j - sum_i h_i s_i (shared by the Hamiltonians of
:mod:`tnborn.physics` and the pairwise autoregressive nets of :mod:`tnborn.arnn`)."""

from __future__ import annotations

import torch

from .checks import as_tensor


def as_float_tensor(value, name: str) -> torch.Tensor:
    """``value`` as a float64 CPU tensor (a copy); TypeError for non-real input,
    ValueError for non-finite entries."""
    value = as_tensor(value, f"{name} must be a tensor or array of real numbers, got "
                             f"{type(value).__name__}")
    if value.is_complex():
        raise TypeError(f"{name} must be real, got dtype {value.dtype}")
    if value.dtype == torch.bool:
        raise TypeError(f"{name} must hold real numbers, got dtype torch.bool")
    value = value.detach().to(dtype=torch.float64, device="cpu").clone()
    if not torch.isfinite(value).all():
        raise ValueError(f"{name} contains non-finite values (NaN or inf)")
    return value


def check_couplings(couplings, fields=None) -> tuple[torch.Tensor, torch.Tensor]:
    """``(J, h)``: a symmetric ``(n, n)`` float64 coupling matrix with zero diagonal and an
    ``(n,)`` field vector (zeros when None). ValueError for a matrix that is not square,
    not symmetric (to 1e-12) or has a nonzero diagonal, or fields of the wrong shape."""
    couplings = as_float_tensor(couplings, "couplings")
    if couplings.ndim != 2 or couplings.shape[0] != couplings.shape[1]:
        raise ValueError(f"couplings must be a square (n, n) matrix, "
                         f"got shape {tuple(couplings.shape)}")
    n = couplings.shape[0]
    if n < 1:
        raise ValueError("couplings must be at least 1 x 1")
    asym = (couplings - couplings.T).abs().max().item()
    if asym > 1e-12:
        raise ValueError(f"couplings must be symmetric (max |J - J^T| = {asym:.3g})")
    diag = couplings.diagonal().abs().max().item()
    if diag != 0:
        raise ValueError(f"couplings must have a zero diagonal (max |J_ii| = {diag:.3g})")
    couplings = 0.5 * (couplings + couplings.T)
    if fields is None:
        fields = torch.zeros(n, dtype=torch.float64)
    else:
        fields = as_float_tensor(fields, "fields")
        if fields.shape != (n,):
            raise ValueError(f"fields must have shape ({n},), got {tuple(fields.shape)}")
    return couplings, fields


def target_couplings(hamiltonian, described: str) -> tuple[torch.Tensor, torch.Tensor]:
    """The dense ``(couplings, fields)`` of a pairwise Hamiltonian (its ``couplings`` and
    ``fields`` attributes) as float64 CPU tensors, for a model that embeds one to compare
    with; ValueError (starting with ``described``, what the model embeds) for a target
    that has none."""
    couplings = getattr(hamiltonian, "couplings", None)
    fields = getattr(hamiltonian, "fields", None)
    if not isinstance(couplings, torch.Tensor) or not isinstance(fields, torch.Tensor):
        raise ValueError(f"{described}; {type(hamiltonian).__name__} is not a pairwise "
                         "spin Hamiltonian with dense couplings and fields")
    return couplings.double().cpu(), fields.double().cpu()
