"""Chat templates come from model files, so they are hostile input: a corpus of sandbox
escapes, resource bombs and hangs must each end in a PromptError, quickly, leaving no trace."""

from __future__ import annotations

import os
import random
import re
from pathlib import Path

import jinja2
import pytest
from stress_level import record, trials

from core.engine.chat_template import MIN_JINJA2, ChatTemplate, _version
from core.engine.types import ChatMessage
from core.errors import PromptError

MESSAGES = [ChatMessage("system", "be brief"), ChatMessage("user", "hello")]
SECRET = "glassbox-template-secret"

# Each reaches for something the sandbox must refuse, or never ends, or builds gigabytes.
ESCAPES = [
    "{{ ''.__class__.__mro__[1].__subclasses__() }}",
    "{{ messages.__class__.__base__.__subclasses__() }}",
    "{{ (messages|attr('__class__')).__base__.__subclasses__() }}",
    "{{ ''|attr('__class__')|attr('__mro__') }}",
    "{{ '{0.__class__.__mro__[1].__subclasses__}'.format(messages) }}",
    "{{ '{0.__class__}'|attr('format')(messages) }}",
    "{{ ('{0.__init__.__globals__[os]}'|attr('format'))(cycler) }}",
    "{{ cycler.__init__.__globals__.os.popen('id').read() }}",
    "{{ joiner.__init__.__globals__ }}",
    "{{ lipsum.__globals__['os'].environ }}",
    "{{ namespace.__init__.__globals__ }}",
    "{{ self.__init__.__globals__.__builtins__ }}",
    "{{ raise_exception.__globals__['__builtins__']['open']('/etc/passwd').read() }}",
    "{{ strftime_now.__globals__ }}",
    "{{ range.__self__.__import__('os').system('touch PWNED') }}",
    "{{ messages[0].content.format.__self__.__class__.__subclasses__() }}",
    "{{ messages[0].__class__.__init__.__globals__ }}",
    "{{ messages.append({'role': 'user', 'content': 'x'}) }}",
    "{{ messages.pop() }}{{ messages.clear() }}",
    "{{ messages[0].update({'role': 'system'}) }}",
    "{% set x = messages.__setitem__(0, 1) %}",
    "{{ config.items() }}{{ request }}",
    "{{ get_flashed_messages.__globals__ }}",
    "{{ ''.__class__.__base__.__subclasses__()[132].__init__.__globals__['popen']('id') }}",
    "{% for c in [].__class__.__base__.__subclasses__() %}{{ c }}{% endfor %}",
    "{{ dict.__class__.__mro__ }}",
    "{{ 'x'.__add__ }}",
]
BOMBS = [
    "{% for a in range(99999) %}{% for b in range(99999) %}x{% endfor %}{% endfor %}",
    "{% for a in range(99999) %}{% for b in range(99999) %}{% set c = a * b %}"
    "{% endfor %}{% endfor %}",
    "{% for x in range(10**9) %}x{% endfor %}",
    "{{ 'x' * 10**10 }}",
    "{{ [1] * 10**10 }}",
    "{{ 10**10**10 }}",
    "{{ (10**64)**64 }}",
    "{{ '{0:9999999999}'.format(1) }}",
    "{{ '%9999999999d' % 1 }}",
    "{{ '{:9999999999}'|format(1) }}",
    "{{ 'x'|center(9999999999) }}",
    "{{ 'a\nb'|indent(9999999999, true) }}",
    "{% macro r(n) %}{{ r(n + 1) }}{% endmacro %}{{ r(0) }}",
    "{{ lipsum(n=100000, min=1000, max=10000) }}",
    "{% set s = namespace(v='x') %}{% for i in range(99999) %}{% set s.v = s.v + s.v %}"
    "{% endfor %}{{ s.v }}",
]


def test_jinja2_is_recent_enough() -> None:
    # 3.1.6 fixed the |attr('format') sandbox escape (CVE-2025-27516).
    assert _version(jinja2.__version__) >= MIN_JINJA2


def render(source: str) -> str:
    return ChatTemplate(source, time_limit_s=1.0).render(MESSAGES)


