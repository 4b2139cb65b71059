"""Decoy category words for naming expressions."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from maskaudit.data.writer import write_benchmark
from maskaudit.model.batch import make_batch
from maskaudit.model.categories import NO_CATEGORY, category_names
from maskaudit.model.dataset import ClipStore, build_store
from maskaudit.model.decoys import DECOY_WORDS, VARIANTS, make_decoys
from maskaudit.model.train import swap_decoys


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> ClipStore:
    root = tmp_path_factory.mktemp("decoys") / "bench"
    write_benchmark(root, 10, seed=4, workers=1)
    return build_store(root, "train", "train", progress=False)


def fake_embed(texts: list[str]) -> np.ndarray:
    """One row per text, distinct per text."""
    return np.stack([np.full(4, hash(t) % 1000, dtype=np.float32) for t in texts])


def test_decoy_words_name_no_category():
    words_of_names = {w for n in category_names() for w in n.split("-")} | set(category_names())
    assert len(set(DECOY_WORDS)) == len(DECOY_WORDS)
    assert not words_of_names & set(DECOY_WORDS)


def test_every_naming_expression_gets_its_word_replaced(store: ClipStore):
    calls: list[list[str]] = []

    def embed(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return fake_embed(texts)

    decoys = make_decoys(store, embed, seed=1)
    assert len(calls) == 1 and calls[0] == decoys.texts
    naming = {item.expression: item.named for item in store.items if item.named != NO_CATEGORY}
    assert naming, "the tiny benchmark should hold naming expressions"
    assert set(decoys.of_expression) == set(naming)
    names = category_names()
    for expression, rows in decoys.of_expression.items():
        original = store.expressions[expression]
        assert len(rows) == VARIANTS
        texts = [decoys.texts[r] for r in rows]
        assert len(set(texts)) == VARIANTS
        name = names[naming[expression]]
        for text in texts:
            assert name not in text
            assert sum(original.replace(name, w) == text for w in DECOY_WORDS) == 1
    assert decoys.embeddings.shape == (len(decoys.texts), 4)


def test_swapping_changes_only_naming_items_and_clears_their_label(store: ClipStore):
    decoys = make_decoys(store, fake_embed)
    items = store.items[:12]
    table = np.zeros((len(store.expressions), 4), dtype=np.float32)
    rng = np.random.default_rng(0)

    untouched = make_batch(store, items, table)
    swap_decoys(untouched, items, decoys, 0.0, rng)
    assert torch.all(untouched["text_embedding"] == 0)

    batch = make_batch(store, items, table)
    swap_decoys(batch, items, decoys, 1.0, rng)
    for p, item in enumerate(items):
        if item.expression in decoys.of_expression:
            rows = decoys.embeddings[decoys.of_expression[item.expression]]
            assert any(np.array_equal(batch["text_embedding"][p].numpy(), r) for r in rows)
            assert int(batch["named"][p]) == NO_CATEGORY
        else:
            assert torch.all(batch["text_embedding"][p] == 0)
            assert int(batch["named"][p]) == item.named
    assert torch.equal(batch["types"], untouched["types"])
