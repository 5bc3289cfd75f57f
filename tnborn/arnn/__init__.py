"""Autoregressive networks: MADE, PixelCNN, HAN, and the nets derived from the Boltzmann
distribution of pairwise spin models (the exact form, Curie-Weiss and SK nets)."""

from .base import AutoregressiveModel
from .curie_weiss import CurieWeissARNN
from .cwarnn import CWARNN
from .han import HAN
from .made import MADE
from .pairwise import BoltzmannARNN
from .pixelcnn import PixelCNN
from .sk import SKARNN

__all__ = ["AutoregressiveModel", "BoltzmannARNN", "CWARNN", "CurieWeissARNN", "HAN", "MADE",
           "PixelCNN", "SKARNN"]
