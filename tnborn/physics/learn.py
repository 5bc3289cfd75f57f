"""Learning a Hamiltonian from a trained model: H = -T ln p up to a constant.

If the data follow p(x) = exp(-beta E(x)) / Z with a pairwise
E(s) = -sum_{i<j} J_ij s_i s_j - sum_i h_i s_i, then

    ln p(x) = sum_{i<j} (beta J_ij) s_i s_j + sum_i (beta h_i) s_i - ln Z,

so a least-squares fit of the model's ln p over configurations (by default the model's
own samples, which weight the fit where the model is trained) recovers beta J and beta h.
"""

from __future__ import annotations

import torch

from ..base import GenerativeModel
from ..checks import check_beta, check_count
from ..supports import Discrete


def learn_hamiltonian(model: GenerativeModel, *, beta: float | None = None, num: int = 20_000,
                      configurations=None, batch_size: int = 10_000,
                      generator: torch.Generator | None = None) -> dict:
    """Fit pairwise couplings and fields to ln p of a binary ``model``.

    Parameters
    ----------
    beta : if given, return J and h (the fit divided by beta); otherwise the
        dimensionless beta J and beta h.
    num : number of model samples to fit on (ignored when ``configurations`` is given).
    configurations : 0/1 configurations ``(N, n)`` to fit on instead of model samples.

    Returns a dict: ``couplings`` (n, n) symmetric with zero diagonal, ``fields`` (n,),
    ``constant`` (an estimate of -ln Z), ``residual_rms`` (nats) of the fit.
    """
    if model.support != Discrete(2):
        raise ValueError(f"learn_hamiltonian needs a binary model, {type(model).__name__} "
                         f"is on {model.support}")
    if beta is not None:
        beta = check_beta(beta)
    batch_size = check_count(batch_size, "batch_size")
    n = model.n_sites
    with torch.no_grad():
        if configurations is None:
            num = check_count(num, "num")
            x = torch.cat([model.sample(min(batch_size, num - first), generator=generator)
                           for first in range(0, num, batch_size)])
        else:
            x = model.validate_configurations(configurations, "configurations").reshape(-1, n)
        log_p = torch.cat([model.log_prob(x[i:i + batch_size], validate=False).to(torch.float64)
                           for i in range(0, x.shape[0], batch_size)])
    rows, cols = torch.triu_indices(n, n, offset=1, device=x.device)
    spins = (2 * x - 1).to(torch.float64)
    design = torch.cat([spins[:, rows] * spins[:, cols], spins,
                        torch.ones(x.shape[0], 1, dtype=torch.float64, device=x.device)], 1)
    if design.shape[0] < design.shape[1]:
        raise ValueError(f"need at least {design.shape[1]} configurations to fit "
                         f"{design.shape[1]} coefficients, got {design.shape[0]}")
    solution = torch.linalg.lstsq(design, log_p[:, None]).solution[:, 0]
    residual = log_p - design @ solution
    pairs = rows.shape[0]
    couplings = torch.zeros(n, n, dtype=torch.float64, device=x.device)
    couplings[rows, cols] = solution[:pairs]
    couplings = couplings + couplings.T
    fields = solution[pairs:pairs + n]
    scale = 1.0 / beta if beta is not None else 1.0
    return {"couplings": couplings * scale, "fields": fields * scale,
            "constant": float(solution[-1]),
            "residual_rms": float(torch.sqrt((residual ** 2).mean())),
            "num": x.shape[0], "dimensionless": beta is None}
