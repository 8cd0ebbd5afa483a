"""The layering, checked from the import graph with import-linter (contract in pyproject.toml).

The layers live in their own folders (``devices/`` is ``memcosim.devices``, ...) and are mapped
into one package by ``[tool.setuptools.package-dir]``; import-linter's graph builder (grimp)
walks a package's folder on disk, so the test lays the modules out as they are installed
(a copy in a temporary folder) and lints that copy.
"""

import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]


def _pyproject():
    return tomllib.loads((ROOT / "pyproject.toml").read_text())


def _installed_layout(dest):
    for package, folder in _pyproject()["tool"]["setuptools"]["package-dir"].items():
        target = dest.joinpath(*package.split("."))
        target.mkdir(parents=True, exist_ok=True)
        for src in (ROOT / folder).glob("*.py"):
            shutil.copy(src, target / src.name)
    shutil.copy(ROOT / "pyproject.toml", dest / "pyproject.toml")
    return dest


def _lint(tree):
    code = "import sys; from importlinter.cli import lint_imports; sys.exit(lint_imports(config_filename='pyproject.toml'))"
    return subprocess.run([sys.executable, "-c", code], cwd=tree, env={"PYTHONPATH": str(tree), "PATH": ""},
                          capture_output=True, text=True, timeout=120)


@pytest.fixture(scope="module")
def tree(tmp_path_factory):
    return _installed_layout(tmp_path_factory.mktemp("layout"))


def test_lower_layers_never_import_higher_ones(tree):
    result = _lint(tree)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 kept, 0 broken" in result.stdout


def test_every_face_module_is_in_the_contract():
    """A new module in memcosim/ must be placed in the contract's face layer, not escape it."""
    face = _pyproject()["tool"]["importlinter"]["contracts"][0]["layers"][0]
    listed = {name.strip() for name in face.split(":")}
    present = {f"memcosim.{p.stem}" for p in (ROOT / "memcosim").glob("*.py") if p.stem != "__init__"}
    assert present == listed


def test_an_upward_import_breaks_the_contract(tmp_path):
    tree = _installed_layout(tmp_path)
    hzo = tree / "memcosim" / "devices" / "hzo.py"
    hzo.write_text(hzo.read_text() + "\nfrom memcosim.training import layers  # noqa\n")
    result = _lint(tree)
    assert result.returncode != 0
    assert "memcosim.devices.hzo -> memcosim.training.layers" in result.stdout
