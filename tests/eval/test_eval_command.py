from __future__ import annotations

import json

import pytest

from maskaudit.cli import main
from maskaudit.commands import eval as eval_command


@pytest.fixture
def fake_benchmark(monkeypatch, tmp_path, make_candidate):
    c = make_candidate
    splits = {
        "test_s": [
            c("u_a_1", 0, "perfect", "perfect", -1, 1.0, "accept"),
            c("u_a_1", 0, "erode_1_0", "erode", 1, 0.8, "minor revision", kind="first"),
            c("u_a_1", 0, "null_0", "null", -1, 0.0, "reject"),
        ],
        "train": [
            c("t_a_1", 0, "perfect", "perfect", -1, 1.0, "accept"),
            c("t_a_1", 0, "erode_1_0", "erode", 1, 0.6, "major revision"),
            c("t_a_1", 0, "erode_2_0", "erode", 2, 0.4, "major revision"),
        ],
        "test_u": [],
    }
    monkeypatch.setattr(
        eval_command, "_load_candidates", lambda data, split, mode: list(splits[split])
    )
    data = tmp_path / "bench"
    data.mkdir()
    return data


def _run(capsys, *args):
    code = 0
    try:
        main(["eval", *map(str, args)])
    except SystemExit as exc:
        code = exc.code
    out, err = capsys.readouterr()
    return code, out, err


def test_scores_a_prediction_file_and_writes_json(fake_benchmark, tmp_path, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_text(
        json.dumps(
            {
                "uid": "u_a_1",
                "frame": 0,
                "mask_id": "perfect",
                "iou": 0.9,
                "mask_type": "perfect",
                "action": "accept",
            }
        )
        + "\n"
        + json.dumps(
            {
                "uid": "u_a_1",
                "frame": 0,
                "mask_id": "erode_1_0",
                "text": "<mask_type>cutoff</mask_type><iou>0.7</iou>",
            }
        )
        + "\n"
    )
    out_json = tmp_path / "r" / "scores.json"
    code, out, err = _run(
        capsys, "--data", fake_benchmark, "--predictions", preds, "--json", out_json, "--by-kind"
    )
    assert code == 0, err
    rows = [line for line in out.splitlines() if line.startswith("| ")]
    assert rows[1].startswith("| perfect | 1 | 0 | 0.1000 |")
    assert any(line.startswith("| all | 2 |") for line in rows)
    assert "| first | 1 |" in out and "| loudest | 1 |" in out
    result = json.loads(out_json.read_text())
    assert result["split"] == "test_s" and result["mode"] == "image"
    assert result["rows"]["all"]["rmse"] == pytest.approx(0.1)
    assert result["rows"]["erode-H"]["type_f2"] == 0.0  # cutoff is not cutout, nor erode
    assert result["by_kind"]["first"]["n"] == 1


def test_runs_the_prior_baseline(fake_benchmark, capsys):
    code, out, err = _run(capsys, "--data", fake_benchmark, "--baseline", "prior")
    assert code == 0, err
    # prior: mean train IoU 2/3, majority type erode, majority action major revision
    assert "baseline:prior on test_s" in out
    erode = next(line for line in out.splitlines() if line.startswith("| erode-H |"))
    assert erode.split("|")[4].strip() == f"{abs(2 / 3 - 0.8):.4f}"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        ([], "exactly one of --predictions"),
        (["--baseline", "prior", "--predictions", "x.jsonl"], "exactly one of --predictions"),
        (["--baseline", "prior", "--split", "test_u"], "no test_u candidates"),
        (["--predictions", "missing.jsonl"], "cannot read predictions"),
    ],
)
def test_errors_are_one_line_and_exit_1(fake_benchmark, capsys, args, message):
    code, out, err = _run(capsys, "--data", fake_benchmark, *args)
    assert code == 1
    assert message in err and len(err.strip().splitlines()) == 1


def test_predictions_matching_nothing_are_an_error(fake_benchmark, tmp_path, capsys):
    preds = tmp_path / "p.jsonl"
    preds.write_text(json.dumps({"uid": "zz", "frame": 0, "mask_id": "perfect", "iou": 1}) + "\n")
    code, _, err = _run(capsys, "--data", fake_benchmark, "--predictions", preds)
    assert code == 1 and "matches a test_s candidate" in err


def test_missing_data_folder_is_an_error(tmp_path, capsys):
    code, _, err = _run(capsys, "--data", tmp_path / "nowhere", "--baseline", "prior")
    assert code == 1 and "does not exist" in err


def test_help_states_defaults(capsys):
    code, out, _ = _run(capsys, "--help")
    assert code == 0
    for text in ("default: test_s", "default: image", "Default: none", "Default: off"):
        assert text in " ".join(out.split())
