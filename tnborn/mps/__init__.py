"""Matrix-product-state Born machine."""

from .born_machine import MPSBornMachine

__all__ = ["MPSBornMachine"]
