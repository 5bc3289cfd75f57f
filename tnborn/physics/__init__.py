"""Statistical physics: Hamiltonians, exact partition functions, variational training
of autoregressive models and flows, importance sampling, neural MCMC and learned
couplings; density targets (the dual Ising model, 2D toy densities).

Free energies are totals (F = -ln Z / beta) unless a name says ``_per_site``.
"""

from tnborn.physics.hamiltonians import (CurieWeiss, Ising2D, PairwiseHamiltonian,
                                         SherringtonKirkpatrick)
from tnborn.physics.ising3d import Ising3D
from tnborn.physics.ising_monte_carlo import ising_monte_carlo
from tnborn.physics.thermodynamic_integration import thermodynamic_integration
from tnborn.physics.exact import (boltzmann_log_table, curie_weiss_log_z,
                                  curie_weiss_magnetization_distribution, exact_log_z,
                                  exact_observables, ising2d_energy, ising2d_log_z)
from tnborn.physics.variational import train_variational
from tnborn.physics.estimators import (free_energy, integrated_autocorrelation_time,
                                       neural_mcmc)
from tnborn.physics.learn import learn_hamiltonian
from tnborn.physics.pseudolikelihood import fit_couplings
from tnborn.physics.graphs import lattice_pairs, lattice_plaquettes, lattice_triples
from tnborn.physics.xy import XY2D, XYChain
from tnborn.physics.xy_monte_carlo import xy_monte_carlo
from tnborn.physics.xy_observables import helicity_modulus, vortex_density
from tnborn.physics.symmetry import reflection, rotation, spin_flip, symmetry_test
from tnborn.physics.dual_ising import DualIsing
from tnborn.physics.toy_densities import DoubleWellDensity, RingDensity
from tnborn.physics.paths import DoubleWellPath
from tnborn.physics.path_monte_carlo import (action_monte_carlo, kink_count, path_correlator,
                                             path_monte_carlo)
from tnborn.physics.actions import compare_actions, interpolate_action, learned_action
from tnborn.physics.phases import (abs_magnetization, binder_crossing, binder_cumulant,
                                   fit_magnetization)
from tnborn.physics.phase_scan import combine_scans, phase_scan

__all__ = [
    "CurieWeiss", "Ising2D", "PairwiseHamiltonian", "SherringtonKirkpatrick",
    "boltzmann_log_table",
    "curie_weiss_log_z", "curie_weiss_magnetization_distribution", "exact_log_z",
    "exact_observables", "ising2d_energy", "ising2d_log_z", "train_variational", "free_energy",
    "integrated_autocorrelation_time", "neural_mcmc", "learn_hamiltonian",
    "fit_couplings", "lattice_pairs", "lattice_plaquettes", "lattice_triples",
    "XY2D", "XYChain", "xy_monte_carlo", "helicity_modulus", "vortex_density",
    "symmetry_test", "rotation", "reflection", "spin_flip", "DualIsing",
    "DoubleWellDensity", "RingDensity", "DoubleWellPath", "kink_count", "path_correlator",
    "path_monte_carlo", "action_monte_carlo", "compare_actions", "interpolate_action",
    "learned_action", "abs_magnetization", "binder_cumulant", "binder_crossing",
    "fit_magnetization", "phase_scan", "combine_scans", "Ising3D", "ising_monte_carlo",
    "thermodynamic_integration",
]
