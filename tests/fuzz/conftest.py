"""The fuzz corpus and property tests: every case ends refused cleanly (exit 2, one line) or
solved correctly (checked against an independent answer); the tally is printed at the end."""

import collections

import pytest

from memcosim.cli import main

TALLY = collections.Counter()


def pytest_terminal_summary(terminalreporter):
    if TALLY:
        tried = TALLY["refused"] + TALLY["solved"]
        terminalreporter.write_line(f"fuzz: {tried} cases tried, {TALLY['refused']} refused cleanly (exit 2, one line), "
                                    f"{TALLY['solved']} solved correctly (checked against an independent answer)")


@pytest.fixture
def cli(capsys):
    """Run ``memcosim ARGS`` in this process; returns ``(exit code, stdout, stderr)``."""

    def run(*args):
        capsys.readouterr()
        try:
            code = main([str(a) for a in args])
        except SystemExit as exc:  # argparse
            code = exc.code
        out, err = capsys.readouterr()
        return code, out, err

    return run


def refused(code, out, err, *names):
    """Assert a clean refusal: exit 2, one stderr line naming each of ``names``, no traceback."""
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}; stderr: {err[-2000:]}"
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert lines[0].startswith("memcosim"), lines[0]
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    TALLY["refused"] += 1


def solved():
    TALLY["solved"] += 1
