import dataclasses

import numpy as np
import pytest

from memcosim.base.errors import CalibrationError
from memcosim.devices import load_device_params, mtj
from memcosim.devices.mtj_defects import DieStatistics, generate_die
from memcosim.devices.mtj_maps import DieMap, read_die_maps, write_die_maps

MTJ = dataclasses.replace(load_device_params("mtj"), r_p_std=0.05, tmr_std=0.05)
STATS = DieStatistics.from_rates(mtj.DefectRates(0.05, 0.02, 0.02, 0.02), row_fail_rate=0.05)


def generated(n=3, shape=(12, 9)):
    return [generate_die(MTJ, STATS, shape, 0.1, 5, d) for d in range(n)]


@pytest.mark.parametrize("suffix", [".csv", ".npz"])
def test_written_maps_read_back_exactly(tmp_path, suffix):
    maps = generated()
    back = read_die_maps([write_die_maps(maps, tmp_path / f"m{suffix}")])
    assert [m.die for m in back] == [0, 1, 2]
    for a, b in zip(maps, back):
        assert np.array_equal(a.r_p_ohm, b.r_p_ohm) and np.array_equal(a.r_ap_ohm, b.r_ap_ohm)
        assert np.array_equal(a.state, b.state) and a.digest() == b.digest()
    resistances_only = read_die_maps([write_die_maps(maps, tmp_path / f"r{suffix}", states=False)])
    assert all(m.state is None and m.has_resistances for m in resistances_only)


def test_a_hand_written_csv_in_any_row_order_with_comments_and_states(tmp_path):
    path = tmp_path / "hand.csv"
    path.write_text("# my wafer 7\n"
                    "die, row, col, state\n"
                    "4,1,1,ok\n4,0,0,SHORT\n4,0,1, ok\n\n# a blank line and a comment between rows\n4,1,0,stuck_ap\n"
                    "9,0,0,0\n9,0,1,2\n9,1,0,ok\n9,1,1,open\n")
    a, b = read_die_maps([path])
    assert (a.die, b.die, a.shape) == (4, 9, (2, 2)) and not a.has_resistances
    assert a.state.tolist() == [[mtj.SHORT, mtj.OK], [mtj.STUCK_AP, mtj.OK]]
    assert b.state.tolist() == [[mtj.OK, mtj.OPEN], [mtj.OK, mtj.OPEN]]


def _csv(tmp_path, body, header="die,row,col,r_p_ohm,r_ap_ohm", name="m.csv"):
    path = tmp_path / name
    path.write_text(header + "\n" + body)
    return path


GOOD = "0,0,0,5000,12000\n0,0,1,5100,12100\n0,1,0,4900,11900\n0,1,1,5050,12050\n"


