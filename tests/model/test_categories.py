"""Category labels from the sidecar and the category grounding loss."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch

from maskaudit.data.reader import load_scene_info
from maskaudit.data.writer import write_benchmark
from maskaudit.model.batch import make_batch
from maskaudit.model.categories import NO_CATEGORY, CategoryLabels, category_names
from maskaudit.model.category_loss import CategoryPrototypes
from maskaudit.model.dataset import build_store


def test_store_labels_whole_objects_and_named_categories(tmp_path: Path):
    root = tmp_path / "bench"
    write_benchmark(root, 6, seed=2, workers=1)
    sidecar = load_scene_info(root)
    names = category_names()
    store = build_store(root, "train", "train", progress=False)
    whole = 0
    for item in store.items:
        expression = sidecar["expressions"][item.uid]
        named = expression["category"]
        assert item.named == (names.index(named) if named else NO_CATEGORY)
        objects = sidecar["videos"][item.candidates[0].vid]["objects"]
        for offset, cand in enumerate(item.candidates):
            label = int(store.categories[item.first_mask + offset])
            path = Path(cand.mask_path)
            if path.parent.name == "gt":
                whole += 1
                assert label == names.index(objects[int(path.stem)]["category"])
            else:
                assert label == NO_CATEGORY
        # The perfect candidate is the target object's whole mask.
        perfect = [
            int(store.categories[item.first_mask + i])
            for i, c in enumerate(item.candidates)
            if c.mask_type == "perfect"
        ]
        assert perfect == [names.index(objects[expression["target"]]["category"])]
    assert whole > len(store.items)

    batch = make_batch(store, store.items[:3], np.zeros((len(store.expressions), 4), np.float32))
    assert batch["categories"].shape == batch["types"].shape
    assert batch["named"].tolist() == [item.named for item in store.items[:3]]


def test_without_a_sidecar_nothing_is_labelled(tmp_path: Path):
    root = tmp_path / "bench"
    write_benchmark(root, 4, seed=1, workers=1)
    sidecar = root / "train_test_meta_files" / "synth_scenes.json"
    uid = next(iter(json.loads(sidecar.read_text())["expressions"]))
    sidecar.unlink()
    store = build_store(root, "train", "train", progress=False)
    assert (store.categories == NO_CATEGORY).all()
    assert all(item.named == NO_CATEGORY for item in store.items)
    assert CategoryLabels({}).named_by(uid) == NO_CATEGORY


def test_no_labels_give_a_zero_loss_that_still_backpropagates():
    prototypes = CategoryPrototypes(5, 8)
    inside = torch.randn(2, 3, 8, requires_grad=True)
    loss = prototypes(
        inside,
        torch.randn(2, 8),
        torch.full((2, 3), NO_CATEGORY),
        torch.full((2,), NO_CATEGORY),
        torch.ones(2, 3),
    )
    loss.backward()
    assert float(loss.detach()) == 0.0
    assert inside.grad is not None


def test_the_loss_teaches_queries_to_match_their_category():
    generator = torch.Generator().manual_seed(int(np.random.default_rng().integers(1 << 30)))
    n, dim, b, k = 6, 16, 32, 4
    prototypes = CategoryPrototypes(n, dim)
    looks = torch.randn(n, dim, generator=generator)
    words = torch.nn.Parameter(torch.randn(n, dim, generator=generator) * 0.1)
    categories = torch.randint(0, n, (b, k), generator=generator)
    named = categories[:, 0].clone()
    inside = looks[categories] + 0.1 * torch.randn(b, k, dim, generator=generator)
    valid = torch.ones(b, k)
    optimiser = torch.optim.Adam([*prototypes.parameters(), words], lr=0.05)
    losses = []
    for _ in range(150):
        loss = prototypes(inside, words[named], categories, named, valid)
        optimiser.zero_grad()
        loss.backward()
        optimiser.step()
        losses.append(float(loss))
    assert losses[-1] < 0.5 * losses[0]
    match = torch.einsum("bkc,bc->bk", inside, words[named].detach())
    same = categories == named[:, None]
    assert match[same].min() > match[~same].max()
