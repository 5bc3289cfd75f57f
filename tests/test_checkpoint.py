"""Checkpoints: a run killed with SIGKILL and resumed from its last checkpoint ends in
exactly the state of the run that was not interrupted (MPS sweeps, TTN sweeps, MPS
gradient, MADE maximum likelihood, VAN), and a resumed run refuses other data or
options."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import torch

ROOT = Path(__file__).resolve().parents[1]

# Each run: a seeded model and its training call; {path} and {resume} are filled in. The
# data are drawn from seeded generators, so child and parent train on the same rows.
RUNS = {
    "mps-sweep": ("""
        from tnborn import MPSBornMachine
        from tnborn.datasets import digits
        data = digits(split="train")[:400]
        model = MPSBornMachine(64, max_bond=6, seed=3)
        fit = lambda **kw: model.fit(data, sweeps=8, batch_size=100, progress=False, **kw)
        """),
    "ttn-sweep": ("""
        from tnborn import TTNBornMachine
        from tnborn.datasets import digits
        data = digits(split="train")[:400]
        model = TTNBornMachine(64, layout=(8, 8), max_bond=6, seed=3)
        fit = lambda **kw: model.fit(data, sweeps=8, batch_size=100, progress=False, **kw)
        """),
    "mps-gradient": ("""
        from tnborn import MPSBornMachine
        from tnborn.datasets import bars_and_stripes
        data = bars_and_stripes(4, 4)
        model = MPSBornMachine(16, max_bond=6, init_bond=6, seed=3)
        fit = lambda **kw: model.fit(data, method="gradient", sweeps=12, batch_size=8,
                                     progress=False, **kw)
        """),
    "made-mle": ("""
        from tnborn import MADE
        from tnborn.datasets import digits
        data = digits(split="train")
        test = digits(split="test")
        model = MADE(64, hidden=64, seed=3)
        fit = lambda **kw: model.fit(data, epochs=6, batch_size=50, test_data=test,
                                     progress=False, **kw)
        """),
    "van": ("""
        from tnborn import MADE
        from tnborn.physics import Ising2D, train_variational
        model = MADE(16, hidden=32, seed=3)
        fit = lambda **kw: train_variational(model, Ising2D(4), 0.44, steps=150,
                                             batch_size=200, beta_anneal=0.9, z2=True,
                                             progress=False, **kw)
        """),
}
CHILD = """
import torch
torch.set_num_threads(1)
{setup}
fit(checkpoint={path!r}, checkpoint_every=1)
"""


def _namespace(kind: str) -> dict:
    namespace: dict = {}
    exec(textwrap.dedent(RUNS[kind]), namespace)
    return namespace


def _steps_done(path: Path) -> int:
    if not path.is_file():
        return -1
    try:
        return int(torch.load(path, weights_only=True)["step"])
    except Exception:  # the file was being replaced: read it again later
        return -1


def _without_times(history):
    return [{k: v for k, v in record.items() if k not in ("seconds", "cpu_seconds")}
            for record in history]


@pytest.fixture
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@pytest.mark.parametrize("kind", sorted(RUNS))
def test_a_killed_run_resumes_to_the_uninterrupted_state(kind, tmp_path, one_thread):
    path = tmp_path / "checkpoint.pt"
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD.format(setup=textwrap.dedent(RUNS[kind]), path=str(path))],
        cwd=ROOT, env={**os.environ, "OMP_NUM_THREADS": "1"},
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 120
    try:
        while _steps_done(path) < 3:
            assert child.poll() is None, child.stderr.read().decode()
            assert time.monotonic() < deadline, "no checkpoint after 120 s"
            time.sleep(0.02)
        child.send_signal(signal.SIGKILL)
        assert child.wait(timeout=30) == -signal.SIGKILL
    finally:
        if child.poll() is None:
            child.kill()
        child.stderr.close()
    killed_at = _steps_done(path)
    resumed = _namespace(kind)
    history = resumed["fit"](resume=path)
    straight = _namespace(kind)
    expected = straight["fit"]()
    assert killed_at >= 3
    assert _without_times(history) == _without_times(expected)
    state, reference = resumed["model"].state_dict(), straight["model"].state_dict()
    assert state.keys() == reference.keys()
    difference = max(float((state[k] - reference[k]).abs().max()) for k in state
                     if isinstance(state[k], torch.Tensor))
    assert difference <= 1e-12
    assert getattr(resumed["model"], "center", None) == getattr(straight["model"], "center",
                                                               None)


def test_resume_refuses_other_data_options_and_models(tmp_path, one_thread):
    from tnborn import MADE, MPSBornMachine
    from tnborn.datasets import bars_and_stripes

    data = bars_and_stripes(4, 4)
    path = tmp_path / "made.pt"
    MADE(16, hidden=8, seed=0).fit(data, epochs=2, checkpoint=path, progress=False)
    with pytest.raises(ValueError, match="train data differ"):
        MADE(16, hidden=8, seed=0).fit(data[:20], epochs=3, resume=path, progress=False)
    with pytest.raises(ValueError, match="lr"):
        MADE(16, hidden=8, seed=0).fit(data, epochs=3, lr=0.01, resume=path, progress=False)
    with pytest.raises(ValueError, match="hidden"):
        MADE(16, hidden=9, seed=0).fit(data, epochs=3, resume=path, progress=False)
    with pytest.raises(ValueError, match="not of MPSBornMachine"):
        MPSBornMachine(16).fit(data, sweeps=3, resume=path, progress=False)
    with pytest.raises(ValueError, match="2 passes, more than the 1"):
        MADE(16, hidden=8, seed=0).fit(data, epochs=1, resume=path, progress=False)
    MPSBornMachine(16, seed=0).fit(data, sweeps=2, checkpoint=tmp_path / "m.pt",
                                   progress=False)
    with pytest.raises(ValueError, match=r"\(sweep training\), not .*\(gradient training\)"):
        MPSBornMachine(16, seed=0).fit(data, method="gradient", sweeps=3,
                                       resume=tmp_path / "m.pt", progress=False)
    (tmp_path / "junk.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(ValueError, match="not a readable tnborn checkpoint"):
        MADE(16, hidden=8, seed=0).fit(data, epochs=3, resume=tmp_path / "junk.pt")
    with pytest.raises(FileNotFoundError):
        MADE(16, hidden=8, seed=0).fit(data, epochs=3, resume=tmp_path / "missing.pt")
    with pytest.raises(ValueError, match="checkpoint_every"):
        MADE(16, hidden=8, seed=0).fit(data, epochs=3, checkpoint=tmp_path / "c.pt",
                                       checkpoint_every="often")


def test_checkpoint_schedule_and_extension(tmp_path, one_thread):
    """Written before the first pass, every K passes and after the last one; a resumed
    run may ask for more passes than the checkpointed one."""
    from tnborn import MADE
    from tnborn.datasets import bars_and_stripes

    data = bars_and_stripes(4, 4)
    path = tmp_path / "made.pt"
    model = MADE(16, hidden=8, seed=0)
    seen = []
    original = torch.save

    def spy(payload, handle, *args, **kwargs):
        if isinstance(payload, dict) and payload.get("format") == "tnborn-checkpoint":
            seen.append(payload["step"])
        return original(payload, handle, *args, **kwargs)

    torch.save = spy
    try:
        model.fit(data, epochs=7, checkpoint=path, checkpoint_every=3, progress=False)
    finally:
        torch.save = original
    assert seen == [0, 3, 6, 7]
    longer = MADE(16, hidden=8, seed=0).fit(data, epochs=10, resume=path, progress=False)
    straight = MADE(16, hidden=8, seed=0).fit(data, epochs=10, progress=False)
    assert _without_times(longer) == _without_times(straight)


def test_learning_rate_decay_and_sparse_records_survive_a_resume(tmp_path, one_thread):
    """``lr_decay`` shrinks the rate each epoch (a resumed run goes on from the decayed
    rate: it ends where the uninterrupted run does); ``record_every`` records every K-th
    epoch and the last (of the interrupted run too: its epoch 4)."""
    from tnborn import MADE
    from tnborn.datasets import bars_and_stripes

    data = bars_and_stripes(4, 4)
    options = {"lr": 0.01, "lr_decay": 0.5, "record_every": 3, "progress": False}
    straight_model = MADE(16, hidden=8, seed=0)
    straight = straight_model.fit(data, epochs=7, **options)
    assert [record["step"] for record in straight] == [3, 6, 7]
    path = tmp_path / "made.pt"
    MADE(16, hidden=8, seed=0).fit(data, epochs=4, checkpoint=path, **options)
    resumed_model = MADE(16, hidden=8, seed=0)
    resumed = resumed_model.fit(data, epochs=7, resume=path, **options)
    assert [r["step"] for r in resumed] == [3, 4, 6, 7]
    assert _without_times([r for r in resumed if r["step"] != 4]) == _without_times(straight)
    for a, b in zip(resumed_model.parameters(), straight_model.parameters()):
        assert torch.equal(a, b)
    constant = MADE(16, hidden=8, seed=0).fit(data, epochs=7, lr=0.01, progress=False)
    assert constant[-1]["train_nll"] != straight[-1]["train_nll"]
    with pytest.raises(ValueError, match="lr_decay"):
        MADE(16, hidden=8, seed=0).fit(data, epochs=1, lr_decay=1.5, progress=False)
    with pytest.raises(ValueError, match="record_every"):
        MADE(16, hidden=8, seed=0).fit(data, epochs=1, record_every=0, progress=False)
