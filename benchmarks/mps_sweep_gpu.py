"""What bounds a two-site sweep on a GPU (issue 23): 1,000 MNIST images, every bond at D
from the start (``init_bond=D``), ``fit`` defaults, float64.

Prints, for each D:

* the split's kernel alone, on a Gram matrix of the size the interior bonds give
  (2D x 2D): ``torch.linalg.eigh`` on the host with one thread and with ``--threads``,
  on the GPU (cuSOLVER), and the GPU's SVD drivers;
* seconds per sweep on the GPU with the split on the host (one host thread, then
  ``--threads``), on the GPU (``tnborn.linalg.HOST_SVD_MAX`` and ``HOST_EIGH_MAX`` 0),
  and with the library's size limits, and on this machine's CPU with one thread, side
  by side;
* where the time of the GPU sweep with the split on the host goes: the GPU's busy time
  (the kernels' summed device time, torch.profiler), the split's share (cProfile's
  cumulative time of ``truncated_factors``, host copies included) and the rest (kernel
  launches, Python).

Needs a CUDA device::

    python benchmarks/mps_sweep_gpu.py [--bonds 100] [--threads 8]
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import sys
import time

import torch

sys.path.insert(0, os.path.dirname(__file__))
from _timing import best_time  # noqa: E402

import tnborn.linalg  # noqa: E402
from tnborn import MPSBornMachine  # noqa: E402
from tnborn.datasets import mnist  # noqa: E402

CUDA = torch.device("cuda")
#: (HOST_SVD_MAX, HOST_EIGH_MAX) that put every split on the host / on the GPU
ON_HOST, ON_GPU = (1 << 30, 1 << 30), (0, 0)


def synced(fn):
    """``fn`` followed by a wait for the GPU."""
    def run():
        fn()
        torch.cuda.synchronize()
    return run


def split_kernels(bond: int, threads: int) -> dict[str, float]:
    """Milliseconds of one eigh / SVD of a 2D x 2D matrix, host and GPU."""
    n = 2 * bond
    a = torch.randn(n, n, dtype=torch.float64, generator=torch.Generator().manual_seed(0))
    gram = a @ a.T
    out = {}
    for count in (1, threads):
        torch.set_num_threads(count)
        out[f"host eigh, {count} thread(s)"] = best_time(lambda: torch.linalg.eigh(gram), 10)
    torch.set_num_threads(1)
    gram_gpu, a_gpu = gram.to(CUDA), a.to(CUDA)
    out["GPU eigh (cuSOLVER)"] = best_time(synced(lambda: torch.linalg.eigh(gram_gpu)), 10)
    for driver in ("gesvd", "gesvdj", "gesvda"):
        out[f"GPU svd {driver}"] = best_time(synced(
            lambda: torch.linalg.svd(a_gpu, full_matrices=False, driver=driver)), 5)
    return {key: 1e3 * value for key, value in out.items()}


def sweep_seconds(bond: int, data: torch.Tensor, device) -> float:
    """Seconds of the second sweep of a fresh model (the first builds the caches)."""
    model = MPSBornMachine(784, max_bond=bond, init_bond=bond, seed=0, device=device)
    model.fit(data, sweeps=1, progress=False)
    run = (synced if device == CUDA else (lambda fn: fn))(
        lambda: model.fit(data, sweeps=1, progress=False))
    start = time.perf_counter()
    run()
    return time.perf_counter() - start


def gpu_breakdown(bond: int, data: torch.Tensor) -> dict[str, float]:
    """Shares of one GPU sweep: kernels' device time, the split, the rest."""
    from torch.autograd import DeviceType
    from torch.profiler import ProfilerActivity, profile

    model = MPSBornMachine(784, max_bond=bond, init_bond=bond, seed=0, device=CUDA)
    model.fit(data, sweeps=1, progress=False)
    profiler = cProfile.Profile()
    start = time.perf_counter()
    profiler.enable()
    synced(lambda: model.fit(data, sweeps=1, progress=False))()
    profiler.disable()
    wall = time.perf_counter() - start
    stats = pstats.Stats(profiler)
    split = sum(entry[3] for (filename, _, name), entry in stats.stats.items()
                if filename.endswith("tnborn/linalg.py") and name == "truncated_factors")
    with profile(activities=[ProfilerActivity.CPU, ProfilerActivity.CUDA]) as prof:
        synced(lambda: model.fit(data, sweeps=1, progress=False))()
    events = prof.key_averages()
    busy = 1e-6 * sum(e.self_device_time_total for e in events
                      if e.device_type == DeviceType.CUDA)
    launches = sum(e.count for e in events if e.key in ("cudaLaunchKernel",
                                                        "cuLaunchKernel"))
    copies = sum(e.count for e in events if e.key == "aten::_to_copy")
    return {"wall": wall, "kernels": busy / wall, "split": split / (stats.total_tt or wall),
            "launches per update": launches / (2 * 783),
            "copies per update": copies / (2 * 783)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bonds", type=int, nargs="+", default=[100])
    parser.add_argument("--threads", type=int, default=8,
                        help="host threads for the split in the second GPU run")
    args = parser.parse_args()
    if not torch.cuda.is_available():
        raise SystemExit("needs a CUDA device")
    torch.set_num_threads(1)
    print(f"{torch.cuda.get_device_name()}, torch {torch.__version__}, "
          f"{os.cpu_count()} host cores", flush=True)
    cpu_data = mnist(limit=1000, seed=0)
    data = cpu_data.to(CUDA)
    defaults = (tnborn.linalg.HOST_SVD_MAX, tnborn.linalg.HOST_EIGH_MAX)
    for bond in args.bonds:
        kernels = split_kernels(bond, args.threads)
        print(f"D={bond}: one split of a {2 * bond} x {2 * bond} matrix, ms: "
              + "; ".join(f"{k} {v:.2f}" for k, v in kernels.items()), flush=True)
        times = {}
        for label, threads, limits in (
                ("GPU, split on the host, 1 thread", 1, ON_HOST),
                (f"GPU, split on the host, {args.threads} threads", args.threads, ON_HOST),
                ("GPU, split on the GPU", 1, ON_GPU),
                ("GPU, the library's limits", 1, defaults)):
            torch.set_num_threads(threads)
            tnborn.linalg.HOST_SVD_MAX, tnborn.linalg.HOST_EIGH_MAX = limits
            times[label] = sweep_seconds(bond, data, CUDA)
        torch.set_num_threads(1)
        times["CPU, 1 thread"] = sweep_seconds(bond, cpu_data, torch.device("cpu"))
        print(f"D={bond}: seconds per sweep: "
              + "; ".join(f"{k} {v:.2f}" for k, v in times.items()), flush=True)
        tnborn.linalg.HOST_SVD_MAX, tnborn.linalg.HOST_EIGH_MAX = ON_HOST
        shares = gpu_breakdown(bond, data)
        tnborn.linalg.HOST_SVD_MAX, tnborn.linalg.HOST_EIGH_MAX = defaults
        print(f"D={bond}: GPU sweep (split on the host, 1 thread) {shares['wall']:.2f} s: "
              f"kernels busy {shares['kernels']:.0%}, split {shares['split']:.0%} "
              f"(host eigh and copies), {shares['launches per update']:.0f} kernel "
              f"launches and {shares['copies per update']:.0f} copies per update",
              flush=True)


if __name__ == "__main__":
    main()
