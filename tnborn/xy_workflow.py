"""`tnborn xy`: continuous autoregressive networks on the 2D XY model against Monte
Carlo, over a range of temperatures, as the figures of Wang et al. (CAN, 2022).

For each temperature T: the Wolff + Metropolis reference
(:func:`tnborn.physics.xy_monte_carlo`); a CAN (``"can-made"`` or ``"can-pixelcnn"``)
trained variationally at beta = 1/T (:func:`tnborn.physics.train_variational`, beta
annealed over the first steps); then from model samples the variational free energy
and energy per site, and, with importance weights w = exp(-E / T) / q, the free energy,
energy, vortex density and helicity modulus per site with delta-method errors.
Returns the results as data; :func:`xy_figures` draws them.
"""

from __future__ import annotations

import time
from pathlib import Path

import torch

from .arnn import ContinuousMADE, ContinuousPixelCNN
from .catalog import XY_DEFAULTS, XY_MODELS
from .checks import check_int, check_positive
from .physics import (XY2D, free_energy, helicity_modulus, train_variational,
                      vortex_density, xy_monte_carlo)
from .physics.xy_observables import plaquette_windings
from .plotting import angle_fields, panel_plot

SAMPLE_BATCH = 5000


def build_can(kind: str, L: int, seed: int, first_kernel: int | None = None):
    """The preset CAN of ``kind`` for an L x L lattice (4 von Mises components);
    ``first_kernel``: the PixelCNN's first-layer kernel (None: ``2 L - 1``; its other
    layers have kernel 5). ``2 L - 1`` lets each site's first-layer units see its whole
    raster past, including the far ends of the bonds across the periodic boundary, which
    kernel 5 does not reach (their <cos> in samples at T = 1.3 on L = 8 was 0.26 to 0.29
    with kernel 5, against 0.53 to 0.55 inside; 0.48 with kernel 15)."""
    if kind == "can-made":
        return ContinuousMADE(L * L, components=4, hidden=128, seed=seed)
    if kind == "can-pixelcnn":
        return ContinuousPixelCNN((L, L), components=4, channels=16, layers=3, kernel=5,
                                  first_kernel=2 * L - 1 if first_kernel is None
                                  else first_kernel, seed=seed)
    raise ValueError(f"model must be one of {', '.join(XY_MODELS)}, got {kind!r}")


