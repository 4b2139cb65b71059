from __future__ import annotations

import json

from maskaudit.eval.answer import Answer
from maskaudit.eval.predictions import candidate_key
from maskaudit.eval.protocol import protocol_table
from maskaudit.eval.report import COLUMNS, MISSING, format_markdown, table_to_json


def _table(make_candidate):
    cands = [
        make_candidate(mask_id="perfect"),
        make_candidate(
            mask_id="erode_1_0", mask_type="erode", rank=1, iou=0.5, action="major revision"
        ),
    ]
    answers = {candidate_key(cands[0]): Answer(0.75, "perfect", "accept")}
    return protocol_table(cands, answers, "image")


def test_markdown_has_one_line_per_row_and_marks_undefined(make_candidate):
    text = format_markdown(_table(make_candidate))
    lines = text.splitlines()
    assert len(lines) == 2 + 10
    assert all(line.count("|") == len(COLUMNS) + 2 for line in lines)
    perfect = lines[2].split("|")
    assert perfect[1].strip() == "perfect" and perfect[2].strip() == "1"
    assert perfect[4].strip() == "0.2500"  # RMSE
    cutout_m = lines[4].split("|")
    assert cutout_m[1].strip() == "cutout-M" and cutout_m[4].strip() == MISSING


def test_json_has_the_same_numbers_and_no_nan(make_candidate):
    table = _table(make_candidate)
    data = table_to_json(table)
    text = json.dumps(data, allow_nan=False)
    assert json.loads(text)["perfect"]["rmse"] == 0.25
    assert data["cutout-M"]["rmse"] is None and data["all"]["n"] == 2
