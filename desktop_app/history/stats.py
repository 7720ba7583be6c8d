"""Counts, yield and score distribution for the statistics view and the PDF report.

Grouping by day and shift happens in Python on four streamed columns: date arithmetic differs
between SQLite and PostgreSQL, and a few hundred thousand tuples aggregate in well under a second.
Yield counts REVIEW as not-yet-good, like Verdict.is_defective: a person must look first.
"""
from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

import numpy as np
from sqlalchemy import select

from desktop_app.history.models import Inspection, Product
from desktop_app.history.queries import NOT_JUDGED, HistoryFilter, apply_filter

# (name, start hour in local time); each shift runs until the next one starts
DEFAULT_SHIFTS: tuple[tuple[str, int], ...] = (("early", 6), ("late", 14), ("night", 22))


@dataclass
class GroupStats:
    key: str
    total: int = 0
    ok: int = 0
    review: int = 0
    ng: int = 0
    overridden: int = 0
    not_inspected: int = 0  # NO IMAGE / ERROR: reached the station, not judged, not a part of the yield

    @property
    def yield_(self) -> float:
        return self.ok / self.total if self.total else 0.0

    def add(self, verdict: str, overridden: bool) -> None:
        if verdict in NOT_JUDGED:
            self.not_inspected += 1
            return
        self.total += 1
        self.overridden += int(overridden)
        if verdict == "OK":
            self.ok += 1
        elif verdict == "REVIEW":
            self.review += 1
        else:
            self.ng += 1


@dataclass
class Statistics:
    overall: GroupStats
    groups: list[GroupStats]
    scores: np.ndarray = field(repr=False)
    boundary: float = 0.5
    verdicts: np.ndarray = field(default_factory=lambda: np.array([], dtype=object), repr=False)  # engine's

    def histogram_by_verdict(self, bins: int = 40) -> tuple[dict[str, np.ndarray], np.ndarray]:
        """Counts per bin for each engine verdict (OK, REVIEW, NG), to draw in the verdict colours."""
        clipped = np.clip(self.scores, 0.0, 1.0)
        edges = np.linspace(0.0, 1.0, bins + 1)
        counts = {v: np.histogram(clipped[self.verdicts == v], bins=bins, range=(0.0, 1.0))[0]
                  for v in ("OK", "REVIEW", "NG")}
        return counts, edges

    def histogram(self, bins: int = 40) -> tuple[np.ndarray, np.ndarray]:
        """Counts and edges over 0..1; scores above 1 land in the last bin."""
        clipped = np.clip(self.scores, 0.0, 1.0)
        return np.histogram(clipped, bins=bins, range=(0.0, 1.0))


def shift_of(local: dt.datetime, shifts: tuple[tuple[str, int], ...] = DEFAULT_SHIFTS) -> tuple[dt.date, str]:
    """(production day, shift name); the night shift after midnight belongs to the previous day."""
    ordered = sorted(shifts, key=lambda s: s[1])
    first_start = ordered[0][1]
    day = local.date() if local.hour >= first_start else local.date() - dt.timedelta(days=1)
    name = ordered[-1][0]
    for shift_name, start in ordered:
        if local.hour >= start:
            name = shift_name
    return day, name


def group_key(when: dt.datetime, product: str, by: str, tz: dt.tzinfo | None,
              shifts: tuple[tuple[str, int], ...] = DEFAULT_SHIFTS) -> str:
    local = when.astimezone(tz)
    if by == "day":
        return local.date().isoformat()
    if by == "hour":
        return local.strftime("%Y-%m-%d %H:00")
    if by == "shift":
        day, name = shift_of(local, shifts)
        return f"{day.isoformat()} {name}"
    if by == "product":
        return product
    raise ValueError(f"unknown grouping {by!r}: day, hour, shift or product")


def stream_facts(store, filters: HistoryFilter) -> Iterator[tuple[dt.datetime, str, str, str, float]]:  # type: ignore[no-untyped-def]
    """(time, product, verdict, effective verdict, score) for every matching inspection."""
    stmt = (select(Inspection.time, Product.name, Inspection.verdict, Inspection.effective_verdict,
                   Inspection.score).join(Product, Product.id == Inspection.product_id))
    stmt = apply_filter(stmt, filters, store.dialect).order_by(Inspection.time)
    with store._read() as session:
        yield from session.execute(stmt.execution_options(yield_per=5000))


def compute(facts: Iterable[tuple[dt.datetime, str, str, str, float]], by: str = "day",
            tz: dt.tzinfo | None = None, shifts: tuple[tuple[str, int], ...] = DEFAULT_SHIFTS) -> Statistics:
    overall = GroupStats("all")
    groups: dict[str, GroupStats] = {}
    scores: list[float] = []
    verdicts: list[str] = []
    for when, product, verdict, effective, score in facts:
        key = group_key(when, product, by, tz, shifts)
        group = groups.get(key) or groups.setdefault(key, GroupStats(key))
        overridden = verdict != effective
        group.add(effective, overridden)
        overall.add(effective, overridden)
        if effective not in NOT_JUDGED:  # a part that was not judged has no score
            scores.append(score)
            verdicts.append(verdict)
    ordered = [groups[k] for k in sorted(groups)]
    return Statistics(overall, ordered, np.asarray(scores, dtype=np.float64),
                      verdicts=np.asarray(verdicts, dtype=object))


def statistics(store, filters: HistoryFilter | None = None, by: str = "day",  # type: ignore[no-untyped-def]
               tz: dt.tzinfo | None = None, shifts: tuple[tuple[str, int], ...] = DEFAULT_SHIFTS) -> Statistics:
    """Counts and yield per day / hour / shift / product plus all scores (for the histogram)."""
    return compute(stream_facts(store, filters or HistoryFilter()), by, tz, shifts)
