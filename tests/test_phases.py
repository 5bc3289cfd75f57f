"""Phase structure from learned models: Binder cumulant, its crossing, the M_s fit and
the phase scan.

References: the Binder cumulant and <|m|> of the 3 x 3 and 4 x 4 Ising models by
enumeration (exact samples drawn from the table), a crossing of straight lines solved
by hand, M_s data generated from the formula, and a scan whose "model" is the exact
Boltzmann table (so the learned couplings are beta J to rounding).
"""

from __future__ import annotations

import json
import math

import pytest
import torch

from tnborn.estimate import Estimate
from tnborn.physics import (Ising2D, abs_magnetization, binder_crossing, binder_cumulant,
                            boltzmann_log_table, combine_scans, fit_magnetization,
                            phase_scan)
from tnborn.physics.phase_scan import ONSAGER_TC

from .helpers import TableModel, all_configurations


def exact_binder(L: int, T: float) -> tuple[float, float]:
    """(<|m|>, U) of the L x L Ising model at T by enumeration."""
    x = all_configurations(L * L, 2)
    p = boltzmann_log_table(Ising2D(L), 1 / T).exp()
    m = (2 * x.double() - 1).mean(-1)
    m2, m4 = (p * m ** 2).sum(), (p * m ** 4).sum()
    return float((p * m.abs()).sum()), float(1 - m4 / (3 * m2 ** 2))


class ExactIsing(TableModel):
    """The exact Boltzmann table of the L x L Ising model at T; ``fit`` changes nothing."""

    def __init__(self, L: int, T: float):
        super().__init__(boltzmann_log_table(Ising2D(L), 1 / T), L * L)
        self.fitted_on = None

    def fit(self, data, **options):
        self.fitted_on = data.shape
        return []


def test_binder_cumulant_and_magnetization_match_enumeration():
    for L, T in ((3, 2.0), (4, 2.5)):
        m_exact, u_exact = exact_binder(L, T)
        samples = ExactIsing(L, T).sample(40_000, generator=torch.Generator().manual_seed(1))
        u, m = binder_cumulant(samples), abs_magnetization(samples)
        assert 0 < u.stderr < 0.01 and 0 < m.stderr < 0.01
        assert abs(u.value - u_exact) < 3 * u.stderr, (u, u_exact)
        assert abs(m.value - m_exact) < 3 * m.stderr, (m, m_exact)
    ordered = torch.ones(100, 9, dtype=torch.long)
    assert binder_cumulant(ordered).value == pytest.approx(2 / 3, abs=1e-15)


def test_binder_crossing_of_lines_and_its_error():
    temperatures = [2.0, 2.2, 2.4, 2.6]
    small = [Estimate(0.6 - 0.2 * (t - 2), 0.01, "sampled", 100) for t in temperatures]
    large = [Estimate(0.66 - 0.5 * (t - 2), 0.01, "sampled", 100) for t in temperatures]
    crossing = binder_crossing(temperatures, small, large)
    assert crossing.value == pytest.approx(2.2, abs=1e-12)  # 0.6 - 0.2 d = 0.66 - 0.5 d
    # numeric derivatives of the bracket formula against the propagated error
    d = [a.value - b.value for a, b in zip(small, large)]
    k = crossing.diagnostics["bracket"]
    assert k == [2.2, 2.4]

    def root(d1, d2):
        return 2.2 + d1 * 0.2 / (d1 - d2)
    h = 1e-7
    g1 = (root(d[1] + h, d[2]) - root(d[1] - h, d[2])) / (2 * h)
    g2 = (root(d[1], d[2] + h) - root(d[1], d[2] - h)) / (2 * h)
    assert crossing.stderr == pytest.approx(math.sqrt(2e-4 * (g1 ** 2 + g2 ** 2)), rel=1e-6)
    with pytest.raises(ValueError, match="cross 0 times"):
        binder_crossing(temperatures, large, [Estimate(e.value - 1) for e in large])
    with pytest.raises(ValueError, match="one Binder cumulant per temperature"):
        binder_crossing(temperatures, small[:3], large)


def test_magnetization_fit_recovers_planted_parameters():
    g = torch.Generator().manual_seed(3)
    temperatures = [1.0 + 0.1 * k for k in range(12)]
    truth = (0.98, 2.3, 0.2)
    values = [truth[0] * (1 - t / truth[1]) ** truth[2] for t in temperatures]
    noisy = [Estimate(v + 0.002 * float(torch.randn(1, generator=g)), 0.002, "sampled", 1000)
             for v in values]
    fitted = fit_magnetization(temperatures, noisy)
    for key, true in zip(("m0", "tc", "exponent"), truth):
        assert 0 < fitted[key].stderr < 0.1
        assert abs(fitted[key].value - true) < 4 * fitted[key].stderr, (key, fitted[key])
    assert fitted["dof"] == 9 and fitted["chi2"] < 30
    fixed = fit_magnetization(temperatures, noisy, exponent=0.2)
    assert fixed["exponent"].value == 0.2 and abs(fixed["tc"].value - 2.3) < 0.01


