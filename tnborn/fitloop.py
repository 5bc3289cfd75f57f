"""The loop every training function shares: numbered passes (sweeps, epochs or
variational steps) under a training-time budget, a progress bar, one record per pass,
model selection on validation data, and checkpoints.

Budgets and clocks
------------------
``max_seconds`` counts training time only (evaluations excluded) on ``clock="wall"``
(the default) or ``clock="cpu"``: the process's CPU time, which another program on the
machine cannot inflate (with several torch threads it runs faster than the wall). Every
record has ``seconds`` (wall) and ``cpu_seconds``.

Model selection
---------------
With ``val_data`` every pass records ``val_nll``; the state with the lowest one is kept
and restored when training ends, so the model returned is the best-validation state.
``patience=K`` stops after K passes without a new best. The last record says why
training stopped: ``"stopped_by"`` is ``"early_stop"``, ``"converged"`` (a stopping rule
of the caller, e.g. the sweeps' ``tol``) or ``"budget"`` (the passes or the seconds ran
out).

Checkpoints
-----------
``checkpoint=path`` writes, atomically (a temporary file and a rename), the state of the
run at the end of a pass: the model's ``state_dict`` and configuration, the optimizer
state where there is one, the state of the random generator the run draws from, the
history so far, the training options and fingerprints of the data. It is written before
the first pass, then every ``checkpoint_every`` passes (an int) or after the first pass
that ends at least that many seconds (``"30s"``, ``"5m"``) after the last write, and
after the last pass. A pass cut short by a time budget is not a resumable point and is
not written.

``resume=path`` loads such a file into the model and continues from the pass after it,
with the same data and options (ValueError naming what differs); the number of passes
may be raised. A run killed at any moment (even with SIGKILL) and resumed from its last
checkpoint ends in exactly the state of the run that was not interrupted (float64, the
same seeds): every random draw comes from the checkpointed generator. Only the
``seconds`` of the history, wall-clock measurements, differ.
"""

from __future__ import annotations

import hashlib
import time
from pathlib import Path
from typing import Callable

import torch

from .base import atomic_save, read_payload, to_cpu
from .budget import parse_interval
from .checks import check_count, check_positive
from .distributed import SINGLE
from .progress import TrainingBar

CHECKPOINT_FORMAT = "tnborn-checkpoint"
CHECKPOINT_VERSION = 1
CLOCKS = ("wall", "cpu")


def fingerprint(data: torch.Tensor | None) -> str | None:
    """SHA-256 of a tensor's shape, dtype and values (None for None)."""
    if data is None:
        return None
    data = data.detach().cpu().contiguous()
    digest = hashlib.sha256(f"{tuple(data.shape)} {data.dtype}".encode())
    digest.update(data.numpy().tobytes())
    return digest.hexdigest()


