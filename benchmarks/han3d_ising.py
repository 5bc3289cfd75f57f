"""The 3D Ising model on an L^3 cube: a 3D HAN against Wolff (issue 21; docs/results_ising3d.md).

`tnborn.ising3d_study.ising3d_study`: Wolff at every 0.01 in beta up to the largest
beta for E, <|m|> and, by thermodynamic integration, f and s; a Z2-symmetric 3D HAN
trained variationally at each beta (each from the previous), its variational and
importance-sampled f and its neural-MCMC E and <|m|>. Prints the table and the
acceptance checks (L = 4: beta 0.20, 0.2217, 0.25 with f within 1e-3; L = 8: beta 0.20
and 0.25 within 3e-3), writes ``ising3d_L{L}.json`` / ``.png`` into ``--out`` and keeps a
checkpoint there (a rerun resumes)::

    python benchmarks/han3d_ising.py --L 4
    python benchmarks/han3d_ising.py --L 8 --betas 0.2 0.25 --steps 1500 --hidden 32
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from tnborn.ising3d_study import ising3d_checks, ising3d_figure, ising3d_study, ising3d_table

BETAS = [0.1, 0.14, 0.17, 0.19, 0.2, 0.21, 0.2217, 0.23, 0.24, 0.25, 0.28, 0.32, 0.36, 0.4]
CHECKS = {4: ([0.2, 0.2217, 0.25], 1e-3), 8: ([0.2, 0.25], 3e-3)}


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--L", type=int, default=4)
    parser.add_argument("--betas", type=float, nargs="+", default=BETAS)
    parser.add_argument("--hidden", type=int, default=32)
    parser.add_argument("--steps", type=int, default=2000, help="Adam steps at the first beta")
    parser.add_argument("--later-steps", type=int, default=None,
                        help="Adam steps at every later beta (default: steps / 2)")
    parser.add_argument("--batch-size", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--samples", type=int, default=100_000)
    parser.add_argument("--mcmc-steps", type=int, default=1000)
    parser.add_argument("--mc-sweeps", type=int, default=4000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/ising3d"))
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    result = ising3d_study(args.L, args.betas, hidden=args.hidden, steps=args.steps,
                           later_steps=args.later_steps, batch_size=args.batch_size,
                           lr=args.lr, samples=args.samples, mcmc_steps=args.mcmc_steps,
                           mc_sweeps=args.mc_sweeps, seed=args.seed,
                           checkpoint=args.out / f"checkpoint_L{args.L}.json")
    print("\n".join(ising3d_table(result)))
    betas, tolerance = CHECKS.get(args.L, ([], 0.0))
    print("\n".join(ising3d_checks(result, betas, tolerance)))
    seconds = sum(p["seconds"] for p in result["network"])
    print(f"{result['params']} parameters; network {seconds:.0f} s in all")
    (args.out / f"ising3d_L{args.L}.json").write_text(json.dumps(result, indent=1))
    print(f"figure: {ising3d_figure(result, args.out / f'ising3d_L{args.L}.png')}")
    return result


if __name__ == "__main__":
    main()
