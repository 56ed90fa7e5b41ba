"""Chat templates from GGUF metadata, rendered in a sandbox (a model file is untrusted input).

A template is a program written by whoever made the file. The immutable sandbox keeps it from
reaching Python internals or changing our data; on top of it, a render has a time limit and
an output limit, because a sandbox alone lets `range(99999)` loops nest until the process hangs
or `'x' * 10**10` eat the memory.
"""

from __future__ import annotations

import functools
import logging
import operator
import re
import sys
import time
from collections.abc import Callable, Sequence
from datetime import datetime
from types import FrameType
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import ImmutableSandboxedEnvironment

from core.engine.types import ChatMessage
from core.errors import PromptError

log = logging.getLogger(__name__)

# Used when a model carries no template (base models) or one that does not compile.
CHATML_TEMPLATE = (
    "{% for message in messages %}"
    "{{ '<|im_start|>' + message['role'] + '\n' + message['content'] + '<|im_end|>\n' }}"
    "{% endfor %}"
    "{% if add_generation_prompt %}{{ '<|im_start|>assistant\n' }}{% endif %}"
)
# Jinja2 before 3.1.6 let `|attr('format')` escape the sandbox (CVE-2025-27516).
MIN_JINJA2 = (3, 1, 6)
RENDER_TIME_LIMIT_S = 2.0
MAX_OUTPUT_CHARS = 4_000_000  # far beyond any context window's worth of text


def _version(text: str) -> tuple[int, ...]:
    parts = []
    for part in text.split(".")[:3]:
        digits = "".join(ch for ch in part if ch.isdigit())
        parts.append(int(digits or 0))
    return tuple(parts)


def _raise_exception(message: str) -> None:
    # Templates call this to reject conversations they cannot format (e.g. two user turns).
    raise PromptError(f"The model's chat template refused this conversation: {message}")


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


def _bounded_format(value: str, *args: Any, **kwargs: Any) -> str:
    _check_format(value)
    return str(jinja2.filters.do_format(value, *args, **kwargs))


def template_uses_tools(source: str | None) -> bool:
    """Whether a chat template's source reads a `tools` variable (it was written for models
    trained to read tool schemas: core.tools.protocol then gives them to it)."""
    if not source:
        return False
    from jinja2 import nodes

    try:
        parsed = jinja2.Environment().parse(source)
    except (jinja2.TemplateError, RecursionError, MemoryError):
        return False
    # Walk the syntax tree only: jinja2.meta would run the code generator, which folds
    # constants ('x' * 10**10) before any of the sandbox's limits apply.
    return any(node.name == "tools" and node.ctx == "load"
               for node in parsed.find_all(nodes.Name))


class _TemplateTooSlow(Exception):
    pass


class _BoundedEnvironment(ImmutableSandboxedEnvironment):
    """The immutable sandbox with `*`, `**` and `+` checked, so no expression builds a
    string, list or number too large to hold."""

    intercepted_binops = frozenset(["*", "**", "+", "%"])

    def __init__(self, **options: Any) -> None:
        super().__init__(**options)
        for name in ("center", "indent"):
            self.filters[name] = _bounded_size(name)
        self.filters["format"] = _bounded_format

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        owner = getattr(value, "__self__", None)
        if isinstance(owner, str) and getattr(value, "__name__", "") in ("format",
                                                                         "format_map"):
            _check_format(owner)
        return super().wrap_str_format(value)  # type: ignore[no-any-return]

    def call_binop(self, context: Any, operator_name: str, left: Any, right: Any) -> Any:
        if operator_name == "**":
            if isinstance(right, int | float) and abs(right) > 64:
                raise SecurityError("the template raises a number to a huge power")
            return operator.pow(left, right)
        if operator_name == "%":
            if isinstance(left, str):
                _check_format(left)
            return operator.mod(left, right)
        if operator_name == "*":
            for seq, times in ((left, right), (right, left)):
                if isinstance(seq, str | list | tuple) and isinstance(times, int) and \
                        len(seq) * times > MAX_OUTPUT_CHARS:
                    raise SecurityError("the template builds a huge sequence")
            return operator.mul(left, right)
        result = operator.add(left, right)
        if isinstance(result, str | list | tuple) and len(result) > MAX_OUTPUT_CHARS:
            raise SecurityError("the template builds a huge sequence")
        return result


_HUGE_FIELD = re.compile(r"\d{5,}")


