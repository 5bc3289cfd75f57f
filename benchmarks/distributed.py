"""Data-parallel throughput and memory: 1 process x 1 thread against N processes x 1
thread on the same machine (issue 23; docs/distributed.md).

* Two-site sweep of an MPS Born machine at full bond dimension ``--bond`` (every bond
  starts at it: ``init_bond = max_bond``) on 1,000 and 10,000 MNIST images (the 4,000
  bundled training images, with their one-pixel shifts once they run out), one sweep
  timed after one warm-up sweep;
* a VAN step: REINFORCE on a MADE for the ``--L`` x ``--L`` Ising model, batch 1,000.

``--van-accuracy`` runs only the made-L4 recipe of ``van_ising_reproduction.py`` (MADE
hidden 64, Z2, 3,000 steps of batch 1,000 at lr 1e-3, beta annealed by 0.99) on 1 and on
``--ranks`` processes and prints |F/N - exact| of each (the issue's tolerance: 1e-4).

``--waits`` prints, per configuration, what the sweep's collectives cost: rank 0's
number of them and its seconds waiting in them and in the all-gather (cProfile), the
sweep of the two halves of the rows as independent processes side by side, and
``Collective.sum`` of 19 and 4,096 numbers between idle ranks; then, from a sweep with
every ``Collective.sum`` timed on every rank (no profiler), per message size the
median and mean time in the call, the calls in which every rank spent over 2 ms (the
exchange itself was slow, not one rank late) and the mean gap between the ranks' times
of computing before a call. ``--pin`` pins rank r to CPU r (``os.sched_setaffinity``)
in every configuration.

``--memory-table`` prints only the memory model of docs/distributed.md: the cached
environments of a two-site sweep, n vectors of D float64 per training row (left of the
centre and right of it) plus three int64 index rows per site (the row of each value, the
pair value, the rows sorted by it), U n (D + 3) 8 bytes for U distinct rows, divided
among the ranks.

Every configuration runs in fresh processes (`tnborn.launch.run_local`, also for the
single process), each rank reporting its wall seconds and its peak resident memory above
what it held before building its learner (``resource`` high-water mark), so the columns
compare like with like. Prints a table and writes ``distributed.json`` to ``--out``::

    python benchmarks/distributed.py --ranks 2
    python benchmarks/distributed.py --images 10000 --waits [--lr line_search]
    python benchmarks/distributed.py --memory-table
    python benchmarks/distributed.py --van-accuracy
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
from pathlib import Path

import torch

from tnborn import MADE, MPSBornMachine
from tnborn.datasets import mnist
from tnborn.distributed import rank_rows
from tnborn.launch import run_local
from tnborn.physics import Ising2D, free_energy, ising2d_log_z, train_variational

sys.path.insert(0, os.path.dirname(__file__))
from _earlier_defaults import FIXED_LR  # noqa: E402


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ranks", type=int, default=2)
    parser.add_argument("--bond", type=int, default=32)
    parser.add_argument("--images", type=int, nargs="+", default=[1000, 10_000])
    parser.add_argument("--L", type=int, default=16)
    parser.add_argument("--van-steps", type=int, default=20)
    parser.add_argument("--van-accuracy", action="store_true",
                        help="only the VAN accuracy check at L = 4")
    parser.add_argument("--memory-table", action="store_true",
                        help="print the memory model only")
    parser.add_argument("--waits", action="store_true",
                        help="only what the collectives of the sweep cost")
    parser.add_argument("--pin", action="store_true", help="pin rank r to CPU r")
    parser.add_argument("--lr", default=str(FIXED_LR["mps"]),
                        help="the sweeps' step: a number (default: the fixed step of the "
                             "earlier default, with which docs/distributed.md's table was "
                             "made) or line_search (fit's default now)")
    parser.add_argument("--out", type=Path, default=Path("runs/distributed"))
    args = parser.parse_args(argv)
    args.lr = args.lr if args.lr == "line_search" else float(args.lr)
    return args


def environment_bytes(rows: int, sites: int, bond: int) -> int:
    """The two-site learner's cache: U n (D + 3) 8 bytes (module docstring)."""
    return rows * sites * (bond + 3) * 8


