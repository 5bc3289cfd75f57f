"""Autoregressive networks: MADE, PixelCNN, HAN and exact ARNNs for pairwise spin models."""

from .base import AutoregressiveModel
from .curie_weiss import CurieWeissARNN
from .han import HAN
from .made import MADE
from .pixelcnn import PixelCNN
from .sk import SKARNN

__all__ = ["AutoregressiveModel", "CurieWeissARNN", "HAN", "MADE", "PixelCNN", "SKARNN"]
