"""The report's HTML page, written from the numbers of ``report.json``.

The page is self-contained: inline CSS, no JavaScript, nothing fetched from the network, and
figures referenced by relative file names (PNG files in the page's own folder).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from maskaudit.eval.report import COLUMNS

METHODS: tuple[str, ...] = ("maskaudit", "geometry", "prior")
"""The auditors compared, in column order."""

COMPARED: tuple[tuple[str, str, bool], ...] = (
    ("rmse", "IoU RMSE", False),
    ("type_f2", "type F2", True),
    ("action_f2", "action F2", True),
    ("auroc", "AUROC (IoU<0.5)", True),
    ("aurc", "AURC", False),
)
"""(score field, header, higher is better) of the comparison table."""

BEST_CELL = '<td class="best">'
"""Opening tag of the cell holding the best value of a score in its row."""

CSS = """
body { font-family: system-ui, -apple-system, "Segoe UI", Helvetica, Arial, sans-serif;
       margin: 2em auto; max-width: 1200px; padding: 0 1em; color: #222; line-height: 1.45; }
h1 { border-bottom: 2px solid #1f5fa8; padding-bottom: .2em; }
h2 { margin-top: 2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: .8em 0; font-size: 13px; }
th, td { border: 1px solid #ccc; padding: 3px 7px; text-align: right; }
th { background: #eef3fa; }
table.compare th { text-align: center; }
td:first-child, th:first-child { text-align: left; }
table.meta td { text-align: left; }
tr.all td { font-weight: 600; background: #fafafa; }
td.best { color: #1f5fa8; font-weight: 700; }
.figures { display: flex; flex-wrap: wrap; gap: 1em; align-items: flex-start; }
figure { margin: 0; }
figure img { max-width: 100%; border: 1px solid #ddd; }
figcaption { font-size: 13px; color: #555; max-width: 640px; }
details { margin: .5em 0; }
.note { color: #555; font-size: 14px; }
"""


def _number(value: Any, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "-"
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    if isinstance(value, float):
        return f"{value:.{digits}f}"
    return escape(str(value))


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], css: str = "") -> str:
    """An HTML table; cells are already escaped HTML."""
    head = "".join(f"<th>{h}</th>" for h in headers)
    body = "\n".join("<tr>" + "".join(cells) + "</tr>" for cells in rows)
    opening = f'<table class="{css}">' if css else "<table>"
    return f"{opening}\n<tr>{head}</tr>\n{body}\n</table>"


def _best(values: Sequence[Any], higher: bool) -> set[int]:
    """Indices of the best finite values; none when fewer than two differ."""
    finite = [
        (v, i) for i, v in enumerate(values) if isinstance(v, float | int) and math.isfinite(v)
    ]
    if len({v for v, _ in finite}) < 2:
        return set()
    target = max(finite)[0] if higher else min(finite)[0]
    return {i for v, i in finite if v == target}


def comparison_table(tables: Mapping[str, Mapping[str, Mapping[str, Any]]]) -> str:
    """The protocol rows of every method side by side, the best of each score marked.

    Args:
        tables: Method name to its protocol table as JSON (``eval.report.table_to_json``).

    Returns:
        An HTML table: one line per protocol row; for each score of ``COMPARED``, one column
        per method, under a header spanning them.
    """
    methods = [m for m in METHODS if m in tables]
    first = tables[methods[0]]
    top = '<th rowspan="2">setting</th><th rowspan="2">n</th>' + "".join(
        f'<th colspan="{len(methods)}">{escape(header)} {"&uarr;" if higher else "&darr;"}</th>'
        for _, header, higher in COMPARED
    )
    second = "".join(f"<th>{escape(m)}</th>" for _ in COMPARED for m in methods)
    lines = [f"<tr>{top}</tr>", f"<tr>{second}</tr>"]
    for row in first:
        cells = [f"<td>{escape(row)}</td>", f"<td>{_number(first[row].get('n'))}</td>"]
        for field, _, higher in COMPARED:
            values = [tables[m].get(row, {}).get(field) for m in methods]
            best = _best(values, higher)
            cells += [
                (BEST_CELL if i in best else "<td>") + f"{_number(v)}</td>"
                for i, v in enumerate(values)
            ]
        css = ' class="all"' if row == "all" else ""
        lines.append(f"<tr{css}>{''.join(cells)}</tr>")
    return '<table class="compare">\n' + "\n".join(lines) + "\n</table>"


def protocol_table_html(table: Mapping[str, Mapping[str, Any]]) -> str:
    """One method's whole protocol table, with the columns of ``maskaudit eval``'s markdown.

    Args:
        table: The table as JSON (row name to scores).

    Returns:
        An HTML table.
    """
    headers = ["setting"] + [escape(h) for _, h in COLUMNS]
    rows = [
        [f"<td>{escape(name)}</td>"] + [f"<td>{_number(scores.get(f))}</td>" for f, _ in COLUMNS]
        for name, scores in table.items()
    ]
    return _table(headers, rows)


def _figure(src: str, caption: str) -> str:
    return (
        f'<figure><img src="{escape(src)}" alt="{escape(caption)}">'
        f"<figcaption>{escape(caption)}</figcaption></figure>"
    )


def _meta(report: Mapping[str, Any]) -> str:
    bundle = report.get("bundle", {})
    machine = report.get("machine", {})
    versions = report.get("versions", {})
    settings = report.get("settings", {})
    stream = report.get("stream") or {}
    rows = [
        ("bundle", bundle.get("id")),
        ("precision", bundle.get("precision")),
        ("scored with", bundle.get("scoring_backend")),
        ("stream backend", stream.get("backend", "not run")),
        ("data", report.get("data")),
        ("date (UTC)", report.get("created")),
        ("candidates per split", settings.get("limit") or "all"),
        (
            "baselines fitted on",
            f"{report.get('baselines', {}).get('fit_candidates', '-')} "
            "train candidates, evenly drawn",
        ),
        ("CPU", f"{machine.get('cpu', '-')} ({machine.get('logical_cores', '-')} logical cores)"),
        ("platform", machine.get("platform")),
        ("load average (1 min, at the end)", machine.get("load_average_1min")),
        ("versions", ", ".join(f"{k} {v}" for k, v in versions.items())),
        ("report built in", f"{_number(report.get('seconds'), 1)} s"),
    ]
    cells = [[f"<td>{escape(k)}</td>", f"<td>{_number(v)}</td>"] for k, v in rows]
    return _table(["", ""], cells, css="meta")


def _split_section(name: str, split: Mapping[str, Any], figures: Mapping[str, str]) -> str:
    tables = split.get("tables", {})
    parts = [
        f"<h2>{escape(name)} (image mode)</h2>",
        f'<p class="note">{split.get("scored", 0)} scored candidates '
        f"({split.get('candidates', 0)} audited, {split.get('available', 0)} in the split; "
        "empty <code>null</code> candidates are not scored, as in the protocol).</p>",
        "<h3>Protocol table against the baselines</h3>",
        comparison_table(tables) if tables else "<p>no table</p>",
    ]
    for method in METHODS:
        if method in tables:
            parts.append(
                f"<details><summary>{escape(method)}: every column</summary>"
                f"{protocol_table_html(tables[method])}</details>"
            )
    captions = {
        "iou_scatter": "Predicted against true IoU of each scored candidate (maskaudit); red: "
        "mean true IoU of the candidates in each predicted-IoU bin; dashed: perfect "
        "calibration.",
        "type_confusion": "Mask type: true (rows) against predicted (columns); colour is the "
        "share of the true row.",
        "action_confusion": "Action: true (rows) against predicted (columns); colour is the "
        "share of the true row.",
        "risk_coverage": "Accepting candidates from the highest predicted IoU down: the share "
        "of accepted masks whose true IoU is below 0.5, at each coverage (lower is better).",
    }
    shown = [_figure(figures[key], text) for key, text in captions.items() if key in figures]
    if shown:
        parts.append('<h3>Figures</h3><div class="figures">' + "".join(shown) + "</div>")
    return "\n".join(parts)


def _stream_section(stream: Mapping[str, Any] | None, figures: Mapping[str, str]) -> str:
    parts = ["<h2>Stream latency</h2>"]
    if not stream:
        return parts[0] + "\n<p>Not measured (--stream-seconds 0).</p>"
    settings = stream.get("settings", {})
    size = settings.get("size", ["?", "?"])
    parts.append(
        f'<p class="note">{stream.get("frames")} frames of a {size[0]}x{size[1]} sample clip at '
        f"{_number(settings.get('fps'), 0)} fps, {settings.get('candidates')} candidate(s) per "
        f"frame, backend {escape(str(stream.get('backend')))}, precision "
        f"{escape(str(stream.get('precision')))}; real-time factor "
        f"{_number(stream.get('real_time_factor'), 2)} (clip seconds per wall second).</p>"
    )
    summary = stream.get("summary", {})
    keys = ["p50", "p90", "p99", "mean"]
    rows = [
        [f"<td>{escape(part)}</td>"] + [f"<td>{_number(values.get(k), 2)}</td>" for k in keys]
        for part, values in summary.items()
    ]
    parts.append(_table(["ms per frame"] + keys, rows))
    if "latency" in figures:
        parts.append(
            _figure(
                figures["latency"],
                "Latency of each frame, from its arrival to its verdicts; lines mark p50, p90 "
                "and p99.",
            )
        )
    return "\n".join(parts)


def render_page(report: Mapping[str, Any]) -> str:
    """Write the report page.

    Args:
        report: The numbers of ``report.json``: ``bundle``, ``data``, ``created``,
            ``machine``, ``versions``, ``settings``, ``baselines``, ``splits`` (per split:
            ``tables``, ``scored``, ``candidates``, ``available``), ``stream`` (or None) and
            ``figures`` (per split and for ``stream``: figure key to PNG file name).

    Returns:
        The whole HTML document.
    """
    figures = report.get("figures", {})
    body = [
        "<h1>maskaudit evaluation report</h1>",
        _meta(report),
        '<p class="note">Scores follow the reference protocol in image mode (one key frame '
        "per expression). maskaudit's answers are the bundle's verdicts after its verdict "
        "policy; the baselines are fitted on the benchmark's train split: <b>prior</b> answers "
        "the train means and majorities, <b>geometry</b> learns from mask-shape features and "
        "sees neither the audio nor the expression. Best of each score in blue.</p>",
    ]
    for name, split in report.get("splits", {}).items():
        body.append(_split_section(name, split, figures.get(name, {})))
    body.append(_stream_section(report.get("stream"), figures.get("stream", {})))
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n<meta charset="utf-8">\n'
        f"<title>maskaudit report: {escape(str(report.get('bundle', {}).get('id', '')))} on "
        f"{escape(str(report.get('data', '')))}</title>\n<style>{CSS}</style>\n</head>\n<body>\n"
        + "\n".join(body)
        + "\n</body>\n</html>\n"
    )