def memory_table() -> str:
    lines = ["| training rows | D | 1 rank | 2 ranks | 4 ranks | 8 ranks |",
             "|---:|---:|---:|---:|---:|---:|"]
    for rows in (1000, 10_000, 60_000):
        for bond in (10, 32, 100):
            total = environment_bytes(rows, 784, bond) / 1e9
            lines.append(f"| {rows:,} | {bond} | " + " | ".join(
                f"{total / ranks:.2f} GB" for ranks in (1, 2, 4, 8)) + " |")
    return "\n".join(lines)


def mnist_rows(count: int) -> torch.Tensor:
    """``count`` binarized MNIST digits: the bundled training images, then their shifts by
    one pixel (right, down, left, up) as needed."""
    base = mnist().reshape(-1, 28, 28)
    rows = [base]
    for shift in ((0, 1), (1, 0), (0, -1), (-1, 0)):
        if sum(len(r) for r in rows) >= count:
            break
        rows.append(torch.roll(base, shifts=shift, dims=(1, 2)))
    return torch.cat(rows)[:count].reshape(count, -1)


#: set (inherited by the spawned ranks) when ``--pin`` asks for rank r on CPU r
PIN_VARIABLE = "TNBORN_BENCHMARK_PIN"


def _pin_rank() -> None:
    """With ``--pin``: this rank's process on CPU rank mod the CPUs it may use."""
    if os.environ.get(PIN_VARIABLE) == "1":
        import torch.distributed as dist

        cpus = sorted(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpus[dist.get_rank() % len(cpus)]})


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def sweep_rank(images: int, bond: int, lr) -> dict:
    """On each rank: one warm-up and one timed full sweep on this rank's rows."""
    _pin_rank()
    import torch.distributed as dist

    rank, world = dist.get_rank(), dist.get_world_size()
    data = rank_rows(mnist_rows(images), rank, world)
    model = MPSBornMachine(784, max_bond=bond, init_bond=bond, seed=0)
    before = _peak_mb()
    model.fit(data, sweeps=1, progress=False, distributed=True, lr=lr)
    start = time.perf_counter()
    model.fit(data, sweeps=1, progress=False, distributed=True, lr=lr)
    return {"seconds": time.perf_counter() - start, "rows": len(data),
            "peak_mb_above_start": _peak_mb() - before}


#: the module of torch's collectives, as cProfile names their built-in methods
C10D = "torch._C._distributed_c10d"


def profiled_sweep_rank(images: int, bond: int, lr) -> dict:
    """On each rank: a timed sweep under cProfile; the collectives' count and seconds."""
    _pin_rank()
    import cProfile
    import pstats

    import torch.distributed as dist

    data = mnist_rows(images)[dist.get_rank()::dist.get_world_size()]
    model = MPSBornMachine(784, max_bond=bond, init_bond=bond, seed=0)
    model.fit(data, sweeps=1, progress=False, distributed=True, lr=lr)
    profile = cProfile.Profile()
    start = time.perf_counter()
    profile.runcall(model.fit, data, sweeps=1, progress=False, distributed=True, lr=lr)
    seconds = time.perf_counter() - start
    own = {name: (calls, tottime) for (_, _, name), (calls, _, tottime, _, _)
           in pstats.Stats(profile).stats.items()}
    wait_calls, wait = own.get(f"<built-in method {C10D}.wait>", (0, 0.0))
    return {"seconds": seconds, "collectives": wait_calls, "wait": wait,
            "allgather": own.get(f"<built-in method {C10D}.allgather>", (0, 0.0))[1]}


def half_rank(images: int, bond: int, lr) -> float:
    """On each rank, without collectives: a timed sweep of its half of the rows."""
    _pin_rank()
    import torch.distributed as dist

    data = mnist_rows(images)[dist.get_rank()::dist.get_world_size()]
    model = MPSBornMachine(784, max_bond=bond, init_bond=bond, seed=0)
    model.fit(data, sweeps=1, progress=False, lr=lr)
    start = time.perf_counter()
    model.fit(data, sweeps=1, progress=False, lr=lr)
    return time.perf_counter() - start


def collective_rank() -> dict:
    """Milliseconds per ``Collective.sum`` of 19 and 4,096 float64 numbers."""
    _pin_rank()
    from tnborn.distributed import resolve_collective

    collective = resolve_collective(True, None)
    out = {}
    for size in (19, 4096):
        x = torch.randn(size, dtype=torch.float64)
        for _ in range(20):
            collective.sum(x)
        start = time.perf_counter()
        for _ in range(500):
            collective.sum(x)
        out[size] = (time.perf_counter() - start) / 500 * 1e3
    return out


