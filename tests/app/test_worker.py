"""EngineWorker on its QThread: signal order, batches, cancel, errors, chat, clean stop."""

from __future__ import annotations

import numpy as np
import pytest

from desktop_app.client import EngineClient
from desktop_app.paths import demo_samples_dir
from desktop_app.worker import running_threads


@pytest.fixture
def client(qtbot, engine):
    client = EngineClient(engine=engine)
    with qtbot.waitSignal(client.worker.ready, timeout=30_000):
        client.start()
    yield client
    assert client.stop()
    assert not client.thread.isRunning()


def _record(client, names):
    events = []
    w = client.worker
    w.progress.connect(lambda r, d, t, m: events.append(("progress", d, t)))
    w.inspected.connect(lambda r, rec: events.append(("inspected", rec.name)))
    w.batchFinished.connect(lambda r, n, c: events.append(("finished", n, c)))
    w.error.connect(lambda r, m: events.append(("error", m)))
    w.referencesReady.connect(lambda r, p, refs: events.append(("refs", p)))
    w.token.connect(lambda r, i, piece: events.append(("token", piece)))
    w.chatFinished.connect(lambda r, i, c: events.append(("chat_done", c)))
    names.extend([])
    return events


def test_build_references_reports_progress_then_the_set(qtbot, client):
    events = _record(client, [])
    paths = sorted((demo_samples_dir() / "references").glob("*.jpg"))[:2]
    with qtbot.waitSignal(client.worker.referencesReady, timeout=60_000) as blocker:
        client.build_references("part", paths, "a part")
    kinds = [e[0] for e in events]
    assert kinds[-1] == "refs" and kinds.count("progress") >= 3
    done = [e[1] for e in events if e[0] == "progress"]
    assert done == sorted(done) and done[-1] == events[-2][2]  # monotonic, ends at total
    assert blocker.args[2].size == 2


def test_batch_signals_in_order_with_an_unreadable_file(qtbot, client, demo_refs, tmp_path):
    broken = tmp_path / "broken.png"
    broken.write_bytes(b"not a png at all")
    tests = sorted((demo_samples_dir() / "test").glob("*.jpg"))
    items = [tests[0], broken, tests[2]]
    events = _record(client, [])
    with qtbot.waitSignal(client.worker.batchFinished, timeout=60_000):
        client.inspect_batch(items, demo_refs)
    assert [e[0] for e in events] == [
        "inspected",
        "progress",
        "error",
        "progress",
        "inspected",
        "progress",
        "finished",
    ]
    assert events[-1] == ("finished", 3, False)
    assert "broken.png" in events[2][1]


def test_cancel_stops_a_running_batch(qtbot, client, demo_refs):
    image = np.full((128, 128, 3), 120, np.uint8)
    seen = []
    client.worker.inspected.connect(lambda r, rec: seen.append(rec.id))
    request = client.inspect_batch([image] * 200, demo_refs)
    qtbot.waitUntil(lambda: len(seen) >= 2, timeout=30_000)
    with qtbot.waitSignal(client.worker.batchFinished, timeout=30_000) as blocker:
        client.cancel(request)
    _, done, cancelled = blocker.args
    assert cancelled and done < 200


def test_inspect_array_and_run_callback(qtbot, client, demo_refs):
    got = []
    with qtbot.waitSignal(client.worker.inspected, timeout=30_000) as blocker:
        client.inspect(np.zeros((100, 140, 3), np.uint8), demo_refs, "camera")
    record = blocker.args[1]
    assert record.source == "camera" and record.result.anomaly_map.shape == (100, 140)
    with qtbot.waitSignal(client.worker.done, timeout=10_000):
        client.run(lambda engine: engine.fingerprint()["backbone"], got.append)
    qtbot.waitUntil(lambda: got == ["efficientnet-lite0"], timeout=5_000)


def test_chat_streams_tokens_then_finishes(qtbot, client, demo_refs):
    image = np.asarray(
        __import__("anomalygpt_engine").load_image(sorted((demo_samples_dir() / "test").glob("pitting*"))[0])
    )
    with qtbot.waitSignal(client.worker.inspected, timeout=30_000) as blocker:
        client.inspect(image, demo_refs)
    record = blocker.args[1]
    events = _record(client, [])
    for question in ("Is there any anomaly?", "Where is it?"):
        with qtbot.waitSignal(client.worker.chatFinished, timeout=60_000):
            client.ask(record.id, question)
    kinds = [e[0] for e in events]
    assert kinds.count("chat_done") == 2 and kinds[-1] == "chat_done"
    first_answer = "".join(e[1] for e in events[: kinds.index("chat_done")] if e[0] == "token")
    expected = "yes" if record.result.is_defective else "no"
    assert first_answer.lower().startswith(expected)


def test_chat_about_an_unknown_inspection_is_an_error(qtbot, client):
    with qtbot.waitSignal(client.worker.error, timeout=10_000) as blocker:
        client.ask(987654, "Where is it?")
    assert "no longer in memory" in blocker.args[1]


def test_stop_leaves_no_thread_running(qtbot, engine):
    client = EngineClient(engine=engine)
    with qtbot.waitSignal(client.worker.ready, timeout=30_000):
        client.start()
    assert client.thread in running_threads()
    assert client.stop(5_000)
    assert client.thread not in running_threads()
