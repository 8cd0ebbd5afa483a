"""Study kinds as a protocol: what each kind of run supplies to the runner, the report and the CLI.

A study point is one of two kinds, told by its device (:func:`kind_for`) and recorded in its
``run.json`` as ``"kind"`` (:func:`kind_of`; a record written before the field existed is a
training run unless it holds die results):

* ``training`` (:data:`TRAINING`): an MLP or CNN trained on crossbar tiles
  (:func:`memcosim.training.trainer.train`), reported by accuracy and energy per update;
* ``mtj_dies`` (:data:`DIES`): the MTJ die study (:func:`memcosim.training.dies.run_dies`),
  reported by the misclassification error of every die per training mode.

Each kind supplies, as :class:`StudyKind` says: ``run`` (one point, in any process), ``row`` (the
flat headline fields of one run for ``results.csv`` and the tables), ``detail`` (what
``results.json`` keeps of a run beside its row), ``table``, ``plots``, ``describe`` (the report's
"What was run"), ``notes`` (the report's kind-specific sections), ``headline`` (the CLI's line
per finished run) and ``result_key`` (which points give equal results: the runner trains one of
them). The runner and the report call these; they hold no branch on the kind.
"""

import dataclasses
import hashlib
import json
from typing import Protocol

from memcosim.report_area import area_fields, area_markdown
from memcosim.report_tables import DIE_MODES, die_header, die_table, training_table
from memcosim.report_tile import tile_fields, tile_markdown

__all__ = ["StudyKind", "TRAINING", "DIES", "KINDS", "kind_for", "kind_of"]

_COLUMNS = ["test_accuracy", "array_energy_per_update_j", "epochs_to_target", "total_energy_j", "total_write_energy_j",
            "total_read_energy_j", "pulses_total", "algorithm", "pulse_width_s", "pulse_amplitude_v", "update_scheme"]


class StudyKind(Protocol):
    """What a kind of study supplies (module docstring)."""

    name: str

    def run(self, point, task, watch, run_dir):
        """Run one point; returns its results (a typed record: ``to_json`` / ``from_json``)."""

    def row(self, results):
        """The flat headline fields of one run's results (a dict: a row of ``results.csv``)."""

    def detail(self, results):
        """What ``results.json`` keeps of one run beside its row."""

    def table(self, sweep, rows):
        """The summary table of this kind's rows, as aligned text lines."""

    def plots(self, study, rows, records, out):
        """Write this kind's figures into ``out``; returns their file names."""

    def describe(self, study, sweep_line):
        """The report's "What was run" lines."""

    def notes(self, rows, label):
        """The report's sections of this kind after its results (markdown lines)."""

    def headline(self, results):
        """The CLI's few words on one finished run."""

    def result_key(self, point, task, data_inputs):
        """A hash of what decides the point's results when that is less than its identity (points of one
        study with equal keys give equal results, so the runner trains one and copies it), or None
        (the identity decides). ``task``: its :class:`~memcosim.run_task.RunTask`; ``data_inputs``:
        the SHA-256 of its dataset files."""


class _Training:
    name = "training"

    def run(self, point, task, watch, run_dir):
        from memcosim.build import train_config
        from memcosim.circuits.models import CircuitModels
        from memcosim.run_task import energy_warning
        from memcosim.training.trainer import train

        models = CircuitModels.load(task.models_path) if task.models_path else None
        config = train_config(point, models, data_dir=task.data_dir, device=task.device)
        watch.start_training(config.epochs, config.tile is not None, energy_warning(point, models))
        with watch.watching():
            results = train(config, run_dir, resume=True, progress=False, plots=False, on_data=watch.data,
                            on_epoch=watch.epoch, on_batch=watch.batch)
        results = dataclasses.replace(results, warnings=tuple(watch.finish_training(results)))
        if config.tile is not None and config.tile.energy.periphery is not None:
            from memcosim.build_area import study_area

            results = dataclasses.replace(results, area=study_area(point, config.tile.device.amplitude_v))
        return results

    def row(self, res):
        row = {k: getattr(res, k) for k in _COLUMNS}
        if res.validation_accuracy is not None:  # a study that holds out a validation set
            row["validation_accuracy"] = res.validation_accuracy
        row.update({f"write_{part}": value for part, value in res.write_energy_split_j.items()})
        row.update(tile_fields(res.tile, res.updates))
        row.update(area_fields(res.area))
        return row

    def detail(self, res):
        return {"epochs": list(res.epochs), "warnings": list(res.warnings)}

    def table(self, sweep, rows):
        return training_table(sweep, rows)

    def plots(self, study, rows, records, out):
        from memcosim.report_plots import training_plots

        return training_plots(study, rows, records, out)

    def describe(self, study, sweep_line):
        t, d, a = study.training, study.device, study.array
        width = "their own" if d.pulse_width_s == "measured" else f"{d.pulse_width_s:g} s"
        if d.kind == "measured":
            law = ("the published study's piecewise-step fit of each file" if d.measured_law == "published_fit"
                   else "memcosim's step tables")
            noise = "none" if d.write_noise == "none" else "the measured scatter"
            device = [f"- Device: measured HZO response from `{'`, `'.join(d.measured_from)}` (each run: the files of its "
                      f"pulse width, {width} here; step law: {law}), pulses at the amplitude the measured sweep applied at the "
                      f"device's state and costed at it; cycle-to-cycle noise: {noise}"
                      f"{f' plus {d.cycle_to_cycle_std:g} in quadrature' if d.cycle_to_cycle_std else ''}; electrical model "
                      f"of preset `{d.parameters_file or d.preset}` with the measured window; device-to-device spread "
                      f"{d.device_to_device_std:g}"]
        else:
            source = d.aihwkit_device if d.kind == "piecewise_step" else d.parameters_file or d.preset
            device = [f"- Device: {d.kind} (`{source}`), pulses {d.pulse_amplitude_v:g} V x "
                      f"{width}, device-to-device spread {d.device_to_device_std:g}, cycle-to-cycle "
                      f"{d.cycle_to_cycle_std:g}"]
        return [*device,
                f"- Array: {a.rows} x {a.cols}, wire segment {a.r_wire_ohm:g} ohm, "
                f"driver {a.r_driver_ohm:g} ohm, write scheme {study.circuit.write_scheme}, update scheme "
                f"{study.circuit.update_scheme} (auto: row-parallel transfers, parallel stochastic slots)",
                f"- Training: {t.dataset}, MLP hidden {t.hidden_sizes} ({t.activation}), {t.epochs} epochs, batch {t.batch_size}, "
                f"learning rate {t.learning_rate:g}, {t.algorithm} ({t.pulse_mode} pulses, {t.update_order} order, for analog SGD), "
                f"target accuracy {t.target_accuracy:.0%}",
                sweep_line, "",
                "Energy per update: mean write energy of one optimizer step over the whole network, every pulse costed",
                "with the ngspice-fitted write-energy model at the cell's state; total energy adds the reads.", ""]

    def notes(self, rows, label):
        return tile_markdown(rows, label) + area_markdown(rows, label)

    def headline(self, res):
        return f"accuracy {res.test_accuracy:.2%}, {res.array_energy_per_update_j:.3g} J/update"

    def result_key(self, point, task, data_inputs):
        # a point without tiles (floating point) is decided by its training configuration and data alone:
        # a float baseline swept across device settings trains once
        from memcosim.build import has_tile, train_config

        if has_tile(point):
            return None
        config = train_config(point, None, data_dir=task.data_dir, device=task.device)
        text = json.dumps({"config": config.fingerprint(), "epochs": config.epochs, "data": data_inputs}, sort_keys=True)
        return hashlib.sha256(text.encode()).hexdigest()


