"""Chat turns: persist the conversation and stream the model's reply into it.

The desktop app and the CLI both use ChatSession, so a reply is stored the same way whoever
asked for it: the user message is committed when sent, the reply as it grows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, replace
from itertools import chain
from typing import TYPE_CHECKING

from core.engine.client import EngineClient
from core.engine.types import (
    ChatMessage,
    DoneEvent,
    FinishReason,
    GenerationStats,
    SamplingSettings,
    TokenEvent,
)
from core.errors import EngineCrashed, GlassboxError, NoModelLoaded, PromptError, ToolError
from core.prompts.presets import Preset
from core.store import ChatStore, ChatSummary, StoredMessage

if TYPE_CHECKING:  # grounding pulls in numpy and the retriever: only grounded chats need them
    from core.rag.grounding import Grounding, SearchFn
    from core.store.chats import ReplyWriter
    from core.tools.agent import ConsentFn
    from core.tools.toolbox import Toolbox
    from core.tools.types import AgentEvent, AgentTrace, ChatTools

DEFAULT_TITLE = "New chat"
_TITLE_CHARS = 48


@dataclass(frozen=True)
class ReplyStarted:
    chat_id: int
    user_message_id: int
    reply_message_id: int


@dataclass(frozen=True)
class SearchingDocuments:
    """Sent before retrieval, which can take seconds the first time (the embedder loads)."""

    chat_id: int
    collections: tuple[str, ...]


@dataclass(frozen=True)
class Grounded:
    """The passages and prompt behind the reply `reply_message_id`: sent after ReplyStarted,
    and again just before the DoneEvent with the answer's sentences matched to passages."""

    chat_id: int
    reply_message_id: int
    grounding: Grounding


# A reply made with tools also passes the agent's events (core.tools.types.AgentEvent) through,
# before the answer's TokenEvent and DoneEvent.
ChatEvent = ReplyStarted | TokenEvent | DoneEvent | SearchingDocuments | Grounded


def title_from(text: str) -> str:
    """A chat title from its first message: the first line, shortened at a word boundary."""
    line = " ".join(text.strip().split("\n", 1)[0].split())
    if len(line) <= _TITLE_CHARS:
        return line or DEFAULT_TITLE
    cut = line[:_TITLE_CHARS].rsplit(" ", 1)[0] or line[:_TITLE_CHARS]
    return cut + "…"


def as_prompt(system_prompt: str, turns: Iterable[tuple[str, str, str]]) -> list[ChatMessage]:
    """What the model sees of a chat: the system prompt (if any), then the user and assistant
    turns, given as (role, content, status). The chat and the window's "inspect the last
    reply" both build it here."""
    messages = [ChatMessage("system", system_prompt)] if system_prompt.strip() else []
    for role, content, status in turns:
        # Failed replies and empty interrupted ones carry nothing the model should see.
        if role in ("user", "assistant") and status != "failed" and content:
            messages.append(ChatMessage(role, content))  # type: ignore[arg-type]
    return messages


def fork_user(store: ChatStore, chat_id: int, message_id: int, text: str) -> StoredMessage:
    """Store `text` as an alternative to the user message `message_id` and show it (the branch
    then ends at it, unanswered). No engine needed: the window forks on its store thread."""
    original = store.get_message(message_id)
    if original.chat_id != chat_id or original.role != "user":
        raise PromptError("Only your own messages of this chat can be edited.")
    return store.add_message(chat_id, "user", text, parent_id=original.parent_id)


