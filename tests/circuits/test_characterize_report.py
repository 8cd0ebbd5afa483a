"""The characterisation report is a typed record: round trip, the layout before its version, refusals."""

import pytest

from memcosim.base.errors import ConfigError
from memcosim.base.typed import dumps, loads
from memcosim.circuits.characterize_report import CharacterizeReport


def _report():
    return CharacterizeReport(write_energy={"max_rel_error": 0.01, "by_width": [{"width_s": 2e-8, "sources_j": 1e-12}]},
                              read_energy={"max_rel_error": 0.02}, ir_drop={"max_error_full_scale": 0.001},
                              engines={"write": {"native": {"8": 6}}}, points={"write": [{"size": 8, "engine": "native"}]},
                              points_simulated=6, points_cached=0, ngspice_version="39",
                              row_energy={"by_size": {"8": {"max_rel_error": 0.01, "engine": "native"}}})


def test_round_trip_and_the_unversioned_layout():
    report = _report()
    assert loads(CharacterizeReport, dumps(report), "characterize_report.json") == report
    old = {k: v for k, v in report.to_json().items() if k not in ("format_version", "slot_energy")}
    assert CharacterizeReport.from_json(old) == report and report.operation("slot") is None


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["read_energy"].update(max_rel_error=float("nan")), "c.json: read_energy.max_rel_error: must be a finite"),
    (lambda d: d.update(col_energy={}), "c.json: col_energy: unknown field"),
])
def test_nan_and_unknown_keys_are_refused(edit, message):
    data = _report().to_json()
    edit(data)
    with pytest.raises(ConfigError, match=f"^{message}"):
        CharacterizeReport.from_json(data, "c.json")
