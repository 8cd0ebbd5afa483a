"""memcosim's circuit-costed training energy beside the published study's energy estimate.

The thesis (PaU1570/msc_project, ``src/msc_project/utils/data_utils.py::add_energy_to_metrics``)
bounds the energy of a training run by ``|V| J(|V|) A t_pulse N_pulses``: the most negative pulse
amplitude of the sweep, the current density of a modified Schottky-emission law at it (5 nm film,
barrier 0.19 eV, eps_r 18.2, 300 K), the device area, the pulse width and the pulses the run
applied. This script reads a finished ``memcosim run`` of ``examples/hzo_published_protocol.toml``
and prints, per run, memcosim's write energy (per pulse and in total) beside that bound, at the
device area memcosim's HZO preset assumes (the thesis's area file for ID161ZR15000 is not public).

    .venv/bin/python benchmarks/published_energy.py out/hzo_published_protocol
"""
import argparse
import json
import math
from pathlib import Path

import numpy as np


def schottky_current_density_a_cm2(v):
    """The thesis's modified Schottky emission, A/cm^2 at |V| volts (its constants and units)."""
    alpha, mu, phi_b, eps0, eps_r, t, k, d = 3e-4, 8.9e-3, 0.19, 552634.9406, 18.2, 300.0, 8.617e-5, 5e-7
    field = v / d
    return alpha * t**1.5 * field * mu * math.exp(-(phi_b - math.sqrt(field / (4 * math.pi * eps0 * eps_r))) / (k * t))


def main(argv=None):
    from memcosim.devices import load_device_params
    from memcosim.devices.measurements import read_sweep

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out", help="the output folder of memcosim run")
    args = parser.parse_args(argv)
    area_cm2 = load_device_params("hzo").area_m2 * 1e4
    runs = json.loads((Path(args.out) / "results.json").read_text())["runs"]
    print(f"# thesis bound |V| J(|V|) A t N at A = {area_cm2 * 1e8:g} um^2 (memcosim's HZO preset area)")
    print(f"{'file':<16} {'algorithm':<16} {'pulses':>10} {'memcosim J':>11} {'J/pulse':>9} {'thesis J':>10} "
          f"{'J/pulse':>9} {'ratio':>8}")
    rows = []
    for run in runs:
        files = run.get("device.measured_from")
        if not files or run.get("pulses_total") in (None, 0):
            continue
        sweep = read_sweep(files[0])
        v = float(np.abs(sweep.pulse_amplitude_v[sweep.pulse_amplitude_v < 0]).max())
        pulses = run["pulses_total"]
        thesis = v * schottky_current_density_a_cm2(v) * area_cm2 * sweep.nominal_width_s * pulses
        ours = run["total_write_energy_j"]
        rows.append((Path(files[0]).stem.split("_")[2], run["algorithm"], pulses, ours, thesis))
        print(f"{rows[-1][0]:<16} {run['algorithm']:<16} {pulses:>10.3g} {ours:>11.3g} {ours / pulses:>9.3g} "
              f"{thesis:>10.3g} {thesis / pulses:>9.3g} {thesis / ours:>8.3g}")
    return rows


if __name__ == "__main__":
    main()
