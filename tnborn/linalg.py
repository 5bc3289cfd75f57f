"""Small linear-algebra kernels shared by the tensor-network models."""

from __future__ import annotations

import torch

# Below these sizes a decomposition of a CUDA matrix is computed on the host. cuSOLVER's
# small SVDs cost several times a CPU LAPACK call plus the copies (a 200 x 200 merged MPS
# tensor: gesvd 22.8 ms, gesvdj 8.8 ms, LAPACK 8 ms). Its eigh of a Gram matrix beats the
# host's one thread at 200 x 200 (1.80 against 3.38 ms on one H200 machine) and loses at
# 20 x 20 (0.27 against 0.06 ms); the limit between, 128, is not measured
# (benchmarks/mps_sweep_gpu.py, docs/benchmarks.md).
HOST_SVD_MAX = 1024
HOST_EIGH_MAX = 128


def truncation_rank(s: torch.Tensor, max_bond: int, cutoff: float) -> int:
    """Number of singular values kept: ``s_i >= cutoff * s_max``, at most ``max_bond``,
    at least 1. ``s`` is sorted in decreasing order."""
    if cutoff == 0 or not s.numel():
        return max(1, min(s.numel(), max_bond))
    return max(1, min(int((s >= cutoff * s[0]).sum()), max_bond))


def truncated_svd(matrix: torch.Tensor, max_bond: int, cutoff: float):
    """SVD of a 2-D ``matrix`` truncated by :func:`truncation_rank`.

    Returns ``u (m, r)``, ``s (r,)`` (real, decreasing), ``vh (r, n)`` on the device of
    ``matrix`` (small CUDA matrices are decomposed on the host, see ``HOST_SVD_MAX``).
    """
    on_host = matrix.device.type == "cuda" and max(matrix.shape) <= HOST_SVD_MAX
    u, s, vh = _svd(matrix.cpu() if on_host else matrix)
    r = truncation_rank(s, max_bond, cutoff)
    u, s, vh = u[:, :r], s[:r], vh[:r]
    if on_host:
        u, s, vh = (t.to(matrix.device, non_blocking=True) for t in (u, s, vh))
    return u, s, vh


def truncated_factors(matrix: torch.Tensor, max_bond: int, cutoff: float, isometry: str):
    """The truncated SVD of a 2-D ``matrix`` ``(m, n)`` as two factors, one an isometry::

        matrix ~ left @ right,   isometry="left":  left = u (m, r),  right = s vh (r, n)
                                 isometry="right": left = u s (m, r), right = vh (r, n)

    with the rank r of :func:`truncated_svd`; also returns the kept singular values s.
    When the isometry's side is the shorter one the factors come from the eigenvectors of
    the Gram matrix (M M^H for "left", M^H M for "right"; ``torch.linalg.eigh``, about
    half the time of an SVD): the isometry is orthonormal to rounding and the other
    factor is the exact product with ``matrix`` (no division by s), so only the
    singular values below ~1e-8 s_max lose relative accuracy (s_i^2 carries an error of
    ~eps s_max^2). Otherwise, or if eigh fails, the factors come from the SVD.
    """
    if isometry not in ("left", "right"):
        raise ValueError(f"isometry must be 'left' or 'right', got {isometry!r}")
    side, other = matrix.shape if isometry == "left" else matrix.shape[::-1]
    factors = _gram_factors(matrix, max_bond, cutoff, isometry) if side <= other else None
    if factors is not None:
        return factors
    u, s, vh = truncated_svd(matrix, max_bond, cutoff)
    return (u, s[:, None] * vh, s) if isometry == "left" else (u * s, vh, s)


def _gram_factors(matrix: torch.Tensor, max_bond: int, cutoff: float, isometry: str):
    """:func:`truncated_factors` from eigh of the Gram matrix (its side: the shorter of
    ``matrix``, on the host up to ``HOST_EIGH_MAX``); None if eigh fails."""
    on_host = matrix.device.type == "cuda" and min(matrix.shape) <= HOST_EIGH_MAX
    work = matrix.cpu() if on_host else matrix
    gram = work @ work.mH if isometry == "left" else work.mH @ work
    try:
        values, vectors = torch.linalg.eigh(gram)
    except torch.linalg.LinAlgError:
        return None
    s = values.flip(0).clamp_min(0).sqrt()
    r = truncation_rank(s, max_bond, cutoff)
    kept = vectors.flip(1)[:, :r]
    if on_host:
        kept = kept.to(matrix.device, non_blocking=True)
        s = s.to(matrix.device, non_blocking=True)
    if isometry == "left":
        return kept, kept.mH @ matrix, s[:r]
    return matrix @ kept, kept.mH, s[:r]


def _svd(matrix: torch.Tensor):
    """Thin SVD. LAPACK's divide-and-conquer driver (torch's choice on the CPU) can fail
    to converge on an ill-conditioned matrix (seen once in 95 sweeps of a D = 100 MNIST
    MPS); the QR-iteration driver (gesvd) is slower but robust, so it takes over then."""
    try:
        return torch.linalg.svd(matrix, full_matrices=False)
    except torch.linalg.LinAlgError:
        import scipy.linalg

        factors = scipy.linalg.svd(matrix.detach().cpu().numpy(), full_matrices=False,
                                   lapack_driver="gesvd")
        return tuple(torch.from_numpy(f).to(matrix.device) for f in factors)


def spectrum_entropy(weights: torch.Tensor, alpha: float = 1.0) -> torch.Tensor:
    """Entropy (nats) of the probability vectors in the last axis of ``weights``.

    ``weights`` are non-negative (for a Schmidt spectrum, ``s**2``); they are normalized
    here. ``alpha=1`` gives von Neumann / Shannon ``-sum p ln p``, otherwise Renyi
    ``ln(sum p**alpha) / (1 - alpha)``; ``alpha=inf`` gives ``-ln max p``.
    """
    p = weights / weights.sum(-1, keepdim=True)
    if alpha == 1:
        return -torch.special.xlogy(p, p).sum(-1)
    if alpha == float("inf"):
        return -torch.log(p.max(-1).values)
    return torch.log((p ** alpha).sum(-1)) / (1.0 - alpha)


def check_alpha(alpha) -> float:
    """Validate a Renyi index: a positive number (``inf`` allowed)."""
    try:
        alpha = float(alpha)
    except (TypeError, ValueError):
        raise TypeError(f"alpha must be a positive number, got {alpha!r}") from None
    if not alpha > 0:
        raise ValueError(f"alpha must be positive, got {alpha}")
    return alpha
