import json

import pytest

from memcosim.base.atomic import write_json_atomic
from memcosim.base.errors import ConfigError, SimulationError
from memcosim.base.files import file_sha256, read_json


def test_write_json_atomic_refuses_nan_naming_the_key(tmp_path):
    path = tmp_path / "r.json"
    with pytest.raises(SimulationError, match=r"r.json: refusing to write a non-finite number at runs.1.loss"):
        write_json_atomic(path, {"runs": [{"loss": 1.0}, {"loss": float("nan")}]})
    assert not path.exists()
    write_json_atomic(path, {"a": [1.5]})
    assert json.loads(path.read_text()) == {"a": [1.5]}


@pytest.mark.parametrize("content, match", [
    (b'{"a": NaN}', "not valid JSON"), (b"{", "not valid JSON"), (b"[1, 2]", "must hold a JSON object, got list"),
    (b'{"a": "\xff"}', "not utf-8"),
])
def test_read_json_one_line_errors(tmp_path, content, match):
    path = tmp_path / "x.json"
    path.write_bytes(content)
    with pytest.raises(ConfigError, match=match) as info:
        read_json(path, "thing")
    assert str(path) in str(info.value) and "\n" not in str(info.value)


def test_file_sha256(tmp_path):
    path = tmp_path / "f"
    path.write_bytes(b"abc")
    assert file_sha256(path) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
