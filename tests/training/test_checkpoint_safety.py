"""No code runs from a checkpoint: crafted pickles are refused before any payload executes, and
every ``torch.load`` in the project passes ``weights_only=True`` (nothing unpickles otherwise)."""

import ast
import os

import pytest
import torch

from memcosim.base.errors import ConfigError
from memcosim.training.checkpoint import CHECKPOINT_FORMAT, load_checkpoint
from tests.conftest import REPO

SOURCES = ["base", "devices", "netlist", "circuits", "training", "memcosim", "examples", "benchmarks"]


class _Payload:
    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (os.system, (f"touch {self.marker}",))


@pytest.mark.parametrize("where", ["top", "inside"])
def test_crafted_checkpoint_runs_nothing(tmp_path, where):
    marker = tmp_path / "pwned"
    path = tmp_path / "checkpoint.pt"
    payload = _Payload(marker)
    state = payload if where == "top" else {"format": CHECKPOINT_FORMAT, "fingerprint": "x", "model": payload}
    torch.save(state, path)
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ConfigError, match="cannot read the checkpoint"):
        load_checkpoint(path, "x", model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert not marker.exists()


@pytest.mark.parametrize("content", [b"", b"garbage", b"PK\x03\x04broken zip", b"\x80\x04K\x01."])
def test_corrupted_checkpoint_is_one_line(tmp_path, content):
    path = tmp_path / "checkpoint.pt"
    path.write_bytes(content)
    model = torch.nn.Linear(2, 2)
    with pytest.raises(ConfigError) as info:
        load_checkpoint(path, "x", model, torch.optim.SGD(model.parameters(), lr=0.1))
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_checkpoint_of_another_shape_is_one_line(tmp_path):
    from memcosim.training.checkpoint import save_checkpoint

    small, big = torch.nn.Linear(2, 2), torch.nn.Linear(3, 3)
    path = tmp_path / "checkpoint.pt"
    save_checkpoint(path, fingerprint="x", epochs=[], elapsed_s=0.0, model=small,
                    optimizer=torch.optim.SGD(small.parameters(), lr=0.1))
    with pytest.raises(ConfigError, match="does not fit this run"):
        load_checkpoint(path, "x", big, torch.optim.SGD(big.parameters(), lr=0.1))


def _calls(tree, attr):
    for node in ast.walk(tree):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and node.func.attr == attr:
            yield node


def test_every_torch_load_is_weights_only_and_nothing_unpickles():
    files = [p for d in SOURCES for p in (REPO / d).rglob("*.py")]
    assert len(files) > 40
    loads = 0
    for path in files:
        tree = ast.parse(path.read_text(encoding="utf-8"))
        for call in _calls(tree, "load"):
            base = call.func.value
            name = base.id if isinstance(base, ast.Name) else getattr(base, "attr", "")
            assert name != "pickle", f"{path}:{call.lineno}: pickle.load of a file"
            if name == "torch":
                loads += 1
                flags = [k for k in call.keywords if k.arg == "weights_only"]
                assert flags and isinstance(flags[0].value, ast.Constant) and flags[0].value.value is True, \
                    f"{path}:{call.lineno}: torch.load without weights_only=True"
        for call in _calls(tree, "loads"):
            base = call.func.value
            assert not (isinstance(base, ast.Name) and base.id in ("pickle", "dill", "cloudpickle")), \
                f"{path}:{call.lineno}: unpickling"
    assert loads >= 1
