"""PDF shift or lot report a quality engineer signs: who, where, when and what was filtered; the
summary; yield and a score histogram in the verdict colours; every NG, REVIEW and overridden part
large enough to see the defect, in the station's heatmap colours; the parts not inspected; a
sign-off block."""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from PIL import Image as PILImage
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image, KeepTogether, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from desktop_app.history import stats
from desktop_app.history.queries import NOT_JUDGED, HistoryFilter, InspectionRow, Sort
from desktop_app.history.rendering import outline, overlay, thumbnail

PICTURE_MM = 86  # each of image and heatmap: a defect of 1 % of the part is still visible in print
PICTURE_PX = 640
COLOURS = {"OK": "#2e7d32", "REVIEW": "#f9a825", "NG": "#c62828", "NOT": "#6a1b9a", "HEAD": "#e8eef7"}


@dataclass
class Scope:
    """Who, where and what the report covers, read from the rows themselves."""

    products: set[str] = field(default_factory=set)
    stations: set[str] = field(default_factory=set)
    operators: set[str] = field(default_factory=set)
    lots: set[str] = field(default_factory=set)

    def add(self, row: InspectionRow) -> None:
        self.products.add(row.product)
        self.stations.add(row.station)
        self.operators.add(row.operator)
        if row.lot:
            self.lots.add(row.lot)


def _listed(values: set[str], none: str = "–") -> str:
    return ", ".join(sorted(values)) or none


def _bar_chart(labels: list[str], series: list[list[float]], title: str, value_max: float,
               fills: list[str], boundary: float | None = None, stacked: bool = False) -> Drawing:
    drawing = Drawing(180 * mm, 62 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 12 * mm, 12 * mm, 160 * mm, 40 * mm
    chart.data = series if any(series) else [[0]]
    chart.categoryAxis.categoryNames = labels or [""]
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.angle = 30 if len(labels) > 8 else 0
    chart.categoryAxis.labels.dy = -6
    if stacked:
        chart.categoryAxis.style = "stacked"
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, value_max
    chart.valueAxis.labels.fontSize = 7
    for index, fill in enumerate(fills):
        chart.bars[index].fillColor = colors.HexColor(fill)
        chart.bars[index].strokeColor = None
    drawing.add(chart)
    drawing.add(String(12 * mm, 56 * mm, title, fontSize=9))
    if boundary is not None:  # the calibrated decision boundary on a 0..1 score axis
        x = chart.x + chart.width * boundary
        drawing.add(Line(x, chart.y, x, chart.y + chart.height, strokeColor=colors.black, strokeWidth=1.2))
        drawing.add(String(x + 2, chart.y + chart.height - 8, "boundary 0.5", fontSize=7))
    return drawing


def _verdict_histogram(facts: list[Any], bins: int = 20) -> tuple[list[str], list[list[float]]]:
    """Score counts per bin, one series per engine verdict (stacked: OK, REVIEW, NG)."""
    edges = np.linspace(0.0, 1.0, bins + 1)
    series = []
    for verdict in ("OK", "REVIEW", "NG"):
        scores = np.clip([f[4] for f in facts if f[2] == verdict], 0.0, 1.0)
        counts, _ = np.histogram(scores, bins=bins, range=(0.0, 1.0))
        series.append([int(c) for c in counts])
    return [f"{e:.2f}" for e in edges[:-1]], series


def _jpeg(rgb: np.ndarray, width_mm: float) -> Image:
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format="JPEG", quality=88)
    buf.seek(0)
    h, w = rgb.shape[:2]
    return Image(buf, width=width_mm * mm, height=width_mm * mm * h / w)


def _grid(data: list[list[Any]], widths: list[float] | None = None, head: str = COLOURS["HEAD"]) -> Table:
    table = Table(data, colWidths=widths)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor(head)),
                               ("FONTSIZE", (0, 0), (-1, -1), 9), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _summary_table(overall: stats.GroupStats) -> Table:
    table = _grid([["inspected", "OK", "REVIEW", "NG", "overridden", "yield", "not inspected"],
                   [overall.total, overall.ok, overall.review, overall.ng, overall.overridden,
                    f"{overall.yield_ * 100:.1f} %", overall.not_inspected]])
    for column, key in ((1, "OK"), (2, "REVIEW"), (3, "NG"), (6, "NOT")):
        table.setStyle(TableStyle([("TEXTCOLOR", (column, 0), (column, 0), colors.HexColor(COLOURS[key]))]))
    return table


