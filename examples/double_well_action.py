"""A particle in a double well, its Euclidean action learned from Monte Carlo paths at two
temperatures and predicted at a third (arXiv:2405.10493; the talk "Building interactions
with deep autoregressive networks").

A Gaussian-mixture continuous MADE is fitted to paths at beta_1 and beta_2; its action
S_theta = -ln p_theta is compared with the true lattice action on held-out paths; the
two learned actions give the action at beta_3 through S = K / beta + beta U; Monte
Carlo with that predicted action is compared with direct Monte Carlo. A smaller
version of `tnborn action` (n_tau = 32, beta 10 and 20, predicted at 15; the issue's
run is benchmarks/learned_actions.py). Writes ``actions.png`` into --out::

    python examples/double_well_action.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tnborn.action_workflow import action_figure, action_study, action_summary


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output/double_well_action"))
    parser.add_argument("--n-tau", type=int, default=32)
    parser.add_argument("--betas", type=float, nargs=2, default=[10.0, 20.0])
    parser.add_argument("--predict", type=float, default=15.0)
    parser.add_argument("--paths", type=int, default=10_000)
    parser.add_argument("--test-paths", type=int, default=2000)
    parser.add_argument("--epochs", type=int, default=8)
    parser.add_argument("--hidden", type=int, default=128)
    parser.add_argument("--mc-sweeps", type=int, default=400)
    parser.add_argument("--mc-burn-in", type=int, default=100)
    parser.add_argument("--data-thin", type=int, default=None,
                        help="sweeps between data paths (default: 2 tau_int, measured)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = action_study(n_tau=args.n_tau, betas=args.betas, predict=args.predict,
                          paths=args.paths, test_paths=args.test_paths, epochs=args.epochs,
                          hidden=args.hidden, average=8, mc_sweeps=args.mc_sweeps,
                          mc_burn_in=args.mc_burn_in, data_thin=args.data_thin, seed=args.seed,
                          progress=not args.no_progress)
    print("\n".join(action_summary(result)))
    figure = action_figure(result, args.out / "actions.png")
    print(f"figure: {figure}")
    return result


if __name__ == "__main__":
    main()
