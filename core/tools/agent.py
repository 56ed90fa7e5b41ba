"""The agent loop: the model may call a tool, the user consents, the tool runs, its result
goes back to the model, and so on until the model answers in text.

Every step is recorded as it happened (AgentStep): the exact prompt the model read, the raw
text it wrote with the grammar-constrained call marked, the parsed call, the decision, the
result, tokens and time. The run is a stream of events (core.tools.types) ending with one
AgentFinished that carries the whole trace.

tool_choice holds for the first step; after a call it goes back to "auto" (as OpenAI's
Agents SDK does by default), or a forced choice would call tools until the step limit.
`reset_tool_choice=False` keeps it for every step. At the step limit one last step runs with
tool_choice "none", so the model answers with what it has (stop "step_limit").
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import Any, Protocol

from core.engine.completion_types import (
    CompletionDone,
    CompletionEvent,
    CompletionPiece,
    CompletionRequest,
)
from core.engine.types import ChatMessage, ModelInfo, SamplingSettings
from core.errors import ToolSchemaError
from core.tools import protocol
from core.tools.protocol import ToolPlan, ToolProtocol
from core.tools.toolbox import DEFAULT_TIMEOUT_S, Toolbox
from core.tools.types import (
    AgentEvent,
    AgentFinished,
    AgentStep,
    AgentTrace,
    CallDecided,
    CallFinished,
    CallProposed,
    Decision,
    StepFinished,
    StepStarted,
    Stop,
    TextPiece,
    ToolCall,
    ToolOutcome,
    ToolSpec,
)

ConsentFn = Callable[[ToolCall, ToolSpec], Decision]
DEFAULT_MAX_STEPS = 5


class AgentEngine(Protocol):
    """What the loop needs of an engine (EngineClient has it)."""

    @property
    def model(self) -> ModelInfo | None: ...

    def complete(self, request: CompletionRequest) -> Iterator[CompletionEvent]: ...

    def render_prompt(self, messages: Sequence[ChatMessage], add_generation_prompt: bool = True,
                      tools: list[dict[str, Any]] | None = None) -> str: ...

    def cancel(self) -> None: ...


def protocol_for(engine: AgentEngine) -> ToolProtocol:
    """"template" when the loaded model's chat template reads `tools`, else "generic"."""
    model = engine.model
    return "template" if model is not None and model.template_tools else "generic"


def deny_all(call: ToolCall, spec: ToolSpec) -> Decision:
    """The consent of a caller that cannot ask anyone: nothing runs."""
    return "deny"


def run_agent(engine: AgentEngine, messages: Sequence[ChatMessage], toolbox: Toolbox,
              consent: ConsentFn, *, sampling: SamplingSettings, tool_choice: str = "auto",
              max_steps: int = DEFAULT_MAX_STEPS, tool_timeout_s: float = DEFAULT_TIMEOUT_S,
              always_allowed: set[str] | None = None, cancel: threading.Event | None = None,
              reset_tool_choice: bool = True) -> Iterator[AgentEvent]:
    """Run the loop (see the module's docstring). `always_allowed` is updated in place when
    the user answers "allow always". ToolSchemaError (a tool whose schema cannot become a
    grammar, a tool_choice naming no tool) is raised before the model runs."""
    if max_steps < 1:
        raise ToolSchemaError(f"max_steps must be at least 1 (got {max_steps}).")
    if tool_timeout_s <= 0:
        raise ToolSchemaError(f"The tool timeout must be more than 0 s (got {tool_timeout_s}).")
    specs = toolbox.specs()
    first_plan = protocol.plan(specs, tool_choice)  # raises here, before anything runs
    return _Run(engine, list(messages), toolbox, consent, specs, sampling, tool_choice,
                max_steps, tool_timeout_s, always_allowed if always_allowed is not None
                else set(), cancel or threading.Event(), reset_tool_choice,
                first_plan).events()


