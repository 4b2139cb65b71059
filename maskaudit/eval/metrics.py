"""Scores of auditor answers against the ground truth, as the reference evaluator computes them.

Two families live here:

* the reference metrics: IoU RMSE (image and video aggregation) and per-class precision, recall
  and F-beta (beta = 2) with the reference's macro-averaging rules, plus micro-averaged F1;
* the quality-control extras: MAE, Spearman and Pearson correlation, AUROC for detecting failed
  masks and the area under the risk-coverage curve (AURC).

Predicted IoUs are given as sequences whose items are floats or ``None`` (no parsable IoU).
Predicted labels are strings or ``None`` (a parse failure); a predicted label outside the class
list (``null``, the reference's ``cutoff``) is a wrong prediction that is a false positive of no
class. Every function returns ``nan`` where a metric is undefined (no items, one class only,
constant inputs); the docstrings say when.
"""

from __future__ import annotations

import math
from collections.abc import Hashable, Sequence
from dataclasses import dataclass

import numpy as np

from maskaudit.labels import ACTIONS, MASK_TYPES

MODES: tuple[str, ...] = ("image", "video")
"""Evaluation modes: one key frame per expression, or every frame of the clip."""

FAILURE_IOU = 0.5
"""A mask whose true IoU is below this is a failure, for AUROC and AURC."""

AURC_RISKS: tuple[str, ...] = ("failure", "error")
"""Risks the risk-coverage curve can use: failure indicator, or absolute IoU error."""


def _check_mode(mode: str) -> None:
    if mode not in MODES:
        raise ValueError(f"unknown evaluation mode {mode!r}; expected one of {MODES}")


def _as_pred(pred: Sequence[float | None]) -> np.ndarray:
    """Return predicted IoUs as floats, ``nan`` where no IoU was parsed."""
    return np.array([math.nan if p is None else float(p) for p in pred], dtype=np.float64)


def _check_lengths(*arrays: Sequence) -> None:
    lengths = {len(a) for a in arrays}
    if len(lengths) > 1:
        raise ValueError(f"inputs differ in length: {sorted(lengths)}")


# --------------------------------------------------------------------------------------------
# IoU regression


def fill_unparsed(pred: Sequence[float | None], value: float = 0.0) -> np.ndarray:
    """Return predicted IoUs as a float array with unparsed ones replaced.

    Args:
        pred: Predicted IoUs; ``None`` where the answer had no parsable IoU.
        value: What an unparsed IoU counts as. Defaults to 0.0 (the reference's choice).

    Returns:
        A float64 array of the same length.
    """
    out = _as_pred(pred)
    out[np.isnan(out)] = value
    return out


def iou_pairs(
    pred: Sequence[float | None],
    true: Sequence[float],
    mode: str = "image",
    groups: Sequence[Hashable] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """Return the (predicted, true) IoU pairs the reference's RMSE is taken over.

    Image mode: one pair per audited mask, an unparsed prediction counting as 0.0.

    Video mode: one pair per group (the reference groups by ``uid``): the mean of the group's
    parsed predicted IoUs (unparsed ones skipped) and the mean of its true IoUs over the frames.
    A group with no parsed prediction at all counts as predicted IoU 0.0, as an unparsed mask
    does in image mode. Groups come out in order of first appearance.

    Args:
        pred: Predicted IoUs, ``None`` where unparsed.
        true: True IoUs, same length.
        mode: ``image`` or ``video``. Defaults to ``image``.
        groups: Group key of each item (video mode only; required there).

    Returns:
        Two float64 arrays of equal length.

    Raises:
        ValueError: On an unknown mode, lengths that differ, or video mode without ``groups``.
    """
    _check_mode(mode)
    _check_lengths(pred, true)
    true_arr = np.asarray(true, dtype=np.float64)
    if mode == "image":
        return fill_unparsed(pred), true_arr
    if groups is None:
        raise ValueError("video mode needs a group key (the uid) for every item")
    _check_lengths(pred, groups)
    pred_arr = _as_pred(pred)
    index: dict[Hashable, list[int]] = {}
    for i, key in enumerate(groups):
        index.setdefault(key, []).append(i)
    group_pred, group_true = [], []
    for members in index.values():
        values = pred_arr[members]
        parsed = values[~np.isnan(values)]
        group_pred.append(float(parsed.mean()) if parsed.size else 0.0)
        group_true.append(float(true_arr[members].mean()))
    return np.array(group_pred, dtype=np.float64), np.array(group_true, dtype=np.float64)


def rmse(pred: Sequence[float], true: Sequence[float]) -> float:
    """Return the root mean squared difference of two equal-length arrays (``nan`` if empty).

    Args:
        pred: Predicted values (no ``None``: see ``iou_pairs``).
        true: True values.

    Returns:
        The RMSE.
    """
    _check_lengths(pred, true)
    if len(pred) == 0:
        return math.nan
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.sqrt(np.mean(diff**2)))


