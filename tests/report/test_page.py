from __future__ import annotations

from maskaudit.report.page import comparison_table, render_page

from .page_checks import references


def _row(rmse, type_f2, n=4):
    return {
        "n": n,
        "rmse": rmse,
        "type_f2": type_f2,
        "action_f2": None,
        "auroc": 0.5,
        "aurc": 0.2,
        "mae": 0.1,
        "unparsed_iou": 0,
        "spearman": 0.3,
        "type_micro_f1": 0.5,
    }


def _report(**extra):
    tables = {
        "maskaudit": {"perfect": _row(0.1, 0.9), "all": _row(0.2, 0.8, 8)},
        "prior": {"perfect": _row(0.3, 0.9), "all": _row(0.4, 0.1, 8)},
    }
    report = {
        "bundle": {"id": "b@123", "precision": "int8", "scoring_backend": "onnxruntime CPU"},
        "data": "<bench & co>",
        "created": "2025-01-01T00:00:00Z",
        "machine": {"cpu": "x", "logical_cores": 2, "platform": "p"},
        "versions": {"maskaudit": "0.1.0"},
        "settings": {"limit": None},
        "baselines": {"fit_candidates": 10},
        "splits": {"test_s": {"tables": tables, "scored": 8, "candidates": 9, "available": 9}},
        "stream": None,
        "figures": {"test_s": {"iou_scatter": "iou_scatter_test_s.png"}},
        "seconds": 1.5,
    }
    report.update(extra)
    return report


def test_page_escapes_text_and_references_only_its_figures():
    html = render_page(_report())
    refs, tags = references(html)
    assert refs == ["iou_scatter_test_s.png"]
    assert "script" not in tags and "link" not in tags
    assert "&lt;bench &amp; co&gt;" in html and "<bench" not in html
    assert "Not measured" in html  # no stream


def test_comparison_marks_the_best_value_only_where_values_differ():
    html = comparison_table(_report()["splits"]["test_s"]["tables"])
    # perfect: RMSE 0.1 vs 0.3 -> maskaudit best; type F2 0.9 = 0.9 -> no mark
    perfect = next(line for line in html.splitlines() if line.startswith("<tr><td>perfect"))
    assert perfect.count('class="best"') == 1
    assert '<td class="best">0.1000</td>' in perfect
    # undefined scores are written as "-"
    assert "<td>-</td>" in perfect
    all_row = next(line for line in html.splitlines() if "<td>all</td>" in line)
    assert 'class="all"' in all_row and '<td class="best">0.8000</td>' in all_row


def test_page_shows_the_stream_table():
    stream = {
        "settings": {"fps": 10, "size": [160, 120], "candidates": 1},
        "backend": "ort-cpu",
        "precision": "int8",
        "frames": 20,
        "real_time_factor": 3.0,
        "summary": {"total": {"p50": 1.234, "p90": 2.0, "p99": 3.0, "mean": 1.5}},
    }
    html = render_page(_report(stream=stream, figures={"stream": {"latency": "latency.png"}}))
    assert "1.23" in html and "160x120" in html
    refs, _ = references(html)
    assert refs == ["latency.png"]