def _check_format(text: str) -> None:
    # A format spec such as {0:999999999} makes C code allocate gigabytes in one call,
    # before any time limit can act: refuse widths and precisions of five digits or more.
    if _HUGE_FIELD.search(text):
        raise SecurityError("the template asks for a huge formatted field")


def _bounded_size(name: str) -> Callable[..., Any]:
    # Filters that pad to a width allocate it at once in C: cap the width.
    original = jinja2.filters.FILTERS[name]

    @functools.wraps(original)
    def bounded(value: Any, *args: Any, **kwargs: Any) -> Any:
        for number in (*args, *kwargs.values()):
            if isinstance(number, int) and not isinstance(number, bool) and number > 10_000:
                raise SecurityError(f"the template asks |{name} for a huge width")
        return original(value, *args, **kwargs)

    return bounded


def _deadline_tracer(deadline: float) -> Callable[[FrameType, str, Any], Any]:
    """A trace function that stops the render once `deadline` has passed.

    Rendering runs compiled template code in this thread; tracing is the one way to stop a
    Python loop from inside without a second process. It costs a few microseconds per call,
    nothing next to a decode.
    """

    def trace(frame: FrameType, event: str, arg: Any) -> Any:
        if time.monotonic() > deadline:
            raise _TemplateTooSlow
        return trace

    return trace


class ChatTemplate:
    """Turns a list of chat messages into the exact prompt text the model was trained on."""

    def __init__(self, source: str | None, bos_token: str = "", eos_token: str = "",
                 time_limit_s: float = RENDER_TIME_LIMIT_S) -> None:
        # optimized=False: the optimizer folds constant calls at compile time, straight to
        # Python, around the sandbox's own checks ('{0:9999999999}'.format(1) would allocate
        # 10 GB while the template compiles).
        env = _BoundedEnvironment(
            trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined,
            optimized=False,
        )
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        self.time_limit_s = time_limit_s
        self.from_model = False
        template = None
        if source and _version(jinja2.__version__) < MIN_JINJA2:
            log.warning("Jinja2 %s is older than 3.1.6; the model's own chat template is not "
                        "used (ChatML instead)", jinja2.__version__)
        elif source:
            try:
                template = env.from_string(source)
                self.from_model = True
            except (jinja2.TemplateError, RecursionError, MemoryError) as exc:
                log.warning("model chat template does not compile (%s); using ChatML", exc)
        self._template = template or env.from_string(CHATML_TEMPLATE)
        self._uses_tools = False
        if template is not None and source:
            self._uses_tools = template_uses_tools(source)
        self._bos = bos_token
        self._eos = eos_token

    @property
    def uses_tools(self) -> bool:
        """Whether the model's own template reads a `tools` variable (it can describe tools
        to the model the way it was trained to read them)."""
        return self._uses_tools

    def render(self, messages: Sequence[ChatMessage], add_generation_prompt: bool = True,
               tools: list[dict[str, Any]] | None = None) -> str:
        """The prompt text; `tools` (OpenAI's shape) is given to templates that read it.
        Raises PromptError when the template refuses, fails, breaks the sandbox's rules, runs
        past its time limit or writes too much."""
        payload = [{"role": m.role, "content": m.content} for m in messages]
        previous = sys.gettrace()
        sys.settrace(_deadline_tracer(time.monotonic() + self.time_limit_s))
        try:
            text = self._template.render(
                messages=payload,
                add_generation_prompt=add_generation_prompt,
                bos_token=self._bos,
                eos_token=self._eos,
                # None as Hugging Face passes it: `{% if tools %}` must not meet an undefined
                # variable (templates are rendered with StrictUndefined).
                tools=tools,
            )
        except PromptError:
            raise
        except _TemplateTooSlow:
            raise PromptError(
                f"The model's chat template ran longer than {self.time_limit_s:g} s and was "
                "stopped. The model file's template may be hostile or broken; pick another "
                "model.") from None
        except SecurityError as exc:
            raise PromptError(f"The model's chat template tried something unsafe ({exc}) and "
                              "was stopped.") from exc
        except Exception as exc:  # noqa: BLE001 - the template is code from the model file:
            # whatever it raises (a KeyError out of str.format, an IndexError...) is its fault.
            raise PromptError(
                f"The model's chat template failed ({type(exc).__name__}: {exc}).") from exc
        finally:
            sys.settrace(previous)
        if len(text) > MAX_OUTPUT_CHARS:
            raise PromptError("The model's chat template wrote far more text than the "
                              "conversation holds, and was stopped.")
        return text
