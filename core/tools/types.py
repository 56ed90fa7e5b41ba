"""Plain data of tool use: the tools a model may call, each call it makes, the user's consent,
what the tool returned, and the agent trace that records every step.

Everything here is frozen plain data: it crosses threads (the agent runs in a worker, the
window shows it), is written to the database with a reply (`AgentTrace.to_json`) and is
printed by `glassbox ask --json`.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal

from core.engine.types import ChatMessage

# allow_once: run this call; allow_always: run it and every later call of this tool in this
# chat without asking; deny: do not run it (the model is told it was denied).
Decision = Literal["allow_once", "allow_always", "deny"]
ToolChoice = str  # "auto" | "none" | "required" | a tool's name, as in OpenAI's API
# How an agent run ended: the model answered in text, it hit the step limit, the user
# cancelled, or an error stopped it (the message says which).
Stop = Literal["answer", "step_limit", "cancelled", "error"]


@dataclass(frozen=True)
class ToolSpec:
    """A tool as the model sees it. `source` is "builtin" or "mcp:<server name>"."""

    name: str
    description: str
    parameters: dict[str, Any]
    source: str = "builtin"


@dataclass(frozen=True)
class ToolCall:
    """A call the model made, parsed from its output (`raw`)."""

    step: int
    name: str
    arguments: dict[str, Any]
    raw: str
    source: str = "builtin"


@dataclass(frozen=True)
class ToolOutcome:
    """What came back from a call, as given to the model. Results are untrusted text:
    `suspicious` lists passages that read like instructions to the model, shown as such."""

    text: str
    ok: bool = True
    error: str | None = None  # a message a person can act on when ok is False
    denied: bool = False
    truncated: bool = False
    original_chars: int = 0
    elapsed_s: float = 0.0
    suspicious: tuple[str, ...] = ()


@dataclass(frozen=True)
class AgentStep:
    """One turn of the model: the prompt it read, what it wrote, and the call (if any)."""

    index: int
    prompt: str  # the exact text the model read, after the chat template, schemas included
    messages: tuple[ChatMessage, ...]  # the same prompt as messages: Next token reopens it
    raw_output: str
    # [start, end) of raw_output produced under the tool-call grammar; None when none was
    constrained: tuple[int, int] | None = None
    call: ToolCall | None = None
    decision: Decision | None = None
    outcome: ToolOutcome | None = None
    prompt_tokens: int = 0
    completion_tokens: int = 0
    elapsed_s: float = 0.0


@dataclass(frozen=True)
class AgentTrace:
    tools: tuple[ToolSpec, ...]
    steps: tuple[AgentStep, ...]
    final_text: str
    stop: Stop
    error: str | None = None
    # How the tools reached the model: "template" (its chat template reads `tools`) or
    # "generic" (described in the system message); see core.tools.protocol.
    protocol: str = "generic"

    def to_json(self) -> dict[str, Any]:
        return asdict(self)

    @staticmethod
    def from_json(data: dict[str, Any]) -> AgentTrace:
        def step(s: dict[str, Any]) -> AgentStep:
            call = s.get("call")
            outcome = s.get("outcome")
            constrained = s.get("constrained")
            return AgentStep(
                index=s["index"], prompt=s["prompt"],
                messages=tuple(ChatMessage(m["role"], m["content"]) for m in s["messages"]),
                raw_output=s["raw_output"],
                constrained=tuple(constrained) if constrained else None,  # type: ignore[arg-type]
                call=ToolCall(**call) if call else None, decision=s.get("decision"),
                outcome=ToolOutcome(**{**outcome, "suspicious": tuple(outcome["suspicious"])})
                if outcome else None,
                prompt_tokens=s.get("prompt_tokens", 0),
                completion_tokens=s.get("completion_tokens", 0),
                elapsed_s=s.get("elapsed_s", 0.0))

        return AgentTrace(tools=tuple(ToolSpec(**t) for t in data["tools"]),
                          steps=tuple(step(s) for s in data["steps"]),
                          final_text=data["final_text"], stop=data["stop"],
                          error=data.get("error"),
                          protocol=str(data.get("protocol", "generic")))


# Events of an agent run, in order: StepStarted, TextPiece..., then for a call CallProposed,
# CallDecided, CallFinished; StepFinished; and at the end AgentFinished.
@dataclass(frozen=True)
class StepStarted:
    index: int


@dataclass(frozen=True)
class TextPiece:
    step: int
    text: str


@dataclass(frozen=True)
class CallProposed:
    """The model wants to run `call`; the consent callback is asked next (unless the tool is
    already allowed for the chat)."""

    call: ToolCall
    spec: ToolSpec


@dataclass(frozen=True)
class CallDecided:
    call: ToolCall
    decision: Decision
    asked: bool  # False when an earlier "allow always" answered for the user


@dataclass(frozen=True)
class CallFinished:
    call: ToolCall
    outcome: ToolOutcome


@dataclass(frozen=True)
class StepFinished:
    step: AgentStep


@dataclass(frozen=True)
class AgentFinished:
    trace: AgentTrace


AgentEvent = (StepStarted | TextPiece | CallProposed | CallDecided | CallFinished
              | StepFinished | AgentFinished)


@dataclass
class ChatTools:
    """A chat's tool settings, stored with the chat: the built-in tools turned on, the MCP
    servers whose tools it may call, the tools allowed always, the folders the file tool
    may read, and how a reply uses them (tool choice, step limit)."""

    builtins: list[str] = field(default_factory=list)
    mcp_servers: list[str] = field(default_factory=list)
    always_allowed: list[str] = field(default_factory=list)
    allowed_folders: list[str] = field(default_factory=list)
    tool_choice: ToolChoice = "auto"  # how a reply's first step uses the tools
    max_steps: int = 5  # steps of one reply before it must answer (core.tools.agent)

    @property
    def enabled(self) -> bool:
        return bool(self.builtins or self.mcp_servers)
