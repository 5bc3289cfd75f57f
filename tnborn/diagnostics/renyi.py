"""Renyi mutual information of the classical distribution across a cut.

I_alpha(A:B) = S_alpha(A) + S_alpha(B) - S_alpha(AB),  S_alpha(P) = ln(sum P^alpha) / (1 - alpha),

the Renyi analogue of I(A:B) (alpha = 1 gives the Shannon mutual information). For
alpha = 2, sum P^2 = E_P[P(x)] is the collision probability, cheap to estimate from
samples when the marginals are exact, as for Born machines.

Sampled estimate: S_alpha(P) = ln E_P[P(x)^(alpha-1)] / (1 - alpha) for each of P(x_A),
P(x_B), P(x), the three means over the same samples, the error by the delta method. Each
mean is an importance-weighted sum with weights P^(alpha-1); when the smallest of their
effective sample size fractions (the ``ess`` of ``diagnostics``) is below
:data:`tnborn.estimate.MIN_ESS_FRACTION` or rests on fewer than
:data:`tnborn.estimate.MIN_ESS` samples, the estimate is unreliable (``reliable=False``,
with a warning). Unlike I(A:B), the Renyi MI of a classical distribution may be negative:
its sign is no diagnostic.
"""

from __future__ import annotations

import math

import torch

from ..estimate import Estimate, ess_warnings, importance_ess
from ..linalg import check_alpha
from .mutual_information import (_check_model, _check_options, _log_probs, _mean_and_error,
                                 _side_log_probs, cut_mask)
from .tables import log_prob_table, split_table


def _renyi_entropy(log_p: torch.Tensor, alpha: float) -> float:
    """S_alpha of a log table (any shape, all entries), nats."""
    log_p = log_p.reshape(-1)
    if alpha == 1.0:
        p = torch.exp(log_p)
        return float(-(torch.where(p > 0, p * log_p, torch.zeros_like(p))).sum())
    if math.isinf(alpha):
        return float(-log_p.max())
    return float(torch.logsumexp(alpha * log_p, 0)) / (1.0 - alpha)


def renyi_mutual_information(model, cut, alpha: float = 2.0, *, num: int | None = None,
                             generator: torch.Generator | None = None):
    """Renyi-``alpha`` mutual information (nats) between A (``cut``: int k for sites < k,
    or a set of sites) and the other sites.

    Returns a :class:`tnborn.Estimate`. ``num=None``: exact by enumeration. ``num=N``:
    estimate from N samples, its standard error by the delta method; needs exact
    marginals on both sides (``marginal_is_exact``, as for Born machines) and a finite
    ``alpha != 1`` (use :func:`mutual_information` for 1); ``reliable`` / ``warnings`` /
    ``diagnostics`` as in the module docstring.
    """
    _check_model(model)
    alpha = check_alpha(alpha)
    mask = cut_mask(model, cut)
    num, _ = _check_options(num, 1, generator, model)
    if num is None:
        table = split_table(log_prob_table(model), model.n_sites, model.local_dim, mask)
        value = (_renyi_entropy(torch.logsumexp(table, 1), alpha)
                 + _renyi_entropy(torch.logsumexp(table, 0), alpha)
                 - _renyi_entropy(table, alpha))
        return Estimate.exact(value)
    if alpha == 1.0 or math.isinf(alpha):
        raise ValueError(f"a sampled Renyi mutual information needs a finite alpha != 1, "
                         f"got {alpha}")
    if not (model.marginal_is_exact(mask) and model.marginal_is_exact(~mask)):
        raise ValueError("a sampled Renyi mutual information needs exact marginals on "
                         f"both sides of the cut (as a Born machine has), which "
                         f"{type(model).__name__} has not")
    generator = model.random_stream(generator)
    with torch.no_grad():
        x = model.sample(num, generator=generator)
        log_a, log_b, _ = _side_log_probs(model, x, mask, 1, generator)
        logs = torch.stack([log_a, log_b, _log_probs(model, x)])
    y = (alpha - 1.0) * logs.double()  # ln of P^(alpha-1) per sample, (3, num)
    log_means = torch.logsumexp(y, 1) - math.log(num)  # ln E[P^(alpha-1)] = ln sum P^alpha
    signs = torch.tensor([1.0, 1.0, -1.0], dtype=torch.float64)
    value = float((signs * log_means).sum()) / (1.0 - alpha)
    influence = (signs[:, None] * torch.exp(y - log_means[:, None])).sum(0)
    error = _mean_and_error(influence)[1] / abs(1.0 - alpha)
    ess = min(importance_ess(row) for row in y)
    return Estimate.sampled(value, error, num,
                            warnings=ess_warnings(ess, num, "the sampled Renyi MI"),
                            diagnostics={"ess": ess})
