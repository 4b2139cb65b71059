"""A short soak: a few hundred frames with four candidates each through the shipped bundle.

The recorded soak (``benchmarks/soak.py``, 20,000 frames) applies the same checks at length.
"""

from __future__ import annotations

import json

import numpy as np
import pytest

from maskaudit.bench.soak import SoakResult, _segments, resident_mb, run_soak


def test_resident_memory_is_read():
    assert resident_mb() > 10.0


def test_segments_cover_whole_segments_only():
    latency = np.concatenate([np.full(100, 2.0), np.full(100, 4.0), np.full(30, 9.0)])
    rows = _segments(latency, 0, 100)
    assert [r["first_frame"] for r in rows] == [0, 100]
    assert [r["p50"] for r in rows] == [2.0, 4.0]


def test_checks_fail_on_loss_growth_and_drift():
    result = SoakResult(
        frames=10,
        candidates=2,
        records=19,
        errors=1,
        wall_seconds=1.0,
        warmup_frames=0,
        rss_growth_mb=60.0,
        drift=1.5,
    )
    assert result.lost == 1
    assert result.passed() == {
        "nothing_lost": False,
        "no_errors": False,
        "memory_flat": False,
        "latency_steady": False,
    }


@pytest.mark.slow
def test_short_soak_loses_nothing_and_stays_flat(tmp_path):
    result = run_soak(
        600,
        candidates=4,
        size=(160, 96),
        warmup_frames=100,
        sample_every=50,
        segment_frames=200,
        workdir=tmp_path,
        threads=1,
    )
    assert result.frames == 600
    assert result.records == 600 * 4
    assert result.errors == 0
    # 500 frames after warm-up: two whole segments of 200 and a half one of 100.
    assert [row["first_frame"] for row in result.segments] == [100, 300, 500]
    assert result.rss_growth_mb < 50.0
    lines = (tmp_path / "verdicts.jsonl").read_text().splitlines()
    assert {json.loads(line)["mask_id"] for line in lines} == set(
        ["m0_perfect", "m1_erode", "m2_dilate", "m3_full_neg"]
    )
