"""PixelCNN3D: masked 3D convolutions in raster order, the baseline of 3D lattices.

Sites of an L1 x L2 x L3 box in row-major order (site ``(a * L2 + b) * L3 + c``, as
:class:`tnborn.physics.Ising3D`). Every convolution is k x k x k with zero padding and a
fixed 0/1 mask on its kernel: a tap (da, db, dc) relative to the centre is kept when it
comes earlier in raster order, i.e. (da, db, dc) < (0, 0, 0) lexicographically; type A
(first layer) drops the centre, type B (later layers) keeps it::

    slice da = -1        slice da = 0 (type A)      slice da = +1
      1 1 1                1 1 1                       0 0 0
      1 1 1                1 0 0                       0 0 0
      1 1 1                0 0 0                       0 0 0

so the output at site q depends on sites before q only. Input: one channel holding the
spin s = 2x - 1 (binary) or a one-hot code; tanh activations, residual type-B layers
(h + tanh(conv(h))), a final 1 x 1 x 1 layer to the logits.

Sampling is n sequential steps, each O(1) in the box size: every activation at site q
depends only on sites before q (and q itself in type-B layers), so it is final once
those are drawn. The sampler keeps each layer's activations in a zero-padded box,
flattened (``(B, P1 P2 P3, C)``, P_a = L_a + k - 1), where a kernel tap is a fixed flat
offset, and at step q computes only site q's activation in every layer from the
unmasked taps around it in the layer below.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

from ..backend import resolve_real
from ..checks import check_int
from .base import AutoregressiveModel
from .pixelcnn import _check_kernel, output_layer

__all__ = ["PixelCNN3D"]


def _kernel_mask_3d(kernel: int, include_centre: bool) -> torch.Tensor:
    """(k, k, k) bool mask of the taps before the centre in raster order (and the centre
    for type B)."""
    half = kernel // 2
    offsets = torch.arange(kernel) - half
    da, db, dc = torch.meshgrid(offsets, offsets, offsets, indexing="ij")
    before = (da < 0) | ((da == 0) & (db < 0)) | ((da == 0) & (db == 0) & (dc < 0))
    if include_centre:
        before |= (da == 0) & (db == 0) & (dc == 0)
    return before


def _check_box(shape) -> tuple[int, int, int]:
    if isinstance(shape, (tuple, list, torch.Size)) and len(shape) == 3:
        return tuple(check_int(side, "side", 1) for side in shape)
    if isinstance(shape, int) and not isinstance(shape, bool):
        return (check_int(shape, "L", 1),) * 3
    raise ValueError(f"shape must be a side or three sides (L1, L2, L3), got {shape!r}")


class PixelCNN3D(AutoregressiveModel):
    """Masked 3D convolutional autoregressive network on an L1 x L2 x L3 box.

    Parameters
    ----------
    shape : a side L (a cube) or three sides.
    local_dim : alphabet size (2: spins).
    channels, layers, kernel : width, number of masked convolutions (>= 1) and their odd
        kernel size.
    residual : residual type-B layers.
    dtype, device, seed : as the other networks.
    """

    def __init__(self, shape=4, local_dim: int = 2, *, channels: int = 16, layers: int = 3,
                 kernel: int = 3, residual: bool = True, dtype=torch.float64, device=None,
                 seed: int | None = None):
        self.shape = _check_box(shape)
        super().__init__(self.shape[0] * self.shape[1] * self.shape[2], local_dim)
        self.channels = check_int(channels, "channels", 1)
        self.layers = check_int(layers, "layers", 1)
        self.kernel = _check_kernel(kernel, "kernel")
        if not isinstance(residual, bool):
            raise ValueError(f"residual must be True or False, got {residual!r}")
        self.residual = residual
        dtype, device = resolve_real(dtype, device)
        generator = self._start_rng(seed)
        self.binary_input = self.local_dim == 2
        c, k = self.channels, self.kernel
        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for layer in range(self.layers):
            c_in = (1 if self.binary_input else self.local_dim) if layer == 0 else c
            tap_mask = _kernel_mask_3d(k, include_centre=layer > 0)
            mask = tap_mask.to(dtype).expand(c, c_in, k, k, k).contiguous()
            bound = 1.0 / max(int(tap_mask.sum()) * c_in, 1) ** 0.5
            weight = (torch.rand(c, c_in, k, k, k, generator=generator, dtype=dtype) * 2 - 1) \
                * bound * mask
            bias = (torch.rand(c, generator=generator, dtype=dtype) * 2 - 1) * bound
            self.weights.append(torch.nn.Parameter(weight.to(device)))
            self.biases.append(torch.nn.Parameter(bias.to(device)))
            self.register_buffer(f"mask{layer}", mask.to(device), persistent=False)
        output_layer(self, self.local_dim, c, generator, dtype, device)

    def _config(self) -> dict:
        return {"shape": list(self.shape), "local_dim": self.local_dim,
                "channels": self.channels, "layers": self.layers, "kernel": self.kernel,
                "residual": self.residual,
                "dtype": str(self.out_weight.dtype).replace("torch.", ""), "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"shape": "x".join(map(str, self.shape)), "support": self.support,
                "channels": self.channels, "layers": self.layers, "kernel": self.kernel}

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """Network input ``(B, C_in, L1, L2, L3)``: spin channel (binary) or one-hot."""
        dtype = self.out_weight.dtype
        box = x.view(x.shape[0], *self.shape)
        if self.binary_input:
            return (2 * box - 1).to(dtype)[:, None]
        return F.one_hot(box, self.local_dim).to(dtype).permute(0, 4, 1, 2, 3)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        h = self._encode(x)
        half = self.kernel // 2
        for layer, weight in enumerate(self.weights):
            step = torch.tanh(F.conv3d(h, weight * getattr(self, f"mask{layer}"),
                                       self.biases[layer], padding=half))
            h = h + step if layer > 0 and self.residual else step
        out = torch.einsum("bcxyz,dc->bxyzd", h, self.out_weight) + self.out_bias
        return out.reshape(x.shape[0], self.n_sites, self.local_dim)

    # ----------------------------------------------------------------- sampling
    def _padded_taps(self, layer: int) -> tuple[torch.Tensor, torch.Tensor]:
        """Flat offsets ``(T,)`` of the unmasked taps of ``layer`` in the padded box and
        their weights as one matrix ``(C_out, T * C_in)`` (tap-major)."""
        k, half = self.kernel, self.kernel // 2
        _, p2, p3 = (side + 2 * half for side in self.shape)
        mask = _kernel_mask_3d(k, include_centre=layer > 0)
        taps = mask.nonzero()  # (T, 3) kernel indices, raster order
        offsets = ((taps[:, 0] - half) * p2 + (taps[:, 1] - half)) * p3 + taps[:, 2] - half
        weight = self.weights[layer][:, :, taps[:, 0], taps[:, 1], taps[:, 2]]
        return (offsets.to(weight.device),
                weight.permute(0, 2, 1).reshape(weight.shape[0], -1))

    def _sample_from(self, x: torch.Tensor, start: torch.Tensor, generator) -> torch.Tensor:
        """Exact raster-order sampling of sites ``>= start[b]`` (earlier ones kept), with
        the same uniforms as the generic loop (module docstring)."""
        batch, dtype, half = x.shape[0], self.out_weight.dtype, self.kernel // 2
        uniform = torch.rand(batch, self.n_sites, generator=generator, device=x.device,
                             dtype=torch.float64).to(dtype)
        padded = tuple(side + 2 * half for side in self.shape)
        index = torch.arange(padded[0] * padded[1] * padded[2], device=x.device).view(padded)
        interior = index[half:half + self.shape[0], half:half + self.shape[1],
                         half:half + self.shape[2]].reshape(-1).tolist()
        first, last_start = int(start.min()), int(start.max())
        with torch.no_grad():
            taps = [self._padded_taps(layer) for layer in range(self.layers)]
            encoded = self._encode(x).flatten(2).transpose(1, 2)  # (B, n, C_in)
            caches = [encoded.new_zeros(batch, index.numel(), encoded.shape[2])]
            caches[0][:, interior] = encoded
            caches += [encoded.new_zeros(batch, index.numel(), self.channels)
                       for _ in range(self.layers)]
            for site, q in enumerate(interior):
                for layer, (offsets, weight) in enumerate(taps):
                    window = caches[layer][:, q + offsets].flatten(1)
                    value = torch.tanh(F.linear(window, weight, self.biases[layer]))
                    if layer > 0 and self.residual:
                        value = value + caches[layer][:, q]
                    caches[layer + 1][:, q] = value
                if site < first:
                    continue
                logits = F.linear(caches[-1][:, q], self.out_weight, self.out_bias)
                drawn = self._draw(logits, uniform[:, site], generator)
                if site < last_start:
                    drawn = torch.where(start <= site, drawn, x[:, site])
                x[:, site] = drawn
                caches[0][:, q] = self._encode_values(drawn).to(dtype)
        return x
