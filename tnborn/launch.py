"""Start N local processes on one machine, each a rank of a torch.distributed group.

``run_local(fn, nproc, *args)`` spawns ``nproc`` fresh Python processes (the "spawn"
start method), joins them into one group on 127.0.0.1 at a free port (gloo, or
``backend="nccl"`` with rank r on GPU r mod the GPU count), calls ``fn(*args)`` in each
with one torch thread, and returns the ranks' return values in rank order. It never
hangs: a rank that raises ends the run with that rank's error (the others are stopped),
and after ``timeout`` seconds every rank is killed and ``TimeoutError`` is raised.
``fn`` must be importable by name (a module-level function).
This is what ``tnborn train --nproc N`` and the distributed tests use; ``torchrun``
does the same job across machines.
"""

from __future__ import annotations

import datetime
import os
import socket
import tempfile
import time
from pathlib import Path

import torch

__all__ = ["run_local", "free_port"]


def free_port() -> int:
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def run_local(fn, nproc: int, *args, timeout: float = 300.0, backend: str = "gloo",
              threads: int = 1) -> list:
    """``[fn(*args) on rank 0, ..., on rank nproc - 1]`` (module docstring)."""
    import torch.multiprocessing as mp

    if isinstance(nproc, bool) or not isinstance(nproc, int) or nproc < 1:
        raise ValueError(f"nproc must be an int >= 1, got {nproc!r}")
    if not (isinstance(timeout, (int, float)) and timeout > 0):
        raise ValueError(f"timeout must be a number of seconds > 0, got {timeout!r}")
    with tempfile.TemporaryDirectory(prefix="tnborn-ranks-") as folder:
        context = mp.start_processes(_rank_main, nprocs=nproc, join=False,
                                     start_method="spawn",
                                     args=(fn, args, nproc, free_port(), backend, folder,
                                           float(timeout), threads))
        deadline = time.monotonic() + timeout
        try:
            while not context.join(timeout=0.2):
                if time.monotonic() > deadline:
                    raise TimeoutError(f"the {nproc} ranks did not finish within "
                                       f"{timeout:g} s; they were stopped")
        finally:
            for process in context.processes:
                if process.is_alive():
                    process.kill()
                    process.join()
        return [torch.load(Path(folder) / f"rank{r}.pt", weights_only=False)
                for r in range(nproc)]


def _rank_main(rank: int, fn, args, nproc: int, port: int, backend: str, folder: str,
               timeout: float, threads: int) -> None:
    import torch.distributed as dist

    os.environ.setdefault("OMP_NUM_THREADS", str(threads))
    torch.set_num_threads(threads)
    if backend == "nccl":  # one GPU per rank, as torchrun's LOCAL_RANK gives
        torch.cuda.set_device(rank % torch.cuda.device_count())
    dist.init_process_group(backend, init_method=f"tcp://127.0.0.1:{port}", rank=rank,
                            world_size=nproc, timeout=datetime.timedelta(seconds=timeout))
    try:
        result = fn(*args)
        torch.save(result, Path(folder) / f"rank{rank}.pt")
    finally:
        dist.destroy_process_group()
