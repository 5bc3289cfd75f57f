"""tnborn: tensor-network Born machines and autoregressive networks, side by side."""

from . import datasets
from .base import GenerativeModel, load
from .mps import MPSBornMachine

__all__ = ["GenerativeModel", "MPSBornMachine", "datasets", "load"]
__version__ = "0.1.0"
