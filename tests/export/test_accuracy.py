import math

import numpy as np
import pytest

from maskaudit.export.accuracy import (
    F2_TOLERANCE,
    IOU_RMSE_TOLERANCE,
    bundle_outputs,
    compare_precisions,
    score_outputs,
)
from maskaudit.model.predict import predict_store


def test_fp32_bundle_reproduces_the_torch_model(exported_bundle, small_model, test_split):
    store, embeddings = test_split
    onnx_out = bundle_outputs(exported_bundle, "fp32", store, embeddings, batch_items=3)
    torch_out = predict_store(small_model, store, embeddings, batch_items=5, progress=False)
    assert np.abs(onnx_out["iou"] - torch_out["iou"]).max() <= 1e-4
    for key in ("type_probs", "action_probs"):
        assert np.abs(onnx_out[key] - torch_out[key]).max() <= 1e-4


def _perfect_outputs(store):
    index = np.concatenate(
        [np.arange(i.first_mask, i.first_mask + len(i.candidates)) for i in store.items]
    )
    return {
        "iou": store.ious[index].astype(np.float32),
        "type_probs": np.eye(7, dtype=np.float32)[store.types[index]],
        "action_probs": np.eye(4, dtype=np.float32)[store.actions[index]],
    }


def test_perfect_predictions_score_perfectly(test_split):
    store, _ = test_split
    scores = score_outputs(_perfect_outputs(store), store)
    assert scores["iou_rmse"] < 1e-6
    assert scores["type_f2"] == pytest.approx(1.0)
    assert scores["action_f2"] == pytest.approx(1.0)
    assert scores["candidates"] == sum(len(item.candidates) for item in store.items)


def test_wrong_iou_raises_rmse(test_split):
    store, _ = test_split
    outputs = _perfect_outputs(store)
    outputs["iou"] = np.clip(outputs["iou"] + 0.1, 0, 1)
    assert 0.05 < score_outputs(outputs, store)["iou_rmse"] <= 0.1 + 1e-6


def _scores(rmse, type_f2, action_f2):
    return {"iou_rmse": rmse, "type_f2": type_f2, "action_f2": action_f2}


def test_tolerances():
    table = {
        "fp32": _scores(0.10, 0.80, 0.70),
        "int8": _scores(0.10 + IOU_RMSE_TOLERANCE * 0.9, 0.80 - F2_TOLERANCE * 0.9, 0.70),
        "worse_iou": _scores(0.10 + IOU_RMSE_TOLERANCE * 1.1, 0.80, 0.70),
        "worse_type": _scores(0.10, 0.80 - F2_TOLERANCE * 1.1, 0.70),
        "worse_action": _scores(0.10, 0.80, 0.70 - F2_TOLERANCE * 1.1),
        "undefined": _scores(math.nan, 0.80, 0.70),
    }
    verdict = {k: v["within_tolerance"] for k, v in compare_precisions(table).items()}
    assert verdict == {
        "int8": True,
        "worse_iou": False,
        "worse_type": False,
        "worse_action": False,
        "undefined": False,
    }


def test_manifest_accuracy_section(bundle_manifest):
    accuracy = bundle_manifest["accuracy"]
    assert accuracy["mode"] == "image"
    assert set(accuracy["splits"]) == {"test_s", "test_u"}
    for split in accuracy["splits"].values():
        assert set(split["scores"]) == {"fp32", "int8", "int8-trt"}
        for scores in split["scores"].values():
            assert 0.0 <= scores["iou_rmse"] <= 1.0
        assert set(split["vs_fp32"]) == {"int8", "int8-trt"}
        for change in split["vs_fp32"].values():
            assert isinstance(change["within_tolerance"], bool)
