"""The PyTorch form exports to ONNX opset 17 and ONNX Runtime reproduces it."""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import onnx
import onnxruntime as ort
import pytest
import torch

from maskaudit.kernels.pooling_torch import mask_pool, mask_pool_context


class _Pooling(torch.nn.Module):
    def forward(self, masks, feat0, feat1, feat2, context):
        pooled, geometry = mask_pool(masks, [feat0, feat1, feat2])
        return pooled, geometry, mask_pool_context(masks, context)


@pytest.fixture(scope="module")
def exported(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("onnx") / "pooling.onnx"
    names = ["masks", "feat0", "feat1", "feat2", "context"]
    example = (
        torch.rand(1, 2, 32, 32),
        torch.randn(1, 3, 16, 16),
        torch.randn(1, 5, 8, 8),
        torch.randn(1, 4, 4, 4),
        torch.randn(1, 2, 3, 8, 8),
    )
    dynamic = {name: {0: "batch"} for name in names}
    dynamic["masks"] = {0: "batch", 1: "candidates"}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            _Pooling(), example, str(path), input_names=names,
            output_names=["pooled", "geometry", "context_pooled"],
            dynamic_axes=dynamic, opset_version=17, dynamo=False,
        )  # fmt: skip
    return path


def test_graph_is_opset_17_without_loops(exported: Path) -> None:
    model = onnx.load(str(exported))
    onnx.checker.check_model(model)
    assert {o.version for o in model.opset_import if o.domain in ("", "ai.onnx")} == {17}
    ops = {node.op_type for node in model.graph.node}
    assert not ops & {"Loop", "Scan", "If", "NonZero"}, ops
    assert "MatMul" in ops and "AveragePool" in ops and "MaxPool" in ops


def test_onnxruntime_reproduces_torch_on_new_batch_and_candidate_counts(
    exported: Path, rng: np.random.Generator, make_case, check_pooled, check_geometry
) -> None:
    session = ort.InferenceSession(str(exported), providers=["CPUExecutionProvider"])
    for _ in range(3):
        case = make_case(rng, max_batch=3, max_candidates=6, size=(32, 32),
                         scales=[(3, 2), (5, 4), (4, 8)])  # fmt: skip
        B = case.masks.shape[0]
        context = rng.normal(size=(B, 2, 3, 8, 8)).astype(np.float32)
        inputs = {"masks": case.masks, "context": context}
        inputs.update({f"feat{i}": f for i, f in enumerate(case.feats)})
        pooled, geometry, context_pooled = session.run(None, inputs)

        check_pooled(pooled, case, "onnxruntime")
        check_geometry(geometry, case, "onnxruntime")
        expected = mask_pool_context(torch.from_numpy(case.masks), torch.from_numpy(context))
        np.testing.assert_allclose(context_pooled, expected.numpy(), rtol=1e-5, atol=1e-5)
