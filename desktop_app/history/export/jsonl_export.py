"""JSON lines with everything: all columns, regions, dialogue, overrides and absolute file paths."""
from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from desktop_app.history.queries import HistoryFilter, Sort


def _plain(value: Any) -> Any:
    return value.isoformat() if isinstance(value, dt.datetime) else value


def export_jsonl(store, path: str | Path, filters: HistoryFilter | None = None,  # type: ignore[no-untyped-def]
                 sort: Sort | None = None, batch: int = 500) -> Iterator[tuple[int, int]]:
    from desktop_app.history.export import atomic_output

    filters = filters or HistoryFilter()
    total = store.count(filters)
    yield 0, total
    done = 0
    pending = []
    with atomic_output(path) as tmp, open(tmp, "w", encoding="utf-8") as handle:
        def flush() -> None:
            ids = [r.id for r in pending]
            columns, messages = store.columns_for(ids), store.messages_for(ids)
            overrides = store.overrides_for(ids)
            for row in pending:
                record = {k: _plain(v) for k, v in columns[row.id].items()}
                record["time"] = row.time.isoformat()
                record["product"] = row.product
                for key in ("image_path", "heatmap_path"):
                    if record.get(key):
                        record[key.replace("_path", "_file")] = str(store.files.abspath(record[key]))
                record["heatmap_encoding"] = "png16:value/65535" if record.get("heatmap_path") else None
                record["messages"] = [{"role": m.role, "text": m.text, "time": m.time.isoformat(), "model": m.model,
                                       "cancelled": m.cancelled, "operator": m.operator} for m in messages[row.id]]
                record["overrides"] = [{k: _plain(v) for k, v in o.items()} for o in overrides[row.id]]
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
            pending.clear()

        for row in store.iter_rows(filters, sort):
            pending.append(row)
            done += 1
            if len(pending) >= batch:
                flush()
                yield done, total
        if pending:
            flush()
    yield done, total
