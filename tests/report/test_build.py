from __future__ import annotations

import json
import math
from pathlib import Path

import pytest

from maskaudit.eval.metrics import aurc
from maskaudit.eval.protocol import ROWS
from maskaudit.labels import ACTIONS, MASK_TYPES
from maskaudit.report.build import NUMBERS, PAGE, json_safe
from maskaudit.report.numbers import draw_groups

from .page_checks import assert_png, references

FIGURES = ("iou_scatter", "type_confusion", "action_confusion", "risk_coverage")


def test_every_reference_of_the_page_is_a_file_of_the_folder(built_report):
    out, _ = built_report
    html = (out / PAGE).read_text(encoding="utf-8")
    refs, tags = references(html)
    assert len(refs) == 2 * len(FIGURES) + 1  # both splits and the latency histogram
    for ref in refs:
        assert "://" not in ref and not ref.startswith("/"), ref
        assert (out / ref).is_file(), f"{ref} is not in {out}"
    assert "script" not in tags
    assert "<style>" in html


def test_every_png_decodes_to_a_real_figure(built_report):
    out, _ = built_report
    pngs = sorted(out.glob("*.png"))
    assert {p.name for p in pngs} == {
        f"{f}_{s}.png" for f in FIGURES for s in ("test_s", "test_u")
    } | {"latency.png"}
    for png in pngs:
        assert_png(png)


def test_report_json_has_the_numbers_of_the_page(built_report, report_bench):
    out, returned = built_report
    report = json.loads((out / NUMBERS).read_text(encoding="utf-8"))
    assert report == returned
    assert set(report) >= {
        "created",
        "bundle",
        "data",
        "machine",
        "versions",
        "settings",
        "baselines",
        "splits",
        "stream",
        "figures",
        "seconds",
    }
    assert report["data"] == report_bench.name  # the folder's name, never a whole path
    assert "/" not in report["data"]
    assert report["bundle"]["precision"] == "int8" and report["bundle"]["id"].startswith("tiny")
    assert report["baselines"]["fit_candidates"] == 100
    assert set(report["splits"]) == {"test_s", "test_u"}
    for split in report["splits"].values():
        assert set(split["tables"]) == {"maskaudit", "prior", "geometry"}
        assert split["candidates"] == split["available"]  # no limit
        assert 0 < split["scored"] <= split["candidates"]
        for table in split["tables"].values():
            assert list(table) == [row.name for row in ROWS]
            row = table["all"]
            assert row["n"] == split["scored"]
            assert 0.0 <= row["rmse"] <= 1.0
            for key in ("type_f2", "action_f2", "aurc"):
                assert 0.0 <= row[key] <= 1.0
        assert sum(b["n"] for b in split["reliability"]) == split["scored"]
        for b in split["reliability"]:
            if b["n"]:
                assert b["low"] <= b["mean_pred"] <= b["high"]
                assert 0.0 <= b["mean_true"] <= 1.0
        for kind, labels in (("type", MASK_TYPES), ("action", ACTIONS)):
            matrix = split["confusion"][kind]
            assert matrix["rows"] == list(labels)
            assert sum(map(sum, matrix["counts"])) == split["scored"]
        assert split["aurc"]["oracle"] <= min(split["aurc"][m] for m in split["tables"]) + 1e-12


def test_the_prior_baselines_risk_is_flat(built_report, report_bench):
    from maskaudit.data.reader import iter_candidates

    _, report = built_report
    split = report["splits"]["test_s"]
    scored = [c for c in iter_candidates(report_bench, "test_s", "image") if c.mask_type != "null"]
    failures = sum(c.iou < 0.5 for c in scored) / len(scored)
    assert split["aurc"]["prior"] == pytest.approx(failures)
    # the same number as the protocol's AURC of a constant estimate
    assert aurc([0.5] * len(scored), [c.iou for c in scored]) == pytest.approx(failures)


def test_stream_latencies_are_timed(built_report):
    _, report = built_report
    stream = report["stream"]
    assert stream["frames"] == 20  # 2 s at 10 fps, stopped there
    assert len(stream["latency_ms"]) == 20
    assert stream["settings"]["candidates"] == 2
    total = stream["summary"]["total"]
    assert 0 < total["p50"] <= total["p90"] <= total["p99"]
    assert stream["backend"] == "ort-cpu" and stream["precision"] == "int8"
    assert all(m <= t for m, t in zip(stream["model_ms"], stream["latency_ms"], strict=True))


def test_limit_draws_whole_items_evenly(report_bench):
    from maskaudit.report.scoring import read_split

    store, available = read_split(report_bench, "test_s", limit=20, progress=False)
    kept = sum(len(item.candidates) for item in store.items)
    assert 0 < kept <= 20 < available
    full, _ = read_split(report_bench, "test_s", progress=False)
    sizes = [len(item.candidates) for item in full.items]
    assert [(i.uid, i.frame) for i in store.items] == [
        (full.items[k].uid, full.items[k].frame) for k in draw_groups(sizes, 20)
    ]


def test_json_safe_turns_nan_into_null():
    value = {"a": [1.0, math.nan, {"b": math.inf}], "c": (2, "x")}
    assert json_safe(value) == {"a": [1.0, None, {"b": None}], "c": [2, "x"]}
    json.dumps(json_safe(value), allow_nan=False)


def test_no_absolute_path_in_the_page(built_report):
    out, _ = built_report
    html = (out / PAGE).read_text(encoding="utf-8")
    assert str(Path(out).parent) not in html
