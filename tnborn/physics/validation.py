"""Argument checks shared by the physics functions."""

from __future__ import annotations

from ..supports import Discrete


def hamiltonian_support(hamiltonian):
    """The support of a Hamiltonian's configurations: its ``support`` attribute, binary
    spins (``Discrete(2)``) when it has none."""
    return getattr(hamiltonian, "support", Discrete(2))


def check_hamiltonian_matches(model, hamiltonian, beta) -> None:
    """The model must describe configurations of the Hamiltonian's sites on its support
    (binary spins unless the Hamiltonian says otherwise, e.g. angles for the XY model),
    and a model that embeds a Hamiltonian must embed this one at ``beta``
    (``model.check_hamiltonian``)."""
    if not hasattr(hamiltonian, "energy") or not hasattr(hamiltonian, "n_sites"):
        raise TypeError(f"{type(hamiltonian).__name__} is not a Hamiltonian "
                        "(needs .energy(x) and .n_sites)")
    support = hamiltonian_support(hamiltonian)
    if model.support != support:
        raise ValueError(f"{type(hamiltonian).__name__} needs a model on {support}, "
                         f"{type(model).__name__} is on {model.support}")
    if model.n_sites != hamiltonian.n_sites:
        raise ValueError(f"the model has {model.n_sites} sites but the Hamiltonian has "
                         f"{hamiltonian.n_sites}")
    model.check_hamiltonian(hamiltonian, beta)
