"""The Triton kernels, run by Triton's interpreter on the CPU, against the numpy reference.

The interpreter is chosen when Triton is imported, so the kernels run in a fresh Python process
with ``TRITON_INTERPRET=1``; this process only writes the inputs and checks the outputs.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch

from maskaudit.errors import BackendError, InputError

RUNNER = """
import sys
import numpy as np
import torch
from maskaudit.kernels.pooling_triton import mask_pool_triton

cases = np.load(sys.argv[1])
results = {}
for name in sorted({key.split("/")[0] for key in cases.files}):
    feats = [torch.from_numpy(cases[f"{name}/feat{i}"]) for i in range(int(cases[f"{name}/n"]))]
    pooled, geometry = mask_pool_triton(
        torch.from_numpy(cases[f"{name}/masks"]), feats,
        block_pixels=int(cases[f"{name}/block_pixels"]),
        block_rows=int(cases[f"{name}/block_rows"]),
    )
    results[f"{name}/pooled"] = pooled.numpy()
    results[f"{name}/geometry"] = geometry.numpy()
np.savez(sys.argv[2], **results)
"""


def _known_shapes(make_case, rng: np.random.Generator):
    """Disc, ring, two discs, square, diagonal pixels and a soft mask on a 48x40 image."""
    case = make_case(rng, max_batch=1, max_candidates=1, size=(48, 40), scales=[(5, 8)])
    ys, xs = np.mgrid[0:48, 0:40]
    disc = (ys - 20) ** 2 + (xs - 18) ** 2 < 12**2
    ring = disc & ((ys - 20) ** 2 + (xs - 18) ** 2 > 6**2)
    two = ((ys - 8) ** 2 + (xs - 8) ** 2 < 25) | ((ys - 38) ** 2 + (xs - 30) ** 2 < 36)
    square = (ys >= 4) & (ys < 20) & (xs >= 20) & (xs < 36)
    diagonal = ((ys == 0) & (xs == 0)) | ((ys == 1) & (xs == 1)) | ((ys == 47) & (xs == 39))
    soft = np.clip((xs - 5) / 30.0, 0, 1)
    masks = np.stack([disc, ring, two, square, diagonal, soft]).astype(np.float32)
    case.masks = masks.reshape(2, 3, 48, 40)
    case.feats = [rng.normal(size=(2, 5, 6, 5)).astype(np.float32)]
    return case


def test_triton_interpreter_agrees_with_numpy(
    tmp_path: Path, rng: np.random.Generator, make_case, check_pooled, check_geometry
) -> None:
    cases = {
        "default_blocks": (make_case(rng, max_batch=1, max_candidates=2, max_cells=4), 128, 8),
        "many_tiles": (make_case(rng, max_batch=2, max_candidates=1, max_cells=3), 16, 4),
        "large_blocks": (make_case(rng, max_batch=2, max_candidates=2, max_cells=5), 1024, 32),
        "known_shapes": (_known_shapes(make_case, rng), 64, 16),
    }
    arrays = {}
    for name, (case, block_pixels, block_rows) in cases.items():
        arrays[f"{name}/masks"] = case.masks
        arrays[f"{name}/n"] = np.array(len(case.feats))
        arrays[f"{name}/block_pixels"] = np.array(block_pixels)
        arrays[f"{name}/block_rows"] = np.array(block_rows)
        for i, feat in enumerate(case.feats):
            arrays[f"{name}/feat{i}"] = feat
    np.savez(tmp_path / "cases.npz", **arrays)

    env = {**os.environ, "TRITON_INTERPRET": "1"}
    command = [sys.executable, "-c", RUNNER, str(tmp_path / "cases.npz"), str(tmp_path / "out")]
    done = subprocess.run(command, env=env, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr[-3000:]

    results = np.load(tmp_path / "out.npz")
    for name, (case, _, _) in cases.items():
        check_pooled(results[f"{name}/pooled"], case, f"triton {name}")
        check_geometry(results[f"{name}/geometry"], case, f"triton {name}")
    known = results["known_shapes/geometry"].reshape(6, 8)
    np.testing.assert_array_equal(known[:5, 2], [1, 0, 2, 1, 2])  # Euler numbers
    np.testing.assert_allclose(known[3, [0, 3, 4, 7]], [256 / 1920, 0.7, 12 / 48, 1.0], rtol=1e-6)


def test_missing_triton_is_a_backend_error(monkeypatch: pytest.MonkeyPatch) -> None:
    from maskaudit.kernels import pooling_triton

    monkeypatch.setitem(sys.modules, "triton", None)  # makes `import triton` fail
    monkeypatch.delitem(sys.modules, "maskaudit.kernels.triton_kernels", raising=False)
    with pytest.raises(BackendError, match="'triton'.*maskaudit\\[gpu\\]"):
        pooling_triton.mask_pool_triton(torch.zeros(1, 1, 8, 8), [torch.zeros(1, 2, 4, 4)])


def test_bad_block_size_is_refused_before_launch() -> None:
    from maskaudit.kernels.pooling_triton import mask_pool_triton

    with pytest.raises(InputError, match="block_pixels is 100"):
        mask_pool_triton(torch.zeros(1, 1, 8, 8), [torch.zeros(1, 2, 4, 4)], block_pixels=100)
