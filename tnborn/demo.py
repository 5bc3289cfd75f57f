"""`tnborn demo` (and `make demo`): short runs that show the Born machines at work, well
under 3 minutes on 2 CPU cores.

1. bars-and-stripes 4x4 with an MPS: NLL down to ln 30, 40 samples, the fraction of
   1,000 samples that are valid patterns, entanglement;
2. 1,000 MNIST digits with an MPS (max bond 16, 4 sweeps): samples, inpainting of the
   lower half, NLL per sweep, entanglement per bond;
3. the same with a 2D tree tensor network (max bond 8, 3 sweeps).

Each stage writes its figures and model into a subfolder of ``out``.
"""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import torch

from .base import load
from .datasets import bars_and_stripes
from .workflows import inpaint_run, sample_run, train_run

BAS_SAMPLES = 1000  # drawn to measure the fraction of valid bars-and-stripes patterns


def stages(out="demo_output", *, progress: bool = True, seed: int = 0) -> Iterator[dict]:
    """Run the demo stage by stage; yields one dict per stage as it finishes:
    ``title``, ``folder``, ``train`` (the :func:`tnborn.workflows.train_run` summary),
    ``sample`` and (MNIST) ``inpaint`` results; bars-and-stripes adds
    ``valid_fraction`` (samples that are one of the 30 patterns) and ``ln_patterns``."""
    out = Path(out)
    folder = out / "bas"
    train = train_run("mps", "bas", folder, budget=10, max_bond=64, seed=seed,
                      progress=progress)
    sample = sample_run(folder / "model.pt", folder / "samples.png", num=40, seed=seed)
    patterns = bars_and_stripes(4, 4)
    drawn = load(folder / "model.pt").sample(
        BAS_SAMPLES, generator=torch.Generator().manual_seed(seed))
    valid = (drawn[:, None, :] == patterns[None]).all(-1).any(-1)
    yield {"title": "bars and stripes, MPS", "folder": str(folder), "train": train,
           "sample": _without_samples(sample), "valid_fraction": float(valid.double().mean()),
           "ln_patterns": math.log(len(patterns))}
    for model, max_bond, sweeps, title in (("mps", 16, 4, "MNIST, MPS"),
                                           ("ttn", 8, 3, "MNIST, 2D tree tensor network")):
        folder = out / f"mnist_{model}"
        train = train_run(model, "mnist", folder, budget=sweeps, max_bond=max_bond,
                          images=1000, test_images=200, seed=seed, progress=progress)
        sample = sample_run(folder / "model.pt", folder / "samples.png", num=64, seed=seed)
        inpaint = inpaint_run(folder / "model.pt", "mnist", folder / "inpainting.png",
                              rows=8, hide="lower", seed=seed)
        yield {"title": title, "folder": str(folder), "train": train,
               "sample": _without_samples(sample), "inpaint": inpaint}


def _without_samples(result: dict) -> dict:
    """A :func:`sample_run` result without the samples tensor."""
    return {key: value for key, value in result.items() if key != "samples"}
