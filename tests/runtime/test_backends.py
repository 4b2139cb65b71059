import builtins
import sys
import types

import numpy as np
import onnxruntime as ort
import pytest

from maskaudit.errors import BackendError, ConfigError
from maskaudit.export import trt_engine, trt_options
from maskaudit.export.trt_options import ProfileLimits, engine_file_name
from maskaudit.runtime.backends import BACKENDS, open_backend, warm_up
from maskaudit.runtime.backends.ort import OrtOptions, providers_for, session_options
from maskaudit.runtime.backends.trt import (
    MISSING_TENSORRT,
    TrtRunner,
    find_engines,
    import_tensorrt,
    open_trt,
)
from maskaudit.runtime.bundle import load_bundle
from maskaudit.runtime.testing import build_tiny_bundle

needs_cpu_build = pytest.mark.skipif(
    "CUDAExecutionProvider" in ort.get_available_providers(),
    reason="this onnxruntime has CUDA; the test is about a machine without it",
)


@pytest.fixture(scope="module")
def bundle(tiny_bundle):
    return load_bundle(tiny_bundle)


def test_ort_cpu_reports_what_really_runs(bundle):
    loaded = open_backend(bundle, "ort-cpu", "int8", OrtOptions(threads=1))
    assert loaded.name == "ort-cpu" and loaded.requested == "ort-cpu"
    assert loaded.precision == "int8"
    assert loaded.precisions["text_encoder"] == "int8"
    assert all(p[0] == "CPUExecutionProvider" for p in loaded.providers.values())
    assert loaded.note == ""


def test_fp32_runs_fp32_graphs_and_the_int8_only_text_encoder(bundle):
    loaded = open_backend(bundle, "ort-cpu", "fp32", OrtOptions(threads=1))
    assert loaded.precisions == {
        "frame_encoder": "fp32",
        "audio_encoder": "fp32",
        "text_encoder": "int8",
        "audit_head": "fp32",
    }


@needs_cpu_build
def test_ort_cuda_without_cuda_raises_and_says_how_to_fix(bundle):
    with pytest.raises(BackendError) as err:
        open_backend(bundle, "ort-cuda", "int8")
    message = str(err.value)
    assert "CUDAExecutionProvider" in message
    assert "onnxruntime" in message and "installed" in message
    assert "pip install onnxruntime-gpu" in message


@needs_cpu_build
def test_ort_trt_without_tensorrt_provider_raises(bundle):
    with pytest.raises(BackendError, match="TensorrtExecutionProvider"):
        open_backend(bundle, "ort-trt", "int8")


def test_unknown_backend_and_precision_are_config_errors(bundle):
    with pytest.raises(ConfigError, match="unknown backend 'tpu'.*ort-cpu"):
        open_backend(bundle, "tpu")
    with pytest.raises(ConfigError, match="unknown precision 'fp16'"):
        open_backend(bundle, "ort-cpu", "fp16")


@needs_cpu_build
def test_auto_falls_back_to_cpu_and_says_so(bundle):
    loaded = open_backend(bundle, "auto", "int8", OrtOptions(threads=1))
    assert loaded.name == "ort-cpu" and loaded.requested == "auto"
    assert loaded.note.startswith("auto chose ort-cpu")
    for skipped in ("trt", "ort-trt", "ort-cuda"):
        assert f"{skipped}:" in loaded.note


def test_session_that_silently_fell_back_is_refused(bundle, monkeypatch):
    """onnxruntime-gpu without CUDA libraries starts a CPU-only session: never claim CUDA."""
    real = ort.InferenceSession

    class FellBack:
        def __init__(self, path, options, providers):
            self._session = real(path, options, providers=["CPUExecutionProvider"])

        def __getattr__(self, name):
            return getattr(self._session, name)

    monkeypatch.setattr(ort, "InferenceSession", FellBack)
    monkeypatch.setattr(
        ort,
        "get_available_providers",
        lambda: ["CUDAExecutionProvider", "CPUExecutionProvider"],
    )
    with pytest.raises(BackendError, match="fell back to CPUExecutionProvider"):
        open_backend(bundle, "ort-cuda", "int8")
    loaded = open_backend(bundle, "auto", "int8")
    assert loaded.name == "ort-cpu"
    assert "ort-cuda: failed" in loaded.note


