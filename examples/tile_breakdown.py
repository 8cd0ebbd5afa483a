"""One crossbar read of a 128 x 128 tile, component by component, next to ISAAC's published split.

    .venv/bin/python examples/tile_breakdown.py [--read-pulse-s 1e-7 --read-voltage-v 0.1 --adc-fom-j 28e-15
                                                 --cell-capacitance-f 27e-15]

Builds the periphery of a study shaped like one ISAAC crossbar (128 x 128 cells, 8-bit ADCs, one
ADC for all 128 columns, a 100 ns read) with ``memcosim.config.parse_study`` and
``memcosim.build_periphery.periphery_costs`` (ngspice-characterised row drivers and sense front
end, figure-of-merit converters and adders, 28 nm), costs the array's read with the read-energy
law ``ReadEnergyModel`` (HZO cells at the middle of their window, every row at the read voltage)
and prints the energy of one input vector through one array: array, row drivers, DACs, sense,
ADCs, adders, in joules and per cent, beside ISAAC's.

ISAAC's per-read energies are its component powers (A. Shafiee et al., "ISAAC: A Convolutional
Neural Network Accelerator with In-Situ Analog Arithmetic in Crossbars", ISCA 2016, Table II,
32 nm) spread over the reads they serve: an IMA has 8 crossbars, each read once per 100 ns, each
with its own 8-bit 1.2 GS/s ADC, so a component's energy per crossbar read is its IMA power
x 100 ns / 8. The comparison and what each side counts: docs/periphery.md, "Checked against a
published breakdown". The ngspice characterisation is cached after the first run (~2 s).
"""

import argparse
import dataclasses

import numpy as np

from memcosim.build_periphery import converter_params, periphery_costs
from memcosim.circuits import converters
from memcosim.circuits.models import ReadEnergyModel
from memcosim.config import parse_study
from memcosim.devices import load_device_params

ROWS = COLS = 128
"""ISAAC's crossbar: 128 x 128 cells."""
ISAAC_READ_S = 100e-9
"""ISAAC's crossbar read cycle (one 1-bit input slice through one crossbar), seconds."""
ISAAC_CROSSBARS_PER_IMA = 8
ISAAC_IMA_POWER_W = {
    # ISAAC Table II, per IMA (8 crossbars), 32 nm
    "array": 2.4e-3,  # 8 memristor crossbars, 128 x 128, 2 bits per cell
    "row drivers": 0.0,  # not listed apart from the DACs
    "DACs": 4e-3,  # 8 x 128 one-bit DACs
    "sense": 10e-6,  # 8 x 128 sample-and-hold circuits
    "ADCs": 16e-3,  # 8 ADCs, 8 bits, 1.2 GS/s
    "adders": 0.2e-3,  # 4 shift-and-add units
    "IMA registers": 1.24e-3 + 0.23e-3,  # input register 2 KB, output register 256 B
}
ISAAC_TILE_POWER_W = 330e-3
"""ISAAC Table II: one tile, 12 IMAs and the tile's eDRAM, bus, router share, sigmoid, max-pool, registers."""
ISAAC_IMAS_PER_TILE = 12


def isaac_energies_j():
    """ISAAC's energy per crossbar read of each component (IMA power x read cycle / crossbars), joules,
    and the rest of the tile (eDRAM, bus, router, ... spread over its 96 crossbars)."""
    per_read = {name: p * ISAAC_READ_S / ISAAC_CROSSBARS_PER_IMA for name, p in ISAAC_IMA_POWER_W.items()}
    crossbars = ISAAC_IMAS_PER_TILE * ISAAC_CROSSBARS_PER_IMA
    per_read["tile (eDRAM, bus, router, ...)"] = ISAAC_TILE_POWER_W * ISAAC_READ_S / crossbars - sum(per_read.values())
    return per_read


