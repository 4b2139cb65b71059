"""Fuzzing the manifest loader: a usable bundle or a BundleError, never another exception."""

import copy
import hashlib
import json
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from maskaudit.errors import BundleError
from maskaudit.runtime.bundle import GRAPHS, load_bundle
from maskaudit.runtime.graphs import GraphSizes

pytestmark = pytest.mark.timeout(120)
FUZZ = settings(max_examples=50, deadline=None)

JSON = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(-(2**64), 2**64)
    | st.floats()
    | st.text(max_size=8)
    | st.sampled_from(["../x.onnx", "/etc/hostname", "tokenizer.json", "N", "float32", "fp32"]),
    lambda inner: (
        st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=8), inner, max_size=4)
    ),
    max_leaves=8,
)


OUTSIDE = {"sha256": hashlib.sha256(b"{}").hexdigest(), "bytes": 2}


@pytest.fixture(scope="module")
def folder(tiny_bundle, tmp_path_factory):
    return shutil.copytree(tiny_bundle, tmp_path_factory.mktemp("fuzzed") / "bundle")


@pytest.fixture(scope="module")
def manifest(tiny_bundle):
    return json.loads((tiny_bundle / "manifest.json").read_text())


def use(bundle):
    """What the runtime reads from a bundle before it starts a backend."""
    GraphSizes.from_bundle(bundle)
    policy = bundle.policy
    assert 0.0 <= policy.reject_max_iou <= 1.0 and 0.0 <= policy.accept_min_iou <= 1.0
    assert bundle.context_seconds >= 1
    assert isinstance(bundle.preprocessing, dict)
    assert bundle.id.startswith("bundle@")
    for graph in GRAPHS:
        for precision in bundle.precisions(graph):
            path = bundle.path / bundle.manifest["graphs"][graph][precision]
            assert path.resolve().is_relative_to(bundle.path)


def check(folder, text):
    (folder / "manifest.json").write_text(text)
    try:
        bundle = load_bundle(folder)
    except BundleError as err:
        assert str(err)
        return None
    use(bundle)
    return bundle


@FUZZ
@given(data=st.data())
def test_mutated_manifest_loads_or_raises_a_bundle_error(folder, manifest, data):
    mutated = copy.deepcopy(manifest)
    node, path = mutated, []
    while isinstance(node, dict | list) and node and data.draw(st.integers(0, 3)) > 0:
        keys = list(node) if isinstance(node, dict) else list(range(len(node)))
        key = data.draw(st.sampled_from(keys))
        path.append(key)
        if not isinstance(node[key], dict | list) or not node[key]:
            break
        node = node[key]
    parent = mutated
    for key in path[:-1]:
        parent = parent[key]
    action = data.draw(st.sampled_from(["replace", "delete", "add"]))
    if not path:
        mutated = data.draw(JSON) if action == "replace" else mutated
    elif action == "replace":
        parent[path[-1]] = data.draw(JSON)
    elif action == "delete" and isinstance(parent, dict):
        del parent[path[-1]]
    elif isinstance(parent, dict):
        parent[data.draw(st.text(max_size=8))] = data.draw(JSON)
    else:
        parent.append(data.draw(JSON))
    check(folder, json.dumps(mutated))


@FUZZ
@given(st.text(max_size=200) | st.sampled_from(["", "{", "[]", "null", '{"format_version": 1}']))
def test_manifest_that_is_not_json_is_a_bundle_error(folder, text):
    assert check(folder, text) is None


def test_the_unmutated_manifest_loads(folder, manifest):
    assert check(folder, json.dumps(manifest)) is not None


@pytest.mark.parametrize(
    "edit, message",
    [
        (lambda m: m["labels"].update(types=["good", "bad"]), "labels"),
        (lambda m: m["preprocessing"].update(n_mels=80), "n_mels"),
        (lambda m: m["preprocessing"].update(sample_rate=22050), "sample_rate"),
        (lambda m: m["policy"].update(accept_min_iou="high"), "policy"),
        (lambda m: m["policy"].update(reject_max_iou=7), "policy"),
        (lambda m: m["context"].update(seconds=0), "context"),
        (lambda m: m["files"].update({"../outside.json": OUTSIDE}), "outside"),
        (lambda m: m["graphs"]["audit_head"].update(fp32=["x"]), "audit_head"),
        (lambda m: m["graphs"]["audit_head"]["inputs"].append("masks"), "audit_head"),
    ],
)
def test_manifest_the_runtime_would_misread_is_refused(folder, manifest, edit, message):
    """A bundle made for other labels or preprocessing would give silently wrong verdicts."""
    (folder.parent / "outside.json").write_text("{}")  # exists, with the hash OUTSIDE gives
    edited = copy.deepcopy(manifest)
    edit(edited)
    (folder / "manifest.json").write_text(json.dumps(edited))
    with pytest.raises(BundleError, match=message):
        load_bundle(folder)