def test_phase_scan_with_exact_models_reads_back_the_couplings(tmp_path):
    temperatures = [1.8, 2.2, 2.6, 3.0]
    made = []

    def exact(L, T, seed):
        made.append(ExactIsing(L, T))
        return made[-1]
    checkpoint = tmp_path / "scan.json"
    result = phase_scan(temperatures, (3, 4), num=400, model=exact, model_samples=20_000,
                        progress=False, checkpoint=checkpoint)
    assert made[0].fitted_on == (8 * 360, 9)  # 10 % held out, 8 translation copies
    for points, L in zip(result["points"], (3, 4)):
        for point, T in zip(points, temperatures):
            assert point["L"] == L and point["T"] == T
            assert point["beta_j"] == pytest.approx(1 / T, abs=1e-9)
            assert point["beta_j_worst_error"] < 1e-8
            assert point["beta_j_with_next"] == pytest.approx(1 / T, abs=1e-9)
            assert abs(point["next_nearest"]) < 1e-9 and point["field_max_abs"] < 1e-9
            assert point["residual_rms"] < 1e-9
            m_exact, u_exact = exact_binder(L, T)
            u = point["binder"]
            assert abs(u["value"] - u_exact) < 4 * u["stderr"], (L, T, u, u_exact)
    assert result["tc_exact"] == pytest.approx(2 / math.log(1 + math.sqrt(2)))
    crossing = result["crossing"]
    assert crossing is not None and 1.8 < crossing.value < 3.0
    # a rerun resumes from the checkpoint: no model is built again
    made.clear()
    again = phase_scan(temperatures, (3, 4), num=400, model=exact, model_samples=20_000,
                       progress=False, checkpoint=checkpoint)
    assert made == [] and again["crossing"].value == crossing.value
    with pytest.raises(ValueError, match="other settings"):
        phase_scan(temperatures, (3, 4), num=500, model=exact, progress=False,
                   checkpoint=checkpoint)
    checkpoint.write_text("{not json")
    with pytest.raises(ValueError, match="not a phase-scan checkpoint"):
        phase_scan(temperatures, (3, 4), num=400, model=exact, progress=False,
                   checkpoint=checkpoint)
    assert json.loads(json.dumps(result["points"]))  # plain data
    # scans of one size at other temperatures merge; other sizes join them
    (small, large), tc = result["points"], result["tc_exact"]
    parts = [{"sizes": [3], "points": [small[1::2]], "tc_exact": tc},
             {"sizes": [4], "points": [large], "tc_exact": tc},
             {"sizes": [3], "points": [small[::2]], "tc_exact": tc}]
    joined = combine_scans(*parts)
    assert joined["sizes"] == [3, 4] and joined["temperatures"] == temperatures
    assert joined["points"] == result["points"]
    assert joined["crossing"].value == crossing.value
    with pytest.raises(ValueError, match="repeat a temperature"):
        combine_scans(parts[0], parts[0])
    with pytest.raises(ValueError, match="same temperatures"):
        combine_scans(parts[0], parts[1])


def test_phase_scan_bad_input():
    with pytest.raises(ValueError, match="strictly increasing"):
        phase_scan([2.0, 1.8, 2.4], (4,))
    with pytest.raises(ValueError, match="finite and > 0"):
        phase_scan([1.0, float("nan"), 2.0], (4,))
    with pytest.raises(ValueError, match="at least 3 temperatures"):
        phase_scan([1.0, 2.0], (4,))
    with pytest.raises(TypeError, match="sequence of numbers"):
        phase_scan("hot", (4,))
    with pytest.raises(ValueError, match="distinct"):
        phase_scan([1.0, 2.0, 3.0], (4, 4))
    with pytest.raises(ValueError, match="binary on 16 sites"):
        phase_scan([1.0, 2.0, 3.0], (4,), num=100, progress=False,
                   model=lambda L, T, seed: ExactIsing(3, T))
    with pytest.raises(TypeError, match="GenerativeModel"):
        phase_scan([1.0, 2.0, 3.0], (4,), num=100, progress=False,
                   model=lambda L, T, seed: "made")
    with pytest.raises(ValueError, match="0/1"):
        binder_cumulant(torch.full((30, 4), 2))
    assert ONSAGER_TC == pytest.approx(2.269185314213022)


def test_scan_models_are_fresh_z2_symmetric_binary_models():
    """The named factories of `tnborn phases --model` (catalog order, no torch at parse
    time) give Z2-symmetric binary models on L^2 sites, seeded: equal seeds, equal
    parameters; another seed, other parameters."""
    from tnborn.catalog import PHASE_DEFAULTS
    from tnborn.physics.phase_scan import SCAN_MODELS
    assert tuple(SCAN_MODELS) == PHASE_DEFAULTS["models"]
    x = torch.randint(0, 2, (5, 16), generator=torch.Generator().manual_seed(0))
    for make in SCAN_MODELS.values():
        model = make(4, 2.0, 3)
        assert model.n_sites == 16 and model.z2_symmetric
        assert torch.allclose(model.log_prob(x), model.log_prob(1 - x), rtol=0, atol=1e-12)
        assert torch.equal(make(4, 2.0, 3).log_prob(x), model.log_prob(x))
        assert not torch.equal(make(4, 2.0, 4).log_prob(x), model.log_prob(x))
    with pytest.raises(ValueError, match="power of two"):
        SCAN_MODELS["han"](6, 2.0, 0)
