"""Connects the Learn panels to the engine worker. Views compute nothing; the model does.

Typing and slider moves can outpace the model, so each panel keeps at most one request in
flight and one waiting: the newest waiting request replaces an older one (latest wins).
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from PySide6.QtCore import QObject

from core.api import ChatMessage, TokenPiece
from core.engine.introspect_types import NextTokenView, SurpriseView
from desktop.engine_worker import EngineHandle
from desktop.learn_inside_controller import InsideController
from ui.learn.learn_panel import LearnPanel

_TOP = 12


@dataclass
class _Lane:
    """One panel's requests: the one the model is working on and the newest one waiting."""

    show: Callable[[Any], None]
    failed: Callable[[str], None] | None = None  # the panel's own "it did not work" line
    in_flight: int | None = None
    waiting: dict[str, Any] | None = None
    what: str = ""
    tags: dict[int, Any] = field(default_factory=dict)  # what each answer belongs to


class LearnController(QObject):
    def __init__(self, engine: EngineHandle, panel: LearnPanel,
                 show_error: Callable[[str], None],
                 conversation: Callable[[], list[ChatMessage]],
                 parent: QObject | None = None, *,
                 model_name: Callable[[str], str] | None = None) -> None:
        """`model_name(path)`: the name the rest of the window gives a model (the library's);
        without it, the engine's (the file's stem)."""
        super().__init__(parent)
        self._engine = engine
        self._conversation = conversation
        self._panel = panel
        self._show_error = show_error
        self._names = model_name
        self._model: tuple[str, str] = ("", "")  # the loaded model's path and engine name
        self._last_next: NextTokenView | None = None
        self._reply_context: tuple[str, list[ChatMessage]] = ("", [])
        self._lanes = {
            "tokens": _Lane(self._show_tokens, panel.tokenizer.set_failed, what="tokens"),
            "next": _Lane(self._show_next, panel.next_token.set_failed, what="next"),
            "surprise": _Lane(self._show_surprise, panel.surprise.set_failed, what="surprise"),
            "template": _Lane(self._show_template, what="template"),
            "reply_start": _Lane(self._show_reply_start, what="template"),
            "tokens_b": _Lane(self._show_tokens_b, what="tokens"),
            "surprise_b": _Lane(self._show_surprise_b, what="surprise"),
        }
        self._by_id: dict[int, _Lane] = {}
        worker = engine.worker
        worker.inspected.connect(self._on_inspected)
        worker.inspect_failed.connect(self._on_failed)
        worker.model_loaded.connect(self._on_model_loaded)
        tokenizer, nxt, surprise = panel.tokenizer, panel.next_token, panel.surprise
        tokenizer.text_changed.connect(self._on_tokenizer_text)
        tokenizer.template_requested.connect(self._on_template)
        nxt.prompt_changed.connect(self._request_next)
        nxt.settings_changed.connect(self._request_next)
        nxt.step_requested.connect(self._request_next)
        nxt.fork_requested.connect(self._request_next)
        nxt.sample_requested.connect(self._on_sample)
        surprise.measure_requested.connect(self._on_measure)
        panel.agent_trace.next_token_requested.connect(self.open_in_next_token)
        panel.comparison_changed.connect(self._on_comparison_changed)
        # Attention, logit lens and anatomy: their own controller, on these same lanes.
        self.inside = InsideController(self, engine, panel, show_error, conversation)
        from desktop.attribution_controller import AttributionController

        self.attribution = AttributionController(engine, panel.attribution, self, show_error,
                                                 self, conversation=conversation)

    def add_lane(self, name: str, what: str, show: Callable[[Any], None],
                 failed: Callable[[str], None] | None = None) -> None:
        """A new lane of `what` requests (an EngineHandle.inspect kind) answered to `show`."""
        self._lanes[name] = _Lane(show, failed=failed, what=what)

    def submit(self, name: str, tag: Any = None, **kwargs: Any) -> None:
        """Ask on lane `name`; the answer goes to its `show` (with `tag`, if not None)."""
        self._submit(self._lanes[name], tag=tag, **kwargs)

    # -- requests ---------------------------------------------------------------------------
    def _submit(self, lane: _Lane, tag: Any = None, **kwargs: Any) -> None:
        if lane.in_flight is not None:
            lane.waiting = {"tag": tag, **kwargs}
            return
        request_id = self._engine.inspect(lane.what, **kwargs)
        lane.in_flight = request_id
        lane.tags = {request_id: tag}
        self._by_id[request_id] = lane

    def _on_tokenizer_text(self, text: str, special: bool) -> None:
        self._submit(self._lanes["tokens"], tag=text, text=text, special=special)
        if self._panel.comparison():
            self._submit(self._lanes["tokens_b"], tag=None, text=text, special=special,
                         model_path=self._panel.comparison())

    def _request_next(self, *_: object) -> None:
        panel = self._panel.next_token
        if not panel.prompt().strip():
            return
        self._submit(self._lanes["next"], tag=None, prompt=panel.prompt(),
                     sampling=panel.settings(), top=_TOP, continuation=panel.token_path())

    def _on_template(self) -> None:
        messages = self._conversation()
        if not messages:
            self._show_error("This chat is empty: send a message first, then see how the "
                             "model reads it.")
            return
        self._submit(self._lanes["template"], tag=None, messages=messages)

    def _on_measure(self, text: str) -> None:
        # A chat reply is scored as the answer to its conversation, while its text is unedited.
        context = self._reply_context[1] if self._reply_context[0] == text else None
        extra = {"context": context} if context else {}
        self._submit(self._lanes["surprise"], tag=None, text=text, top=5, **extra)
        if self._panel.comparison():
            self._submit(self._lanes["surprise_b"], tag=None, text=text, top=5,
                         model_path=self._panel.comparison(), **extra)

    def _on_comparison_changed(self, path: str) -> None:
        if not path:
            self._panel.tokenizer.clear_comparison()
            self._panel.surprise.clear_comparison()
            return
        tokenizer, surprise = self._panel.tokenizer, self._panel.surprise
        if tokenizer.text():
            self._on_tokenizer_text(tokenizer.text(), tokenizer.special())
        if surprise.text().strip():
            self._on_measure(surprise.text())

    def _on_sample(self) -> None:
        """Draw the next token from what the sampler stages left, as generation would."""
        view = self._last_next
        if view is None or not view.final:
            return
        final = view.final
        chosen = random.choices(final, weights=[c.prob for c in final])[0]
        raw = {c.id: c.prob for c in view.raw}
        self._panel.next_token.add_step(chosen.id, chosen.piece, raw.get(chosen.id))

    def measure(self, text: str, context: list[ChatMessage] | None = None) -> None:
        """Open the Surprise panel on `text`: a chat reply, read after its `context`."""
        self._reply_context = (text, context or [])
        panel = self._panel.show_surprise()
        panel.set_text(text)
        self._on_measure(text)
        if context:
            # The Next-token tab starts where the model started this reply, to step through it.
            self._submit(self._lanes["reply_start"], tag=None, messages=context)

    def open_request(self, prompt: str, reply: str, messages: list[ChatMessage]) -> None:
        """A request an API client sent: its exact prompt in "What the model sees" and in
        Next token (where the model began its reply), the reply in Surprise read after its
        messages. A text completion has no messages: its reply is read after its prompt."""
        self._panel.next_token.set_prompt(prompt)
        if messages:
            self._reply_context = (reply, messages)
            self._panel.show_surprise().set_text(reply)
            self._on_measure(reply)
        else:
            self.measure(prompt + reply)
        self._panel.show_tokenizer().show_template(prompt)

    def open_in_next_token(self, prompt: str, _messages: list[ChatMessage]) -> None:
        """An agent step's exact prompt (template and tool schemas applied) in Next token,
        where the model's choice of a tool reads as probabilities."""
        self._panel.show_next_token().set_prompt(prompt)

    # -- results ----------------------------------------------------------------------------
    def _finish(self, request_id: int) -> tuple[_Lane, Any] | None:
        lane = self._by_id.pop(request_id, None)
        if lane is None:
            return None
        tag = lane.tags.pop(request_id, None)
        lane.in_flight = None
        if lane.waiting is not None:
            waiting, lane.waiting = lane.waiting, None
            self._submit(lane, **waiting)
            return None  # a newer request supersedes this answer
        return lane, tag

    def _on_inspected(self, request_id: int, result: object) -> None:
        done = self._finish(request_id)
        if done is not None:
            lane, tag = done
            lane.show(result if tag is None else (result, tag))

    def _on_failed(self, request_id: int, message: str) -> None:
        done = self._finish(request_id)
        if done is None:
            return
        self._show_error(message)
        if done[0].failed is not None:
            done[0].failed(message)
        if done[0] is self._lanes["next"] and self._last_next is not None:
            self._show_next(self._last_next)  # unlock the panel on the last good view

    def _show_tokens(self, result: tuple[list[TokenPiece], str]) -> None:
        pieces, text = result
        self._panel.tokenizer.show_tokens(pieces, text)

    def _show_next(self, view: NextTokenView) -> None:
        self._last_next = view
        panel = self._panel.next_token
        text = panel.prompt() + "".join(step.piece for step in panel.steps())
        panel.show_view(view, text)
        # A server sends only the top few log-probabilities: say how many, so nobody reads
        # them as the whole vocabulary.
        alternatives, asked = getattr(view, "alternatives", None), getattr(view, "asked", 0)
        panel.set_source_note(None if alternatives is None else
                              f"{alternatives} of {asked} alternatives from the server "
                              "(the rest of the vocabulary is not sent)")

    def _show_tokens_b(self, pieces: list[TokenPiece]) -> None:
        if self._panel.comparison():
            self._panel.tokenizer.show_comparison(pieces, self._panel.comparison_name())

    def _show_surprise_b(self, view: SurpriseView) -> None:
        if self._panel.comparison():
            self._panel.surprise.show_comparison(view, self._panel.comparison_name())

    def _show_reply_start(self, rendered: str) -> None:
        self._panel.next_token.set_prompt(rendered)

    def _show_template(self, rendered: str) -> None:
        self._panel.tokenizer.show_template(rendered)

    def _show_surprise(self, view: SurpriseView) -> None:
        self._panel.surprise.show_view(view, self._model_name() or None)

    def _model_name(self) -> str:
        # Asked when shown, not at load: the library (and so the name) may arrive later.
        path, name = self._model
        return self._names(path) if self._names is not None and path else name

    def _on_model_loaded(self, info: object) -> None:
        # One name per model: Surprise's header says what the picker and status bar say.
        self._model = (str(getattr(info, "path", "")), str(getattr(info, "name", "")))
        self._panel.surprise.set_model_name(self._model_name())
        # What the panels show belongs to the old model: compute it again on the new one.
        tokenizer = self._panel.tokenizer
        if tokenizer.text():
            self._on_tokenizer_text(tokenizer.text(), tokenizer.special())
        self._request_next()


