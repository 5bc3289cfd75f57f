"""Data-parallel training on torch.distributed: what the ranks of one fit share.

A fit with ``distributed=True`` (the default process group, which the caller or
``torchrun`` initialized) or ``process_group=group`` treats its ``data`` as this rank's
shard of the training set. Every rank holds the same model (same class, configuration and
initial tensors: checked when the fit starts, with a ``ValueError`` on every rank naming
what differs, so no rank is left waiting in a collective) and only its own shard's
per-sample work (the cached environments of a two-site sweep, the activations of a
network). The ranks exchange

* sums: the gradient terms of a two-site update, network gradients, NLL totals and row
  counts (``all_reduce``, so every rank ends with the same numbers);
* decisions: a time budget is spent when it is spent on any rank (``any``);
* the split of a merged tensor: every rank's own SVD of the identical merged tensor,
  the ranks' tensors compared after every sweep (or, with ``broadcast_split``, rank 0's
  SVD broadcast);

and only rank 0 shows a progress bar and writes checkpoints (every rank can resume from
the file). A single process uses :data:`SINGLE`, whose operations are the identity.

Collectives of complex tensors travel as their real views.
"""

from __future__ import annotations

import hashlib

import torch

#: sums of at most this many numbers (over all ranks) travel by all-gather
GATHER_LIMIT = 1 << 20

__all__ = ["Collective", "SINGLE", "distributed_sample", "rank_stream", "resolve_collective",
           "tensors_fingerprint"]


