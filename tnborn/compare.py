"""Comparison studies: several models, the same data, the same budget, numbers a referee
can check.

:func:`compare` splits a validation set off the training data (or takes one), trains
every model once per seed within the same budget while it watches the validation NLL,
keeps each run's best-validation state (early stopping with ``patience``) and measures
that state: test NLL, exact KL from the data's distribution when it is known
(``reference``), the conditional NLL of hidden image halves, mutual information and
entanglement (first seed), sampling time. Rows aggregate the seeds (mean, sample
standard deviation, n). Time budgets count the process's CPU time by default, so a busy
machine does not change the ranking. It returns the results as data, in the schema of
DESIGN.md ("Comparison results"); :func:`tnborn.report.write_report` writes
``results.json``, ``results.md`` and the figures from them. It prints nothing.

Data-parallel (``distributed=True`` or ``process_group=``, every rank calling with the
same arguments and the whole data): a model that trains by sweeps or epochs trains on
rank r's rows r, r + N, ... of the training, validation and test sets
(:mod:`tnborn.distributed`); a model fitted in closed form (``fit_unit`` None) is
fitted on all rows on every rank alike; a model without a data-parallel fit is a
ValueError on every rank. The trained models are identical on every rank, and so is
every score, measured on the whole sets (the sampled MI split over the ranks); rank 0
writes the report.
"""

from __future__ import annotations

import copy
import math
import time
import warnings

import torch

from .base import GenerativeModel, validate_configurations
from .budget import parse_budget
from .catalog import BOND_MODELS, MODEL_NAMES, PASS_NAMES, SIZE_KNOBS
from .checks import check_int, check_seed
from .diagnostics import entanglement_entropy, mutual_information_profile
from .distributed import resolve_collective
from .diagnostics.mutual_information import MIN_INNER_ESS
from .presets import check_image_shape, make_model
from .report import write_report
from .scores import check_reference, exact_kl, floor_nll, inpainting_nll
from .training import train_model

MI_CUTS_TARGET = 8  # default cuts: about every n_sites / 8 sites (whole image rows)


