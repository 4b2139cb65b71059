from __future__ import annotations

import json
import math

import pytest

from maskaudit.errors import DataError
from maskaudit.eval.answer import Answer
from maskaudit.eval.predictions import (
    answer_from_record,
    candidate_key,
    read_predictions,
    verdict_record,
    write_verdicts,
)


def _write(path, lines):
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_reads_verdicts_and_reference_answers(tmp_path):
    path = _write(
        tmp_path / "preds.jsonl",
        [
            json.dumps(
                {
                    "uid": "v_dog_0",
                    "frame": 3,
                    "mask_id": "erode_1_0",
                    "iou": 0.7,
                    "mask_type": "erode",
                    "action": "minor revision",
                    "latency_ms": {},
                }
            ),
            "",
            json.dumps(
                {
                    "uid": "v_dog_0",
                    "frame": 3,
                    "mask_id": "perfect",
                    "text": "<mask_type>perfect</mask_type><iou>0.97</iou>",
                }
            ),
            json.dumps(
                {
                    "uid": "v_dog_0",
                    "frame": 3,
                    "mask_id": "full_neg_0",
                    "iou": 1.4,
                    "mask_type": None,
                    "action": "rejected",
                }
            ),
        ],
    )
    answers = read_predictions(path)
    assert answers == {
        ("v_dog_0", 3, "erode_1_0"): Answer(0.7, "erode", "minor revision"),
        ("v_dog_0", 3, "perfect"): Answer(0.97, "perfect", None),
        ("v_dog_0", 3, "full_neg_0"): Answer(None, None, "reject"),  # IoU out of range
    }


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("{not json", "not valid JSON"),
        ("[1, 2]", "expected a JSON object"),
        ('{"frame": 0, "mask_id": "perfect", "iou": 0.5}', "'uid'"),
        ('{"uid": "u", "frame": "0", "mask_id": "perfect", "iou": 0.5}', "'frame'"),
        ('{"uid": "u", "frame": true, "mask_id": "perfect", "iou": 0.5}', "'frame'"),
        ('{"uid": "u", "frame": 0, "iou": 0.5}', "'mask_id'"),
        ('{"uid": "u", "frame": 0, "mask_id": "perfect"}', "neither 'text'"),
        ('{"uid": "u", "frame": 0, "mask_id": "perfect", "text": 3}', "'text'"),
    ],
)
def test_malformed_lines_name_file_and_line(tmp_path, line, message):
    good = json.dumps({"uid": "u", "frame": 0, "mask_id": "m", "iou": 0.5})
    path = _write(tmp_path / "bad.jsonl", [good, line])
    with pytest.raises(DataError, match=message) as info:
        read_predictions(path)
    assert f"{path}:2:" in str(info.value)


def test_duplicate_key_is_an_error(tmp_path):
    line = json.dumps({"uid": "u", "frame": 0, "mask_id": "m", "iou": 0.5})
    path = _write(tmp_path / "dup.jsonl", [line, line])
    with pytest.raises(DataError, match="duplicate .*line 1"):
        read_predictions(path)


def test_missing_file_is_a_data_error(tmp_path):
    with pytest.raises(DataError, match="cannot read predictions"):
        read_predictions(tmp_path / "absent.jsonl")


def test_record_fields_are_normalised():
    assert answer_from_record({"iou": "0.25", "mask_type": "cutoff", "action": "Accept"}) == (
        Answer(0.25, "cutoff", "accept")
    )
    assert answer_from_record({"iou": True, "mask_type": 3}) == Answer()
    assert answer_from_record({"iou": float("nan")}) == Answer()


def test_verdicts_round_trip(tmp_path, make_candidate):
    cands = [make_candidate(mask_id="perfect"), make_candidate(mask_id="erode_1_0", frame=2)]
    records = [
        verdict_record(cands[0], 0.91, "perfect", "accept", baseline="x"),
        verdict_record(cands[1], math.nan, None, None, uid="ignored"),
    ]
    assert records[1]["uid"] == cands[1].uid  # extras never replace the key
    path = tmp_path / "out" / "verdicts.jsonl"
    assert write_verdicts(path, records) == 2
    assert json.loads(path.read_text().splitlines()[1])["iou"] is None
    answers = read_predictions(path)
    assert answers[candidate_key(cands[0])] == Answer(0.91, "perfect", "accept")
    assert answers[candidate_key(cands[1])] == Answer()
