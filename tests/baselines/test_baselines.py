from __future__ import annotations

import pytest

from maskaudit.baselines import make_baseline
from maskaudit.baselines.prior import PriorBaseline, majority
from maskaudit.errors import ConfigError, DataError
from maskaudit.eval.predictions import answer_from_record, candidate_key
from maskaudit.eval.protocol import protocol_table
from maskaudit.labels import ACTIONS, MASK_TYPES, action_for


def test_majority_breaks_ties_by_order():
    assert majority(["b", "a", "b"], ("a", "b")) == "b"
    assert majority(["b", "a"], ("a", "b")) == "a"
    with pytest.raises(ValueError):
        majority([], ("a",))


def test_prior_learns_means_and_majorities_of_scored_candidates(tiny_scenes):
    train, test = tiny_scenes
    model = PriorBaseline().fit(train)
    scored = [c for c in train if c.mask_type != "null"]
    assert model.iou == pytest.approx(sum(c.iou for c in scored) / len(scored))
    assert model.mask_type == "erode"  # erode and dilate tie at 2 per scene; erode comes first
    records = model.predict(test)
    assert len(records) == len(test)
    assert [(r["uid"], r["frame"], r["mask_id"]) for r in records] == [
        candidate_key(c) for c in test
    ]
    assert {r["action"] for r in records} == {model.action}


def test_prior_needs_scored_train_candidates(tiny_scenes):
    train, _ = tiny_scenes
    with pytest.raises(DataError, match="train split"):
        PriorBaseline().fit([c for c in train if c.mask_type == "null"])
    with pytest.raises(RuntimeError):
        PriorBaseline().predict(train)


def test_geometry_gives_one_consistent_verdict_per_candidate(tiny_scenes):
    train, test = tiny_scenes
    seen = []
    model = make_baseline("geometry").fit(
        train, progress=lambda it, label: seen.append(label) or it
    )
    assert seen == ["geometry: measure train"]
    records = model.predict(test)
    assert len(records) == len(test)
    for candidate, record in zip(test, records, strict=True):
        answer = answer_from_record(record)
        assert (record["uid"], record["frame"], record["mask_id"]) == candidate_key(candidate)
        assert answer.mask_type in MASK_TYPES and answer.action in ACTIONS
        assert 0.0 <= answer.iou <= 1.0
        assert answer.action == action_for(answer.mask_type, answer.iou)
        if answer.mask_type == "perfect":
            assert answer.iou == 1.0


def _all_row(model, train, test):
    model.fit(train)
    answers = {
        candidate_key(c): answer_from_record(r)
        for c, r in zip(test, model.predict(test), strict=True)
    }
    return protocol_table(test, answers, "image")["all"]


def test_geometry_beats_the_prior_where_shape_tells_the_type(tiny_scenes):
    train, test = tiny_scenes
    prior = _all_row(PriorBaseline(), train, test)
    geometry = _all_row(make_baseline("geometry"), train, test)
    assert prior.n == geometry.n == len(test) - 2  # the two null candidates are not scored
    assert geometry.rmse < prior.rmse - 0.1
    assert geometry.type_f2 > prior.type_f2 + 0.3
    assert geometry.spearman > 0.5


def test_unknown_baseline_is_a_config_error():
    with pytest.raises(ConfigError, match="prior, geometry"):
        make_baseline("oracle")
