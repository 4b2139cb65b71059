from pathlib import Path

import numpy as np
import pytest

onnx = pytest.importorskip("onnx", reason="the graph counter needs the export extra")
from onnx import TensorProto, helper, numpy_helper  # noqa: E402

from maskaudit.bench.graph_ops import (  # noqa: E402
    bundle_macs,
    count_graph_macs,
    einsum_macs,
    run_shapes,
)
from maskaudit.errors import BundleError, ConfigError  # noqa: E402

SHIPPED = Path(__file__).resolve().parents[2] / "maskaudit" / "assets" / "default"
CHECKPOINT = Path(__file__).resolve().parents[2] / "checkpoints" / "default"
COUNTED = ("frame_encoder", "audio_encoder", "audit_head_1", "per_frame", "per_extra_candidate")


def model(nodes, inputs, outputs, weights=()):
    graph = helper.make_graph(
        nodes,
        "g",
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, s) for n, s in inputs],
        [helper.make_tensor_value_info(n, TensorProto.FLOAT, None) for n in outputs],
        [numpy_helper.from_array(np.ones(s, np.float32), n) for n, s in weights],
    )
    out = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    out.ir_version = 9
    return out


def test_conv_counts_outputs_times_kernel_and_input_channels_per_group():
    conv = helper.make_node(
        "Conv", ["x", "w"], ["y"], kernel_shape=[3, 3], pads=[1, 1, 1, 1], strides=[2, 2], group=2
    )
    relu = helper.make_node("Relu", ["y"], ["z"])
    counted = count_graph_macs(
        model([conv, relu], [("x", ["N", 4, 16, 16])], ["z"], [("w", (6, 2, 3, 3))]), {"N": 3}
    )
    # y is [3, 6, 8, 8]; each output reads 4 / 2 channels x 3 x 3 taps.
    assert counted.total == 3 * 6 * 8 * 8 * 2 * 3 * 3
    assert counted.by_op == {"Conv": counted.total}
    assert counted.uncounted == {"Relu": 1}
    assert counted.dims == {"N": 3}


def test_matmul_counts_broadcast_batches_and_vector_operands():
    batched = helper.make_node("MatMul", ["a", "b"], ["y"])
    counted = count_graph_macs(model([batched], [("a", [2, 3, 4, 5])], ["y"], [("b", (5, 6))]), {})
    assert counted.total == 2 * 3 * 4 * 5 * 6
    vector = helper.make_node("MatMul", ["v", "b"], ["y"])
    counted = count_graph_macs(model([vector], [("v", [5])], ["y"], [("b", (5, 6))]), {})
    assert counted.total == 5 * 6


def test_gemm_counts_the_contracted_size_with_transposed_operands():
    gemm = helper.make_node("Gemm", ["a", "b", "c"], ["y"], transA=1, transB=1)
    graph = model([gemm], [("a", [5, "M"])], ["y"], [("b", (7, 5)), ("c", (7,))])
    assert count_graph_macs(graph, {"M": 3}).total == 3 * 7 * 5


def test_einsum_node_is_counted_like_its_pairwise_contraction():
    node = helper.make_node("Einsum", ["a", "b"], ["y"], equation="bktv,bnte->bkn")
    graph = model([node], [("a", [2, 3, 4, 5]), ("b", [2, 6, 4, 7])], ["y"])
    # v and e are summed out alone first; the product then runs over b, k, t, n.
    assert count_graph_macs(graph, {}).total == 2 * 3 * 4 * 6


