"""tnborn: tensor-network Born machines and autoregressive networks, side by side.

The public names below are imported on first use (so ``import tnborn`` and the
``tnborn`` command start without loading torch until a model is needed).
"""

from __future__ import annotations

import importlib

__version__ = "0.2.0"

_NAMES = {
    "GenerativeModel": "tnborn.base", "load": "tnborn.base",
    "Estimate": "tnborn.estimate", "Bond": "tnborn.born",
    "Discrete": "tnborn.supports", "Circle": "tnborn.supports",
    "Real": "tnborn.supports", "Interval": "tnborn.supports",
    "MPSBornMachine": "tnborn.mps", "TTNBornMachine": "tnborn.ttn",
    "MADE": "tnborn.arnn", "PixelCNN": "tnborn.arnn", "HAN": "tnborn.arnn",
    "CurieWeissARNN": "tnborn.arnn", "SKARNN": "tnborn.arnn", "CWARNN": "tnborn.arnn",
    "BoltzmannARNN": "tnborn.arnn", "ContinuousMADE": "tnborn.arnn",
    "ContinuousPixelCNN": "tnborn.arnn", "PixelCNN3D": "tnborn.arnn",
    "Independent": "tnborn.independent", "RBM": "tnborn.rbm",
}
_SUBPACKAGES = ("datasets", "diagnostics", "flows", "physics", "supports")

__all__ = sorted(_NAMES) + list(_SUBPACKAGES)


def __getattr__(name: str):
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name in _SUBPACKAGES:
        value = importlib.import_module(f"tnborn.{name}")
    else:
        raise AttributeError(f"module 'tnborn' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__():
    return sorted(set(globals()) | set(__all__))
