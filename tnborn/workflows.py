"""What the `tnborn` commands do, as functions that write files and return their results
as data (plain dicts); :mod:`tnborn.cli` adds argument parsing and printing.

* :func:`train_run`: train a named model on a named data set or the user's own file,
  save it, its history and (while it trains) a checkpoint to resume from;
* :func:`sample_run`: draw samples of a saved model as an image grid;
* :func:`inpaint_run`: hide half of test images and restore them with the model;
* :func:`ising_run`: variational free energy of the 2D Ising model against Kaufman's.
"""

from __future__ import annotations

import json
from pathlib import Path

import torch

from .arnn import HAN, MADE, PixelCNN
from .base import load
from .catalog import (DATA_NAMES, DEFAULT_STEPS, ISING_BETA_ANNEAL, ISING_DEFAULTS, ISING_LR,
                      ISING_MODELS, check_model_name)
from .checks import check_int
from .distributed import rank_rows, resolve_collective
from .figures import entanglement_figure, image_shape, inpainting_rows, known_mask, nll_figure
from .physics import Ising2D, free_energy, ising2d_log_z, train_variational
from .physics.variational import steps_to_reach_beta
from .plotting import image_grid
from .scores import inpainting_nll
from .presets import check_image_shape, load_data, load_user_data, make_model
from .training import train_model

CHECKPOINT_NAME = "checkpoint.pt"


def train_run(model: str, data, out, *, budget=None, max_bond: int | None = None,
              images: int | None = None, test_images: int | None = None,
              test_data=None, threshold: float | None = None, lr: float | None = None,
              batch_size: int | None = None,
              seed: int = 0, progress: bool = True, device=None, resume=None,
              checkpoint_every=1, distributed: bool = False) -> dict:
    """Train the preset ``model`` (see :mod:`tnborn.catalog`) on ``data``: a data-set name
    (``bas``, ``digits``, ``mnist``) or the path of the user's own file
    (:func:`tnborn.presets.load_user_data`; ``test_data`` a path of its test set,
    ``threshold`` binarizes it at value > threshold).

    ``budget``: anything :func:`tnborn.training.parse_budget` takes (None:
    :data:`tnborn.catalog.DEFAULT_STEPS`); ``lr``, ``batch_size``: fit options (None: the
    model's own). While training, ``out/checkpoint.pt`` is rewritten every
    ``checkpoint_every`` sweeps/epochs (or seconds, ``"60s"``); ``resume``: a checkpoint
    to continue from (the same model, data and options). Writes into ``out`` (created):
    ``model.pt`` (``model.save``), ``history.json`` (this function's result with the
    per-sweep/epoch history), ``nll.png`` and, for models with bonds,
    ``entanglement.png``. Returns the summary: ``model``, ``class``, ``data``, sizes,
    ``budget``, ``ranks`` (1 unless ``distributed``), ``parameters``, final ``train_nll`` /
    ``test_nll``, ``train_seconds``, ``steps``, ``history`` and ``files``.

    ``distributed``: data-parallel in the initialized torch.distributed group (one call
    per rank, as ``tnborn train --nproc N`` and ``torchrun`` make): every rank loads the
    data and keeps the rows ``rank, rank + ranks, ...`` of the training and test sets;
    the NLLs are means over all ranks' rows; only rank 0 writes files (the others return
    the same summary with ``files`` empty).
    """
    check_model_name(model)
    collective = resolve_collective(distributed, None)
    shard = (collective.rank, collective.world) if distributed else None
    options = {"distributed": True} if distributed else {}
    # a rank that cannot read its rows stops every rank
    dataset = collective.checked(lambda: _training_data(data, test_data, threshold, images,
                                                        test_images, seed, shard))
    train, test = dataset.train, dataset.test
    writer = collective.is_main
    sizes = tuple(int(v) for v in collective.total(len(train), len(test)))
    net = make_model(model, dataset.train.shape[1], local_dim=_alphabet(dataset),
                     image_shape=dataset.image_shape, max_bond=max_bond, seed=seed,
                     device=device)
    out = Path(out)
    if writer:
        out.mkdir(parents=True, exist_ok=True)
    options.update({key: value for key, value in (("lr", lr), ("batch_size", batch_size))
                    if value is not None})
    files = {"model": out / "model.pt", "history": out / "history.json"}
    if net.fit_unit is not None:
        budget = budget if budget is not None else DEFAULT_STEPS[model]
        files["checkpoint"] = out / CHECKPOINT_NAME
        options.update(checkpoint=files["checkpoint"], checkpoint_every=checkpoint_every,
                       resume=resume)
    elif resume is not None:
        raise ValueError(f"{model} is fitted in one closed-form step: there is nothing to "
                         "resume")
    history = train_model(net, train, budget=budget, test_data=test, progress=progress,
                          **options)
    if distributed:  # the records hold the NLLs over every rank's rows
        final = {"train_nll": history[-1]["train_nll"], "test_nll": history[-1]["test_nll"]}
    else:
        final = {"train_nll": net.nll(dataset.train), "test_nll": net.nll(dataset.test)}
    summary = {
        "model": model, "class": type(net).__name__, "data": dataset.name,
        "train_images": sizes[0], "test_images": sizes[1],
        "image_shape": list(dataset.image_shape) if dataset.image_shape else None,
        "budget": str(budget) if net.fit_unit is not None else "closed form",
        "device": str(net.device), "ranks": collective.world,
        "parameters": net.num_parameters, **final,
        "train_seconds": history[-1]["seconds"], "steps": history[-1]["step"],
        "history": history, "files": {},
    }
    if not writer:
        return summary
    net.save(files["model"])
    files["nll"] = nll_figure(history, out / "nll.png",
                              title=f"{model} on {dataset.name}: negative log-likelihood")
    if net.has_bonds:
        files["entanglement"] = entanglement_figure(
            net.entanglement_entropy(), net.bonds, out / "entanglement.png",
            title=f"{model} on {dataset.name}: entanglement")
    summary["files"] = {key: str(path) for key, path in files.items()}
    files["history"].write_text(json.dumps(summary, indent=1))
    return summary


