"""Where the time of one two-site sweep goes: 1,000 MNIST images, every bond at D from
the start (``init_bond=D``), one thread.

For each D: seconds per sweep (after a warm-up sweep), the share of the sweep's time in
each part (from cProfile's cumulative times, so the Python work of each part is in it),
the torch calls per update (torch.profiler), the floating-point operations per sweep
(counted from the bond dimensions, see ``sweep_flops``) and the fraction of one core's
matrix-product rate they reach (a 512 x 512 float64 product timed in the same process).

    python benchmarks/mps_sweep_profile.py [--bonds 10 32 100] [--lr 0.2]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time  # noqa: E402

from tnborn import MPSBornMachine  # noqa: E402
from tnborn.datasets import mnist  # noqa: E402

#: the parts of a sweep: (label, [(file suffix, function name), ...])
PARTS = [
    ("environment updates", [("mps/two_site.py", "_extend_left"),
                             ("mps/two_site.py", "_extend_right")]),
    ("local problem (row gathers, grouping)", [("mps/two_site.py", "_problem")]),
    ("amplitudes psi = L M R", [("mps/pair_problems.py", "amplitudes")]),
    ("gradient term G", [("mps/pair_problems.py", "grad_term")]),
    ("split (Gram eigh or SVD)", [("tnborn/linalg.py", "truncated_factors")]),
    ("train NLL of the sweep", [("tnborn/born.py", "_log_prob")]),
]
#: eigh of an n x n symmetric matrix with its eigenvectors: about this many n^3 flops
EIGH_FLOPS = 9.0


def sweep_flops(bonds: list[int], rows: int, line_search: bool, d: int = 2) -> float:
    """Floating-point operations of one sweep (every bond updated twice) at bond
    dimensions ``bonds`` (with 1 at both ends):

    merge 2 (d Dl) Dm (d Dr); amplitudes 2 B Dl Dr (twice with the line search) and the
    gradient term 2 B Dl Dr; Gram matrix 2 n^2 m and its eigh ~9 n^3 (n x m = d Dl x d Dr,
    n the shorter side); the other factor 2 n^2 m; the new environment 2 B D d D'.
    """
    dims = [1] + list(bonds) + [1]
    total = 0.0
    for k in range(len(dims) - 2):
        dl, dm, dr = dims[k], dims[k + 1], dims[k + 2]
        n, m = sorted((d * dl, d * dr))
        local = (3 if line_search else 2) * 2 * rows * dl * dr
        split = 2 * n * n * m + EIGH_FLOPS * n ** 3 + 2 * n * n * m
        environment = 2 * rows * max(dl, dr) * d * dm
        total += 2 * (2 * d * dl * dm * d * dr + local + split + environment)
    return total


def matmul_rate() -> float:
    a = torch.randn(512, 512, dtype=torch.float64)
    return 2 * 512 ** 3 / best_time(lambda: a @ a, repeats=20)


def cumulative(stats: pstats.Stats, functions) -> float:
    """Cumulative seconds of the functions ``[(file suffix, name), ...]``."""
    return sum(entry[3] for (filename, _, name), entry in stats.stats.items()
               if any(filename.endswith(suffix) and name == wanted
                      for suffix, wanted in functions))


def shares(stats: pstats.Stats, total: float) -> dict[str, float]:
    out = {label: cumulative(stats, functions) / total for label, functions in PARTS}
    # the steps' own arithmetic: step_and_split without the amplitudes, gradient terms
    # and splits it calls
    steps = cumulative(stats, [("tnborn/local_steps.py", "step_and_split")]) / total
    out["step arithmetic (direction, line search)"] = (
        steps - out["amplitudes psi = L M R"] - out["gradient term G"]
        - out["split (Gram eigh or SVD)"])
    return out


def torch_calls_per_update(model, data, lr) -> float:
    from torch.profiler import ProfilerActivity, profile

    with profile(activities=[ProfilerActivity.CPU]) as prof:
        model.fit(data, sweeps=1, lr=lr, progress=False)
    calls = sum(1 for event in prof.events()
                if event.name.startswith("aten::") and event.cpu_parent is None)
    return calls / (2 * (model.n_sites - 1))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bonds", type=int, nargs="+", default=[10, 32, 100])
    parser.add_argument("--lr", type=float, default=None,
                        help="a fixed step instead of the default line search")
    args = parser.parse_args()
    torch.set_num_threads(1)
    rate = matmul_rate()
    print(f"one core: {rate / 1e9:.1f} GFLOP/s (512 x 512 float64 product)")
    data = mnist(limit=1000, seed=0)
    for bond in args.bonds:
        model = MPSBornMachine(784, max_bond=bond, init_bond=bond, seed=0)
        model.fit(data, sweeps=1, lr=args.lr, progress=False)
        seconds = model.fit(data, sweeps=1, lr=args.lr, progress=False)[-1]["seconds"]
        profiler = cProfile.Profile()
        profiler.enable()
        model.fit(data, sweeps=1, lr=args.lr, progress=False)
        profiler.disable()
        stats = pstats.Stats(profiler)
        profiled = stats.total_tt
        parts = shares(stats, profiled)
        flops = sweep_flops(model.bond_dims, data.shape[0], args.lr is None)
        calls = torch_calls_per_update(model, data, args.lr)
        print(f"D={bond}: {seconds:.2f} s per sweep; {flops / 1e9:.1f} GFLOP per sweep -> "
              f"{flops / seconds / rate:.0%} of one core's product rate; "
              f"{calls:.0f} top-level torch calls per update, "
              f"{seconds / (2 * 783) * 1e3:.2f} ms per update", flush=True)
        print("  " + "; ".join(f"{label} {share:.0%}" for label, share in parts.items())
              + f"; the rest (sweep loop, merge, bookkeeping) "
              f"{1 - sum(parts.values()):.0%}", flush=True)


if __name__ == "__main__":
    main()
