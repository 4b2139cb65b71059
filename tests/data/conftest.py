"""Shared fixtures: one tiny synthetic benchmark per test session."""

from __future__ import annotations

from pathlib import Path

import pytest

from maskaudit.data.writer import write_benchmark

TINY_VIDEOS = 8


@pytest.fixture(scope="session")
def synth_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("synth") / "bench"
    write_benchmark(root, TINY_VIDEOS, seed=0, workers=1)
    return root