class FitLoop:
    """Passes ``1 .. total`` of one training run (a context manager).

    ::

        with FitLoop(model, kind="sweep", total=sweeps, ...) as loop:
            restore(loop.extras)              # optimizer state etc. when resuming
            for step in loop.passes():
                for update in pass_updates:
                    ...
                    if loop.tick():           # time budget spent
                        break
                seconds = loop.end_pass()
                loop.finish(step, record, partial=..., extras=lambda: {...})
        return loop.history

    Parameters
    ----------
    model : the GenerativeModel being trained (its state_dict is checkpointed).
    kind : the training method (a checkpoint of another kind is refused).
    total : passes to run in all (resumed passes included).
    updates_per_pass : progress-bar units per pass.
    options : the settings that determine the computation (plain values); a resumed
        run must be given the same.
    data : tensors whose fingerprints a resumed run must match (train, test, ...).
    rng : the generator every random draw of the run comes from.
    collective : the ranks of a data-parallel fit (:mod:`tnborn.distributed`): the data
        are this rank's shard; the validation NLL is the mean over every rank's
        validation rows, the fingerprints cover every shard, a time budget ends the run on
        every rank together, and only rank 0 shows the bar and writes checkpoints.
    """

    def __init__(self, model, *, kind: str, total: int, updates_per_pass: int, unit: str,
                 desc: str, progress: bool, max_seconds, checkpoint, checkpoint_every,
                 resume, options: dict, data: dict, rng: torch.Generator, val_data=None,
                 patience=None, clock: str = "wall", collective=SINGLE):
        self.model = model
        self.collective = collective
        self.kind = kind
        self.total = check_count(total, unit)
        self.max_seconds = None if max_seconds is None else check_positive(max_seconds,
                                                                           "max_seconds")
        if clock not in CLOCKS:
            raise ValueError(f"clock must be one of {CLOCKS}, got {clock!r}")
        self.clock = clock
        self.checkpoint = None if checkpoint is None or not collective.is_main \
            else Path(checkpoint)
        self.every_steps, self.every_seconds = parse_interval(checkpoint_every)
        self.selection = None if val_data is None else Selection(model, val_data, patience,
                                                                 collective)
        if patience is not None and val_data is None:
            raise ValueError("patience needs val_data: early stopping watches the "
                             "validation NLL")
        self.options = {**options, "patience": patience}
        self.fingerprints = {name: fingerprint(value)
                             for name, value in {**data, "val": val_data}.items()}
        if collective.active:  # every rank's shards, so that every rank can resume
            self.fingerprints = {name: hashlib.sha256(repr(prints).encode()).hexdigest()
                                 for name, prints in zip(self.fingerprints, zip(
                                     *collective.gather(list(self.fingerprints.values()))))}
        self.rng = rng
        self.history: list[dict] = []
        self.elapsed = 0.0  # training seconds on the budget's clock
        self.wall = 0.0
        self.cpu = 0.0
        self.next_step = 1
        self.extras: dict | None = None
        self._stopped = False
        self._pass_start = (0.0, 0.0)
        self._last_write = time.monotonic()
        if resume is not None:
            self._resume(Path(resume))
        self.bar = TrainingBar(updates=max(0, self.total - self.next_step + 1) * updates_per_pass,
                               max_seconds=self.max_seconds, unit="update", desc=desc,
                               enabled=progress and collective.is_main)

    def __enter__(self) -> "FitLoop":
        return self

    def __exit__(self, *exc) -> None:
        self.bar.close()

    # ---------------------------------------------------------------- passes
    def passes(self):
        """The numbers of the passes still to run (stops early on a spent budget)."""
        if self.checkpoint is not None and self.next_step == 1:
            self._write(0, {})
        for step in range(self.next_step, self.total + 1):
            if self._stopped:
                return
            self._pass_start = (time.perf_counter(), time.process_time())
            yield step

    def _spent(self, clock: str) -> float:
        """Seconds of the current pass so far on ``clock`` ("wall" or "cpu"); only that
        clock is read."""
        wall, cpu = self._pass_start
        return time.process_time() - cpu if clock == "cpu" else time.perf_counter() - wall

    def tick(self) -> bool:
        """Count one update; True once the training time reaches the budget. Without a
        budget no clock is read (a CPU clock read can cost as much as a small update)."""
        if self.max_seconds is None:
            return self.bar.advance(0.0)
        return self.collective.any(self.bar.advance(self.elapsed + self._spent(self.clock)))

    def budget_spent(self) -> bool:
        """Whether the training time has reached ``max_seconds`` (on any rank)."""
        return self.max_seconds is not None and self.collective.any(
            self.elapsed >= self.max_seconds)

    def end_pass(self) -> float:
        """Stop the pass's clocks; returns the cumulative wall-clock training seconds."""
        self.wall += self._spent("wall")
        self.cpu += self._spent("cpu")
        self.elapsed = self.cpu if self.clock == "cpu" else self.wall
        return self.wall

    def finish(self, step: int, record: dict | None, *, partial: bool = False,
               converged: bool = False, extras: Callable[[], dict] | None = None) -> None:
        """Record the pass (``record`` None: nothing recorded) and checkpoint if due;
        ``converged``: the caller's stopping rule ends training after this pass."""
        early = False
        if record is not None:
            if partial:
                record["partial"] = True
            record["cpu_seconds"] = self.cpu
            if self.selection is not None:
                early = self.selection.observe(step, record)
            self.history.append(record)
            shown = {key: f"{record[key]:.4f}" for key in ("train_nll", "free_energy")
                     if key in record}
            if "max_bond" in record:
                shown["D"] = record["max_bond"]
            self.bar.set_postfix(**shown)
        self._stopped = early or partial or converged or self.budget_spent()
        last = step == self.total or self._stopped
        if record is not None and last:
            record["stopped_by"] = ("early_stop" if early else
                                    "converged" if converged and not partial else "budget")
        if self.checkpoint is None or partial:
            return
        due = (self.every_steps is not None and step % self.every_steps == 0) or (
            self.every_seconds is not None
            and time.monotonic() - self._last_write >= self.every_seconds)
        if last or due:
            self._write(step, extras() if extras is not None else {})

    def restore_best(self) -> None:
        """Put the best-validation state back into the model (with ``val_data``)."""
        if self.selection is not None:
            self.selection.restore()

    # ----------------------------------------------------------- checkpoints
    def _write(self, step: int, extras: dict) -> None:
        model = self.model
        atomic_save({
            "format": CHECKPOINT_FORMAT, "version": CHECKPOINT_VERSION, "kind": self.kind,
            "class": type(model).__name__, "config": model._config(),
            "state": to_cpu(model.state_dict()), "rng": self.rng.get_state(),
            "rng_device": str(self.rng.device), "history": self.history,
            "options": self.options, "data": self.fingerprints, "step": step,
            "elapsed": self.elapsed, "wall": self.wall, "cpu": self.cpu,
            "selection": None if self.selection is None else self.selection.state(),
            "extras": to_cpu(extras)}, self.checkpoint)
        self._last_write = time.monotonic()

    def _resume(self, path: Path) -> None:
        payload = read_payload(path, CHECKPOINT_FORMAT, "checkpoint")
        model = self.model
        if payload.get("class") != type(model).__name__ or payload.get("kind") != self.kind:
            raise ValueError(f"{path} is a checkpoint of {payload.get('class')} "
                             f"({payload.get('kind')} training), not of {type(model).__name__} "
                             f"({self.kind} training)")
        _check_same("model configuration", payload.get("config"), model._config(),
                    ignore=("seed",))
        _check_same("training option", payload.get("options"), self.options)
        _check_same("data", payload.get("data"), self.fingerprints)
        step = payload.get("step")
        if not isinstance(step, int) or step > self.total:
            raise ValueError(f"{path} holds {step} passes, more than the {self.total} asked for")
        if payload.get("rng_device") != str(self.rng.device):
            raise ValueError(f"{path} was written with a generator on "
                             f"{payload.get('rng_device')}, this run draws on {self.rng.device}")
        try:
            model.load_state_dict(payload["state"])
        except (KeyError, RuntimeError) as exc:
            raise ValueError(f"{path} does not fit this {type(model).__name__}: "
                             f"{str(exc).splitlines()[0]}") from None
        self.rng.set_state(payload["rng"])
        # the run goes on: the end it recorded is no longer its end
        self.history = [{k: v for k, v in record.items() if k != "stopped_by"}
                        for record in payload.get("history", [])]
        self.elapsed = float(payload.get("elapsed", 0.0))
        self.wall = float(payload.get("wall", self.elapsed))
        self.cpu = float(payload.get("cpu", 0.0))
        if self.selection is not None and payload.get("selection") is not None:
            self.selection.load(payload["selection"])
        self.next_step = step + 1
        self.extras = payload.get("extras", {})


