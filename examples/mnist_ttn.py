"""Learn binarized MNIST digits with a 2D tree tensor network Born machine, then sample
and inpaint, as ``mnist_mps.py`` does for the MPS.

The (28, 28) layout splits the image alternately across rows and columns, so
neighbouring pixels share a low subtree. Writes ``samples.png``, ``inpainting.png``,
``nll.png`` and ``entanglement.png`` (von Neumann entropy of every edge against the number
of pixels below it) into ``--out``::

    python examples/mnist_ttn.py --images 1000 --max-bond 8 --sweeps 4
"""

from __future__ import annotations

import argparse
from pathlib import Path

import torch

from mnist_mps import N_PIXELS, NUM_INPAINTED, NUM_SAMPLES, SIDE, inpainting_rows
from tnborn import TTNBornMachine
from tnborn.datasets import mnist
from tnborn.plotting import image_grid, line_plot, scatter_plot


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=Path("demo_output/mnist_ttn"))
    parser.add_argument("--images", type=int, default=1000)
    parser.add_argument("--test-images", type=int, default=200)
    parser.add_argument("--max-bond", type=int, default=8)
    parser.add_argument("--sweeps", type=int, default=4)
    parser.add_argument("--lr", type=float, default=0.2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--no-progress", action="store_true")
    return parser.parse_args(argv)


def main(argv=None) -> dict:
    """Train, sample, inpaint and plot; returns history, final NLLs and figure paths."""
    args = parse_args(argv)
    train = mnist(limit=args.images, seed=args.seed)
    test = mnist(split="test", limit=args.test_images, seed=args.seed)
    model = TTNBornMachine(N_PIXELS, layout=(SIDE, SIDE), max_bond=args.max_bond,
                           seed=args.seed)
    history = model.fit(train, sweeps=args.sweeps, lr=args.lr, test_data=test,
                        progress=not args.no_progress)
    generator = torch.Generator().manual_seed(args.seed)
    rows, labels = inpainting_rows(model, test[:NUM_INPAINTED], generator)
    entropy = model.entanglement_entropy()
    sweeps = [record["step"] for record in history]
    figures = {
        "samples": image_grid(model.sample(NUM_SAMPLES, generator=generator), (SIDE, SIDE),
                              args.out / "samples.png", ncols=8,
                              title="2D TTN Born machine samples"),
        "inpainting": image_grid(rows, (SIDE, SIDE), args.out / "inpainting.png",
                                 ncols=NUM_INPAINTED, row_labels=labels,
                                 title="Inpainting the lower half"),
        "nll": line_plot(sweeps, {"train": [r["train_nll"] for r in history],
                                  "test": [r["test_nll"] for r in history]},
                         args.out / "nll.png", xlabel="sweep", ylabel="NLL (nats)",
                         title="Negative log-likelihood"),
        "entanglement": scatter_plot([len(bond.sites) for bond in model.bonds],
                                     entropy.tolist(), args.out / "entanglement.png",
                                     xlabel="pixels below the edge",
                                     ylabel="von Neumann entropy (nats)",
                                     title="Entanglement per edge", logx=True),
    }
    final = history[-1]
    print(f"MNIST 2D TTN: {len(train)} train / {len(test)} test images, max bond "
          f"{args.max_bond}, {final['step']} sweeps in {final['seconds']:.1f} s")
    print(f"final NLL: train {final['train_nll']:.2f}, test {final['test_nll']:.2f} nats")
    print(f"figures in {args.out}: " + ", ".join(path.name for path in figures.values()))
    return {"history": history, "train_nll": final["train_nll"],
            "test_nll": final["test_nll"], "figures": figures}


if __name__ == "__main__":
    main()
