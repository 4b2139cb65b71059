import json

import numpy as np
import onnx
import pytest
from onnx import TensorProto, helper, numpy_helper

from maskaudit import labels
from maskaudit.export.manifest import (
    FORMAT_VERSION,
    build_manifest,
    read_signature,
    sha256_file,
    signature_difference,
    write_manifest,
)


def _graph(path, width=4, weight_as_input=False, dims=("N", 3)):
    weight = numpy_helper.from_array(np.ones((3, width), np.float32), "w")
    inputs = [helper.make_tensor_value_info("x", TensorProto.FLOAT, list(dims))]
    if weight_as_input:  # old exporters list initialisers among the inputs
        inputs.append(helper.make_tensor_value_info("w", TensorProto.FLOAT, [3, width]))
    graph = helper.make_graph(
        [helper.make_node("MatMul", ["x", "w"], ["y"])],
        "g",
        inputs,
        [helper.make_tensor_value_info("y", TensorProto.FLOAT, [dims[0], width])],
        [weight],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    model.ir_version = 8
    onnx.save(model, str(path))
    return path


def test_read_signature_matches_onnx_and_skips_weights(tmp_path):
    path = _graph(tmp_path / "g.fp32.onnx", weight_as_input=True)
    assert read_signature(path) == {
        "inputs": [{"name": "x", "dtype": "float32", "shape": ["N", 3]}],
        "outputs": [{"name": "y", "dtype": "float32", "shape": ["N", 4]}],
    }


def test_read_signature_of_every_dtype_and_unknown_dims(tmp_path):
    inputs = [
        helper.make_tensor_value_info("a", TensorProto.UINT8, [None, 160, 160, 3]),
        helper.make_tensor_value_info("b", TensorProto.INT64, ["N", "L"]),
    ]
    outputs = [helper.make_tensor_value_info("c", TensorProto.UINT8, [None, 160, 160, 3])]
    graph = helper.make_graph([helper.make_node("Identity", ["a"], ["c"])], "g", inputs, outputs)
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.save(model, str(tmp_path / "m.onnx"))
    signature = read_signature(tmp_path / "m.onnx")
    assert signature["inputs"] == [
        {"name": "a", "dtype": "uint8", "shape": ["?", 160, 160, 3]},
        {"name": "b", "dtype": "int64", "shape": ["N", "L"]},
    ]


def test_read_signature_refuses_other_files(tmp_path):
    (tmp_path / "x.onnx").write_bytes(b"\xff\xff\xff\xff not protobuf")
    with pytest.raises(ValueError, match="not an ONNX model"):
        read_signature(tmp_path / "x.onnx")
    (tmp_path / "empty.onnx").write_bytes(b"")
    with pytest.raises(ValueError, match="empty"):
        read_signature(tmp_path / "empty.onnx")


def test_build_manifest_hashes_files_and_reads_graphs(tmp_path):
    _graph(tmp_path / "frame_encoder.fp32.onnx")
    _graph(tmp_path / "frame_encoder.int8.onnx")
    _graph(tmp_path / "text_encoder.int8.onnx")
    (tmp_path / "tokenizer.json").write_text("{}")
    (tmp_path / "engines").mkdir()
    (tmp_path / "engines" / "x.engine").write_bytes(b"local")
    manifest = build_manifest(
        tmp_path, calibration={"data": "synthetic", "samples": 64, "method": "minmax"}
    )
    assert manifest["format_version"] == FORMAT_VERSION
    assert manifest["graphs"]["frame_encoder"]["fp32"] == "frame_encoder.fp32.onnx"
    assert manifest["graphs"]["frame_encoder"]["int8"] == "frame_encoder.int8.onnx"
    assert "fp32" not in manifest["graphs"]["text_encoder"]
    assert manifest["graphs"]["frame_encoder"]["inputs"][0]["shape"] == ["N", 3]
    assert set(manifest["files"]) == {
        "frame_encoder.fp32.onnx",
        "frame_encoder.int8.onnx",
        "text_encoder.int8.onnx",
        "tokenizer.json",
    }
    info = manifest["files"]["tokenizer.json"]
    assert info == {"sha256": sha256_file(tmp_path / "tokenizer.json"), "bytes": 2}
    assert manifest["labels"] == {
        "types": list(labels.TRAIN_TYPES),
        "actions": list(labels.ACTIONS),
    }
    assert manifest["preprocessing"]["frame_size"] == 160
    assert manifest["context"] == {"seconds": 10}
    assert set(manifest["policy"]) == {"accept_min_iou", "reject_max_iou"}
    assert manifest["calibration"]["samples"] == 64

    path = write_manifest(tmp_path, manifest)
    assert json.loads(path.read_text()) == manifest
    again = build_manifest(tmp_path)
    assert "manifest.json" not in again["files"]


def test_build_manifest_refuses_bad_names_and_mismatched_precisions(tmp_path):
    _graph(tmp_path / "frame_encoder.fp16.onnx")
    with pytest.raises(ValueError, match="not named <graph>.<precision>.onnx"):
        build_manifest(tmp_path)
    (tmp_path / "frame_encoder.fp16.onnx").unlink()
    _graph(tmp_path / "head.fp32.onnx", width=4)
    _graph(tmp_path / "head.int8.onnx", width=5)
    with pytest.raises(ValueError, match="differ from the other precision of head"):
        build_manifest(tmp_path)
    with pytest.raises(ValueError, match="computed"):
        build_manifest(tmp_path, files={})


def test_signature_difference():
    a = [{"name": "x", "dtype": "float32", "shape": ["N", 3]}]
    assert signature_difference(a, [{"name": "x", "dtype": "float32", "shape": ["B", 3]}]) is None
    assert "dtype" in signature_difference(a, [{"name": "x", "dtype": "uint8", "shape": ["N", 3]}])
    assert "shape" in signature_difference(a, [{"name": "x", "dtype": "float32", "shape": [1, 3]}])
    assert "names" in signature_difference(
        a, [{"name": "y", "dtype": "float32", "shape": ["N", 3]}]
    )