def mae(pred: Sequence[float], true: Sequence[float]) -> float:
    """Return the mean absolute difference of two equal-length arrays (``nan`` if empty).

    Args:
        pred: Predicted values (no ``None``: see ``iou_pairs``).
        true: True values.

    Returns:
        The MAE.
    """
    _check_lengths(pred, true)
    if len(pred) == 0:
        return math.nan
    diff = np.asarray(pred, dtype=np.float64) - np.asarray(true, dtype=np.float64)
    return float(np.mean(np.abs(diff)))


def iou_rmse(
    pred: Sequence[float | None],
    true: Sequence[float],
    mode: str = "image",
    groups: Sequence[Hashable] | None = None,
) -> float:
    """Return the reference's IoU RMSE (see ``iou_pairs`` for the aggregation per mode).

    Args:
        pred: Predicted IoUs, ``None`` where unparsed.
        true: True IoUs.
        mode: ``image`` or ``video``. Defaults to ``image``.
        groups: Group key (uid) of each item; required in video mode.

    Returns:
        The RMSE, ``nan`` with no items.

    Example:
        >>> round(iou_rmse([0.5, None], [0.5, 1.0]), 4)
        0.7071
    """
    return rmse(*iou_pairs(pred, true, mode, groups))


def iou_mae(
    pred: Sequence[float | None],
    true: Sequence[float],
    mode: str = "image",
    groups: Sequence[Hashable] | None = None,
) -> float:
    """Return the IoU MAE, aggregated exactly as ``iou_rmse`` aggregates.

    Args:
        pred: Predicted IoUs, ``None`` where unparsed.
        true: True IoUs.
        mode: ``image`` or ``video``. Defaults to ``image``.
        groups: Group key (uid) of each item; required in video mode.

    Returns:
        The MAE, ``nan`` with no items.
    """
    return mae(*iou_pairs(pred, true, mode, groups))


# --------------------------------------------------------------------------------------------
# Classification (type, action)


@dataclass(frozen=True)
class ClassScores:
    """Counts and scores of one class.

    Attributes:
        label: The class.
        support: Ground-truth items of the class.
        predicted: Items predicted as the class.
        tp: Items of the class predicted as it.
        precision: ``tp / predicted``; 0 when nothing is predicted but the class has support;
            ``nan`` when the class has neither support nor predictions.
        recall: ``tp / support``; ``nan`` without support.
        fbeta: F-beta of precision and recall; 0 when both are 0 or when only precision is
            defined (predictions of a class absent from the ground truth); ``nan`` when neither
            is defined.
    """

    label: str
    support: int
    predicted: int
    tp: int
    precision: float
    recall: float
    fbeta: float

    @property
    def defined(self) -> bool:
        """Whether any of the class's metrics is defined (it has support or predictions)."""
        return self.support > 0 or self.predicted > 0


