"""The ``memxbar devices`` commands: output on success, one-line errors with exit code 2."""

from __future__ import annotations

from pathlib import Path

import pytest
from support import REPO, assert_one_line_error, assert_png, run_cli

from memxbar.cli import main

SHIPPED_PULSE = REPO / "hw_configs" / "devices" / "pcm_gst_pulse.yaml"


# --- success ---------------------------------------------------------------------------------


def test_devices_list_names_both_presets(capsys):
    assert main(["devices", "list"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    rows = {line.split()[0]: line.split()[1] for line in out.splitlines()}
    assert rows == {"pcm_gst_pulse": "PulsePCM", "pcm_nandakumar2019": "StatisticalPCM"}


def test_devices_show_prints_a_table_with_units(capsys):
    assert main(["devices", "show", "pcm_nandakumar2019"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0].startswith("pcm_nandakumar2019: StatisticalPCM")
    assert lines[1].split() == ["parameter", "value", "unit", "meaning"]
    table = {line.split()[0]: line.split()[1:3] for line in lines[2:]}
    assert table["conductance.g_max_S"] == ["25", "µS"]
    assert table["drift.t0_s"] == ["20", "s"]
    assert table["read_noise.t_read_s"] == ["250", "ns"]


def test_devices_show_accepts_a_yaml_path(capsys):
    assert main(["devices", "show", str(SHIPPED_PULSE)]) == 0
    out, _ = capsys.readouterr()
    assert out.startswith(f"{SHIPPED_PULSE}: PulsePCM")
    table = {line.split()[0]: line.split()[1] for line in out.splitlines()[2:]}
    assert table["set_response.memory_pulses"] == "2.6"
    assert table["reset_response.g_reset_S"] == "100"  # 0.1 µS, printed as 100 nS


def test_devices_plot_writes_the_pngs(tmp_path, capsys):
    out_dir = tmp_path / "figures" / "pulse"
    assert main(["devices", "plot", "pcm_gst_pulse", "-o", str(out_dir), "--devices", "200"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    names = ["set_pulses.png", "drift.png", "noise_vs_target.png"]
    assert out.splitlines() == [str(out_dir / f"pcm_gst_pulse_{name}") for name in names]
    for name in names:
        assert_png(out_dir / f"pcm_gst_pulse_{name}")


def test_device_plots_of_two_presets_share_a_folder(tmp_path, capsys):
    """Plot files carry the preset's name (a YAML path's stem), so nothing is overwritten."""
    out_dir = tmp_path / "figures"
    custom = tmp_path / "my_pcm.yaml"
    custom.write_text(SHIPPED_PULSE.read_text(encoding="utf-8"))
    for preset in ("pcm_nandakumar2019", str(custom)):
        assert main(["devices", "plot", preset, "-o", str(out_dir), "--devices", "50"]) == 0
    capsys.readouterr()
    assert sorted(p.name for p in out_dir.iterdir()) == [
        "my_pcm_drift.png",
        "my_pcm_noise_vs_target.png",
        "my_pcm_set_pulses.png",
        "pcm_nandakumar2019_drift.png",
        "pcm_nandakumar2019_noise_vs_target.png",
    ]


def test_chips_list_and_show(capsys):
    assert main(["chips", "list"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    names = [line.split()[0] for line in out.splitlines()]
    assert names == ["pcm_256", "pcm_hermes_128", "pcm_hermes_256"]
    assert out.splitlines()[0] == (
        "pcm_256                  64 tiles of 256x256 PCM differential pairs, 8-bit DAC/ADC"
    )
    assert main(["chips", "show", "pcm_256"]) == 0
    out, err = capsys.readouterr()
    assert err == ""
    lines = out.splitlines()
    assert lines[0] == "pcm_256: 64 tiles of 256x256 PCM differential pairs, 8-bit DAC/ADC"
    assert lines[1].split() == ["parameter", "value", "unit", "meaning"]
    table = {line.split()[0]: line.split()[1:3] for line in lines[2:]}
    assert table["tile.count"][0] == "64"
    assert table["periphery.read_pulse_s"] == ["250", "ns"]
    assert table["periphery.adc.walden_fom_J"] == ["10", "fJ"]
    assert table["periphery.adc.energy_J"][0] == "-"  # the FoM stands for it
    assert table["update.g_weight_max_S"] == ["8", "µS"]
    assert table["clock_Hz"] == ["1", "GHz"]
    assert "description" not in table


def test_chips_show_errors_are_one_line(tmp_path, capsys):
    rc = main(["chips", "show", "no_such_chip"])
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(rc, err, "no_such_chip", "pcm_256")
    bad = tmp_path / "chip.yaml"
    bad.write_text(
        (REPO / "hw_configs" / "chips" / "pcm_256.yaml")
        .read_text(encoding="utf-8")
        .replace("count: 64", "count: -1")
    )
    rc = main(["chips", "show", str(bad)])
    out, err = capsys.readouterr()
    assert_one_line_error(rc, err, "chip.yaml", "tile.count")


# --- user errors: one line on stderr, exit code 2 -------------------------------------------


def unknown_key_yaml(tmp_path: Path) -> str:
    path = tmp_path / "extra_key.yaml"
    path.write_text(SHIPPED_PULSE.read_text(encoding="utf-8") + "\nbogus_knob: 1.0\n")
    return str(path)


def malformed_yaml(tmp_path: Path) -> str:
    path = tmp_path / "malformed.yaml"
    path.write_text("model: pcm_pulse\nconductance: [25.0, 0.0\n")
    return str(path)


def blocked_output(tmp_path: Path) -> str:
    blocker = tmp_path / "a_regular_file"
    blocker.write_text("not a folder")
    return str(blocker / "figures")


BAD_INPUTS = {
    "unknown preset": (lambda tmp: ["devices", "show", "no_such_preset"], ["no_such_preset"]),
    "missing yaml": (
        lambda tmp: ["devices", "show", str(tmp / "missing.yaml")],
        ["missing.yaml", "does not exist"],
    ),
    "malformed yaml": (
        lambda tmp: ["devices", "show", malformed_yaml(tmp)],
        ["malformed.yaml", "malformed YAML"],
    ),
    "unknown key": (
        lambda tmp: ["devices", "show", unknown_key_yaml(tmp)],
        ["extra_key.yaml", "bogus_knob"],
    ),
    "plot unknown preset": (
        lambda tmp: ["devices", "plot", "no_such_preset", "-o", str(tmp / "o")],
        ["no_such_preset"],
    ),
    "uncreatable output": (
        lambda tmp: ["devices", "plot", "pcm_gst_pulse", "-o", blocked_output(tmp)],
        ["cannot create output folder", "a_regular_file"],
    ),
    "no devices": (
        lambda tmp: ["devices", "plot", "pcm_gst_pulse", "-o", str(tmp / "o"), "--devices", "0"],
        ["--devices", "expected an integer ≥ 1", "'0'"],
    ),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_input_is_one_line_and_exit_code_2(case, tmp_path, capsys):
    make_args, fragments = BAD_INPUTS[case]
    rc = main(make_args(tmp_path))
    out, err = capsys.readouterr()
    assert out == ""
    assert_one_line_error(rc, err, *fragments)


# --- the real command line ------------------------------------------------------------------


def test_subprocess_success_and_error_without_traceback(tmp_path):
    listed = run_cli("devices", "list")
    assert listed.returncode == 0, listed.stderr
    assert listed.stderr == ""
    assert "pcm_gst_pulse" in listed.stdout and "pcm_nandakumar2019" in listed.stdout

    failed = run_cli("devices", "show", unknown_key_yaml(tmp_path))
    assert failed.stdout == ""
    assert_one_line_error(failed.returncode, failed.stderr, "bogus_knob")


# --- help, version, python -m ----------------------------------------------------------------


def test_bare_memxbar_prints_the_help_and_exits_0():
    """Asking the tool what it does is not an error: the help on stdout, exit 0."""
    result = run_cli()
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""
    assert result.stdout.startswith("usage: memxbar")
    for command in ("devices", "chips", "compile", "run", "report"):
        assert f"    {command} " in result.stdout


def test_help_defines_the_energy_figures_and_the_exit_codes(capsys):
    from memxbar.crossbar import ENERGY_FIGURES

    with pytest.raises(SystemExit) as exit_info:
        main(["--help"])
    assert exit_info.value.code == 0
    out = capsys.readouterr().out
    assert main([]) == 0
    assert capsys.readouterr().out == out  # bare memxbar prints the same help
    flat = " ".join(out.split())
    for f in ENERGY_FIGURES:
        assert f"{f.name} {f.meaning}" in flat
        assert f"= {f.formula}" in flat
    assert (
        "E_update programming energy per synaptic update event = (set + reset + refresh) / "
        "update_events" in flat
    )
    assert (
        "exit codes: 0 success, 2 bad input or OS error (one line on stderr), 130 interrupted "
        "(Ctrl-C / SIGTERM; resume with --resume); checkpoint: OUTPUT.ckpt beside the run file"
    ) in flat
    assert max(len(line) for line in out.splitlines()) <= 80


def test_version_and_python_dash_m():
    import tomllib

    from memxbar import __version__

    pyproject = tomllib.loads((REPO / "pyproject.toml").read_text(encoding="utf-8"))
    assert __version__ == pyproject["project"]["version"]
    result = run_cli("--version", module="memxbar")
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"memxbar {__version__}\n"
    listed = run_cli("chips", "list", module="memxbar")
    assert listed.returncode == 0, listed.stderr
    assert listed.stdout.startswith("pcm_256 ")
    failed = run_cli("chips", "show", "nope", module="memxbar")
    assert_one_line_error(failed.returncode, failed.stderr, "nope")


@pytest.mark.parametrize(
    "argv, fragment",
    [
        (["report", "x.h5", "--frob"], "unrecognized arguments: --frob"),
        (["devices", "frob"], "invalid choice: 'frob'"),
        (["run"], "the following arguments are required: job"),
        (["chips"], "required: chips_command"),
        (["devices", "plot"], "required: preset"),
        (["--frobnicate"], "unrecognized arguments: --frobnicate"),
    ],
)
def test_usage_errors_are_one_line_with_exit_2(argv, fragment, capsys):
    with pytest.raises(SystemExit) as stop:
        main(argv)
    out, err = capsys.readouterr()
    assert_one_line_error(stop.value.code, err, fragment, "(see --help)")
    assert out == ""
