import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper

from maskaudit.export.calibration import SampleReader
from maskaudit.export.parity import run_graph
from maskaudit.export.qdq_debug import (
    BROKEN_DB,
    TensorErrors,
    clamp_bounds,
    find_lossy_tensors,
)
from maskaudit.export.quantize import quantize_graph


def _counting_graph(path):
    """x (binary) -> MatMul(ones) -> Add(0) -> Equal(., 1) -> Cast: "exactly one pixel set".

    A second branch, Relu(MatMul(x, w)), is ordinary INT8 material. INT8 rounds the count 1 to
    1.0039 (scale 16/255), so Equal flips unless the count stays in float.
    """
    rng = np.random.default_rng(0)
    inits = [
        helper.make_tensor("ones", TensorProto.FLOAT, [16, 4], np.ones(64).tolist()),
        helper.make_tensor("zero", TensorProto.FLOAT, [], [0.0]),
        helper.make_tensor("one", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("w", TensorProto.FLOAT, [16, 8], rng.standard_normal(128).tolist()),
    ]
    nodes = [
        helper.make_node("MatMul", ["x", "ones"], ["count"], name="count_matmul"),
        helper.make_node("Add", ["count", "zero"], ["count_plus"], name="count_add"),
        helper.make_node("Equal", ["count_plus", "one"], ["is_one"], name="is_one"),
        helper.make_node("Cast", ["is_one"], ["single"], name="cast", to=TensorProto.FLOAT),
        helper.make_node("MatMul", ["x", "w"], ["mixed"], name="mix_matmul"),
        helper.make_node("Relu", ["mixed"], ["features"], name="relu"),
    ]
    graph = helper.make_graph(
        nodes,
        "counting",
        [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 16])],
        [
            helper.make_tensor_value_info("single", TensorProto.FLOAT, ["N", 4]),
            helper.make_tensor_value_info("features", TensorProto.FLOAT, ["N", 8]),
        ],
        inits,
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return model


def _binary_reader(count=6):
    def make(i):
        rng = np.random.default_rng(i)
        x = np.zeros((32, 16), dtype=np.float32)
        x[np.arange(32), rng.integers(0, 16, 32)] = 1.0  # exactly one pixel set per row...
        x[::3, rng.integers(0, 16)] = 1.0  # ...or two, on every third row
        return {"x": x}

    return SampleReader(count, make)


@pytest.mark.parametrize("variant", ["cpu", "trt"])
def test_a_comparison_on_quantized_counts_is_found_and_kept_exact(tmp_path, variant):
    source = tmp_path / "counting.onnx"
    _counting_graph(source)
    reader = _binary_reader()
    result = quantize_graph(source, tmp_path / "q.onnx", reader, variant=variant, per_channel=False)
    excluded = {node.node: node for node in result.excluded}
    assert "count_add" in excluded
    assert "Equal is_one" in excluded["count_add"].reason
    assert "mix_matmul" not in excluded  # the ordinary branch stays INT8
    for i in range(len(reader)):
        inputs = _binary_reader().make(i)
        expected = run_graph(source, inputs)
        actual = run_graph(tmp_path / "q.onnx", inputs)
        np.testing.assert_array_equal(actual[0], expected[0])
        np.testing.assert_allclose(actual[1], expected[1], atol=0.1)


def test_low_local_sqnr_is_a_finding():
    model = helper.make_model(
        helper.make_graph(
            [helper.make_node("Softmax", ["x"], ["p"], name="softmax")],
            "g",
            [helper.make_tensor_value_info("x", TensorProto.FLOAT, [1, 400])],
            [helper.make_tensor_value_info("p", TensorProto.FLOAT, [1, 400])],
        )
    )
    # p loses its accuracy at its own QDQ (local 3 dB): Softmax itself computed it well
    errors = TensorErrors(
        local={"x": 40.0, "p": 3.0}, cross={"x": 40.0, "p": 3.0}, produced={"x": 41.0, "p": 39.0}
    )
    findings = find_lossy_tensors(model, errors, min_sqnr_db=25.0)
    assert [f.tensor for f in findings] == ["p"]
    assert "SQNR 3.0 dB" in findings[0].reason


def test_non_finite_values_are_reported_as_such():
    model = helper.make_model(
        helper.make_graph(
            [
                helper.make_node("ReduceSum", ["w"], ["total"], name="sum", keepdims=1),
                helper.make_node("Div", ["w", "total"], ["share"], name="div"),
            ],
            "g",
            [helper.make_tensor_value_info("w", TensorProto.FLOAT, [1, 4])],
            [helper.make_tensor_value_info("share", TensorProto.FLOAT, [1, 4])],
        )
    )
    errors = TensorErrors(
        local={"total": 45.0}, cross={"w": 200.0, "total": 45.0, "share": BROKEN_DB}
    )
    (finding,) = find_lossy_tensors(model, errors, min_sqnr_db=25.0)
    assert finding.tensor == "total"
    assert "non-finite values" in finding.reason


def test_clamp_bounds_of_relu_and_clip_inputs():
    inits = [
        helper.make_tensor("lo", TensorProto.FLOAT, [], [1.0]),
        helper.make_tensor("hi", TensorProto.FLOAT, [], [6.0]),
    ]
    nodes = [
        helper.make_node("Relu", ["a"], ["b"]),
        helper.make_node("Clip", ["b", "lo", "hi"], ["c"]),
        helper.make_node("Relu", ["c"], ["d"]),
        helper.make_node("Neg", ["c"], ["e"]),  # c has two readers: no clamp applies
    ]
    model = helper.make_model(
        helper.make_graph(
            nodes,
            "g",
            [helper.make_tensor_value_info("a", TensorProto.FLOAT, [2])],
            [
                helper.make_tensor_value_info("d", TensorProto.FLOAT, [2]),
                helper.make_tensor_value_info("e", TensorProto.FLOAT, [2]),
            ],
            inits,
        )
    )
    bounds = clamp_bounds(model)
    assert bounds["a"] == (0.0, np.inf)
    assert bounds["b"] == (1.0, 6.0)
    assert "c" not in bounds
