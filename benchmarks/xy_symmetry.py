"""Symmetry detection on the 2D XY model (docs/results_xy.md): CANs fitted by maximum
likelihood to Monte Carlo samples of the periodic L x L lattice at T = 1, without a
field and with h = 0.1 along x, and the rotation test (`symmetry_test`) on held-out
samples at six angles phi = k pi / 3.

    python benchmarks/xy_symmetry.py [--L 8] [--samples 8000] [--epochs 20]
"""

from __future__ import annotations

import argparse
import math
import time

import torch

from tnborn import ContinuousMADE
from tnborn.datasets import xy_samples
from tnborn.physics import rotation, symmetry_test


def rotation_table(L: int, samples: int, epochs: int, fields) -> dict:
    """``{h: [symmetry_test result at phi = k pi / 3, k = 0..5]}``, each result with the
    fitted model's held-out ``nll`` and the run's ``seconds`` added."""
    n, held = L * L, samples // 4
    table = {}
    for h in fields:
        start = time.perf_counter()
        data = xy_samples(L, 1.0, samples, seed=1, h=h)
        model = ContinuousMADE(n, components=4, hidden=128, seed=0)
        model.fit(data[held:], epochs=epochs, lr=3e-3, batch_size=100, progress=False)
        nll = model.nll(data[:held])
        table[h] = [{**symmetry_test(model, data[:held], rotation(k * math.pi / 3)),
                     "nll": nll, "seconds": time.perf_counter() - start}
                    for k in range(6)]
    return table


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--L", type=int, default=8)
    parser.add_argument("--samples", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=20)
    parser.add_argument("--fields", type=float, nargs="+", default=[0.0, 0.1])
    parser.add_argument("--threads", type=int, default=1)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    n = args.L * args.L
    table = rotation_table(args.L, args.samples, args.epochs, args.fields)
    print("| h | test NLL | " + " | ".join(f"phi = {k} pi/3" for k in range(6)) + " |")
    print("|---:|---:|" + "---:|" * 6)
    for h, results in table.items():
        cells = [f"{r['mean_per_site']:+.4f} +- {r['stderr'] / n:.4f} (z {r['z']:+.1f})"
                 for r in results]
        print(f"| {h:g} | {results[0]['nll']:.2f} | " + " | ".join(cells) + " |")
    print("seconds per field: " + ", ".join(f"h = {h:g}: {r[0]['seconds']:.0f}"
                                            for h, r in table.items()))


if __name__ == "__main__":
    main()
