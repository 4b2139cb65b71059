"""Training resumed from its checkpoint ends where an uninterrupted run ends, history included."""

import json
import shutil

import numpy as np
import pytest
import torch

from maskaudit.model import train as train_module

from .conftest import tiny_stores


@pytest.mark.slow
def test_resumed_training_matches_an_uninterrupted_run(tmp_path, monkeypatch):
    from maskaudit.model.config import RunConfig, TrainConfig

    store, train_store, val_store = tiny_stores(tmp_path, videos=20, seed=5)
    # The test is about the loop's state, not the text: any fixed embeddings will do.
    embeddings = np.random.default_rng(0).normal(size=(len(store.expressions), 384))
    embeddings = embeddings.astype(np.float32)
    config = RunConfig(
        train=TrainConfig(minutes=20, max_steps=6, clips_per_step=2, eval_every=3, threads=1)
    )

    # The uninterrupted run; keep aside the checkpoint it writes half-way.
    halfway = tmp_path / "halfway.pt"
    save = train_module.save_checkpoint

    def save_and_keep(path, *args):
        save(path, *args)
        if args[3] == 3:
            shutil.copy(path, halfway)

    monkeypatch.setattr(train_module, "save_checkpoint", save_and_keep)
    whole = tmp_path / "whole"
    train_module.train(config, train_store, val_store, embeddings, whole, progress=False)
    monkeypatch.setattr(train_module, "save_checkpoint", save)
    assert halfway.exists()

    # A run that stopped at step 3 and is started again on the same folder.
    resumed = tmp_path / "resumed"
    resumed.mkdir()
    shutil.copy(halfway, resumed / train_module.CHECKPOINT)
    train_module.train(config, train_store, val_store, embeddings, resumed, progress=False)

    expected = torch.load(whole / train_module.WEIGHTS, weights_only=True)
    got = torch.load(resumed / train_module.WEIGHTS, weights_only=True)
    assert expected.keys() == got.keys()
    for name in expected:
        assert torch.equal(expected[name], got[name]), name

    whole_history = json.loads((whole / "history.json").read_text())["history"]
    resumed_history = json.loads((resumed / "history.json").read_text())["history"]
    assert [h["step"] for h in resumed_history] == [1, 2, 3, 4, 5, 6]
    assert resumed_history == whole_history
