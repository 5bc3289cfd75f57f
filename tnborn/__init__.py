"""tnborn: tensor-network Born machines and autoregressive networks, side by side."""

from . import datasets, diagnostics, physics
from .arnn import HAN, MADE, CurieWeissARNN, PixelCNN, SKARNN
from .base import GenerativeModel, load
from .mps import MPSBornMachine
from .ttn import TTNBornMachine

__all__ = ["CurieWeissARNN", "GenerativeModel", "HAN", "MADE", "MPSBornMachine", "PixelCNN",
           "SKARNN", "TTNBornMachine", "datasets", "diagnostics", "load", "physics"]
__version__ = "0.1.0"