def _header(scope: Scope, filters: HistoryFilter, facts: list[Any], tz: dt.tzinfo | None,
            generated_by: str | None, styles: Any) -> Table:
    period = "–"
    if filters.since or filters.until:
        since = f"{filters.since.astimezone(tz):%Y-%m-%d %H:%M}" if filters.since else "start"
        until = f"{filters.until.astimezone(tz):%Y-%m-%d %H:%M}" if filters.until else "now"
        period = f"{since} to {until}"
    elif facts:
        period = f"{facts[0][0].astimezone(tz):%Y-%m-%d %H:%M} to {facts[-1][0].astimezone(tz):%Y-%m-%d %H:%M}"
    chosen = [f"verdicts {'/'.join(filters.verdicts)}" if filters.verdicts else "",
              f"text “{filters.text}”" if filters.text else "",
              f"operator {filters.operator}" if filters.operator else ""]
    now = dt.datetime.now(dt.timezone.utc).astimezone(tz)
    generated = f"{now:%Y-%m-%d %H:%M} {now.tzname() or ''}" + (f" by {generated_by}" if generated_by else "")
    cell = styles["BodyText"].clone("cell", fontSize=9, leading=11)
    rows = [("Product", _listed(scope.products | set(filters.products))),
            ("Station", _listed(scope.stations)), ("Operators", _listed(scope.operators)),
            ("Lot", filters.lot or _listed(scope.lots)), ("Period", period),
            ("Selection", " · ".join(c for c in chosen if c) or "all parts of the period"),
            ("Generated", generated)]
    table = Table([[Paragraph(f"<b>{k}</b>", cell), Paragraph(v, cell)] for k, v in rows],
                  colWidths=[28 * mm, 152 * mm])
    table.setStyle(TableStyle([("LINEBELOW", (0, 0), (-1, -1), 0.25, colors.lightgrey),
                               ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return table


def _part(store: Any, row: InspectionRow, tz: dt.tzinfo | None, styles: Any,
          heading: Paragraph | None = None) -> KeepTogether:
    """One part: image and heatmap side by side at a readable size, then what was decided (a
    section's first part carries the section heading, so a heading never ends a page alone)."""
    record = store.get(row.id, with_images=True)
    colour = COLOURS.get(row.effective_verdict, "#000000")
    engine = f" (engine {row.verdict})" if row.overridden else ""
    regions = "; ".join(f"{r['location']} {r['area_fraction'] * 100:.1f} %" for r in record.columns["regions"])
    last = record.overrides[-1] if record.overrides else None
    decided = (f"<br/>Override by {last['operator']}: {last['reason_code']}, “{last['comment']}”"
               if last else "")
    caption = Paragraph(
        f"<font color='{colour}'><b>{row.effective_verdict}</b></font>{engine} · score {row.score:.2f} · "
        f"<b>{Path(row.source).name or row.source}</b> · #{row.id} · {row.time.astimezone(tz):%Y-%m-%d %H:%M:%S}"
        f" · {row.product}{' · serial ' + row.serial if row.serial else ''} · operator {row.operator}"
        f"<br/>Regions: {regions or 'none above the boundary'}{decided}",
        styles["BodyText"].clone("cap", fontSize=8, leading=10))
    if record.image is not None and record.heatmap is not None:
        pair = Table([[_jpeg(thumbnail(record.image, PICTURE_PX), PICTURE_MM),
                       _jpeg(thumbnail(outline(overlay(record.image, record.heatmap), record.columns["regions"]),
                                       PICTURE_PX), PICTURE_MM)]],
                      colWidths=[(PICTURE_MM + 3) * mm] * 2)
    else:
        pair = Paragraph("(image not kept by the retention policy)", styles["BodyText"])
    return KeepTogether(([heading] if heading is not None else []) + [pair, caption, Spacer(1, 4 * mm)])


def _not_inspected_section(store: Any, filters: HistoryFilter, styles: Any, tz: dt.tzinfo | None) -> list[Any]:
    """Parts that reached the station but were not judged (NO IMAGE / ERROR), each with its reason."""
    wanted = tuple(v for v in NOT_JUDGED if not filters.verdicts or v in filters.verdicts)
    rows = list(store.iter_rows(HistoryFilter(**{**filters.__dict__, "verdicts": wanted}),
                                Sort("time", descending=False))) if wanted else []
    if not rows:
        return []
    small = styles["BodyText"].clone("small", fontSize=7, leading=8)
    data = [["time", "verdict", "file", "reason"]] + [
        [f"{r.time.astimezone(tz):%m-%d %H:%M:%S}", r.verdict, Paragraph(Path(r.source).name or r.source, small),
         Paragraph(r.error or "", small)] for r in rows]
    table = _grid(data, [24 * mm, 20 * mm, 50 * mm, 86 * mm])
    table.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 7)]))
    return [Paragraph(f"Not inspected ({len(rows)}): unreadable images and failed inspections",
                      styles["Heading2"]), table]


