"""Helicity modulus, vortex density and energy of the periodic 2D XY model against T by
Monte Carlo (`xy_monte_carlo`) for several lattice sizes, with the universal jump
2 T / pi of the Kosterlitz-Thouless transition, into a figure (docs/results_xy.md),
and the CAN points of `xy_reproduction.py` when its JSON is given.

    python benchmarks/xy_helicity.py [--sizes 8 16] [--temperatures 0.5 ... 1.5]
        [--can runs/xy_made.json ...] [--png docs/figures/xy_helicity.png]
"""

from __future__ import annotations

import argparse
import json

import numpy as np

from tnborn.physics import xy_monte_carlo
from tnborn.plotting import panel_plot


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--temperatures", type=float, nargs="+",
                        default=[0.5, 0.7, 0.8, 0.9, 1.0, 1.1, 1.2, 1.3, 1.5])
    parser.add_argument("--sweeps", type=int, default=1500)
    parser.add_argument("--can", nargs="*", default=[],
                        help="xy_reproduction.py JSON files whose CAN points to overlay")
    parser.add_argument("--png", default="docs/figures/xy_helicity.png")
    parser.add_argument("--out", default="runs/xy_helicity.json")
    args = parser.parse_args()
    curves = {}
    print("| L | T | E per site | helicity | vortex density |\n|---:|---:|---:|---:|---:|")
    for L in args.sizes:
        rows = []
        for T in args.temperatures:
            r = xy_monte_carlo(L, 1.0 / T, sweeps=args.sweeps, chains=16, seed=L)
            rows.append({key: (r[key].value, r[key].stderr)
                         for key in ("energy", "helicity", "vortex_density")})
            print(f"| {L} | {T:g} | {r['energy'].value:.4f} +- {r['energy'].stderr:.4f} | "
                  f"{r['helicity'].value:.4f} +- {r['helicity'].stderr:.4f} | "
                  f"{r['vortex_density'].value:.5f} +- {r['vortex_density'].stderr:.5f} |",
                  flush=True)
        curves[L] = rows
    temps = args.temperatures
    panels = {"helicity modulus": {}, "vortex density": {}}
    for L, rows in curves.items():
        for panel, key in (("helicity modulus", "helicity"), ("vortex density",
                                                              "vortex_density")):
            panels[panel][f"Monte Carlo, L = {L}"] = (
                temps, [r[key][0] for r in rows], [r[key][1] for r in rows], "curve")
    grid = np.linspace(min(temps), max(temps), 50)
    panels["helicity modulus"]["2T / pi (KT jump)"] = (list(grid), list(2 * grid / np.pi),
                                                        None, "line")
    points = sorted((p for path in args.can for p in json.load(open(path))["lattice"]),
                    key=lambda p: (p["model"], p["T"]))
    for model in dict.fromkeys(p["model"] for p in points):
        mine = [p for p in points if p["model"] == model]
        label = f"{model}, L = {mine[0]['L']}, importance sampled"
        for panel, key in (("helicity modulus", "helicity"), ("vortex density", "vortex")):
            panels[panel][label] = ([p["T"] for p in mine],
                                    [p[f"{key}_importance"] for p in mine],
                                    [p[f"{key}_importance_err"] for p in mine], "points")
    panel_plot(panels, args.png, xlabel="T", title="2D XY model: stiffness and vortices")
    with open(args.out, "w") as f:
        json.dump({str(L): rows for L, rows in curves.items()}, f, indent=1)
    print(f"wrote {args.png}")


if __name__ == "__main__":
    main()