@pytest.mark.parametrize(
    ("equation", "shapes"),
    [
        ("bc,bchw->bhw", [(2, 3), (2, 3, 4, 5)]),
        ("bkc,bc->bk", [(2, 5, 3), (2, 3)]),
        ("bktv,bnte->bknve", [(1, 2, 3, 4), (1, 5, 3, 6)]),
        ("bktv,bnte->bkn", [(1, 2, 3, 4), (1, 5, 3, 6)]),
        ("ij,jk", [(3, 4), (4, 5)]),
        ("...ij,...jk->...ik", [(2, 3, 4), (2, 4, 5)]),
    ],
)
def test_einsum_matches_torch_flop_counter(equation, shapes):
    torch = pytest.importorskip("torch")
    from torch.utils.flop_counter import FlopCounterMode

    operands = [torch.ones(s) for s in shapes]
    counter = FlopCounterMode(display=False)
    with counter:
        torch.einsum(equation, *operands)
    assert einsum_macs(equation, shapes) == counter.get_total_flops() // 2


def test_einsum_with_one_operand_costs_nothing():
    assert einsum_macs("ij->j", [(3, 4)]) == 0


def test_einsum_with_a_wrong_operand_count_is_refused():
    with pytest.raises(BundleError, match="2 operands"):
        einsum_macs("ij,jk->ik", [(3, 4)])


def test_an_axis_without_a_size_is_refused_by_name():
    node = helper.make_node("MatMul", ["a", "b"], ["y"])
    graph = model([node], [("a", ["B", 5])], ["y"], [("b", (5, 6))])
    with pytest.raises(ConfigError, match="'a' axis 0 is B"):
        count_graph_macs(graph, {"K": 1})


def test_run_shapes_reads_shapes_from_one_run():
    matmul = helper.make_node("MatMul", ["a", "b"], ["h"])
    relu = helper.make_node("Relu", ["h"], ["y"])
    graph = model([matmul, relu], [("a", [2, 5])], ["y"], [("b", (5, 6))])
    assert run_shapes(graph, ["h", "y"]) == {"h": (2, 6), "y": (2, 6)}


def test_a_missing_graph_file_is_a_bundle_error(tmp_path):
    with pytest.raises(BundleError, match="does not exist"):
        bundle_macs(tmp_path)


@pytest.fixture(scope="module")
def shipped():
    return {p: bundle_macs(SHIPPED, p) for p in ("fp32", "int8")}


def test_shipped_counts_are_consistent(shipped):
    fp32 = shipped["fp32"]
    assert fp32["per_frame"] == fp32["frame_encoder"] + fp32["audio_encoder"] + fp32["audit_head_1"]
    assert fp32["per_extra_candidate"] == fp32["audit_head_2"] - fp32["audit_head_1"]
    # The head grows linearly in K: 15 more candidates cost 15 extra-candidate steps.
    assert fp32["audit_head_16"] - fp32["audit_head_1"] == 15 * fp32["per_extra_candidate"]
    # The INT8 graphs hold the same products between their quantise and dequantise nodes.
    counts = ("per_frame", "per_extra_candidate", "text_encoder")
    assert {k: shipped["int8"][k] for k in counts} == {k: fp32[k] for k in counts}
    # all-MiniLM-L6-v2 at 32 tokens: 6 layers of (4 x 384^2 + 2 x 384 x 1536) per token plus
    # attention's two products, 2 x 32 x 32 x 384 per layer.
    assert fp32["text_encoder"] == 6 * (32 * (4 * 384**2 + 2 * 384 * 1536) + 2 * 32 * 32 * 384)


def test_shipped_counts_agree_with_the_manifest(shipped):
    import json

    recorded = json.loads((SHIPPED / "manifest.json").read_text())["model"]["macs"]
    for key in COUNTED:
        assert shipped["fp32"][key] == pytest.approx(recorded[key], rel=0.10), key


def test_shipped_counts_agree_with_the_pytorch_count(shipped):
    pytest.importorskip("torch")
    if not (CHECKPOINT / "config.json").is_file():
        pytest.fail(f"the checkpoint {CHECKPOINT} the bundle was exported from is missing")
    from maskaudit.export.complexity import mac_counts
    from maskaudit.model.evaluate import load_run

    live = mac_counts(load_run(CHECKPOINT)[0])
    for key in COUNTED:
        assert shipped["fp32"][key] == pytest.approx(live[key], rel=0.10), key