def test_session_options_take_thread_counts():
    options = session_options(threads=3, inter_threads=2)
    assert options.intra_op_num_threads == 3 and options.inter_op_num_threads == 2
    assert session_options().intra_op_num_threads == 1  # small graphs: one thread by default
    assert session_options(threads=0).intra_op_num_threads == 0  # onnxruntime's own choice
    with pytest.raises(BackendError, match="negative"):
        session_options(threads=-1)


def _trt_options(bundle, graph, precision, options):
    """The TensorRT provider's options of one graph on ``ort-trt``."""
    providers = providers_for("ort-trt", bundle, graph, precision, options)
    assert [p[0] if isinstance(p, tuple) else p for p in providers] == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]
    return providers[0][1]


def test_ort_trt_profiles_cover_every_dynamic_axis(bundle, tmp_path):
    options = OrtOptions(cache_dir=tmp_path, limits=ProfileLimits(max_batch=4, max_k=16))
    head = _trt_options(bundle, "audit_head", "int8", options)
    assert "masks:1x1x160x160" in head["trt_profile_min_shapes"]
    assert "masks:1x4x160x160" in head["trt_profile_opt_shapes"]
    assert "masks:4x16x160x160" in head["trt_profile_max_shapes"]
    assert "context_maps:1x10x3x40x40" in head["trt_profile_opt_shapes"]
    frame = _trt_options(bundle, "frame_encoder", "int8", options)
    assert frame["trt_profile_max_shapes"] == "frame:11x160x160x3"
    text = _trt_options(bundle, "text_encoder", "int8", options)
    assert text["trt_profile_opt_shapes"].count(":1x32") == 3
    assert text["trt_profile_max_shapes"].count(":4x32") == 3


def test_ort_trt_provider_options_per_file_precision(bundle, tmp_path):
    options = OrtOptions(cache_dir=tmp_path / "cache", device_id=1, workspace_mb=512)
    int8 = _trt_options(bundle, "audit_head", "int8", options)
    fp32 = _trt_options(bundle, "audit_head", "fp32", options)
    int8_trt = _trt_options(bundle, "audit_head", "int8-trt", options)
    assert int8["trt_int8_enable"] == int8["trt_fp16_enable"] == "True"
    assert fp32["trt_int8_enable"] == fp32["trt_fp16_enable"] == "False"
    assert int8_trt == int8
    assert int8["trt_engine_cache_prefix"] == "audit_head.int8"
    assert fp32["trt_engine_cache_prefix"] == "audit_head.fp32"
    assert int8["trt_engine_cache_enable"] == int8["trt_timing_cache_enable"] == "True"
    assert int8["trt_engine_cache_path"] == str(tmp_path / "cache")
    assert int8["trt_max_workspace_size"] == str(512 << 20)
    assert int8["device_id"] == "1"


def test_trt_cache_defaults_to_the_bundles_engines_folder(bundle):
    options = _trt_options(bundle, "frame_encoder", "int8", OrtOptions())
    assert options["trt_engine_cache_path"] == str(bundle.engines_dir / "ort-trt")


@pytest.fixture
def gpu_bundle(tmp_path, tokenizer_json):
    """A private tiny bundle with the fp32, int8 and TensorRT int8 graphs."""
    folder = build_tiny_bundle(
        tmp_path / "gpu", tokenizer_json, precisions=("fp32", "int8", "int8-trt")
    )
    return load_bundle(folder)


def _write_engine(onnx_path, engine_path, *args, **kwargs):
    """Stands in for TensorRT's build: writes the engine file where the build would."""
    engine_path.parent.mkdir(parents=True, exist_ok=True)
    engine_path.write_bytes(b"engine")
    return engine_path