class _Dies:
    name = "mtj_dies"

    def run(self, point, task, watch, run_dir):
        from memcosim.build import dies_config
        from memcosim.training.dies import run_dies

        cfg = dies_config(point, data_dir=task.data_dir)
        watch.start_dies(cfg.epochs, cfg.evaluation_dies, cfg.hardware_aware_epochs, cfg.modes)
        # finished stages (trained networks, per-die results) survive an interrupted run
        return run_dies(cfg, progress=watch.stage, checkpoint_dir=run_dir / "checkpoint")

    def row(self, res):
        row = {"software_error": res.software_error, "mtj_count": res.mtj_count,
               "read_energy_per_inference_j": res.read_energy_per_inference_j}
        for mode in DIE_MODES:
            if mode in res.modes:
                m = res.modes[mode]
                row.update({f"{mode}_error_mean": m.mean, f"{mode}_error_std": m.std,
                            f"{mode}_error_min": m.min, f"{mode}_error_max": m.max,
                            f"{mode}_read_energy_per_inference_j": m.read_energy_per_inference_j})
                if m.tile_energy_per_inference_j is not None:
                    row[f"{mode}_tile_energy_per_inference_j"] = m.tile_energy_per_inference_j
        if res.tile is not None:
            row.update({"tile_energy_per_inference_j": res.tile_energy_per_inference_j,
                        "tile_latency_per_inference_s": res.tile.latency_per_inference_s})
        row.update({"training_read_energy_j": res.read_energy_j.training,
                    "evaluation_read_energy_j": res.read_energy_j.evaluation})
        return row

    def detail(self, res):
        return {"modes": {mode: summary.to_json() for mode, summary in res.modes.items()}}

    def table(self, sweep, rows):
        return die_table(sweep, rows)

    def plots(self, study, rows, records, out):
        from memcosim.report_plots import die_plots

        return die_plots(study, rows, records, out)

    def describe(self, study, sweep_line):
        return die_header(study) + [
            sweep_line, "",
            "Errors are misclassification rates on the test images, per die. J/inference: the DC read energy",
            f"(t V^2 sum g, one {study.circuit.read_pulse_width_s:g} s read per layer) of one test inference of the "
            "ideal network on die 0;",
            "results.csv also has it per mode (mean over the dies) and the ledger's training and evaluation reads.", ""]

    def notes(self, rows, label):
        from memcosim.report_dies import energy_lines

        return tile_markdown(rows, label) + area_markdown(rows, label) + energy_lines(rows, label, DIE_MODES)

    def headline(self, res):
        modes = ", ".join(f"{m} {v.mean:.2%}" for m, v in res.modes.items())
        return f"software error {res.software_error:.2%}; mean die error: {modes}"

    def result_key(self, point, task, data_inputs):
        return None


TRAINING, DIES = _Training(), _Dies()
KINDS = {kind.name: kind for kind in (TRAINING, DIES)}
"""Every study kind by its name."""


def kind_for(point):
    """The :class:`StudyKind` of a study point: the die study for an MTJ device, training otherwise."""
    return DIES if point.device.kind == "mtj" else TRAINING


def kind_of(record):
    """The :class:`StudyKind` of a run record (``run.json``): its ``"kind"`` (a record from before the
    field was written every time is a die study when it says so, training otherwise)."""
    return KINDS[record.get("kind") or TRAINING.name]

