"""The 3D Ising study of the HAN seed talk: <|m|>, E, F and S per site against beta on
an L^3 periodic cube, a variationally trained 3D HAN beside a Wolff reference.

Reference (:func:`ising3d_reference`): :func:`tnborn.physics.ising_monte_carlo` at every
point of a grid from ``grid_step`` up to the largest beta (the study's betas added to
it), then :func:`tnborn.physics.thermodynamic_integration` of its energies for f and s.

Network (:func:`ising3d_study`): a Z2-symmetric 3D HAN trained at each beta in turn by
:func:`tnborn.physics.train_variational` (the first from scratch with beta annealed,
every later one starting from the previous beta's parameters, as the HAN papers
pretrain), then the variational and importance-sampled F with ESS
(:func:`tnborn.physics.free_energy`) and neural MCMC E and <|m|> with tau_int
(:func:`tnborn.physics.neural_mcmc`). Per site throughout. ``checkpoint``: a JSON file
of the finished betas (network points and reference); a rerun with the same settings
resumes after them (the model of the last finished beta is kept beside it, the same
name with suffix ``.pt``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path

import torch
from tqdm.auto import tqdm

from .checks import check_count, check_positive, check_seed
from .estimate import Estimate
from .study_checkpoint import read_checkpoint, write_checkpoint

__all__ = ["ising3d_reference", "ising3d_study", "ising3d_table", "ising3d_figure",
           "ising3d_checks"]


def _check_betas(betas) -> list[float]:
    from .physics.thermodynamic_integration import check_betas
    betas = check_betas(betas)
    if not betas or betas[0] <= 0:
        raise ValueError(f"betas must be a non-empty increasing list of values > 0, got {betas}")
    return betas


def _grid(betas: list[float], step: float) -> list[float]:
    count = math.ceil(max(betas) / step - 1e-9)
    return sorted({round(step * k, 10) for k in range(1, count + 1)} | set(betas))


def ising3d_reference(L: int, betas, *, grid_step: float = 0.01, sweeps: int = 4000,
                      chains: int = 4, seed: int = 0, progress: bool = True) -> dict:
    """Wolff observables at each beta of ``betas`` and f, s per site by thermodynamic
    integration over the grid (module docstring). Returns ``{"grid", "points"}``: per
    beta of ``betas`` a dict of ``beta``, ``energy``, ``abs_magnetization``,
    ``specific_heat``, ``susceptibility``, ``binder``, ``free_energy``, ``entropy``
    (:class:`tnborn.Estimate` as plain dicts) and ``tau_int``."""
    from .physics import ising_monte_carlo, thermodynamic_integration

    betas = _check_betas(betas)
    grid_step = check_positive(grid_step, "grid_step")
    grid = _grid(betas, grid_step)
    runs = {}
    for k, beta in enumerate(tqdm(grid, desc="Wolff reference", disable=not progress,
                                  leave=False)):
        runs[beta] = ising_monte_carlo(L, beta, dim=3, sweeps=sweeps, chains=chains,
                                       seed=check_seed(seed) + k)
    integrated = thermodynamic_integration(grid, [runs[b]["energy"] for b in grid])
    where = {b: j for j, b in enumerate(integrated["betas"])}
    points = []
    for beta in betas:
        run, j = runs[beta], where[beta]
        point = {name: run[name].as_dict() for name in (
            "energy", "abs_magnetization", "specific_heat", "susceptibility", "binder")}
        point.update(beta=beta, tau_int=run["tau_int"],
                     free_energy=integrated["free_energy_per_site"][j].as_dict(),
                     entropy=integrated["entropy_per_site"][j].as_dict())
        points.append(point)
    return {"grid": grid, "points": points}


def _network_point(model, hamiltonian, beta: float, *, steps: int, batch_size: int, lr: float,
                   anneal, samples: int, mcmc_steps: int, seed: int) -> dict:
    from .physics import free_energy, neural_mcmc, train_variational

    start = time.perf_counter()
    history = train_variational(model, hamiltonian, beta, steps=steps, batch_size=batch_size,
                                lr=lr, beta_anneal=anneal, progress=False,
                                generator=torch.Generator().manual_seed(seed))
    trained = time.perf_counter() - start
    n = model.n_sites
    fe = free_energy(model, hamiltonian, beta, num=samples,
                     generator=torch.Generator().manual_seed(seed + 1))
    chain = neural_mcmc(model, hamiltonian, beta, steps=mcmc_steps, chains=100,
                        generator=torch.Generator().manual_seed(seed + 2))
    return {
        "beta": beta, "steps": steps, "train_seconds": trained,
        "seconds": time.perf_counter() - start, "final_loss": history[-1]["free_energy"] / n,
        "f_variational": fe["F_variational_per_site"],
        "f_variational_err": fe["F_variational_err"] / n,
        "f_importance": fe["F_importance_per_site"],
        "f_importance_err": fe["F_importance_err"] / n,
        "ess": fe["ess"], "importance_reliable": fe["reliable"],
        "energy_importance": fe["energy"] / n, "energy_importance_err": fe["energy_err"] / n,
        "entropy_importance": fe["entropy"] / n,
        "entropy_importance_err": fe["entropy_err"] / n,
        "energy_mcmc": chain["energy"] / n, "energy_mcmc_err": chain["energy_err"] / n,
        "abs_m_mcmc": chain["magnetization"], "abs_m_mcmc_err": chain["magnetization_err"],
        "acceptance": chain["acceptance"], "tau_int": chain["tau_int"],
        "tau_int_magnetization": chain["tau_int_magnetization"],
        "mcmc_reliable": chain["reliable"],
    }


def ising3d_study(L: int, betas, *, hidden: int = 32, steps: int = 2000,
                  later_steps: int | None = None, batch_size: int = 1000, lr: float = 1e-3,
                  anneal: float | None = 0.998, samples: int = 100_000,
                  mcmc_steps: int = 1000, grid_step: float = 0.01, mc_sweeps: int = 4000,
                  seed: int = 0, progress: bool = True, checkpoint=None) -> dict:
    """The study of the module docstring at each of ``betas`` (strictly increasing).

    ``steps`` Adam steps (``lr``, ``batch_size``) at the first beta, with beta annealed as
    beta (1 - anneal^t) (None: no annealing), ``later_steps`` (default steps / 2) at
    every later beta from the previous parameters. Returns ``{"L", "settings",
    "network": [per beta], "reference": ising3d_reference(...)}``.
    """
    from .arnn import HAN
    from .physics import Ising3D

    betas = _check_betas(betas)
    steps, samples = check_count(steps, "steps"), check_count(samples, "samples")
    later_steps = steps // 2 if later_steps is None else check_count(later_steps, "later_steps")
    settings = {"L": L, "betas": betas, "hidden": hidden, "steps": steps,
                "later_steps": later_steps, "batch_size": batch_size, "lr": lr,
                "anneal": anneal, "samples": samples, "mcmc_steps": mcmc_steps,
                "grid_step": grid_step, "mc_sweeps": mc_sweeps, "seed": seed}
    saved = read_checkpoint(checkpoint, settings, "3D Ising study")
    model = HAN(L, dim=3, hidden=hidden, seed=seed)
    model.z2_symmetric = True
    hamiltonian = Ising3D(L)
    network = list(saved.get("network", []))
    if network:
        from .base import load
        model = load(Path(checkpoint).with_suffix(".pt"))
    reference = saved.get("reference")
    if reference is None:
        reference = ising3d_reference(L, betas, grid_step=grid_step, sweeps=mc_sweeps,
                                      seed=seed, progress=progress)
        _save(checkpoint, settings, network, model, reference)
    for k in tqdm(range(len(network), len(betas)), desc="3D HAN", disable=not progress,
                  leave=False):
        first = k == 0
        network.append(_network_point(
            model, hamiltonian, betas[k], steps=steps if first else later_steps,
            batch_size=batch_size, lr=lr, anneal=anneal if first else None,
            samples=samples, mcmc_steps=mcmc_steps, seed=seed + 10 * k))
        _save(checkpoint, settings, network, model, reference)
    return {"L": L, "settings": settings, "network": network, "reference": reference,
            "params": model.num_parameters}


def _save(checkpoint, settings, network, model, reference) -> None:
    if checkpoint is None:
        return
    model.save(Path(checkpoint).with_suffix(".pt"))
    write_checkpoint(checkpoint, {"settings": settings, "network": network,
                                  "reference": reference})


def _sigmas(value: float, error: float, reference: Estimate) -> float:
    spread = math.hypot(error, reference.stderr)
    return (value - reference.value) / spread if spread > 0 else math.nan


def ising3d_table(result: dict) -> list[str]:
    """Markdown rows per beta: f (TI) against variational and importance-sampled f
    (relative errors), E and <|m|> of neural MCMC against Wolff (in combined standard
    errors), ESS, acceptance and tau_int."""
    lines = ["| beta | f TI | f variational (rel.) | f importance (rel.) | E Wolff | "
             "E NMCMC (sigma) | abs m Wolff | abs m NMCMC (sigma) | ESS | acc. | tau_int |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for net, ref in zip(result["network"], result["reference"]["points"]):
        f, e = Estimate.from_dict(ref["free_energy"]), Estimate.from_dict(ref["energy"])
        m = Estimate.from_dict(ref["abs_magnetization"])
        e_gap = _sigmas(net["energy_mcmc"], net["energy_mcmc_err"], e)
        m_gap = _sigmas(net["abs_m_mcmc"], net["abs_m_mcmc_err"], m)
        lines.append(
            f"| {net['beta']:g} | {f.value:.5f} +- {f.stderr:.1e} | "
            f"{net['f_variational']:.5f} ({net['f_variational'] / f.value - 1:+.1e}) | "
            f"{net['f_importance']:.5f} ({net['f_importance'] / f.value - 1:+.1e}) | "
            f"{e.value:.4f} +- {e.stderr:.4f} | {net['energy_mcmc']:.4f} ({e_gap:+.1f}) | "
            f"{m.value:.4f} +- {m.stderr:.4f} | {net['abs_m_mcmc']:.4f} ({m_gap:+.1f}) | "
            f"{net['ess']:.3f} | {net['acceptance']:.3f} | {net['tau_int']:.1f} |")
    return lines


def ising3d_checks(result: dict, betas, tolerance: float) -> list[str]:
    """The acceptance lines at ``betas``: NMCMC E and <|m|> within 3 sigma of Wolff and
    |f variational / f TI - 1| <= ``tolerance``; each line ends in "ok" or "FAILS"."""
    lines = []
    for net, ref in zip(result["network"], result["reference"]["points"]):
        if not any(abs(net["beta"] - b) < 1e-9 for b in betas):
            continue
        f, e = Estimate.from_dict(ref["free_energy"]), Estimate.from_dict(ref["energy"])
        m = Estimate.from_dict(ref["abs_magnetization"])
        gaps = (_sigmas(net["energy_mcmc"], net["energy_mcmc_err"], e),
                _sigmas(net["abs_m_mcmc"], net["abs_m_mcmc_err"], m))
        relative = net["f_variational"] / f.value - 1
        ok = all(abs(g) <= 3 for g in gaps) and abs(relative) <= tolerance
        lines.append(f"L = {result['L']}, beta = {net['beta']:g}: E {gaps[0]:+.2f} sigma, "
                     f"abs m {gaps[1]:+.2f} sigma, f variational {relative:+.2e} "
                     f"(accept <= {tolerance:g}): {'ok' if ok else 'FAILS'}")
    return lines


def ising3d_figure(result: dict, path):
    """<|m|>, E, F and S per site against beta: Wolff / TI beside the network (F as the
    network's excess over the thermodynamic-integration reference)."""
    from .plotting import panel_plot

    net, refs = result["network"], result["reference"]["points"]
    betas = [p["beta"] for p in net]
    ref = {name: ([r[name]["value"] for r in refs], [r[name]["stderr"] for r in refs])
           for name in ("abs_magnetization", "energy", "free_energy", "entropy")}
    panels = {
        "<|m|>": {"Wolff": (betas, *ref["abs_magnetization"], "curve"),
                  "HAN, neural MCMC": (betas, [p["abs_m_mcmc"] for p in net],
                                       [p["abs_m_mcmc_err"] for p in net], "points")},
        "E / N": {"Wolff": (betas, *ref["energy"], "curve"),
                  "HAN, neural MCMC": (betas, [p["energy_mcmc"] for p in net],
                                       [p["energy_mcmc_err"] for p in net], "points")},
        "(F - F_TI) / N": {
            "Wolff + TI (its error)": (betas, [0.0] * len(betas), ref["free_energy"][1],
                                       "curve"),
            "HAN, variational": (betas, [p["f_variational"] - f for p, f in
                                         zip(net, ref["free_energy"][0])], None, "points"),
            "HAN, importance": (betas, [p["f_importance"] - f for p, f in
                                        zip(net, ref["free_energy"][0])],
                                [p["f_importance_err"] for p in net], "points")},
        "S / N": {"Wolff + TI": (betas, *ref["entropy"], "curve"),
                  "HAN, importance": (betas, [p["entropy_importance"] for p in net],
                                      [p["entropy_importance_err"] for p in net], "points")},
    }
    return panel_plot(panels, path, xlabel="beta",
                      title=f"3D Ising, L = {result['L']}: Wolff against a 3D HAN")
