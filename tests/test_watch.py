"""Long studies you can watch (issue 18): progress inside runs, partial reports, warnings, TensorBoard."""

import io
import json
import os
import signal
import subprocess
import sys
import time
from types import SimpleNamespace

import pytest

from memcosim.cli import main
from memcosim.config import parse_study
from memcosim.progress import Progress, RunEvent, run_label
from memcosim.run import quickstart_path, run_study
from memcosim.watch import RunWatch, at_chance, die_steps, outside_characterisation

TINY = {
    "name": "tiny", "seed": 3,
    "device": {"kind": "hzo", "pulse_width_s": 2e-8, "device_to_device_std": 0.05},
    "circuit": {"energy_model": "device"},
    "training": {"dataset": "digits", "hidden_sizes": [8], "epochs": 2, "batch_size": 64, "learning_rate": 0.1},
    "output": {"plots": False},
}


def _toml(path, study=TINY, sweep=None):
    """A study file of ``study`` (two-level dicts) with ``sweep``."""
    lines = [f"name = {json.dumps(study['name'])}", f"seed = {study['seed']}"]
    for section in ("device", "circuit", "training", "output"):
        lines.append(f"[{section}]")
        lines += [f"{k} = {json.dumps(v)}" for k, v in study[section].items()]
    if sweep:
        lines.append("[sweep]")
        lines += [f'"{k}" = {json.dumps(v)}' for k, v in sweep.items()]
    path.write_text("\n".join(lines) + "\n")
    return path


def _quickstart(tmp_path):
    """The built-in quick start, one epoch, pulses costed at device level (no ngspice needed).

    The costing does not change which pulses fire: at 2 us and 0.2 ms one device step is larger
    than the first epoch's updates add up to, as in the quick start itself.
    """
    text = quickstart_path().read_text()
    text = text.replace('engine = "native"', 'engine = "native"\nenergy_model = "device"').replace("epochs = 4", "epochs = 1")
    text = text.replace("plots = true", "plots = false")
    path = tmp_path / "quickstart.toml"
    path.write_text(text)
    return path


def test_quickstart_in_a_pool_watched_in_a_log_with_warnings_and_tensorboard(tmp_path, capsys):
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator
    from tensorboard.plugins.hparams import plugin_data_pb2

    out = tmp_path / "out"
    assert main(["run", str(_quickstart(tmp_path)), "--out", str(out), "--workers", "2", "--tensorboard"]) == 0
    log = capsys.readouterr().out  # not a terminal: plain lines
    widths = {"2e-08": "000", "2e-06": "001", "0.0002": "002"}
    for width, index in widths.items():
        label = f"{index}_pulse_width_s={width}"
        assert f"run {label}: epoch 1/1, accuracy " in log
        no_pulses = f"run {label}: warning: epoch 1 applied no programming pulses"
        # once per run, and only for the runs that applied none
        assert log.count(no_pulses) == (0 if width == "2e-08" else 1)
        # the epoch is seen while the run trains: before the line of the finished run
        assert log.index(f"run {label}: epoch 1/1") < log.index(f"device.pulse_width_s={float(width)}: accuracy")
    record = json.loads(next(out.glob("runs/001_*/run.json")).read_text())
    assert any("applied no programming pulses" in w for w in record["results"]["warnings"])
    report = (out / "report.md").read_text()
    assert "## Warnings" in report and "`001_pulse_width_s=2e-06_" in report
    assert json.loads((out / "results.json").read_text())["partial"] is False
    # TensorBoard's own reader: one run per pulse width, curves per epoch, the width as hyperparameter
    runs = sorted(p for p in (out / "tb").iterdir())
    assert [p.name for p in runs] == [f"{i}_pulse_width_s={w}" for w, i in widths.items()]
    for path, width in zip(runs, widths):
        acc = EventAccumulator(str(path)).Reload()
        assert {"accuracy/test", "loss/train", "pulses/epoch", "pulses/cumulative", "energy/write_j", "energy/read_j",
                "energy/write_cumulative_j", "energy/read_cumulative_j"} <= set(acc.Tags()["scalars"])
        assert [s.step for s in acc.Scalars("accuracy/test")] == [1]
        start = acc.PluginTagToContent("hparams")["_hparams_/session_start_info"]
        hparams = plugin_data_pb2.HParamsPluginData.FromString(start).session_start_info.hparams
        assert hparams["device.pulse_width_s"].number_value == pytest.approx(float(width))


