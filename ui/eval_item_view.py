"""Per-item drill-down: the item list, and for the selected item its prompt, references and each
subject's reply with the words that differ from the best-matching reference marked."""

from __future__ import annotations

import difflib
import html
import string
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QHBoxLayout,
    QListWidget,
    QListWidgetItem,
    QPushButton,
    QSplitter,
    QTextBrowser,
    QVBoxLayout,
    QWidget,
)

_ROW = Qt.ItemDataRole.UserRole


def marked_reply(reply: str, reference: str) -> str:
    """The reply as HTML with the words not in `reference` (by difflib's word alignment)
    highlighted: the learner sees at a glance where an answer went wrong."""
    words, ref = reply.split(), reference.split()
    out = []
    matcher = difflib.SequenceMatcher(a=[_key(w) for w in ref], b=[_key(w) for w in words],
                                      autojunk=False)
    for tag, _i1, _i2, j1, j2 in matcher.get_opcodes():
        chunk = html.escape(" ".join(words[j1:j2]))
        if not chunk:
            continue
        out.append(chunk if tag == "equal" else f"<span class='diff'>{chunk}</span>")
    return " ".join(out)


def _key(word: str) -> str:
    # "Paris." matches "Paris": case and the punctuation around a word are not what differs.
    return word.strip(string.punctuation + "“”‘’«»").lower()


def _best_reference(reply: str, references: list[str]) -> str:
    if not references:
        return ""
    return max(references, key=lambda r: difflib.SequenceMatcher(
        a=[_key(w) for w in r.split()], b=[_key(w) for w in reply.split()],
        autojunk=False).ratio())


class EvalItemView(QWidget):
    learn_requested = Signal(str, str)  # prompt, reply

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._items: list[dict[str, Any]] = []
        self._subjects: list[str] = []
        self.item_list = QListWidget()
        self.item_list.setToolTip("The set's items: ✓ every subject scored it, ✗ one failed")
        self.item_list.currentItemChanged.connect(self._on_item)
        self.detail = QTextBrowser()
        self.detail.setOpenExternalLinks(False)
        self.subject_combo = QComboBox()
        self.subject_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToContents)
        self.subject_combo.setToolTip("Whose reply Open in Learn reads")
        self.learn_button = QPushButton("Open in Learn")
        self.learn_button.setToolTip("Read this subject's reply token by token in Learn › "
                                     "Surprise: how expected each word was to the chat's model")
        self.learn_button.clicked.connect(self._on_learn)
        right = QWidget()
        column = QVBoxLayout(right)
        column.setContentsMargins(0, 0, 0, 0)
        column.addWidget(self.detail, 1)
        row = QHBoxLayout()
        row.addStretch(1)
        row.addWidget(self.subject_combo)
        row.addWidget(self.learn_button)
        column.addLayout(row)
        splitter = QSplitter()
        splitter.addWidget(self.item_list)
        splitter.addWidget(right)
        splitter.setStretchFactor(1, 1)
        splitter.setSizes([160, 600])
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(splitter)
        self._update_buttons()

    def clear(self) -> None:
        self._items = []
        self.item_list.clear()
        self.detail.clear()
        self.subject_combo.clear()
        self._update_buttons()

    def show_items(self, subjects: list[str], items: list[dict[str, Any]]) -> None:
        current = self.item_list.currentRow()
        self._subjects, self._items = subjects, items
        self.item_list.blockSignals(True)
        self.item_list.clear()
        for index, item in enumerate(items):
            failed = any(r["status"] != "complete" for r in item["replies"].values())
            entry = QListWidgetItem(f"{'✗' if failed else '✓'} {item['id']}")
            entry.setData(_ROW, index)
            entry.setToolTip(item["prompt"])
            self.item_list.addItem(entry)
        self.item_list.blockSignals(False)
        self.subject_combo.clear()
        self.subject_combo.addItems(subjects)
        if items:
            self.item_list.setCurrentRow(min(max(current, 0), len(items) - 1))
            self._on_item()
        self._update_buttons()

    def select(self, row: int) -> None:
        self.item_list.setCurrentRow(row)

    def shown_text(self) -> str:
        return self.detail.toPlainText()

    def _current(self) -> dict[str, Any] | None:
        entry = self.item_list.currentItem()
        return None if entry is None else self._items[int(entry.data(_ROW))]

    def _on_item(self, *_args: object) -> None:
        item = self._current()
        self._update_buttons()
        if item is None:
            self.detail.clear()
            return
        prompt = html.escape(item["prompt"]) or "<i>(the set file is gone)</i>"
        # A marker-pen yellow with black text reads in light and dark themes alike.
        parts = ["<style>.diff { background-color: #ffe58a; color: #000000; }</style>",
                 f"<h3>Prompt</h3><p>{prompt}</p>"]
        refs = item["references"]
        if refs:
            parts.append("<h3>Reference" + ("s" if len(refs) > 1 else "") + "</h3><ul>"
                         + "".join(f"<li>{html.escape(r)}</li>" for r in refs) + "</ul>")
        for index, label in enumerate(self._subjects):
            result = item["replies"].get(index) or item["replies"].get(str(index))
            parts.append(f"<h3>{html.escape(label)}</h3>")
            if result is None:
                parts.append("<p><i>not run yet</i></p>")
                continue
            if result["status"] != "complete":
                parts.append(f"<p><i>failed: {html.escape(result['error'])}</i></p>")
                continue
            reply = result["reply"]
            body = (marked_reply(reply, _best_reference(reply, refs)) if refs
                    else html.escape(reply))
            scores = " · ".join(f"{k} {v:.3g}" for k, v in result["scores"].items())
            parts.append(f"<p>{body or '<i>(empty reply)</i>'}</p>"
                         f"<p><small>{html.escape(scores)}</small></p>")
        if refs:
            parts.append("<p><small>Marked: words that differ from the closest "
                         "reference.</small></p>")
        self.detail.setHtml("".join(parts))

    def _on_learn(self) -> None:
        item = self._current()
        if item is None:
            return
        index = self.subject_combo.currentIndex()
        result = item["replies"].get(index) or item["replies"].get(str(index))
        if result is not None:
            self.learn_requested.emit(item["prompt"], result["reply"])

    def _update_buttons(self) -> None:
        self.learn_button.setEnabled(self._current() is not None)
