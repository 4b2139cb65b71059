"""The evaluation protocol: which candidates each table row scores, and its scores.

Rows follow the reference's type settings: ``perfect``, ``merge`` and ``full_neg`` over all
ranks (rank filter -1); ``cutout``, ``erode`` and ``dilate`` split by rank (1 = Hard ``-H``,
2 = Medium ``-M``); and ``all``, every scored candidate (every type but ``null``).

Each row is scored on its own subset, as the reference runs one evaluation per setting: a
single-type row's type F2 is therefore the reference's macro average over that subset (in image
mode, over the true type and every type predicted there; in video mode, over the true type
only). In video mode the IoU RMSE and MAE average each group's frames first: a group is the
``uid`` for a single-type row (the reference's rule); for ``all`` and the per-kind rows it is
(uid, type, rank), so that different candidates of one expression are not averaged together.
"""

from __future__ import annotations

from collections.abc import Hashable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from maskaudit.data.records import Candidate
from maskaudit.eval import metrics
from maskaudit.eval.answer import UNPARSED, Answer
from maskaudit.eval.predictions import PredictionKey, candidate_key


@dataclass(frozen=True)
class Row:
    """One row of the protocol table.

    Attributes:
        name: Row label (e.g. ``erode-H``).
        mask_type: Type the row keeps, or None for every scored type.
        rank: Rank the row keeps, or -1 for every rank.
    """

    name: str
    mask_type: str | None
    rank: int = -1

    def keeps(self, candidate: Candidate) -> bool:
        """Return whether ``candidate`` belongs to this row (``null`` never does)."""
        if candidate.mask_type == "null":
            return False
        if self.mask_type is not None and candidate.mask_type != self.mask_type:
            return False
        return self.rank == -1 or candidate.rank == self.rank


ROWS: tuple[Row, ...] = (
    Row("perfect", "perfect"),
    Row("cutout-H", "cutout", 1),
    Row("cutout-M", "cutout", 2),
    Row("erode-H", "erode", 1),
    Row("erode-M", "erode", 2),
    Row("dilate-H", "dilate", 1),
    Row("dilate-M", "dilate", 2),
    Row("merge", "merge"),
    Row("full_neg", "full_neg"),
    Row("all", None),
)
"""The protocol table's rows, in order."""


@dataclass(frozen=True)
class RowScores:
    """Scores of one subset of candidates.

    Attributes:
        n: Candidates scored.
        groups: IoU groups the RMSE runs over (``n`` in image mode).
        unparsed_iou: Candidates with no parsable predicted IoU.
        unparsed_type: Candidates with no parsable predicted type.
        unparsed_action: Candidates with no parsable predicted action.
        rmse: The reference's IoU RMSE.
        mae: IoU MAE, aggregated as the RMSE.
        type_f2: Macro F2 of the type (reference averaging rule for the mode).
        action_f2: Macro F2 of the action over the actions present in the subset.
        type_micro_f1: Micro F1 of the type.
        action_micro_f1: Micro F1 of the action.
        spearman: Spearman correlation of predicted and true IoU, per candidate.
        pearson: Pearson correlation of predicted and true IoU, per candidate.
        auroc: AUROC of ``1 - predicted IoU`` for true IoU < 0.5, per candidate.
        aurc: Area under the risk-coverage curve, failure risk (see ``metrics.aurc``).
    """

    n: int
    groups: int
    unparsed_iou: int
    unparsed_type: int
    unparsed_action: int
    rmse: float
    mae: float
    type_f2: float
    action_f2: float
    type_micro_f1: float
    action_micro_f1: float
    spearman: float
    pearson: float
    auroc: float
    aurc: float


def select(candidates: Iterable[Candidate], row: Row) -> list[Candidate]:
    """Return the candidates a row scores, in their order.

    Args:
        candidates: Candidates of one split and mode.
        row: A row of ``ROWS`` (or any ``Row``).

    Returns:
        The kept candidates.
    """
    return [c for c in candidates if row.keeps(c)]


def _group_key(candidate: Candidate, per_uid: bool) -> Hashable:
    if per_uid:
        return candidate.uid
    return (candidate.uid, candidate.mask_type, candidate.rank)


