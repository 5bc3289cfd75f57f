"""What the `tnborn` commands do, as functions that write files and return their results
as data (plain dicts); :mod:`tnborn.cli` adds argument parsing and printing.

* :func:`train_run`: train a named model on a named data set, save it and its history;
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
from .born import TensorNetworkBornMachine
from .checks import check_int
from .figures import entanglement_figure, image_shape, inpainting_rows, known_mask, nll_figure
from .physics import Ising2D, free_energy, ising2d_log_z, train_variational
from .plotting import image_grid
from .presets import check_image_shape, check_model_name, load_data, make_model
from .training import parse_budget, train_model

# sweeps (Born machines) or epochs (networks) when train_run is given no budget
DEFAULT_STEPS = {"mps": 10, "ttn": 10, "made": 20, "pixelcnn": 10}
ISING_MODELS = ("made", "pixelcnn", "han")
ISING_LR = {"made": 1e-3, "pixelcnn": 1e-3, "han": 1e-2}
ISING_BETA_ANNEAL = 0.99  # first steps at beta (1 - 0.99^t), as in Wu, Wang, Zhang


def count_parameters(model) -> int:
    """Trainable numbers of a model: tensor entries of a Born machine, else the sum of
    ``p.numel()`` over the network's parameters."""
    if isinstance(model, TensorNetworkBornMachine):
        return model.num_parameters
    return sum(p.numel() for p in model.parameters())


def train_run(model: str, data: str, out, *, budget=None, max_bond: int | None = None,
              images: int | None = None, test_images: int | None = None,
              lr: float | None = None, batch_size: int | None = None, seed: int = 0,
              progress: bool = True) -> dict:
    """Train the preset ``model`` (see :mod:`tnborn.presets`) on the data set ``data``.

    ``budget``: anything :func:`tnborn.training.parse_budget` takes (None:
    :data:`DEFAULT_STEPS`); ``lr``, ``batch_size``: fit options (None: the presets).
    Writes into ``out`` (created): ``model.pt`` (``model.save``), ``history.json`` (this
    function's result with the per-sweep/epoch history), ``nll.png`` and, for Born
    machines, ``entanglement.png``. Returns the summary: ``model``, ``class``, ``data``,
    sizes, ``budget``, ``parameters``, final ``train_nll`` / ``test_nll``,
    ``train_seconds``, ``steps``, ``history`` and ``files``.
    """
    check_model_name(model)
    budget = parse_budget(budget if budget is not None else DEFAULT_STEPS[model])
    dataset = load_data(data, images=images, test_images=test_images, seed=seed)
    net = make_model(model, dataset.train.shape[1], image_shape=dataset.image_shape,
                     max_bond=max_bond, seed=seed)
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    options = {key: value for key, value in (("lr", lr), ("batch_size", batch_size))
               if value is not None}
    history = train_model(net, dataset.train, budget=budget, test_data=dataset.test,
                          progress=progress, generator=torch.Generator().manual_seed(seed),
                          **options)
    files = {"model": out / "model.pt", "history": out / "history.json"}
    net.save(files["model"])
    files["nll"] = nll_figure(history, out / "nll.png",
                              title=f"{model} on {data}: negative log-likelihood")
    if isinstance(net, TensorNetworkBornMachine):
        files["entanglement"] = entanglement_figure(
            net.entanglement_entropy(), out / "entanglement.png",
            title=f"{model} on {data}: entanglement")
    summary = {
        "model": model, "class": type(net).__name__, "data": data,
        "train_images": len(dataset.train), "test_images": len(dataset.test),
        "image_shape": list(dataset.image_shape), "budget": str(budget),
        "parameters": count_parameters(net), "train_nll": net.nll(dataset.train),
        "test_nll": net.nll(dataset.test), "train_seconds": history[-1]["seconds"],
        "steps": history[-1]["step"], "history": history,
        "files": {key: str(path) for key, path in files.items()},
    }
    files["history"].write_text(json.dumps(summary, indent=1))
    return summary


