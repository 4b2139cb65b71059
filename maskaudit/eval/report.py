"""Render protocol tables as markdown for people and as JSON-ready dicts for machines."""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict
from typing import Any

from maskaudit.eval.protocol import RowScores

COLUMNS: tuple[tuple[str, str], ...] = (
    ("n", "n"),
    ("unparsed_iou", "no IoU"),
    ("rmse", "RMSE"),
    ("mae", "MAE"),
    ("type_f2", "type F2"),
    ("action_f2", "action F2"),
    ("spearman", "Spearman"),
    ("auroc", "AUROC(IoU<0.5)"),
    ("aurc", "AURC"),
    ("type_micro_f1", "type micro F1"),
)
"""(``RowScores`` field, column header) of the markdown table, in order."""

MISSING = "-"
"""How an undefined score (``nan``) is written in the markdown table."""


def _cell(value: float | int) -> str:
    if isinstance(value, int):
        return str(value)
    return MISSING if math.isnan(value) else f"{value:.4f}"


def format_markdown(table: Mapping[str, RowScores], first_header: str = "setting") -> str:
    """Render a table of row scores as a markdown table.

    Args:
        table: Row name to scores, in display order.
        first_header: Header of the row-name column. Defaults to ``setting``.

    Returns:
        The table, one line per row, without a trailing newline. Undefined scores read ``-``.

    Example:
        >>> print(format_markdown({}).splitlines()[0])  # doctest: +ELLIPSIS
        | setting | n | no IoU | RMSE | ...
    """
    headers = [first_header] + [header for _, header in COLUMNS]
    lines = ["| " + " | ".join(headers) + " |", "|" + "|".join("---" for _ in headers) + "|"]
    for name, scores in table.items():
        cells = [name] + [_cell(getattr(scores, field)) for field, _ in COLUMNS]
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines)


def scores_to_json(scores: RowScores) -> dict[str, Any]:
    """Return one row's scores as a JSON-ready dict (``nan`` becomes ``None``).

    Args:
        scores: The row's scores.

    Returns:
        Field name to value.
    """
    return {
        key: None if isinstance(value, float) and math.isnan(value) else value
        for key, value in asdict(scores).items()
    }


def table_to_json(table: Mapping[str, RowScores]) -> dict[str, dict[str, Any]]:
    """Return a whole table as a JSON-ready dict, row name to ``scores_to_json`` of the row.

    Args:
        table: Row name to scores.

    Returns:
        The same numbers as the markdown table, and the unparsed counts of every field.
    """
    return {name: scores_to_json(scores) for name, scores in table.items()}
