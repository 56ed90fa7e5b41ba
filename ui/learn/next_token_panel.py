"""Next token: the model's distribution, what each sampler stage does to it, and step mode."""

from __future__ import annotations

import html
from dataclasses import dataclass

from PySide6.QtCore import QEvent, Qt, QTimer, Signal
from PySide6.QtGui import QTextCursor
from PySide6.QtWidgets import (
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QListWidget,
    QListWidgetItem,
    QPlainTextEdit,
    QPushButton,
    QScrollArea,
    QSplitter,
    QStackedWidget,
    QVBoxLayout,
    QWidget,
)

from core.api import SamplingSettings
from core.engine.introspect_types import Candidate, NextTokenView
from ui.empty_state_view import EmptyStateView
from ui.learn import shading
from ui.learn.pieces import label, percent, piece_html
from ui.learn.probability_bars_view import ProbabilityBarsView
from ui.learn.sampler_waterfall_view import SamplerWaterfallView
from ui.learn.sampling_controls_view import SamplingControlsView
from ui.learn.token_text_view import TokenTextView
from ui.theme import mark_secondary

PROMPT_DEBOUNCE_MS = 150
EXAMPLE = "The capital of France is"
EMPTY_TEXT = ("Type a prompt above: the model's likeliest next tokens appear here, and what "
              "each sampler stage does to them.")
_TAIL_CHARS = 40
_MARKS = ("✕ out: this stage removed it · ↓: lowered, already in the text · …: still in, "
          "below the tokens listed")


@dataclass(frozen=True)
class Step:
    """One token appended in step mode, with what the model offered at that point."""

    token_id: int
    piece: str
    prob: float  # the model's probability for it (temperature 1, nothing removed)
    sampled_prob: float | None  # after the sampler stages; None: they had removed it
    candidates: list[Candidate]  # the top candidates at this step, model probabilities


def chart_rows(view: NextTokenView) -> list[tuple[Candidate, float | None]]:
    """The raw top candidates (plus any the samplers promoted) with their final probability."""
    # Keyed by id and text: a remote server's candidates share one unknown id.
    final = {(c.id, c.piece): c.prob for c in view.final}
    rows = list(view.raw)
    rows += [c for c in view.final if (c.id, c.piece) not in {(r.id, r.piece) for r in rows}]
    return [(c, final.get((c.id, c.piece))) for c in rows]