@dataclass(frozen=True)
class ClassificationReport:
    """Per-class and averaged scores of one labelling task.

    Attributes:
        per_class: Scores of every class of the class list, in its order.
        averaged: Classes the macro averages run over (see ``classification_report``).
        beta: The F-beta's beta.
        macro_precision: Mean precision over ``averaged`` (classes with a defined precision).
        macro_recall: Mean recall over ``averaged`` (classes with a defined recall).
        macro_fbeta: Mean F-beta over ``averaged``; the reference's headline number.
        micro_precision: Summed true positives over summed predictions of listed classes.
        micro_recall: Summed true positives over summed support.
        micro_f1: Harmonic mean of the two micro scores (beta = 1).
        n: Items scored.
        n_unparsed: Items whose prediction was a parse failure (``None``).
        n_unlisted: Items predicted as a label outside the class list (e.g. ``cutoff``).
    """

    per_class: dict[str, ClassScores]
    averaged: tuple[str, ...]
    beta: float
    macro_precision: float
    macro_recall: float
    macro_fbeta: float
    micro_precision: float
    micro_recall: float
    micro_f1: float
    n: int
    n_unparsed: int
    n_unlisted: int


def fbeta_score(precision: float, recall: float, beta: float = 2.0) -> float:
    """Return the F-beta of a precision and a recall (0 when both are 0).

    Args:
        precision: In [0, 1].
        recall: In [0, 1].
        beta: Weight of recall. Defaults to 2 (the reference's choice, recall-weighted).

    Returns:
        ``(1 + b^2) P R / (b^2 P + R)``.

    Example:
        >>> round(fbeta_score(0.5, 1.0), 4)
        0.8333
    """
    b2 = beta * beta
    denom = b2 * precision + recall
    return 0.0 if denom == 0 else (1 + b2) * precision * recall / denom