@pytest.mark.parametrize("header, body, message", [
    ("die,row,col,r_p_kohm,r_ap_kohm", "0,0,0,5,12\n", r"m.csv:1: column 'r_p_kohm': resistances are given in ohms"),
    ("die,row,r_p_ohm,r_ap_ohm", "0,0,5000,12000\n", r"m.csv:1: missing column\(s\) \['col'\]"),
    ("die,row,col,r_p_ohm", "0,0,0,5000\n", r"column 'r_p_ohm' without its partner"),
    ("die,row,col,r_p_ohm,r_ap_ohm,temp", "0,0,0,5000,12000,300\n", r"unknown column 'temp'"),
    (None, GOOD.replace("4900", "nan"), r"m.csv:4: column 'r_p_ohm': a resistance must be finite and > 0 ohm, got 'nan'"),
    (None, GOOD.replace("12050", "-3"), r"m.csv:5: column 'r_ap_ohm': a resistance must be finite and > 0 ohm, got '-3'"),
    (None, GOOD.replace("5100", "5.1k"), r"m.csv:3: column 'r_p_ohm': not a number: '5.1k'"),
    (None, GOOD.replace("0,1,1,", "0,1,1.5,"), r"m.csv:5: column 'col': not a whole number: '1.5'"),
    (None, GOOD + "0,0,1,5000,12000\n", r"m.csv:6: die 0 row 0 col 1 is listed twice \(first on line 3\)"),
    (None, GOOD.replace("0,1,1,5050,12050\n", ""), r"m.csv: die 0: 1 of its 2 x 2 cells are missing \(first: row 1 col 1\)"),
    (None, GOOD.replace("0,1,0,4900,11900", "0,1,0,4900"), r"m.csv:4: 4 cells, the header has 5"),
    (None, GOOD.replace("5000,", "5,").replace("5100,", "5.1,").replace("4900,", "4.9,").replace("5050,", "5.05,")
     .replace("12000", "12").replace("12100", "12.1").replace("11900", "11.9").replace("12050", "12.05"),
     r"die 0: the median r_p_ohm is 5.025, no junction's resistance in ohms .* kilohms"),
    (None, GOOD.replace("5000,12000", "12000,5000").replace("5100,12100", "12100,5100").replace("4900,11900", "11900,4900"),
     r"die 0: r_ap_ohm is below r_p_ohm on most cells .* swapped"),
    ("die,row,col,state", "0,0,0,ok\n0,0,1,broken\n0,1,0,ok\n0,1,1,ok\n", r"m.csv:3: column 'state': must be one of ok, short"),
    (None, "", r"m.csv: no data rows after the header"),
])
def test_bad_csv_maps_are_one_line_errors(tmp_path, header, body, message):
    path = _csv(tmp_path, body, header or "die,row,col,r_p_ohm,r_ap_ohm")
    with pytest.raises(CalibrationError, match=message) as info:
        read_die_maps([path])
    assert "\n" not in str(info.value)


def test_a_die_in_two_files_and_missing_files_are_refused(tmp_path):
    a, b = _csv(tmp_path, GOOD, name="a.csv"), _csv(tmp_path, GOOD, name="b.csv")
    with pytest.raises(CalibrationError, match=r"b.csv: die 0 is also in .*a.csv; die labels must be unique"):
        read_die_maps([a, b])
    with pytest.raises(CalibrationError, match=r"nothere.csv: no such die map file"):
        read_die_maps([tmp_path / "nothere.csv"])
    (tmp_path / "empty.csv").write_text("# only a comment\n")
    with pytest.raises(CalibrationError, match="empty file"):
        read_die_maps([tmp_path / "empty.csv"])


def test_bad_npz_maps_are_one_line_errors(tmp_path):
    r = np.full((1, 2, 2), 5e3)
    cases = [({"r_p_ohm": r, "r_ap_ohm": 2 * r}, "no 'die' array"),
             ({"die": np.array([0]), "r_p_ohm": r}, "give both r_p_ohm and r_ap_ohm"),
             ({"die": np.array([0]), "r_p_ohm": np.where(np.arange(4).reshape(1, 2, 2) == 3, np.nan, r), "r_ap_ohm": 2 * r},
              r"die 0 row 1 col 1: r_p_ohm must be finite and > 0 ohm, got nan"),
             ({"die": np.array([0, 0]), "r_p_ohm": np.concatenate([r, r]), "r_ap_ohm": np.concatenate([r, r]) * 2},
              "die 0 appears twice"),
             ({"die": np.array([0]), "r_p_ohm": r[0], "r_ap_ohm": 2 * r[0]}, r"must have shape \(dies, rows, cols\)"),
             ({"die": np.array([0]), "state": np.full((1, 2, 2), 7)}, "integer codes 0-4")]
    for arrays, message in cases:
        path = tmp_path / "m.npz"
        np.savez(path, **arrays)
        with pytest.raises(CalibrationError, match=message):
            read_die_maps([path])
    (tmp_path / "junk.npz").write_bytes(b"not a zip")
    with pytest.raises(CalibrationError, match="not a readable .npz die map"):
        read_die_maps([tmp_path / "junk.npz"])


def test_a_die_map_needs_resistances_or_states():
    with pytest.raises(CalibrationError, match="needs resistances"):
        DieMap(0)
    with pytest.raises(CalibrationError, match="both r_p_ohm and r_ap_ohm"):
        DieMap(0, r_p_ohm=np.ones((2, 2)))
    with pytest.raises(CalibrationError, match="one \\(rows, cols\\) shape"):
        DieMap(0, np.ones((2, 2)), np.ones((2, 3)))
