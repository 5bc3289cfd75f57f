"""Argument checks shared by the physics functions, and the two kinds of target they take.

* A **Hamiltonian** (``energy(x)``, ``n_sites``, optional ``support``) with an inverse
  temperature beta: the weight is exp(-beta E(x)).
* A **density** (``log_density(x)``, ``n_sites``, ``support``; e.g.
  :class:`tnborn.physics.DualIsing`) whose temperature is built in: the weight is
  pi(x) = exp(log_density(x)), beta is not given, and the functions work at beta = 1 with
  the energy E(x) = -ln pi(x), so F = -ln Z.

Either may define ``observables(x, generator) -> {name: (...,) tensor}``: per-sample
estimators whose weighted means are the target's observables (the dual Ising model: the
Ising energy and |m| of the spins behind x).
"""

from __future__ import annotations

from ..checks import check_beta
from ..supports import Discrete


def hamiltonian_support(hamiltonian):
    """The support of a Hamiltonian's configurations: its ``support`` attribute, binary
    spins (``Discrete(2)``) when it has none."""
    return getattr(hamiltonian, "support", Discrete(2))


def is_density(target) -> bool:
    """Whether ``target`` is a density (``log_density``) rather than a Hamiltonian."""
    return hasattr(target, "log_density") and not hasattr(target, "energy")


def resolve_target(model, target, beta):
    """``(beta, energy)`` of a target for ``model``: the given beta and ``target.energy``
    for a Hamiltonian, 1.0 and -``target.log_density`` for a density (which takes no
    beta). The model must describe configurations of the target's sites on its support
    (binary spins unless the target says otherwise, e.g. angles for the XY model, reals
    for a density), and a model that embeds a Hamiltonian must embed this one at that
    beta (``model.check_hamiltonian``)."""
    if not hasattr(target, "n_sites") or not (hasattr(target, "energy")
                                              or hasattr(target, "log_density")):
        raise TypeError(f"{type(target).__name__} is neither a Hamiltonian (.energy(x), "
                        ".n_sites) nor a density (.log_density(x), .n_sites)")
    if is_density(target):
        if beta is not None:
            raise ValueError(f"{type(target).__name__} is a density with its temperature "
                             f"built in: call without beta (got beta={beta!r})")
        beta, energy = 1.0, lambda x: -target.log_density(x)
    else:
        if beta is None:
            raise ValueError(f"{type(target).__name__} is a Hamiltonian: beta is required")
        beta, energy = check_beta(beta), target.energy
    support = hamiltonian_support(target)
    if model.support != support:
        raise ValueError(f"{type(target).__name__} needs a model on {support}, "
                         f"{type(model).__name__} is on {model.support}")
    if model.n_sites != target.n_sites:
        raise ValueError(f"the model has {model.n_sites} sites but the Hamiltonian has "
                         f"{target.n_sites}")
    model.check_hamiltonian(target, beta)
    return beta, energy
