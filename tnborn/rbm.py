"""Restricted Boltzmann machine with binary visible and hidden units.

Energy and visible free energy (v in {0,1}^n, h in {0,1}^m)::

    E(v, h) = -a.v - b.h - v^T W h          v_1 .. v_n      visible (the sites)
    F(v)    = -a.v - sum_j softplus(b_j + (v W)_j)      \\ | /  W (n, m)
    p(v)    = exp(-F(v)) / Z                 h_1 .. h_m      hidden

ln Z is exact when the smaller layer has at most :data:`MAX_EXACT_LAYER` units: the
hidden layer enumerated, ln Z = logsumexp_h [b.h + sum_i softplus(a_i + (W h)_i)], or
the visible one, logsumexp_v [-F(v)], in chunks. Otherwise ``log_z(method="ais")``
estimates it by annealed importance sampling (Salakhutdinov and Murray 2008) from a
base model with an exact ln Z: the base-rate model p_0(v) = prod_i sigmoid(+-a0_i), or a
small RBM (a0, W0, b0) whose smaller layer is enumerated, the target's hidden units free
at beta = 0, through

    ln p*_k(v) = ((1 - beta_k) a0 + beta_k a).v + sum_j softplus((1 - beta_k)(b0 + v W0)_j)
                 + sum_j softplus(beta_k (b_j + (v W)_j))

(no W0 terms for the base rate; the base's hidden units are free at beta = 1, so
Z_K = Z 2^m0) with one block-Gibbs step of both hidden layers at each beta_k;
``log_prob`` then uses that stored estimate and says so (its ``log_z_estimate``).

Sampling is exact when a layer of at most :data:`MAX_EXACT_SAMPLING` units can be
enumerated (h from its exact marginal, then v | h; or v from its exact table):
``exact_sampling`` is then True. Otherwise samples are the ends of independent block-
Gibbs chains after ``gibbs_steps`` steps from uniform random states (a Markov chain:
``exact_sampling`` False).

Training (``fit``) is on minibatches with Adam: contrastive divergence, the gradient of
the surrogate mean F(v_data) - mean F(v_model) whose negative samples come from
``cd_steps`` Gibbs steps started at the data (CD-k) or at persistent chains (PCD), or,
where ln Z is exact, the exact likelihood gradient.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from .backend import resolve_real
from .base import GenerativeModel
from .checks import check_count, check_int
from .enumeration import binary_chunks
from .estimate import Estimate, ess_warnings, log_mean_weight
from .mle_fit import MinibatchMLE
from .supports import Discrete

__all__ = ["RBM", "MAX_EXACT_LAYER", "MAX_EXACT_SAMPLING", "MAX_MARGINAL_HIDDEN",
           "MAX_ENUMERATED_HIDDEN"]

#: a layer of at most this many units is enumerated for the exact ln Z
MAX_EXACT_LAYER = 24
#: the inverse-temperature schedules of AIS
AIS_SCHEDULES = ("dense", "linear")
#: a layer of at most this many units is enumerated for exact sampling
MAX_EXACT_SAMPLING = 20
#: at most this many hidden units are enumerated per row (in chunks) for exact marginals
#: of any visible sites
MAX_MARGINAL_HIDDEN = 16
#: at most this many for exact conditional sampling given any visible sites (the whole
#: table of hidden states per row)
MAX_ENUMERATED_HIDDEN = 12
_HIDDEN_CHUNK = 1 << 12
_CHUNK = 1 << 16


def _all_states(m: int, dtype, device, chunk: int = _CHUNK):
    """Every 0/1 vector of length m as ``dtype``, in chunks ``(<= chunk, m)``."""
    for states in binary_chunks(m, chunk, device):
        yield states.to(dtype)


def _ais_betas(steps: int, schedule: str) -> list[float]:
    """``steps + 1`` inverse temperatures from 0 to 1 (:meth:`RBM.log_z`)."""
    if schedule == "linear" or steps < 3:
        return torch.linspace(0, 1, steps + 1, dtype=torch.float64).tolist()
    first = max(1, round(steps * 500 / 14_500))
    second = max(1, round(steps * 4_000 / 14_500))
    third = steps - first - second
    parts = [torch.linspace(0.0, 0.5, first + 1, dtype=torch.float64),
             torch.linspace(0.5, 0.9, second + 1, dtype=torch.float64)[1:],
             torch.linspace(0.9, 1.0, third + 1, dtype=torch.float64)[1:]]
    return torch.cat(parts).tolist()


def _bernoulli(probability: torch.Tensor, generator) -> torch.Tensor:
    """0/1 draws (the dtype of ``probability``), each 1 with its probability."""
    noise = torch.rand(probability.shape, generator=generator, dtype=probability.dtype,
                       device=probability.device)
    return (noise < probability).to(probability.dtype)


class RBM(MinibatchMLE, GenerativeModel):
    """Binary restricted Boltzmann machine (module docstring).

    Parameters
    ----------
    n_visible, n_hidden : layer sizes (the model's sites are the visible units).
    init_scale : standard deviation of the initial weights (biases start at zero).
    gibbs_steps : block-Gibbs steps per sample when sampling is not exact.
    dtype, device : float64 on the CPU by default.
    seed : seed of the initial weights and of the model's own random stream.
    """

    def __init__(self, n_visible: int, n_hidden: int, *, init_scale: float = 0.01,
                 gibbs_steps: int = 1000, dtype=torch.float64, device=None,
                 seed: int | None = None):
        super().__init__()
        self.n_sites = check_count(n_visible, "n_visible")
        self.n_hidden = check_count(n_hidden, "n_hidden")
        self.support = Discrete(2)
        self.init_scale = float(init_scale)
        if not (math.isfinite(self.init_scale) and self.init_scale >= 0):
            raise ValueError(f"init_scale must be a finite number >= 0, got {init_scale!r}")
        self.gibbs_steps = check_int(gibbs_steps, "gibbs_steps", 1)
        dtype, device = resolve_real(dtype, device)
        generator = self._start_rng(seed)
        weight = torch.randn(self.n_sites, self.n_hidden, generator=generator, dtype=dtype)
        self.weight = torch.nn.Parameter((weight * self.init_scale).to(device))
        self.visible_bias = torch.nn.Parameter(torch.zeros(self.n_sites, dtype=dtype,
                                                           device=device))
        self.hidden_bias = torch.nn.Parameter(torch.zeros(self.n_hidden, dtype=dtype,
                                                          device=device))
        self.cd_steps, self.method, self._fit_ais = 1, "cd", (32, 1000)
        self._chains = None
        self._stored_log_z = None  # (parameter versions, Estimate) of the last AIS run
        self._cached_log_z = None  # (parameter versions, exact ln Z) under no_grad

    # ------------------------------------------------------------ capabilities
    @property
    def exact_sampling(self) -> bool:
        return min(self.n_sites, self.n_hidden) <= MAX_EXACT_SAMPLING

    @property
    def log_z_is_exact(self) -> bool:
        return min(self.n_sites, self.n_hidden) <= MAX_EXACT_LAYER

    def _marginal_is_exact(self, mask: torch.Tensor) -> bool:
        return self.n_hidden <= MAX_MARGINAL_HIDDEN

    def _conditional_is_exact(self, known: torch.Tensor) -> bool:
        return self.n_hidden <= MAX_ENUMERATED_HIDDEN

    def _exact_marginal_hint(self) -> str:
        return f"; exact for any sites with at most {MAX_MARGINAL_HIDDEN} hidden units"

    # ------------------------------------------------------------------ energies
    def free_energy(self, x) -> torch.Tensor:
        """F(v) of visible configurations ``(..., n_visible)``: ``(...,)``."""
        v = self.validate_configurations(x)
        return self._free_energy(v.reshape(-1, self.n_sites).to(self.dtype)).reshape(
            v.shape[:-1])

    def _free_energy(self, v: torch.Tensor) -> torch.Tensor:
        return -(v @ self.visible_bias) - F.softplus(v @ self.weight + self.hidden_bias).sum(-1)

    def _versions(self) -> tuple:
        return tuple((p.data_ptr(), p._version) for p in self.parameters())

    def _exact_log_z(self) -> torch.Tensor:
        """ln Z by enumerating the smaller layer: differentiable under grad mode, and
        without it cached until the parameters change."""
        reuse = not torch.is_grad_enabled()
        if reuse and self._cached_log_z is not None and \
                self._cached_log_z[0] == self._versions():
            return self._cached_log_z[1]
        value = self._enumerated_log_z()
        if reuse:
            self._cached_log_z = (self._versions(), value)
        return value

    def _enumerated_log_z(self) -> torch.Tensor:
        dtype, device = self.dtype, self.device
        if self.n_hidden <= self.n_sites:
            parts = [h @ self.hidden_bias + F.softplus(h @ self.weight.T
                                                       + self.visible_bias).sum(-1)
                     for h in _all_states(self.n_hidden, dtype, device)]
        else:
            parts = [-self._free_energy(v) for v in _all_states(self.n_sites, dtype, device)]
        return torch.logsumexp(torch.cat(parts), 0)

    def log_z(self, method: str = "exact", *, chains: int = 100, steps: int = 10_000,
              generator: torch.Generator | None = None, base_data=None,
              base_model: "RBM | None" = None, schedule: str = "linear") -> Estimate:
        """ln Z: ``"exact"`` (the smaller layer has at most :data:`MAX_EXACT_LAYER` units;
        ValueError otherwise) or ``"ais"`` (``chains`` annealing runs of ``steps``
        intermediate distributions from beta = 0 to 1; the standard error by the delta
        method over the runs). The AIS base rate is uniform, or with ``base_data``
        ``(N, n_visible)`` the independent-sites model of those rows (visible biases
        logit((count + 1) / (N + 2)), as Salakhutdinov and Murray), which starts the
        annealing nearer a trained RBM; with ``base_model`` an RBM on the same visible
        units with exact samples and ln Z (a layer of at most :data:`MAX_EXACT_SAMPLING`
        units, e.g. a small RBM trained on the same data), the annealing starts from it
        (``benchmarks/rbm_mnist.py --ais-base`` compares the two starts on MNIST RBMs).
        ``schedule``: the inverse temperatures, ``"linear"`` or ``"dense"``
        (Salakhutdinov and Murray's spacing: 500 / 14,500 of
        the steps in [0, 0.5], 4,000 / 14,500 in [0.5, 0.9], the rest in [0.9, 1]; on a
        PCD-trained 784 x 20 RBM it did no better than linear: -0.49 +- 0.38 against
        -0.16 +- 0.26 nats from the exact ln Z at 10,000 steps, ``benchmarks/rbm_ais.py``).
        An AIS result below the ESS rule of :mod:`tnborn.estimate` is marked unreliable.
        The estimate is stored for ``log_prob``."""
        if method == "exact":
            if not self.log_z_is_exact:
                raise ValueError(f"exact ln Z enumerates the smaller layer, at most "
                                 f"{MAX_EXACT_LAYER} units; this RBM has "
                                 f"{self.n_sites} x {self.n_hidden}: use method='ais'")
            with torch.no_grad():
                return Estimate.exact(float(self._exact_log_z()))
        if method != "ais":
            raise ValueError(f"method must be 'exact' or 'ais', got {method!r}")
        chains, steps = check_count(chains, "chains"), check_count(steps, "steps")
        if schedule not in AIS_SCHEDULES:
            raise ValueError(f"schedule must be one of {AIS_SCHEDULES}, got {schedule!r}")
        generator = self.random_stream(generator)
        with torch.no_grad():
            base, v, log_z_base, name = self._ais_base(base_data, base_model, chains,
                                                       generator)
            estimate = self._ais(_ais_betas(steps, schedule), v, base, log_z_base,
                                 generator)
        estimate.diagnostics["base_rate"] = name
        self._stored_log_z = (self._versions(), estimate)
        return estimate

    def layer_parameters(self) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """``(visible_bias (n,), weight (n, m), hidden_bias (m,))``, detached: what the AIS
        of another RBM anneals from when this one is its ``base_model``."""
        return (self.visible_bias.detach(), self.weight.detach(), self.hidden_bias.detach())

    def _ais_base(self, base_data, base_model, chains: int, generator):
        """The base of the annealing: its (a0, W0, b0), ``chains`` exact samples of it,
        its exact ln Z and its name (uniform, data or rbm m=...)."""
        if base_data is not None and base_model is not None:
            raise ValueError("give base_data or base_model, not both")
        empty = self.weight.new_zeros(self.n_sites, 0).detach()
        a0 = torch.zeros_like(self.visible_bias).detach()
        if base_model is not None:
            layers = getattr(base_model, "layer_parameters", None)
            if layers is None or getattr(base_model, "n_sites", None) != self.n_sites:
                raise ValueError(f"base_model must be an RBM (layer_parameters) with "
                                 f"{self.n_sites} visible units, got {base_model!r}")
            if not (base_model.exact_sampling and base_model.log_z_is_exact):
                raise ValueError(f"base_model needs exact samples and ln Z (a layer of at "
                                 f"most {MAX_EXACT_SAMPLING} units), got {base_model!r}")
            if (base_model.dtype, base_model.device) != (self.dtype, self.device):
                raise ValueError(f"base_model is {base_model.dtype} on {base_model.device}"
                                 f", this RBM {self.dtype} on {self.device}")
            base = layers()
            for tensor in base:
                if not torch.isfinite(tensor).all():
                    raise ValueError("base_model has non-finite parameters")
            v = base_model.sample(chains, generator=generator).to(self.dtype)
            return (base, v, base_model.log_z("exact").value,
                    f"rbm m={base[1].shape[1]}")
        if base_data is not None:
            rows = self.validate_configurations(base_data, "base_data")
            rows = rows.reshape(-1, self.n_sites).to(self.dtype)
            fraction = (rows.sum(0) + 1) / (rows.shape[0] + 2)
            a0 = torch.log(fraction) - torch.log1p(-fraction)
        v = _bernoulli(torch.sigmoid(a0).expand(chains, -1), generator)
        return ((a0, empty, empty[0]), v, float(F.softplus(a0).sum()),
                "uniform" if base_data is None else "data")

    def _ais(self, betas: list[float], v: torch.Tensor, base: tuple, log_z_base: float,
             generator) -> Estimate:
        """AIS from the base (a0, W0, b0) with exact samples ``v (chains, n)`` and ln Z
        ``log_z_base`` (module docstring); the target's hidden units are free at beta 0,
        the base's at beta 1."""
        a0, w0, b0 = base
        chains = v.shape[0]
        log_w = torch.zeros(chains, dtype=self.dtype, device=self.device)
        for previous, beta in zip(betas, betas[1:]):
            # ln p*_beta(v) - ln p*_previous(v), sharing the hidden fields of v
            field, field0 = v @ self.weight + self.hidden_bias, v @ w0 + b0
            log_w += ((beta - previous) * (v @ (self.visible_bias - a0))
                      + (F.softplus(beta * field) - F.softplus(previous * field)).sum(-1)
                      + (F.softplus((1 - beta) * field0)
                         - F.softplus((1 - previous) * field0)).sum(-1))
            h = _bernoulli(torch.sigmoid(beta * field), generator)
            h0 = _bernoulli(torch.sigmoid((1 - beta) * field0), generator)
            v = _bernoulli(torch.sigmoid((1 - beta) * (a0 + h0 @ w0.T)
                                         + beta * (h @ self.weight.T + self.visible_bias)),
                           generator)
        # Z_0 = Z_base 2^m; at beta = 1 the base's m0 hidden units are free: Z_1 = Z 2^m0
        log_z0 = log_z_base + (self.n_hidden - w0.shape[1]) * math.log(2)
        log_mean, log_variance, ess, _ = log_mean_weight(log_w)
        warnings = ess_warnings(ess, chains, "the AIS estimate of ln Z (biased low, its "
                                             "error bar unreliable: more steps or chains)")
        return Estimate(log_z0 + log_mean, math.sqrt(log_variance), "sampled", chains,
                        reliable=not warnings, warnings=warnings,
                        diagnostics={"steps": len(betas) - 1, "ess": ess})

    def log_z_estimate(self) -> Estimate:
        """The ln Z that ``log_prob`` uses: exact, or the stored AIS estimate for the
        current parameters (ValueError when there is none)."""
        if self.log_z_is_exact:
            return self.log_z("exact")
        if self._stored_log_z is None or self._stored_log_z[0] != self._versions():
            raise ValueError(f"ln Z of this {self.n_sites} x {self.n_hidden} RBM is not "
                             "exact: call log_z(method='ais') for the current parameters "
                             "first")
        return self._stored_log_z[1]

    def _log_prob(self, x: torch.Tensor) -> torch.Tensor:
        v = x.to(self.dtype)
        if self.log_z_is_exact:
            return -self._free_energy(v) - self._exact_log_z()
        return -self._free_energy(v) - self.log_z_estimate().value

    # ------------------------------------------- marginals and conditionals
    def _hidden_log_weights(self, v: torch.Tensor, known: torch.Tensor, states):
        """ln of the unnormalized joint of each hidden state of ``states`` ``(S, m)``
        with the known visible values of each row, the other visible units summed
        ``(B, S)``: b.h + sum_known v_i (a_i + (W h)_i) + sum_other softplus(a_i +
        (W h)_i)."""
        field = states @ self.weight.T + self.visible_bias  # (S, n)
        shown = torch.where(known, v, torch.zeros_like(v))
        return (states @ self.hidden_bias + shown @ field.T
                + (~known).to(v.dtype) @ F.softplus(field).T)

    def _marginal_log_prob(self, x: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
        v = x.to(self.dtype)
        mask = known.expand(v.shape)
        parts = [torch.logsumexp(self._hidden_log_weights(v, mask, states), 1)
                 for states in _all_states(self.n_hidden, self.dtype, self.device,
                                           _HIDDEN_CHUNK)]
        return torch.logsumexp(torch.stack(parts), 0) - self._exact_log_z()

    def _conditional_sample(self, x, known, generator) -> torch.Tensor:
        """h from p(h | known visible values), then the unknown visible units given h:
        exact (every hidden state enumerated per row)."""
        v = x.to(self.dtype)
        states = torch.cat(list(_all_states(self.n_hidden, self.dtype, self.device)))
        log_w = self._hidden_log_weights(v, known, states)
        index = torch.multinomial(torch.softmax(log_w, 1), 1, generator=generator)[:, 0]
        visible = torch.sigmoid(states[index] @ self.weight.T + self.visible_bias)
        drawn = _bernoulli(visible, generator).long()
        return torch.where(known, x, drawn)

    def gibbs_conditional_sample(self, x, known, *, steps: int = 1000,
                                 generator: torch.Generator | None = None) -> torch.Tensor:
        """Inpainting by clamped block Gibbs: ``x`` kept where ``known`` (bool, the shape
        of ``x`` or ``(n_visible,)``), the other visible units started uniform at random
        and resampled ``steps`` times given h, with the known ones clamped. A Markov
        chain: approximate after finitely many steps, for any size (the exact
        :meth:`conditional_sample` needs at most :data:`MAX_ENUMERATED_HIDDEN` hidden
        units)."""
        x = self.validate_configurations(x)
        known = torch.as_tensor(known, device=self.device)
        if known.dtype != torch.bool or known.shape[-1] != self.n_sites:
            raise ValueError(f"known must be a bool mask (..., {self.n_sites}), got "
                             f"{known.dtype} of shape {tuple(known.shape)}")
        steps = check_count(steps, "steps")
        rng = self.random_stream(generator)
        flat = x.reshape(-1, self.n_sites)
        mask = known.expand(x.shape).reshape(-1, self.n_sites)
        with torch.no_grad():
            clamped = flat.to(self.dtype)
            noise = torch.rand(clamped.shape, generator=rng, dtype=self.dtype,
                               device=self.device) < 0.5
            v = torch.where(mask, clamped, noise.to(self.dtype))
            for _ in range(steps):
                v = torch.where(mask, clamped, self._gibbs(v, 1, rng))
        return v.long().reshape(x.shape)

    # ----------------------------------------------------------------- sampling
    def _gibbs(self, v: torch.Tensor, steps: int, generator) -> torch.Tensor:
        """``steps`` block-Gibbs sweeps (h | v, then v | h) from visible states ``v``."""
        for _ in range(steps):
            hidden = torch.sigmoid(v @ self.weight + self.hidden_bias)
            h = _bernoulli(hidden, generator)
            visible = torch.sigmoid(h @ self.weight.T + self.visible_bias)
            v = _bernoulli(visible, generator)
        return v

    def _sample(self, num: int, generator) -> torch.Tensor:
        dtype, device = self.dtype, self.device
        if self.n_hidden <= MAX_EXACT_SAMPLING and self.n_hidden <= self.n_sites:
            states = torch.cat(list(_all_states(self.n_hidden, dtype, device)))
            log_p_h = states @ self.hidden_bias + F.softplus(
                states @ self.weight.T + self.visible_bias).sum(-1)
            index = torch.multinomial(torch.softmax(log_p_h, 0), num, replacement=True,
                                      generator=generator)
            visible = torch.sigmoid(states[index] @ self.weight.T + self.visible_bias)
            return _bernoulli(visible, generator).long()
        if self.n_sites <= MAX_EXACT_SAMPLING:
            states = torch.cat(list(_all_states(self.n_sites, dtype, device)))
            index = torch.multinomial(torch.softmax(-self._free_energy(states), 0), num,
                                      replacement=True, generator=generator)
            return states[index].long()
        start = (torch.rand(num, self.n_sites, generator=generator, dtype=dtype,
                            device=device) < 0.5).to(dtype)
        return self._gibbs(start, self.gibbs_steps, generator).long()

    # ------------------------------------------------------------------ training
    def fit(self, data, *, method: str = "cd", cd_steps: int = 1, ais_chains: int = 32,
            ais_steps: int = 1000, **options):
        """Train on ``data`` with Adam on minibatches; ``method``:

        * ``"cd"``: contrastive divergence, ``cd_steps`` Gibbs steps from the data (CD-k);
        * ``"pcd"``: the same from persistent chains, one per minibatch row (PCD);
        * ``"exact"``: the exact likelihood gradient (ln Z enumerated and differentiated;
          only when ``log_z_is_exact``).

        The other options are those of :meth:`tnborn.mle_fit.MinibatchMLE.fit` (``lr``,
        ``batch_size``, ``epochs``, ``weight_decay``, ``test_data``, checkpoints...). The
        NLL records (and the validation NLL that picks the best epoch) need ln Z: exact
        where a layer can be enumerated; otherwise AIS after every epoch (``ais_chains``
        runs of ``ais_steps`` temperatures from the training data's base rate, outside the
        training time), a quick estimate that is noisier and biased low against a careful
        ``log_z("ais")`` run; score the final model with one."""
        if method not in ("cd", "pcd", "exact"):
            raise ValueError(f"method must be 'cd', 'pcd' or 'exact', got {method!r}")
        if method == "exact" and not self.log_z_is_exact:
            raise ValueError(f"method='exact' differentiates the exact ln Z, which needs a "
                             f"layer of at most {MAX_EXACT_LAYER} units; use 'cd' or 'pcd'")
        self.cd_steps = check_count(cd_steps, "cd_steps")
        self._fit_ais = (check_count(ais_chains, "ais_chains"), check_count(ais_steps,
                                                                            "ais_steps"))
        self.method, self._chains = method, None
        return super().fit(data, **options)

    def _distributed_refusal(self, options: dict) -> str | None:
        return ("the RBM does not train data-parallel (its persistent chains and the "
                "per-epoch AIS belong to one process)")

    def _batch_loss(self, batch: torch.Tensor, generator) -> torch.Tensor:
        if self.method == "exact":
            return -self._log_prob(batch).mean()
        v = batch.to(self.dtype)
        persistent = self.method == "pcd"
        with torch.no_grad():
            if persistent:
                if self._chains is None or self._chains.shape[0] != v.shape[0]:
                    self._chains = v.clone()
                start = self._chains
            else:
                start = v
            negative = self._gibbs(start, self.cd_steps, generator)
            if persistent:
                self._chains = negative
        return self._free_energy(v).mean() - self._free_energy(negative).mean()

    def _after_pass(self, data: torch.Tensor, generator) -> None:
        if not self.log_z_is_exact:
            chains, steps = self._fit_ais
            self.log_z("ais", chains=chains, steps=steps, generator=generator,
                       base_data=data)

    def _mean_nll(self, data: torch.Tensor, chunk: int = 4096) -> float:
        with torch.no_grad():
            log_z = self.log_z_estimate().value
            total = sum(float(self._free_energy(data[i:i + chunk].to(self.dtype)).sum())
                        for i in range(0, data.shape[0], chunk))
        return total / data.shape[0] + log_z

    # ------------------------------------------------------------------ saving
    def _config(self) -> dict:
        return {"n_visible": self.n_sites, "n_hidden": self.n_hidden,
                "init_scale": self.init_scale, "gibbs_steps": self.gibbs_steps,
                "dtype": str(self.dtype).replace("torch.", ""), "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"n_visible": self.n_sites, "n_hidden": self.n_hidden,
                "exact_sampling": self.exact_sampling}

