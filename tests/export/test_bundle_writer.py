import json
import shutil

import pytest

from maskaudit.errors import BundleError, ConfigError
from maskaudit.export import contract
from maskaudit.export.bundle_writer import load_checkpoint, prepare_folder
from maskaudit.export.manifest import FORMAT_VERSION, sha256_file
from maskaudit.features.constants import preprocessing_constants
from maskaudit.labels import ACTIONS, TRAIN_TYPES
from maskaudit.runtime.bundle import load_bundle

EXPECTED_FILES = {
    f"{graph}.{precision}.onnx"
    for graph in contract.TRAINED_GRAPHS
    for precision in ("fp32", "int8", "int8-trt")
} | {"text_encoder.int8.onnx", "tokenizer.json"}


def test_bundle_files_and_hashes(exported_bundle, bundle_manifest):
    assert set(bundle_manifest["files"]) == EXPECTED_FILES
    for name, info in bundle_manifest["files"].items():
        assert info["sha256"] == sha256_file(exported_bundle / name)
        assert info["bytes"] == (exported_bundle / name).stat().st_size
    assert not (exported_bundle / "text_encoder.fp32.onnx").exists()


def test_manifest_sections(bundle_manifest):
    assert bundle_manifest["format_version"] == FORMAT_VERSION
    assert bundle_manifest["preprocessing"] == preprocessing_constants()
    assert bundle_manifest["labels"] == {"types": list(TRAIN_TYPES), "actions": list(ACTIONS)}
    assert set(bundle_manifest["policy"]) >= {"accept_min_iou", "reject_max_iou"}
    assert "export_text_encoder" in bundle_manifest["text_encoder"]["fp32_command"]
    assert bundle_manifest["export"]["opset"] == 17
    assert "maskaudit" in bundle_manifest["export"]["command"]
    graphs = bundle_manifest["graphs"]
    assert set(graphs) == set(contract.GRAPHS)
    assert graphs["audit_head"]["int8-trt"] == "audit_head.int8-trt.onnx"
    # strict JSON: no NaN or Infinity anywhere
    json.loads(json.dumps(bundle_manifest), parse_constant=pytest.fail)


def test_the_runtime_loads_the_bundle(exported_bundle):
    bundle = load_bundle(exported_bundle)
    assert set(bundle.precisions("audit_head")) == {"fp32", "int8", "int8-trt"}


@pytest.fixture
def bundle_copy(exported_bundle, tmp_path):
    copy = tmp_path / "bundle"
    shutil.copytree(exported_bundle, copy, ignore=shutil.ignore_patterns("engines"))
    return copy


def test_one_changed_byte_makes_the_loader_refuse(bundle_copy):
    path = bundle_copy / "frame_encoder.int8.onnx"
    data = bytearray(path.read_bytes())
    data[len(data) // 2] ^= 0x01
    path.write_bytes(bytes(data))
    with pytest.raises(BundleError, match="frame_encoder.int8.onnx"):
        load_bundle(bundle_copy)


def test_a_missing_graph_makes_the_loader_refuse(bundle_copy):
    (bundle_copy / "audit_head.fp32.onnx").unlink()
    with pytest.raises(BundleError, match="audit_head.fp32.onnx"):
        load_bundle(bundle_copy)


def test_non_empty_folder_needs_force(tmp_path):
    (tmp_path / "notes.txt").write_text("keep me")
    (tmp_path / "old.fp32.onnx").write_bytes(b"x")
    (tmp_path / "engines").mkdir()
    with pytest.raises(ConfigError, match="--force"):
        prepare_folder(tmp_path, force=False)
    prepare_folder(tmp_path, force=True)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.txt"]
    with pytest.raises(ConfigError, match="is a file"):
        prepare_folder(tmp_path / "notes.txt", force=True)


def test_checkpoint_errors(tmp_path, tiny_run):
    with pytest.raises(ConfigError, match="model.pt"):
        load_checkpoint(tmp_path)
    bad = tmp_path / "bad"
    shutil.copytree(tiny_run, bad)
    config = json.loads((bad / "config.json").read_text())
    config["model"]["c1"] = 12
    (bad / "config.json").write_text(json.dumps(config))
    with pytest.raises(ConfigError, match="does not fit"):
        load_checkpoint(bad)
    model, run = load_checkpoint(tiny_run)
    assert run.model.c1 == model.config.c1