@pytest.mark.parametrize("source", ESCAPES + BOMBS)
def test_hostile_template_is_refused(source: str, tmp_path: Path,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("GLASSBOX_SECRET", SECRET)
    try:
        text = render(source)
    except PromptError as exc:
        assert "chat template" in str(exc)
    else:  # rendered: then it must have shown nothing of the process and done nothing
        assert SECRET not in text and "root:" not in text and "subclasses" not in text
        assert "<class" not in text and "os" != text.strip()
    assert not list(tmp_path.iterdir()), "the template wrote a file"
    assert [m.content for m in MESSAGES] == ["be brief", "hello"], "the template changed data"


@pytest.mark.parametrize("source", ["{{ '{missing}'.format(1) }}", "{{ '{0[9]}'.format([]) }}",
                                    "{{ '{0.nothing}'.format(1) }}"])
def test_a_template_that_raises_anything_gives_a_prompt_error(source: str) -> None:
    # The fuzzer found KeyError escaping from str.format inside the sandbox: any error a
    # template raises must reach the user as the template's failure, never as a crash.
    with pytest.raises(PromptError, match="chat template failed"):
        render(source)


def test_a_hung_template_stops_at_its_time_limit() -> None:
    with pytest.raises(PromptError, match="longer than 0.5 s"):
        ChatTemplate(BOMBS[0], time_limit_s=0.5).render(MESSAGES)


def test_the_time_limit_leaves_the_trace_hook_as_it_was() -> None:
    import sys

    before = sys.gettrace()
    with pytest.raises(PromptError):
        ChatTemplate(BOMBS[0], time_limit_s=0.2).render(MESSAGES)
    assert sys.gettrace() is before


def test_real_templates_still_render() -> None:
    chatml = ChatTemplate(None).render(MESSAGES)
    assert chatml.endswith("<|im_start|>assistant\n") and "hello" in chatml
    loop = ("{% for m in messages %}[{{ m['role'] | upper }}] {{ m['content'] }}\n{% endfor %}"
            "{{ '%s|%d' % ('end', 3) }} {{ '{:>6}'.format('ok') }} {{ 'x'|center(9) }}")
    assert ChatTemplate(loop).render(MESSAGES) == \
        "[SYSTEM] be brief\n[USER] hello\nend|3     ok     x    "


def mutate(source: str, rng: random.Random) -> str:
    """Splice pieces of the corpus into one another: new combinations of the same tricks."""
    other = rng.choice(ESCAPES + BOMBS)
    cut, at = rng.randrange(len(source) + 1), rng.randrange(len(other) + 1)
    choice = rng.random()
    if choice < 0.4:
        return source[:cut] + other[at:]
    if choice < 0.7:
        return source + other
    return source.replace("{{", "{{ " + other.strip("{} ") + " ~ ", 1)


# What Python objects look like when a template reaches them. Payload text copied out of the
# template as plain text (a mutation that cut off its "{{") is harmless and is not counted, and
# so are the two helpers chat templates are given on purpose, printed rather than called.
_OBJECT_REPRS = ("<class '", "<built-in function", "<bound method", "<function", "<module")
_OWN_HELPERS = re.compile(r"<function _(raise_exception|strftime_now) at 0x[0-9a-f]+>")


def escaped(source: str, text: str) -> bool:
    text = _OWN_HELPERS.sub("", text)
    return any(r in text and r not in source for r in _OBJECT_REPRS)


@pytest.mark.stress
def test_template_mutation_fuzz() -> None:
    rng = random.Random(7)
    count = trials(short=200, full=5000)
    refused = rendered = 0
    before = set(os.listdir("."))
    for _ in range(count):
        source = mutate(rng.choice(ESCAPES + BOMBS), rng)
        try:
            text = ChatTemplate(source, time_limit_s=0.3).render(MESSAGES)
        except PromptError:
            refused += 1
        else:
            rendered += 1
            assert not escaped(source, text), text
    assert set(os.listdir(".")) == before
    assert refused + rendered == count
    record("template_fuzz", {"templates": count + len(ESCAPES) + len(BOMBS),
                             "refused": refused, "rendered_harmless": rendered, "escapes": 0,
                             "hangs": 0})
