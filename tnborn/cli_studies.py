"""The study subcommands of `tnborn` that learn physics back from data: ``phases`` (the
Ising phase scan of :func:`tnborn.physics.phase_scan`) and ``action`` (learned and
predicted double-well actions, :mod:`tnborn.action_workflow`). Each writes
``results.json`` and a figure into ``--out`` and prints a summary."""

from __future__ import annotations

import json
from pathlib import Path

from .catalog import ACTION_DEFAULTS, PHASE_DEFAULTS
from .cli import _positive_float, _positive_floats, _positive_int



def _positive_ints(text: str) -> list[int]:
    """``N1,N2,...``: integers >= 1."""
    return [_positive_int(part) for part in text.split(",")]


def add_study_commands(commands, parents) -> None:
    """Add ``phases`` and ``action`` to the subparsers ``commands``."""
    phases = commands.add_parser(
        "phases", parents=parents, help="Ising phase structure read from learned models",
        description="Fit a Z2-symmetric MADE (or HAN) to Wolff samples of the periodic "
                    "L x L Ising model at each temperature; read back the nearest- and "
                    "next-nearest couplings (H = -T ln p), <|m|> and the Binder cumulant "
                    "from model samples; T_c from the Binder crossing of the first two sizes and "
                    "from an M_s(T) fit. Writes results.json, phases.png and (while "
                    "running) checkpoint.json into --out; a rerun resumes from it.")
    phases.add_argument("--sizes", type=_positive_ints, metavar="L1,L2",
                        default=list(PHASE_DEFAULTS["sizes"]),
                        help="lattice sides (default: 8,16)")
    phases.add_argument("--temperatures", type=_positive_floats, metavar="T1,T2,..",
                        default=list(PHASE_DEFAULTS["temperatures"]),
                        help="increasing temperatures (default: 1.6,1.8,..,3.2)")
    phases.add_argument("--samples", type=_positive_int, metavar="N",
                        default=PHASE_DEFAULTS["samples"],
                        help="Wolff samples per point, 10%% held out (default: 20000)")
    phases.add_argument("--model-samples", type=_positive_int, metavar="N",
                        default=PHASE_DEFAULTS["model_samples"],
                        help="model samples per point (default: 20000)")
    for option, key, kind, help_text in (
            ("--epochs", "epochs", _positive_int, "epochs per fit"),
            ("--copies", "copies", _positive_int, "random translations of each sample "
                                                  "per epoch"),
            ("--lr", "lr", _positive_float, "initial Adam learning rate")):
        phases.add_argument(option, type=kind, default=PHASE_DEFAULTS[key],
                            metavar="N" if kind is _positive_int else "LR",
                            help=f"{help_text} (default: {PHASE_DEFAULTS[key]:g})")
    phases.add_argument("--model", choices=PHASE_DEFAULTS["models"],
                        default=PHASE_DEFAULTS["model"],
                        help="the model of every point: a MADE of hidden width max(128, "
                             "2 L^2) or a HAN of hidden width 64 (default: made)")
    phases.add_argument("--out", default="runs/phases", metavar="DIR",
                        help="output folder (default: runs/phases)")
    phases.set_defaults(handler=_phases)

    action = commands.add_parser(
        "action", parents=parents, help="double-well actions learned and predicted",
        description="Fit a Gaussian-mixture continuous MADE to Monte Carlo paths of the "
                    "double well at two inverse temperatures, compare its action -ln p "
                    "with the true one on held-out paths, predict the action at a third "
                    "beta by S = K / beta + beta U, and compare Monte Carlo with the "
                    "predicted action against direct Monte Carlo. Writes results.json "
                    "and actions.png into --out.")
    action.add_argument("--n-tau", type=_positive_int, default=ACTION_DEFAULTS["n_tau"],
                        metavar="N", help=f"time slices (default: {ACTION_DEFAULTS['n_tau']})")
    action.add_argument("--betas", type=_positive_floats, metavar="B1,B2",
                        default=list(ACTION_DEFAULTS["betas"]),
                        help="the two betas learned from (default: 20,40)")
    action.add_argument("--predict", type=_positive_float, default=ACTION_DEFAULTS["predict"],
                        metavar="B3", help="the beta predicted (default: 30)")
    for option, key, help_text in (
            ("--paths", "paths", "training paths per beta"),
            ("--epochs", "epochs", "epochs per fit"),
            ("--copies", "copies", "symmetry images of each path per epoch"),
            ("--hidden", "hidden", "MADE hidden width"),
            ("--mc-sweeps", "mc_sweeps", "measured Monte Carlo sweeps at the predicted beta")):
        action.add_argument(option, type=_positive_int, default=ACTION_DEFAULTS[key],
                            metavar="N", help=f"{help_text} (default: {ACTION_DEFAULTS[key]})")
    action.add_argument("--out", default="runs/action", metavar="DIR",
                        help="output folder (default: runs/action)")
    action.set_defaults(handler=_action)


def _phases(args) -> None:
    """`tnborn phases`."""
    from .phase_workflow import phase_figure, phase_plain, phase_summary, phase_table
    from .physics import phase_scan
    from .physics.phase_scan import SCAN_MODELS

    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    result = phase_scan(args.temperatures, args.sizes, num=args.samples,
                        model_samples=args.model_samples, epochs=args.epochs,
                        copies=args.copies, lr=args.lr, seed=args.seed,
                        model=SCAN_MODELS[args.model], progress=not args.no_progress,
                        checkpoint=out / "checkpoint.json")
    print(phase_table(result))
    print("\n".join(phase_summary(result)))
    (out / "results.json").write_text(json.dumps(phase_plain(result), indent=1))
    figure = phase_figure(result, out / "phases.png")
    print(f"wrote results.json and {figure.name} to {out}")


def _action(args) -> None:
    """`tnborn action`."""
    from .action_workflow import action_figure, action_study, action_summary

    if len(args.betas) != 2:
        raise ValueError(f"--betas takes two values, got {len(args.betas)}")
    result = action_study(n_tau=args.n_tau, betas=args.betas, predict=args.predict,
                          paths=args.paths, epochs=args.epochs, copies=args.copies,
                          hidden=args.hidden, mc_sweeps=args.mc_sweeps, seed=args.seed,
                          progress=not args.no_progress)
    print("\n".join(action_summary(result)))
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(result, indent=1))
    figure = action_figure(result, out / "actions.png")
    print(f"wrote results.json and {figure.name} to {out}")
