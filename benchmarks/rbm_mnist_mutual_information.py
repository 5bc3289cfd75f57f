"""Sampled mutual information across raster cuts of MNIST digits: RBM, MPS and TTN
trained on the same 1,000 images (issue 22; docs/results_rbm.md), where enumeration of
the 2^784 images is out of reach.

I(rows above : rows below) at the cuts k = 28 r (after image row r) by the sampled
estimator of :func:`tnborn.diagnostics.mutual_information_profile`: the mean of
ln p(x) - ln p(x_A) - ln p(x_B) over ``--samples`` exact samples, with its standard
error. Every model here has exact samples and exact marginals on both sides, so nothing
else is estimated: the RBM with ``--hidden`` (<= 16) hidden units through its 2^m hidden
states, the MPS and the 2D TTN by contraction. Bounds beside the RBM's and the MPS's
values: I <= m ln 2 and I <= 2 S_1(k), the MPS's entanglement entropy at that bond.

Models: RBM by PCD-1 (Adam lr 1e-2 decayed by 0.99 per epoch, batches of 20,
``--epochs``), MPS and TTN by ``fit`` with its defaults but max_bond. Prints the table
and writes ``rbm_mnist_mi.json`` into ``--out``. One thread::

    python benchmarks/rbm_mnist_mutual_information.py --out runs/rbm_mnist_mi
"""

from __future__ import annotations

import argparse
import json
import math
import time
from pathlib import Path

import torch

from tnborn import RBM
from tnborn.datasets import mnist
from tnborn.diagnostics import entanglement_entropy, mutual_information_profile
from tnborn.presets import make_model

ROWS = (4, 8, 12, 14, 16, 20, 24)  # cuts after these image rows


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--hidden", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=200, help="RBM epochs")
    parser.add_argument("--mps-bond", type=int, default=16)
    parser.add_argument("--ttn-bond", type=int, default=8)
    parser.add_argument("--sweeps", type=int, default=8, help="MPS and TTN sweeps")
    parser.add_argument("--samples", type=int, default=2000)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/rbm_mnist_mi"))
    return parser.parse_args(argv)


def trained_models(data: torch.Tensor, args) -> list[tuple[str, object, float]]:
    """(name, model, training seconds) of the three models."""
    rbm = RBM(784, args.hidden, init_scale=0.01, seed=args.seed)
    start = time.perf_counter()
    rbm.fit(data, method="pcd", lr=1e-2, lr_decay=0.99, epochs=args.epochs, batch_size=20,
            progress=False)
    out = [(f"rbm m={args.hidden}", rbm, time.perf_counter() - start)]
    for family, bond in (("mps", args.mps_bond), ("ttn", args.ttn_bond)):
        model = make_model(family, 784, image_shape=(28, 28), max_bond=bond, seed=args.seed)
        start = time.perf_counter()
        model.fit(data, sweeps=args.sweeps, progress=False)
        out.append((f"{family} D={bond}", model, time.perf_counter() - start))
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    data = mnist(limit=1000, seed=args.seed)
    test = mnist(split="test", seed=args.seed)
    cuts = [28 * r for r in ROWS]
    result = {"cuts": cuts, "samples": args.samples, "models": []}
    for name, model, seconds in trained_models(data, args):
        start = time.perf_counter()
        profile = mutual_information_profile(
            model, cuts=cuts, num=args.samples,
            generator=torch.Generator().manual_seed(args.seed + 1))
        entry = {"name": name, "params": model.num_parameters, "train_seconds": seconds,
                 "mi_seconds": time.perf_counter() - start,
                 "train_nll": model.nll(data), "test_nll": model.nll(test),
                 "mi": profile["mi"], "stderr": profile["stderr"]}
        if name.startswith("rbm"):
            entry["bound"] = [args.hidden * math.log(2)] * len(cuts)
        elif name.startswith("mps"):
            entropy = entanglement_entropy(model)
            entry["bound"] = [2 * float(entropy[k - 1]) for k in cuts]
        result["models"].append(entry)
    (args.out / "rbm_mnist_mi.json").write_text(json.dumps(result, indent=1))
    print(table(result))
    return result


def table(result: dict) -> str:
    """Markdown: NLLs and the sampled MI (+- standard error) at each cut, per model."""
    lines = ["| model | params | train NLL | test NLL | "
             + " | ".join(f"k={k} (row {k // 28})" for k in result["cuts"]) + " |",
             "|---|---:|---:|---:|" + "---:|" * len(result["cuts"])]
    for entry in result["models"]:
        lines.append(f"| {entry['name']} | {entry['params']:,} | {entry['train_nll']:.2f} | "
                     f"{entry['test_nll']:.2f} | " + " | ".join(
                         f"{v:.2f} +- {e:.2f}" for v, e in zip(entry["mi"], entry["stderr"]))
                     + " |")
        if "bound" in entry:
            what = "m ln 2" if entry["name"].startswith("rbm") else "2 S(k)"
            lines.append(f"| bound ({what}) | | | | "
                         + " | ".join(f"{b:.2f}" for b in entry["bound"]) + " |")
    return "\n".join(lines)


if __name__ == "__main__":
    main()