def _sign_off(styles: Any) -> Table:
    line = "_" * 34
    table = Table([["Reviewed and released by", "Date", "Signature"], [line, "_" * 16, line]],
                  colWidths=[70 * mm, 40 * mm, 70 * mm])
    table.setStyle(TableStyle([("FONTSIZE", (0, 0), (-1, -1), 9), ("TOPPADDING", (0, 1), (-1, 1), 14)]))
    return table


def export_pdf(store, path: str | Path, filters: HistoryFilter | None = None,  # type: ignore[no-untyped-def]
               sort: Sort | None = None, title: str = "Inspection report",
               tz: dt.tzinfo | None = None, generated_by: str | None = None) -> Iterator[tuple[int, int]]:
    """One report for the filtered period (a lot: filters.lot; a shift: since/until)."""
    from desktop_app.history.export import atomic_output

    filters = filters or HistoryFilter()
    facts = list(stats.stream_facts(store, filters))
    span = (facts[-1][0] - facts[0][0]) if facts else dt.timedelta(0)
    by = "hour" if span <= dt.timedelta(days=2) else "day"
    summary = stats.compute(facts, by=by, tz=tz)
    scope = Scope()
    for row in store.iter_rows(filters):
        scope.add(row)
    ordered = Sort("time", descending=False)
    sections = []
    for heading, verdicts, overridden in (("NG parts", ("NG",), None), ("REVIEW parts", ("REVIEW",), None),
                                          ("Overridden to OK", ("OK",), True)):
        if filters.verdicts and not set(verdicts) & set(filters.verdicts):
            continue
        chosen = HistoryFilter(**{**filters.__dict__, "verdicts": verdicts, "overridden": overridden})
        sections.append((heading, list(store.iter_rows(chosen, ordered))))
    total = sum(len(rows) for _, rows in sections) + 1
    yield 0, total

    styles = getSampleStyleSheet()
    story: list[Any] = [Paragraph(title, styles["Title"]),
                        _header(scope, filters, facts, tz, generated_by, styles), Spacer(1, 4 * mm),
                        _summary_table(summary.overall), Spacer(1, 4 * mm)]
    story.append(_bar_chart([g.key[-11:] if by == "hour" else g.key for g in summary.groups],
                            [[round(g.yield_ * 100, 1) for g in summary.groups]], f"Yield per {by} (%)", 100,
                            [COLOURS["OK"]]))
    labels, series = _verdict_histogram(facts)
    peak = max([sum(values) for values in zip(*series)] or [1])
    story.append(_bar_chart(labels, series, "Score distribution (calibrated; OK green, REVIEW amber, NG red)",
                            max(1, peak), [COLOURS["OK"], COLOURS["REVIEW"], COLOURS["NG"]],
                            boundary=summary.boundary, stacked=True))
    done = 0
    for heading, rows in sections:
        title_line = Paragraph(f"{heading} ({len(rows)})", styles["Heading2"])
        if not rows:
            story.append(title_line)
        for index, row in enumerate(rows):
            story.append(_part(store, row, tz, styles, title_line if index == 0 else None))
            done += 1
            yield done, total
    story += _not_inspected_section(store, filters, styles, tz)
    story += [Spacer(1, 8 * mm), _sign_off(styles)]
    with atomic_output(path) as tmp:
        SimpleDocTemplate(str(tmp), pagesize=A4, title=title, leftMargin=15 * mm, rightMargin=15 * mm,
                          topMargin=15 * mm, bottomMargin=15 * mm).build(story)
    yield total, total
