"""Autoregressive networks: MADE, PixelCNN, HAN and exact ARNNs for pairwise spin models."""

from .base import AutoregressiveModel
from .curie_weiss import CurieWeissARNN
from .sk import SKARNN

__all__ = ["AutoregressiveModel", "CurieWeissARNN", "SKARNN"]
