"""The report of a comparison study, generated from its results (the dict
:func:`tnborn.compare.compare` returns, the schema of ``results.json``): Markdown tables
and figures. It reads only that dict, so a saved ``results.json`` can be rendered again.
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from .diagnostics.mutual_information import MAX_NEGATIVE_SIGMAS, MIN_INNER_ESS

BAND_POINTS = 60  # points of the common time grid of the NLL bands
KL_LABEL = "exact KL(p || q) (nats)"


def write_report(results: dict, out, *, samples: dict | None = None) -> dict[str, str]:
    """Write into ``out`` (created): ``results.json``; ``results.md`` (the tables);
    ``nll.png`` (validation NLL against training seconds, the band spanning the seeds);
    ``pareto.png`` (test NLL, and the exact KL when known, against parameters, error bars
    over seeds);
    ``mutual_information.png`` (reliable MI values of the first seed);
    ``entanglement_<row>.png`` (rows with bonds); and, given ``samples``
    ``{row: (N, n_sites)}`` and an image shape, ``samples_<row>.png``. Returns
    ``{name: path}``."""
    from .born import Bond
    from .figures import entanglement_figure
    from .plotting import image_grid, panel_plot

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    rows = results["rows"]
    clock = results["budget"]["clock"]
    files = {"json": out / "results.json", "markdown": out / "results.md"}
    files["nll"] = panel_plot(
        {"validation NLL (nats)": {row["model"]: _band(row, "val_nll", clock) for row in rows}},
        out / "nll.png", xlabel=f"training seconds ({clock})",
        title="Validation NLL during training (band: the seeds' range)")
    pareto = {"test NLL (nats)": _pareto_series(rows, "test_nll", results["floor"]["test_nll"])}
    if any(row["kl_exact_mean"] is not None for row in rows):
        pareto[KL_LABEL] = _pareto_series(rows, "kl_exact")
    files["pareto"] = panel_plot(pareto, out / "pareto.png", xlabel="parameters",
                                 logx=True, logy=(KL_LABEL,),
                                 title="The best-validation state against size")
    with_mi = {row["model"]: _reliable_points(row["mutual_information"]) for row in rows
               if row["mutual_information"] is not None}
    with_mi = {name: points for name, points in with_mi.items() if points[0]}
    if with_mi:
        files["mutual_information"] = panel_plot(
            {"mutual information (nats)": {name: (*points, "curve")
                                           for name, points in with_mi.items()}},
            out / "mutual_information.png", xlabel="cut k (sites < k | sites >= k)",
            title="Mutual information across chain cuts (first seed)")
    for row in rows:
        slug = _slug(row["model"])
        if row["entanglement"] is not None:
            bonds = [Bond(i, tuple(s)) for i, s in enumerate(row["entanglement"]["bonds"])]
            files[f"entanglement_{slug}"] = entanglement_figure(
                row["entanglement"]["entropy"], bonds, out / f"entanglement_{slug}.png",
                title=f"{row['model']}: entanglement (first seed)")
    shape = results["data"]["image_shape"]
    if samples is not None and shape is not None:
        for name, drawn in samples.items():
            files[f"samples_{_slug(name)}"] = image_grid(
                drawn.cpu(), tuple(shape), out / f"samples_{_slug(name)}.png",
                title=f"{name} samples")
    files = {key: str(path) for key, path in files.items()}
    Path(files["markdown"]).write_text(markdown_report(results) + "\n")
    Path(files["json"]).write_text(json.dumps({**results, "files": files}, indent=1))
    return files


def markdown_report(results: dict) -> str:
    """The whole ``results.md``: the setting, the main table, the MI table."""
    data, budget = results["data"], results["budget"]
    seeds = results["seeds"]
    held = f"{results['val_fraction']:g} of the training data" \
        if results["val_fraction"] is not None else "a given validation set"
    lines = [f"# Comparison of {len(results['rows'])} models", "",
             f"{data['train_size']} training, {data['val_size']} validation ({held}) and "
             f"{data['test_size']} test configurations of {data['n_sites']} sites. Budget "
             "per model: " + "; ".join(f"{family} {text}" for family, text in
                                       budget["per_family"].items())
             + f". Seeds {', '.join(map(str, seeds))} ({len(seeds)} runs per row, "
             f"{results['threads']} torch threads{_ranks_phrase(results)}, "
             f"{results['device']}). Every run keeps "
             "its best-validation state (patience "
             f"{results['patience'] if results['patience'] is not None else 'none'}); "
             "the test NLL is that state's. NLLs in nats; mean +- sample standard "
             "deviation over the seeds." + _ais_sentence(results["rows"]), "",
             markdown_table(results)]
    mi = mutual_information_table(results)
    if mi is not None:
        lines += ["", "Mutual information (nats) across chain cuts k (sites < k | sites "
                  ">= k), first seed:", "", mi]
    return "\n".join(lines)


def markdown_table(results: dict) -> str:
    """The main table: model, parameters, test and validation NLL, exact KL (when the
    data's distribution is known), inpainting NLL, time to the best state, what stopped
    the runs, sampling time; a floor line when the exact test NLL is known."""
    rows = results["rows"]
    with_kl = any(row["kl_exact_mean"] is not None for row in rows)
    with_inpaint = any(row["inpainting_nll_mean"] is not None for row in rows)
    clock = results["budget"]["clock"]
    header = ["model", "params", "n", "test NLL", "val NLL"] + (["KL(p\\|\\|q)"] if with_kl
                                                           else [])
    header += (["inpainting NLL"] if with_inpaint else []) + [
        f"time to best (s, {clock})", "stopped by", "sample s/1000"]
    lines = ["| " + " | ".join(header) + " |",
             "|---|" + "---:|" * (len(header) - 3) + "---|---:|"]
    for row in rows:
        ais = ""
        if row.get("log_z_err_max"):
            ais = (f" (AIS ln Z +- {row['log_z_err_max']:.3f}"
                   + ("" if row.get("log_z_reliable", True) else ", UNRELIABLE: low ESS")
                   + ")")
        cells = [row["model"], f"{row['params']:,}", str(row["n"]),
                 _pm(row, "test_nll", ".3f") + ais, _pm(row, "val_nll", ".3f")]
        if with_kl:
            cells.append(_pm(row, "kl_exact", ".4f"))
        if with_inpaint:
            cells.append(_pm(row, "inpainting_nll", ".2f"))
        cells += [_pm(row, "time_to_best", ".3g"), ", ".join(row["stopped_by"]),
                  f"{row['sample_seconds_per_1000']:.3g}"]
        lines.append("| " + " | ".join(cells) + " |")
    base = results["baseline"]
    scores = [f"test NLL {base['test_nll']:.3f}"]
    if with_kl:
        scores.append(f"KL {base['kl_exact']:.4f}")
    if with_inpaint:
        scores.append(f"inpainting NLL {base['inpainting_nll']:.2f}")
    lines += ["", "Baseline: independent sites fitted on the training rows (closed form, "
              f"{base['params']:,} parameters): " + ", ".join(scores) + "."]
    floor = results["floor"]["test_nll"]
    if floor is not None:
        lines += [f"Floor: the exact distribution's own test NLL is {floor:.4f} nats "
                  "(KL = 0)."]
    return "\n".join(lines)


def mutual_information_table(results: dict) -> str | None:
    """MI per cut and row (first seed), +- standard error; an unreliable value is left
    out (``(!) left out``), its estimate and the reasons listed under the table. None
    when no row has MI."""
    rows = [row for row in results["rows"] if row["mutual_information"] is not None]
    if not rows:
        return None
    cuts = rows[0]["mutual_information"]["cuts"]
    lines = ["| model | inner draws | " + " | ".join(f"k={k}" for k in cuts) + " |",
             "|---|---:|" + "---:|" * len(cuts)]
    notes = []
    for row in rows:
        mi = row["mutual_information"]
        exact = all(e is None for e in mi["inner_ess"])
        cells = [f"{v:.3f} +- {e:.3f}" if ok else "(!) left out"
                 for v, e, ok in zip(mi["mi"], mi["stderr"], mi["reliable"])]
        lines.append(f"| {row['model']} | {'exact marginals' if exact else mi['inner']} | "
                     + " | ".join(cells) + " |")
        for k, value, ok, why in zip(mi["cuts"], mi["mi"], mi["reliable"], mi["warnings"]):
            if not ok:
                notes.append(f"- {row['model']}, k={k} (estimate {value:.3f}): "
                             + "; ".join(why))
    if notes:
        lines += ["", f"(!) left out of the table and the figure as unreliable: the Monte "
                  f"Carlo marginal of an autoregressive net rested on fewer than "
                  f"{MIN_INNER_ESS:g} effective inner draws (median) even at the largest "
                  f"number of inner draws tried, or the MI lies more than "
                  f"{MAX_NEGATIVE_SIGMAS:g} standard errors below 0. Per value:", *notes]
    return "\n".join(lines)


# ---------------------------------------------------------------------- helpers
def _ranks_phrase(results: dict) -> str:
    """The ranks of a distributed study, for the report's first paragraph (results
    written before the ``ranks`` entry: one process)."""
    ranks = results.get("ranks", 1)
    return f" per rank, sweeps and epochs data-parallel on {ranks} ranks" if ranks > 1 \
        else ""


def _ais_sentence(rows: list[dict]) -> str:
    """What the ``(AIS ln Z +- e)`` of a row means, when some row has one."""
    if not any(row.get("log_z_err_max") for row in rows):
        return ""
    return (" A row marked (AIS ln Z +- e) has no exact ln Z: its NLLs subtract an annealed "
            "importance sampling estimate, whose standard error e (the largest over the "
            "seeds) every NLL of the row shares.")


def _pm(row: dict, key: str, spec: str) -> str:
    """``mean +- std`` of ``key`` in format ``spec`` (the mean alone for one seed)."""
    mean, std = row[f"{key}_mean"], row[f"{key}_std"]
    if mean is None:
        return "-"
    return f"{mean:{spec}} +- {std:{spec}}" if row["n"] > 1 else f"{mean:{spec}}"


def _band(row: dict, key: str, clock: str):
    """(grid, mean, (low, high), "band") of one row's seeds' curves of ``key`` against
    training seconds, each interpolated on a common grid up to the shortest run."""
    spent = "cpu_seconds" if clock == "cpu" else "seconds"
    curves = [([h[spent] for h in run["history"]], [h[key] for h in run["history"]])
              for run in row["per_seed"]]
    end = min(x[-1] for x, _ in curves)
    start = max(x[0] for x, _ in curves)
    if len(curves[0][0]) < 2 or end <= start:
        x, y = curves[0]
        return x, y, None, "curve"
    grid = np.linspace(start, end, BAND_POINTS)
    values = np.array([np.interp(grid, x, y) for x, y in curves])
    return list(grid), list(values.mean(0)), (list(values.min(0)), list(values.max(0))), \
        "band"


def _pareto_series(rows: list[dict], key: str, floor: float | None = None) -> dict:
    """``{family: (params, means of key, stds, style)}`` in the rows' order, the settings
    of a family sorted by size and joined by a line; and the floor (the exact
    distribution's test NLL) as a horizontal line when it is given."""
    families = {}  # in the rows' order, so that each family keeps its colour
    for row in rows:
        families.setdefault(row["family"], []).append(row)
    series = {}
    for family, members in families.items():
        members = sorted(members, key=lambda row: row["params"])
        series[family] = ([row["params"] for row in members],
                          [row[f"{key}_mean"] for row in members],
                          [row[f"{key}_std"] for row in members],
                          "curve" if len(members) > 1 else "points")
    if floor is not None:
        sizes = [row["params"] for row in rows]
        series["exact p (floor)"] = ([min(sizes), max(sizes)], [floor, floor], None, "line")
    return series


def _reliable_points(mi: dict) -> tuple[list, list, list]:
    """(cuts, values, errors) of the MI estimates marked reliable."""
    keep = [i for i, ok in enumerate(mi["reliable"]) if ok]
    return ([mi["cuts"][i] for i in keep], [mi["mi"][i] for i in keep],
            [mi["stderr"][i] for i in keep])


def _slug(name: str) -> str:
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name)
