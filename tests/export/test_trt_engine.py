"""The TensorRT engine builder against a stand-in ``tensorrt`` module.

TensorRT cannot be installed where these tests run; the stand-in records the documented
TensorRT 10 calls the builder makes, so the names, flags, profile shapes and files around the
build are checked for real. Building a real engine needs a GPU with TensorRT.
"""

import json
import sys
import types

import pytest

from maskaudit.errors import BackendError, BundleError
from maskaudit.export import trt_engine, trt_options
from maskaudit.export.trt_options import ProfileLimits, profile_shapes


class _Recorder:
    def __init__(self):
        self.calls = []


def fake_tensorrt(record: _Recorder, parse_ok: bool = True, build_ok: bool = True):
    trt = types.ModuleType("tensorrt")
    trt.__version__ = "10.3.0"

    class Logger:
        WARNING = "warning"

        def __init__(self, level):
            record.calls.append(("logger", level))

    class Profile:
        def set_shape(self, name, low, opt, high):
            record.calls.append(("set_shape", name, tuple(low), tuple(opt), tuple(high)))

    class TimingCache:
        def __init__(self, data):
            self.data = data

        def serialize(self):
            return b"timing:" + self.data

    class Config:
        def set_memory_pool_limit(self, pool, size):
            record.calls.append(("pool", pool, size))

        def set_flag(self, flag):
            record.calls.append(("flag", flag))

        def add_optimization_profile(self, profile):
            record.calls.append(("add_profile",))

        def create_timing_cache(self, data):
            self.cache = TimingCache(bytes(data))
            return self.cache

        def set_timing_cache(self, cache, ignore_mismatch):
            record.calls.append(("timing_cache", ignore_mismatch))

        def get_timing_cache(self):
            return self.cache

    class Builder:
        def __init__(self, logger):
            pass

        def create_network(self, flags):
            record.calls.append(("network", flags))
            return object()

        def create_builder_config(self):
            return Config()

        def create_optimization_profile(self):
            return Profile()

        def build_serialized_network(self, network, config):
            record.calls.append(("build",))
            return b"engine-bytes" if build_ok else None

    class OnnxParser:
        num_errors = 0 if parse_ok else 1

        def __init__(self, network, logger):
            pass

        def parse_from_file(self, path):
            record.calls.append(("parse", path))
            return parse_ok

        def get_error(self, i):
            return "unsupported operator Foo"

    trt.Logger, trt.Builder, trt.OnnxParser = Logger, Builder, OnnxParser
    trt.BuilderFlag = types.SimpleNamespace(FP16="FP16", INT8="INT8")
    trt.MemoryPoolType = types.SimpleNamespace(WORKSPACE="WORKSPACE")
    trt.NetworkDefinitionCreationFlag = types.SimpleNamespace()  # TensorRT 10: no EXPLICIT_BATCH
    return trt


@pytest.fixture
def named_gpu(monkeypatch):
    monkeypatch.setattr(trt_options, "detect_gpu_name", lambda device_id=0: "NVIDIA H200")


def test_missing_tensorrt_is_named(monkeypatch, exported_bundle):
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(BackendError, match="`tensorrt`"):
        trt_engine.build_engines(exported_bundle, "fp16")


def test_int8_engines_from_the_trt_variant(exported_bundle, bundle_manifest, named_gpu):
    record = _Recorder()
    limits = ProfileLimits(max_batch=4, max_k=8)
    builds = trt_engine.build_engines(
        exported_bundle, "int8", limits, workspace_mb=256, trt=fake_tensorrt(record)
    )
    assert [b.graph for b in builds] == ["frame_encoder", "audio_encoder", "audit_head"]
    for build in builds:
        assert build.onnx.name == f"{build.graph}.int8-trt.onnx"
        assert build.engine.name == f"{build.graph}.nvidia-h200.trt10.3.0.int8.engine"
        assert build.engine.read_bytes() == b"engine-bytes"
    parsed = [c[1] for c in record.calls if c[0] == "parse"]
    assert [p.rsplit("/", 1)[1] for p in parsed] == [f"{b.graph}.int8-trt.onnx" for b in builds]
    assert ("network", 0) in record.calls
    assert record.calls.count(("flag", "INT8")) == 3
    assert record.calls.count(("flag", "FP16")) == 3
    assert ("pool", "WORKSPACE", 256 << 20) in record.calls
    expected = profile_shapes(
        "audit_head", bundle_manifest["graphs"]["audit_head"]["inputs"], limits
    )
    low, opt, high = expected["masks"]
    assert ("set_shape", "masks", low, opt, high) in record.calls
    assert high[:2] == (4, 8)
    timing = exported_bundle / "engines" / "timing.nvidia-h200.trt10.3.0.cache"
    assert timing.read_bytes().startswith(b"timing:")


def test_fp16_engines_from_fp32_graphs(exported_bundle, named_gpu):
    record = _Recorder()
    builds = trt_engine.build_engines(exported_bundle, "fp16", trt=fake_tensorrt(record))
    assert all(b.onnx.name.endswith(".fp32.onnx") for b in builds)
    assert ("flag", "INT8") not in record.calls
    assert record.calls.count(("flag", "FP16")) == 3


def test_missing_trt_variant_names_the_fix(tmp_path, named_gpu):
    graphs = {"frame_encoder": {"fp32": "frame_encoder.fp32.onnx", "int8": "x", "inputs": []}}
    (tmp_path / "manifest.json").write_text(json.dumps({"graphs": graphs}))
    with pytest.raises(BundleError, match="--trt-variant"):
        trt_engine.build_engines(tmp_path, "int8", trt=fake_tensorrt(_Recorder()))


def test_parse_and_build_failures_are_backend_errors(exported_bundle, tmp_path):
    shapes = {"log_mel": ((1, 64, 101), (1, 64, 101), (2, 64, 101))}
    source = exported_bundle / "audio_encoder.fp32.onnx"
    with pytest.raises(BackendError, match="unsupported operator Foo"):
        trt_engine.build_engine(
            source, tmp_path / "e", "fp16", shapes, trt=fake_tensorrt(_Recorder(), parse_ok=False)
        )
    with pytest.raises(BackendError, match="could not build"):
        trt_engine.build_engine(
            source, tmp_path / "e", "fp16", shapes, trt=fake_tensorrt(_Recorder(), build_ok=False)
        )
    assert not (tmp_path / "e").exists()
