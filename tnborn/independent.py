"""The independent-sites baseline: p(x) = prod_i p_i(x_i), one distribution per site.

The per-site family follows the support:

=================  ============================  ======================================
support            p_i                           maximum-likelihood fit
=================  ============================  ======================================
``Discrete(k)``    categorical (``logits``)      frequencies (plus ``pseudocount``)
``Circle()``       von Mises (``loc``, kappa)    mean direction; kappa from
                                                 I1(kappa)/I0(kappa) = mean resultant
``Real()``         Gaussian (``loc``, sigma)     mean and (biased) variance
``Interval(a,b)``  Beta on [a, b] (alpha, beta)  Newton on the digamma equations
=================  ============================  ======================================

Categorical and Gaussian fits are closed form; the von Mises concentration and the Beta
shapes solve one-dimensional / two-dimensional equations by Newton's method to
machine precision. It is the mean-field baseline of every comparison: any correlation
between sites is beyond it.
"""

from __future__ import annotations

import math
import time

import torch

from .backend import resolve_real
from .base import GenerativeModel
from .checks import check_count, check_real
from .circular import von_mises
from .supports import Circle, Discrete, Interval, Real, check_support

_NEWTON_STEPS = 100
# smallest von Mises concentration kept (uniform data have kappa = 0, whose log is -inf)
_MIN_CONCENTRATION = 1e-300


