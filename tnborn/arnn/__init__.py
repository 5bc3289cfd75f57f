"""Autoregressive networks: MADE, PixelCNN, HAN, the nets derived from the Boltzmann
distribution of pairwise spin models (the exact form, Curie-Weiss and SK nets), and the
continuous autoregressive networks (mixture conditionals on angles or reals)."""

from .base import AutoregressiveModel
from .continuous import ContinuousMADE, ContinuousPixelCNN
from .curie_weiss import CurieWeissARNN
from .cwarnn import CWARNN
from .han import HAN
from .made import MADE
from .pairwise import BoltzmannARNN
from .pixelcnn import PixelCNN
from .pixelcnn3d import PixelCNN3D
from .sk import SKARNN

__all__ = ["AutoregressiveModel", "BoltzmannARNN", "CWARNN", "ContinuousMADE",
           "ContinuousPixelCNN", "CurieWeissARNN", "HAN", "MADE", "PixelCNN", "PixelCNN3D",
           "SKARNN"]