def test_dask_runs_report_progress_through_the_event_stream(tmp_path):
    from distributed import LocalCluster

    study = parse_study({**TINY, "training": {**TINY["training"], "epochs": 1}, "sweep": {"device.pulse_width_s": [2e-8, 2e-6]}})
    shown = io.StringIO()
    with LocalCluster(n_workers=1, threads_per_worker=1, processes=False, dashboard_address=None) as cluster:
        dask = run_study(study, tmp_path / "dask", scheduler=cluster.scheduler_address,
                         progress=Progress(bars=False, file=shown))
    text = shown.getvalue()
    for label in ("000_pulse_width_s=2e-08", "001_pulse_width_s=2e-06"):
        assert f"run {label}: epoch 1/1, accuracy" in text
    assert text.count("run 001_pulse_width_s=2e-06: warning: epoch 1 applied no programming pulses") == 1
    # watching changes nothing: the same records as a silent inline run
    quiet = run_study(study, tmp_path / "quiet", progress=False)
    strip = lambda r: [{k: v for k, v in run.items() if k != "epochs"} for run in r["runs"]]  # noqa: E731
    assert strip(dask) == strip(quiet)
    assert [[e["test_accuracy"] for e in run["epochs"]] for run in dask["runs"]] == \
        [[e["test_accuracy"] for e in run["epochs"]] for run in quiet["runs"]]


def test_inline_sweep_logged_to_a_file_killed_leaves_a_partial_report_that_memcosim_report_rebuilds(tmp_path, capsys):
    study = _toml(tmp_path / "sweep.toml", sweep={"training.epochs": [2, 60, 60]})
    out, log = tmp_path / "out", tmp_path / "run.log"
    with log.open("w") as fh:  # a log file: plain lines, each epoch as the run trains
        proc = subprocess.Popen([sys.executable, "-m", "memcosim", "run", str(study), "--out", str(out)],
                                stdout=fh, stderr=subprocess.STDOUT)
        deadline = time.time() + 120
        while time.time() < deadline and not (out / "report.md").exists():
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    text = log.read_text()
    assert "\r" not in text and "\x1b[" not in text  # no bar drawing in a file
    first, second, done = (text.index("run 000_epochs=2: epoch 1/2, accuracy "), text.index("run 000_epochs=2: epoch 2/2, accuracy "),
                           text.index("[1/3] training.epochs=2: accuracy"))
    assert first < second < done
    assert "J/update" in text[first:second] and "ETA" in text[first:second]
    # killed in the second run: the report of the first is there, marked partial
    assert len(list(out.glob("runs/*/run.json"))) == 1, "the kill must land in the second run"
    results = json.loads((out / "results.json").read_text())
    assert results["partial"] is True and results["runs_total"] == 3 and len(results["runs"]) == 1
    assert (out / "report.md").read_text().count("**Partial: 1 of 3 run(s) finished.**") == 1
    assert len((out / "results.csv").read_text().splitlines()) == 2
    for name in ("results.json", "results.csv", "report.md"):
        (out / name).unlink()
    assert main(["report", str(out)]) == 0
    assert "partial: 1 of 3 run(s) finished" in capsys.readouterr().out
    rebuilt = json.loads((out / "results.json").read_text())
    assert {k: v for k, v in rebuilt.items() if k != "elapsed_s"} == {k: v for k, v in results.items() if k != "elapsed_s"}
    assert "**Partial: 1 of 3" in (out / "report.md").read_text()
    # the TensorBoard log of what finished, written afterwards into a folder of one's choice
    assert main(["report", str(out), "--tensorboard-dir", str(tmp_path / "tb")]) == 0
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    (run,) = (tmp_path / "tb").iterdir()
    assert run.name == "000_epochs=2"
    assert [s.step for s in EventAccumulator(str(run)).Reload().Scalars("accuracy/test")] == [1, 2]
    assert main(["report", str(tmp_path)]) == 2
    assert "no study.json" in capsys.readouterr().err