def compare(train, test, models, *, budget, seeds=(0,), val_data=None,
            val_fraction: float = 0.1, patience: int | None = None, sizes=None,
            reference=None, clock: str | None = None, out=None, image_shape=None,
            progress: bool = True, max_bond: int | None = None, device=None,
            mi_samples: int | None = 300, mi_inner: int = 32, mi_max_inner: int = 128,
            mi_cuts=None, inpaint: bool = True, timing_samples: int = 1000,
            shown_samples: int = 16, ais_chains: int = 100, ais_steps: int = 10_000,
            distributed: bool = False, process_group=None) -> dict:
    """Train every model of ``models`` on ``train`` within ``budget``, once per seed, and
    measure its best-validation state.

    Parameters
    ----------
    train, test : configurations ``(N, n_sites)`` (integers ``0 .. local_dim-1``, the
        alphabet taken from the data, at least binary).
    models : preset names (:data:`tnborn.catalog.MODEL_NAMES`), ready
        :class:`GenerativeModel` instances (a deep copy of it is trained per seed: same
        initialization, seeded training draws; named by their class), or
        ``(name, factory)`` pairs with ``factory(seed) -> model``. Repeated names get
        ``-2``, ``-3``, ... appended.
    budget : the same for every model: sweeps/epochs (int or ``"10"``; one pass of each
        family, stated in the results) or training time (``"60s"``, ``"2m"``).
    seeds : the seeds; each model is built (presets, factories) and trained once per seed.
    val_data, val_fraction : validation configurations, or the seeded fraction of
        ``train`` held out for them (the split is drawn with the first seed, the same for
        every run).
    patience : stop a run after this many passes without a new best validation NLL
        (None: train the whole budget; the best state is kept either way).
    sizes : ``{preset name: [values]}``, one row per value of the family's size knob
        (:data:`SIZE_KNOBS`: max_bond of MPS/TTN, hidden of MADE, channels of PixelCNN).
    reference : the exact distribution of the data when known (a GenerativeModel or ln p
        of every configuration, lexicographic): adds the exact KL(p || q) of every run
        and the floor, the test NLL of p itself.
    clock : what a time budget counts: ``"cpu"`` (the process's CPU time; the default on
        the CPU) or ``"wall"`` (the default on a GPU).
    out : folder for the report (:func:`tnborn.report.write_report`); None: no files.
    image_shape : ``(H, W)`` of image data: a 2D layout for the TTN, the PixelCNN, MI cuts
        between rows, sample grids, and the inpainting score of the lower half.
    progress, max_bond, device : the models' progress bars, the presets' bond dimension
        (None: the catalog's), the device of the built models.
    mi_samples, mi_inner, mi_max_inner, mi_cuts : the mutual-information profile of the
        first seed's model (None: none); an autoregressive net's Monte Carlo marginal
        starts with ``mi_inner`` draws per sample, and while some cut rests on fewer than
        ``MIN_INNER_ESS`` effective draws the draws are multiplied by 4, up to
        ``mi_max_inner``; cuts still short of it are marked unreliable, with the reason.
    inpaint : score the conditional NLL of the lower half of test images
        (:func:`tnborn.scores.inpainting_nll`; image data only).
    timing_samples, shown_samples : samples drawn to time sampling; samples per row in
        the report's image grids.
    ais_chains, ais_steps : the annealed importance sampling run that estimates ln Z of a
        trained model whose ``log_z_is_exact`` is False (a large RBM) before it is scored;
        its standard error, shared by every NLL of that run, is the row's
        ``log_z_err_max`` (the largest over the seeds; 0.0 where ln Z is exact). The
        inpainting NLL and the MI profile need exact marginals (``marginal_is_exact``):
        None for a model without them.
    distributed, process_group : train and estimate on the ranks of a torch.distributed
        group (module docstring); ``out`` is written by rank 0 only.

    Returns the results dict (see DESIGN.md "Comparison results"): ``data``, ``budget``,
    ``threads``, ``device``, ``seeds``, ``val_fraction``, ``patience``, ``floor``,
    ``baseline`` (the independent-sites model fitted on the training rows: ``test_nll``,
    ``kl_exact``, ``inpainting_nll``, always computed), ``rows``; each row
    has ``model``, ``setting``, ``params``, ``test_nll_mean``/``_std``,
    ``val_nll_mean``/``_std``, ``kl_exact_mean``/``_std``, ``n``, ``per_seed`` (``seed``,
    ``test_nll``, ``val_nll``, ``kl_exact``, ``best_step``, ``time_to_best``,
    ``stopped_by``, ``log_z_err``, ``log_z_reliable``, ``inpainting_nll``, ``history``),
    ``log_z_err_max``, ``log_z_reliable`` (every seed's AIS passed the ESS rule of
    :mod:`tnborn.estimate`), and the first seed's
    ``mutual_information``, ``entanglement``, ``sample_seconds_per_1000``; ``ranks``
    (1 in one process).
    """
    seeds = _check_seeds(seeds)
    train, test, local_dim = _check_data(train, test)
    n_sites = train.shape[1]
    if image_shape is not None:
        image_shape = check_image_shape(image_shape, n_sites)
    budget = parse_budget(budget)
    device = torch.device(device) if device is not None else torch.device("cpu")
    clock = _check_clock(clock, device)
    if reference is not None:
        reference = check_reference(reference, n_sites, local_dim)
    train, val, val_fraction = _validation(train, val_data, val_fraction, n_sites, seeds[0])
    group = _Group(resolve_collective(distributed, process_group), process_group)
    entries = _entries(models, sizes, n_sites, local_dim, image_shape, max_bond, device)
    if mi_samples is not None:
        mi_samples = check_int(mi_samples, "mi_samples", 2)
        mi_inner = check_int(mi_inner, "mi_inner", 1)
        mi_max_inner = max(mi_inner, check_int(mi_max_inner, "mi_max_inner", 1))
        mi_cuts = default_cuts(n_sites, image_shape) if mi_cuts is None \
            else _check_cuts(mi_cuts, n_sites)
    known = _lower_half_known(image_shape) if inpaint and image_shape is not None else None
    timing_samples = check_int(timing_samples, "timing_samples", 1)
    ais = (check_int(ais_chains, "ais_chains", 2), check_int(ais_steps, "ais_steps", 1))
    shown_samples = check_int(shown_samples, "shown_samples", 1)
    rows, shown = [], {}
    for name, family, setting, build in entries:
        runs = []
        for seed in seeds:
            model = build(seed)
            run = _run(model, train, val, test, budget=budget, seed=seed, clock=clock,
                       patience=patience, progress=progress, reference=reference,
                       known=known, ais=ais, group=group)
            if seed == seeds[0]:
                first = _first_seed_extras(model, seed, mi_samples, mi_inner, mi_max_inner,
                                           mi_cuts, timing_samples, group)
                shown[name] = first.pop("samples")[:shown_samples]
                params = model.num_parameters
            runs.append(run)
        rows.append(_row(name, family, setting, params, runs, first))
    results = {
        "data": {"n_sites": n_sites, "local_dim": local_dim, "train_size": len(train),
                 "val_size": len(val), "test_size": len(test),
                 "image_shape": list(image_shape) if image_shape is not None else None},
        "budget": _budget_record(budget, clock, {row["family"] for row in rows}),
        "threads": torch.get_num_threads(), "device": str(device), "seeds": list(seeds),
        "ranks": group.collective.world,
        "val_fraction": val_fraction, "patience": patience,
        "floor": {"test_nll": None if reference is None else floor_nll(reference, test)},
        "baseline": _baseline(train, test, local_dim, reference, known),
        "rows": rows,
    }
    if out is not None and group.collective.is_main:
        results["files"] = write_report(results, out, samples=shown)
    return results