def sample_run(model_path, png, *, num: int = 64, seed: int = 0, shape=None) -> dict:
    """Draw ``num`` samples of the model saved at ``model_path`` (``tnborn.load``) with a
    generator seeded by ``seed`` and write them as an image grid to ``png``.

    ``shape`` ``(H, W)``: the image shape (None: :func:`tnborn.figures.image_shape`).
    Returns ``class``, ``num``, ``shape``, ``png`` and the ``samples`` tensor.
    """
    num = check_int(num, "number of samples", 1)
    model = load(model_path)
    shape = image_shape(model) if shape is None else check_image_shape(shape, model.n_sites)
    samples = model.sample(num, generator=torch.Generator(model.device).manual_seed(seed))
    path = image_grid(samples.cpu(), shape, png, title=f"{type(model).__name__} samples")
    return {"class": type(model).__name__, "num": num, "shape": list(shape),
            "png": str(path), "samples": samples}


def inpaint_run(model_path, data: str, png, *, rows: int = 8, hide: str = "lower",
                restorations: int = 3, seed: int = 0) -> dict:
    """Hide the ``hide`` half (lower, upper, left, right) of the first ``rows`` test images
    of the data set ``data``, restore it ``restorations`` times with
    ``model.conditional_sample`` and write originals, masked images and restorations
    (one row each) to ``png``. Autoregressive networks can restore only a part that comes
    last in their site order (the lower half in raster order): ValueError otherwise.

    Returns ``class``, ``data``, ``hide``, ``rows``, ``png`` and ``agreement``: the fraction
    of hidden pixels that the restorations got equal to the originals.
    """
    rows = check_int(rows, "rows", 1)
    restorations = check_int(restorations, "restorations", 1)
    model = load(model_path)
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
    restored = figure_rows[2 * rows:].reshape(restorations, rows, n_sites)
    agreement = float((restored == images.double())[:, :, ~known].double().mean())
    path = image_grid(figure_rows, dataset.image_shape, png, ncols=rows, row_labels=labels,
                      title=f"{type(model).__name__}: inpainting the {hide} half")
    return {"class": type(model).__name__, "data": data, "hide": hide, "rows": rows,
            "png": str(path), "agreement": agreement}


def ising_run(model: str = "made", *, L: int = 8, beta: float = 0.44, steps: int = 500,
              batch_size: int = 1000, lr: float | None = None, z2: bool = False,
              samples: int = 100_000, seed: int = 0, progress: bool = True) -> dict:
    """Train a variational autoregressive network (``model``: made, pixelcnn or han) on the
    periodic L x L Ising model at ``beta`` (:func:`tnborn.physics.train_variational`,
    beta annealed over the first steps, ``z2`` symmetrization), then estimate its free
    energy from ``samples`` samples (:func:`tnborn.physics.free_energy`).

    Returns per-site free energies: ``F_variational``, ``F_importance`` (with ``_err``),
    ``F_exact`` (Kaufman), ``error_variational``, ``error_importance`` (estimate - exact),
    plus ``ess``, ``seconds`` (training), ``model``, ``L``, ``beta``, ``steps``, ``z2``.
    """
    if model not in ISING_MODELS:
        raise ValueError(f"unknown model {model!r} for the Ising model; choose from "
                         f"{', '.join(ISING_MODELS)}")
    hamiltonian = Ising2D(L)
    n = hamiltonian.n_sites
    if model == "made":
        net = MADE(n, hidden=128, seed=seed)
    elif model == "pixelcnn":
        net = PixelCNN((L, L), first_kernel=2 * L - 1, seed=seed)  # sees the whole past
    else:
        net = HAN(L, beta=beta, seed=seed)
    generator = torch.Generator().manual_seed(seed)
    history = train_variational(net, hamiltonian, beta, steps=steps, batch_size=batch_size,
                                lr=ISING_LR[model] if lr is None else lr,
                                beta_anneal=ISING_BETA_ANNEAL, z2=z2, progress=progress,
                                generator=generator)
    result = free_energy(net, hamiltonian, beta, num=samples, generator=generator)
    exact = -ising2d_log_z(L, beta) / (beta * n)
    return {
        "model": model, "L": L, "beta": beta, "steps": steps, "z2": z2,
        "seconds": history[-1]["seconds"],
        "F_variational": result["F_variational_per_site"],
        "F_variational_err": result["F_variational_err"] / n,
        "F_importance": result["F_importance_per_site"],
        "F_importance_err": result["F_importance_err"] / n,
        "F_exact": exact,
        "error_variational": result["F_variational_per_site"] - exact,
        "error_importance": result["F_importance_per_site"] - exact,
        "ess": result["ess"],
    }