def memcosim_energies_j(read_pulse_s, read_voltage_v, adc_fom_j=None, cell_capacitance_f=None, cache_dir=None):
    """memcosim's energy of one input vector through one 128 x 128 array of HZO cells, by component, joules.

    The study: 128 x 128 array (0.2 fF of wire per cell, 1 Ohm per segment), virtual-ground
    integrators, 8-bit ADCs shared by all 128 columns, the given read pulse and voltage. DACs are
    costed at 1 bit as ISAAC's (a study's ``dac_bits`` starts at 2). Adders: one per converted
    column, as ISAAC's shift-and-add (``read_cost`` books adders only between tiles).
    ``cell_capacitance_f`` replaces the HZO cell's capacitance on the lines (default: the preset's 27 fF).
    """
    periphery = {"enabled": True, "dac_bits": 2, "adc_bits": 8, "columns_per_adc": COLS}
    if adc_fom_j is not None:
        periphery["adc_fom_walden_j"] = adc_fom_j
    study = parse_study({
        "name": "isaac_crossbar",
        "device": {"kind": "hzo", "read_voltage_v": read_voltage_v},
        "array": {"rows": ROWS, "cols": COLS, "c_wire_f": 2e-16, "r_wire_ohm": 1.0},
        "circuit": {"read_pulse_width_s": read_pulse_s},
        "periphery": periphery,
    })
    params = load_device_params("hzo")
    if cell_capacitance_f is not None:
        params = dataclasses.replace(params, capacitance_f=cell_capacitance_f)
    costs = periphery_costs(study, params, study.device.pulse_amplitude_v, cache_dir=cache_dir)
    costs = dataclasses.replace(costs, dac_j=float(converters.dac_energy_j(1, converter_params(study))))
    g_mid = 0.5 * (params.g_min_s + params.g_max_s)
    array_j = ReadEnergyModel().energy_j(np.full((ROWS, COLS), g_mid), np.full(ROWS, read_voltage_v), read_pulse_s)
    return {
        "array": float(array_j),
        "row drivers": ROWS * costs.read_driver_j,
        "DACs": ROWS * costs.dac_j,
        "sense": COLS * costs.sense_j,
        "ADCs": COLS * costs.adc_j,
        "adders": COLS * costs.adder_j,
        "IMA registers": 0.0,
        "tile (eDRAM, bus, router, ...)": 0.0,
    }


def _row(name, a, ta, b, tb):
    return f"{name:32s} {a * 1e12:10.3f} {100 * a / ta:6.1f} % {b * 1e12:10.3f} {100 * b / tb:6.1f} %"


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--read-pulse-s", type=float, default=ISAAC_READ_S, help="read pulse (default ISAAC's 100 ns)")
    parser.add_argument("--read-voltage-v", type=float, default=0.1, help="read voltage across a cell (default 0.1 V)")
    parser.add_argument("--adc-fom-j", type=float, default=None, help="Walden FOM, J/step (default 28 fJ)")
    parser.add_argument("--cell-capacitance-f", type=float, default=None,
                        help="cell capacitance on the lines, farads (default: the HZO preset's 27 fF)")
    parser.add_argument("--cache-dir", default=None, help="where the characterised periphery is cached")
    args = parser.parse_args(argv)

    ours = memcosim_energies_j(args.read_pulse_s, args.read_voltage_v, args.adc_fom_j, args.cell_capacitance_f,
                               args.cache_dir)
    isaac = isaac_energies_j()
    t_ours, t_isaac = sum(ours.values()), sum(isaac.values())
    print(f"One read of a {ROWS} x {COLS} crossbar: {COLS} conversions of 8 bits, 1-bit inputs")
    print(f"{'component':32s} {'memcosim pJ':>10s} {'share':>8s} {'ISAAC pJ':>10s} {'share':>8s}")
    for name in ours:
        print(_row(name, ours[name], t_ours, isaac[name], t_isaac))
    print(_row("total", t_ours, t_ours, t_isaac, t_isaac))
    core = ["array", "row drivers", "DACs", "sense", "ADCs", "adders"]
    c_ours, c_isaac = sum(ours[n] for n in core), sum(isaac[n] for n in core)
    print(f"ADC share of what both count (array, drivers, DACs, sense, ADCs, adders): memcosim "
          f"{100 * ours['ADCs'] / c_ours:.1f} %, ISAAC {100 * isaac['ADCs'] / c_isaac:.1f} %; "
          f"ISAAC's ADC share of the whole tile {100 * isaac['ADCs'] / t_isaac:.1f} %")
    return ours, isaac


if __name__ == "__main__":
    main()
