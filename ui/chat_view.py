"""The conversation: Markdown messages, a live streaming reply, and no remote fetching ever."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QEvent, Qt, QTimer, QUrl, Signal
from PySide6.QtGui import QAction, QDesktopServices, QKeySequence, QResizeEvent, QTextCursor
from PySide6.QtWidgets import QFrame, QTextBrowser, QWidget

from ui.branch_links import BRANCH_SCHEMES, insert_branch_line, parse_branch_link
from ui.message_render import CodeFormats, Sources, Theme, insert_message
from ui.trace_links import TRACE_SCHEME, insert_trace_line, parse_trace_link

if TYPE_CHECKING:  # not needed to paint the window (core.store brings apsw, every store)
    from core.api import Grounding, StoredMessage
from ui.model_hint_view import ModelHintView
from ui.welcome_view import WelcomeView

_RENDER_INTERVAL_MS = 50  # at most 20 re-renders a second while a reply streams
_BOTTOM_SLACK_PX = 8
_OPENABLE_SCHEMES = ("http", "https", "mailto")
_WELCOME_MAX_WIDTH = 760


@dataclass
class _Shown:
    role: str
    content: str
    status: str
    sources: Sources | None = None  # a grounded reply's passages
    message_id: int | None = None  # None until the store has it (a message just typed)
    position: tuple[int, int] = (1, 1)  # among its alternatives: (index, count)
    stats: dict[str, Any] | None = None  # a finished reply's numbers (tokens, tokens/s)
    agent_trace: dict[str, Any] | None = None  # a reply made with tools: its steps (JSON)


def _sources_of(message: StoredMessage) -> Sources | None:
    if not message.grounding:
        return None
    from core.api import Grounding  # only a grounded reply needs it

    try:
        grounding = Grounding.from_json(message.grounding)
    except (KeyError, TypeError, ValueError):  # written by a future or damaged version
        return None
    return sources_for(message.id, grounding, message.content)


def sources_for(message_id: int, grounding: Grounding, answer: str) -> Sources:
    """What the renderer needs to link a grounded reply's citations."""
    marks = tuple((answer[a.start:a.end], a.number, a.overlap) for a in grounding.attributions
                  if a.end <= len(answer))
    return Sources(message_id, {s.number: s.label for s in grounding.sources}, marks,
                   grounding.backed)


