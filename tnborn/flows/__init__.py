"""Normalizing flows on the real line: invertible maps x = f(z) of a standard normal z
with exact log densities by the change of variables (RealNVP)."""

from .realnvp import RealNVP

__all__ = ["RealNVP"]
