import sys

import pytest

from maskaudit.cli import main


def run_cli(args, capsys):
    with pytest.raises(SystemExit) as exc:
        main(args)
    return exc.value.code, capsys.readouterr().err


def test_build_engine_without_tensorrt_names_the_package(monkeypatch, capsys, exported_bundle):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    code, err = run_cli(["build-engine", "--bundle", str(exported_bundle)], capsys)
    assert code == 1
    assert "tensorrt" in err and len(err.strip().splitlines()) == 1


def test_export_refuses_a_non_empty_folder(tmp_path, capsys, tiny_run):
    out = tmp_path / "out"
    out.mkdir()
    (out / "something").write_text("x")
    code, err = run_cli(
        ["export", "--checkpoint", str(tiny_run), "--out", str(out), "--no-int8"], capsys
    )
    assert code == 1 and "--force" in err


def test_export_without_calibration_data_says_how(tmp_path, capsys, tiny_run):
    code, err = run_cli(
        [
            "export",
            "--checkpoint",
            str(tiny_run),
            "--out",
            str(tmp_path / "b"),
            "--calib-data",
            str(tmp_path),
        ],
        capsys,
    )
    assert code == 1 and "--calib-data" in err and "--no-int8" in err


@pytest.mark.parametrize("name", ["export", "build-engine"])
def test_help_states_defaults(capsys, name):
    main([name, "--help"])
    out = " ".join(capsys.readouterr().out.split())
    expected = {
        "export": ("[default: 256]", "[default: minmax]", "[default: 17]", "--trt-variant"),
        "build-engine": ("[default: fp16]", "[default: 16]", "[default: 8]", "[default: 2048]"),
    }[name]
    for text in expected:
        assert text in out
