"""PDF report of a lot or a shift: summary, yield chart, score histogram, and every NG part with its heatmap."""
from __future__ import annotations

import datetime as dt
import io
from collections.abc import Iterator
from pathlib import Path

import numpy as np
from PIL import Image as PILImage
from reportlab.graphics.charts.barcharts import VerticalBarChart
from reportlab.graphics.shapes import Drawing, Line, String
from reportlab.lib import colors
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import getSampleStyleSheet
from reportlab.lib.units import mm
from reportlab.platypus import Image, Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from desktop_app.history import stats
from desktop_app.history.queries import NOT_JUDGED, HistoryFilter, Sort
from desktop_app.history.rendering import overlay, thumbnail

THUMB_MM = 38


def _bar_chart(labels: list[str], values: list[float], title: str, value_max: float,
               boundary: float | None = None) -> Drawing:
    drawing = Drawing(170 * mm, 62 * mm)
    chart = VerticalBarChart()
    chart.x, chart.y, chart.width, chart.height = 12 * mm, 12 * mm, 150 * mm, 40 * mm
    chart.data = [values or [0]]
    chart.categoryAxis.categoryNames = labels or [""]
    chart.categoryAxis.labels.fontSize = 6
    chart.categoryAxis.labels.angle = 30 if len(labels) > 8 else 0
    chart.categoryAxis.labels.dy = -6
    chart.valueAxis.valueMin, chart.valueAxis.valueMax = 0, value_max
    chart.valueAxis.labels.fontSize = 7
    chart.bars[0].fillColor = colors.HexColor("#3b7dd8")
    drawing.add(chart)
    drawing.add(String(12 * mm, 56 * mm, title, fontSize=9))
    if boundary is not None:  # the calibrated decision boundary on a 0..1 score axis
        x = chart.x + chart.width * boundary
        drawing.add(Line(x, chart.y, x, chart.y + chart.height, strokeColor=colors.red, strokeWidth=1.2))
        drawing.add(String(x + 2, chart.y + chart.height - 8, "boundary 0.5", fontSize=7, fillColor=colors.red))
    return drawing


def _png_flowable(rgb: np.ndarray, width_mm: float) -> Image:
    buf = io.BytesIO()
    PILImage.fromarray(rgb).save(buf, format="JPEG", quality=85)
    buf.seek(0)
    h, w = rgb.shape[:2]
    return Image(buf, width=width_mm * mm, height=width_mm * mm * h / w)


def _summary_table(overall: stats.GroupStats) -> Table:
    data = [["inspected", "OK", "REVIEW", "NG", "overridden", "yield", "not inspected"],
            [overall.total, overall.ok, overall.review, overall.ng, overall.overridden,
             f"{overall.yield_ * 100:.1f} %", overall.not_inspected]]
    table = Table(data)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                               ("FONTSIZE", (0, 0), (-1, -1), 9)]))
    return table


def _not_inspected_section(store, filters: HistoryFilter, styles, tz: dt.tzinfo | None) -> list:  # type: ignore[no-untyped-def]
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
    table = Table(data, colWidths=[24 * mm, 20 * mm, 50 * mm, 86 * mm], repeatRows=1)
    table.setStyle(TableStyle([("GRID", (0, 0), (-1, -1), 0.4, colors.grey),
                               ("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8eef7")),
                               ("FONTSIZE", (0, 0), (-1, -1), 7), ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return [Paragraph(f"Not inspected ({len(rows)}): unreadable images and failed inspections",
                      styles["Heading2"]), table]


def export_pdf(store, path: str | Path, filters: HistoryFilter | None = None,  # type: ignore[no-untyped-def]
               sort: Sort | None = None, title: str = "Inspection report",
               tz: dt.tzinfo | None = None) -> Iterator[tuple[int, int]]:
    """One report for the filtered period (a lot: filters.lot; a shift: since/until)."""
    from desktop_app.history.export import atomic_output

    filters = filters or HistoryFilter()
    facts = list(stats.stream_facts(store, filters))
    span = (facts[-1][0] - facts[0][0]) if facts else dt.timedelta(0)
    by = "hour" if span <= dt.timedelta(days=2) else "day"
    summary = stats.compute(facts, by=by, tz=tz)
    ng_filter = HistoryFilter(**{**filters.__dict__, "verdicts": ("NG",)})
    ng_rows = list(store.iter_rows(ng_filter, Sort("time", descending=False)))
    total = len(ng_rows) + 1
    yield 0, total

    styles = getSampleStyleSheet()
    story: list = [Paragraph(title, styles["Title"])]
    scope = [f"lot {filters.lot}" if filters.lot else "", f"products: {', '.join(filters.products)}"
             if filters.products else ""]
    if facts:
        first, last = facts[0][0].astimezone(tz), facts[-1][0].astimezone(tz)
        scope.append(f"{first:%Y-%m-%d %H:%M} to {last:%Y-%m-%d %H:%M}")
    story += [Paragraph(" · ".join(s for s in scope if s) or "all inspections", styles["Normal"]),
              Spacer(1, 4 * mm), _summary_table(summary.overall), Spacer(1, 4 * mm)]
    story.append(_bar_chart([g.key[-11:] if by == "hour" else g.key for g in summary.groups],
                            [round(g.yield_ * 100, 1) for g in summary.groups], f"Yield per {by} (%)", 100))
    counts, _edges = summary.histogram(20)
    story.append(_bar_chart([f"{e:.2f}" for e in _edges[:-1]], [int(c) for c in counts],
                            "Score distribution (calibrated)", max(1, int(counts.max()) if len(counts) else 1),
                            boundary=summary.boundary))
    story.append(Paragraph(f"NG parts ({len(ng_rows)})", styles["Heading2"]))

    cells, done = [], 0
    for row in ng_rows:
        record = store.get(row.id, with_images=True)
        caption = Paragraph(
            f"#{row.id} {row.time.astimezone(tz):%m-%d %H:%M:%S} · {row.product}<br/>score {row.score:.2f}"
            f"{' · ' + row.serial if row.serial else ''}{' · overridden' if row.overridden else ''}"
            f"<br/>{row.model_version} · refs {(row.reference_fingerprint or '–')[:10]}",
            styles["BodyText"].clone("cap", fontSize=7, leading=8))
        if record.image is not None and record.heatmap is not None:
            small = thumbnail(record.image, 240)
            pair = Table([[_png_flowable(small, THUMB_MM / 2 - 1),
                           _png_flowable(thumbnail(overlay(record.image, record.heatmap), 240), THUMB_MM / 2 - 1)]])
        else:
            pair = Paragraph("(image not kept by retention policy)", styles["BodyText"])
        cells.append([[pair], [caption]])
        done += 1
        yield done, total
    grid = [cells[i:i + 3] for i in range(0, len(cells), 3)]
    if grid:
        grid[-1] += [""] * (3 - len(grid[-1]))
        story.append(Table([[Table(c) if c else "" for c in line] for line in grid],
                           colWidths=[60 * mm] * 3))
    story += _not_inspected_section(store, filters, styles, tz)
    with atomic_output(path) as tmp:
        SimpleDocTemplate(str(tmp), pagesize=A4, title=title, leftMargin=15 * mm, rightMargin=15 * mm,
                          topMargin=15 * mm, bottomMargin=15 * mm).build(story)
    yield total, total
