"""PixelCNN: masked 2-D convolutions in raster order (van den Oord et al. 2016).

Sites are the pixels of an H x W image in row-major order (site r*W + c). Every
convolution is k x k with zero padding and a fixed 0/1 mask on its kernel::

    type A (first layer)      type B (later layers)      (k = 5; 1 = kept)
      1 1 1 1 1                 1 1 1 1 1
      1 1 1 1 1                 1 1 1 1 1
      1 1 0 0 0                 1 1 1 0 0
      0 0 0 0 0                 0 0 0 0 0
      0 0 0 0 0                 0 0 0 0 0

Type A drops the centre, so a first-layer unit at pixel p sees only pixels before p;
type B keeps it, so later layers never widen the view past p. A final 1x1 layer maps
the channels of each pixel to its ``local_dim`` logits. The receptive field of pixel p
lies strictly in its raster past (it is the usual PixelCNN cone, with a blind spot in
the upper right that larger/deeper kernels shrink). Pixel (0, 0) sees only biases.

Input: for a binary alphabet one channel holding the spin s = 2x - 1; otherwise a
one-hot code (local_dim channels). Activation tanh; with ``residual`` every type-B layer
adds its input, h + tanh(conv(h)).

Sampling is H*W sequential steps, each O(1) in the image size: every activation at
pixel q depends only on pixels before q, so it is final once those are drawn. The
sampler caches each layer's activations (zero-padded, channels last) and at step q
computes only pixel q's activation in every layer, from the unmasked taps of its
neighbourhood in the layer below.
"""

from __future__ import annotations

import numbers

import torch
import torch.nn.functional as F

from ..backend import resolve_real
from ..checks import check_int
from .base import AutoregressiveModel


def _check_shape(shape) -> tuple[int, int]:
    if isinstance(shape, torch.Size):
        shape = tuple(shape)
    if not isinstance(shape, (tuple, list)) or len(shape) != 2 or not all(
            isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 1
            for s in shape):
        raise ValueError(f"shape must be a pair of positive integers (H, W), got {shape!r}")
    return int(shape[0]), int(shape[1])


def _check_kernel(kernel, name: str) -> int:
    if isinstance(kernel, bool) or not isinstance(kernel, numbers.Integral) \
            or kernel < 1 or kernel % 2 == 0:
        raise ValueError(f"{name} must be an odd integer >= 1, got {kernel!r}")
    return int(kernel)


def _kernel_mask(kernel: int, include_centre: bool) -> torch.Tensor:
    """(k, k) bool mask: rows above the centre, and the centre row left of the centre
    (plus the centre itself for type B)."""
    half = kernel // 2
    mask = torch.zeros(kernel, kernel, dtype=torch.bool)
    mask[:half] = True
    mask[half, :half + (1 if include_centre else 0)] = True
    return mask


def output_layer(model: torch.nn.Module, d: int, c: int, generator, dtype, device) -> None:
    """The final 1 x 1 layer ``out_weight (d, c)``, ``out_bias (d,)`` of ``model``,
    uniform in +-1/sqrt(c)."""
    bound = 1.0 / c ** 0.5
    model.out_weight = torch.nn.Parameter(
        ((torch.rand(d, c, generator=generator, dtype=dtype) * 2 - 1) * bound).to(device))
    model.out_bias = torch.nn.Parameter(
        ((torch.rand(d, generator=generator, dtype=dtype) * 2 - 1) * bound).to(device))


