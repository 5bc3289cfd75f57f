"""`tnborn action`: the double-well action learned from Monte Carlo paths at two
temperatures and predicted at a third (arXiv:2405.10493, the talk "Building interactions
with deep autoregressive networks").

For beta_1 and beta_2: paths from :func:`tnborn.datasets.double_well_paths`; a
continuous MADE with Gaussian-mixture conditionals fitted by maximum likelihood on
``copies`` random symmetry images of every training path per epoch
(:func:`tnborn.datasets.path_symmetry_copies`: cyclic shifts, time reversal, x -> -x;
:func:`tnborn.augmented_fit.fit_on_images`, learning rate 1e-3 stepped down); the
learned action S_theta = -ln p_theta against the true one on held-out paths
(:func:`tnborn.physics.compare_actions`), both for the model itself and for its group
average over the symmetry images ``average`` (an exact mixture density, see
:func:`symmetrized_action`). At beta_3: the interpolated action
(:func:`tnborn.physics.interpolate_action`) against the true one on direct Monte Carlo
paths, and Monte Carlo with the interpolated action (:func:`tnborn.physics.
action_monte_carlo`) against direct Monte Carlo (:func:`tnborn.physics.
path_monte_carlo`): <x^2>, <|x|> and the kink count.
"""

from __future__ import annotations

import math
import time

import torch

from .arnn import ContinuousMADE
from .augmented_fit import fit_on_images
from .catalog import ACTION_DEFAULTS
from .checks import check_beta, check_count, check_int, check_seed
from .datasets import double_well_paths, path_symmetry_copies
from .physics import (DoubleWellPath, action_monte_carlo, compare_actions, interpolate_action,
                      learned_action, path_monte_carlo)
from .plotting import panel_plot
from .supports import Real

__all__ = ["action_study", "symmetrized_action", "action_summary", "action_figure",
           "ACTION_DEFAULTS"]

MAX_DATA_CHAINS = 256
FIGURE_POINTS = 1000


