"""Continuous autoregressive networks (CAN; Wang et al., Chinese Phys. Lett. 39, 120502
(2022)): the MADE and PixelCNN trunks with mixture conditionals (:mod:`.mixtures`) on
angles (:class:`tnborn.supports.Circle`), an interval or the real line.

q(x) = prod_i q(x_i | x_<i) in raster / natural order, each conditional a K-component
mixture whose 3K parameters are the trunk's outputs for site i::

    x_<i --encode--> [masked MADE or PixelCNN trunk] --3K outputs--> mixture at site i
    (cos theta, sin theta) per site on the circle

``log_prob`` is the exact log density (per radian on the circle), normalized by
construction; ``sample`` draws site by site with the discrete nets' cached samplers
(every hidden unit or activation computed once), each site from its mixture;
``conditional_sample`` and ``marginal_log_prob`` are exact for a known prefix of the
site order; ``fit`` is maximum likelihood on data; the physics functions
(``train_variational``, ``free_energy``, ``neural_mcmc``) take them for Hamiltonians on
the same support.
"""

from __future__ import annotations

import torch

from ..supports import Circle
from .base import AutoregressiveModel
from .made import MADE
from .mixtures import Mixture
from .pixelcnn import PixelCNN, _check_shape

__all__ = ["ContinuousMADE", "ContinuousPixelCNN"]


class _MixtureConditionals:
    """The continuous half of a CAN: mixture densities, draws and site inputs in place
    of a discrete net's logits, categorical draws and spin / one-hot inputs."""

    mixture: Mixture

    def _encode_values(self, values: torch.Tensor) -> torch.Tensor:
        return self.mixture.encode(values)

    def _draw(self, outputs: torch.Tensor, uniform: torch.Tensor, generator) -> torch.Tensor:
        return self.mixture.draw(outputs, generator)

    def _site_log_conditionals(self, x: torch.Tensor) -> torch.Tensor:
        return self.mixture.log_density(self._network(self._encode(x)), x)

    def _blank(self, num: int) -> torch.Tensor:
        return torch.zeros(num, self.n_sites, dtype=self._float_dtype(), device=self.device)


class ContinuousMADE(_MixtureConditionals, MADE):
    """A MADE trunk (natural site order) with K-component mixture conditionals.

    Parameters
    ----------
    n_sites : number of sites.
    support : :class:`Circle` (default), :class:`Interval` or :class:`Real`.
    components, family : K and the mixture family ("vonmises" or "beta" on the circle,
        "beta" on an interval, "gaussian" on the line; see :mod:`.mixtures`).
    hidden, depth, residual, dtype, device, seed : as :class:`MADE`.
    """

    def __init__(self, n_sites: int, *, support=Circle(), components: int = 4,
                 family: str = "vonmises", hidden: int = 64, depth: int = 2,
                 residual: bool = False, dtype=torch.float64, device=None,
                 seed: int | None = None):
        AutoregressiveModel.__init__(self, n_sites, support=support)
        self.mixture = Mixture(self.support, family, components)
        self.binary_input = False
        self._build(self.mixture.width, self.mixture.out_features, hidden=hidden,
                    depth=depth, residual=residual, dtype=dtype, device=device, seed=seed)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        return self.mixture.encode(x).to(self.weights[0].dtype).flatten(1)

    def _config(self) -> dict:
        return {"n_sites": self.n_sites, **self.mixture.config(), **self._trunk_config()}

    def _repr_fields(self) -> dict:
        return {"n_sites": self.n_sites, "support": self.support,
                "family": self.mixture.family, "components": self.mixture.components,
                "hidden": self.hidden, "depth": self.depth}


class ContinuousPixelCNN(_MixtureConditionals, PixelCNN):
    """A PixelCNN trunk (raster order over an ``H x W`` image) with K-component mixture
    conditionals; ``support``, ``components``, ``family`` as :class:`ContinuousMADE`,
    the rest as :class:`PixelCNN`."""

    def __init__(self, shape=(8, 8), *, support=Circle(), components: int = 4,
                 family: str = "vonmises", channels: int = 16, layers: int = 3,
                 kernel: int = 3, first_kernel: int | None = None, residual: bool = True,
                 dtype=torch.float64, device=None, seed: int | None = None):
        height, width = _check_shape(shape)
        AutoregressiveModel.__init__(self, height * width, support=support)
        self.mixture = Mixture(self.support, family, components)
        self.binary_input = False
        self._build((height, width), self.mixture.width, self.mixture.out_features,
                    channels=channels, layers=layers, kernel=kernel,
                    first_kernel=first_kernel, residual=residual, dtype=dtype,
                    device=device, seed=seed)

    def _encode(self, x: torch.Tensor) -> torch.Tensor:
        image = x.view(x.shape[0], *self.shape)
        return self.mixture.encode(image).to(self.out_weight.dtype).permute(0, 3, 1, 2)

    def _config(self) -> dict:
        return {"shape": list(self.shape), **self.mixture.config(), **self._trunk_config()}

    def _repr_fields(self) -> dict:
        return {"shape": f"{self.shape[0]}x{self.shape[1]}", "support": self.support,
                "family": self.mixture.family, "components": self.mixture.components,
                "channels": self.channels, "layers": self.layers}
