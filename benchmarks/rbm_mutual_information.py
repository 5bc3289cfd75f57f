"""Mutual information across chain cuts: RBM, MPS and TTN on bars-and-stripes 4x4
(issue 22; docs/results_rbm.md), in the spirit of Cheng, Chen and Wang (arXiv:1712.04144).

Every model learns the 30 bars-and-stripes patterns: RBMs with 1 to 16 hidden units by
the exact likelihood gradient (full batch, Adam), MPS and TTN (2D layout) Born machines
by two-site sweeps at several bond dimensions. For each, the exact classical mutual
information I(sites < k : sites >= k) at every chain cut k by enumeration of the 2^16
configurations, beside the data's own (counted from the patterns) and the bounds the
architectures impose: I <= m ln 2 for an RBM with m hidden units (the hidden layer
separates the two sides), I <= 2 S_1(k) <= 2 ln D for an MPS at bond k. Prints the
table and writes ``rbm_mi_bas.json`` and the figure into ``--out``::

    python benchmarks/rbm_mutual_information.py --out docs/figures
"""

from __future__ import annotations

import argparse
import json
import math
import os
import sys
import time
from collections import Counter
from pathlib import Path

import torch

from tnborn import RBM
from tnborn.datasets import bars_and_stripes
from tnborn.diagnostics import entanglement_entropy, mutual_information_profile
from tnborn.presets import make_model

sys.path.insert(0, os.path.dirname(__file__))
from _earlier_defaults import FIXED_LR  # noqa: E402

HIDDEN = (1, 2, 4, 8, 16)
MPS_BONDS = (2, 4, 8, 16)
TTN_BONDS = (2, 4, 8)
SHOWN_CUTS = (2, 4, 6, 8, 10, 12, 14)


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=300, help="RBM epochs (full batch)")
    parser.add_argument("--lr", type=float, default=0.05, help="RBM Adam learning rate")
    parser.add_argument("--sweeps", type=int, default=50, help="MPS and TTN sweeps")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--out", type=Path, default=Path("runs/rbm_mi"))
    return parser.parse_args(argv)


def data_mutual_information(patterns: torch.Tensor, k: int) -> float:
    """I(x_<k : x_>=k) of the uniform distribution over the distinct ``patterns``,
    H(A) + H(B) - H(A, B), by counting."""
    rows = [tuple(p.tolist()) for p in patterns]

    def entropy(keys) -> float:
        counts, total = Counter(keys), len(keys)
        return -sum(c / total * math.log(c / total) for c in counts.values())

    return (entropy([r[:k] for r in rows]) + entropy([r[k:] for r in rows])
            - entropy(rows))


def train_models(data: torch.Tensor, args) -> list[tuple[str, object, float, float | None]]:
    """(name, model, seconds, bound per cut or None) for every model of the study."""
    out = []
    for m in HIDDEN:
        model = RBM(16, m, init_scale=0.1, seed=args.seed)
        start = time.perf_counter()
        model.fit(data, method="exact", epochs=args.epochs, lr=args.lr, batch_size=30,
                  progress=False)
        out.append((f"rbm m={m}", model, time.perf_counter() - start, m * math.log(2)))
    for family, bonds in (("mps", MPS_BONDS), ("ttn", TTN_BONDS)):
        for bond in bonds:
            model = make_model(family, 16, image_shape=(4, 4), max_bond=bond, seed=args.seed)
            start = time.perf_counter()
            # the fixed steps of the earlier default, with which the MI page was made
            model.fit(data, sweeps=args.sweeps, progress=False, lr=FIXED_LR[family])
            out.append((f"{family} D={bond}", model, time.perf_counter() - start, None))
    return out


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    data = bars_and_stripes(4, 4)
    cuts = list(range(1, 16))
    result = {"cuts": cuts, "data": [data_mutual_information(data, k) for k in cuts],
              "ln_30": math.log(30), "models": []}
    for name, model, seconds, bound in train_models(data, args):
        profile = mutual_information_profile(model, cuts=cuts)
        entry = {"name": name, "params": model.num_parameters, "nll": model.nll(data),
                 "seconds": seconds, "mi": profile["mi"], "rbm_bound": bound}
        if model.has_bonds and name.startswith("mps"):
            # bond k - 1 of an MPS cuts sites 0..k-1 from the rest: chain cut k
            entry["twice_entanglement"] = [2 * float(s) for s in entanglement_entropy(model)]
        result["models"].append(entry)
    (args.out / "rbm_mi_bas.json").write_text(json.dumps(result, indent=1))
    print(table(result))
    print(f"wrote {figure(result, args.out / 'rbm_mi_bas.png')}")
    return result


def table(result: dict) -> str:
    """Markdown: NLL and the exact MI at the shown cuts, per model and for the data."""
    index = [result["cuts"].index(k) for k in SHOWN_CUTS]
    lines = ["| model | params | NLL (ln 30 = 3.4012) | bound | "
             + " | ".join(f"k={k}" for k in SHOWN_CUTS) + " |",
             "|---|---:|---:|---|" + "---:|" * len(SHOWN_CUTS),
             "| data | | 3.4012 | | " + " | ".join(f"{result['data'][i]:.3f}" for i in index)
             + " |"]
    for entry in result["models"]:
        if entry["rbm_bound"] is not None:
            bound = f"m ln 2 = {entry['rbm_bound']:.3f}"
        elif "twice_entanglement" in entry:
            bound = "2 S(k) <= 2 ln D"
        else:
            bound = ""
        lines.append(f"| {entry['name']} | {entry['params']:,} | {entry['nll']:.4f} | "
                     f"{bound} | " + " | ".join(f"{entry['mi'][i]:.3f}" for i in index) + " |")
    mps = [e for e in result["models"] if "twice_entanglement" in e]
    if mps:
        lines += ["", "2 S_1 at the same cuts (the MPS bound on the MI):", "",
                  "| model | " + " | ".join(f"k={k}" for k in SHOWN_CUTS) + " |",
                  "|---|" + "---:|" * len(SHOWN_CUTS)]
        for entry in mps:
            lines.append(f"| {entry['name']} | " + " | ".join(
                f"{entry['twice_entanglement'][k - 1]:.3f}" for k in SHOWN_CUTS) + " |")
    return "\n".join(lines)


def figure(result: dict, path: Path) -> Path:
    """MI against the cut: one panel per family, the data's curve in each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cuts = result["cuts"]
    fig, axes = plt.subplots(1, 3, figsize=(12, 3.6), sharey=True)
    for ax, family in zip(axes, ("rbm", "mps", "ttn")):
        ax.plot(cuts, result["data"], "k-", lw=2.5, label="data (30 patterns)")
        for entry in result["models"]:
            if entry["name"].startswith(family):
                ax.plot(cuts, entry["mi"], "o-", ms=3, label=entry["name"])
        ax.set_title({"rbm": "RBM (exact gradient)", "mps": "MPS Born machine",
                      "ttn": "TTN Born machine (2D tree)"}[family])
        ax.set_xlabel("chain cut k (sites < k | sites >= k)")
        ax.legend(fontsize=7)
    axes[0].set_ylabel("exact mutual information (nats)")
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


if __name__ == "__main__":
    main()
