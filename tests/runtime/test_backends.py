import builtins
import sys

import numpy as np
import onnxruntime as ort
import pytest

from maskaudit.errors import BackendError, ConfigError
from maskaudit.runtime.backends import BACKENDS, open_backend, warm_up
from maskaudit.runtime.backends.ort import (
    OrtOptions,
    ProfileLimits,
    profile_shapes,
    providers_for,
    session_options,
    trt_provider_options,
)
from maskaudit.runtime.backends.trt import (
    MISSING_TENSORRT,
    TrtRunner,
    build_plan,
    engine_file_name,
    gpu_slug,
    import_tensorrt,
    open_trt,
    timing_cache_file_name,
)
from maskaudit.runtime.bundle import load_bundle

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
    with pytest.raises(BackendError, match="negative"):
        session_options(threads=-1)


def test_profile_shapes_cover_every_dynamic_axis(bundle):
    limits = ProfileLimits(candidates=(1, 4, 16), context=(1, 10, 10))
    head = profile_shapes("audit_head", bundle.signature("audit_head")["inputs"], limits)
    assert "masks:1x1x160x160" in head["trt_profile_min_shapes"]
    assert "masks:1x4x160x160" in head["trt_profile_opt_shapes"]
    assert "masks:4x16x160x160" in head["trt_profile_max_shapes"]
    assert "context_maps:1x10x3x40x40" in head["trt_profile_opt_shapes"]
    frame = profile_shapes("frame_encoder", bundle.signature("frame_encoder")["inputs"], limits)
    assert frame["trt_profile_max_shapes"] == "frame:11x160x160x3"
    text = profile_shapes("text_encoder", bundle.signature("text_encoder")["inputs"], limits)
    assert text["trt_profile_opt_shapes"].count(":1x32") == 3


def test_trt_provider_options_per_precision(bundle, tmp_path):
    options = OrtOptions(cache_dir=tmp_path / "cache", device_id=1)
    int8 = trt_provider_options(bundle, "audit_head", "int8", options)
    fp32 = trt_provider_options(bundle, "audit_head", "fp32", options)
    assert int8["trt_int8_enable"] and int8["trt_fp16_enable"]
    assert not fp32["trt_int8_enable"] and not fp32["trt_fp16_enable"]
    assert int8["trt_engine_cache_enable"] and int8["trt_timing_cache_enable"]
    assert int8["trt_engine_cache_path"] == str(tmp_path / "cache")
    assert int8["device_id"] == 1
    assert "trt_profile_opt_shapes" in int8
    providers = providers_for("ort-trt", bundle, "audit_head", "int8", options)
    assert [p[0] if isinstance(p, tuple) else p for p in providers] == [
        "TensorrtExecutionProvider",
        "CUDAExecutionProvider",
        "CPUExecutionProvider",
    ]


def test_trt_cache_defaults_to_the_bundles_engines_folder(bundle):
    options = trt_provider_options(bundle, "frame_encoder", "int8", OrtOptions())
    assert options["trt_engine_cache_path"] == str(bundle.engines_dir / "ort-trt")


def test_engine_names_carry_graph_precision_gpu_and_version():
    assert gpu_slug("NVIDIA GeForce RTX 4090") == "nvidia-geforce-rtx-4090"
    assert gpu_slug("Orin (nvgpu)") == "orin-nvgpu"
    assert (
        engine_file_name("frame_encoder", "int8", "NVIDIA H200", "10.9.0.34")
        == "frame_encoder.int8.nvidia-h200.trt10.9.0.34.engine"
    )
    assert timing_cache_file_name("NVIDIA H200", "10.9") == "timing.nvidia-h200.trt10.9.cache"


def test_build_plan_flags_and_profiles(bundle):
    plan = build_plan(bundle, "audit_head", "int8")
    assert plan["flags"] == ["INT8", "FP16"]
    assert plan["onnx"].name == "audit_head.int8.onnx"
    low, opt, high = plan["profile"]["masks"]
    assert low == (1, 1, 160, 160) and opt == (1, 4, 160, 160) and high == (4, 16, 160, 160)
    assert build_plan(bundle, "audit_head", "fp32")["flags"] == []


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
