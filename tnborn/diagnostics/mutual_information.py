"""Classical mutual information between two parts of a model's sites.

I(A:B) = E_{x~p}[ln p(x) - ln p(x_A) - ln p(x_B)] >= 0   (Cheng, Chen, Wang 2017).

* Exact (``num=None``): enumerate every configuration, marginalize the table.
* Sampled (``num=N``): the mean of the bracket over N exact samples, with its standard
  error std / sqrt(N). Where the model's marginal is exact on both sides
  (``marginal_is_exact``: Born machines at any cut) both are contracted. Where it is
  exact on one side only (an autoregressive net: the side that is a prefix of its
  order), the other side's marginal is estimated per sample by Monte Carlo over it,

      p(x_B) = E_{a ~ p(A)}[p(a, x_B) / p(a)],

  with ``inner`` fresh draws per outer sample (so its noise is inside the standard
  error) and the second-order correction Var(w) / (2 M mean(w)^2) of the log's bias.
  For a sharp model a few draws dominate the mean and the log stays biased low (the MI
  high) whatever the standard error says: the median effective sample size of the draws,
  (sum w)^2 / sum w^2, is reported, and below :data:`MIN_INNER_ESS` a RuntimeWarning
  says to raise ``inner``.

With ``distributed=True`` (or ``process_group=``) the ranks of a torch.distributed group
draw the samples in parts, each from its own stream (:func:`tnborn.distributed.rank_stream`:
rank 0 the generator's, so one process is rank 0), and every rank returns the estimate
over all of them; an exact value is computed on every rank alike.

Both results are :class:`tnborn.Estimate` (value, stderr, method, num, reliable,
warnings, diagnostics). A sampled MI is unreliable (``reliable=False``, with a warning)
when

* the median inner ESS is below :data:`MIN_INNER_ESS` (biased upward, raise ``inner``);
* it is negative beyond :data:`MAX_NEGATIVE_SIGMAS` standard errors (value <
  -3 stderr - 1e-10): I(A:B) >= 0, so such a value shows a bias the error bar misses.
  A negative value within 3 errors is an honest estimate of a small MI.

Its ``diagnostics`` hold ``inner_ess`` (None where both marginals are exact) and
``inner``.
"""

from __future__ import annotations

import math
import numbers
import warnings

import torch

from ..base import GenerativeModel, site_mask
from ..checks import check_count, check_generator
from ..distributed import SINGLE, resolve_collective
from ..estimate import Estimate
from .tables import log_prob_table, split_table

_CHUNK = 2 ** 15

#: Median effective number of inner draws below which a Monte Carlo marginal (and the
#: mutual information built on it) is reported as unreliable.
MIN_INNER_ESS = 10.0
#: standard errors below 0 beyond which a sampled MI is reported unreliable.
MAX_NEGATIVE_SIGMAS = 3.0
_NEGATIVE_SLACK = 1e-10  # rounding of an MI that is exactly 0 (stderr 0)


def cut_mask(model: GenerativeModel, cut) -> torch.Tensor:
    """The sites of part A as a bool mask ``(n_sites,)``: ``cut`` an int k (sites < k) or a
    collection of sites (or a bool mask). ValueError unless A and B are both non-empty."""
    n = model.n_sites
    if isinstance(cut, bool):
        raise TypeError(f"cut must be an int or a set of sites, got {cut!r}")
    if isinstance(cut, numbers.Integral):
        if not 1 <= cut <= n - 1:
            raise ValueError(f"cut must be in 1..{n - 1} (sites < cut form A), got {cut}")
        mask = torch.zeros(n, dtype=torch.bool, device=model.device)
        mask[:cut] = True
        return mask
    mask = site_mask(cut, n, model.device)
    if bool(mask.all()):
        raise ValueError("the cut leaves no sites on the other side")
    return mask


def _check_model(model) -> None:
    if not isinstance(model, GenerativeModel):
        raise TypeError(f"model must be a tnborn GenerativeModel, got {type(model).__name__}")
    if not model.support.is_discrete:
        raise ValueError(f"the mutual information here needs a discrete support, "
                         f"{type(model).__name__} is on {model.support}")


def _check_options(num, inner, generator, model, collective=SINGLE):
    if num is not None:
        num = check_count(num, "num")
        if num < 2:
            raise ValueError(f"num must be at least 2 for a standard error, got {num}")
        if num < collective.world:
            raise ValueError(f"num must be at least one sample per rank "
                             f"({collective.world}), got {num}")
    inner = check_count(inner, "inner")
    check_generator(generator, model.device)
    return num, inner


# ----------------------------------------------------------------------- exact
def _exact_from_table(log_p: torch.Tensor, n: int, d: int, mask: torch.Tensor) -> float:
    """I(A:B) from the log table of all d^n configurations."""
    table = split_table(log_p, n, d, mask)
    log_a = torch.logsumexp(table, dim=1, keepdim=True)
    log_b = torch.logsumexp(table, dim=0, keepdim=True)
    p = torch.exp(table)
    terms = torch.where(p > 0, p * (table - log_a - log_b), torch.zeros_like(p))
    return max(float(terms.sum()), 0.0)


