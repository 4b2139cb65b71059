import numpy as np
import onnx
import pytest

from maskaudit.export import contract
from maskaudit.export.onnx_export import (
    check_parity,
    graph_modules,
    random_inputs,
    torch_outputs,
)
from maskaudit.export.parity import max_output_difference, run_graph, sqnr_db

from .conftest import SMALL

# Sizes unlike the ones the graphs were traced and smoke-tested with (N=2/3, B=2/1, K=3/5,
# T=10/4): every dynamic axis takes two further values here.
SIZES = [dict(n=1, b=3, k=2, t=10), dict(n=4, b=1, k=7, t=6)]


@pytest.mark.parametrize("graph", contract.TRAINED_GRAPHS)
def test_graphs_match_torch_at_two_sizes(exported_bundle, small_model, graph):
    module = graph_modules(small_model)[graph]
    path = exported_bundle / contract.graph_file(graph, "fp32")
    for i, size in enumerate(SIZES):
        inputs = random_inputs(SMALL, seed=10 + i, **size)[graph]
        actual = run_graph(path, inputs)
        expected = torch_outputs(module, inputs)
        assert [a.shape for a in actual] == [e.shape for e in expected]
        assert max_output_difference(actual, expected) <= 1e-4


def test_head_outputs_have_contract_shapes(exported_bundle):
    inputs = random_inputs(SMALL, n=1, b=3, k=5, t=7, seed=4)[contract.AUDIT_HEAD]
    iou, types, actions = run_graph(exported_bundle / "audit_head.fp32.onnx", inputs)
    assert iou.shape == (3, 5) and types.shape == (3, 5, 7) and actions.shape == (3, 5, 4)
    assert np.all((iou >= 0) & (iou <= 1))


def test_iou_parity_on_benchmark_inputs_is_recorded(bundle_manifest):
    parity = bundle_manifest["export"]["parity_max_diff"]
    assert set(parity) == set(contract.TRAINED_GRAPHS)
    assert max(parity.values()) <= 1e-4


@pytest.mark.parametrize("graph", contract.TRAINED_GRAPHS)
def test_graph_signature_follows_the_contract(exported_bundle, graph):
    model = onnx.load(str(exported_bundle / contract.graph_file(graph, "fp32")))
    assert [i.name for i in model.graph.input] == list(contract.INPUTS[graph])
    assert [o.name for o in model.graph.output] == list(contract.OUTPUTS[graph])
    for value in list(model.graph.input) + list(model.graph.output):
        dims = value.type.tensor_type.shape.dim
        for axis, name in contract.DYNAMIC_AXES[graph].get(value.name, {}).items():
            assert dims[axis].dim_param == name, (value.name, axis)
    # weights live inside the file
    assert not any(
        init.data_location == onnx.TensorProto.EXTERNAL for init in model.graph.initializer
    )


def test_simplification_kept_only_when_exact(bundle_manifest):
    for graph, result in bundle_manifest["export"]["simplify"].items():
        if result["kept"]:
            assert result["max_diff"] <= 1e-5
            assert result["nodes_after"] < result["nodes_before"], graph


def test_check_parity_detects_a_different_model(exported_bundle):
    import torch

    from maskaudit.model.auditor import AuditorModel

    torch.manual_seed(123)
    other = AuditorModel(SMALL).eval()
    sets = [random_inputs(SMALL, seed=5)]
    assert max(check_parity(other, exported_bundle, sets).values()) > 1e-3


def test_sqnr_of_identical_and_noisy_signals():
    rng = np.random.default_rng(0)
    x = rng.standard_normal(1000)
    assert sqnr_db([x], [x]) == 200.0
    noisy = x + 0.1 * rng.standard_normal(1000)
    assert 18.0 < sqnr_db([x], [noisy]) < 22.0  # 10% noise is 20 dB


def test_simplification_that_changes_outputs_is_refused(exported_bundle, tmp_path, monkeypatch):
    import shutil

    import onnxslim
    from onnx import helper

    from maskaudit.export.onnx_export import simplify_graph

    path = tmp_path / "audio_encoder.fp32.onnx"
    shutil.copyfile(exported_bundle / path.name, path)
    original = path.read_bytes()

    def off_by_a_little(model):
        # a "simplification" that scales the output by 1.001
        model = onnx.load_from_string(model.SerializeToString())
        out = model.graph.output[0].name
        last = next(n for n in model.graph.node if out in n.output)
        last.output[0] = "raw"
        scale = helper.make_tensor("s", onnx.TensorProto.FLOAT, [], [1.001])
        model.graph.initializer.append(scale)
        model.graph.node.append(helper.make_node("Mul", ["raw", "s"], [out]))
        return model

    monkeypatch.setattr(onnxslim, "slim", off_by_a_little)
    inputs = [random_inputs(SMALL, n=2, seed=1)[contract.AUDIO_ENCODER]]
    result = simplify_graph(path, inputs)
    assert result["kept"] is False and result["max_diff"] > 1e-5
    assert path.read_bytes() == original
