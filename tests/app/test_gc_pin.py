"""The station collects cyclic garbage only in the GUI thread, and gives the collector back."""
from __future__ import annotations

import gc
import threading

from desktop_app.gc_pin import GuiThreadCollector


class Cycle:
    def __init__(self) -> None:
        self.me = self


def test_automatic_collection_is_off_while_started_and_restored_after(qtbot):
    assert gc.isenabled()
    collector = GuiThreadCollector()
    collector.start()
    try:
        assert not gc.isenabled()
        threshold = gc.get_threshold()[0]
        for _ in range(threshold * 3):  # enough allocations to cross generation 0's threshold
            Cycle()
        qtbot.waitUntil(lambda: collector.collections > 0, timeout=5_000)
    finally:
        collector.stop()
    assert gc.isenabled() and not collector.active


def test_a_worker_thread_allocating_cycles_never_collects(qtbot):
    collector = GuiThreadCollector()
    collected_in: set[str] = set()

    def note(phase: str, info: dict) -> None:
        if phase == "start":
            collected_in.add(threading.current_thread().name)

    collector.start()
    gc.callbacks.append(note)
    try:
        worker = threading.Thread(target=lambda: [Cycle() for _ in range(50_000)], name="allocator")
        worker.start()
        qtbot.waitUntil(lambda: not worker.is_alive(), timeout=10_000)
        qtbot.waitUntil(lambda: collector.collections > 0, timeout=5_000)
    finally:
        gc.callbacks.remove(note)
        collector.stop()
    assert "allocator" not in collected_in and threading.main_thread().name in collected_in


def test_stop_keeps_a_collector_that_was_off_off(qtbot):
    gc.disable()
    try:
        collector = GuiThreadCollector()
        collector.start()
        collector.stop()
        assert not gc.isenabled()
    finally:
        gc.enable()