class ChatSession:
    """Runs chat turns against one store and one engine (both owned by the calling thread)."""

    def __init__(
        self, store: ChatStore, engine: EngineClient, commit_interval_s: float = 1.0,
        search: SearchFn | None = None,
        toolbox_for: Callable[[ChatTools], Toolbox] | None = None,
        max_steps: int = 5, tool_timeout_s: float = 30.0,
    ) -> None:
        """`search` finds passages in named collections; without it, chats are not grounded
        even when they name collections. `toolbox_for` makes the tools of a chat's settings;
        without it, chats answer without tools even when they have some turned on."""
        self.store = store
        self.engine = engine
        self.commit_interval_s = commit_interval_s
        self.search = search
        self.toolbox_for = toolbox_for
        self.max_steps = max_steps  # tool calls before the model must answer
        self.tool_timeout_s = tool_timeout_s

    def send(self, chat_id: int, text: str, sampling: SamplingSettings, *,
             consent: ConsentFn | None = None, cancel: threading.Event | None = None,
             tool_choice: str = "auto") -> Iterator[ChatEvent | AgentEvent]:
        """Store `text` as the user's message and stream the answer to it. In a chat with
        tools, `consent` is asked before each call (without it, none runs), `cancel` stops
        the agent between and within steps, and `tool_choice` ("auto", "none", "required"
        or a tool's name) holds for the first step."""
        if not text.strip():
            raise PromptError("The message is empty: type something to send.")
        chat = self.store.get_chat(chat_id)
        user = self.store.add_message(chat_id, "user", text)
        if chat.title == DEFAULT_TITLE:
            self.store.rename_chat(chat_id, title_from(text))
        try:
            yield from self._answer(chat_id, user, sampling, consent, cancel, tool_choice)
        except (PromptError, ToolError):
            # Nothing was generated: take the message back so the user can edit and resend.
            self.store.delete_messages_from(user.id)
            raise

    def regenerate(self, chat_id: int, sampling: SamplingSettings, *,
                   consent: ConsentFn | None = None, cancel: threading.Event | None = None,
                   tool_choice: str = "auto") -> Iterator[ChatEvent | AgentEvent]:
        """Answer the last user message of the branch on screen again. The earlier reply stays
        as an alternative (with its own grounding); the new one becomes the branch shown."""
        user = self._last_user_message(chat_id)
        yield from self._answer(chat_id, user, sampling, consent, cancel, tool_choice)

    def edit_last_user(
        self, chat_id: int, text: str, sampling: SamplingSettings, *,
        consent: ConsentFn | None = None, cancel: threading.Event | None = None
    ) -> Iterator[ChatEvent | AgentEvent]:
        """Fork the conversation at the last user message: `text` becomes its alternative,
        and is answered; the original and its replies stay on their own branch."""
        yield from self.edit_user(chat_id, self._last_user_message(chat_id).id, text, sampling,
                                  consent=consent, cancel=cancel)

    def edit_user(
        self, chat_id: int, message_id: int, text: str, sampling: SamplingSettings, *,
        consent: ConsentFn | None = None, cancel: threading.Event | None = None
    ) -> Iterator[ChatEvent | AgentEvent]:
        """Fork the conversation at any user message of the chat (see edit_last_user)."""
        if not text.strip():
            raise PromptError("The message is empty: type something to send.")
        user = self.fork_user(chat_id, message_id, text)
        try:
            yield from self._answer(chat_id, user, sampling, consent, cancel)
        except (PromptError, ToolError):
            # Nothing was generated: drop the fork and show the original branch again.
            self.store.delete_messages_from(user.id)
            self.store.select_branch(message_id)
            raise

    def fork_user(self, chat_id: int, message_id: int, text: str) -> StoredMessage:
        """Store `text` as an alternative to the user message `message_id` and show it (the
        branch then ends at it, unanswered: regenerate answers it)."""
        return fork_user(self.store, chat_id, message_id, text)

    def _ground(self, prompt: list[ChatMessage], collections: Sequence[str],
                sampling: SamplingSettings) -> Grounding:
        from core.rag.grounding import ground

        model = self.engine.model
        if model is None:
            raise NoModelLoaded("No model is loaded: choose one before sending a message.")
        assert self.search is not None
        return ground(prompt, collections, self.search, self.engine, model.n_ctx,
                      sampling.max_tokens)

    def _last_user_message(self, chat_id: int) -> StoredMessage:
        for m in reversed(self.store.messages(chat_id)):
            if m.role == "user":
                return m
        raise PromptError("This chat has no message of yours to answer yet.")

    def _answer(
        self, chat_id: int, user: StoredMessage, sampling: SamplingSettings,
        consent: ConsentFn | None = None, cancel: threading.Event | None = None,
        tool_choice: str = "auto",
    ) -> Iterator[ChatEvent | AgentEvent]:
        chat = self.store.get_chat(chat_id)
        # The branch on screen, up to the message answered (a child always has a higher id).
        history = [m for m in self.store.messages(chat_id) if m.id <= user.id]
        prompt = as_prompt(chat.system_prompt, ((m.role, m.content, m.status) for m in history))
        if self.toolbox_for is not None:
            tools = self.store.chat_tools(chat_id)
            if tools.enabled:
                # Grounded chats with tools: search_documents is the way to the collections.
                yield from self._answer_with_tools(chat_id, user, prompt, tools, sampling,
                                                   consent, cancel, tool_choice)
                return
        grounding = None
        if chat.collections and self.search is not None:
            yield SearchingDocuments(chat_id, chat.collections)
            grounding = self._ground(prompt, chat.collections, sampling)
            prompt = list(grounding.messages)
        events = self.engine.generate(prompt, sampling)
        # Pull the first event before creating the reply row: a prompt that is refused
        # (too long, empty) must leave no empty reply behind.
        first = next(events)
        writer = self.store.start_reply(chat_id, commit_interval_s=self.commit_interval_s,
                                        parent_id=user.id)
        yield ReplyStarted(chat_id, user.id, writer.message_id)
        if grounding is not None:
            self.store.set_message_grounding(writer.message_id, grounding.to_json())
            yield Grounded(chat_id, writer.message_id, grounding)
        with _kept_on_failure(self.store, writer):
            for event in chain((first,), events):
                if isinstance(event, TokenEvent):
                    writer.append(event.text)
                else:
                    status = "interrupted" if event.finish_reason == "cancelled" else "complete"
                    writer.finish(status, asdict(event.stats))
                    if grounding is not None:  # now the answer's sentences can be matched
                        grounding = grounding.with_answer(event.text)
                        self.store.set_message_grounding(writer.message_id, grounding.to_json())
                        yield Grounded(chat_id, writer.message_id, grounding)
                yield event


    def _answer_with_tools(
        self, chat_id: int, user: StoredMessage, prompt: list[ChatMessage], tools: ChatTools,
        sampling: SamplingSettings, consent: ConsentFn | None,
        cancel: threading.Event | None, tool_choice: str,
    ) -> Iterator[ChatEvent | AgentEvent]:
        """The reply produced by the agent loop: its events pass through, then the answer
        as a TokenEvent and a DoneEvent, as a plain reply ends; the trace is stored with it."""
        from core.tools.agent import deny_all, run_agent
        from core.tools.types import AgentFinished, StepFinished, TextPiece

        assert self.toolbox_for is not None
        chat = self.store.get_chat(chat_id)
        toolbox = self.toolbox_for(tools)
        if self.search is not None and chat.collections:
            toolbox = toolbox.with_search(self.search, chat.collections)
        always = set(tools.always_allowed)
        events = run_agent(self.engine, prompt, toolbox, consent or deny_all,
                           sampling=sampling, tool_choice=tool_choice,
                           max_steps=self.max_steps, tool_timeout_s=self.tool_timeout_s,
                           always_allowed=always, cancel=cancel)
        first = next(events)  # a tool schema llama.cpp refuses: raised before any reply row
        writer = self.store.start_reply(chat_id, commit_interval_s=self.commit_interval_s,
                                        parent_id=user.id)
        yield ReplyStarted(chat_id, user.id, writer.message_id)
        streamed: dict[int, str] = {}  # text of steps that are answers, not calls
        with _kept_on_failure(self.store, writer):
            for event in chain((first,), events):
                yield event
                if isinstance(event, TextPiece):
                    so_far = streamed.get(event.step, "") + event.text
                    streamed[event.step] = so_far
                    # The first character tells an answer from a call (the grammar says so).
                    if so_far.lstrip() and not so_far.lstrip().startswith("{"):
                        writer.append(event.text)
                        yield TokenEvent(event.text)
                elif isinstance(event, StepFinished) and event.step.call is not None:
                    streamed.pop(event.step.index, None)
                elif isinstance(event, AgentFinished):
                    trace = event.trace
                    if trace.final_text and trace.final_text != writer.text:
                        rest = trace.final_text[len(writer.text):] \
                            if trace.final_text.startswith(writer.text) else trace.final_text
                        writer.append(rest)
                        yield TokenEvent(rest)
                    if set(tools.always_allowed) != always:  # "always" survives a restart
                        self.store.set_chat_tools(chat_id, replace(
                            self.store.chat_tools(chat_id), always_allowed=sorted(always)))
                    stats = _trace_stats(trace, self.engine)
                    status = "interrupted" if trace.stop == "cancelled" else "complete"
                    writer.finish(status, asdict(stats))
                    self.store.set_message_agent_trace(writer.message_id, trace.to_json())
                    finish: FinishReason = "cancelled" if trace.stop == "cancelled" \
                        else "stop"
                    yield DoneEvent(writer.text, finish, stats)


