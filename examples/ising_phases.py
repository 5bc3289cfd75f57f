"""The Ising transition read from learned models: a Z2-symmetric MADE fitted to Wolff
samples at each temperature gives back the coupling beta J (H = -T ln p), <|m|> and the
Binder cumulant; the Binder curves of two sizes cross near T_c, and M_s(T) =
M_s(0) (1 - T / T_c)^b is fitted below it (the talk "Building interactions with deep
autoregressive networks"). A small version of `tnborn phases` (4 x 4 and 6 x 6; the
issue's 8 x 8 and 16 x 16 run is benchmarks/ising_phase_scan.py). Writes
``phases.png`` into --out::

    python examples/ising_phases.py
"""

from __future__ import annotations

import argparse
from pathlib import Path

from tnborn.catalog import PHASE_DEFAULTS
from tnborn.phase_workflow import phase_figure, phase_summary, phase_table
from tnborn.physics import phase_scan


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output/ising_phases"))
    parser.add_argument("--sizes", type=int, nargs="+", default=[4, 6])
    parser.add_argument("--temperatures", type=float, nargs="+",
                        default=list(PHASE_DEFAULTS["temperatures"]))
    parser.add_argument("--samples", type=int, default=10_000)
    parser.add_argument("--epochs", type=int, default=10)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    result = phase_scan(args.temperatures, args.sizes, num=args.samples,
                        model_samples=args.samples, epochs=args.epochs, seed=args.seed,
                        progress=not args.no_progress)
    print(phase_table(result))
    print("\n".join(phase_summary(result)))
    print(f"figure: {phase_figure(result, args.out / 'phases.png')}")
    return result


if __name__ == "__main__":
    main()
