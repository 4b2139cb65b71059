import json
from pathlib import Path

import pytest

from maskaudit.errors import BundleError
from maskaudit.export.manifest import FORMAT_VERSION, build_manifest, write_manifest
from maskaudit.runtime.bundle import GRAPHS, default_bundle_path, load_bundle


def _edit_manifest(folder: Path, edit) -> None:
    path = folder / "manifest.json"
    manifest = json.loads(path.read_text())
    edit(manifest)
    path.write_text(json.dumps(manifest))


def test_tiny_bundle_loads_with_every_graph(tiny_bundle):
    bundle = load_bundle(tiny_bundle)
    assert bundle.manifest["format_version"] == FORMAT_VERSION
    for graph in GRAPHS:
        assert bundle.precisions(graph), graph
    assert bundle.precisions("text_encoder") == ("int8",)
    assert bundle.context_seconds == 10
    assert bundle.input_shape("audit_head", "masks") == ["B", "K", 160, 160]


def test_one_changed_byte_in_a_graph_is_refused(bundle_copy):
    graph = bundle_copy / "frame_encoder.int8.onnx"
    data = bytearray(graph.read_bytes())
    data[len(data) // 2] ^= 0x01
    graph.write_bytes(bytes(data))
    with pytest.raises(BundleError) as err:
        load_bundle(bundle_copy)
    message = str(err.value)
    assert "frame_encoder.int8.onnx does not match its sha256 in manifest.json" in message
    assert "maskaudit export" in message


def test_truncated_file_is_refused(bundle_copy):
    tokenizer = bundle_copy / "tokenizer.json"
    tokenizer.write_bytes(tokenizer.read_bytes()[:100])
    with pytest.raises(BundleError, match="tokenizer.json does not match its sha256"):
        load_bundle(bundle_copy)


def test_missing_file_is_refused(bundle_copy):
    (bundle_copy / "audit_head.fp32.onnx").unlink()
    with pytest.raises(BundleError, match="audit_head.fp32.onnx is missing"):
        load_bundle(bundle_copy)


def test_old_format_version_is_refused_with_an_upgrade_hint(bundle_copy):
    _edit_manifest(bundle_copy, lambda m: m.update(format_version=FORMAT_VERSION - 1))
    with pytest.raises(BundleError) as err:
        load_bundle(bundle_copy)
    message = str(err.value)
    assert f"format_version {FORMAT_VERSION - 1}, older" in message
    assert "upgrade the bundle" in message and "maskaudit export" in message


def test_newer_format_version_asks_to_upgrade_maskaudit(bundle_copy):
    _edit_manifest(bundle_copy, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(BundleError, match="pip install -U maskaudit"):
        load_bundle(bundle_copy)


def test_missing_folder_and_manifest_are_refused(tmp_path):
    with pytest.raises(BundleError, match="does not exist"):
        load_bundle(tmp_path / "nowhere")
    with pytest.raises(BundleError, match="manifest.json is missing"):
        load_bundle(tmp_path)


def test_missing_default_bundle_says_how_to_fix(monkeypatch, tmp_path):
    monkeypatch.setattr(
        "maskaudit.runtime.bundle.default_bundle_path", lambda: tmp_path / "default"
    )
    with pytest.raises(BundleError, match="shipped default bundle is missing.*--bundle"):
        load_bundle()
    assert default_bundle_path().parts[-2:] == ("assets", "default")


def test_manifest_signature_that_differs_from_the_graph_is_refused(bundle_copy):
    def edit(manifest):
        manifest["graphs"]["audio_encoder"]["outputs"][0]["shape"] = ["N", 16]

    _edit_manifest(bundle_copy, edit)
    with pytest.raises(BundleError) as err:
        load_bundle(bundle_copy)
    assert "audio_encoder" in str(err.value) and "do not match" in str(err.value)


def test_graph_renamed_input_breaks_the_contract(bundle_copy):
    def edit(manifest):
        manifest["graphs"]["audit_head"]["inputs"][-1]["name"] = "candidates"

    _edit_manifest(bundle_copy, edit)
    with pytest.raises(BundleError, match="graph contract"):
        load_bundle(bundle_copy)


def test_missing_precision_is_refused_when_asked(bundle_copy):
    for graph in ("frame_encoder", "audio_encoder", "audit_head"):
        (bundle_copy / f"{graph}.fp32.onnx").unlink()
    write_manifest(bundle_copy, build_manifest(bundle_copy))
    bundle = load_bundle(bundle_copy)
    assert bundle.resolve_precision("text_encoder", "fp32") == "int8"
    with pytest.raises(BundleError, match="no fp32 frame_encoder.*--precision int8"):
        bundle.graph_path("frame_encoder", "fp32")


def test_missing_graph_is_refused(bundle_copy):
    def edit(manifest):
        del manifest["graphs"]["text_encoder"]

    _edit_manifest(bundle_copy, edit)
    with pytest.raises(BundleError, match="no text_encoder graph"):
        load_bundle(bundle_copy)


def test_policy_thresholds_come_from_the_manifest(bundle_copy):
    _edit_manifest(bundle_copy, lambda m: m["policy"].update(accept_min_iou=0.8))
    assert load_bundle(bundle_copy).policy.accept_min_iou == 0.8


def test_gpu_backends_prefer_the_tensorrt_int8_variant(tmp_path, tokenizer_json):
    from maskaudit.runtime.testing import build_tiny_bundle

    folder = build_tiny_bundle(
        tmp_path / "b", tokenizer_json, precisions=("int8", "int8-trt"), text_precisions=("int8",)
    )
    bundle = load_bundle(folder)
    assert bundle.precisions("audit_head") == ("int8", "int8-trt")
    assert bundle.resolve_precision("audit_head", "int8") == "int8"
    assert bundle.resolve_precision("audit_head", "int8", gpu=True) == "int8-trt"
    assert bundle.resolve_precision("text_encoder", "int8", gpu=True) == "int8"
    assert (
        bundle.graph_path("frame_encoder", "int8", gpu=True).name == "frame_encoder.int8-trt.onnx"
    )
    assert bundle.graph_path("audit_head", "int8", gpu=True).name == "audit_head.int8-trt.onnx"
    with pytest.raises(BundleError, match="no fp32 audit_head"):
        bundle.resolve_precision("audit_head", "fp32", gpu=True)
