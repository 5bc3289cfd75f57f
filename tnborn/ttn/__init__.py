"""Tree tensor network Born machine."""

from .born_machine import TTNBornMachine

__all__ = ["TTNBornMachine"]
