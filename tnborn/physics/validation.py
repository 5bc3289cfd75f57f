"""Argument checks shared by the physics functions."""

from __future__ import annotations

from ..supports import Discrete


def check_hamiltonian_matches(model, hamiltonian, beta) -> None:
    """The model must describe binary configurations of the Hamiltonian's sites, and a
    model that embeds a Hamiltonian must embed this one at ``beta``
    (``model.check_hamiltonian``)."""
    if not hasattr(hamiltonian, "energy") or not hasattr(hamiltonian, "n_sites"):
        raise TypeError(f"{type(hamiltonian).__name__} is not a Hamiltonian "
                        "(needs .energy(x) and .n_sites)")
    if model.support != Discrete(2):
        raise ValueError(f"spin models need a model on Discrete(2) (binary sites), "
                         f"{type(model).__name__} is on {model.support}")
    if model.n_sites != hamiltonian.n_sites:
        raise ValueError(f"the model has {model.n_sites} sites but the Hamiltonian has "
                         f"{hamiltonian.n_sites}")
    model.check_hamiltonian(hamiltonian, beta)