#: a collective in which every rank spent longer than this was slow in itself
SLOW_SECONDS = 2e-3


def timed_sweep_rank(images: int, bond: int, lr) -> dict:
    """On each rank: a sweep with every ``Collective.sum`` timed: (seconds computing since
    the previous call, seconds in the call, numbers summed) per call."""
    _pin_rank()
    import torch.distributed as dist

    from tnborn.distributed import Collective

    data = rank_rows(mnist_rows(images), dist.get_rank(), dist.get_world_size())
    model = MPSBornMachine(784, max_bond=bond, init_bond=bond, seed=0)
    model.fit(data, sweeps=1, progress=False, distributed=True, lr=lr)
    calls, plain_sum = [], Collective.sum
    last = [time.perf_counter()]

    def timed_sum(self, tensor):
        start = time.perf_counter()
        out = plain_sum(self, tensor)
        end = time.perf_counter()
        calls.append((start - last[0], end - start, tensor.numel()))
        last[0] = end
        return out

    Collective.sum = timed_sum
    try:
        model.fit(data, sweeps=1, progress=False, distributed=True, lr=lr)
    finally:
        Collective.sum = plain_sum
    return {"calls": calls}


def call_statistics(reports: list[dict]) -> dict:
    """Per message size, over the ranks' timed calls (in the same order on every rank):
    count, median and mean ms in the call, calls slow on every rank, and the mean gap in ms
    between the ranks' computing times before a call."""
    import statistics

    out = {}
    ranks = [r["calls"] for r in reports]
    sizes = sorted({size for _, _, size in ranks[0]})
    for size in sizes:
        index = [i for i, (_, _, n) in enumerate(ranks[0]) if n == size]
        waits = [ranks[0][i][1] for i in index]
        computing = [[calls[i][0] for calls in ranks] for i in index]
        out[size] = {
            "calls": len(index), "median_ms": statistics.median(waits) * 1e3,
            "mean_ms": statistics.mean(waits) * 1e3,
            "slow_on_every_rank": sum(all(calls[i][1] > SLOW_SECONDS for calls in ranks)
                                      for i in index),
            "mean_arrival_gap_ms": statistics.mean(max(c) - min(c) for c in computing) * 1e3}
    return out


def waits(args) -> dict:
    out = {}
    for images in args.images:
        rank0 = run_local(profiled_sweep_rank, args.ranks, images, args.bond, args.lr,
                          timeout=3600)[0]
        halves = run_local(half_rank, args.ranks, images, args.bond, args.lr, timeout=3600)
        out[images] = {"profiled": rank0, "halves": halves}
        print(f"sweep (lr {args.lr}), {images} images, D = {args.bond}, {args.ranks} ranks "
              f"(cProfile, rank 0): {rank0['seconds']:.1f} s, {rank0['collectives']} "
              f"collectives, {rank0['wait']:.1f} s waiting, {rank0['allgather']:.1f} s "
              f"in all-gathers; the shards as independent processes side by side: "
              + ", ".join(f"{h:.1f} s" for h in halves), flush=True)
        stats = call_statistics(run_local(timed_sweep_rank, args.ranks, images, args.bond,
                                          args.lr, timeout=3600))
        out[images]["calls"] = stats
        for size, row in stats.items():
            if row["calls"] < 100:  # the few sums of the sweep's start and end
                continue
            print(f"  Collective.sum of {size} numbers: {row['calls']} calls, median "
                  f"{row['median_ms']:.2f} ms, mean {row['mean_ms']:.2f} ms (rank 0), "
                  f"{row['slow_on_every_rank']} over {SLOW_SECONDS * 1e3:g} ms on every "
                  f"rank; the ranks arrive {row['mean_arrival_gap_ms']:.2f} ms apart on "
                  "average", flush=True)
    sums = run_local(collective_rank, args.ranks, timeout=600)[0]
    out["collective_ms"] = sums
    print("Collective.sum between idle ranks: " + ", ".join(
        f"{size} numbers {ms:.2f} ms" for size, ms in sums.items()), flush=True)
    return out


