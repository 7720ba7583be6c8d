"""What a stored inspection says about itself (verdict, traceability, overrides, conversation), and
the audit trail, as read-only views of the history browser."""
from __future__ import annotations

import html
from typing import Any

from PySide6.QtWidgets import QHeaderView, QTableWidget, QTableWidgetItem, QVBoxLayout, QWidget


def _weights(entry: dict[str, Any] | None) -> str:
    if not entry:
        return "–"
    sha = entry.get("sha256")
    return f"{entry.get('name')}" + (f" <small>sha256 {sha[:12]}…</small>" if sha else "")


def traceability_html(c: dict[str, Any]) -> str:
    """Which models, which reference set, which calibration and boundaries judged the part."""
    esc = html.escape
    models = c.get("models") or {}
    raw_boundary = c.get("raw_boundary")
    calibrated = c.get("calibrated_at")
    lines = [
        f"score {c['score']:.3f} (boundary {c['boundary']:.2f}) · raw score {c['raw_score']:.4f}"
        f" (raw boundary {raw_boundary:.4f})" if raw_boundary is not None else
        f"score {c['score']:.3f} (boundary {c['boundary']:.2f}) · raw score {c['raw_score']:.4f}",
        f"engine {esc(c['engine_version'])} · mode {esc(models.get('mode', c.get('mode', '')))}",
        f"backbone {_weights(models.get('backbone'))} · decoder {_weights(models.get('decoder'))}",
        f"prompt learner {_weights(models.get('prompt_learner'))} · LLM {_weights(models.get('llm'))}",
        f"reference set {esc((c.get('reference_fingerprint') or '–')[:16])}"
        f" · calibrated {calibrated.astimezone():%Y-%m-%d %H:%M:%S}" if calibrated else
        f"reference set {esc((c.get('reference_fingerprint') or '–')[:16])} · calibration time unknown",
    ]
    return "<p style='color:#8b98a5'><b>Traceability</b><br/>" + "<br/>".join(lines) + "</p>"


def details_html(record: Any, audit: list[dict[str, Any]] | None = None) -> str:
    """The whole record as one text: what was found, overrides, the conversation, then what judged
    it and its audit lines (one scroll, no nested panes)."""
    row, c = record.row, record.columns
    esc = html.escape
    lines = [f"<h3>#{row.id} · {esc(row.product)} · <b>{row.effective_verdict}</b>"
             f"{' (engine: ' + row.verdict + ')' if row.overridden else ''}</h3>",
             f"<p>{row.time.astimezone():%Y-%m-%d %H:%M:%S} · station {esc(row.station)} · "
             f"operator {esc(row.operator)} · lot {esc(row.lot or '–')} · serial {esc(row.serial or '–')}"
             f" · part id {esc(row.part_id or '–')}<br/>"
             f"source {esc(row.source)}" + (f" · {c['latency_ms']:.0f} ms" if row.judged else "") + "</p>"]
    if not row.judged:
        lines.append(f"<p style='color:#b04fc8'><b>Not inspected ({esc(row.verdict)})</b>: "
                     f"{esc(row.error or 'no reason recorded')}<br/>Nothing was judged: the part is neither OK "
                     "nor NG. Check the file or the camera and inspect the part again.</p>")
    if c["regions"]:
        lines.append("<p><b>Regions</b>: " + "; ".join(
            f"{esc(r['location'])} ({r['area_fraction'] * 100:.1f} %, peak {r['peak_score']:.2f})"
            for r in c["regions"]) + "</p>")
    elif row.judged:
        lines.append("<p><b>Regions</b>: none above the boundary</p>")
    for o in record.overrides:
        lines.append(f"<p style='color:#c98a1a'>Override {o['old_verdict']} → {o['new_verdict']} by "
                     f"{esc(o['operator'])}: {esc(o['reason_code'])}, “{esc(o['comment'])}”"
                     f" [reference: {o['reference_status']}"
                     f"{' by ' + esc(o['confirmed_by']) if o.get('confirmed_by') else ''}]</p>")
    lines.append("<h4>Conversation</h4>" if record.messages else "<p><i>No conversation.</i></p>")
    for turn in record.messages:
        colour = "#5b9bd5" if turn.role == "user" else "#b8c2cc"  # readable on the light and the dark theme
        who = esc(turn.operator or "") if turn.role == "user" else esc(turn.model or "")
        note = " <i>(stopped)</i>" if turn.cancelled else ""
        lines.append(f"<p style='color:{colour}'><b>{esc(turn.role)}</b> <small>{who} "
                     f"{turn.time.astimezone():%H:%M:%S}</small><br/>{esc(turn.text)}{note}</p>")
    if row.judged:
        lines.append(traceability_html(c))
    if audit:
        lines.append("<h4>Audit</h4>" + "<br/>".join(
            f"{e['time'].astimezone():%Y-%m-%d %H:%M:%S} · {esc(e['actor'])} · {esc(e['kind'])}" for e in audit))
    return "\n".join(lines)


class AuditView(QWidget):
    """The append-only audit trail: logins, overrides, reference and calibration changes."""

    COLUMNS = ("time", "operator", "event", "subject", "details")

    def __init__(self, store: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.table = QTableWidget(0, len(self.COLUMNS))
        self.table.setHorizontalHeaderLabels(list(self.COLUMNS))
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        self.table.horizontalHeader().setStretchLastSection(True)
        self.table.verticalHeader().hide()
        self.table.setEditTriggers(QTableWidget.EditTrigger.NoEditTriggers)
        layout = QVBoxLayout(self)
        layout.addWidget(self.table)

    def reload(self, limit: int = 500) -> list[dict[str, Any]]:
        events = self.store.audit_events(limit=limit)
        self.table.setRowCount(len(events))
        for r, event in enumerate(events):
            details = ", ".join(f"{k}={v}" for k, v in (event.get("details") or {}).items())
            values = (f"{event['time'].astimezone():%Y-%m-%d %H:%M:%S}", event["actor"], event["kind"],
                      event["subject"], details)
            for col, value in enumerate(values):
                self.table.setItem(r, col, QTableWidgetItem(str(value)))
        return events