class NextTokenPanel(QWidget):
    """Shows one NextTokenView at a time and keeps the chosen token path (view state)."""

    prompt_changed = Signal(str)  # debounced; also after "Restart" (the path is empty again)
    settings_changed = Signal(object)  # SamplingSettings, debounced
    step_requested = Signal(int)  # token id appended: compute the view after token_path()
    sample_requested = Signal()  # sample one token and call add_step() with it
    fork_requested = Signal(int, int)  # step index, token id: the path now ends there

    def __init__(self, settings: SamplingSettings | None = None,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._view: NextTokenView | None = None
        self._steps: list[Step] = []
        self._selected = -1
        self._waiting = False

        self.prompt_edit = QPlainTextEdit()
        self.prompt_edit.setPlaceholderText("A prompt to continue, e.g. The capital of France is")
        self.prompt_edit.setMaximumHeight(52)
        self.controls = SamplingControlsView(settings)
        self.title_label = QLabel("Next token")
        self.title_label.setTextFormat(Qt.TextFormat.PlainText)
        self.entropy_label = QLabel()
        self.source_label = QLabel()  # "N of M alternatives from the server" on a remote model
        self.source_label.setWordWrap(True)
        self.source_label.hide()
        self.bars = ProbabilityBarsView()
        self.waterfall = SamplerWaterfallView()
        # Why each stage changed a token, in words, under the table (details in its tooltips).
        self.why_label = QLabel()
        self.why_label.setWordWrap(True)
        self.why_label.setTextFormat(Qt.TextFormat.PlainText)
        self.path_view = TokenTextView()
        self.path_view.setMinimumHeight(60)
        self.alternatives = QListWidget()
        self.alternatives_label = QLabel("Click a chosen token to see its alternatives")
        self.alternatives_label.setWordWrap(True)
        self.sample_button = QPushButton("Sample")
        self.sample_button.setToolTip("Let the samplers pick the next token")
        self.restart_button = QPushButton("Restart")
        self.restart_button.setToolTip("Forget the chosen tokens and start from the prompt")
        self._build_layout()

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(PROMPT_DEBOUNCE_MS)
        self._debounce.timeout.connect(lambda: self.prompt_changed.emit(self.prompt()))
        self.prompt_edit.textChanged.connect(self._on_prompt_edited)
        self.controls.settings_changed.connect(self.settings_changed)
        self.bars.candidate_clicked.connect(self.add_step)
        self.sample_button.clicked.connect(self._on_sample)
        self.restart_button.clicked.connect(self._on_restart)
        self.path_view.token_clicked.connect(self.select_step)
        self.alternatives.itemClicked.connect(self._on_alternative_clicked)
        self._render_path()

    def _build_layout(self) -> None:
        chart = QWidget()
        chart_layout = QVBoxLayout(chart)
        chart_layout.setContentsMargins(0, 0, 0, 0)
        chart_layout.addWidget(self.title_label)
        chart_layout.addWidget(self.entropy_label)
        chart_layout.addWidget(self.source_label)
        scroll = QScrollArea()
        scroll.setWidgetResizable(True)
        scroll.setFrameShape(QScrollArea.Shape.NoFrame)
        scroll.setWidget(self.bars)
        chart_layout.addWidget(scroll, 1)
        legend = QLabel("faint bar: the model's probability · solid bar: after the samplers "
                        "· click a token to append it")
        legend.setWordWrap(True)
        mark_secondary(legend)  # quieter, still AA
        chart_layout.addWidget(legend)
        middle = QSplitter(Qt.Orientation.Horizontal)
        middle.addWidget(chart)
        stages = _titled("Sampler stages, in llama.cpp's order (hover a cell for why)",
                         self.waterfall, self.why_label)
        middle.addWidget(stages)
        middle.setSizes([430, 670])
        # Before the first view: guidance, an example, then what the model is doing or why not.
        self.empty = EmptyStateView(EMPTY_TEXT)
        self.empty.action_requested.connect(lambda: self.set_prompt(EXAMPLE))
        self.results = QStackedWidget()
        self.results.addWidget(self.empty)
        self.results.addWidget(middle)

        path_box = QGroupBox("Built text (the chosen path; each token with its probability)")
        path_layout = QHBoxLayout(path_box)
        side = QVBoxLayout()
        side.addWidget(self.alternatives_label)
        side.addWidget(self.alternatives, 1)
        buttons = QHBoxLayout()
        buttons.addWidget(self.sample_button)
        buttons.addWidget(self.restart_button)
        side.addLayout(buttons)
        path_layout.addWidget(self.path_view, 3)
        path_layout.addLayout(side, 2)

        layout = QVBoxLayout(self)
        layout.addWidget(_titled("Prompt", self.prompt_edit))
        layout.addWidget(self.controls)
        lower = QSplitter(Qt.Orientation.Vertical)
        lower.addWidget(self.results)
        lower.addWidget(path_box)
        lower.setStretchFactor(0, 3)
        lower.setStretchFactor(1, 1)
        lower.setSizes([400, 180])
        layout.addWidget(lower, 1)

    # -- state the window reads ---------------------------------------------------------------
    def prompt(self) -> str:
        return self.prompt_edit.toPlainText()

    def set_prompt(self, text: str) -> None:
        self.prompt_edit.setPlainText(text)
        self.prompt_edit.moveCursor(QTextCursor.MoveOperation.End)

    def settings(self) -> SamplingSettings:
        return self.controls.settings()

    def steps(self) -> list[Step]:
        return list(self._steps)

    def token_path(self) -> list[int]:
        """Token ids chosen after the prompt: predict after prompt_ids + token_path()."""
        return [s.token_id for s in self._steps]

    # -- the view ---------------------------------------------------------------------------
    def show_view(self, view: NextTokenView, text_so_far: str) -> None:
        """Show the distribution after `text_so_far` (the prompt and the path, decoded)."""
        self._view = view
        self._set_waiting(False)
        self.results.setCurrentIndex(1)
        tail = text_so_far[-_TAIL_CHARS:]
        more = "…" if len(text_so_far) > _TAIL_CHARS else ""
        self.title_label.setText(f"Next token after “{more}{tail.replace(chr(10), '↵')}”")
        self.entropy_label.setText(
            f"Entropy {view.entropy_bits:.2f} bits: as uncertain as a choice among "
            f"{2 ** view.entropy_bits:.1f} equally likely tokens · {view.prompt_tokens} tokens "
            "of context")
        rows = chart_rows(view)
        self.bars.show_candidates(rows)
        self.waterfall.show_stages([c for c, _ in rows], view.stages, self.settings())
        why = self.waterfall.why() or ["No stage removed or lowered a listed token."]
        self.why_label.setText("\n".join([*(f"• {line}" for line in why), _MARKS]))

    def set_source_note(self, note: str | None) -> None:
        """Where the numbers came from when not from the whole vocabulary (a remote server's
        top log-probabilities); None: the local model's full distribution."""
        self.source_label.setText(note or "")
        self.source_label.setVisible(bool(note))

    def add_step(self, token_id: int, piece: str = "", prob: float | None = None) -> None:
        """Append `token_id` to the path (a click, or the window's sample) and ask for the next."""
        if self._waiting:
            return  # the previous step's view has not arrived: its candidates are stale
        self._steps.append(self._make_step(token_id, piece, prob))
        self._selected = -1
        self._set_waiting(True)
        self._render_path()
        self.step_requested.emit(token_id)

    def fork(self, step_index: int, token_id: int) -> None:
        """Replace step `step_index` by another candidate of that step and drop what followed."""
        old = self._steps[step_index]
        by_id = {c.id: c for c in old.candidates}
        chosen = by_id.get(token_id)
        step = Step(token_id, chosen.piece if chosen else "?", chosen.prob if chosen else 0.0,
                    None, old.candidates)
        self._steps = self._steps[:step_index] + [step]
        self._selected = step_index
        self._set_waiting(True)
        self._render_path()
        self._fill_alternatives()
        self.fork_requested.emit(step_index, token_id)

    def select_step(self, index: int) -> None:
        """Show the alternatives the model offered at step `index`."""
        self._selected = index
        self._render_path()
        self._fill_alternatives()

    def _make_step(self, token_id: int, piece: str, prob: float | None) -> Step:
        view = self._view
        raw = {c.id: c for c in view.raw} if view else {}
        final = {c.id: c.prob for c in view.final} if view else {}
        known = raw.get(token_id)
        return Step(token_id, known.piece if known else piece,
                    known.prob if known else (prob if prob is not None else 0.0),
                    final.get(token_id), list(view.raw) if view else [])

    def _set_waiting(self, waiting: bool) -> None:
        self._waiting = waiting
        self.bars.setEnabled(not waiting)
        self.sample_button.setEnabled(not waiting)

    # -- intents ----------------------------------------------------------------------------
    def set_failed(self, message: str) -> None:
        """The model could not answer: said in place of the chart until one arrives."""
        if self._view is None:
            self.empty.set_text(message)

    def _on_prompt_edited(self) -> None:
        if self._view is None:
            asking = bool(self.prompt().strip())
            self.empty.set_text("Asking the model…" if asking else EMPTY_TEXT, not asking)
        self._steps, self._selected = [], -1
        self._set_waiting(False)
        self._render_path()
        self._fill_alternatives()
        self._debounce.start()

    def _on_sample(self) -> None:
        if not self._waiting:
            self.sample_requested.emit()

    def _on_restart(self) -> None:
        self._steps, self._selected = [], -1
        self._set_waiting(True)
        self._render_path()
        self._fill_alternatives()
        self.prompt_changed.emit(self.prompt())

    def _on_alternative_clicked(self, item: QListWidgetItem) -> None:
        token_id = int(item.data(Qt.ItemDataRole.UserRole))
        if 0 <= self._selected < len(self._steps) and \
                token_id != self._steps[self._selected].token_id:
            self.fork(self._selected, token_id)

    # -- rendering --------------------------------------------------------------------------
    def _render_path(self) -> None:
        palette = self.palette()
        muted = shading.css(shading.muted(palette))
        parts = [f'<span style="color:{muted};">{piece_html(self.prompt(), breaks=True)}</span>'
                 if self.prompt() else ""]
        tips = []
        for i, step in enumerate(self._steps):
            back = shading.surprise_color(palette, step.prob)
            weight = "font-weight:bold;text-decoration:underline;" if i == self._selected else ""
            chip = (f'<span style="background-color:{shading.css(back)};color:'
                    f'{shading.css(shading.readable_on(back))};{weight}">'
                    f"{piece_html(step.piece, breaks=False)}"
                    f'<sub style="color:{muted};"> {percent(step.prob)}</sub></span>')
            parts.append(TokenTextView.anchor(i, chip))
            sampled = percent(step.sampled_prob) if step.sampled_prob is not None else "removed"
            tips.append(f"step {i + 1}: <b>{html.escape(label(step.piece))}</b> · id "
                        f"{step.token_id}<br>model {percent(step.prob)} · after sampling "
                        f"{sampled}<br>click to see the alternatives and fork here")
        self.path_view.set_tokens("".join(parts), tips)

    def _fill_alternatives(self) -> None:
        self.alternatives.clear()
        if not 0 <= self._selected < len(self._steps):
            self.alternatives_label.setText("Click a chosen token to see its alternatives")
            return
        step = self._steps[self._selected]
        self.alternatives_label.setText(
            f"Step {self._selected + 1}: the model's candidates (click one to fork here)")
        for candidate in step.candidates:
            mark = "✓ " if candidate.id == step.token_id else "   "
            item = QListWidgetItem(f"{mark}{label(candidate.piece)}    {percent(candidate.prob)}")
            item.setData(Qt.ItemDataRole.UserRole, candidate.id)
            self.alternatives.addItem(item)

    def changeEvent(self, event: QEvent) -> None:  # noqa: N802 (Qt override)
        super().changeEvent(event)
        if event.type() == QEvent.Type.PaletteChange:
            self._render_path()


def _titled(title: str, widget: QWidget, *below: QWidget) -> QWidget:
    box = QWidget()
    layout = QVBoxLayout(box)
    layout.setContentsMargins(0, 0, 0, 0)
    layout.addWidget(QLabel(title))
    layout.addWidget(widget, 1)
    for extra in below:
        layout.addWidget(extra)
    return box
