"""A temperature scan of the 2D Ising model read from learned models
(:mod:`tnborn.physics.phases`): at each size L and temperature T, Wolff samples
(:func:`tnborn.datasets.ising_samples`) train a fresh model by maximum likelihood on
random lattice translations of them (an exact symmetry; :func:`tnborn.datasets.
lattice_translation_copies`); the model then gives

* its NLL per configuration on held-out samples;
* the learned couplings: least squares of its ln p over its own samples
  (:func:`tnborn.physics.learn_hamiltonian`) on the nearest-neighbour pairs (the
  mean and worst-bond beta J), and on the nearest plus next-nearest pairs (both
  means). At low T the two bond counts are nearly collinear over the samples (an
  isolated flipped spin breaks 4 bonds of each kind), so the joint fit amplifies the
  model's errors in ln p along their difference: it can split beta J between them
  while their sum stays close. The joint fit of the data alone by pseudo-likelihood
  (:func:`tnborn.physics.fit_couplings`, exact conditionals, no model) is given beside
  it;
* <|m|> and the Binder cumulant from its own (independent, exact) samples, beside the
  same figures of the training data;

and over the scan: T_c from the Binder crossing of the first two sizes (model and data)
and from the fit M_s(T) = M_s(0) (1 - T / T_c)^b to the model's <|m|> of the largest
size at the temperatures below that crossing. ``checkpoint``: a JSON file written after
every point; a rerun with the same settings resumes after the points it holds.
"""

from __future__ import annotations

import math
import time

import torch
from tqdm.auto import tqdm

from ..base import GenerativeModel
from ..checks import check_count, check_int, check_positive, check_seed
from ..augmented_fit import fit_on_images
from ..estimate import Estimate
from ..study_checkpoint import read_checkpoint, write_checkpoint
from ..supports import Discrete
from .graphs import lattice_pairs
from .learn import learn_hamiltonian
from .pseudolikelihood import fit_couplings
from .phases import (abs_magnetization, binder_crossing, binder_cumulant, check_temperatures,
                     fit_magnetization)

__all__ = ["phase_scan", "combine_scans", "default_scan_model", "hierarchical_scan_model",
           "SCAN_MODELS", "ONSAGER_TC"]

#: T_c / J of the square-lattice Ising model, 2 / ln(1 + sqrt 2)
ONSAGER_TC = 2 / math.log(1 + math.sqrt(2))


def default_scan_model(L: int, T: float, seed: int) -> GenerativeModel:
    """A Z2-symmetric MADE on the L x L lattice (hidden width 2 L^2, at least 128)."""
    from ..arnn import MADE
    model = MADE(L * L, hidden=max(128, 2 * L * L), seed=seed)
    model.z2_symmetric = True
    return model


def hierarchical_scan_model(L: int, T: float, seed: int) -> GenerativeModel:
    """A Z2-symmetric HAN on the periodic L x L lattice (hidden width 64, every level
    learned; L a power of two)."""
    from ..arnn import HAN
    model = HAN(L, hidden=64, seed=seed)
    model.z2_symmetric = True
    return model


#: the model factories of the scan by name (the ``--model`` choices of the CLI and benchmark)
SCAN_MODELS = {"made": default_scan_model, "han": hierarchical_scan_model}


def _couplings(fitted: dict, nearest: int) -> tuple[float, float, float]:
    """(mean nearest, mean next-nearest, max |next-nearest|) of a nearest-first fit."""
    pairs = fitted["pair_couplings"]
    rest = pairs[nearest:]
    return (float(pairs[:nearest].mean()), float(rest.mean()) if rest.numel() else 0.0,
            float(rest.abs().max()) if rest.numel() else 0.0)


