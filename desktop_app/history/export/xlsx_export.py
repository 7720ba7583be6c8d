"""XLSX of the filtered rows plus a summary sheet; openpyxl write-only mode keeps memory flat."""
from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from openpyxl import Workbook
from openpyxl.cell import WriteOnlyCell
from openpyxl.styles import Font

from desktop_app.history.queries import HistoryFilter, Sort


def export_xlsx(store, path: str | Path, filters: HistoryFilter | None = None,  # type: ignore[no-untyped-def]
                sort: Sort | None = None, every: int = 1000) -> Iterator[tuple[int, int]]:
    from desktop_app.history.export import TABLE_HEADER, atomic_output, row_values

    filters = filters or HistoryFilter()
    total = store.count(filters)
    yield 0, total
    book = Workbook(write_only=True)
    sheet = book.create_sheet("Inspections")
    bold = Font(bold=True)
    header = []
    for name in TABLE_HEADER:
        cell = WriteOnlyCell(sheet, value=name)
        cell.font = bold
        header.append(cell)
    sheet.append(header)
    counts = {"OK": 0, "REVIEW": 0, "NG": 0}
    done = 0
    for row in store.iter_rows(filters, sort):
        values = row_values(row)
        values[2] = row.time.replace(tzinfo=None)  # Excel has no time zones: the column says UTC
        sheet.append(values)
        counts[row.effective_verdict] = counts.get(row.effective_verdict, 0) + 1
        done += 1
        if done % every == 0:
            yield done, total
    summary = book.create_sheet("Summary")
    summary.append(["inspections", done])
    for verdict, n in counts.items():
        summary.append([verdict, n])
    summary.append(["yield", counts["OK"] / done if done else 0.0])
    with atomic_output(path) as tmp:
        book.save(tmp)
    yield done, total
