"""Scores of a trained model beyond its test NLL, each against a baseline or an exact
reference: the conditional NLL of hidden pixels (inpainting) and the exact KL divergence
from the distribution the data come from."""

from __future__ import annotations

import torch

from .base import GenerativeModel, site_mask
from .checks import as_tensor
from .diagnostics import kl_divergence


def inpainting_nll(model, images, known) -> float:
    """-ln p(x_hidden | x_known), the mean over ``images`` ``(B, n_sites)`` in nats per
    image: how well the model restores the sites where ``known`` (indices or a bool mask
    ``(n_sites,)``) is False. Exact where the model's marginal of the known sites is
    (``marginal_is_exact``: any set for MPS, TTN and Independent, a prefix of the site
    order for an autoregressive net); ValueError otherwise.

    Unlike the fraction of restored pixels that equal the originals (which filling with
    the most common value can win), it rewards a model for putting probability on the
    true completion."""
    x = model.validate_configurations(images).reshape(-1, model.n_sites)
    mask = site_mask(known, model.n_sites, model.device)
    if not model.marginal_is_exact(mask):
        raise ValueError(f"{type(model).__name__} has no exact marginal of these known "
                         "sites, so no exact conditional of the hidden ones")
    with torch.no_grad():
        return float(-model.conditional_log_prob(x, mask, validate=False).double().mean())


def check_reference(reference, n_sites: int, local_dim: int):
    """The exact distribution of data ``(N, n_sites)`` over ``local_dim`` values: a
    discrete :class:`GenerativeModel` over those sites, returned as is, or ln p of every
    configuration (lexicographic), returned as a float64 vector after checking its
    length, its entries (no NaN, no +inf) and its normalization (ln sum p = 0 within
    1e-8)."""
    if isinstance(reference, GenerativeModel):
        if not reference.support.is_discrete or reference.n_sites != n_sites or \
                reference.local_dim != local_dim:
            raise ValueError(f"the reference {type(reference).__name__} does not describe "
                             f"data of {n_sites} sites with {local_dim} values")
        return reference
    table = as_tensor(reference, "reference must be a GenerativeModel or ln p of every "
                                 f"configuration, got {type(reference).__name__}").detach()
    if table.is_complex() or table.dtype == torch.bool:
        raise TypeError(f"reference must hold real log-probabilities, got {table.dtype}")
    table = table.to(device="cpu", dtype=torch.float64).reshape(-1)
    if table.numel() != local_dim ** n_sites:
        raise ValueError(f"reference lists {table.numel()} log-probabilities; data of "
                         f"{n_sites} sites with {local_dim} values have "
                         f"{local_dim ** n_sites} configurations")
    if torch.isnan(table).any() or (table == float("inf")).any():
        raise ValueError("reference holds NaN or +inf log-probabilities")
    total = float(torch.logsumexp(table, 0))
    if not abs(total) <= 1e-8:
        raise ValueError(f"reference is not normalized: ln sum p = {total!r}")
    return table


def exact_kl(reference, model) -> float:
    """KL(p || q) in nats of the model q from the exact distribution p (a
    :class:`tnborn.GenerativeModel`, or ln p of every configuration in lexicographic
    order), by enumeration (:func:`tnborn.diagnostics.kl_divergence`)."""
    if callable(getattr(reference, "log_prob", None)):
        return kl_divergence(reference, model)
    return kl_divergence(torch.exp(torch.as_tensor(reference, dtype=torch.float64)), model)


def floor_nll(reference, test: torch.Tensor) -> float:
    """The test NLL of the exact distribution itself (no model can do better in
    expectation): -mean ln p(x) over ``test`` ``(N, n_sites)``, from a log table of every
    configuration (lexicographic, site 0 most significant) or a model."""
    if callable(getattr(reference, "log_prob", None)):
        with torch.no_grad():
            return float(-reference.log_prob(test).double().mean())
    table = torch.as_tensor(reference, dtype=torch.float64)
    n, d = test.shape[1], int(round(table.numel() ** (1.0 / test.shape[1])))
    powers = d ** torch.arange(n - 1, -1, -1)
    return float(-table[(test.cpu() * powers).sum(1)].mean())

