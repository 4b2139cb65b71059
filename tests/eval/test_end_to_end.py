"""The evaluator and the baselines on a tiny generated benchmark (8 videos, a few seconds)."""

from __future__ import annotations

import json

import pytest

from maskaudit.baselines import BASELINES, make_baseline
from maskaudit.cli import main
from maskaudit.data.reader import iter_candidates
from maskaudit.data.writer import write_benchmark
from maskaudit.eval.predictions import (
    candidate_key,
    read_predictions,
    verdict_record,
    write_verdicts,
)
from maskaudit.eval.protocol import ROWS


@pytest.fixture(scope="module")
def bench(tmp_path_factory):
    root = tmp_path_factory.mktemp("bench")
    write_benchmark(root, 8, seed=0, workers=1)
    return root


def _eval(capsys, *args):
    try:
        main(["eval", *map(str, args)])
    except SystemExit as exc:
        pytest.fail(f"eval exited {exc.code}: {capsys.readouterr().err}")
    return capsys.readouterr().out


@pytest.mark.parametrize("mode", ["image", "video"])
def test_ground_truth_as_predictions_scores_perfectly(bench, tmp_path, capsys, mode):
    candidates = list(iter_candidates(bench, "test_s", mode))
    records = [verdict_record(c, c.iou, c.mask_type, c.action) for c in candidates]
    preds = tmp_path / "oracle.jsonl"
    write_verdicts(preds, records)
    assert len(read_predictions(preds)) == len(candidates)

    out_json = tmp_path / "oracle.json"
    _eval(capsys, "--data", bench, "--mode", mode, "--predictions", preds, "--json", out_json)
    rows = json.loads(out_json.read_text())["rows"]
    assert list(rows) == [row.name for row in ROWS]
    assert rows["all"]["n"] == sum(1 for c in candidates if c.mask_type != "null")
    for name, scores in rows.items():
        if scores["n"] == 0:
            continue
        assert scores["rmse"] == pytest.approx(0.0, abs=1e-9), name
        assert scores["type_f2"] == pytest.approx(1.0), name
        assert scores["action_f2"] == pytest.approx(1.0), name
    assert rows["all"]["spearman"] == pytest.approx(1.0)
    assert rows["all"]["auroc"] in (None, 1.0)


@pytest.mark.parametrize("name", BASELINES)
def test_baselines_give_one_record_per_candidate(bench, name):
    train = list(iter_candidates(bench, "train", "train"))
    test = list(iter_candidates(bench, "test_u", "video"))
    records = make_baseline(name).fit(train).predict(test)
    assert [(r["uid"], r["frame"], r["mask_id"]) for r in records] == [
        candidate_key(c) for c in test
    ]


def test_eval_command_runs_a_baseline_with_breakdown(bench, tmp_path, capsys):
    out_json = tmp_path / "geometry.json"
    out = _eval(
        capsys,
        "--data",
        bench,
        "--split",
        "test_u",
        "--mode",
        "image",
        "--baseline",
        "geometry",
        "--by-kind",
        "--json",
        out_json,
    )
    assert "## baseline:geometry on test_u, image mode" in out
    assert "### by expression kind" in out
    result = json.loads(out_json.read_text())
    assert result["rows"]["all"]["unparsed_iou"] == 0
    assert sum(s["n"] for s in result["by_kind"].values()) == result["rows"]["all"]["n"]
