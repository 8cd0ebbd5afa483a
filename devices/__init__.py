"""Device compact models: MTJ and ferroelectric HfO2-ZrO2 synapses.

* :mod:`memcosim.devices.mtj` — magnetic tunnel junctions: bias-dependent TMR, STT switching
  probability, variation, defects, binary-weight mapping.
* :mod:`memcosim.devices.mtj_maps` / :mod:`memcosim.devices.mtj_defects` — die maps of MTJ
  arrays (the file format, its reader and writer; the CSV form in
  :mod:`~memcosim.devices.mtj_map_csv`), classifying their defects, their statistics and a
  generator of die maps (:mod:`~memcosim.devices.mtj_die_generator`).
* :mod:`memcosim.devices.pulse_energy` — the energy laws of one pulse (conduction, capacitive,
  switching), written once; :mod:`~memcosim.devices.hzo_energy` and
  :mod:`~memcosim.devices.mtj_energy` apply them to each family's cell.
* :mod:`memcosim.devices.hzo` — HZO synapses: the pulse API (NLS switching with history,
  symmetry point, the torch pulse response used in training), built on
  :mod:`~memcosim.devices.hzo_params` (parameters), :mod:`~memcosim.devices.hzo_switching` (the
  switching law and state) and :mod:`~memcosim.devices.hzo_electrical` (conduction, switching
  charge); :mod:`~memcosim.devices.hzo_kinetics` is the second HZO model (one field law over a
  distribution of switching voltages), stepped by the same API.
* :mod:`memcosim.devices.measurements` / :mod:`memcosim.devices.calibrate` — measured data in,
  fitted parameters out (:mod:`~memcosim.devices.calibrate_hzo`,
  :mod:`~memcosim.devices.calibrate_kinetics`, :mod:`~memcosim.devices.calibrate_mtj`,
  :mod:`~memcosim.devices.fit_result`; shared: :mod:`~memcosim.devices.sweep_fit`), held-out
  scores (:mod:`~memcosim.devices.calibrate_validate`, :mod:`~memcosim.devices.calibrate_split`).
"""

from memcosim.devices.hzo import HZOParams, SwitchingKinetics, apply_pulses, pulse_response, symmetry_point
from memcosim.devices.hzo_kinetics import FieldLaw, HZOKineticsParams
from memcosim.devices.mtj import DefectRates, MTJParams, defect_map, switching_probability
from memcosim.devices.presets import load_device_params, preset_names

__all__ = [
    "HZOParams",
    "SwitchingKinetics",
    "HZOKineticsParams",
    "FieldLaw",
    "MTJParams",
    "DefectRates",
    "apply_pulses",
    "pulse_response",
    "symmetry_point",
    "switching_probability",
    "defect_map",
    "load_device_params",
    "preset_names",
]