def test_tensorboard_asked_for_without_tensorboard_is_one_line(tmp_path, monkeypatch, capsys):
    monkeypatch.setitem(sys.modules, "torch.utils.tensorboard", None)  # as if tensorboard were not installed
    out = tmp_path / "out"
    assert main(["run", str(_toml(tmp_path / "tiny.toml")), "--out", str(out), "--tensorboard"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "--tensorboard" in err[0] and "pip install tensorboard" in err[0]
    assert not out.exists()  # refused before any work


def test_bars_on_a_terminal_one_per_active_run():
    screen = io.StringIO()
    show = Progress(bars=True, file=screen)
    show.study(2, 0)
    for run in ("000_w=1_aaaaaa", "001_w=2_bbbbbb"):
        show.event(RunEvent(run, "start", total=3))
        show.event(RunEvent(run, "progress", done=0.5, total=3))
    show.event(RunEvent("000_w=1_aaaaaa", "epoch", done=1, total=3, metrics={"accuracy": 0.42, "array_energy_per_update_j": 3e-12}))
    show.finished("000_w=1_aaaaaa", 1)
    show.event(RunEvent("000_w=1_aaaaaa", "epoch", done=2, total=3))  # late: ignored
    show.close()
    text = screen.getvalue()
    assert "runs:" in text and "000_w=1:" in text and "001_w=2:" in text and "acc 42.00%" in text
    assert "epoch 2/3" not in text


def test_die_study_progress_names_mode_and_die():
    events = []
    watch = RunWatch("000_single_abcdef", events.append)
    watch.start_dies(2, 3, 1, ("ideal", "statistics_aware", "hardware_aware"))
    for stage, epoch in (("ideal", 1), ("ideal", 2), ("statistics_aware", 1), ("hardware_aware/die1", 1)):
        watch.stage(stage, epoch)
    got = [(e["done"], e["text"]) for e in events if e["kind"] == "stage"]
    assert got == [(1, "ideal epoch 1/2"), (2, "ideal epoch 2/2"), (3, "statistics_aware epoch 1/2"),
                   (6, "hardware_aware die 2/3")]
    assert events[0]["kind"] == "start" and events[0]["total"] == 7
    assert die_steps(5, 36, 1, ("ideal", "hardware_aware"))[1] == 41


def test_checks():
    assert at_chance([{"epoch": 1, "test_accuracy": 0.5}, {"epoch": 2, "test_accuracy": 0.1}], 10, 359).startswith(
        "test accuracy 10.00% after epoch 2 is at chance")
    assert at_chance([{"epoch": 1, "test_accuracy": 0.16}], 10, 359) is None
    assert at_chance([{"epoch": 1, "test_accuracy": 0.12}], 10, 10000) is None
    grid = {"widths_s": [2e-8, 2e-7, 2e-4], "amplitudes_v": [2.5, 3.0, 3.5]}
    assert outside_characterisation(grid, 2e-8, [3.5]) is None
    assert "device.pulse_width_s = 0.001 s is outside the 2e-08-0.0002 s" in outside_characterisation(grid, 1e-3, [3.0])
    assert "device.pulse_amplitude_v = 4 V" in outside_characterisation(grid, 2e-6, [4.0])
    assert run_label("012_pulse_width_s=2e-06_ab12cd") == "012_pulse_width_s=2e-06"
    # a warning is sent once per run, and the run's list comes from its epochs alone
    events = []
    watch = RunWatch("r", events.append)

    class Data:
        n_classes, test_y = 10, [0] * 359

    watch.data(Data)
    watch.start_training(3, True, outside_characterisation(grid, 1e-3, [3.0]))
    for epoch in (1, 2):
        watch.epoch({"epoch": epoch, "test_accuracy": 0.1, "pulses": 0, "updates": 5, "write_energy_j": 0.0})
    sent = [e["code"] for e in events if e["kind"] == "warning"]
    assert sent == ["energy_range", "no_pulses", "chance"]
    final = watch.finish_training(SimpleNamespace(warnings=["every epoch of 2 applied no programming pulses: ..."],
                                                  epochs=[{"epoch": 1, "test_accuracy": 0.1}]))
    assert len(final) == 3 and [e["code"] for e in events if e["kind"] == "warning"] == sent


def test_a_runs_last_lines_are_waited_for_behind_its_result():
    """A pool worker's queue may deliver a run's last events after its result: the study waits for
    the run's end event (here the events are put a moment after the wait begins)."""
    import threading
    import time

    from memcosim.channels import Channel, Sink
    from memcosim.progress import RunEvent

    seen = []

    class Display:
        def event(self, event):
            seen.append(event.kind)

    sink = Sink(Display(), None)
    channel = Channel(sink, workers=2, client=None)

    def late():
        time.sleep(0.3)
        for kind in ("epoch", "end"):
            channel.queue.put(RunEvent("r1", kind).to_json())

    threading.Thread(target=late).start()
    channel.wait_for_end("r1", timeout_s=10.0)
    assert seen == ["epoch"] and "r1" in sink.ended
