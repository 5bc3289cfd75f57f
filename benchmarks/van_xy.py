"""Cost of continuous autoregressive networks against the discrete nets of the same
size: seconds per VAN step (draw a batch, ln q with gradients, REINFORCE loss, backward,
Adam) on the periodic XY lattice for CAN-MADE and CAN-PixelCNN, and on the Ising lattice
for MADE and PixelCNN with the same trunk, at L = 8 and 16; and the seconds of one
exact sample batch. One thread, the same process; prints ratios CAN / discrete.

    python benchmarks/van_xy.py [--sizes 8 16] [--batch 1000] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time  # noqa: E402
from van_step import van_step  # noqa: E402  (one VAN step, as timed for the Ising nets)

from tnborn import MADE, ContinuousMADE, ContinuousPixelCNN, PixelCNN  # noqa: E402
from tnborn.physics import XY2D, Ising2D  # noqa: E402


def pairs(L: int):
    """(name, CAN, discrete net) with the same trunk sizes."""
    made = {"hidden": 128, "depth": 2, "seed": 0}
    pixel = {"channels": 16, "layers": 3, "kernel": 5, "seed": 0}
    return [("MADE", ContinuousMADE(L * L, components=4, **made), MADE(L * L, **made)),
            ("PixelCNN", ContinuousPixelCNN((L, L), components=4, **pixel),
             PixelCNN((L, L), **pixel))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--batch", type=int, default=1000)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"batch {args.batch}, 1 thread, best of {args.repeats}\n")
    print("| L | trunk | CAN step s | discrete step s | ratio | CAN sample s | "
          "discrete sample s | ratio |\n|---:|---|---:|---:|---:|---:|---:|---:|")
    for L in args.sizes:
        targets = (XY2D(L), Ising2D(L))
        for name, can, discrete in pairs(L):
            steps, draws = [], []
            for model, target in zip((can, discrete), targets):
                optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
                generator = torch.Generator().manual_seed(0)
                steps.append(best_time(lambda: van_step(model, target, 1.0, args.batch,
                                                        optimizer, generator),
                                       args.repeats))
                with torch.no_grad():
                    draws.append(best_time(lambda: model._sample(args.batch, generator),
                                           args.repeats))
            print(f"| {L} | {name} | {steps[0]:.3f} | {steps[1]:.3f} | "
                  f"{steps[0] / steps[1]:.2f} | {draws[0]:.3f} | {draws[1]:.3f} | "
                  f"{draws[0] / draws[1]:.2f} |", flush=True)


if __name__ == "__main__":
    main()
