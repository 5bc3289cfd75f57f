"""Actions learned from data (the talk "Building interactions with deep autoregressive
networks", and arXiv:2405.10493): a model fitted to paths gives S_theta(x) = -ln p_theta(x)
(the true action up to a constant if the fit is exact); compare it with the true action,
and predict the action at a third beta from two learned ones.

With S = K / beta + beta U at fixed n_tau (:class:`tnborn.physics.DoubleWellPath`), two
actions at beta_1 != beta_2 fix K and U, so at beta_3::

    S_3 = [beta_1 (beta_3^2 - beta_2^2) S_1 + beta_2 (beta_1^2 - beta_3^2) S_2]
          / [beta_3 (beta_1^2 - beta_2^2)]        (+ a constant)

(check: beta_1 S_1 = K + beta_1^2 U, beta_2 S_2 = K + beta_2^2 U).
"""

from __future__ import annotations

import torch

from ..base import GenerativeModel
from ..checks import as_tensor, check_beta
from ..supports import Real

__all__ = ["learned_action", "compare_actions", "interpolate_action"]


def learned_action(model: GenerativeModel):
    """S_theta(x) = -ln p_theta(x) of a fitted model, a callable on paths ``(..., n)``
    (differentiable in x, e.g. for HMC)."""
    if not isinstance(model, GenerativeModel):
        raise TypeError(f"model must be a tnborn GenerativeModel, got {type(model).__name__}")

    def action(x) -> torch.Tensor:
        return -model.log_prob(x).to(torch.float64)
    return action


def compare_actions(learned, true, paths) -> dict:
    """Least squares learned(x) = slope * true(x) + offset over ``paths`` ``(N, n)``.

    ``learned`` and ``true`` are callables on paths (e.g. :func:`learned_action` and
    ``DoubleWellPath.action``). Returns ``slope``, ``offset``, ``r2`` (the coefficient of
    determination of that line) and ``num``."""
    x = as_tensor(paths, "paths must be a tensor or array")
    if x.ndim != 2 or x.shape[0] < 3:
        raise ValueError(f"paths must have shape (N, n) with N >= 3, got {tuple(x.shape)}")
    x = Real().validate(x, x.shape[1], name="paths")
    with torch.no_grad():
        s_true = true(x).to(torch.float64).reshape(-1)
        s_learned = learned(x).to(torch.float64).reshape(-1)
    design = torch.stack([s_true, torch.ones_like(s_true)], 1)
    (slope, offset) = torch.linalg.lstsq(design, s_learned[:, None]).solution[:, 0].tolist()
    residual = s_learned - slope * s_true - offset
    spread = ((s_learned - s_learned.mean()) ** 2).sum()
    r2 = float(1 - (residual ** 2).sum() / spread) if float(spread) > 0 else float("nan")
    return {"slope": slope, "offset": offset, "r2": r2, "num": int(x.shape[0])}


def interpolate_action(action_1, beta_1: float, action_2, beta_2: float, beta_3: float):
    """S_3 of the module docstring (without the constant), a callable on paths."""
    beta_1, beta_2, beta_3 = (check_beta(b) for b in (beta_1, beta_2, beta_3))
    if beta_1 == beta_2:
        raise ValueError(f"the interpolation needs two different betas, got {beta_1} twice")
    denominator = beta_3 * (beta_1 ** 2 - beta_2 ** 2)
    c_1 = beta_1 * (beta_3 ** 2 - beta_2 ** 2) / denominator
    c_2 = beta_2 * (beta_1 ** 2 - beta_3 ** 2) / denominator

    def action(x) -> torch.Tensor:
        return c_1 * action_1(x) + c_2 * action_2(x)
    return action