class _MaskedConv(torch.autograd.Function):
    """Masked convolution as a sum over its unmasked taps, batch last.

    ``x``: ``(C_in, H * Wp, B)``, image rows padded to Wp = W + 2 half columns (the
    padded columns are ignored: treated as zero). The input is copied into a zero
    buffer with ``half`` padded rows on top and a margin of ``half`` in front; then a
    tap at flat offset ``o`` reads the contiguous column block shifted by ``o * B``, so
    the convolution is one ``(C_out, C_in) @ (C_in, H Wp B)`` GEMM per tap, and so is
    each gradient. (``torch.conv2d`` in float64 on a CPU is ~5x slower here.)
    Output: ``(C_out, H * Wp, B)``; its padded columns hold junk.
    """

    @staticmethod
    def forward(ctx, x, tap_weights, bias, geometry):
        height, width, half, offsets = geometry
        c_in, length, batch = x.shape
        wp = width + 2 * half
        start = half + half * wp  # flat position of interior row 0, padded column 0
        padded = x.new_zeros(c_in, start + length, batch)
        interior = padded[:, start:].view(c_in, height, wp, batch)
        interior[:, :, half:half + width] = x.view(c_in, height, wp, batch)[
            :, :, half:half + width]
        flat = padded.view(c_in, -1)
        out = bias[:, None].expand(bias.shape[0], length * batch).contiguous()
        for t, offset in enumerate(offsets):
            first = (start + offset) * batch
            out.addmm_(tap_weights[t], flat[:, first:first + length * batch])
        ctx.save_for_backward(padded, tap_weights)
        ctx.geometry = geometry
        return out.view(-1, length, batch)

    @staticmethod
    def backward(ctx, grad):
        padded, tap_weights = ctx.saved_tensors
        height, width, half, offsets = ctx.geometry
        c_in, total, batch = padded.shape
        wp = width + 2 * half
        start = half + half * wp
        length = total - start
        grad = grad.reshape(grad.shape[0], length * batch)
        flat = padded.view(c_in, -1)
        grad_x = grad_w = grad_b = None
        if ctx.needs_input_grad[0]:
            grad_padded = padded.new_zeros(c_in, total * batch)
            for t, offset in enumerate(offsets):
                first = (start + offset) * batch
                grad_padded[:, first:first + length * batch].addmm_(tap_weights[t].t(), grad)
            grad_x = grad_padded.view(c_in, total, batch)[:, start:]
            rows = grad_x.view(c_in, height, wp, batch)
            rows[:, :, :half] = 0
            rows[:, :, half + width:] = 0
        if ctx.needs_input_grad[1]:
            grad_w = torch.zeros_like(tap_weights)
            for t, offset in enumerate(offsets):
                first = (start + offset) * batch
                torch.mm(grad, flat[:, first:first + length * batch].t(), out=grad_w[t])
        if ctx.needs_input_grad[2]:
            grad_b = grad.sum(1)
        return grad_x, grad_w, grad_b, None


