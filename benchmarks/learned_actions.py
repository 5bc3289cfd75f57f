"""Double-well actions learned from paths and predicted (issue 20; docs/results_actions.md).

`tnborn.action_workflow.action_study` (what `tnborn action` runs) at n_tau = 64,
beta_1 = 20, beta_2 = 40, predicted at beta_3 = 30; prints the acceptance checks
(learned actions: R^2 >= 0.99, slope within 5 % of 1; predicted action: R^2 >= 0.98,
<x^2> of Monte Carlo with it within 3 standard errors or 2 % of direct Monte Carlo) and
writes ``actions.json`` and ``actions.png`` into ``--out``::

    python benchmarks/learned_actions.py [--paths 30000] [--epochs 12] [--out runs/actions]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from tnborn.action_workflow import ACTION_DEFAULTS, action_figure, action_study, action_summary


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    for key in ("paths", "epochs", "copies", "hidden", "mc_sweeps", "average"):
        parser.add_argument(f"--{key.replace('_', '-')}", type=int,
                            default=ACTION_DEFAULTS[key])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/actions"))
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    result = action_study(paths=args.paths, epochs=args.epochs, copies=args.copies,
                          hidden=args.hidden, mc_sweeps=args.mc_sweeps, average=args.average,
                          seed=args.seed, progress=False)
    print("\n".join(action_summary(result)))
    print("accept: learned R^2 >= 0.99 and |slope - 1| <= 0.05; predicted R^2 >= 0.98; "
          "<x2> within 3 sigma or 2 %")
    for r in result["learned"]:
        print(f"beta {r['beta']:g}: test NLL {r['nll'][-1]['test_nll']:.3f}, "
              f"{r['seconds']:.0f} s")
    p = result["prediction"]
    print(f"prediction stage {p['seconds']:.0f} s")
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "actions.json").write_text(json.dumps(result, indent=1))
    print(f"figure: {action_figure(result, args.out / 'actions.png')}")
    return result


if __name__ == "__main__":
    main()
