import gzip
import json

import numpy as np
import pytest

from memcosim.devices import load_device_params
from memcosim.base.errors import ConfigError
from memcosim.training import AnalogSGD, EnergyConfig, HZOPulsed, MixedPrecision, TileConfig, WriteEnergyTable
from memcosim.training.data import load_mnist, read_idx
from memcosim.training.trainer import TrainConfig, train
from tests.conftest import REPO, run_cli

HZO = load_device_params("hzo")


def hzo_config(epochs=2, update=None):
    tile = TileConfig(device=HZOPulsed(HZO, 3.0, 2e-8, device_to_device_std=0.05, cycle_to_cycle_std=0.02),
                      update=update or MixedPrecision(),
                      energy=EnergyConfig(write=WriteEnergyTable.from_device(HZO, 3.0, 2e-8)))
    return TrainConfig(tile=tile, dataset="digits", hidden_sizes=(16,), epochs=epochs, batch_size=16, learning_rate=0.1, seed=4)


def test_training_learns_and_reports_energy(tmp_path):
    results = train(hzo_config(epochs=3), tmp_path, progress=False)
    assert results["test_accuracy"] > 0.5  # 10 classes: chance is 0.1
    assert len(results["epochs"]) == 3
    assert results["pulses_total"] == sum(e["pulses"] for e in results["epochs"]) > 0
    assert results["total_write_energy_j"] == pytest.approx(sum(e["write_energy_j"] for e in results["epochs"]), rel=1e-9)
    assert results["energy_per_update_j"] == pytest.approx(results["total_write_energy_j"] / results["updates"], rel=1e-12)
    assert results["total_read_energy_j"] > 0
    on_disk = json.loads((tmp_path / "results.json").read_text())
    assert on_disk["test_accuracy"] == results["test_accuracy"]
    assert (tmp_path / "training.png").stat().st_size > 1000


def test_same_seed_same_result_and_resume_equals_uninterrupted(tmp_path):
    full = train(hzo_config(epochs=2, update=AnalogSGD(pulse_mode="stochastic")), tmp_path / "a", progress=False, plots=False)
    again = train(hzo_config(epochs=2, update=AnalogSGD(pulse_mode="stochastic")), tmp_path / "b", progress=False, plots=False)
    strip = lambda r: {k: v for k, v in r.items() if k != "epochs"} | {"epochs": [{k: v for k, v in e.items() if k != "elapsed_s"} for e in r["epochs"]]}  # noqa: E731
    assert strip(full) == strip(again)
    # interrupted after one epoch, then resumed
    train(hzo_config(epochs=1, update=AnalogSGD(pulse_mode="stochastic")), tmp_path / "c", progress=False, plots=False)
    resumed = train(hzo_config(epochs=2, update=AnalogSGD(pulse_mode="stochastic")), tmp_path / "c", resume=True, progress=False, plots=False)
    assert strip(resumed) == strip(full)


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
    study.write_text((REPO / "examples" / "quickstart.toml").read_text().split("[sweep]")[0]
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
