"""Symmetry detection from a learned Hamiltonian H_q = -T ln q (the talk "Detecting
Symmetries" of L. Wang's seed): for a transformation g of the configurations, the
distribution over data of

    Delta H(x) = H_q(g x) - H_q(x) = -T [ln q(g x) - ln q(x)]

(ln Z cancels). Why its mean over held-out data is a test: when the data's distribution
p is invariant under g, g x is distributed as x, so E_p[ln q(g x)] = E_p[ln q(x)] for
any model q, and the mean of Delta H is 0 up to sampling noise however imperfect q is;
when p is not invariant, and q has learned p, the mean is E_p[H_p(g x) - H_p(x)] != 0.
``symmetry_test`` reports the mean with its standard error, the z-score and the
two-sided normal p-value. Use data the model was not trained on.

Transformations: :func:`rotation` (theta -> theta + phi), :func:`reflection`
(theta -> 2 a - theta) on angles, :func:`spin_flip` (x -> 1 - x) on binary spins.
"""

from __future__ import annotations

import math

import torch

from ..base import GenerativeModel
from ..checks import check_positive, check_real
from ..circular import wrap_to_circle
from ..supports import Circle, Discrete

__all__ = ["symmetry_test", "rotation", "reflection", "spin_flip", "Transformation"]

#: |z| above which ``symmetry_test`` calls the symmetry broken
BROKEN_Z = 3.0


class Transformation:
    """A map of configurations on ``support`` onto themselves, with a name."""

    def __init__(self, name: str, support, function):
        self.name, self.support, self._function = name, support, function

    def __call__(self, x: torch.Tensor) -> torch.Tensor:
        return self._function(x)

    def __repr__(self) -> str:
        return self.name


def rotation(phi: float) -> Transformation:
    """The global rotation theta_i -> theta_i + phi (mod 2 pi) of every angle."""
    phi = check_real(phi, "phi")
    return Transformation(f"rotation({phi:g})", Circle(), lambda x: wrap_to_circle(x + phi))


def reflection(axis: float = 0.0) -> Transformation:
    """The reflection theta_i -> 2 axis - theta_i (mod 2 pi) of every angle."""
    axis = check_real(axis, "axis")
    return Transformation(f"reflection({axis:g})", Circle(),
                          lambda x: wrap_to_circle(2 * axis - x))


def spin_flip() -> Transformation:
    """The global flip x_i -> 1 - x_i of binary spins."""
    return Transformation("spin_flip()", Discrete(2), lambda x: 1 - x)


def symmetry_test(model: GenerativeModel, data, transform: Transformation, *,
                  temperature: float = 1.0, chunk: int = 4096) -> dict:
    """Whether the distribution learned by ``model`` is invariant under ``transform``,
    judged on ``data`` ``(N, n_sites)`` (held out; see the module docstring).

    Returns ``transform`` (its name), ``num``, ``mean`` and ``stderr`` of Delta H (in
    units of ``temperature``, total over the sites), ``mean_per_site``, ``z`` (mean /
    stderr; 0 when every Delta H is 0), ``p_value`` (two-sided, normal), ``quantiles``
    (5, 50 and 95 % of Delta H), ``broken`` (|z| > :data:`BROKEN_Z`).
    """
    if not isinstance(model, GenerativeModel):
        raise TypeError(f"model must be a GenerativeModel, got {type(model).__name__}")
    if not isinstance(transform, Transformation):
        raise TypeError("transform must be a Transformation (rotation(phi), reflection(), "
                        f"spin_flip()), got {transform!r}")
    if transform.support != model.support:
        raise ValueError(f"{transform} acts on {transform.support}; the model is on "
                         f"{model.support}")
    temperature = check_positive(temperature, "temperature")
    x = model.validate_configurations(data).reshape(-1, model.n_sites)
    if x.shape[0] < 2:
        raise ValueError("symmetry_test needs at least 2 configurations for an error bar")
    with torch.no_grad():
        delta = torch.cat([
            -temperature * (model.log_prob(transform(x[i:i + chunk]))
                            - model.log_prob(x[i:i + chunk])).double()
            for i in range(0, x.shape[0], chunk)])
    num = delta.shape[0]
    mean, stderr = float(delta.mean()), float(delta.std() / math.sqrt(num))
    z = 0.0 if stderr == 0.0 else mean / stderr
    quantiles = torch.quantile(delta, torch.tensor([0.05, 0.5, 0.95], dtype=delta.dtype))
    return {"transform": repr(transform), "num": num, "mean": mean, "stderr": stderr,
            "mean_per_site": mean / model.n_sites, "z": z,
            "p_value": math.erfc(abs(z) / math.sqrt(2)),
            "quantiles": [float(q) for q in quantiles], "broken": abs(z) > BROKEN_Z}
