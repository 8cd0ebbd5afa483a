"""The fuzz corpus and property tests: every case ends refused cleanly (exit 2, one line) or
solved correctly (checked against an independent answer); the tally is printed at the end,
overall and per family of hostile input (tests/fuzz/test_hardening.py)."""

import collections
import signal

import pytest

from memcosim.cli import main

TALLY = collections.Counter()
FAMILIES = collections.defaultdict(collections.Counter)


def pytest_terminal_summary(terminalreporter):
    if TALLY:
        tried = TALLY["refused"] + TALLY["solved"]
        terminalreporter.write_line(f"fuzz: {tried} cases tried, {TALLY['refused']} refused cleanly (exit 2, one line), "
                                    f"{TALLY['solved']} solved correctly (checked against an independent answer)")
    for family, counts in sorted(FAMILIES.items()):
        terminalreporter.write_line(f"fuzz family {family}: {counts['refused'] + counts['solved']} cases, "
                                    f"{counts['refused']} refused cleanly, {counts['solved']} solved correctly")


class Hang(Exception):
    """A case ran past its watchdog: a read or a solve that is not bounded."""


@pytest.fixture
def watchdog():
    """Fail (instead of blocking the suite) when the test runs past ``seconds`` (default 600: a
    shared, loaded machine imports torch slowly; a blocked read never ends)."""

    def expire(signum, frame):
        raise Hang("the case ran past its watchdog: an unbounded read or solve")

    previous = signal.signal(signal.SIGALRM, expire)

    def arm(seconds=600):
        signal.alarm(seconds)

    arm()
    yield arm
    signal.alarm(0)
    signal.signal(signal.SIGALRM, previous)


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


def refused(code, out, err, *names, family=None):
    """Assert a clean refusal: exit 2, one stderr line naming each of ``names``, no traceback."""
    lines = err.strip().splitlines()
    assert code == 2, f"exit {code}; stderr: {err[-2000:]}"
    assert len(lines) == 1 and "Traceback" not in err, err[-2000:]
    assert lines[0].startswith("memcosim"), lines[0]
    for name in names:
        assert str(name) in lines[0], (name, lines[0])
    TALLY["refused"] += 1
    if family:
        FAMILIES[family]["refused"] += 1


def solved(family=None):
    TALLY["solved"] += 1
    if family:
        FAMILIES[family]["solved"] += 1