# --------------------------------------------------------------------- sampled
def _marginal(model, x: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    return torch.cat([model.marginal_log_prob(x[i:i + _CHUNK], mask, validate=False)
                      for i in range(0, x.shape[0], _CHUNK)])


def _inner_marginal(model, x: torch.Tensor, exact: torch.Tensor, inner: int,
                    generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Estimates of ln p(x_B) ``(num,)``, B the complement of ``exact`` (a mask whose
    marginal is exact), from ``inner`` draws a ~ p(x_exact) per row of ``x``; and the
    draws' effective sample size per row ``(num,)``."""
    num = x.shape[0]
    out, ess = [], []
    rows_per_chunk = max(1, _CHUNK // inner)
    for start in range(0, num, rows_per_chunk):
        rows = x[start:start + rows_per_chunk]
        count = rows.shape[0] * inner
        draws = model.sample(count, generator=generator)
        joint = torch.where(exact, draws, rows.repeat_interleave(inner, 0))
        log_w = model.conditional_log_prob(joint, exact, validate=False).reshape(
            rows.shape[0], inner)
        log_sum = torch.logsumexp(log_w, 1)
        log_mean = log_sum - math.log(inner)
        relative = torch.exp(log_w - log_mean[:, None])  # w / mean(w)
        variance = relative.var(1, unbiased=True) if inner > 1 else torch.zeros_like(log_mean)
        out.append(log_mean + variance / (2.0 * inner))
        ess.append(torch.exp(2 * log_sum - torch.logsumexp(2 * log_w, 1)))
    return torch.cat(out), torch.cat(ess)


def _side_log_probs(model, x: torch.Tensor, mask: torch.Tensor, inner: int,
                    generator) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
    """(ln p(x_A), ln p(x_B), inner ESS) per row, exact where possible, else by Monte
    Carlo (the ESS is None when both marginals are exact)."""
    exact_a, exact_b = model.marginal_is_exact(mask), model.marginal_is_exact(~mask)
    if exact_a and exact_b:
        return _marginal(model, x, mask), _marginal(model, x, ~mask), None
    if exact_a:
        estimate, ess = _inner_marginal(model, x, mask, inner, generator)
        return _marginal(model, x, mask), estimate, ess
    if exact_b:
        estimate, ess = _inner_marginal(model, x, ~mask, inner, generator)
        return estimate, _marginal(model, x, ~mask), ess
    raise ValueError(f"{type(model).__name__} has no exact marginal on either side of "
                     "this cut (marginal_is_exact; for an autoregressive net one side must "
                     "be a prefix of its site order); use num=None (enumeration) for small "
                     "systems")


def _warn_if_unreliable(ess: list, cuts: list, inner: int) -> None:
    low = [(k, e) for k, e in zip(cuts, ess) if e is not None and e < MIN_INNER_ESS]
    if low:
        shown = ", ".join(f"cut {k}: {e:.1f}" for k, e in low[:5])
        warnings.warn(f"the Monte Carlo marginal rests on few of its {inner} inner draws "
                      f"(median effective sample size {shown}); the mutual information is "
                      "biased upward there: raise inner", RuntimeWarning, stacklevel=3)


def _mean_and_error(values: torch.Tensor) -> tuple[float, float]:
    values = values.double()
    return float(values.mean()), float(values.std(unbiased=True) / math.sqrt(values.numel()))


def mi_warnings(value: float, stderr: float, inner_ess: float | None, inner: int) -> list[str]:
    """The reasons (sentences) why a sampled MI is unreliable; empty when it is not (the
    rules of the module docstring)."""
    out = []
    if inner_ess is not None and not inner_ess >= MIN_INNER_ESS:
        out.append(f"the Monte Carlo marginal rests on {inner_ess:.1f} of its {inner} inner "
                   f"draws (median ESS < {MIN_INNER_ESS:g}): biased upward, raise inner")
    if value < -MAX_NEGATIVE_SIGMAS * stderr - _NEGATIVE_SLACK:
        out.append(f"negative ({value:.3g}, more than {MAX_NEGATIVE_SIGMAS:g} standard errors "
                   "below 0) while I(A:B) >= 0: a bias the error bar misses")
    return out


def _sampled(values: torch.Tensor, inner_ess: float | None, inner: int) -> Estimate:
    mean, error = _mean_and_error(values)
    return Estimate.sampled(mean, error, values.numel(),
                            warnings=mi_warnings(mean, error, inner_ess, inner),
                            diagnostics={"inner_ess": inner_ess,
                                         "inner": None if inner_ess is None else inner})


def _log_probs(model, x: torch.Tensor) -> torch.Tensor:
    with torch.no_grad():
        return torch.cat([model.log_prob(x[i:i + _CHUNK], validate=False)
                          for i in range(0, x.shape[0], _CHUNK)])


def _sampled_terms(model, masks, num: int, inner: int, generator, collective):
    """Per mask: the bracket ln p(x) - ln p(x_A) - ln p(x_B) for all ``num`` samples and
    the median inner ESS (None where both marginals are exact), each rank drawing its
    share from its own stream and every rank ending with all of them."""
    stream = collective.step_stream(model.random_stream(generator), 0)
    with torch.no_grad():
        x = model.sample(collective.share(num), generator=stream)
        log_p = _log_probs(model, x)
        out = []
        for mask in masks:
            log_a, log_b, ess = _side_log_probs(model, x, mask, inner, stream)
            values = collective.gather_rows(log_p - log_a - log_b)
            out.append((values, None if ess is None
                        else float(collective.gather_rows(ess).median())))
    return out


# ---------------------------------------------------------------------- public
def mutual_information(model, cut, *, num: int | None = None,
                       generator: torch.Generator | None = None, inner: int = 512,
                       distributed: bool = False, process_group=None):
    """Classical mutual information I(A:B) in nats between part A and the other sites.

    Parameters
    ----------
    model : any GenerativeModel on a discrete support.
    cut : int k (A = sites ``0..k-1``) or a collection of sites (or a bool mask) for A.
    num : None for the exact value by enumeration (small systems); N for an estimate
        from N exact samples.
    generator : torch.Generator for the samples (reproducible estimates).
    inner : Monte Carlo draws per sample for the one marginal of an autoregressive net
        that is not exact (see the module docstring); unused otherwise.
    distributed, process_group : split the samples over the ranks of a torch.distributed
        group (module docstring); every rank must call with the same arguments.

    Returns a :class:`tnborn.Estimate`: ``method`` "exact" (stderr 0) or "sampled", with
    ``reliable`` / ``warnings`` / ``diagnostics`` (see the module docstring).
    """
    _check_model(model)
    mask = cut_mask(model, cut)
    collective = resolve_collective(distributed, process_group)
    num, inner = _check_options(num, inner, generator, model, collective)
    if num is None:
        return Estimate.exact(_exact_from_table(log_prob_table(model), model.n_sites,
                                                model.local_dim, mask))
    _check_same_call(collective, model, [mask], num, inner)
    [(values, ess)] = _sampled_terms(model, [mask], num, inner, generator, collective)
    _warn_if_unreliable([ess], [cut], inner)
    return _sampled(values, ess, inner)


def _check_same_call(collective, model, masks, num: int, inner: int) -> None:
    """ValueError on every rank unless the ranks of a distributed estimate hold the same
    model (class, configuration, tensors) and agree on num, inner and the cuts."""
    collective.check_same_model(model, num=num, inner=inner,
                                cuts=[m.nonzero().flatten().tolist() for m in masks])


def mutual_information_profile(model, *, cuts=None, num: int | None = None,
                               generator: torch.Generator | None = None,
                               inner: int = 512, distributed: bool = False,
                               process_group=None) -> dict:
    """I(sites < k : sites >= k) for every chain cut k (or the given ``cuts``).

    Returns ``{"cuts": [k, ...], "mi": [nats, ...], "stderr": [...], "inner_ess": [...],
    "reliable": [bool, ...], "warnings": [[sentence, ...], ...]}``; standard errors are
    0.0 for exact values (``num=None``); ``inner_ess`` is the median effective sample
    size of the Monte Carlo marginal per cut (None where both marginals are exact);
    ``reliable`` and ``warnings`` per cut by the rules of the module docstring (exact
    values: True, []). Exact values share one enumeration; sampled ones share one set of
    ``num`` samples. ``distributed`` / ``process_group``: as :func:`mutual_information`.
    """
    _check_model(model)
    n = model.n_sites
    cuts = list(range(1, n)) if cuts is None else [int(k) for k in _cut_list(cuts)]
    masks = [cut_mask(model, k) for k in cuts]
    collective = resolve_collective(distributed, process_group)
    num, inner = _check_options(num, inner, generator, model, collective)
    if num is None:
        log_p = log_prob_table(model)
        values = [_exact_from_table(log_p, n, model.local_dim, m) for m in masks]
        return {"cuts": cuts, "mi": values, "stderr": [0.0] * len(cuts),
                "inner_ess": [None] * len(cuts), "reliable": [True] * len(cuts),
                "warnings": [[] for _ in cuts]}
    _check_same_call(collective, model, masks, num, inner)
    terms = _sampled_terms(model, masks, num, inner, generator, collective)
    estimates = [_mean_and_error(values) for values, _ in terms]
    ess = [e for _, e in terms]
    _warn_if_unreliable(ess, cuts, inner)
    reasons = [mi_warnings(value, error, e, inner) for (value, error), e in zip(estimates, ess)]
    return {"cuts": cuts, "mi": [e[0] for e in estimates],
            "stderr": [e[1] for e in estimates], "inner_ess": ess,
            "reliable": [not r for r in reasons], "warnings": reasons}


def _cut_list(cuts):
    try:
        cuts = list(cuts)
    except TypeError:
        raise TypeError(f"cuts must be a list of ints, got {cuts!r}") from None
    for k in cuts:
        if isinstance(k, bool) or not isinstance(k, numbers.Integral):
            raise TypeError(f"cuts must be ints, got {k!r}")
    return cuts
