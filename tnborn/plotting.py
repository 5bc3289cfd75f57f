"""Small matplotlib helpers (Agg backend, no display needed); every figure goes to a PNG
file, whose folder is created, and each function returns the path it wrote."""

from __future__ import annotations

import math
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402  (the backend must be chosen first)
import numpy as np  # noqa: E402

GAP = 1  # pixels of frame between two tiles of an image grid
TILE_INCHES = 0.9  # drawn size of one tile
MIN_TILE_PIXELS = 28  # smaller images are scaled up by a whole factor


def _save(fig, path) -> Path:
    """Write ``fig`` to ``path`` (creating its folder), close it and return the path."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120, bbox_inches="tight")
    plt.close(fig)
    return path


def _mosaic(images: np.ndarray, ncols: int) -> np.ndarray:
    """Tile images ``(N, h, w)`` into one array, NaN in the gaps and unused tiles."""
    n, h, w = images.shape
    nrows = math.ceil(n / ncols)
    mosaic = np.full((nrows * (h + GAP) + GAP, ncols * (w + GAP) + GAP), np.nan)
    for i, image in enumerate(images):
        top = GAP + (i // ncols) * (h + GAP)
        left = GAP + (i % ncols) * (w + GAP)
        mosaic[top:top + h, left:left + w] = image
    return mosaic


def image_grid(images, shape, path, *, ncols=None, title=None, row_labels=None) -> Path:
    """Draw images as a grid and save it as a PNG; returns the path.

    ``images``: array-like ``(N, h * w)`` or ``(N, h, w)`` with values in [0, 1]
    (0 black, 1 white, 0.5 grey); ``shape``: ``(h, w)``; ``ncols``: tiles per row
    (about square when None); ``row_labels``: optional text left of each row.
    """
    images = np.asarray(images, dtype=float).reshape(-1, *shape)
    scale = max(1, MIN_TILE_PIXELS // max(shape))  # blow small images up, so the gaps stay thin
    images = images.repeat(scale, axis=1).repeat(scale, axis=2)
    ncols = ncols or math.ceil(math.sqrt(len(images)))
    mosaic = _mosaic(images, ncols)
    cmap = plt.get_cmap("gray").with_extremes(bad="lightsteelblue")
    nrows = math.ceil(len(images) / ncols)
    fig, ax = plt.subplots(figsize=(1 + TILE_INCHES * ncols, 0.5 + TILE_INCHES * nrows))
    ax.imshow(mosaic, cmap=cmap, vmin=0.0, vmax=1.0, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])
    if row_labels is not None:
        h = images.shape[1]
        ax.set_yticks([GAP + r * (h + GAP) + (h - 1) / 2 for r in range(len(row_labels))],
                      labels=row_labels)
        ax.tick_params(left=False)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def line_plot(x, series, path, *, xlabel, ylabel, title=None, logy: bool = False) -> Path:
    """Plot named curves ``series = {label: ys}`` against ``x`` (a logarithmic y axis with
    ``logy``) and save as PNG."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    for label, ys in series.items():
        ax.plot(x, ys, marker="o", label=label)
    if logy:
        ax.set_yscale("log")
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    ax.legend()
    if title:
        ax.set_title(title)
    return _save(fig, path)


