"""Comparison study: train several models on the same data under the same budget, then
measure and plot them side by side.

:func:`compare` returns the results as data; with ``out`` it also writes
``results.json``, ``results.md`` (Markdown tables) and PNG figures (:func:`write_report`).
It prints nothing.
"""

from __future__ import annotations

import json
import time
import warnings
from pathlib import Path

import torch

from .base import GenerativeModel, validate_configurations
from .born import Bond
from .checks import check_int, check_seed
from .diagnostics import entanglement_entropy, mutual_information_profile
from .diagnostics.mutual_information import MAX_NEGATIVE_SIGMAS, MIN_INNER_ESS
from .figures import entanglement_figure
from .plotting import image_grid, panel_plot
from .presets import check_image_shape, check_model_name, make_model
from .training import parse_budget, train_model

MI_CUTS_TARGET = 8  # default cuts: about every n_sites / 8 sites (whole image rows)


def compare(train, test, models, *, budget, out=None, image_shape=None, seed: int = 0,
            progress: bool = True, max_bond: int | None = None, device=None,
            mi_samples: int | None = 300, mi_inner: int = 32, mi_cuts=None,
            timing_samples: int = 1000, shown_samples: int = 16) -> dict:
    """Train every model in ``models`` on ``train`` within ``budget`` and evaluate it.

    Parameters
    ----------
    train, test : configurations ``(N, n_sites)`` (integers ``0 .. local_dim-1``, the
        alphabet taken from the data, at least binary).
    models : list of preset names (``"mps"``, ``"ttn"``, ``"made"``, ``"pixelcnn"``,
        ``"independent"``; see :mod:`tnborn.catalog`) and/or ready
        :class:`GenerativeModel` instances
        (trained further in place, named by their class). Repeated names get ``-2``,
        ``-3``, ... appended.
    budget : the same for every model: sweeps/epochs (int or ``"10"``) or training time
        (``"60s"``, ``"2m"``); see :mod:`tnborn.training`.
    out : folder for the report (created); None: write nothing.
    image_shape : ``(H, W)`` of the images, if the data are images: gives the TTN a 2D
        layout, enables the PixelCNN, aligns the default MI cuts with image rows and adds
        sample grids to the report.
    seed : seeds the preset models, the minibatch order, sampling and the MI estimates.
    progress : show the models' training progress bars.
    max_bond : overrides the preset bond dimension of the named Born machines.
    device : torch device of the named models (None: the CPU).
    mi_samples : samples per mutual-information estimate
        (:func:`tnborn.diagnostics.mutual_information_profile`); None: skip the MI.
        Born machines contract both marginals exactly (cheap); an autoregressive net
        estimates the marginal of the part after the cut from ``mi_inner`` draws per
        sample, so it draws ``mi_samples * mi_inner`` samples per cut (a PixelCNN on the
        8x8 digits: about 20 s for 300 x 32 and 7 cuts).
    mi_inner : inner Monte Carlo draws per sample for that marginal.
    mi_cuts : chain cuts k (sites < k | sites >= k) for the MI; None: about every
        ``n_sites / 8`` sites (every few whole image rows with ``image_shape``).
    timing_samples : samples drawn to time sampling (reported per 1,000 samples).
    shown_samples : samples per model in the report's image grids.

    Returns
    -------
    ``{"data": {n_sites, local_dim, train_size, test_size, image_shape}, "budget": str,
    "seed", "models": {name: record}}`` (plus ``"files"`` with ``out``), where a record
    holds ``class``, ``parameters``, final ``train_nll`` / ``test_nll`` (nats),
    ``best_test_nll`` and ``best_test_seconds`` (the lowest test NLL of the per-sweep/epoch
    evaluations and its training time: where early stopping would have ended, an
    optimistic figure since it is chosen on the test data), ``train_seconds``, ``steps``
    (sweeps/epochs run), ``sample_seconds_per_1000``,
    ``history`` (the fit records: ``step``, ``train_nll``, ``test_nll``, ``seconds``),
    ``entanglement`` (models with bonds: ``{"bonds", "entropy"}``, each bond the list of
    sites it cuts off, as ``model.bonds``; None for the others) and
    ``mutual_information`` (``{"cuts", "mi", "stderr", "inner_ess", "reliable",
    "warnings"}`` or None; ``reliable`` is False, with the reasons in ``warnings``, where
    an autoregressive net's Monte Carlo marginal rested on too few effective draws or
    the value is negative beyond 3 standard errors, see
    :mod:`tnborn.diagnostics.mutual_information`).
    """
    seed = check_seed(seed)
    train, test, local_dim = _check_data(train, test)
    n_sites = train.shape[1]
    if image_shape is not None:
        image_shape = check_image_shape(image_shape, n_sites)
    budget = parse_budget(budget)
    named = _build_models(models, n_sites, local_dim, image_shape, max_bond, seed, device)
    if mi_samples is not None:
        mi_samples = check_int(mi_samples, "mi_samples", 2)
        mi_inner = check_int(mi_inner, "mi_inner", 1)
        mi_cuts = default_cuts(n_sites, image_shape) if mi_cuts is None \
            else _check_cuts(mi_cuts, n_sites)
    timing_samples = check_int(timing_samples, "timing_samples", 1)
    shown_samples = check_int(shown_samples, "shown_samples", 1)
    records, shown = {}, {}
    for name, model in named.items():
        records[name], shown[name] = _evaluate(
            model, train, test, budget=budget, seed=seed, progress=progress,
            mi_samples=mi_samples, mi_inner=mi_inner, mi_cuts=mi_cuts,
            timing_samples=timing_samples)
        shown[name] = shown[name][:shown_samples]
    results = {
        "data": {"n_sites": n_sites, "local_dim": local_dim, "train_size": len(train),
                 "test_size": len(test),
                 "image_shape": list(image_shape) if image_shape is not None else None},
        "budget": str(budget), "seed": seed, "models": records,
    }
    if out is not None:
        results["files"] = write_report(results, out, samples=shown)
    return results