@pytest.mark.parametrize("precision", ["int8", "fp32"])
def test_trt_backend_finds_the_engines_build_engine_writes(gpu_bundle, monkeypatch, precision):
    """build-engine names the engines; the trt backend looks up the same names (no TensorRT)."""
    monkeypatch.setattr(trt_options, "detect_gpu_name", lambda device_id=0: "NVIDIA H200")
    monkeypatch.setattr(trt_engine, "build_engine", _write_engine)
    stand_in = types.SimpleNamespace(__version__="10.9.0")
    builds = trt_engine.build_engines(gpu_bundle.path, precision, trt=stand_in)
    found = find_engines(gpu_bundle, precision, trt_options.engine_gpu_name(), "10.9.0")
    assert found == {b.graph: b.engine for b in builds}
    assert list(found) == ["frame_encoder", "audio_encoder", "audit_head"]
    assert found["audit_head"].name == f"audit_head.nvidia-h200.trt10.9.0.{precision}.engine"
    source = "int8-trt" if precision == "int8" else "fp32"
    assert all(b.onnx.name == f"{b.graph}.{source}.onnx" for b in builds)


def test_trt_backend_takes_an_optional_text_encoder_engine(gpu_bundle):
    engines = gpu_bundle.engines_dir
    engines.mkdir()
    for graph in ("frame_encoder", "audio_encoder", "text_encoder", "audit_head"):
        (engines / engine_file_name(graph, "Orin", "8.6.2", "int8")).write_bytes(b"engine")
    found = find_engines(gpu_bundle, "int8", "Orin", "8.6.2")
    assert found["text_encoder"].name == "text_encoder.orin.trt8.6.2.int8.engine"


def test_missing_engine_names_the_build_engine_call(gpu_bundle):
    engines = gpu_bundle.engines_dir
    engines.mkdir()
    for graph in ("frame_encoder", "audio_encoder"):
        (engines / engine_file_name(graph, "NVIDIA H200", "10.9.0", "int8")).write_bytes(b"e")
    # an engine of another GPU, TensorRT version or precision does not count
    for gpu, version, precision in (
        ("Orin", "10.9.0", "int8"),
        ("NVIDIA H200", "10.3.0", "int8"),
        ("NVIDIA H200", "10.9.0", "fp16"),
    ):
        (engines / engine_file_name("audit_head", gpu, version, precision)).write_bytes(b"e")
    with pytest.raises(BackendError) as err:
        find_engines(gpu_bundle, "int8", "NVIDIA H200", "10.9.0")
    message = str(err.value)
    assert "audit_head.nvidia-h200.trt10.9.0.int8.engine" in message
    assert f"maskaudit build-engine --bundle {gpu_bundle.path} --precision int8" in message
    assert "--backend ort-trt" in message


@pytest.fixture
def no_tensorrt(monkeypatch):
    """Make `import tensorrt` fail even where it is installed."""
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    real_import = builtins.__import__

    def guarded(name, *args, **kwargs):
        if name == "tensorrt" or name.startswith("tensorrt."):
            raise ImportError("No module named 'tensorrt'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", guarded)


def test_trt_without_tensorrt_names_the_package(bundle, no_tensorrt, tmp_path):
    for call in (
        import_tensorrt,
        lambda: open_trt(bundle, "int8"),
        lambda: open_backend(bundle, "trt", "int8"),
        lambda: TrtRunner("audit_head", tmp_path / "x.engine"),
    ):
        with pytest.raises(BackendError) as err:
            call()
        assert str(err.value) == MISSING_TENSORRT
    assert "pip install tensorrt" in MISSING_TENSORRT


def test_warm_up_runs_every_graph(bundle):
    loaded = open_backend(bundle, "ort-cpu", "int8", OrtOptions(threads=1), warmup=False)
    calls = []
    for graph, runner in loaded.runners.items():
        original = runner.run

        def counted(feeds, graph=graph, original=original):
            calls.append(graph)
            out = original(feeds)
            assert all(np.isfinite(v).all() for v in out.values())
            return out

        runner.run = counted
    warm_up(loaded, bundle)
    assert sorted(calls) == sorted(loaded.runners)


def test_backend_names():
    assert BACKENDS == ("auto", "trt", "ort-trt", "ort-cuda", "ort-cpu")