class Independent(GenerativeModel):
    """Product of independent per-site distributions on ``support`` (see the module).

    Parameters
    ----------
    support : ``Discrete(k)``, ``Circle()``, ``Real()`` or ``Interval(lo, hi)``.
    n_sites : number of sites.
    pseudocount : (discrete) added to every value's count in ``fit`` (0: the plain
        maximum-likelihood frequencies, which give ln p = -inf to a value never seen).
    dtype, device : float64 on the CPU by default.
    seed : seed of the model's own random stream (samples).

    The model starts uniform (discrete, circle, interval) or standard normal (real).
    """

    fit_unit = None

    def __init__(self, support, n_sites: int, *, pseudocount: float = 0.0,
                 dtype=torch.float64, device=None, seed: int | None = None):
        super().__init__()
        self.support = check_support(support)
        self.n_sites = check_count(n_sites, "n_sites")
        self.pseudocount = check_real(pseudocount, "pseudocount")
        if self.pseudocount < 0:
            raise ValueError(f"pseudocount must be >= 0, got {pseudocount}")
        if self.pseudocount and not self.support.is_discrete:
            raise ValueError("pseudocount applies to a discrete support only")
        dtype, device = resolve_real(dtype, device)
        self._start_rng(seed)
        n = self.n_sites

        def zeros(*shape):
            return torch.nn.Parameter(torch.zeros(*shape, dtype=dtype, device=device))

        if isinstance(self.support, Discrete):
            self.logits = zeros(n, self.support.k)
        elif isinstance(self.support, Circle):
            self.loc = zeros(n)
            self.log_concentration = torch.nn.Parameter(torch.full(
                (n,), math.log(_MIN_CONCENTRATION), dtype=dtype, device=device))
        elif isinstance(self.support, Real):
            self.loc = zeros(n)
            self.log_scale = zeros(n)
        else:
            self.log_alpha = zeros(n)
            self.log_beta = zeros(n)

    # ------------------------------------------------------------ capabilities
    @property
    def has_rsample(self) -> bool:
        return isinstance(self.support, (Real, Interval))

    def _marginal_is_exact(self, mask: torch.Tensor) -> bool:
        return True

    def _conditional_is_exact(self, known: torch.Tensor) -> bool:
        return True

    # ------------------------------------------------------------------ kernels
    def _site_log_probs(self, x: torch.Tensor) -> torch.Tensor:
        """ln p_i(x_i) (or the log density), ``(B, n_sites)``."""
        support = self.support
        if isinstance(support, Discrete):
            table = torch.log_softmax(self.logits, -1)  # (n, k)
            return table[torch.arange(self.n_sites, device=x.device), x]
        if isinstance(support, Circle):
            kappa = torch.exp(self.log_concentration)
            log_i0 = torch.log(torch.special.i0e(kappa)) + kappa
            return kappa * torch.cos(x - self.loc) - math.log(2 * math.pi) - log_i0
        if isinstance(support, Real):
            z = (x - self.loc) * torch.exp(-self.log_scale)
            return -0.5 * z * z - self.log_scale - 0.5 * math.log(2 * math.pi)
        width = support.hi - support.lo
        y = ((x - support.lo) / width).clamp(0.0, 1.0)
        a, b = torch.exp(self.log_alpha), torch.exp(self.log_beta)
        log_beta_fn = torch.lgamma(a) + torch.lgamma(b) - torch.lgamma(a + b)
        return (torch.xlogy(a - 1, y) + torch.xlogy(b - 1, 1 - y) - log_beta_fn
                - math.log(width))

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        return self._site_log_probs(x).sum(-1)

    def _marginal_log_prob(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        site = self._site_log_probs(x)
        return torch.where(known, site, torch.zeros_like(site)).sum(-1)

    def _sample(self, num: int, generator) -> torch.Tensor:
        support = self.support
        if isinstance(support, Discrete):
            cumulative = torch.softmax(self.logits, -1).cumsum(-1)  # (n, k)
            u = torch.rand(num, self.n_sites, 1, generator=generator, device=self.device,
                           dtype=cumulative.dtype)
            return (cumulative[None, :, :-1] < u * cumulative[None, :, -1:]).sum(-1)
        if isinstance(support, Circle):
            shape = (num, self.n_sites)
            return von_mises(self.loc.expand(shape), torch.exp(self.log_concentration)
                             .expand(shape), generator)
        return self._rsample(num, generator)

    def _rsample(self, num: int, generator) -> torch.Tensor:
        shape = (num, self.n_sites)
        if isinstance(self.support, Real):
            noise = torch.randn(shape, generator=generator, device=self.device,
                                dtype=self.dtype)
            return self.loc + torch.exp(self.log_scale) * noise
        support = self.support
        ga = torch._standard_gamma(torch.exp(self.log_alpha).expand(shape).contiguous(),
                                   generator=generator)
        gb = torch._standard_gamma(torch.exp(self.log_beta).expand(shape).contiguous(),
                                   generator=generator)
        y = ga / (ga + gb)
        return (support.lo + (support.hi - support.lo) * y).clamp(support.lo, support.hi)

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        drawn = self._sample(x.shape[0], generator)
        return torch.where(known, x, drawn)

    # ---------------------------------------------------------------- training
    def fit(self, data, *, test_data=None, val_data=None) -> list[dict]:
        """Maximum-likelihood fit of every site to ``data`` ``(N, n_sites)`` (see the
        module docstring); one record ``{"step": 1, "train_nll", "test_nll"?,
        "val_nll"?, "seconds", "cpu_seconds", "stopped_by": "closed_form"}``.
        ValueError where the maximum-likelihood estimate does not exist (a site with
        zero spread; Beta data on the interval's ends)."""
        return super().fit(data, test_data=test_data, val_data=val_data)

    def _fit(self, data: torch.Tensor, *, test_data, val_data) -> list[dict]:
        start, cpu = time.perf_counter(), time.process_time()
        with torch.no_grad():
            values = _fit_site_parameters(self.support, data, self.pseudocount)
            for name, value in values.items():
                getattr(self, name).copy_(value.to(self.dtype))
        record = {"step": 1, "seconds": time.perf_counter() - start,
                  "cpu_seconds": time.process_time() - cpu, "train_nll": self.nll(data)}
        for key, values in (("test_nll", test_data), ("val_nll", val_data)):
            if values is not None:
                record[key] = self.nll(values)
        record["stopped_by"] = "closed_form"
        return [record]

    # ------------------------------------------------------------------ saving
    def _config(self) -> dict:
        return {"support": self.support.config(), "n_sites": self.n_sites,
                "pseudocount": self.pseudocount,
                "dtype": str(self.dtype).replace("torch.", ""), "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"n_sites": self.n_sites, "support": self.support}


# --------------------------------------------------------------------- fitting
def _fit_site_parameters(support, data: torch.Tensor, pseudocount: float) -> dict:
    """Maximum-likelihood parameters per site, ``{parameter name: (n,) or (n, k)}``."""
    x = data.double()
    if isinstance(support, Discrete):
        counts = torch.nn.functional.one_hot(data, support.k).sum(0).double() + pseudocount
        return {"logits": torch.log(counts / counts.sum(-1, keepdim=True))}
    if isinstance(support, Real):
        loc = x.mean(0)
        variance = ((x - loc) ** 2).mean(0)
        _check_spread(variance <= 0, "has zero variance")
        return {"loc": loc, "log_scale": 0.5 * torch.log(variance)}
    if isinstance(support, Circle):
        c, s = torch.cos(x).mean(0), torch.sin(x).mean(0)
        resultant = torch.sqrt(c * c + s * s)
        _check_spread(resultant >= 1 - 1e-12, "has (almost) identical angles")
        kappa = _von_mises_concentration(resultant)
        return {"loc": torch.remainder(torch.atan2(s, c), 2 * math.pi),
                "log_concentration": torch.log(kappa.clamp_min(_MIN_CONCENTRATION))}
    y = (x - support.lo) / (support.hi - support.lo)
    _check_spread(((y <= 0) | (y >= 1)).any(0), "has values on the interval's ends, where "
                  "the Beta likelihood is 0 or unbounded")
    _check_spread(y.var(0, unbiased=False) <= 0, "has zero variance")
    a, b = _beta_shapes(y)
    return {"log_alpha": torch.log(a), "log_beta": torch.log(b)}


def _check_spread(bad: torch.Tensor, what: str) -> None:
    if bad.any():
        site = int(torch.nonzero(bad)[0])
        raise ValueError(f"site {site} {what}: its maximum-likelihood estimate does not "
                         "exist")


def _von_mises_concentration(resultant: torch.Tensor) -> torch.Tensor:
    """kappa with I1(kappa) / I0(kappa) = ``resultant`` (in [0, 1)), by Newton's method
    from the approximation of Best and Fisher."""
    r = resultant
    kappa = r * (2 - r * r) / (1 - r * r)
    for _ in range(_NEWTON_STEPS):
        ratio = torch.special.i1e(kappa) / torch.special.i0e(kappa)
        slope = 1 - ratio * ratio - torch.where(kappa > 0, ratio / kappa.clamp_min(1e-300),
                                                torch.full_like(kappa, 0.5))
        step = (ratio - r) / slope
        kappa = (kappa - step).clamp_min(0.0)
        if float(step.abs().max()) <= 1e-14 * max(1.0, float(kappa.max())):
            break
    return kappa


def _beta_shapes(y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Maximum-likelihood Beta shapes per column of ``y`` (values in (0, 1)): Newton on
    psi(a) - psi(a + b) = mean ln y, psi(b) - psi(a + b) = mean ln(1 - y), in log
    parameters, from the method-of-moments estimate."""
    g1, g2 = torch.log(y).mean(0), torch.log1p(-y).mean(0)
    mean, variance = y.mean(0), y.var(0, unbiased=False)
    common = (mean * (1 - mean) / variance - 1).clamp_min(1e-3)
    log_a, log_b = torch.log(mean * common), torch.log((1 - mean) * common)
    for _ in range(_NEWTON_STEPS):
        a, b = torch.exp(log_a), torch.exp(log_b)
        psi_ab, tri_ab = torch.digamma(a + b), torch.polygamma(1, a + b)
        f1 = torch.digamma(a) - psi_ab - g1
        f2 = torch.digamma(b) - psi_ab - g2
        # Jacobian with respect to (ln a, ln b)
        j11, j12 = a * (torch.polygamma(1, a) - tri_ab), -b * tri_ab
        j21, j22 = -a * tri_ab, b * (torch.polygamma(1, b) - tri_ab)
        det = j11 * j22 - j12 * j21
        step_a = (j22 * f1 - j12 * f2) / det
        step_b = (j11 * f2 - j21 * f1) / det
        scale = (1.0 / torch.maximum(step_a.abs(), step_b.abs())).clamp(max=1.0)  # <= 1 per step
        log_a, log_b = log_a - scale * step_a, log_b - scale * step_b
        if float(torch.maximum(step_a.abs(), step_b.abs()).max()) <= 1e-13:
            break
    return torch.exp(log_a), torch.exp(log_b)