class _Run:
    def __init__(self, engine: AgentEngine, messages: list[ChatMessage], toolbox: Toolbox,
                 consent: ConsentFn, specs: tuple[ToolSpec, ...], sampling: SamplingSettings,
                 tool_choice: str, max_steps: int, timeout_s: float, always: set[str],
                 cancel: threading.Event, reset_choice: bool, first_plan: ToolPlan) -> None:
        self.engine, self.toolbox, self.consent = engine, toolbox, consent
        self.conversation = messages
        self.specs, self.sampling = specs, sampling
        self.choice, self.max_steps, self.timeout_s = tool_choice, max_steps, timeout_s
        self.always, self.cancel, self.reset_choice = always, cancel, reset_choice
        self.plans = {tool_choice: first_plan}
        self.way = protocol_for(engine)
        self.steps: list[AgentStep] = []

    def _plan(self, choice: str) -> ToolPlan:
        if choice not in self.plans:
            self.plans[choice] = protocol.plan(self.specs, choice)
        return self.plans[choice]

    def _choice(self, index: int) -> str:
        if index >= self.max_steps:
            return "none"  # the last step: the model answers with what it has
        if index == 0 or not self.reset_choice or self.choice == "none":
            return self.choice
        return "auto"

    def events(self) -> Iterator[AgentEvent]:
        stop: Stop = "answer"
        error: str | None = None
        final_text = ""
        for index in range(self.max_steps + 1):
            if self.cancel.is_set():
                stop = "cancelled"
                break
            choice = self._choice(index)
            step_started = time.perf_counter()
            yield StepStarted(index)
            plan = self._plan(choice)
            request, shown = self._request(plan)
            done: CompletionDone | None = None
            for event in self._complete(request):
                if isinstance(event, CompletionPiece):
                    if event.text:
                        yield TextPiece(index, event.text)
                else:
                    done = event
            assert done is not None  # the engine always ends with CompletionDone
            parsed = protocol.parse_call(done.text) if plan.grammar is not None else None
            if done.finish_reason == "cancelled" or self.cancel.is_set():
                self._record(index, done, shown, step_started)
                yield StepFinished(self.steps[-1])
                stop, final_text = "cancelled", "" if parsed else done.text
                break
            if parsed is None:
                step = self._record(index, done, shown, step_started)
                yield StepFinished(step)
                if plan.grammar is not None and protocol.looks_like_call(done.text):
                    stop, error = "error", (
                        f"The model's tool call was cut off after {done.completion_tokens} "
                        "tokens (the reply length limit); raise max tokens and try again.")
                else:
                    final_text = done.text
                    if index >= self.max_steps:
                        calls = f"{self.max_steps} tool call" + (
                            "s" if self.max_steps != 1 else "")
                        stop, error = "step_limit", (
                            f"The step limit ({calls}) was reached: the model had to answer "
                            "with the results so far.")
                break
            name, arguments = parsed
            yield from self._call_step(index, done, shown, step_started, name, arguments)
            if self.cancel.is_set():
                stop = "cancelled"
                break
        trace = AgentTrace(tools=self.specs, steps=tuple(self.steps), final_text=final_text,
                           stop=stop, error=error, protocol=self.way)
        yield AgentFinished(trace)

    def _request(self, plan: ToolPlan) -> tuple[CompletionRequest, tuple[ChatMessage, ...]]:
        """The step's completion request and the messages it shows the model."""
        if self.way == "template" and plan.grammar is not None:
            shown = tuple(self.conversation)
            prompt = self.engine.render_prompt(shown, True, protocol.template_tools(self.specs))
            return CompletionRequest(prompt=prompt, grammar=plan.grammar,
                                     sampling=self.sampling), shown
        shown = protocol.with_instructions(self.conversation, plan.instructions)
        return CompletionRequest(messages=shown, grammar=plan.grammar,
                                 sampling=self.sampling), shown

    def _complete(self, request: CompletionRequest) -> Iterator[CompletionEvent]:
        asked_to_stop = False
        for event in self.engine.complete(request):
            if self.cancel.is_set() and not asked_to_stop:
                self.engine.cancel()  # the engine ends the stream with "cancelled"
                asked_to_stop = True
            yield event

    def _record(self, index: int, done: CompletionDone, shown: tuple[ChatMessage, ...],
                started: float, call: ToolCall | None = None, decision: Decision | None = None,
                outcome: ToolOutcome | None = None) -> AgentStep:
        span = None
        if call is not None:
            start = done.text.find("{")
            span = (start, len(done.text.rstrip()))
        step = AgentStep(index=index, prompt=done.prompt, messages=shown,
                         raw_output=done.text, constrained=span, call=call,
                         decision=decision, outcome=outcome,
                         prompt_tokens=done.prompt_tokens,
                         completion_tokens=done.completion_tokens,
                         elapsed_s=time.perf_counter() - started)
        self.steps.append(step)
        return step

    def _call_step(self, index: int, done: CompletionDone, shown: tuple[ChatMessage, ...],
                   started: float, name: str, arguments: dict[str, Any]
                   ) -> Iterator[AgentEvent]:
        spec = self.toolbox.spec(name)
        known = spec is not None
        spec = spec or ToolSpec(name, "(no such tool)", {}, source="unknown")
        call = ToolCall(step=index, name=name, arguments=arguments, raw=done.text.strip(),
                        source=spec.source)
        yield CallProposed(call, spec)
        decision: Decision | None = None
        if not known:  # nothing to consent to: the model is told the tool does not exist
            outcome = self.toolbox.call(name, arguments, self.timeout_s)
        else:
            if name in self.always:
                decision, asked = "allow_always", False
            else:
                decision, asked = self.consent(call, spec), True
                if decision == "allow_always":
                    self.always.add(name)
            yield CallDecided(call, decision, asked)
            if decision == "deny":
                message = f"The user denied the call of {name}."
                outcome = ToolOutcome(f"{message} Do not call it again; answer without it.",
                                      ok=False, error=message, denied=True)
            elif self.cancel.is_set():
                outcome = ToolOutcome("Cancelled before the tool ran.", ok=False,
                                      error="cancelled")
            else:
                outcome = self.toolbox.call(name, arguments, self.timeout_s, self.cancel)
        yield CallFinished(call, outcome)
        step = self._record(index, done, shown, started, call, decision, outcome)
        yield StepFinished(step)
        self.conversation.extend(protocol.result_messages(self.way, name, arguments,
                                                          outcome.text))
