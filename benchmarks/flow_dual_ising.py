"""Cost of the flows on the dual Ising model: seconds per reparametrized training step
(draw a batch with rsample, ln q and ln pi, backward, Adam) and per 1,000 samples, for
RealNVP and NeuralRG at L = 8 and 16; prints the growth from one L to the next and the
ratio NeuralRG / RealNVP. One thread, the same process.

    python benchmarks/flow_dual_ising.py [--sizes 8 16] [--batch 256] [--repeats 3]
"""

from __future__ import annotations

import argparse
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time  # noqa: E402

from tnborn.flows import NeuralRG, RealNVP  # noqa: E402
from tnborn.physics import DualIsing  # noqa: E402


def flows(L: int) -> dict:
    """The two flows as the reproduction runs them (benchmarks/flow_dual_ising_runs.py)."""
    return {"RealNVP": RealNVP(L * L, blocks=8, hidden=64, mask="checkerboard", seed=0),
            "NeuralRG": NeuralRG(L, couplings=4, hidden=16, seed=0)}


def training_step(model, dual, batch: int, optimizer, generator) -> None:
    """One step of the reparametrized variational free energy E_q[ln q - ln pi]."""
    x, log_q = model.rsample_and_log_prob(batch, generator=generator)
    loss = (log_q - dual.log_density(x)).mean()
    optimizer.zero_grad()
    loss.backward()
    optimizer.step()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sizes", type=int, nargs="+", default=[8, 16])
    parser.add_argument("--batch", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    torch.set_num_threads(1)
    print(f"batch {args.batch}, 1 thread, best of {args.repeats}\n")
    print("| L | flow | parameters | step s | 1000 samples s | step growth | "
          "sample growth | step / RealNVP |\n|---:|---|---:|---:|---:|---:|---:|---:|")
    previous = {}
    for L in args.sizes:
        dual = DualIsing(L, 0.3)
        times = {}
        for name, model in flows(L).items():
            optimizer = torch.optim.Adam(model.parameters(), lr=1e-3)
            generator = torch.Generator().manual_seed(0)
            step = best_time(lambda: training_step(model, dual, args.batch, optimizer,
                                                   generator), args.repeats)
            draw = best_time(lambda: model.sample(1000, generator=generator), args.repeats)
            times[name] = (step, draw)
            growth = [f"{now / then:.2f}" if name in previous else "-"
                      for now, then in zip((step, draw), previous.get(name, (1.0, 1.0)))]
            print(f"| {L} | {name} | {model.num_parameters:,} | {step:.4f} | {draw:.4f} | "
                  f"{growth[0]} | {growth[1]} | {step / times['RealNVP'][0]:.2f} |",
                  flush=True)
        previous = times


if __name__ == "__main__":
    main()
