"""Requests carry their own callbacks: routing, per-kind endings, and a failure touching only its own."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.requests import Request, RequestTable


def _log(request: Request, events: list) -> Request:
    return (request.success(lambda *v: events.append(("success", int(request), v)))
            .failure(lambda m: events.append(("failure", int(request), m)))
            .progress(lambda d, t, m: events.append(("progress", int(request), d, t)))
            .each(lambda item: events.append(("each", int(request), item))))


def test_table_routes_by_request_and_kind():
    table, events = RequestTable(), []
    one, batch, chat, run = (_log(table.open(Request(i, kind)), events)
                             for i, kind in ((1, "inspect"), (2, "batch"), (3, "chat"), (4, "run")))
    assert one == 1 and {one: "id still keys dicts"}[1]  # a Request is its id
    table.item(2, "rec-a")
    assert table.failed(2, "broken.png unreadable")  # a batch goes on after a bad file
    table.item(2, "rec-b")
    table.progressed(2, 3, 3, "done")
    table.succeeded(2, 3, False)
    table.item(1, "rec-1")  # a single inspection's record is its success
    table.item(3, "Yes")
    assert table.failed(3, "LLM crashed")  # kept until the answer ends
    table.chat_finished(3, False)
    assert table.failed(4, "no such product")
    assert not table.failed(99, "history late")  # no owner: the client turns it into a notice
    assert events == [("each", 2, "rec-a"), ("failure", 2, "broken.png unreadable"), ("each", 2, "rec-b"),
                      ("progress", 2, 3, 3), ("success", 2, (3, False)), ("success", 1, ("rec-1",)),
                      ("each", 3, "Yes"), ("failure", 3, "LLM crashed"), ("failure", 4, "no such product")]
    assert len(table) == 0 and all(r.finished for r in (one, batch, chat, run))


def test_a_raising_callback_does_not_break_dispatch():
    table, seen = RequestTable(), []
    table.open(Request(1, "run")).success(lambda _v: 1 / 0)
    table.open(Request(2, "run")).success(seen.append)
    table.succeeded(1, "x")
    table.succeeded(2, "y")
    assert seen == ["y"]


@pytest.fixture
def station(qtbot, engine, calibrated_data_dir):
    from tests.app.conftest import make_station

    station = make_station(qtbot, engine)
    yield station
    station.shutdown(save=False)


def test_a_failed_inspection_only_undoes_its_own_pending_count(qtbot, station, tmp_path):
    controller = station.controller
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not an image")
    good = np.zeros((64, 64, 3), np.uint8)
    shown, messages = [], []
    controller.recordShown.connect(shown.append)
    show_message = station.window.show_message
    station.window.show_message = lambda text: (messages.append(text), show_message(text))
    bad = controller.inspect(broken, "file")
    ok = controller.inspect(good, "camera")
    assert controller.pending == 2 and isinstance(bad, Request) and ok != bad
    qtbot.waitUntil(lambda: bad.finished and ok.finished, timeout=60_000)
    assert controller.pending == 0 and len(shown) == 1 and shown[0].source == "camera"
    assert any("broken.png" in m for m in messages) and controller.counts.total == 1