@contextmanager
def _kept_on_failure(store: ChatStore, writer: ReplyWriter) -> Iterator[None]:
    """Whatever ends a reply early, what arrived is kept: an engine crash or a closed window
    (the caller stopped listening) marks it interrupted, an error marks it failed with the
    message shown where no text came."""
    try:
        yield
    except EngineCrashed:
        if writer.is_open:
            writer.finish("interrupted")
        raise
    except GlassboxError as exc:
        if writer.is_open:
            writer.finish("failed")
            store.update_message(writer.message_id, writer.text or str(exc), "failed")
        raise
    finally:
        if writer.is_open:
            writer.finish("interrupted")


def _trace_stats(trace: AgentTrace, engine: EngineClient) -> GenerationStats:
    """A reply's stats summed over the agent's steps."""
    steps = trace.steps
    total = sum(s.elapsed_s for s in steps)
    completion = sum(s.completion_tokens for s in steps)
    last_prompt = steps[-1].prompt_tokens if steps else 0
    model = engine.model
    return GenerationStats(prompt_tokens=last_prompt, completion_tokens=completion,
                           ttft_s=0.0, tokens_per_s=completion / total if total else 0.0,
                           total_s=total, n_ctx=model.n_ctx if model else 0)


def apply_preset(store: ChatStore, chat_id: int, preset: Preset,
                 values: Mapping[str, str] | None = None) -> ChatSummary:
    """Start the chat's conversation from a preset: its system prompt replaces the chat's (when
    it has one) and its few-shot examples are added as turns at the end of the branch shown,
    where the model sees them like any earlier exchange."""
    rendered = preset.render(values)
    system = [m.content for m in rendered if m.role == "system"]
    if system:
        store.set_system_prompt(chat_id, system[0])
    for message in rendered:
        if message.role != "system":
            store.add_message(chat_id, message.role, message.content)
    return store.get_chat(chat_id)


def new_chat_from_preset(store: ChatStore, preset: Preset,
                         values: Mapping[str, str] | None = None) -> ChatSummary:
    """A new chat that starts from `preset` (see apply_preset); nothing is created if a
    variable is missing."""
    preset.render(values)  # raises before the chat exists
    chat = store.create_chat()
    return apply_preset(store, chat.id, preset, values)
