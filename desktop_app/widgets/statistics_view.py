"""Counts, yield per day/shift/product and the score histogram with the decision boundary (pyqtgraph)."""
from __future__ import annotations

import numpy as np
import pyqtgraph as pg
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from desktop_app.history import HistoryFilter, HistoryStore
from desktop_app.history.stats import Statistics, statistics


class StatisticsView(QWidget):
    def __init__(self, store: HistoryStore, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.store = store
        self.filters = HistoryFilter()
        self.stats: Statistics | None = None
        layout = QVBoxLayout(self)
        bar = QHBoxLayout()
        bar.addWidget(QLabel("Group by:"))
        self.group = QComboBox()
        self.group.addItems(["day", "shift", "product", "hour"])
        self.group.currentTextChanged.connect(lambda _t: self.refresh())
        bar.addWidget(self.group)
        self.summary = QLabel()
        bar.addWidget(self.summary, 1)
        layout.addLayout(bar)
        pg.setConfigOptions(antialias=True, background="w", foreground="k")
        self.yield_plot = pg.PlotWidget(title="Yield and volume")
        self.yield_plot.setLabel("left", "yield", units="%")
        self.yield_plot.setYRange(0, 100)
        self.hist_plot = pg.PlotWidget(title="Score distribution (calibrated): OK green · REVIEW amber · NG red")
        self.hist_plot.setLabel("bottom", "score")
        self.hist_plot.setLabel("left", "parts")
        layout.addWidget(self.yield_plot, 1)
        layout.addWidget(self.hist_plot, 1)

    def set_filters(self, filters: HistoryFilter) -> None:
        self.filters = filters
        self.refresh()

    def refresh(self) -> None:
        self.stats = statistics(self.store, self.filters, by=self.group.currentText())
        overall = self.stats.overall
        self.summary.setText(
            f"{overall.total} inspected · OK {overall.ok} · REVIEW {overall.review} · NG {overall.ng}"
            f" · overridden {overall.overridden} · yield {overall.yield_ * 100:.1f} %"
            + (f" · not inspected {overall.not_inspected} (no image / error)" if overall.not_inspected else ""))
        self._draw_yield()
        self._draw_histogram()

    def _draw_yield(self) -> None:
        assert self.stats is not None
        plot = self.yield_plot
        plot.clear()
        groups = self.stats.groups
        x = np.arange(len(groups))
        plot.addItem(pg.BarGraphItem(x=x, height=[g.yield_ * 100 for g in groups], width=0.7,
                                     brush=pg.mkBrush("#3b7dd8")))
        axis = plot.getAxis("bottom")
        step = max(1, -(-len(groups) // 6))  # at most ~6 labels so they never overlap
        short = [g.key[5:] if g.key[:4].isdigit() and g.key[4:5] == "-" else g.key for g in groups]
        axis.setTicks([[(i, short[i]) for i in range(0, len(groups), step)]])
        for i, g in enumerate(groups):
            label = pg.TextItem(f"{g.total}", anchor=(0.5, 1.0), color="#444")
            label.setPos(i, g.yield_ * 100)
            plot.addItem(label)

    def _draw_histogram(self) -> None:
        assert self.stats is not None
        plot = self.hist_plot
        plot.clear()
        by_verdict, edges = self.stats.histogram_by_verdict(40)
        centres = (edges[:-1] + edges[1:]) / 2
        boundary = self.stats.boundary
        below = np.zeros(len(centres))
        for verdict, colour in (("OK", "#2e7d32"), ("REVIEW", "#f9a825"), ("NG", "#c62828")):
            counts = by_verdict[verdict]  # stacked, so the REVIEW band round the boundary shows amber
            plot.addItem(pg.BarGraphItem(x=centres, y0=below, height=counts, width=edges[1] - edges[0],
                                         brush=pg.mkBrush(colour), pen=pg.mkPen(None)))
            below = below + counts
        self.boundary_line = pg.InfiniteLine(pos=boundary, angle=90, pen=pg.mkPen("#000", width=2,
                                             style=pg.QtCore.Qt.PenStyle.DashLine),
                                             label="boundary", labelOpts={"position": 0.9, "color": "#000"})
        plot.addItem(self.boundary_line)
        plot.setXRange(0, 1)
