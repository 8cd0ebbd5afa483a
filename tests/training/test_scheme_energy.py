"""The ledger's energy of a parallel stochastic update equals ngspice's energy of its slots."""

import numpy as np
import pytest
import torch

from memcosim.circuits.characterize import CharacterizeSetup, characterize
from memcosim.circuits.energy_split import line_pulse_energy_split
from memcosim.circuits.models import CircuitModels
from memcosim.circuits.ngspice import run_ngspice
from memcosim.devices import apply_pulses, load_device_params
from memcosim.netlist import CrossbarSpec
from memcosim.netlist.bias import stochastic_slot_voltages_v
from memcosim.netlist.crossbar import stochastic_slot_deck
from memcosim.training.bitstreams import BitStreams
from memcosim.training.schemes import scheme_energy, slot_phase_counts

HZO = load_device_params("hzo")
N, AMP, WIDTH, X0 = 4, 3.0, 2e-8, 0.5


@pytest.fixture(scope="module")
def models(tmp_path_factory):
    out = tmp_path_factory.mktemp("slots")
    setup = CharacterizeSetup(device_params=HZO, sizes=(4, 8), widths_s=(2e-8, 2e-6, 2e-4), initial_states=(0.25, 0.75),
                              study_rows=N, study_cols=N, operations=("slot",))
    characterize(setup, out, workers=2, progress=False, plots=False)
    return CircuitModels.load(out / "models.json")


def streams_from_bits(x_bits, x_sign, d_bits, d_sign):
    """BitStreams of one sample from explicit slot bits (lines x slots 0/1)."""
    pack = lambda bits: torch.tensor([[[sum(int(b) << t for t, b in enumerate(line))] for line in bits]])  # noqa: E731
    return BitStreams(pack(x_bits), torch.tensor([x_sign]), pack(d_bits), torch.tensor([d_sign]), torch.tensor(0),
                      len(x_bits[0]))


def test_phase_counts_split_lines_by_polarity():
    rng = np.random.default_rng(0)
    x_bits, d_bits = rng.integers(0, 2, (7, 40)), rng.integers(0, 2, (5, 40))
    x_sign, d_sign = [1, -1, 1, 1, -1, 0, 1], [1, 1, -1, -1, 1]
    words = lambda bits: torch.tensor([[[sum(int(b) << t for t, b in enumerate(line[32 * w:32 * w + 32])) for w in range(2)]  # noqa: E731
                                        for line in bits]])
    pos, neg = slot_phase_counts(words(x_bits), torch.tensor([x_sign]), 40, 3)
    signs = np.array(x_sign)
    for tile in range(3):
        lines = slice(3 * tile, 3 * tile + 3)
        expect_pos = (x_bits[lines] * (signs[lines] > 0)[:, None]).sum(axis=0)
        expect_neg = (x_bits[lines] * (signs[lines] < 0)[:, None]).sum(axis=0)
        assert np.array_equal(pos[0, tile].numpy(), expect_pos) and np.array_equal(neg[0, tile].numpy(), expect_neg)


@pytest.mark.ngspice
def test_slot_energy_of_an_update_equals_the_ngspice_slots(models):
    # one sample, 3 slots on a 4 x 4 array: rows 0, 1 positive, row 2 negative; columns 0 positive, 2, 3 negative
    x_bits = [[1, 0, 1], [1, 1, 0], [0, 1, 1], [0, 0, 0]]
    d_bits = [[1, 1, 0], [0, 0, 0], [1, 0, 1], [0, 1, 1]]
    streams = streams_from_bits(x_bits, [1, 1, -1, 0], d_bits, [1, 0, -1, -1])
    write, costs = scheme_energy(models, "parallel_stochastic", HZO, AMP, WIDTH, N, N)
    # the ledger: every coincidence's selected cell at its state (all at X0 here), plus each phase's shared energy
    g0 = HZO.g_min_s + X0 * (HZO.g_max_s - HZO.g_min_s)
    ledger, spice = float(costs.slots_j(streams).sum()), 0.0
    for t in range(3):
        for rows_sign, cols_sign in ((1, 1), (-1, -1), (1, -1), (-1, 1)):
            rows = [i for i in range(N) if x_bits[i][t] and [1, 1, -1, 0][i] == rows_sign]
            cols = [j for j in range(N) if d_bits[j][t] and [1, 0, -1, -1][j] == cols_sign]
            if not rows or not cols:
                continue
            up = rows_sign * cols_sign > 0
            amplitude = (1 if up else -1) * HZO.potentiation_polarity * AMP
            g1 = apply_pulses(np.array([g0]), 1, HZO, amplitude, WIDTH)[0]
            dx = (g1 - g0) / (HZO.g_max_s - HZO.g_min_s)
            selected = write.energy_j(torch.tensor([X0]), torch.tensor([X0 + dx]), torch.tensor([1.0]), "up" if up else "down")
            ledger += len(rows) * len(cols) * float(sum(selected))
            spec = CrossbarSpec(np.full((N, N), g0), cell="hzo", hzo_params=HZO, c_wire_f=1e-16)
            v_rows, v_cols = stochastic_slot_voltages_v(amplitude, N, N, rows, cols)
            result = run_ngspice(stochastic_slot_deck(spec, rows, cols, amplitude, WIDTH), timeout_s=60)
            spice += line_pulse_energy_split(result, spec, v_rows, v_cols, WIDTH)["sources_j"]
    print(f"ledger {ledger:.6g} J, ngspice {spice:.6g} J, ratio {ledger / spice:.4f}")
    assert spice > 0 and ledger == pytest.approx(spice, rel=0.05)