def symmetrized_action(model, shifts: int = 16):
    """S(x) = -ln[(1 / 2k) sum_{j < k, s = +-1} p_theta(s T^(j n / k) x)], T the cyclic
    shift, k = ``shifts``: -ln of the model averaged over k evenly spaced time shifts
    and the sign flip. Each image is a volume-preserving bijection of the paths, so the
    average is itself a normalized density, exact and with the symmetries of the true
    action (for k = n all the shifts). A callable on paths ``(..., n)``."""
    shifts = check_count(shifts, "shifts")
    n = model.n_sites
    if n % shifts:
        raise ValueError(f"shifts must divide n_tau = {n}, got {shifts}")
    base = learned_action(model)

    def action(x) -> torch.Tensor:
        x = Real().validate(x, n, name="paths")
        images = [base(sign * torch.roll(x, j * (n // shifts), -1))
                  for j in range(shifts) for sign in (1.0, -1.0)]
        return -(torch.logsumexp(-torch.stack(images), 0) - math.log(len(images)))
    return action


def _data_chains(num: int) -> int:
    """Chains of a data set of ``num`` paths: one per 100 paths, 16 to 256."""
    return min(MAX_DATA_CHAINS, max(16, num // 100))


def _pairs(learned, true, paths) -> dict:
    """Up to FIGURE_POINTS (true, learned) action values for the figure."""
    x = paths[:FIGURE_POINTS]
    with torch.no_grad():
        return {"true": true(x).tolist(), "learned": learned(x).tolist()}


def _observables(mc: dict) -> dict:
    return {key: mc[key].as_dict() for key in ("x2", "abs_x", "kinks")} | {
        "acceptance_metropolis": mc["acceptance_metropolis"],
        "acceptance_hmc": mc["acceptance_hmc"]}


def action_study(*, n_tau: int = 64, betas=(20.0, 40.0), predict: float = 30.0,
                 paths: int = 30_000, test_paths: int = 5_000, copies: int = 8,
                 epochs: int = 12, hidden: int = 256, components: int = 4, average: int = 16,
                 mc_chains: int = 64, mc_sweeps: int = 800, mc_burn_in: int = 200,
                 data_thin: int | None = None, seed: int = 0,
                 progress: bool = True) -> dict:
    """The study of the module docstring (defaults :data:`ACTION_DEFAULTS`);
    ``data_thin``: sweeps between the recorded data paths (None: ceil(2 tau_int) of a
    pilot run, see :func:`tnborn.datasets.double_well_paths`).

    Returns ``learned`` (one dict per beta: ``beta``, ``nll`` history,
    ``compare`` and ``compare_symmetrized`` (:func:`compare_actions`), ``figure``
    pairs, ``seconds``), ``prediction`` (``beta``, ``compare``,
    ``compare_symmetrized``, ``figure``, ``mc_direct`` and ``mc_predicted``
    (observables as :meth:`Estimate.as_dict`), ``seconds``) and ``settings``.
    """
    n_tau = check_int(n_tau, "n_tau", 2)
    beta_1, beta_2 = (check_beta(b) for b in betas)
    beta_3 = check_beta(predict)
    if beta_1 == beta_2:
        raise ValueError(f"the prediction needs two different betas, got {beta_1} twice")
    paths, test_paths = check_count(paths, "paths"), check_int(test_paths, "test_paths", 3)
    seed = check_seed(seed)
    settings = {"n_tau": n_tau, "betas": [beta_1, beta_2], "predict": beta_3, "paths": paths,
                "test_paths": test_paths, "copies": copies, "epochs": epochs,
                "hidden": hidden, "components": components, "average": average,
                "mc_chains": mc_chains, "mc_sweeps": mc_sweeps, "mc_burn_in": mc_burn_in,
                "data_thin": data_thin, "seed": seed}
    learned, actions = [], []
    for k, beta in enumerate((beta_1, beta_2)):
        start = time.perf_counter()
        data = double_well_paths(n_tau, beta, paths + test_paths, seed=seed + k,
                                 chains=_data_chains(paths + test_paths), thin=data_thin)
        train, test = data[:paths], data[paths:]
        model = ContinuousMADE(n_tau, support=Real(), family="gaussian",
                               components=components, hidden=hidden, seed=seed + k)
        history = fit_on_images(
            model, train, lambda x, g: path_symmetry_copies(x, copies, generator=g),
            epochs=epochs, test=test, seed=seed + k, progress=progress,
            desc=f"fit at beta = {beta:g}")
        true = DoubleWellPath(n_tau, beta).action
        symmetric = symmetrized_action(model, average)
        actions.append((learned_action(model), symmetric))
        learned.append({"beta": beta, "nll": history,
                        "compare": compare_actions(actions[-1][0], true, test),
                        "compare_symmetrized": compare_actions(symmetric, true, test),
                        "figure": _pairs(symmetric, true, test),
                        "seconds": time.perf_counter() - start})
    start = time.perf_counter()
    target = DoubleWellPath(n_tau, beta_3)
    held_out = double_well_paths(n_tau, beta_3, test_paths, seed=seed + 2,
                                 chains=_data_chains(test_paths), thin=data_thin)
    plain, symmetric = (interpolate_action(actions[0][j], beta_1, actions[1][j], beta_2, beta_3)
                        for j in range(2))
    mc_direct = path_monte_carlo(target, chains=mc_chains, sweeps=mc_sweeps,
                                 burn_in=mc_burn_in, seed=seed + 3)
    mc_predicted = action_monte_carlo(plain, n_tau, chains=mc_chains, sweeps=mc_sweeps,
                                      burn_in=mc_burn_in, seed=seed + 4,
                                      step=math.sqrt(target.a / target.m))
    prediction = {"beta": beta_3,
                  "compare": compare_actions(plain, target.action, held_out),
                  "compare_symmetrized": compare_actions(symmetric, target.action, held_out),
                  "figure": _pairs(symmetric, target.action, held_out),
                  "mc_direct": _observables(mc_direct),
                  "mc_predicted": _observables(mc_predicted),
                  "seconds": time.perf_counter() - start}
    return {"learned": learned, "prediction": prediction, "settings": settings}


def action_summary(result: dict) -> list[str]:
    """Lines of an :func:`action_study` result: a Markdown table of R^2 and slope of each
    learned and the predicted action (plain and symmetrized), then each observable of
    Monte Carlo with the predicted action against direct Monte Carlo (difference in
    combined standard errors and in %)."""
    rows = [(f"learned, beta {r['beta']:g}", r) for r in result["learned"]]
    rows.append((f"predicted, beta {result['prediction']['beta']:g}", result["prediction"]))
    lines = ["| action | R^2 | slope | R^2 symmetrized | slope symmetrized |",
             "|---|---:|---:|---:|---:|"]
    for label, r in rows:
        plain, symmetric = r["compare"], r["compare_symmetrized"]
        lines.append(f"| {label} | {plain['r2']:.4f} | {plain['slope']:.4f} | "
                     f"{symmetric['r2']:.4f} | {symmetric['slope']:.4f} |")
    p = result["prediction"]
    for name in ("x2", "abs_x", "kinks"):
        direct, predicted = p["mc_direct"][name], p["mc_predicted"][name]
        gap = predicted["value"] - direct["value"]
        sigma = math.hypot(direct["stderr"], predicted["stderr"])
        lines.append(f"<{name}>: Monte Carlo with the predicted action "
                     f"{predicted['value']:.4f} +- {predicted['stderr']:.4f}, direct "
                     f"{direct['value']:.4f} +- {direct['stderr']:.4f}: "
                     f"{gap / sigma if sigma > 0 else math.nan:+.2f} sigma, "
                     f"{100 * gap / direct['value'] if direct['value'] else math.nan:+.2f} %")
    return lines


def action_figure(result: dict, path):
    """Learned (symmetrized, offset removed) against true action on held-out paths at
    beta_1, beta_2 and the predicted one at beta_3, with the line y = x."""
    panels = {}
    entries = [(r["beta"], r["figure"], r["compare_symmetrized"], "learned")
               for r in result["learned"]]
    p = result["prediction"]
    entries.append((p["beta"], p["figure"], p["compare_symmetrized"], "predicted"))
    for beta, pairs, fit, kind in entries:
        true = pairs["true"]
        shifted = [s - fit["offset"] for s in pairs["learned"]]
        line = [min(true), max(true)]
        panels[f"{kind} S, beta = {beta:g}"] = {
            f"R^2 {fit['r2']:.4f}, slope {fit['slope']:.3f}": (true, shifted, None, "points"),
            "y = x": (line, line, None, "line")}
    return panel_plot(panels, path, xlabel="true S_E",
                      title="Double-well actions learned from paths and predicted")
