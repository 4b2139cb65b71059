import pytest

from maskaudit.errors import ConfigError
from maskaudit.export import contract, trt_options
from maskaudit.export.trt_options import (
    UNKNOWN_GPU,
    ProfileLimits,
    builder_flags,
    engine_file_name,
    engine_gpu_name,
    engine_precision,
    gpu_slug,
    profile_shapes,
    shape_string,
    source_precision,
    timing_cache_file_name,
    trt_provider_options,
)

KEYS = {
    "device_id",
    "trt_max_workspace_size",
    "trt_fp16_enable",
    "trt_int8_enable",
    "trt_int8_use_native_calibration_table",
    "trt_engine_cache_enable",
    "trt_engine_cache_path",
    "trt_engine_cache_prefix",
    "trt_timing_cache_enable",
    "trt_timing_cache_path",
    "trt_profile_min_shapes",
    "trt_profile_opt_shapes",
    "trt_profile_max_shapes",
}


def test_head_profile_from_the_manifest(bundle_manifest):
    inputs = bundle_manifest["graphs"]["audit_head"]["inputs"]
    limits = ProfileLimits(max_batch=8, max_k=16)
    shapes = profile_shapes("audit_head", inputs, limits)
    assert list(shapes) == list(contract.INPUTS["audit_head"])
    c0 = inputs[0]["shape"][1]
    assert shapes["feat0"] == ((1, c0, 80, 80), (1, c0, 80, 80), (8, c0, 80, 80))
    assert shapes["masks"] == ((1, 1, 160, 160), (1, 4, 160, 160), (8, 16, 160, 160))
    assert shapes["context_valid"] == ((1, 1), (1, 10), (8, 10))


def test_text_encoder_axes_follow_the_contract_whatever_their_names():
    # the text encoder's exporter names its axes "batch" and "tokens"
    inputs = [
        {"name": name, "dtype": "int64", "shape": ["batch", "tokens"]}
        for name in contract.INPUTS["text_encoder"]
    ]
    shapes = profile_shapes("text_encoder", inputs, ProfileLimits(max_expressions=3))
    assert shapes["input_ids"] == ((1, 32), (1, 32), (3, 32))


def test_unknown_dynamic_axis_is_refused():
    with pytest.raises(ConfigError, match="no profile range"):
        profile_shapes("mystery", [{"name": "x", "shape": ["Q", 3]}])


@pytest.mark.parametrize(
    ("precision", "fp16", "int8"),
    [("fp32", "False", "False"), ("fp16", "True", "False"), ("int8", "True", "True")],
)
def test_provider_options(bundle_manifest, tmp_path, precision, fp16, int8):
    inputs = bundle_manifest["graphs"]["frame_encoder"]["inputs"]
    options = trt_provider_options(
        "frame_encoder", inputs, precision, tmp_path, ProfileLimits(max_frames=11), 512, 1
    )
    assert set(options) == KEYS
    assert all(isinstance(v, str) for v in options.values())
    assert options["trt_fp16_enable"] == fp16 and options["trt_int8_enable"] == int8
    assert options["trt_engine_cache_enable"] == options["trt_timing_cache_enable"] == "True"
    assert options["trt_engine_cache_path"] == str(tmp_path)
    assert options["trt_max_workspace_size"] == str(512 << 20)
    assert options["device_id"] == "1"
    assert options["trt_profile_min_shapes"] == "frame:1x160x160x3"
    assert options["trt_profile_opt_shapes"] == "frame:1x160x160x3"
    assert options["trt_profile_max_shapes"] == "frame:11x160x160x3"


def test_shape_string_lists_every_input():
    text = shape_string({"a": (1, 2), "b": (3,)})
    assert text == "a:1x2,b:3"


def test_names_and_sources():
    assert gpu_slug("NVIDIA GeForce RTX 4090") == "nvidia-geforce-rtx-4090"
    assert gpu_slug("Orin (nvgpu)") == "orin-nvgpu"
    assert (
        engine_file_name("frame_encoder", "NVIDIA H200", "10.3.0", "fp16")
        == "frame_encoder.nvidia-h200.trt10.3.0.fp16.engine"
    )
    assert timing_cache_file_name("NVIDIA H200", "10.3.0") == "timing.nvidia-h200.trt10.3.0.cache"
    assert source_precision("int8") == "int8-trt"
    assert source_precision("fp16") == "fp32"
    assert builder_flags("int8") == ("INT8", "FP16")
    with pytest.raises(ConfigError, match="engine precision"):
        engine_file_name("audit_head", "gpu", "10", "bf16")


def test_engine_precision_of_each_graph_file():
    assert engine_precision("fp32") == "fp32"
    assert engine_precision("int8") == engine_precision("int8-trt") == "int8"
    for precision in ("fp32", "int8"):
        assert engine_precision(source_precision(precision)) == precision
    with pytest.raises(ConfigError, match="'fp16'"):
        engine_precision("fp16")


def test_engine_gpu_name_falls_back_to_one_fixed_name(monkeypatch, caplog):
    monkeypatch.setattr(trt_options, "detect_gpu_name", lambda device_id=0: "Orin")
    assert engine_gpu_name(1) == "Orin"
    monkeypatch.setattr(trt_options, "detect_gpu_name", lambda device_id=0: None)
    with caplog.at_level("WARNING"):
        assert engine_gpu_name() == UNKNOWN_GPU == "unknown-gpu"
    assert "cannot tell the GPU's name" in caplog.text


def test_limits_are_checked():
    with pytest.raises(ConfigError):
        ProfileLimits(max_k=2, opt_k=4)
    with pytest.raises(ConfigError):
        ProfileLimits(max_batch=0)


def test_trt_options_import_no_torch():
    import subprocess
    import sys

    code = (
        "import sys; sys.modules['torch'] = None\n"
        "import maskaudit.export.trt_options\n"
        "assert 'onnxruntime' not in sys.modules and 'tensorrt' not in sys.modules\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True)
