import json

from click.testing import CliRunner

from maskaudit.cli import cli


def test_synth_writes_a_benchmark_and_reports_progress(tmp_path):
    out = tmp_path / "bench"
    result = CliRunner().invoke(
        cli, ["synth", "--out", str(out), "--videos", "3", "--workers", "1"]
    )
    assert result.exit_code == 0, result.output
    assert "wrote 3 videos" in result.output
    assert "synth: 3/3 videos" in result.output
    sidecar = json.loads((out / "train_test_meta_files" / "synth_scenes.json").read_text())
    assert sorted(sidecar["videos"]) == ["synth_000000", "synth_000001", "synth_000002"]


def test_synth_help_states_defaults():
    result = CliRunner().invoke(cli, ["synth", "--help"])
    assert result.exit_code == 0
    for default in ("default: 300", "default: 0", "default: 2"):
        assert default in result.output