def score(
    candidates: Sequence[Candidate],
    answers: Mapping[PredictionKey, Answer],
    mode: str,
    per_uid: bool = True,
) -> RowScores:
    """Score the answers for one subset of candidates.

    Args:
        candidates: The subset (no ``null`` candidates: they are not scored).
        answers: Answer per prediction key; a candidate without one is unparsed.
        mode: ``image`` or ``video``.
        per_uid: Video mode: average IoUs per uid (True, the reference's rule) or per
            (uid, type, rank). Defaults to True.

    Returns:
        The subset's scores (``nan`` where undefined, e.g. on an empty subset).
    """
    given = [answers.get(candidate_key(c), UNPARSED) for c in candidates]
    pred_iou = [a.iou for a in given]
    true_iou = [c.iou for c in candidates]
    groups = [_group_key(c, per_uid) for c in candidates] if mode == "video" else None
    pair_pred, pair_true = metrics.iou_pairs(pred_iou, true_iou, mode, groups)
    types = metrics.type_report(
        [c.mask_type for c in candidates], [a.mask_type for a in given], mode
    )
    actions = metrics.action_report([c.action for c in candidates], [a.action for a in given], mode)
    filled = metrics.fill_unparsed(pred_iou)
    return RowScores(
        n=len(candidates),
        groups=len(pair_pred),
        unparsed_iou=sum(1 for p in pred_iou if p is None),
        unparsed_type=types.n_unparsed,
        unparsed_action=actions.n_unparsed,
        rmse=metrics.rmse(pair_pred, pair_true),
        mae=metrics.mae(pair_pred, pair_true),
        type_f2=types.macro_fbeta,
        action_f2=actions.macro_fbeta,
        type_micro_f1=types.micro_f1,
        action_micro_f1=actions.micro_f1,
        spearman=metrics.spearman(filled, true_iou),
        pearson=metrics.pearson(filled, true_iou),
        auroc=metrics.failure_auroc(pred_iou, true_iou),
        aurc=metrics.aurc(pred_iou, true_iou, risk="failure"),
    )


def protocol_table(
    candidates: Sequence[Candidate], answers: Mapping[PredictionKey, Answer], mode: str
) -> dict[str, RowScores]:
    """Score every row of ``ROWS``.

    Args:
        candidates: Candidates of one split and mode (``null`` ones are skipped).
        answers: Answer per prediction key.
        mode: ``image`` or ``video``.

    Returns:
        Row name to scores, in ``ROWS`` order.
    """
    return {
        row.name: score(select(candidates, row), answers, mode, per_uid=row.mask_type is not None)
        for row in ROWS
    }


def kind_table(
    candidates: Sequence[Candidate], answers: Mapping[PredictionKey, Answer], mode: str
) -> dict[str, RowScores]:
    """Score every scored candidate, broken down by expression kind.

    Args:
        candidates: Candidates of one split and mode (``null`` ones are skipped).
        answers: Answer per prediction key.
        mode: ``image`` or ``video``.

    Returns:
        Expression kind (``unknown`` where the reader gave none) to the scores of its
        candidates, kinds sorted by name.
    """
    by_kind: dict[str, list[Candidate]] = {}
    for candidate in select(candidates, ROWS[-1]):
        by_kind.setdefault(candidate.expression_kind or "unknown", []).append(candidate)
    return {kind: score(by_kind[kind], answers, mode, per_uid=False) for kind in sorted(by_kind)}


def coverage(
    candidates: Sequence[Candidate], answers: Mapping[PredictionKey, Answer]
) -> tuple[int, int]:
    """Count how the answers match the scored candidates.

    Args:
        candidates: Candidates of one split and mode.
        answers: Answer per prediction key.

    Returns:
        (scored candidates that have an answer, answers that match no candidate at all).
    """
    keys = {candidate_key(c) for c in candidates}
    scored = {candidate_key(c) for c in candidates if c.mask_type != "null"}
    matched = sum(1 for k in scored if k in answers)
    unmatched = sum(1 for k in answers if k not in keys)
    return matched, unmatched
