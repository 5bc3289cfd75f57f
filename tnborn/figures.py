"""Figures of models: inpainting rows, NLL curves and entanglement, as PNGs.

Builds on :mod:`tnborn.plotting`; also holds the small image helpers they need (the
image shape of a model, masks that hide half an image).
"""

from __future__ import annotations

from pathlib import Path

import torch

from .base import GenerativeModel
from .catalog import HIDE_CHOICES
from .plotting import bar_plot, line_plot, scatter_plot
from .presets import check_image_shape

KNOWN_SHAPES = {784: (28, 28), 64: (8, 8), 16: (4, 4)}
HIDDEN_GREY = 0.5  # value drawn for hidden pixels


def image_shape(model: GenerativeModel) -> tuple[int, int]:
    """``(H, W)`` to draw configurations of ``model`` as images: the model's own grid
    (PixelCNN ``shape``, TTN 2D ``layout``, HAN ``L``), else 28x28, 8x8 or 4x4 for 784,
    64 or 16 sites, else one row."""
    for grid in (getattr(model, "shape", None), getattr(model, "layout", None)):
        if isinstance(grid, tuple):
            return check_image_shape(grid, model.n_sites)
    if isinstance(getattr(model, "L", None), int):
        return check_image_shape((model.L, model.L), model.n_sites)
    return KNOWN_SHAPES.get(model.n_sites, (1, model.n_sites))


def known_mask(shape, hide: str) -> torch.Tensor:
    """Bool ``(H * W,)``: False on the hidden half (``hide``: lower, upper, left or right;
    an odd side leaves the middle line known), True elsewhere."""
    if hide not in HIDE_CHOICES:
        raise ValueError(f"hide must be one of {', '.join(HIDE_CHOICES)}, got {hide!r}")
    height, width = shape
    known = torch.ones(height, width, dtype=torch.bool)
    if hide == "lower":
        known[height - height // 2:] = False
    elif hide == "upper":
        known[:height // 2] = False
    elif hide == "left":
        known[:, :width // 2] = False
    else:
        known[:, width - width // 2:] = False
    return known.reshape(-1)


def check_inpaintable(model: GenerativeModel, known: torch.Tensor) -> None:
    """ValueError unless ``model`` can sample exactly given ``known`` (bool ``(n_sites,)``,
    ``model.conditional_is_exact``): autoregressive networks need the known sites to come
    first in their site order."""
    if not model.conditional_is_exact(known):
        raise ValueError(f"{type(model).__name__} cannot sample exactly given these known "
                         "pixels: an autoregressive net samples its sites in a fixed order, "
                         "so it can only restore a part that comes last in that order (for "
                         "raster order: hide the lower half); Born machines restore any part")


def inpainting_rows(model: GenerativeModel, images: torch.Tensor, known: torch.Tensor, *,
                    restorations: int = 3, generator: torch.Generator | None = None,
                    hidden: str = "hidden") -> tuple[torch.Tensor, list[str]]:
    """Rows of a figure: ``images`` ``(B, n)``, their masked copies (hidden sites grey)
    and ``restorations`` draws of ``model.conditional_sample`` each; returns the stacked
    float tensor ``((2 + restorations) B, n)`` and one label per row."""
    check_inpaintable(model, known)
    masked = torch.where(known, images.double(), HIDDEN_GREY)
    restored = model.conditional_sample(images.repeat(restorations, 1), known,
                                        generator=generator)
    rows = torch.cat([images.double(), masked, restored.double().cpu()])
    labels = ["original", hidden] + [f"restored {i + 1}" for i in range(restorations)]
    return rows, labels


def nll_figure(history: list[dict], path, *, title="Negative log-likelihood") -> Path:
    """Train (and test, when recorded) NLL against the sweep/epoch number, as PNG."""
    steps = [record["step"] for record in history]
    series = {"train": [record["train_nll"] for record in history]}
    if all("test_nll" in record for record in history):
        series["test"] = [record["test_nll"] for record in history]
    return line_plot(steps, series, path, xlabel="sweep / epoch", ylabel="NLL (nats)",
                     title=title)


def entanglement_figure(entropy, bonds, path, *, title="Entanglement") -> Path:
    """Entanglement entropy (a tensor aligned with ``bonds``, see ``model.bonds``) as PNG:
    bars per bond for a chain (bond k cuts sites 0..k), otherwise against the number of
    sites each bond cuts off (a tree)."""
    values = torch.as_tensor(entropy).detach().cpu()
    if all(bond.sites == tuple(range(bond.index + 1)) for bond in bonds):
        return bar_plot(values, path, xlabel="bond", ylabel="von Neumann entropy (nats)",
                        title=title)
    return scatter_plot([len(bond.sites) for bond in bonds], values.tolist(), path,
                        xlabel="sites below the edge", ylabel="von Neumann entropy (nats)",
                        title=title, logx=True)