def van_rank(L: int, steps: int) -> dict:
    _pin_rank()
    model = MADE(L * L, hidden=256, seed=0)
    start = time.perf_counter()
    train_variational(model, Ising2D(L), 0.44, steps=steps, batch_size=1000,
                      progress=False, distributed=True,
                      generator=torch.Generator().manual_seed(0))
    return {"seconds_per_step": (time.perf_counter() - start) / steps}


def van_accuracy_rank(steps: int = 3000) -> dict:
    """The made-L4 run of van_ising_reproduction.py on this rank's share of the batch."""
    _pin_rank()
    model = MADE(16, hidden=64, seed=0)
    generator = torch.Generator().manual_seed(0)
    start = time.perf_counter()
    train_variational(model, Ising2D(4), 0.44, steps=steps, batch_size=1000, lr=1e-3,
                      beta_anneal=0.99, z2=True, progress=False, generator=generator,
                      distributed=True)
    seconds = time.perf_counter() - start
    result = free_energy(model, Ising2D(4), 0.44, num=200_000, generator=generator,
                         distributed=True)
    exact = -ising2d_log_z(4, 0.44) / (0.44 * 16)
    return {"seconds": seconds, "variational_error": result["F_variational_per_site"] - exact,
            "importance_error": result["F_importance_per_site"] - exact,
            "importance_err": result["F_importance_err"] / 16, "ess": result["ess"]}


def van_accuracy(ranks: int) -> dict:
    out = {}
    for count in (1, ranks):
        out[count] = run_local(van_accuracy_rank, count, timeout=3600)[0]
        r = out[count]
        print(f"VAN MADE L = 4, {count} process(es): F/N variational - exact "
              f"{r['variational_error']:+.2e}, importance - exact {r['importance_error']:+.2e}"
              f" +- {r['importance_err']:.1e}, ESS {r['ess']:.3f}, {r['seconds']:.0f} s",
              flush=True)
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    if args.pin:
        os.environ[PIN_VARIABLE] = "1"
    if args.memory_table:
        print(memory_table())
        return {}
    if args.waits:
        return waits(args)
    if args.van_accuracy:
        result = van_accuracy(args.ranks)
        args.out.mkdir(parents=True, exist_ok=True)
        (args.out / "van_accuracy.json").write_text(json.dumps(result, indent=1))
        return result
    result = {"ranks": args.ranks, "bond": args.bond, "lr": args.lr, "sweeps": [], "van": {}}
    for images in args.images:
        row = {"images": images}
        for ranks in (1, args.ranks):
            reports = run_local(sweep_rank, ranks, images, args.bond, args.lr, timeout=3600)
            row[ranks] = {"seconds": max(r["seconds"] for r in reports),
                          "peak_mb_per_rank": max(r["peak_mb_above_start"] for r in reports),
                          "rows_per_rank": [r["rows"] for r in reports]}
        row["throughput_ratio"] = row[1]["seconds"] / row[args.ranks]["seconds"]
        single = row[1]["peak_mb_per_rank"]
        row["memory_ratio"] = row[args.ranks]["peak_mb_per_rank"] / single if single else None
        result["sweeps"].append(row)
        print(f"sweep (lr {args.lr}), {images} images, D = {args.bond}: 1 process "
              f"{row[1]['seconds']:.1f} s, {args.ranks} processes "
              f"{row[args.ranks]['seconds']:.1f} s: throughput x "
              f"{row['throughput_ratio']:.2f}; peak memory per rank "
              f"{row[1]['peak_mb_per_rank']:.0f} MB -> "
              f"{row[args.ranks]['peak_mb_per_rank']:.0f} MB",
              flush=True)
    for ranks in (1, args.ranks):
        reports = run_local(van_rank, ranks, args.L, args.van_steps, timeout=3600)
        result["van"][ranks] = max(r["seconds_per_step"] for r in reports)
    ratio = result["van"][1] / result["van"][args.ranks]
    print(f"VAN step, MADE on {args.L}x{args.L} Ising, batch 1000: 1 process "
          f"{result['van'][1]:.3f} s, {args.ranks} processes {result['van'][args.ranks]:.3f} s:"
          f" throughput x {ratio:.2f}")
    result["van"]["throughput_ratio"] = ratio
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "distributed.json").write_text(json.dumps(result, indent=1))
    return result


if __name__ == "__main__":
    main()
