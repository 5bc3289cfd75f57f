"""Learn binarized MNIST digits with an MPS Born machine, then sample and inpaint.

Writes four figures into ``--out``: ``samples.png`` (64 exact samples),
``inpainting.png`` (test digits, their upper halves, and restorations of the lower
halves drawn by ``conditional_sample``), ``nll.png`` (train and test NLL per sweep)
and ``entanglement.png`` (von Neumann entropy per bond)::

    python examples/mnist_mps.py --images 1000 --max-bond 20 --sweeps 6
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from tnborn import MPSBornMachine
from tnborn.datasets import mnist
from tnborn.plotting import bar_plot, image_grid, line_plot

SIDE = 28
N_PIXELS = SIDE * SIDE
NUM_SAMPLES = 64
NUM_INPAINTED = 8  # test digits in the inpainting figure
NUM_RESTORED = 3  # restorations of each of them
HIDDEN = 0.5  # grey value drawn for hidden pixels


def parse_args(argv=None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output/mnist_mps"),
                        help="folder for the figures (default: %(default)s)")
    parser.add_argument("--images", type=int, default=1000,
                        help="training images (default: %(default)s)")
    parser.add_argument("--test-images", type=int, default=200,
                        help="test images (default: %(default)s)")
    parser.add_argument("--max-bond", type=int, default=20,
                        help="largest bond dimension (default: %(default)s)")
    parser.add_argument("--sweeps", type=int, default=6,
                        help="two-site sweeps (default: %(default)s)")
    parser.add_argument("--lr", type=float, default=0.2,
                        help="learning rate (default: %(default)s)")
    parser.add_argument("--seed", type=int, default=0,
                        help="seed of the data subset, the model and the sampler "
                             "(default: %(default)s)")
    parser.add_argument("--no-progress", action="store_true", help="hide the progress bar")
    return parser.parse_args(argv)


def upper_half_known() -> torch.Tensor:
    """Bool mask ``(784,)``: True on the first 14 rows of the image."""
    known = torch.zeros(N_PIXELS, dtype=torch.bool)
    known[: N_PIXELS // 2] = True
    return known


def inpainting_rows(model, digits: torch.Tensor, generator) -> tuple[torch.Tensor, list[str]]:
    """Originals, masked copies (hidden pixels grey) and restorations, stacked by row."""
    known = upper_half_known()
    masked = torch.where(known, digits.double(), HIDDEN)
    restored = model.conditional_sample(digits.repeat(NUM_RESTORED, 1), known,
                                        generator=generator)
    rows = torch.cat([digits.double(), masked, restored.double()])
    labels = ["original", "lower half hidden"] + [f"restored {i + 1}"
                                                  for i in range(NUM_RESTORED)]
    return rows, labels


def draw_figures(model, history, test, out: Path, generator) -> dict[str, Path]:
    """Write the four PNGs into ``out``; returns their paths by name."""
    samples = model.sample(NUM_SAMPLES, generator=generator)
    digits = test[:NUM_INPAINTED]
    rows, labels = inpainting_rows(model, digits, generator)
    sweeps = [record["step"] for record in history]
    nll = {"train": [record["train_nll"] for record in history],
           "test": [record["test_nll"] for record in history]}
    return {
        "samples": image_grid(samples, (SIDE, SIDE), out / "samples.png", ncols=8,
                              title="MPS Born machine samples"),
        "inpainting": image_grid(rows, (SIDE, SIDE), out / "inpainting.png",
                                 ncols=len(digits), row_labels=labels,
                                 title="Inpainting the lower half"),
        "nll": line_plot(sweeps, nll, out / "nll.png", xlabel="sweep",
                         ylabel="NLL (nats)", title="Negative log-likelihood"),
        "entanglement": bar_plot(model.entanglement_entropy(), out / "entanglement.png",
                                 xlabel="bond", ylabel="von Neumann entropy (nats)",
                                 title="Entanglement per bond"),
    }


def main(argv=None) -> dict:
    """Train, sample, inpaint and plot; returns history, final NLLs and figure paths."""
    args = parse_args(argv)
    train = mnist(limit=args.images, seed=args.seed)
    test = mnist(split="test", limit=args.test_images, seed=args.seed)
    model = MPSBornMachine(N_PIXELS, max_bond=args.max_bond, seed=args.seed)
    history = model.fit(train, sweeps=args.sweeps, lr=args.lr, test_data=test,
                        progress=not args.no_progress)
    generator = torch.Generator().manual_seed(args.seed)
    figures = draw_figures(model, history, test, args.out, generator)

    final = history[-1]
    print(f"MNIST MPS: {len(train)} train / {len(test)} test images, max bond "
          f"{args.max_bond} (reached {final['max_bond']}), {final['step']} sweeps "
          f"in {final['seconds']:.1f} s")
    print(f"final NLL: train {final['train_nll']:.2f}, test {final['test_nll']:.2f} nats")
    print(f"figures in {args.out}: " + ", ".join(path.name for path in figures.values()))
    return {"history": history, "train_nll": final["train_nll"],
            "test_nll": final["test_nll"], "figures": figures}


if __name__ == "__main__":
    main()