def _point(L: int, T: float, *, J, num, test_fraction, make_model, epochs, lr, batch_size,
           copies, model_samples, seed) -> dict:
    from ..datasets import ising_samples, lattice_translation_copies
    start = time.perf_counter()
    data = ising_samples(L, 1.0 / T, num, seed=seed, J=J)
    tests = max(1, round(test_fraction * num))
    train, test = data[:-tests], data[-tests:]
    model = make_model(L, T, seed)
    if not isinstance(model, GenerativeModel):
        raise TypeError(f"the model factory must return a GenerativeModel, got "
                        f"{type(model).__name__}")
    if model.support != Discrete(2) or model.n_sites != L * L:
        raise ValueError(f"the model for L = {L} must be binary on {L * L} sites, got "
                         f"{model.support} on {model.n_sites}")
    fit_on_images(model, train, lambda x, g: lattice_translation_copies(x, L, copies,
                                                                         generator=g),
                  epochs=epochs, lr=lr, batch_size=batch_size, seed=seed)
    samples = model.sample(model_samples, generator=torch.Generator().manual_seed(seed))
    both, nearest = lattice_pairs(L), lattice_pairs(L, "nearest")
    alone = learn_hamiltonian(model, pairs=nearest, configurations=samples)
    joint = learn_hamiltonian(model, pairs=both, configurations=samples)
    beta_j = J / T
    beta_j_joint, next_nearest, next_max = _couplings(joint, nearest.shape[0])
    try:
        data_j, data_next, _ = _couplings(fit_couplings(train, both), nearest.shape[0])
    except ValueError:  # too few samples to determine every coupling
        data_j = data_next = None
    return {
        "L": L, "T": T, "beta_j_true": beta_j,
        "beta_j": float(alone["pair_couplings"].mean()),
        "beta_j_worst_error": float((alone["pair_couplings"] / beta_j - 1).abs().max()),
        "beta_j_with_next": beta_j_joint, "next_nearest": next_nearest,
        "next_nearest_max_abs": next_max,
        "field_max_abs": float(joint["fields"].abs().max()),
        "residual_rms": alone["residual_rms"], "residual_rms_with_next": joint["residual_rms"],
        "data_beta_j": data_j, "data_next_nearest": data_next,
        "test_nll": model.nll(test), "params": model.num_parameters,
        "abs_magnetization": abs_magnetization(samples).as_dict(),
        "binder": binder_cumulant(samples).as_dict(),
        "data_abs_magnetization": abs_magnetization(data).as_dict(),
        "data_binder": binder_cumulant(data).as_dict(),
        "seconds": time.perf_counter() - start,
    }


def phase_scan(temperatures, sizes=(8, 16), *, num: int = 20_000, test_fraction: float = 0.1,
               model=None, epochs: int = 15, lr: float = 1e-3, batch_size: int = 200,
               copies: int = 8, model_samples: int = 20_000, J: float = 1.0, seed: int = 0,
               progress: bool = True, checkpoint=None) -> dict:
    """The scan of the module docstring over ``sizes`` x ``temperatures``.

    Args:
        temperatures: at least 3, strictly increasing (in units of J).
        sizes: lattice sides, at least one; the Binder crossing needs two (the first two
            are compared).
        num: Wolff samples per point (``test_fraction`` of them held out for the NLL).
        model: None (:func:`default_scan_model`) or a callable ``(L, T, seed) ->``
            a fresh binary :class:`~tnborn.GenerativeModel` on L^2 sites.
        epochs, lr, batch_size, copies: the fit (:func:`tnborn.augmented_fit.
            fit_on_images`): ``epochs`` epochs, each on ``copies`` fresh random lattice
            translations of every training sample, the learning rate stepped down.
        model_samples: model samples per point for the couplings, <|m|> and U.
        J, seed: coupling and base seed (point k of the scan uses ``seed + k``).
        progress: a bar over the points.
        checkpoint: path of the JSON file of finished points (None: none).

    Returns:
        ``temperatures``, ``sizes``, ``points`` (a list per size of point dicts: ``L``,
        ``T``, ``beta_j_true``, ``beta_j`` (mean nearest-neighbour, nearest-only fit),
        ``beta_j_worst_error`` (relative, over the bonds), ``residual_rms``;
        ``beta_j_with_next``, ``next_nearest``, ``next_nearest_max_abs``,
        ``field_max_abs``, ``residual_rms_with_next`` (the joint fit);
        ``data_beta_j``, ``data_next_nearest`` (pseudo-likelihood on the training data;
        None when the data do not determine every coupling);
        ``test_nll``, ``params``, and
        ``abs_magnetization``, ``binder``, ``data_abs_magnetization``, ``data_binder`` as
        :meth:`Estimate.as_dict`, ``seconds``), ``crossing`` and ``crossing_data``
        (Estimates, or None with one size or no single crossing), ``magnetization_fit``
        (:func:`fit_magnetization`, or None with fewer than 3 temperatures below the
        crossing), ``tc_exact`` (Onsager's, times J).
    """
    temperatures = check_temperatures(temperatures, 3)
    sizes = [check_int(L, "L", 2) for L in sizes]
    if not sizes or len(set(sizes)) != len(sizes):
        raise ValueError(f"sizes must be distinct lattice sides, got {sizes}")
    num = check_int(num, "num", 40)
    test_fraction = check_positive(test_fraction, "test_fraction")
    if test_fraction >= 0.5:
        raise ValueError(f"test_fraction must be below 0.5, got {test_fraction}")
    model_samples = check_count(model_samples, "model_samples")
    J, seed = check_positive(J, "J"), check_seed(seed)
    make_model = default_scan_model if model is None else model
    if not callable(make_model):
        raise TypeError("model must be None or a callable (L, T, seed) -> GenerativeModel")
    epochs, batch_size = check_count(epochs, "epochs"), check_count(batch_size, "batch_size")
    copies, lr = check_count(copies, "copies"), check_positive(lr, "lr")
    settings = {"temperatures": temperatures, "sizes": sizes, "num": num,
                "test_fraction": test_fraction, "model_samples": model_samples, "J": J,
                "seed": seed, "epochs": epochs, "lr": lr, "batch_size": batch_size,
                "copies": copies,
                "model": getattr(make_model, "__qualname__", type(make_model).__name__)}
    done = read_checkpoint(checkpoint, settings, "phase-scan",
                           required=("points",)).get("points", [])
    grid = [(L, T) for L in sizes for T in temperatures]
    with tqdm(total=len(grid), desc="phase scan", unit="points", disable=not progress,
              leave=False) as bar:
        bar.update(len(done))
        for k, (L, T) in enumerate(grid[len(done):], start=len(done)):
            done.append(_point(L, T, J=J, num=num, test_fraction=test_fraction,
                               make_model=make_model, epochs=epochs, lr=lr,
                               batch_size=batch_size, copies=copies,
                               model_samples=model_samples, seed=seed + k))
            write_checkpoint(checkpoint, {"settings": settings, "points": done})
            bar.update(1)
    count = len(temperatures)
    return _summary(temperatures, sizes, [done[k * count:(k + 1) * count]
                                          for k in range(len(sizes))], J)


