"""The composition of flows: x = f_m(... f_2(f_1(z))) on one standard normal base z,
a :class:`tnborn.flows.Flow` whose log-Jacobian is the sum of the components' (their
own bases are ignored)::

    z --f_1--> . --f_2--> ... --f_m--> x
"""

from __future__ import annotations

import torch

from ..base import _MODEL_CLASSES
from .base import Flow
from .coupling import chain_forward, chain_inverse


def _check_flows(flows: tuple) -> None:
    """At least one :class:`Flow`, all on the same sites, dtype and device."""
    if not flows:
        raise ValueError("Compose needs at least one flow")
    for i, flow in enumerate(flows):
        if not isinstance(flow, Flow):
            raise TypeError(f"Compose takes tnborn.flows.Flow instances; component {i} is "
                            f"a {type(flow).__name__}")
    first = flows[0]
    for i, flow in enumerate(flows[1:], 1):
        for what in ("n_sites", "dtype", "device"):
            if getattr(flow, what) != getattr(first, what):
                raise ValueError(f"Compose needs flows with the same {what}: component 0 "
                                 f"has {getattr(first, what)}, component {i} "
                                 f"{getattr(flow, what)}")


class Compose(Flow):
    """x = f_m(... f_1(z)) for the flows ``f_1, ..., f_m`` given in that order (z side
    first), held in ``flows`` (a ModuleList). ``seed`` starts the composition's own
    random stream (sampling, the order of minibatches in ``fit``)."""

    def __init__(self, *flows: Flow, seed: int | None = None):
        super().__init__()
        _check_flows(flows)
        self.n_sites = flows[0].n_sites
        self.flows = torch.nn.ModuleList(flows)
        self._start_rng(seed)

    def forward(self, z: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """x = f(z) and log |det dx/dz| ``(B,)`` for base points ``z`` ``(B, n_sites)``."""
        return chain_forward(self.flows, z)

    def inverse(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """z = f^{-1}(x) and log |det dz/dx| ``(B,)`` for points ``x`` ``(B, n_sites)``."""
        return chain_inverse(self.flows, x)

    def _config(self) -> dict:
        return {"flows": [{"class": type(flow).__name__, "config": flow._config()}
                          for flow in self.flows],
                "seed": self.seed}

    @classmethod
    def from_config(cls, config: dict, state_dict: dict) -> "Compose":
        """The composition saved as :meth:`_config` and ``state_dict``: each component
        rebuilt by its own class's ``from_config`` from its part of the state (keys
        ``flows.<i>.``), then the whole state loaded strictly."""
        flows = [_component(i, entry, state_dict) for i, entry in enumerate(config["flows"])]
        model = cls(*flows, seed=config["seed"])
        model.load_state_dict(state_dict)
        return model

    def _repr_fields(self) -> dict:
        return {"n_sites": self.n_sites, "support": self.support,
                "flows": " -> ".join(type(flow).__name__ for flow in self.flows)}


def _component(i: int, entry: dict, state_dict: dict) -> Flow:
    """Component ``i`` of a saved composition from its ``{"class", "config"}`` entry."""
    name = entry["class"]
    if name not in _MODEL_CLASSES:
        raise ValueError(f"component {i} of the composition is an unknown class {name!r}")
    prefix = f"flows.{i}."
    own = {key[len(prefix):]: value for key, value in state_dict.items()
           if key.startswith(prefix)}
    return _MODEL_CLASSES[name].from_config(entry["config"], own)
