import dataclasses
import gzip
import json

import numpy as np
import pytest

from memcosim.devices import load_device_params
from memcosim.base.errors import ConfigError
from memcosim.training import AnalogSGD, EnergyConfig, HZOPulsed, MixedPrecision, TileConfig, WriteEnergyTable
from memcosim.training.data import load_mnist, read_idx
from memcosim.training.run_results import RunResult
from memcosim.training.trainer import TrainConfig, train
from memcosim.run import quickstart_path
from tests.conftest import run_cli

HZO = load_device_params("hzo")


def hzo_config(epochs=2, update=None):
    tile = TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8, device_to_device_std=0.05, cycle_to_cycle_std=0.02),
                      update=update or MixedPrecision(),
                      energy=EnergyConfig(write=WriteEnergyTable.from_device(HZO, 3.0, 2e-8)))
    return TrainConfig(tile=tile, dataset="digits", hidden_sizes=(16,), epochs=epochs, batch_size=16, learning_rate=0.1, seed=4)


def test_training_learns_and_reports_energy(tmp_path):
    results = train(hzo_config(epochs=3), tmp_path, progress=False)
    assert results.test_accuracy > 0.5  # 10 classes: chance is 0.1
    assert len(results.epochs) == 3
    assert results.pulses_total == sum(e["pulses"] for e in results.epochs) > 0
    assert results.total_write_energy_j == pytest.approx(sum(e["write_energy_j"] for e in results.epochs), rel=1e-9)
    assert results.array_energy_per_update_j == pytest.approx(results.total_write_energy_j / results.updates, rel=1e-12)
    assert results.total_read_energy_j > 0
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert RunResult.from_json(on_disk, "results.json") == results
    assert (tmp_path / "training.png").stat().st_size > 1000


def test_same_seed_same_result_and_resume_from_any_epoch_equals_uninterrupted(tmp_path):
    sgd = lambda epochs: hzo_config(epochs=epochs, update=AnalogSGD(pulse_mode="stochastic"))  # noqa: E731
    full = train(sgd(3), tmp_path / "a", progress=False, plots=False)
    again = train(sgd(3), tmp_path / "b", progress=False, plots=False)
    strip = lambda r: dataclasses.replace(r, epochs=tuple({k: v for k, v in e.items() if k != "elapsed_s"} for e in r.epochs))  # noqa: E731
    assert strip(full) == strip(again)
    for done in (1, 2):  # interrupted after `done` epochs, then resumed
        train(sgd(done), tmp_path / f"c{done}", progress=False, plots=False)
        resumed = train(sgd(3), tmp_path / f"c{done}", resume=True, progress=False, plots=False)
        assert strip(resumed) == strip(full)


def test_checkpoint_is_tensors_and_plain_data(tmp_path):
    import torch

    from memcosim.training.checkpoint import CHECKPOINT_FORMAT

    train(hzo_config(epochs=1, update=AnalogSGD(pulse_mode="stochastic")), tmp_path, progress=False, plots=False)
    state = torch.load(tmp_path / "checkpoint.pt", weights_only=True)  # the layers' generator and device arrays included
    assert state["format"] == CHECKPOINT_FORMAT and state["epoch"] == 1 and len(state["epochs"]) == 1
    assert set(state) == {"format", "fingerprint", "epoch", "elapsed_s", "epochs", "model", "optimizer", "scheduler", "ledger"}
    assert any(k.endswith("_extra_state") for k in state["model"])
    # a checkpoint of another format (an older memcosim) is refused in one line
    torch.save({"fingerprint": "x", "epoch": 1}, tmp_path / "checkpoint.pt")
    with pytest.raises(ConfigError, match="is not a memcosim-checkpoint/1 checkpoint"):
        train(hzo_config(epochs=1, update=AnalogSGD(pulse_mode="stochastic")), tmp_path, resume=True, progress=False, plots=False)