def default_cuts(n_sites: int, image_shape=None) -> list[int]:
    """About :data:`MI_CUTS_TARGET` - 1 evenly spaced chain cuts in ``1 .. n_sites - 1``;
    with an image shape ``(H, W)`` (H >= 2) they fall between whole rows."""
    if image_shape is not None and image_shape[0] >= 2:
        height, width = image_shape
        step = width * max(1, height // MI_CUTS_TARGET)
    else:
        step = max(1, n_sites // MI_CUTS_TARGET)
    return list(range(step, n_sites, step))


def markdown_table(results: dict) -> str:
    """The main table of :func:`compare`'s results: model, params, train NLL, test NLL,
    the lowest test NLL seen during training and when, train s, sample s/1000 (NLLs in
    nats)."""
    lines = ["| model | params | train NLL | test NLL | best test NLL (at s) | train s | "
             "sample s/1000 |", "|---|---:|---:|---:|---:|---:|---:|"]
    for name, r in results["models"].items():
        lines.append(f"| {name} | {r['parameters']:,} | {r['train_nll']:.3f} | "
                     f"{r['test_nll']:.3f} | {r['best_test_nll']:.3f} "
                     f"({r['best_test_seconds']:.1f}) | {r['train_seconds']:.1f} | "
                     f"{r['sample_seconds_per_1000']:.3g} |")
    return "\n".join(lines)


def mutual_information_table(results: dict) -> str | None:
    """Markdown table of the MI (nats, +- standard error) per cut and model; None when
    no model has MI estimates. An unreliable value is shown as ``value (!) unreliable``
    without an error bar, and a note under the table says why."""
    rows = {name: r["mutual_information"] for name, r in results["models"].items()
            if r["mutual_information"] is not None}
    if not rows:
        return None
    cuts = next(iter(rows.values()))["cuts"]
    lines = ["| model | " + " | ".join(f"k={k}" for k in cuts) + " |",
             "|---|" + "---:|" * len(cuts)]
    notes = []
    for name, mi in rows.items():
        cells = [f"{v:.3f} +- {e:.3f}" if ok else f"{v:.3f} (!) unreliable"
                 for v, e, ok in zip(mi["mi"], mi["stderr"], mi["reliable"])]
        lines.append(f"| {name} | " + " | ".join(cells) + " |")
        reasons = mi.get("warnings") or [[] for _ in mi["cuts"]]
        for k, ok, why in zip(mi["cuts"], mi["reliable"], reasons):
            if not ok:
                notes.append(f"- {name}, k={k}: " + ("; ".join(why) if why else
                                                     "see the record's inner_ess"))
    if notes:
        lines += ["", f"(!) unreliable (no error bar shown, left out of the figure): the "
                  f"Monte Carlo marginal of an autoregressive net rested on fewer than "
                  f"{MIN_INNER_ESS:g} effective inner draws (median; biased upward, raise "
                  f"mi_inner), or the MI lies more than {MAX_NEGATIVE_SIGMAS:g} standard "
                  "errors below 0. Per value:", *notes]
    return "\n".join(lines)


def write_report(results: dict, out, *, samples: dict | None = None) -> dict[str, str]:
    """Write ``results.json``, ``results.md``, ``nll.png``, ``mutual_information.png``
    (when estimated), ``entanglement_<model>.png`` per Born machine and, given
    ``samples`` ``{model: (N, n_sites) tensor}`` and an image shape,
    ``samples_<model>.png``. Returns ``{name: path}`` of the files written."""
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    models = results["models"]
    files = {"json": out / "results.json", "markdown": out / "results.md"}
    files["nll"] = panel_plot(
        {kind: {name: ([h["seconds"] for h in r["history"]],
                       [h[key] for h in r["history"]], None, "curve")
                for name, r in models.items()}
         for kind, key in (("test NLL (nats)", "test_nll"), ("train NLL (nats)", "train_nll"))},
        out / "nll.png", xlabel="training seconds", title="NLL during training")
    with_mi = {name: _reliable_points(r["mutual_information"]) for name, r in models.items()
               if r["mutual_information"] is not None}
    with_mi = {name: points for name, points in with_mi.items() if points[0]}
    if with_mi:
        files["mutual_information"] = panel_plot(
            {"mutual information (nats)": {name: (*points, "curve")
                                           for name, points in with_mi.items()}},
            out / "mutual_information.png", xlabel="cut k (sites < k | sites >= k)",
            title="Mutual information across chain cuts")
    for name, r in models.items():
        if r["entanglement"] is not None:
            bonds = [Bond(i, tuple(sites)) for i, sites in enumerate(r["entanglement"]["bonds"])]
            files[f"entanglement_{name}"] = entanglement_figure(
                r["entanglement"]["entropy"], bonds, out / f"entanglement_{name}.png",
                title=f"{name}: entanglement")
    shape = results["data"]["image_shape"]
    if samples is not None and shape is not None:
        for name, drawn in samples.items():
            files[f"samples_{name}"] = image_grid(drawn.cpu(), tuple(shape),
                                                  out / f"samples_{name}.png",
                                                  title=f"{name} samples")
    files = {key: str(path) for key, path in files.items()}
    lines = [f"# Comparison of {len(models)} models",
                "",
                f"{results['data']['train_size']} training and {results['data']['test_size']} "
                f"test configurations of {results['data']['n_sites']} sites; budget "
                f"{results['budget']} per model; seed {results['seed']}. NLLs in nats; "
                "seconds of training (evaluation excluded) and of drawing 1,000 samples.",
                "",
                markdown_table(results)]
    mi_table = mutual_information_table(results)
    if mi_table is not None:
        lines += ["", "Mutual information (nats) across chain cuts k (sites < k | sites >= k):",
                  "", mi_table]
    Path(files["markdown"]).write_text("\n".join(lines) + "\n")
    Path(files["json"]).write_text(json.dumps({**results, "files": files}, indent=1))
    return files


# ---------------------------------------------------------------------- helpers
def _check_data(train, test) -> tuple[torch.Tensor, torch.Tensor, int]:
    """Both as LongTensors ``(N, n_sites)`` with the same number of sites, and the size
    of their alphabet (the largest value + 1, at least 2)."""
    checked = {}
    for name, data in (("train", train), ("test", test)):
        data = data if isinstance(data, torch.Tensor) else torch.as_tensor(data)
        if data.ndim != 2 or data.shape[0] == 0:
            raise ValueError(f"{name} must have shape (N, n_sites) with N >= 1, "
                             f"got {tuple(data.shape)}")
        checked[name] = data
    n_sites = checked["train"].shape[1]
    if n_sites < 2:
        raise ValueError(f"the data need at least 2 sites, got {n_sites}")
    # any integers >= 0 pass here: the alphabet is read from the data
    checked = {name: validate_configurations(data, n_sites, 2 ** 31, name=name)
               for name, data in checked.items()}
    local_dim = max(2, int(max(d.max() for d in checked.values())) + 1)
    return checked["train"], checked["test"], local_dim


def _build_models(models, n_sites, local_dim, image_shape, max_bond, seed, device):
    """``{name: model}`` from preset names and ready models (names made unique)."""
    if isinstance(models, (str, GenerativeModel)) or not hasattr(models, "__iter__"):
        raise TypeError("models must be a list of names and/or GenerativeModel instances")
    models = list(models)
    if not models:
        raise ValueError("models is empty: give at least one name or model")
    named = {}
    for entry in models:
        if isinstance(entry, str):
            model = make_model(check_model_name(entry), n_sites, local_dim=local_dim,
                               image_shape=image_shape, max_bond=max_bond, seed=seed,
                               device=device)
            base = entry
        elif isinstance(entry, GenerativeModel):
            if not entry.support.is_discrete:
                raise ValueError(f"a {type(entry).__name__} on {entry.support} does not fit "
                                 "discrete data")
            if entry.n_sites != n_sites or entry.local_dim < local_dim:
                raise ValueError(f"a {type(entry).__name__} over {entry.n_sites} sites with "
                                 f"{entry.local_dim} values does not fit data of {n_sites} "
                                 f"sites with {local_dim} values")
            model, base = entry, type(entry).__name__
        else:
            raise TypeError(f"models must hold names or GenerativeModel instances, "
                            f"got {type(entry).__name__}")
        name, copy = base, 1
        while name in named:
            copy += 1
            name = f"{base}-{copy}"
        named[name] = model
    return named


def _check_cuts(cuts, n_sites: int) -> list[int]:
    """Sorted distinct chain cuts, each an integer in ``1 .. n_sites - 1``."""
    cuts = sorted({check_int(k, "cut", 1) for k in cuts})
    if not cuts or cuts[-1] >= n_sites:
        raise ValueError(f"mi_cuts must be integers in 1..{n_sites - 1}, got {cuts}")
    return cuts


def _evaluate(model, train, test, *, budget, seed, progress, mi_samples, mi_inner, mi_cuts,
              timing_samples) -> tuple[dict, torch.Tensor]:
    """Train ``model`` and measure it; returns its record and the timing samples."""
    generator = torch.Generator(model.device).manual_seed(seed)
    history = train_model(model, train, budget=budget, test_data=test, progress=progress,
                          generator=generator)
    _synchronize(model.device)
    start = time.perf_counter()
    samples = model.sample(timing_samples, generator=generator)
    _synchronize(model.device)
    sample_seconds = time.perf_counter() - start
    best = min(history, key=lambda h: h["test_nll"])
    record = {
        "class": type(model).__name__,
        "parameters": model.num_parameters,
        "train_nll": model.nll(train),
        "test_nll": model.nll(test),
        "train_seconds": history[-1]["seconds"],
        "best_test_nll": best["test_nll"],
        "best_test_seconds": best["seconds"],
        "steps": history[-1]["step"],
        "sample_seconds_per_1000": sample_seconds * 1000 / timing_samples,
        "history": [{key: value for key, value in h.items()
                     if isinstance(value, (bool, int, float))} for h in history],
        "entanglement": _entanglement(model),
        "mutual_information": None,
    }
    if mi_samples is not None:
        with warnings.catch_warnings():  # recorded as "reliable" instead
            warnings.simplefilter("ignore", RuntimeWarning)
            profile = mutual_information_profile(model, cuts=mi_cuts, num=mi_samples,
                                                 inner=mi_inner, generator=generator)
        record["mutual_information"] = {
            "cuts": [int(k) for k in profile["cuts"]],
            "mi": [float(v) for v in profile["mi"]],
            "stderr": [float(v) for v in profile["stderr"]],
            "inner_ess": profile["inner_ess"],
            "reliable": list(profile["reliable"]), "warnings": profile["warnings"]}
    return record, samples


def _reliable_points(mi: dict) -> tuple[list, list, list]:
    """(cuts, values, errors) of the MI estimates marked reliable."""
    keep = [i for i, ok in enumerate(mi["reliable"]) if ok]
    return ([mi["cuts"][i] for i in keep], [mi["mi"][i] for i in keep],
            [mi["stderr"][i] for i in keep])


def _entanglement(model) -> dict | None:
    """``{"bonds", "entropy"}`` of a model with bonds (None for other models): each bond
    as the list of sites it cuts off (``model.bonds``)."""
    if not model.has_bonds:
        return None
    entropy = entanglement_entropy(model)
    return {"bonds": [list(bond.sites) for bond in model.bonds],
            "entropy": [float(v) for v in entropy]}


def _synchronize(device: torch.device) -> None:
    """Wait for queued GPU work, so that timings are honest."""
    if device.type == "cuda":
        torch.cuda.synchronize(device)
