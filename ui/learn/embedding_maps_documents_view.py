"""A collection's chunks on a 2D map, coloured by document, with a query and its neighbours."""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSpinBox,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

from ui.learn.embedding_maps_plot import HIGHLIGHT, LazyPlotView, bounds_of, category_color

if TYPE_CHECKING:
    from core.rag.embedding_map_types import ChunkDetail, CollectionMap

_ROLE_CHUNK = Qt.ItemDataRole.UserRole


class EmbeddingMapsDocumentsView(QWidget):
    """Pick a collection, type a query, press Map; click a point to read its chunk."""

    map_requested = Signal(str, str, int)  # collection, query, neighbours
    chunk_requested = Signal(int)  # chunk id
    collections_refresh_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.collection_box = QComboBox()
        self.collection_box.setMinimumContentsLength(16)
        self.collection_box.setPlaceholderText("no indexed collection")
        self.query = QLineEdit()
        self.query.setPlaceholderText("A question to place among the chunks (optional)")
        self.neighbours_box = QSpinBox()
        self.neighbours_box.setRange(1, 50)
        self.neighbours_box.setValue(5)
        self.neighbours_box.setPrefix("nearest ")
        self.map_button = QPushButton("Map collection")
        self.status = QLabel("Each point is one chunk of a document, placed by its embedding.")
        self.status.setWordWrap(True)
        self.plot = LazyPlotView("Choose a collection (index documents in the Documents tab "
                                 "first) and press “Map collection”.")
        self.neighbours = QListWidget()
        self.chunk = QTextBrowser()
        self.chunk.setPlaceholderText("Click a point or a neighbour to read its chunk.")
        self.result: CollectionMap | None = None
        self.shown_chunk: ChunkDetail | None = None
        self._selected: Any = None  # the ring around the chunk being read

        controls = QHBoxLayout()
        controls.addWidget(QLabel("Collection:"))
        controls.addWidget(self.collection_box)
        controls.addWidget(self.query, 1)
        controls.addWidget(self.neighbours_box)
        controls.addWidget(self.map_button)
        side = QSplitter(Qt.Orientation.Vertical)
        side.addWidget(self.neighbours)
        side.addWidget(self.chunk)
        side.setStretchFactor(1, 2)
        body = QSplitter(Qt.Orientation.Horizontal)
        body.addWidget(self.plot)
        body.addWidget(side)
        body.setStretchFactor(0, 3)
        body.setStretchFactor(1, 2)
        layout = QVBoxLayout(self)
        layout.addLayout(controls)
        layout.addWidget(body, 1)
        layout.addWidget(self.status)
        self.map_button.clicked.connect(self._on_map)
        self.query.returnPressed.connect(self._on_map)
        self.neighbours.itemClicked.connect(self._on_neighbour_clicked)

    # -- intents ----------------------------------------------------------------------------
    def _on_map(self) -> None:
        name = self.collection_box.currentText()
        if name:
            self.map_requested.emit(name, self.query.text(), self.neighbours_box.value())
        else:
            self.collections_refresh_requested.emit()

    def _on_neighbour_clicked(self, item: QListWidgetItem) -> None:
        self.chunk_requested.emit(int(item.data(_ROLE_CHUNK)))

    def _on_points_clicked(self, _item: object, points: list, _event: object = None) -> None:
        if points and self.result is not None:
            self.chunk_requested.emit(int(points[0].data()))

    # -- answers ----------------------------------------------------------------------------
    def set_collections(self, names: list[str]) -> None:
        current = self.collection_box.currentText()
        self.collection_box.clear()
        self.collection_box.addItems(names)
        # With a placeholder, a refilled box selects nothing by itself: keep or pick one.
        if names:
            self.collection_box.setCurrentIndex(names.index(current) if current in names else 0)

    def set_busy(self, busy: bool, message: str = "") -> None:
        self.map_button.setEnabled(not busy)
        if message:
            self.status.setText(message)

    def show_map(self, result: CollectionMap) -> None:
        self.result = result
        self._draw(result)
        self._list_neighbours(result)
        drawn = len(result.chunk_ids)
        sample = (f" (an even sample of {drawn:,} of {result.total_chunks:,})"
                  if drawn < result.total_chunks else "")
        self.set_busy(False, f"{drawn:,} chunks of {len(result.documents)} documents{sample}. "
                             f"The axes keep {result.explained[0]:.0%} and "
                             f"{result.explained[1]:.0%} of the spread: neighbours are found in "
                             "all 384 dimensions, so some look farther here than they are.")

    def _draw(self, result: CollectionMap) -> None:
        import pyqtgraph as pg

        plot = self.plot.plot()
        plot.clear()
        plot.setAspectLocked(True)
        legend = plot.addLegend(offset=(8, 8), labelTextSize="8pt")
        legend.setBrush(pg.mkBrush(self.palette().base().color()))
        for doc, path in enumerate(result.documents):
            rows = (result.document == doc).nonzero()[0]
            color = category_color(doc)
            scatter = pg.ScatterPlotItem(
                x=result.coords[rows, 0], y=result.coords[rows, 1], data=result.chunk_ids[rows],
                size=8, brush=pg.mkBrush(color), pen=pg.mkPen(color.darker(130)),
                name=Path(path).name, hoverable=True,
                tip=lambda x, y, data: f"chunk {data}: click to read")
            scatter.sigClicked.connect(self._on_points_clicked)
            plot.addItem(scatter)
        if result.query_coords is not None and result.neighbours:
            qx, qy = (float(v) for v in result.query_coords)
            for i in result.neighbours:
                plot.plot([qx, float(result.coords[i, 0])], [qy, float(result.coords[i, 1])],
                          pen=pg.mkPen(HIGHLIGHT, width=1, style=Qt.PenStyle.DotLine))
            near = pg.ScatterPlotItem(
                x=result.coords[result.neighbours, 0], y=result.coords[result.neighbours, 1],
                data=result.chunk_ids[result.neighbours], size=15, brush=pg.mkBrush(None),
                pen=pg.mkPen(HIGHLIGHT, width=2.5), name="nearest to the query")
            near.sigClicked.connect(self._on_points_clicked)
            plot.addItem(near)
            star = pg.ScatterPlotItem(x=[qx], y=[qy], symbol="star", size=22,
                                      brush=pg.mkBrush(HIGHLIGHT), pen=pg.mkPen("k"),
                                      name="the query")
            plot.addItem(star)
        self._selected = pg.ScatterPlotItem(size=20, brush=pg.mkBrush(None),
                                            pen=pg.mkPen(self.palette().text().color(), width=2))
        plot.addItem(self._selected)
        plot.setLabel("bottom", f"principal component 1 ({result.explained[0]:.0%})")
        plot.setLabel("left", f"principal component 2 ({result.explained[1]:.0%})")
        x0, x1, y0, y1 = bounds_of(result.coords)
        if result.query_coords is not None:
            qx, qy = (float(v) for v in result.query_coords)
            x0, x1, y0, y1 = min(x0, qx), max(x1, qx), min(y0, qy), max(y1, qy)
        self.plot.fit(0.06, (x0, x1, y0, y1))

    def _list_neighbours(self, result: CollectionMap) -> None:
        self.neighbours.clear()
        if not result.neighbours or result.neighbour_similarity is None:
            self.neighbours.addItem("Type a query to see its nearest chunks.")
            return
        for rank, (i, sim) in enumerate(zip(result.neighbours, result.neighbour_similarity,
                                            strict=True), start=1):
            path = result.documents[int(result.document[i])]
            item = QListWidgetItem(f"{rank}. cosine {sim:.3f} · {Path(path).name}")
            item.setData(_ROLE_CHUNK, int(result.chunk_ids[i]))
            item.setForeground(category_color(int(result.document[i])))
            self.neighbours.addItem(item)

    def show_chunk(self, detail: ChunkDetail) -> None:
        self.shown_chunk = detail
        self._mark(detail.chunk_id)
        where = html.escape(detail.file_name)
        if detail.page is not None:
            where += f", page {detail.page}"
        # Chunks often begin with their own heading: show it apart only when they do not.
        heading = (f"<br><i>{html.escape(detail.heading)}</i>" if detail.heading
                   and not detail.text.lstrip().startswith(detail.heading) else "")
        # Source files wrap their lines: join a paragraph's lines, keep paragraphs apart.
        paragraphs = [" ".join(p.split()) for p in detail.text.split("\n\n") if p.strip()]
        body = "".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
        self.chunk.setHtml(f"<b>{where}</b> · chunk {detail.chunk_id}{heading}{body}")

    def _mark(self, chunk_id: int) -> None:
        """Ring the chunk being read, if it is on the map."""
        result, ring = self.result, self._selected
        if result is None or ring is None:
            return
        rows = (result.chunk_ids == chunk_id).nonzero()[0]
        ring.setData(x=result.coords[rows, 0], y=result.coords[rows, 1])