class ChatView(QTextBrowser):
    """Read-only view of one chat. Feed it messages; it never loads anything by itself."""

    link_activated = Signal(QUrl)
    branch_requested = Signal(int, int)  # message id, step (-1 previous, +1 next alternative)
    edit_message_requested = Signal(int, str)  # a user message's id and its text
    agent_trace_requested = Signal(int, dict)  # a reply's id and its stored agent trace

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("chatView")
        self.setFrameShape(QFrame.Shape.NoFrame)
        self.setOpenLinks(False)
        self.setOpenExternalLinks(False)
        # An empty chat shows the welcome and its starter cards instead of a placeholder.
        self.welcome = WelcomeView(self.viewport())
        self.document().setDocumentMargin(12)
        self.anchorClicked.connect(self._on_anchor_clicked)
        self._build_branch_actions()
        self.blocked_resources: list[QUrl] = []  # every resource the document asked for
        self._messages: list[_Shown] = []
        self._streaming = False
        self._last_start = 0  # document position where the last message's frame begins
        self._follow = True  # keep the newest text in view unless the user scrolled up
        self._rendering = False
        self._theme = Theme.from_palette(self.palette())
        self._formats = CodeFormats(self._theme)
        self._render_timer = QTimer(self)
        self._render_timer.setSingleShot(True)
        self._render_timer.setInterval(_RENDER_INTERVAL_MS)
        self._render_timer.timeout.connect(self._render_last)
        bar = self.verticalScrollBar()
        bar.valueChanged.connect(self._on_scrolled)
        bar.rangeChanged.connect(self._on_range_changed)
        # Over the messages, not in them: a suggestion about the model, not part of the chat.
        self.model_hint = ModelHintView(self)
        self.model_hint.size_changed.connect(self._place_hint)
        self._update_welcome()

    # -- what the window calls --------------------------------------------------------------
    def set_messages(self, messages: Sequence[StoredMessage]) -> None:
        """Show a whole chat. A message still 'streaming' becomes the live reply."""
        self._messages = [_Shown(m.role, m.content, m.status, _sources_of(m), m.id,
                                 m.branch_position, m.stats, getattr(m, "agent_trace", None))
                          for m in messages]
        self._streaming = bool(self._messages) and self._messages[-1].status == "streaming"
        self._follow = True
        self._render_all()

    def add_user_message(self, text: str) -> None:
        self._messages.append(_Shown("user", text, "complete"))
        self._follow = True
        self._append_last()

    def drop_from_last_user(self, keep_user: bool) -> None:
        """Remove the last user message (or only what follows it), for regenerate and edit."""
        for index in range(len(self._messages) - 1, -1, -1):
            if self._messages[index].role == "user":
                del self._messages[index + (1 if keep_user else 0):]
                break
        self._render_all()

    def begin_reply(self) -> None:
        self._messages.append(_Shown("assistant", "", "streaming"))
        self._streaming = True
        self._append_last()

    def set_reply_sources(self, message_id: int, grounding: Grounding) -> None:
        """The live reply is grounded: its [n] become links to these passages."""
        if self._messages and self._messages[-1].role == "assistant":
            last = self._messages[-1]
            last.sources = sources_for(message_id, grounding, last.content)
            self._render_last()

    def append_reply_text(self, text: str) -> None:
        if not self._streaming:
            return
        self._messages[-1].content += text
        if not self._render_timer.isActive():
            self._render_timer.start()

    def finish_reply(self, status: str, text: str | None = None) -> None:
        """End the live reply: 'complete', 'interrupted' or 'failed' (text: final or error)."""
        if not self._streaming:
            return
        self._streaming = False
        self._render_timer.stop()
        last = self._messages[-1]
        last.status = status
        if text is not None:
            last.content = text
        self._render_last()

    def clear_messages(self) -> None:
        self.set_messages([])

    @property
    def is_streaming(self) -> bool:
        return self._streaming

    def shown_messages(self) -> list[tuple[str, str, str]]:
        """(role, content, status) of what is on screen, for tests and accessibility."""
        return [(m.role, m.content, m.status) for m in self._messages]

    def branch_positions(self) -> list[tuple[int, int]]:
        """(index, count) among its alternatives, per message shown."""
        return [m.position for m in self._messages]

    # -- branches ---------------------------------------------------------------------------
    def _build_branch_actions(self) -> None:
        # Alt+Left/Right switch the last reply's alternatives from anywhere in the window.
        self.previous_branch_action = QAction("Previous alternative", self,
                                              shortcut=QKeySequence("Alt+Left"))
        self.next_branch_action = QAction("Next alternative", self,
                                          shortcut=QKeySequence("Alt+Right"))
        for action, step in ((self.previous_branch_action, -1), (self.next_branch_action, 1)):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)
            action.triggered.connect(lambda _=False, s=step: self.switch_last_reply(s))
            self.addAction(action)

    def switch_last_reply(self, step: int) -> None:
        """Ask for the last reply's previous (-1) or next (+1) alternative, if it has one."""
        if self._streaming:
            return
        for message in reversed(self._messages):
            if message.role == "assistant" and message.message_id is not None:
                index, count = message.position
                if 1 <= index + step <= count:
                    self.branch_requested.emit(message.message_id, step)
                return

    # -- safety: nothing is fetched, links open only on a click -----------------------------
    def loadResource(self, type_: int, url: QUrl | str) -> object:  # noqa: N802 (Qt override)
        self.blocked_resources.append(QUrl(url))
        return None

    def _on_anchor_clicked(self, url: QUrl) -> None:
        if url.scheme() in BRANCH_SCHEMES:
            self._on_branch_link(url)
            return
        if url.scheme() == TRACE_SCHEME:
            self._on_trace_link(parse_trace_link(url))
            return
        self.link_activated.emit(url)
        if url.scheme().lower() in _OPENABLE_SCHEMES:
            QDesktopServices.openUrl(url)

    # -- rendering --------------------------------------------------------------------------
    def _render_all(self) -> None:
        self._update_welcome()  # first: hiding it moves the scroll bar, not to be read as a user
        self._render_timer.stop()
        self._rendering = True
        try:
            self.document().clear()
            for message in self._messages[:-1]:
                self._insert(message)
            self._last_start = self._end_position()
            if self._messages:
                self._insert(self._messages[-1])
        finally:
            self._rendering = False
        self._scroll_if_following()

    def _append_last(self) -> None:
        self._update_welcome()
        self._render_timer.stop()
        self._last_start = self._end_position()
        self._render_last()

    def _render_last(self) -> None:
        """Re-render only the newest message: cheap enough to run 20 times a second."""
        if not self._messages:
            return
        bar = self.verticalScrollBar()
        kept = bar.value()
        self._rendering = True
        try:
            cursor = QTextCursor(self.document())
            cursor.setPosition(self._last_start)
            cursor.movePosition(QTextCursor.MoveOperation.End, QTextCursor.MoveMode.KeepAnchor)
            cursor.removeSelectedText()
            self._insert(self._messages[-1])
        finally:
            self._rendering = False
        if self._follow:
            bar.setValue(bar.maximum())
        else:
            bar.setValue(kept)

    def _on_branch_link(self, url: QUrl) -> None:
        action, message_id = parse_branch_link(url)
        if self._streaming:
            return
        if action == "edit":
            shown = next((m for m in self._messages if m.message_id == message_id), None)
            if shown is not None:
                self.edit_message_requested.emit(message_id, shown.content)
        else:
            self.branch_requested.emit(message_id, -1 if action == "prev" else 1)

    def _on_trace_link(self, message_id: int) -> None:
        shown = next((m for m in self._messages if m.message_id == message_id), None)
        if shown is not None and shown.agent_trace:
            self.agent_trace_requested.emit(message_id, shown.agent_trace)

    def _insert(self, message: _Shown) -> None:
        root = self.document().rootFrame()
        start = root.lastPosition()
        insert_message(root, message.role, message.content, message.status, self._theme,
                       self._formats, message.sources, message.stats)
        if message.agent_trace and message.message_id is not None \
                and message.status != "streaming":
            cursor = QTextCursor(self.document())
            cursor.setPosition(start + 1)
            insert_trace_line(cursor.currentFrame(), message.message_id, message.agent_trace,
                              self._theme)
        if message.message_id is not None and message.status != "streaming" and (
                message.role == "user" or message.position[1] > 1):
            # The message's frame, found by position: its header starts right where the
            # document ended (a Python wrapper from childFrames() can be a stale one).
            cursor = QTextCursor(self.document())
            cursor.setPosition(start + 1)
            insert_branch_line(cursor.currentFrame(), message.message_id, message.role,
                               message.position, self._theme)

    def _end_position(self) -> int:
        return self.document().rootFrame().lastPosition()

    def _scroll_if_following(self) -> None:
        if self._follow:
            bar = self.verticalScrollBar()
            bar.setValue(bar.maximum())

    def _on_scrolled(self, value: int) -> None:
        if not self._rendering:
            self._follow = value >= self.verticalScrollBar().maximum() - _BOTTOM_SLACK_PX

    def _on_range_changed(self, _minimum: int, maximum: int) -> None:
        if self._follow and not self._rendering:
            self.verticalScrollBar().setValue(maximum)

    # -- the model hint bar, laid over the top of the view ---------------------------------
    def _place_hint(self) -> None:
        hint = self.model_hint
        if hint.isHidden():
            self.setViewportMargins(0, 0, 0, 0)
            self._place_welcome()
            return
        area = self.contentsRect()
        height = hint.layout().totalHeightForWidth(area.width()) \
            if hint.layout().hasHeightForWidth() else hint.sizeHint().height()
        hint.setGeometry(area.left(), area.top(), area.width(), height)
        self.setViewportMargins(0, height, 0, 0)
        self._place_welcome()

    # -- the welcome, over an empty chat ---------------------------------------------------
    def _update_welcome(self) -> None:
        if self.welcome.isHidden() == bool(self._messages):
            return
        self._rendering = True  # the scroll bar moves with it: not the user scrolling
        try:
            self.welcome.setVisible(not self._messages)
            self._place_welcome()
        finally:
            self._rendering = False

    def _place_welcome(self) -> None:
        area = self.viewport().rect()
        width = min(area.width(), _WELCOME_MAX_WIDTH)
        self.welcome.setGeometry(area.left() + (area.width() - width) // 2, area.top(),
                                 width, area.height())

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802 (Qt override)
        super().resizeEvent(event)
        self._place_hint()
        self._place_welcome()

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._theme = Theme.from_palette(self.palette())
            self._formats = CodeFormats(self._theme)
            self._render_all()