class Collective:
    """The ranks of one data-parallel fit (``group`` None and ``active`` False: one
    process, every operation the identity)."""

    def __init__(self, group=None, *, active: bool = False):
        self.group = group
        self.active = active
        if active:
            import torch.distributed as dist

            self._dist = dist
            self.rank = dist.get_rank(group)
            self.world = dist.get_world_size(group)
            # NCCL reduces CUDA tensors only: numbers travel through the current GPU
            self._device = torch.device("cuda", torch.cuda.current_device()) \
                if dist.get_backend(group) == "nccl" else torch.device("cpu")
        else:
            self.rank, self.world = 0, 1

    @property
    def is_main(self) -> bool:
        """Whether this rank shows progress and writes checkpoints (rank 0)."""
        return self.rank == 0

    # ------------------------------------------------------------- reductions
    def sum(self, tensor: torch.Tensor) -> torch.Tensor:
        """The elementwise sum of ``tensor`` over the ranks (a new tensor, bitwise the same
        on every rank). A small tensor is gathered and summed in rank order on every rank
        (gloo's all-gather answers in a third of its all-reduce's time on one machine);
        a large one goes through all-reduce."""
        if not self.active:
            return tensor
        out = tensor.detach().to(self._device, copy=True).contiguous()
        real = torch.view_as_real(out) if out.is_complex() else out
        if real.numel() * self.world <= GATHER_LIMIT:
            parts = [torch.empty_like(real) for _ in range(self.world)]
            self._dist.all_gather(parts, real, group=self.group)
            real.copy_(torch.stack(parts).sum(0))
        else:
            self._dist.all_reduce(real, group=self.group)
        return out.to(tensor.device)

    def total(self, *values: float) -> list[float]:
        """Each float summed over the ranks."""
        if not self.active:
            return [float(v) for v in values]
        return self.sum(torch.tensor(values, dtype=torch.float64)).tolist()

    def mean(self, mean: float, count: int) -> float:
        """The mean over every rank's ``count`` items of this rank's ``mean`` of its own."""
        if not self.active:
            return float(mean)
        total, rows = self.total(float(mean) * count, count)
        return total / rows

    def any(self, flag: bool) -> bool:
        """True on every rank when ``flag`` is True on some rank."""
        return bool(flag) if not self.active else self.total(float(bool(flag)))[0] > 0

    def gather(self, value) -> list:
        """``value`` (a picklable object) of every rank, in rank order."""
        if not self.active:
            return [value]
        out = [None] * self.world
        self._dist.all_gather_object(out, value, group=self.group)
        return out

    def gather_rows(self, tensor: torch.Tensor, dim: int = 0) -> torch.Tensor:
        """Every rank's ``tensor`` concatenated along ``dim`` in rank order (the lengths
        may differ), on every rank, on ``tensor``'s device."""
        if not self.active:
            return tensor
        parts = self.gather(tensor.detach().cpu())
        return torch.cat(parts, dim).to(tensor.device)

    def share(self, total: int) -> int:
        """This rank's part of ``total`` items split as evenly as possible (the first
        ``total % ranks`` ranks take one more)."""
        return total // self.world + (self.rank < total % self.world)

    def broadcast(self, tensors: list[torch.Tensor]) -> list[torch.Tensor]:
        """Rank 0's tensors on every rank (their shapes sent first, as one int64 vector:
        another rank's may differ before the call; the number of tensors and their
        dimensions may not)."""
        if not self.active:
            return tensors
        shapes = torch.tensor([d for t in tensors for d in t.shape], dtype=torch.int64,
                              device=self._device)
        self._dist.broadcast(shapes, src=self._global(0), group=self.group)
        dims = iter(shapes.tolist())
        out = []
        for t in tensors:
            shape = tuple(next(dims) for _ in range(t.ndim))
            buffer = t.to(self._device, copy=True).contiguous() if tuple(t.shape) == shape \
                else torch.empty(shape, dtype=t.dtype, device=self._device)
            self._dist.broadcast(torch.view_as_real(buffer) if buffer.is_complex() else buffer,
                                 src=self._global(0), group=self.group)
            out.append(buffer.to(t.device))
        return out

    def sum_gradients(self, parameters) -> None:
        """Replace every parameter's ``grad`` by its sum over the ranks (one flat
        collective; a missing gradient counts as zeros)."""
        if not self.active:
            return
        parameters = list(parameters)
        grads = [torch.zeros_like(p) if p.grad is None else p.grad for p in parameters]
        flat = self.sum(torch.cat([g.reshape(-1) for g in grads]))
        start = 0
        for p, g in zip(parameters, grads):
            p.grad = flat[start:start + g.numel()].view_as(g).clone()
            start += g.numel()

    def step_stream(self, generator: torch.Generator, step: int) -> torch.Generator:
        """This rank's random stream at ``step``: :func:`rank_stream`."""
        return rank_stream(generator, step, self.rank)

    def _global(self, rank: int) -> int:
        if self.group is None:
            return rank
        return self._dist.get_global_rank(self.group, rank)

    # ------------------------------------------------------------------ checks
    def check_same(self, what: str, value) -> None:
        """ValueError on every rank unless ``value`` (picklable) is equal on all ranks."""
        values = self.gather(value)
        if all(v == values[0] for v in values):
            return
        if isinstance(values[0], dict):
            keys = sorted({k for v in values for k in v}, key=str)
            for key in keys:
                seen = [v.get(key) for v in values]
                if any(s != seen[0] for s in seen):
                    raise ValueError(f"the ranks disagree on the {what}'s {key}: "
                                     + ", ".join(f"rank {r}: {s!r}" for r, s in
                                                 enumerate(seen)))
        raise ValueError(f"the ranks disagree on the {what}: "
                         + ", ".join(f"rank {r}: {v!r}" for r, v in enumerate(values)))

    def check_same_model(self, model, tensors=None, **settings) -> None:
        """ValueError on every rank unless the ranks hold the same model (class,
        configuration, bitwise the same ``tensors``; None: its parameters and buffers)
        and the same ``settings``."""
        if self.active:
            if tensors is None:
                tensors = [*model.parameters(), *model.buffers()]
            self.check_same("model", {"class": type(model).__name__,
                                      "config": model._config(),
                                      "tensors": tensors_fingerprint(tensors), **settings})

    def checked(self, call, refusal: str | None = None):
        """``call()``; in a data-parallel run a ValueError, TypeError or missing file on
        any rank (or a ``refusal`` to run at all) is a ValueError on every rank, so no
        rank goes on into a collective the others never reach."""
        if not self.active:
            return call()
        problem, result = refusal, None
        if problem is None:
            try:
                result = call()
            except (TypeError, ValueError, FileNotFoundError) as exc:
                problem = str(exc)
        self.raise_if_any(problem)
        return result

    def raise_if_any(self, problem: str | None) -> None:
        """ValueError on every rank when some rank has a problem (its message, with the
        rank), so that no rank goes on into a collective the others never reach."""
        problems = self.gather(problem)
        for rank, message in enumerate(problems):
            if message is not None:
                raise ValueError(f"rank {rank}: {message}" if self.active else message)

    def shard(self, rows):
        """This rank's rows of ``rows``: :func:`rank_rows` (one process: all of them)."""
        return rank_rows(rows, self.rank, self.world)

    def shard_sizes(self, rows: int, what: str = "training data") -> list[int]:
        """Every rank's number of rows; ValueError on every rank if one has none."""
        sizes = [int(s) for s in self.gather(int(rows))]
        empty = [r for r, s in enumerate(sizes) if s == 0]
        if empty:
            raise ValueError(f"rank(s) {', '.join(map(str, empty))} have an empty shard of "
                             f"the {what}: every rank needs rows")
        return sizes


