import pytest

from memcosim import __version__
from memcosim.cli import main
from memcosim.run import quickstart_path
from tests.conftest import run_cli



def test_version(capsys):
    with pytest.raises(SystemExit) as info:
        main(["--version"])
    assert info.value.code == 0
    assert __version__ in capsys.readouterr().out


@pytest.mark.ngspice
def test_check_reports_ngspice_and_shared_library():
    proc = run_cli("check")
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "ngspice-39" in proc.stdout
    assert "libngspice (PySpice)  1 V across 1 kOhm -> I(V1) = -0.001 A" in proc.stdout
    assert "Unsupported Ngspice version" not in proc.stdout + proc.stderr


def test_config_validate_accepts_quickstart():
    proc = run_cli("config", "validate", str(quickstart_path()))
    assert proc.returncode == 0, proc.stderr
    assert "study 'quickstart'" in proc.stdout


@pytest.mark.parametrize(
    "text, field",
    [("[array]\nrows = -4\n", "array.rows"), ("[device]\npulse_widht_s = 1e-6\n", "device.pulse_widht_s")],
)
def test_config_validate_bad_file_one_line_exit_2(tmp_path, text, field):
    path = tmp_path / "bad.toml"
    path.write_text(text)
    proc = run_cli("config", "validate", str(path))
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and field in lines[0] and "Traceback" not in proc.stderr


def test_no_command_prints_help():
    proc = run_cli()
    assert proc.returncode == 2 and "usage: memcosim" in proc.stdout


def test_old_die_keys_are_one_line_saying_where_they_moved(tmp_path):
    path = tmp_path / "old.toml"
    path.write_text('[device]\nkind = "mtj"\n[training]\ndies = 4\n')
    proc = run_cli("config", "validate", str(path))
    assert proc.returncode == 2 and proc.stdout == ""
    assert proc.stderr.strip() == f"memcosim: error: {path}: training.dies: moved to [dies] count"


@pytest.mark.parametrize("device, shown", [
    ('parameters_file = "x\\n.control\\nshell echo hi\\n.endc"', "'x\\n.control\\nshell echo hi\\n.endc': no such device"),
    ('kind = "hzo\\n.control"', "device.kind"),
])
def test_a_value_with_line_breaks_is_one_line_shown_with_repr(tmp_path, capsys, device, shown):
    path = tmp_path / "bad.toml"
    path.write_text(f'name = "x"\n[device]\n{device}\n')
    assert main(["train", str(path), "--out", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and shown in err and ".control" in err, err
