"""Normalizing flows on the real line: invertible maps x = f(z) of a standard normal z
with exact log densities by the change of variables (RealNVP; NeuralRG, the neural
renormalization group on an L x L lattice; Compose, a chain of flows)."""

from .base import Flow
from .compose import Compose
from .coupling import AffineCoupling
from .neuralrg import NeuralRG
from .realnvp import RealNVP

__all__ = ["AffineCoupling", "Compose", "Flow", "NeuralRG", "RealNVP"]
