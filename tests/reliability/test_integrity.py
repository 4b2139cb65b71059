"""Integrity: records claim exactly the backend, precision and bundle that produced them."""

import hashlib
import shutil

import numpy as np
import onnxruntime as ort
import pytest

from maskaudit.errors import BundleError
from maskaudit.runtime.auditor import Auditor
from maskaudit.runtime.backends.base import LoadedBackend
from maskaudit.runtime.backends.ort import PROVIDERS, OrtRunner
from maskaudit.runtime.bundle import GRAPHS, load_bundle
from maskaudit.runtime.testing import build_tiny_bundle

EXPRESSION = "the object making the loudest sound"
pytestmark = pytest.mark.timeout(60)


def manifest_id(folder):
    digest = hashlib.sha256((folder / "manifest.json").read_bytes()).hexdigest()
    return f"{folder.name}@{digest[:12]}"


def independent(bundle, precision):
    """The bundle's graph files of ``precision`` run in plain onnxruntime sessions."""
    runners = {}
    for graph in GRAPHS:
        file = bundle.manifest["graphs"][graph][bundle.resolve_precision(graph, precision)]
        session = ort.InferenceSession(str(bundle.path / file), providers=["CPUExecutionProvider"])
        runners[graph] = OrtRunner(graph, session)
    return Auditor(bundle, LoadedBackend("ort-cpu", precision, runners))


def scores(auditor, frame, masks):
    return [
        (v.iou, *v.type_probs.values(), *v.action_probs.values())
        for v in auditor.audit(frame, masks, np.zeros(16000, np.float32), EXPRESSION)
    ]


@pytest.fixture(scope="module")
def sample(tools):
    frame = tools.frame_image(3)[:, :, ::-1].copy()
    return frame, [tools.disc_mask(3), 255 - tools.disc_mask(3)]


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_records_claim_the_precision_whose_graphs_ran(precision, tiny_bundle, sample):
    auditor = Auditor.load(tiny_bundle, backend="ort-cpu", precision=precision, threads=1)
    frame, masks = sample
    records = [v.to_dict() for v in auditor.audit(frame, masks, None, EXPRESSION)]
    for record in records:
        assert (record["backend"], record["precision"]) == ("ort-cpu", precision)
        assert record["bundle"] == manifest_id(tiny_bundle)
        assert "backend_note" not in record

    loaded = auditor.backend
    for graph in ("frame_encoder", "audio_encoder", "audit_head"):
        assert loaded.precisions[graph] == precision
    for graph, runner in loaded.runners.items():
        assert runner.session.get_providers()[0] == PROVIDERS["ort-cpu"], graph

    # the numbers are those of the claimed files, and not those of the other precision's
    other = "fp32" if precision == "int8" else "int8"
    got = scores(auditor, frame, masks)
    np.testing.assert_allclose(
        got, scores(independent(auditor.bundle, precision), frame, masks), atol=1e-5
    )
    assert not np.allclose(got, scores(independent(auditor.bundle, other), frame, masks), atol=1e-4)


def test_auto_records_the_concrete_backend_its_sessions_really_got(tiny_bundle, sample):
    auditor = Auditor.load(tiny_bundle, backend="auto", threads=1)
    loaded = auditor.backend
    assert loaded.requested == "auto" and loaded.name != "auto"
    for runner in loaded.runners.values():
        if loaded.name != "trt":
            assert PROVIDERS[loaded.name] in runner.session.get_providers()
    (record,) = [v.to_dict() for v in auditor.audit(sample[0], sample[1][:1], None, EXPRESSION)]
    assert record["backend"] == loaded.name and record["precision"] == loaded.precision
    assert record.get("backend_note", "") == loaded.note


def test_records_name_the_bundle_that_ran(tiny_bundle, tokenizer_json, tmp_path, sample):
    other_folder = build_tiny_bundle(tmp_path / "other", tokenizer_json, seed=5)
    first = Auditor.load(tiny_bundle, backend="ort-cpu", threads=1)
    second = Auditor.load(other_folder, backend="ort-cpu", threads=1)
    a = first.audit(sample[0], sample[1][:1], None, EXPRESSION)[0].to_dict()
    b = second.audit(sample[0], sample[1][:1], None, EXPRESSION)[0].to_dict()
    assert a["bundle"] == manifest_id(tiny_bundle) and b["bundle"] == manifest_id(other_folder)
    assert a["bundle"] != b["bundle"] and a["iou"] != b["iou"]
    # the id follows the manifest, which fixes every file's hash: a copy has the same id
    copy = Auditor.load(shutil.copytree(tiny_bundle, tmp_path / "tiny"), backend="ort-cpu")
    assert copy.bundle_id == first.bundle_id


def test_stream_records_and_summary_agree_with_the_loaded_backend(auditor, corpus):
    run = auditor.stream(str(corpus.video), str(corpus.masks), str(corpus.wav), EXPRESSION)
    records = [v.to_dict() for v in run]
    claims = {(r["backend"], r["precision"], r["bundle"]) for r in records}
    assert claims == {(auditor.backend.name, auditor.backend.precision, auditor.bundle_id)}
    summary = run.summary
    assert (summary.backend, summary.precision, summary.bundle) == claims.pop()


@pytest.mark.parametrize(
    "victim", ["audit_head.int8.onnx", "text_encoder.int8.onnx", "tokenizer.json"]
)
def test_a_changed_bundle_file_is_refused_at_load(victim, tiny_bundle, tmp_path):
    folder = shutil.copytree(tiny_bundle, tmp_path / "bundle")
    data = bytearray((folder / victim).read_bytes())
    data[len(data) // 2] ^= 0x01
    (folder / victim).write_bytes(bytes(data))
    with pytest.raises(BundleError, match=victim.replace(".", r"\.")):
        load_bundle(folder)
    with pytest.raises(BundleError):
        Auditor.load(folder, backend="ort-cpu")


def test_an_edited_manifest_changes_the_bundle_id(tiny_bundle, tmp_path):
    folder = shutil.copytree(tiny_bundle, tmp_path / "tiny")
    text = (folder / "manifest.json").read_text()
    (folder / "manifest.json").write_text(
        text.replace('"accept_min_iou": 0.75', '"accept_min_iou": 0.8')
    )
    edited = Auditor.load(folder, backend="ort-cpu")
    assert edited.policy.accept_min_iou == 0.8
    assert edited.bundle_id == manifest_id(folder) != manifest_id(tiny_bundle)
