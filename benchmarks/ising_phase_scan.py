"""Ising phase structure read from learned models (issue 20; docs/results_phases.md).

`tnborn.physics.phase_scan` at each size of ``--sizes`` (one size per call, so the
sizes can run as separate processes, each with its own checkpoint in ``--out``), then
`combine_scans` for the Binder crossing and the M_s fit. Prints the table, the
acceptance checks (learned beta J within 5 % at every T; Binder crossing within 2 % of
Onsager's T_c) and writes ``phases.json`` and ``phases.png`` into ``--out``::

    python benchmarks/ising_phase_scan.py --model han --sizes 8 --epochs 8 --copies 4 \
        --out runs/phases                                                  # one process
    python benchmarks/ising_phase_scan.py --model han --sizes 16 --epochs 8 --copies 4 \
        --out runs/phases                                                  # another
    python benchmarks/ising_phase_scan.py --model han --sizes 8 16 --epochs 8 --copies 4 \
        --combine --out runs/phases

``--combine`` (with the settings of the runs) reads their finished checkpoints.
``--refine T1 T2 T3`` adds a scan at those temperatures per size (its own checkpoint and
seeds), merged into the grid: the Binder crossing is interpolated linearly between the
bracketing temperatures, so a denser grid near T_c shrinks that interpolation's bias.
docs/results_phases.md ran ``--model han --epochs 8 --copies 4 --refine 2.25 2.3 2.35``.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import torch

from tnborn.catalog import PHASE_DEFAULTS
from tnborn.phase_workflow import phase_figure, phase_plain, phase_summary, phase_table
from tnborn.physics import combine_scans, phase_scan
from tnborn.physics.phase_scan import SCAN_MODELS

TEMPERATURES = list(PHASE_DEFAULTS["temperatures"])


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--temperatures", type=float, nargs="+", default=TEMPERATURES)
    parser.add_argument("--samples", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, nargs="+", default=[15],
                        help="epochs per size (one value: every size)")
    parser.add_argument("--copies", type=int, nargs="+", default=[8],
                        help="translation copies per epoch, per size (one value: every size)")
    parser.add_argument("--refine", type=float, nargs="*", default=[],
                        help="more temperatures (at least 3) scanned per size with their own "
                             "checkpoint and merged in: a denser grid near T_c")
    parser.add_argument("--model", choices=sorted(SCAN_MODELS), default="made",
                        help="the model fitted at every point (default: made)")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--combine", action="store_true")
    parser.add_argument("--out", type=Path, default=Path("runs/phases"))
    return parser.parse_args(argv)


def per_size(values: list, k: int):
    return values[0] if len(values) == 1 else values[k]


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    scans = []
    for k, L in enumerate(args.sizes):
        options = dict(num=args.samples, epochs=per_size(args.epochs, k),
                       copies=per_size(args.copies, k), model=SCAN_MODELS[args.model],
                       progress=not args.combine)
        scans.append(phase_scan(args.temperatures, (L,), seed=args.seed + 100 * L,
                                checkpoint=args.out / f"checkpoint_L{L}.json", **options))
        if args.refine:
            scans.append(phase_scan(args.refine, (L,), seed=args.seed + 100 * L + 50,
                                    checkpoint=args.out / f"checkpoint_L{L}_refine.json",
                                    **options))
    result = combine_scans(*scans)
    print(phase_table(result))
    worst = max(abs(p["beta_j"] / p["beta_j_true"] - 1) for points in result["points"]
                for p in points)
    print(f"largest error of the learned beta J (nearest-only fit): {100 * worst:.2f} % "
          f"(accept <= 5 %)")
    print("\n".join(phase_summary(result)))
    crossing = result["crossing"]
    if crossing is not None:
        print(f"Binder crossing (model) {100 * (crossing.value / result['tc_exact'] - 1):+.2f}"
              " % from Onsager's T_c (accept <= 2 %)")
    (args.out / "phases.json").write_text(json.dumps(phase_plain(result), indent=1))
    print(f"figure: {phase_figure(result, args.out / 'phases.png')}")
    return result


if __name__ == "__main__":
    main()
