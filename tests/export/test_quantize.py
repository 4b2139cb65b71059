import numpy as np
import onnx
import pytest
from onnx import numpy_helper

from maskaudit.errors import ConfigError
from maskaudit.export import contract
from maskaudit.export.accuracy import bundle_outputs
from maskaudit.export.calibration import calibration_data
from maskaudit.export.quantize import quantize_graph

# INT8 tolerance for the small random auditor on held-out inputs (test_s): every candidate's
# IoU and every type/action probability within 0.02 of fp32, and the same argmax type and
# action. Why 0.02: each INT8 layer adds noise of about 1% of its signal (its SQNR is >= 25 dB
# by construction, 35-45 dB measured), the head's sigmoid and softmax shrink it further, and
# the measured worst case is 0.004; 0.02 leaves a 5x margin for other CPUs' rounding while
# still failing on a broken quantization (a wrong scale or zero point moves IoUs by > 0.1).
TOLERANCE = 0.02


@pytest.mark.parametrize("precision", ["int8", "int8-trt"])
def test_int8_stays_close_to_fp32(exported_bundle, test_split, precision):
    store, embeddings = test_split
    simulate = precision == "int8-trt"
    reference = bundle_outputs(exported_bundle, "fp32", store, embeddings)
    quantized = bundle_outputs(exported_bundle, precision, store, embeddings, simulate=simulate)
    assert len(reference["iou"]) > 10
    assert np.abs(quantized["iou"] - reference["iou"]).max() <= TOLERANCE
    for key in ("type_probs", "action_probs"):
        assert np.abs(quantized[key] - reference[key]).max() <= TOLERANCE
        # Within that tolerance only near-ties may change their winner: compare the decisions
        # whose top two probabilities differ by more than twice the tolerance.
        top2 = np.sort(reference[key], axis=1)[:, -2:]
        clear = (top2[:, 1] - top2[:, 0]) > 2 * TOLERANCE
        assert clear.sum() > 0
        np.testing.assert_array_equal(
            quantized[key].argmax(1)[clear], reference[key].argmax(1)[clear]
        )


def _quantize_nodes(path):
    model = onnx.load(str(path))
    inits = {i.name: numpy_helper.to_array(i) for i in model.graph.initializer}
    return model, inits


@pytest.mark.parametrize("graph", contract.TRAINED_GRAPHS)
def test_cpu_variant_is_unsigned_activations_and_7_bit_weights(exported_bundle, graph):
    model, inits = _quantize_nodes(exported_bundle / contract.graph_file(graph, "int8"))
    quantize = [n for n in model.graph.node if n.op_type == "QuantizeLinear"]
    assert quantize, "the CPU variant has no quantized activation"
    for node in quantize:
        assert inits[node.input[2]].dtype == np.uint8
    weights = [
        inits[n.input[0]]
        for n in model.graph.node
        if n.op_type == "DequantizeLinear"
        and n.input[0] in inits
        and inits[n.input[0]].dtype == np.int8
    ]
    assert weights, "no INT8 weight"
    assert all(w.min() >= -64 and w.max() <= 64 for w in weights)  # reduce_range: 7 bits


@pytest.mark.parametrize("graph", contract.TRAINED_GRAPHS)
def test_trt_variant_is_signed_and_symmetric(exported_bundle, graph):
    model, inits = _quantize_nodes(exported_bundle / contract.graph_file(graph, "int8-trt"))
    zero_points = [
        inits[n.input[2]]
        for n in model.graph.node
        if n.op_type in ("QuantizeLinear", "DequantizeLinear") and len(n.input) > 2
    ]
    assert any(z.dtype == np.int8 for z in zero_points)
    # int8 activations and weights, int32 biases; every zero point is 0 (TensorRT's rule)
    assert all(z.dtype in (np.int8, np.int32) and not z.any() for z in zero_points)


def test_calibration_section_records_provenance_and_exclusions(bundle_manifest):
    calibration = bundle_manifest["calibration"]
    assert calibration["data"] == "bench/train"
    assert calibration["samples"] == 8
    assert calibration["method"] == "minmax"
    assert set(calibration["variants"]) == {"cpu", "trt"}
    for variant in calibration["variants"].values():
        assert set(variant["graphs"]) == set(contract.TRAINED_GRAPHS)
        for result in variant["graphs"].values():
            for node in result["excluded"]:
                assert node["node"] and node["op_type"]
                assert "dB" in node["reason"]
                assert node["sqnr_db"] < calibration["min_sqnr_db"]
            assert min(result["output_sqnr_db"].values()) > 20.0


@pytest.fixture(scope="module")
def audio_reader(exported_bundle, train_split):
    store, embeddings = train_split
    data = calibration_data(store, embeddings, exported_bundle, samples=8)
    return data.readers[contract.AUDIO_ENCODER]


def test_per_channel_auto_keeps_the_better_choice(exported_bundle, audio_reader, tmp_path):
    source = exported_bundle / "audio_encoder.fp32.onnx"
    results = {
        choice: quantize_graph(
            source, tmp_path / f"{choice}.onnx", audio_reader, per_channel=choice
        )
        for choice in (True, False, None)
    }
    worst = {k: min(r.output_sqnr_db.values()) for k, r in results.items()}
    assert worst[None] == pytest.approx(max(worst[True], worst[False]))
    assert results[None].per_channel == (worst[True] >= worst[False])


@pytest.mark.parametrize("method", ["entropy", "percentile"])
def test_histogram_methods_calibrate(exported_bundle, audio_reader, tmp_path, method):
    result = quantize_graph(
        exported_bundle / "audio_encoder.fp32.onnx",
        tmp_path / "q.onnx",
        audio_reader,
        method=method,
        per_channel=True,
    )
    assert result.method == method
    assert min(result.output_sqnr_db.values()) > 15.0


def test_unknown_settings_are_refused(exported_bundle, audio_reader, tmp_path):
    source = exported_bundle / "audio_encoder.fp32.onnx"
    with pytest.raises(ConfigError, match="calibration method"):
        quantize_graph(source, tmp_path / "q.onnx", audio_reader, method="kl")
    with pytest.raises(ConfigError, match="variant"):
        quantize_graph(source, tmp_path / "q.onnx", audio_reader, variant="gpu")
