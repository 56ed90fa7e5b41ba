"""Chat templates from GGUF metadata, rendered in a sandbox (a model file is untrusted input)."""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime

import jinja2
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


def _raise_exception(message: str) -> None:
    # Templates call this to reject conversations they cannot format (e.g. two user turns).
    raise PromptError(f"The model's chat template refused this conversation: {message}")


def _strftime_now(fmt: str) -> str:
    return datetime.now().strftime(fmt)


class ChatTemplate:
    """Turns a list of chat messages into the exact prompt text the model was trained on."""

    def __init__(self, source: str | None, bos_token: str = "", eos_token: str = "") -> None:
        env = ImmutableSandboxedEnvironment(
            trim_blocks=True, lstrip_blocks=True, undefined=jinja2.StrictUndefined
        )
        env.globals["raise_exception"] = _raise_exception
        env.globals["strftime_now"] = _strftime_now
        self.from_model = False
        template = None
        if source:
            try:
                template = env.from_string(source)
                self.from_model = True
            except jinja2.TemplateError as exc:
                log.warning("model chat template does not compile (%s); using ChatML", exc)
        self._template = template or env.from_string(CHATML_TEMPLATE)
        self._bos = bos_token
        self._eos = eos_token

    def render(self, messages: Sequence[ChatMessage], add_generation_prompt: bool = True) -> str:
        payload = [{"role": m.role, "content": m.content} for m in messages]
        try:
            return self._template.render(
                messages=payload,
                add_generation_prompt=add_generation_prompt,
                bos_token=self._bos,
                eos_token=self._eos,
            )
        except PromptError:
            raise
        except jinja2.TemplateError as exc:
            raise PromptError(f"The model's chat template failed: {exc}") from exc
