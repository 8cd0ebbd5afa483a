"""The text of a study's report: the summary tables of each study kind and how values are shown."""

from pathlib import Path

__all__ = ["DIE_MODES", "training_table", "die_table", "die_header", "align", "fmt", "label"]

DIE_MODES = ("ideal", "hardware_aware", "statistics_aware", "ideal_recalibrated", "statistics_aware_recalibrated",
             "ideal_mapped", "statistics_aware_mapped")
"""The training modes of a die study, in the order the report shows them."""


def training_table(sweep, rows):
    tiled = any("tile_energy_per_update_j" in row for row in rows)
    valid = any("validation_accuracy" in row for row in rows)
    head = sweep + ["accuracy"] + (["validation"] if valid else []) + ["J/update", "epochs to target", "total J", "pulses"]
    lines = [head + (["J/update tile", "J/inference tile"] if tiled else [])]
    for row in rows:
        ept = row["epochs_to_target"]
        tile = ([fmt(row.get("tile_energy_per_update_j")), fmt(row.get("tile_energy_per_inference_j"))] if tiled
                else [])
        validation = [f"{row['validation_accuracy']:.2%}" if "validation_accuracy" in row else "-"] if valid else []
        lines.append([fmt(row[k]) for k in sweep] + [f"{row['test_accuracy']:.2%}"] + validation + [
            f"{row['array_energy_per_update_j']:.3g}", "-" if ept is None else str(ept),
            f"{row['total_energy_j']:.3g}", str(row["pulses_total"])] + tile)
    return align(lines)


def die_table(sweep, rows):
    modes = [m for m in DIE_MODES if any(f"{m}_error_mean" in row for row in rows)]
    tiled = any("tile_energy_per_inference_j" in row for row in rows)
    head = sweep + ["software error"] + [f"{m} (mean ± std, min-max)" for m in modes] + ["J/inference"]
    lines = [head + (["J/inference tile"] if tiled else [])]
    for row in rows:
        cells = [fmt(row[k]) for k in sweep] + [f"{row['software_error']:.2%}"]
        for m in modes:
            if f"{m}_error_mean" in row:
                cells.append(f"{row[f'{m}_error_mean']:.2%} ± {row[f'{m}_error_std']:.2%}, "
                             f"{row[f'{m}_error_min']:.2%}-{row[f'{m}_error_max']:.2%}")
            else:
                cells.append("-")
        tile = [f"{row['tile_energy_per_inference_j']:.3g}" if "tile_energy_per_inference_j" in row else "-"] if tiled else []
        lines.append(cells + [f"{row['read_energy_per_inference_j']:.3g}"] + tile)
    return align(lines)


def align(lines):
    widths = [max(len(line[i]) for line in lines) for i in range(len(lines[0]))]
    return [" | ".join(cell.rjust(w) for cell, w in zip(line, widths)) for line in lines]


def fmt(value):
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return "+".join(Path(v).stem for v in value)  # measured files by their names
    if isinstance(value, dict):  # a section's fields swept together
        return " ".join(f"{k}={fmt(v)}" for k, v in value.items())
    return f"{value:.3g}" if isinstance(value, float) else str(value)


def die_header(study):
    """The "what was run" lines of a die study."""
    from memcosim.build import device_params

    t, d, a, dies = study.training, study.device, study.array, study.dies
    cell = (f"1T1MTJ (word line {a.access_gate_v:g} V, access width {a.access_width_m * 1e9:g} nm)"
            if a.access_transistor else "1R (no access transistor)")
    if d.device_to_device_std > 0:
        spread = f"spread of R_P and TMR {d.device_to_device_std:g} (device.device_to_device_std)"
    else:
        p = device_params(study)
        spread = f"spread of R_P {p.r_p_std:g}, TMR {p.tmr_std:g} (the device's own)"
    trim = f"; threshold trim from {dies.recalibration_inputs} unlabeled inputs" if dies.recalibration_inputs else ""
    return [f"- Device: mtj (`{d.parameters_file or d.preset}`), read {d.read_voltage_v:g} V, {spread}; defect rates "
            f"short {d.short_rate:g}, open {d.open_rate:g}, stuck-P {d.stuck_p_rate:g}, stuck-AP {d.stuck_ap_rate:g}",
            f"- Array: {cell}, {a.rows} x {a.cols} sub-arrays, wire segment {a.r_wire_ohm:g} ohm, driver "
            f"{a.r_driver_ohm:g} ohm, comparator offset sigma {study.circuit.sense_offset_a:g} A; IR-drop on evaluation: "
            f"{dies.ir_model.replace('_', '-')}",
            f"- Network: binary {t.hidden_sizes} hidden comparators on differential MTJ pairs, {t.dataset} pooled "
            f"{dies.input_pool}x{dies.input_pool} and thresholded at {dies.input_threshold:g}; {t.epochs} epochs, batch "
            f"{t.batch_size}, peak learning rate {t.learning_rate:g} (Adam, one-cycle)",
            f"- Dies: {f'maps `{dies.maps}`' if dies.maps else f'{dies.count} generated'}; modes {', '.join(dies.modes)} "
            f"(hardware-aware: {dies.hardware_aware_epochs} epoch(s) of per-die fine-tuning){trim}; "
            f"{dies.dies_per_step} die(s) per statistics-aware step"
            + "".join(f"; {name}" for name, on in (("defect-aware pair programming", dies.program_pairs),
                                                   ("fault-tolerant mapping", dies.fault_tolerant_mapping)) if on)]


def label(row, sweep):
    return ", ".join(f"{k.split('.')[-1]}={fmt(row[k])}" for k in sweep) or row["run_id"]
