"""The 2D XY model with continuous autoregressive networks against Monte Carlo, and the
XY ring against its exact free energy (docs/results_xy.md).

For each temperature T of the L x L periodic lattice, `tnborn.xy_workflow.xy_point`
(what `tnborn xy` runs): a Wolff + Metropolis reference, a CAN trained variationally,
then from ``--samples`` model samples the variational energy per site and, with
importance weights w = exp(-E/T) / q, the energy, vortex density and helicity modulus
per site with their delta-method errors. The ring study
trains CAN-MADE (``--ring-families``: von Mises and/or Beta mixtures) on the n = 16 XY
ring at beta = 1 and compares F with the Bessel sum.
Prints Markdown tables and writes them with the raw numbers to ``--out`` (JSON).

    python benchmarks/xy_reproduction.py [--L 8] [--temperatures 0.7 0.9 1.1 1.3]
        [--steps 2000] [--model can-made|can-pixelcnn] [--ring] [--out runs/xy.json]
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tnborn import ContinuousMADE
from tnborn.physics import XYChain, free_energy, train_variational
from tnborn.xy_workflow import XY_TABLE_HEADER, xy_point, xy_table_row


def ring_point(args, family: str = "vonmises") -> dict:
    ring, beta = XYChain(16), 1.0
    exact = -ring.exact_log_z(beta) / beta
    model = ContinuousMADE(16, components=4, family=family, hidden=64, seed=args.seed)
    start = time.perf_counter()
    train_variational(model, ring, beta, steps=args.ring_steps, batch_size=500, lr=1e-2,
                      beta_anneal=0.98, progress=False, log_every=100)
    seconds = time.perf_counter() - start
    result = free_energy(model, ring, beta, num=100_000,
                         generator=torch.Generator().manual_seed(args.seed + 1))
    return {"family": family, "exact": exact, "F_variational": result["F_variational"],
            "F_variational_err": result["F_variational_err"],
            "F_importance": result["F_importance"], "F_importance_err": result["F_importance_err"],
            "relative_error_variational": (result["F_variational"] - exact) / abs(exact),
            "sigmas_importance": (result["F_importance"] - exact) / result["F_importance_err"],
            "ess": result["ess"], "train_seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=8)
    parser.add_argument("--temperatures", type=float, nargs="*", default=[0.7, 0.9, 1.1, 1.3])
    parser.add_argument("--model", choices=("can-made", "can-pixelcnn"), default="can-made")
    parser.add_argument("--steps", type=int, default=2000)
    parser.add_argument("--batch", type=int, default=500)
    parser.add_argument("--lr", type=float, default=3e-3)
    parser.add_argument("--anneal", type=float, default=0.99)
    parser.add_argument("--samples", type=int, default=50_000)
    parser.add_argument("--mc-sweeps", type=int, default=3000)
    parser.add_argument("--ring", action="store_true", help="also the n = 16 ring")
    parser.add_argument("--ring-steps", type=int, default=2000)
    parser.add_argument("--ring-families", nargs="+", choices=("vonmises", "beta"),
                        default=["vonmises"], help="mixture families of the ring study")
    parser.add_argument("--first-kernel", type=int, default=None,
                        help="can-pixelcnn: first-layer kernel (default: 2L-1, which sees "
                             "every earlier site)")
    parser.add_argument("--settle-steps", type=int, default=None,
                        help="steps at the target beta after the annealed ones (default: "
                             "half of --steps)")
    parser.add_argument("--settle-lr", type=float, default=None,
                        help="their rate (default: lr / 10)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--out", default="runs/xy.json")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    results = {"settings": vars(args), "lattice": [], "rings": []}
    for family in args.ring_families if args.ring else ():
        ring = ring_point(args, family)
        results["rings"].append(ring)
        print(f"ring n=16 beta=1, {family}: F_var {ring['F_variational']:.6f} exact {ring['exact']:.6f} "
              f"rel {ring['relative_error_variational']:.2e}; F_IS {ring['F_importance']:.6f} "
              f"+- {ring['F_importance_err']:.1e} ({ring['sigmas_importance']:+.2f} sigma), "
              f"{ring['train_seconds']:.0f} s", flush=True)
    print(XY_TABLE_HEADER, flush=True)
    for T in args.temperatures:
        r = xy_point(args.L, T, model=args.model, steps=args.steps, batch_size=args.batch,
                     lr=args.lr, beta_anneal=args.anneal, samples=args.samples,
                     mc_sweeps=args.mc_sweeps, seed=args.seed, first_kernel=args.first_kernel,
                     settle_steps=args.settle_steps, settle_lr=args.settle_lr)
        results["lattice"].append(r)
        print(xy_table_row(r), flush=True)
        Path(args.out).parent.mkdir(parents=True, exist_ok=True)
        Path(args.out).write_text(json.dumps(results, indent=1))


if __name__ == "__main__":
    main()
