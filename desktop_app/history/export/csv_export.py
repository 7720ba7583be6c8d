"""CSV of the filtered rows (UTF-8 with BOM so Excel opens accents right)."""
from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from desktop_app.history.queries import HistoryFilter, Sort


def export_csv(store, path: str | Path, filters: HistoryFilter | None = None,  # type: ignore[no-untyped-def]
               sort: Sort | None = None, every: int = 1000) -> Iterator[tuple[int, int]]:
    from desktop_app.history.export import TABLE_HEADER, atomic_output, row_values

    filters = filters or HistoryFilter()
    total = store.count(filters)
    yield 0, total
    done = 0
    with atomic_output(path) as tmp, open(tmp, "w", newline="", encoding="utf-8-sig") as handle:
        writer = csv.writer(handle)
        writer.writerow(TABLE_HEADER)
        for row in store.iter_rows(filters, sort):
            writer.writerow(row_values(row))
            done += 1
            if done % every == 0:
                yield done, total
        handle.flush()
    yield done, total
