
import numpy as np
import torch

from memcosim.devices import load_device_params, mtj
from memcosim.devices.mtj_maps import DieMap
from memcosim.netlist import AccessTransistor
from memcosim.training.binary_mtj import BinaryMTJNet, DieCircuit, die_grid, die_layers
from memcosim.training.die_mapping import fault_tolerant_mapping, input_moments, pair_reads, program_pairs

MTJ = load_device_params("mtj")
SHAPES = [(20, 6), (6, 10)]
CIRCUIT = DieCircuit(params=MTJ, access=AccessTransistor(gate_on_v=0.6))


def hand_die(defects):
    """A die of nominal junctions with ``{(row, col): code}`` defects (grid columns: layer 1 plus 0-5, minus 6-11)."""
    shape = die_grid(SHAPES)
    codes = np.zeros(shape, np.int8)
    for (r, c), code in defects.items():
        codes[r, c] = code
    r_p = mtj.cell_resistance_ohm(np.full(shape, mtj.P), codes, 0.1, MTJ)
    r_ap = mtj.cell_resistance_ohm(np.full(shape, mtj.AP), codes, 0.1, MTJ)
    return die_layers(SHAPES, CIRCUIT, DieMap(0, r_p, r_ap))


def test_programming_keeps_healthy_pairs_and_sets_a_defects_partner():
    net = BinaryMTJNet(20, 6, 10, CIRCUIT)
    g = net.g_unit
    healthy = hand_die({})
    for a, b in zip(program_pairs(healthy, g), healthy):
        assert all(torch.equal(a[k], b[k]) for k in b)
    # a shorted plus cell at (0, 0), an open minus cell at (1, 6 + 2)
    die = program_pairs(hand_die({(0, 0): mtj.SHORT, (1, 8): mtj.OPEN}), g)
    plus, minus = pair_reads(die[0], g)
    raw_plus, raw_minus = pair_reads(hand_die({(0, 0): mtj.SHORT, (1, 8): mtj.OPEN})[0], g)
    # the short's partner goes to P for both signs: the pair reads (short - P), the smaller excess
    assert float(plus[0, 0]) == float(minus[0, 0]) == float(raw_minus[0, 0]) < float(raw_plus[0, 0])
    # the open's partner goes to AP for both signs
    assert float(plus[1, 2]) == float(minus[1, 2]) == float(raw_minus[1, 2]) < float(raw_plus[1, 2])
    assert torch.allclose(plus[2:], torch.ones_like(plus[2:]), atol=1e-5)


def test_mapping_keeps_the_network_and_puts_the_fittest_neuron_on_a_failed_column():
    net = BinaryMTJNet(20, 6, 10, CIRCUIT, seed=3).eval()
    with torch.no_grad():
        net.w1[:, 4] = 1.0  # neuron 4: every weight +1, hurt least by a column of shorted plus cells
    x = (torch.rand(300, 20, generator=torch.Generator().manual_seed(0)) > 0.5).float()
    die = hand_die({(r, 1): mtj.SHORT for r in range(20)})  # column pair 1's plus cells all shorted
    placed, order = fault_tolerant_mapping(net, die, input_moments(x, centered=True))
    assert sorted(order.tolist()) == list(range(6)) and order[1] == 4
    with torch.no_grad():
        assert torch.allclose(placed(x, None), net(x, None), atol=1e-5)  # the same network in another order
        assert torch.equal(placed.w1[:, 1], net.w1[:, 4]) and torch.equal(placed.w2[1], net.w2[4])