def bar_plot(values, path, *, xlabel, ylabel, title=None) -> Path:
    """Bar chart of ``values`` against their index (starting at 1), saved as PNG."""
    values = np.asarray(values, dtype=float)
    fig, ax = plt.subplots(figsize=(6, 3.5))
    ax.bar(np.arange(1, len(values) + 1), values, width=1.0 if len(values) > 50 else 0.8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def scatter_plot(x, y, path, *, xlabel, ylabel, title=None, logx=False) -> Path:
    """Points ``(x, y)`` saved as PNG (log-scaled x when ``logx``)."""
    fig, ax = plt.subplots(figsize=(5, 3.5))
    ax.scatter(x, y, s=10)
    if logx:
        ax.set_xscale("log", base=2)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title:
        ax.set_title(title)
    return _save(fig, path)


def panel_plot(panels, path, *, xlabel, title=None, logx: bool = False,
               logy=()) -> Path:
    """A row of panels; ``panels = {ylabel: {label: (x, y, yerr, style)}}`` where style
    is "line" (a thin black reference curve), "curve" (a coloured line through markers,
    with error bars when ``yerr`` is given), "points" (markers with error bars) or
    "band" (a line with a shaded band; ``yerr`` is then ``(low, high)`` or None).
    ``logx``: a logarithmic x axis; ``logy``: the ylabels of the panels drawn with a
    logarithmic y axis."""
    fig, axes = plt.subplots(1, len(panels), figsize=(3.6 * len(panels), 3.3))
    for ax, (ylabel, curves) in zip(np.atleast_1d(axes), panels.items()):
        for label, (x, y, yerr, style) in curves.items():
            if style == "line":
                ax.plot(x, y, label=label, color="black", linewidth=1)
            elif style == "curve":
                ax.errorbar(x, y, yerr=yerr, marker="o", markersize=3, capsize=2,
                            linewidth=1, label=label)
            elif style == "band":
                (line,) = ax.plot(x, y, linewidth=1, label=label)
                if yerr is not None:
                    ax.fill_between(x, yerr[0], yerr[1], color=line.get_color(), alpha=0.25,
                                    linewidth=0)
            else:
                ax.errorbar(x, y, yerr=yerr, fmt="o", markersize=4, capsize=2, label=label)
        if logx:
            ax.set_xscale("log")
        if ylabel in logy:
            ax.set_yscale("log")
        ax.set_xlabel(xlabel)
        ax.set_ylabel(ylabel)
        ax.legend(fontsize=7)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)


def heat_map(matrix, path, *, title=None, label=None) -> Path:
    """A matrix as a colour map with a colour bar, saved as PNG."""
    matrix = np.asarray(matrix, dtype=float)
    fig, ax = plt.subplots(figsize=(4.6, 4))
    limit = np.abs(matrix).max() or 1.0
    image = ax.imshow(matrix, cmap="RdBu_r", vmin=-limit, vmax=limit)
    fig.colorbar(image, ax=ax, label=label)
    ax.set_xlabel("site j")
    ax.set_ylabel("site i")
    if title:
        ax.set_title(title)
    return _save(fig, path)


def angle_fields(thetas, windings, path, *, title=None, labels=None) -> Path:
    """Angle configurations ``(B, L, L)`` as arrows on the lattice, one panel each, with
    the plaquette windings ``(B, L, L)`` (plaquette (r, c) between sites (r, c) and
    (r + 1, c + 1)) marked: +1 (vortex) red circles, -1 (antivortex) blue squares."""
    thetas, windings = np.asarray(thetas, dtype=float), np.asarray(windings)
    count, L = thetas.shape[0], thetas.shape[1]
    fig, axes = plt.subplots(1, count, figsize=(3.2 * count, 3.4))
    rows, cols = np.meshgrid(np.arange(L), np.arange(L), indexing="ij")
    for k, ax in enumerate(np.atleast_1d(axes)):
        ax.quiver(cols, rows, np.cos(thetas[k]), np.sin(thetas[k]), angles="xy",
                  pivot="middle", scale=1.3, scale_units="xy", width=0.006)
        for sign, style in ((1, dict(marker="o", color="tab:red")),
                            (-1, dict(marker="s", color="tab:blue"))):
            r, c = np.nonzero(windings[k] == sign)
            ax.scatter(c + 0.5, r + 0.5, s=40, zorder=3, **style,
                       label="vortex" if sign == 1 else "antivortex")
        ax.set_xlim(-0.7, L - 0.3)
        ax.set_ylim(L - 0.3, -0.7)
        ax.set_aspect("equal")
        ax.set_xticks([])
        ax.set_yticks([])
        if labels is not None:
            ax.set_title(labels[k], fontsize=9)
    np.atleast_1d(axes)[0].legend(fontsize=7, loc="lower left")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return _save(fig, path)
