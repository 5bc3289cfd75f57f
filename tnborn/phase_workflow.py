"""`tnborn phases`: the result of :func:`tnborn.physics.phase_scan` as plain data, a
Markdown table and a figure (couplings, <|m|> and the Binder cumulant against T, with
the Binder crossing, Onsager's T_c and the M_s fit marked)."""

from __future__ import annotations

from pathlib import Path

from .estimate import Estimate
from .plotting import panel_plot

__all__ = ["phase_plain", "phase_table", "phase_summary", "phase_figure"]


def phase_plain(result: dict) -> dict:
    """``result`` with every :class:`~tnborn.Estimate` as :meth:`Estimate.as_dict` (for
    JSON)."""
    def plain(value):
        if isinstance(value, Estimate):
            return value.as_dict()
        if isinstance(value, dict):
            return {key: plain(v) for key, v in value.items()}
        if isinstance(value, list):
            return [plain(v) for v in value]
        return value
    return plain(result)


def _couplings_text(beta_j, next_nearest) -> str:
    return "-" if beta_j is None else f"{beta_j:.4f} / {next_nearest:+.4f}"


def phase_table(result: dict) -> str:
    """Markdown: one row per (L, T) with the learned (nearest-only fit) and true beta J,
    its worst bond, the joint nearest / next-nearest fit of the model and of the data
    (pseudo-likelihood), the model's and the data's <|m|> and Binder cumulant, and the
    test NLL."""
    lines = ["| L | T | beta J learned | beta J true | worst bond | model nn / nnn | "
             "data nn / nnn | <abs m> model | <abs m> data | U model | U data | test NLL |",
             "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|"]
    for points in result["points"]:
        for p in points:
            m, md, u, ud = (p[k] for k in ("abs_magnetization", "data_abs_magnetization",
                                           "binder", "data_binder"))
            lines.append(
                f"| {p['L']} | {p['T']:g} | {p['beta_j']:.4f} | {p['beta_j_true']:.4f} | "
                f"{100 * p['beta_j_worst_error']:.1f} % | "
                f"{_couplings_text(p['beta_j_with_next'], p['next_nearest'])} | "
                f"{_couplings_text(p['data_beta_j'], p['data_next_nearest'])} | "
                f"{m['value']:.4f} +- {m['stderr']:.4f} | {md['value']:.4f} | "
                f"{u['value']:.4f} +- {u['stderr']:.4f} | {ud['value']:.4f} | "
                f"{p['test_nll']:.3f} |")
    return "\n".join(lines)


def phase_summary(result: dict) -> list[str]:
    """Lines of the scan's T_c estimates: the Binder crossings of the model and of the
    data (with their distance from Onsager's T_c), the M_s fit, Onsager's T_c."""
    lines = []
    for key, label in (("crossing", "model"), ("crossing_data", "data")):
        crossing = result[key]
        text = "no single crossing in range" if crossing is None else (
            f"{crossing.value:.4f} +- {crossing.stderr:.4f} "
            f"({100 * (crossing.value / result['tc_exact'] - 1):+.2f} % from Onsager)")
        lines.append(f"Binder crossing ({label}): {text}")
    fitted = result["magnetization_fit"]
    if fitted is not None:
        lines.append(f"M_s fit: T_c = {fitted['tc'].value:.4f} +- {fitted['tc'].stderr:.4f}, "
                     f"b = {fitted['exponent'].value:.3f} +- "
                     f"{fitted['exponent'].stderr:.3f}, M_s(0) = {fitted['m0'].value:.4f} "
                     f"(chi2 {fitted['chi2']:.1f} / {fitted['dof']})")
    lines.append(f"Onsager T_c = {result['tc_exact']:.4f}")
    return lines


def phase_figure(result: dict, path) -> Path:
    """Three panels against T (see the module docstring), saved as PNG at ``path``."""
    temperatures = result["temperatures"]
    couplings, magnetization, binder = {}, {}, {}
    couplings["true 1/T"] = (temperatures, [1 / t for t in temperatures], None, "line")
    for points in result["points"]:
        L = points[0]["L"]
        for key, label, panel in (("abs_magnetization", "model", magnetization),
                                  ("binder", "model", binder),
                                  ("data_binder", "data", binder)):
            panel[f"L = {L} {label}"] = (temperatures, [p[key]["value"] for p in points],
                                         [p[key]["stderr"] for p in points],
                                         "curve" if label == "model" else "points")
        couplings[f"L = {L} nearest"] = (temperatures, [p["beta_j"] for p in points], None,
                                         "curve")
        couplings[f"L = {L} next-nearest"] = (
            temperatures, [p["next_nearest"] for p in points], None, "points")
    top = max(float(p["binder"]["value"]) for points in result["points"] for p in points)
    binder["Onsager T_c"] = ([result["tc_exact"]] * 2, [0, top], None, "line")
    crossing = result.get("crossing")
    if crossing is not None:
        binder[f"crossing {float(crossing):.3f}"] = ([float(crossing)] * 2, [0, top], None,
                                                     "curve")
    fitted = result.get("magnetization_fit")
    if fitted is not None:
        tc, m0, b = (float(fitted[k]) for k in ("tc", "m0", "exponent"))
        grid = [t for t in temperatures if t < tc] + [tc]
        magnetization[f"M_s fit, T_c = {tc:.3f}"] = (
            grid, [m0 * (1 - t / tc) ** b for t in grid], None, "line")
    return panel_plot({"beta J": couplings, "<|m|>": magnetization, "Binder U": binder},
                      path, xlabel="T",
                      title="2D Ising couplings and order read from learned models")