class _Group:
    """The ranks of a data-parallel comparison (one process: the identity)."""

    def __init__(self, collective, process_group):
        self.collective = collective
        self.options = {"distributed": True, "process_group": process_group} \
            if collective.active else {}


def _baseline(train, test, local_dim, reference, known) -> dict:
    """The independent-sites model fitted (closed form, the preset's pseudocount) on the
    training rows, scored like every row: the baseline each score is read against."""
    model = make_model("independent", train.shape[1], local_dim=local_dim)
    model.fit(train)
    return {"model": "independent", "params": model.num_parameters,
            "test_nll": model.nll(test),
            "kl_exact": None if reference is None else exact_kl(reference, model),
            "inpainting_nll": None if known is None else inpainting_nll(model, test, known)}


def default_cuts(n_sites: int, image_shape=None) -> list[int]:
    """About :data:`MI_CUTS_TARGET` - 1 evenly spaced chain cuts in ``1 .. n_sites - 1``;
    with an image shape ``(H, W)`` (H >= 2) they fall between whole rows."""
    if image_shape is not None and image_shape[0] >= 2:
        height, width = image_shape
        step = width * max(1, height // MI_CUTS_TARGET)
    else:
        step = max(1, n_sites // MI_CUTS_TARGET)
    return list(range(step, n_sites, step))


# ------------------------------------------------------------------------ runs
def _run(model, train, val, test, *, budget, seed, clock, patience, progress, reference,
         known, ais, group) -> dict:
    """Train one model once (keeping its best-validation state) and measure it (after an
    AIS estimate of ln Z where it is not exact); data-parallel on ``group``'s shards
    unless the model is fitted in closed form."""
    generator = torch.Generator(model.device).manual_seed(seed)
    if model.fit_unit is None:
        history = train_model(model, train, budget=budget, test_data=test, val_data=val)
    else:
        shard = group.collective.shard
        history = train_model(model, shard(train), budget=budget, test_data=shard(test),
                              val_data=shard(val), patience=patience, clock=clock,
                              progress=progress, generator=generator, **group.options)
    best = min(history, key=lambda record: record["val_nll"])
    spent = "cpu_seconds" if clock == "cpu" else "seconds"
    log_z_err, log_z_reliable = 0.0, True
    if not model.log_z_is_exact:
        estimate = model.log_z("ais", chains=ais[0], steps=ais[1], generator=generator,
                               base_data=train)
        log_z_err, log_z_reliable = estimate.stderr, estimate.reliable
    inpaint = known is not None and model.marginal_is_exact(known)
    return {
        "seed": seed, "test_nll": model.nll(test), "val_nll": model.nll(val),
        "train_nll": model.nll(train),
        "kl_exact": None if reference is None else exact_kl(reference, model),
        "best_step": best["step"], "time_to_best": best[spent],
        "stopped_by": history[-1].get("stopped_by", "budget"),
        "steps": history[-1]["step"], "train_seconds": history[-1][spent],
        "log_z_err": log_z_err, "log_z_reliable": log_z_reliable,
        "inpainting_nll": inpainting_nll(model, test, known) if inpaint else None,
        "history": [{key: value for key, value in record.items()
                     if isinstance(value, (bool, int, float, str))} for record in history],
    }


def _first_seed_extras(model, seed, mi_samples, mi_inner, mi_max_inner, mi_cuts,
                       timing_samples, group) -> dict:
    """Sampling time, samples, entanglement and the MI profile of the first seed's run."""
    generator = torch.Generator(model.device).manual_seed(seed)
    _synchronize(model.device)
    start = time.perf_counter()
    samples = model.sample(timing_samples, generator=generator)
    _synchronize(model.device)
    extras = {"sample_seconds_per_1000": (time.perf_counter() - start) * 1000 / timing_samples,
              "samples": samples, "entanglement": _entanglement(model),
              "mutual_information": None}
    if mi_samples is not None and all(model.marginal_is_exact(m) or
                                      model.marginal_is_exact(~m)
                                      for m in (_prefix(model, k) for k in mi_cuts)):
        extras["mutual_information"] = _mutual_information(
            model, mi_cuts, mi_samples, mi_inner, mi_max_inner, generator, group)
    return extras


def _prefix(model, k: int) -> torch.Tensor:
    """The sites before chain cut ``k`` as a bool mask ``(n_sites,)``."""
    return torch.arange(model.n_sites, device=model.device) < k


def _mutual_information(model, cuts, num, inner, max_inner, generator, group) -> dict:
    """The MI profile, with more inner draws while a cut's Monte Carlo marginal is too
    thin (up to ``max_inner``)."""
    while True:
        with warnings.catch_warnings():  # recorded as "reliable" instead
            warnings.simplefilter("ignore", RuntimeWarning)
            profile = mutual_information_profile(model, cuts=cuts, num=num, inner=inner,
                                                 generator=generator, **group.options)
        thin = any(e is not None and e < MIN_INNER_ESS for e in profile["inner_ess"])
        if not thin or inner >= max_inner:
            break
        inner = min(4 * inner, max_inner)
    return {"cuts": [int(k) for k in profile["cuts"]],
            "mi": [float(v) for v in profile["mi"]],
            "stderr": [float(v) for v in profile["stderr"]],
            "inner_ess": profile["inner_ess"], "inner": inner,
            "reliable": list(profile["reliable"]), "warnings": profile["warnings"]}


def _row(name, family, setting, params, runs, first) -> dict:
    """One table row: the seeds' results aggregated (mean, sample std, n)."""
    row = {"model": name, "family": family, "setting": setting, "params": params,
           "n": len(runs)}
    for key in ("test_nll", "val_nll", "kl_exact", "time_to_best", "inpainting_nll"):
        values = [run[key] for run in runs]
        row[f"{key}_mean"], row[f"{key}_std"] = _mean_std(values)
    row["log_z_err_max"] = max(run["log_z_err"] for run in runs)
    row["log_z_reliable"] = all(run["log_z_reliable"] for run in runs)
    row["stopped_by"] = sorted({run["stopped_by"] for run in runs})
    row["per_seed"] = runs
    row.update({key: first[key] for key in ("mutual_information", "entanglement",
                                            "sample_seconds_per_1000")})
    return row


def _mean_std(values):
    """(mean, sample standard deviation) of numbers; (None, None) when any is None;
    the std of one value is 0.0."""
    if any(v is None for v in values):
        return None, None
    mean = sum(values) / len(values)
    if len(values) == 1:
        return mean, 0.0
    return mean, math.sqrt(sum((v - mean) ** 2 for v in values) / (len(values) - 1))


def _budget_record(budget, clock, families) -> dict:
    """The budget as data: its text, steps, seconds, clock and what a pass is per family."""
    per_family = {}
    for family in sorted(families):
        passes = PASS_NAMES.get(family, "passes")
        if passes == "closed-form fit":
            per_family[family] = passes
        elif budget.steps is not None:
            per_family[family] = f"{budget.steps} {passes}" + (
                f" or {budget.seconds:g} s ({clock})" if budget.seconds is not None else "")
        else:
            per_family[family] = f"{budget.seconds:g} s ({clock} time)"
    return {"text": str(budget), "steps": budget.steps, "seconds": budget.seconds,
            "clock": clock, "per_family": per_family}


# ----------------------------------------------------------------- the inputs
def _check_seeds(seeds) -> tuple[int, ...]:
    if isinstance(seeds, (str, bytes)) or not hasattr(seeds, "__iter__"):
        raise TypeError(f"seeds must be a sequence of ints, got {seeds!r}")
    seeds = tuple(check_seed(s) for s in seeds)
    if not seeds or len(set(seeds)) != len(seeds):
        raise ValueError(f"seeds must be distinct and at least one, got {list(seeds)}")
    return seeds


def _check_clock(clock, device: torch.device) -> str:
    if clock is None:
        return "wall" if device.type == "cuda" else "cpu"
    if clock not in ("cpu", "wall"):
        raise ValueError(f"clock must be 'cpu' or 'wall', got {clock!r}")
    return clock


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


def _validation(train, val_data, val_fraction, n_sites, seed):
    """(training rows, validation rows, the fraction held out or None)."""
    if val_data is not None:
        val = validate_configurations(val_data, n_sites, 2 ** 31, name="val_data")
        return train, val.reshape(-1, n_sites), None
    if isinstance(val_fraction, bool) or not isinstance(val_fraction, (int, float)) \
            or not 0 < val_fraction < 1:
        raise ValueError(f"val_fraction must be in (0, 1), got {val_fraction!r}")
    held = max(1, round(val_fraction * len(train)))
    if held >= len(train):
        raise ValueError(f"{len(train)} training rows are too few to hold out "
                         f"{val_fraction:g} of them for validation")
    order = torch.randperm(len(train), generator=torch.Generator().manual_seed(seed))
    return train[order[held:]], train[order[:held]], float(val_fraction)


def _entries(models, sizes, n_sites, local_dim, image_shape, max_bond, device):
    """``[(name, family, setting, build(seed))]``: one per preset setting, instance or
    factory, names made unique."""
    if isinstance(models, (str, GenerativeModel)) or not hasattr(models, "__iter__"):
        raise TypeError("models must be a list of names, GenerativeModel instances or "
                        "(name, factory) pairs")
    models = list(models)
    if not models:
        raise ValueError("models is empty: give at least one name or model")
    sizes = _check_sizes(sizes, models)
    if max_bond is not None and not any(name in BOND_MODELS for name in models
                                        if isinstance(name, str)):
        raise ValueError(f"max_bond applies to the Born machines ({', '.join(BOND_MODELS)}"
                         "), and none is among the models")
    entries = []
    for entry in models:
        if isinstance(entry, str):
            entries += _preset_entries(entry, sizes.get(entry), n_sites, local_dim,
                                       image_shape, max_bond, device)
        elif isinstance(entry, GenerativeModel):
            _check_fits(entry, n_sites, local_dim)
            entries.append((type(entry).__name__, type(entry).__name__, {},
                            lambda seed, model=entry: copy.deepcopy(model)))
        elif isinstance(entry, tuple) and len(entry) == 2 and isinstance(entry[0], str) \
                and callable(entry[1]):
            entries.append((entry[0], entry[0], {}, _checked_factory(entry[1], n_sites,
                                                                     local_dim)))
        else:
            raise TypeError(f"models must hold names, GenerativeModel instances or "
                            f"(name, factory) pairs, got {entry!r}")
    named, seen = [], set()
    for name, family, setting, build in entries:
        unique, copy_number = name, 1
        while unique in seen:
            copy_number += 1
            unique = f"{name}-{copy_number}"
        seen.add(unique)
        named.append((unique, family, setting, build))
    return named


def _preset_entries(name, values, n_sites, local_dim, image_shape, max_bond, device):
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    if values is None:
        setting = {"max_bond": max_bond} if max_bond is not None and name in BOND_MODELS \
            else {}
        return [(name, name, setting, _preset_builder(name, setting, n_sites, local_dim,
                                                      image_shape, device))]
    knob = SIZE_KNOBS[name]
    return [(f"{name} {knob}={value}", name, {knob: value},
             _preset_builder(name, {knob: value}, n_sites, local_dim, image_shape, device))
            for value in values]


def _preset_builder(name, setting, n_sites, local_dim, image_shape, device):
    bond = setting.get("max_bond")
    others = {key: value for key, value in setting.items() if key != "max_bond"}

    def build(seed):
        return make_model(name, n_sites, local_dim=local_dim, image_shape=image_shape,
                          max_bond=bond, seed=seed, device=device, sizes=others)
    build(0)  # fail on bad sizes before any training
    return build


def _check_sizes(sizes, models) -> dict:
    if sizes is None:
        return {}
    if not isinstance(sizes, dict):
        raise TypeError(f"sizes must be a dict {{preset name: [values]}}, got {sizes!r}")
    for name, values in sizes.items():
        if name not in SIZE_KNOBS:
            raise ValueError(f"sizes sweeps {', '.join(SIZE_KNOBS)} (their "
                             f"{', '.join(sorted(set(SIZE_KNOBS.values())))}), not {name!r}")
        if name not in models:
            raise ValueError(f"sizes names {name!r}, which is not among the models")
        if isinstance(values, (str, bytes)) or not hasattr(values, "__iter__") or \
                not list(values):
            raise ValueError(f"sizes[{name!r}] must be a non-empty list of integers")
        sizes[name] = [check_int(v, f"sizes[{name!r}]", 1) for v in values]
    return sizes


def _check_fits(model, n_sites, local_dim) -> None:
    if not model.support.is_discrete:
        raise ValueError(f"a {type(model).__name__} on {model.support} does not fit "
                         "discrete data")
    if model.n_sites != n_sites or model.local_dim < local_dim:
        raise ValueError(f"a {type(model).__name__} over {model.n_sites} sites with "
                         f"{model.local_dim} values does not fit data of {n_sites} sites "
                         f"with {local_dim} values")


def _checked_factory(factory, n_sites, local_dim):
    def build(seed):
        model = factory(seed)
        if not isinstance(model, GenerativeModel):
            raise TypeError(f"a model factory must return a GenerativeModel, got "
                            f"{type(model).__name__}")
        _check_fits(model, n_sites, local_dim)
        return model
    return build


def _check_cuts(cuts, n_sites: int) -> list[int]:
    """Sorted distinct chain cuts, each an integer in ``1 .. n_sites - 1``."""
    cuts = sorted({check_int(k, "cut", 1) for k in cuts})
    if not cuts or cuts[-1] >= n_sites:
        raise ValueError(f"mi_cuts must be integers in 1..{n_sites - 1}, got {cuts}")
    return cuts


def _lower_half_known(image_shape) -> torch.Tensor:
    """The upper rows known, the lower half hidden (a prefix of the raster order, so
    every model's conditional is exact)."""
    height, width = image_shape
    known = torch.zeros(height, width, dtype=torch.bool)
    known[:height - height // 2] = True
    return known.reshape(-1)


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
