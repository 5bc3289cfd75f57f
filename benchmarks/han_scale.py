"""HAN at scale: seconds per variational step and per 1,000 exact samples, and the
parameter count, against the lattice side (issue 21; docs/results_ising3d.md).

2D: HAN at L = 8 .. 64 (hidden 32, depth 2), MADE (hidden 2 L^2) and PixelCNN (16
channels, 3 layers) where they fit (L <= 32 and L <= 16); 3D: HAN, MADE and PixelCNN3D
at L = 4 and 8. One thread, float64, a step of ``--batch`` samples at beta = 0.44 (2D)
or 0.22 (3D), timed after one warm-up step. Prints the table and the growth exponents
(least squares of log cost against log L over the sizes each model ran)::

    python benchmarks/han_scale.py [--batch 256] [--max-L 64]
"""

from __future__ import annotations

import argparse
import math
import time

import numpy as np
import torch

from tnborn.arnn import HAN, MADE, PixelCNN, PixelCNN3D
from tnborn.physics import Ising2D, Ising3D, train_variational

#: (name, dim, sides, build(L)) of the runs
RUNS = [
    ("HAN 2D", 2, (8, 16, 32, 64), lambda L: HAN(L, hidden=32, seed=0)),
    ("MADE 2D", 2, (8, 16, 32), lambda L: MADE(L * L, hidden=2 * L * L, seed=0)),
    ("PixelCNN 2D", 2, (8, 16), lambda L: PixelCNN((L, L), channels=16, layers=3, seed=0)),
    ("HAN 3D", 3, (4, 8), lambda L: HAN(L, dim=3, hidden=32, seed=0)),
    ("MADE 3D", 3, (4, 8), lambda L: MADE(L ** 3, hidden=2 * L ** 3, seed=0)),
    ("PixelCNN 3D", 3, (4, 8), lambda L: PixelCNN3D(L, channels=16, layers=3, seed=0)),
]


def measure(model, hamiltonian, beta: float, batch: int) -> tuple[float, float]:
    """(seconds per variational step, seconds per 1,000 samples)."""
    generator = torch.Generator().manual_seed(0)
    train_variational(model, hamiltonian, beta, steps=1, batch_size=batch, progress=False,
                      generator=generator)
    start = time.perf_counter()
    train_variational(model, hamiltonian, beta, steps=2, batch_size=batch, progress=False,
                      generator=generator)
    step = (time.perf_counter() - start) / 2
    start = time.perf_counter()
    model.sample(1000, generator=generator)
    return step, time.perf_counter() - start


def exponent(sides, values) -> float:
    if len(sides) < 2:
        return math.nan
    return float(np.polyfit(np.log(sides), np.log(values), 1)[0])


def main(argv=None) -> list[dict]:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--max-L", type=int, default=64)
    args = parser.parse_args(argv)
    torch.set_num_threads(1)
    rows = []
    print("| model | L | sites | parameters | s / step | s / 1000 samples |")
    print("|---|---:|---:|---:|---:|---:|")
    for name, dim, sides, build in RUNS:
        done = []
        for L in (side for side in sides if side <= args.max_L):
            model = build(L)
            model.z2_symmetric = True
            hamiltonian, beta = (Ising2D(L), 0.44) if dim == 2 else (Ising3D(L), 0.22)
            step, sample = measure(model, hamiltonian, beta, args.batch)
            row = {"model": name, "L": L, "sites": L ** dim, "params": model.num_parameters,
                   "step": step, "sample": sample}
            rows.append(row)
            done.append(row)
            print(f"| {name} | {L} | {L ** dim} | {model.num_parameters:,} | {step:.3f} | "
                  f"{sample:.3f} |", flush=True)
        sides_run = [r["L"] for r in done]
        print(f"  {name}: growth exponents in L: parameters "
              f"{exponent(sides_run, [r['params'] for r in done]):.2f}, step "
              f"{exponent(sides_run, [r['step'] for r in done]):.2f}, sampling "
              f"{exponent(sides_run, [r['sample'] for r in done]):.2f}", flush=True)
    return rows


if __name__ == "__main__":
    main()