#: one process: every collective is the identity
SINGLE = Collective()


def resolve_collective(distributed: bool, process_group) -> Collective:
    """The :class:`Collective` of a fit's ``distributed`` / ``process_group`` options:
    :data:`SINGLE` for a single process; ValueError when asked for a process group that
    was never initialized."""
    if not isinstance(distributed, bool):
        raise TypeError(f"distributed must be True or False, got {distributed!r}")
    if not distributed and process_group is None:
        return SINGLE
    import torch.distributed as dist

    if not (dist.is_available() and dist.is_initialized()):
        raise ValueError("distributed training needs an initialized process group "
                         "(torch.distributed.init_process_group, or launch with torchrun)")
    return Collective(process_group, active=True)


def distributed_sample(model, num: int, *, generator: torch.Generator | None = None,
                       process_group=None) -> torch.Tensor:
    """``num`` samples of ``model`` drawn in parts by the ranks of the group (each from
    its own stream, :func:`rank_stream`) and gathered: ``(num, n_sites)`` on every rank,
    rank 0's draws first. Every rank must call it with the same model and ``num``."""
    collective = resolve_collective(True, process_group)
    if isinstance(num, bool) or not isinstance(num, int) or num < collective.world:
        raise ValueError(f"num must be an int of at least one sample per rank "
                         f"({collective.world}), got {num!r}")
    stream = rank_stream(model.random_stream(generator), 0, collective.rank)
    return collective.gather_rows(model.sample(collective.share(num), generator=stream))


def rank_stream(generator: torch.Generator, step: int, rank: int) -> torch.Generator:
    """The random stream of a rank's draws at ``step``: ``generator`` itself on rank 0 (so
    one process is rank 0); on rank r a fresh generator seeded from ``generator``'s seed,
    the step and r: distinct on every rank, and a resumed run draws what the
    uninterrupted one did without any rank's generator state in the checkpoint."""
    if rank == 0:
        return generator
    key = f"{generator.initial_seed()}:{step}:{rank}".encode()
    seed = int.from_bytes(hashlib.sha256(key).digest()[:8], "little") >> 1
    return torch.Generator(generator.device).manual_seed(seed)


def rank_rows(rows, rank: int, ranks: int):
    """Rank ``rank``'s shard of ``rows`` (a tensor or array) among ``ranks`` ranks: rows
    rank, rank + ranks, rank + 2 ranks, ... (every rank's shard of a data-parallel run)."""
    return rows[rank::ranks]


def tensors_fingerprint(tensors) -> str:
    """SHA-256 over the :func:`tnborn.fitloop.fingerprint` of each tensor: equal on every
    rank iff the tensors are bitwise equal."""
    from .fitloop import fingerprint

    return hashlib.sha256("|".join(fingerprint(t) for t in tensors).encode()).hexdigest()
