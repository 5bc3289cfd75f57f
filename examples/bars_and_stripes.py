"""Learn the 30 bars-and-stripes 4x4 patterns with an MPS Born machine.

A perfect model puts probability 1/30 on each pattern, so its NLL is ln 30 and every
sample is a valid pattern. The script prints the NLL per sweep against ln 30 and the
fraction of valid samples, and writes ``samples.png`` (a grid of samples) and
``entanglement.png`` (von Neumann entropy per bond) into ``--out``::

    python examples/bars_and_stripes.py --sweeps 10 --out demo_output/bas
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import torch

from tnborn import MPSBornMachine
from tnborn.datasets import bars_and_stripes
from tnborn.plotting import bar_plot, image_grid

SIDE = 4
LR = 0.2
NUM_SAMPLES = 1000  # drawn to measure the fraction of valid patterns
NUM_SHOWN = 40  # of which the first ones are drawn in the grid


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output/bas"),
                        help="folder for the figures (default: %(default)s)")
    parser.add_argument("--sweeps", type=int, default=10,
                        help="two-site sweeps (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0, help="random seed (default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


def valid_mask(samples: torch.Tensor, patterns: torch.Tensor) -> torch.Tensor:
    """Bool ``(N,)``: whether each sample equals one of ``patterns``."""
    return (samples[:, None, :] == patterns[None, :, :]).all(-1).any(-1)


def main(argv=None) -> dict:
    """Train, sample and plot; returns history, samples, valid fraction and figure paths."""
    args = parse_args(argv)
    data = bars_and_stripes(SIDE, SIDE)
    model = MPSBornMachine(SIDE * SIDE, max_bond=64, seed=args.seed)
    history = model.fit(data, sweeps=args.sweeps, lr=LR, progress=not args.no_progress)

    generator = torch.Generator().manual_seed(args.seed)
    samples = model.sample(NUM_SAMPLES, generator=generator)
    valid_fraction = float(valid_mask(samples, data).float().mean())
    entropy = model.entanglement_entropy()

    figures = {
        "samples": image_grid(samples[:NUM_SHOWN], (SIDE, SIDE), args.out / "samples.png",
                              ncols=10, title="MPS Born machine samples (bars and stripes)"),
        "entanglement": bar_plot(entropy, args.out / "entanglement.png", xlabel="bond",
                                 ylabel="von Neumann entropy (nats)",
                                 title="Entanglement per bond"),
    }

    floor = math.log(len(data))
    print(f"bars and stripes {SIDE}x{SIDE}: {len(data)} patterns, ln {len(data)} = {floor:.4f}")
    for record in history:
        print(f"sweep {record['step']:3d}  NLL {record['train_nll']:.4f}  "
              f"above ln {len(data)}: {record['train_nll'] - floor:.4f}  "
              f"max bond {record['max_bond']}")
    print(f"valid samples: {valid_fraction:.3f} of {NUM_SAMPLES}")
    print(f"figures in {args.out}: " + ", ".join(path.name for path in figures.values()))
    return {"history": history, "samples": samples, "valid_fraction": valid_fraction,
            "entanglement": entropy, "figures": figures}


if __name__ == "__main__":
    main()
