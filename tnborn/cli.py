"""The `tnborn` command: train, sample, inpaint, compare, ising, xy, phases, action and
demo.

Every subcommand has ``--help``. Budgets (``--budget``) are sweeps/epochs as a bare
integer (``10``) or training time with a unit (``60s``, ``2m``, ``1.5h``); see
:mod:`tnborn.budget`. User errors (bad options, missing or corrupt files, unknown
models or data sets, a device that is not available) print one line
``tnborn: error: ...`` to stderr and exit with code 2 (bad command line) or 1 (anything
else); ``main`` never shows a traceback for them. ``tnborn train`` keeps a checkpoint of
the run; after Ctrl-C (exit code 130) ``--resume`` continues it.

torch and matplotlib are imported by the commands, not by this module, so ``--help``
answers at once.
"""

from __future__ import annotations

import argparse
import os
import sys
from pathlib import Path

from . import __version__
from .budget import parse_budget, parse_interval
from .catalog import (BOND_MODELS, COMPARE_DEFAULT_MODELS, DATA_NAMES, DEFAULT_IMAGES,
                      DEFAULT_STEPS, HIDE_CHOICES, ISING_DATA_BETA, ISING_DEFAULTS, ISING_LR,
                      ISING_MODELS, MODEL_DEFAULTS, MODEL_NAMES, SIZE_KNOBS, SMALL_SITES,
                      XY_DEFAULTS, XY_MODELS, check_model_name)

USER_ERRORS = (ValueError, TypeError, OSError, ImportError, FloatingPointError)
#: the environment of a rank started by torchrun (init_method env://)
LAUNCHER_VARIABLES = ("RANK", "WORLD_SIZE", "MASTER_ADDR", "MASTER_PORT")


class _Parser(argparse.ArgumentParser):
    """An ArgumentParser whose errors are one line: ``tnborn: error: ...``."""

    def error(self, message):
        self.exit(2, f"tnborn: error: {message} (see '{self.prog} --help')\n")


# ------------------------------------------------------------------ option types
def _positive_int(text: str) -> int:
    """An integer >= 1."""
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a positive integer, got {text!r}")
    return value


def _non_negative_int(text: str) -> int:
    """An integer >= 0."""
    try:
        value = int(text)
    except ValueError:
        value = -1
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be an integer >= 0, got {text!r}")
    return value


def _positive_float(text: str) -> float:
    """A finite number > 0."""
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a finite number > 0, got {text!r}")
    return value