def xy_point(L: int, T: float, *, model: str = XY_DEFAULTS["model"],
             steps: int = XY_DEFAULTS["steps"], batch_size: int = XY_DEFAULTS["batch_size"],
             lr: float = XY_DEFAULTS["lr"], beta_anneal: float = XY_DEFAULTS["beta_anneal"],
             samples: int = XY_DEFAULTS["samples"], mc_sweeps: int = XY_DEFAULTS["mc_sweeps"],
             seed: int = 0, progress: bool = False, first_kernel: int | None = None,
             settle_steps: int | None = None, settle_lr: float | None = None) -> dict:
    """One temperature of the study (module docstring); every figure per site. The
    estimates use ``samples`` model samples, drawn in batches of 5,000 (rounded down to
    a multiple of it, at least one batch). ``first_kernel``: see :func:`build_can`;
    ``settle_steps``: after the annealed training, that many more steps at the target
    beta (None: ``steps // 2``) with the rate ``settle_lr`` (None: lr / 10). Also
    returns ``fields`` (the first 3 samples' angles) and ``windings``."""
    L = check_int(L, "L", 2)
    beta = 1.0 / check_positive(T, "T")
    steps = check_int(steps, "steps", 1)
    settle_steps = steps // 2 if settle_steps is None else check_int(settle_steps,
                                                                     "settle_steps", 0)
    settle_lr = lr / 10 if settle_lr is None else check_positive(settle_lr, "settle_lr")
    samples = max(SAMPLE_BATCH, check_int(samples, "samples", 1) // SAMPLE_BATCH
                  * SAMPLE_BATCH)
    lattice, n = XY2D(L), L * L
    start = time.perf_counter()
    mc = xy_monte_carlo(L, beta, sweeps=mc_sweeps, chains=16, seed=seed)
    mc_seconds = time.perf_counter() - start
    net = build_can(model, L, seed, first_kernel)
    start = time.perf_counter()
    train_variational(net, lattice, beta, steps=steps, batch_size=batch_size, lr=lr,
                      beta_anneal=beta_anneal, progress=progress, log_every=100)
    if settle_steps:
        train_variational(net, lattice, beta, steps=settle_steps, batch_size=batch_size,
                          lr=settle_lr, progress=progress, log_every=100)
    train_seconds = time.perf_counter() - start
    generator = torch.Generator().manual_seed(seed + 1)
    with torch.no_grad():
        draws = [net.sample_and_log_prob(SAMPLE_BATCH, generator=generator)
                 for _ in range(samples // SAMPLE_BATCH)]
    theta = torch.cat([x for x, _ in draws])
    log_q = torch.cat([q for _, q in draws]).double()
    energy = lattice.energy(theta)
    weights = torch.softmax(-beta * energy - log_q, 0)
    e_is = float(weights @ energy) / n
    free = free_energy(net, lattice, beta, num=samples, generator=generator)
    vortices = vortex_density(theta, L, weights=weights)
    helicity = helicity_modulus(theta, L, beta, weights=weights)
    return {
        "T": T, "L": L, "model": model, "steps": steps, "settle_steps": settle_steps,
        "settle_lr": settle_lr, "first_kernel": getattr(net, "first_kernel", None),
        "train_seconds": train_seconds,
        "mc_seconds": mc_seconds, "ess": free["ess"],
        "F_variational": free["F_variational"] / n,
        "F_importance": free["F_importance"] / n,
        "F_importance_err": free["F_importance_err"] / n,
        "energy_variational": float(energy.mean()) / n,
        "energy_importance": e_is,
        "energy_importance_err": float(((weights * (energy / n - e_is)) ** 2).sum().sqrt()),
        "energy_mc": mc["energy"].value, "energy_mc_err": mc["energy"].stderr,
        "vortex_importance": vortices.value, "vortex_importance_err": vortices.stderr,
        "vortex_variational": vortex_density(theta, L).value,
        "vortex_mc": mc["vortex_density"].value, "vortex_mc_err": mc["vortex_density"].stderr,
        "helicity_importance": helicity.value, "helicity_importance_err": helicity.stderr,
        "helicity_variational": helicity_modulus(theta, L, beta).value,
        "helicity_mc": mc["helicity"].value, "helicity_mc_err": mc["helicity"].stderr,
        "reliable": free["reliable"], "warnings": free["warnings"],
        "fields": theta[:3].reshape(3, L, L).tolist(),
        "windings": plaquette_windings(theta[:3], L).tolist(),
    }


XY_TABLE_HEADER = ("| T | E var | E IS | E MC | vortices IS | vortices MC | helicity IS | "
                   "helicity MC | ESS/N |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|")


def xy_table_row(r: dict) -> str:
    """One Markdown row of :data:`XY_TABLE_HEADER` from an :func:`xy_point` result."""
    return (f"| {r['T']:g} | {r['energy_variational']:.4f} | {r['energy_importance']:.4f} +- "
            f"{r['energy_importance_err']:.4f} | {r['energy_mc']:.4f} +- "
            f"{r['energy_mc_err']:.4f} | {r['vortex_importance']:.4f} +- "
            f"{r['vortex_importance_err']:.4f} | {r['vortex_mc']:.4f} +- "
            f"{r['vortex_mc_err']:.4f} | {r['helicity_importance']:.3f} +- "
            f"{r['helicity_importance_err']:.3f} | {r['helicity_mc']:.3f} +- "
            f"{r['helicity_mc_err']:.3f} | {r['ess']:.3f} |")


def xy_figures(points: list[dict], folder) -> dict[str, str]:
    """``xy.png`` (F, E, vortex density and helicity modulus per site against T: the
    network's variational and importance-sampled values beside Monte Carlo) and
    ``fields.png`` (3 sampled angle fields of the coldest point, vortices marked)."""
    folder = Path(folder)
    temps = [p["T"] for p in points]

    def series(key):
        return [p[key] for p in points]

    def curves(prefix):
        """The network's variational and importance-sampled values of one quantity, and
        the Monte Carlo one where the points have it."""
        out = {"variational": (temps, series(f"{prefix}_variational"), None, "curve"),
               "importance sampled": (temps, series(f"{prefix}_importance"),
                                      series(f"{prefix}_importance_err"), "points")}
        if f"{prefix}_mc" in points[0]:
            out["Monte Carlo"] = (temps, series(f"{prefix}_mc"), series(f"{prefix}_mc_err"),
                                  "line")
        return out

    panels = {label: curves(prefix) for label, prefix in (
        ("F per site", "F"), ("E per site", "energy"), ("vortex density", "vortex"),
        ("helicity modulus", "helicity"))}
    name = points[0]["model"]
    files = {"xy": panel_plot(panels, folder / "xy.png", xlabel="T",
                              title=f"{name} on the {points[0]['L']}x{points[0]['L']} XY "
                                    "model against Monte Carlo")}
    coldest = min(points, key=lambda p: p["T"])
    files["fields"] = angle_fields(coldest["fields"], coldest["windings"],
                                   folder / "fields.png",
                                   title=f"{name} samples at T = {coldest['T']:g}")
    return {key: str(path) for key, path in files.items()}