def _training_data(data, test_data, threshold, images, test_images, seed, shard=None):
    """A preset data set by name, or the user's file at the path ``data``; with ``shard``
    ``(rank, ranks)`` only that rank's rows (a file's read through a memory map where it
    can be, see :func:`tnborn.presets.load_user_data`)."""
    if isinstance(data, str) and data in DATA_NAMES:
        if test_data is not None or threshold is not None:
            raise ValueError(f"{data} has its own test split and values; a test file and "
                             "a threshold go with a data file")
        dataset = load_data(data, images=images, test_images=test_images, seed=seed)
        if shard is None:
            return dataset
        return dataset._replace(train=rank_rows(dataset.train, *shard),
                                test=rank_rows(dataset.test, *shard), val=None)
    if images is not None or test_images is not None:
        raise ValueError("images / test_images select from a named data set; give a file "
                         "with the rows to use")
    return load_user_data(data, test_path=test_data, threshold=threshold, seed=seed,
                          shard=shard)


def _alphabet(dataset) -> int:
    """Values per site of a data set: its largest value + 1, at least 2."""
    return max(2, int(max(int(dataset.train.max()), int(dataset.test.max()))) + 1)


def sample_run(model_path, png, *, num: int = 64, seed: int = 0, shape=None,
               device=None) -> dict:
    """Draw ``num`` samples of the model saved at ``model_path`` (``tnborn.load``) with a
    generator seeded by ``seed`` and write them as an image grid to ``png``.

    ``shape`` ``(H, W)``: the image shape (None: :func:`tnborn.figures.image_shape`).
    ``device``: where the model samples (None: the CPU).
    Returns ``class``, ``num``, ``shape``, ``png`` and the ``samples`` tensor.
    """
    num = check_int(num, "number of samples", 1)
    model = load(model_path, device=device)
    shape = image_shape(model) if shape is None else check_image_shape(shape, model.n_sites)
    samples = model.sample(num, generator=torch.Generator(model.device).manual_seed(seed))
    path = image_grid(samples.cpu(), shape, png, title=f"{type(model).__name__} samples")
    return {"class": type(model).__name__, "num": num, "shape": list(shape),
            "png": str(path), "samples": samples}


def inpaint_run(model_path, data: str, png, *, rows: int = 8, hide: str = "lower",
                restorations: int = 3, seed: int = 0, device=None) -> dict:
    """Hide the ``hide`` half (lower, upper, left, right) of the first ``rows`` test images
    of the data set ``data``, restore it ``restorations`` times with
    ``model.conditional_sample`` and write originals, masked images and restorations
    (one row each) to ``png``. Autoregressive networks can restore only a part that comes
    last in their site order (the lower half in raster order): ValueError otherwise.

    Returns ``class``, ``data``, ``hide``, ``rows``, ``png``, ``hidden_nll`` (the mean of
    -ln p(hidden half | known half) over the whole test set, nats per image:
    :func:`tnborn.scores.inpainting_nll`) and ``baseline_hidden_nll`` (the same score of
    the independent-sites model fitted on the training set, the baseline to beat), both
    over ``test_size`` images.
    """
    rows = check_int(rows, "rows", 1)
    restorations = check_int(restorations, "restorations", 1)
    model = load(model_path, device=device)
    dataset = load_data(data, seed=seed)
    n_sites = dataset.test.shape[1]
    if model.n_sites != n_sites:
        raise ValueError(f"the model has {model.n_sites} sites, but {data} images have "
                         f"{n_sites}")
    if rows > len(dataset.test):
        raise ValueError(f"rows must be at most {len(dataset.test)} for {data}, got {rows}")
    known = known_mask(dataset.image_shape, hide)
    images = dataset.test[:rows]
    figure_rows, labels = inpainting_rows(
        model, images, known, restorations=restorations, hidden=f"{hide} half hidden",
        generator=torch.Generator(model.device).manual_seed(seed))
    baseline = make_model("independent", n_sites, local_dim=model.local_dim)
    baseline.fit(dataset.train)
    path = image_grid(figure_rows, dataset.image_shape, png, ncols=rows, row_labels=labels,
                      title=f"{type(model).__name__}: inpainting the {hide} half")
    return {"class": type(model).__name__, "data": data, "hide": hide, "rows": rows,
            "png": str(path), "hidden_nll": inpainting_nll(model, dataset.test, known),
            "baseline_hidden_nll": inpainting_nll(baseline, dataset.test, known),
            "test_size": len(dataset.test)}