class PixelCNN(AutoregressiveModel):
    """Masked-convolution autoregressive network over an ``H x W`` image.

    Parameters
    ----------
    shape : (H, W); ``n_sites = H * W``, sites row-major.
    local_dim : alphabet size.
    channels : channels of every masked convolution.
    layers : number of masked k x k convolutions (one type A, then ``layers - 1``
        type B), followed by a 1x1 output layer.
    kernel : odd kernel size k >= 1 of the type-B layers (and of the first layer unless
        ``first_kernel`` is given; k = 1 there gives a model that ignores all context).
    first_kernel : odd kernel size of the type-A first layer (None: ``kernel``). With
        ``first_kernel >= 2 max(H, W) - 1`` every pixel's first-layer units see its whole
        raster past (one GEMM over image patches, so a wide first layer is cheap).
    residual : skip connections h + tanh(conv(h)) around the type-B layers.
    dtype, device : float32/float64, torch device.
    seed : seed of the initial parameters and of the model's own random stream
        (minibatch order, samples); None: drawn from torch's global RNG.
    """

    def __init__(self, shape=(8, 8), local_dim: int = 2, *, channels: int = 16,
                 layers: int = 3, kernel: int = 3, first_kernel: int | None = None,
                 residual: bool = True, dtype=torch.float64, device=None,
                 seed: int | None = None):
        height, width = _check_shape(shape)
        super().__init__(height * width, local_dim)
        self.binary_input = self.local_dim == 2
        self._build((height, width), 1 if self.binary_input else self.local_dim,
                    self.local_dim, channels=channels, layers=layers, kernel=kernel,
                    first_kernel=first_kernel, residual=residual, dtype=dtype, device=device,
                    seed=seed)

    def _build(self, shape, in_channels: int, out_width: int, *, channels, layers, kernel,
               first_kernel, residual, dtype, device, seed) -> None:
        """The masked convolutions for ``in_channels`` input channels and ``out_width``
        outputs per pixel."""
        self.shape = shape
        self.channels = check_int(channels, "channels", 1)
        self.layers = check_int(layers, "layers", 1)
        self.kernel = _check_kernel(kernel, "kernel")
        self.first_kernel = self.kernel if first_kernel is None else _check_kernel(
            first_kernel, "first_kernel")
        if not isinstance(residual, bool):
            raise ValueError(f"residual must be True or False, got {residual!r}")
        self.residual = residual
        dtype, device = resolve_real(dtype, device)
        generator = self._start_rng(seed)
        d, c = out_width, self.channels
        self.in_channels, self._out_width = in_channels, out_width

        self.weights = torch.nn.ParameterList()
        self.biases = torch.nn.ParameterList()
        for layer in range(self.layers):
            c_in = self.in_channels if layer == 0 else c
            k = self._kernel_of(layer)
            tap_mask = _kernel_mask(k, include_centre=layer > 0)
            mask = tap_mask.to(dtype).expand(c, c_in, k, k).contiguous()
            bound = 1.0 / max(int(tap_mask.sum()) * c_in, 1) ** 0.5
            weight = (torch.rand(c, c_in, k, k, generator=generator, dtype=dtype) * 2 - 1) \
                * bound * mask
            bias = (torch.rand(c, generator=generator, dtype=dtype) * 2 - 1) * bound
            self.weights.append(torch.nn.Parameter(weight.to(device)))
            self.biases.append(torch.nn.Parameter(bias.to(device)))
            self.register_buffer(f"mask{layer}", mask.to(device), persistent=False)
        output_layer(self, d, c, generator, dtype, device)

    # ------------------------------------------------------------------ network
    def _config(self) -> dict:
        return {"shape": list(self.shape), "local_dim": self.local_dim,
                **self._trunk_config()}

    def _trunk_config(self) -> dict:
        """The constructor keywords of the convolutions."""
        return {"channels": self.channels, "layers": self.layers, "kernel": self.kernel,
                "first_kernel": self.first_kernel, "residual": self.residual,
                "dtype": str(self.out_weight.dtype).replace("torch.", ""),
                "seed": self.seed}

    def _repr_fields(self) -> dict:
        return {"shape": f"{self.shape[0]}x{self.shape[1]}", "support": self.support,
                "channels": self.channels, "layers": self.layers, "kernel": self.kernel,
                "first_kernel": self.first_kernel}

    def _kernel_of(self, layer: int) -> int:
        return self.first_kernel if layer == 0 else self.kernel

    def _cache_half(self, layer: int) -> int:
        """Zero padding of the activations that layer ``layer`` reads (the output layer,
        ``layer == self.layers``, reads single pixels: none)."""
        return self._kernel_of(layer) // 2 if layer < self.layers else 0

    def _masked_weights(self) -> list[torch.Tensor]:
        return [w * getattr(self, f"mask{k}") for k, w in enumerate(self.weights)]

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        """Network input ``(B, C_in, H, W)``: spin channel (binary) or one-hot."""
        dtype = self.out_weight.dtype
        image = x.view(x.shape[0], *self.shape)
        if self.binary_input:
            return (2 * image - 1).to(dtype)[:, None]
        return F.one_hot(image, self.local_dim).to(dtype).permute(0, 3, 1, 2)

    def _taps(self, layer: int) -> tuple[list[tuple[int, int]], torch.Tensor]:
        """Unmasked taps (row, col) of a type-B layer's kernel and their weights
        (T, C_out, C_in)."""
        k, half = self.kernel, self.kernel // 2
        taps = [(a, b) for a in range(half) for b in range(k)]
        taps += [(half, b) for b in range(half + 1)]
        weight = self.weights[layer]
        if not taps:
            return taps, weight.new_zeros(0, weight.shape[0], weight.shape[1])
        rows = torch.tensor([t[0] for t in taps], device=weight.device)
        cols = torch.tensor([t[1] for t in taps], device=weight.device)
        return taps, weight.permute(2, 3, 0, 1)[rows, cols]

    def _first_layer(self, inputs: torch.Tensor) -> torch.Tensor:
        """Type-A layer as one GEMM over image patches: ``(B, C_in, H, W)`` ->
        activations ``(B, C, H * W)``. Each patch spans the ``k // 2`` rows above a pixel
        and its own row, ``k`` columns; masked taps have zero weight."""
        k, half = self.first_kernel, self.first_kernel // 2
        padded = F.pad(inputs, (half, half, half, 0))
        patches = F.unfold(padded, (half + 1, k))  # (B, C_in * (half + 1) * k, H * W)
        weight = (self.weights[0] * self.mask0)[:, :, :half + 1, :].reshape(self.channels, -1)
        return torch.tanh(torch.matmul(weight, patches) + self.biases[0][:, None])

    def _network(self, inputs: torch.Tensor) -> torch.Tensor:
        """Outputs ``(B, n_sites, out_width)`` (a discrete model's logits) of encoded
        float inputs ``(B, C_in, H, W)``.

        After the first layer, activations are ``(C, H * Wp, B)`` with every row padded
        to Wp = W + 2 (k // 2) columns (see :class:`_MaskedConv`).
        """
        batch, (height, width) = inputs.shape[0], self.shape
        half = self._cache_half(1)
        wp = width + 2 * half
        h = self._first_layer(inputs).permute(1, 2, 0).reshape(self.channels, height, width,
                                                                 batch)
        h = F.pad(h, (0, 0, half, half)).reshape(self.channels, height * wp, batch)
        for layer in range(1, self.layers):
            taps, tap_weights = self._taps(layer)
            offsets = tuple((a - half) * wp + (b - half) for a, b in taps)
            step = torch.tanh(_MaskedConv.apply(h, tap_weights, self.biases[layer],
                                                (height, width, half, offsets)))
            h = h + step if self.residual else step
        out = torch.addmm(self.out_bias[:, None], self.out_weight, h.reshape(self.channels, -1))
        out = out.view(self._out_width, height, wp, batch)[:, :, half:half + width]
        return out.permute(3, 1, 2, 0).reshape(batch, self.n_sites, self._out_width)

    def _logits(self, x: torch.Tensor) -> torch.Tensor:
        return self._network(self._encode(x))

    # ----------------------------------------------------------------- sampling
    def _sample_from(self, x: torch.Tensor, start: torch.Tensor, generator) -> torch.Tensor:
        """Exact raster-order sampling of sites ``>= start[b]`` (earlier ones kept).

        Caches of every layer's activations, channels last and zero padded by k//2 (the
        padding stays zero, as in the convolutions); at pixel q each layer computes only
        its activation at q from the unmasked taps around q in the layer below (all at
        pixels before q, or q itself for type B, hence already final).
        """
        batch, (height, width) = x.shape[0], self.shape
        dtype = self.out_weight.dtype
        uniform = torch.rand(batch, self.n_sites, generator=generator, device=x.device,
                             dtype=torch.float64).to(dtype)
        first, last_start = int(start.min()), int(start.max())
        halves = [self._cache_half(layer) for layer in range(self.layers + 1)]
        with torch.no_grad():
            # taps above the centre row (half x k) and left of / at the centre
            tap_weights = []
            for layer, w in enumerate(self._masked_weights()):
                half = halves[layer]
                above = w[:, :, :half, :].permute(0, 2, 3, 1).reshape(w.shape[0], -1)
                row = w[:, :, half, :half + (layer > 0)].permute(0, 2, 1).reshape(
                    w.shape[0], -1)
                tap_weights.append(torch.cat([above, row], 1))
            # cache l (read by layer l) is zero padded by that layer's half kernel
            caches = [F.pad(self._encode(x).permute(0, 2, 3, 1),
                            (0, 0, halves[0], halves[0], halves[0], 0)).contiguous()]
            caches += [torch.zeros(batch, height + half, width + 2 * half, self.channels,
                                   dtype=dtype, device=x.device) for half in halves[1:]]
            biases = list(self.biases)
            for site in range(self.n_sites):
                r, c = divmod(site, width)
                for layer in range(self.layers):
                    below, half = caches[layer], halves[layer]
                    pr, pc = r + half, c + half  # position in the padded cache
                    taps = [below[:, r:pr, c:c + 2 * half + 1].flatten(1)] if half else []
                    taps.append(below[:, pr, c:pc + (layer > 0)].flatten(1))
                    window = torch.cat(taps, 1) if len(taps) > 1 else taps[0]
                    value = torch.tanh(F.linear(window, tap_weights[layer], biases[layer]))
                    if layer > 0 and self.residual:
                        value = value + below[:, pr, pc]
                    above = halves[layer + 1]
                    caches[layer + 1][:, r + above, c + above] = value
                if site < first:
                    continue
                logits = F.linear(caches[-1][:, r, c], self.out_weight, self.out_bias)
                drawn = self._draw(logits, uniform[:, site], generator)
                if site < last_start:
                    drawn = torch.where(start <= site, drawn, x[:, site])
                x[:, site] = drawn
                caches[0][:, r + halves[0], c + halves[0]] = self._encode_values(drawn)
        return x


__all__ = ["PixelCNN"]
