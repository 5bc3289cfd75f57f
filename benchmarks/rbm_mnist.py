"""RBMs against MPS and TTN Born machines on 1,000 MNIST digits, and image restoration
(issue 22; docs/results_rbm.md).

Data: 1,000 training and 200 validation images drawn from the bundled training split,
1,000 test images (the bundled test split), binarized at 127. Models, at about equal
parameter counts in three tiers:

* RBMs with 20, 100 and 500 hidden units, persistent contrastive divergence (PCD-1,
  minibatches of 20, Adam with the L2 term ``--weight-decay`` on every parameter, the
  rate decayed each epoch); with 20 hidden units ln Z is exact (2^20 hidden states
  enumerated) and the best of every ``--record-every``-th epoch on the validation images
  is kept; with 100 and 500 it is an annealed-importance-sampling estimate (``--ais-
  chains`` runs x ``--ais-steps`` temperatures, ``--ais-base``: from the data's base
  rate or from the 20-hidden RBM, exact), the model is the last epoch's (a per-epoch AIS
  is too noisy to choose by), the test NLL is quoted with the estimate's standard
  error, its ESS and whether it passes the ESS rule, and checked by a second AIS run
  with another seed;
* MPS Born machines (max bond 3, 7, 16) and 2D TTNs (3, 6, 12), two-site sweeps with
  ``fit`` defaults; every model keeps its best-validation state.

Trained models are saved in ``--out``/models and reused by a rerun with ``--reuse``
(which then only scores them). Then the restoration figure: test digits with the lower
half hidden, restored by the largest RBM's clamped block Gibbs chains
(``gibbs_conditional_sample``, approximate) and by the largest MPS's exact conditional
samples. Prints the table and writes
``rbm_mnist.json`` and ``rbm_restoration.png`` into ``--out``. One thread; ``--device
cuda`` puts the models, the data and the random draws on a GPU (the long AIS of the
500-hidden RBM in docs/results_rbm.md: the second command)::

    python benchmarks/rbm_mnist.py --out runs/rbm_mnist
    python benchmarks/rbm_mnist.py --out runs/rbm_mnist --reuse --tiers 500 --device cuda \
        --ais-chains 2000 --ais-steps 100000
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import torch

from tnborn import RBM, load
from tnborn.datasets import mnist
from tnborn.figures import known_mask
from tnborn.plotting import image_grid
from tnborn.presets import make_model

sys.path.insert(0, os.path.dirname(__file__))
from _earlier_defaults import FIXED_LR  # noqa: E402

TIERS = [(20, 3, 3), (100, 7, 6), (500, 16, 12)]  # (RBM hidden, MPS bond, TTN bond)
SHOWN = 8  # test digits in the restoration figure


def parse_args(argv=None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--epochs", type=int, default=200, help="RBM epochs")
    parser.add_argument("--lr", type=float, default=0.01, help="RBM Adam learning rate")
    parser.add_argument("--lr-decay", type=float, default=0.99)
    parser.add_argument("--weight-decay", type=float, default=1e-2,
                        help="RBM L2 term (Adam's weight_decay); 0 was the earlier recipe")
    parser.add_argument("--record-every", type=int, default=10,
                        help="epochs between validation NLLs of the exact-ln Z RBM")
    parser.add_argument("--sweeps", type=int, default=8, help="MPS and TTN sweeps")
    parser.add_argument("--ais-chains", type=int, default=100)
    parser.add_argument("--ais-steps", type=int, default=30_000)
    parser.add_argument("--ais-base", choices=("data", "rbm"), default="data",
                        help="start the AIS from the data's base rate or the 20-hidden RBM")
    parser.add_argument("--reuse", action="store_true",
                        help="load the models saved by an earlier run instead of training")
    parser.add_argument("--tiers", type=int, nargs="+", default=[t[0] for t in TIERS],
                        help="the tiers to train or score, by their RBM's hidden units "
                             "(e.g. --reuse --tiers 500 --ais-steps 100000: a longer AIS)")
    parser.add_argument("--gibbs-steps", type=int, default=2000,
                        help="clamped Gibbs steps of a restoration")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="cpu",
                        help="torch device of the models and the AIS, e.g. cuda (the "
                             "random draws then come from that device's generators)")
    parser.add_argument("--out", type=Path, default=Path("runs/rbm_mnist"))
    return parser.parse_args(argv)


def stream(args, seed: int) -> torch.Generator:
    """A generator of ``--device`` seeded with ``seed``."""
    return torch.Generator(args.device).manual_seed(seed)


def timed(draw, device) -> tuple[torch.Tensor, float]:
    """``draw()`` and its seconds (the GPU's queue waited for)."""
    start = time.perf_counter()
    out = draw()
    if torch.device(device).type == "cuda":
        torch.cuda.synchronize(device)
    return out, time.perf_counter() - start


def mnist_split(seed: int, device):
    pool = mnist(limit=1200, seed=seed)
    order = torch.randperm(len(pool), generator=torch.Generator().manual_seed(seed))
    return tuple(rows.to(device) for rows in
                 (pool[order[:1000]], pool[order[1000:]], mnist(split="test", seed=seed)))


def trained(name: str, build, fit, args) -> tuple[dict, object]:
    """The model ``name``, trained by ``fit(model) -> history`` (or reloaded with
    ``--reuse``), and its training record."""
    folder = args.out / "models"
    if args.reuse:
        return (json.loads((folder / f"{name}.json").read_text()),
                load(folder / f"{name}.pt", device=args.device))
    model = build()
    history = fit(model)
    entry = {"model": name, "params": model.num_parameters,
             "train_seconds": history[-1]["seconds"], "exact": True,
             "best_epoch": min((r for r in history if "val_nll" in r),
                               key=lambda r: r["val_nll"], default=history[-1])["step"]}
    folder.mkdir(parents=True, exist_ok=True)
    model.save(folder / f"{name}.pt")
    (folder / f"{name}.json").write_text(json.dumps(entry))
    return entry, model


def train_rbm(hidden: int, train, val, test, args, base: RBM | None) -> tuple[dict, RBM]:
    """The RBM with ``hidden`` units and its record; ``base``: the exact RBM the AIS of a
    larger one starts from (``--ais-base rbm``)."""
    def fit(model: RBM) -> list[dict]:
        # validation picks an epoch only where ln Z is exact; otherwise the last epoch
        selection = ({"val_data": val, "record_every": args.record_every}
                     if model.log_z_is_exact else {"record_every": args.epochs})
        return model.fit(train, method="pcd", lr=args.lr, lr_decay=args.lr_decay,
                         weight_decay=args.weight_decay, epochs=args.epochs, batch_size=20,
                         progress=False, **selection)

    entry, model = trained(
        f"rbm m={hidden}", lambda: RBM(784, hidden, init_scale=0.01, seed=args.seed,
                                       device=args.device), fit,
        args)
    entry["exact"] = model.log_z_is_exact
    if not model.log_z_is_exact:
        start = {"base_model": base} if args.ais_base == "rbm" else {"base_data": train}
        runs = [model.log_z("ais", chains=args.ais_chains, steps=args.ais_steps, **start,
                            generator=stream(args, args.seed + k))
                for k in (2, 1)]  # the last run is the one log_prob keeps
        entry["log_z"] = [{"value": r.value, "stderr": r.stderr, "ess": r.diagnostics["ess"],
                           "reliable": r.reliable, "base": r.diagnostics["base_rate"]}
                          for r in runs]
    entry.update(train_nll=model.nll(train), val_nll=model.nll(val))
    entry["test_nll"] = model.nll(test)
    return entry, model


def train_born(family: str, bond: int, train, val, test, args) -> tuple[dict, object]:
    entry, model = trained(
        f"{family} D={bond}",
        lambda: make_model(family, 784, image_shape=(28, 28), max_bond=bond, seed=args.seed,
                           device=args.device),
        # the fixed steps of the earlier default, with which docs/results_rbm.md was made
        lambda model: model.fit(train, sweeps=args.sweeps, val_data=val, progress=False,
                                lr=FIXED_LR[family]),
        args)
    entry.update(train_nll=model.nll(train), val_nll=model.nll(val),
                 test_nll=model.nll(test))
    return entry, model


def table(entries: list[dict]) -> str:
    lines = ["| model | params | train NLL | val NLL | test NLL | ln Z | best pass | "
             "train s (evaluation excluded) |", "|---|---:|---:|---:|---:|---|---:|---:|"]
    for e in entries:
        if e["exact"]:
            log_z = "exact"
        else:
            first, kept = e["log_z"]
            log_z = (f"AIS from {kept.get('base', 'data')} {kept['value']:.2f} +- "
                     f"{kept['stderr']:.2f} (ESS / N "
                     f"{kept['ess']:.2f}{'' if kept['reliable'] else ', UNRELIABLE'}; "
                     f"2nd run {first['value']:.2f} +- {first['stderr']:.2f}, ESS / N "
                     f"{first['ess']:.2f})")
        error = "" if e["exact"] else f" +- {e['log_z'][1]['stderr']:.2f}"
        lines.append(f"| {e['model']} | {e['params']:,} | {e['train_nll']:.2f} | "
                     f"{e['val_nll']:.2f} | {e['test_nll']:.2f}{error} | {log_z} | "
                     f"{e['best_epoch']} | {e['train_seconds']:.0f} |")
    return "\n".join(lines)


def restoration_figure(rbm, mps, test, path: Path, args) -> dict:
    """Rows: originals, lower half hidden, two clamped-Gibbs RBM restorations, two exact
    MPS conditional samples; returns the seconds each sampler took."""
    digits = test[:SHOWN]
    known = known_mask((28, 28), "lower").to(digits.device)
    by_rbm, rbm_seconds = timed(lambda: rbm.gibbs_conditional_sample(
        digits.repeat(2, 1), known, steps=args.gibbs_steps, generator=stream(args, 5)),
        args.device)
    by_mps, mps_seconds = timed(lambda: mps.conditional_sample(
        digits.repeat(2, 1), known, generator=stream(args, 6)), args.device)
    hidden = torch.where(known, digits.double(), 0.5)
    rows = torch.cat([digits.double(), hidden, by_rbm.double(), by_mps.double()]).cpu()
    labels = ["original", "lower half hidden", "RBM Gibbs 1", "RBM Gibbs 2",
              "MPS exact 1", "MPS exact 2"]
    image_grid(rows, (28, 28), path, ncols=SHOWN, row_labels=labels,
               title=f"Restoration: RBM (clamped Gibbs, {args.gibbs_steps} steps) "
                     "and MPS (exact conditional)")
    return {"rbm_gibbs_seconds": rbm_seconds, "mps_exact_seconds": mps_seconds}


def main(argv=None) -> dict:
    args = parse_args(argv)
    torch.set_num_threads(1)
    args.out.mkdir(parents=True, exist_ok=True)
    data = mnist_split(args.seed, args.device)
    entries, models = [], {}
    base_name = f"rbm m={TIERS[0][0]}"
    for hidden, mps_bond, ttn_bond in (t for t in TIERS if t[0] in args.tiers):
        if base_name not in models and hidden != TIERS[0][0]:
            models[base_name] = load(args.out / "models" / f"{base_name}.pt",
                                     device=args.device)
        base = models.get(base_name)
        for name, build in ((f"rbm m={hidden}",
                             lambda: train_rbm(hidden, *data, args, base)),
                            (f"mps D={mps_bond}",
                             lambda: train_born("mps", mps_bond, *data, args)),
                            (f"ttn D={ttn_bond}",
                             lambda: train_born("ttn", ttn_bond, *data, args))):
            entry, models[name] = build()
            entries.append(entry)
            print(table(entries[-1:]).splitlines()[-1], flush=True)
    result = {"entries": entries}
    if "rbm m=500" in models and "mps D=16" in models:
        result.update(restoration_figure(models["rbm m=500"], models["mps D=16"], data[2],
                                         args.out / "rbm_restoration.png", args))
        print(f"restoration: RBM clamped Gibbs {result['rbm_gibbs_seconds']:.1f} s, MPS "
              f"exact {result['mps_exact_seconds']:.1f} s for {2 * SHOWN} images")
    (args.out / "rbm_mnist.json").write_text(json.dumps(result, indent=1))
    print(table(entries))
    return result


if __name__ == "__main__":
    main()
