"""MADE: masked autoencoder for distribution estimation (Germain et al. 2015).

A dense network whose weight matrices are multiplied by fixed 0/1 masks so that the
output logits of site i see only the inputs of sites < i (natural site order)::

    inputs (degree i+1 for site i) --M0--> hidden (degree m_k) --M1--> ... --Mout--> logits
    M0[k, input of site i]  = [m_k >= i + 1]
    M[k', k]                = [m_k' >= m_k]          (hidden -> hidden)
    Mout[logits of site i, k] = [i + 1 > m_k]        (strictly greater)

Hidden degrees spread 1 .. n-1 evenly in ascending order, m_k = 1 + floor(k (n-1) / hidden)
(deterministic; with hidden >= n-1 every degree occurs, as when cycling through 1 .. n-1;
with fewer units the degrees still span the sites). Every hidden layer uses the same
degrees, so a residual connection h + f(h) keeps the masks exact.
Site 0 has output degree 1, which no hidden unit is below: its logits are the output
bias only. This is the network of the variational autoregressive network (VAN, Wu, Wang
and Zhang 2019) trained on spin models in :mod:`tnborn.physics`.

Input encoding: for a binary alphabet the spin s = 2x - 1 itself (one input per site);
otherwise a one-hot code (local_dim inputs per site). Either way the masks act per site.

Sampling is n sequential steps, but the whole draw costs about one forward pass: a hidden
unit of degree k is final once site k-1 is drawn, so every unit is computed once (units
of degree i at step i, a contiguous slice as degrees are sorted) and cached, and step i
applies only site i's output rows to the cached final units.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..backend import resolve_real
from ..checks import check_int
from .base import AutoregressiveModel


class MADE(AutoregressiveModel):
    """Masked autoencoder for distribution estimation in the natural site order.

    Parameters
    ----------
    n_sites, local_dim : number of sites and alphabet size.
    hidden : units per hidden layer.
    depth : number of masked hidden layers (>= 1); the output layer comes on top.
    residual : add skip connections h + tanh(W h + b) between hidden layers.
    dtype, device : float32/float64, torch device.
    seed : seed of the initial parameters and of the model's own random stream
        (minibatch order, samples); None: drawn from torch's global RNG.

    The activation is tanh. Weights and biases start uniform in +-1/sqrt(fan-in), where
    fan-in counts the unmasked inputs of each unit.
    """

    def __init__(self, n_sites: int, local_dim: int = 2, *, hidden: int = 64,
                 depth: int = 2, residual: bool = False, dtype=torch.float64,
                 device=None, seed: int | None = None):
        super().__init__(n_sites, local_dim)
        self.binary_input = self.local_dim == 2
        self._build(1 if self.binary_input else self.local_dim, self.local_dim, hidden=hidden,
                    depth=depth, residual=residual, dtype=dtype, device=device, seed=seed)

    def _build(self, in_width: int, out_width: int, *, hidden, depth, residual, dtype,
               device, seed) -> None:
        """The masked layers for ``in_width`` inputs and ``out_width`` outputs per site."""
        self.hidden = check_int(hidden, "hidden", 1)
        self.depth = check_int(depth, "depth", 1)
        if not isinstance(residual, bool):
            raise ValueError(f"residual must be True or False, got {residual!r}")
        self.residual = residual
        dtype, device = resolve_real(dtype, device)
        generator = self._start_rng(seed)
        n, h = self.n_sites, self.hidden
        self._in_width, self._out_width = in_width, out_width

        # degrees: input/output of site i -> i + 1; hidden -> 1..n-1 spread evenly and
        # sorted (for hidden a multiple of n-1, each degree hidden/(n-1) times)
        site_degree = torch.arange(1, n + 1)
        in_degree = site_degree.repeat_interleave(in_width)
        hidden_degree = torch.arange(h) * max(n - 1, 1) // h + 1
        out_degree = site_degree.repeat_interleave(out_width)
        masks = [(hidden_degree[:, None] >= in_degree[None, :])]
        masks += [(hidden_degree[:, None] >= hidden_degree[None, :])] * (self.depth - 1)
        masks.append(out_degree[:, None] > hidden_degree[None, :])
        # number of hidden units that site i may use: degree <= i
        self._prefix = torch.searchsorted(hidden_degree, site_degree, right=False).tolist()

        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for layer, mask in enumerate(masks):
            mask = mask.to(dtype)
            fan_in = mask.sum(1, keepdim=True).clamp_min(1)
            bound = 1.0 / fan_in.sqrt()
            weight = (torch.rand(mask.shape, generator=generator, dtype=dtype) * 2 - 1) * bound
            bias = (torch.rand(mask.shape[0], generator=generator, dtype=dtype) * 2 - 1) \
                * bound[:, 0]
            self.weights.append(torch.nn.Parameter((weight * mask).to(device)))
            self.biases.append(torch.nn.Parameter(bias.to(device)))
            self.register_buffer(f"mask{layer}", mask.to(device), persistent=False)

    # ------------------------------------------------------------------ network
    def _config(self) -> dict:
        return {"n_sites": self.n_sites, "local_dim": self.local_dim,
                **self._trunk_config()}

    def _trunk_config(self) -> dict:
        """The constructor keywords of the masked layers."""
        return {"hidden": self.hidden, "depth": self.depth, "residual": self.residual,
                "dtype": str(self.weights[0].dtype).replace("torch.", ""),
                "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"n_sites": self.n_sites, "support": self.support, "hidden": self.hidden,
                "depth": self.depth, "residual": self.residual}

    def _masked_weights(self) -> list[torch.Tensor]:
        return [w * getattr(self, f"mask{k}") for k, w in enumerate(self.weights)]

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """Network input of configurations ``(B, n)``: spins (binary) or one-hot."""
        dtype = self.weights[0].dtype
        if self.binary_input:
            return (2 * x - 1).to(dtype)
        return F.one_hot(x, self.local_dim).to(dtype).flatten(1)

    def _network(self, inputs: torch.Tensor) -> torch.Tensor:
        """Outputs ``(B, n, out_width)`` (the logits of a discrete model) of the encoded
        (float) inputs ``(B, n_in)``."""
        weights = self._masked_weights()
        h = torch.tanh(F.linear(inputs, weights[0], self.biases[0]))
        for w, b in zip(weights[1:-1], self.biases[1:-1]):
            step = torch.tanh(F.linear(h, w, b))
            h = h + step if self.residual else step
        out = F.linear(h, weights[-1], self.biases[-1])
        return out.view(inputs.shape[0], self.n_sites, self._out_width)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self._network(self._encode(x))

    # ----------------------------------------------------------------- sampling
    def _sample_from(self, x: torch.Tensor, start: torch.Tensor, generator) -> torch.Tensor:
        """Exact sequential sampling of sites ``>= start[b]`` (earlier ones kept).

        A hidden unit of degree k depends only on sites < k, so once site k-1 is drawn
        its value is final. The activations of every layer are cached and each unit is
        computed once, when it becomes final; site i then needs only its own output rows
        applied to the final units (degree <= i). The whole draw costs about one forward
        pass of arithmetic, spread over n small steps.
        """
        batch, n, d = x.shape[0], self.n_sites, self._out_width
        per_site = self._in_width
        dtype = self.weights[0].dtype
        uniform = torch.rand(batch, n, generator=generator, device=x.device,
                             dtype=torch.float64).to(dtype)
        first, last_start = int(start.min()), int(start.max())
        with torch.no_grad():
            weights = self._masked_weights()
            biases = list(self.biases)
            inputs = self._encode(x)  # (B, n_in), updated site by site
            cache = [torch.empty(batch, self.hidden, dtype=dtype, device=x.device)
                     for _ in range(self.depth)]
            w_out = weights[-1].view(n, d, -1)
            b_out = biases[-1].view(n, d)
            done = 0  # hidden units (a prefix, degrees sorted) already computed
            for i in range(first, n):
                target = self._prefix[i]
                if target > done:
                    new = slice(done, target)
                    h = torch.tanh(F.linear(inputs[:, :i * per_site],
                                            weights[0][new, :i * per_site], biases[0][new]))
                    cache[0][:, new] = h
                    for layer in range(1, self.depth):
                        step = torch.tanh(F.linear(cache[layer - 1][:, :target],
                                                   weights[layer][new, :target],
                                                   biases[layer][new]))
                        cache[layer][:, new] = cache[layer - 1][:, new] + step \
                            if self.residual else step
                    done = target
                if target == 0:
                    logits = b_out[i].expand(batch, d)
                else:
                    logits = F.linear(cache[-1][:, :target], w_out[i, :, :target], b_out[i])
                drawn = self._draw(logits, uniform[:, i], generator)
                if i < last_start:
                    drawn = torch.where(start <= i, drawn, x[:, i])
                x[:, i] = drawn
                if i < n - 1:
                    inputs[:, i * per_site:(i + 1) * per_site] = self._encode_values(drawn)
        return x

__all__ = ["MADE"]
