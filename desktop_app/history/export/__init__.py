"""Exports of filtered history. Each exporter is a generator yielding (done, total) as it goes, so the
GUI shows progress and cancels by closing the generator; output appears only when it completes."""
from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator
from pathlib import Path

from desktop_app.history.queries import InspectionRow

Progress = tuple[int, int]

TABLE_HEADER = [
    "id", "uid", "time_utc", "station", "operator", "product", "source", "lot", "serial",
    "verdict", "effective_verdict", "overridden", "score", "region_count", "latency_ms", "has_image",
    "raw_score", "boundary", "raw_boundary", "model_version", "reference_fingerprint", "calibrated_at_utc",
    "error",  # why a NO IMAGE / ERROR part was not judged; empty for judged parts
    "part_id",  # the line's part id (PLC trigger); last, so older readers' columns do not move
]


def row_values(row: InspectionRow) -> list[object]:
    return [
        row.id, row.uid, row.time.isoformat(), row.station, row.operator, row.product, row.source,
        row.lot or "", row.serial or "", row.verdict, row.effective_verdict, row.overridden,
        round(row.score, 6), row.region_count, round(row.latency_ms, 3), row.has_image,
        round(row.raw_score, 6), row.boundary, "" if row.raw_boundary is None else round(row.raw_boundary, 6),
        row.model_version, row.reference_fingerprint or "",
        row.calibrated_at.isoformat() if row.calibrated_at else "",
        row.error or "",
        row.part_id or "",
    ]


@contextlib.contextmanager
def atomic_output(path: str | Path) -> Iterator[Path]:
    """Yield a temporary path next to `path`; rename into place only on success (not on cancel)."""
    target = Path(path)
    tmp = target.with_name(f".{target.name}.part-{os.getpid()}")
    try:
        yield tmp
        os.replace(tmp, target)
    finally:
        tmp.unlink(missing_ok=True)


from desktop_app.history.export.csv_export import export_csv  # noqa: E402
from desktop_app.history.export.jsonl_export import export_jsonl  # noqa: E402
from desktop_app.history.export.pdf_report import export_pdf  # noqa: E402
from desktop_app.history.export.xlsx_export import export_xlsx  # noqa: E402

EXPORTERS = {"csv": export_csv, "xlsx": export_xlsx, "jsonl": export_jsonl, "pdf": export_pdf}

__all__ = ["EXPORTERS", "Progress", "export_csv", "export_jsonl", "export_pdf", "export_xlsx"]