def _crossing(temperatures, points, small: int, large: int, key: str):
    try:
        return binder_crossing(temperatures,
                               [Estimate.from_dict(p[key]) for p in points[small]],
                               [Estimate.from_dict(p[key]) for p in points[large]])
    except ValueError:
        return None


def combine_scans(*scans: dict) -> dict:
    """One scan from results of :func:`phase_scan` with the same J (e.g. run as separate
    processes): scans of other sizes side by side (in the order given), scans of one size
    at other temperatures merged (sorted by T; a refinement near T_c, say). Every size
    must end up with the same temperatures. The crossing of the first two sizes and the
    M_s fit are recomputed."""
    if not scans:
        raise ValueError("give at least one phase_scan result")
    tc = scans[0]["tc_exact"]
    if any(s["tc_exact"] != tc for s in scans):
        raise ValueError("the scans must share J")
    merged: dict = {}
    for scan in scans:
        for L, points in zip(scan["sizes"], scan["points"]):
            merged.setdefault(L, []).extend(points)
    per_size = []
    for L, points in merged.items():
        points = sorted(points, key=lambda p: p["T"])
        temps = [p["T"] for p in points]
        if len(set(temps)) != len(temps):
            raise ValueError(f"the scans repeat a temperature at L = {L}: {temps}")
        per_size.append(points)
    temperatures = [p["T"] for p in per_size[0]]
    if any([p["T"] for p in points] != temperatures for points in per_size):
        raise ValueError("after merging, every size must have the same temperatures, got "
                         + "; ".join(f"L = {L}: {[p['T'] for p in pts]}"
                                     for L, pts in zip(merged, per_size)))
    return _summary(temperatures, list(merged), per_size, tc / ONSAGER_TC)


def _summary(temperatures, sizes, per_size, J) -> dict:
    crossing = crossing_data = fitted = None
    if len(sizes) >= 2:
        crossing = _crossing(temperatures, per_size, 0, 1, "binder")
        crossing_data = _crossing(temperatures, per_size, 0, 1, "data_binder")
    if crossing is not None:
        largest = per_size[max(range(len(sizes)), key=lambda k: sizes[k])]
        below = [p for p in largest if p["T"] < crossing.value]
        if len(below) >= 3:
            fitted = fit_magnetization([p["T"] for p in below],
                                       [Estimate.from_dict(p["abs_magnetization"]) for p in below])
    return {"temperatures": temperatures, "sizes": sizes, "points": per_size,
            "crossing": crossing, "crossing_data": crossing_data,
            "magnetization_fit": fitted, "tc_exact": ONSAGER_TC * J}
