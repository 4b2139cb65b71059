"""The auditor's forward pass, budgets and a short real training run."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from maskaudit.export.complexity import mac_counts, parameter_counts
from maskaudit.model.auditor import AuditorModel
from maskaudit.model.config import ModelConfig

from .conftest import tiny_stores


def random_batch(seed: int, p: int = 2, t: int = 10, k: int = 3) -> tuple:
    g = torch.Generator().manual_seed(seed)
    return (
        torch.randint(0, 256, (p, t, 160, 160, 3), generator=g, dtype=torch.uint8),
        torch.randint(0, t, (p,), generator=g),
        torch.randn(p, t, 64, 101, generator=g) - 10.0,
        torch.ones(p, t),
        torch.randn(p, 384, generator=g),
        torch.rand(p, k, 160, 160, generator=g),
    )


def test_forward_is_deterministic_under_the_seed():
    inputs = random_batch(1)
    outputs = []
    for _ in range(2):
        torch.manual_seed(123)
        model = AuditorModel().eval()
        with torch.no_grad():
            outputs.append(model(*inputs))
    for a, b in zip(outputs[0], outputs[1], strict=True):
        assert torch.equal(a, b)
    iou, type_logits, action_logits = outputs[0]
    assert (
        iou.shape == (2, 3) and type_logits.shape == (2, 3, 7) and action_logits.shape == (2, 3, 4)
    )
    assert bool(((iou >= 0) & (iou <= 1)).all())


def test_a_different_seed_gives_a_different_model():
    inputs = random_batch(2)
    torch.manual_seed(1)
    a = AuditorModel().eval()
    torch.manual_seed(2)
    b = AuditorModel().eval()
    with torch.no_grad():
        assert not torch.equal(a(*inputs)[1], b(*inputs)[1])


def test_budgets_of_the_shipped_architecture():
    model = AuditorModel(ModelConfig())
    params = parameter_counts(model)
    macs = mac_counts(model)
    assert params["total"] <= 5_000_000
    assert macs["per_frame"] <= 600_000_000
    assert macs["per_extra_candidate"] <= 0.1 * macs["per_frame"]


def test_padding_the_context_changes_only_what_it_should():
    """A candidate's verdict must not depend on the values of invalid context entries."""
    frames, key, mels, valid, text, masks = random_batch(3, p=1)
    valid = valid.clone()
    valid[:, 6:] = 0.0
    key = torch.tensor([2])
    model = AuditorModel().eval()
    other_mels = mels.clone()
    other_mels[:, 6:] = torch.randn_like(other_mels[:, 6:])
    other_frames = frames.clone()
    other_frames[:, 6:] = 0
    with torch.no_grad():
        a = model(frames, key, mels, valid, text, masks)
        b = model(other_frames, key, other_mels, valid, text, masks)
    assert torch.allclose(a[0], b[0], atol=1e-5)
    assert torch.allclose(a[1], b[1], atol=1e-4)


@pytest.mark.slow
def test_short_training_lowers_every_loss_and_beats_the_prior(tmp_path):
    from maskaudit.model.config import RunConfig, TrainConfig
    from maskaudit.model.predict import predict_store, store_labels
    from maskaudit.model.text_cache import embed_expressions, ensure_text_encoder
    from maskaudit.model.train import train

    store, train_store, val_store = tiny_stores(tmp_path, videos=80, seed=3)
    text_dir = ensure_text_encoder(tmp_path / "text")
    embeddings = embed_expressions(store.expressions, text_dir)
    # Bounded by steps, not by time, so that a loaded machine trains the same model, only slower.
    config = RunConfig(
        train=TrainConfig(minutes=20, max_steps=150, clips_per_step=4, eval_every=1000, threads=2)
    )
    train(config, train_store, val_store, embeddings, tmp_path / "run", progress=False)

    history = json.loads((tmp_path / "run" / "history.json").read_text())["history"]
    assert len(history) >= 20
    window = max(5, len(history) // 5)
    for loss in ("iou", "type", "action", "category"):
        first = np.mean([h[loss] for h in history[:window]])
        last = np.mean([h[loss] for h in history[-window:]])
        assert last < first, f"{loss} loss did not fall: {first:.4f} -> {last:.4f}"

    model = AuditorModel(config.model)
    model.load_state_dict(torch.load(tmp_path / "run" / "model.pt", weights_only=True))
    outputs = predict_store(model, val_store, embeddings, progress=False)
    labels = store_labels(val_store)
    train_labels = store_labels(train_store)
    prior_iou = float(train_labels["iou"].mean())
    prior_type = int(np.bincount(train_labels["type"]).argmax())
    model_rmse = float(np.sqrt(np.mean((outputs["iou"] - labels["iou"]) ** 2)))
    prior_rmse = float(np.sqrt(np.mean((prior_iou - labels["iou"]) ** 2)))
    model_acc = float(np.mean(outputs["type_probs"].argmax(axis=1) == labels["type"]))
    prior_acc = float(np.mean(labels["type"] == prior_type))
    assert model_rmse < prior_rmse
    assert model_acc > prior_acc
