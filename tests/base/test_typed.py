"""The one strict JSON reader of typed records: round trip, versions, and one-line refusals."""

import json
from dataclasses import dataclass, field

import numpy as np
import pytest

from memcosim.base.errors import CalibrationError, ConfigError
from memcosim.base.typed import JsonRecord, check_number, dumps, loads


@dataclass(frozen=True)
class Inner(JsonRecord):
    width_s: float
    count: int = 0


@dataclass(frozen=True)
class Outer(JsonRecord):
    FORMAT_VERSION = 2
    READS_VERSIONS = (1,)

    name: str
    inner: Inner
    spare: Inner | None = None
    widths_s: tuple[float, ...] = ()
    coefficients: dict[str, float] = field(default_factory=dict)
    extra: dict = field(default_factory=dict)

    def __post_init__(self):
        check_number("outer.inner.width_s", self.inner.width_s, 0.0, open_low=True)

    @classmethod
    def migrate(cls, data, version, source, error):
        title = data.pop("title")
        return {**data, "name": title}


def _outer():
    return Outer("a", Inner(2e-8, 3), None, (1e-9, np.float64(2e-9)), {"k": 1.5}, {"nested": [1, {"x": 2.0}]})


def test_round_trip_through_text_and_dicts():
    record = _outer()
    data = record.to_json()
    assert data["format_version"] == 2 and data["inner"] == {"width_s": 2e-8, "count": 3} and data["widths_s"] == [1e-9, 2e-9]
    assert Outer.from_json(data) == record and loads(Outer, dumps(record), "o.json") == record
    assert Outer.from_json({"format_version": 1, "title": "a", "inner": {"width_s": 1}}).name == "a"  # migrated


@pytest.mark.parametrize("edit, message", [
    (lambda d: d["inner"].update(width_s=float("nan")), "o.json: inner.width_s: must be a finite number, got nan"),
    (lambda d: d["extra"]["nested"][1].update(x=float("inf")), r"o.json: extra.nested\[1\].x: must be a finite number, got inf"),
    (lambda d: d["inner"].update(widht_s=1.0), "o.json: inner.widht_s: unknown field; known: width_s, count"),
    (lambda d: d.update(colour="red"), "o.json: colour: unknown field"),
    (lambda d: d["inner"].pop("width_s"), "o.json: inner.width_s: missing"),
    (lambda d: d["inner"].update(count=True), "o.json: inner.count: must be an integer, got True"),
    (lambda d: d["inner"].update(count=1.5), "o.json: inner.count: must be an integer, got 1.5"),
    (lambda d: d["coefficients"].update(k="1"), "o.json: coefficients.k: must be a finite number, got '1'"),
    (lambda d: d.update(widths_s=1.0), "o.json: widths_s: must be a JSON array, got float"),
    (lambda d: d.update(format_version=7), "o.json: format_version: 7 is not a version this memcosim reads"),
    (lambda d: d.pop("format_version"), "o.json: format_version: missing is not a version"),
    (lambda d: d["inner"].update(width_s=0.0), r"o.json: outer.inner.width_s: must be a finite number in \(0, inf\], got 0.0"),
])
def test_refusals_are_one_line_naming_the_source_and_field(edit, message):
    data = _outer().to_json()
    edit(data)
    with pytest.raises(ConfigError, match=f"^{message}") as info:
        Outer.from_json(data, source="o.json")
    assert "\n" not in str(info.value)


def test_the_error_class_is_the_callers_and_text_is_strict():
    with pytest.raises(CalibrationError, match="c.json: inner: must be a JSON object, got list"):
        Outer.from_json({"format_version": 2, "name": "a", "inner": []}, "c.json", error=CalibrationError)
    with pytest.raises(ConfigError, match="NaN is not JSON"):
        loads(Outer, json.dumps({"format_version": 2, "name": "a", "inner": {"width_s": float("nan")}}), "o.json")
    with pytest.raises(ConfigError, match=r"Outer.extra.x: must be a finite number to be written, got nan"):
        Outer("a", Inner(1.0), extra={"x": float("nan")}).to_json()