def _nanmean(values: list[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(np.mean(finite)) if finite else math.nan


def _score_class(label: str, true: Sequence[str], pred: Sequence[str | None], beta: float):
    support = sum(1 for t in true if t == label)
    predicted = sum(1 for p in pred if p == label)
    tp = sum(1 for t, p in zip(true, pred, strict=True) if t == label and p == label)
    if predicted:
        precision = tp / predicted
    else:
        precision = 0.0 if support else math.nan
    recall = tp / support if support else math.nan
    if support:
        fbeta = fbeta_score(precision, recall, beta)
    else:
        fbeta = 0.0 if predicted else math.nan
    return ClassScores(label, support, predicted, tp, precision, recall, fbeta)


def classification_report(
    true: Sequence[str],
    pred: Sequence[str | None],
    classes: Sequence[str],
    mode: str = "image",
    beta: float = 2.0,
) -> ClassificationReport:
    """Score predicted labels the way the reference evaluator does.

    Each item is one audited mask (in video mode, each frame's candidate is one item). A
    ``None`` prediction (parse failure) is a false negative of the true class and a false
    positive of no class; so is a predicted label outside ``classes``.

    Macro averages: in image mode over the classes with any defined metric (support or
    predictions; a class predicted but absent from the ground truth enters with F-beta 0); in
    video mode over the classes present in the ground truth.

    Args:
        true: True labels.
        pred: Predicted labels, ``None`` where unparsed.
        classes: The class list.
        mode: ``image`` or ``video``. Defaults to ``image``.
        beta: The F-beta's beta. Defaults to 2.

    Returns:
        The report; averages are ``nan`` when no class enters them.

    Raises:
        ValueError: On an unknown mode or lengths that differ.
    """
    _check_mode(mode)
    _check_lengths(true, pred)
    per_class = {c: _score_class(c, true, pred, beta) for c in classes}
    if mode == "image":
        averaged = tuple(c for c, s in per_class.items() if s.defined)
    else:
        averaged = tuple(c for c, s in per_class.items() if s.support > 0)
    scores = [per_class[c] for c in averaged]

    tp = sum(s.tp for s in per_class.values())
    predicted = sum(s.predicted for s in per_class.values())
    support = sum(s.support for s in per_class.values())
    micro_p = tp / predicted if predicted else (0.0 if support else math.nan)
    micro_r = tp / support if support else math.nan
    micro_f1 = math.nan if math.isnan(micro_r) else fbeta_score(micro_p, micro_r, 1.0)

    listed = set(classes)
    return ClassificationReport(
        per_class=per_class,
        averaged=averaged,
        beta=beta,
        macro_precision=_nanmean([s.precision for s in scores]),
        macro_recall=_nanmean([s.recall for s in scores]),
        macro_fbeta=_nanmean([s.fbeta for s in scores]),
        micro_precision=micro_p,
        micro_recall=micro_r,
        micro_f1=micro_f1,
        n=len(true),
        n_unparsed=sum(1 for p in pred if p is None),
        n_unlisted=sum(1 for p in pred if p is not None and p not in listed),
    )


def type_report(
    true: Sequence[str], pred: Sequence[str | None], mode: str = "image", beta: float = 2.0
) -> ClassificationReport:
    """Score predicted mask types over the six scored types (``null`` is not scored).

    Args:
        true: True types (each one of ``MASK_TYPES``).
        pred: Predicted types, ``None`` where unparsed.
        mode: ``image`` or ``video``. Defaults to ``image``.
        beta: The F-beta's beta. Defaults to 2.

    Returns:
        See ``classification_report``.
    """
    return classification_report(true, pred, MASK_TYPES, mode, beta)


def action_report(
    true: Sequence[str], pred: Sequence[str | None], mode: str = "image", beta: float = 2.0
) -> ClassificationReport:
    """Score predicted actions over the actions present in this subset's ground truth.

    A predicted action absent from the ground truth is therefore a false positive of no class,
    as the reference restricts its action classes.

    Args:
        true: True actions.
        pred: Predicted actions, ``None`` where unparsed.
        mode: ``image`` or ``video``. Defaults to ``image``.
        beta: The F-beta's beta. Defaults to 2.

    Returns:
        See ``classification_report``.
    """
    present = set(true)
    return classification_report(true, pred, [a for a in ACTIONS if a in present], mode, beta)


# --------------------------------------------------------------------------------------------
# Quality-control extras


def average_ranks(values: Sequence[float]) -> np.ndarray:
    """Return 1-based ranks, tied values sharing the mean of their ranks.

    Args:
        values: Numbers.

    Returns:
        A float64 array of ranks.

    Example:
        >>> average_ranks([0.3, 0.1, 0.3]).tolist()
        [2.5, 1.0, 2.5]
    """
    _, inverse, counts = np.unique(
        np.asarray(values, dtype=np.float64), return_inverse=True, return_counts=True
    )
    ends = np.cumsum(counts)
    starts = ends - counts
    return ((starts + 1 + ends) / 2.0)[inverse]


def pearson(x: Sequence[float], y: Sequence[float]) -> float:
    """Return Pearson's correlation; ``nan`` with fewer than 2 items or a constant input.

    Args:
        x: Numbers.
        y: Numbers, same length.

    Returns:
        The correlation in [-1, 1].
    """
    _check_lengths(x, y)
    if len(x) < 2:
        return math.nan
    xa = np.asarray(x, dtype=np.float64) - np.mean(x)
    ya = np.asarray(y, dtype=np.float64) - np.mean(y)
    denom = math.sqrt(float(np.sum(xa * xa)) * float(np.sum(ya * ya)))
    if denom == 0:
        return math.nan
    return float(np.clip(np.sum(xa * ya) / denom, -1.0, 1.0))


def spearman(x: Sequence[float], y: Sequence[float]) -> float:
    """Return Spearman's rank correlation (Pearson's of average ranks); ``nan`` when degenerate.

    Args:
        x: Numbers.
        y: Numbers, same length.

    Returns:
        The correlation in [-1, 1]; ``nan`` with fewer than 2 items or a constant input.
    """
    _check_lengths(x, y)
    if len(x) < 2:
        return math.nan
    return pearson(average_ranks(x), average_ranks(y))


def auroc(labels: Sequence[bool], scores: Sequence[float]) -> float:
    """Return the area under the ROC curve of ``scores`` for detecting positive ``labels``.

    Computed as the Mann-Whitney statistic: the probability that a random positive scores
    higher than a random negative, ties counting one half.

    Args:
        labels: True where the item is a positive.
        scores: Higher means more likely positive.

    Returns:
        The AUROC in [0, 1]; ``nan`` when only one class is present.
    """
    _check_lengths(labels, scores)
    pos = np.asarray(labels, dtype=bool)
    n_pos = int(pos.sum())
    n_neg = len(pos) - n_pos
    if n_pos == 0 or n_neg == 0:
        return math.nan
    ranks = average_ranks(scores)
    return float((ranks[pos].sum() - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg))


def failure_auroc(
    pred: Sequence[float | None], true: Sequence[float], threshold: float = FAILURE_IOU
) -> float:
    """Return the AUROC of ``1 - predicted IoU`` for detecting failures (true IoU < threshold).

    Args:
        pred: Predicted IoUs; an unparsed one (``None``) counts as 0.0 (a certain failure).
        true: True IoUs.
        threshold: A mask is a failure below this true IoU. Defaults to 0.5.

    Returns:
        The AUROC; ``nan`` when all masks fail or none does.
    """
    scores = 1.0 - fill_unparsed(pred)
    return auroc(np.asarray(true, dtype=np.float64) < threshold, scores)


def aurc(
    pred: Sequence[float | None],
    true: Sequence[float],
    risk: str = "failure",
    threshold: float = FAILURE_IOU,
) -> float:
    """Return the area under the risk-coverage curve of accepting masks by predicted IoU.

    Masks are accepted from the highest predicted IoU down. At coverage k/n the risk is the mean
    risk of the k accepted masks; the AURC is the mean of that over k = 1..n (lower is better).
    Masks with equal predicted IoU are accepted together: the curve is the expectation over
    every order among them.

    Risk ``failure`` (the default) is 1 for a mask whose true IoU is below ``threshold``: the
    curve then reads "fraction of failed masks among those accepted". Risk ``error`` is the
    absolute IoU error ``|pred - true|`` of each accepted mask.

    Args:
        pred: Predicted IoUs; an unparsed one (``None``) counts as 0.0.
        true: True IoUs.
        risk: ``failure`` or ``error``. Defaults to ``failure``.
        threshold: Failure threshold for ``failure`` risk. Defaults to 0.5.

    Returns:
        The AURC in [0, 1]; ``nan`` with no items.

    Raises:
        ValueError: On an unknown risk.
    """
    if risk not in AURC_RISKS:
        raise ValueError(f"unknown AURC risk {risk!r}; expected one of {AURC_RISKS}")
    _check_lengths(pred, true)
    if len(pred) == 0:
        return math.nan
    conf = fill_unparsed(pred)
    true_arr = np.asarray(true, dtype=np.float64)
    risks = (
        (true_arr < threshold).astype(np.float64) if risk == "failure" else np.abs(conf - true_arr)
    )

    order = np.argsort(-conf, kind="stable")
    conf, risks = conf[order], risks[order]
    # Within a block of equal confidence, every order is equally likely: the expected
    # cumulative risk is that of the block's mean risk at every position.
    _, block_start, block_size = np.unique(-conf, return_index=True, return_counts=True)
    block_mean = np.add.reduceat(risks, block_start) / block_size
    risks = np.repeat(block_mean, block_size)
    coverage = np.arange(1, len(risks) + 1, dtype=np.float64)
    return float(np.mean(np.cumsum(risks) / coverage))