def _budget(text: str):
    """A :class:`tnborn.training.Budget` ("10", "60s", "2m", ...)."""
    try:
        return parse_budget(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _shape(text: str) -> tuple[int, int]:
    """An image shape "HxW" as ``(H, W)``."""
    parts = text.lower().split("x")
    try:
        shape = tuple(int(p) for p in parts)
    except ValueError:
        shape = ()
    if len(shape) != 2 or min(shape) < 1:
        raise argparse.ArgumentTypeError(f"must be HxW with positive integers, e.g. 28x28, "
                                         f"got {text!r}")
    return shape


def _interval(text: str):
    """A checkpoint interval: sweeps/epochs ("1") or a time ("60s")."""
    try:
        parse_interval(text, "--checkpoint-every")
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return int(text) if text.strip().isdigit() else text


def _model_list(text: str) -> list[str]:
    """Comma-separated preset model names."""
    names = [name.strip() for name in text.split(",") if name.strip()]
    if not names:
        raise argparse.ArgumentTypeError("give at least one model, e.g. mps,made")
    try:
        return [check_model_name(name) for name in names]
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _size_sweep(text: str) -> tuple[str, list[int]]:
    """``NAME=V1,V2,...``: values of one preset family's size knob."""
    name, sep, values = text.partition("=")
    name = name.strip()
    if not sep or name not in SIZE_KNOBS:
        raise argparse.ArgumentTypeError(
            f"expected NAME=V1,V2,... with NAME one of {', '.join(SIZE_KNOBS)}, got {text!r}")
    return name, [_positive_int(v) for v in values.split(",")]


def _positive_floats(text: str) -> list[float]:
    """``T1,T2,...``: finite numbers > 0."""
    return [_positive_float(part) for part in text.split(",")]


def _fraction(text: str) -> float:
    """A number strictly between 0 and 1."""
    value = _positive_float(text)
    if value >= 1:
        raise argparse.ArgumentTypeError(f"expected a fraction in (0, 1), got {text!r}")
    return value


def _bond_defaults() -> str:
    """The preset bond dimensions, for the help text."""
    return "; ".join(f"{name} {MODEL_DEFAULTS[name][0]['max_bond']} up to {SMALL_SITES} "
                     f"sites, else {MODEL_DEFAULTS[name][1]['max_bond']}"
                     for name in BOND_MODELS)


def _image_defaults(split: int) -> str:
    """The preset image counts of the train (0) or test (1) split, for the help text."""
    sizes = [f"{name} {counts[split]}" for name, counts in DEFAULT_IMAGES.items()
             if counts[split] is not None]
    return "all" + (f"; {', '.join(sizes)}" if sizes else "")


# ------------------------------------------------------------------- commands
def _print_training(summary: dict) -> None:
    """Two lines about a :func:`train_run` summary."""
    unit = {"mps": "sweeps", "ttn": "sweeps"}.get(summary["model"], "epochs")
    steps = f"{summary['steps']} {unit}" if summary["budget"] != "closed form" \
        else "closed-form fit"
    print(f"trained {summary['model']} ({summary['class']}) on {summary['data']} "
          f"({summary['train_images']} train / {summary['test_images']} test rows): "
          f"{steps} in {summary['train_seconds']:.1f} s on {summary['device']}")
    print(f"{summary['parameters']:,} parameters; NLL train {summary['train_nll']:.3f}, "
          f"test {summary['test_nll']:.3f} nats")


def _train(args) -> None:
    """`tnborn train` (data-parallel with --nproc N or under torchrun)."""
    from .workflows import CHECKPOINT_NAME

    try:
        summary = _on_ranks(_train_once, args)
    except KeyboardInterrupt:
        checkpoint = _train_out(args) / CHECKPOINT_NAME
        if checkpoint.is_file():
            print(f"tnborn: interrupted; the checkpoint of the last finished sweep/epoch is "
                  f"{checkpoint}: continue with the same command and --resume {checkpoint}",
                  file=sys.stderr)
        raise
    if summary is None:  # a rank other than 0 under torchrun
        return
    _print_training(summary)
    print("wrote " + ", ".join(summary["files"].values()))


def _train_out(args) -> Path:
    label = args.data if args.data in DATA_NAMES else Path(args.data).stem
    return Path(args.out or f"runs/{args.model}-{label}")


def _train_once(args, distributed: bool) -> dict:
    from .workflows import train_run

    budget = args.budget if args.budget is not None else args.steps
    return train_run(args.model, args.data, _train_out(args), budget=budget,
                     max_bond=args.max_bond, images=args.images,
                     test_images=args.test_images, test_data=args.test_data,
                     threshold=args.threshold, lr=args.lr, batch_size=args.batch_size,
                     seed=args.seed, progress=not args.no_progress, device=args.device,
                     resume=args.resume, checkpoint_every=args.checkpoint_every,
                     distributed=distributed)


def _on_ranks(run, args):
    """``run(args, distributed)`` in one process, on ``--nproc`` local ranks (rank 0's
    result) or as one rank of torchrun's group (rank 0's result; None on the others)."""
    # torchrun (or any env:// launcher) sets these, also for a group of one process
    launched = all(key in os.environ for key in LAUNCHER_VARIABLES)
    if launched and args.nproc > 1:
        raise ValueError("under torchrun the launcher makes the processes: leave out --nproc")
    if args.nproc > 1:
        from .launch import run_local

        return run_local(_in_group, args.nproc, run, args, timeout=7 * 24 * 3600,
                         threads=args.threads or 1)[0]
    if not launched:
        return run(args, False)
    import torch.distributed as dist

    backend = "nccl" if (args.device or "cpu").startswith("cuda") else "gloo"
    if backend == "nccl":  # one GPU per rank of this machine
        import torch

        torch.cuda.set_device(int(os.environ.get("LOCAL_RANK", "0")))
        args.device = f"cuda:{torch.cuda.current_device()}"
    dist.init_process_group(backend, init_method="env://")
    try:
        result = run(args, True)
        return result if dist.get_rank() == 0 else None
    finally:
        dist.destroy_process_group()


def _in_group(run, args):
    """One rank of ``--nproc N`` (run_local has set up the group)."""
    return run(args, True)


def _sample(args) -> None:
    """`tnborn sample`."""
    from .workflows import sample_run

    png = args.png or Path(args.model_file).with_name("samples.png")
    result = sample_run(args.model_file, png, num=args.num, seed=args.seed, shape=args.shape,
                        device=args.device)
    height, width = result["shape"]
    print(f"wrote {result['num']} samples of {result['class']} ({height}x{width}) "
          f"to {result['png']}")


def _inpaint(args) -> None:
    """`tnborn inpaint`."""
    from .workflows import inpaint_run

    png = args.png or Path(args.model_file).with_name("inpainting.png")
    result = inpaint_run(args.model_file, args.data, png, rows=args.rows, hide=args.hide,
                         restorations=args.restorations, seed=args.seed, device=args.device)
    print(f"wrote {result['rows']} {args.data} test images with the {result['hide']} half "
          f"restored by {result['class']} to {result['png']}")
    print(_hidden_nll_line(result))


def _hidden_nll_line(result: dict) -> str:
    """The inpainting score of `inpaint_run` beside its independent-sites baseline."""
    return (f"-ln p(hidden half | known half) = {result['hidden_nll']:.2f} nats per image "
            f"over {result['test_size']} test images (independent-sites baseline: "
            f"{result['baseline_hidden_nll']:.2f})")


def _compare(args) -> None:
    """`tnborn compare` (data-parallel with --nproc N or under torchrun)."""
    from .report import markdown_report

    found = _on_ranks(_compare_once, args)
    if found is None:  # a rank other than 0 under torchrun
        return
    name, results = found
    print(f"data: {name}\n")
    print(markdown_report(results))
    print(f"\nwrote {len(results['files'])} files to {args.out}")


def _compare_once(args, distributed: bool) -> tuple[str, dict]:
    from .compare import compare
    from .presets import load_data

    dataset = load_data(args.data, images=args.images, test_images=args.test_images,
                        seed=args.seed, beta=args.beta)
    return dataset.name, compare(dataset.train, dataset.test, args.models, budget=args.budget,
                      seeds=range(args.seed, args.seed + args.seeds), val_data=dataset.val,
                      val_fraction=args.val_fraction, patience=args.patience,
                      sizes=dict(args.sizes) if args.sizes else None,
                      reference=dataset.reference, clock=args.clock, out=args.out,
                      image_shape=dataset.image_shape, progress=not args.no_progress,
                      max_bond=args.max_bond, device=args.device,
                      mi_samples=args.mi_samples or None, mi_inner=args.mi_inner,
                      mi_max_inner=args.mi_max_inner, ais_steps=args.ais_steps,
                      distributed=distributed)


def _ising(args) -> None:
    """`tnborn ising`."""
    from .estimate import format_with_error

    r = _on_ranks(_ising_once, args)
    if r is None:  # a rank other than 0 under torchrun
        return
    symmetry = (", Z2-symmetric" if r["z2"] else "") + \
        (", exact heat-bath last level" if r["exact_last_level"] else "")
    print(f"VAN {r['model']}{symmetry} on the {r['L']}x{r['L']} periodic Ising model at beta "
          f"{r['beta']:g}: {r['steps']} steps in {r['seconds']:.1f} s, final training beta "
          f"{r['beta_final']:.4g}, ESS {r['ess']:.3f} ({r['ess_count']:.1f} samples)")
    variational = format_with_error(r["F_variational"], r["F_variational_err"],
                                    r["warnings_variational"], brief=True)
    importance = format_with_error(r["F_importance"], r["F_importance_err"],
                                   r["warnings_importance"], brief=True)
    bias = "" if r["warnings_importance"] else f" (bias {r['F_importance_bias']:+.1e})"
    print(f"F per site, variational: {variational}   error {r['error_variational']:+.2e}")
    print(f"F per site, importance:  {importance}{bias}   error {r['error_importance']:+.2e}")
    print(f"F per site, exact:       {r['F_exact']:.6f}   (Kaufman, finite periodic lattice)")
    for warning in r["warnings"]:
        print(f"warning: unreliable estimate: {warning}")


def _ising_once(args, distributed: bool) -> dict:
    from .workflows import ising_run

    return ising_run(args.model, L=args.L, beta=args.beta, steps=args.steps,
                     batch_size=args.batch_size, lr=args.lr, z2=args.z2,
                     samples=args.samples, seed=args.seed, progress=not args.no_progress,
                     device=args.device, exact_last_level=args.exact_last_level,
                     distributed=distributed)


def _xy(args) -> None:
    """`tnborn xy`: prints each temperature as it finishes, then writes the figures."""
    import json

    from .xy_workflow import XY_TABLE_HEADER, xy_figures, xy_point, xy_table_row

    print(XY_TABLE_HEADER)
    points = []
    for T in args.temperatures:
        r = xy_point(args.L, T, model=args.model, steps=args.steps,
                     batch_size=args.batch_size, lr=args.lr, samples=args.samples,
                     mc_sweeps=args.mc_sweeps, seed=args.seed,
                     settle_steps=args.settle_steps, progress=not args.no_progress)
        points.append(r)
        print(xy_table_row(r), flush=True)
        for warning in r["warnings"]:
            print(f"warning (T = {T:g}): unreliable importance sampling: {warning}")
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    (out / "results.json").write_text(json.dumps(points, indent=1))
    files = xy_figures(points, out)
    print(f"wrote results.json, {', '.join(Path(p).name for p in files.values())} to {out}")


def _demo(args) -> None:
    """`tnborn demo`: prints each stage as it finishes."""
    from .demo import stages

    for stage in stages(args.out, progress=not args.no_progress, seed=args.seed):
        print(f"== {stage['title']} ==")
        _print_training(stage["train"])
        if "valid_fraction" in stage:
            print(f"ln 30 = {stage['ln_patterns']:.4f}; valid samples: "
                  f"{stage['valid_fraction']:.3f}")
        if "inpaint" in stage:
            print(f"inpainting: {_hidden_nll_line(stage['inpaint'])}")
        print(f"figures in {stage['folder']}/")


# --------------------------------------------------------------------- parser
def build_parser() -> argparse.ArgumentParser:
    """The argparse parser of the `tnborn` command."""
    parser = _Parser(prog="tnborn", description="Tensor-network Born machines and "
                     "autoregressive networks: train, sample, inpaint, compare.",
                     epilog="Budgets: a bare integer is sweeps (Born machines) or epochs "
                     "(networks), e.g. 10; a number with a unit s, m or h is training "
                     "time, e.g. 60s, 2m, 1.5h. Run 'tnborn COMMAND --help' for the "
                     "options of a command.")
    parser.add_argument("--version", action="version", version=f"tnborn {__version__}")
    common = _Parser(add_help=False)
    common.add_argument("--seed", type=_non_negative_int, default=0, metavar="S",
                        help="seed of data subsets, models and samplers (default: 0)")
    common.add_argument("--threads", type=_positive_int, metavar="N",
                        help="torch threads (default: torch's choice)")
    common.add_argument("--device", metavar="DEV",
                        help="torch device of the models, e.g. cpu, cuda, cuda:1 "
                             "(default: cpu)")
    training = _Parser(add_help=False)
    training.add_argument("--no-progress", action="store_true", help="hide progress bars")
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    train = commands.add_parser(
        "train", parents=[common, training], help="train a model on a data set",
        description="Train a model; writes model.pt, history.json, nll.png (and "
                    "entanglement.png for Born machines) into --out.")
    train.add_argument("--model", required=True, choices=MODEL_NAMES)
    train.add_argument("--data", required=True, metavar="DATA",
                       help=f"a data set ({', '.join(DATA_NAMES)}) or a file of your own: "
                            ".npy / .npz array (N, n_sites) or (N, H, W) of whole numbers "
                            ">= 0, or an IDX file (binarized at > 127)")
    train.add_argument("--test-data", metavar="FILE",
                       help="test rows for a data file (default: 10%% of its rows, "
                            "seeded)")
    train.add_argument("--threshold", type=float, metavar="T",
                       help="binarize a data file at value > T (IDX files: 127 unless "
                            "given)")
    train.add_argument("--max-bond", type=_positive_int, metavar="D",
                       help=f"largest bond dimension ({', '.join(BOND_MODELS)}; default: "
                            f"{_bond_defaults()})")
    budget = train.add_mutually_exclusive_group()
    budget.add_argument("--sweeps", "--epochs", dest="steps", type=_positive_int, metavar="N",
                        help="sweeps (mps, ttn) or epochs (networks); default: "
                             + ", ".join(f"{name} {steps}" for name, steps in
                                         DEFAULT_STEPS.items() if steps is not None))
    budget.add_argument("--budget", type=_budget, metavar="B",
                        help="sweeps/epochs (10) or training time (60s, 2m, 1.5h)")
    train.add_argument("--images", type=_positive_int, metavar="N",
                       help=f"training images (default: {_image_defaults(0)})")
    train.add_argument("--test-images", type=_positive_int, metavar="N",
                       help=f"test images (default: {_image_defaults(1)})")
    train.add_argument("--lr", type=_positive_float, metavar="LR",
                       help="learning rate (default: the model's fit default)")
    train.add_argument("--batch-size", type=_positive_int, metavar="N",
                       help="minibatch size (default: the model's fit default)")
    train.add_argument("--out", metavar="DIR", help="output folder (default: runs/MODEL-DATA)")
    train.add_argument("--checkpoint-every", type=_interval, default=1, metavar="K",
                       help="rewrite DIR/checkpoint.pt every K sweeps/epochs or after a "
                            "time such as 60s (default: 1)")
    train.add_argument("--nproc", type=_positive_int, default=1, metavar="N",
                       help="train data-parallel on N local processes (gloo on "
                            "127.0.0.1; each rank keeps every N-th training row; one "
                            "torch thread each unless --threads). Under torchrun its "
                            "ranks are used instead (default: 1)")
    train.add_argument("--resume", metavar="CHECKPOINT",
                       help="continue the run of this checkpoint (same model, data and "
                            "options; a larger budget trains further)")
    train.set_defaults(handler=_train)

    sample = commands.add_parser(
        "sample", parents=[common], help="draw samples of a saved model as an image grid",
        description="Draw samples of a saved model and write them as a PNG grid. The "
                    "image shape is the model's grid, or 28x28, 8x8, 4x4 for 784, 64, 16 "
                    "sites, else one row.")
    sample.add_argument("model_file", metavar="MODEL", help="a file written by model.save")
    sample.add_argument("-n", "--num", type=_positive_int, default=64, metavar="N",
                        help="number of samples (default: 64)")
    sample.add_argument("--png", help="output PNG (default: samples.png beside MODEL)")
    sample.add_argument("--shape", type=_shape, metavar="HxW", help="image shape HxW, e.g. 28x28")
    sample.set_defaults(handler=_sample)

    inpaint = commands.add_parser(
        "inpaint", parents=[common], help="restore hidden halves of test images",
        description="Hide half of each test image and restore it with "
                    "model.conditional_sample. Autoregressive networks can only restore "
                    "what comes last in their order: use --hide lower for them.")
    inpaint.add_argument("model_file", metavar="MODEL", help="a file written by model.save")
    inpaint.add_argument("--data", required=True, choices=DATA_NAMES)
    inpaint.add_argument("--png", help="output PNG (default: inpainting.png beside MODEL)")
    inpaint.add_argument("--rows", type=_positive_int, default=8, metavar="N",
                         help="test images shown (default: 8)")
    inpaint.add_argument("--hide", choices=HIDE_CHOICES, default="lower",
                         help="half to hide and restore (default: lower)")
    inpaint.add_argument("--restorations", type=_positive_int, default=3, metavar="N",
                         help="restorations per image (default: 3)")
    inpaint.set_defaults(handler=_inpaint)

    comparison = commands.add_parser(
        "compare", parents=[common, training], help="train several models, compare them",
        description="Train several models on the same data under the same budget; writes "
                    "results.json, results.md and PNGs into --out and prints the table.")
    comparison.add_argument("--data", required=True, choices=DATA_NAMES)
    comparison.add_argument("--models", type=_model_list,
                            default=list(COMPARE_DEFAULT_MODELS), metavar="LIST",
                            help=f"comma-separated, of {','.join(MODEL_NAMES)} (default: "
                                 f"{','.join(COMPARE_DEFAULT_MODELS)})")
    comparison.add_argument("--budget", type=_budget, default=parse_budget("60s"), metavar="B",
                            help="per model: sweeps/epochs (10) or time (60s, 2m; "
                                 "default: 60s)")
    comparison.add_argument("--images", type=_positive_int, metavar="N",
                            help=f"training images (default: {_image_defaults(0)})")
    comparison.add_argument("--test-images", type=_positive_int, metavar="N",
                            help=f"test images (default: {_image_defaults(1)})")
    comparison.add_argument("--max-bond", type=_positive_int, metavar="D",
                            help="bond dimension of mps and ttn (default: presets)")
    comparison.add_argument("--mi-samples", type=_non_negative_int, default=300, metavar="N",
                            help="samples per mutual-information estimate, 0: no MI "
                                 "(default: 300)")
    comparison.add_argument("--mi-inner", type=_positive_int, default=32, metavar="N",
                            help="inner draws per sample for the MI of autoregressive "
                                 "nets (default: 32)")
    comparison.add_argument("--seeds", type=_positive_int, default=1, metavar="N",
                            help="train each model N times, with seeds S .. S+N-1 "
                                 "(S: --seed); the table shows mean +- std (default: 1)")
    comparison.add_argument("--val-fraction", type=_fraction, default=0.1, metavar="F",
                            help="fraction of the training data held out for validation "
                                 "and model selection (default: 0.1; bas validates on "
                                 "its 30 patterns)")
    comparison.add_argument("--patience", type=_positive_int, metavar="N",
                            help="stop a run after N sweeps/epochs without a new best "
                                 "validation NLL (default: train the whole budget)")
    comparison.add_argument("--sizes", type=_size_sweep, action="append", metavar="M=V,..",
                            help="sweep a size knob: mps=4,8,16 (max_bond), ttn=..., "
                                 "made=64,128 (hidden), pixelcnn=8,16 (channels); "
                                 "repeatable")
    comparison.add_argument("--clock", choices=("cpu", "wall"),
                            help="what a time budget counts (default: cpu time on the "
                                 "CPU, wall-clock on a GPU)")
    comparison.add_argument("--beta", type=_positive_float, metavar="B",
                            help=f"inverse temperature of --data ising (default: "
                                 f"{ISING_DATA_BETA})")
    comparison.add_argument("--mi-max-inner", type=_positive_int, default=128, metavar="N",
                            help="raise the inner draws (x4) up to N while an MI estimate "
                                 "is unreliable (default: 128)")
    comparison.add_argument("--ais-steps", type=_positive_int, default=10_000, metavar="N",
                            help="temperatures of the AIS run (100 chains) that estimates "
                                 "ln Z of a model whose ln Z is not exact (an RBM with "
                                 "both layers over 24 units; default: 10000)")
    comparison.add_argument("--out", default="runs/compare", metavar="DIR",
                            help="output folder (default: runs/compare)")
    comparison.add_argument("--nproc", type=_positive_int, default=1, metavar="N",
                            help="train each model data-parallel on N local processes "
                                 "(gloo on 127.0.0.1; each rank keeps every N-th row; "
                                 "closed-form fits on all rows; one torch thread each "
                                 "unless --threads). Under torchrun its ranks are used "
                                 "instead (default: 1)")
    comparison.set_defaults(handler=_compare)

    ising = commands.add_parser(
        "ising", parents=[common, training],
        help="variational free energy of the 2D Ising model",
        description="Train a variational autoregressive network (VAN) on the periodic "
                    "L x L Ising model and compare F per site with Kaufman's exact value.")
    ising.add_argument("--L", type=_positive_int, default=ISING_DEFAULTS["L"], metavar="L",
                       help=f"lattice side (default: {ISING_DEFAULTS['L']})")
    ising.add_argument("--beta", type=_positive_float, default=ISING_DEFAULTS["beta"],
                       metavar="BETA",
                       help=f"inverse temperature (default: {ISING_DEFAULTS['beta']})")
    ising.add_argument("--model", choices=ISING_MODELS, default=ISING_DEFAULTS["model"],
                       help=f"network (default: {ISING_DEFAULTS['model']}; han needs L a "
                            "power of 2 >= 4)")
    ising.add_argument("--steps", type=_positive_int, default=ISING_DEFAULTS["steps"],
                       metavar="N", help=f"training steps (default: {ISING_DEFAULTS['steps']}:"
                                         " the annealed beta needs about 700 to arrive)")
    ising.add_argument("--batch-size", type=_positive_int, default=ISING_DEFAULTS["batch_size"],
                       metavar="N",
                       help=f"samples per step (default: {ISING_DEFAULTS['batch_size']})")
    ising.add_argument("--lr", type=_positive_float, metavar="LR",
                       help="learning rate (default: "
                            + ", ".join(f"{name} {lr:g}" for name, lr in ISING_LR.items()) + ")")
    ising.add_argument("--z2", action="store_true", help="make the network Z2-symmetric")
    ising.add_argument("--exact-last-level", action="store_true",
                       help="han: make its last level (a quarter of the spins) the exact "
                            "heat bath of this Ising model (default: learned)")
    ising.add_argument("--samples", type=_positive_int, default=ISING_DEFAULTS["samples"],
                       metavar="N", help="samples of the free-energy estimate (default: "
                                         f"{ISING_DEFAULTS['samples']})")
    ising.add_argument("--nproc", type=_positive_int, default=1, metavar="N",
                       help="train on N local processes (gloo; batch and samples split "
                            "among them; the batch size must be a multiple of N). Under "
                            "torchrun its ranks are used instead (default: 1)")
    ising.set_defaults(handler=_ising)

    xy = commands.add_parser(
        "xy", parents=[common, training],
        help="continuous autoregressive networks on the 2D XY model",
        description="Train a continuous autoregressive network (CAN) variationally on the "
                    "periodic L x L XY model at each temperature and compare F, E, the "
                    "vortex density and the helicity modulus per site (variational and "
                    "importance-sampled) with a Monte Carlo reference; writes "
                    "results.json, xy.png and fields.png into --out.")
    xy.add_argument("--L", type=_positive_int, default=XY_DEFAULTS["L"], metavar="L",
                    help=f"lattice side (default: {XY_DEFAULTS['L']})")
    xy.add_argument("--temperatures", type=_positive_floats,
                    default=list(XY_DEFAULTS["temperatures"]), metavar="T1,T2,..",
                    help="temperatures (default: "
                         f"{','.join(f'{t:g}' for t in XY_DEFAULTS['temperatures'])})")
    xy.add_argument("--model", choices=XY_MODELS, default=XY_DEFAULTS["model"],
                    help=f"network (default: {XY_DEFAULTS['model']})")
    for option, key, kind, help_text in (
            ("--steps", "steps", _positive_int, "training steps per temperature"),
            ("--batch-size", "batch_size", _positive_int, "samples per step"),
            ("--lr", "lr", _positive_float, "Adam learning rate"),
            ("--samples", "samples", _positive_int, "samples of the estimates"),
            ("--mc-sweeps", "mc_sweeps", _positive_int, "measured Monte Carlo sweeps")):
        xy.add_argument(option, type=kind, default=XY_DEFAULTS[key], metavar="N",
                        help=f"{help_text} (default: {XY_DEFAULTS[key]:g})")
    xy.add_argument("--settle-steps", type=_non_negative_int, default=None, metavar="N",
                    help="steps at the target beta (lr / 10) after the annealed ones "
                         "(default: half of --steps)")
    xy.add_argument("--out", default="runs/xy", metavar="DIR",
                    help="output folder (default: runs/xy)")
    xy.set_defaults(handler=_xy)

    from .cli_studies import add_study_commands
    add_study_commands(commands, [common, training])

    demo = commands.add_parser(
        "demo", parents=[common, training], help="short demonstration runs with figures",
        description="Bars-and-stripes and MNIST with MPS and TTN Born machines: samples, "
                    "inpainting, NLL and entanglement figures (about a minute).")
    demo.add_argument("--out", default="demo_output", metavar="DIR",
                      help="output folder (default: demo_output)")
    demo.set_defaults(handler=_demo)
    return parser


def _set_up(args) -> None:
    """Threads and device of the run (torch is imported here, after parsing)."""
    import torch

    from .backend import resolve

    if args.threads is not None:
        torch.set_num_threads(args.threads)
    if getattr(args, "device", None) is not None:
        args.device = str(resolve(None, args.device)[1])


def main(argv=None) -> int:
    """Run the `tnborn` command with ``argv`` (default: ``sys.argv[1:]``); returns 0.

    Raises SystemExit with code 2 for a bad command line, 1 for other user errors (after
    printing ``tnborn: error: ...``) and 130 when interrupted.
    """
    args = build_parser().parse_args(argv)
    try:
        _set_up(args)
        args.handler(args)
    except USER_ERRORS as exc:
        message = " ".join(str(exc).split()) or type(exc).__name__
        print(f"tnborn: error: {message}", file=sys.stderr)
        raise SystemExit(1) from None
    except KeyboardInterrupt:
        print("tnborn: interrupted", file=sys.stderr)
        raise SystemExit(130) from None
    return 0
