"""Time to given training NLLs of an MPS Born machine on 1,000 MNIST images (Han et al.,
PRX 8, 031012, Fig. 3), with ``fit`` defaults other than max_bond.

For each bond dimension D a fresh ``MPSBornMachine(784, max_bond=D, seed=0)`` is fitted
with ``fit(data, sweeps=..., tol=...)`` and the seconds to each target NLL are read off
its history (``seconds``: training time, the per-sweep NLL evaluation excluded; the wall
time including it is printed beside). ``--before`` also runs the earlier default, the
fixed step lr 0.2, on the same data. ``--numpy-sweeps K`` runs K full sweeps of the
in-process numpy baseline in the style of the original code (benchmarks/numpy_reference.py:
10 steps of lr 0.05 per bond, numpy einsums) at the first bond dimension, and prints how
much sooner tnborn reaches the NLL the baseline reached. ``--max-step`` and
``--steps-per-bond`` change those two ``fit`` options of the main run (to test whether
the step cap or a single step per bond hold the sweeps back).

Targets: 100, 97 and 95.19 at D = 10; 80 and 77.10 at D = 20; 55.06 at D = 50; 39.86 at
D = 100 (95.19, 77.10, 55.06 and 39.86: Han et al.'s converged NLLs of Fig. 3).
Data: ``mnist(limit=1000, seed=s)`` for each ``--seeds`` s (seed 0 is the subset the
library's other MNIST pages use).

    python benchmarks/mps_time_to_nll.py --bonds 10 20 --seeds 0 1 2 --before
    python benchmarks/mps_time_to_nll.py --bonds 10 --numpy-sweeps 2
    python benchmarks/mps_time_to_nll.py --bonds 50 --max-sweeps 400
    python benchmarks/mps_time_to_nll.py --bonds 10 --max-sweeps 10 --max-step none
"""

from __future__ import annotations

import argparse
import os
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from numpy_reference import NumpyTwoSite  # noqa: E402

from tnborn import MPSBornMachine  # noqa: E402
from tnborn.datasets import mnist  # noqa: E402

DEFAULT_OPTIONS = {"max_step": 0.5, "steps_per_bond": 1}  # fit's
TARGETS = {10: (100.0, 97.0, 95.19), 20: (80.0, 77.10), 50: (55.06,), 100: (39.86,)}


def seconds_to(history: list[dict], target: float) -> tuple[int, float] | None:
    """(sweep, training seconds) of the first record at or below ``target``."""
    for record in history:
        if record["train_nll"] <= target:
            return record["step"], record["seconds"]
    return None


def fitted(data, bond, *, max_sweeps, tol, max_seconds, lr=None, **fit_options):
    model = MPSBornMachine(data.shape[1], max_bond=bond, seed=0)
    start = time.perf_counter()
    history = model.fit(data, sweeps=max_sweeps, tol=tol, lr=lr, max_seconds=max_seconds,
                        progress=False, **fit_options)
    return model, history, time.perf_counter() - start


def report(label, bond, history, wall, targets):
    cells = []
    for target in targets:
        hit = seconds_to(history, target)
        cells.append(f"{target}: " + ("not reached" if hit is None
                                      else f"sweep {hit[0]}, {hit[1]:.1f} s"))
    last = history[-1]
    print(f"  {label}: " + "; ".join(cells) + f" | end {last['train_nll']:.4f} after "
          f"{last['step']} sweeps ({last.get('stopped_by')}), {last['seconds']:.1f} s "
          f"training, {wall:.1f} s wall", flush=True)


def numpy_baseline(data, bond, sweeps):
    """NLL and seconds after each full sweep of the numpy baseline."""
    model = MPSBornMachine(data.shape[1], max_bond=bond, seed=0)
    model.canonicalize_(0)
    ref = NumpyTwoSite([p.detach().numpy() for p in model.tensors], data.numpy(),
                       max_bond=bond)
    n = data.shape[1]
    out, elapsed = [], 0.0
    for _ in range(sweeps):
        start = time.perf_counter()
        for k in range(n - 1):
            ref.update(k, True)
        for k in range(n - 2, -1, -1):
            ref.update(k, False)
        elapsed += time.perf_counter() - start
        state = MPSBornMachine.from_tensors([torch.from_numpy(t) for t in ref.tensors])
        out.append((float(state.nll(data)), elapsed))
    return out


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bonds", type=int, nargs="+", default=[10, 20])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--max-sweeps", type=int, default=200)
    parser.add_argument("--tol", type=float, default=1e-3)
    parser.add_argument("--max-seconds", type=float, default=None,
                        help="training-time budget of each fit")
    parser.add_argument("--before", action="store_true",
                        help="also run the earlier default, the fixed step lr 0.2")
    parser.add_argument("--numpy-sweeps", type=int, default=0)
    parser.add_argument("--max-step", type=lambda v: None if v == "none" else float(v),
                        default=DEFAULT_OPTIONS["max_step"],
                        help="fit's step cap of the main run ('none': no cap)")
    parser.add_argument("--steps-per-bond", type=int,
                        default=DEFAULT_OPTIONS["steps_per_bond"],
                        help="fit's steps per bond of the main run")
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    print(f"threads: {args.threads}; fit(sweeps={args.max_sweeps}, tol={args.tol})")
    for bond in args.bonds:
        targets = TARGETS.get(bond, ())
        for seed in args.seeds:
            data = mnist(limit=1000, seed=seed)
            print(f"D={bond}, mnist(limit=1000, seed={seed}):", flush=True)
            options = {"max_step": args.max_step, "steps_per_bond": args.steps_per_bond}
            _, history, wall = fitted(data, bond, max_sweeps=args.max_sweeps, tol=args.tol,
                                      max_seconds=args.max_seconds, **options)
            label = ("defaults (line search)" if options == DEFAULT_OPTIONS else
                     "line search, " + ", ".join(f"{k}={v}" for k, v in options.items()))
            report(label, bond, history, wall, targets)
            if args.before:
                _, before, wall = fitted(data, bond, max_sweeps=args.max_sweeps,
                                         tol=args.tol, max_seconds=args.max_seconds, lr=0.2)
                report("fixed lr 0.2", bond, before, wall, targets)
            if args.numpy_sweeps and bond == args.bonds[0]:
                for sweep, (nll, seconds) in enumerate(
                        numpy_baseline(data, bond, args.numpy_sweeps), start=1):
                    hit = seconds_to(history, nll)
                    ratio = "" if hit is None else \
                        f"; tnborn reaches it in {hit[1]:.1f} s -> {seconds / hit[1]:.1f}x"
                    print(f"  numpy baseline: NLL {nll:.2f} after sweep {sweep}, "
                          f"{seconds:.1f} s{ratio}", flush=True)


if __name__ == "__main__":
    main()