class Selection:
    """The best-validation state of a run, and early stopping."""

    def __init__(self, model, val_data: torch.Tensor, patience, collective=SINGLE):
        self.model = model
        self.val_data = val_data
        self.collective = collective
        self.patience = None if patience is None else check_count(patience, "patience")
        self.best: dict | None = None  # {"step", "val_nll", "state"}
        self.bad = 0

    def observe(self, step: int, record: dict) -> bool:
        """Add ``val_nll`` to the record, keep the state if it is the best so far;
        True when ``patience`` passes have gone by without a new best."""
        val = self.collective.mean(self.model.nll(self.val_data), len(self.val_data))
        record["val_nll"] = val
        if self.best is None or val < self.best["val_nll"]:
            self.best = {"step": step, "val_nll": val, "state": to_cpu(self.model.state_dict())}
            self.bad = 0
        else:
            self.bad += 1
        return self.patience is not None and self.bad >= self.patience

    def restore(self) -> None:
        if self.best is not None:
            self.model.load_state_dict(self.best["state"])

    def state(self) -> dict:
        return {"best": self.best, "bad": self.bad}

    def load(self, saved: dict) -> None:
        self.best, self.bad = saved.get("best"), int(saved.get("bad", 0))


def _check_same(what: str, saved, given, ignore=()) -> None:
    """ValueError naming the first key where two dicts differ."""
    if not isinstance(saved, dict):
        raise ValueError(f"the checkpoint has no {what}s")
    for key in sorted(set(saved) | set(given)):
        if key in ignore:
            continue
        if saved.get(key) != given.get(key):
            if what == "data":
                raise ValueError(f"the {key} data differ from the checkpoint's")
            raise ValueError(f"{what} {key} is {given.get(key)!r}, the checkpoint has "
                             f"{saved.get(key)!r}")
