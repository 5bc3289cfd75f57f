"""Variational autoregressive network (VAN) on the 2D Ising model: F, E, S and |m|
against beta for an L x L periodic lattice, with exact curves.

A Z2-symmetric MADE is trained at increasing beta (each temperature starts from the
previous one's network). At every beta, 100,000 samples give the variational and
importance-sampled free energy and the Boltzmann averages of E, S and |m|. Exact curves:
Kaufman's ln Z (F = -ln Z / beta, E = -d ln Z / d beta, S = beta (E - F)); |m| is compared
with Wolff-cluster Monte Carlo. Writes ``ising_van.png`` into --out::

    python examples/ising_van.py --L 8 --steps 500
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import torch

from tnborn import MADE
from tnborn.datasets import ising_samples
from tnborn.physics import Ising2D, free_energy, ising2d_log_z, train_variational
from tnborn.plotting import panel_plot


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output/ising_van"))
    parser.add_argument("--L", type=int, default=8, help="lattice side (default: %(default)s)")
    parser.add_argument("--betas", type=float, nargs="+",
                        default=[0.1, 0.2, 0.3, 0.4, 0.44, 0.5, 0.6, 0.7])
    parser.add_argument("--steps", type=int, default=500, help="training steps per beta")
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--samples", type=int, default=100_000, help="samples per estimate")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def exact_curves(L: int, betas: np.ndarray) -> dict[str, np.ndarray]:
    """F/N, E/N and S/N from Kaufman's ln Z (E by a central difference)."""
    n = L * L
    step = 1e-5
    log_z = np.array([ising2d_log_z(L, b) for b in betas])
    energy = -np.array([(ising2d_log_z(L, b + step) - ising2d_log_z(L, b - step)) / (2 * step)
                        for b in betas]) / n
    free = -log_z / (betas * n)
    return {"F": free, "E": energy, "S": betas * (energy - free)}


def main(argv=None) -> dict:
    args = parse_args(argv)
    n = args.L * args.L
    hamiltonian = Ising2D(args.L)
    generator = torch.Generator().manual_seed(args.seed)
    model = MADE(n, hidden=args.hidden, seed=args.seed)
    rows = []
    for index, beta in enumerate(sorted(args.betas)):
        train_variational(model, hamiltonian, beta, steps=args.steps, batch_size=args.batch,
                          lr=1e-3, beta_anneal=0.98 if index == 0 else None, z2=True,
                          progress=not args.no_progress, generator=generator)
        result = free_energy(model, hamiltonian, beta, num=args.samples, generator=generator)
        wolff = ising_samples(args.L, beta, 2000, seed=args.seed + index)
        wolff_m = (2 * wolff - 1).double().mean(1).abs()
        rows.append({"beta": beta, **result, "wolff_m": float(wolff_m.mean()),
                     "wolff_m_err": float(wolff_m.std() / np.sqrt(len(wolff_m)))})
        exact_f = -ising2d_log_z(args.L, beta) / (beta * n)
        print(f"beta {beta:.3f}: F/N var {result['F_variational_per_site']:.6f}, "
              f"IS {result['F_importance_per_site']:.6f}, exact {exact_f:.6f}; "
              f"ESS {result['ess']:.3f}")
    grid = np.linspace(min(args.betas), max(args.betas), 200)
    exact = exact_curves(args.L, grid)
    betas = np.array([r["beta"] for r in rows])

    def points(key, scale=1.0):
        return (betas, np.array([r[key] for r in rows]) / scale,
                np.array([r[key + "_err"] for r in rows]) / scale, "points")

    panels = {
        "F / N": {"exact": (grid, exact["F"], None, "line"),
                  "VAN variational": points("F_variational", n),
                  "VAN importance": points("F_importance", n)},
        "E / N": {"exact": (grid, exact["E"], None, "line"), "VAN": points("energy", n)},
        "S / N": {"exact": (grid, exact["S"], None, "line"), "VAN": points("entropy", n)},
        "|m|": {"VAN": points("magnetization"),
                "Wolff MC": (betas, np.array([r["wolff_m"] for r in rows]),
                             np.array([r["wolff_m_err"] for r in rows]), "points")},
    }
    figure = panel_plot(panels, args.out / "ising_van.png", xlabel="beta",
                        title=f"VAN (Z2 MADE) on the {args.L}x{args.L} periodic Ising model")
    print(f"figure: {figure}")
    return {"rows": rows, "figure": figure}


if __name__ == "__main__":
    main()