def test_epochs_without_pulses_are_warned_about(tmp_path, caplog):
    """2 us pulses move the default device by ~16 % of its range: mixed precision never fires one in 46 updates."""
    tile = TileConfig(device=HZOPulsed(HZO, 3.0, 2e-6), update=MixedPrecision(),
                      energy=EnergyConfig(write=WriteEnergyTable.from_device(HZO, 3.0, 2e-6)))
    config = TrainConfig(tile=tile, dataset="digits", hidden_sizes=(32,), epochs=2, batch_size=64, learning_rate=0.1)
    with caplog.at_level("WARNING", logger="memcosim.training.loop"):
        results = train(config, tmp_path, progress=False, plots=False)
    assert results.pulses_total == 0
    assert len(results.warnings) == 1 and "every epoch of 2 applied no programming pulses" in results.warnings[0]
    assert tuple(json.loads((tmp_path / "results.json").read_text())["warnings"]) == results.warnings
    logged = [r for r in caplog.records if r.levelname == "WARNING"]
    assert len(logged) == 1 and "no programming pulses" in logged[0].getMessage()  # once per run
    # floating point expects no pulses
    assert train(TrainConfig(tile=None, dataset="digits", epochs=1), tmp_path / "float", progress=False, plots=False).warnings == ()


def test_the_default_study_applies_pulses_and_learns(tmp_path):
    from memcosim.build import train_config
    from memcosim.config import parse_study

    results = train(train_config(parse_study({"name": "x"})), tmp_path, progress=False, plots=False)
    assert results.algorithm == "mixed_precision" and results.pulse_width_s == 2e-8
    assert all(e["pulses"] > 0 for e in results.epochs) and results.warnings == ()
    assert results.test_accuracy > 0.4  # 10 classes: chance is 0.1 (0.07 with the old 2 us default)


def test_resume_refuses_a_different_configuration(tmp_path):
    train(hzo_config(epochs=1), tmp_path, progress=False, plots=False)
    with pytest.raises(ConfigError, match="different configuration"):
        train(hzo_config(epochs=1, update=AnalogSGD()), tmp_path, resume=True, progress=False, plots=False)


def test_read_idx_errors_name_the_file(tmp_path):
    bad = tmp_path / "train-images-idx3-ubyte.gz"
    bad.write_bytes(gzip.compress(b"\x00\x00\x08\x03\x00\x00\x00\x02\x00\x00\x00\x02\x00\x00\x00\x02" + b"\x01" * 5))
    with pytest.raises(ConfigError, match="train-images-idx3-ubyte.gz.*8 bytes"):
        read_idx(bad)
    with pytest.raises(ConfigError, match="training.data_dir.*t10k|training.data_dir.*train"):
        load_mnist(tmp_path / "empty")


def test_mnist_loads_from_shared_data(mnist_dir):
    data = load_mnist(mnist_dir)
    assert data.train_x.shape == (60000, 784) and data.test_x.shape == (10000, 784)
    assert float(data.train_x.max()) == 1.0 and float(data.train_x.min()) == 0.0
    assert sorted(np.unique(data.test_y.numpy()).tolist()) == list(range(10))


def test_cli_train_and_resume(tmp_path):
    study = tmp_path / "s.toml"
    study.write_text(quickstart_path().read_text().split("[sweep]")[0]
                     .replace("epochs = 4", "epochs = 2"))
    out = tmp_path / "out"
    proc = run_cli("train", str(study), "--out", str(out), "--models", "none", "-q")
    assert proc.returncode == 0, proc.stderr
    assert "test accuracy" in proc.stdout
    first = json.loads((out / "results.json").read_text())
    proc = run_cli("train", str(study), "--out", str(out), "--models", "none", "-q", "--resume")
    assert proc.returncode == 0, proc.stderr
    assert json.loads((out / "results.json").read_text())["test_accuracy"] == first["test_accuracy"]
    proc = run_cli("train", str(study), "--out", str(out), "--models", str(tmp_path / "missing.json"))
    assert proc.returncode == 2 and "--models" in proc.stderr and "Traceback" not in proc.stderr


def test_learning_rate_halves_on_schedule_and_resumes_on_it(tmp_path):
    config = dataclasses.replace(hzo_config(epochs=5), lr_halve_every_epochs=2)
    full = train(config, tmp_path / "a", progress=False, plots=False)
    assert [e["learning_rate"] for e in full.epochs] == pytest.approx([0.1, 0.1, 0.05, 0.05, 0.025], rel=1e-12)
    train(dataclasses.replace(config, epochs=3), tmp_path / "b", progress=False, plots=False)
    resumed = train(config, tmp_path / "b", resume=True, progress=False, plots=False)
    assert [e["learning_rate"] for e in resumed.epochs] == [e["learning_rate"] for e in full.epochs]
    assert resumed.test_accuracy == full.test_accuracy
    with pytest.raises(ConfigError, match="training.lr_halve_every_epochs"):
        dataclasses.replace(config, lr_halve_every_epochs=-1)
