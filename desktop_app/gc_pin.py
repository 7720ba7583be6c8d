"""Python's cyclic garbage collector, pinned to the GUI thread at a quiet moment.

Left automatic, the collector runs in whichever thread happens to cross the allocation threshold:
the OPC UA server thread (asyncua builds ~75 000 cyclic objects when it starts), the MQTT thread,
the engine worker, or the GUI thread in the middle of delivering a signal. A collection there may
finalise Qt wrappers from the wrong thread or in the middle of a callback, which Qt answers with an
abort. The station turns automatic collection off while it runs and collects from a timer of its
own in the GUI thread, between events, with the collector's usual generation thresholds (the
pattern calibre and pyqtgraph use).
"""
from __future__ import annotations

import gc

from PySide6.QtCore import QObject, QTimer


class GuiThreadCollector(QObject):
    """While started: no automatic collection; the GUI thread collects every `INTERVAL_MS`."""

    INTERVAL_MS = 250

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._was_enabled: bool | None = None
        self.collections = 0
        self._timer = QTimer(self)
        self._timer.setInterval(self.INTERVAL_MS)
        self._timer.timeout.connect(self.collect_due)

    @property
    def active(self) -> bool:
        return self._was_enabled is not None

    def start(self) -> None:
        if self.active:
            return
        self._was_enabled = gc.isenabled()
        gc.disable()
        self._timer.start()

    def stop(self) -> None:
        """Collect what is left here, in the GUI thread, and give the collector back its old state."""
        if not self.active:
            return
        self._timer.stop()
        gc.collect()
        if self._was_enabled:
            gc.enable()
        self._was_enabled = None

    def collect_due(self) -> int:
        """Collect the oldest generation whose count crossed its threshold; the generation, or -1."""
        counts, thresholds = gc.get_count(), gc.get_threshold()
        generation = -1
        for index in (2, 1, 0):
            if counts[index] > thresholds[index]:
                generation = index
                break
        if generation >= 0:
            gc.collect(generation)
            self.collections += 1
        return generation