def ising_run(model: str = ISING_DEFAULTS["model"], *, L: int = ISING_DEFAULTS["L"],
              beta: float = ISING_DEFAULTS["beta"], steps: int = ISING_DEFAULTS["steps"],
              batch_size: int = ISING_DEFAULTS["batch_size"], lr: float | None = None,
              z2: bool = False, samples: int = ISING_DEFAULTS["samples"], seed: int = 0,
              progress: bool = True, device=None, exact_last_level: bool = False,
              distributed: bool = False) -> dict:
    """Train a variational autoregressive network (``model``: made, pixelcnn or han) on the
    periodic L x L Ising model at ``beta`` (:func:`tnborn.physics.train_variational`,
    beta annealed over the first steps, ``z2`` symmetrization), then estimate its free
    energy from ``samples`` samples (:func:`tnborn.physics.free_energy`).

    Returns per-site free energies: ``F_variational``, ``F_importance`` (with ``_err``),
    ``F_importance_bias`` (its expected excess over F, second order), ``F_exact``
    (Kaufman), ``error_variational``, ``error_importance`` (estimate - exact), plus
    ``ess``, ``ess_count``, ``seconds`` (training), ``model``, ``L``, ``beta``, ``steps``,
    ``z2``, ``beta_final`` (the annealed beta_t of the last training step) and the
    reliability of the run: ``warnings_variational`` (the training did not reach
    ``beta``, :data:`tnborn.physics.variational.BETA_RTOL`), ``warnings_importance``
    (the importance weights' rule of :func:`tnborn.physics.free_energy`), ``warnings``
    (both) and ``reliable`` (no warnings).

    ``distributed``: data-parallel in the initialized torch.distributed group (one call per
    rank): each rank draws ``batch_size / ranks`` samples per step and its share of the
    ``samples``; every rank returns the same result.
    """
    if model not in ISING_MODELS:
        raise ValueError(f"unknown model {model!r} for the Ising model; choose from "
                         f"{', '.join(ISING_MODELS)}")
    if exact_last_level and model != "han":
        raise ValueError("exact_last_level is an option of the han model")
    hamiltonian = Ising2D(L)
    n = hamiltonian.n_sites
    if model == "made":
        net = MADE(n, hidden=128, seed=seed, device=device)
    elif model == "pixelcnn":  # a first layer that sees the whole past
        net = PixelCNN((L, L), first_kernel=2 * L - 1, seed=seed, device=device)
    else:  # the exact heat-bath last level only when asked: it is given a quarter of the spins
        net = HAN(L, exact_last_level=exact_last_level,
                  beta=beta if exact_last_level else None, seed=seed, device=device)
    generator = torch.Generator(net.device).manual_seed(seed)
    history = train_variational(net, hamiltonian, beta, steps=steps, batch_size=batch_size,
                                lr=ISING_LR[model] if lr is None else lr,
                                beta_anneal=ISING_BETA_ANNEAL, z2=z2, progress=progress,
                                generator=generator, distributed=distributed)
    result = free_energy(net, hamiltonian, beta, num=samples, generator=generator,
                         distributed=distributed)
    exact = -ising2d_log_z(L, beta) / (beta * n)
    last = history[-1]
    training = []
    if not last["beta_reached"]:
        training.append(
            f"the training ended at beta_t = {last['beta']:.4g}, {1 - last['beta'] / beta:.1%} "
            f"below the target {beta:g}: the model is that of a hotter system (annealing "
            f"{ISING_BETA_ANNEAL:g} needs at least {steps_to_reach_beta(ISING_BETA_ANNEAL)} "
            "steps)")
    return {
        "model": model, "L": L, "beta": beta, "steps": steps, "z2": z2,
        "exact_last_level": exact_last_level,
        "seconds": history[-1]["seconds"],
        "F_variational": result["F_variational_per_site"],
        "F_variational_err": result["F_variational_err"] / n,
        "F_importance": result["F_importance_per_site"],
        "F_importance_err": result["F_importance_err"] / n,
        "F_exact": exact,
        "error_variational": result["F_variational_per_site"] - exact,
        "error_importance": result["F_importance_per_site"] - exact,
        "F_importance_bias": result["F_importance_bias_per_site"],
        "ess": result["ess"], "ess_count": result["diagnostics"]["ess_count"],
        "beta_final": last["beta"],
        "warnings_variational": training, "warnings_importance": result["warnings"],
        "warnings": training + result["warnings"],
        "reliable": not (training or result["warnings"]),
    }
