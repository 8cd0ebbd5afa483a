"""A study's MTJ die study: its die maps (measured or generated) and its
:class:`~memcosim.training.dies.DiesConfig`."""

import dataclasses
import glob

from memcosim.base.errors import ConfigError

__all__ = ["expand_patterns", "die_map_files", "read_study_maps", "thresholds", "die_statistics", "dies_config"]


def expand_patterns(patterns, what):
    """Files of ``patterns`` (globs expanded, each sorted; repeats dropped); one matching nothing is an error naming ``what``."""
    files = []
    for pattern in patterns:
        found = sorted(glob.glob(pattern)) if glob.has_magic(pattern) else [pattern]
        if not found:
            raise ConfigError(f"{what}: no file matches {pattern!r}")
        files += [f for f in found if f not in files]
    return files


def die_map_files(study):
    """The files of ``dies.maps`` (a glob expanded, sorted); a pattern matching nothing is an error."""
    return [] if study.dies.maps is None else expand_patterns([study.dies.maps], "dies.maps")


def thresholds(study):
    """The study's :class:`~memcosim.devices.mtj_defects.DefectThresholds`."""
    from memcosim.devices.mtj_defects import DefectThresholds

    d = study.dies
    return DefectThresholds(d.short_below_ohm, d.open_above_ohm, d.stuck_tmr_below)


def die_statistics(study):
    """The :class:`~memcosim.devices.mtj_defects.DieStatistics` of generated dies: the device's
    defect rates and the ``[dies]`` spatial structure."""
    from memcosim.devices import mtj
    from memcosim.devices.mtj_defects import DieStatistics

    d, dies = study.device, study.dies
    return DieStatistics.from_rates(mtj.DefectRates(d.short_rate, d.open_rate, d.stuck_p_rate, d.stuck_ap_rate),
                                    row_fail_rate=dies.row_fail_rate, col_fail_rate=dies.col_fail_rate,
                                    cluster_rate=dies.cluster_rate, cluster_radius_cells=dies.cluster_radius_cells)


def read_study_maps(study, params):
    """``(maps, params, statistics)`` of a study with ``dies.maps``: its evaluation dies (maps of
    states only given their junctions, from the seed), the junction and the statistics measured
    from all of its maps."""
    from memcosim.base.seeding import numpy_rng
    from memcosim.devices.mtj_defects import classify, estimate_statistics, with_resistances
    from memcosim.devices.mtj_maps import read_die_maps

    maps = read_die_maps(die_map_files(study))
    limits = thresholds(study)
    params, stats = estimate_statistics(maps, params, study.device.read_voltage_v, limits)
    if "count" in study.dies.model_fields_set:
        if study.dies.count > len(maps):
            raise ConfigError(f"dies.count: the maps hold {len(maps)} dies, got {study.dies.count} (leave count out to "
                              "use every die of the maps)")
        maps = maps[: study.dies.count]
    filled = tuple(m if m.has_resistances else
                   with_resistances(classify(m, limits), params, study.device.read_voltage_v,
                                    numpy_rng(study.seed, f"maps/die{m.die}/junctions"), stats, m.die, m.source)
                   for m in maps)
    return filled, params, stats


def dies_config(study, data_dir=None):
    """The :class:`~memcosim.training.dies.DiesConfig` of an MTJ die study.

    The device spread of every die is the device's own ``r_p_std`` and ``tmr_std``; a study
    ``device.device_to_device_std`` > 0 overrides both (0 keeps the device's own). With
    ``dies.maps`` the junction, its spread and the defect statistics are the maps' own.
    """
    from memcosim.build import access_transistor, device_params
    from memcosim.build_periphery import die_periphery_costs
    from memcosim.training.binary_mtj import DieCircuit
    from memcosim.training.dies import DiesConfig

    tr, d, a, dies = study.training, study.device, study.array, study.dies
    if d.kind != "mtj":
        raise ConfigError("device.kind: the die study needs 'mtj' devices")
    if len(tr.hidden_sizes) != 1:
        raise ConfigError(f"training.hidden_sizes: the binary MTJ network has one hidden layer, got {tr.hidden_sizes}")
    params = device_params(study)
    if d.device_to_device_std > 0:
        params = dataclasses.replace(params, r_p_std=d.device_to_device_std, tmr_std=d.device_to_device_std)
    maps, stats = (), die_statistics(study)
    if dies.maps is not None:
        maps, params, stats = read_study_maps(study, params)
    circuit = DieCircuit(params=params, access=access_transistor(a), read_voltage_v=d.read_voltage_v,
                         read_width_s=study.circuit.read_pulse_width_s, r_wire_ohm=a.r_wire_ohm,
                         r_driver_ohm=a.r_driver_ohm, array_rows=a.rows, array_cols=a.cols,
                         sense_clamp_a=study.circuit.sense_clamp_a, sense_offset_a=study.circuit.sense_offset_a,
                         ir_model=dies.ir_model, periphery=die_periphery_costs(study, params))
    return DiesConfig(circuit=circuit, dataset=tr.dataset, data_dir=data_dir or tr.data_dir, pool=dies.input_pool,
                      hidden=tr.hidden_sizes[0], input_threshold=dies.input_threshold, epochs=tr.epochs,
                      batch_size=tr.batch_size, learning_rate=tr.learning_rate, n_dies=dies.count, seed=study.seed,
                      modes=tuple(dies.modes), hardware_aware_epochs=dies.hardware_aware_epochs,
                      recalibrate_inputs=dies.recalibration_inputs, statistics=stats, maps=maps,
                      thresholds=thresholds(study), dies_per_step=dies.dies_per_step, program_pairs=dies.program_pairs,
                      fault_tolerant_mapping=dies.fault_tolerant_mapping)
